/* gate.c: the channel-wise gate of squeeze-and-excitation. Two inputs: a
 * feature map (H,W,C) and per-channel logits (1,1,C) that a small branch made
 * from it; the output is the map times the logits' sigmoid, per sample and
 * channel (ops/gate.h has the formulas). In a model file:
 *
 *   gate MAP[, LOGITS]      LOGITS defaults to the layer before
 *
 * so a squeeze-and-excitation block reads
 *
 *   block se c r=4
 *       gap
 *       linear $c/$r
 *       relu
 *       linear $c
 *       gate in
 *   end
 *
 * No parameters; the fast path keeps the gates of a batch in its workspace. */
#include "export/onnx_graph.h"
#include "layer.h"
#include "ops/gate.h"

static cnn_status gate_infer(const cnn_layer_desc *d, const cnn_shape *ins, int n_in,
                             cnn_shape *out, size_t *params, size_t *state, cnn_error *err)
{
    if (n_in != 2)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "gate takes 2 inputs, found %d",
                             n_in);
    if (ins[1].h * ins[1].w != 1 || ins[1].c != ins[0].c)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                             "gate needs per-channel logits 1x1x%d for the %dx%dx%d map (from "
                             "layer %d), found %dx%dx%d (from layer %d)", ins[0].c, ins[0].h,
                             ins[0].w, ins[0].c, d->from[0] + 1, ins[1].h, ins[1].w, ins[1].c,
                             d->from[1] + 1);
    *out = ins[0];
    *params = *state = 0;
    return CNN_STATUS_OK;
}

static cnn_status gate_plan(cnn_plan_layer *pl, cnn_error *err)
{
    if (pl->backend == CNN_BACKEND_FAST)
        pl->ws_floats = (size_t)pl->n * pl->ml->out.c; /* the gates (N, C) */
    return CNN_STATUS_OK;
}

static void gate_forward(cnn_plan_layer *pl)
{
    cnn_shape s = pl->ml->out;
    if (pl->backend == CNN_BACKEND_FAST)
        cnn_fast_gate_forward(pl->n, s.h * s.w, s.c, pl->xs[0], pl->xs[1], pl->ws, pl->y);
    else
        cnn_ref_gate_forward(pl->n, s.h * s.w, s.c, pl->xs[0], pl->xs[1], pl->y);
}

static void gate_backward(cnn_plan_layer *pl)
{
    cnn_shape s = pl->ml->out;
    if (pl->backend == CNN_BACKEND_FAST)
        cnn_fast_gate_backward(pl->n, s.h * s.w, s.c, pl->xs[0], pl->xs[1], pl->dy, pl->ws,
                               pl->dxs[0], pl->dxs[1]);
    else
        cnn_ref_gate_backward(pl->n, s.h * s.w, s.c, pl->xs[0], pl->xs[1], pl->dy, pl->dxs[0],
                              pl->dxs[1]);
}

/* ---- the model-file word ---- */

static const cnn_layer_word gate_words[] = {
    {"gate", CNN_LAYER_ARG_LABELS, NULL, 0, 0, 1, 2, NULL, 0, CNN_ACT_NONE, "gate MAP[, LOGITS]"},
    {NULL},
};

/* gate MAP: the logits are the layer before */
static cnn_status gate_build(const cnn_layer_args *a, cnn_layer_desc *d, cnn_error *err)
{
    if (d->from_count == 1)
        d->from[d->from_count++] = a->cursor;
    return CNN_STATUS_OK;
}

/* map * sigmoid(logits), the logits as (N, C, 1, 1) */
static cnn_status gate_onnx(cnn_onnx_graph *g, const cnn_model_layer *l, const float *params,
                            const float *state, const cnn_onnx_value *in, int n_in,
                            cnn_onnx_value *out, cnn_error *err)
{
    cnn_onnx_value logits = {cnn_onnx_op1(g, "Sigmoid", in[1].name), in[1].rank, in[1].c};
    const char *y = cnn_onnx_op2(g, "Mul", cnn_onnx_as_map(g, in[0]), cnn_onnx_as_map(g, logits));
    *out = (cnn_onnx_value){y, 4, l->out.c};
    return CNN_STATUS_OK;
}

const cnn_layer_class cnn_layer_gate = {
    .name = "gate",
    .words = gate_words,
    .build = gate_build,
    .infer = gate_infer,
    .plan = gate_plan,
    .forward = gate_forward,
    .backward = gate_backward,
    .onnx = gate_onnx,
};
