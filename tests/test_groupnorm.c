/* test_groupnorm.c: the per-sample normalisations (cnn_*_groupnorm_*: GroupNorm,
 * InstanceNorm2d, LayerNorm([C,H,W])).
 *
 *   1. reference backward vs central finite differences, for group (G = 2, 4),
 *      instance and layer (per-element affine) norms, batch 1 and odd sizes;
 *   2. with gamma = 1, beta = 0 each (n, group) of the output has mean 0 and
 *      variance 1 (reference and fast);
 *   3. fast vs reference, forward and backward, on many shapes, with NULL
 *      gradient outputs, bitwise the same with another thread count; and the
 *      fast statistics of data far from 0 (offset 1000, where E[x^2] - E[x]^2
 *      would cancel);
 *   4. PyTorch fixtures (tests/fixtures/norms.txt, made by
 *      tools/fixtures/make_norm_fixtures.py): GroupNorm(2,8), InstanceNorm2d(8,
 *      affine=True), LayerNorm([8,5,5]) and BatchNorm2d(8) in training mode,
 *      forward and gradients, reference and fast.
 * Prints each comparison with its tolerance; exits non-zero on any mismatch.
 * Run from the repository root (the fixture path is relative to it). */
#include <omp.h>
#include <string.h>

#include "check.h"
#include "fixture.h"
#include "ops/ops.h"

#define FIXTURES "tests/fixtures/norms.txt"
#define MADE_BY "tools/fixtures/make_norm_fixtures.py"
#define EPS 1e-5f

static unsigned seed = 4242u;

static double max_abs(const float *a, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        if (fabs((double)a[i]) > m)
            m = fabs((double)a[i]);
    return m;
}

/* x (N,HW,C): uniform in [-1, 1) plus offset plus 0.5 * (c % 3), so that the
 * channels of a group have different means. */
static float *make_x(const cnn_gn_geom *g, float offset)
{
    const size_t count = (size_t)g->n * g->hw * g->c;
    float *x = check_frand(count, &seed, -1.0f, 1.0f);
    for (size_t i = 0; i < count; i++)
        x[i] += offset + 0.5f * (float)((i % (size_t)g->c) % 3);
    return x;
}

static size_t param_count(const cnn_gn_geom *g)
{
    return g->per_element ? (size_t)g->hw * g->c : (size_t)g->c;
}

static const char *kind_name(const cnn_gn_geom *g)
{
    if (g->per_element)
        return "layer";
    return g->groups == g->c ? "instance" : "group";
}

/* ---------------- 1. reference backward vs finite differences ---------------- */

#define FD_STEP 1e-2f
#define FD_RTOL 1e-2
#define FD_ATOL 1e-3

typedef struct gn_ctx {
    cnn_gn_geom g;
    float *x, *gamma, *beta, *y, *r; /* x, y, r (N,HW,C); gamma, beta (C) or (HW*C) */
    float *mean, *invstd;            /* (N,G) */
} gn_ctx;

static double gn_objective(gn_ctx *c)
{
    cnn_ref_groupnorm_forward(&c->g, c->x, c->gamma, c->beta, c->y, c->mean, c->invstd);
    return check_dot(c->y, c->r, (size_t)c->g.n * c->g.hw * c->g.c);
}

/* Central differences of L = sum y*r with respect to each element of p (count). */
static void fd_grad(gn_ctx *c, float *p, size_t count, float *grad)
{
    for (size_t i = 0; i < count; i++) {
        const float saved = p[i];
        p[i] = saved + FD_STEP;
        const float hi = p[i];
        const double lp = gn_objective(c);
        p[i] = saved - FD_STEP;
        const float lo = p[i];
        const double lm = gn_objective(c);
        p[i] = saved;
        grad[i] = (float)((lp - lm) / ((double)hi - (double)lo));
    }
}

static void fd_compare(const char *what, const float *analytic, const float *numeric, size_t n)
{
    check_close_print(what, 52, analytic, numeric, n, FD_RTOL, FD_ATOL);
}

