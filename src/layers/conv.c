/* conv.c: 2-D convolution layer, grouped (groups=G: PyTorch's groups; G = IC =
 * OC is depthwise) or not. Parameters: weight (OC,IC/G,K,K), then bias (OC)
 * when the layer has one. The fast path runs oneDNN and may absorb a ReLU.
 * With DropConnect (p > 0) the workspace holds the step's masked weights; in a
 * fast inference plan with a batch norm folded in (folded_bn), it holds the
 * folded weights (OC,IC,K,K) and bias (OC), remade by every forward from the
 * current parameters and running estimates. */
#include <string.h>

#include "export/onnx_graph.h"
#include "layer.h"

static cnn_conv_geom geom_of(const cnn_model_layer *l, int n)
{
    cnn_conv_geom g = {.n = n, .ih = l->in.h, .iw = l->in.w, .ic = l->in.c,
                       .oc = l->desc.out, .kh = l->desc.k, .kw = l->desc.k,
                       .sh = l->desc.stride, .sw = l->desc.stride,
                       .ph = l->desc.pad, .pw = l->desc.pad, .groups = l->desc.groups};
    cnn_conv_geom_finish(&g);
    return g;
}

static int groups_of(const cnn_layer_desc *d) { return d->groups > 1 ? d->groups : 1; }

static size_t wcount_of(const cnn_model_layer *l)
{
    return (size_t)l->desc.out * (l->in.c / groups_of(&l->desc)) * l->desc.k * l->desc.k;
}

static cnn_status conv_infer(const cnn_layer_desc *d, const cnn_shape *ins, int n_in,
                             cnn_shape *out, size_t *params, size_t *state, cnn_error *err)
{
    cnn_shape in = ins[0];
    if (d->out < 1 || d->k < 1 || d->stride < 1 || d->pad < 0)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                             "conv needs out >= 1, k >= 1, stride >= 1, pad >= 0; found out %d, "
                             "k %d, stride %d, pad %d", d->out, d->k, d->stride, d->pad);
    int groups = groups_of(d);
    if (in.c % groups || d->out % groups)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                             "conv groups=%d: expected a divisor of the %d input and %d output "
                             "channels, found none", groups, in.c, d->out);
    if (groups > 1 && d->init != CNN_LAYER_INIT_DEFAULT)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                             "conv groups=%d: expected no init= (dirac and whiten are for "
                             "ungrouped convolutions), found init=%s", groups,
                             d->init == CNN_LAYER_INIT_DIRAC ? "dirac" : "whiten");
    cnn_conv_geom g = {.n = 1, .ih = in.h, .iw = in.w, .ic = in.c, .oc = d->out, .kh = d->k,
                       .kw = d->k, .sh = d->stride, .sw = d->stride, .ph = d->pad, .pw = d->pad,
                       .groups = groups};
    if (!cnn_conv_geom_finish(&g))
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                             "a %dx%d kernel with padding %d does not fit the %dx%d input",
                             d->k, d->k, d->pad, in.h, in.w);
    *out = (cnn_shape){g.oh, g.ow, d->out};
    *params = (size_t)d->out * (in.c / groups) * d->k * d->k + (d->bias ? (size_t)d->out : 0);
    *state = 0;
    return CNN_STATUS_OK;
}

static void conv_init(const cnn_model_layer *l, cnn_init_kind how, float *params, float *state,
                      cnn_rng *rng)
{
    size_t wcount = wcount_of(l);
    int kk = l->desc.k * l->desc.k;
    /* fan_in and fan_out as PyTorch computes them from the weight's shape */
    cnn_layer_init_weights(how, params, wcount, l->desc.bias ? params + wcount : NULL,
                           (size_t)l->desc.out, l->in.c / groups_of(&l->desc) * kk,
                           l->desc.out * kk, rng);
    if (l->desc.init == CNN_LAYER_INIT_DEFAULT)
        return;
    /* dirac and whiten (whose weights the trainer computes later) start with a
     * zero bias, as airbench's DiracConv */
    if (l->desc.bias)
        memset(params + wcount, 0, (size_t)l->desc.out * sizeof(float));
    if (l->desc.init != CNN_LAYER_INIT_DIRAC)
        return;
    /* torch.nn.init.dirac_ on w[:IC]: output channel o < IC is the identity
     * of input channel o (1 at the kernel's centre (K/2, K/2)) */
    int k = l->desc.k, ic = l->in.c, n = l->desc.out < ic ? l->desc.out : ic;
    memset(params, 0, (size_t)n * ic * kk * sizeof(float));
    for (int o = 0; o < n; o++)
        params[((size_t)o * ic + o) * kk + (k / 2) * k + k / 2] = 1.0f;
}

