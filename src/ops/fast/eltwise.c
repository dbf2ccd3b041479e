/* eltwise.c: fast elementwise activations, same semantics as ref/activation.c:
 *
 *   relu:    y = x < 0 ? 0 : x  (NaN passes)    dx = dy * (y > 0)
 *   sigmoid: y = 1 / (1 + e^-x)                 dx = dy * y * (1 - y)
 *   tanh:    y = tanh(x)                        dx = dy * (1 - y^2)
 *
 * Each element is read before it is written at the same index, so x and y (and
 * dy and dx) may alias; no pointer is restrict. ReLU and every backward are
 * memory bound and vectorise; sigmoid and tanh call libm's expf/tanhf per element
 * (no vector libm without fast-math), threaded only. Small counts stay on the
 * calling thread, where a fork would cost more than the work. */
#include <math.h>

#include "core/core.h"
#include "ops/ops.h"

/* below this many elements one thread does the work */
#define ELTWISE_PARALLEL_MIN 32768

/* x (count), y (count) */
void cnn_fast_act_forward(cnn_act a, size_t count, const float *x, float *y)
{
    const int par = count >= ELTWISE_PARALLEL_MIN;
    switch (a) {
    case CNN_ACT_NONE:
        if (x != y) {
#pragma omp parallel for simd schedule(static) if (par)
            for (size_t i = 0; i < count; i++)
                y[i] = x[i];
        }
        break;
    case CNN_ACT_RELU:
#pragma omp parallel for simd schedule(static) if (par)
        for (size_t i = 0; i < count; i++)
            y[i] = x[i] < 0.0f ? 0.0f : x[i];
        break;
    case CNN_ACT_SIGMOID:
#pragma omp parallel for schedule(static) if (par)
        for (size_t i = 0; i < count; i++)
            y[i] = 1.0f / (1.0f + expf(-x[i]));
        break;
    case CNN_ACT_TANH:
#pragma omp parallel for schedule(static) if (par)
        for (size_t i = 0; i < count; i++)
            y[i] = tanhf(x[i]);
        break;
    default: CNN_ASSERT(!"unknown activation");
    }
}

/* y (count), dy (count) -> dx (count) or NULL */
void cnn_fast_act_backward(cnn_act a, size_t count, const float *y, const float *dy, float *dx)
{
    if (!dx)
        return;
    const int par = count >= ELTWISE_PARALLEL_MIN;
    switch (a) {
    case CNN_ACT_NONE:
        if (dy != dx) {
#pragma omp parallel for simd schedule(static) if (par)
            for (size_t i = 0; i < count; i++)
                dx[i] = dy[i];
        }
        break;
    case CNN_ACT_RELU:
#pragma omp parallel for simd schedule(static) if (par)
        for (size_t i = 0; i < count; i++)
            dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
        break;
    case CNN_ACT_SIGMOID:
#pragma omp parallel for simd schedule(static) if (par)
        for (size_t i = 0; i < count; i++)
            dx[i] = dy[i] * y[i] * (1.0f - y[i]);
        break;
    case CNN_ACT_TANH:
#pragma omp parallel for simd schedule(static) if (par)
        for (size_t i = 0; i < count; i++)
            dx[i] = dy[i] * (1.0f - y[i] * y[i]);
        break;
    default: CNN_ASSERT(!"unknown activation");
    }
}
