/* groupnorm.c: fast per-sample normalisation (GroupNorm, InstanceNorm2d,
 * LayerNorm([C,H,W])) on NHWC x (N, HW, C), channels innermost. Same semantics
 * as ref/groupnorm.c:
 *
 * forward:  mean, var (biased) per (n, g); invstd = 1/sqrt(var + eps)
 *           y = (x - mean) * (gamma*invstd) + beta          (per channel)
 *           y = (x - mean) * invstd * gamma[i] + beta[i]    (per element, i = p*C + c)
 * backward: with gdy = gamma*dy, A = sum gdy, B = sum gdy*(x - mean) per (n, g),
 *           M = HW * C/G values in a group:
 *           dx = invstd * (gamma*dy - kd - (x - mean)*kb),  kd = A/M,  kb = invstd^2*B/M
 *           (the differences first, then the gain invstd, which can be large: a
 *           group of one value gets exactly dx = 0)
 *           dbeta = sum dy,  dgamma = sum dy*(x - mean)*invstd  (over n, and p per channel)
 *
 * Work items. A sample's groups are cut into S slices of whole groups (S
 * depends on the shape alone: more slices when N is small, each at least a
 * cache line of channels wide), and the N*S items (n, slice) are shared among
 * the threads. An item does everything its groups need: the forward's
 * statistics and normalisation, the backward's sums and dx (per channel), the
 * second sweep finding the item's data in cache.
 *
 * Statistics: one pass over x. Each channel's pixels are summed as d = x - K
 * (pairsum.h: float over 32 pixels, then double), K the mean of the channel's
 * first GN_PILOT pixels, giving the channel's mean and sum of squared deviations
 * without the cancellation of E[x^2] - E[x]^2; the channels of a group then
 * combine in double, in channel order, by the pairwise update of Chan et al.
 * (within-channel plus between-channel spread). Every number depends only on
 * the shape and the data, never on the slicing or the thread count, so results
 * are bitwise the same with any number of threads.
 *
 * Backward: pass 1 (per item) sums A and B per (n, g), and per channel the
 * sample's share of dbeta and dgamma; pass 2, on the same item while it is in
 * cache, writes dx. Per channel the parameter gradients are then the shares
 * summed over n (in double, in sample order). Per element (LayerNorm) the
 * samples form at most GN_BLOCKS contiguous blocks (a count fixed by N alone);
 * a block's samples run in order on one thread, whose pass 2 also adds each
 * sample's dy and dy*xhat into the block's partial dbeta, dgamma (float); the
 * partials then combine in double, in block order.
 *
 * Memory traffic: forward one read of x (its second sweep from cache) and one
 * write of y; backward one read of x and dy and one write of dx, plus per
 * element the partials (2*HW*C floats per block). A sample is one item when
 * there is one group (LayerNorm), so a batch of fewer samples than threads
 * leaves threads idle there.
 *
 * Scratch (cnn_fast_groupnorm_scratch_floats(g) floats, no alignment assumed,
 * nothing kept between calls): four (N, C) arrays of per-channel copies of
 * group values: mean, invstd, kd, kb; then per channel two (N, C) arrays: the
 * sample's dbeta share sum_p dy and dgamma share sum_p dy*xhat; per element
 * the blocks' partials, block b's dbeta (HW*C) then dgamma (HW*C) at
 * 2*b*HW*C. Its size depends on the geometry alone, never on the thread count. */
#include <math.h>

#include "core/core.h"
#include "ops/fast/pairsum.h"
#include "ops/ops.h"

#define GN_LANES PAIRSUM_LANES /* channels a pixel sweep handles at a time */
#define GN_PILOT 8            /* pixels averaged into a channel's shift K */
#define GN_ITEMS 64           /* items the batch is cut into, when the groups allow it */
#define GN_MIN_WIDTH 16       /* fewest channels of a slice (one cache line) */
#define GN_BLOCKS 16          /* most sample blocks of a per-element backward */
#define GN_PARALLEL_MIN 32768 /* fewest elements worth starting threads for */

/* Per element: how many sample blocks share the parameter gradient partials. */
static int element_blocks(const cnn_gn_geom *g) { return g->n < GN_BLOCKS ? g->n : GN_BLOCKS; }

