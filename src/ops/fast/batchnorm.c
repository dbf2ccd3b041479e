/* batchnorm.c: fast batch normalisation over (M,C) rows, channels innermost,
 * with an optional fused ReLU or GELU after it. Same semantics as
 * ref/batchnorm.c followed by ref/activation.c:
 *
 * train:    mean, var (biased) per channel; invstd = 1/sqrt(var + eps)
 *           z = (x - mean) * (gamma*invstd) + beta,  y = act(z)
 *           running_mean/var updated with momentum (var unbiased: m/(m-1))
 * eval:     y = act((x - running_mean) * gamma/sqrt(running_var + eps) + beta)
 * backward: dy' = dy * act'(z)      (dy is not modified)
 *             ReLU: dy where y > 0, y = max(z, 0) as stored: z recomputed
 *                   as for GELU, not y read (with y stored as bf16, where z
 *                   rounds to a bf16 above 0: relu_live); reading y back
 *                   made the backward 3x slower than without ReLU
 *             GELU: z recomputed from x, mean and invstd as the forward
 *                   computed it (bitwise: the same float expression), since
 *                   y = gelu(z) does not give z back
 *           dbeta = sum dy',  dgamma = sum dy' * xhat,  xhat = (x - mean)*invstd
 *           dx = gamma*invstd * (dy' - dbeta/m - xhat * dgamma/m)
 *
 * Reductions. The M rows split into at most BN_BLOCKS contiguous blocks; a block
 * sums its rows into per-channel partials (pairsum.h: float over PAIRSUM_CHUNK
 * rows, then double over the block, stored as float in the scratch), and the
 * blocks' partials combine in double per channel. The block count depends only on M and C, never
 * on the thread count, so results are bitwise the same with any number of
 * threads. The forward statistics are one pass over x: sums of d = x - K and d^2,
 * with K a per-channel estimate of the mean from the first rows, so that
 * var = E[d^2] - E[d]^2 does not cancel the way E[x^2] - E[x]^2 would.
 *
 * With g->sync (--sync-bn) the statistics and the backward's two sums are the
 * whole batch's, over every rank's rows (ops/bn_sync.c): each rank's partials
 * are combined as above, exchanged between two parallel regions, and the
 * last pass runs on the combined values.
 *
 * Passes over memory: forward train 2 reads of x + 1 write of y; backward 2
 * reads of x, dy (and y with ReLU) + 1 write of dx. With GELU the backward's
 * first pass writes dy' into dx and the second reads it back in place of dy,
 * so gelu' is evaluated once per element.
 *
 * With g->x_bf16 / g->y_bf16 the tensors x / y are stored as bf16 (bf16.h):
 * each row piece is converted on the stack and the float code runs on it, so
 * the results are those of the same values stored as floats (dy is always
 * floats). With g->dx_bf16 (not with GELU) each piece of dx is computed in
 * floats and rounded as it is written, as the convolution before it would
 * round its dy. Rows are handled in pieces of BN_SLICE channels. With
 * g->y_copy (y floats) the forward writes each row of y again as bf16
 * there.
 *
 * Scratch (cnn_fast_batchnorm_scratch_floats(c) floats, no alignment assumed;
 * its size depends on C alone, not on the thread count):
 *   [0, 2*BN_BLOCKS*C)   block partials, block b at 2*b*C: first sum (C), second (C)
 *   then 3*C             per-channel values of the final pass (forward: K and
 *                        gamma*invstd; backward: the three coefficients of dx)
 * Nothing in it survives from one call to the next. */
#include <math.h>
#include <string.h>

#include "core/core.h"
#include "ops/fast/bf16.h"
#include "ops/fast/fast.h"
#include "ops/fast/pairsum.h"
#include "ops/ops.h"

#define BN_BLOCKS 64       /* most row blocks of a reduction (sizes the scratch) */
#define BN_BLOCK_MIN 16384 /* fewest elements (rows * C) a block should hold */
#define BN_SLICE PAIRSUM_LANES /* channels a row piece holds */
_Static_assert(BN_SLICE <= CNN_BF16_ROW, "a row piece fits a bf16 conversion buffer");
#define BN_PILOT 32        /* rows averaged into the shift K */

