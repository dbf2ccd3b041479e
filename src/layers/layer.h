/* layer.h: what a layer type provides, and the per-plan state of one layer.
 *
 * Each layer type is one file (conv.c, linear.c, ...) exporting one
 * cnn_layer_class; registry.c maps cnn_layer_kind to it. Adding a layer means
 * its file, one registry line and its tests.
 */
#ifndef CNN_LAYER_H
#define CNN_LAYER_H

#include "cnnlab/model.h"
#include "cnnlab/plan.h"
#include "core/core.h"
#include "ops/fast/fast.h"
#include "ops/ops.h"

typedef struct cnn_plan_layer {
    const cnn_model_layer *ml;
    int index;           /* position in the model */
    int n;               /* batch */
    cnn_backend backend;
    cnn_precision precision;
    cnn_conv_algo conv_algo;
    int training;
    uint64_t seed, step; /* random masks (dropout) draw from (seed, CNN_STREAM_DROPOUT, step) */
    cnn_act fused;       /* fast path: the activation this layer applies after itself */
    int absorbed;        /* does nothing: an identity, or an activation the layer before applies */
    /* fast inference plans: the batch norm folded into this convolution (its
     * weights scaled and a bias made per forward; the norm itself is absorbed) */
    const struct cnn_plan_layer *folded_bn;
    /* inference plans after cnn_plan_freeze: 1 while the parameters are
     * declared fixed; prepared: the fast convolution holds weights made from them */
    int frozen, prepared;
    int n_in;            /* inputs (1 but for add and concat) */
    const float *xs[CNN_MAX_INPUTS]; /* (n, ins[i]) inputs */
    float *dxs[CNN_MAX_INPUTS];      /* gradients of the inputs, or NULL where not needed */
    const float *x;      /* xs[0] */
    float *y;            /* (n, out) output */
    float *dx;           /* dxs[0] */
    float *dy;           /* (n, out) gradient of the output; may be clobbered by backward */
    float *w, *dw;       /* views into the model's params and grads */
    float *state;        /* view into the model's state */
    float *ws;           /* per-layer workspace, ws_floats long */
    size_t ws_floats;
    void *impl;          /* a fast op object (oneDNN convolution) */
    cnn_dnnl *dnnl;
} cnn_plan_layer;

typedef struct cnn_layer_class {
    const char *name;
    /* Output shape and tensor sizes for the per-sample input shapes (in[0] for
     * single-input layers). An error says what the layer expected and what it got. */
    cnn_status (*infer)(const cnn_layer_desc *d, const cnn_shape *in, int n_in, cnn_shape *out,
                        size_t *params, size_t *state, cnn_error *err);
    /* Initial parameters and state (NULL: nothing to initialise). */
    void (*init)(const cnn_model_layer *l, cnn_init_kind how, float *params, float *state,
                 cnn_rng *rng);
    /* Activations this layer can apply after itself on the fast path (NULL: none). */
    int (*can_fuse)(cnn_act act);
    /* Plan-time set-up: sets ws_floats, creates op objects (NULL: none). ws is
     * allocated by the caller afterwards. */
    cnn_status (*plan)(cnn_plan_layer *pl, cnn_error *err);
    void (*forward)(cnn_plan_layer *pl);
    void (*backward)(cnn_plan_layer *pl);
    void (*release)(cnn_plan_layer *pl); /* NULL: nothing to free */
    /* Multiply-accumulates per sample (NULL: none counted). */
    double (*macs)(const cnn_model_layer *l);
} cnn_layer_class;

const cnn_layer_class *cnn_layer_class_of(cnn_layer_kind kind);

extern const cnn_layer_class cnn_layer_conv, cnn_layer_linear, cnn_layer_act,
    cnn_layer_maxpool, cnn_layer_avgpool, cnn_layer_gap, cnn_layer_flatten, cnn_layer_batchnorm,
    cnn_layer_identity, cnn_layer_dropout, cnn_layer_dropout2d, cnn_layer_layernorm,
    cnn_layer_instancenorm, cnn_layer_groupnorm, cnn_layer_add, cnn_layer_concat, cnn_layer_gmp,
    cnn_layer_shortcut, cnn_layer_scale;

/* Batch norm's constants, as PyTorch's BatchNorm defaults. */
#define CNN_BN_EPS 1e-5f
#define CNN_BN_MOMENTUM 0.1f

/* Uniform in [-bound, bound). */
void cnn_layer_fill_uniform(float *a, size_t n, float bound, cnn_rng *rng);
/* Weights (and bias, or NULL) of a conv or linear layer, per the init kind:
 * fan_in = IC*K*K (or IN), fan_out = OC*K*K (or OUT). */
void cnn_layer_init_weights(cnn_init_kind how, float *w, size_t wcount, float *b, size_t bcount,
                            int fan_in, int fan_out, cnn_rng *rng);
/* 1 if the layer kind is a normalisation (removes an automatic bias before it). */
int cnn_layer_is_norm(cnn_layer_kind kind);

/* DropConnect on the fast and reference paths alike: a layer with p > 0 masks
 * its weights with a fresh Bernoulli(1-p) mask each training step, scaled by
 * 1/(1-p) so that inference uses the weights as they are (their expectation).
 * ws layout: the masked weights (wcount floats) then the mask (wcount bytes). */
size_t cnn_dropconnect_ws_floats(size_t wcount);
/* Returns the weights the layer should use for this pass. */
const float *cnn_dropconnect_forward(cnn_plan_layer *pl, float *ws, size_t wcount);
/* Turns the gradient of the masked weights (in dw) into that of the weights. */
void cnn_dropconnect_backward(cnn_plan_layer *pl, const float *ws, size_t wcount);

#endif
