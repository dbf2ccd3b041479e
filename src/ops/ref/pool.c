/* pool.c: reference pooling, PyTorch's nn.MaxPool2d, nn.AvgPool2d,
 * nn.AdaptiveAvgPool2d(1) and nn.AdaptiveMaxPool2d(1), over NHWC activations;
 * windows in floor mode.
 *
 *   max:  y[n,oy,ox,c] = max over the window of x[n, oy*SH+ky-PH, ox*SW+kx-PW, c],
 *         positions in the padding count as -infinity (never win). The gradient
 *         goes to the FIRST maximum in row-major window order (ky, then kx), as
 *         PyTorch; a NaN in the window wins, so NaN propagates as in PyTorch.
 *   avg:  y = (sum of the in-image window values) / (KH*KW), count_include_pad =
 *         true (PyTorch's default): padding counts as zeros in the divisor. In
 *         floor mode no window reaches past the padding, so the divisor is
 *         always KH*KW. dx[window] += dy / (KH*KW).
 *   gap:  y[n,c] = (1/HW) sum_p x[n,p,c];  dx[n,p,c] = dy[n,c] / HW.
 *   gmp:  y[n,c] = max_p x[n,p,c];  dx[n,p,c] = dy[n,c] at the FIRST maximum p
 *         (in h, w order), 0 elsewhere; a NaN wins, as in max pooling.
 *
 * Backwards overwrite dx (zeroed first, then each window adds its share). */
#include <math.h>
#include <string.h>

#include "ops/ops.h"

/* Index into x (N,IH,IW,C) of window position (ky, kx) of output (n,oy,ox),
 * channel c, or -1 where that position lies in the padding. */
static long window_at(const cnn_pool_geom *g, int n, int oy, int ox, int ky, int kx, int c)
{
    int iy = oy * g->sh + ky - g->ph, ix = ox * g->sw + kx - g->pw;
    if (iy < 0 || iy >= g->ih || ix < 0 || ix >= g->iw)
        return -1;
    return (long)((((size_t)n * g->ih + iy) * g->iw + ix) * g->c + c);
}

/* Index into x of the first maximum of the window of output (n,oy,ox,c). The
 * geometry keeps 2*PH <= KH, so each window holds at least one in-image
 * position. */
static long window_argmax(const cnn_pool_geom *g, const float *x, int n, int oy, int ox, int c)
{
    long best_i = -1;
    for (int ky = 0; ky < g->kh; ky++)
        for (int kx = 0; kx < g->kw; kx++) {
            long i = window_at(g, n, oy, ox, ky, kx, c);
            if (i < 0)
                continue;
            float v = x[i];
            if (best_i < 0 || v > x[best_i] || (isnan(v) && !isnan(x[best_i])))
                best_i = i;
        }
    return best_i;
}

/* x (N,IH,IW,C), y (N,OH,OW,C) */
void cnn_ref_maxpool_forward(const cnn_pool_geom *g, const float *x, float *y)
{
    for (int n = 0; n < g->n; n++)
        for (int oy = 0; oy < g->oh; oy++)
            for (int ox = 0; ox < g->ow; ox++)
                for (int c = 0; c < g->c; c++)
                    y[(((size_t)n * g->oh + oy) * g->ow + ox) * g->c + c] =
                        x[window_argmax(g, x, n, oy, ox, c)];
}

/* x (N,IH,IW,C), dy (N,OH,OW,C) -> dx (N,IH,IW,C) or NULL */
void cnn_ref_maxpool_backward(const cnn_pool_geom *g, const float *x, const float *dy, float *dx)
{
    if (!dx)
        return;
    memset(dx, 0, (size_t)g->n * g->ih * g->iw * g->c * sizeof *dx);
    for (int n = 0; n < g->n; n++)
        for (int oy = 0; oy < g->oh; oy++)
            for (int ox = 0; ox < g->ow; ox++)
                for (int c = 0; c < g->c; c++)
                    dx[window_argmax(g, x, n, oy, ox, c)] +=
                        dy[(((size_t)n * g->oh + oy) * g->ow + ox) * g->c + c];
}

