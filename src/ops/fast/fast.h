/* fast.h: the oneDNN-backed operations. A primitive is created once per shape
 * (at plan time) and executed many times; no allocation happens at execution.
 *
 *   cnn_dnnl       engine, stream and the one scratchpad all primitives share
 *   cnn_fast_conv  2-D convolution, forward (optionally + bias + ReLU fused),
 *                  backward data and backward weights
 *   cnn_fast_linear  fully connected layer on oneDNN's sgemm
 *   cnn_fast_gelu    vectorised GELU and its derivative on the calling thread,
 *                    for kernels that fuse it (eltwise.c)
 *
 * Activations are NHWC, weights in PyTorch layout, as everywhere (ops.h). The
 * convolution keeps private copies of its weights in whatever blocked layout
 * oneDNN's fastest kernel asks for, refreshed by each forward in training.
 */
#ifndef CNN_OPS_FAST_H
#define CNN_OPS_FAST_H

#include "cnnlab/plan.h"
#include "cnnlab/status.h"
#include "ops/ops.h"

typedef struct cnn_dnnl cnn_dnnl;

cnn_status cnn_dnnl_create(cnn_dnnl **out, cnn_error *err);
void cnn_dnnl_destroy(cnn_dnnl *ctx);
/* Bytes of scratchpad planned so far (the largest any primitive asked for). */
size_t cnn_dnnl_scratch_bytes(const cnn_dnnl *ctx);
/* Frees the buffers its convolutions share and the scratchpad, once every
 * convolution made on ctx is destroyed (the next ones grow them again; the
 * auto choices made so far are kept). */
void cnn_dnnl_release_buffers(cnn_dnnl *ctx);

typedef struct cnn_fast_conv cnn_fast_conv;

/* What cnn_fast_conv_create's bf16 argument holds: CNN_FAST_BF16 runs the
 * kernels on bf16 inputs, weights and output gradients with fp32
 * accumulation, the interface fp32. A bf16 plan may store activations as
 * bf16 between layers (bf16.h): CNN_FAST_X_BF16 reads x, CNN_FAST_Y_BF16
 * writes y stored so, for a convolution whose kernel runs bf16 (asked of an
 * earlier convolution of the same shape with cnn_fast_conv_runs_bf16, so that
 * an auto choice is already made); dx and the weights stay fp32, and dy but
 * for CNN_FAST_DY_BF16 below. CNN_FAST_MAY_STORE says that the plan stores
 * activations where it can, so that CNN_CONV_AUTO times bf16 direct as it
 * would then run (reading x and writing y as bf16) against the fp32 forms,
 * whose neighbours keep floats.
 * In training, CNN_FAST_DY_BF16 reads dy stored as bf16 (y's reader wrote
 * its dx so, rounded as the kernel's own conversion would round it: no fused
 * ReLU, whose backward masks dy in place), and CNN_FAST_DX_BF16 (a layer
 * class's bf16_storage, never a convolution's) writes dx so. CNN_FAST_Y_COPY
 * (a layer class's, training) writes, beside its float y, a bf16 copy for the
 * bf16 convolutions among its readers (which would round y so anyway). */
enum {
    CNN_FAST_BF16 = 1,
    CNN_FAST_X_BF16 = 4,
    CNN_FAST_Y_BF16 = 8,
    CNN_FAST_MAY_STORE = 16,
    CNN_FAST_DY_BF16 = 32,
    CNN_FAST_DX_BF16 = 64,
    CNN_FAST_Y_COPY = 128
};

/* training = 0 creates only the inference forward. act is CNN_ACT_NONE or
 * CNN_ACT_RELU (fused into the forward as a post-op). bf16: 0 or CNN_FAST_*
 * bits. algo applies to fp32 3x3 stride-1 shapes (others are direct, as are
 * grouped ones); CNN_CONV_AUTO times the candidates on this geometry once per
 * ctx. */
cnn_status cnn_fast_conv_create(cnn_dnnl *ctx, const cnn_conv_geom *g, int has_bias,
                                cnn_act act, int training, int bf16, cnn_conv_algo algo,
                                cnn_fast_conv **out, cnn_error *err);
/* 1 when c's kernel runs on bf16 (oneDNN direct), so that a convolution made
 * like it can read and write activations stored as bf16. */
int cnn_fast_conv_runs_bf16(const cnn_fast_conv *c);
/* The storage bits (CNN_FAST_X_BF16, _Y_BF16, _DY_BF16) such a kernel can
 * take: x always; y and, in training, dy unless a fused ReLU's backward reads
 * y for its mask and masks dy as floats. */
int cnn_fast_conv_storage(int training, cnn_act act);
void cnn_fast_conv_destroy(cnn_fast_conv *c);

/* x (N,IH,IW,IC), w (OC,IC/G,KH,KW), b (OC) or NULL -> y (N,OH,OW,OC).
 * w = NULL reuses the weights (and bias) as the previous forward prepared
 * them, skipping the reorder: for inference on weights that did not change,
 * whose buffers are still alive. */
void cnn_fast_conv_forward(cnn_fast_conv *c, const float *x, const float *w, const float *b,
                           float *y);
/* Gradients from dy (N,OH,OW,OC). With a fused ReLU, y is the forward's output
 * and dy is overwritten by dy * (y > 0). dx may be NULL (first layer); db NULL
 * without bias. Uses the weights of the latest forward. */
void cnn_fast_conv_backward(cnn_fast_conv *c, const float *x, const float *y, float *dy,
                            float *dx, float *dw, float *db);
/* Which oneDNN implementation runs the forward (e.g. "brg:avx512_core"). */
const char *cnn_fast_conv_impl(const cnn_fast_conv *c);
/* 1 when an inference forward copies the weights into a buffer of its own
 * (a blocked layout, Winograd's transform, the dense matrix), so that after a
 * forward that prepared them the caller's weight buffer is no longer read by
 * forwards with w = NULL (the bias still is). */
int cnn_fast_conv_keeps_weights(const cnn_fast_conv *c);

/* Fully connected: x (N,IN), w (OUT,IN), b (OUT) or NULL, y (N,OUT), with an
 * optional fused activation (any cnn_act) applied after the bias. */
void cnn_fast_linear_forward(int n, int in, int out, const float *x, const float *w,
                             const float *b, cnn_act act, float *y);
/* With act != NONE, dy is overwritten by dy * act'(y). */
void cnn_fast_linear_backward(int n, int in, int out, const float *x, const float *w,
                              const float *y, cnn_act act, float *dy, float *dx, float *dw,
                              float *db);

/* y (n) = gelu(x (n)) and dx (n) = dy (n) * gelu'(x (n)), as PyTorch's exact
 * GELU (approximate='none'), vectorised, on the calling thread (no OpenMP).
 * y may alias x, dx may alias dy or x. */
void cnn_fast_gelu(size_t n, const float *x, float *y);
/* y (count, stored as bf16: bf16.h) = gelu(x (count)), threads split the work. */
void cnn_fast_gelu_to_bf16(size_t count, const float *x, float *y);
void cnn_fast_gelu_grad(size_t n, const float *x, const float *dy, float *dx);

#endif
