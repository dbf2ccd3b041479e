/* pool.c: fast max and average pooling over NHWC activations, same semantics
 * as ref/pool.c (floor mode; max: padding never wins, the first maximum in
 * row-major window order wins, NaN wins; avg: divisor KH*KW).
 *
 * Channels are innermost, so every loop below runs over a contiguous row of C
 * values and vectorises. Threads split the (n, row) pairs.
 *
 * Max pooling writes argmax (N,OH,OW,C): the winner's window position
 * ky*KW + kx, one byte each, so the backward needs no x.
 *
 * Two paths. 2x2 windows with stride 2 and no padding (every pooling layer of
 * the built-in models) read or write a whole window in one loop over C. Any
 * other window runs one loop over C per window position. Either way the
 * backwards are gathers, not scatters: each input position sums the outputs
 * whose windows cover it, in the reference's (oy, ox) order, starting from
 * zero. Every dx element is written exactly once, so there is no zeroing pass,
 * no race between threads however windows overlap, and the max backward is
 * bitwise the reference's (adding 0 for non-winners changes nothing).
 *
 * Max pooling with 2x2 windows may read x or write y stored as bf16 (a bf16
 * plan's storage, bf16.h), and in training write dx so; dy is floats. */
#include <string.h>

#include "core/core.h"
#include "ops/fast/bf16.h"
#include "ops/ops.h"

/* First and one-past-last output index o whose window [o*s - p, o*s - p + k)
 * covers input index i, clipped to [0, out). */
static void covering(int i, int k, int s, int p, int out, int *lo, int *hi)
{
    int num = i + p - k + 1; /* o*s >= num */
    int a = num <= 0 ? 0 : (num + s - 1) / s;
    int b = (i + p) / s + 1; /* o*s <= i + p */
    *lo = a;
    *hi = b < out ? b : out;
}

/* Whether v replaces the running maximum b: strictly greater (so the first
 * maximum stays), or the first NaN. */
static inline int max_wins(float v, float b) { return v > b || (v != v && b == b); }

/* In-image window rows [*k0, *k1) for output index o. */
static void window_span(int o, int k, int s, int p, int in, int *k0, int *k1)
{
    int start = o * s - p;
    *k0 = start < 0 ? -start : 0;
    *k1 = start + k > in ? in - start : k;
}

/* ---- any window: one vector loop over C per window position ---- */

/* Max pooling when argmax is given, average pooling when it is NULL. */
static void pool_forward_any(const cnn_pool_geom *g, const float *x, float *y, uint8_t *argmax)
{
    const int C = g->c;
    const float area = (float)(g->kh * g->kw);
#pragma omp parallel for collapse(2) schedule(static)
    for (int n = 0; n < g->n; n++)
        for (int oy = 0; oy < g->oh; oy++) {
            int ky0, ky1;
            window_span(oy, g->kh, g->sh, g->ph, g->ih, &ky0, &ky1);
            int iy0 = oy * g->sh - g->ph;
            for (int ox = 0; ox < g->ow; ox++) {
                int kx0, kx1;
                window_span(ox, g->kw, g->sw, g->pw, g->iw, &kx0, &kx1);
                int ix0 = ox * g->sw - g->pw;
                size_t o = (((size_t)n * g->oh + oy) * g->ow + ox) * C;
                float *yo = y + o;
                uint8_t *ao = argmax ? argmax + o : NULL;
#pragma omp simd
                for (int c = 0; c < C; c++)
                    yo[c] = 0.0f;
                for (int ky = ky0; ky < ky1; ky++)
                    for (int kx = kx0; kx < kx1; kx++) {
                        const float *xp =
                            x + (((size_t)n * g->ih + iy0 + ky) * g->iw + ix0 + kx) * C;
                        uint8_t k = (uint8_t)(ky * g->kw + kx);
                        if (!ao) {
#pragma omp simd
                            for (int c = 0; c < C; c++)
                                yo[c] += xp[c];
                        } else if (ky == ky0 && kx == kx0) {
                            /* the first in-image position starts the race */
#pragma omp simd
                            for (int c = 0; c < C; c++) {
                                yo[c] = xp[c];
                                ao[c] = k;
                            }
                        } else {
#pragma omp simd
                            for (int c = 0; c < C; c++) {
                                float v = xp[c], b = yo[c];
                                int wins = max_wins(v, b);
                                yo[c] = wins ? v : b;
                                ao[c] = wins ? k : ao[c];
                            }
                        }
                    }
                if (!ao) {
#pragma omp simd
                    for (int c = 0; c < C; c++)
                        yo[c] /= area;
                }
            }
        }
}

