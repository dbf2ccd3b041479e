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
 * backward but GELU's are memory bound and vectorise; sigmoid, tanh and ELU
 * call libm (expf, tanhf, expm1f) per element (no vector libm without
 * fast-math), threaded only. Small counts stay on the calling thread, where a
 * fork would cost more than the work.
 *
 * GELU vectorises: no libm call. With a = |x|, erfc(a/sqrt 2) is Numerical
 * Recipes' Chebyshev fit (erfcc, fractional error below 1.2e-7 for any a >= 0)
 *
 *   erfc(a/sqrt 2) = t exp(-a^2/2 + P(t)),  t = 1/(1 + a/(2 sqrt 2)),  P of degree 9
 *
 * and Phi(x) = erfc/2 for x < 0, 1 - erfc/2 otherwise, so that the negative
 * tail keeps its relative precision (the reference's 1 + erf(x/sqrt 2) cancels
 * there). a^2/2 is carried as a float pair (fmaf), so its rounding does not
 * reach the exponential; exp is Cody-Waite range reduction, Cephes' degree-7
 * polynomial and 2^k from the exponent bits. tests/test_fast_ops.c holds GELU
 * within 1e-6 relative of double precision for |x| <= 12 (the reference itself
 * is only within about |x| 1e-7 absolute in the negative tail) and GELU' within
 * 3e-7 absolute. The batch norm with a fused GELU (batchnorm.c) runs the same
 * kernels through cnn_fast_gelu and cnn_fast_gelu_grad. */
#include <math.h>
#include <stdint.h>

#include "core/core.h"
#include "ops/fast/bf16.h"
#include "ops/fast/fast.h"
#include "ops/ops.h"

/* below this many elements one thread does the work */
#define ELTWISE_PARALLEL_MIN 32768

#define LEAKY_SLOPE 0.01f
#define INV_SQRT_2PI 0.39894228040143268f
#define INV_2SQRT2 0.35355339059327376f

/* exp(a + b) for a + b <= 0, with |b| small against |a| or both small: the
 * range reduction subtracts k ln 2 from a before b joins, so a's rounding is
 * all that reaches the result. 0 below e^-87 (no subnormals), NaN passes. */
static inline float exp_sum(float a, float b)
{
    const float magic = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
    float x = a + b;
    const int under = x < -87.0f;
    if (under)
        a = x = -87.0f, b = 0.0f;
    float k = x * 1.44269504088896341f + magic;
    uint32_t kbits = cnn_float_bits(k);
    k -= magic;
    float r = fmaf(k, -0.693359375f, a) + b; /* ln 2 in two parts */
    r = fmaf(k, 2.12194440e-4f, r);
    float p = 1.9875691500e-4f;
    p = fmaf(p, r, 1.3981999507e-3f);
    p = fmaf(p, r, 8.3334519073e-3f);
    p = fmaf(p, r, 4.1665795894e-2f);
    p = fmaf(p, r, 1.6666665459e-1f);
    p = fmaf(p, r, 5.0000001201e-1f);
    p = fmaf(p, r * r, r) + 1.0f;
    /* 2^k: k sits in the low bits of kbits, offset by magic's */
    uint32_t sbits = (kbits - 0x4B400000u + 127u) << 23;
    return under ? 0.0f : p * cnn_bits_float(sbits);
}

/* Phi(x) and phi(x) in stages over blocks of up to GELU_BLOCK values, each
 * stage one short vector loop. The whole formula as one loop body is a chain
 * of some 40 dependent operations per vector, longer than the out-of-order
 * core overlaps well; in stages a loop's vectors overlap (one thread, Zen 5:
 * 0.81 -> 0.65 ns a value forward, 1.02 -> 0.90 for the derivative;
 * docs/performance.md). Each value's arithmetic is the same as written in
 * one piece. */
#define GELU_BLOCK 64

/* Values of the block at i of n. */
static inline int block_len(size_t n, size_t i)
{
    return n - i < GELU_BLOCK ? (int)(n - i) : GELU_BLOCK;
}

/* Stage 1: t = 1/(1 + a/(2 sqrt 2)) and a^2/2 = h + l, a = |x| (at most 20:
 * Phi is 0 or 1 beyond, and it keeps inf out of the pair). */
static inline void cdf_start(int n, const float *x, float *t, float *h, float *l)
{
#pragma omp simd
    for (int j = 0; j < n; j++) {
        float a = fabsf(x[j]);
        a = a < 20.0f ? a : 20.0f;
        t[j] = 1.0f / (1.0f + a * INV_2SQRT2);
        float hh = a * a; /* a^2/2 = h + l exactly (up to l's own rounding) */
        float ll = fmaf(a, a, -hh);
        h[j] = hh * 0.5f, l[j] = ll * 0.5f;
    }
}

