/* ops.h: the contract every operation keeps, in its reference form (src/ops/ref,
 * plain loops, the definition) and its fast form (src/ops/fast, checked against
 * the reference by tests/test_fast_ops.c).
 *
 * Layouts
 *   Activations are NHWC (channels-last), row-major:  x[((n*H + h)*W + w)*C + c].
 *   A 2-D activation (N, F) is the same with H = W = 1.
 *   Weights keep PyTorch's layouts, so saved models and PyTorch fixtures compare
 *   directly: conv w (OC, IC, KH, KW), linear w (OUT, IN), biases (OC) / (OUT).
 *
 * Conventions
 *   Forward functions overwrite their output. Backward functions overwrite (never
 *   accumulate into) their gradient outputs; any gradient output may be NULL when
 *   the caller does not need it (e.g. dx of the first layer, db without a bias).
 *   Shapes use the same letters everywhere: N batch, H/W height/width, C channels,
 *   IC/OC input/output channels, KH/KW kernel, SH/SW stride, PH/PW padding.
 */
#ifndef CNN_OPS_H
#define CNN_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "cnnlab/activation.h"

/* ---- convolution: y = conv(x, w) + b, zero padding, PyTorch's Conv2d ---- */
typedef struct cnn_conv_geom {
    int n, ih, iw, ic; /* input  (N, IH, IW, IC) */
    int oc, kh, kw;    /* weight (OC, IC/G, KH, KW) */
    int sh, sw, ph, pw;
    int oh, ow; /* output (N, OH, OW, OC): set by cnn_conv_geom_finish */
    /* G, PyTorch's groups (0 reads as 1): channels split into G groups, output
     * channel oc reading only the IC/G input channels of its group
     * oc / (OC/G). G = IC = OC is a depthwise convolution. */
    int groups;
} cnn_conv_geom;

/* Fills oh, ow (and groups 0 -> 1); returns 0 if the geometry is invalid
 * (output would be empty, or G does not divide IC and OC). */
int cnn_conv_geom_finish(cnn_conv_geom *g);
/* IC/G: the input channels each output channel reads (a weight's second dimension). */
static inline int cnn_conv_group_ic(const cnn_conv_geom *g)
{
    return g->groups > 1 ? g->ic / g->groups : g->ic;
}

/* ---- pooling windows (max, average) ---- */
typedef struct cnn_pool_geom {
    int n, ih, iw, c;
    int kh, kw, sh, sw, ph, pw;
    int oh, ow; /* set by cnn_pool_geom_finish (floor mode, as PyTorch's default) */
    /* the fast path's max pooling with 2x2 windows, stride 2: x and y stored
     * as bf16 (fast/bf16.h), and dx written so; everywhere else floats */
    int x_bf16, y_bf16, dx_bf16;
} cnn_pool_geom;

int cnn_pool_geom_finish(cnn_pool_geom *g);

/* ---- batch normalisation: per channel over all other dims (m = N*H*W rows) ---- */
/* Synchronised batch norm (`--sync-bn`, data-parallel training on several
 * ranks, src/train/shard.c): the batch statistics and the backward's sums are
 * taken over every rank's rows, as PyTorch's SyncBatchNorm. The gradients
 * reaching a rank are those of its own mean loss, which the step weighs by
 * share = its rows / all ranks' rows, so the backward's sums are weighed by it
 * before they are added and this rank's part divided by it after (dgamma and
 * dbeta stay this rank's own sums: the step weighs and adds them later). */
typedef struct cnn_bn_sync {
    int ranks;
    /* every rank passes n doubles; all (ranks * n) receives rank r's at r * n,
     * on every rank; called by every rank in the same order, never inside a
     * parallel region */
    void (*gather)(void *ctx, const double *mine, double *all, int n);
    void *ctx;
    double share;
    double *buf; /* (ranks + 1) * (1 + 2 * channels) doubles, channels the widest layer's */
} cnn_bn_sync;

