/* test_bf16_storage.c: activations stored as bf16 between layers of a bf16
 * plan (ops/fast/bf16.h, plan.c's choose_bf16_storage).
 *
 * A kernel that reads or writes bf16 storage converts each row piece and runs
 * its float code, so on values that bf16 holds exactly it must compute what
 * the float path computes on the same values: batch norm (forward train and
 * eval, backward, with no, ReLU and GELU activation) and 2x2 max pooling are
 * checked bit for bit against their float path on the rounded inputs, outputs
 * rounded. The convolution's bf16 output comes from oneDNN's kernel (fp32
 * accumulation, then one rounding): within one bf16 step of its fp32 output;
 * its gradients, read from the same bf16 x, agree to float rounding. Last,
 * whole bf16 plans with storage against ones that keep fp32 activations: in
 * training what is stored, the memory saved, the loss and every gradient; in
 * inference what is stored and the logits. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cnnlab/model.h"
#include "cnnlab/plan.h"
#include "core/core.h"
#include "ops/fast/bf16.h"
#include "ops/fast/conv_dnnl.h"
#include "ops/fast/fast.h"
#include "ops/ops.h"
#include "plan_compare.h"

static unsigned seed = 2024u;

static float *fresh(size_t n)
{
    float *p = calloc(n ? n : 1, sizeof(float));
    if (!p)
        abort();
    return p;
}

/* n floats in [lo, hi), rounded to bf16 (so both storages hold them exactly) */
static float *rand_bf16_values(size_t n, float lo, float hi)
{
    float *p = fresh(n);
    check_fill(p, n, &seed, lo, hi);
    for (size_t i = 0; i < n; i++)
        p[i] = cnn_bf16_to_float(cnn_bf16_from_float(p[i]));
    return p;
}

/* A float-sized buffer holding n bf16 values (as the plan's blocks do). */
static float *to_bf16(const float *f, size_t n)
{
    float *h = fresh((n + 1) / 2);
    cnn_bf16_store(f, n, (uint16_t *)(void *)h);
    return h;
}

static float *from_bf16(const float *h, size_t n)
{
    float *f = fresh(n);
    cnn_bf16_load((const uint16_t *)(const void *)h, n, f);
    return f;
}

static int same_bits(const float *a, const float *b, size_t n)
{
    return memcmp(a, b, n * sizeof(float)) == 0;
}

/* ---- the conversions ---- */

static void test_rounding(void)
{
    /* ties to even, carries into the exponent, infinities, NaN */
    const struct { uint32_t in; uint16_t out; } cases[] = {
        {0x3f800000u, 0x3f80}, {0x3f808000u, 0x3f80}, {0x3f818000u, 0x3f82},
        {0x3f808001u, 0x3f81}, {0x3f80ffffu, 0x3f81}, {0x7f7fffffu, 0x7f80},
        {0xbf808000u, 0xbf80}, {0x7f800000u, 0x7f80}, {0xff800000u, 0xff80},
        {0x00000001u, 0x0000},
    };
    int ok = 1;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        float f;
        memcpy(&f, &cases[i].in, 4);
        uint16_t h = cnn_bf16_from_float(f);
        if (h != cases[i].out) {
            ok = 0;
            printf("  %08x -> %04x, expected %04x\n", cases[i].in, h, cases[i].out);
        }
    }
    float nan = NAN;
    ok &= isnan(cnn_bf16_to_float(cnn_bf16_from_float(nan)));
    check(ok, "bf16 rounding: to nearest, ties to even; NaN stays NaN");
}

/* ---- batch norm ---- */

