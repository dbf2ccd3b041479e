/* bf16.h: activations stored as bf16 between layers of a bf16 plan (the
 * plan's y_bf16, docs/architecture.md). A bf16 value is the upper half of an
 * IEEE float; storing rounds to nearest, ties to even (as oneDNN's kernels
 * and PyTorch do), loading is exact. The kernels that read or write such
 * tensors convert a row at a time into a small float buffer on the stack and
 * run their float code on it, so both storages share one arithmetic: a layer
 * fed bf16 values computes exactly what it computes on the same values
 * stored as floats. */
#ifndef CNN_OPS_FAST_BF16_H
#define CNN_OPS_FAST_BF16_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define CNN_BF16_ROW 256 /* floats a converted row piece holds */

static inline float cnn_bf16_to_float(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline uint16_t cnn_bf16_from_float(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) /* NaN: stays a (quiet) NaN */
        return (uint16_t)((u >> 16) | 0x40u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

/* f (n) = the n values at h. */
static inline void cnn_bf16_load(const uint16_t *h, size_t n, float *f)
{
#pragma omp simd
    for (size_t i = 0; i < n; i++)
        f[i] = cnn_bf16_to_float(h[i]);
}

/* h (n) = f (n) rounded. */
static inline void cnn_bf16_store(const float *f, size_t n, uint16_t *h)
{
#pragma omp simd
    for (size_t i = 0; i < n; i++)
        h[i] = cnn_bf16_from_float(f[i]);
}

/* Elements [off, off + n) of a tensor stored as floats (bf16 = 0) or bf16
 * (1) as floats: a pointer into the tensor, or tmp (n floats) filled. */
static inline const float *cnn_bf16_row(const float *t, int bf16, size_t off, size_t n,
                                        float *tmp)
{
    if (!bf16)
        return t + off;
    cnn_bf16_load((const uint16_t *)(const void *)t + off, n, tmp);
    return tmp;
}

/* Where a row of n floats computed into tmp goes: elements [off, off + n) of
 * t (floats: the row is written there directly, bf16: rounded from tmp by
 * cnn_bf16_out_done). */
static inline float *cnn_bf16_out(float *t, int bf16, size_t off, float *tmp)
{
    return bf16 ? tmp : t + off;
}

static inline void cnn_bf16_out_done(float *t, int bf16, size_t off, size_t n, const float *tmp)
{
    if (bf16)
        cnn_bf16_store(tmp, n, (uint16_t *)(void *)t + off);
}

#endif