static void test_ref_grad(int n, int h, int w, int c, int groups, int per_element)
{
    gn_ctx k = {.g = {.n = n, .hw = h * w, .c = c, .groups = groups, .per_element = per_element,
                      .eps = EPS}};
    const size_t count = (size_t)n * h * w * c, np = param_count(&k.g), ng = (size_t)n * groups;
    k.x = make_x(&k.g, 0.3f);
    k.gamma = check_frand(np, &seed, 0.5f, 1.5f);
    k.beta = check_frand(np, &seed, -0.5f, 0.5f);
    k.y = check_falloc(count);
    k.r = check_frand(count, &seed, -1.0f, 1.0f);
    k.mean = check_falloc(ng);
    k.invstd = check_falloc(ng);
    gn_objective(&k);
    float *dx = check_fnan(count), *dgamma = check_fnan(np), *dbeta = check_fnan(np);
    cnn_ref_groupnorm_backward(&k.g, k.x, k.gamma, k.mean, k.invstd, k.r, dx, dgamma, dbeta);

    char what[120];
    int len = snprintf(what, sizeof what, "%s norm N%d %dx%dx%d G%d", kind_name(&k.g), n, h, w, c,
                       groups);
    float *num = check_falloc(count > np ? count : np);
    fd_grad(&k, k.x, count, num);
    snprintf(what + len, sizeof what - (size_t)len, ": dx");
    fd_compare(what, dx, num, count);
    fd_grad(&k, k.gamma, np, num);
    snprintf(what + len, sizeof what - (size_t)len, ": dgamma");
    fd_compare(what, dgamma, num, np);
    fd_grad(&k, k.beta, np, num);
    snprintf(what + len, sizeof what - (size_t)len, ": dbeta");
    fd_compare(what, dbeta, num, np);

    /* any gradient output may be NULL; the others come out the same */
    gn_objective(&k);
    float *dx2 = check_fnan(count), *dg2 = check_fnan(np), *db2 = check_fnan(np);
    cnn_ref_groupnorm_backward(&k.g, k.x, k.gamma, k.mean, k.invstd, k.r, dx2, NULL, NULL);
    cnn_ref_groupnorm_backward(&k.g, k.x, k.gamma, k.mean, k.invstd, k.r, NULL, dg2, NULL);
    cnn_ref_groupnorm_backward(&k.g, k.x, k.gamma, k.mean, k.invstd, k.r, NULL, NULL, db2);
    what[len] = '\0';
    check(check_bitwise_equal(dx2, dx, count) && check_bitwise_equal(dg2, dgamma, np) &&
              check_bitwise_equal(db2, dbeta, np),
          "%s: backward with NULL outputs differs", what);
    free(dx2), free(dg2), free(db2), free(num), free(dx), free(dgamma), free(dbeta);
    free(k.x), free(k.gamma), free(k.beta), free(k.y), free(k.r), free(k.mean), free(k.invstd);
}

/* ---------------- 2. normalised output: mean 0, variance 1 ---------------- */

/* With gamma = 1 and beta = 0, each (n, group) of y has mean 0 and variance
 * var / (var + eps), var that of x's group (close to 1 unless var is tiny). */