size_t cnn_fast_batchnorm_scratch_floats(int c) { return (size_t)(2 * BN_BLOCKS + 3) * (size_t)c; }

static int block_count(int m, int c)
{
    size_t nb = (size_t)m * (size_t)c / BN_BLOCK_MIN;
    if (nb > BN_BLOCKS)
        nb = BN_BLOCKS;
    if (nb > (size_t)m)
        nb = (size_t)m;
    return nb < 1 ? 1 : (int)nb;
}

static int block_start(int m, int nb, int b) { return (int)((long long)m * b / nb); }

static int parallel_worthwhile(int m, int c) { return (size_t)m * (size_t)c >= 32768; }

/* The shift K (C): the mean of the first rows, close enough to the batch mean. */
static void pilot(const cnn_bn_geom *g, const float *x, float *k)
{
    const int rows = g->m < BN_PILOT ? g->m : BN_PILOT, c = g->c;
    if (!g->x_bf16) {
        cnn_pairsum_pilot(x, rows, (size_t)c, c, k);
        return;
    }
    float tmp[BN_SLICE];
    for (int c0 = 0; c0 < c; c0 += BN_SLICE) { /* cnn_pairsum_pilot's sums, piece by piece */
        const int nc = c - c0 < BN_SLICE ? c - c0 : BN_SLICE;
        for (int j = 0; j < nc; j++)
            k[c0 + j] = 0.0f;
        for (int r = 0; r < rows; r++) {
            const float *xr = cnn_bf16_row(x, 1, (size_t)r * c + c0, (size_t)nc, tmp);
#pragma omp simd
            for (int j = 0; j < nc; j++)
                k[c0 + j] += xr[j];
        }
        for (int j = 0; j < nc; j++)
            k[c0 + j] /= (float)rows;
    }
}

/* The ReLU's y is above 0 exactly where z is above this: 0 on floats, and
 * with y stored as bf16 the largest float that rounds to a bf16 0 (a positive
 * z up to 2^-134 would be stored as 0). */
static float relu_live(const cnn_bn_geom *g)
{
    return g->y_bf16 ? cnn_bits_float(0x00008000u) : 0.0f;
}

#ifdef __AVX512F__
/* The two reductions with their sums in registers: 16 * NV channels from c0
 * over rows [r0, r1), PAIRSUM_CHUNK rows in float, then joined to double, as
 * pairsum.h sums them (the same additions in the same order: the same bits;
 * -std=c11 contracts no a * b + c into a fused multiply-add there either).
 * pairsum.h keeps its partials in memory, a load and a store per vector and
 * row: 1.4-1.7x slower on resnet18's shapes. Rows of x are floats, or bf16
 * with xb. */
#define BN_NV 4 /* vectors of channels a pass holds: 8 sums, 4 loads a row */

static inline __m512 x_vector(const float *x, int xb, size_t off)
{
    return xb ? cnn_bf16_load16((const uint16_t *)(const void *)x + off) : _mm512_loadu_ps(x + off);
}

/* t (16 * nv doubles) += the floats of a. */
static inline void join_double(double *t, const __m512 *a, int nv)
{
    for (int v = 0; v < nv; v++) {
        const __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(a[v]));
        const __m512d hi = _mm512_cvtps_pd(
            _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a[v]), 1)));
        _mm512_storeu_pd(t + 16 * v, _mm512_add_pd(_mm512_loadu_pd(t + 16 * v), lo));
        _mm512_storeu_pd(t + 16 * v + 8, _mm512_add_pd(_mm512_loadu_pd(t + 16 * v + 8), hi));
    }
}

/* s1, s2 (16 * nv floats) = the double sums t1, t2 rounded. */
static inline void sums_out(const double *t1, const double *t2, int nv, float *s1, float *s2)
{
    for (int j = 0; j < 16 * nv; j++) {
        s1[j] = (float)t1[j];
        s2[j] = (float)t2[j];
    }
}

