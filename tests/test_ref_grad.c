/* test_ref_grad.c: checks every reference op's backward (src/ops/ref) against
 * central finite differences, and a few forwards against values worked out by
 * hand. (Group norm has its own, tests/test_groupnorm.c; dropout's random mask
 * is checked statistically by tests/test_dropout_mask.c, here it is fixed.)
 *
 * Method: for an op y = f(p) and a fixed random r, the scalar objective is
 * L = sum_i y_i * r_i, accumulated in double from the float outputs. The
 * analytic gradient is the op's backward with dy = r; the numerical one is
 * (L(p + h) - L(p - h)) / (2h) per element of p, with h ~ FD_EPS (the actual
 * float step is used as the divisor). Gradient buffers are filled with NaN
 * before each backward, so an element the backward forgets to write fails. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "ops/ops.h"

#define FD_EPS 1e-3f
#define RTOL 1e-2
#define ATOL 1e-3

static unsigned seed = 12345u;

/* The objective L(ctx) evaluated at the current contents of the buffers. */
typedef double (*objective_fn)(void *ctx);

/* g (n) = central differences of f with respect to each element of p (n). */
static void fd_grad(objective_fn f, void *ctx, float *p, size_t n, float *g)
{
    for (size_t i = 0; i < n; i++) {
        float saved = p[i];
        p[i] = saved + FD_EPS;
        float hi = p[i];
        double lp = f(ctx);
        p[i] = saved - FD_EPS;
        float lo = p[i];
        double lm = f(ctx);
        p[i] = saved;
        g[i] = (float)((lp - lm) / ((double)hi - (double)lo));
    }
}

/* Prints the worst error ratio |a-b| / (atol + rtol*|b|) (pass when <= 1) and
 * records the check. */
static void compare(const char *what, const float *analytic, const float *numeric, size_t n,
                    double rtol, double atol)
{
    check_close_print(what, 58, analytic, numeric, n, rtol, atol);
}

static void compare_exact(const char *what, const float *a, const float *b, size_t n)
{
    check(check_bitwise_equal(a, b, n), "%s: not bit-identical", what);
}

/* ---------------- convolution ---------------- */

typedef struct conv_ctx {
    cnn_conv_geom g;
    float *x, *w, *b, *y, *r; /* x (N,IH,IW,IC) w (OC,IC/G,KH,KW) b (OC) or NULL y,r (N,OH,OW,OC) */
} conv_ctx;

static size_t conv_ny(const cnn_conv_geom *g) { return (size_t)g->n * g->oh * g->ow * g->oc; }

static double conv_objective(void *p)
{
    conv_ctx *c = p;
    cnn_ref_conv2d_forward(&c->g, c->x, c->w, c->b, c->y);
    return check_dot(c->y, c->r, conv_ny(&c->g));
}

/* groups G: grouped (G = IC = OC: depthwise) */
static void test_conv_groups(int n, int ih, int iw, int ic, int oc, int kh, int kw, int sh,
                             int sw, int ph, int pw, int bias, int groups)
{
    conv_ctx c = {.g = {.n = n, .ih = ih, .iw = iw, .ic = ic, .oc = oc, .kh = kh, .kw = kw,
                        .sh = sh, .sw = sw, .ph = ph, .pw = pw, .groups = groups}};
    if (!cnn_conv_geom_finish(&c.g)) {
        check(0, "conv test geometry invalid");
        return;
    }
    size_t nx = (size_t)n * ih * iw * ic, nw = (size_t)oc * (ic / groups) * kh * kw;
    size_t ny = conv_ny(&c.g);
    c.x = check_frand(nx, &seed, -1, 1);
    c.w = check_frand(nw, &seed, -0.5f, 0.5f);
    c.b = bias ? check_frand((size_t)oc, &seed, -0.5f, 0.5f) : NULL;
    c.y = check_falloc(ny);
    c.r = check_frand(ny, &seed, -1, 1);
    float *dx = check_fnan(nx), *dw = check_fnan(nw), *db = bias ? check_fnan((size_t)oc) : NULL;
    cnn_ref_conv2d_backward(&c.g, c.x, c.w, c.r, dx, dw, db);

    char name[160];
    int len = snprintf(name, sizeof name, "conv N%d %dx%dx%d->%d k%dx%d s%dx%d p%dx%d %s", n, ih,
                       iw, ic, oc, kh, kw, sh, sw, ph, pw, bias ? "bias" : "nobias");
    if (groups > 1)
        len += snprintf(name + len, sizeof name - (size_t)len, " groups %d", groups);
    float *num = check_falloc(nx > nw ? nx : nw);
    fd_grad(conv_objective, &c, c.x, nx, num);
    snprintf(name + len, sizeof name - (size_t)len, ": dx");
    compare(name, dx, num, nx, RTOL, ATOL);
    fd_grad(conv_objective, &c, c.w, nw, num);
    snprintf(name + len, sizeof name - (size_t)len, ": dw");
    compare(name, dw, num, nw, RTOL, ATOL);
    if (bias) {
        fd_grad(conv_objective, &c, c.b, (size_t)oc, num);
        snprintf(name + len, sizeof name - (size_t)len, ": db");
        compare(name, db, num, (size_t)oc, RTOL, ATOL);
    }

    /* Gradient outputs may be NULL; the others come out the same. */
    float *dx2 = check_fnan(nx), *dw2 = check_fnan(nw);
    cnn_ref_conv2d_backward(&c.g, c.x, c.w, c.r, dx2, NULL, NULL);
    cnn_ref_conv2d_backward(&c.g, c.x, c.w, c.r, NULL, dw2, NULL);
    compare_exact("conv dx with dw, db NULL", dx2, dx, nx);
    compare_exact("conv dw with dx, db NULL", dw2, dw, nw);

    free(dx2), free(dw2), free(num), free(dx), free(dw), free(db);
    free(c.x), free(c.w), free(c.b), free(c.y), free(c.r);
}

static void test_conv(int n, int ih, int iw, int ic, int oc, int kh, int kw, int sh, int sw,
                      int ph, int pw, int bias)
{
    test_conv_groups(n, ih, iw, ic, oc, kh, kw, sh, sw, ph, pw, bias, 1);
}

/* A grouped convolution is G convolutions side by side: group j's outputs
 * are the ungrouped convolution of group j's input channels with group j's
 * weights (exact: the same sums in the same order). */
