/* plan.h: running a model on batches of a fixed size.
 *
 * A plan is made once per model and batch size. It allocates every activation,
 * gradient and workspace buffer and creates every oneDNN primitive up front, so
 * a training step (cnn_plan_forward + cnn_plan_backward) allocates nothing.
 * Several plans may share one model (e.g. the full batch and the epoch's last,
 * shorter batch); parameters and gradients stay in the model.
 *
 *   cnn_plan *p;
 *   cnn_plan_create(model, 128, NULL, 1, &p, &err);  // NULL: fast, fp32, auto
 *   fill cnn_plan_input(p) with (128, 32, 32, 3) NHWC images;
 *   float loss = cnn_plan_forward(p, labels, 128, 1, &correct);
 *   cnn_plan_backward(p);            // model->grads now hold dloss/dparams
 */
#ifndef CNNLAB_PLAN_H
#define CNNLAB_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "cnnlab/model.h"
#include "cnnlab/status.h"

typedef enum cnn_backend {
    CNN_BACKEND_FAST = 0,  /* oneDNN convolutions, vectorised C, fused activations */
    CNN_BACKEND_REFERENCE  /* the plain-loop reference ops: slow, the definition */
} cnn_backend;

/* What the convolution kernels compute in. Parameters, their gradients, the
 * optimizer, normalisation statistics and every other op stay fp32 either way. */
typedef enum cnn_precision {
    CNN_PRECISION_FP32 = 0,
    CNN_PRECISION_BF16 /* bf16 inputs, weights and output gradients, fp32 accumulation
                        * (fast backend only; needs AVX-512, native with AVX512_BF16).
                        * Under CNN_CONV_AUTO a layer runs fp32 instead (direct,
                        * Winograd or dense) where that timed faster, as it does on
                        * CPUs without AMX; CNN_CONV_DIRECT always runs bf16 */
} cnn_precision;

/* How the fast backend runs a convolution; each algorithm applies to some
 * shapes, and the others run direct. */
typedef enum cnn_conv_algo {
    CNN_CONV_AUTO = 0, /* per shape, whichever candidate ran a step fastest at plan time */
    CNN_CONV_DIRECT,
    CNN_CONV_WINOGRAD, /* 3x3 stride 1: oneDNN's F(4x4, 3x3) where the CPU has it
                        * (AVX-512), else cnnlab's (WINOGRAD_SGEMM); always fp32 */
    CNN_CONV_DENSE,    /* an input with no more positions than kernel taps (VGG's 2x2
                        * maps): the whole convolution as one matrix product; fp32 */
    CNN_CONV_WINOGRAD_SGEMM, /* 3x3 stride 1, padding <= 2: cnnlab's F(4x4, 3x3), its
                              * products batched into sgemm calls; any CPU; fp32 */
    CNN_CONV_WINOGRAD_BF16   /* bf16 plans, 3x3 stride 1, channels in 8s: cnnlab's
                              * F(2x2, 3x3) on AVX512_BF16 (forward and backward-data) */
} cnn_conv_algo;

const char *cnn_precision_name(cnn_precision p);
int cnn_precision_parse(const char *s, cnn_precision *out);
const char *cnn_conv_algo_name(cnn_conv_algo a);
int cnn_conv_algo_parse(const char *s, cnn_conv_algo *out);

/* How a plan computes; all zeros (or NULL) is the default: fast, fp32, auto. */
typedef struct cnn_plan_config {
    cnn_backend backend;
    cnn_precision precision;
    cnn_conv_algo conv;
    /* bf16 plans on the fast backend store an activation as bf16 between
     * layers where its producer and every reader can (convolutions whose
     * kernel runs bf16, batch norm, 2x2 max pooling, GELU), as PyTorch's
     * autocast does; 1 keeps every activation fp32 (--activations fp32) */
    int fp32_activations;
} cnn_plan_config;

typedef struct cnn_plan cnn_plan;

/* training = 0 plans inference only (no gradients, no backward primitives). */
cnn_status cnn_plan_create(cnn_model *m, int batch, const cnn_plan_config *cfg, int training,
                           cnn_plan **out, cnn_error *err);
