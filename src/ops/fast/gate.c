/* gate.c: the fast channel-wise gate, same semantics as ref/gate.c (formulas
 * in ops/gate.h). Memory bound: one pass over x (and dy) per direction. Each
 * thread takes whole samples: the sample's C gates are made once into the
 * caller's scratch g, then the HW positions are walked with the channel loop
 * vectorised. The backward sums dy * x per channel into ds over the positions
 * first (so dx may alias dy), then writes dx. */
#include <math.h>
#include <stddef.h>

#include "ops/gate.h"

/* below this many elements one thread does the work */
#define GATE_PARALLEL_MIN 32768

/* g (c) = sigmoid(s (c)) */
static void gates(int c, const float *s, float *g)
{
    for (int k = 0; k < c; k++)
        g[k] = 1.0f / (1.0f + expf(-s[k]));
}

void cnn_fast_gate_forward(int n, int hw, int c, const float *x, const float *s, float *g,
                           float *y)
{
    size_t count = (size_t)n * hw * c;
#pragma omp parallel for schedule(static) if (count >= GATE_PARALLEL_MIN)
    for (int b = 0; b < n; b++) {
        float *gb = g + (size_t)b * c;
        gates(c, s + (size_t)b * c, gb);
        for (int q = 0; q < hw; q++) {
            size_t row = ((size_t)b * hw + q) * c;
#pragma omp simd
            for (int k = 0; k < c; k++)
                y[row + k] = x[row + k] * gb[k];
        }
    }
}

void cnn_fast_gate_backward(int n, int hw, int c, const float *x, const float *s,
                            const float *dy, float *g, float *dx, float *ds)
{
    size_t count = (size_t)n * hw * c;
#pragma omp parallel for schedule(static) if (count >= GATE_PARALLEL_MIN)
    for (int b = 0; b < n; b++) {
        float *gb = g + (size_t)b * c;
        gates(c, s + (size_t)b * c, gb);
        if (ds) {
            float *sum = ds + (size_t)b * c;
            for (int k = 0; k < c; k++)
                sum[k] = 0.0f;
            for (int q = 0; q < hw; q++) {
                size_t row = ((size_t)b * hw + q) * c;
#pragma omp simd
                for (int k = 0; k < c; k++)
                    sum[k] += dy[row + k] * x[row + k];
            }
            for (int k = 0; k < c; k++)
                sum[k] *= gb[k] * (1.0f - gb[k]);
        }
        if (dx)
            for (int q = 0; q < hw; q++) {
                size_t row = ((size_t)b * hw + q) * c;
#pragma omp simd
                for (int k = 0; k < c; k++)
                    dx[row + k] = dy[row + k] * gb[k];
            }
    }
}