static void test_conv_grouped_split(void)
{
    enum { N = 2, H = 5, W = 6, IC = 6, OC = 4, G = 2, K = 3 };
    cnn_conv_geom g = {.n = N, .ih = H, .iw = W, .ic = IC, .oc = OC, .kh = K, .kw = K,
                       .sh = 1, .sw = 1, .ph = 1, .pw = 1, .groups = G};
    cnn_conv_geom g1 = g;
    g1.ic = IC / G, g1.oc = OC / G, g1.groups = 1;
    cnn_conv_geom_finish(&g), cnn_conv_geom_finish(&g1);
    size_t nx = (size_t)N * H * W * IC, nw = (size_t)OC * (IC / G) * K * K;
    size_t ny = (size_t)N * g.oh * g.ow * OC, ny1 = ny / G, nx1 = nx / G;
    float *x = check_frand(nx, &seed, -1, 1), *w = check_frand(nw, &seed, -1, 1);
    float *b = check_frand(OC, &seed, -1, 1), *y = check_falloc(ny);
    float *x1 = check_falloc(nx1), *y1 = check_falloc(ny1), *want = check_falloc(ny);
    cnn_ref_conv2d_forward(&g, x, w, b, y);
    for (int j = 0; j < G; j++) {
        for (size_t p = 0; p < nx1 / (IC / G); p++)
            memcpy(x1 + p * (IC / G), x + p * IC + j * (IC / G), sizeof(float) * (IC / G));
        cnn_ref_conv2d_forward(&g1, x1, w + (size_t)j * (nw / G), b + j * (OC / G), y1);
        for (size_t p = 0; p < ny1 / (OC / G); p++)
            memcpy(want + p * OC + j * (OC / G), y1 + p * (OC / G), sizeof(float) * (OC / G));
    }
    printf("  conv groups 2: forward against 2 ungrouped convolutions side by side (exact)\n");
    compare_exact("grouped conv = its groups' convolutions", y, want, ny);
    free(x), free(w), free(b), free(y), free(x1), free(y1), free(want);
}

/* A 1-channel 3x3 convolution, stride 2, padding 1, on x = 1..16 (4x4):
 * worked out by hand, e.g. y[0,0] = 1*x[0,0] + 3*x[1,1] + 0.5 = 1 + 18 + 0.5. */
static void test_conv_known(void)
{
    cnn_conv_geom g = {.n = 1, .ih = 4, .iw = 4, .ic = 1, .oc = 1, .kh = 3, .kw = 3,
                       .sh = 2, .sw = 2, .ph = 1, .pw = 1};
    check(cnn_conv_geom_finish(&g) && g.oh == 2 && g.ow == 2, "conv known: output 2x2");
    float x[16], w[9] = {1, 2, 0, 0, 1, 0, -1, 0, 3}, b[1] = {0.5f}, y[4];
    for (int i = 0; i < 16; i++)
        x[i] = (float)(i + 1);
    const float want[4] = {19.5f, 21.5f, 61.5f, 65.5f};
    cnn_ref_conv2d_forward(&g, x, w, b, y);
    printf("  conv 1x4x4x1 k3 s2 p1 forward vs hand values (atol 1e-6)\n");
    check_close("conv forward, hand values", y, want, 4, 0, 1e-6);
}

/* ---------------- linear ---------------- */

typedef struct linear_ctx {
    int n, in, out;
    float *x, *w, *b, *y, *r; /* x (N,IN) w (OUT,IN) b (OUT) or NULL y,r (N,OUT) */
} linear_ctx;

static double linear_objective(void *p)
{
    linear_ctx *c = p;
    cnn_ref_linear_forward(c->n, c->in, c->out, c->x, c->w, c->b, c->y);
    return check_dot(c->y, c->r, (size_t)c->n * c->out);
}

static void test_linear(int n, int in, int out, int bias)
{
    linear_ctx c = {.n = n, .in = in, .out = out};
    size_t nx = (size_t)n * in, nw = (size_t)out * in, ny = (size_t)n * out;
    c.x = check_frand(nx, &seed, -1, 1);
    c.w = check_frand(nw, &seed, -0.5f, 0.5f);
    c.b = bias ? check_frand((size_t)out, &seed, -0.5f, 0.5f) : NULL;
    c.y = check_falloc(ny);
    c.r = check_frand(ny, &seed, -1, 1);
    float *dx = check_fnan(nx), *dw = check_fnan(nw), *db = check_fnan((size_t)out);
    cnn_ref_linear_backward(n, in, out, c.x, c.w, c.r, dx, dw, bias ? db : NULL);

    char name[120];
    int len = snprintf(name, sizeof name, "linear N%d %d->%d %s", n, in, out,
                       bias ? "bias" : "nobias");
    float *num = check_falloc(nx > nw ? nx : nw);
    fd_grad(linear_objective, &c, c.x, nx, num);
    snprintf(name + len, sizeof name - (size_t)len, ": dx");
    compare(name, dx, num, nx, RTOL, ATOL);
    fd_grad(linear_objective, &c, c.w, nw, num);
    snprintf(name + len, sizeof name - (size_t)len, ": dw");
    compare(name, dw, num, nw, RTOL, ATOL);
    if (bias) {
        fd_grad(linear_objective, &c, c.b, (size_t)out, num);
        snprintf(name + len, sizeof name - (size_t)len, ": db");
        compare(name, db, num, (size_t)out, RTOL, ATOL);
    }
    free(num), free(dx), free(dw), free(db);
    free(c.x), free(c.w), free(c.b), free(c.y), free(c.r);
}

/* ---------------- activations ---------------- */

typedef struct act_ctx {
    cnn_act a;
    size_t count;
    float *x, *y, *r; /* (count) each */
} act_ctx;

static double act_objective(void *p)
{
    act_ctx *c = p;
    cnn_ref_act_forward(c->a, c->count, c->x, c->y);
    return check_dot(c->y, c->r, c->count);
}

static void test_act(cnn_act a, const char *name)
{
    act_ctx c = {.a = a, .count = 60};
    c.x = check_frand(c.count, &seed, -3, 3);
    for (size_t i = 0; i < c.count; i++) /* keep the kinks at 0 out of the FD steps */
        if (fabsf(c.x[i]) < 0.05f)
            c.x[i] += c.x[i] < 0 ? -0.1f : 0.1f;
    c.y = check_falloc(c.count);
    c.r = check_frand(c.count, &seed, -1, 1);
    cnn_ref_act_forward(a, c.count, c.x, c.y);
    float *dx = check_fnan(c.count), *num = check_falloc(c.count);
    cnn_ref_act_backward(a, c.count, c.x, c.y, c.r, dx);
    fd_grad(act_objective, &c, c.x, c.count, num);
    char what[80];
    snprintf(what, sizeof what, "activation %s: dx (from %s)", name,
             cnn_act_backward_needs_x(a) ? "x" : "y");
    compare(what, dx, num, c.count, RTOL, ATOL);

    /* In place: x and y alias, dy and dx alias. (The FD pass left y from a
     * perturbed x, so recompute it first.) */
    cnn_ref_act_forward(a, c.count, c.x, c.y);
    float *buf = check_falloc(c.count);
    memcpy(buf, c.x, c.count * sizeof *buf);
    cnn_ref_act_forward(a, c.count, buf, buf);
    compare_exact("activation forward in place", buf, c.y, c.count);
    memcpy(buf, c.r, c.count * sizeof *buf);
    cnn_ref_act_backward(a, c.count, c.x, c.y, buf, buf);
    compare_exact("activation backward in place", buf, dx, c.count);
    if (!cnn_act_backward_needs_x(a)) { /* the backward must not read x */
        cnn_ref_act_backward(a, c.count, NULL, c.y, c.r, buf);
        compare_exact("activation backward with x NULL", buf, dx, c.count);
    }
    free(buf), free(dx), free(num), free(c.x), free(c.y), free(c.r);
}