/* Stage 2: e = erfc(a/sqrt 2) / t = exp(-a^2/2 + P(t)). */
static inline void cdf_erfc(int n, const float *t, const float *h, const float *l, float *e)
{
    float p[GELU_BLOCK];
#pragma omp simd
    for (int j = 0; j < n; j++) {
        float q = 0.17087277f;
        q = fmaf(q, t[j], -0.82215223f);
        q = fmaf(q, t[j], 1.48851587f);
        q = fmaf(q, t[j], -1.13520398f);
        q = fmaf(q, t[j], 0.27886807f);
        q = fmaf(q, t[j], -0.18628806f);
        q = fmaf(q, t[j], 0.09678418f);
        q = fmaf(q, t[j], 0.37409196f);
        q = fmaf(q, t[j], 1.00002368f);
        p[j] = fmaf(q, t[j], -1.26551223f);
    }
#pragma omp simd
    for (int j = 0; j < n; j++)
        e[j] = exp_sum(-h[j], p[j] - l[j]);
}

/* Phi(x) from the stages: erfc/2 for x < 0, 1 - erfc/2 otherwise. */
static inline float cdf_of(float x, float t, float e)
{
    const float half_erfc = 0.5f * t * e;
    return x < 0.0f ? half_erfc : 1.0f - half_erfc;
}

/* y (n) = gelu(x (n)), n <= GELU_BLOCK; y may alias x. */
static void gelu_block(int n, const float *x, float *y)
{
    float t[GELU_BLOCK], h[GELU_BLOCK], l[GELU_BLOCK], e[GELU_BLOCK];
    cdf_start(n, x, t, h, l);
    cdf_erfc(n, t, h, l, e);
#pragma omp simd
    for (int j = 0; j < n; j++)
        y[j] = x[j] * cdf_of(x[j], t[j], e[j]);
}

/* dx (n) = dy (n) * gelu'(x (n)), gelu'(x) = Phi(x) + x phi(x); n <=
 * GELU_BLOCK; dx may alias dy or x. */
static void gelu_grad_block(int n, const float *x, const float *dy, float *dx)
{
    float t[GELU_BLOCK], h[GELU_BLOCK], l[GELU_BLOCK], e[GELU_BLOCK], pdf[GELU_BLOCK];
    cdf_start(n, x, t, h, l);
    cdf_erfc(n, t, h, l, e);
#pragma omp simd
    for (int j = 0; j < n; j++)
        pdf[j] = INV_SQRT_2PI * exp_sum(-h[j], -l[j]);
#pragma omp simd
    for (int j = 0; j < n; j++)
        dx[j] = dy[j] * fmaf(x[j], pdf[j], cdf_of(x[j], t[j], e[j]));
}

void cnn_fast_gelu(size_t n, const float *x, float *y)
{
    for (size_t i = 0; i < n; i += GELU_BLOCK)
        gelu_block(block_len(n, i), x + i, y + i);
}

void cnn_fast_gelu_grad(size_t n, const float *x, const float *dy, float *dx)
{
    for (size_t i = 0; i < n; i += GELU_BLOCK)
        gelu_grad_block(block_len(n, i), x + i, dy + i, dx + i);
}

/* x (count) floats, y (count) stored as bf16 (bf16.h): GELU a piece at a
 * time, each rounded as it is written. */
void cnn_fast_gelu_to_bf16(size_t count, const float *x, float *y)
{
    uint16_t *h = (uint16_t *)(void *)y;
    const size_t pieces = (count + CNN_BF16_ROW - 1) / CNN_BF16_ROW;
#pragma omp parallel for schedule(static) if (count >= ELTWISE_PARALLEL_MIN)
    for (size_t p = 0; p < pieces; p++) {
        const size_t i = p * CNN_BF16_ROW, n = count - i < CNN_BF16_ROW ? count - i : CNN_BF16_ROW;
        float t[CNN_BF16_ROW];
        cnn_fast_gelu(n, x + i, t);
        cnn_bf16_store(t, n, h + i);
    }
}

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
        for (size_t i = 0; i < count; i += GELU_BLOCK)
            gelu_block(block_len(count, i), x + i, y + i);
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
        for (size_t i = 0; i < count; i += GELU_BLOCK)
            gelu_grad_block(block_len(count, i), x + i, dy + i, dx + i);
        break;
    case CNN_ACT_ELU:
#pragma omp parallel for simd schedule(static) if (par)
        for (size_t i = 0; i < count; i++)
            dx[i] = y[i] > 0.0f ? dy[i] : dy[i] * (y[i] + 1.0f);
        break;
    default: CNN_ASSERT(!"unknown activation");
    }
}