static void test_batchnorm(int m, int c, cnn_act act)
{
    const size_t n = (size_t)m * c;
    const char *an = act == CNN_ACT_RELU ? "+relu" : act == CNN_ACT_GELU ? "+gelu" : "";
    float *x = rand_bf16_values(n, -1.5f, 2.5f), *dy = fresh(n);
    check_fill(dy, n, &seed, -1, 1);
    float gamma[512], beta[512];
    check_fill(gamma, (size_t)c, &seed, 0.5f, 1.5f);
    check_fill(beta, (size_t)c, &seed, -0.5f, 0.5f);
    float *scratch = fresh(cnn_fast_batchnorm_scratch_floats(c));
    float mean[2][512], invstd[2][512], rm[2][512], rv[2][512];
    for (int k = 0; k < 2; k++)
        for (int j = 0; j < c; j++)
            rm[k][j] = 0.1f * (float)j, rv[k][j] = 1.0f;

    /* the float path on the values, then on their bf16 storage */
    cnn_bn_geom gf = {.m = m, .c = c, .eps = 1e-5f, .momentum = 0.1f};
    cnn_bn_geom gh = gf;
    gh.x_bf16 = gh.y_bf16 = 1;
    float *yf = fresh(n), *xh = to_bf16(x, n), *yh = fresh((n + 1) / 2);
    cnn_fast_batchnorm_forward_train(&gf, act, x, gamma, beta, yf, mean[0], invstd[0], rm[0],
                                     rv[0], scratch);
    cnn_fast_batchnorm_forward_train(&gh, act, xh, gamma, beta, yh, mean[1], invstd[1], rm[1],
                                     rv[1], scratch);
    float *yf_h = to_bf16(yf, n);
    check(same_bits(yh, yf_h, (n + 1) / 2) && same_bits(mean[0], mean[1], (size_t)c) &&
              same_bits(invstd[0], invstd[1], (size_t)c) && same_bits(rm[0], rm[1], (size_t)c) &&
              same_bits(rv[0], rv[1], (size_t)c),
          "batchnorm%s M%d C%d forward, x and y bf16: statistics bitwise, y the float y rounded",
          an, m, c);

    /* (ReLU's mask: where z is above 0, resp. rounds to a bf16 above 0) */
    float *dxf = fresh(n), *dxh = fresh(n), dg[2][512], db[2][512];
    cnn_fast_batchnorm_backward(&gf, act, x, gamma, beta, mean[0], invstd[0], dy, dxf, dg[0],
                                db[0], scratch);
    cnn_fast_batchnorm_backward(&gh, act, xh, gamma, beta, mean[1], invstd[1], dy, dxh, dg[1],
                                db[1], scratch);
    check(same_bits(dxf, dxh, n) && same_bits(dg[0], dg[1], (size_t)c) &&
              same_bits(db[0], db[1], (size_t)c),
          "batchnorm%s M%d C%d backward from bf16 x and y: dx, dgamma, dbeta bitwise", an, m, c);
    if (act != CNN_ACT_GELU) { /* dx written as bf16: the float dx rounded */
        cnn_bn_geom gd = gh;
        gd.dx_bf16 = 1;
        float *dxd = fresh((n + 1) / 2), *dxf_h = to_bf16(dxf, n);
        memset(dxd, 0xff, (n + 1) / 2 * sizeof(float)); /* every element must be written */
        cnn_fast_batchnorm_backward(&gd, act, xh, gamma, beta, mean[1], invstd[1], dy, dxd,
                                    dg[1], db[1], scratch);
        check(memcmp(dxd, dxf_h, n * sizeof(uint16_t)) == 0 && same_bits(dg[0], dg[1], (size_t)c),
              "batchnorm%s M%d C%d backward writing dx as bf16: the float dx rounded", an, m, c);
        free(dxd), free(dxf_h);
    }

    /* evaluation, x bf16 and y float (one side stored, the other not) */
    gh.y_bf16 = 0;
    float *ef = fresh(n), *eh = fresh(n);
    cnn_fast_batchnorm_forward_eval(&gf, act, x, gamma, beta, rm[0], rv[0], ef);
    cnn_fast_batchnorm_forward_eval(&gh, act, xh, gamma, beta, rm[0], rv[0], eh);
    check(same_bits(ef, eh, n), "batchnorm%s M%d C%d eval, x bf16, y float: bitwise", an, m, c);
    free(x), free(dy), free(scratch), free(yf), free(xh), free(yh), free(yf_h);
    free(dxf), free(dxh), free(ef), free(eh);
}

/* ---- 2x2 max pooling ---- */

