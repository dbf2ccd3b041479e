/* test_conv_fast.c: the oneDNN convolution and the sgemm linear layer against
 * the reference loops, forward and backward, over many shapes: odd sizes,
 * stride 1 and 2, padding 0/1/2, kernels 1/3/5/7, batch 1 and more, with and
 * without bias and fused ReLU; Winograd F(4x4, 3x3) on 3x3 stride-1 shapes,
 * oneDNN's (AVX-512 CPUs) and cnnlab's on sgemm (every CPU); grouped and
 * depthwise convolutions (oneDNN's grouped primitives), also under --conv auto
 * (which must keep them direct).
 *
 * bf16: the kernels round x, w and dy to bf16 and accumulate in fp32. A bf16
 * product is exact in fp32 (8 + 8 significant bits), so the only difference
 * from the reference run on the same rounded inputs is the fp32 summation
 * order: the fp32 tolerances hold. (Against unrounded inputs the error would
 * be the rounding itself, 2^-9 relative per operand, which says nothing about
 * whether the kernel is right.) */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "ops/fast/bf16.h"
#include "ops/fast/conv_bwino.h"
#include "ops/fast/conv_dnnl.h"
#include "ops/fast/fast.h"

/* Sums of up to IC*KH*KW (~600) products in a different order: float rounding
 * of each product (~6e-8 relative) times the term count stays below 1e-4. */
#define RTOL 1e-4
#define ATOL 1e-4
/* cnnlab's Winograd: F(4x4, 3x3)'s transforms multiply by up to 8 and 1/24
 * (the points +-2), and each output is a sum of 36 transformed products over
 * all input channels, so rounding grows with the tensor's magnitude rather
 * than with each element's: atol WINO_ATOL * max |reference| on every tensor
 * (measured worst: a fifth of it). */
#define WINO_ATOL 2e-5
/* cnnlab's bf16 Winograd F(2x2, 3x3) (conv_bwino.c) rounds the transformed
 * input tiles and weights (for its weight gradient: x's tiles and dy's) to
 * bf16 as well: each is a sum of up to 4 inputs (or 9 halved weights)
 * rounded once, 2^-9 relative to the sum, so its error against the reference
 * on the rounded inputs is that of a second rounding of every operand, summed
 * over all channels (and tiles), then mixed by the output transform: atol
 * BWINO_ATOL * max |reference| per tensor (measured worst 6.3e-3 for y,
 * 5.3e-3 for dx, 5.6e-3 for dw, printed with each run; 8.3e-3 for y on an
 * earlier draw; a dropped or wrong term of a transform is off by tenths). */
#define BWINO_ATOL 2e-2

static double max_abs(const float *a, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fabs((double)a[i]) > m ? fabs((double)a[i]) : m;
    return m;
}

/* Round to the nearest bf16, ties to even (what oneDNN's conversion does). */
static float bf16_round(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    u += 0x7fffu + ((u >> 16) & 1u);
    u &= 0xffff0000u;
    memcpy(&f, &u, 4);
    return f;
}

static float *rounded_copy(const float *a, size_t n, int bf16)
{
    float *r = malloc(n * 4);
    for (size_t i = 0; i < n; i++)
        r[i] = bf16 ? bf16_round(a[i]) : a[i];
    return r;
}

static int bf16_skipped; /* cases the CPU has no kernel for */
/* Set: direct convolutions run their backward-data as a forward where the
 * shape allows (conv_dnnl.c, bwd_as_forward); counted in bwd_fwd_cases. */
static int bwd_fwd_way, bwd_fwd_cases;
/* Set: bf16 direct convolutions take cnnlab's weight gradient (conv_bww.c,
 * CNN_RUN_OWN_BWW); counted in own_bww_cases. */
static int own_bww_way, own_bww_cases;
/* Set: bf16 convolutions run cnnlab's Winograd (conv_bwino.c,
 * CNN_RUN_OWN_WINO), with cnnlab's weight gradient too when own_bww_way is;
 * counted in own_wino_cases, the worst error / max |reference| in
 * own_wino_worst. */
static int own_wino_way, own_wino_cases;
/* Set: bf16 convolutions take the weight gradient of cnnlab's Winograd
 * (CNN_RUN_WINO_BWW); counted in wino_bww_cases. */
static int wino_bww_way, wino_bww_cases;
static double own_wino_worst[3]; /* y, dx, dw */

static void worst_error(const float *got, const float *want, size_t n, double *worst)
{
    double m = max_abs(want, n);
    for (size_t i = 0; i < n && m > 0; i++)
        if (fabs((double)got[i] - want[i]) / m > *worst)
            *worst = fabs((double)got[i] - want[i]) / m;
}