typedef struct cnn_bn_geom {
    int m;          /* rows: N*H*W for BatchNorm2d, N for BatchNorm1d */
    int c;          /* channels (features) */
    float eps;      /* 1e-5 in PyTorch */
    float momentum; /* 0.1 in PyTorch: running = (1-momentum)*running + momentum*batch */
    const cnn_bn_sync *sync; /* NULL: the statistics of these m rows alone */
    /* the fast path only: x and y stored as bf16 (fast/bf16.h), dx too with
     * dx_bf16 (not with GELU, whose backward keeps dy' in dx); dy floats */
    int x_bf16, y_bf16, dx_bf16;
    /* the fast path's forward: y (floats) also written here as bf16 (for the
     * bf16 convolutions among its readers); NULL: not */
    void *y_copy;
} cnn_bn_geom;

/* With g->sync, a rank's values go to the others in v = cnn_bn_sync_values(g):
 * channel c's two at v[c] and v[C + c] (the rank's row count is added).
 * cnn_bn_sync_moments: in, this rank's m rows' mean (v[c]) and sum of squares
 * about it (v[C + c]); out, the mean and the biased variance over every rank's
 * rows (combined in rank order, Chan's pairwise update). cnn_bn_sync_sums: in,
 * the backward's sums over this rank's rows, sum dy' (v[c]) and sum dy' * xhat
 * (v[C + c]); out, the whole batch's, in this rank's scale (see cnn_bn_sync).
 * Both return the rows of all ranks, and give every rank the same values. */
double *cnn_bn_sync_values(const cnn_bn_geom *g);
double cnn_bn_sync_moments(const cnn_bn_geom *g);
double cnn_bn_sync_sums(const cnn_bn_geom *g);


/* ================= reference operations (src/ops/ref) ================= */

/* x (N,IH,IW,IC), w (OC,IC,KH,KW), b (OC) or NULL, y (N,OH,OW,OC) */
void cnn_ref_conv2d_forward(const cnn_conv_geom *g, const float *x, const float *w,
                            const float *b, float *y);
/* dy (N,OH,OW,OC) -> dx (N,IH,IW,IC), dw (OC,IC,KH,KW), db (OC) */
void cnn_ref_conv2d_backward(const cnn_conv_geom *g, const float *x, const float *w,
                             const float *dy, float *dx, float *dw, float *db);

/* x (N,IN), w (OUT,IN), b (OUT) or NULL, y (N,OUT): y = x w^T + b */
void cnn_ref_linear_forward(int n, int in, int out, const float *x, const float *w,
                            const float *b, float *y);
void cnn_ref_linear_backward(int n, int in, int out, const float *x, const float *w,
                             const float *dy, float *dx, float *dw, float *db);

/* Elementwise activations over count values. The backward is written in terms
 * of the forward's output y where that is possible (ReLU: y > 0; leaky ReLU:
 * y > 0; sigmoid: y(1-y); tanh: 1-y^2; ELU: y > 0 ? 1 : y + 1), so x need not be
 * kept; GELU's needs x. x may be NULL unless a == CNN_ACT_GELU.
 * cnn_act_backward_needs_x(a) says which. x and y may alias in the forward
 * only when the backward does not need x; dy and dx may alias in the backward. */
int cnn_act_backward_needs_x(cnn_act a);
void cnn_ref_act_forward(cnn_act a, size_t count, const float *x, float *y);
void cnn_ref_act_backward(cnn_act a, size_t count, const float *x, const float *y,
                          const float *dy, float *dx);

/* Max pooling: padding counts as -infinity; the gradient goes to the first
 * maximum of each window in row-major window order (as PyTorch). */
void cnn_ref_maxpool_forward(const cnn_pool_geom *g, const float *x, float *y);
void cnn_ref_maxpool_backward(const cnn_pool_geom *g, const float *x, const float *dy, float *dx);
/* Average pooling, count_include_pad = true (PyTorch's default). */
void cnn_ref_avgpool_forward(const cnn_pool_geom *g, const float *x, float *y);
void cnn_ref_avgpool_backward(const cnn_pool_geom *g, const float *dy, float *dx);

/* Global average pooling: x (N,H,W,C) -> y (N,C); hw = H*W. */
void cnn_ref_gap_forward(int n, int hw, int c, const float *x, float *y);
void cnn_ref_gap_backward(int n, int hw, int c, const float *dy, float *dx);