static void test_unit_stats(int fast, int n, int hw, int c, int groups, float offset)
{
    const cnn_gn_geom g = {.n = n, .hw = hw, .c = c, .groups = groups, .eps = EPS};
    const size_t count = (size_t)n * hw * c, ng = (size_t)n * groups;
    const int cpg = c / groups;
    const double m_count = (double)hw * cpg;
    float *x = make_x(&g, offset), *gamma = check_falloc((size_t)c);
    float *beta = check_falloc((size_t)c);
    float *y = check_falloc(count), *mean = check_falloc(ng), *invstd = check_falloc(ng);
    for (int i = 0; i < c; i++)
        gamma[i] = 1.0f;
    if (fast)
        cnn_fast_groupnorm_forward(&g, x, gamma, beta, y, mean, invstd);
    else
        cnn_ref_groupnorm_forward(&g, x, gamma, beta, y, mean, invstd);
    double worst_mean = 0, worst_var = 0, least_var = INFINITY;
    for (int s = 0; s < n; s++)
        for (int gr = 0; gr < groups; gr++) {
            double m[2] = {0, 0}, v[2] = {0, 0}; /* [0] of x, [1] of y */
            for (int pass = 0; pass < 2; pass++)
                for (int p = 0; p < hw; p++)
                    for (int k = gr * cpg; k < (gr + 1) * cpg; k++) {
                        const size_t i = ((size_t)s * hw + p) * c + k;
                        const double vx = x[i], vy = y[i];
                        if (pass == 0) {
                            m[0] += vx / m_count;
                            m[1] += vy / m_count;
                        } else {
                            v[0] += (vx - m[0]) * (vx - m[0]) / m_count;
                            v[1] += (vy - m[1]) * (vy - m[1]) / m_count;
                        }
                    }
            const double want = v[0] / (v[0] + EPS);
            if (fabs(m[1]) > worst_mean)
                worst_mean = fabs(m[1]);
            if (fabs(v[1] - want) > worst_var)
                worst_var = fabs(v[1] - want);
            if (want < least_var)
                least_var = want;
        }
    printf("  %s N%d hw%d C%d G%d offset %g: |mean(y)| <= %.2g (tol 1e-5), "
           "|var(y) - var/(var+eps)| <= %.2g (tol 1e-5; least var(y) %.3g)\n",
           fast ? "fast" : "ref ", n, hw, c, groups, offset, worst_mean, worst_var, least_var);
    check(worst_mean <= 1e-5 && worst_var <= 1e-5,
          "%s unit stats N%d hw%d C%d G%d: |mean| %g, |var - var/(var+eps)| %g",
          fast ? "fast" : "ref", n, hw, c, groups, worst_mean, worst_var);
    free(x), free(gamma), free(beta), free(y), free(mean), free(invstd);
}

/* ---------------- 3. fast vs reference ---------------- */

/* Compares with rtol and an atol scaled to the reference's largest value. */
static void close_scaled(const char *case_name, const char *what, const float *got,
                         const float *want, size_t n, double rtol, double atol_rel)
{
    char name[160];
    snprintf(name, sizeof name, "%s: %s", case_name, what);
    check_close(name, got, want, n, rtol, atol_rel * (max_abs(want, n) + 1e-30));
}

static void fast_pass(const cnn_gn_geom *g, const float *x, const float *gamma, const float *beta,
                      const float *dy, const float *mean_in, const float *invstd_in, float *y,
                      float *mean, float *invstd, float *dx, float *dgamma, float *dbeta,
                      float *scratch)
{
    cnn_fast_groupnorm_forward(g, x, gamma, beta, y, mean, invstd);
    cnn_fast_groupnorm_backward(g, x, gamma, mean_in, invstd_in, dy, dx, dgamma, dbeta, scratch);
}