/* dy where z is above live, else 0. In plain C (`z > live ? dy : 0`) gcc
 * loads dy masked by the comparison, and each load then waits for it: the
 * backward ran 3x slower with ReLU than without. So dy comes loaded whole
 * (the empty asm keeps gcc from folding the load into the masked move) and
 * is selected after. */
static inline __m512 relu_select(__m512 dy, __m512 z, __m512 live)
{
    __asm__("" : "+v"(dy));
    return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(z, live, _CMP_GT_OQ), dy);
}

/* Over rows [r0, r1), channels c0 .. c0 + 16 nv, with xm = x - k: the
 * statistics (grad 0; dy, scale, beta unread) s1 += xm, s2 += xm^2; the
 * backward's sums (grad 1) s1 += d, s2 += d * xm, where d = dy, or with ReLU
 * dy where z = xm * scale + beta is above live, else 0 (k is then the mean).
 * grad is a constant at each call, so each copy has no test of it. */
static inline __attribute__((always_inline)) void sums_pass(
    const float *x, int xb, int grad, const float *dy, int relu, float live, int c, int r0,
    int r1, int c0, int nv, const float *k, const float *scale, const float *beta, float *s1,
    float *s2)
{
    double t1[16 * BN_NV] = {0}, t2[16 * BN_NV] = {0};
    __m512 kv[BN_NV], sv[BN_NV], bv[BN_NV];
    const __m512 lv = _mm512_set1_ps(live);
    for (int v = 0; v < nv; v++) {
        kv[v] = _mm512_loadu_ps(k + c0 + 16 * v);
        sv[v] = relu ? _mm512_loadu_ps(scale + c0 + 16 * v) : _mm512_setzero_ps();
        bv[v] = relu ? _mm512_loadu_ps(beta + c0 + 16 * v) : _mm512_setzero_ps();
    }
    for (int rr = r0; rr < r1; rr += PAIRSUM_CHUNK) {
        const int re = r1 - rr < PAIRSUM_CHUNK ? r1 : rr + PAIRSUM_CHUNK;
        __m512 a1[BN_NV], a2[BN_NV];
        for (int v = 0; v < nv; v++)
            a1[v] = a2[v] = _mm512_setzero_ps();
        for (int r = rr; r < re; r++)
            for (int v = 0; v < nv; v++) {
                const size_t o = (size_t)r * c + c0 + 16 * v;
                const __m512 xm = _mm512_sub_ps(x_vector(x, xb, o), kv[v]);
                __m512 d = xm;
                if (grad) {
                    d = _mm512_loadu_ps(dy + o);
                    if (relu)
                        d = relu_select(d, _mm512_add_ps(_mm512_mul_ps(xm, sv[v]), bv[v]), lv);
                }
                a1[v] = _mm512_add_ps(a1[v], d);
                a2[v] = _mm512_add_ps(a2[v], _mm512_mul_ps(d, xm));
            }
        join_double(t1, a1, nv);
        join_double(t2, a2, nv);
    }
    sums_out(t1, t2, nv, s1 + c0, s2 + c0);
}

/* sums_pass over all c channels (c in 16s), BN_NV vectors a pass, then one;
 * inlined into each caller with its constant grad. */
static inline __attribute__((always_inline)) void sums_vec(
    const float *x, int xb, int grad, const float *dy, int relu, float live, int c, int r0,
    int r1, const float *k, const float *scale, const float *beta, float *s1, float *s2)
{
    int c0 = 0;
    for (; c0 + 16 * BN_NV <= c; c0 += 16 * BN_NV)
        sums_pass(x, xb, grad, dy, relu, live, c, r0, r1, c0, BN_NV, k, scale, beta, s1, s2);
    for (; c0 < c; c0 += 16)
        sums_pass(x, xb, grad, dy, relu, live, c, r0, r1, c0, 1, k, scale, beta, s1, s2);
}
#endif

