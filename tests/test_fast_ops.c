/* test_fast_ops.c: the fast activations, pooling, GAP, flatten, batch norm
 * (plain and with the fused ReLU or GELU), softmax cross-entropy (with label
 * smoothing), dropout, dropout2d, add, concat and global max pooling against
 * their references in src/ops/ref, on odd shapes, forward and backward, in place where
 * the contract allows it. Also checks that batch norm gives bitwise the same
 * result with one thread and with all of them. Prints each comparison with its
 * tolerance; exits non-zero on any mismatch. */
#include <omp.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "core/core.h"
#include "ops/fast/bf16.h"
#include "ops/fast/fast.h"
#include "ops/ops.h"

static unsigned seed = 12345u;

static float *copy_of(const float *a, size_t n)
{
    float *p = check_fresh(n);
    memcpy(p, a, n * sizeof *p);
    return p;
}

/* ---------------- activations ---------------- */

static const char *act_name[] = {"none", "relu", "sigmoid", "tanh", "leaky", "gelu", "elu"};

static void test_act(cnn_act a, size_t count)
{
    /* none, relu and leaky relu must be exact; the others call the same libm
     * functions, the tolerances allow for a different evaluation order all the same */
    const int exact = a == CNN_ACT_NONE || a == CNN_ACT_RELU || a == CNN_ACT_LEAKY_RELU;
    const double rtol = 1e-6, atol = 1e-7;
    float *x = check_frand(count, &seed, -4.0f, 4.0f), *dy = check_frand(count, &seed, -1.0f, 1.0f);
    float *yr = check_fresh(count), *yf = check_fresh(count);
    float *dxr = check_fresh(count), *dxf = check_fresh(count);
    float *z = copy_of(x, count);
    if ((a == CNN_ACT_RELU || a == CNN_ACT_LEAKY_RELU) && count > 1) /* NaN passes, -0 stays -0 */
        x[0] = z[0] = NAN, x[1] = z[1] = -0.0f;
    if (count > 2) /* the kink itself */
        x[2] = z[2] = 0.0f;
    char what[96];

    cnn_ref_act_forward(a, count, x, yr);
    cnn_fast_act_forward(a, count, x, yf);
    cnn_ref_act_backward(a, count, x, yr, dy, dxr);
    cnn_fast_act_backward(a, count, x, yr, dy, dxf);
    if (exact) {
        check(check_bitwise_equal(yf, yr, count), "act %s forward, %zu values: not bitwise equal",
              act_name[a], count);
        check(check_bitwise_equal(dxf, dxr, count),
              "act %s backward, %zu values: not bitwise equal", act_name[a], count);
    } else {
        snprintf(what, sizeof what, "act %s forward, %zu values", act_name[a], count);
        check_close(what, yf, yr, count, rtol, atol);
        snprintf(what, sizeof what, "act %s backward, %zu values", act_name[a], count);
        check_close(what, dxf, dxr, count, rtol, atol);
    }

    /* in place: x == y, then dy == dx; the same results bitwise */
    cnn_fast_act_forward(a, count, z, z);
    check(check_bitwise_equal(z, yf, count), "act %s forward in place, %zu values: differs",
          act_name[a], count);
    memcpy(z, dy, count * sizeof *z);
    cnn_fast_act_backward(a, count, x, yr, z, z);
    check(check_bitwise_equal(z, dxf, count), "act %s backward in place, %zu values: differs",
          act_name[a], count);

    if (exact)
        printf("act %-7s %6zu values: forward, backward, in place bitwise equal\n", act_name[a],
               count);
    else
        printf("act %-7s %6zu values: forward, backward (rtol %g, atol %g), in place bitwise\n",
               act_name[a], count, rtol, atol);
    free(x), free(dy), free(yr), free(yf), free(dxr), free(dxf), free(z);
}

/* GELU on a grid over [-14, 14] plus special values, through the threaded
 * cnn_fast_act_* and the row kernels batch norm fuses (cnn_fast_gelu*): against
 * the reference (whose 1 + erf(x/sqrt 2) rounds to float, an error up to
 * |x| 2^-23 that the tolerance allows) and against double precision, where the
 * fast kernels must be relatively accurate, negative tail included. */
static double gelu_double(double x) { return 0.5 * x * erfc(-x / sqrt(2.0)); }
static double gelu_grad_double(double x)
{
    return 0.5 * erfc(-x / sqrt(2.0)) + x * exp(-0.5 * x * x) * 0.39894228040143268;
}

/* Worst of |a - b| / (rtol |b| + atol g) over |x| <= xmax, g = max(1, |x|) when
 * grow else 1; NaN where a and b disagree on being NaN or infinite. */
static double gelu_ratio(size_t n, const float *x, const float *a, const double *b, double rtol,
                         double atol, int grow, double xmax)
{
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        if (!(fabs((double)x[i]) <= xmax))
            continue;
        if (isnan(b[i]) || isinf(b[i])) {
            if (!(isnan(a[i]) == isnan(b[i]) && (isnan(b[i]) || a[i] == b[i])))
                return NAN;
            continue;
        }
        double ax = fabs((double)x[i]);
        double d = fabs(a[i] - b[i]) / (rtol * fabs(b[i]) + atol * (grow && ax > 1 ? ax : 1));
        if (!(d <= worst))
            worst = d;
    }
    return worst;
}