static void test_fast(int n, int hw, int c, int groups, int per_element, float offset)
{
    const cnn_gn_geom g = {.n = n, .hw = hw, .c = c, .groups = groups,
                           .per_element = per_element, .eps = EPS};
    const size_t count = (size_t)n * hw * c, np = param_count(&g), ng = (size_t)n * groups;
    const double rtol = 1e-4, atol_rel = 1e-5;
    float *x = make_x(&g, offset), *dy = check_frand(count, &seed, -1.0f, 1.0f);
    float *gamma = check_frand(np, &seed, 0.5f, 1.5f), *beta = check_frand(np, &seed, -0.5f, 0.5f);
    float *scratch = check_fnan(cnn_fast_groupnorm_scratch_floats(&g));
    char what[96];
    snprintf(what, sizeof what, "fast %s norm N%d hw%d C%d G%d offset %g", kind_name(&g), n, hw,
             c, groups, offset);

    float *yr = check_falloc(count), *mr = check_falloc(ng), *sr = check_falloc(ng);
    float *dxr = check_falloc(count), *dgr = check_falloc(np), *dbr = check_falloc(np);
    cnn_ref_groupnorm_forward(&g, x, gamma, beta, yr, mr, sr);
    cnn_ref_groupnorm_backward(&g, x, gamma, mr, sr, dy, dxr, dgr, dbr);

    /* the fast backward gets the reference's statistics, so that it is compared
     * on the same inputs */
    float *yf = check_fnan(count), *mf = check_fnan(ng), *sf = check_fnan(ng);
    float *dxf = check_fnan(count), *dgf = check_fnan(np), *dbf = check_fnan(np);
    fast_pass(&g, x, gamma, beta, dy, mr, sr, yf, mf, sf, dxf, dgf, dbf, scratch);
    close_scaled(what, "y", yf, yr, count, rtol, atol_rel);
    close_scaled(what, "mean", mf, mr, ng, 1e-6, 1e-6);
    close_scaled(what, "invstd", sf, sr, ng, 1e-5, 0);
    /* dx is a difference of terms of size invstd*|gamma*dy| that can cancel
     * almost completely (a group of two values normalises to +-1 whatever x
     * is): its atol scales with those terms */
    double dx_scale = 0;
    for (size_t i = 0; i < count; i++) {
        const size_t ch = i % (size_t)c, e = i % ((size_t)hw * c);
        const size_t ng_i = i / ((size_t)hw * c) * (size_t)groups + ch / (size_t)(c / groups);
        const double t = fabs((double)sr[ng_i] * gamma[per_element ? e : ch] * dy[i]);
        if (t > dx_scale)
            dx_scale = t;
    }
    char name[160];
    snprintf(name, sizeof name, "%s: dx", what);
    check_close(name, dxf, dxr, count, rtol, atol_rel * dx_scale);
    close_scaled(what, "dgamma", dgf, dgr, np, rtol, atol_rel);
    close_scaled(what, "dbeta", dbf, dbr, np, rtol, atol_rel);

    /* NULL gradient outputs: the others bitwise the same */
    float *dx1 = check_fnan(count), *dg1 = check_fnan(np), *db1 = check_fnan(np);
    cnn_fast_groupnorm_backward(&g, x, gamma, mr, sr, dy, dx1, NULL, NULL, scratch);
    cnn_fast_groupnorm_backward(&g, x, gamma, mr, sr, dy, NULL, dg1, NULL, scratch);
    cnn_fast_groupnorm_backward(&g, x, gamma, mr, sr, dy, NULL, NULL, db1, scratch);
    check(check_bitwise_equal(dx1, dxf, count) && check_bitwise_equal(dg1, dgf, np) &&
              check_bitwise_equal(db1, dbf, np),
          "%s: backward with NULL outputs differs", what);

    /* another thread count: bitwise the same */
    const int threads = omp_get_max_threads(), other = threads == 1 ? 3 : 1;
    float *y2 = check_fnan(count), *m2 = check_fnan(ng), *s2 = check_fnan(ng);
    omp_set_num_threads(other);
    fast_pass(&g, x, gamma, beta, dy, mr, sr, y2, m2, s2, dx1, dg1, db1, scratch);
    omp_set_num_threads(threads);
    check(check_bitwise_equal(y2, yf, count) && check_bitwise_equal(m2, mf, ng) &&
              check_bitwise_equal(s2, sf, ng) && check_bitwise_equal(dx1, dxf, count) &&
              check_bitwise_equal(dg1, dgf, np) && check_bitwise_equal(db1, dbf, np),
          "%s: %d and %d threads differ", what, other, threads);

    printf("%s: y, dgamma, dbeta (rtol %g, atol %g*max|ref|), dx (atol "
           "%g*max|invstd*gamma*dy|), mean, invstd; NULL outputs; %d vs %d threads bitwise\n",
           what, rtol, atol_rel, atol_rel, other, threads);
    free(x), free(dy), free(gamma), free(beta), free(scratch), free(yr), free(mr), free(sr),
        free(dxr), free(dgr), free(dbr), free(yf), free(mf), free(sf), free(dxf), free(dgf),
        free(dbf), free(dx1), free(dg1), free(db1), free(y2), free(m2), free(s2);
}