/* Rows [r0, r1) of x (M,C): s1 (C) = sum (x - k), s2 (C) = sum (x - k)^2. */
static void block_moments(const float *x, int xb, int c, int r0, int r1, const float *k,
                          float *s1, float *s2)
{
#ifdef __AVX512F__
    if (c % 16 == 0) {
        sums_vec(x, xb, 0, NULL, 0, 0.0f, c, r0, r1, k, NULL, NULL, s1, s2);
        return;
    }
#endif
    cnn_pairsum acc;
    float tmp[BN_SLICE];
    for (int c0 = 0; c0 < c; c0 += BN_SLICE) {
        const int nc = c - c0 < BN_SLICE ? c - c0 : BN_SLICE;
        cnn_pairsum_start(&acc, nc);
        for (int r = r0; r < r1; r++)
            cnn_pairsum_add_shifted(&acc, cnn_bf16_row(x, xb, (size_t)r * c + c0, (size_t)nc, tmp),
                                    k + c0);
        cnn_pairsum_flush(&acc);
        for (int j = 0; j < nc; j++) {
            s1[c0 + j] = (float)acc.t1[j];
            s2[c0 + j] = (float)acc.t2[j];
        }
    }
}

/* Every block's moments into part, the blocks split among the running threads
 * (call inside a parallel region). */
static void blocks_moments(const cnn_bn_geom *g, const float *x, int nb, const float *shift,
                           float *part)
{
    const int m = g->m, c = g->c;
#pragma omp for schedule(static)
    for (int b = 0; b < nb; b++)
        block_moments(x, g->x_bf16, c, block_start(m, nb, b), block_start(m, nb, b + 1), shift,
                      part + (size_t)2 * b * c, part + (size_t)2 * b * c + c);
}

/* d (n) = dy where z = (x - mean) * scale + beta is above live, else 0
 * (with AVX-512 by relu_select, the plain loop's comparison being slow). */
static inline void relu_grad(int n, float live, const float *x, const float *mean,
                             const float *scale, const float *beta, const float *dy, float *d)
{
    int j = 0;
#ifdef __AVX512F__
    const __m512 lv = _mm512_set1_ps(live);
    for (; j + 16 <= n; j += 16) {
        const __m512 z = _mm512_add_ps(
            _mm512_mul_ps(_mm512_sub_ps(_mm512_loadu_ps(x + j), _mm512_loadu_ps(mean + j)),
                          _mm512_loadu_ps(scale + j)),
            _mm512_loadu_ps(beta + j));
        _mm512_storeu_ps(d + j, relu_select(_mm512_loadu_ps(dy + j), z, lv));
    }
#endif
    for (; j < n; j++)
        d[j] = (x[j] - mean[j]) * scale[j] + beta[j] > live ? dy[j] : 0.0f;
}

/* Rows [r0, r1): with dy' = dy * act'(z), z = (x - mean) * scale + beta (with
 * GELU dy' also written to dact when not NULL), s1 (C) = sum dy', s2 (C) =
 * sum dy' * (x - mean). */
static void block_grad_sums(const cnn_bn_geom *g, const float *x, const float *dy, cnn_act act,
                            int r0, int r1, const float *mean, const float *scale,
                            const float *beta, float *dact, float *s1, float *s2)
{
    const int c = g->c;
#ifdef __AVX512F__
    if (act != CNN_ACT_GELU && c % 16 == 0) {
        sums_vec(x, g->x_bf16, 1, dy, act == CNN_ACT_RELU, relu_live(g), c, r0, r1, mean,
                 scale, beta, s1, s2);
        return;
    }
#endif
    const float live = relu_live(g);
    cnn_pairsum acc;
    float xt[BN_SLICE];
    for (int c0 = 0; c0 < c; c0 += BN_SLICE) {
        const int nc = c - c0 < BN_SLICE ? c - c0 : BN_SLICE;
        const float *mr = mean + c0, *kr = scale + c0, *br = beta + c0;
        cnn_pairsum_start(&acc, nc);
        for (int r = r0; r < r1; r++) {
            const size_t o = (size_t)r * c + c0;
            const float *xr = cnn_bf16_row(x, g->x_bf16, o, (size_t)nc, xt), *dyr = dy + o;
            float d[BN_SLICE];
            if (act == CNN_ACT_GELU) {
#pragma omp simd
                for (int j = 0; j < nc; j++)
                    d[j] = (xr[j] - mr[j]) * kr[j] + br[j];
                cnn_fast_gelu_grad((size_t)nc, d, dyr, d);
                if (dact)
                    memcpy(dact + o, d, (size_t)nc * sizeof *d);
            } else if (act == CNN_ACT_RELU) {
                relu_grad(nc, live, xr, mr, kr, br, dyr, d);
            }
            cnn_pairsum_add(&acc, act == CNN_ACT_NONE ? dyr : d, xr, mr);
        }
        cnn_pairsum_flush(&acc);
        for (int j = 0; j < nc; j++) {
            s1[c0 + j] = (float)acc.t1[j];
            s2[c0 + j] = (float)acc.t2[j];
        }
    }
}