static void test_gelu(void)
{
    const size_t grid = 56001;
    const float specials[] = {0.0f, -0.0f, 1e-30f, -1e-30f, 1e-8f, -1e-8f,
                              30.0f, -30.0f, INFINITY, -INFINITY, NAN};
    const size_t ns = sizeof specials / sizeof specials[0], n = grid + ns;
    float *x = check_fresh(n), *dy = check_fresh(n);
    for (size_t i = 0; i < grid; i++)
        x[i] = -14.0f + 28.0f * (float)i / (float)(grid - 1);
    memcpy(x + grid, specials, sizeof specials);
    for (size_t i = 0; i < n; i++)
        dy[i] = 1.0f; /* the backward returns gelu'(x) itself */
    float *yr = check_fresh(n), *yf = check_fresh(n), *yrow = check_fresh(n);
    float *dxr = check_fresh(n), *dxf = check_fresh(n), *dxrow = check_fresh(n);
    double *yref = malloc(n * sizeof *yref), *dref = malloc(n * sizeof *dref);
    double *yd = malloc(n * sizeof *yd), *dd = malloc(n * sizeof *dd);
    cnn_ref_act_forward(CNN_ACT_GELU, n, x, yr);
    cnn_ref_act_backward(CNN_ACT_GELU, n, x, yr, dy, dxr);
    cnn_fast_act_forward(CNN_ACT_GELU, n, x, yf);
    cnn_fast_act_backward(CNN_ACT_GELU, n, x, yr, dy, dxf);
    cnn_fast_gelu(n, x, yrow);
    cnn_fast_gelu_grad(n, x, dy, dxrow);
    for (size_t i = 0; i < n; i++) {
        yref[i] = yr[i], dref[i] = dxr[i];
        yd[i] = gelu_double(x[i]), dd[i] = gelu_grad_double(x[i]);
    }
    check(check_bitwise_equal(yrow, yf, n) && check_bitwise_equal(dxrow, dxf, n),
          "gelu: row kernels differ from cnn_fast_act_*");

    /* against the reference: relative, plus the reference's own rounding */
    const double rtol_ref = 1e-6, atol_ref = 1.5e-7;
    double fr = gelu_ratio(n, x, yf, yref, rtol_ref, atol_ref, 1, INFINITY);
    double br = gelu_ratio(n, x, dxf, dref, rtol_ref, atol_ref, 1, INFINITY);
    check(fr <= 1.0 && br <= 1.0, "gelu against the reference: worst ratio forward %.3g, "
          "backward %.3g", fr, br);
    /* against double precision: GELU relatively (subnormals start beyond
     * |x| 12.5), GELU' absolutely (it cancels in the negative tail) */
    const double rtol_d = 1e-6, xmax_d = 12.0, atol_dd = 3e-7;
    double fd = gelu_ratio(n, x, yf, yd, rtol_d, 1e-38, 0, xmax_d);
    double bd = gelu_ratio(n, x, dxf, dd, 0.0, atol_dd, 0, INFINITY);
    check(fd <= 1.0 && bd <= 1.0, "gelu against double precision: worst ratio forward %.3g, "
          "backward %.3g", fd, bd);
    printf("gelu %zu values over [-14, 14] and specials: against the reference (rtol %g, atol "
           "%g max(1,|x|)) worst ratio forward %.3f, backward %.3f; against double (forward "
           "rtol %g for |x| <= %g, backward atol %g) worst ratio %.3f, %.3f; row kernels "
           "bitwise equal\n",
           n, rtol_ref, atol_ref, fr, br, rtol_d, xmax_d, atol_dd, fd, bd);
    free(x), free(dy), free(yr), free(yf), free(yrow), free(dxr), free(dxf), free(dxrow);
    free(yref), free(dref), free(yd), free(dd);
}

/* ---------------- pooling ---------------- */

typedef struct pool_case {
    int n, ih, iw, c, k, s, p;
} pool_case;

static const pool_case pool_cases[] = {
    {1, 7, 7, 3, 2, 2, 0},   {2, 8, 8, 16, 2, 2, 0},  {3, 9, 11, 36, 3, 2, 1},
    {2, 6, 5, 67, 3, 1, 1},  {2, 5, 7, 64, 2, 1, 0},  {1, 10, 9, 16, 2, 2, 1},
    {4, 13, 13, 3, 3, 3, 1}, {3, 16, 16, 64, 2, 2, 0}, {1, 4, 4, 67, 3, 1, 0},
    {2, 9, 8, 67, 2, 2, 0},  {2, 8, 11, 5, 2, 2, 0},
};

/* Distinct values (no ties inside any window): a permutation of i/P, shifted. */
static void fill_distinct(float *x, size_t n)
{
    const size_t prime = 1000003;
    if (n >= prime) {
        fprintf(stderr, "test_fast_ops: fill_distinct holds at most %zu values\n", prime - 1);
        exit(2);
    }
    for (size_t i = 0; i < n; i++)
        x[i] = (float)((i * 7919u + seed) % prime) / (float)prime - 0.5f;
    seed = seed * 1664525u + 1013904223u;
}