/* Data at 1000 +- 1: the fast one-pass statistics keep their precision. (y is
 * not compared here: it is normalised with the float mean, whose rounding,
 * 3e-5 at 1000, is a visible fraction of the spread.) */
static void test_fast_far_from_zero(int n, int hw, int c, int groups)
{
    const cnn_gn_geom g = {.n = n, .hw = hw, .c = c, .groups = groups, .eps = EPS};
    const size_t count = (size_t)n * hw * c, ng = (size_t)n * groups;
    float *x = make_x(&g, 1000.0f), *gamma = check_frand((size_t)c, &seed, 0.5f, 1.5f);
    float *beta = check_frand((size_t)c, &seed, -0.5f, 0.5f), *y = check_falloc(count);
    float *mr = check_falloc(ng), *sr = check_falloc(ng);
    float *mf = check_falloc(ng), *sf = check_falloc(ng);
    cnn_ref_groupnorm_forward(&g, x, gamma, beta, y, mr, sr);
    cnn_fast_groupnorm_forward(&g, x, gamma, beta, y, mf, sf);
    char what[96];
    snprintf(what, sizeof what, "fast stats N%d hw%d C%d G%d at offset 1000", n, hw, c, groups);
    close_scaled(what, "mean", mf, mr, ng, 1e-7, 0);
    close_scaled(what, "invstd", sf, sr, ng, 1e-5, 0);
    printf("%s: mean (rtol 1e-7), invstd (rtol 1e-5)\n", what);
    free(x), free(gamma), free(beta), free(y), free(mr), free(sr), free(mf), free(sf);
}

/* ---------------- 4. PyTorch fixtures ---------------- */

#define TORCH_RTOL 1e-4
#define TORCH_ATOL 1e-5 /* times the largest |value| of the array */

static void torch_compare(const char *case_name, const char *what, const float *got,
                          const float *want, size_t n)
{
    close_scaled(case_name, what, got, want, n, TORCH_RTOL, TORCH_ATOL);
}

/* Geometry of input in ("in3", "in5") as (N, HW, C), from <in>.shape. */
static int fixture_input(const fixture_file *f, const char *in, int shape[4], const float **x,
                         const float **r)
{
    char name[48];
    snprintf(name, sizeof name, "%s.shape", in);
    const float *s = fixture_get(f, name, 4);
    if (!s)
        return 0;
    for (int i = 0; i < 4; i++)
        shape[i] = (int)s[i];
    const size_t count = (size_t)shape[0] * shape[1] * shape[2] * shape[3];
    snprintf(name, sizeof name, "%s.x", in);
    *x = fixture_get(f, name, count);
    snprintf(name, sizeof name, "%s.r", in);
    *r = fixture_get(f, name, count);
    return *x && *r;
}

/* Looks up <case>.<field> with count values. */
static const float *field(const fixture_file *f, const char *case_name, const char *fld,
                          size_t count)
{
    char name[48];
    snprintf(name, sizeof name, "%s.%s", case_name, fld);
    return fixture_get(f, name, count);
}

