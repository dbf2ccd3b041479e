/* activation.c: elementwise activation layer (any cnn_act: ReLU, leaky ReLU,
 * sigmoid, tanh, GELU, ELU). On the fast path the plan folds it into the layer
 * before (conv, linear, batch norm) when that layer can apply it and nothing
 * else reads its output; then this layer does nothing. GELU, whose backward
 * reads its input, folds only into a batch norm (which recomputes that input);
 * elsewhere it runs here on the vectorised kernels of fast/eltwise.c. */
#include "layer.h"

static cnn_status act_infer(const cnn_layer_desc *d, const cnn_shape *ins, int n_in,
                            cnn_shape *out, size_t *params, size_t *state, cnn_error *err)
{
    cnn_shape in = ins[0];
    if (d->act == CNN_ACT_NONE)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                             "activation layer without an activation");
    *out = in;
    *params = *state = 0;
    return CNN_STATUS_OK;
}

static size_t count_of(const cnn_plan_layer *pl) { return (size_t)pl->n * cnn_shape_size(pl->ml->out); }

static void act_forward(cnn_plan_layer *pl)
{
    if (pl->backend == CNN_BACKEND_FAST)
        cnn_fast_act_forward(pl->ml->desc.act, count_of(pl), pl->x, pl->y);
    else
        cnn_ref_act_forward(pl->ml->desc.act, count_of(pl), pl->x, pl->y);
}

static void act_backward(cnn_plan_layer *pl)
{
    if (!pl->dx)
        return;
    if (pl->backend == CNN_BACKEND_FAST)
        cnn_fast_act_backward(pl->ml->desc.act, count_of(pl), pl->x, pl->y, pl->dy, pl->dx);
    else
        cnn_ref_act_backward(pl->ml->desc.act, count_of(pl), pl->x, pl->y, pl->dy, pl->dx);
}

const cnn_layer_class cnn_layer_act = {
    .name = "act",
    .infer = act_infer,
    .forward = act_forward,
    .backward = act_backward,
};