/* Sums channel ch's two partials over the nb blocks, in double. */
static void combine(const float *part, int c, int nb, int ch, double *s1, double *s2)
{
    double a = 0, b = 0;
    for (int i = 0; i < nb; i++) {
        a += part[(size_t)2 * i * c + ch];
        b += part[(size_t)2 * i * c + c + ch];
    }
    *s1 = a;
    *s2 = b;
}

/* One row of n channels: y = act((x - mean) * scale + beta). */
static inline void normalise_row(int n, cnn_act act, const float *x, const float *mean,
                                 const float *scale, const float *beta, float *y)
{
    if (act == CNN_ACT_RELU) {
#pragma omp simd
        for (int j = 0; j < n; j++) {
            float v = (x[j] - mean[j]) * scale[j] + beta[j];
            y[j] = v < 0.0f ? 0.0f : v;
        }
        return;
    }
#pragma omp simd
    for (int j = 0; j < n; j++)
        y[j] = (x[j] - mean[j]) * scale[j] + beta[j];
    if (act == CNN_ACT_GELU)
        cnn_fast_gelu((size_t)n, y, y);
}

/* Channels [c0, c0 + n) of row r: y = act((x - mean) * scale + beta), mean,
 * scale and beta starting at channel c0. */
static inline void normalise_piece(const cnn_bn_geom *g, cnn_act act, const float *x, int r,
                                   int c0, int n, const float *mean, const float *scale,
                                   const float *beta, float *y)
{
    float xt[BN_SLICE], yt[BN_SLICE];
    const size_t o = (size_t)r * g->c + c0;
    float *yr = cnn_bf16_out(y, g->y_bf16, o, yt);
    normalise_row(n, act, cnn_bf16_row(x, g->x_bf16, o, (size_t)n, xt), mean, scale, beta, yr);
    cnn_bf16_out_done(y, g->y_bf16, o, (size_t)n, yt);
    if (g->y_copy)
        cnn_bf16_store(yr, (size_t)n, (uint16_t *)g->y_copy + o);
}

/* y (M,C) = act((x - mean) * scale + beta), rows split among the running threads
 * (call inside a parallel region). */
static void normalise_rows(const cnn_bn_geom *g, cnn_act act, const float *x, const float *mean,
                           const float *scale, const float *beta, float *y)
{
    const int m = g->m, c = g->c;
    if (!g->x_bf16 && !g->y_bf16) {
#pragma omp for schedule(static)
        for (int r = 0; r < m; r++) {
            normalise_row(c, act, x + (size_t)r * c, mean, scale, beta, y + (size_t)r * c);
            if (g->y_copy)
                cnn_bf16_store(y + (size_t)r * c, (size_t)c,
                               (uint16_t *)g->y_copy + (size_t)r * c);
        }
        return;
    }
    CNN_ASSERT(!g->y_copy || !g->y_bf16); /* (a copy of floats) */
#pragma omp for schedule(static)
    for (int r = 0; r < m; r++)
        for (int c0 = 0; c0 < c; c0 += BN_SLICE)
            normalise_piece(g, act, x, r, c0, c - c0 < BN_SLICE ? c - c0 : BN_SLICE, mean + c0,
                            scale + c0, beta + c0, y);
}

static int act_supported(cnn_act act)
{
    return act == CNN_ACT_NONE || act == CNN_ACT_RELU || act == CNN_ACT_GELU;
}