static void test_act_known(void)
{
    float x[4] = {-1.0f, 0.0f, 2.0f, NAN}, y[4];
    cnn_ref_act_forward(CNN_ACT_RELU, 4, x, y);
    check(y[0] == 0 && y[1] == 0 && y[2] == 2 && isnan(y[3]), "relu(-1, 0, 2, NaN) = 0, 0, 2, NaN");
    cnn_ref_act_forward(CNN_ACT_SIGMOID, 3, x, y);
    check(fabsf(y[0] - 0.26894142f) < 1e-6f && y[1] == 0.5f && fabsf(y[2] - 0.88079708f) < 1e-6f,
          "sigmoid(-1, 0, 2) = 0.268941, 0.5, 0.880797");
    cnn_ref_act_forward(CNN_ACT_TANH, 3, x, y);
    check(fabsf(y[0] + 0.76159416f) < 1e-6f && y[1] == 0 && fabsf(y[2] - 0.96402758f) < 1e-6f,
          "tanh(-1, 0, 2) = -0.761594, 0, 0.964028");
    cnn_ref_act_forward(CNN_ACT_LEAKY_RELU, 3, x, y);
    check(y[0] == -0.01f && y[1] == 0 && y[2] == 2, "leaky relu(-1, 0, 2) = -0.01, 0, 2");
    cnn_ref_act_forward(CNN_ACT_GELU, 3, x, y);
    check(fabsf(y[0] + 0.158655254f) < 1e-6f && y[1] == 0 && fabsf(y[2] - 1.95449974f) < 1e-6f,
          "gelu(-1, 0, 2) = -0.158655, 0, 1.954500");
    cnn_ref_act_forward(CNN_ACT_ELU, 3, x, y);
    check(fabsf(y[0] + 0.632120559f) < 1e-6f && y[1] == 0 && y[2] == 2,
          "elu(-1, 0, 2) = -0.632121, 0, 2");

    /* Derivatives at exactly 0 (PyTorch's choice): relu 0, leaky 0.01, elu 1, gelu 1/2. */
    float zero[1] = {0.0f}, yz[1], one[1] = {1.0f}, d[1];
    const cnn_act at0[4] = {CNN_ACT_RELU, CNN_ACT_LEAKY_RELU, CNN_ACT_ELU, CNN_ACT_GELU};
    const float want0[4] = {0.0f, 0.01f, 1.0f, 0.5f};
    for (int i = 0; i < 4; i++) {
        cnn_ref_act_forward(at0[i], 1, zero, yz);
        cnn_ref_act_backward(at0[i], 1, zero, yz, one, d);
        check(d[0] == want0[i], "activation %d: derivative at 0 is %g, want %g", (int)at0[i],
              (double)d[0], (double)want0[i]);
    }
    check(cnn_act_backward_needs_x(CNN_ACT_GELU) && !cnn_act_backward_needs_x(CNN_ACT_ELU) &&
              !cnn_act_backward_needs_x(CNN_ACT_LEAKY_RELU) &&
              !cnn_act_backward_needs_x(CNN_ACT_RELU),
          "cnn_act_backward_needs_x: only GELU");
    printf("  activation forwards vs hand values (relu, sigmoid, tanh, leaky relu, gelu, elu; "
           "tol 1e-6), derivatives at 0 exact\n");
}

/* ---------------- pooling ---------------- */

typedef struct pool_ctx {
    cnn_pool_geom g;
    int max;
    float *x, *y, *r; /* x (N,IH,IW,C) y,r (N,OH,OW,C) */
} pool_ctx;

static size_t pool_nx(const cnn_pool_geom *g) { return (size_t)g->n * g->ih * g->iw * g->c; }
static size_t pool_ny(const cnn_pool_geom *g) { return (size_t)g->n * g->oh * g->ow * g->c; }

static double pool_objective(void *p)
{
    pool_ctx *c = p;
    if (c->max)
        cnn_ref_maxpool_forward(&c->g, c->x, c->y);
    else
        cnn_ref_avgpool_forward(&c->g, c->x, c->y);
    return check_dot(c->y, c->r, pool_ny(&c->g));
}

static void test_pool(int max, int n, int ih, int iw, int ch, int kh, int kw, int sh, int sw,
                      int ph, int pw)
{
    pool_ctx c = {.g = {.n = n, .ih = ih, .iw = iw, .c = ch, .kh = kh, .kw = kw, .sh = sh,
                        .sw = sw, .ph = ph, .pw = pw},
                  .max = max};
    if (!cnn_pool_geom_finish(&c.g)) {
        check(0, "pool test geometry invalid");
        return;
    }
    size_t nx = pool_nx(&c.g), ny = pool_ny(&c.g);
    c.x = check_falloc(nx);
    /* Distinct values 0.01 apart in shuffled order: no ties, and an FD step of
     * 1e-3 never changes which element is a window's maximum. */
    for (size_t i = 0; i < nx; i++)
        c.x[i] = 0.01f * ((float)i - (float)nx / 2);
    for (size_t i = nx - 1; i > 0; i--) {
        seed = seed * 1664525u + 1013904223u;
        size_t j = (seed >> 8) % (i + 1);
        float t = c.x[i];
        c.x[i] = c.x[j], c.x[j] = t;
    }
    c.y = check_falloc(ny);
    c.r = check_frand(ny, &seed, -1, 1);
    float *dx = check_fnan(nx), *num = check_falloc(nx);
    if (max)
        cnn_ref_maxpool_backward(&c.g, c.x, c.r, dx);
    else
        cnn_ref_avgpool_backward(&c.g, c.r, dx);
    fd_grad(pool_objective, &c, c.x, nx, num);
    char what[120];
    snprintf(what, sizeof what, "%s N%d %dx%dx%d k%dx%d s%dx%d p%dx%d: dx",
             max ? "maxpool" : "avgpool", n, ih, iw, ch, kh, kw, sh, sw, ph, pw);
    compare(what, dx, num, nx, RTOL, ATOL);
    free(dx), free(num), free(c.x), free(c.y), free(c.r);
}

