/* dropout.c: the identity layer, inverted dropout and Dropout2d.
 * Dropout draws a fresh mask every training step from the stream
 * (seed, CNN_STREAM_DROPOUT, step*4096 + layer index); in eval it copies. */
#include <string.h>

#include "export/onnx_graph.h"
#include "layer.h"

static cnn_status same_infer(const cnn_layer_desc *d, const cnn_shape *ins, int n_in,
                             cnn_shape *out, size_t *params, size_t *state, cnn_error *err)
{
    if ((d->kind == CNN_LAYER_DROPOUT || d->kind == CNN_LAYER_DROPOUT2D) &&
        !(d->p >= 0.0f && d->p < 1.0f))
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                             "dropout probability must be in [0, 1), found %g", (double)d->p);
    *out = ins[0];
    *params = *state = 0;
    return CNN_STATUS_OK;
}

static size_t count_of(const cnn_plan_layer *pl) { return (size_t)pl->n * cnn_shape_size(pl->ml->out); }

static void copy_forward(cnn_plan_layer *pl)
{
    if (pl->y != pl->x)
        memcpy(pl->y, pl->x, count_of(pl) * sizeof(float));
}

static void copy_backward(cnn_plan_layer *pl)
{
    if (pl->dx && pl->dx != pl->dy)
        memcpy(pl->dx, pl->dy, count_of(pl) * sizeof(float));
}

/* ---- the model-file words: identity, and the norm slot, which is what the
 * model file's `defaults norm=` says (an identity for none) ---- */

enum { KEY_GROUPS, KEY_FROM, KEY_GAMMA, KEY_EPS, KEY_MOMENTUM, KEY_FREEZE };

static const cnn_layer_key norm_slot_keys[] = {
    [KEY_GROUPS] = {"groups", CNN_LAYER_KEY_INT, 1, 65536, NULL},
    [KEY_FROM] = CNN_LAYER_KEY_FROM,
    [KEY_GAMMA] = CNN_LAYER_KEY_GAMMA,
    [KEY_EPS] = CNN_LAYER_KEY_EPS,
    [KEY_MOMENTUM] = CNN_LAYER_KEY_MOMENTUM,
    [KEY_FREEZE] = CNN_LAYER_KEY_FREEZE,
    CNN_LAYER_KEY_END,
};

static const cnn_layer_word identity_words[] = {
    {"identity", CNN_LAYER_ARG_NONE, NULL, 0, 0, 0, 0, cnn_layer_keys_from, 0, CNN_ACT_NONE,
     "identity"},
    {"norm", CNN_LAYER_ARG_NONE, NULL, 0, 0, 0, 0, norm_slot_keys, CNN_SLOT_NORM, CNN_ACT_NONE,
     "norm [groups=G] [gamma=0|1] [freeze=weight] [eps=F] [momentum=F]"},
    {NULL},
};

static cnn_status identity_build(const cnn_layer_args *a, cnn_layer_desc *d, cnn_error *err)
{
    if (!(d->slots & CNN_SLOT_NORM))
        return CNN_STATUS_OK;
    const cnn_layer_value *v = a->keys;
    d->kind = a->defaults->norm;
    d->groups = v[KEY_GROUPS].given ? (int)v[KEY_GROUPS].i : a->defaults->groups;
    cnn_layer_norm_keys(d, &v[KEY_GAMMA], &v[KEY_FREEZE], &v[KEY_EPS], &v[KEY_MOMENTUM]);
    return CNN_STATUS_OK;
}

/* identity, and dropout at inference: the input as it is */
static cnn_status identity_onnx(cnn_onnx_graph *g, const cnn_model_layer *l, const float *params,
                                const float *state, const cnn_onnx_value *in, int n_in,
                                cnn_onnx_value *out, cnn_error *err)
{
    *out = (cnn_onnx_value){cnn_onnx_op1(g, "Identity", in[0].name), in[0].rank, l->out.c};
    return CNN_STATUS_OK;
}

const cnn_layer_class cnn_layer_identity = {
    .name = "identity",
    .words = identity_words,
    .build = identity_build,
    .infer = same_infer,
    .forward = copy_forward,
    .backward = copy_backward,
    .onnx = identity_onnx,
};