/* Flatten: x (N,H,W,C) -> y (N, C*H*W) in PyTorch's (C,H,W) order, so that a
 * following linear layer's weights mean what they mean in PyTorch. */
void cnn_ref_flatten_forward(int n, int h, int w, int c, const float *x, float *y);
void cnn_ref_flatten_backward(int n, int h, int w, int c, const float *dy, float *dx);

/* Batch norm, training mode: batch statistics (biased variance) normalise x;
 * saves mean and 1/sqrt(var+eps) per channel for the backward; updates the
 * running estimates with the unbiased variance (as PyTorch). x (M,C) y (M,C). */
void cnn_ref_batchnorm_forward_train(const cnn_bn_geom *g, const float *x, const float *gamma,
                                     const float *beta, float *y, float *save_mean,
                                     float *save_invstd, float *running_mean, float *running_var);
/* Eval mode: normalises with the running estimates. */
void cnn_ref_batchnorm_forward_eval(const cnn_bn_geom *g, const float *x, const float *gamma,
                                    const float *beta, const float *running_mean,
                                    const float *running_var, float *y);
void cnn_ref_batchnorm_backward(const cnn_bn_geom *g, const float *x, const float *gamma,
                                const float *save_mean, const float *save_invstd, const float *dy,
                                float *dx, float *dgamma, float *dbeta);

/* Softmax cross-entropy, mean over the batch (PyTorch's CrossEntropyLoss with
 * label_smoothing = smoothing in [0,1)): the target is q = (1-s) onehot + s/K,
 * loss = -(1/N) sum q log softmax(z). logits (N,K), labels (N) in [0,K).
 * Returns the mean loss; writes dlogits (N,K) = (softmax - q) / N when dlogits
 * is not NULL, and the number of rows whose arg-max equals the label into
 * *correct when not NULL. */
float cnn_ref_softmax_xent(int n, int k, const float *logits, const uint8_t *labels,
                           float smoothing, float *dlogits, int *correct);

/* ---- per-sample normalisation: group norm and its special cases ----
 * Statistics per sample n and group g over (H, W, C/G channels of the group):
 *   y = (x - mean[n,g]) / sqrt(var[n,g] + eps) * gamma + beta   (biased var)
 * Training and inference compute the same thing (no running estimates).
 *   GroupNorm(G, C):       groups = G,  affine per channel: gamma, beta (C)
 *   InstanceNorm2d(C, affine=True): groups = C, per channel (C)
 *   LayerNorm([C,H,W]):    groups = 1,  elementwise affine: gamma, beta (H*W*C),
 *                          stored in NHWC order (element (h,w,c) at (h*W+w)*C+c)
 * PyTorch's eps is 1e-5 for all three. */
typedef struct cnn_gn_geom {
    int n, hw, c;      /* x (N, H*W, C) */
    int groups;        /* divides c */
    int per_element;   /* 1: gamma/beta are (H*W*C) (LayerNorm); 0: (C) */
    float eps;
} cnn_gn_geom;

/* save_mean, save_invstd: (N, groups), kept for the backward. */
void cnn_ref_groupnorm_forward(const cnn_gn_geom *g, const float *x, const float *gamma,
                               const float *beta, float *y, float *save_mean, float *save_invstd);
void cnn_ref_groupnorm_backward(const cnn_gn_geom *g, const float *x, const float *gamma,
                                const float *save_mean, const float *save_invstd, const float *dy,
                                float *dx, float *dgamma, float *dbeta);

/* ---- dropout ----
 * Inverted dropout (PyTorch's nn.Dropout, nn.Dropout2d): in training each
 * element (Dropout) or each whole channel of a sample (Dropout2d) is kept with
 * probability 1-p and scaled by 1/(1-p); in eval it is the identity (callers
 * skip it). The mask is one byte per element (or per (n,c)), 1 = kept; it is
 * drawn by cnn_dropout_mask from a caller-seeded RNG so runs are reproducible.
 * Dropout2d's x is (N, HW, C), mask (N, C). */