static void test_pool_known(void)
{
    /* 2x2 input, k2 s1 p1 -> 3x3 output: every window sees part of the padding. */
    cnn_pool_geom g = {.n = 1, .ih = 2, .iw = 2, .c = 1, .kh = 2, .kw = 2, .sh = 1, .sw = 1,
                       .ph = 1, .pw = 1};
    check(cnn_pool_geom_finish(&g) && g.oh == 3 && g.ow == 3, "pool known: output 3x3");
    float neg[4] = {-1, -2, -3, -4}, pos[4] = {1, 2, 3, 4}, y[9];
    const float want_max[9] = {-1, -1, -2, -1, -1, -2, -3, -3, -4}; /* padding is -inf, not 0 */
    const float want_avg[9] = {0.25f, 0.75f, 0.5f, 1, 2.5f, 1.5f, 0.75f, 1.75f, 1}; /* sum / 4 */
    cnn_ref_maxpool_forward(&g, neg, y);
    check_close("maxpool k2 s1 p1 forward on negatives, hand values", y, want_max, 9, 0, 1e-6);
    cnn_ref_avgpool_forward(&g, pos, y);
    check_close("avgpool k2 s1 p1 forward (count_include_pad), hand values", y, want_avg, 9,
                1e-6, 0);

    /* Ties: the gradient goes to the first maximum in row-major window order. */
    cnn_pool_geom t = {.n = 1, .ih = 2, .iw = 2, .c = 1, .kh = 2, .kw = 2, .sh = 2, .sw = 2};
    cnn_pool_geom_finish(&t);
    float same[4] = {1, 1, 1, 1}, later[4] = {0, 5, 5, 1}, dy[1] = {1}, dx[4];
    const float want_same[4] = {1, 0, 0, 0}, want_later[4] = {0, 1, 0, 0};
    cnn_ref_maxpool_backward(&t, same, dy, dx);
    check_close("maxpool tie (all equal): gradient to first", dx, want_same, 4, 0, 1e-6);
    cnn_ref_maxpool_backward(&t, later, dy, dx);
    check_close("maxpool tie (0,5,5,1): gradient to first 5", dx, want_later, 4, 0, 1e-6);
    printf("  pool forwards vs hand values, max-pool tie routing (atol 1e-6)\n");
}

/* ---------------- global average pooling, flatten ---------------- */

typedef struct shape_ctx {
    int n, h, w, c;
    int gap;
    float *x, *y, *r; /* x (N,H,W,C) y,r (N,C) for gap, (N,C*H*W) for flatten */
} shape_ctx;

static double shape_objective(void *p)
{
    shape_ctx *s = p;
    if (s->gap) {
        cnn_ref_gap_forward(s->n, s->h * s->w, s->c, s->x, s->y);
        return check_dot(s->y, s->r, (size_t)s->n * s->c);
    }
    cnn_ref_flatten_forward(s->n, s->h, s->w, s->c, s->x, s->y);
    return check_dot(s->y, s->r, (size_t)s->n * s->h * s->w * s->c);
}

static void test_shape(int gap, int n, int h, int w, int ch)
{
    shape_ctx s = {.n = n, .h = h, .w = w, .c = ch, .gap = gap};
    size_t nx = (size_t)n * h * w * ch, ny = gap ? (size_t)n * ch : nx;
    s.x = check_frand(nx, &seed, -1, 1);
    s.y = check_falloc(ny);
    s.r = check_frand(ny, &seed, -1, 1);
    float *dx = check_fnan(nx), *num = check_falloc(nx);
    if (gap)
        cnn_ref_gap_backward(n, h * w, ch, s.r, dx);
    else
        cnn_ref_flatten_backward(n, h, w, ch, s.r, dx);
    fd_grad(shape_objective, &s, s.x, nx, num);
    char what[80];
    snprintf(what, sizeof what, "%s N%d %dx%dx%d: dx", gap ? "gap" : "flatten", n, h, w, ch);
    compare(what, dx, num, nx, RTOL, ATOL);
    free(dx), free(num), free(s.x), free(s.y), free(s.r);
}

static void test_shape_known(void)
{
    /* x (1,1,2,3) NHWC = [w0: c0 c1 c2, w1: c0 c1 c2] -> (C,H,W) order c0w0 c0w1 c1w0 ... */
    float x[6] = {0, 1, 2, 3, 4, 5}, y[6], back[6];
    const float want[6] = {0, 3, 1, 4, 2, 5};
    cnn_ref_flatten_forward(1, 1, 2, 3, x, y);
    check_close("flatten NHWC -> (C,H,W) order, hand values", y, want, 6, 0, 1e-6);
    cnn_ref_flatten_backward(1, 1, 2, 3, y, back);
    check_close("flatten backward undoes forward", back, x, 6, 0, 1e-6);
    /* gap of (1,2,1,2): channel means */
    float g[2];
    const float want_g[2] = {1.0f, 2.0f};
    float gx[4] = {0.5f, 3.0f, 1.5f, 1.0f};
    cnn_ref_gap_forward(1, 2, 2, gx, g);
    check_close("gap forward, hand values", g, want_g, 2, 1e-6, 0);
    printf("  flatten order and gap forward vs hand values\n");
}

/* ---------------- batch norm ---------------- */

typedef struct bn_ctx {
    cnn_bn_geom g;
    float *x, *gamma, *beta, *y, *r;   /* x,y,r (M,C) gamma,beta (C) */
    float *mean, *invstd, *rmean, *rvar; /* (C) */
} bn_ctx;

static double bn_objective(void *p)
{
    bn_ctx *b = p;
    cnn_ref_batchnorm_forward_train(&b->g, b->x, b->gamma, b->beta, b->y, b->mean, b->invstd,
                                    b->rmean, b->rvar);
    return check_dot(b->y, b->r, (size_t)b->g.m * b->g.c);
}