void cnn_plan_destroy(cnn_plan *p);

int cnn_plan_batch(const cnn_plan *p);
float *cnn_plan_input(cnn_plan *p);            /* (batch, H, W, C) */
const float *cnn_plan_logits(const cnn_plan *p); /* (batch, classes) after a forward */

/* Forward pass over the whole batch. In training mode batch norm uses batch
 * statistics (and updates running estimates) and the pass keeps what the
 * backward needs. With labels, returns the mean cross-entropy of the first
 * `rows` samples (rows <= batch; the rest are padding, harmless in eval mode)
 * and adds their correct predictions to *correct (if not NULL); without
 * labels returns 0. */
float cnn_plan_forward(cnn_plan *p, const uint8_t *labels, int rows, int training, int *correct);
/* Backward of the latest training forward (which had labels, rows == batch):
 * overwrites the model's gradient block. */
void cnn_plan_backward(cnn_plan *p);

/* Training plans: the layers whose parameter gradients are wanted (want[i]
 * for model layer i; NULL: all, the default). A layer whose backward would
 * give nothing wanted, neither its own parameters' gradients nor an input
 * gradient that an earlier wanted layer needs, does not run it, and input
 * gradients nobody reads are not computed (a convolution then skips its
 * backward-data): training with a frozen first part costs less. The skipped
 * layers' parameter gradients are set to zero once, here. */
void cnn_plan_set_wanted_grads(cnn_plan *p, const unsigned char *want);

/* Training plans in data-parallel training (src/train/shard.c):
 *   bn: batch norm's statistics and backward sums over every rank's rows
 *       (--sync-bn; src/ops/ops.h's cnn_bn_sync); NULL: each plan's own rows.
 *   grads_ready: called in cnn_plan_backward after each layer with parameters
 *       has run its backward, with lo: the gradients of parameters [lo,
 *       param_count) are final from then on (layers run last to first, and
 *       their parameters lie in model order), so they can be sent while the
 *       earlier layers' backward runs. NULL: not called.
 * A zeroed cnn_plan_dist (the default) sets neither. */
struct cnn_bn_sync;
typedef struct cnn_plan_dist {
    const struct cnn_bn_sync *bn;
    void (*grads_ready)(void *ctx, size_t lo);
    void *ctx;
} cnn_plan_dist;
void cnn_plan_set_dist(cnn_plan *p, const cnn_plan_dist *d);

/* Inference plans only: declares the model's parameters and batch-norm
 * estimates fixed until the next call. The next forward prepares each
 * convolution's weights once (batch norm folded in, reordered into the
 * kernel's layout) and later forwards reuse them, where an unfrozen plan
 * prepares them in every forward. After changing the parameters (loading
 * other weights), call it again; a forward after a change without it would
 * use the old weights. */
void cnn_plan_freeze(cnn_plan *p);

/* Random masks (dropout, DropConnect) of training step `step` draw from
 * (seed, CNN_STREAM_DROPOUT, ...); each training forward advances step. */
void cnn_plan_set_seed(cnn_plan *p, uint64_t seed, uint64_t step);
/* Label smoothing of the training loss (PyTorch's CrossEntropyLoss
 * label_smoothing); evaluation always reports plain cross-entropy. */
void cnn_plan_set_label_smoothing(cnn_plan *p, float smoothing);

/* Bytes the plan allocated (activations, gradients, workspaces, scratchpad). */
size_t cnn_plan_bytes(const cnn_plan *p);
/* One line per layer saying what runs it (e.g. the oneDNN kernel), for --verbose,
 * into buf (size bytes, cut to fit; buf may be NULL with size 0). Returns the
 * characters the whole description takes, without the terminating 0. */
size_t cnn_plan_describe(const cnn_plan *p, char *buf, size_t size);

/* Per-layer timing: cnn_plan_profile(p, 1) resets and starts it; the report
 * gives each layer's forward and backward milliseconds per step, GFLOP/s and
 * share of peak_gflops (the machine's peak; 0 to omit). */
void cnn_plan_profile(cnn_plan *p, int on);
void cnn_plan_profile_report(const cnn_plan *p, double peak_gflops, char *buf, size_t size);

#endif