static int conv_can_fuse(cnn_act act) { return act == CNN_ACT_RELU; }

static float *bias_of(const cnn_plan_layer *pl, float *block)
{
    return pl->ml->desc.bias ? block + wcount_of(pl->ml) : NULL;
}

static cnn_status conv_plan(cnn_plan_layer *pl, cnn_error *err)
{
    if (pl->ml->desc.p > 0.0f && pl->training)
        pl->ws_floats = cnn_dropconnect_ws_floats(wcount_of(pl->ml));
    if (pl->folded_bn)
        pl->ws_floats = wcount_of(pl->ml) + (size_t)pl->ml->desc.out;
    if (pl->backend != CNN_BACKEND_FAST)
        return CNN_STATUS_OK;
    cnn_conv_geom g = geom_of(pl->ml, pl->n);
    int has_bias = pl->ml->desc.bias || pl->folded_bn;
    int bf16 = (pl->precision == CNN_PRECISION_BF16 ? CNN_FAST_BF16 : 0) |
               (pl->may_store ? CNN_FAST_MAY_STORE : 0) | (pl->x_bf16 ? CNN_FAST_X_BF16 : 0) |
               (pl->y_bf16 ? CNN_FAST_Y_BF16 : 0) | (pl->dy_bf16 ? CNN_FAST_DY_BF16 : 0);
    return cnn_fast_conv_create(pl->dnnl, &g, has_bias, pl->fused, pl->training, bf16,
                                pl->conv_algo, (cnn_fast_conv **)&pl->impl, err);
}

/* A kernel on bf16 takes what cnn_fast_conv_storage says (x; y and dy unless
 * a fused ReLU's backward needs them as floats, in training). */
static int conv_bf16_storage(const cnn_plan_layer *pl)
{
    if (!pl->impl || !cnn_fast_conv_runs_bf16(pl->impl))
        return 0;
    return cnn_fast_conv_storage(pl->training, pl->fused);
}

/* The weights of this pass: the parameters, or their DropConnect-masked copy. */
static const float *weights_of(cnn_plan_layer *pl)
{
    return pl->ws_floats ? (pl->training ? cnn_dropconnect_forward(pl, pl->ws, wcount_of(pl->ml))
                                         : pl->w)
                         : pl->w;
}

static void conv_forward(cnn_plan_layer *pl)
{
    if (pl->frozen && pl->prepared) { /* the weights of the first frozen forward */
        cnn_fast_conv_forward(pl->impl, pl->x, NULL, NULL, pl->y);
        return;
    }
    if (pl->frozen && pl->backend == CNN_BACKEND_FAST)
        pl->prepared = 1;
    if (pl->folded_bn) {
        const cnn_plan_layer *bn = pl->folded_bn;
        size_t wcount = wcount_of(pl->ml);
        int oc = pl->ml->desc.out;
        float *wf = pl->ws, *bf = pl->ws + wcount;
        cnn_fast_batchnorm_fold(oc, wcount / (size_t)oc,
                                bn->ml->desc.eps > 0 ? bn->ml->desc.eps : CNN_BN_EPS, pl->w, bias_of(pl, pl->w),
                                bn->w, bn->w + oc, bn->state, bn->state + oc, wf, bf);
        cnn_fast_conv_forward(pl->impl, pl->x, wf, bf, pl->y);
        /* An inference plan's kernel that keeps its own copy needs the folded
         * weights no more (their bias it reads on every call) */
        if (pl->prepared && cnn_fast_conv_keeps_weights(pl->impl))
            cnn_release_pages(wf, wcount * sizeof(float));
        return;
    }
    const float *w = weights_of(pl);
    if (pl->backend == CNN_BACKEND_FAST) {
        cnn_fast_conv_forward(pl->impl, pl->x, w, bias_of(pl, pl->w), pl->y);
    } else {
        cnn_conv_geom g = geom_of(pl->ml, pl->n);
        cnn_ref_conv2d_forward(&g, pl->x, w, bias_of(pl, pl->w), pl->y);
    }
}

