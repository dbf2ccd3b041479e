/* linear.c: fully connected layer. Parameters: weight (OUT,IN), then bias (OUT).
 * Takes any input shape as IN = H*W*C features (in the input's memory order;
 * use flatten before it for PyTorch's order). The fast path may absorb any
 * activation. */
#include <math.h>

#include "layer.h"

static cnn_status linear_infer(const cnn_layer_desc *d, cnn_shape in, cnn_shape *out,
                               size_t *params, size_t *state, cnn_error *err)
{
    if (d->out < 1)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                             "linear needs out >= 1, found %d", d->out);
    if (in.h != 1 || in.w != 1)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                             "linear expects a flat input (1x1xF), found %dx%dx%d; put a flatten "
                             "or global average pooling before it", in.h, in.w, in.c);
    *out = (cnn_shape){1, 1, d->out};
    *params = (size_t)d->out * in.c + (d->bias ? (size_t)d->out : 0);
    *state = 0;
    return CNN_STATUS_OK;
}

static void linear_init(const cnn_model_layer *l, float *params, float *state, cnn_rng *rng)
{
    float bound = 1.0f / sqrtf((float)l->in.c);
    cnn_layer_fill_uniform(params, (size_t)l->desc.out * l->in.c, bound, rng);
    if (l->desc.bias)
        cnn_layer_fill_uniform(params + (size_t)l->desc.out * l->in.c, (size_t)l->desc.out, bound, rng);
}

static int linear_can_fuse(cnn_act act) { return act != CNN_ACT_NONE; }

static float *bias_of(const cnn_plan_layer *pl, float *block)
{
    const cnn_model_layer *l = pl->ml;
    return l->desc.bias ? block + (size_t)l->desc.out * l->in.c : NULL;
}

static void linear_forward(cnn_plan_layer *pl)
{
    int in = pl->ml->in.c, out = pl->ml->desc.out;
    if (pl->backend == CNN_BACKEND_FAST)
        cnn_fast_linear_forward(pl->n, in, out, pl->x, pl->w, bias_of(pl, pl->w), pl->fused, pl->y);
    else
        cnn_ref_linear_forward(pl->n, in, out, pl->x, pl->w, bias_of(pl, pl->w), pl->y);
}

static void linear_backward(cnn_plan_layer *pl)
{
    int in = pl->ml->in.c, out = pl->ml->desc.out;
    if (pl->backend == CNN_BACKEND_FAST)
        cnn_fast_linear_backward(pl->n, in, out, pl->x, pl->w, pl->y, pl->fused, pl->dy, pl->dx,
                                 pl->dw, bias_of(pl, pl->dw));
    else
        cnn_ref_linear_backward(pl->n, in, out, pl->x, pl->w, pl->dy, pl->dx, pl->dw,
                                bias_of(pl, pl->dw));
}

static double linear_macs(const cnn_model_layer *l) { return (double)l->in.c * l->desc.out; }

const cnn_layer_class cnn_layer_linear = {
    .name = "linear",
    .infer = linear_infer,
    .init = linear_init,
    .can_fuse = linear_can_fuse,
    .forward = linear_forward,
    .backward = linear_backward,
    .macs = linear_macs,
};
