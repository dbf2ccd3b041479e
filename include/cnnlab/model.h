/* model.h: networks as data, and the parameters they own.
 *
 * A model description (cnn_model_desc) is a list of layer descriptions. Model
 * files (docs/model-files.md) are the way to write one: the built-in models are
 * the files in models/, compiled into the library, and cnn_model_load reads a
 * built-in by name or a file by path. cnn_model_create checks the
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

/* A layer's kind is its class's place in the layer registry
 * (src/layers/registry.c). These are the kinds C code names; a layer class
 * registered after them has the next number and is reached through its
 * model-file word. */
typedef enum cnn_layer_kind {
    CNN_LAYER_CONV = 0,     /* 2-D convolution: out channels, k, stride, pad, bias, p (DropConnect),
                             * groups */
    CNN_LAYER_LINEAR,       /* fully connected: out features, bias, p (DropConnect) */
    CNN_LAYER_ACT,          /* activation: act */
    CNN_LAYER_MAXPOOL,      /* k, stride, pad */
    CNN_LAYER_AVGPOOL,      /* k, stride, pad (padding counted, as PyTorch) */
    CNN_LAYER_GAP,          /* global average pooling: (H,W,C) -> (C) */
    CNN_LAYER_FLATTEN,      /* (H,W,C) -> (C*H*W), PyTorch's order */
    CNN_LAYER_BATCHNORM,    /* BatchNorm2d on (H,W,C), BatchNorm1d on (F) */
    CNN_LAYER_IDENTITY,     /* passes its input on (an empty norm or dropout slot) */
    CNN_LAYER_DROPOUT,      /* inverted dropout, p */
    CNN_LAYER_DROPOUT2D,    /* whole channels, p */
    CNN_LAYER_LAYERNORM,    /* over (C,H,W) per sample, elementwise affine */
    CNN_LAYER_INSTANCENORM, /* per sample and channel, affine per channel */
    CNN_LAYER_GROUPNORM,    /* groups of channels per sample, affine per channel */
    CNN_LAYER_ADD,          /* sum of two inputs of one shape (residual connection) */
    CNN_LAYER_CONCAT,       /* channel concatenation of inputs of one H, W */
    CNN_LAYER_GMP,          /* global max pooling: (H,W,C) -> (C) */
    CNN_LAYER_SHORTCUT,     /* parameter-free ResNet shortcut (He et al.'s option A): every
                             * stride-th pixel, channels zero-padded to out */
    CNN_LAYER_SCALE,        /* y = scale * x, a fixed factor (airbench's logit scale) */
    CNN_LAYER_KIND_COUNT
} cnn_layer_kind;

enum { CNN_BIAS_NO = 0, CNN_BIAS_YES = 1, CNN_BIAS_AUTO = 2 /* unless a norm layer follows */ };

/* Which model options (cnn_model_options) reach a layer. */
enum {
    CNN_SLOT_NORM = 1,        /* a norm slot: its kind follows --norm (identity for none) */
    CNN_SLOT_ACT = 2,         /* an activation slot: follows --activation */
    CNN_SLOT_KERNEL = 4,      /* a conv whose kernel follows --kernel-size (pad k/2 if it had padding) */
    CNN_SLOT_DROPOUT = 8,     /* a dropout slot: p follows --dropout (identity for 0) */
    CNN_SLOT_DROPCONNECT = 16 /* a conv or linear layer that takes --dropconnect */
};

#define CNN_MAX_INPUTS 4

/* How a convolution's weights start, beside the model's init kind. */
enum {
    CNN_LAYER_INIT_DEFAULT = 0, /* the model's init kind */
    CNN_LAYER_INIT_DIRAC,       /* the init kind, then the identity (torch.nn.init.dirac_) on
                                 * the first IC output channels, as airbench's convolutions */
    CNN_LAYER_INIT_WHITEN       /* from the training data: patch-whitening filters (the trainer
                                 * computes them, cnn_whiten_weights in train.h); bias 0 */
};

typedef struct cnn_layer_desc {
    cnn_layer_kind kind;
    int out;            /* conv: output channels; linear: output features */
    int k, stride, pad; /* conv and pooling windows (square) */
    int bias;           /* conv, linear: CNN_BIAS_* */
    cnn_act act;        /* CNN_LAYER_ACT */
    float p;            /* dropout probability; conv, linear: DropConnect probability */
    int groups;         /* group norm: groups (0: 32 or the largest divisor that fits);
                         * conv: PyTorch's groups (0 or 1: every output reads every input) */
    int gamma0;         /* norms: gamma starts at 0, not 1 (the model file's gamma=0) */
    float eps;          /* batch norm: epsilon (0: PyTorch's 1e-5) */
    float momentum;     /* batch norm: running-estimate momentum, PyTorch's convention (the
                         * new value's weight; 0: PyTorch's 0.1) */
    int freeze_weight;  /* conv, linear weights, norm gammas: not trained (the optimizer
                         * leaves them as initialised) */
    int init;           /* conv: CNN_LAYER_INIT_* (how its weights start) */
    float scale;        /* CNN_LAYER_SCALE: the factor */
    int slots;          /* CNN_SLOT_* bits */
    int from_count;     /* 0: the input is the layer before (or the model's input) */
    int from[CNN_MAX_INPUTS]; /* earlier layers' 0-based indices; -1 = the model's input */
    const char *label;  /* name for messages and summaries ("basic4.body"), or NULL */
    const char *origin; /* where it was written ("models/resnet20.cnn:17"), or NULL */
} cnn_layer_desc;