static void test_maxpool(int batch, int h, int w, int c)
{
    cnn_pool_geom gf = {.n = batch, .ih = h, .iw = w, .c = c, .kh = 2, .kw = 2, .sh = 2, .sw = 2};
    cnn_pool_geom_finish(&gf);
    const size_t nx = (size_t)batch * h * w * c, ny = (size_t)batch * gf.oh * gf.ow * c;
    float *x = rand_bf16_values(nx, -2, 2);
    x[0] = x[(size_t)c + 1] = NAN; /* a window's first and a later position: the NaN wins */
    float *xh = to_bf16(x, nx), *yf = fresh(ny), *yh = fresh((ny + 1) / 2);
    uint8_t *af = malloc(ny), *ah = malloc(ny), *ax = malloc(ny);
    if (!af || !ah || !ax)
        abort();
    cnn_fast_maxpool_forward(&gf, x, yf, af);
    cnn_pool_geom gh = gf, gx = gf;
    gh.x_bf16 = gh.y_bf16 = 1;
    gx.y_bf16 = 1; /* float x, bf16 y */
    cnn_fast_maxpool_forward(&gh, xh, yh, ah);
    float *yf_h = to_bf16(yf, ny), *yx_f = fresh((ny + 1) / 2);
    cnn_fast_maxpool_forward(&gx, x, yx_f, ax);
    /* the backward writing dx as bf16: the float backward's dx rounded */
    float *dy = fresh(ny), *dxf = fresh(nx), *dxh = fresh((nx + 1) / 2);
    check_fill(dy, ny, &seed, -1, 1);
    cnn_fast_maxpool_backward(&gf, af, dy, dxf);
    cnn_pool_geom gd = gf;
    gd.dx_bf16 = 1;
    memset(dxh, 0xff, (nx + 1) / 2 * sizeof(float)); /* every element must be written */
    cnn_fast_maxpool_backward(&gd, af, dy, dxh);
    float *dxf_h = to_bf16(dxf, nx);
    check(memcmp(dxh, dxf_h, nx * sizeof(uint16_t)) == 0,
          "maxpool 2x2 %dx%dx%dx%d: dx written as bf16 is the float dx rounded", batch, h, w, c);
    free(dy), free(dxf), free(dxh), free(dxf_h);
    check(same_bits(yh, yf_h, (ny + 1) / 2) && memcmp(af, ah, ny) == 0 &&
              same_bits(yx_f, yf_h, (ny + 1) / 2) && memcmp(af, ax, ny) == 0,
          "maxpool 2x2 %dx%dx%dx%d, NaNs, bf16 x and y (and float x, bf16 y): y, winners bitwise",
          batch, h, w, c);
    free(x), free(xh), free(yf), free(yh), free(yf_h), free(yx_f);
    free(af), free(ah), free(ax);
}

/* ---- a GELU layer writing bf16 ---- */

static void test_gelu(size_t n)
{
    float *x = fresh(n), *yf = fresh(n), *yh = fresh((n + 1) / 2);
    check_fill(x, n, &seed, -4, 4);
    cnn_fast_gelu(n, x, yf);
    cnn_fast_gelu_to_bf16(n, x, yh);
    float *yf_h = to_bf16(yf, n);
    check(same_bits(yh, yf_h, (n + 1) / 2), "gelu of %zu floats into bf16: the float GELU rounded",
          n);
    free(x), free(yf), free(yh), free(yf_h);
}

/* ---- the convolution ---- */