/* groups G (1: dense): weights (OC, IC/G, KH, KW) */
static void conv_case_groups(cnn_dnnl *ctx, int n, int ih, int iw, int ic, int oc, int kh,
                             int kw, int s, int pad, int bias, cnn_act act, int bf16,
                             cnn_conv_algo algo, int groups, unsigned *seed)
{
    cnn_conv_geom g = {.n = n, .ih = ih, .iw = iw, .ic = ic, .oc = oc, .kh = kh, .kw = kw,
                       .sh = s, .sw = s, .ph = pad, .pw = pad, .groups = groups};
    if (!cnn_conv_geom_finish(&g))
        return;
    size_t nx = (size_t)n * ih * iw * ic, ny = (size_t)n * g.oh * g.ow * oc,
           nw = (size_t)oc * (ic / groups) * kh * kw;
    float *x = malloc(nx * 4), *w = malloc(nw * 4), *b = malloc((size_t)oc * 4);
    float *y = malloc(ny * 4), *yr = malloc(ny * 4), *dy = malloc(ny * 4), *dyr = malloc(ny * 4);
    float *dx = malloc(nx * 4), *dxr = malloc(nx * 4), *dw = malloc(nw * 4), *dwr = malloc(nw * 4);
    float *db = malloc((size_t)oc * 4), *dbr = malloc((size_t)oc * 4);
    check_fill(x, nx, seed, -1, 1);
    check_fill(w, nw, seed, -0.5f, 0.5f);
    check_fill(b, (size_t)oc, seed, -0.5f, 0.5f);
    check_fill(dy, ny, seed, -1, 1);

    char what[160];
    int used = snprintf(what, sizeof what, "conv n%d %dx%dx%d->%d k%dx%d s%d p%d%s%s%s", n, ih,
                        iw, ic, oc, kh, kw, s, pad, bias ? " bias" : "",
                        act == CNN_ACT_RELU ? " relu" : "",
                        bf16 ? " bf16" : algo == CNN_CONV_WINOGRAD ? " winograd"
                                       : algo == CNN_CONV_WINOGRAD_SGEMM ? " winograd-sgemm"
                                       : algo == CNN_CONV_DENSE ? " dense"
                                       : algo == CNN_CONV_AUTO ? " auto" : "");
    if (groups > 1)
        snprintf(what + used, sizeof what - (size_t)used, " groups %d", groups);
    cnn_fast_conv *c = NULL;
    cnn_error err;
    /* the reference's inputs: what the kernels read */
    float *xq = rounded_copy(x, nx, bf16), *wq = rounded_copy(w, nw, bf16);
    cnn_status made = CNN_STATUS_BACKEND;
    if (own_bww_way || own_wino_way || wino_bww_way) {
        int run = CNN_RUN_BF16 | (own_bww_way ? CNN_RUN_OWN_BWW : 0) |
                  (own_wino_way ? CNN_RUN_OWN_WINO : 0) | (wino_bww_way ? CNN_RUN_WINO_BWW : 0);
        if (cnn_fast_conv_make(ctx, &g, bias, act, 1, run, algo, &c, &err) != CNN_STATUS_OK) {
            check(0, "%s: with cnnlab's %s: %s", what,
                  own_wino_way ? "Winograd" : "weight gradient", err.msg);
            goto out;
        }
        own_bww_cases += strstr(cnn_fast_conv_impl(c), "cnnlab's bf16 kernel") != NULL;
        own_wino_cases += strncmp(cnn_fast_conv_impl(c), "winograd:bf16", 13) == 0;
        wino_bww_cases += strstr(cnn_fast_conv_impl(c), "cnnlab's bf16 Winograd") != NULL;
        made = CNN_STATUS_OK;
    } else if (bwd_fwd_way && algo == CNN_CONV_DIRECT && groups <= 1 && s == 1)
        made = cnn_fast_conv_make(ctx, &g, bias, act, 1,
                                  (bf16 ? CNN_RUN_BF16 : 0) | CNN_RUN_BWD_FWD, algo, &c, &err);
    if (made == CNN_STATUS_OK)
        bwd_fwd_cases += bwd_fwd_way &&
                         strstr(cnn_fast_conv_impl(c), "backward-data as a forward") != NULL;
    else if (cnn_fast_conv_create(ctx, &g, bias, act, 1, bf16, algo, &c, &err) != CNN_STATUS_OK) {
        if (bf16 && !check_cpu_avx512_core()) {
            /* oneDNN has bf16 convolutions for AVX-512 only: said, not failed */
            bf16_skipped++;
            goto out;
        }
        check(0, "%s: create: %s", what, err.msg);
        goto out;
    }
    if (algo == CNN_CONV_DENSE)
        check(strncmp(cnn_fast_conv_impl(c), "dense", 5) == 0, "%s: runs dense, found %s", what,
              cnn_fast_conv_impl(c));
    if (groups > 1)
        check(strncmp(cnn_fast_conv_impl(c), "dense", 5) && strncmp(cnn_fast_conv_impl(c),
                                                                    "winograd", 8),
              "%s: runs a oneDNN grouped primitive, found %s", what, cnn_fast_conv_impl(c));
    /* cnnlab's Winograd: asked for, or --conv winograd's fallback */
    const int own = strncmp(cnn_fast_conv_impl(c), "winograd:sgemm", 14) == 0;
    if (algo == CNN_CONV_WINOGRAD_SGEMM)
        check(own, "%s: runs cnnlab's winograd, found %s", what, cnn_fast_conv_impl(c));
    cnn_ref_conv2d_forward(&g, xq, wq, bias ? b : NULL, yr);
    if (act == CNN_ACT_RELU)
        cnn_ref_act_forward(CNN_ACT_RELU, ny, yr, yr);
    cnn_fast_conv_forward(c, x, w, bias ? b : NULL, y);
    char label[200];
    snprintf(label, sizeof label, "%s: forward", what);
    /* oneDNN's Winograd passes at the same tolerances: its transforms' rounding
     * stays near 1e-6 here */
    const double y_atol = own ? WINO_ATOL * max_abs(yr, ny)
                          : own_wino_way ? BWINO_ATOL * max_abs(yr, ny) : ATOL;
    check_close(label, y, yr, ny, RTOL, y_atol);
    if (own_wino_way)
        worst_error(y, yr, ny, &own_wino_worst[0]);

    memcpy(dyr, dy, ny * 4);
    /* (ReLU's mask: the kernel's y, where the Winograd's rounding may move
     * an output near 0 to the other side) */
    if (act == CNN_ACT_RELU)
        cnn_ref_act_backward(CNN_ACT_RELU, ny, NULL, own_wino_way ? y : yr, dyr, dyr);
    for (size_t i = 0; bf16 && i < ny; i++)
        dyr[i] = bf16_round(dyr[i]);
    cnn_ref_conv2d_backward(&g, xq, wq, dyr, dxr, dwr, bias ? dbr : NULL);
    cnn_fast_conv_backward(c, x, y, dy, dx, dw, bias ? db : NULL);
    snprintf(label, sizeof label, "%s: dx", what);
    const double dx_atol = own ? WINO_ATOL * max_abs(dxr, nx)
                           : own_wino_way ? BWINO_ATOL * max_abs(dxr, nx) : ATOL;
    check_close(label, dx, dxr, nx, RTOL, dx_atol);
    if (own_wino_way)
        worst_error(dx, dxr, nx, &own_wino_worst[1]);
    snprintf(label, sizeof label, "%s: dw", what);
    check_close(label, dw, dwr, nw, RTOL,
                own            ? WINO_ATOL * max_abs(dwr, nw)
                : wino_bww_way ? BWINO_ATOL * max_abs(dwr, nw)
                               : ATOL * n * g.oh * g.ow / 16 + ATOL);
    if (wino_bww_way)
        worst_error(dw, dwr, nw, &own_wino_worst[2]);
    if (bias) {
        snprintf(label, sizeof label, "%s: db", what);
        check_close(label, db, dbr, (size_t)oc, RTOL, ATOL * n * g.oh * g.ow / 16 + ATOL);
    }
    cnn_fast_conv_destroy(c);
out:
    free(xq), free(wq);
    free(x), free(w), free(b), free(y), free(yr), free(dy), free(dyr);
    free(dx), free(dxr), free(dw), free(dwr), free(db), free(dbr);
}