static void torch_groupnorm(const fixture_file *f, const char *case_name, const char *in,
                            const char *module)
{
    int shape[4];
    const float *x, *r;
    if (!fixture_input(f, in, shape, &x, &r))
        return;
    const float *cfg = field(f, case_name, "config", 3);
    if (!cfg)
        return;
    const cnn_gn_geom g = {.n = shape[0], .hw = shape[1] * shape[2], .c = shape[3],
                           .groups = (int)cfg[0], .per_element = (int)cfg[1], .eps = cfg[2]};
    const size_t count = (size_t)g.n * g.hw * g.c, np = param_count(&g), ng = (size_t)g.n * g.groups;
    const float *gamma = field(f, case_name, "gamma", np), *beta = field(f, case_name, "beta", np);
    const float *ty = field(f, case_name, "y", count), *tdx = field(f, case_name, "dx", count);
    const float *tdg = field(f, case_name, "dgamma", np), *tdb = field(f, case_name, "dbeta", np);
    if (!gamma || !beta || !ty || !tdx || !tdg || !tdb)
        return;
    float *y = check_fnan(count), *mean = check_fnan(ng), *invstd = check_fnan(ng);
    float *dx = check_fnan(count), *dg = check_fnan(np), *db = check_fnan(np);
    float *scratch = check_fnan(cnn_fast_groupnorm_scratch_floats(&g));
    for (int fast = 0; fast <= 1; fast++) {
        char what[96];
        snprintf(what, sizeof what, "torch %s vs %s", module, fast ? "fast" : "ref");
        if (fast) {
            cnn_fast_groupnorm_forward(&g, x, gamma, beta, y, mean, invstd);
            cnn_fast_groupnorm_backward(&g, x, gamma, mean, invstd, r, dx, dg, db, scratch);
        } else {
            cnn_ref_groupnorm_forward(&g, x, gamma, beta, y, mean, invstd);
            cnn_ref_groupnorm_backward(&g, x, gamma, mean, invstd, r, dx, dg, db);
        }
        torch_compare(what, "y", y, ty, count);
        torch_compare(what, "dx", dx, tdx, count);
        torch_compare(what, "dgamma", dg, tdg, np);
        torch_compare(what, "dbeta", db, tdb, np);
        printf("%s (N%d hw%d C%d G%d%s): y, dx, dgamma, dbeta (rtol %g, atol %g*max|torch|)\n",
               what, g.n, g.hw, g.c, g.groups, g.per_element ? " per element" : "", TORCH_RTOL,
               TORCH_ATOL);
    }
    free(y), free(mean), free(invstd), free(dx), free(dg), free(db), free(scratch);
}

static void torch_batchnorm(const fixture_file *f)
{
    int shape[4];
    const float *x, *r;
    if (!fixture_input(f, "in3", shape, &x, &r))
        return;
    const float *cfg = field(f, "bn", "config", 3);
    if (!cfg)
        return;
    const cnn_bn_geom g = {.m = shape[0] * shape[1] * shape[2], .c = shape[3], .momentum = cfg[0],
                           .eps = cfg[1]};
    const size_t count = (size_t)g.m * g.c, c = (size_t)g.c;
    const float *gamma = field(f, "bn", "gamma", c), *beta = field(f, "bn", "beta", c);
    const float *ty = field(f, "bn", "y", count), *tdx = field(f, "bn", "dx", count);
    const float *tdg = field(f, "bn", "dgamma", c), *tdb = field(f, "bn", "dbeta", c);
    const float *trm = field(f, "bn", "running_mean", c), *trv = field(f, "bn", "running_var", c);
    if (!gamma || !beta || !ty || !tdx || !tdg || !tdb || !trm || !trv)
        return;
    float *y = check_fnan(count), *mean = check_fnan(c), *invstd = check_fnan(c);
    float *rm = check_falloc(c), *rv = check_falloc(c);
    float *dx = check_fnan(count), *dg = check_fnan(c), *db = check_fnan(c);
    float *scratch = check_fnan(cnn_fast_batchnorm_scratch_floats(g.c));
    for (int fast = 0; fast <= 1; fast++) {
        char what[96];
        snprintf(what, sizeof what, "torch BatchNorm2d(8) train vs %s", fast ? "fast" : "ref");
        for (size_t i = 0; i < c; i++)
            rm[i] = 0.0f, rv[i] = 1.0f; /* PyTorch's initial running estimates */
        if (fast) {
            cnn_fast_batchnorm_forward_train(&g, CNN_ACT_NONE, x, gamma, beta, y, mean, invstd, rm,
                                             rv, scratch);
            cnn_fast_batchnorm_backward(&g, CNN_ACT_NONE, x, gamma, beta, mean, invstd, r, dx,
                                        dg, db, scratch);
        } else {
            cnn_ref_batchnorm_forward_train(&g, x, gamma, beta, y, mean, invstd, rm, rv);
            cnn_ref_batchnorm_backward(&g, x, gamma, mean, invstd, r, dx, dg, db);
        }
        torch_compare(what, "y", y, ty, count);
        torch_compare(what, "running_mean", rm, trm, c);
        torch_compare(what, "running_var", rv, trv, c);
        torch_compare(what, "dx", dx, tdx, count);
        torch_compare(what, "dgamma", dg, tdg, c);
        torch_compare(what, "dbeta", db, tdb, c);
        printf("%s (M%d C%d): y, running mean/var, dx, dgamma, dbeta (rtol %g, atol "
               "%g*max|torch|)\n",
               what, g.m, g.c, TORCH_RTOL, TORCH_ATOL);
    }
    free(y), free(mean), free(invstd), free(rm), free(rv), free(dx), free(dg), free(db),
        free(scratch);
}