static void test_maxpool(const pool_case *pc, int ties)
{
    cnn_pool_geom g = {.n = pc->n, .ih = pc->ih, .iw = pc->iw, .c = pc->c, .kh = pc->k,
                       .kw = pc->k, .sh = pc->s, .sw = pc->s, .ph = pc->p, .pw = pc->p};
    check(cnn_pool_geom_finish(&g), "maxpool geometry %dx%d k%d s%d p%d", pc->ih, pc->iw, pc->k,
          pc->s, pc->p);
    size_t in = (size_t)g.n * g.ih * g.iw * g.c, out = (size_t)g.n * g.oh * g.ow * g.c;
    float *x = check_fresh(in), *dy = check_frand(out, &seed, -1.0f, 1.0f);
    if (ties) { /* values on a coarse grid: many windows hold equal maxima */
        for (size_t i = 0; i < in; i++) {
            seed = seed * 1664525u + 1013904223u;
            x[i] = (float)((seed >> 16) % 4) * 0.25f;
        }
        /* NaNs where windows start and end: the first NaN wins, as in the reference */
        x[0] = NAN;
        if (in > (size_t)g.c + 1)
            x[g.c + 1] = NAN;
        x[in - 1] = NAN;
    } else
        fill_distinct(x, in);
    float *yr = check_fresh(out), *yf = check_fresh(out);
    float *dxr = check_fresh(in), *dxf = check_fresh(in);
    uint8_t *arg = malloc(out);
    char what[128];
    snprintf(what, sizeof what, "maxpool%s N%d %dx%dx%d k%d s%d p%d", ties ? " (ties, NaNs)" : "",
             g.n, g.ih, g.iw, g.c, g.kh, g.sh, g.ph);

    cnn_ref_maxpool_forward(&g, x, yr);
    cnn_fast_maxpool_forward(&g, x, yf, arg);
    check(check_bitwise_equal(yf, yr, out), "%s forward: not bitwise equal", what);
    cnn_ref_maxpool_backward(&g, x, dy, dxr);
    cnn_fast_maxpool_backward(&g, arg, dy, dxf);
    check(check_bitwise_equal(dxf, dxr, in), "%s backward: not bitwise equal", what);
    printf("%s: forward, backward bitwise equal\n", what);
    free(x), free(dy), free(yr), free(yf), free(dxr), free(dxf), free(arg);
}

static void test_avgpool(const pool_case *pc)
{
    cnn_pool_geom g = {.n = pc->n, .ih = pc->ih, .iw = pc->iw, .c = pc->c, .kh = pc->k,
                       .kw = pc->k, .sh = pc->s, .sw = pc->s, .ph = pc->p, .pw = pc->p};
    check(cnn_pool_geom_finish(&g), "avgpool geometry %dx%d k%d s%d p%d", pc->ih, pc->iw, pc->k,
          pc->s, pc->p);
    size_t in = (size_t)g.n * g.ih * g.iw * g.c, out = (size_t)g.n * g.oh * g.ow * g.c;
    float *x = check_frand(in, &seed, -1.0f, 1.0f), *dy = check_frand(out, &seed, -1.0f, 1.0f);
    float *yr = check_fresh(out), *yf = check_fresh(out);
    float *dxr = check_fresh(in), *dxf = check_fresh(in);
    const double rtol = 1e-6, atol = 1e-6;
    char what[128];
    snprintf(what, sizeof what, "avgpool N%d %dx%dx%d k%d s%d p%d", g.n, g.ih, g.iw, g.c, g.kh,
             g.sh, g.ph);

    cnn_ref_avgpool_forward(&g, x, yr);
    cnn_fast_avgpool_forward(&g, x, yf);
    check_close(what, yf, yr, out, rtol, atol);
    cnn_ref_avgpool_backward(&g, dy, dxr);
    cnn_fast_avgpool_backward(&g, dy, dxf);
    check_close(what, dxf, dxr, in, rtol, atol);
    printf("%s: forward, backward (rtol %g, atol %g)\n", what, rtol, atol);
    free(x), free(dy), free(yr), free(yf), free(dxr), free(dxf);
}

/* ---------------- GAP and flatten ---------------- */

static void test_gap(int n, int hw, int c)
{
    size_t in = (size_t)n * hw * c, out = (size_t)n * c;
    float *x = check_frand(in, &seed, -1.0f, 2.0f), *dy = check_frand(out, &seed, -1.0f, 1.0f);
    float *yr = check_fresh(out), *yf = check_fresh(out);
    float *dxr = check_fresh(in), *dxf = check_fresh(in);
    const double rtol = 1e-6, atol = 1e-7;
    char what[96];
    snprintf(what, sizeof what, "gap N%d HW%d C%d", n, hw, c);
    cnn_ref_gap_forward(n, hw, c, x, yr);
    cnn_fast_gap_forward(n, hw, c, x, yf);
    check_close(what, yf, yr, out, rtol, atol);
    cnn_ref_gap_backward(n, hw, c, dy, dxr);
    cnn_fast_gap_backward(n, hw, c, dy, dxf);
    check(check_bitwise_equal(dxf, dxr, in), "%s backward: not bitwise equal", what);
    printf("%s: forward (rtol %g, atol %g), backward bitwise\n", what, rtol, atol);
    free(x), free(dy), free(yr), free(yf), free(dxr), free(dxf);
}

static void test_flatten(int n, int h, int w, int c)
{
    size_t count = (size_t)n * h * w * c;
    float *x = check_frand(count, &seed, -1.0f, 1.0f), *dy = check_frand(count, &seed, -1.0f, 1.0f);
    float *yr = check_fresh(count), *yf = check_fresh(count);
    float *dxr = check_fresh(count), *dxf = check_fresh(count);
    char what[96];
    snprintf(what, sizeof what, "flatten N%d %dx%dx%d", n, h, w, c);
    cnn_ref_flatten_forward(n, h, w, c, x, yr);
    cnn_fast_flatten_forward(n, h, w, c, x, yf);
    check(check_bitwise_equal(yf, yr, count), "%s forward: not bitwise equal", what);
    cnn_ref_flatten_backward(n, h, w, c, dy, dxr);
    cnn_fast_flatten_backward(n, h, w, c, dy, dxf);
    check(check_bitwise_equal(dxf, dxr, count), "%s backward: not bitwise equal", what);
    printf("%s: forward, backward bitwise equal\n", what);
    free(x), free(dy), free(yr), free(yf), free(dxr), free(dxf);
}

/* ---------------- batch norm ---------------- */

/* Runs the fast batch norm forward (train) and backward with act; results into
 * the given arrays. */
static void fast_bn(const cnn_bn_geom *g, cnn_act act, const float *x, const float *gamma,
                    const float *beta, const float *dy, float *y, float *mean, float *invstd,
                    float *rmean, float *rvar, float *dx, float *dgamma, float *dbeta,
                    float *scratch)
{
    cnn_fast_batchnorm_forward_train(g, act, x, gamma, beta, y, mean, invstd, rmean, rvar,
                                     scratch);
    cnn_fast_batchnorm_backward(g, act, x, gamma, beta, mean, invstd, dy, dx, dgamma, dbeta,
                                scratch);
}