/* Channel ch's batch statistics (mean, biased var over rows rows) saved, its
 * scale, and its running estimates updated. */
static void statistics(const cnn_bn_geom *g, int ch, double mean, double var, double rows,
                       const float *gamma, float *save_mean, float *save_invstd, float *scale,
                       float *running_mean, float *running_var)
{
    if (var < 0.0)
        var = 0.0;
    double invstd = 1.0 / sqrt(var + g->eps);
    save_mean[ch] = (float)mean;
    save_invstd[ch] = (float)invstd;
    /* from the saved invstd, as the backward recomputes it */
    scale[ch] = (float)(gamma[ch] * (double)save_invstd[ch]);
    double unbiased = rows > 1 ? var * rows / (rows - 1) : var;
    double mom = g->momentum;
    running_mean[ch] = (float)((1.0 - mom) * running_mean[ch] + mom * mean);
    running_var[ch] = (float)((1.0 - mom) * running_var[ch] + mom * unbiased);
}

/* The forward with g->sync: this rank's moments, the exchange between the
 * ranks (outside any parallel region), then the whole batch's statistics. */
static void forward_train_sync(const cnn_bn_geom *g, cnn_act act, const float *x,
                               const float *gamma, const float *beta, float *y, float *save_mean,
                               float *save_invstd, float *running_mean, float *running_var,
                               float *scratch)
{
    const int m = g->m, c = g->c, nb = block_count(m, c);
    float *part = scratch, *shift = scratch + (size_t)2 * BN_BLOCKS * c, *scale = shift + c;
    double *v = cnn_bn_sync_values(g);
#pragma omp parallel if (parallel_worthwhile(m, c))
    {
        blocks_moments(g, x, nb, shift, part);
#pragma omp for schedule(static)
        for (int ch = 0; ch < c; ch++) {
            double s1, s2;
            combine(part, c, nb, ch, &s1, &s2);
            double dmean = s1 / m, m2 = s2 - s1 * dmean;
            v[ch] = shift[ch] + dmean;
            v[c + ch] = m2 > 0.0 ? m2 : 0.0;
        }
    }
    double rows = cnn_bn_sync_moments(g);
    for (int ch = 0; ch < c; ch++)
        statistics(g, ch, v[ch], v[c + ch], rows, gamma, save_mean, save_invstd, scale,
                   running_mean, running_var);
#pragma omp parallel if (parallel_worthwhile(m, c))
    normalise_rows(g, act, x, save_mean, scale, beta, y);
}

/* x (M,C), gamma, beta (C) -> y (M,C); save_mean, save_invstd (C) written;
 * running_mean, running_var (C) updated; scratch as above. */
void cnn_fast_batchnorm_forward_train(const cnn_bn_geom *g, cnn_act act, const float *x,
                                      const float *gamma, const float *beta, float *y,
                                      float *save_mean, float *save_invstd, float *running_mean,
                                      float *running_var, float *scratch)
{
    CNN_ASSERT(act_supported(act));
    CNN_ASSERT(g->m >= 1 && g->c >= 1 && scratch);
    const int m = g->m, c = g->c, nb = block_count(m, c);
    float *part = scratch, *shift = scratch + (size_t)2 * BN_BLOCKS * c, *scale = shift + c;

    pilot(g, x, shift);

    if (g->sync) {
        forward_train_sync(g, act, x, gamma, beta, y, save_mean, save_invstd, running_mean,
                           running_var, scratch);
        return;
    }
#pragma omp parallel if (parallel_worthwhile(m, c))
    {
        blocks_moments(g, x, nb, shift, part);
#pragma omp for schedule(static)
        for (int ch = 0; ch < c; ch++) {
            double s1, s2;
            combine(part, c, nb, ch, &s1, &s2);
            double dmean = s1 / m; /* mean - K */
            double var = s2 / m - dmean * dmean;
            statistics(g, ch, shift[ch] + dmean, var, m, gamma, save_mean, save_invstd, scale,
                       running_mean, running_var);
        }
        normalise_rows(g, act, x, save_mean, scale, beta, y);
    }
}