/* cnn_bwino_weights (16 kernels a vector) against cnn_bwino_weights_ref (one
 * kernel at a time), bit for bit, both ways round: channel counts in 16s and
 * in 8s (the padding zeros), a last block of 8 outputs, and weights spanning
 * many magnitudes with signed zeros. Returns the comparisons made. */
static int bwino_weights_case(unsigned *seed)
{
    static const int shapes[][2] = {{16, 16}, {24, 40}, {8, 24}, {256, 64}, {48, 8}};
    int compared = 0;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int flip = 0; flip < 2; flip++) {
            cnn_conv_geom g = {.n = 1, .ih = 5, .iw = 5, .ic = shapes[s][0],
                               .oc = shapes[s][1], .kh = 3, .kw = 3, .sh = 1, .sw = 1,
                               .ph = 1, .pw = 1};
            cnn_conv_geom_finish(&g);
            const size_t nw = (size_t)g.oc * g.ic * 9, bytes = cnn_bwino_weight_bytes(&g);
            float *w = malloc(nw * 4);
            uint16_t *fast = malloc(bytes), *ref = malloc(bytes);
            check_fill(w, nw, seed, -1, 1);
            for (size_t i = 0; i < nw; i++) /* magnitudes 2^-20 .. 2^10, some -0 */
                w[i] = i % 37 == 0 ? -0.0f : ldexpf(w[i], (int)(i % 31) - 20);
            memset(fast, 0xab, bytes), memset(ref, 0xcd, bytes); /* (nothing left unwritten) */
            cnn_bwino_weights(&g, w, flip, fast);
            cnn_bwino_weights_ref(&g, w, flip, ref);
            check(memcmp(fast, ref, bytes) == 0,
                  "cnnlab's Winograd weights, %d in, %d out, %s: the vector transform gives "
                  "the reference's bits", g.ic, g.oc, flip ? "backward-data" : "forward");
            compared++;
            free(w), free(fast), free(ref);
        }
    return compared;
}

/* cnnlab's bf16 Winograd beyond conv_case: on bf16 storage (x and y, then
 * dy) it computes bit for bit what it computes on floats holding the same
 * values; an inference convolution (transformed weights kept, a forward
 * without weights reusing them) bit for bit what training's forward gives;
 * the run bits it cannot take are refused. */