static void test_batchnorm(int m, int c, float offset, float spread)
{
    const cnn_bn_geom g = {.m = m, .c = c, .eps = 1e-5f, .momentum = 0.1f};
    const size_t count = (size_t)m * c;
    const double rtol = 1e-4, atol = 1e-5;
    /* dgamma and dbeta sum m terms of size ~1 with random signs */
    const double atol_sum = 1e-5 * sqrt((double)m);
    float *x = check_frand(count, &seed, offset - spread, offset + spread);
    float *dy = check_frand(count, &seed, -1.0f, 1.0f);
    float *gamma = check_frand((size_t)c, &seed, 0.5f, 1.5f);
    float *beta = check_frand((size_t)c, &seed, -0.5f, 0.5f);
    float *rm0 = check_frand((size_t)c, &seed, -1.0f, 1.0f);
    float *rv0 = check_frand((size_t)c, &seed, 0.5f, 2.0f);
    float *scratch = check_fresh(cnn_fast_batchnorm_scratch_floats(c));
    char what[128];

    const cnn_act acts[] = {CNN_ACT_NONE, CNN_ACT_RELU, CNN_ACT_GELU};
    for (int fused = 0; fused < 3; fused++) {
        const cnn_act act = acts[fused];
        /* reference: bn, then the activation; backward: the activation (GELU's
         * at z = bn(x)), then bn */
        float *yr = check_fresh(count), *mr = check_fresh((size_t)c), *sr = check_fresh((size_t)c);
        float *rmr = copy_of(rm0, (size_t)c), *rvr = copy_of(rv0, (size_t)c);
        float *dym = check_fresh(count), *dxr = check_fresh(count);
        float *dgr = check_fresh((size_t)c), *dbr = check_fresh((size_t)c);
        float *zr = check_fresh(count);
        cnn_ref_batchnorm_forward_train(&g, x, gamma, beta, zr, mr, sr, rmr, rvr);
        cnn_ref_act_forward(act, count, zr, yr);
        cnn_ref_act_backward(act, count, zr, yr, dy, dym);
        cnn_ref_batchnorm_backward(&g, x, gamma, mr, sr, dym, dxr, dgr, dbr);

        /* fast; its backward masks where its own z is above 0 (z recomputed
         * from x, as GELU's), which a z within rounding of 0 could set apart
         * from the reference's mask: none in these draws */
        float *yf = check_fresh(count), *mf = check_fresh((size_t)c), *sf = check_fresh((size_t)c);
        float *rmf = copy_of(rm0, (size_t)c), *rvf = copy_of(rv0, (size_t)c);
        float *dxf = check_fresh(count), *dgf = check_fresh((size_t)c);
        float *dbf = check_fresh((size_t)c);
        float *dy_before = copy_of(dy, count);
        fast_bn(&g, act, x, gamma, beta, dy, yf, mf, sf, rmf, rvf, dxf, dgf, dbf, scratch);

        snprintf(what, sizeof what, "batchnorm%s M%d C%d x~U(%g+-%g)",
                 act == CNN_ACT_RELU ? "+relu" : act == CNN_ACT_GELU ? "+gelu" : "", m, c,
                 (double)offset, (double)spread);
        char part[160];
#define BN_CLOSE(name, a, b, n, rt, at)                                                   \
    (snprintf(part, sizeof part, "%s %s", what, name), check_close(part, a, b, n, rt, at))
        BN_CLOSE("y", yf, yr, count, rtol, atol);
        BN_CLOSE("save_mean", mf, mr, (size_t)c, rtol, atol);
        BN_CLOSE("save_invstd", sf, sr, (size_t)c, rtol, atol);
        BN_CLOSE("running_mean", rmf, rmr, (size_t)c, rtol, atol);
        BN_CLOSE("running_var", rvf, rvr, (size_t)c, rtol, atol);
        BN_CLOSE("dx", dxf, dxr, count, rtol, atol);
        BN_CLOSE("dgamma", dgf, dgr, (size_t)c, rtol, atol_sum);
        BN_CLOSE("dbeta", dbf, dbr, (size_t)c, rtol, atol_sum);
        check(check_bitwise_equal(dy, dy_before, count), "%s: backward modified dy", what);

        /* gradient outputs may be NULL */
        float *dbn = check_fresh((size_t)c);
        cnn_fast_batchnorm_backward(&g, act, x, gamma, beta, mf, sf, dy, NULL, NULL, dbn,
                                    scratch);
        check(check_bitwise_equal(dbn, dbf, (size_t)c), "%s: dbeta alone differs", what);

        /* eval mode with the running estimates */
        float *er = check_fresh(count), *ef = check_fresh(count);
        cnn_ref_batchnorm_forward_eval(&g, x, gamma, beta, rm0, rv0, er);
        cnn_ref_act_forward(act, count, er, er);
        cnn_fast_batchnorm_forward_eval(&g, act, x, gamma, beta, rm0, rv0, ef);
        BN_CLOSE("eval y", ef, er, count, rtol, atol);
#undef BN_CLOSE

        /* another thread count: bitwise the same */
        const int threads = omp_get_max_threads(), other = threads == 1 ? 3 : 1;
        float *y1 = check_fresh(count), *dx1 = check_fresh(count);
        float *dg1 = check_fresh((size_t)c), *db1 = check_fresh((size_t)c);
        float *m1 = check_fresh((size_t)c), *s1 = check_fresh((size_t)c);
        float *rm1 = copy_of(rm0, (size_t)c), *rv1 = copy_of(rv0, (size_t)c);
        omp_set_num_threads(other);
        fast_bn(&g, act, x, gamma, beta, dy, y1, m1, s1, rm1, rv1, dx1, dg1, db1, scratch);
        omp_set_num_threads(threads);
        check(check_bitwise_equal(y1, yf, count) && check_bitwise_equal(dx1, dxf, count) &&
                  check_bitwise_equal(dg1, dgf, (size_t)c) &&
                  check_bitwise_equal(db1, dbf, (size_t)c),
              "%s: %d and %d threads differ", what, other, threads);

        printf("%s: y, stats, running, dx, eval (rtol %g, atol %g); dgamma, dbeta (rtol %g, "
               "atol %.2g); NULL outputs; %d vs %d threads bitwise\n",
               what, rtol, atol, rtol, atol_sum, other, threads);
        free(yr), free(mr), free(sr), free(rmr), free(rvr), free(dym), free(dxr), free(dgr),
            free(dbr), free(yf), free(mf), free(sf), free(rmf), free(rvf), free(dxf), free(dgf),
            free(dbf), free(dy_before), free(dbn), free(er), free(ef), free(y1), free(dx1),
            free(dg1), free(db1), free(m1), free(s1), free(rm1), free(rv1), free(zr);
    }
    free(x), free(dy), free(gamma), free(beta), free(rm0), free(rv0), free(scratch);
}