/* x (M,C), gamma, beta, running_mean, running_var (C) -> y (M,C). Needs no
 * scratch: each thread derives the per-channel scale and shift for a slice of
 * channels on its stack. */
void cnn_fast_batchnorm_forward_eval(const cnn_bn_geom *g, cnn_act act, const float *x,
                                     const float *gamma, const float *beta,
                                     const float *running_mean, const float *running_var,
                                     float *y)
{
    CNN_ASSERT(act_supported(act));
    const int m = g->m, c = g->c;
#pragma omp parallel if (parallel_worthwhile(m, c))
    {
        float scale[BN_SLICE];
        for (int c0 = 0; c0 < c; c0 += BN_SLICE) {
            const int nc = c - c0 < BN_SLICE ? c - c0 : BN_SLICE;
            for (int j = 0; j < nc; j++)
                scale[j] = (float)(gamma[c0 + j] / sqrt((double)running_var[c0 + j] + g->eps));
            const float *mean = running_mean + c0, *b = beta + c0;
#pragma omp for schedule(static)
            for (int r = 0; r < m; r++)
                normalise_piece(g, act, x, r, c0, nc, mean, scale, b, y);
        }
    }
}

/* n channels of one row: dx = ka * (dy' - kd - (x - mean) * kb), dy' as
 * block_grad_sums made it (with GELU it is in dx already; with ReLU z is
 * (x - mean) * ka + beta, ka the forward's scale). */
static inline void dx_piece(int n, cnn_act act, float live, const float *xr, const float *dyr,
                            const float *mean, const float *beta, const float *ka,
                            const float *kb, const float *kd, float *dxr)
{
    if (act == CNN_ACT_GELU) {
#pragma omp simd
        for (int j = 0; j < n; j++)
            dxr[j] = ka[j] * (dxr[j] - kd[j] - (xr[j] - mean[j]) * kb[j]);
    } else if (act == CNN_ACT_RELU) {
        for (int j0 = 0; j0 < n; j0 += BN_SLICE) {
            const int m = n - j0 < BN_SLICE ? n - j0 : BN_SLICE;
            float d[BN_SLICE];
            relu_grad(m, live, xr + j0, mean + j0, ka + j0, beta + j0, dyr + j0, d);
#pragma omp simd
            for (int j = 0; j < m; j++)
                dxr[j0 + j] = ka[j0 + j] *
                              (d[j] - kd[j0 + j] - (xr[j0 + j] - mean[j0 + j]) * kb[j0 + j]);
        }
    } else {
#pragma omp simd
        for (int j = 0; j < n; j++)
            dxr[j] = ka[j] * (dyr[j] - kd[j] - (xr[j] - mean[j]) * kb[j]);
    }
}

/* dx (M,C) by dx_piece, rows split among the running threads (call inside a
 * parallel region). dx NULL: nothing. */
static void dx_rows(const cnn_bn_geom *g, cnn_act act, const float *x, const float *beta,
                    const float *dy, const float *save_mean, const float *ka, const float *kb,
                    const float *kd, float *dx)
{
    if (!dx)
        return;
    const int m = g->m, c = g->c;
    const float live = relu_live(g);
    if (!g->x_bf16 && !g->dx_bf16) {
#pragma omp for schedule(static)
        for (int r = 0; r < m; r++) {
            const size_t o = (size_t)r * c;
            dx_piece(c, act, live, x + o, dy + o, save_mean, beta, ka, kb, kd, dx + o);
        }
        return;
    }
#pragma omp for schedule(static)
    for (int r = 0; r < m; r++)
        for (int c0 = 0; c0 < c; c0 += BN_SLICE) {
            const int nc = c - c0 < BN_SLICE ? c - c0 : BN_SLICE;
            const size_t o = (size_t)r * c + c0;
            float xt[BN_SLICE], dt[BN_SLICE];
            dx_piece(nc, act, live, cnn_bf16_row(x, g->x_bf16, o, (size_t)nc, xt), dy + o,
                     save_mean + c0, beta + c0, ka + c0, kb + c0, kd + c0,
                     g->dx_bf16 ? dt : dx + o);
            if (g->dx_bf16)
                cnn_bf16_store(dt, (size_t)nc, (uint16_t *)(void *)dx + o);
        }
}

