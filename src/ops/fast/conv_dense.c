/* conv_dense.c: a convolution on a small input map as one matrix product.
 *
 * Every output value is a weighted sum over the whole input, so with the
 * per-sample tensors flattened in NHWC order a convolution is
 *   y (N, OH*OW*OC) = x (N, IH*IW*IC) . wd (IH*IW*IC, OH*OW*OC) + b
 * where the dense matrix holds each kernel tap where its input and output
 * positions meet:
 *   wd[(iy*IW + ix)*IC + ic, (oy*OW + ox)*OC + oc] = w[oc, ic, ky, kx]
 *       with ky = iy - oy*SH + PH, kx = ix - ox*SW + PW inside the kernel, else 0.
 * The product has IH*IW / (KH*KW) of a direct convolution's multiply-adds, so
 * it is the cheaper form when the input has no more positions than the kernel
 * taps (VGG's 2x2 maps under a 3x3 kernel: 4/9 of the work, and no padded taps
 * computed at all), and it runs as three large sgemm calls:
 *   backward data     dx (N, IH*IW*IC) = dy . wd^T
 *   backward weights  dwd = x^T . dy, then dw[oc, ic, ky, kx] = the sum of the
 *                     dwd entries of that tap; db[oc] = the sum of dy over n
 *                     and the output positions.
 */
#include <dnnl.h>
#include <stdlib.h>
#include <string.h>

#include "conv_dense.h"
#include "core/core.h"

int cnn_dense_conv_applies(const cnn_conv_geom *g) { return g->ih * g->iw <= g->kh * g->kw; }

size_t cnn_dense_conv_floats(const cnn_conv_geom *g)
{
    return (size_t)g->ih * g->iw * g->ic * g->oh * g->ow * g->oc;
}

cnn_status cnn_dense_conv_init(cnn_dense_conv *d, const cnn_conv_geom *g, cnn_error *err)
{
    memset(d, 0, sizeof *d);
    d->g = *g;
    size_t most = (size_t)g->oh * g->ow * g->kh * g->kw;
    if (!(d->taps = malloc(most * sizeof *d->taps)))
        return cnn_error_set(err, CNN_STATUS_NO_MEMORY, "no memory for a dense convolution");
    for (int oy = 0; oy < g->oh; oy++)
        for (int ox = 0; ox < g->ow; ox++)
            for (int ky = 0; ky < g->kh; ky++)
                for (int kx = 0; kx < g->kw; kx++) {
                    int iy = oy * g->sh - g->ph + ky, ix = ox * g->sw - g->pw + kx;
                    if (iy < 0 || iy >= g->ih || ix < 0 || ix >= g->iw)
                        continue;
                    d->taps[d->ntaps++] = (cnn_dense_tap){iy * g->iw + ix, oy * g->ow + ox,
                                                          ky * g->kw + kx};
                }
    d->full = d->ntaps == g->ih * g->iw * g->oh * g->ow;
    return CNN_STATUS_OK;
}

void cnn_dense_conv_free(cnn_dense_conv *d)
{
    free(d->taps);
    d->taps = NULL;
}

void cnn_dense_conv_expand(const cnn_dense_conv *d, const float *w, float *wd)
{
    const cnn_conv_geom *g = &d->g;
    const int ic = g->ic, oc = g->oc, kk = g->kh * g->kw;
    const size_t cols = (size_t)g->oh * g->ow * oc;
    if (!d->full) /* some position pairs meet in no tap: their blocks stay 0 */
        memset(wd, 0, cnn_dense_conv_floats(g) * sizeof(float));
    /* block (in, out) of wd is w[:, :, tap] transposed, (IC, OC). Input
     * channel by input channel, so that the rows written (one per input
     * position) stay in cache while w is read once, a kernel's taps at a time. */
#pragma omp parallel for schedule(static) if ((size_t)ic * oc >= 65536)
    for (int c = 0; c < ic; c++) {
        float *rows = wd + (size_t)c * cols; /* row (in, c) at rows + in * IC * cols */
        for (int o = 0; o < oc; o++) {
            const float *wk = w + ((size_t)o * ic + c) * kk;
            for (int k = 0; k < d->ntaps; k++) {
                const cnn_dense_tap tp = d->taps[k];
                rows[(size_t)tp.in * ic * cols + (size_t)tp.out * oc + o] = wk[tp.tap];
            }
        }
    }
}

