/* penalty.c: the explicit L2 penalty lambda * sum w^2 over chosen slices of
 * the parameter block (usually conv and linear weights). Its gradient is added
 * to the model's; its value is returned so the trainer can log it apart from
 * the data loss.
 *
 * Invariant: only elements inside the given ranges are read or written. */
#include "cnnlab/optim.h"

#define PARALLEL_MIN 32768

double cnn_l2_penalty(float lambda, const cnn_range *ranges, int n, const float *params,
                      float *grads)
{
    const float two_lambda = 2.0f * lambda;
    double total = 0;
    for (int r = 0; r < n; r++) {
        const float *w = params + ranges[r].offset;
        float *g = grads + ranges[r].offset;
        const long len = (long)ranges[r].count;
        double sum = 0;
#pragma omp parallel for simd schedule(static) reduction(+ : sum) if (len >= PARALLEL_MIN)
        for (long i = 0; i < len; i++) {
            sum += (double)w[i] * (double)w[i];
            g[i] += two_lambda * w[i];
        }
        total += sum;
    }
    return (double)lambda * total;
}
