/* scale.c: y = s * x with a fixed factor s (the model file's `scale F`), as
 * airbench's Scale module after its last linear layer; dx = s * dy. No
 * parameters. The op is one multiply, so both backends run the same loop
 * (it is its own reference); tests/test_plan.c checks it inside networks. */
#include <stdio.h>

#include "export/onnx_graph.h"
#include "layer.h"

static cnn_status scale_infer(const cnn_layer_desc *d, const cnn_shape *ins, int n_in,
                              cnn_shape *out, size_t *params, size_t *state, cnn_error *err)
{
    *out = ins[0];
    *params = *state = 0;
    return CNN_STATUS_OK;
}

/* x (count) -> y (count) */
static void scale_run(float s, const float *x, float *y, size_t count)
{
#pragma omp parallel for simd schedule(static) if (count >= 65536)
    for (size_t i = 0; i < count; i++)
        y[i] = s * x[i];
}

static void scale_forward(cnn_plan_layer *pl)
{
    scale_run(pl->ml->desc.scale, pl->x, pl->y, (size_t)pl->n * cnn_shape_size(pl->ml->out));
}

static void scale_backward(cnn_plan_layer *pl)
{
    if (pl->dx)
        scale_run(pl->ml->desc.scale, pl->dy, pl->dx, (size_t)pl->n * cnn_shape_size(pl->ml->out));
}

/* ---- the model-file word ---- */

static const cnn_layer_word scale_words[] = {
    {"scale", CNN_LAYER_ARG_NUMBER, NULL, -1e6, 1e6, 0, 0, cnn_layer_keys_from, 0, CNN_ACT_NONE,
     "scale F"},
    {NULL},
};

static cnn_status scale_build(const cnn_layer_args *a, cnn_layer_desc *d, cnn_error *err)
{
    d->scale = a->pos[0].f;
    return CNN_STATUS_OK;
}

static void scale_describe(const cnn_layer_desc *d, char *buf, size_t size)
{
    snprintf(buf, size, "scale %g", (double)d->scale);
}

static cnn_status scale_onnx(cnn_onnx_graph *g, const cnn_model_layer *l, const float *params,
                             const float *state, const cnn_onnx_value *in, int n_in,
                             cnn_onnx_value *out, cnn_error *err)
{
    const char *s = cnn_onnx_scalar(g, "scale", l->desc.scale);
    *out = (cnn_onnx_value){cnn_onnx_op2(g, "Mul", in[0].name, s), in[0].rank, l->out.c};
    return CNN_STATUS_OK;
}

const cnn_layer_class cnn_layer_scale = {
    .name = "scale",
    .words = scale_words,
    .build = scale_build,
    .describe = scale_describe,
    .infer = scale_infer,
    .forward = scale_forward,
    .backward = scale_backward,
    .onnx = scale_onnx,
};
