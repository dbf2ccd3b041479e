/* layer.h: what a layer type provides, and the per-plan state of one layer.
 *
 * Each layer type is one file (conv.c, linear.c, ...) exporting one
 * cnn_layer_class: its model-file words with their arguments and keys, how a
 * line becomes a cnn_layer_desc (build), its summary text (describe), shapes,
 * initialisation, and forward/backward on the plan's buffers. registry.c
 * lists the classes; a class's cnn_layer_kind is its place in that list (the
 * first ones are named in model.h). The model-file reader and the summary
 * know no layer: they go through the registry. Adding a layer means its file,
 * its ops, one registry line and its tests.
 */
#ifndef CNN_LAYER_H
#define CNN_LAYER_H

#include <stdio.h>

#include "cnnlab/model.h"
#include "cnnlab/plan.h"
#include "core/core.h"
#include "ops/fast/fast.h"
#include "ops/ops.h"

struct cnn_onnx_graph;
struct cnn_onnx_value;

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
    /* bf16 plans (cnn_plan_config's fp32_activations): y holds its
     * values as bf16 (ops/fast/bf16.h), in half the floats; x_bf16: so does
     * xs[0], its producer's y (a layer with one input only). dy, dx: floats
     * but for dy_bf16, dx_bf16 */
    int y_bf16, x_bf16;
    /* training plans that store: dy arrives as bf16, in half the floats (the
     * one reader of y wrote it so); dx_bf16: this layer writes dx so */
    int dy_bf16, dx_bf16;
    /* training plans that store: y_copied, this layer writes y_copy too, a
     * bf16 copy of y (in half its floats) for the bf16 convolutions among its
     * readers, which read it as their x (x_bf16 and x_copy set), while y stays
     * floats for the others (a residual add's sum read by the next add) */
    int y_copied, x_copy;
    float *y_copy;
    int may_store;       /* a bf16 plan that stores where it can (decided after a first plan) */
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
    /* training plans on several ranks with --sync-bn (cnn_plan_set_dist):
     * batch norm's statistics over every rank's rows; NULL: this batch's */
    const struct cnn_bn_sync *bn_sync;
} cnn_plan_layer;

/* ---- what a class tells the model-file reader (docs/model-files.md) ----
 * A line "[LABEL:] WORD ARG... KEY=VALUE..." names one of a class's words. The
 * reader checks the arguments and keys against the word (also on lines never
 * run), evaluates them, and hands the values to the class's build. */

typedef enum cnn_layer_arg_kind {
    CNN_LAYER_ARG_NONE = 0, /* no positional argument */
    CNN_LAYER_ARG_INT,      /* one integer in [arg_min, arg_max] ("conv CHANNELS") */
    CNN_LAYER_ARG_PROB_OPT, /* an optional probability in [0, 1) */
    CNN_LAYER_ARG_PROB,     /* a probability in [0, 1) */
    CNN_LAYER_ARG_NUMBER,   /* a finite number in [arg_min, arg_max] */
    CNN_LAYER_ARG_LABELS    /* min_labels to max_labels labels of earlier layers */
} cnn_layer_arg_kind;

typedef enum cnn_layer_key_kind {
    CNN_LAYER_KEY_INT = 0, /* an integer expression in [min, max]; `words` (one word, e.g.
                            * "same") may stand instead of a number */
    CNN_LAYER_KEY_NUMBER,  /* a literal finite number in [min, max] (eps=1e-12) */
    CNN_LAYER_KEY_CHOICE,  /* one of the comma-separated `words`: its index */
    CNN_LAYER_KEY_FLAGS,   /* "none" or a comma list of `words`: bit i for word i */
    CNN_LAYER_KEY_LABEL    /* an earlier layer's label (from=): the layer's index */
} cnn_layer_key_kind;

typedef struct cnn_layer_key {
    const char *name; /* NULL ends a table */
    cnn_layer_key_kind kind;
    double min, max;
    const char *words;
} cnn_layer_key;

/* The keys most layers share, for the classes' tables. */
#define CNN_LAYER_KEY_FROM {"from", CNN_LAYER_KEY_LABEL, 0, 0, NULL}
#define CNN_LAYER_KEY_GAMMA {"gamma", CNN_LAYER_KEY_INT, 0, 1, NULL}
#define CNN_LAYER_KEY_FREEZE {"freeze", CNN_LAYER_KEY_CHOICE, 0, 0, "weight"}
#define CNN_LAYER_KEY_EPS {"eps", CNN_LAYER_KEY_NUMBER, 1e-30, 1, NULL}
#define CNN_LAYER_KEY_MOMENTUM {"momentum", CNN_LAYER_KEY_NUMBER, 1e-6, 1, NULL}
#define CNN_LAYER_KEY_STRIDE {"stride", CNN_LAYER_KEY_INT, 1, 64, NULL}
#define CNN_LAYER_KEY_PAD {"pad", CNN_LAYER_KEY_INT, 0, 64, "same"}
#define CNN_LAYER_KEY_BIAS {"bias", CNN_LAYER_KEY_CHOICE, 0, 0, "yes,no,auto"}
#define CNN_LAYER_KEY_END {NULL, CNN_LAYER_KEY_INT, 0, 0, NULL}

