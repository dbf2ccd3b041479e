/* model.h: networks as data, and the parameters they own.
 *
 * A model description (cnn_model_desc) is a list of layer descriptions; the
 * built-in ones live in src/models/builtin.c. cnn_model_create checks the
 * shapes, counts parameters and lays out three blocks:
 *   params  every trainable tensor, one allocation (weights then biases per layer)
 *   grads   the same layout, written by each backward
 *   state   tensors that are saved but not trained (batch-norm running estimates)
 * Layers refer into the blocks by offset, so the optimizer is one loop and a
 * saved model is three arrays. Running a model needs a plan (plan.h).
 */
#ifndef CNNLAB_MODEL_H
#define CNNLAB_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "cnnlab/activation.h"
#include "cnnlab/status.h"

typedef enum cnn_layer_kind {
    CNN_LAYER_CONV = 0,  /* 2-D convolution: out channels, k, stride, pad, bias */
    CNN_LAYER_LINEAR,    /* fully connected: out features, bias */
    CNN_LAYER_ACT,       /* activation: act */
    CNN_LAYER_MAXPOOL,   /* k, stride, pad */
    CNN_LAYER_AVGPOOL,   /* k, stride, pad (padding counted, as PyTorch) */
    CNN_LAYER_GAP,       /* global average pooling: (H,W,C) -> (C) */
    CNN_LAYER_FLATTEN,   /* (H,W,C) -> (C*H*W), PyTorch's order */
    CNN_LAYER_BATCHNORM, /* BatchNorm2d on (H,W,C), BatchNorm1d on (F) */
    CNN_LAYER_KIND_COUNT
} cnn_layer_kind;

typedef struct cnn_layer_desc {
    cnn_layer_kind kind;
    int out;            /* conv: output channels; linear: output features */
    int k, stride, pad; /* conv and pooling windows (square) */
    int bias;           /* conv, linear: 1 to add a bias */
    cnn_act act;        /* CNN_LAYER_ACT */
} cnn_layer_desc;

typedef struct cnn_model_desc {
    const char *name;
    const char *about; /* one line for listings */
    int in_h, in_w, in_c, classes;
    int count;
    const cnn_layer_desc *layers;
} cnn_model_desc;

/* Built-in models; NULL-terminated list and lookup by name (NULL if unknown). */
const cnn_model_desc *const *cnn_model_builtins(void);
const cnn_model_desc *cnn_model_find(const char *name);

/* Per-sample shape of a layer's input or output: (H, W, C); a vector is (1,1,F). */
typedef struct cnn_shape {
    int h, w, c;
} cnn_shape;

static inline size_t cnn_shape_size(cnn_shape s) { return (size_t)s.h * s.w * s.c; }

typedef struct cnn_model_layer {
    cnn_layer_desc desc;
    cnn_shape in, out;
    size_t param_offset, param_count; /* into params and grads */
    size_t state_offset, state_count; /* into state */
} cnn_model_layer;

typedef struct cnn_model {
    const cnn_model_desc *desc;
    int count;
    cnn_model_layer *layers;
    size_t param_count, state_count;
    float *params; /* (param_count) */
    float *grads;  /* (param_count) */
    float *state;  /* (state_count) */
} cnn_model;

/* Checks shapes layer by layer; an error names the layer, its index and both shapes. */
cnn_status cnn_model_create(const cnn_model_desc *desc, cnn_model **out, cnn_error *err);
void cnn_model_destroy(cnn_model *m);

/* Initialises as PyTorch does by default: conv and linear weights and biases
 * uniform in +-1/sqrt(fan_in) (kaiming_uniform with a = sqrt(5)), batch-norm
 * weight 1, bias 0, running mean 0, running variance 1. Layer i draws from
 * stream (seed, CNN_STREAM_INIT, i), so layers do not disturb each other. */
void cnn_model_init(cnn_model *m, uint64_t seed);

/* Multiply-accumulates of one sample's forward pass (conv and linear layers). */
double cnn_model_macs(const cnn_model *m);

#endif
