/* test_conv_fast.c: the oneDNN convolution and the sgemm linear layer against
 * the reference loops, forward and backward, over many shapes: odd sizes,
 * stride 1 and 2, padding 0/1/2, kernels 1/3/5/7, batch 1 and more, with and
 * without bias and fused ReLU. */
#include <string.h>

#include "check.h"
#include "ops/fast/fast.h"

/* Sums of up to IC*KH*KW (~600) products in a different order: float rounding
 * of each product (~6e-8 relative) times the term count stays below 1e-4. */
#define RTOL 1e-4
#define ATOL 1e-4

static void conv_case(cnn_dnnl *ctx, int n, int ih, int iw, int ic, int oc, int kh, int kw,
                      int s, int pad, int bias, cnn_act act, unsigned *seed)
{
    cnn_conv_geom g = {.n = n, .ih = ih, .iw = iw, .ic = ic, .oc = oc, .kh = kh, .kw = kw,
                       .sh = s, .sw = s, .ph = pad, .pw = pad};
    if (!cnn_conv_geom_finish(&g))
        return;
    size_t nx = (size_t)n * ih * iw * ic, ny = (size_t)n * g.oh * g.ow * oc,
           nw = (size_t)oc * ic * kh * kw;
    float *x = malloc(nx * 4), *w = malloc(nw * 4), *b = malloc((size_t)oc * 4);
    float *y = malloc(ny * 4), *yr = malloc(ny * 4), *dy = malloc(ny * 4), *dyr = malloc(ny * 4);
    float *dx = malloc(nx * 4), *dxr = malloc(nx * 4), *dw = malloc(nw * 4), *dwr = malloc(nw * 4);
    float *db = malloc((size_t)oc * 4), *dbr = malloc((size_t)oc * 4);
    check_fill(x, nx, seed, -1, 1);
    check_fill(w, nw, seed, -0.5f, 0.5f);
    check_fill(b, (size_t)oc, seed, -0.5f, 0.5f);
    check_fill(dy, ny, seed, -1, 1);

    char what[160];
    snprintf(what, sizeof what, "conv n%d %dx%dx%d->%d k%dx%d s%d p%d%s%s", n, ih, iw, ic, oc, kh,
             kw, s, pad, bias ? " bias" : "", act == CNN_ACT_RELU ? " relu" : "");
    cnn_fast_conv *c = NULL;
    cnn_error err;
    if (cnn_fast_conv_create(ctx, &g, bias, act, 1, &c, &err) != CNN_STATUS_OK) {
        check(0, "%s: create: %s", what, err.msg);
        goto out;
    }
    cnn_ref_conv2d_forward(&g, x, w, bias ? b : NULL, yr);
    if (act == CNN_ACT_RELU)
        cnn_ref_act_forward(CNN_ACT_RELU, ny, yr, yr);
    cnn_fast_conv_forward(c, x, w, bias ? b : NULL, y);
    char label[200];
    snprintf(label, sizeof label, "%s: forward", what);
    check_close(label, y, yr, ny, RTOL, ATOL);

    memcpy(dyr, dy, ny * 4);
    if (act == CNN_ACT_RELU)
        cnn_ref_act_backward(CNN_ACT_RELU, ny, NULL, yr, dyr, dyr);
    cnn_ref_conv2d_backward(&g, x, w, dyr, dxr, dwr, bias ? dbr : NULL);
    cnn_fast_conv_backward(c, x, y, dy, dx, dw, bias ? db : NULL);
    snprintf(label, sizeof label, "%s: dx", what);
    check_close(label, dx, dxr, nx, RTOL, ATOL);
    snprintf(label, sizeof label, "%s: dw", what);
    check_close(label, dw, dwr, nw, RTOL, ATOL * n * g.oh * g.ow / 16 + ATOL);
    if (bias) {
        snprintf(label, sizeof label, "%s: db", what);
        check_close(label, db, dbr, (size_t)oc, RTOL, ATOL * n * g.oh * g.ow / 16 + ATOL);
    }
    cnn_fast_conv_destroy(c);
out:
    free(x), free(w), free(b), free(y), free(yr), free(dy), free(dyr);
    free(dx), free(dxr), free(dw), free(dwr), free(db), free(dbr);
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
    static const int kernels[] = {1, 3, 5, 7};
    int cases = 0;
    for (int ki = 0; ki < 4; ki++)
        for (int s = 1; s <= 2; s++)
            for (int pad = 0; pad <= 2; pad++) {
                int k = kernels[ki];
                int n = (ki + s + pad) % 2 ? 1 : 3;
                int size = 7 + 2 * ki + s + pad; /* odd and even sizes */
                conv_case(ctx, n, size, size + 1, 3 + 2 * pad, 5 + 3 * ki, k, k, s, pad,
                          (ki + pad) % 2, (s + pad) % 2 ? CNN_ACT_RELU : CNN_ACT_NONE, &seed);
                cases++;
            }
    /* channel counts of the real models: blocked kernels with and without tails */
    conv_case(ctx, 4, 32, 32, 3, 16, 5, 5, 1, 0, 1, CNN_ACT_RELU, &seed);
    conv_case(ctx, 4, 14, 14, 16, 36, 3, 3, 1, 0, 1, CNN_ACT_RELU, &seed);
    conv_case(ctx, 2, 8, 8, 64, 64, 3, 3, 1, 1, 0, CNN_ACT_NONE, &seed);
    conv_case(ctx, 2, 9, 9, 32, 48, 3, 3, 2, 1, 0, CNN_ACT_NONE, &seed);
    conv_case(ctx, 1, 6, 5, 4, 6, 3, 1, 1, 0, 1, CNN_ACT_NONE, &seed); /* rectangular kernel */
    cases += 5;
    printf("  %d convolution shapes compared\n", cases);

    linear_case(1, 7, 3, 1, CNN_ACT_NONE, &seed);
    linear_case(5, 33, 17, 1, CNN_ACT_RELU, &seed);
    linear_case(16, 128, 96, 1, CNN_ACT_SIGMOID, &seed);
    linear_case(9, 64, 10, 0, CNN_ACT_TANH, &seed);
    printf("  4 linear shapes compared (relu, sigmoid, tanh fused)\n");
    cnn_dnnl_destroy(ctx);
    return check_finish("test_conv_fast");
}
