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
#ifdef __AVX512F__
#include <immintrin.h>
#endif

#include "core/core.h"

#define CNN_BF16_ROW 256 /* floats a converted row piece holds */

static inline float cnn_bf16_to_float(uint16_t h) { return cnn_bits_float((uint32_t)h << 16); }

static inline uint16_t cnn_bf16_from_float(float f)
{
    uint32_t u = cnn_float_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) /* NaN: stays a (quiet) NaN */
        return (uint16_t)((u >> 16) | 0x40u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

#ifdef __AVX512F__
/* 16 values at h as floats. */
static inline __m512 cnn_bf16_load16(const uint16_t *h)
{
    __m512i v = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)h));
    return _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
}

/* f rounded as cnn_bf16_from_float: each value's bf16 bits in the low half
 * of its 32-bit lane, the high half zero. */
static inline __m512i cnn_bf16_round16(__m512 f)
{
    const __m512i one = _mm512_set1_epi32(1), half = _mm512_set1_epi32(0x7fff);
    const __m512i abs = _mm512_set1_epi32(0x7fffffff), inf = _mm512_set1_epi32(0x7f800000);
    const __m512i quiet = _mm512_set1_epi32(0x40);
    __m512i u = _mm512_castps_si512(f);
    __m512i hi = _mm512_srli_epi32(u, 16);
    __m512i r = _mm512_add_epi32(u, _mm512_add_epi32(half, _mm512_and_si512(hi, one)));
    r = _mm512_srli_epi32(r, 16);
    __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(u, abs), inf);
    return _mm512_mask_mov_epi32(r, nan, _mm512_or_si512(hi, quiet));
}

/* h (16) = f rounded, as cnn_bf16_from_float. */
static inline void cnn_bf16_store16(__m512 f, uint16_t *h)
{
    _mm256_storeu_si256((__m256i *)h, _mm512_cvtepi32_epi16(cnn_bf16_round16(f)));
}
#endif

/* f (n) = the n values at h. With AVX-512, 16 at a time (gcc leaves the
 * plain loop scalar where it is inlined into the normalisation kernels, and
 * the conversions then cost what the halved traffic saves). */
static inline void cnn_bf16_load(const uint16_t *h, size_t n, float *f)
{
    size_t i = 0;
#ifdef __AVX512F__
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(f + i, cnn_bf16_load16(h + i));
#endif
    for (; i < n; i++)
        f[i] = cnn_bf16_to_float(h[i]);
}

/* h (n) = f (n) rounded, as cnn_bf16_from_float. */
static inline void cnn_bf16_store(const float *f, size_t n, uint16_t *h)
{
    size_t i = 0;
#ifdef __AVX512F__
    for (; i + 16 <= n; i += 16)
        cnn_bf16_store16(_mm512_loadu_ps(f + i), h + i);
#endif
    for (; i < n; i++)
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
