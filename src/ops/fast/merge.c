/* merge.c: fast add and channel concatenation, same semantics as ref/merge.c:
 *
 *   add:     y = a + b                            (its backward is dy to both)
 *   add+ReLU (fused on the fast path): y = max(a + b, 0), backward dy * (y > 0) to both
 *   concat:  y[n,q,off_i + c] = x_i[n,q,c],   dx_i[n,q,c] = dy[n,q,off_i + c]
 *
 * An add's y may be stored as bf16 (where every reader is a convolution on
 * bf16, which would round it so anyway): the sum rounded as bf16.h rounds,
 * and the ReLU's backward masks by the stored y (a sum within 2^-134 of 0,
 * stored as 0, has its gradient cut where the float y would pass it).
 *
 * All memory bound. Concat walks the N*HW positions (threaded when large); at
 * each it copies the k contiguous channel runs, vectorised, so both sides are
 * read and written in order. */
#include "core/core.h"
#include "ops/fast/bf16.h"
#include "ops/ops.h"

/* below this many elements one thread does the work */
#define MERGE_PARALLEL_MIN 32768

/* a (count), b (count) -> y (count); y may alias a or b */
void cnn_fast_add_forward(size_t count, const float *a, const float *b, float *y)
{
#pragma omp parallel for simd schedule(static) if (count >= MERGE_PARALLEL_MIN)
    for (size_t i = 0; i < count; i++)
        y[i] = a[i] + b[i];
}

void cnn_fast_add_relu_forward(size_t count, const float *a, const float *b, float *y)
{
#pragma omp parallel for simd schedule(static) if (count >= MERGE_PARALLEL_MIN)
    for (size_t i = 0; i < count; i++) {
        float v = a[i] + b[i];
        y[i] = v < 0.0f ? 0.0f : v;
    }
}

/* g to dy and each dx that is not dy itself. */
static inline void add_grad_out(size_t i, float g, float *dy, float *d0, float *d1)
{
    dy[i] = g;
    if (d0)
        d0[i] = g;
    if (d1)
        d1[i] = g;
}

/* g = dy where y > 0, else 0, written to each dx that is not dy itself (and to
 * dy when one of them is): one pass over the three or four arrays. */
void cnn_fast_add_relu_backward(size_t count, const float *y, float *dy, float *const dx[2])
{
    float *d0 = dx[0] && dx[0] != dy ? dx[0] : NULL, *d1 = dx[1] && dx[1] != dy ? dx[1] : NULL;
#pragma omp parallel for simd schedule(static) if (count >= MERGE_PARALLEL_MIN)
    for (size_t i = 0; i < count; i++)
        add_grad_out(i, y[i] > 0.0f ? dy[i] : 0.0f, dy, d0, d1);
}

/* a (count), b (count) -> y16 (count bf16), max(a + b, 0) with relu, and the
 * float sum into y as well unless y is NULL (a bf16 copy beside a float y);
 * y may alias a or b, y16 neither. 16 at a time with AVX-512 (vec of them),
 * the rest plainly; VMAXPS with 0 first is `v < 0 ? 0 : v` exactly (-0 and
 * NaN pass as v). */
void cnn_fast_add_forward_bf16(size_t count, int relu, const float *a, const float *b, float *y,
                               uint16_t *y16)
{
    size_t vec = 0;
#ifdef __AVX512F__
    vec = count / 16 * 16;
#pragma omp parallel for schedule(static) if (count >= MERGE_PARALLEL_MIN)
    for (size_t i = 0; i < vec; i += 16) {
        __m512 v = _mm512_add_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
        v = relu ? _mm512_max_ps(_mm512_setzero_ps(), v) : v;
        if (y)
            _mm512_storeu_ps(y + i, v);
        cnn_bf16_store16(v, y16 + i);
    }
#endif
    for (size_t i = vec; i < count; i++) {
        float v = a[i] + b[i];
        v = relu && v < 0.0f ? 0.0f : v;
        if (y)
            y[i] = v;
        y16[i] = cnn_bf16_from_float(v);
    }
}

/* cnn_fast_add_relu_backward with y stored as bf16. */
void cnn_fast_add_relu_backward_bf16(size_t count, const uint16_t *y, float *dy,
                                     float *const dx[2])
{
    float *d0 = dx[0] && dx[0] != dy ? dx[0] : NULL, *d1 = dx[1] && dx[1] != dy ? dx[1] : NULL;
    size_t vec = 0;
#ifdef __AVX512F__
    vec = count / 16 * 16;
#pragma omp parallel for schedule(static) if (count >= MERGE_PARALLEL_MIN)
    for (size_t i = 0; i < vec; i += 16) {
        __m512 d = _mm512_loadu_ps(dy + i);
        __asm__("" : "+v"(d)); /* dy loaded whole, then selected (see batchnorm.c) */
        const __m512 g = _mm512_maskz_mov_ps(
            _mm512_cmp_ps_mask(cnn_bf16_load16(y + i), _mm512_setzero_ps(), _CMP_GT_OQ), d);
        _mm512_storeu_ps(dy + i, g);
        if (d0)
            _mm512_storeu_ps(d0 + i, g);
        if (d1)
            _mm512_storeu_ps(d1 + i, g);
    }
#endif
    for (size_t i = vec; i < count; i++)
        add_grad_out(i, cnn_bf16_to_float(y[i]) > 0.0f ? dy[i] : 0.0f, dy, d0, d1);
}

void cnn_fast_add_backward(size_t count, const float *dy, float *const dx[2])
{
    for (int k = 0; k < 2; k++) {
        float *d = dx[k];
        if (!d || d == dy)
            continue;
#pragma omp parallel for simd schedule(static) if (count >= MERGE_PARALLEL_MIN)
        for (size_t i = 0; i < count; i++)
            d[i] = dy[i];
    }
}

static int total_channels(int k, const int *c)
{
    int ct = 0;
    for (int i = 0; i < k; i++) {
        CNN_ASSERT(c[i] > 0);
        ct += c[i];
    }
    return ct;
}

/* c (k), x[i] (N,HW,c[i]) -> y (N,HW,sum c) */
void cnn_fast_concat_forward(int n, int hw, int k, const int *c, const float *const *x, float *y)
{
    const int ct = total_channels(k, c);
    const size_t pos = (size_t)n * hw;
#pragma omp parallel for schedule(static) if (pos * ct >= MERGE_PARALLEL_MIN)
    for (size_t q = 0; q < pos; q++) {
        float *yq = y + q * ct;
        for (int i = 0; i < k; i++) {
            const int ci = c[i];
            const float *xq = x[i] + q * ci;
#pragma omp simd
            for (int ch = 0; ch < ci; ch++)
                yq[ch] = xq[ch];
            yq += ci;
        }
    }
}

/* c (k), dy (N,HW,sum c) -> dx[i] (N,HW,c[i]); a NULL dx[i] is skipped */
void cnn_fast_concat_backward(int n, int hw, int k, const int *c, const float *dy,
                              float *const *dx)
{
    const int ct = total_channels(k, c);
    const size_t pos = (size_t)n * hw;
#pragma omp parallel for schedule(static) if (pos * ct >= MERGE_PARALLEL_MIN)
    for (size_t q = 0; q < pos; q++) {
        const float *dyq = dy + q * ct;
        for (int i = 0; i < k; i++) {
            const int ci = c[i];
            if (dx[i]) {
                float *dxq = dx[i] + q * ci;
#pragma omp simd
                for (int ch = 0; ch < ci; ch++)
                    dxq[ch] = dyq[ch];
            }
            dyq += ci;
        }
    }
}
