/* gate.c: the reference channel-wise gate (squeeze-and-excitation's scale),
 * formulas and PyTorch semantics in ops/gate.h:
 *
 *   y = x * g,  g = sigmoid(s);   dx = dy * g;   ds = g (1 - g) sum_q dy x
 *
 * Plain loops, sums in double; per sample the logits' gradient is summed
 * before dx is written, so dx may alias dy. */
#include <math.h>
#include <stddef.h>

#include "ops/gate.h"

static double sigmoid(float s) { return 1.0 / (1.0 + exp(-(double)s)); }

/* x (N,HW,C), s (N,C) -> y (N,HW,C) */
void cnn_ref_gate_forward(int n, int hw, int c, const float *x, const float *s, float *y)
{
    for (int b = 0; b < n; b++)
        for (int q = 0; q < hw; q++)
            for (int k = 0; k < c; k++) {
                size_t i = ((size_t)b * hw + q) * c + k;
                y[i] = (float)(x[i] * sigmoid(s[(size_t)b * c + k]));
            }
}

/* x (N,HW,C), s (N,C), dy (N,HW,C) -> dx (N,HW,C), ds (N,C); either may be NULL */
void cnn_ref_gate_backward(int n, int hw, int c, const float *x, const float *s,
                           const float *dy, float *dx, float *ds)
{
    for (int b = 0; b < n; b++)
        for (int k = 0; k < c; k++) {
            double g = sigmoid(s[(size_t)b * c + k]);
            if (ds) {
                double sum = 0;
                for (int q = 0; q < hw; q++) {
                    size_t i = ((size_t)b * hw + q) * c + k;
                    sum += (double)dy[i] * x[i];
                }
                ds[(size_t)b * c + k] = (float)(g * (1.0 - g) * sum);
            }
            if (dx)
                for (int q = 0; q < hw; q++) {
                    size_t i = ((size_t)b * hw + q) * c + k;
                    dx[i] = (float)(dy[i] * g);
                }
        }
}