static void test_conv(cnn_dnnl *ctx, int batch, int hw, int ic, int oc, int k, int bias)
{
    cnn_conv_geom g = {.n = batch, .ih = hw, .iw = hw, .ic = ic, .oc = oc, .kh = k, .kw = k,
                       .sh = 1, .sw = 1, .ph = k / 2, .pw = k / 2};
    cnn_conv_geom_finish(&g);
    const size_t nx = (size_t)batch * hw * hw * ic, ny = (size_t)batch * g.oh * g.ow * oc;
    const size_t nw = (size_t)oc * ic * k * k;
    cnn_fast_conv *cf = NULL, *ch = NULL;
    cnn_error err;
    if (cnn_fast_conv_create(ctx, &g, bias, CNN_ACT_NONE, 1, CNN_FAST_BF16, CNN_CONV_DIRECT, &cf,
                             &err) ||
        cnn_fast_conv_create(ctx, &g, bias, CNN_ACT_NONE, 1,
                             CNN_FAST_BF16 | CNN_FAST_X_BF16 | CNN_FAST_Y_BF16, CNN_CONV_DIRECT,
                             &ch, &err)) {
        check(0, "conv bf16 %dx%dx%d -> %d k%d: %s", hw, hw, ic, oc, k, err.msg);
        return;
    }
    check(cnn_fast_conv_runs_bf16(cf) && cnn_fast_conv_runs_bf16(ch),
          "conv %dx%dx%d -> %d: direct bf16 kernels say they run bf16", hw, hw, ic, oc);
    float *x = rand_bf16_values(nx, -1, 1), *xh = to_bf16(x, nx);
    float *wt = fresh(nw), *b = fresh((size_t)oc), *dy = fresh(ny);
    check_fill(wt, nw, &seed, -0.3f, 0.3f);
    check_fill(b, (size_t)oc, &seed, -0.5f, 0.5f);
    check_fill(dy, ny, &seed, -1, 1);
    float *yf = fresh(ny), *yh = fresh((ny + 1) / 2);
    cnn_fast_conv_forward(cf, x, wt, bias ? b : NULL, yf);
    cnn_fast_conv_forward(ch, xh, wt, bias ? b : NULL, yh);
    float *y16 = from_bf16(yh, ny);
    /* one rounding to bf16: within half a step (2^-9 relative) of the float
     * output, or a step where the two kernels summed in another order */
    char what[96];
    snprintf(what, sizeof what, "conv %dx%dx%d -> %d k%d: y stored bf16 vs fp32", hw, hw, ic, oc,
             k);
    check_close(what, y16, yf, ny, 1.0 / 128, 1e-6);
    float *dxf = fresh(nx), *dxh = fresh(nx), *dwf = fresh(nw), *dwh = fresh(nw);
    float *dbf = fresh((size_t)oc), *dbh = fresh((size_t)oc);
    float *dy2 = fresh(ny);
    memcpy(dy2, dy, ny * sizeof(float));
    cnn_fast_conv_backward(cf, x, yf, dy, dxf, dwf, bias ? dbf : NULL);
    cnn_fast_conv_backward(ch, xh, yh, dy2, dxh, dwh, bias ? dbh : NULL);
    snprintf(what, sizeof what, "conv %dx%dx%d -> %d k%d: dx from bf16-stored x", hw, hw, ic,
             oc, k);
    check_close(what, dxh, dxf, nx, 1e-5, 1e-6);
    snprintf(what, sizeof what, "conv %dx%dx%d -> %d k%d: dw from bf16-stored x", hw, hw, ic,
             oc, k);
    check_close(what, dwh, dwf, nw, 1e-5, 1e-5);
    if (bias) {
        snprintf(what, sizeof what, "conv %dx%dx%d -> %d k%d: db", hw, hw, ic, oc, k);
        check_close(what, dbh, dbf, (size_t)oc, 1e-5, 1e-5);
    }
    /* dy stored as bf16 (max pooling's dx, written so): the same gradients as
     * dy held as floats of the same (bf16) values, bit for bit */
    cnn_fast_conv *cd = NULL;
    if (cnn_fast_conv_create(ctx, &g, bias, CNN_ACT_NONE, 1,
                             CNN_FAST_BF16 | CNN_FAST_X_BF16 | CNN_FAST_DY_BF16, CNN_CONV_DIRECT,
                             &cd, &err)) {
        check(0, "conv %dx%dx%d -> %d k%d reading dy as bf16: %s", hw, hw, ic, oc, k, err.msg);
    } else {
        float *dyv = rand_bf16_values(ny, -1, 1), *dyh = to_bf16(dyv, ny), *yd = fresh(ny);
        float *dx1 = fresh(nx), *dx2 = fresh(nx), *dw1 = fresh(nw), *dw2 = fresh(nw);
        float *db1 = fresh((size_t)oc), *db2 = fresh((size_t)oc);
        cnn_fast_conv_forward(ch, xh, wt, bias ? b : NULL, yh);
        cnn_fast_conv_backward(ch, xh, yh, dyv, dx1, dw1, bias ? db1 : NULL);
        cnn_fast_conv_forward(cd, xh, wt, bias ? b : NULL, yd);
        cnn_fast_conv_backward(cd, xh, yd, dyh, dx2, dw2, bias ? db2 : NULL);
        check(same_bits(dx1, dx2, nx) && same_bits(dw1, dw2, nw) &&
                  (!bias || same_bits(db1, db2, (size_t)oc)),
              "conv %dx%dx%d -> %d k%d: dy read as bf16 gives dx, dw%s bit for bit", hw, hw, ic,
              oc, k, bias ? ", db" : "");
        free(dyv), free(dyh), free(yd), free(dx1), free(dx2), free(dw1), free(dw2);
        free(db1), free(db2);
    }
    cnn_fast_conv_destroy(cd);
    cnn_fast_conv_destroy(cf);
    cnn_fast_conv_destroy(ch);
    free(x), free(xh), free(wt), free(b), free(dy), free(yf), free(yh), free(y16);
    free(dxf), free(dxh), free(dwf), free(dwh), free(dbf), free(dbh), free(dy2);
}