/* The gather: each input position sums its share of the outputs whose windows
 * cover it (the winner's gradient when argmax is given, 1/(KH*KW) of each
 * when it is NULL). */
static void pool_backward_any(const cnn_pool_geom *g, const uint8_t *argmax, const float *dy,
                              float *dx)
{
    const int C = g->c;
    const float inv = 1.0f / (float)(g->kh * g->kw);
#pragma omp parallel for collapse(2) schedule(static)
    for (int n = 0; n < g->n; n++)
        for (int iy = 0; iy < g->ih; iy++) {
            int oy0, oy1;
            covering(iy, g->kh, g->sh, g->ph, g->oh, &oy0, &oy1);
            for (int ix = 0; ix < g->iw; ix++) {
                int ox0, ox1;
                covering(ix, g->kw, g->sw, g->pw, g->ow, &ox0, &ox1);
                float *d = dx + (((size_t)n * g->ih + iy) * g->iw + ix) * C;
#pragma omp simd
                for (int c = 0; c < C; c++)
                    d[c] = 0.0f;
                for (int oy = oy0; oy < oy1; oy++)
                    for (int ox = ox0; ox < ox1; ox++) {
                        size_t o = (((size_t)n * g->oh + oy) * g->ow + ox) * C;
                        const float *dyo = dy + o;
                        if (!argmax) {
#pragma omp simd
                            for (int c = 0; c < C; c++)
                                d[c] += dyo[c] * inv;
                            continue;
                        }
                        /* this input's position inside the window of (oy, ox) */
                        int k = (iy - (oy * g->sh - g->ph)) * g->kw + (ix - (ox * g->sw - g->pw));
                        const uint8_t *a = argmax + o;
#pragma omp simd
                        for (int c = 0; c < C; c++)
                            d[c] += a[c] == k ? dyo[c] : 0.0f;
                    }
            }
        }
}

/* ---- 2x2 windows, stride 2, no padding (every pooling layer of the built-in
 * models): one vector loop over C per output, reading all four positions. The
 * backward writes each input row once: the window's share, or zeros for the
 * odd last row and column that floor mode leaves out. ---- */

static int is_2x2_tiling(const cnn_pool_geom *g)
{
    return g->kh == 2 && g->kw == 2 && g->sh == 2 && g->sw == 2 && g->ph == 0 && g->pw == 0;
}

/* One 2x2 window over n channels, its four positions in window order: y =
 * the maximum, a = the winner's position. */
static inline void max_of_four(int n, const float *p0, const float *p1, const float *p2,
                               const float *p3, float *y, uint8_t *a)
{
#pragma omp simd
    for (int c = 0; c < n; c++) {
        float b = p0[c], v;
        int k = 0;
        v = p1[c];
        if (max_wins(v, b))
            b = v, k = 1;
        v = p2[c];
        if (max_wins(v, b))
            b = v, k = 2;
        v = p3[c];
        if (max_wins(v, b))
            b = v, k = 3;
        y[c] = b;
        a[c] = (uint8_t)k;
    }
}

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__)
/* 16 channels at element off of a tensor stored as floats or bf16. */
static inline __m512 load16(const float *t, int bf16, size_t off)
{
    return bf16 ? cnn_bf16_load16((const uint16_t *)(const void *)t + off)
                : _mm512_loadu_ps(t + off);
}

/* max_of_four on 16 channels, reading and writing either storage in
 * registers (as the plain path: the same maxima, winners and rounding). */
static inline void max_of_four16(const float *x, int x_bf16, const size_t at[4], float *y,
                                 int y_bf16, size_t o, uint8_t *a)
{
    __m512 b = load16(x, x_bf16, at[0]);
    __m128i k = _mm_setzero_si128();
    for (int q = 1; q < 4; q++) {
        __m512 v = load16(x, x_bf16, at[q]);
        /* max_wins: v > b, or v is the first NaN */
        __mmask16 first_nan =
            _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q) & _mm512_cmp_ps_mask(b, b, _CMP_ORD_Q);
        __mmask16 w = _mm512_cmp_ps_mask(v, b, _CMP_GT_OQ) | first_nan;
        b = _mm512_mask_mov_ps(b, w, v);
        k = _mm_mask_mov_epi8(k, w, _mm_set1_epi8((char)q));
    }
    if (y_bf16)
        cnn_bf16_store16(b, (uint16_t *)(void *)y + o);
    else
        _mm512_storeu_ps(y + o, b);
    _mm_storeu_si128((__m128i *)(void *)(a + o), k);
}