/* x (M,C), gamma, beta (read only with an activation), save_mean,
 * save_invstd (C), dy (M,C) -> dx (M,C), dgamma (C), dbeta (C), each may be
 * NULL. */
void cnn_fast_batchnorm_backward(const cnn_bn_geom *g, cnn_act act, const float *x,
                                 const float *gamma, const float *beta,
                                 const float *save_mean, const float *save_invstd,
                                 const float *dy, float *dx, float *dgamma, float *dbeta,
                                 float *scratch)
{
    CNN_ASSERT(act_supported(act));
    CNN_ASSERT(g->m >= 1 && g->c >= 1 && scratch);
    CNN_ASSERT(!(g->dx_bf16 && act == CNN_ACT_GELU));
    const int m = g->m, c = g->c, nb = block_count(m, c);
    float *part = scratch;
    /* dx = ka * (dy' - kd - (x - mean)*kb): the small differences first, then
     * the gain gamma*invstd, which can be large */
    float *ka = scratch + (size_t)2 * BN_BLOCKS * c, *kb = ka + c, *kd = kb + c;

    double *v = g->sync ? cnn_bn_sync_values(g) : NULL;
#pragma omp parallel if (parallel_worthwhile(m, c))
    {
        /* the forward's scale (z needs it with an activation) */
#pragma omp for schedule(static)
        for (int ch = 0; ch < c; ch++)
            ka[ch] = (float)(gamma[ch] * (double)save_invstd[ch]);
#pragma omp for schedule(static)
        for (int b = 0; b < nb; b++)
            block_grad_sums(g, x, dy, act, block_start(m, nb, b), block_start(m, nb, b + 1),
                            save_mean, ka, beta, dx, part + (size_t)2 * b * c,
                            part + (size_t)2 * b * c + c);
#pragma omp for schedule(static)
        for (int ch = 0; ch < c; ch++) {
            double sdy, sdyxm;
            combine(part, c, nb, ch, &sdy, &sdyxm);
            double invstd = save_invstd[ch];
            double sdyx = sdyxm * invstd; /* sum dy' * xhat */
            if (dbeta)
                dbeta[ch] = (float)sdy;
            if (dgamma)
                dgamma[ch] = (float)sdyx;
            if (v) { /* dx waits for the whole batch's sums */
                v[ch] = sdy;
                v[c + ch] = sdyx;
                continue;
            }
            kb[ch] = (float)(invstd * sdyx / m);
            kd[ch] = (float)(sdy / m);
        }
        if (!v)
            dx_rows(g, act, x, beta, dy, save_mean, ka, kb, kd, dx);
    }
    if (!v)
        return;
    double rows = cnn_bn_sync_sums(g); /* the whole batch's sums, this rank's scale */
    for (int ch = 0; ch < c; ch++) {
        kb[ch] = (float)(save_invstd[ch] * v[c + ch] / rows);
        kd[ch] = (float)(v[ch] / rows);
    }
#pragma omp parallel if (parallel_worthwhile(m, c))
    dx_rows(g, act, x, beta, dy, save_mean, ka, kb, kd, dx);
}

void cnn_fast_batchnorm_fold(int oc, size_t per_oc, float eps, const float *w, const float *b,
                             const float *gamma, const float *beta, const float *running_mean,
                             const float *running_var, float *wf, float *bf)
{
#pragma omp parallel for schedule(static) if ((size_t)oc * per_oc >= 65536)
    for (int o = 0; o < oc; o++) {
        /* the scale in the same arithmetic as cnn_fast_batchnorm_forward_eval */
        const float s = (float)(gamma[o] / sqrt((double)running_var[o] + eps));
        const float *wo = w + (size_t)o * per_oc;
        float *fo = wf + (size_t)o * per_oc;
#pragma omp simd
        for (size_t k = 0; k < per_oc; k++)
            fo[k] = wo[k] * s;
        bf[o] = beta[o] + ((b ? b[o] : 0.0f) - running_mean[o]) * s;
    }
}