static void conv_backward(cnn_plan_layer *pl)
{
    if (pl->backend == CNN_BACKEND_FAST) {
        cnn_fast_conv_backward(pl->impl, pl->x, pl->y, pl->dy, pl->dx, pl->dw, bias_of(pl, pl->dw));
    } else {
        /* the masked weights of the latest forward, when DropConnect is on */
        const float *w = pl->ws_floats && pl->ml->desc.p > 0.0f ? pl->ws : pl->w;
        cnn_conv_geom g = geom_of(pl->ml, pl->n);
        cnn_ref_conv2d_backward(&g, pl->x, w, pl->dy, pl->dx, pl->dw, bias_of(pl, pl->dw));
    }
    if (pl->ws_floats)
        cnn_dropconnect_backward(pl, pl->ws, wcount_of(pl->ml));
}

static void conv_release(cnn_plan_layer *pl) { cnn_fast_conv_destroy(pl->impl); }

static double conv_macs(const cnn_model_layer *l)
{
    return (double)l->out.h * l->out.w * l->out.c * (l->in.c / groups_of(&l->desc)) * l->desc.k *
           l->desc.k;
}

/* ---- the model-file word ---- */

enum { KEY_K, KEY_STRIDE, KEY_PAD, KEY_BIAS, KEY_KNOBS, KEY_FROM, KEY_FREEZE, KEY_INIT, KEY_GROUPS };
enum { KNOB_KERNEL = 1, KNOB_DROPCONNECT = 2 }; /* the bits of knobs= */

static const cnn_layer_key conv_keys[] = {
    [KEY_K] = {"k", CNN_LAYER_KEY_INT, 1, 64, NULL},
    [KEY_STRIDE] = CNN_LAYER_KEY_STRIDE,
    [KEY_PAD] = CNN_LAYER_KEY_PAD,
    [KEY_BIAS] = CNN_LAYER_KEY_BIAS,
    [KEY_KNOBS] = {"knobs", CNN_LAYER_KEY_FLAGS, 0, 0, "kernel,dropconnect"},
    [KEY_FROM] = CNN_LAYER_KEY_FROM,
    [KEY_FREEZE] = CNN_LAYER_KEY_FREEZE,
    [KEY_INIT] = {"init", CNN_LAYER_KEY_CHOICE, 0, 0, "dirac,whiten"},
    [KEY_GROUPS] = {"groups", CNN_LAYER_KEY_INT, 1, 65536, NULL},
    CNN_LAYER_KEY_END,
};

static const cnn_layer_word conv_words[] = {
    {"conv", CNN_LAYER_ARG_INT, "channels", 1, 1 << 20, 0, 0, conv_keys, 0, CNN_ACT_NONE,
     "conv OUT k=K [stride=S] [pad=P|same] [bias=auto|yes|no] [knobs=kernel,dropconnect] "
     "[init=dirac|whiten] [freeze=weight] [groups=G]"},
    {NULL},
};