static void test_bn(const char *kind, int m, int ch)
{
    bn_ctx b = {.g = {.m = m, .c = ch, .eps = 1e-5f, .momentum = 0.1f}};
    size_t nx = (size_t)m * ch;
    b.x = check_frand(nx, &seed, -1.5f, 2.5f);
    b.gamma = check_frand((size_t)ch, &seed, 0.5f, 1.5f);
    b.beta = check_frand((size_t)ch, &seed, -0.5f, 0.5f);
    b.y = check_falloc(nx);
    b.r = check_frand(nx, &seed, -1, 1);
    b.mean = check_falloc((size_t)ch), b.invstd = check_falloc((size_t)ch);
    b.rmean = check_falloc((size_t)ch), b.rvar = check_falloc((size_t)ch);
    bn_objective(&b);

    /* Output per channel: (y - beta) / gamma has mean 0 and variance var/(var+eps) ~ 1. */
    double worst_mean = 0, worst_var = 0;
    for (int c = 0; c < ch; c++) {
        double s = 0, ss = 0;
        for (int r = 0; r < m; r++)
            s += (b.y[(size_t)r * ch + c] - b.beta[c]) / b.gamma[c];
        for (int r = 0; r < m; r++) {
            double d = (b.y[(size_t)r * ch + c] - b.beta[c]) / b.gamma[c] - s / m;
            ss += d * d;
        }
        worst_mean = fmax(worst_mean, fabs(s / m));
        worst_var = fmax(worst_var, fabs(ss / m - 1));
    }
    printf("  batchnorm %s M%d C%d: normalised output |mean| %.2g, |var-1| %.2g (tol 1e-5, 1e-3)\n",
           kind, m, ch, worst_mean, worst_var);
    check(worst_mean < 1e-5 && worst_var < 1e-3, "batchnorm %s: output not mean 0 var 1", kind);

    float *dx = check_fnan(nx), *dgamma = check_fnan((size_t)ch), *dbeta = check_fnan((size_t)ch);
    cnn_ref_batchnorm_backward(&b.g, b.x, b.gamma, b.mean, b.invstd, b.r, dx, dgamma, dbeta);
    float *num = check_falloc(nx);
    char what[80];
    fd_grad(bn_objective, &b, b.x, nx, num);
    snprintf(what, sizeof what, "batchnorm %s M%d C%d: dx", kind, m, ch);
    compare(what, dx, num, nx, RTOL, ATOL);
    fd_grad(bn_objective, &b, b.gamma, (size_t)ch, num);
    snprintf(what, sizeof what, "batchnorm %s M%d C%d: dgamma", kind, m, ch);
    compare(what, dgamma, num, (size_t)ch, RTOL, ATOL);
    fd_grad(bn_objective, &b, b.beta, (size_t)ch, num);
    snprintf(what, sizeof what, "batchnorm %s M%d C%d: dbeta", kind, m, ch);
    compare(what, dbeta, num, (size_t)ch, RTOL, ATOL);
    free(num), free(dx), free(dgamma), free(dbeta);
    free(b.x), free(b.gamma), free(b.beta), free(b.y), free(b.r);
    free(b.mean), free(b.invstd), free(b.rmean), free(b.rvar);
}

static void test_bn_known(void)
{
    /* Channel 0: 1 2 3 4 (mean 2.5, var 1.25, unbiased 5/3);
     * channel 1: 10 -10 0 4 (mean 1, var 53, unbiased 212/3). */
    cnn_bn_geom g = {.m = 4, .c = 2, .eps = 1e-5f, .momentum = 0.1f};
    float x[8] = {1, 10, 2, -10, 3, 0, 4, 4}, gamma[2] = {1, 1}, beta[2] = {0, 0}, y[8];
    float mean[2], invstd[2], rmean[2] = {0, 0}, rvar[2] = {1, 1};
    cnn_ref_batchnorm_forward_train(&g, x, gamma, beta, y, mean, invstd, rmean, rvar);
    const float want_mean[2] = {2.5f, 1.0f};
    const float want_invstd[2] = {0.89442361f, 0.13736055f};   /* 1/sqrt(var + 1e-5) */
    const float want_rmean[2] = {0.25f, 0.1f};                 /* 0.9*0 + 0.1*mean */
    const float want_rvar[2] = {1.0666667f, 7.9666667f};       /* 0.9*1 + 0.1*unbiased */
    check_close("batchnorm save_mean, hand values", mean, want_mean, 2, 1e-6, 0);
    check_close("batchnorm save_invstd, hand values", invstd, want_invstd, 2, 1e-6, 0);
    check_close("batchnorm running_mean update, hand values", rmean, want_rmean, 2, 1e-6, 0);
    check_close("batchnorm running_var update (unbiased), hand values", rvar, want_rvar, 2, 1e-6,
                0);
    /* Eval with those running estimates: row 0 is (1 - 0.25)/sqrt(1.0666667 + 1e-5),
     * (10 - 0.1)/sqrt(7.9666667 + 1e-5). */
    cnn_ref_batchnorm_forward_eval(&g, x, gamma, beta, rmean, rvar, y);
    const float want_eval[2] = {0.72618097f, 3.5074913f};
    check_close("batchnorm eval forward, hand values", y, want_eval, 2, 1e-6, 0);

    /* M == 1: the running variance takes the (zero) batch variance, not var*M/(M-1). */
    cnn_bn_geom g1 = {.m = 1, .c = 1, .eps = 1e-5f, .momentum = 0.1f};
    float x1 = 3, gm = 2, bt = 0.5f, y1, m1, s1, rm1 = 0, rv1 = 1;
    cnn_ref_batchnorm_forward_train(&g1, &x1, &gm, &bt, &y1, &m1, &s1, &rm1, &rv1);
    check(y1 == 0.5f && fabsf(rm1 - 0.3f) < 1e-7f && fabsf(rv1 - 0.9f) < 1e-7f,
          "batchnorm M=1: y %g (want 0.5), running mean %g (0.3), running var %g (0.9)",
          (double)y1, (double)rm1, (double)rv1);
    printf("  batchnorm statistics, running updates (momentum 0.1), eval, M=1 vs hand values "
           "(rtol 1e-6)\n");
}

/* ---------------- softmax cross-entropy ---------------- */

typedef struct xent_ctx {
    int n, k;
    float smoothing;
    float *logits;   /* (N,K) */
    uint8_t *labels; /* (N) */
} xent_ctx;

static double xent_objective(void *p)
{
    xent_ctx *c = p;
    return cnn_ref_softmax_xent(c->n, c->k, c->logits, c->labels, c->smoothing, NULL, NULL);
}

/* The unsmoothed loss and gradient, written out independently in double. */
static double plain_xent(int n, int k, const float *z, const uint8_t *labels, float *dz)
{
    double total = 0;
    for (int r = 0; r < n; r++) {
        const float *row = z + (size_t)r * k;
        double m = row[0], s = 0;
        for (int j = 1; j < k; j++)
            m = fmax(m, row[j]);
        for (int j = 0; j < k; j++)
            s += exp(row[j] - m);
        total += m + log(s) - row[labels[r]];
        for (int j = 0; j < k; j++)
            dz[(size_t)r * k + j] = (float)((exp(row[j] - m) / s - (j == labels[r])) / n);
    }
    return total / n;
}