typedef enum cnn_init_kind {
    CNN_INIT_DEFAULT = 0, /* the model's own: its file's `defaults init=`, else pytorch */
    CNN_INIT_PYTORCH,     /* uniform +-1/sqrt(fan_in) for weights and biases */
    CNN_INIT_KAIMING,     /* normal, std sqrt(2/fan_in); biases 0 */
    CNN_INIT_XAVIER       /* uniform +-sqrt(6/(fan_in+fan_out)); biases 0 */
} cnn_init_kind;

typedef struct cnn_model_desc {
    const char *name;
    const char *about; /* one line for listings */
    int in_h, in_w, in_c, classes;
    int count;
    const cnn_layer_desc *layers;
    cnn_init_kind init; /* the model's initialisation (CNN_INIT_DEFAULT: pytorch) */
} cnn_model_desc;

typedef enum cnn_norm_kind {
    CNN_NORM_DEFAULT = 0, /* the model's own choice */
    CNN_NORM_NONE,
    CNN_NORM_BATCH,
    CNN_NORM_LAYER,
    CNN_NORM_INSTANCE,
    CNN_NORM_GROUP
} cnn_norm_kind;

/* The knobs a study turns; each reaches the layers whose slots ask for it. */
typedef struct cnn_model_options {
    cnn_norm_kind norm;
    int groups;        /* group norm groups; 0: 32 or the largest divisor of C that fits */
    cnn_act act;       /* CNN_ACT_NONE: the model's own */
    float dropout;     /* < 0: the model's own */
    float dropconnect; /* 0: none */
    int kernel_size;   /* 0: the model's own */
    cnn_init_kind init;
} cnn_model_options;

void cnn_model_options_defaults(cnn_model_options *o);
/* "norm=batch activation=relu ..." listing the options that differ from the
 * defaults (empty string if none); cnn_model_options_parse reads it back. */
void cnn_model_options_format(const cnn_model_options *o, char *buf, size_t size);
cnn_status cnn_model_options_parse(const char *text, cnn_model_options *o, cnn_error *err);
const char *cnn_norm_kind_name(cnn_norm_kind k);
int cnn_norm_kind_parse(const char *s, cnn_norm_kind *out);
const char *cnn_act_name(cnn_act a);
int cnn_act_parse(const char *s, cnn_act *out);
const char *cnn_init_kind_name(cnn_init_kind k);
int cnn_init_kind_parse(const char *s, cnn_init_kind *out);

/* ---- Model files (docs/model-files.md) ----
 * A model file is text: header settings, the model's knob defaults, variables,
 * blocks with parameters, and one layer per line. Parsing checks everything it
 * can without shapes; an error reads "FILE:LINE:COL: ... expected X, found Y".
 * Shapes are checked by cnn_model_create, whose errors name layers by label and
 * FILE:LINE. */
typedef struct cnn_model_file {
    cnn_model_desc desc; /* the layers carry label and origin */
    const char *path;    /* as given ("models/NAME.cnn" for built-ins) */
    const char *text;    /* the file's text as read: what a run folder keeps */
    const char *vars;    /* the variables set from outside, "head=4096" ("" if none) */
} cnn_model_file;

/* The shape of the data a model meets: images h x w x c, `classes` scores.
 * A model file that does not set `input` or `classes` takes them from it;
 * without one (NULL) they are CIFAR-10's, CNN_DATA_SHAPE_DEFAULT. */
typedef struct cnn_data_shape {
    int h, w, c, classes;
} cnn_data_shape;
#define CNN_DATA_SHAPE_DEFAULT {32, 32, 3, 10}

/* Parses text; path names it in messages. vars: "NAME=INT ..." (NULL or "":
 * none) overrides variables the file declares at its top level; naming one it
 * does not declare is an error. Free the result with cnn_model_file_free. */
cnn_status cnn_model_file_parse(const char *path, const char *text, const char *vars,
                                cnn_model_file **out, cnn_error *err);
/* Reads path and parses it. */
cnn_status cnn_model_file_read(const char *path, const char *vars, cnn_model_file **out,
                               cnn_error *err);
/* The same two for data of the given shape (NULL: CNN_DATA_SHAPE_DEFAULT). */
cnn_status cnn_model_file_parse_shaped(const char *path, const char *text, const char *vars,
                                       const cnn_data_shape *shape, cnn_model_file **out,
                                       cnn_error *err);
cnn_status cnn_model_file_read_shaped(const char *path, const char *vars,
                                      const cnn_data_shape *shape, cnn_model_file **out,
                                      cnn_error *err);
void cnn_model_file_free(cnn_model_file *f);

/* Built-in models: NULL-terminated list, and lookup by name (NULL if unknown).
 * Parsed from the embedded files on first use; they live until the program ends. */