#define HAVE_MAXPOOL_16 1
#else
#define HAVE_MAXPOOL_16 0
#endif

/* Each window in pieces of up to CNN_BF16_ROW channels; with x or y stored
 * as bf16 (g->x_bf16, g->y_bf16; bf16.h) a piece's four positions are
 * converted first and its maxima rounded after (exact: each is one of the
 * inputs), otherwise they are read and written in place. With bf16 storage
 * and C a multiple of 16, max_of_four16 instead does each window in
 * registers (2000x31x31x64: 20 -> 18 ms, 2000x15x15x256: 14.9 -> 11.8); on
 * floats the plain loops stay, which ran about 10 % faster than it
 * (128x32x32x64: 1.34 against 1.48 ms). */
static void maxpool_forward_2x2(const cnn_pool_geom *g, const float *x, float *y,
                                uint8_t *argmax)
{
    const int C = g->c;
    const size_t row = (size_t)g->iw * C;
    const int regs = HAVE_MAXPOOL_16 && C % 16 == 0 && (g->x_bf16 || g->y_bf16);
#pragma omp parallel for collapse(2) schedule(static)
    for (int n = 0; n < g->n; n++)
        for (int oy = 0; oy < g->oh; oy++)
            for (int ox = 0; ox < g->ow; ox++) {
                const size_t i = (((size_t)n * g->ih + 2 * oy) * g->iw + 2 * ox) * C;
                const size_t o = (((size_t)n * g->oh + oy) * g->ow + ox) * C;
                if (regs) {
#if HAVE_MAXPOOL_16
                    for (int c = 0; c < C; c += 16) {
                        const size_t at[4] = {i + c, i + C + c, i + row + c, i + row + C + c};
                        max_of_four16(x, g->x_bf16, at, y, g->y_bf16, o + c, argmax);
                    }
#endif
                    continue;
                }
                for (int c0 = 0; c0 < C; c0 += CNN_BF16_ROW) {
                    const int nc = C - c0 < CNN_BF16_ROW ? C - c0 : CNN_BF16_ROW;
                    float t[4][CNN_BF16_ROW], yt[CNN_BF16_ROW];
                    const float *p[4];
                    const size_t at[4] = {i, i + C, i + row, i + row + C};
                    for (int q = 0; q < 4; q++)
                        p[q] = cnn_bf16_row(x, g->x_bf16, at[q] + c0, (size_t)nc, t[q]);
                    float *yo = cnn_bf16_out(y, g->y_bf16, o + c0, yt);
                    max_of_four(nc, p[0], p[1], p[2], p[3], yo, argmax + o + c0);
                    cnn_bf16_out_done(y, g->y_bf16, o + c0, (size_t)nc, yt);
                }
            }
}

/* n channels of one window's gradient d into its two input columns of row
 * parity q/2: max (argmax a) d where the winner is q, resp. q + 1, else 0;
 * average (a NULL) a quarter each. */
static inline void window_share(int n, const uint8_t *a, int q, const float *d, float *left,
                                float *right)
{
    if (a) {
#pragma omp simd
        for (int c = 0; c < n; c++) {
            left[c] = a[c] == q ? d[c] : 0.0f;
            right[c] = a[c] == q + 1 ? d[c] : 0.0f;
        }
    } else {
#pragma omp simd
        for (int c = 0; c < n; c++)
            left[c] = right[c] = d[c] * 0.25f;
    }
}

/* Input rows of the 2x2 backward: row iy of image n takes, for each output ox
 * of output row iy/2, its share of the output's gradient into columns 2*ox
 * and 2*ox + 1 (window_share). With g->dx_bf16 (max pooling in a bf16 plan
 * whose convolution before it reads its dy as bf16) each piece is rounded as
 * it is written (bf16.h), as that convolution's own conversion would round it.
 * Floats are written in place by one loop over C: through cnn_bf16_out's row
 * pieces they ran 1.5x slower (1000x8x8x512: 4.1-4.4 against 6.5-6.9 ms). */
