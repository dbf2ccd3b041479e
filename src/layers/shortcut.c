/* shortcut.c: the parameter-free ResNet shortcut of He et al. 2016 (option A),
 * for a residual block that halves the resolution and widens the channels:
 *
 *   y[n, i, j, c] = x[n, i*s, j*s, c - b]   for b <= c < b + C
 *                 = 0                         otherwise (zero-padded channels)
 *
 * with x (N, H, W, C), y (N, ceil(H/s), ceil(W/s), OC), s = stride and
 * b = (OC - C) / 2: the PyTorch reproduction's
 *   F.pad(x[:, :, ::s, ::s], (0, 0, 0, 0, b, OC - C - b)).
 * The backward scatters dy's middle channels back to the sampled pixels and
 * zeroes the rest of dx. It only moves values, so one plain implementation
 * serves both backends (the plan test checks it; the finite-difference test in
 * tests/test_shortcut.c checks the backward). */
#include <stdio.h>
#include <string.h>

#include "export/onnx_graph.h"
#include "layer.h"

static cnn_status shortcut_infer(const cnn_layer_desc *d, const cnn_shape *ins, int n_in,
                                 cnn_shape *out, size_t *params, size_t *state, cnn_error *err)
{
    cnn_shape in = ins[0];
    if (d->stride < 1)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                             "shortcut: expected a stride of at least 1, found %d", d->stride);
    if (d->out < in.c)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                             "shortcut: expected at least the input's %d channels, found %d",
                             in.c, d->out);
    *out = (cnn_shape){(in.h - 1) / d->stride + 1, (in.w - 1) / d->stride + 1, d->out};
    *params = *state = 0;
    return CNN_STATUS_OK;
}

static void shortcut_forward(cnn_plan_layer *pl)
{
    cnn_shape is = pl->ml->in, os = pl->ml->out;
    int s = pl->ml->desc.stride, b = (os.c - is.c) / 2, rows = pl->n * os.h;
    const float *x = pl->x; /* (N, H, W, C) */
    float *y = pl->y;       /* (N, OH, OW, OC) */
#pragma omp parallel for schedule(static) if (rows >= 64)
    for (int r = 0; r < rows; r++) {
        int n = r / os.h, i = r % os.h;
        for (int j = 0; j < os.w; j++) {
            float *yp = y + ((size_t)r * os.w + j) * os.c;
            const float *xp = x + (((size_t)n * is.h + (size_t)i * s) * is.w + (size_t)j * s) * is.c;
            memset(yp, 0, sizeof(float) * (size_t)b);
            memcpy(yp + b, xp, sizeof(float) * (size_t)is.c);
            memset(yp + b + is.c, 0, sizeof(float) * (size_t)(os.c - is.c - b));
        }
    }
}

static void shortcut_backward(cnn_plan_layer *pl)
{
    if (!pl->dx)
        return;
    cnn_shape is = pl->ml->in, os = pl->ml->out;
    int s = pl->ml->desc.stride, b = (os.c - is.c) / 2, rows = pl->n * is.h;
    const float *dy = pl->dy; /* (N, OH, OW, OC) */
    float *dx = pl->dx;       /* (N, H, W, C) */
#pragma omp parallel for schedule(static) if (rows >= 64)
    for (int r = 0; r < rows; r++) {
        int n = r / is.h, h = r % is.h;
        float *dxr = dx + (size_t)r * is.w * is.c;
        memset(dxr, 0, sizeof(float) * (size_t)is.w * is.c);
        if (h % s)
            continue;
        for (int j = 0; j < os.w; j++)
            memcpy(dxr + (size_t)j * s * is.c,
                   dy + (((size_t)n * os.h + (size_t)(h / s)) * os.w + j) * os.c + b,
                   sizeof(float) * (size_t)is.c);
    }
}

/* ---- the model-file word ---- */

enum { KEY_STRIDE, KEY_FROM };

static const cnn_layer_key shortcut_keys[] = {
    [KEY_STRIDE] = CNN_LAYER_KEY_STRIDE,
    [KEY_FROM] = CNN_LAYER_KEY_FROM,
    CNN_LAYER_KEY_END,
};

static const cnn_layer_word shortcut_words[] = {
    {"shortcut", CNN_LAYER_ARG_INT, "channels", 1, 1 << 20, 0, 0, shortcut_keys, 0, CNN_ACT_NONE,
     "shortcut OUT [stride=S]"},
    {NULL},
};

static cnn_status shortcut_build(const cnn_layer_args *a, cnn_layer_desc *d, cnn_error *err)
{
    d->out = (int)a->pos[0].i;
    d->stride = a->keys[KEY_STRIDE].given ? (int)a->keys[KEY_STRIDE].i : 1;
    return CNN_STATUS_OK;
}

static void shortcut_describe(const cnn_layer_desc *d, char *buf, size_t size)
{
    snprintf(buf, size, "shortcut /%d", d->stride);
}

/* Slice every stride-th row and column, then Pad the channels with zeros:
 * b before, OC - C - b after */
static cnn_status shortcut_onnx(cnn_onnx_graph *g, const cnn_model_layer *l, const float *params,
                                const float *state, const cnn_onnx_value *in, int n_in,
                                cnn_onnx_value *out, cnn_error *err)
{
    int64_t s = l->desc.stride, c = l->in.c, oc = l->out.c, b = (oc - c) / 2;
    int64_t starts[2] = {0, 0}, ends[2] = {INT64_MAX, INT64_MAX}, axes[2] = {2, 3};
    int64_t steps[2] = {s, s}, pads[8] = {0, b, 0, 0, 0, oc - c - b, 0, 0};
    const char *x[5] = {cnn_onnx_as_map(g, in[0]), cnn_onnx_ints(g, "starts", starts, 2),
                        cnn_onnx_ints(g, "ends", ends, 2), cnn_onnx_ints(g, "axes", axes, 2),
                        cnn_onnx_ints(g, "steps", steps, 2)};
    const char *y = cnn_onnx_node(g, "Slice", x, 5, NULL, 0);
    *out = (cnn_onnx_value){cnn_onnx_op2(g, "Pad", y, cnn_onnx_ints(g, "pads", pads, 8)), 4, l->out.c};
    return CNN_STATUS_OK;
}

const cnn_layer_class cnn_layer_shortcut = {
    .name = "shortcut",
    .words = shortcut_words,
    .build = shortcut_build,
    .describe = shortcut_describe,
    .infer = shortcut_infer,
    .forward = shortcut_forward,
    .backward = shortcut_backward,
    .onnx = shortcut_onnx,
};
