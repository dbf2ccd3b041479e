/* clip.c: gradient clipping over the whole parameter block, as
 * torch.nn.utils.clip_grad_norm_ (norm type 2) and clip_grad_value_ do it.
 *
 * Invariant: clipping only ever shrinks gradients (scales by a factor < 1 or
 * clamps toward zero) and never turns a finite gradient into a non-finite one. */
#include <math.h>

#include "cnnlab/optim.h"

#define PARALLEL_MIN 32768

double cnn_clip_grad_norm(float *grads, size_t count, float max_norm)
{
    const long n = (long)count;
    double sum = 0;
#pragma omp parallel for simd schedule(static) reduction(+ : sum) if (n >= PARALLEL_MIN)
    for (long i = 0; i < n; i++)
        sum += (double)grads[i] * (double)grads[i];
    const double total = sqrt(sum);
    /* PyTorch: coef = max_norm / (total + 1e-6), clamped to at most 1. */
    const double coef = (double)max_norm / (total + 1e-6);
    if (coef < 1.0) { /* false for a NaN total too: see optim.h */
        const float f = (float)coef;
#pragma omp parallel for simd schedule(static) if (n >= PARALLEL_MIN)
        for (long i = 0; i < n; i++)
            grads[i] *= f;
    }
    return total;
}

void cnn_clip_grad_value(float *grads, size_t count, float clip)
{
    const long n = (long)count;
#pragma omp parallel for simd schedule(static) if (n >= PARALLEL_MIN)
    for (long i = 0; i < n; i++) {
        float g = grads[i];
        /* Comparisons are false for NaN, so NaN passes through as in torch.clamp. */
        grads[i] = g > clip ? clip : g < -clip ? -clip : g;
    }
}