typedef struct cnn_rng cnn_rng;
void cnn_dropout_mask(cnn_rng *rng, size_t count, float p, uint8_t *mask);
void cnn_ref_dropout_forward(size_t count, float p, const uint8_t *mask, const float *x, float *y);
void cnn_ref_dropout_backward(size_t count, float p, const uint8_t *mask, const float *dy,
                              float *dx);
void cnn_ref_dropout2d_forward(int n, int hw, int c, float p, const uint8_t *mask, const float *x,
                               float *y);
void cnn_ref_dropout2d_backward(int n, int hw, int c, float p, const uint8_t *mask,
                                const float *dy, float *dx);

/* ---- merging branches ----
 * add: y = a + b (a residual connection), all (count).
 * concat: along channels, NHWC: inputs i = 0..k-1 are (N, HW, C_i); y is
 *   (N, HW, sum C_i) with input i's channels at offset sum_{j<i} C_j.
 *   The backward splits dy back into the dx_i (a NULL dx_i is skipped). */
void cnn_ref_add_forward(size_t count, const float *a, const float *b, float *y);
void cnn_ref_concat_forward(int n, int hw, int k, const int *c, const float *const *x, float *y);
void cnn_ref_concat_backward(int n, int hw, int k, const int *c, const float *dy,
                             float *const *dx);

/* Global max pooling: x (N,H,W,C) -> y (N,C); the gradient goes to the first
 * maximum of each channel (in h, w order). */
void cnn_ref_gmp_forward(int n, int hw, int c, const float *x, float *y);
void cnn_ref_gmp_backward(int n, int hw, int c, const float *x, const float *dy, float *dx);

/* ================= fast operations (src/ops/fast) ================= */
/* Same semantics as the reference; vectorised and threaded with OpenMP.
 * Convolution and linear layers live in fast/conv_dnnl.c and fast/linear.c as
 * objects (oneDNN primitives are created once per shape); see fast/fast.h. */

void cnn_fast_act_forward(cnn_act a, size_t count, const float *x, float *y);
void cnn_fast_act_backward(cnn_act a, size_t count, const float *x, const float *y,
                           const float *dy, float *dx);

/* Max pooling remembers each output's winning window position in argmax
 * (one byte per output: kh*kw must be <= 256), so the backward needs no x. */
void cnn_fast_maxpool_forward(const cnn_pool_geom *g, const float *x, float *y, uint8_t *argmax);
void cnn_fast_maxpool_backward(const cnn_pool_geom *g, const uint8_t *argmax, const float *dy,
                               float *dx);
void cnn_fast_avgpool_forward(const cnn_pool_geom *g, const float *x, float *y);
void cnn_fast_avgpool_backward(const cnn_pool_geom *g, const float *dy, float *dx);
void cnn_fast_gap_forward(int n, int hw, int c, const float *x, float *y);
void cnn_fast_gap_backward(int n, int hw, int c, const float *dy, float *dx);
void cnn_fast_flatten_forward(int n, int h, int w, int c, const float *x, float *y);
void cnn_fast_flatten_backward(int n, int h, int w, int c, const float *dy, float *dx);

/* Batch norm with an optional fused activation after it (CNN_ACT_NONE,
 * CNN_ACT_RELU or CNN_ACT_GELU): y = act(bn(x)). The backward applies the
 * activation's derivative (ReLU's from y; GELU's at bn(x), recomputed from x,
 * gamma and beta), then the batch-norm backward; dy is not modified.
 * scratch: cnn_fast_batchnorm_scratch_floats(c) floats, planned by the caller. */
size_t cnn_fast_batchnorm_scratch_floats(int c);
void cnn_fast_batchnorm_forward_train(const cnn_bn_geom *g, cnn_act act, const float *x,
                                      const float *gamma, const float *beta, float *y,
                                      float *save_mean, float *save_invstd, float *running_mean,
                                      float *running_var, float *scratch);
void cnn_fast_batchnorm_forward_eval(const cnn_bn_geom *g, cnn_act act, const float *x,
                                     const float *gamma, const float *beta,
                                     const float *running_mean, const float *running_var,
                                     float *y);