/* dy read as bf16 by a backward-data run as a forward (bwd_as_forward, the
 * form auto chose for airbench94's 15x15x256 layer): bit for bit the
 * gradients from dy held as floats of the same values. */
static void test_conv_bwd_fwd(cnn_dnnl *ctx, int batch, int hw, int ic, int oc)
{
    cnn_conv_geom g = {.n = batch, .ih = hw, .iw = hw, .ic = ic, .oc = oc, .kh = 3, .kw = 3,
                       .sh = 1, .sw = 1, .ph = 1, .pw = 1};
    cnn_conv_geom_finish(&g);
    const size_t nx = (size_t)batch * hw * hw * ic, ny = (size_t)batch * hw * hw * oc;
    const size_t nw = (size_t)oc * ic * 9;
    const int run = CNN_RUN_BF16 | CNN_RUN_BWD_FWD | CNN_RUN_X_BF16;
    cnn_fast_conv *cf = NULL, *cd = NULL;
    cnn_error err;
    if (cnn_fast_conv_make(ctx, &g, 0, CNN_ACT_NONE, 1, run, CNN_CONV_DIRECT, &cf, &err) ||
        cnn_fast_conv_make(ctx, &g, 0, CNN_ACT_NONE, 1, run | CNN_RUN_DY_BF16, CNN_CONV_DIRECT,
                           &cd, &err)) {
        check(0, "conv %dx%dx%d -> %d, backward-data as a forward: %s", hw, hw, ic, oc, err.msg);
    } else {
        float *x = rand_bf16_values(nx, -1, 1), *xh = to_bf16(x, nx), *wt = fresh(nw);
        float *y = fresh(ny);
        float *dyv = rand_bf16_values(ny, -1, 1), *dyh = to_bf16(dyv, ny);
        float *dx1 = fresh(nx), *dx2 = fresh(nx), *dw1 = fresh(nw), *dw2 = fresh(nw);
        check_fill(wt, nw, &seed, -0.3f, 0.3f);
        cnn_fast_conv_forward(cf, xh, wt, NULL, y);
        cnn_fast_conv_backward(cf, xh, y, dyv, dx1, dw1, NULL);
        cnn_fast_conv_forward(cd, xh, wt, NULL, y);
        cnn_fast_conv_backward(cd, xh, y, dyh, dx2, dw2, NULL);
        check(same_bits(dx1, dx2, nx) && same_bits(dw1, dw2, nw),
              "conv %dx%dx%d -> %d, backward-data as a forward: dy read as bf16 gives dx, dw bit "
              "for bit", hw, hw, ic, oc);
        free(x), free(xh), free(wt), free(y), free(dyv), free(dyh), free(dx1), free(dx2);
        free(dw1), free(dw2);
    }
    cnn_fast_conv_destroy(cf);
    cnn_fast_conv_destroy(cd);
}

/* cnn_fast_conv_storage's rule, kept by the kernel's make: storage a
 * convolution cannot honour is refused with a reason, not run wrong. */
static void test_conv_refusals(cnn_dnnl *ctx)
{
    cnn_conv_geom g = {.n = 2, .ih = 6, .iw = 6, .ic = 16, .oc = 16, .kh = 3, .kw = 3,
                       .sh = 1, .sw = 1, .ph = 1, .pw = 1};
    cnn_conv_geom_finish(&g);
    check(cnn_fast_conv_storage(1, CNN_ACT_RELU) == CNN_FAST_X_BF16 &&
              cnn_fast_conv_storage(1, CNN_ACT_NONE) ==
                  (CNN_FAST_X_BF16 | CNN_FAST_Y_BF16 | CNN_FAST_DY_BF16) &&
              cnn_fast_conv_storage(0, CNN_ACT_RELU) == (CNN_FAST_X_BF16 | CNN_FAST_Y_BF16),
          "conv storage rule: x always, y and dy unless a training ReLU, no dy in inference");
    static const struct {
        int training, act, run;
        const char *says;
    } cases[] = {{1, CNN_ACT_RELU, CNN_RUN_Y_BF16, "store x only"},
                 {1, CNN_ACT_RELU, CNN_RUN_DY_BF16, "store x only"},
                 {0, CNN_ACT_NONE, CNN_RUN_DY_BF16, "no dy"}};
    for (int i = 0; i < 3; i++) {
        cnn_fast_conv *c = NULL;
        cnn_error err = {0};
        cnn_status st = cnn_fast_conv_make(ctx, &g, 0, (cnn_act)cases[i].act, cases[i].training,
                                           CNN_RUN_BF16 | CNN_RUN_X_BF16 | cases[i].run,
                                           CNN_CONV_DIRECT, &c, &err);
        check(st == CNN_STATUS_BACKEND && !c && strstr(err.msg, cases[i].says),
              "conv storage case %d refused, saying \"%s\": %s", i, cases[i].says, err.msg);
        cnn_fast_conv_destroy(c);
    }
}

