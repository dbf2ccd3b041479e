/* eltwise.c: fast elementwise activations, same semantics as ref/activation.c:
 *
 *   relu:    y = x < 0 ? 0 : x  (NaN passes)    dx = dy * (y > 0)
 *   sigmoid: y = 1 / (1 + e^-x)                 dx = dy * y * (1 - y)
 *   tanh:    y = tanh(x)                        dx = dy * (1 - y^2)
 *   leaky:   y = x > 0 ? x : 0.01 x             dx = dy * (y > 0 ? 1 : 0.01)
 *   gelu:    y = x Phi(x)                       dx = dy * (Phi(x) + x phi(x))  (reads x)
 *   elu:     y = x > 0 ? x : expm1(x)           dx = dy * (y > 0 ? 1 : y + 1)
 *
 * Each element is read before it is written at the same index, so x and y (and
 * dy and dx) may alias; no pointer is restrict. ReLU, leaky ReLU and every
 * backward but GELU's are memory bound and vectorise; sigmoid, tanh, GELU and
 * ELU call libm (expf, tanhf, erff, expm1f) per element (no vector libm without
 * fast-math), threaded only. Small counts stay on the
 * calling thread, where a fork would cost more than the work. */
#include <math.h>

#include "core/core.h"
#include "ops/ops.h"

/* below this many elements one thread does the work */
#define ELTWISE_PARALLEL_MIN 32768

#define LEAKY_SLOPE 0.01f
#define INV_SQRT2 0.70710678118654752f
#define INV_SQRT_2PI 0.39894228040143268f

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
    case CNN_ACT_LEAKY_RELU:
#pragma omp parallel for simd schedule(static) if (par)
        for (size_t i = 0; i < count; i++)
            y[i] = x[i] > 0.0f ? x[i] : LEAKY_SLOPE * x[i];
        break;
    case CNN_ACT_GELU:
#pragma omp parallel for schedule(static) if (par)
        for (size_t i = 0; i < count; i++)
            y[i] = 0.5f * x[i] * (1.0f + erff(x[i] * INV_SQRT2));
        break;
    case CNN_ACT_ELU:
#pragma omp parallel for schedule(static) if (par)
        for (size_t i = 0; i < count; i++)
            y[i] = x[i] > 0.0f ? x[i] : expm1f(x[i]);
        break;
    default: CNN_ASSERT(!"unknown activation");
    }
}

/* x (count) or NULL unless GELU, y (count), dy (count) -> dx (count) or NULL */
void cnn_fast_act_backward(cnn_act a, size_t count, const float *x, const float *y,
                           const float *dy, float *dx)
{
    if (!dx)
        return;
    CNN_ASSERT(x != NULL || !cnn_act_backward_needs_x(a));
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
    case CNN_ACT_LEAKY_RELU:
#pragma omp parallel for simd schedule(static) if (par)
        for (size_t i = 0; i < count; i++)
            dx[i] = y[i] > 0.0f ? dy[i] : LEAKY_SLOPE * dy[i];
        break;
    case CNN_ACT_GELU:
#pragma omp parallel for schedule(static) if (par)
        for (size_t i = 0; i < count; i++) {
            const float u = x[i];
            const float cdf = 0.5f * (1.0f + erff(u * INV_SQRT2));
            const float pdf = INV_SQRT_2PI * expf(-0.5f * u * u);
            dx[i] = dy[i] * (cdf + u * pdf);
        }
        break;
    case CNN_ACT_ELU:
#pragma omp parallel for simd schedule(static) if (par)
        for (size_t i = 0; i < count; i++)
            dx[i] = y[i] > 0.0f ? dy[i] : dy[i] * (y[i] + 1.0f);
        break;
    default: CNN_ASSERT(!"unknown activation");
    }
}