size_t cnn_fast_groupnorm_scratch_floats(const cnn_gn_geom *g)
{
    const size_t nc = (size_t)g->n * (size_t)g->c;
    if (g->per_element)
        return 4 * nc + 2 * (size_t)element_blocks(g) * (size_t)g->hw * (size_t)g->c;
    return 6 * nc;
}

static void check_geom(const cnn_gn_geom *g)
{
    CNN_ASSERT(g->n >= 1 && g->hw >= 1 && g->c >= 1 && g->groups >= 1 && g->c % g->groups == 0);
}

static int min_int(int a, int b) { return a < b ? a : b; }

/* Slices per sample: enough items for the threads when N is small, each slice
 * whole groups and at least GN_MIN_WIDTH channels wide where C allows. */
static int slice_count(const cnn_gn_geom *g)
{
    int s = (GN_ITEMS + g->n - 1) / g->n;
    s = min_int(s, g->c / GN_MIN_WIDTH);
    s = min_int(s, g->groups);
    return s < 1 ? 1 : s;
}

/* First group of slice s of S. */
static int slice_group(const cnn_gn_geom *g, int slices, int s)
{
    return (int)((long long)g->groups * s / slices);
}

static int parallel_worthwhile(const cnn_gn_geom *g)
{
    return (size_t)g->n * (size_t)g->hw * (size_t)g->c >= GN_PARALLEL_MIN;
}

/* Running mean and sum of squared deviations of a group, fed one channel at a
 * time (Chan, Golub and LeVeque's pairwise update). */
typedef struct gn_moments {
    double count, mean, m2;
} gn_moments;

static void moments_add(gn_moments *a, double count, double mean, double m2)
{
    const double total = a->count + count, delta = mean - a->mean;
    a->mean += delta * (count / total);
    a->m2 += m2 + delta * delta * (a->count * count / total);
    a->count = total;
}

/* One sample xs (HW,C), channels [c0, c0+nc): mean (nc) and m2 (nc) = sum over
 * the pixels of (x - mean)^2, in double, from one pass of shifted sums. */
static void channel_moments(const float *xs, int hw, int c, int c0, int nc, double *mean,
                            double *m2)
{
    float k[GN_LANES];
    cnn_pairsum acc;
    cnn_pairsum_pilot(xs + c0, min_int(hw, GN_PILOT), (size_t)c, nc, k);
    cnn_pairsum_start(&acc, nc);
    for (int p = 0; p < hw; p++)
        cnn_pairsum_add_shifted(&acc, xs + (size_t)p * c + c0, k);
    cnn_pairsum_flush(&acc);
    for (int j = 0; j < nc; j++) {
        double d1 = acc.t1[j] / hw; /* mean - K */
        double v = acc.t2[j] - acc.t1[j] * d1;
        mean[j] = k[j] + d1;
        m2[j] = v > 0.0 ? v : 0.0;
    }
}

/* Item (n, groups [g0, g1)) of the forward: statistics, then normalisation. */
static void forward_item(const cnn_gn_geom *g, int n, int g0, int g1, const float *x,
                         const float *gamma, const float *beta, float *y, float *save_mean,
                         float *save_invstd)
{
    const int hw = g->hw, C = g->c, G = g->groups, cpg = C / G;
    const int cb = g0 * cpg, ce = g1 * cpg;
    const size_t base = (size_t)n * hw * C;
    const float *xs = x + base;
    float *ys = y + base;

    gn_moments mo = {0, 0, 0};
    for (int c0 = cb; c0 < ce; c0 += GN_LANES) {
        const int nc = min_int(GN_LANES, ce - c0);
        double cm[GN_LANES], cv[GN_LANES];
        channel_moments(xs, hw, C, c0, nc, cm, cv);
        for (int j = 0; j < nc; j++) {
            moments_add(&mo, hw, cm[j], cv[j]);
            const int c = c0 + j;
            if ((c + 1) % cpg == 0) {
                const size_t ng = (size_t)n * G + (size_t)(c / cpg);
                save_mean[ng] = (float)mo.mean;
                save_invstd[ng] = (float)(1.0 / sqrt(mo.m2 / mo.count + g->eps));
                mo = (gn_moments){0, 0, 0};
            }
        }
    }

    for (int c0 = cb; c0 < ce; c0 += GN_LANES) {
        const int nc = min_int(GN_LANES, ce - c0);
        float m[GN_LANES], s[GN_LANES];
        for (int j = 0; j < nc; j++) {
            const size_t ng = (size_t)n * G + (size_t)((c0 + j) / cpg);
            m[j] = save_mean[ng];
            s[j] = g->per_element ? save_invstd[ng] : save_invstd[ng] * gamma[c0 + j];
        }
        if (g->per_element) {
            for (int p = 0; p < hw; p++) {
                const size_t o = (size_t)p * C + c0;
                const float *xr = xs + o, *gr = gamma + o, *br = beta + o;
                float *yr = ys + o;
#pragma omp simd
                for (int j = 0; j < nc; j++)
                    yr[j] = (xr[j] - m[j]) * s[j] * gr[j] + br[j];
            }
        } else {
            const float *br = beta + c0;
            for (int p = 0; p < hw; p++) {
                const size_t o = (size_t)p * C + c0;
                const float *xr = xs + o;
                float *yr = ys + o;
#pragma omp simd
                for (int j = 0; j < nc; j++)
                    yr[j] = (xr[j] - m[j]) * s[j] + br[j];
            }
        }
    }
}