/* ---- a whole plan ---- */

#define CONV(o) {.kind = CNN_LAYER_CONV, .out = (o), .k = 3, .stride = 1, .pad = 1}
#define BN {.kind = CNN_LAYER_BATCHNORM}
#define ACT(a) {.kind = CNN_LAYER_ACT, .act = (a)}
#define MAXPOOL2 {.kind = CNN_LAYER_MAXPOOL, .k = 2, .stride = 2}

/* airbench94's pattern (a first convolution and a GELU of its own, conv,
 * pool, batch norm + GELU, conv, batch norm + GELU) and resnet's (conv, batch
 * norm + ReLU), ending in layers that do not read bf16 (flatten, linear). */
static const cnn_layer_desc air_layers[] = {
    CONV(8), ACT(CNN_ACT_GELU),
    CONV(16), MAXPOOL2, BN, ACT(CNN_ACT_GELU), CONV(16), BN, ACT(CNN_ACT_GELU),
    CONV(24), BN, ACT(CNN_ACT_RELU), MAXPOOL2, {.kind = CNN_LAYER_FLATTEN},
    {.kind = CNN_LAYER_LINEAR, .out = 10, .bias = 1},
};
static const cnn_model_desc airlike = {"airlike", "", 12, 12, 3, 10,
                                       (int)(sizeof air_layers / sizeof air_layers[0]),
                                       air_layers, CNN_INIT_DEFAULT};

/* resnet18's downsampling pattern: a residual add + ReLU read by two
 * convolutions (3x3 stride 2, and the 1x1 stride-2 shortcut), which read bf16,
 * so the add stores its sum as bf16; the other adds are read by an add or by
 * flatten and stay floats. */
static const cnn_layer_desc res_layers[] = {
    CONV(8), BN, ACT(CNN_ACT_RELU),                                    /* 0-2 */
    CONV(8), BN, {.kind = CNN_LAYER_ADD, .from_count = 2, .from = {4, 2}},
    ACT(CNN_ACT_RELU),                                                 /* 3-6 */
    {.kind = CNN_LAYER_CONV, .out = 16, .k = 3, .stride = 2, .pad = 1}, BN, /* 7-8 */
    {.kind = CNN_LAYER_CONV, .out = 16, .k = 1, .stride = 2, .pad = 0, .from_count = 1,
     .from = {6}},
    BN, {.kind = CNN_LAYER_ADD, .from_count = 2, .from = {8, 10}}, ACT(CNN_ACT_RELU), /* 9-12 */
    {.kind = CNN_LAYER_FLATTEN}, {.kind = CNN_LAYER_LINEAR, .out = 10, .bias = 1},
};
static const cnn_model_desc reslike = {"reslike", "", 12, 12, 3, 10,
                                       (int)(sizeof res_layers / sizeof res_layers[0]),
                                       res_layers, CNN_INIT_DEFAULT};

static int count_marks(const cnn_plan *p, const char *mark)
{
    char desc[8192];
    cnn_plan_describe(p, desc, sizeof desc);
    int n = 0;
    for (const char *s = desc; (s = strstr(s, mark)); s++)
        n++;
    return n;
}

static int count_stored(const cnn_plan *p) { return count_marks(p, "[out stored bf16]"); }