static void pool_backward_2x2(const cnn_pool_geom *g, const uint8_t *argmax, const float *dy,
                              float *dx)
{
    const int C = g->c;
    uint16_t *dxh = g->dx_bf16 ? (uint16_t *)(void *)dx : NULL;
#pragma omp parallel for collapse(2) schedule(static)
    for (int n = 0; n < g->n; n++)
        for (int iy = 0; iy < g->ih; iy++) {
            const size_t row = ((size_t)n * g->ih + iy) * g->iw * C; /* dx's row, in elements */
            const int oy = iy / 2;
            int ix_done = 0;
            if (oy < g->oh) {
                const int q = 2 * (iy % 2);
                for (int ox = 0; ox < g->ow; ox++) {
                    const size_t o = (((size_t)n * g->oh + oy) * g->ow + ox) * C;
                    const size_t at = row + (size_t)2 * ox * C;
                    if (!dxh) {
                        window_share(C, argmax ? argmax + o : NULL, q, dy + o, dx + at,
                                     dx + at + C);
                        continue;
                    }
                    for (int c0 = 0; c0 < C; c0 += CNN_BF16_ROW) {
                        const int nc = C - c0 < CNN_BF16_ROW ? C - c0 : CNN_BF16_ROW;
                        float left[CNN_BF16_ROW], right[CNN_BF16_ROW];
                        window_share(nc, argmax ? argmax + o + c0 : NULL, q, dy + o + c0, left,
                                     right);
                        cnn_bf16_store(left, (size_t)nc, dxh + at + c0);
                        cnn_bf16_store(right, (size_t)nc, dxh + at + C + c0);
                    }
                }
                ix_done = 2 * g->ow;
            }
            const size_t tail = (size_t)(g->iw - ix_done) * C;
            if (dxh)
                memset(dxh + row + (size_t)ix_done * C, 0, tail * sizeof *dxh);
            else
                memset(dx + row + (size_t)ix_done * C, 0, tail * sizeof *dx);
        }
}

static void avgpool_forward_2x2(const cnn_pool_geom *g, const float *x, float *y)
{
    const int C = g->c;
    const size_t row = (size_t)g->iw * C;
#pragma omp parallel for collapse(2) schedule(static)
    for (int n = 0; n < g->n; n++)
        for (int oy = 0; oy < g->oh; oy++)
            for (int ox = 0; ox < g->ow; ox++) {
                const float *p = x + (((size_t)n * g->ih + 2 * oy) * g->iw + 2 * ox) * C;
                float *yo = y + (((size_t)n * g->oh + oy) * g->ow + ox) * C;
#pragma omp simd
                for (int c = 0; c < C; c++)
                    yo[c] = (p[c] + p[C + c] + p[row + c] + p[row + C + c]) / 4.0f;
            }
}

/* ---- the entry points ---- */

/* x (N,IH,IW,C) -> y (N,OH,OW,C), argmax (N,OH,OW,C) */
void cnn_fast_maxpool_forward(const cnn_pool_geom *g, const float *x, float *y, uint8_t *argmax)
{
    CNN_ASSERT(g->kh * g->kw <= 256);
    CNN_ASSERT(!(g->x_bf16 || g->y_bf16 || g->dx_bf16) || is_2x2_tiling(g));
    if (is_2x2_tiling(g))
        maxpool_forward_2x2(g, x, y, argmax);
    else
        pool_forward_any(g, x, y, argmax);
}

/* argmax (N,OH,OW,C), dy (N,OH,OW,C) -> dx (N,IH,IW,C) or NULL */
void cnn_fast_maxpool_backward(const cnn_pool_geom *g, const uint8_t *argmax, const float *dy,
                               float *dx)
{
    if (!dx)
        return;
    CNN_ASSERT(!g->dx_bf16 || is_2x2_tiling(g));
    if (is_2x2_tiling(g))
        pool_backward_2x2(g, argmax, dy, dx);
    else
        pool_backward_any(g, argmax, dy, dx);
}

/* x (N,IH,IW,C) -> y (N,OH,OW,C) */
void cnn_fast_avgpool_forward(const cnn_pool_geom *g, const float *x, float *y)
{
    if (is_2x2_tiling(g))
        avgpool_forward_2x2(g, x, y);
    else
        pool_forward_any(g, x, y, NULL);
}

/* dy (N,OH,OW,C) -> dx (N,IH,IW,C) or NULL */
void cnn_fast_avgpool_backward(const cnn_pool_geom *g, const float *dy, float *dx)
{
    if (!dx)
        return;
    if (is_2x2_tiling(g))
        pool_backward_2x2(g, NULL, dy, dx);
    else
        pool_backward_any(g, NULL, dy, dx);
}