/* Batch norm's per-channel results do not depend on the other channels, so
 * c channels (c in 16s: the AVX-512 reductions, sums in registers) must give
 * bitwise what the same channels give inside c + 1 (the plain pairsum.h path),
 * with the same row blocks (m chosen so both widths get as many). x as floats
 * or bf16. A build without AVX-512 (PORTABLE=1) has no vector sums: there
 * both widths take the plain path, so only the bf16 copy of y is checked. */
static void test_batchnorm_widths(int m, int c, int x_bf16)
{
#ifdef __AVX512F__
    const int vector_sums = 1;
#else
    const int vector_sums = 0;
#endif
    const int w = c + 1;
    float *xw = check_frand((size_t)m * w, &seed, -1.0f, 3.0f);
    float *dyw = check_frand((size_t)m * w, &seed, -1.0f, 1.0f);
    float *gamma = check_frand((size_t)w, &seed, 0.5f, 1.5f);
    float *beta = check_frand((size_t)w, &seed, -0.5f, 0.5f);
    uint16_t *xhw = malloc((size_t)m * w * sizeof *xhw), *xhc = malloc((size_t)m * c * sizeof *xhc);
    float *xc = check_fresh((size_t)m * c), *dyc = check_fresh((size_t)m * c);
    CNN_ASSERT(xhw && xhc);
    for (int r = 0; r < m; r++)
        for (int j = 0; j < w; j++) {
            const size_t o = (size_t)r * w + j;
            xhw[o] = cnn_bf16_from_float(xw[o]);
            if (j < c) {
                xc[(size_t)r * c + j] = xw[o];
                dyc[(size_t)r * c + j] = dyw[o];
                xhc[(size_t)r * c + j] = xhw[o];
            }
        }
    const cnn_act acts[] = {CNN_ACT_NONE, CNN_ACT_RELU, CNN_ACT_GELU};
    int same = 1;
    for (int a = 0; a < 3; a++) {
        float *out[2][7]; /* y, mean, invstd, running mean, running var, dgamma, dbeta */
        float *dxs[2];
        for (int k = 0; k < 2; k++) {
            const int n = k ? w : c;
            const cnn_bn_geom g = {.m = m, .c = n, .eps = 1e-5f, .momentum = 0.1f,
                                   .x_bf16 = x_bf16};
            const float *x = x_bf16 ? (const float *)(void *)(k ? xhw : xhc) : k ? xw : xc;
            float *scratch = check_fresh(cnn_fast_batchnorm_scratch_floats(n));
            for (int i = 0; i < 7; i++)
                out[k][i] = check_fresh(i == 0 ? (size_t)m * n : (size_t)n);
            for (int j = 0; j < n; j++)
                out[k][3][j] = 0.0f, out[k][4][j] = 1.0f;
            dxs[k] = check_fresh((size_t)m * n);
            fast_bn(&g, acts[a], x, gamma, beta, k ? dyw : dyc, out[k][0], out[k][1], out[k][2],
                    out[k][3], out[k][4], dxs[k], out[k][5], out[k][6], scratch);
            /* the forward with a bf16 copy of y: y again, and the copy y rounded */
            cnn_bn_geom gc = g;
            uint16_t *copy = malloc((size_t)m * n * sizeof *copy);
            float *yc = check_fresh((size_t)m * n), *mc = check_fresh((size_t)n);
            float *sc = check_fresh((size_t)n), *rc = check_fresh(2 * (size_t)n);
            CNN_ASSERT(copy);
            gc.y_copy = copy;
            for (int j = 0; j < n; j++)
                rc[j] = 0.0f, rc[n + j] = 1.0f;
            cnn_fast_batchnorm_forward_train(&gc, acts[a], x, gamma, beta, yc, mc, sc, rc, rc + n,
                                             scratch);
            same &= check_bitwise_equal(yc, out[k][0], (size_t)m * n);
            for (size_t e = 0; e < (size_t)m * n; e++)
                same &= copy[e] == cnn_bf16_from_float(yc[e]);
            free(copy), free(yc), free(mc), free(sc), free(rc);
            free(scratch);
        }
        for (int r = 0; vector_sums && r < m; r++)
            same &= check_bitwise_equal(out[0][0] + (size_t)r * c, out[1][0] + (size_t)r * w,
                                        (size_t)c) &&
                    check_bitwise_equal(dxs[0] + (size_t)r * c, dxs[1] + (size_t)r * w,
                                        (size_t)c);
        for (int i = 1; vector_sums && i < 7; i++)
            same &= check_bitwise_equal(out[0][i], out[1][i], (size_t)c);
        for (int k = 0; k < 2; k++) {
            for (int i = 0; i < 7; i++)
                free(out[k][i]);
            free(dxs[k]);
        }
    }
    check(same, "batchnorm M%d: C%d (vector sums) and the same channels in C%d (plain sums) "
          "differ, or a bf16 copy of y is not y rounded, x %s", m, c, w,
          x_bf16 ? "bf16" : "floats");
    if (vector_sums)
        printf("batchnorm M%d C%d against C%d, x %s, none/relu/gelu: y, statistics, dx, dgamma, "
               "dbeta bitwise; y's bf16 copy y rounded\n", m, c, w, x_bf16 ? "bf16" : "floats");
    else
        printf("batchnorm M%d C%d, x %s: y's bf16 copy y rounded; the widths' comparison "
               "skipped (built without AVX-512: no vector sums)\n", m, c,
               x_bf16 ? "bf16" : "floats");
    free(xw), free(dyw), free(gamma), free(beta), free(xhw), free(xhc), free(xc), free(dyc);
}