/* x (N,HW,C), gamma, beta (C) or (HW*C) -> y (N,HW,C), save_mean, save_invstd (N,G). */
void cnn_fast_groupnorm_forward(const cnn_gn_geom *g, const float *x, const float *gamma,
                                const float *beta, float *y, float *save_mean, float *save_invstd)
{
    check_geom(g);
    const int slices = slice_count(g), items = g->n * slices;
#pragma omp parallel for schedule(static) if (parallel_worthwhile(g))
    for (int it = 0; it < items; it++) {
        const int n = it / slices, s = it % slices;
        forward_item(g, n, slice_group(g, slices, s), slice_group(g, slices, s + 1), x, gamma,
                     beta, y, save_mean, save_invstd);
    }
}

/* The scratch's arrays. */
typedef struct gn_scratch {
    float *mean, *invstd, *kd, *kb; /* (N, C): group values, per channel */
    float *sdy, *sdyx;              /* (N, C) per channel: sum_p dy, sum_p dy*xhat */
    float *part;                    /* per element: the blocks' partial dbeta, dgamma */
} gn_scratch;

static gn_scratch scratch_views(const cnn_gn_geom *g, float *scratch)
{
    const size_t nc = (size_t)g->n * g->c;
    gn_scratch v = {scratch, scratch + nc, scratch + 2 * nc, scratch + 3 * nc, NULL, NULL, NULL};
    if (g->per_element)
        v.part = scratch + 4 * nc;
    else {
        v.sdy = scratch + 4 * nc;
        v.sdyx = scratch + 5 * nc;
    }
    return v;
}

/* One sample, channels [c0, c0+nc), m (nc) the group means per channel:
 * u = sum_p w*dy and v = sum_p w*dy*(x - m) in double, with w = ge[p*C + c]
 * (per-element gamma) or w = 1 when ge is NULL. */
static void grad_sums(const float *xs, const float *dys, const float *ge, int hw, int c, int c0,
                      int nc, const float *m, double *u, double *v)
{
    cnn_pairsum acc;
    cnn_pairsum_start(&acc, nc);
    for (int p = 0; p < hw; p++) {
        const size_t o = (size_t)p * c + c0;
        const float *dyr = dys + o;
        float d[GN_LANES];
        if (ge) {
            const float *gr = ge + o;
#pragma omp simd
            for (int j = 0; j < nc; j++)
                d[j] = gr[j] * dyr[j];
        }
        cnn_pairsum_add(&acc, ge ? d : dyr, xs + o, m);
    }
    cnn_pairsum_flush(&acc);
    for (int j = 0; j < nc; j++) {
        u[j] = acc.t1[j];
        v[j] = acc.t2[j];
    }
}

/* Per element, pass 2 of one sample: dx (if dx) and, if pbeta, the sample's
 * dy and dy*xhat written (first) or added into the partials pbeta, pgamma (HW*C). */