static void test_plan(const cnn_model_desc *d, int batch, int expect_stored, int expect_grads,
                      int expect_copies)
{
    cnn_error err;
    cnn_model *ms, *mf;
    cnn_plan *ps, *pf;
    const cnn_plan_config stored = {.precision = CNN_PRECISION_BF16, .conv = CNN_CONV_DIRECT};
    const cnn_plan_config kept = {.precision = CNN_PRECISION_BF16, .conv = CNN_CONV_DIRECT,
                                  .fp32_activations = 1};
    if (cnn_model_create(d, NULL, &ms, &err) || cnn_model_create(d, NULL, &mf, &err) ||
        cnn_plan_create(ms, batch, &stored, 1, &ps, &err) ||
        cnn_plan_create(mf, batch, &kept, 1, &pf, &err)) {
        check(0, "%s: %s", d->name, err.msg);
        return;
    }
    int n_stored = count_stored(ps);
    check(n_stored == expect_stored && count_stored(pf) == 0,
          "%s: %d outputs stored bf16 (expected %d), none with fp32 activations", d->name,
          n_stored, expect_stored);
    /* the description's length, whatever the buffer; a short buffer cut to fit */
    char cut[64];
    size_t need = cnn_plan_describe(ps, NULL, 0), again = cnn_plan_describe(ps, cut, sizeof cut);
    check(need > sizeof cut && again == need && strlen(cut) == sizeof cut - 1,
          "%s: the description takes %zu characters (%zu with a 64-byte buffer, cut to %zu)",
          d->name, need, again, strlen(cut));
    int n_copies = count_marks(ps, "[a bf16 copy for its convolutions]");
    check(n_copies == expect_copies && count_marks(pf, "bf16 copy") == 0,
          "%s: %d outputs copied as bf16 (expected %d), none with fp32 activations", d->name,
          n_copies, expect_copies);
    int n_grads = count_marks(ps, "[its gradient stored bf16]");
    check(n_grads == expect_grads, "%s: %d gradients stored bf16 (expected %d)", d->name, n_grads,
          expect_grads);
    check(cnn_plan_bytes(ps) < cnn_plan_bytes(pf), "%s: plan %zu bytes with storage < %zu without",
          d->name, cnn_plan_bytes(ps), cnn_plan_bytes(pf));
    float ls, lf;
    uint8_t labels[64];
    plan_pair_step(d, batch, ms, mf, ps, pf, labels, &ls, &lf, NULL, NULL);
    /* the stored activations are what the bf16 kernels read anyway, but for
     * the convolutions' outputs, rounded before batch norm: as much again as
     * bf16 kernels move the gradients from fp32's (test_plan: cosine >= 0.99;
     * here, against the fast fp32 plan, 0.993-0.998 with storage and
     * 0.995-0.999 without); a layer reading the wrong buffer gives about 0 */
    check(fabsf(ls - lf) <= 0.005f * fabsf(lf), "%s: loss %.6f within 0.5 %% of %.6f", d->name,
          ls, lf);
    double worst = 1;
    for (int i = 0; i < ms->count; i++) {
        const cnn_model_layer *l = &ms->layers[i];
        if (!l->param_count)
            continue;
        double c = check_cosine(ms->grads + l->param_offset, mf->grads + l->param_offset,
                             l->param_count);
        worst = c < worst ? c : worst;
        check(c >= 0.99, "%s: layer %d gradient cosine %.6f (expected >= 0.99)", d->name, i + 1,
              c);
    }
    printf("  %s batch %d: %d outputs and %d gradients stored bf16, %d copied, plan %.1f -> %.1f "
           "KiB, loss %.6f vs %.6f, worst gradient cosine %.6f\n", d->name, batch, n_stored,
           n_grads, n_copies,
           cnn_plan_bytes(pf) / 1024.0, cnn_plan_bytes(ps) / 1024.0, ls, lf, worst);
    cnn_plan_destroy(ps);
    cnn_plan_destroy(pf);
    cnn_model_destroy(ms);
    cnn_model_destroy(mf);
}

/* Inference plans (batch norm folded into the convolutions before it): the
 * logits with storage against fp32 activations, and a frozen plan's second
 * forward bit for bit its first. */
