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
    int n;               /* batch */
    cnn_backend backend;
    int training;
    cnn_act fused;       /* fast path: the activation this layer applies after itself */
    int absorbed;        /* an activation layer whose work the previous layer does */
    const float *x;      /* (n, in)  input */
    float *y;            /* (n, out) output */
    float *dx;           /* (n, in)  gradient of the input; NULL for the first layer */
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
    /* Output shape and tensor sizes for a per-sample input shape. An error says
     * what input the layer expected and what it got. */
    cnn_status (*infer)(const cnn_layer_desc *d, cnn_shape in, cnn_shape *out, size_t *params,
                        size_t *state, cnn_error *err);
    /* Initial parameters and state (NULL: nothing to initialise). */
    void (*init)(const cnn_model_layer *l, float *params, float *state, cnn_rng *rng);
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
    cnn_layer_maxpool, cnn_layer_avgpool, cnn_layer_gap, cnn_layer_flatten, cnn_layer_batchnorm;

/* Uniform in [-bound, bound), PyTorch's default for conv and linear layers. */
void cnn_layer_fill_uniform(float *a, size_t n, float bound, cnn_rng *rng);

#endif
