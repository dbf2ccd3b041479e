/* reshape.c: fast flatten and global average and max pooling, same semantics
 * as ref/flatten.c and ref/pool.c:
 *
 *   flatten:  y[n, c*HW + p] = x[n, p, c]   (PyTorch's (C,H,W) order); per image
 *             a (HW, C) -> (C, HW) transpose, done in cache-sized tiles.
 *   gap:      y[n,c] = (1/HW) sum_p x[n,p,c];  dx[n,p,c] = dy[n,c] / HW.
 *   gmp:      y[n,c] = max_p x[n,p,c], argmax[n,c] = the first such p (a NaN
 *             wins); dx[n,p,c] = dy[n,c] where p == argmax[n,c], else 0.
 *
 * GAP sums a (HW, C) image row by row into a double row (channels innermost,
 * vectorised), as the reference accumulates in double. GMP likewise scans the
 * rows with a running maximum and position per channel, a vectorised
 * compare-and-select; the backward needs only the int32 positions. */
#include <string.h>

#include "core/core.h"
#include "ops/ops.h"

/* side of the square tiles the transposes move at a time */
#define RESHAPE_TILE 32
/* channels per slice of the GAP's double accumulator (on the stack) */
#define GAP_SLICE 512

/* For each of n images: b (COLS, ROWS) = transpose of a (ROWS, COLS). */
static void transpose_images(int n, int rows, int cols, const float *a, float *b)
{
    const size_t img = (size_t)rows * cols;
    if (rows == 1 || cols == 1) { /* the permutation is the identity */
        memcpy(b, a, (size_t)n * img * sizeof *b);
        return;
    }
    const int row_tiles = (rows + RESHAPE_TILE - 1) / RESHAPE_TILE;
#pragma omp parallel for collapse(2) schedule(static) if (n * img >= 32768)
    for (int i = 0; i < n; i++)
        for (int t = 0; t < row_tiles; t++) {
            const float *ai = a + (size_t)i * img;
            float *bi = b + (size_t)i * img;
            int r0 = t * RESHAPE_TILE;
            int r1 = r0 + RESHAPE_TILE < rows ? r0 + RESHAPE_TILE : rows;
            for (int c0 = 0; c0 < cols; c0 += RESHAPE_TILE) {
                int c1 = c0 + RESHAPE_TILE < cols ? c0 + RESHAPE_TILE : cols;
                for (int c = c0; c < c1; c++)
                    for (int r = r0; r < r1; r++)
                        bi[(size_t)c * rows + r] = ai[(size_t)r * cols + c];
            }
        }
}

/* x (N,H,W,C) -> y (N, C*H*W) */
void cnn_fast_flatten_forward(int n, int h, int w, int c, const float *x, float *y)
{
    transpose_images(n, h * w, c, x, y);
}

/* dy (N, C*H*W) -> dx (N,H,W,C) or NULL */
void cnn_fast_flatten_backward(int n, int h, int w, int c, const float *dy, float *dx)
{
    if (dx)
        transpose_images(n, c, h * w, dy, dx);
}

/* x (N,HW,C) -> y (N,C) */
void cnn_fast_gap_forward(int n, int hw, int c, const float *x, float *y)
{
#pragma omp parallel for schedule(static) if ((size_t)n * hw * c >= 32768)
    for (int b = 0; b < n; b++) {
        const float *xb = x + (size_t)b * hw * c;
        for (int c0 = 0; c0 < c; c0 += GAP_SLICE) {
            int nc = c - c0 < GAP_SLICE ? c - c0 : GAP_SLICE;
            double s[GAP_SLICE];
            for (int j = 0; j < nc; j++)
                s[j] = 0.0;
            for (int p = 0; p < hw; p++) {
                const float *xp = xb + (size_t)p * c + c0;
#pragma omp simd
                for (int j = 0; j < nc; j++)
                    s[j] += xp[j];
            }
            float *yb = y + (size_t)b * c + c0;
            for (int j = 0; j < nc; j++)
                yb[j] = (float)(s[j] / hw);
        }
    }
}

/* dy (N,C) -> dx (N,HW,C) or NULL */
void cnn_fast_gap_backward(int n, int hw, int c, const float *dy, float *dx)
{
    if (!dx)
        return;
    const float fhw = (float)hw;
#pragma omp parallel for collapse(2) schedule(static) if ((size_t)n * hw * c >= 32768)
    for (int b = 0; b < n; b++)
        for (int p = 0; p < hw; p++) {
            const float *d = dy + (size_t)b * c;
            float *o = dx + ((size_t)b * hw + p) * c;
#pragma omp simd
            for (int j = 0; j < c; j++)
                o[j] = d[j] / fhw;
        }
}

/* v replaces the running maximum m: strictly greater (so ties keep the first),
 * or the first NaN */
static inline int gmp_wins(float v, float m) { return v > m || (v != v && m == m); }

/* x (N,HW,C) -> y (N,C), argmax (N,C) positions in [0,HW) */
void cnn_fast_gmp_forward(int n, int hw, int c, const float *x, float *y, int32_t *argmax)
{
#pragma omp parallel for schedule(static) if ((size_t)n * hw * c >= 32768)
    for (int b = 0; b < n; b++) {
        const float *xb = x + (size_t)b * hw * c;
        float *yb = y + (size_t)b * c;
        int32_t *ab = argmax + (size_t)b * c;
#pragma omp simd
        for (int ch = 0; ch < c; ch++) {
            yb[ch] = xb[ch];
            ab[ch] = 0;
        }
        for (int p = 1; p < hw; p++) {
            const float *xp = xb + (size_t)p * c;
#pragma omp simd
            for (int ch = 0; ch < c; ch++) {
                const int win = gmp_wins(xp[ch], yb[ch]);
                yb[ch] = win ? xp[ch] : yb[ch];
                ab[ch] = win ? p : ab[ch];
            }
        }
    }
}

/* argmax (N,C), dy (N,C) -> dx (N,HW,C) or NULL */
void cnn_fast_gmp_backward(int n, int hw, int c, const int32_t *argmax, const float *dy,
                           float *dx)
{
    if (!dx)
        return;
#pragma omp parallel for schedule(static) if ((size_t)n * hw * c >= 32768)
    for (int b = 0; b < n; b++) {
        float *dxb = dx + (size_t)b * hw * c;
        memset(dxb, 0, (size_t)hw * c * sizeof *dxb);
        const int32_t *ab = argmax + (size_t)b * c;
        const float *dyb = dy + (size_t)b * c;
        for (int ch = 0; ch < c; ch++)
            dxb[(size_t)ab[ch] * c + ch] = dyb[ch];
    }
}