static void test_torch(void)
{
    fixture_file f;
    if (!fixture_load(&f, FIXTURES, MADE_BY)) {
        check(0, "PyTorch fixtures %s not loaded", FIXTURES);
        fixture_free(&f);
        return;
    }
    torch_groupnorm(&f, "gn", "in3", "GroupNorm(2,8)");
    torch_groupnorm(&f, "in", "in3", "InstanceNorm2d(8,affine)");
    torch_groupnorm(&f, "ln", "in5", "LayerNorm([8,5,5])");
    torch_batchnorm(&f);
    fixture_free(&f);
}

int main(void)
{
    printf("reference backward vs central differences (step %g, rtol %g, atol %g):\n",
           (double)FD_STEP, FD_RTOL, FD_ATOL);
    /* n, h, w, c, groups, per_element */
    test_ref_grad(2, 3, 3, 4, 2, 0);  /* group, G = 2 */
    test_ref_grad(1, 3, 5, 8, 4, 0);  /* group, G = 4, batch 1, odd sizes */
    test_ref_grad(3, 1, 1, 8, 2, 0);  /* group on (N, C) */
    test_ref_grad(2, 3, 3, 3, 3, 0);  /* instance */
    test_ref_grad(1, 2, 5, 5, 5, 0);  /* instance, batch 1 */
    test_ref_grad(2, 3, 3, 3, 1, 1);  /* layer, elementwise affine */
    test_ref_grad(1, 5, 3, 2, 1, 1);  /* layer, batch 1 */
    test_ref_grad(3, 1, 1, 7, 1, 1);  /* layer on (N, F) */

    printf("normalised output, gamma 1, beta 0:\n");
    for (int fast = 0; fast <= 1; fast++) {
        test_unit_stats(fast, 3, 25, 16, 4, 0.0f);
        test_unit_stats(fast, 2, 64, 8, 8, 5.0f);
        test_unit_stats(fast, 2, 9, 64, 1, -3.0f);
        test_unit_stats(fast, 1, 1, 64, 32, 0.0f);
    }

    /* n, hw, c, groups, per_element, offset */
    static const int shapes[][3] = {{1, 1, 8},  {2, 9, 16},  {3, 64, 8},   {8, 9, 64},
                                    {5, 1, 64}, {1, 1024, 64}, {4, 1024, 16}, {7, 64, 64},
                                    {2, 9, 320}, {1, 3, 512}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        const int n = shapes[i][0], hw = shapes[i][1], c = shapes[i][2];
        const float offset = (float)(i % 3) - 0.5f;
        test_fast(n, hw, c, 2, 0, offset);
        test_fast(n, hw, c, c >= 32 ? 32 : 4, 0, offset);
        test_fast(n, hw, c, c, 0, offset);
        test_fast(n, hw, c, 1, 1, offset);
        test_fast(n, hw, c, 1, 0, offset);
    }
    test_fast(6, 9, 64, 4, 1, 0.0f); /* per-element affine with several groups */
    test_fast_far_from_zero(2, 64, 16, 4);
    test_fast_far_from_zero(3, 9, 8, 8);
    test_fast_far_from_zero(2, 100, 8, 1);

    test_torch();
    return check_finish("test_groupnorm");
}