void cnn_dense_conv_forward(const cnn_dense_conv *d, const float *x, const float *wd,
                            const float *b, int relu, float *y)
{
    const cnn_conv_geom *g = &d->g;
    const int rows = g->ih * g->iw * g->ic, cols = g->oh * g->ow * g->oc, pos = g->oh * g->ow;
    dnnl_status_t s = dnnl_sgemm('N', 'N', g->n, cols, rows, 1.0f, x, rows, wd, cols, 0.0f, y,
                                 cols);
    CNN_ASSERT(s == dnnl_success);
    if (!b && !relu)
        return;
#pragma omp parallel for schedule(static) if ((size_t)g->n * cols >= 65536)
    for (int i = 0; i < g->n * pos; i++) {
        float *yr = y + (size_t)i * g->oc;
        if (b)
#pragma omp simd
            for (int o = 0; o < g->oc; o++)
                yr[o] += b[o];
        if (relu)
#pragma omp simd
            for (int o = 0; o < g->oc; o++)
                yr[o] = yr[o] < 0.0f ? 0.0f : yr[o];
    }
}

void cnn_dense_conv_backward_data(const cnn_dense_conv *d, const float *dy, const float *wd,
                                  float *dx)
{
    const cnn_conv_geom *g = &d->g;
    const int rows = g->ih * g->iw * g->ic, cols = g->oh * g->ow * g->oc;
    dnnl_status_t s = dnnl_sgemm('N', 'T', g->n, rows, cols, 1.0f, dy, cols, wd, cols, 0.0f, dx,
                                 rows);
    CNN_ASSERT(s == dnnl_success);
}

void cnn_dense_conv_backward_weights(const cnn_dense_conv *d, const float *x, const float *dy,
                                     float *dwd, float *dw, float *db)
{
    const cnn_conv_geom *g = &d->g;
    const int ic = g->ic, oc = g->oc, kk = g->kh * g->kw;
    const int rows = g->ih * g->iw * ic, cols = g->oh * g->ow * oc, pos = g->oh * g->ow;
    dnnl_status_t s = dnnl_sgemm('T', 'N', rows, cols, g->n, 1.0f, x, rows, dy, cols, 0.0f, dwd,
                                 cols);
    CNN_ASSERT(s == dnnl_success);
    /* dw[o, c, tap] = the sum over the tap's position pairs of
     * dwd[in*IC + c, out*OC + o]: the expansion's loops run backwards, each
     * thread owning input channels, the pairs added in a fixed order */
#pragma omp parallel for schedule(static) if ((size_t)ic * oc >= 65536)
    for (int c = 0; c < ic; c++) {
        const float *crows = dwd + (size_t)c * cols;
        for (int o = 0; o < oc; o++) {
            float *dk = dw + ((size_t)o * ic + c) * kk;
            for (int t = 0; t < kk; t++)
                dk[t] = 0.0f;
            for (int k = 0; k < d->ntaps; k++) {
                const cnn_dense_tap tp = d->taps[k];
                dk[tp.tap] += crows[(size_t)tp.in * ic * cols + (size_t)tp.out * oc + o];
            }
        }
    }
    if (db) {
        for (int o = 0; o < oc; o++)
            db[o] = 0.0f;
        for (int i = 0; i < g->n * pos; i++) {
            const float *row = dy + (size_t)i * oc;
#pragma omp simd
            for (int o = 0; o < oc; o++)
                db[o] += row[o];
        }
    }
}
