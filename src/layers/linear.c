/* linear.c: fully connected layer. Parameters: weight (OUT,IN), then bias (OUT).
 * Takes any input shape as IN = H*W*C features (in the input's memory order;
 * use flatten before it for PyTorch's order). The fast path may absorb any
 * activation.
 *
 * The fast fp32 path is sgemm (ops/fast/linear.c). A bf16 plan runs the layer
 * as what it is in NHWC, a 1x1 convolution of a 1x1 map (x (N,1,1,IN), w
 * (OUT,IN,1,1) in the same memory as (OUT,IN)), on the fast convolution: bf16
 * x, w and dy with fp32 accumulation there, and under --conv auto the same
 * timed choice against fp32 (direct, or the dense sgemm) as any convolution. */
#include "export/onnx_graph.h"
#include "layer.h"

static size_t wcount_of(const cnn_model_layer *l) { return (size_t)l->desc.out * l->in.c; }

static cnn_status linear_infer(const cnn_layer_desc *d, const cnn_shape *ins, int n_in,
                               cnn_shape *out, size_t *params, size_t *state, cnn_error *err)
{
    cnn_shape in = ins[0];
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

static void linear_init(const cnn_model_layer *l, cnn_init_kind how, float *params, float *state,
                        cnn_rng *rng)
{
    size_t wcount = wcount_of(l);
    cnn_layer_init_weights(how, params, wcount, l->desc.bias ? params + wcount : NULL,
                           (size_t)l->desc.out, l->in.c, l->desc.out, rng);
}

/* The activation the bf16 convolution applies itself (it fuses ReLU only);
 * any other fused activation is applied around it. */
static cnn_act conv_act(const cnn_plan_layer *pl)
{
    return pl->fused == CNN_ACT_RELU ? CNN_ACT_RELU : CNN_ACT_NONE;
}

static cnn_status linear_plan(cnn_plan_layer *pl, cnn_error *err)
{
    if (pl->ml->desc.p > 0.0f && pl->training)
        pl->ws_floats = cnn_dropconnect_ws_floats(wcount_of(pl->ml));
    if (pl->backend != CNN_BACKEND_FAST || pl->precision != CNN_PRECISION_BF16)
        return CNN_STATUS_OK;
    cnn_conv_geom g = {.n = pl->n, .ih = 1, .iw = 1, .ic = pl->ml->in.c, .oc = pl->ml->desc.out,
                       .kh = 1, .kw = 1, .sh = 1, .sw = 1};
    CNN_ASSERT(cnn_conv_geom_finish(&g));
    return cnn_fast_conv_create(pl->dnnl, &g, pl->ml->desc.bias, conv_act(pl), pl->training, 1,
                                pl->conv_algo, (cnn_fast_conv **)&pl->impl, err);
}

static int linear_can_fuse(cnn_act act) { return act != CNN_ACT_NONE && !cnn_act_backward_needs_x(act); }

static float *bias_of(const cnn_plan_layer *pl, float *block)
{
    const cnn_model_layer *l = pl->ml;
    return l->desc.bias ? block + (size_t)l->desc.out * l->in.c : NULL;
}

/* The weights of the latest forward: the parameters or their DropConnect-masked copy. */
static const float *weights_in_use(const cnn_plan_layer *pl)
{
    return pl->ws_floats && pl->training && pl->ml->desc.p > 0.0f ? pl->ws : pl->w;
}

static void linear_forward(cnn_plan_layer *pl)
{
    int in = pl->ml->in.c, out = pl->ml->desc.out;
    const float *w = pl->ws_floats && pl->training ? cnn_dropconnect_forward(pl, pl->ws, wcount_of(pl->ml))
                                                   : pl->w;
    if (pl->impl) {
        cnn_fast_conv_forward(pl->impl, pl->x, w, bias_of(pl, pl->w), pl->y);
        if (pl->fused != conv_act(pl))
            cnn_fast_act_forward(pl->fused, (size_t)pl->n * out, pl->y, pl->y);
    } else if (pl->backend == CNN_BACKEND_FAST)
        cnn_fast_linear_forward(pl->n, in, out, pl->x, w, bias_of(pl, pl->w), pl->fused, pl->y);
    else
        cnn_ref_linear_forward(pl->n, in, out, pl->x, w, bias_of(pl, pl->w), pl->y);
}

static void linear_backward(cnn_plan_layer *pl)
{
    int in = pl->ml->in.c, out = pl->ml->desc.out;
    const float *w = weights_in_use(pl);
    if (pl->impl) { /* the weights of the latest forward, kept by the convolution */
        if (pl->fused != conv_act(pl))
            cnn_fast_act_backward(pl->fused, (size_t)pl->n * out, NULL, pl->y, pl->dy, pl->dy);
        cnn_fast_conv_backward(pl->impl, pl->x, pl->y, pl->dy, pl->dx, pl->dw,
                               bias_of(pl, pl->dw));
    } else if (pl->backend == CNN_BACKEND_FAST)
        cnn_fast_linear_backward(pl->n, in, out, pl->x, w, pl->y, pl->fused, pl->dy, pl->dx,
                                 pl->dw, bias_of(pl, pl->dw));
    else
        cnn_ref_linear_backward(pl->n, in, out, pl->x, w, pl->dy, pl->dx, pl->dw,
                                bias_of(pl, pl->dw));
    if (pl->ws_floats)
        cnn_dropconnect_backward(pl, pl->ws, wcount_of(pl->ml));
}

static void linear_release(cnn_plan_layer *pl) { cnn_fast_conv_destroy(pl->impl); }

static double linear_macs(const cnn_model_layer *l) { return (double)l->in.c * l->desc.out; }

/* ---- the model-file word ---- */

enum { KEY_BIAS, KEY_KNOBS, KEY_FROM, KEY_FREEZE };

static const cnn_layer_key linear_keys[] = {
    [KEY_BIAS] = CNN_LAYER_KEY_BIAS,
    [KEY_KNOBS] = {"knobs", CNN_LAYER_KEY_FLAGS, 0, 0, "dropconnect"},
    [KEY_FROM] = CNN_LAYER_KEY_FROM,
    [KEY_FREEZE] = CNN_LAYER_KEY_FREEZE,
    CNN_LAYER_KEY_END,
};

static const cnn_layer_word linear_words[] = {
    {"linear", CNN_LAYER_ARG_INT, "features", 1, 1 << 20, 0, 0, linear_keys, 0, CNN_ACT_NONE,
     "linear OUT [bias=auto|yes|no] [knobs=dropconnect|none] [freeze=weight]"},
    {NULL},
};

static cnn_status linear_build(const cnn_layer_args *a, cnn_layer_desc *d, cnn_error *err)
{
    const cnn_layer_value *v = a->keys;
    d->out = (int)a->pos[0].i;
    d->bias = cnn_layer_bias_of(&v[KEY_BIAS]);
    d->freeze_weight = v[KEY_FREEZE].given;
    /* DropConnect reaches a linear layer unless knobs= says otherwise */
    if (!v[KEY_KNOBS].given || v[KEY_KNOBS].i)
        d->slots |= CNN_SLOT_DROPCONNECT;
    return CNN_STATUS_OK;
}

static void linear_describe(const cnn_layer_desc *d, char *buf, size_t size)
{
    size_t u = 0;
    cnn_layer_text_add(buf, size, &u, "linear");
    if (d->p > 0)
        cnn_layer_text_add(buf, size, &u, " dropconnect %g", (double)d->p);
}

/* PyTorch's Linear: weight (OUT, IN), bias (OUT) */
static int linear_tensors(const cnn_model_layer *l, cnn_layer_tensor *t)
{
    t[0] = (cnn_layer_tensor){"weight", CNN_LAYER_TENSOR_PARAM, 0, 2, {l->desc.out, l->in.c}, 0};
    if (!l->desc.bias)
        return 1;
    t[1] = (cnn_layer_tensor){"bias", CNN_LAYER_TENSOR_PARAM, wcount_of(l), 1, {l->desc.out}, 0};
    return 2;
}

/* Gemm(x, W^T) + b on the (N, IN) input */
static cnn_status linear_onnx(cnn_onnx_graph *g, const cnn_model_layer *l, const float *params,
                              const float *state, const cnn_onnx_value *in, int n_in,
                              cnn_onnx_value *out, cnn_error *err)
{
    cnn_layer_tensor t[2];
    int n = linear_tensors(l, t);
    const char *x[3] = {cnn_onnx_as_vector(g, in[0]), cnn_onnx_const(g, "weight", params, 2, t[0].dims)};
    if (n == 2)
        x[2] = cnn_onnx_const(g, "bias", params + t[1].offset, 1, t[1].dims);
    cnn_onnx_attr a = CNN_ONNX_INT("transB", 1);
    *out = (cnn_onnx_value){cnn_onnx_node(g, "Gemm", x, n + 1, &a, 1), 2, l->out.c};
    return CNN_STATUS_OK;
}

const cnn_layer_class cnn_layer_linear = {
    .name = "linear",
    .words = linear_words,
    .weighted = 1,
    .build = linear_build,
    .describe = linear_describe,
    .infer = linear_infer,
    .init = linear_init,
    .can_fuse = linear_can_fuse,
    .plan = linear_plan,
    .forward = linear_forward,
    .backward = linear_backward,
    .release = linear_release,
    .macs = linear_macs,
    .tensors = linear_tensors,
    .onnx = linear_onnx,
};