static void bwino_storage_case(cnn_dnnl *ctx, unsigned *seed)
{
    cnn_conv_geom g = {.n = 2, .ih = 9, .iw = 9, .ic = 24, .oc = 40, .kh = 3, .kw = 3,
                       .sh = 1, .sw = 1, .ph = 1, .pw = 1};
    cnn_conv_geom_finish(&g);
    size_t nx = (size_t)g.n * g.ih * g.iw * g.ic, ny = (size_t)g.n * g.oh * g.ow * g.oc,
           nw = (size_t)g.oc * g.ic * 9;
    float *x = malloc(nx * 4), *w = malloc(nw * 4), *b = malloc((size_t)g.oc * 4);
    float *y = malloc(ny * 4), *yi = malloc(ny * 4), *dy = malloc(ny * 4), *dx = malloc(nx * 4);
    float *dx2 = malloc(nx * 4), *dw = malloc(nw * 4), *dw2 = malloc(nw * 4);
    float *db = malloc((size_t)g.oc * 4), *db2 = malloc((size_t)g.oc * 4);
    uint16_t *xh = malloc(nx * 2), *yh = malloc(ny * 2), *dyh = malloc(ny * 2);
    check_fill(x, nx, seed, -1, 1);
    check_fill(w, nw, seed, -0.5f, 0.5f);
    check_fill(b, (size_t)g.oc, seed, -0.5f, 0.5f);
    check_fill(dy, ny, seed, -1, 1);
    for (size_t i = 0; i < nx; i++) /* values bf16 holds, as floats and as bf16 */
        x[i] = bf16_round(x[i]), xh[i] = cnn_bf16_from_float(x[i]);
    for (size_t i = 0; i < ny; i++)
        dy[i] = bf16_round(dy[i]), dyh[i] = cnn_bf16_from_float(dy[i]);
    const int wino = CNN_RUN_BF16 | CNN_RUN_OWN_WINO | CNN_RUN_WINO_BWW;
    cnn_fast_conv *fl = NULL, *st = NULL, *inf = NULL;
    cnn_error err;
    if (cnn_fast_conv_make(ctx, &g, 1, CNN_ACT_NONE, 1, wino, CNN_CONV_DIRECT, &fl, &err) ||
        cnn_fast_conv_make(ctx, &g, 1, CNN_ACT_NONE, 1,
                           wino | CNN_RUN_X_BF16 | CNN_RUN_Y_BF16 | CNN_RUN_DY_BF16,
                           CNN_CONV_DIRECT, &st, &err) ||
        cnn_fast_conv_make(ctx, &g, 1, CNN_ACT_NONE, 0, CNN_RUN_BF16 | CNN_RUN_OWN_WINO,
                           CNN_CONV_DIRECT, &inf, &err)) {
        check(0, "bf16 Winograd on storage: make: %s", err.msg);
        goto out;
    }
    cnn_fast_conv_forward(fl, x, w, b, y);
    cnn_fast_conv_forward(st, (const float *)(const void *)xh, w, b, (float *)(void *)yh);
    int same = 1;
    for (size_t i = 0; i < ny; i++)
        same &= yh[i] == cnn_bf16_from_float(y[i]);
    check(same, "bf16 Winograd: y stored as bf16 is y rounded");
    cnn_fast_conv_backward(fl, x, y, dy, dx, dw, db);
    cnn_fast_conv_backward(st, (const float *)(const void *)xh, (const float *)(const void *)yh,
                           (float *)(void *)dyh, dx2, dw2, db2);
    check(!memcmp(dx, dx2, nx * 4) && !memcmp(dw, dw2, nw * 4) && !memcmp(db, db2, (size_t)g.oc * 4),
          "bf16 Winograd: x and dy stored as bf16 give the same dx, dw and db");
    cnn_fast_conv_forward(inf, x, w, b, yi);
    check(!memcmp(y, yi, ny * 4), "bf16 Winograd inference: the training forward's y");
    memset(yi, 0, ny * 4);
    cnn_fast_conv_forward(inf, x, NULL, NULL, yi);
    check(!memcmp(y, yi, ny * 4), "bf16 Winograd inference: the kept weights reused");
    /* refused: backward-data both ways, two weight gradients, the flag's algorithm */
    static const int bad[] = {CNN_RUN_BF16 | CNN_RUN_OWN_WINO | CNN_RUN_BWD_FWD,
                              CNN_RUN_BF16 | CNN_RUN_WINO_BWW | CNN_RUN_OWN_BWW,
                              CNN_RUN_OWN_WINO};
    for (int i = 0; i < 4; i++) {
        cnn_fast_conv *r = NULL;
        cnn_status rs = cnn_fast_conv_make(ctx, &g, 1, CNN_ACT_NONE, 1,
                                           i < 3 ? bad[i] : CNN_RUN_BF16,
                                           i < 3 ? CNN_CONV_DIRECT : CNN_CONV_WINOGRAD_BF16, &r,
                                           &err);
        check(rs == CNN_STATUS_BACKEND && !r, "bf16 Winograd: run bits case %d refused", i);
        cnn_fast_conv_destroy(r);
    }
out:
    cnn_fast_conv_destroy(fl), cnn_fast_conv_destroy(st), cnn_fast_conv_destroy(inf);
    free(x), free(w), free(b), free(y), free(yi), free(dy), free(dx), free(dx2);
    free(dw), free(dw2), free(db), free(db2), free(xh), free(yh), free(dyh);
}

