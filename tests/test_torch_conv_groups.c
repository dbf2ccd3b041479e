/* test_torch_conv_groups.c: grouped and depthwise convolution (the model
 * file's conv OUT k=K groups=G) against PyTorch 1.13's conv2d with groups=G,
 * reference (cnn_ref_conv2d_*) and fast (oneDNN's grouped primitives, fp32)
 * alike: the output, and the gradients of x, w and b for a given dy.
 *
 * The PyTorch side is tests/fixtures/conv_groups.txt, written by
 * tools/fixtures/make_conv_groups_fixtures.py (its header documents every
 * record); torch is not needed here. Run from the repository root, as
 * tests/run_all.sh does. Every comparison passes when
 * |got - want| <= ATOL + RTOL |want|. */
#include <string.h>

#include "check.h"
#include "fixture.h"
#include "ops/fast/fast.h"
#include "ops/ops.h"

#define FIXTURES "tests/fixtures/conv_groups.txt"
#define MADE_BY "tools/fixtures/make_conv_groups_fixtures.py"
#define RTOL 1e-4
#define ATOL 1e-5

static void vs_torch(const char *what, const float *got, const float *want, size_t n)
{
    check_close_print(what, 52, got, want, n, RTOL, ATOL);
}

/* Case i of the fixture file, on both backends. */
static int torch_case(const fixture_file *f, cnn_dnnl *ctx, int i)
{
    char rec[64];
    snprintf(rec, sizeof rec, "gc%d.shape", i);
    if (!fixture_find(f, rec))
        return 0;
    const float *s = fixture_get(f, rec, 10);
    if (!s)
        return 0;
    int bias = (int)s[9];
    cnn_conv_geom g = {.n = (int)s[0], .ih = (int)s[1], .iw = (int)s[2], .ic = (int)s[3],
                       .oc = (int)s[4], .kh = (int)s[5], .kw = (int)s[5], .sh = (int)s[6],
                       .sw = (int)s[6], .ph = (int)s[7], .pw = (int)s[7], .groups = (int)s[8]};
    if (!cnn_conv_geom_finish(&g)) {
        check(0, "gc%d: invalid geometry", i);
        return 1;
    }
    size_t nx = (size_t)g.n * g.ih * g.iw * g.ic, ny = (size_t)g.n * g.oh * g.ow * g.oc;
    size_t nw = (size_t)g.oc * (g.ic / g.groups) * g.kh * g.kw, nb = (size_t)g.oc;
#define GET(var, suffix, count)                                                                    \
    snprintf(rec, sizeof rec, "gc%d." suffix, i);                                                  \
    const float *var = fixture_get(f, rec, count);
    GET(x, "x", nx) GET(w, "w", nw) GET(r, "r", ny) GET(want_y, "y", ny) GET(want_dx, "dx", nx)
    GET(want_dw, "dw", nw)
#undef GET
    const float *b = NULL, *want_db = NULL;
    if (bias) {
        snprintf(rec, sizeof rec, "gc%d.b", i);
        b = fixture_get(f, rec, nb);
        snprintf(rec, sizeof rec, "gc%d.db", i);
        want_db = fixture_get(f, rec, nb);
    }
    if (!x || !w || !r || !want_y || !want_dx || !want_dw || (bias && (!b || !want_db)))
        return 1;
    float *y = check_falloc(ny), *dy = check_falloc(ny), *dx = check_falloc(nx);
    float *dw = check_falloc(nw), *db = check_falloc(nb);
    char what[128];
    int used = snprintf(what, sizeof what, "gc%d n%d %dx%dx%d->%d k%d s%d p%d groups %d", i, g.n,
                        g.ih, g.iw, g.ic, g.oc, g.kh, g.sh, g.ph, g.groups);
    for (int fast = 0; fast <= 1; fast++) {
        cnn_fast_conv *c = NULL;
        cnn_error err;
        memcpy(dy, r, ny * sizeof(float));
        if (fast) {
            if (cnn_fast_conv_create(ctx, &g, bias, CNN_ACT_NONE, 1, 0, CNN_CONV_DIRECT, &c,
                                     &err)) {
                check(0, "%s: fast: %s", what, err.msg);
                break;
            }
            cnn_fast_conv_forward(c, x, w, b, y);
            cnn_fast_conv_backward(c, x, y, dy, dx, dw, bias ? db : NULL);
            cnn_fast_conv_destroy(c);
        } else {
            cnn_ref_conv2d_forward(&g, x, w, b, y);
            cnn_ref_conv2d_backward(&g, x, w, dy, dx, dw, bias ? db : NULL);
        }
        const char *side = fast ? "fast" : "ref";
        snprintf(what + used, sizeof what - (size_t)used, " %s y", side);
        vs_torch(what, y, want_y, ny);
        snprintf(what + used, sizeof what - (size_t)used, " %s dx", side);
        vs_torch(what, dx, want_dx, nx);
        snprintf(what + used, sizeof what - (size_t)used, " %s dw", side);
        vs_torch(what, dw, want_dw, nw);
        if (bias) {
            snprintf(what + used, sizeof what - (size_t)used, " %s db", side);
            vs_torch(what, db, want_db, nb);
        }
    }
    free(y), free(dy), free(dx), free(dw), free(db);
    return 1;
}

int main(void)
{
    fixture_file f;
    if (!fixture_load(&f, FIXTURES, MADE_BY))
        return 1;
    cnn_dnnl *ctx;
    cnn_error err;
    if (cnn_dnnl_create(&ctx, &err)) {
        printf("FAIL %s\n", err.msg);
        return 1;
    }
    printf("grouped and depthwise convolution against PyTorch (rtol %g, atol %g):\n", RTOL, ATOL);
    int cases = 0;
    while (torch_case(&f, ctx, cases))
        cases++;
    check(cases == 5, "%d fixture cases, expected 5", cases);
    cnn_dnnl_destroy(ctx);
    fixture_free(&f);
    return check_finish("test_torch_conv_groups");
}