typedef struct cnn_layer_word {
    const char *word;           /* NULL ends a class's list */
    cnn_layer_arg_kind args;
    const char *arg_name;       /* ARG_INT: "channels", for "conv channels: expected ..." */
    double arg_min, arg_max;    /* ARG_INT, ARG_NUMBER */
    int min_labels, max_labels; /* ARG_LABELS */
    const cnn_layer_key *keys;  /* the keys the word takes (NULL: none) */
    int slots;                  /* CNN_SLOT_NORM, _ACT or _DROPOUT: a slot word */
    cnn_act act;                /* the activation the word names (relu, ...) */
    const char *usage;          /* "conv OUT k=K [stride=S] ..." for messages */
} cnn_layer_word;

/* A key or positional argument as written and evaluated. */
typedef struct cnn_layer_value {
    int given;   /* written on the line */
    int is_word; /* KEY_INT: its word ("same") was written, not a number */
    long i;      /* INT, CHOICE, FLAGS, LABEL values; positional integers and labels */
    float f;     /* NUMBER values; positional probabilities and numbers */
} cnn_layer_value;

/* The model file's `defaults` line, which slot words and knobs read. */
typedef struct cnn_layer_defaults {
    cnn_layer_kind norm; /* what a norm slot is */
    int groups;          /* group norm's groups (0: automatic) */
    cnn_act act;         /* what an act slot is */
    float dropout;       /* a dropout slot's probability */
    int kernel;          /* knobs=kernel's kernel size (0: none) */
} cnn_layer_defaults;

/* What build gets: the word, the values of its keys (keys[i] for word->keys[i])
 * and arguments. d arrives with kind, slots, act and inputs set: the labels of
 * a labels word, else from= or the cursor. */
typedef struct cnn_layer_args {
    const cnn_layer_word *word;
    const cnn_layer_value *keys;
    const cnn_layer_value *pos;
    int npos;
    int cursor; /* the layer a line without from= reads (-1: the model's input) */
    const cnn_layer_defaults *defaults;
} cnn_layer_args;

/* ---- what a class tells the exporters (src/export, docs/export.md) ----
 * A layer's tensors as PyTorch's equivalent module names them in its
 * state_dict ("weight", "running_mean"), where each lives in the model's
 * blocks, and PyTorch's shape. The exporters and the importer prefix them with
 * "layers.INDEX." (tools/torch_models.py builds the same names). */
typedef enum cnn_layer_tensor_source {
    CNN_LAYER_TENSOR_PARAM = 0, /* floats in the layer's parameters */
    CNN_LAYER_TENSOR_STATE,     /* floats in the layer's state (running estimates) */
    CNN_LAYER_TENSOR_COUNTER    /* no data here: an int64 scalar PyTorch keeps
                                 * (num_batches_tracked), written as 0, ignored on import */
} cnn_layer_tensor_source;

#define CNN_LAYER_MAX_TENSORS 6

typedef struct cnn_layer_tensor {
    const char *name;
    cnn_layer_tensor_source source;
    size_t offset; /* floats from the start of the layer's parameters or state */
    int rank;
    int64_t dims[4]; /* PyTorch's shape, e.g. (OC, IC/G, K, K) */
    int hwc;         /* stored as (H, W, C) for dims (C, H, W): the exporters transpose */
} cnn_layer_tensor;