static void conv_case(cnn_dnnl *ctx, int n, int ih, int iw, int ic, int oc, int kh, int kw,
                      int s, int pad, int bias, cnn_act act, int bf16, cnn_conv_algo algo,
                      unsigned *seed)
{
    conv_case_groups(ctx, n, ih, iw, ic, oc, kh, kw, s, pad, bias, act, bf16, algo, 1, seed);
}

static void linear_case(int n, int in, int out, int bias, cnn_act act, unsigned *seed)
{
    size_t nx = (size_t)n * in, ny = (size_t)n * out, nw = (size_t)out * in;
    float *x = malloc(nx * 4), *w = malloc(nw * 4), *b = malloc((size_t)out * 4);
    float *y = malloc(ny * 4), *yr = malloc(ny * 4), *dy = malloc(ny * 4), *dyr = malloc(ny * 4);
    float *dx = malloc(nx * 4), *dxr = malloc(nx * 4), *dw = malloc(nw * 4), *dwr = malloc(nw * 4);
    float *db = malloc((size_t)out * 4), *dbr = malloc((size_t)out * 4);
    check_fill(x, nx, seed, -1, 1);
    check_fill(w, nw, seed, -0.5f, 0.5f);
    check_fill(b, (size_t)out, seed, -0.5f, 0.5f);
    check_fill(dy, ny, seed, -1, 1);
    char label[160];
    cnn_ref_linear_forward(n, in, out, x, w, bias ? b : NULL, yr);
    cnn_ref_act_forward(act, ny, yr, yr);
    cnn_fast_linear_forward(n, in, out, x, w, bias ? b : NULL, act, y);
    snprintf(label, sizeof label, "linear n%d %d->%d act %d: forward", n, in, out, (int)act);
    check_close(label, y, yr, ny, RTOL, ATOL);
    memcpy(dyr, dy, ny * 4);
    cnn_ref_act_backward(act, ny, NULL, yr, dyr, dyr);
    cnn_ref_linear_backward(n, in, out, x, w, dyr, dxr, dwr, bias ? dbr : NULL);
    cnn_fast_linear_backward(n, in, out, x, w, y, act, dy, dx, dw, bias ? db : NULL);
    snprintf(label, sizeof label, "linear n%d %d->%d act %d: dx", n, in, out, (int)act);
    check_close(label, dx, dxr, nx, RTOL, ATOL);
    snprintf(label, sizeof label, "linear n%d %d->%d act %d: dw", n, in, out, (int)act);
    check_close(label, dw, dwr, nw, RTOL, ATOL * n);
    if (bias) {
        snprintf(label, sizeof label, "linear n%d %d->%d act %d: db", n, in, out, (int)act);
        check_close(label, db, dbr, (size_t)out, RTOL, ATOL * n);
    }
    free(x), free(w), free(b), free(y), free(yr), free(dy), free(dyr);
    free(dx), free(dxr), free(dw), free(dwr), free(db), free(dbr);
}