static void element_pass(const cnn_gn_geom *g, int n, const float *x, const float *gamma,
                         const float *dy, float *dx, const gn_scratch *sc, float *pbeta,
                         float *pgamma, int first)
{
    const int hw = g->hw, C = g->c;
    const size_t base = (size_t)n * hw * C;
    for (int c0 = 0; c0 < C; c0 += GN_LANES) {
        const int nc = min_int(GN_LANES, C - c0);
        const size_t row = (size_t)n * C + c0;
        const float *m = sc->mean + row, *is = sc->invstd + row, *kd = sc->kd + row,
                    *kb = sc->kb + row;
        for (int p = 0; p < hw; p++) {
            const size_t e = (size_t)p * C + c0, o = base + e;
            const float *xr = x + o, *dyr = dy + o, *gr = gamma + e;
            if (dx) {
                float *dxr = dx + o;
#pragma omp simd
                for (int j = 0; j < nc; j++)
                    dxr[j] = (gr[j] * dyr[j] - kd[j] - (xr[j] - m[j]) * kb[j]) * is[j];
            }
            if (!pbeta)
                continue;
            float *pb = pbeta + e, *pg = pgamma + e;
            if (first) {
#pragma omp simd
                for (int j = 0; j < nc; j++) {
                    pb[j] = dyr[j];
                    pg[j] = dyr[j] * ((xr[j] - m[j]) * is[j]);
                }
            } else {
#pragma omp simd
                for (int j = 0; j < nc; j++) {
                    pb[j] += dyr[j];
                    pg[j] += dyr[j] * ((xr[j] - m[j]) * is[j]);
                }
            }
        }
    }
}

/* Item (n, groups [g0, g1)) of the backward: pass 1 (A, B per group, the
 * coefficients kd, kb; per channel the sample's dbeta and dgamma shares), then
 * per channel pass 2, dx (when dx is not NULL). */
static void backward_item(const cnn_gn_geom *g, int n, int g0, int g1, const float *x,
                          const float *gamma, const float *save_mean, const float *save_invstd,
                          const float *dy, float *dx, const gn_scratch *sc)
{
    const int hw = g->hw, C = g->c, G = g->groups, cpg = C / G;
    const int cb = g0 * cpg, ce = g1 * cpg;
    const double M = (double)hw * cpg;
    const size_t base = (size_t)n * hw * C, row = (size_t)n * C;
    const float *xs = x + base, *dys = dy + base;

    for (int c = cb; c < ce; c++) {
        const size_t ng = (size_t)n * G + (size_t)(c / cpg);
        sc->mean[row + c] = save_mean[ng];
        sc->invstd[row + c] = save_invstd[ng];
    }

    double A = 0, B = 0;
    for (int c0 = cb; c0 < ce; c0 += GN_LANES) {
        const int nc = min_int(GN_LANES, ce - c0);
        double u[GN_LANES], v[GN_LANES];
        grad_sums(xs, dys, g->per_element ? gamma : NULL, hw, C, c0, nc, sc->mean + row + c0, u,
                  v);
        for (int j = 0; j < nc; j++) {
            const int c = c0 + j;
            if (g->per_element) {
                A += u[j];
                B += v[j];
            } else {
                A += gamma[c] * u[j];
                B += gamma[c] * v[j];
                sc->sdy[row + c] = (float)u[j];
                sc->sdyx[row + c] = (float)(v[j] * sc->invstd[row + c]);
            }
            if ((c + 1) % cpg == 0) {
                const double is = sc->invstd[row + c];
                const float kd = (float)(A / M), kb = (float)(is * is * B / M);
                for (int k = c + 1 - cpg; k <= c; k++) {
                    sc->kd[row + k] = kd;
                    sc->kb[row + k] = kb;
                }
                A = B = 0;
            }
        }
    }

    if (g->per_element || !dx)
        return;
    float *dxs = dx + base;
    for (int c0 = cb; c0 < ce; c0 += GN_LANES) {
        const int nc = min_int(GN_LANES, ce - c0);
        const float *m = sc->mean + row + c0, *is = sc->invstd + row + c0, *kd = sc->kd + row + c0,
                    *kb = sc->kb + row + c0, *gm = gamma + c0;
        for (int p = 0; p < hw; p++) {
            const size_t o = (size_t)p * C + c0;
            const float *xr = xs + o, *dyr = dys + o;
            float *dxr = dxs + o;
#pragma omp simd
            for (int j = 0; j < nc; j++)
                dxr[j] = (gm[j] * dyr[j] - kd[j] - (xr[j] - m[j]) * kb[j]) * is[j];
        }
    }
}

