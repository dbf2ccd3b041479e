/* reshape.c: layers that only move values: flatten and global average pooling. */
#include "export/onnx_graph.h"
#include "layer.h"

static cnn_status flatten_infer(const cnn_layer_desc *d, const cnn_shape *ins, int n_in,
                                cnn_shape *out, size_t *params, size_t *state, cnn_error *err)
{
    cnn_shape in = ins[0];
    *out = (cnn_shape){1, 1, in.h * in.w * in.c};
    *params = *state = 0;
    return CNN_STATUS_OK;
}

static void flatten_forward(cnn_plan_layer *pl)
{
    cnn_shape s = pl->ml->in;
    if (pl->backend == CNN_BACKEND_FAST)
        cnn_fast_flatten_forward(pl->n, s.h, s.w, s.c, pl->x, pl->y);
    else
        cnn_ref_flatten_forward(pl->n, s.h, s.w, s.c, pl->x, pl->y);
}

static void flatten_backward(cnn_plan_layer *pl)
{
    if (!pl->dx)
        return;
    cnn_shape s = pl->ml->in;
    if (pl->backend == CNN_BACKEND_FAST)
        cnn_fast_flatten_backward(pl->n, s.h, s.w, s.c, pl->dy, pl->dx);
    else
        cnn_ref_flatten_backward(pl->n, s.h, s.w, s.c, pl->dy, pl->dx);
}

static const cnn_layer_word flatten_words[] = {
    {"flatten", CNN_LAYER_ARG_NONE, NULL, 0, 0, 0, 0, cnn_layer_keys_from, 0, CNN_ACT_NONE, "flatten"},
    {NULL},
};

/* (C, H, W) order: what ONNX's Flatten of NCHW gives */
static cnn_status flatten_onnx(cnn_onnx_graph *g, const cnn_model_layer *l, const float *params,
                               const float *state, const cnn_onnx_value *in, int n_in,
                               cnn_onnx_value *out, cnn_error *err)
{
    *out = (cnn_onnx_value){cnn_onnx_as_vector(g, in[0]), 2, l->out.c};
    return CNN_STATUS_OK;
}

/* GlobalAveragePool or GlobalMaxPool, then (N, C) */
static cnn_status global_pool_onnx(cnn_onnx_graph *g, const cnn_model_layer *l,
                                   const float *params, const float *state,
                                   const cnn_onnx_value *in, int n_in, cnn_onnx_value *out,
                                   cnn_error *err)
{
    const char *op = l->desc.kind == CNN_LAYER_GAP ? "GlobalAveragePool" : "GlobalMaxPool";
    cnn_onnx_value v = {cnn_onnx_op1(g, op, cnn_onnx_as_map(g, in[0])), 4, l->out.c};
    *out = (cnn_onnx_value){cnn_onnx_as_vector(g, v), 2, l->out.c};
    return CNN_STATUS_OK;
}

const cnn_layer_class cnn_layer_flatten = {
    .name = "flatten",
    .words = flatten_words,
    .infer = flatten_infer,
    .forward = flatten_forward,
    .backward = flatten_backward,
    .onnx = flatten_onnx,
};

static cnn_status gap_infer(const cnn_layer_desc *d, const cnn_shape *ins, int n_in,
                            cnn_shape *out, size_t *params, size_t *state, cnn_error *err)
{
    cnn_shape in = ins[0];
    *out = (cnn_shape){1, 1, in.c};
    *params = *state = 0;
    return CNN_STATUS_OK;
}

static void gap_forward(cnn_plan_layer *pl)
{
    cnn_shape s = pl->ml->in;
    if (pl->backend == CNN_BACKEND_FAST)
        cnn_fast_gap_forward(pl->n, s.h * s.w, s.c, pl->x, pl->y);
    else
        cnn_ref_gap_forward(pl->n, s.h * s.w, s.c, pl->x, pl->y);
}

static void gap_backward(cnn_plan_layer *pl)
{
    if (!pl->dx)
        return;
    cnn_shape s = pl->ml->in;
    if (pl->backend == CNN_BACKEND_FAST)
        cnn_fast_gap_backward(pl->n, s.h * s.w, s.c, pl->dy, pl->dx);
    else
        cnn_ref_gap_backward(pl->n, s.h * s.w, s.c, pl->dy, pl->dx);
}

static const cnn_layer_word gap_words[] = {
    {"gap", CNN_LAYER_ARG_NONE, NULL, 0, 0, 0, 0, cnn_layer_keys_from, 0, CNN_ACT_NONE, "gap"},
    {NULL},
};

const cnn_layer_class cnn_layer_gap = {
    .name = "gap",
    .words = gap_words,
    .infer = gap_infer,
    .forward = gap_forward,
    .backward = gap_backward,
    .onnx = global_pool_onnx,
};

/* Global max pooling; the fast path keeps each output's winning position. */
static cnn_status gmp_plan(cnn_plan_layer *pl, cnn_error *err)
{
    if (pl->backend == CNN_BACKEND_FAST)
        pl->ws_floats = (size_t)pl->n * pl->ml->in.c; /* int32 argmax per (n, c) */
    return CNN_STATUS_OK;
}

static void gmp_forward(cnn_plan_layer *pl)
{
    cnn_shape s = pl->ml->in;
    if (pl->backend == CNN_BACKEND_FAST)
        cnn_fast_gmp_forward(pl->n, s.h * s.w, s.c, pl->x, pl->y, (int32_t *)pl->ws);
    else
        cnn_ref_gmp_forward(pl->n, s.h * s.w, s.c, pl->x, pl->y);
}

static void gmp_backward(cnn_plan_layer *pl)
{
    if (!pl->dx)
        return;
    cnn_shape s = pl->ml->in;
    if (pl->backend == CNN_BACKEND_FAST)
        cnn_fast_gmp_backward(pl->n, s.h * s.w, s.c, (const int32_t *)pl->ws, pl->dy, pl->dx);
    else
        cnn_ref_gmp_backward(pl->n, s.h * s.w, s.c, pl->x, pl->dy, pl->dx);
}

static const cnn_layer_word gmp_words[] = {
    {"gmp", CNN_LAYER_ARG_NONE, NULL, 0, 0, 0, 0, cnn_layer_keys_from, 0, CNN_ACT_NONE, "gmp"},
    {NULL},
};

const cnn_layer_class cnn_layer_gmp = {
    .name = "gmp",
    .words = gmp_words,
    .infer = gap_infer,
    .plan = gmp_plan,
    .forward = gmp_forward,
    .backward = gmp_backward,
    .onnx = global_pool_onnx,
};