static void test_xent(int n, int k, float smoothing)
{
    xent_ctx c = {.n = n, .k = k, .smoothing = smoothing};
    size_t nz = (size_t)n * k;
    c.logits = check_frand(nz, &seed, -3, 3);
    c.labels = malloc((size_t)n);
    if (!c.labels)
        exit(2);
    for (int i = 0; i < n; i++)
        c.labels[i] = (uint8_t)((i * 7 + 3) % k);
    float *dz = check_fnan(nz), *num = check_falloc(nz);
    float loss = cnn_ref_softmax_xent(n, k, c.logits, c.labels, smoothing, dz, NULL);
    fd_grad(xent_objective, &c, c.logits, nz, num);
    char what[96];
    snprintf(what, sizeof what, "softmax xent N%d K%d smoothing %g: dlogits of the mean loss", n,
             k, (double)smoothing);
    compare(what, dz, num, nz, RTOL, ATOL);

    /* The definition -mean sum q log p, summed term by term in double. */
    double want = 0;
    for (int r = 0; r < n; r++) {
        const float *z = c.logits + (size_t)r * k;
        double m = z[0], s = 0;
        for (int j = 1; j < k; j++)
            m = fmax(m, z[j]);
        for (int j = 0; j < k; j++)
            s += exp(z[j] - m);
        for (int j = 0; j < k; j++) {
            double q = (1.0 - smoothing) * (j == c.labels[r]) + (double)smoothing / k;
            want -= q * (z[j] - m - log(s));
        }
    }
    want /= n;
    check(fabs(loss - want) <= 1e-6 * fabs(want),
          "softmax xent N%d K%d smoothing %g: loss %.8g, -mean sum q log p %.8g", n, k,
          (double)smoothing, (double)loss, want);
    if (smoothing == 0.0f) { /* the plain cross-entropy, unchanged */
        float *dplain = check_falloc(nz);
        double plain = plain_xent(n, k, c.logits, c.labels, dplain);
        check(fabs(loss - plain) <= 1e-6 * plain, "softmax xent smoothing 0: loss %.8g, plain %.8g",
              (double)loss, plain);
        check_close("softmax xent smoothing 0: dlogits equal the plain ones", dz, dplain, nz, 1e-6,
                    1e-9);
        free(dplain);
    }
    free(dz), free(num), free(c.logits), free(c.labels);
}

static void test_xent_known(void)
{
    /* Uniform logits: p = 1/K, loss = ln K for any smoothing (q sums to 1);
     * ties go to the first class; dlogits = (1-s)(1/K - onehot)/N. */
    enum { N = 3, K = 10 };
    float z[N * K], dz[N * K], want_dz[N * K];
    uint8_t labels[N] = {0, 3, 0};
    const float smooth[3] = {0.0f, 0.1f, 0.5f};
    for (int t = 0; t < 3; t++) {
        const float s = smooth[t];
        for (int i = 0; i < N * K; i++) {
            z[i] = 0.7f;
            want_dz[i] = (1.0f - s) * (0.1f - ((i % K) == labels[i / K])) / N;
        }
        int correct = -1;
        float loss = cnn_ref_softmax_xent(N, K, z, labels, s, dz, &correct);
        check(fabsf(loss - logf(10.0f)) < 1e-6f,
              "softmax xent uniform, smoothing %g: loss %.7g, want ln 10", (double)s,
              (double)loss);
        check(correct == 2, "softmax xent uniform: correct %d, want 2 (first max on ties)", correct);
        check_close("softmax xent uniform: dlogits = (1-s)(1/K - onehot)/N", dz, want_dz, N * K,
                    1e-6, 1e-8);
    }

    /* Rows [0, ln 3] (p = 1/4, 3/4) with labels 1 and 0: loss (-ln 0.75 - ln 0.25)/2. */
    int correct = -1;
    float z2[4] = {0, logf(3.0f), 0, logf(3.0f)};
    uint8_t l2[2] = {1, 0};
    float loss = cnn_ref_softmax_xent(2, 2, z2, l2, 0.0f, NULL, &correct);
    check(fabsf(loss - 0.83698822f) < 1e-6f && correct == 1,
          "softmax xent [0, ln3]: loss %.7g (want 0.836988), correct %d (want 1)", (double)loss,
          correct);
    /* The first row with smoothing 0.1: q = (0.05, 0.95), loss -(0.05 ln 1/4 + 0.95 ln 3/4). */
    float d2[2];
    const float want_d2[2] = {0.25f - 0.05f, 0.75f - 0.95f};
    loss = cnn_ref_softmax_xent(1, 2, z2, l2, 0.1f, d2, NULL);
    check(fabsf(loss - 0.342612687f) < 1e-6f,
          "softmax xent [0, ln3] label 1 smoothing 0.1: loss %.7g (want 0.342613)", (double)loss);
    check_close("softmax xent [0, ln3] smoothing 0.1: dlogits p - q", d2, want_d2, 2, 1e-6, 1e-7);

    /* Large logits stay finite: [1000, 1001], label 1 -> -ln(e/(1+e)) = 0.313262. */
    float z3[2] = {1000, 1001};
    uint8_t l3[1] = {1};
    loss = cnn_ref_softmax_xent(1, 2, z3, l3, 0.0f, NULL, NULL);
    check(fabsf(loss - 0.31326169f) < 1e-6f, "softmax xent [1000, 1001]: loss %.7g, want 0.313262",
          (double)loss);
    printf("  softmax xent: uniform = ln K (smoothing 0, 0.1, 0.5), tie -> first max, [0, ln 3] "
           "(smoothing 0, 0.1), [1000, 1001] vs hand values (tol 1e-6)\n");
}

/* ---------------- dropout (fixed mask) ---------------- */

typedef struct dropout_ctx {
    int n, hw, c, two_d;
    float p;
    uint8_t *mask;    /* (count) or (N,C) for dropout2d */
    float *x, *y, *r; /* (N,HW,C) each */
} dropout_ctx;

static double dropout_objective(void *ctx)
{
    dropout_ctx *d = ctx;
    size_t count = (size_t)d->n * d->hw * d->c;
    if (d->two_d)
        cnn_ref_dropout2d_forward(d->n, d->hw, d->c, d->p, d->mask, d->x, d->y);
    else
        cnn_ref_dropout_forward(count, d->p, d->mask, d->x, d->y);
    return check_dot(d->y, d->r, count);
}

static void test_dropout(int two_d, int n, int hw, int ch, float p)
{
    dropout_ctx d = {.n = n, .hw = hw, .c = ch, .two_d = two_d, .p = p};
    size_t count = (size_t)n * hw * ch, masks = two_d ? (size_t)n * ch : count;
    d.mask = malloc(masks);
    if (!d.mask)
        exit(2);
    for (size_t i = 0; i < masks; i++) /* a fixed pattern with both values */
        d.mask[i] = (uint8_t)((i * 5 + 1) % 3 != 0);
    d.x = check_frand(count, &seed, -1, 1);
    d.y = check_falloc(count);
    d.r = check_frand(count, &seed, -1, 1);
    float *dx = check_fnan(count), *num = check_falloc(count);
    if (two_d)
        cnn_ref_dropout2d_backward(n, hw, ch, p, d.mask, d.r, dx);
    else
        cnn_ref_dropout_backward(count, p, d.mask, d.r, dx);
    fd_grad(dropout_objective, &d, d.x, count, num);
    char what[96];
    snprintf(what, sizeof what, "%s N%d HW%d C%d p %g (fixed mask): dx",
             two_d ? "dropout2d" : "dropout", n, hw, ch, (double)p);
    compare(what, dx, num, count, RTOL, ATOL);
    free(dx), free(num), free(d.mask), free(d.x), free(d.y), free(d.r);
}