static cnn_status conv_build(const cnn_layer_args *a, cnn_layer_desc *d, cnn_error *err)
{
    const cnn_layer_value *v = a->keys;
    int knobs = v[KEY_KNOBS].given ? (int)v[KEY_KNOBS].i : 0;
    d->out = (int)a->pos[0].i;
    d->bias = cnn_layer_bias_of(&v[KEY_BIAS]);
    d->stride = v[KEY_STRIDE].given ? (int)v[KEY_STRIDE].i : 1;
    d->k = v[KEY_K].given ? (int)v[KEY_K].i : 0;
    if (!d->k && (knobs & KNOB_KERNEL) && a->defaults->kernel)
        d->k = a->defaults->kernel;
    if (!d->k)
        return cnn_error_set(err, CNN_STATUS_FORMAT, "conv: expected k=K, found no k= (%s)",
                             knobs & KNOB_KERNEL ? "no `defaults kernel=K` either"
                                                 : "knobs=kernel takes it from `defaults kernel=K`");
    d->pad = v[KEY_PAD].is_word ? d->k / 2 : v[KEY_PAD].given ? (int)v[KEY_PAD].i : 0;
    d->freeze_weight = v[KEY_FREEZE].given;
    d->groups = v[KEY_GROUPS].given ? (int)v[KEY_GROUPS].i : 0;
    if (v[KEY_INIT].given)
        d->init = v[KEY_INIT].i == 0 ? CNN_LAYER_INIT_DIRAC : CNN_LAYER_INIT_WHITEN;
    d->slots |= (knobs & KNOB_KERNEL ? CNN_SLOT_KERNEL : 0) |
                (knobs & KNOB_DROPCONNECT ? CNN_SLOT_DROPCONNECT : 0);
    return CNN_STATUS_OK;
}

/* "conv 3x3 /2 pad 1 groups 32 dropconnect 0.1" */
static void conv_describe(const cnn_layer_desc *d, char *buf, size_t size)
{
    size_t u = 0;
    cnn_layer_text_add(buf, size, &u, "conv %dx%d", d->k, d->k);
    if (d->stride > 1)
        cnn_layer_text_add(buf, size, &u, " /%d", d->stride);
    if (d->pad)
        cnn_layer_text_add(buf, size, &u, " pad %d", d->pad);
    if (d->groups > 1)
        cnn_layer_text_add(buf, size, &u, " groups %d", d->groups);
    if (d->p > 0)
        cnn_layer_text_add(buf, size, &u, " dropconnect %g", (double)d->p);
}

/* PyTorch's Conv2d: weight (OC, IC/G, K, K), bias (OC) */
static int conv_tensors(const cnn_model_layer *l, cnn_layer_tensor *t)
{
    const cnn_layer_desc *d = &l->desc;
    t[0] = (cnn_layer_tensor){"weight", CNN_LAYER_TENSOR_PARAM, 0, 4,
                              {d->out, l->in.c / groups_of(d), d->k, d->k}, 0};
    if (!d->bias)
        return 1;
    t[1] = (cnn_layer_tensor){"bias", CNN_LAYER_TENSOR_PARAM, wcount_of(l), 1, {d->out}, 0};
    return 2;
}

static cnn_status conv_onnx(cnn_onnx_graph *g, const cnn_model_layer *l, const float *params,
                            const float *state, const cnn_onnx_value *in, int n_in,
                            cnn_onnx_value *out, cnn_error *err)
{
    const cnn_layer_desc *d = &l->desc;
    cnn_layer_tensor t[2];
    int n = conv_tensors(l, t);
    const char *x[3] = {cnn_onnx_as_map(g, in[0]), cnn_onnx_const(g, "weight", params, 4, t[0].dims)};
    if (n == 2)
        x[2] = cnn_onnx_const(g, "bias", params + t[1].offset, 1, t[1].dims);
    int64_t k[2] = {d->k, d->k}, s[2] = {d->stride, d->stride};
    int64_t p[4] = {d->pad, d->pad, d->pad, d->pad};
    cnn_onnx_attr a[4] = {CNN_ONNX_INTS("kernel_shape", k, 2), CNN_ONNX_INTS("strides", s, 2),
                          CNN_ONNX_INTS("pads", p, 4), CNN_ONNX_INT("group", groups_of(d))};
    *out = (cnn_onnx_value){cnn_onnx_node(g, "Conv", x, n + 1, a, 4), 4, l->out.c};
    return CNN_STATUS_OK;
}

const cnn_layer_class cnn_layer_conv = {
    .name = "conv",
    .words = conv_words,
    .weighted = 1,
    .build = conv_build,
    .describe = conv_describe,
    .infer = conv_infer,
    .init = conv_init,
    .can_fuse = conv_can_fuse,
    .plan = conv_plan,
    .bf16_storage = conv_bf16_storage,
    .forward = conv_forward,
    .backward = conv_backward,
    .release = conv_release,
    .macs = conv_macs,
    .tensors = conv_tensors,
    .onnx = conv_onnx,
};