/* ---------------- softmax cross-entropy ---------------- */

static void test_softmax_xent(int n, int k, float spread, float smoothing)
{
    size_t count = (size_t)n * k;
    float *z = check_frand(count, &seed, -spread, spread);
    uint8_t *labels = malloc((size_t)n);
    for (int i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        labels[i] = (uint8_t)((seed >> 8) % (unsigned)(k < 256 ? k : 256));
    }
    /* make a few rows right, so that correct is not always 0 */
    for (int i = 0; i < n; i += 3)
        z[(size_t)i * k + labels[i]] = spread + 1.0f;
    float *dr = check_fresh(count), *df = check_fresh(count);
    int cr = -1, cf = -2, cn = -3;
    float lr = cnn_ref_softmax_xent(n, k, z, labels, smoothing, dr, &cr);
    float lf = cnn_fast_softmax_xent(n, k, z, labels, smoothing, df, &cf);
    float ln = cnn_fast_softmax_xent(n, k, z, labels, smoothing, NULL, &cn);
    const double rtol = 1e-5, atol = 1e-8;
    char what[96];
    snprintf(what, sizeof what, "softmax_xent N%d K%d logits~U(+-%g) smoothing %g", n, k,
             (double)spread, (double)smoothing);
    check_close(what, &lf, &lr, 1, rtol, 0.0);
    check_close(what, &ln, &lr, 1, rtol, 0.0);
    check_close(what, df, dr, count, rtol, atol);
    check(cf == cr && cn == cr, "%s: correct %d and %d, reference %d", what, cf, cn, cr);
    printf("%s: loss %.6f (rtol %g), dlogits (rtol %g, atol %g), correct %d/%d\n", what,
           (double)lr, rtol, rtol, atol, cr, n);
    free(z), free(labels), free(dr), free(df);
}

/* ---------------- dropout ---------------- */

static void test_dropout(int two_d, int n, int hw, int c, float p)
{
    const size_t count = (size_t)n * hw * c, masks = two_d ? (size_t)n * c : count;
    uint8_t *mask = malloc(masks);
    cnn_rng rng;
    cnn_rng_init(&rng, 7, CNN_STREAM_DROPOUT, (uint64_t)count);
    cnn_dropout_mask(&rng, masks, p, mask);
    float *x = check_frand(count, &seed, -2.0f, 2.0f), *dy = check_frand(count, &seed, -1.0f, 1.0f);
    float *yr = check_fresh(count), *yf = check_fresh(count);
    float *dxr = check_fresh(count), *dxf = check_fresh(count);
    float *z = copy_of(x, count);
    char what[96];
    snprintf(what, sizeof what, "%s N%d HW%d C%d p %g", two_d ? "dropout2d" : "dropout", n, hw, c,
             (double)p);
    if (two_d) {
        cnn_ref_dropout2d_forward(n, hw, c, p, mask, x, yr);
        cnn_fast_dropout2d_forward(n, hw, c, p, mask, x, yf);
        cnn_ref_dropout2d_backward(n, hw, c, p, mask, dy, dxr);
        cnn_fast_dropout2d_backward(n, hw, c, p, mask, dy, dxf);
        cnn_fast_dropout2d_forward(n, hw, c, p, mask, z, z);
    } else {
        cnn_ref_dropout_forward(count, p, mask, x, yr);
        cnn_fast_dropout_forward(count, p, mask, x, yf);
        cnn_ref_dropout_backward(count, p, mask, dy, dxr);
        cnn_fast_dropout_backward(count, p, mask, dy, dxf);
        cnn_fast_dropout_forward(count, p, mask, z, z);
    }
    check(check_bitwise_equal(yf, yr, count), "%s forward: not bitwise equal", what);
    check(check_bitwise_equal(dxf, dxr, count), "%s backward: not bitwise equal", what);
    check(check_bitwise_equal(z, yr, count), "%s forward in place: differs", what);
    printf("%s: forward, backward, in place bitwise equal\n", what);
    free(mask), free(x), free(dy), free(yr), free(yf), free(dxr), free(dxf), free(z);
}

/* ---------------- add, concat ---------------- */