static void test_dropout_known(void)
{
    /* p = 0.5 scales kept values by 2; a dropped value is x * 0, so a NaN stays NaN. */
    float x[4] = {1.0f, -3.0f, 0.25f, NAN}, y[4];
    uint8_t mask[4] = {1, 0, 1, 0};
    cnn_ref_dropout_forward(4, 0.5f, mask, x, y);
    check(y[0] == 2.0f && y[1] == 0.0f && y[2] == 0.5f && isnan(y[3]),
          "dropout p 0.5 mask 1010 of (1, -3, 0.25, NaN) = (2, 0, 0.5, NaN)");
    /* dropout2d: (N 1, HW 2, C 2), mask (1, 0) per channel, p 0.75 scales by 4 */
    float x2[4] = {1, 2, 3, 4}, y2[4];
    const float want2[4] = {4, 0, 12, 0};
    uint8_t m2[2] = {1, 0};
    cnn_ref_dropout2d_forward(1, 2, 2, 0.75f, m2, x2, y2);
    compare_exact("dropout2d p 0.75, channel 1 dropped at every position, hand values", y2, want2,
                  4);
    printf("  dropout, dropout2d forwards vs hand values (exact)\n");
}

/* ---------------- add, concat ---------------- */

typedef struct merge_ctx {
    int n, hw, k;
    int c[4];
    float *x[4];      /* (N,HW,c[i]) */
    float *y, *r;     /* (N,HW,sum c) */
} merge_ctx;

static size_t merge_ny(const merge_ctx *m)
{
    size_t ct = 0;
    for (int i = 0; i < m->k; i++)
        ct += (size_t)m->c[i];
    return (size_t)m->n * m->hw * ct;
}

static double add_objective(void *ctx)
{
    merge_ctx *m = ctx;
    size_t count = (size_t)m->n * m->hw * m->c[0];
    cnn_ref_add_forward(count, m->x[0], m->x[1], m->y);
    return check_dot(m->y, m->r, count);
}

static double concat_objective(void *ctx)
{
    merge_ctx *m = ctx;
    cnn_ref_concat_forward(m->n, m->hw, m->k, m->c, (const float *const *)m->x, m->y);
    return check_dot(m->y, m->r, merge_ny(m));
}

/* add has no backward op: its gradient is dy into both inputs, checked here. */
static void test_add(int n, int hw, int ch)
{
    merge_ctx m = {.n = n, .hw = hw, .k = 2, .c = {ch, ch}};
    size_t count = (size_t)n * hw * ch;
    m.x[0] = check_frand(count, &seed, -1, 1), m.x[1] = check_frand(count, &seed, -1, 1);
    m.y = check_falloc(count);
    m.r = check_frand(count, &seed, -1, 1);
    float *num = check_falloc(count);
    char what[80];
    for (int i = 0; i < 2; i++) {
        fd_grad(add_objective, &m, m.x[i], count, num);
        snprintf(what, sizeof what, "add N%d HW%d C%d: d%s = dy", n, hw, ch, i ? "b" : "a");
        compare(what, m.r, num, count, RTOL, ATOL);
    }
    /* y may alias an input */
    float *want = check_falloc(count);
    cnn_ref_add_forward(count, m.x[0], m.x[1], want);
    cnn_ref_add_forward(count, m.x[0], m.x[1], m.x[0]);
    compare_exact("add in place (y = a)", m.x[0], want, count);
    free(want), free(num), free(m.x[0]), free(m.x[1]), free(m.y), free(m.r);
}

static void test_concat(int n, int hw, int k, const int *c)
{
    merge_ctx m = {.n = n, .hw = hw, .k = k};
    char what[120];
    int len = snprintf(what, sizeof what, "concat N%d HW%d C", n, hw);
    for (int i = 0; i < k; i++) {
        m.c[i] = c[i];
        m.x[i] = check_frand((size_t)n * hw * c[i], &seed, -1, 1);
        len += snprintf(what + len, sizeof what - (size_t)len, "%s%d", i ? "+" : "", c[i]);
    }
    size_t ny = merge_ny(&m);
    m.y = check_falloc(ny);
    m.r = check_frand(ny, &seed, -1, 1);
    float *dx[4] = {NULL, NULL, NULL, NULL}, *skip[4] = {NULL, NULL, NULL, NULL};
    for (int i = 0; i < k; i++) {
        dx[i] = check_fnan((size_t)n * hw * c[i]);
        if (i % 2)
            skip[i] = check_fnan((size_t)n * hw * c[i]);
    }
    cnn_ref_concat_backward(n, hw, k, m.c, m.r, dx);
    cnn_ref_concat_backward(n, hw, k, m.c, m.r, skip); /* even inputs skipped (NULL) */
    for (int i = 0; i < k; i++) {
        size_t ni = (size_t)n * hw * c[i];
        float *num = check_falloc(ni);
        fd_grad(concat_objective, &m, m.x[i], ni, num);
        snprintf(what + len, sizeof what - (size_t)len, ": dx%d", i);
        compare(what, dx[i], num, ni, RTOL, ATOL);
        if (skip[i])
            compare_exact("concat backward with some dx NULL", skip[i], dx[i], ni);
        free(num);
    }
    for (int i = 0; i < k; i++)
        free(m.x[i]), free(dx[i]), free(skip[i]);
    free(m.y), free(m.r);
}

static void test_concat_known(void)
{
    /* (N 1, HW 2): a with C 1 = [1; 2], b with C 2 = [3 4; 5 6] -> rows [1 3 4; 2 5 6] */
    float a[2] = {1, 2}, b[4] = {3, 4, 5, 6}, y[6];
    const float want[6] = {1, 3, 4, 2, 5, 6};
    const float *xs[2] = {a, b};
    const int c[2] = {1, 2};
    cnn_ref_concat_forward(1, 2, 2, c, xs, y);
    compare_exact("concat NHWC channel order, hand values", y, want, 6);
    printf("  concat forward vs hand values (exact)\n");
}

/* ---------------- global max pooling ---------------- */

static double gmp_objective(void *p)
{
    shape_ctx *s = p;
    cnn_ref_gmp_forward(s->n, s->h * s->w, s->c, s->x, s->y);
    return check_dot(s->y, s->r, (size_t)s->n * s->c);
}

