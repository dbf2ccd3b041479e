/* dropout.c: the identity layer, inverted dropout and Dropout2d.
 * Dropout draws a fresh mask every training step from the stream
 * (seed, CNN_STREAM_DROPOUT, step*4096 + layer index); in eval it copies. */
#include <string.h>

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

const cnn_layer_class cnn_layer_identity = {
    .name = "identity",
    .infer = same_infer,
    .forward = copy_forward,
    .backward = copy_backward,
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

static void dropout_forward(cnn_plan_layer *pl)
{
    float p = pl->ml->desc.p;
    if (!pl->training || p <= 0.0f) {
        copy_forward(pl);
        return;
    }
    uint8_t *mask = (uint8_t *)pl->ws;
    cnn_rng rng;
    cnn_rng_init(&rng, pl->seed, CNN_STREAM_DROPOUT, pl->step * 4096 + (uint64_t)pl->index);
    cnn_dropout_mask(&rng, mask_count(pl), p, mask);
    cnn_shape s = pl->ml->out;
    if (pl->ml->desc.kind == CNN_LAYER_DROPOUT) {
        if (pl->backend == CNN_BACKEND_FAST)
            cnn_fast_dropout_forward(count_of(pl), p, mask, pl->x, pl->y);
        else
            cnn_ref_dropout_forward(count_of(pl), p, mask, pl->x, pl->y);
    } else if (pl->backend == CNN_BACKEND_FAST) {
        cnn_fast_dropout2d_forward(pl->n, s.h * s.w, s.c, p, mask, pl->x, pl->y);
    } else {
        cnn_ref_dropout2d_forward(pl->n, s.h * s.w, s.c, p, mask, pl->x, pl->y);
    }
}

static void dropout_backward(cnn_plan_layer *pl)
{
    float p = pl->ml->desc.p;
    if (!pl->dx)
        return;
    if (p <= 0.0f) {
        copy_backward(pl);
        return;
    }
    const uint8_t *mask = (const uint8_t *)pl->ws;
    cnn_shape s = pl->ml->out;
    if (pl->ml->desc.kind == CNN_LAYER_DROPOUT) {
        if (pl->backend == CNN_BACKEND_FAST)
            cnn_fast_dropout_backward(count_of(pl), p, mask, pl->dy, pl->dx);
        else
            cnn_ref_dropout_backward(count_of(pl), p, mask, pl->dy, pl->dx);
    } else if (pl->backend == CNN_BACKEND_FAST) {
        cnn_fast_dropout2d_backward(pl->n, s.h * s.w, s.c, p, mask, pl->dy, pl->dx);
    } else {
        cnn_ref_dropout2d_backward(pl->n, s.h * s.w, s.c, p, mask, pl->dy, pl->dx);
    }
}

const cnn_layer_class cnn_layer_dropout = {
    .name = "dropout",
    .infer = same_infer,
    .plan = dropout_plan,
    .forward = dropout_forward,
    .backward = dropout_backward,
};

const cnn_layer_class cnn_layer_dropout2d = {
    .name = "dropout2d",
    .infer = same_infer,
    .plan = dropout_plan,
    .forward = dropout_forward,
    .backward = dropout_backward,
};