static void test_inference(const cnn_model_desc *d, int batch, int expect_stored)
{
    cnn_error err;
    cnn_model *m;
    cnn_plan *ps, *pf;
    const cnn_plan_config stored = {.precision = CNN_PRECISION_BF16, .conv = CNN_CONV_DIRECT};
    const cnn_plan_config kept = {.precision = CNN_PRECISION_BF16, .conv = CNN_CONV_DIRECT,
                                  .fp32_activations = 1};
    if (cnn_model_create(d, NULL, &m, &err) || cnn_plan_create(m, batch, &stored, 0, &ps, &err) ||
        cnn_plan_create(m, batch, &kept, 0, &pf, &err)) {
        check(0, "%s inference: %s", d->name, err.msg);
        return;
    }
    cnn_model_init(m, 7);
    size_t nx = (size_t)batch * d->in_h * d->in_w * d->in_c, nl = (size_t)batch * d->classes;
    check_fill(cnn_plan_input(ps), nx, &seed, -2, 2);
    memcpy(cnn_plan_input(pf), cnn_plan_input(ps), nx * sizeof(float));
    cnn_plan_forward(ps, NULL, batch, 0, NULL);
    cnn_plan_forward(pf, NULL, batch, 0, NULL);
    const float *ls = cnn_plan_logits(ps), *lf = cnn_plan_logits(pf);
    double scale = 0;
    for (size_t i = 0; i < nl; i++)
        scale = fabs(lf[i]) > scale ? fabs(lf[i]) : scale;
    int n_stored = count_stored(ps);
    check(n_stored == expect_stored, "%s inference: %d outputs stored bf16 (expected %d)",
          d->name, n_stored, expect_stored);
    char what[96];
    snprintf(what, sizeof what, "%s inference: logits with storage vs fp32 activations", d->name);
    check_close(what, ls, lf, nl, 0, 0.02 * scale);
    float *first = malloc(nl * sizeof(float));
    if (!first)
        abort();
    cnn_plan_freeze(ps);
    cnn_plan_forward(ps, NULL, batch, 0, NULL);
    memcpy(first, cnn_plan_logits(ps), nl * sizeof(float));
    cnn_plan_forward(ps, NULL, batch, 0, NULL);
    check(same_bits(first, cnn_plan_logits(ps), nl),
          "%s inference: a frozen plan's second forward equals its first", d->name);
    free(first);
    cnn_plan_destroy(ps);
    cnn_plan_destroy(pf);
    cnn_model_destroy(m);
}

int main(void)
{
    test_rounding();
    printf("batch norm and 2x2 max pooling on bf16 storage against their float path:\n");
    test_batchnorm(300, 64, CNN_ACT_GELU);
    test_batchnorm(2048, 64, CNN_ACT_RELU); /* parallel, several blocks */
    test_batchnorm(200, 300, CNN_ACT_RELU); /* rows in two pieces */
    test_batchnorm(999, 24, CNN_ACT_NONE);
    test_batchnorm(1, 7, CNN_ACT_GELU);
    test_maxpool(3, 9, 9, 40); /* odd maps: floor mode drops the last row and column */
    test_maxpool(2, 8, 8, 300);
    test_maxpool(2, 9, 7, 64); /* 16 channels at a time in registers (AVX-512) */
    test_gelu(100000);
    test_gelu(300);
    if (!check_cpu_avx512_core()) { /* oneDNN's bf16 kernels need AVX-512 */
        printf("  SKIP the convolution and plan checks: oneDNN's bf16 kernels need AVX-512\n");
        return check_finish("test_bf16_storage");
    }
    printf("bf16 direct convolutions reading and writing bf16 storage:\n");
    cnn_dnnl *ctx;
    cnn_error err;
    if (cnn_dnnl_create(&ctx, &err)) {
        check(0, "oneDNN: %s", err.msg);
        return check_finish("test_bf16_storage");
    }
    test_conv(ctx, 4, 9, 16, 32, 3, 0);
    test_conv(ctx, 2, 7, 24, 40, 3, 1);
    test_conv(ctx, 3, 6, 32, 16, 1, 1);
    test_conv_bwd_fwd(ctx, 4, 9, 32, 64);
    test_conv_refusals(ctx);
    cnn_dnnl_destroy(ctx);
    printf("bf16 plans, activations stored bf16 vs kept fp32:\n");
    /* the first conv feeds a GELU layer, which reads floats, the GELU writes
     * bf16; conv -> pool -> bn: all three; conv -> bn: both; conv -> bn + relu
     * -> pool: the conv, the norm and the pool; the last pool feeds flatten.
     * Two gradients are stored: the pooled conv's, which the pool writes, and
     * the last conv's, which its batch norm + ReLU writes (the norms with a
     * GELU keep dy' in their dx, as floats) */
    test_plan(&airlike, 16, 8, 2, 0);
    /* the four convolutions' outputs and the first add's (read by the two
     * strided convolutions); their four gradients, each written by its batch
     * norm; and the first batch norm + ReLU, read by a convolution and by the
     * add, keeps floats and writes a bf16 copy, which the convolution reads */
    test_plan(&reslike, 16, 5, 4, 1);
    /* inference folds each batch norm after a convolution into it, and the
     * GELU after it stays a layer of its own (it reads floats): stored are
     * the first GELU's, the pooled conv's and the pool's, the norm's after the
     * pool, the second GELU's and the conv with the ReLU before the last pool */
    test_inference(&airlike, 16, 6);
    return check_finish("test_bf16_storage");
}