static void test_gmp(int n, int h, int w, int ch)
{
    shape_ctx s = {.n = n, .h = h, .w = w, .c = ch};
    size_t nx = (size_t)n * h * w * ch, ny = (size_t)n * ch;
    s.x = check_falloc(nx);
    /* distinct values 0.01 apart, shuffled: FD steps never change the maximum */
    for (size_t i = 0; i < nx; i++)
        s.x[i] = 0.01f * ((float)i - (float)nx / 2);
    for (size_t i = nx - 1; i > 0; i--) {
        seed = seed * 1664525u + 1013904223u;
        size_t j = (seed >> 8) % (i + 1);
        float t = s.x[i];
        s.x[i] = s.x[j], s.x[j] = t;
    }
    s.y = check_falloc(ny);
    s.r = check_frand(ny, &seed, -1, 1);
    float *dx = check_fnan(nx), *num = check_falloc(nx);
    cnn_ref_gmp_backward(n, h * w, ch, s.x, s.r, dx);
    fd_grad(gmp_objective, &s, s.x, nx, num);
    char what[80];
    snprintf(what, sizeof what, "gmp N%d %dx%dx%d: dx", n, h, w, ch);
    compare(what, dx, num, nx, RTOL, ATOL);
    free(dx), free(num), free(s.x), free(s.y), free(s.r);
}

static void test_gmp_known(void)
{
    /* (N 1, HW 4, C 2): channel 0 = 1 5 5 2 (tie: the gradient goes to p = 1),
     * channel 1 = -3 -1 -2 -1 (tie at p = 1, 3) */
    float x[8] = {1, -3, 5, -1, 5, -2, 2, -1}, y[2], dy[2] = {10, 20}, dx[8];
    const float want_y[2] = {5, -1}, want_dx[8] = {0, 0, 10, 20, 0, 0, 0, 0};
    cnn_ref_gmp_forward(1, 4, 2, x, y);
    compare_exact("gmp forward, hand values", y, want_y, 2);
    cnn_ref_gmp_backward(1, 4, 2, x, dy, dx);
    compare_exact("gmp backward: ties -> first maximum", dx, want_dx, 8);
    printf("  gmp forward and tie routing vs hand values (exact)\n");
}

int main(void)
{
    printf("test_ref_grad: reference backwards vs central differences of L = sum(y*r),\n"
           "  step %g, pass when |analytic - fd| <= %g + %g*|fd| (worst ratio <= 1)\n",
           (double)FD_EPS, ATOL, RTOL);

    /* n ih iw ic oc kh kw sh sw ph pw bias */
    test_conv(1, 5, 5, 3, 4, 1, 1, 1, 1, 0, 0, 1);
    test_conv(3, 5, 4, 2, 3, 1, 1, 2, 2, 0, 0, 0);
    test_conv(3, 7, 5, 2, 3, 3, 3, 1, 1, 1, 1, 1);
    test_conv(1, 7, 7, 3, 2, 3, 3, 2, 2, 1, 1, 0);
    test_conv(3, 8, 8, 2, 2, 3, 3, 2, 2, 0, 0, 1); /* last input row and column unused */
    test_conv(1, 6, 7, 2, 3, 5, 5, 1, 1, 2, 2, 1);
    test_conv(3, 9, 9, 2, 2, 5, 5, 2, 2, 2, 2, 0);
    test_conv(1, 9, 8, 2, 3, 7, 7, 1, 1, 0, 0, 1);
    test_conv(3, 9, 9, 1, 2, 7, 7, 2, 2, 2, 2, 1);
    test_conv(1, 7, 9, 2, 3, 3, 5, 1, 2, 1, 2, 1); /* rectangular kernel, stride, padding */
    test_conv_known();
    /* grouped and depthwise (MobileNetV2's 3x3 depthwise, stride 1 and 2) */
    test_conv_groups(2, 5, 6, 4, 6, 3, 3, 1, 1, 1, 1, 1, 2);
    test_conv_groups(1, 6, 5, 6, 3, 1, 1, 1, 1, 0, 0, 0, 3);
    test_conv_groups(2, 6, 6, 4, 4, 3, 3, 1, 1, 1, 1, 0, 4);
    test_conv_groups(2, 7, 7, 3, 3, 3, 3, 2, 2, 1, 1, 1, 3);
    test_conv_groups(1, 6, 6, 2, 4, 3, 3, 2, 2, 1, 1, 1, 2); /* channel multiplier 2 */
    test_conv_grouped_split();

    test_linear(1, 5, 3, 1);
    test_linear(4, 7, 6, 0);
    test_linear(3, 9, 10, 1);

    test_act(CNN_ACT_NONE, "none");
    test_act(CNN_ACT_RELU, "relu");
    test_act(CNN_ACT_SIGMOID, "sigmoid");
    test_act(CNN_ACT_TANH, "tanh");
    test_act(CNN_ACT_LEAKY_RELU, "leaky_relu");
    test_act(CNN_ACT_GELU, "gelu");
    test_act(CNN_ACT_ELU, "elu");
    test_act_known();

    /* max n ih iw c kh kw sh sw ph pw */
    test_pool(1, 2, 6, 6, 3, 2, 2, 2, 2, 0, 0);
    test_pool(1, 1, 7, 7, 2, 3, 3, 2, 2, 1, 1); /* overlapping windows, padding */
    test_pool(1, 2, 5, 4, 2, 3, 3, 1, 1, 1, 1);
    test_pool(1, 1, 7, 6, 2, 2, 3, 2, 1, 1, 1); /* rectangular */
    test_pool(0, 2, 6, 6, 3, 2, 2, 2, 2, 0, 0);
    test_pool(0, 1, 7, 7, 2, 3, 3, 2, 2, 1, 1);
    test_pool(0, 2, 5, 4, 2, 3, 3, 1, 1, 1, 1);
    test_pool(0, 1, 7, 6, 2, 2, 3, 2, 1, 1, 1);
    test_pool_known();

    test_shape(1, 2, 5, 3, 4);
    test_shape(0, 2, 3, 2, 4);
    test_shape_known();

    test_bn("2d", 2 * 3 * 3, 3); /* BatchNorm2d: M = N*H*W with N 2, 3x3 */
    test_bn("1d", 5, 4);         /* BatchNorm1d: M = N */
    test_bn_known();

    test_xent(4, 5, 0.0f);
    test_xent(3, 10, 0.0f);
    test_xent(4, 5, 0.1f);
    test_xent(3, 10, 0.3f);
    test_xent(2, 7, 0.9f);
    test_xent_known();

    /* two_d n hw c p */
    test_dropout(0, 2, 5, 3, 0.3f);
    test_dropout(0, 1, 1, 17, 0.9f);
    test_dropout(1, 2, 6, 4, 0.5f);
    test_dropout(1, 3, 1, 5, 0.2f);
    test_dropout_known();

    test_add(2, 3, 5);
    const int c1[1] = {3}, c2[2] = {2, 5}, c3[3] = {1, 4, 2}, c4[4] = {3, 1, 2, 2};
    test_concat(2, 3, 1, c1);
    test_concat(2, 4, 2, c2);
    test_concat(1, 5, 3, c3);
    test_concat(3, 2, 4, c4);
    test_concat_known();

    test_gmp(2, 3, 4, 5);
    test_gmp(1, 1, 1, 3);
    test_gmp(3, 5, 5, 2);
    test_gmp_known();

    return check_finish("test_ref_grad");
}
