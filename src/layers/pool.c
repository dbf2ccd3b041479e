/* pool.c: max and average pooling layers over square windows (floor mode). */
#include "layer.h"

static cnn_pool_geom geom_of(const cnn_plan_layer *pl)
{
    const cnn_model_layer *l = pl->ml;
    cnn_pool_geom g = {.n = pl->n, .ih = l->in.h, .iw = l->in.w, .c = l->in.c, .kh = l->desc.k,
                       .kw = l->desc.k, .sh = l->desc.stride, .sw = l->desc.stride,
                       .ph = l->desc.pad, .pw = l->desc.pad};
    cnn_pool_geom_finish(&g);
    return g;
}

static cnn_status pool_infer(const cnn_layer_desc *d, const cnn_shape *ins, int n_in,
                             cnn_shape *out, size_t *params, size_t *state, cnn_error *err)
{
    cnn_shape in = ins[0];
    cnn_pool_geom g = {.n = 1, .ih = in.h, .iw = in.w, .c = in.c, .kh = d->k, .kw = d->k,
                       .sh = d->stride, .sw = d->stride, .ph = d->pad, .pw = d->pad};
    if (!cnn_pool_geom_finish(&g))
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                             "a %dx%d pooling window with stride %d, padding %d (at most half the "
                             "window) does not fit the %dx%d input",
                             d->k, d->k, d->stride, d->pad, in.h, in.w);
    if (d->k * d->k > 256)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                             "pooling windows hold at most 256 elements, found %dx%d", d->k, d->k);
    *out = (cnn_shape){g.oh, g.ow, in.c};
    *params = *state = 0;
    return CNN_STATUS_OK;
}

static cnn_status maxpool_plan(cnn_plan_layer *pl, cnn_error *err)
{
    /* fast path: one byte per output for the winning window position */
    if (pl->backend == CNN_BACKEND_FAST)
        pl->ws_floats = ((size_t)pl->n * cnn_shape_size(pl->ml->out) + 3) / 4;
    return CNN_STATUS_OK;
}

static void maxpool_forward(cnn_plan_layer *pl)
{
    cnn_pool_geom g = geom_of(pl);
    if (pl->backend == CNN_BACKEND_FAST)
        cnn_fast_maxpool_forward(&g, pl->x, pl->y, (uint8_t *)pl->ws);
    else
        cnn_ref_maxpool_forward(&g, pl->x, pl->y);
}

static void maxpool_backward(cnn_plan_layer *pl)
{
    if (!pl->dx)
        return;
    cnn_pool_geom g = geom_of(pl);
    if (pl->backend == CNN_BACKEND_FAST)
        cnn_fast_maxpool_backward(&g, (const uint8_t *)pl->ws, pl->dy, pl->dx);
    else
        cnn_ref_maxpool_backward(&g, pl->x, pl->dy, pl->dx);
}

static void avgpool_forward(cnn_plan_layer *pl)
{
    cnn_pool_geom g = geom_of(pl);
    if (pl->backend == CNN_BACKEND_FAST)
        cnn_fast_avgpool_forward(&g, pl->x, pl->y);
    else
        cnn_ref_avgpool_forward(&g, pl->x, pl->y);
}

static void avgpool_backward(cnn_plan_layer *pl)
{
    if (!pl->dx)
        return;
    cnn_pool_geom g = geom_of(pl);
    if (pl->backend == CNN_BACKEND_FAST)
        cnn_fast_avgpool_backward(&g, pl->dy, pl->dx);
    else
        cnn_ref_avgpool_backward(&g, pl->dy, pl->dx);
}

const cnn_layer_class cnn_layer_maxpool = {
    .name = "maxpool",
    .infer = pool_infer,
    .plan = maxpool_plan,
    .forward = maxpool_forward,
    .backward = maxpool_backward,
};

const cnn_layer_class cnn_layer_avgpool = {
    .name = "avgpool",
    .infer = pool_infer,
    .forward = avgpool_forward,
    .backward = avgpool_backward,
};
