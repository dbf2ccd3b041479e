/* activation.c: elementwise activation layer (any cnn_act: ReLU, leaky ReLU,
 * sigmoid, tanh, GELU, ELU). On the fast path the plan folds it into the layer
 * before (conv, linear, batch norm) when that layer can apply it and nothing
 * else reads its output; then this layer does nothing. GELU, whose backward
 * reads its input, folds only into a batch norm (which recomputes that input);
 * elsewhere it runs here on the vectorised kernels of fast/eltwise.c. */
#include "export/onnx_graph.h"
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

/* GELU, whose backward reads x (not y), may write y stored as bf16. */
static int act_bf16_storage(const cnn_plan_layer *pl)
{
    return pl->backend == CNN_BACKEND_FAST && pl->ml->desc.act == CNN_ACT_GELU ? CNN_FAST_Y_BF16
                                                                               : 0;
}

static void act_forward(cnn_plan_layer *pl)
{
    if (pl->y_bf16)
        cnn_fast_gelu_to_bf16(count_of(pl), pl->x, pl->y);
    else if (pl->backend == CNN_BACKEND_FAST)
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

/* Each cnn_act as ONNX operators; GELU's exact form x/2 (1 + erf(x / sqrt 2)). */
static cnn_status act_onnx(cnn_onnx_graph *g, const cnn_model_layer *l, const float *params,
                           const float *state, const cnn_onnx_value *in, int n_in,
                           cnn_onnx_value *out, cnn_error *err)
{
    const char *x = in[0].name, *y = NULL;
    switch (l->desc.act) {
    case CNN_ACT_RELU: y = cnn_onnx_op1(g, "Relu", x); break;
    case CNN_ACT_SIGMOID: y = cnn_onnx_op1(g, "Sigmoid", x); break;
    case CNN_ACT_TANH: y = cnn_onnx_op1(g, "Tanh", x); break;
    case CNN_ACT_LEAKY_RELU:
        y = cnn_onnx_node(g, "LeakyRelu", &x, 1, &CNN_ONNX_FLOAT("alpha", 0.01f), 1);
        break;
    case CNN_ACT_ELU: y = cnn_onnx_node(g, "Elu", &x, 1, &CNN_ONNX_FLOAT("alpha", 1.0f), 1); break;
    case CNN_ACT_GELU: {
        const char *e = cnn_onnx_op1(g, "Erf", cnn_onnx_op2(g, "Div", x, cnn_onnx_scalar(g, "sqrt2",
                                                                                  1.41421356f)));
        const char *h = cnn_onnx_op2(g, "Mul", x, cnn_onnx_scalar(g, "half", 0.5f));
        y = cnn_onnx_op2(g, "Mul", h, cnn_onnx_op2(g, "Add", e, cnn_onnx_scalar(g, "one", 1.0f)));
        break;
    }
    case CNN_ACT_NONE:
    case CNN_ACT_COUNT:
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "activation %s has no ONNX form",
                             cnn_act_name(l->desc.act));
    }
    *out = (cnn_onnx_value){y, in[0].rank, l->out.c};
    return CNN_STATUS_OK;
}

const cnn_layer_class cnn_layer_act = {
    .name = "act",
    .words = act_words,
    .build = act_build,
    .describe = act_describe,
    .infer = act_infer,
    .bf16_storage = act_bf16_storage,
    .forward = act_forward,
    .backward = act_backward,
    .onnx = act_onnx,
};