/* Per element: dbeta, dgamma [e0, e0+ne) = the blocks' partials summed in
 * double, in block order (ne <= GN_LANES). */
static void combine_blocks(const cnn_gn_geom *g, const float *part, int e0, int ne,
                           float *dgamma, float *dbeta)
{
    const size_t params = (size_t)g->hw * g->c;
    double a[GN_LANES], b[GN_LANES];
    for (int j = 0; j < ne; j++)
        a[j] = b[j] = 0.0;
    for (int blk = 0; blk < element_blocks(g); blk++) {
        const float *pb = part + 2 * (size_t)blk * params + e0, *pg = pb + params;
#pragma omp simd
        for (int j = 0; j < ne; j++) {
            a[j] += pb[j];
            b[j] += pg[j];
        }
    }
    for (int j = 0; j < ne; j++) {
        if (dbeta)
            dbeta[e0 + j] = (float)a[j];
        if (dgamma)
            dgamma[e0 + j] = (float)b[j];
    }
}

/* x (N,HW,C), gamma (C) or (HW*C), save_mean, save_invstd (N,G), dy (N,HW,C)
 * -> dx (N,HW,C), dgamma, dbeta (C) or (HW*C), each may be NULL. */
void cnn_fast_groupnorm_backward(const cnn_gn_geom *g, const float *x, const float *gamma,
                                 const float *save_mean, const float *save_invstd,
                                 const float *dy, float *dx, float *dgamma, float *dbeta,
                                 float *scratch)
{
    check_geom(g);
    CNN_ASSERT(scratch);
    if (!dx && !dgamma && !dbeta)
        return;
    const int C = g->c, sums = dgamma || dbeta;
    const gn_scratch sc = scratch_views(g, scratch);

    if (g->per_element) {
        const int blocks = element_blocks(g);
        const size_t params = (size_t)g->hw * C;
        const int chunks = (int)((params + GN_LANES - 1) / GN_LANES);
#pragma omp parallel if (parallel_worthwhile(g))
        {
            /* dynamic: blocks are few; which thread runs one does not matter */
#pragma omp for schedule(dynamic, 1)
            for (int blk = 0; blk < blocks; blk++) {
                const int n0 = (int)((long long)g->n * blk / blocks);
                const int n1 = (int)((long long)g->n * (blk + 1) / blocks);
                float *pb = sums ? sc.part + 2 * (size_t)blk * params : NULL;
                for (int n = n0; n < n1; n++) {
                    backward_item(g, n, 0, g->groups, x, gamma, save_mean, save_invstd, dy, dx,
                                  &sc);
                    element_pass(g, n, x, gamma, dy, dx, &sc, pb, pb ? pb + params : NULL,
                                 n == n0);
                }
            }
            if (sums) {
#pragma omp for schedule(static)
                for (int k = 0; k < chunks; k++) {
                    const int e0 = k * GN_LANES;
                    combine_blocks(g, sc.part, e0, (int)(params - (size_t)e0 < GN_LANES
                                                             ? params - (size_t)e0
                                                             : GN_LANES),
                                   dgamma, dbeta);
                }
            }
        }
        return;
    }

    const int slices = slice_count(g), items = g->n * slices;
#pragma omp parallel if (parallel_worthwhile(g))
    {
#pragma omp for schedule(static)
        for (int it = 0; it < items; it++) {
            const int n = it / slices, s = it % slices;
            backward_item(g, n, slice_group(g, slices, s), slice_group(g, slices, s + 1), x,
                          gamma, save_mean, save_invstd, dy, dx, &sc);
        }
        if (sums) {
#pragma omp for schedule(static)
            for (int c = 0; c < C; c++) {
                double a = 0, b = 0;
                for (int n = 0; n < g->n; n++) {
                    a += sc.sdy[(size_t)n * C + c];
                    b += sc.sdyx[(size_t)n * C + c];
                }
                if (dbeta)
                    dbeta[c] = (float)a;
                if (dgamma)
                    dgamma[c] = (float)b;
            }
        }
    }
}