/* x (N,IH,IW,C), y (N,OH,OW,C) */
void cnn_ref_avgpool_forward(const cnn_pool_geom *g, const float *x, float *y)
{
    for (int n = 0; n < g->n; n++)
        for (int oy = 0; oy < g->oh; oy++)
            for (int ox = 0; ox < g->ow; ox++)
                for (int c = 0; c < g->c; c++) {
                    double s = 0;
                    for (int ky = 0; ky < g->kh; ky++)
                        for (int kx = 0; kx < g->kw; kx++) {
                            long i = window_at(g, n, oy, ox, ky, kx, c);
                            if (i >= 0)
                                s += x[i];
                        }
                    y[(((size_t)n * g->oh + oy) * g->ow + ox) * g->c + c] =
                        (float)(s / (g->kh * g->kw));
                }
}

/* dy (N,OH,OW,C) -> dx (N,IH,IW,C) or NULL */
void cnn_ref_avgpool_backward(const cnn_pool_geom *g, const float *dy, float *dx)
{
    if (!dx)
        return;
    memset(dx, 0, (size_t)g->n * g->ih * g->iw * g->c * sizeof *dx);
    float inv = 1.0f / (float)(g->kh * g->kw);
    for (int n = 0; n < g->n; n++)
        for (int oy = 0; oy < g->oh; oy++)
            for (int ox = 0; ox < g->ow; ox++)
                for (int c = 0; c < g->c; c++) {
                    float d = dy[(((size_t)n * g->oh + oy) * g->ow + ox) * g->c + c] * inv;
                    for (int ky = 0; ky < g->kh; ky++)
                        for (int kx = 0; kx < g->kw; kx++) {
                            long i = window_at(g, n, oy, ox, ky, kx, c);
                            if (i >= 0)
                                dx[i] += d;
                        }
                }
}

/* x (N,HW,C), y (N,C) */
void cnn_ref_gap_forward(int n, int hw, int c, const float *x, float *y)
{
    for (int b = 0; b < n; b++)
        for (int ch = 0; ch < c; ch++) {
            double s = 0;
            for (int p = 0; p < hw; p++)
                s += x[((size_t)b * hw + p) * c + ch];
            y[(size_t)b * c + ch] = (float)(s / hw);
        }
}

/* dy (N,C) -> dx (N,HW,C) or NULL */
void cnn_ref_gap_backward(int n, int hw, int c, const float *dy, float *dx)
{
    if (!dx)
        return;
    for (int b = 0; b < n; b++)
        for (int p = 0; p < hw; p++)
            for (int ch = 0; ch < c; ch++)
                dx[((size_t)b * hw + p) * c + ch] = dy[(size_t)b * c + ch] / (float)hw;
}

/* Position p in [0,HW) of the first maximum of channel ch of image b. */
static int channel_argmax(int hw, int c, const float *x, int b, int ch)
{
    int best = 0;
    for (int p = 1; p < hw; p++) {
        float v = x[((size_t)b * hw + p) * c + ch], m = x[((size_t)b * hw + best) * c + ch];
        if (v > m || (isnan(v) && !isnan(m)))
            best = p;
    }
    return best;
}

/* x (N,HW,C), y (N,C) */
void cnn_ref_gmp_forward(int n, int hw, int c, const float *x, float *y)
{
    for (int b = 0; b < n; b++)
        for (int ch = 0; ch < c; ch++)
            y[(size_t)b * c + ch] = x[((size_t)b * hw + channel_argmax(hw, c, x, b, ch)) * c + ch];
}

/* x (N,HW,C), dy (N,C) -> dx (N,HW,C) or NULL */
void cnn_ref_gmp_backward(int n, int hw, int c, const float *x, const float *dy, float *dx)
{
    if (!dx)
        return;
    memset(dx, 0, (size_t)n * hw * c * sizeof *dx);
    for (int b = 0; b < n; b++)
        for (int ch = 0; ch < c; ch++)
            dx[((size_t)b * hw + channel_argmax(hw, c, x, b, ch)) * c + ch] = dy[(size_t)b * c + ch];
}