static void test_add(size_t count)
{
    float *a = check_frand(count, &seed, -1.0f, 1.0f), *b = check_frand(count, &seed, -1.0f, 1.0f);
    if (count > 5) { /* a sum of -0 and a NaN, which the ReLU passes as they are */
        a[3] = b[3] = -0.0f;
        a[5] = NAN;
    }
    float *yr = check_fresh(count), *yf = check_fresh(count);
    cnn_ref_add_forward(count, a, b, yr);
    cnn_fast_add_forward(count, a, b, yf);
    check(check_bitwise_equal(yf, yr, count), "add %zu values: not bitwise equal", count);
    /* y stored as bf16, with and without the ReLU: the float sum rounded; the
     * ReLU's backward masks by that y as the float one does (no sum here lies
     * within 2^-134 of 0) */
    uint16_t *yh = malloc(count * sizeof *yh);
    float *dy = check_frand(count, &seed, -1.0f, 1.0f), *dy2 = copy_of(dy, count);
    float *d0 = check_fresh(count), *d1 = check_fresh(count);
    float *e0 = check_fresh(count), *e1 = check_fresh(count);
    CNN_ASSERT(yh);
    int same = 1;
    uint16_t *yc = malloc(count * sizeof *yc);
    float *yd = check_fresh(count);
    CNN_ASSERT(yc);
    for (int relu = 0; relu < 2; relu++) {
        if (relu)
            cnn_fast_add_relu_forward(count, a, b, yf);
        cnn_fast_add_forward_bf16(count, relu, a, b, NULL, yh);
        cnn_fast_add_forward_bf16(count, relu, a, b, yd, yc); /* float y and its copy */
        same &= check_bitwise_equal(yd, yf, count);
        for (size_t i = 0; i < count; i++)
            same &= yh[i] == cnn_bf16_from_float(yf[i]) && yc[i] == yh[i];
    }
    free(yc), free(yd);
    cnn_fast_add_relu_backward(count, yf, dy, (float *const[2]){d0, d1});
    cnn_fast_add_relu_backward_bf16(count, yh, dy2, (float *const[2]){e0, e1});
    check(same, "add %zu values, y bf16 or copied as bf16: not the float sums (rounded)", count);
    check(check_bitwise_equal(dy, dy2, count) && check_bitwise_equal(d0, e0, count) &&
              check_bitwise_equal(d1, e1, count),
          "add + ReLU %zu values, y bf16: backward differs from the float y's", count);
    cnn_fast_add_forward(count, a, b, a);
    check(check_bitwise_equal(a, yr, count), "add %zu values in place: differs", count);
    printf("add %zu values: forward, in place, y stored bf16 or copied so, and its ReLU's "
           "backward bitwise equal\n", count);
    free(a), free(b), free(yr), free(yf), free(yh), free(dy), free(dy2), free(d0), free(d1),
        free(e0), free(e1);
}

static void test_concat(int n, int hw, int k, const int *c)
{
    const float *xs[4];
    float *x[4], *dxr[4], *dxf[4], *dxs[4];
    size_t ct = 0;
    char what[96];
    int len = snprintf(what, sizeof what, "concat N%d HW%d C", n, hw);
    for (int i = 0; i < k; i++) {
        size_t ni = (size_t)n * hw * c[i];
        xs[i] = x[i] = check_frand(ni, &seed, -1.0f, 1.0f);
        dxr[i] = check_fresh(ni), dxf[i] = check_fresh(ni);
        dxs[i] = i == 0 ? NULL : dxf[i];
        ct += (size_t)c[i];
        len += snprintf(what + len, sizeof what - (size_t)len, "%s%d", i ? "+" : "", c[i]);
    }
    const size_t ny = (size_t)n * hw * ct;
    float *yr = check_fresh(ny), *yf = check_fresh(ny), *dy = check_frand(ny, &seed, -1.0f, 1.0f);
    cnn_ref_concat_forward(n, hw, k, c, xs, yr);
    cnn_fast_concat_forward(n, hw, k, c, xs, yf);
    check(check_bitwise_equal(yf, yr, ny), "%s forward: not bitwise equal", what);
    cnn_ref_concat_backward(n, hw, k, c, dy, dxr);
    cnn_fast_concat_backward(n, hw, k, c, dy, dxf);
    int same = 1;
    for (int i = 0; i < k; i++)
        same &= check_bitwise_equal(dxf[i], dxr[i], (size_t)n * hw * c[i]);
    check(same, "%s backward: not bitwise equal", what);
    /* dx0 NULL: skipped, the others written as before */
    for (int i = 1; i < k; i++)
        memset(dxf[i], 0xff, (size_t)n * hw * c[i] * sizeof(float));
    cnn_fast_concat_backward(n, hw, k, c, dy, dxs);
    for (int i = 1; i < k; i++)
        same &= check_bitwise_equal(dxf[i], dxr[i], (size_t)n * hw * c[i]);
    check(same, "%s backward with dx0 NULL: differs", what);
    printf("%s: forward, backward (also with dx0 NULL) bitwise equal\n", what);
    for (int i = 0; i < k; i++)
        free(x[i]), free(dxr[i]), free(dxf[i]);
    free(yr), free(yf), free(dy);
}

/* ---------------- global max pooling ---------------- */

static void test_gmp(int n, int hw, int c, int ties)
{
    const size_t in = (size_t)n * hw * c, out = (size_t)n * c;
    float *x = check_fresh(in), *dy = check_frand(out, &seed, -1.0f, 1.0f);
    if (ties) /* a coarse grid: most channels hold their maximum more than once */
        for (size_t i = 0; i < in; i++) {
            seed = seed * 1664525u + 1013904223u;
            x[i] = (float)((seed >> 16) % 4) * 0.25f;
        }
    else
        fill_distinct(x, in);
    if (ties && in > 2)
        x[1] = NAN; /* channel 1 of image 0: the NaN wins, as in the reference */
    float *yr = check_fresh(out), *yf = check_fresh(out);
    float *dxr = check_fresh(in), *dxf = check_fresh(in);
    int32_t *arg = malloc(out * sizeof *arg);
    char what[96];
    snprintf(what, sizeof what, "gmp%s N%d HW%d C%d", ties ? " (ties, a NaN)" : "", n, hw, c);
    cnn_ref_gmp_forward(n, hw, c, x, yr);
    cnn_fast_gmp_forward(n, hw, c, x, yf, arg);
    check(check_bitwise_equal(yf, yr, out), "%s forward: not bitwise equal", what);
    cnn_ref_gmp_backward(n, hw, c, x, dy, dxr);
    cnn_fast_gmp_backward(n, hw, c, arg, dy, dxf);
    check(check_bitwise_equal(dxf, dxr, in), "%s backward: not bitwise equal", what);
    printf("%s: forward, backward bitwise equal\n", what);
    free(x), free(dy), free(yr), free(yf), free(dxr), free(dxf), free(arg);
}