/* (a fused ReLU's mask is recomputed from x, as GELU's z: no y is read) */
void cnn_fast_batchnorm_backward(const cnn_bn_geom *g, cnn_act act, const float *x,
                                 const float *gamma, const float *beta,
                                 const float *save_mean, const float *save_invstd,
                                 const float *dy, float *dx, float *dgamma, float *dbeta,
                                 float *scratch);
/* Inference: batch norm folded into the convolution (or any layer linear in
 * its weights) before it. With s[o] = gamma[o] / sqrt(running_var[o] + eps):
 *   wf[o, k] = w[o, k] * s[o]             w, wf (OC, per_oc)
 *   bf[o]    = beta[o] + (b[o] - running_mean[o]) * s[o]   (b NULL: 0)
 * so that conv(x; wf, bf) = bn_eval(conv(x; w, b)) up to rounding. */
void cnn_fast_batchnorm_fold(int oc, size_t per_oc, float eps, const float *w, const float *b,
                             const float *gamma, const float *beta, const float *running_mean,
                             const float *running_var, float *wf, float *bf);

float cnn_fast_softmax_xent(int n, int k, const float *logits, const uint8_t *labels,
                            float smoothing, float *dlogits, int *correct);

/* Fast twins of the ops above (same semantics). The group norm scratch holds
 * cnn_fast_groupnorm_scratch_floats(g) floats, planned by the caller. */
size_t cnn_fast_groupnorm_scratch_floats(const cnn_gn_geom *g);
void cnn_fast_groupnorm_forward(const cnn_gn_geom *g, const float *x, const float *gamma,
                                const float *beta, float *y, float *save_mean, float *save_invstd);
void cnn_fast_groupnorm_backward(const cnn_gn_geom *g, const float *x, const float *gamma,
                                 const float *save_mean, const float *save_invstd,
                                 const float *dy, float *dx, float *dgamma, float *dbeta,
                                 float *scratch);
void cnn_fast_dropout_forward(size_t count, float p, const uint8_t *mask, const float *x, float *y);
void cnn_fast_dropout_backward(size_t count, float p, const uint8_t *mask, const float *dy,
                               float *dx);
void cnn_fast_dropout2d_forward(int n, int hw, int c, float p, const uint8_t *mask,
                                const float *x, float *y);
void cnn_fast_dropout2d_backward(int n, int hw, int c, float p, const uint8_t *mask,
                                 const float *dy, float *dx);
void cnn_fast_add_forward(size_t count, const float *a, const float *b, float *y);
/* A residual add with a ReLU fused after it: y = max(a + b, 0); its backward
 * is g = dy * (y > 0) to both inputs (dx[i] NULL: skipped; dx[i] == dy: in place). */
void cnn_fast_add_relu_forward(size_t count, const float *a, const float *b, float *y);
void cnn_fast_add_relu_backward(size_t count, const float *y, float *dy, float *const dx[2]);
/* The plain add's backward: dy to both inputs (the same skipping rules), in parallel. */
void cnn_fast_add_backward(size_t count, const float *dy, float *const dx[2]);
/* The add with its sum (relu: max(a + b, 0)) as bf16 in y16, and as floats in
 * y too unless y is NULL (fast/merge.c); and the ReLU's backward masking by a
 * y stored as bf16. */
void cnn_fast_add_forward_bf16(size_t count, int relu, const float *a, const float *b, float *y,
                               uint16_t *y16);
void cnn_fast_add_relu_backward_bf16(size_t count, const uint16_t *y, float *dy,
                                     float *const dx[2]);
void cnn_fast_concat_forward(int n, int hw, int k, const int *c, const float *const *x, float *y);
void cnn_fast_concat_backward(int n, int hw, int k, const int *c, const float *dy,
                              float *const *dx);
void cnn_fast_gmp_forward(int n, int hw, int c, const float *x, float *y, int32_t *argmax);
void cnn_fast_gmp_backward(int n, int hw, int c, const int32_t *argmax, const float *dy,
                           float *dx);

#endif