int main(void)
{
    unsigned seed = 12345;
    cnn_dnnl *ctx;
    cnn_error err;
    if (cnn_dnnl_create(&ctx, &err) != CNN_STATUS_OK) {
        printf("FAIL %s\n", err.msg);
        return 1;
    }
    printf("convolution, fast (oneDNN) vs reference: rtol %g, atol %g (weight and bias "
           "gradients: atol scaled by the number of summed positions / 16)\n", RTOL, ATOL);
    /* Winograd: 3x3 stride 1, odd and even sizes, the models' channel counts */
    {
        int cases = 0;
        static const int sizes[][4] = {{3, 8, 8, 16}, {2, 9, 7, 5}, {2, 32, 32, 64},
                                       {4, 16, 16, 128}, {2, 8, 8, 256}, {2, 4, 4, 64},
                                       {1, 6, 11, 3}};
        for (int i = 0; i < 7; i++) {
            const int *z = sizes[i];
            conv_case(ctx, z[0], z[1], z[2], z[3], z[3] == 3 ? 16 : z[3], 3, 3, 1, 1, i % 2,
                      i % 3 ? CNN_ACT_RELU : CNN_ACT_NONE, 0, CNN_CONV_WINOGRAD, &seed);
            cases++;
        }
        printf("  %d winograd convolution shapes compared (%s)\n", cases,
               check_cpu_avx512_core() ? "oneDNN's, same tolerances"
                                       : "oneDNN has none for this CPU: cnnlab's");
    }
    /* cnnlab's Winograd on every CPU: the same shapes, then padding 0 and 2
     * (backward-data then runs with padding 2 and 0), channel counts past one
     * block of 64 with tails, maps smaller than a tile, rectangles, and more
     * tiles than one thread's chunk holds */
    {
        int cases = 0;
        static const int sizes[][7] = {
            /* n, ih, iw, ic, oc, pad, bias */
            {3, 8, 8, 16, 16, 1, 0},   {2, 9, 7, 5, 5, 1, 1},   {2, 32, 32, 64, 64, 1, 0},
            {4, 16, 16, 128, 128, 1, 1}, {2, 8, 8, 256, 256, 1, 0}, {2, 4, 4, 64, 64, 1, 1},
            {1, 6, 11, 3, 16, 1, 0},   {2, 10, 9, 7, 70, 0, 1}, {2, 7, 10, 70, 9, 2, 0},
            {3, 1, 1, 130, 17, 1, 1},  {1, 2, 3, 20, 20, 2, 1}, {8, 24, 24, 24, 40, 1, 1},
        };
        for (int i = 0; i < (int)(sizeof sizes / sizeof sizes[0]); i++) {
            const int *z = sizes[i];
            conv_case(ctx, z[0], z[1], z[2], z[3], z[4], 3, 3, 1, z[5], z[6],
                      i % 3 ? CNN_ACT_RELU : CNN_ACT_NONE, 0, CNN_CONV_WINOGRAD_SGEMM, &seed);
            cases++;
        }
        printf("  %d winograd-sgemm convolution shapes compared (rtol %g, atol %g * max "
               "|reference| per tensor)\n", cases, RTOL, WINO_ATOL);
    }
    /* Dense (one matrix product): inputs with no more positions than kernel
     * taps; VGG's 2x2 under 3x3, a 1x1 map, a strided map where some position
     * pairs meet in no tap, a rectangle under a 5x5 kernel */
    {
        static const int dense[][8] = {/* n, ih, iw, ic, oc, k, stride, pad */
                                       {3, 2, 2, 64, 32, 3, 1, 1}, {2, 1, 1, 16, 8, 3, 1, 1},
                                       {2, 3, 3, 8, 12, 3, 2, 1}, {2, 2, 3, 6, 5, 5, 1, 2},
                                       {4, 2, 2, 512, 512, 3, 1, 1}};
        for (int i = 0; i < 5; i++) {
            const int *z = dense[i];
            conv_case(ctx, z[0], z[1], z[2], z[3], z[4], z[5], z[5], z[6], z[7], i % 2,
                      i % 3 ? CNN_ACT_NONE : CNN_ACT_RELU, 0, CNN_CONV_DENSE, &seed);
        }
        printf("  5 dense convolution shapes compared (same tolerances)\n");
    }
    static const int kernels[] = {1, 3, 5, 7};
    /* Direct convolutions, their stride-1 backward-data both as oneDNN's
     * primitive and as a forward on the flipped weights (--conv auto times
     * the two; here each in turn) */
    for (int pass = 0; pass < 4; pass++) {
        int way = pass / 2, bf16 = pass % 2;
        bwd_fwd_way = way;
        int cases = 0;
        for (int ki = 0; ki < 4; ki++)
            for (int s = 1; s <= 2; s++)
                for (int pad = 0; pad <= 2; pad++) {
                    int k = kernels[ki];
                    int n = (ki + s + pad) % 2 ? 1 : 3;
                    int size = 7 + 2 * ki + s + pad; /* odd and even sizes */
                    conv_case(ctx, n, size, size + 1, 3 + 2 * pad, 5 + 3 * ki, k, k, s, pad,
                              (ki + pad) % 2, (s + pad) % 2 ? CNN_ACT_RELU : CNN_ACT_NONE, bf16,
                              CNN_CONV_DIRECT, &seed);
                    cases++;
                }
        /* channel counts of the real models: blocked kernels with and without tails */
        conv_case(ctx, 4, 32, 32, 3, 16, 5, 5, 1, 0, 1, CNN_ACT_RELU, bf16, CNN_CONV_DIRECT, &seed);
        conv_case(ctx, 4, 14, 14, 16, 36, 3, 3, 1, 0, 1, CNN_ACT_RELU, bf16, CNN_CONV_DIRECT, &seed);
        conv_case(ctx, 2, 8, 8, 64, 64, 3, 3, 1, 1, 0, CNN_ACT_NONE, bf16, CNN_CONV_DIRECT, &seed);
        conv_case(ctx, 2, 9, 9, 32, 48, 3, 3, 2, 1, 0, CNN_ACT_NONE, bf16, CNN_CONV_DIRECT, &seed);
        conv_case(ctx, 1, 6, 5, 4, 6, 3, 1, 1, 0, 1, CNN_ACT_NONE, bf16, CNN_CONV_DIRECT, &seed); /* rectangular */
        /* a bf16 plan's fully connected layers: 1x1 kernels on 1x1 maps */
        conv_case(ctx, 8, 1, 1, 300, 70, 1, 1, 1, 0, 1, CNN_ACT_RELU, bf16, CNN_CONV_DIRECT, &seed);
        conv_case(ctx, 5, 1, 1, 96, 10, 1, 1, 1, 0, 0, CNN_ACT_NONE, bf16, CNN_CONV_DIRECT, &seed);
        cases += 7;
        /* grouped and depthwise: MobileNetV2's 3x3 depthwise layers (stride 1 and 2,
         * channel counts with and without a SIMD tail), a channel multiplier, groups of 4 */
        conv_case_groups(ctx, 2, 16, 16, 32, 32, 3, 3, 1, 1, 0, CNN_ACT_NONE, bf16,
                         CNN_CONV_DIRECT, 32, &seed);
        conv_case_groups(ctx, 2, 9, 9, 24, 24, 3, 3, 2, 1, 1, CNN_ACT_RELU, bf16,
                         CNN_CONV_DIRECT, 24, &seed);
        conv_case_groups(ctx, 3, 8, 7, 13, 13, 3, 3, 1, 1, 1, CNN_ACT_NONE, bf16,
                         CNN_CONV_DIRECT, 13, &seed);
        conv_case_groups(ctx, 2, 7, 7, 8, 16, 3, 3, 1, 1, 0, CNN_ACT_NONE, bf16,
                         CNN_CONV_DIRECT, 8, &seed);
        conv_case_groups(ctx, 2, 10, 10, 16, 24, 3, 3, 1, 1, 1, CNN_ACT_RELU, bf16,
                         CNN_CONV_DIRECT, 4, &seed);
        conv_case_groups(ctx, 1, 6, 6, 12, 6, 1, 1, 1, 0, 0, CNN_ACT_NONE, bf16,
                         CNN_CONV_DIRECT, 3, &seed);
        cases += 6;
        if (!bf16) { /* (bf16's auto may keep fp32 direct: the rounded reference would not hold) */
            conv_case_groups(ctx, 2, 8, 8, 16, 16, 3, 3, 1, 1, 0, CNN_ACT_NONE, 0, CNN_CONV_AUTO,
                             16, &seed);
            cases++;
        }
        if (bf16 && bf16_skipped)
            printf("  SKIP %d bf16 convolution shapes: oneDNN has no bf16 convolution on this "
                   "CPU (it needs AVX-512)\n", bf16_skipped);
        else
            printf("  %d %s convolution shapes compared, backward-data %s%s\n", cases,
                   bf16 ? "bf16" : "fp32", way ? "as a forward" : "oneDNN's",
                   bf16 ? " (reference on the bf16-rounded x, w and dy)" : "");
    }
    bwd_fwd_way = 0;
    /* fp32 alone has 16 such shapes (stride 1, ungrouped, padding below the kernel) */
    printf("  backward-data ran as a forward in %d of those cases\n", bwd_fwd_cases);
    check(bwd_fwd_cases >= 16, "backward-data ran as a forward in %d cases", bwd_fwd_cases);

    /* cnnlab's bf16 weight gradient (where the build has AVX512_BF16): output
     * channels in 16s and 80 (a tile of 64 and one of 16), input channels
     * with tails (5, 13, 24, 40), stride 2, a fused ReLU, an odd row count
     * (147), several chunks a thread (900 rows of 320 channels), one row */
    cnn_conv_geom probe = {.n = 1, .ih = 3, .iw = 3, .ic = 24, .oc = 64, .kh = 3, .kw = 3,
                           .sh = 1, .sw = 1, .ph = 1, .pw = 1};
    cnn_conv_geom_finish(&probe);
    if (cnn_bww_applies(&probe) && check_cpu_avx512_core()) {
        static const int bww[][10] = {
            /* n, ih, iw, ic, oc, k, s, pad, bias, relu */
            {3, 7, 7, 24, 64, 3, 1, 1, 0, 0},     {1, 9, 8, 5, 16, 3, 2, 1, 1, 0},
            {2, 6, 5, 40, 80, 1, 1, 0, 1, 0},     {2, 10, 10, 13, 32, 5, 1, 2, 0, 1},
            {1, 1, 1, 300, 48, 1, 1, 0, 1, 0},    {4, 15, 15, 64, 256, 3, 1, 1, 0, 0},
            {5, 3, 3, 256, 256, 3, 1, 1, 1, 0}};
        own_bww_way = 1;
        for (int i = 0; i < 7; i++) {
            const int *z = bww[i];
            conv_case(ctx, z[0], z[1], z[2], z[3], z[4], z[5], z[5], z[6], z[7], z[8],
                      z[9] ? CNN_ACT_RELU : CNN_ACT_NONE, 1, CNN_CONV_DIRECT, &seed);
        }
        own_bww_way = 0;
        printf("  7 bf16 convolution shapes with cnnlab's weight gradient compared (same "
               "tolerances), %d ran it\n", own_bww_cases);
        check(own_bww_cases == 7, "cnnlab's weight gradient ran in %d of 7 cases", own_bww_cases);
    } else {
        printf("  SKIP cnnlab's bf16 weight gradient: this build or CPU has no AVX512_BF16\n");
    }
    /* cnnlab's bf16 Winograd: odd maps (partial tiles), padding 0 and 2
     * (backward-data with 2 and 0), a rectangle, output channels past a block
     * of 64 (80), several chunks a thread (256 and 64 channels both ways), a
     * 1x1 map, channel counts of 8s padded to 16s (24 in, 40 out; 8 in, 24
     * out); with oneDNN's weight gradient and with cnnlab's */
    cnn_conv_geom wprobe = probe;
    wprobe.ic = 16;
    cnn_conv_geom_finish(&wprobe);
    if (cnn_bwino_applies(&wprobe) && check_cpu_avx512_core()) {
        static const int wino[][8] = {
            /* n, ih, iw, ic, oc, pad, bias, relu */
            {3, 7, 7, 16, 16, 1, 0, 0},   {2, 8, 8, 64, 80, 1, 1, 0},
            {2, 15, 15, 64, 256, 1, 0, 0}, {2, 6, 5, 32, 48, 0, 1, 1},
            {1, 4, 3, 16, 32, 2, 0, 0},   {4, 16, 16, 256, 64, 1, 1, 0},
            {1, 1, 1, 16, 16, 1, 1, 1},   {3, 7, 7, 256, 256, 1, 0, 1},
            {2, 9, 9, 24, 40, 1, 1, 0},   {1, 6, 7, 8, 24, 2, 0, 1}};
        enum { SHAPES = sizeof wino / sizeof wino[0] };
        /* each shape four ways: Winograd forward and backward-data with
         * oneDNN's weight gradient, cnnlab's direct one, the Winograd one;
         * direct with the Winograd weight gradient */
        for (int i = 0; i < 4 * SHAPES; i++) {
            const int *z = wino[i % SHAPES], way = i / SHAPES;
            own_wino_way = way < 3;
            own_bww_way = way == 1 && z[4] % 16 == 0; /* (its output channels in 16s) */
            wino_bww_way = way >= 2;
            conv_case(ctx, z[0], z[1], z[2], z[3], z[4], 3, 3, 1, z[5], z[6],
                      z[7] ? CNN_ACT_RELU : CNN_ACT_NONE, 1, CNN_CONV_DIRECT, &seed);
        }
        /* the weight gradient over several chunks a thread (384 tiles, 128 a chunk) */
        own_wino_way = wino_bww_way = 1;
        own_bww_way = 0;
        conv_case(ctx, 6, 16, 16, 256, 256, 3, 3, 1, 1, 1, CNN_ACT_NONE, 1, CNN_CONV_DIRECT,
                  &seed);
        own_wino_way = own_bww_way = wino_bww_way = 0;
        bwino_storage_case(ctx, &seed);
        const int weight_shapes = bwino_weights_case(&seed);
        check(weight_shapes == 10, "the weight transform compared %d times, 10 meant",
              weight_shapes);
        printf("  %d bf16 convolution shapes with cnnlab's Winograd compared four ways, and "
               "its weight gradient over several chunks a thread (y, dx and its dw: atol %g * "
               "max |reference|, worst %.2g, %.2g, %.2g), %d ran its forward, %d its weight "
               "gradient; bf16 storage and inference bit for bit, wrong run bits refused; "
               "the vector weight transform bit for bit with the reference (%d comparisons)\n",
               SHAPES, BWINO_ATOL, own_wino_worst[0], own_wino_worst[1], own_wino_worst[2],
               own_wino_cases, wino_bww_cases, weight_shapes);
        check(own_wino_cases == 3 * SHAPES + 1 && wino_bww_cases == 2 * SHAPES + 1,
              "cnnlab's Winograd ran in %d of %d cases, its weight gradient in %d of %d",
              own_wino_cases, 3 * SHAPES + 1, wino_bww_cases, 2 * SHAPES + 1);
        /* --conv winograd-bf16 pins it where it applies; elsewhere direct */
        cnn_conv_geom odd_ic = wprobe;
        odd_ic.ic = 12;
        cnn_conv_geom_finish(&odd_ic);
        for (int i = 0; i < 3; i++) {
            cnn_fast_conv *pinned = NULL;
            cnn_error perr = {0};
            const cnn_conv_geom *pg = i == 2 ? &odd_ic : &wprobe;
            cnn_status pst = cnn_fast_conv_create(ctx, pg, 0, CNN_ACT_NONE, 1,
                                                  i == 1 ? 0 : CNN_FAST_BF16,
                                                  CNN_CONV_WINOGRAD_BF16, &pinned, &perr);
            check(pst == CNN_STATUS_OK &&
                      (strncmp(cnn_fast_conv_impl(pinned), "winograd:bf16", 13) == 0) == (i == 0),
                  "--conv winograd-bf16 (%s) runs %s: %s",
                  i == 0 ? "bf16" : i == 1 ? "fp32" : "12 input channels",
                  i == 0 ? "cnnlab's Winograd" : "direct",
                  pst ? perr.msg : cnn_fast_conv_impl(pinned));
            cnn_fast_conv_destroy(pinned);
        }
    } else {
        printf("  SKIP cnnlab's bf16 Winograd: this build or CPU has no AVX512_BF16\n");
    }
    cnn_conv_geom odd = probe;
    odd.oc = 24;
    cnn_conv_geom_finish(&odd);
    cnn_fast_conv *refused = NULL;
    cnn_error why = {0};
    check(cnn_fast_conv_make(ctx, &odd, 0, CNN_ACT_NONE, 1, CNN_RUN_BF16 | CNN_RUN_OWN_BWW,
                             CNN_CONV_DIRECT, &refused, &why) == CNN_STATUS_BACKEND &&
              !refused && strstr(why.msg, "multiple of 16"),
          "cnnlab's weight gradient refused for 24 output channels, saying why: %s", why.msg);

    linear_case(1, 7, 3, 1, CNN_ACT_NONE, &seed);
    linear_case(5, 33, 17, 1, CNN_ACT_RELU, &seed);
    linear_case(16, 128, 96, 1, CNN_ACT_SIGMOID, &seed);
    linear_case(9, 64, 10, 0, CNN_ACT_TANH, &seed);
    printf("  4 linear shapes compared (relu, sigmoid, tanh fused)\n");
    cnn_dnnl_destroy(ctx);
    return check_finish("test_conv_fast");
}
