/* pool.c: max and average pooling layers over square windows (floor mode). */
#include "export/onnx_graph.h"
#include "layer.h"

static cnn_pool_geom geom_of(const cnn_plan_layer *pl)
{
    const cnn_model_layer *l = pl->ml;
    cnn_pool_geom g = {.n = pl->n, .ih = l->in.h, .iw = l->in.w, .c = l->in.c, .kh = l->desc.k,
                       .kw = l->desc.k, .sh = l->desc.stride, .sw = l->desc.stride,
                       .ph = l->desc.pad, .pw = l->desc.pad, .x_bf16 = pl->x_bf16,
                       .y_bf16 = pl->y_bf16, .dx_bf16 = pl->dx_bf16};
    cnn_pool_geom_finish(&g);
    return g;
}

static cnn_status pool_infer(const cnn_layer_desc *d, const cnn_shape *ins, int n_in,
                             cnn_shape *out, size_t *params, size_t *state, cnn_error *err)
{
    cnn_shape in = ins[0];
    cnn_pool_geom g = {.n = 1, .ih = in.h, .iw = in.w, .c = in.c, .kh = d->k, .kw = d->k,
                       .sh = d->stride, .sw = d->stride, .ph = d->pad, .pw = d->pad};
    if (!cnn_pool_geom_finish(&g))
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                             "a %dx%d pooling window with stride %d, padding %d (at most half the "
                             "window) does not fit the %dx%d input",
                             d->k, d->k, d->stride, d->pad, in.h, in.w);
    if (d->k * d->k > 256)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                             "pooling windows hold at most 256 elements, found %dx%d", d->k, d->k);
    *out = (cnn_shape){g.oh, g.ow, in.c};
    *params = *state = 0;
    return CNN_STATUS_OK;
}

static cnn_status maxpool_plan(cnn_plan_layer *pl, cnn_error *err)
{
    /* fast path: one byte per output for the winning window position */
    if (pl->backend == CNN_BACKEND_FAST)
        pl->ws_floats = ((size_t)pl->n * cnn_shape_size(pl->ml->out) + 3) / 4;
    return CNN_STATUS_OK;
}

/* The fast 2x2 windows with stride 2 read and write bf16, dx too
 * (fast/pool.c). */
static int maxpool_bf16_storage(const cnn_plan_layer *pl)
{
    cnn_pool_geom g = geom_of(pl);
    int tiling = g.kh == 2 && g.kw == 2 && g.sh == 2 && g.sw == 2 && g.ph == 0 && g.pw == 0;
    return pl->backend == CNN_BACKEND_FAST && tiling
               ? CNN_FAST_X_BF16 | CNN_FAST_Y_BF16 | CNN_FAST_DX_BF16
               : 0;
}

static void maxpool_forward(cnn_plan_layer *pl)
{
    cnn_pool_geom g = geom_of(pl);
    if (pl->backend == CNN_BACKEND_FAST)
        cnn_fast_maxpool_forward(&g, pl->x, pl->y, (uint8_t *)pl->ws);
    else
        cnn_ref_maxpool_forward(&g, pl->x, pl->y);
}

static void maxpool_backward(cnn_plan_layer *pl)
{
    if (!pl->dx)
        return;
    cnn_pool_geom g = geom_of(pl);
    if (pl->backend == CNN_BACKEND_FAST)
        cnn_fast_maxpool_backward(&g, (const uint8_t *)pl->ws, pl->dy, pl->dx);
    else
        cnn_ref_maxpool_backward(&g, pl->x, pl->dy, pl->dx);
}

static void avgpool_forward(cnn_plan_layer *pl)
{
    cnn_pool_geom g = geom_of(pl);
    if (pl->backend == CNN_BACKEND_FAST)
        cnn_fast_avgpool_forward(&g, pl->x, pl->y);
    else
        cnn_ref_avgpool_forward(&g, pl->x, pl->y);
}

static void avgpool_backward(cnn_plan_layer *pl)
{
    if (!pl->dx)
        return;
    cnn_pool_geom g = geom_of(pl);
    if (pl->backend == CNN_BACKEND_FAST)
        cnn_fast_avgpool_backward(&g, pl->dy, pl->dx);
    else
        cnn_ref_avgpool_backward(&g, pl->dy, pl->dx);
}

/* ---- the model-file words ---- */

enum { KEY_STRIDE, KEY_PAD, KEY_FROM };

