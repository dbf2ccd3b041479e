/* merge.c: layers with several inputs: add (a residual connection: inputs of
 * one shape, summed; the fast path may absorb the ReLU after it, and store
 * the sum as bf16 for bf16 convolutions to read) and concat
 * (along channels; inputs of one height and width, as Inception's branches). */
#include <string.h>

#include "export/onnx_graph.h"
#include "layer.h"

static cnn_status add_infer(const cnn_layer_desc *d, const cnn_shape *ins, int n_in,
                            cnn_shape *out, size_t *params, size_t *state, cnn_error *err)
{
    if (n_in != 2)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "add takes 2 inputs, found %d", n_in);
    if (ins[0].h != ins[1].h || ins[0].w != ins[1].w || ins[0].c != ins[1].c)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                             "add needs inputs of one shape, found %dx%dx%d (from layer %d) and "
                             "%dx%dx%d (from layer %d)", ins[0].h, ins[0].w, ins[0].c,
                             d->from[0] + 1, ins[1].h, ins[1].w, ins[1].c, d->from[1] + 1);
    *out = ins[0];
    *params = *state = 0;
    return CNN_STATUS_OK;
}

static size_t count_of(const cnn_plan_layer *pl) { return (size_t)pl->n * cnn_shape_size(pl->ml->out); }

static int add_can_fuse(cnn_act act) { return act == CNN_ACT_RELU; }

static void add_forward(cnn_plan_layer *pl)
{
    if (pl->y_bf16 || pl->y_copy) /* y itself as bf16, or floats and a bf16 copy */
        cnn_fast_add_forward_bf16(count_of(pl), pl->fused == CNN_ACT_RELU, pl->xs[0], pl->xs[1],
                                  pl->y_bf16 ? NULL : pl->y,
                                  (uint16_t *)(void *)(pl->y_bf16 ? pl->y : pl->y_copy));
    else if (pl->backend != CNN_BACKEND_FAST)
        cnn_ref_add_forward(count_of(pl), pl->xs[0], pl->xs[1], pl->y);
    else if (pl->fused == CNN_ACT_RELU)
        cnn_fast_add_relu_forward(count_of(pl), pl->xs[0], pl->xs[1], pl->y);
    else
        cnn_fast_add_forward(count_of(pl), pl->xs[0], pl->xs[1], pl->y);
}

static void add_backward(cnn_plan_layer *pl)
{
    if (pl->y_bf16 && pl->fused == CNN_ACT_RELU) {
        cnn_fast_add_relu_backward_bf16(count_of(pl), (const uint16_t *)(const void *)pl->y,
                                        pl->dy, pl->dxs);
    } else if (pl->backend == CNN_BACKEND_FAST && pl->fused == CNN_ACT_RELU) {
        cnn_fast_add_relu_backward(count_of(pl), pl->y, pl->dy, pl->dxs);
    } else if (pl->backend == CNN_BACKEND_FAST) {
        cnn_fast_add_backward(count_of(pl), pl->dy, pl->dxs);
    } else {
        for (int i = 0; i < 2; i++)
            if (pl->dxs[i] && pl->dxs[i] != pl->dy)
                memcpy(pl->dxs[i], pl->dy, count_of(pl) * sizeof(float));
    }
}

/* The fast add writes y as bf16 where every reader reads it so (plan.c's
 * choice: convolutions on bf16, which round it so anyway; it then writes its
 * own buffer, not over an input's), or in training a bf16 copy beside the
 * float y for such readers where others read floats. */
static int add_bf16_storage(const cnn_plan_layer *pl)
{
    if (pl->backend != CNN_BACKEND_FAST ||
        (pl->fused != CNN_ACT_NONE && pl->fused != CNN_ACT_RELU))
        return 0;
    return CNN_FAST_Y_BF16 | (pl->training ? CNN_FAST_Y_COPY : 0);
}

static const cnn_layer_word add_words[] = {
    {"add", CNN_LAYER_ARG_LABELS, NULL, 0, 0, 2, 2, NULL, 0, CNN_ACT_NONE, "add A, B"},
    {NULL},
};

/* Inputs of one rank: all as they are, or all as maps when they differ */
static int same_rank(cnn_onnx_graph *g, const cnn_onnx_value *in, int n_in, const char **names)
{
    int rank = in[0].rank;
    for (int i = 1; i < n_in; i++)
        if (in[i].rank != rank)
            rank = 4;
    for (int i = 0; i < n_in; i++)
        names[i] = rank == 4 ? cnn_onnx_as_map(g, in[i]) : in[i].name;
    return rank;
}