typedef struct cnn_layer_class {
    const char *name;
    const cnn_layer_word *words; /* model-file words, ended by {NULL} (NULL: none) */
    int norm;                    /* a normalisation (removes an automatic bias before it);
                                  * its parameters are gammas, then as many betas */
    int weighted;                /* its parameters are weights, then (with desc.bias) a bias
                                  * of desc.out: what an L2 penalty and --lr-mult weight
                                  * mean (conv, linear) */
    /* The description of one model-file line (NULL: d as it arrives). An error
     * says what was expected and found; the reader adds FILE:LINE:COL. */
    cnn_status (*build)(const cnn_layer_args *a, cnn_layer_desc *d, cnn_error *err);
    /* The summary's kind text, "conv 3x3 /2 pad 1" (NULL: the name). */
    void (*describe)(const cnn_layer_desc *d, char *buf, size_t size);
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
     * allocated by the caller afterwards, and x, y, dx, dy set; a bf16 plan
     * may call it twice, the second time with x_bf16 and y_bf16 decided (the
     * first's op objects released). */
    cnn_status (*plan)(cnn_plan_layer *pl, cnn_error *err);
    /* After plan: which of CNN_FAST_X_BF16 (reads x) and CNN_FAST_Y_BF16
     * (writes y) stored as bf16 the layer can do as planned (NULL: neither). */
    int (*bf16_storage)(const cnn_plan_layer *pl);
    void (*forward)(cnn_plan_layer *pl);
    void (*backward)(cnn_plan_layer *pl);
    void (*release)(cnn_plan_layer *pl); /* NULL: nothing to free */
    /* Multiply-accumulates per sample (NULL: none counted). */
    double (*macs)(const cnn_model_layer *l);
    /* The layer's tensors in PyTorch's state_dict (above); writes at most
     * CNN_LAYER_MAX_TENSORS and returns the count (NULL: none). */
    int (*tensors)(const cnn_model_layer *l, cnn_layer_tensor *out);
    /* Adds the ONNX nodes computing the layer in NCHW (src/export/onnx_graph.h):
     * in[0..n_in) are its inputs, *out receives its output; params and state
     * are the layer's views (NULL: ONNX cannot express the layer; the exporter
     * refuses the model naming it). */
    cnn_status (*onnx)(struct cnn_onnx_graph *g, const cnn_model_layer *l, const float *params,
                       const float *state, const struct cnn_onnx_value *in, int n_in,
                       struct cnn_onnx_value *out, cnn_error *err);
} cnn_layer_class;

const cnn_layer_class *cnn_layer_class_of(cnn_layer_kind kind);
/* The classes of the kinds model.h names, for C code and tests that use one
 * directly (a class added later needs no line here: registry.c declares it). */
extern const cnn_layer_class cnn_layer_conv, cnn_layer_linear, cnn_layer_act,
    cnn_layer_maxpool, cnn_layer_avgpool, cnn_layer_gap, cnn_layer_flatten, cnn_layer_batchnorm,
    cnn_layer_identity, cnn_layer_dropout, cnn_layer_dropout2d, cnn_layer_layernorm,
    cnn_layer_instancenorm, cnn_layer_groupnorm, cnn_layer_add, cnn_layer_concat, cnn_layer_gmp,
    cnn_layer_shortcut, cnn_layer_scale;

/* The kind of a registered class (its place in the registry). */
cnn_layer_kind cnn_layer_kind_of(const cnn_layer_class *cls);
/* The class owning a model-file word, and the word's entry; NULL if none does. */
const cnn_layer_class *cnn_layer_word_find(const char *word, const cnn_layer_word **entry);
/* The index of the key named by the n bytes at name in a word's keys, or -1. */
int cnn_layer_key_find(const cnn_layer_word *w, const char *name, size_t n);
/* "k, stride, pad" (or "none"): the keys a word takes, for messages. */
void cnn_layer_key_list(const cnn_layer_word *w, char *buf, size_t size);
/* The summary's text for a layer's kind: its class's describe, else its name. */
void cnn_layer_describe(const cnn_layer_desc *d, char *buf, size_t size);

/* Batch norm's constants, as PyTorch's BatchNorm defaults. */
#define CNN_BN_EPS 1e-5f
#define CNN_BN_MOMENTUM 0.1f

/* The keys of a word that takes only from= (gap, relu, ...). */
extern const cnn_layer_key cnn_layer_keys_from[];

/* CNN_BIAS_* of a bias=yes|no|auto key (CNN_BIAS_AUTO when not written). */
int cnn_layer_bias_of(const cnn_layer_value *v);
/* The keys the normalisation words share, each NULL where a word has none:
 * gamma=0 (gamma starts at 0), freeze=weight, eps=F, momentum=F. */
void cnn_layer_norm_keys(cnn_layer_desc *d, const cnn_layer_value *gamma,
                         const cnn_layer_value *freeze, const cnn_layer_value *eps,
                         const cnn_layer_value *momentum);
/* Appends to buf as snprintf does, at *used, never past size. */
void cnn_layer_text_add(char *buf, size_t size, size_t *used, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Uniform in [-bound, bound). */
void cnn_layer_fill_uniform(float *a, size_t n, float bound, cnn_rng *rng);
/* Weights (and bias, or NULL) of a conv or linear layer, per the init kind:
 * fan_in = IC*K*K (or IN), fan_out = OC*K*K (or OUT). */
void cnn_layer_init_weights(cnn_init_kind how, float *w, size_t wcount, float *b, size_t bcount,
                            int fan_in, int fan_out, cnn_rng *rng);
/* 1 if the layer kind is a normalisation (its class's norm flag). */
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