static const cnn_layer_key pool_keys[] = {
    [KEY_STRIDE] = CNN_LAYER_KEY_STRIDE,
    [KEY_PAD] = CNN_LAYER_KEY_PAD,
    [KEY_FROM] = CNN_LAYER_KEY_FROM,
    CNN_LAYER_KEY_END,
};

static const cnn_layer_word maxpool_words[] = {
    {"maxpool", CNN_LAYER_ARG_INT, "window", 1, 64, 0, 0, pool_keys, 0, CNN_ACT_NONE,
     "maxpool K [stride=S] [pad=P]"},
    {NULL},
};

static const cnn_layer_word avgpool_words[] = {
    {"avgpool", CNN_LAYER_ARG_INT, "window", 1, 64, 0, 0, pool_keys, 0, CNN_ACT_NONE,
     "avgpool K [stride=S] [pad=P]"},
    {NULL},
};

static cnn_status pool_build(const cnn_layer_args *a, cnn_layer_desc *d, cnn_error *err)
{
    const cnn_layer_value *v = a->keys;
    d->k = (int)a->pos[0].i;
    d->stride = v[KEY_STRIDE].given ? (int)v[KEY_STRIDE].i : d->k;
    d->pad = v[KEY_PAD].given && !v[KEY_PAD].is_word ? (int)v[KEY_PAD].i : 0;
    if (v[KEY_PAD].is_word)
        return cnn_error_set(err, CNN_STATUS_FORMAT, "%s pad: expected a number, found 'same'",
                             a->word->word);
    return CNN_STATUS_OK;
}

/* "maxpool 3x3 /2 pad 1" */
static void pool_describe(const cnn_layer_desc *d, char *buf, size_t size)
{
    size_t u = 0;
    cnn_layer_text_add(buf, size, &u, "%s %dx%d", cnn_layer_class_of(d->kind)->name, d->k, d->k);
    if (d->stride > 1)
        cnn_layer_text_add(buf, size, &u, " /%d", d->stride);
    if (d->pad)
        cnn_layer_text_add(buf, size, &u, " pad %d", d->pad);
}

/* MaxPool; average pooling counts the padding (PyTorch's default): an
 * explicit zero Pad, then AveragePool without padding (the same, and what
 * every runtime reads alike; OpenCV 4.6 ignores count_include_pad) */
static cnn_status pool_onnx(cnn_onnx_graph *g, const cnn_model_layer *l, const float *params,
                            const float *state, const cnn_onnx_value *in, int n_in,
                            cnn_onnx_value *out, cnn_error *err)
{
    const cnn_layer_desc *d = &l->desc;
    int64_t k[2] = {d->k, d->k}, s[2] = {d->stride, d->stride}, q = d->pad;
    int64_t p[4] = {q, q, q, q}, zero[4] = {0, 0, 0, 0}, pads[8] = {0, 0, q, q, 0, 0, q, q};
    const char *x = cnn_onnx_as_map(g, in[0]);
    const char *y;
    if (d->kind == CNN_LAYER_MAXPOOL) {
        cnn_onnx_attr a[3] = {CNN_ONNX_INTS("kernel_shape", k, 2), CNN_ONNX_INTS("strides", s, 2),
                              CNN_ONNX_INTS("pads", p, 4)};
        y = cnn_onnx_node(g, "MaxPool", &x, 1, a, 3);
    } else {
        if (q)
            x = cnn_onnx_op2(g, "Pad", x, cnn_onnx_ints(g, "pads", pads, 8));
        cnn_onnx_attr a[3] = {CNN_ONNX_INTS("kernel_shape", k, 2), CNN_ONNX_INTS("strides", s, 2),
                              CNN_ONNX_INTS("pads", zero, 4)};
        y = cnn_onnx_node(g, "AveragePool", &x, 1, a, 3);
    }
    *out = (cnn_onnx_value){y, 4, l->out.c};
    return CNN_STATUS_OK;
}

const cnn_layer_class cnn_layer_maxpool = {
    .name = "maxpool",
    .words = maxpool_words,
    .build = pool_build,
    .describe = pool_describe,
    .infer = pool_infer,
    .plan = maxpool_plan,
    .bf16_storage = maxpool_bf16_storage,
    .forward = maxpool_forward,
    .backward = maxpool_backward,
    .onnx = pool_onnx,
};

const cnn_layer_class cnn_layer_avgpool = {
    .name = "avgpool",
    .words = avgpool_words,
    .build = pool_build,
    .describe = pool_describe,
    .infer = pool_infer,
    .forward = avgpool_forward,
    .backward = avgpool_backward,
    .onnx = pool_onnx,
};