static cnn_status add_onnx(cnn_onnx_graph *g, const cnn_model_layer *l, const float *params,
                           const float *state, const cnn_onnx_value *in, int n_in,
                           cnn_onnx_value *out, cnn_error *err)
{
    const char *x[CNN_MAX_INPUTS];
    int rank = same_rank(g, in, n_in, x);
    *out = (cnn_onnx_value){cnn_onnx_node(g, n_in == 2 ? "Add" : "Sum", x, n_in, NULL, 0), rank, l->out.c};
    return CNN_STATUS_OK;
}

/* along the channels: axis 1 of (N, C, H, W) and of (N, F) alike */
static cnn_status concat_onnx(cnn_onnx_graph *g, const cnn_model_layer *l, const float *params,
                              const float *state, const cnn_onnx_value *in, int n_in,
                              cnn_onnx_value *out, cnn_error *err)
{
    const char *x[CNN_MAX_INPUTS];
    int rank = same_rank(g, in, n_in, x);
    *out = (cnn_onnx_value){cnn_onnx_node(g, "Concat", x, n_in, &CNN_ONNX_INT("axis", 1), 1), rank, l->out.c};
    return CNN_STATUS_OK;
}

const cnn_layer_class cnn_layer_add = {
    .name = "add",
    .words = add_words,
    .infer = add_infer,
    .can_fuse = add_can_fuse,
    .forward = add_forward,
    .backward = add_backward,
    .bf16_storage = add_bf16_storage,
    .onnx = add_onnx,
};

static cnn_status concat_infer(const cnn_layer_desc *d, const cnn_shape *ins, int n_in,
                               cnn_shape *out, size_t *params, size_t *state, cnn_error *err)
{
    if (n_in < 2)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                             "concat takes 2 to %d inputs, found %d", CNN_MAX_INPUTS, n_in);
    int c = 0;
    for (int i = 0; i < n_in; i++) {
        if (ins[i].h != ins[0].h || ins[i].w != ins[0].w)
            return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                                 "concat needs inputs of one height and width, found %dx%dx%d "
                                 "(from layer %d) and %dx%dx%d (from layer %d)", ins[0].h,
                                 ins[0].w, ins[0].c, d->from[0] + 1, ins[i].h, ins[i].w, ins[i].c,
                                 d->from[i] + 1);
        c += ins[i].c;
    }
    *out = (cnn_shape){ins[0].h, ins[0].w, c};
    *params = *state = 0;
    return CNN_STATUS_OK;
}

static void concat_forward(cnn_plan_layer *pl)
{
    int c[CNN_MAX_INPUTS];
    for (int i = 0; i < pl->n_in; i++)
        c[i] = pl->ml->ins[i].c;
    int hw = pl->ml->out.h * pl->ml->out.w;
    if (pl->backend == CNN_BACKEND_FAST)
        cnn_fast_concat_forward(pl->n, hw, pl->n_in, c, pl->xs, pl->y);
    else
        cnn_ref_concat_forward(pl->n, hw, pl->n_in, c, pl->xs, pl->y);
}

static void concat_backward(cnn_plan_layer *pl)
{
    int c[CNN_MAX_INPUTS];
    for (int i = 0; i < pl->n_in; i++)
        c[i] = pl->ml->ins[i].c;
    int hw = pl->ml->out.h * pl->ml->out.w;
    if (pl->backend == CNN_BACKEND_FAST)
        cnn_fast_concat_backward(pl->n, hw, pl->n_in, c, pl->dy, pl->dxs);
    else
        cnn_ref_concat_backward(pl->n, hw, pl->n_in, c, pl->dy, pl->dxs);
}

static const cnn_layer_word concat_words[] = {
    {"concat", CNN_LAYER_ARG_LABELS, NULL, 0, 0, 2, CNN_MAX_INPUTS, NULL, 0, CNN_ACT_NONE,
     "concat A, B[, C, D]"},
    {NULL},
};

const cnn_layer_class cnn_layer_concat = {
    .name = "concat",
    .words = concat_words,
    .infer = concat_infer,
    .forward = concat_forward,
    .backward = concat_backward,
    .onnx = concat_onnx,
};
