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

/* ---- the model-file words: the act slot (the model's activation) and each
 * activation by name ---- */

#define FIXED(name, a) {name, CNN_LAYER_ARG_NONE, NULL, 0, 0, 0, 0, cnn_layer_keys_from, 0, a, name}
static const cnn_layer_word act_words[] = {
    {"act", CNN_LAYER_ARG_NONE, NULL, 0, 0, 0, 0, cnn_layer_keys_from, CNN_SLOT_ACT, CNN_ACT_NONE,
     "act"},
    FIXED("relu", CNN_ACT_RELU),
    FIXED("sigmoid", CNN_ACT_SIGMOID),
    FIXED("tanh", CNN_ACT_TANH),
    FIXED("leaky_relu", CNN_ACT_LEAKY_RELU),
    FIXED("gelu", CNN_ACT_GELU),
    FIXED("elu", CNN_ACT_ELU),
    {NULL},
};
#undef FIXED

static cnn_status act_build(const cnn_layer_args *a, cnn_layer_desc *d, cnn_error *err)
{
    if (d->slots & CNN_SLOT_ACT)
        d->act = a->defaults->act;
    return CNN_STATUS_OK;
}

static void act_describe(const cnn_layer_desc *d, char *buf, size_t size)
{
    snprintf(buf, size, "%s", cnn_act_name(d->act));
}

const cnn_layer_class cnn_layer_act = {
    .name = "act",
    .words = act_words,
    .build = act_build,
    .describe = act_describe,
    .infer = act_infer,
    .forward = act_forward,
    .backward = act_backward,
};