/* mask bytes: one per element (dropout) or per (sample, channel) (Dropout2d) */
static size_t mask_count(const cnn_plan_layer *pl)
{
    return pl->ml->desc.kind == CNN_LAYER_DROPOUT ? count_of(pl)
                                                  : (size_t)pl->n * pl->ml->out.c;
}

static cnn_status dropout_plan(cnn_plan_layer *pl, cnn_error *err)
{
    if (pl->training)
        pl->ws_floats = (mask_count(pl) + 3) / 4;
    return CNN_STATUS_OK;
}

/* The mask applied to x (forward) or dy (backward): the two directions are
 * the same product, y = x * mask / (1 - p). */
static void dropout_apply(cnn_plan_layer *pl, int backward)
{
    float p = pl->ml->desc.p;
    const uint8_t *mask = (const uint8_t *)pl->ws;
    const float *in = backward ? pl->dy : pl->x;
    float *out = backward ? pl->dx : pl->y;
    const int fast = pl->backend == CNN_BACKEND_FAST;
    cnn_shape s = pl->ml->out;
    if (pl->ml->desc.kind == CNN_LAYER_DROPOUT) {
        void (*f)(size_t, float, const uint8_t *, const float *, float *) =
            fast ? (backward ? cnn_fast_dropout_backward : cnn_fast_dropout_forward)
                 : (backward ? cnn_ref_dropout_backward : cnn_ref_dropout_forward);
        f(count_of(pl), p, mask, in, out);
    } else {
        void (*f)(int, int, int, float, const uint8_t *, const float *, float *) =
            fast ? (backward ? cnn_fast_dropout2d_backward : cnn_fast_dropout2d_forward)
                 : (backward ? cnn_ref_dropout2d_backward : cnn_ref_dropout2d_forward);
        f(pl->n, s.h * s.w, s.c, p, mask, in, out);
    }
}

static void dropout_forward(cnn_plan_layer *pl)
{
    float p = pl->ml->desc.p;
    if (!pl->training || p <= 0.0f) {
        copy_forward(pl);
        return;
    }
    cnn_rng rng;
    cnn_rng_init(&rng, pl->seed, CNN_STREAM_DROPOUT, pl->step * 4096 + (uint64_t)pl->index);
    cnn_dropout_mask(&rng, mask_count(pl), p, (uint8_t *)pl->ws);
    dropout_apply(pl, 0);
}

static void dropout_backward(cnn_plan_layer *pl)
{
    if (!pl->dx)
        return;
    if (pl->ml->desc.p <= 0.0f)
        copy_backward(pl);
    else
        dropout_apply(pl, 1);
}

static const cnn_layer_word dropout_words[] = {
    {"dropout", CNN_LAYER_ARG_PROB_OPT, NULL, 0, 0, 0, 0, cnn_layer_keys_from, CNN_SLOT_DROPOUT,
     CNN_ACT_NONE, "dropout [P]"},
    {NULL},
};
static const cnn_layer_word dropout2d_words[] = {
    {"dropout2d", CNN_LAYER_ARG_PROB, NULL, 0, 0, 0, 0, cnn_layer_keys_from, 0, CNN_ACT_NONE,
     "dropout2d P"},
    {NULL},
};

/* The probability written, else the model file's `defaults dropout=`. */
static cnn_status dropout_build(const cnn_layer_args *a, cnn_layer_desc *d, cnn_error *err)
{
    d->p = a->npos ? a->pos[0].f : a->defaults->dropout;
    return CNN_STATUS_OK;
}

static void dropout_describe(const cnn_layer_desc *d, char *buf, size_t size)
{
    snprintf(buf, size, "%s %g", cnn_layer_class_of(d->kind)->name, (double)d->p);
}

const cnn_layer_class cnn_layer_dropout = {
    .name = "dropout",
    .words = dropout_words,
    .build = dropout_build,
    .describe = dropout_describe,
    .infer = same_infer,
    .plan = dropout_plan,
    .forward = dropout_forward,
    .backward = dropout_backward,
    .onnx = identity_onnx,
};

const cnn_layer_class cnn_layer_dropout2d = {
    .name = "dropout2d",
    .words = dropout2d_words,
    .build = dropout_build,
    .describe = dropout_describe,
    .infer = same_infer,
    .plan = dropout_plan,
    .forward = dropout_forward,
    .backward = dropout_backward,
    .onnx = identity_onnx,
};