const cnn_model_desc *const *cnn_model_builtins(void);
const cnn_model_desc *cnn_model_find(const char *name);

/* A built-in by name, or a model file when the name contains '/' or ends in
 * ".cnn"; vars as for cnn_model_file_parse (NULL: none). The description lives
 * until the program ends (loads are cached by name and vars). Errors list the
 * built-in names when a name is unknown. Not thread-safe: load models from one
 * thread. */
cnn_status cnn_model_load(const char *name_or_path, const char *vars, const cnn_model_desc **out,
                          cnn_error *err);
/* cnn_model_load for data of the given shape (NULL: CNN_DATA_SHAPE_DEFAULT):
 * what the file does not fix comes from shape; what it fixes stays, for
 * cnn_model_check_data to compare. */
cnn_status cnn_model_load_shaped(const char *name_or_path, const char *vars,
                                 const cnn_data_shape *shape, const cnn_model_desc **out,
                                 cnn_error *err);
/* The file a description came from (built-ins too), or NULL for descriptions
 * made in C. */
const cnn_model_file *cnn_model_file_of(const cnn_model_desc *d);

/* Per-sample shape of a layer's input or output: (H, W, C); a vector is (1,1,F). */
typedef struct cnn_shape {
    int h, w, c;
} cnn_shape;

static inline size_t cnn_shape_size(cnn_shape s) { return (size_t)s.h * s.w * s.c; }

typedef struct cnn_model_layer {
    cnn_layer_desc desc;  /* resolved: options applied, from[] filled in */
    cnn_shape in, out;    /* in: the first input's shape */
    cnn_shape ins[CNN_MAX_INPUTS];
    size_t param_offset, param_count; /* into params and grads */
    size_t state_offset, state_count; /* into state */
} cnn_model_layer;

typedef struct cnn_model {
    const cnn_model_desc *desc;
    cnn_model_options options;
    int count;
    cnn_model_layer *layers;
    size_t param_count, state_count;
    float *params; /* (param_count) */
    float *grads;  /* (param_count) */
    float *state;  /* (state_count) */
} cnn_model;

/* Applies the options (NULL: defaults) and checks shapes layer by layer; an
 * error names the layer, its index and the shapes, or the option and why the
 * model cannot take it. */
cnn_status cnn_model_create(const cnn_model_desc *desc, const cnn_model_options *opt,
                            cnn_model **out, cnn_error *err);
void cnn_model_destroy(cnn_model *m);
/* Checks that the model reads images of h x w x c and gives `classes` scores,
 * as the data (named by data, e.g. "CIFAR-10") has; an error names both. */
cnn_status cnn_model_check_data(const cnn_model_desc *desc, int h, int w, int c, int classes,
                                const char *data, cnn_error *err);

/* Initialises per cnn_model_init_kind (PyTorch's defaults unless the options
 * or the model file ask otherwise: conv and linear weights and biases uniform
 * in +-1/sqrt(fan_in), i.e. kaiming_uniform with a = sqrt(5)); norm weights 1, biases 0, running mean 0,
 * running variance 1. Layer i draws from stream (seed, CNN_STREAM_INIT, i), so
 * layers do not disturb each other. */
void cnn_model_init(cnn_model *m, uint64_t seed);
/* The initialisation cnn_model_init uses: options.init, else the model's, else pytorch. */
cnn_init_kind cnn_model_init_kind(const cnn_model *m);

/* Multiply-accumulates of one sample's forward pass (conv and linear layers). */
double cnn_model_macs(const cnn_model *m);

/* The parameter ranges that are weights of conv and linear layers (not biases
 * or norm parameters): what an L2 penalty applies to. Returns the count
 * written (at most max). */
int cnn_model_weight_ranges(const cnn_model *m, size_t *offsets, size_t *counts, int max);

/* What a parameter is, for per-group optimizer settings (--lr-mult). */
typedef enum cnn_param_role {
    CNN_PARAM_WEIGHT = 0,  /* conv and linear weights */
    CNN_PARAM_BIAS,        /* conv and linear biases */
    CNN_PARAM_NORM_WEIGHT, /* normalisation scales (gamma) */
    CNN_PARAM_NORM_BIAS,   /* normalisation shifts (beta) */
    CNN_PARAM_ROLE_COUNT
} cnn_param_role;

typedef struct cnn_param_range {
    size_t offset, count; /* into params and grads */
    cnn_param_role role;
    int layer;            /* 0-based index in the model */
    int frozen;           /* the model file froze it (freeze=weight) */
} cnn_param_range;

/* Every parameter of the model as ranges in block order, each with its role;
 * together they cover the block. Writes at most max and returns how many
 * there are (call with max 0 to count). */
int cnn_model_param_ranges(const cnn_model *m, cnn_param_range *out, int max);
/* "weight", "bias", "norm_weight", "norm_bias"; parse returns 1 and sets *out,
 * or 0 for an unknown name. */
const char *cnn_param_role_name(cnn_param_role r);
int cnn_param_role_parse(const char *s, cnn_param_role *out);

#endif