/* The measured peak (bench's default % of peak): a positive rate where the
 * CPU has the instructions, 0 where it has not; no claim about its size. */
static void test_peak(void)
{
    double fp32 = cnn_peak_gflops(1, 0, 0.005, NULL), bf16 = cnn_peak_gflops(1, 1, 0.005, NULL);
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") ||
        (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")))
        check(fp32 > 0 && fp32 < 1e6, "peak: fp32 FMA measured %g GFLOP/s", fp32);
    else
        check(fp32 == 0, "peak: a CPU without FMA measures nothing (%g)", fp32);
    if (__builtin_cpu_supports("avx512bf16"))
        check(bf16 > 0 && bf16 < 1e6, "peak: bf16 dot products measured %g GFLOP/s", bf16);
    else
        check(bf16 == 0, "peak: a CPU without AVX512_BF16 measures no bf16 (%g)", bf16);
    printf("peak on one thread: fp32 FMA %.0f GFLOP/s, bf16 dot products %.0f\n", fp32, bf16);
}

int main(void)
{
    const cnn_act acts[] = {CNN_ACT_NONE,       CNN_ACT_RELU, CNN_ACT_SIGMOID, CNN_ACT_TANH,
                            CNN_ACT_LEAKY_RELU, CNN_ACT_GELU, CNN_ACT_ELU};
    const size_t counts[] = {1, 17, 100003};
    for (size_t i = 0; i < sizeof acts / sizeof acts[0]; i++)
        for (size_t j = 0; j < 3; j++)
            test_act(acts[i], counts[j]);
    test_gelu();

    for (size_t i = 0; i < sizeof pool_cases / sizeof pool_cases[0]; i++) {
        test_maxpool(&pool_cases[i], 0);
        test_maxpool(&pool_cases[i], 1);
        test_avgpool(&pool_cases[i]);
    }

    test_gap(1, 1, 3);
    test_gap(2, 16, 64);
    test_gap(3, 49, 67);
    test_gap(2, 1024, 36);

    test_flatten(1, 1, 1, 512);
    test_flatten(2, 3, 5, 7);
    test_flatten(3, 8, 8, 67);
    test_flatten(2, 33, 35, 3);
    test_flatten(5, 2, 2, 1);

    test_batchnorm(1, 16, 0.0f, 1.0f);          /* one row: var 0 */
    test_batchnorm(2, 512, 0.0f, 1.0f);         /* BatchNorm1d, batch 2 */
    test_batchnorm(128, 67, 1.0f, 2.0f);        /* BatchNorm1d */
    test_batchnorm(2 * 5 * 7, 3, 3.0f, 2.0f);
    test_batchnorm(3 * 9 * 9, 36, -2.0f, 1.0f);
    test_batchnorm(4 * 16 * 16, 64, 0.5f, 1.0f);
    test_batchnorm(2 * 7 * 7, 300, 0.0f, 1.0f); /* more channels than one slice */
    test_batchnorm(16 * 32 * 32, 64, 2.0f, 3.0f); /* the full 64 row blocks */
    test_batchnorm(8 * 16 * 16, 16, 50.0f, 1.0f); /* mean far from 0 against the spread */
    for (int xb = 0; xb < 2; xb++) { /* one block; then the full 64 */
        test_batchnorm_widths(200, 48, xb);
        test_batchnorm_widths(20000, 80, xb);
    }

    const float smoothing[] = {0.0f, 0.1f, 0.5f};
    for (size_t i = 0; i < sizeof smoothing / sizeof smoothing[0]; i++) {
        test_softmax_xent(1, 10, 5.0f, smoothing[i]);
        test_softmax_xent(128, 10, 5.0f, smoothing[i]);
        test_softmax_xent(7, 1000, 3.0f, smoothing[i]);
        test_softmax_xent(64, 3, 30.0f, smoothing[i]); /* confident rows: p near 1 */
        test_softmax_xent(300, 256, 8.0f, smoothing[i]);
    }

    /* two_d n hw c p */
    test_dropout(0, 1, 1, 1, 0.5f);
    test_dropout(0, 3, 7, 17, 0.1f);
    test_dropout(0, 8, 32 * 32, 16, 0.5f);
    test_dropout(0, 2, 9, 33, 0.0f);
    test_dropout(1, 2, 5, 3, 0.5f);
    test_dropout(1, 3, 49, 67, 0.2f);
    test_dropout(1, 16, 16 * 16, 64, 0.9f);

    test_add(1);
    test_add(1001);
    test_add(100003);
    const int c1[1] = {5}, c2[2] = {64, 64}, c3[3] = {3, 17, 1}, c4[4] = {16, 32, 8, 67};
    test_concat(1, 1, 1, c1);
    test_concat(2, 9, 3, c3);
    test_concat(8, 16 * 16, 2, c2);
    test_concat(3, 49, 4, c4);

    test_gmp(1, 1, 3, 0);
    test_gmp(2, 16, 64, 0);
    test_gmp(3, 49, 67, 0);
    test_gmp(16, 64, 128, 0);
    test_gmp(2, 9, 17, 1);
    test_gmp(4, 64, 36, 1);

    test_peak();
    return check_finish("test_fast_ops");
}
