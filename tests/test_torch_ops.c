/* test_torch_ops.c: replays PyTorch 1.13 on the ops of the techniques work,
 * reference (cnn_ref_*) and fast (cnn_fast_*) alike: the activations ReLU,
 * sigmoid, tanh, leaky ReLU, GELU and ELU (forward and backward), cross-entropy
 * with label smoothing (loss and dlogits), channel concatenation, global max
 * pooling (tie routing included) and dropout / dropout2d with PyTorch's own
 * masks (the scale and the gradient; the mask statistics are in
 * tests/test_dropout_mask.c).
 *
 * The PyTorch side is tests/fixtures/activations.txt, written by
 * tools/fixtures/make_act_fixtures.py (its header documents every record);
 * torch is not needed here. Run from the repository root (the path is relative
 * to it), as tests/run_all.sh does. Every comparison passes when
 * |got - want| <= ATOL + RTOL |want|. */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "fixture.h"
#include "ops/ops.h"

#define FIXTURES "tests/fixtures/activations.txt"
#define MADE_BY "tools/fixtures/make_act_fixtures.py"
#define RTOL 1e-4
#define ATOL 1e-6

/* Compares got with PyTorch's want; prints one line per comparison. */
static void vs_torch(const char *what, const float *got, const float *want, size_t n)
{
    check_close_print(what, 44, got, want, n, RTOL, ATOL);
}

/* The record's values as bytes (masks, labels), which must be whole numbers in [0, 255]. */
static uint8_t *bytes_of(const float *v, size_t n)
{
    uint8_t *b = malloc(n ? n : 1);
    if (!b)
        exit(2);
    for (size_t i = 0; i < n; i++) {
        check(v[i] >= 0 && v[i] <= 255 && v[i] == (float)(int)v[i], "byte record value %g",
              (double)v[i]);
        b[i] = (uint8_t)v[i];
    }
    return b;
}

/* Reads an integer shape record of count values into s. */
static int shape_of(const fixture_file *f, const char *name, int *s, size_t count)
{
    const float *v = fixture_get(f, name, count);
    if (!v)
        return 0;
    for (size_t i = 0; i < count; i++)
        s[i] = (int)v[i];
    return 1;
}

/* ---------------- activations ---------------- */

static void torch_activations(const fixture_file *f)
{
    enum { COUNT = 64 };
    static const struct {
        const char *name;
        cnn_act act;
    } acts[] = {{"relu", CNN_ACT_RELU}, {"sigmoid", CNN_ACT_SIGMOID},
                {"tanh", CNN_ACT_TANH}, {"leaky_relu", CNN_ACT_LEAKY_RELU},
                {"gelu", CNN_ACT_GELU}, {"elu", CNN_ACT_ELU}};
    const float *x = fixture_get(f, "act.x", COUNT), *r = fixture_get(f, "act.r", COUNT);
    if (!x || !r)
        return;
    float y[COUNT], dx[COUNT];
    char rec[64], what[96];
    for (size_t i = 0; i < sizeof acts / sizeof acts[0]; i++) {
        snprintf(rec, sizeof rec, "%s.y", acts[i].name);
        const float *want_y = fixture_get(f, rec, COUNT);
        snprintf(rec, sizeof rec, "%s.dx", acts[i].name);
        const float *want_dx = fixture_get(f, rec, COUNT);
        if (!want_y || !want_dx)
            continue;
        for (int fast = 0; fast <= 1; fast++) {
            const char *kind = fast ? "fast" : "ref";
            if (fast) {
                cnn_fast_act_forward(acts[i].act, COUNT, x, y);
                cnn_fast_act_backward(acts[i].act, COUNT, x, y, r, dx);
            } else {
                cnn_ref_act_forward(acts[i].act, COUNT, x, y);
                cnn_ref_act_backward(acts[i].act, COUNT, x, y, r, dx);
            }
            snprintf(what, sizeof what, "%s %s: y", kind, acts[i].name);
            vs_torch(what, y, want_y, COUNT);
            snprintf(what, sizeof what, "%s %s: dx", kind, acts[i].name);
            vs_torch(what, dx, want_dx, COUNT);
        }
    }
}

/* ---------------- cross-entropy with label smoothing ---------------- */

static void torch_xent(const fixture_file *f)
{
    int s[2];
    if (!shape_of(f, "xent.shape", s, 2))
        return;
    const int n = s[0], k = s[1];
    const size_t count = (size_t)n * k;
    const float *logits = fixture_get(f, "xent.logits", count);
    const float *lv = fixture_get(f, "xent.labels", (size_t)n);
    if (!logits || !lv)
        return;
    uint8_t *labels = bytes_of(lv, (size_t)n);
    float *d = check_fresh(count);
    char rec[64], what[96];
    for (int c = 0; c < 4; c++) {
        snprintf(rec, sizeof rec, "xent.s%d.smoothing", c);
        const float *sm = fixture_get(f, rec, 1);
        snprintf(rec, sizeof rec, "xent.s%d.loss", c);
        const float *want_loss = fixture_get(f, rec, 1);
        snprintf(rec, sizeof rec, "xent.s%d.dlogits", c);
        const float *want_d = fixture_get(f, rec, count);
        if (!sm || !want_loss || !want_d)
            continue;
        for (int fast = 0; fast <= 1; fast++) {
            float loss = fast ? cnn_fast_softmax_xent(n, k, logits, labels, *sm, d, NULL)
                              : cnn_ref_softmax_xent(n, k, logits, labels, *sm, d, NULL);
            snprintf(what, sizeof what, "%s xent N%d K%d smoothing %g: loss", fast ? "fast" : "ref",
                     n, k, (double)*sm);
            vs_torch(what, &loss, want_loss, 1);
            snprintf(what, sizeof what, "%s xent N%d K%d smoothing %g: dlogits",
                     fast ? "fast" : "ref", n, k, (double)*sm);
            vs_torch(what, d, want_d, count);
        }
    }
    free(labels), free(d);
}

/* ---------------- concat ---------------- */

static void torch_concat(const fixture_file *f)
{
    int s[5];
    if (!shape_of(f, "concat.shape", s, 5))
        return;
    const int n = s[0], hw = s[1] * s[2], c[2] = {s[3], s[4]};
    const size_t n0 = (size_t)n * hw * c[0], n1 = (size_t)n * hw * c[1], ny = n0 + n1;
    const float *x0 = fixture_get(f, "concat.x0", n0), *x1 = fixture_get(f, "concat.x1", n1);
    const float *r = fixture_get(f, "concat.r", ny), *want_y = fixture_get(f, "concat.y", ny);
    const float *want_dx0 = fixture_get(f, "concat.dx0", n0);
    const float *want_dx1 = fixture_get(f, "concat.dx1", n1);
    if (!x0 || !x1 || !r || !want_y || !want_dx0 || !want_dx1)
        return;
    const float *xs[2] = {x0, x1};
    float *y = check_fresh(ny), *dx0 = check_fresh(n0), *dx1 = check_fresh(n1);
    float *dxs[2] = {dx0, dx1};
    char what[96];
    for (int fast = 0; fast <= 1; fast++) {
        const char *kind = fast ? "fast" : "ref";
        if (fast) {
            cnn_fast_concat_forward(n, hw, 2, c, xs, y);
            cnn_fast_concat_backward(n, hw, 2, c, r, dxs);
        } else {
            cnn_ref_concat_forward(n, hw, 2, c, xs, y);
            cnn_ref_concat_backward(n, hw, 2, c, r, dxs);
        }
        snprintf(what, sizeof what, "%s concat C%d+%d: y", kind, c[0], c[1]);
        vs_torch(what, y, want_y, ny);
        snprintf(what, sizeof what, "%s concat C%d+%d: dx0", kind, c[0], c[1]);
        vs_torch(what, dx0, want_dx0, n0);
        snprintf(what, sizeof what, "%s concat C%d+%d: dx1", kind, c[0], c[1]);
        vs_torch(what, dx1, want_dx1, n1);
    }
    free(y), free(dx0), free(dx1);
}

/* ---------------- global max pooling ---------------- */

static void torch_gmp(const fixture_file *f)
{
    int s[4];
    if (!shape_of(f, "gmp.shape", s, 4))
        return;
    const int n = s[0], hw = s[1] * s[2], c = s[3];
    const size_t nx = (size_t)n * hw * c, ny = (size_t)n * c;
    const float *x = fixture_get(f, "gmp.x", nx), *r = fixture_get(f, "gmp.r", ny);
    const float *want_y = fixture_get(f, "gmp.y", ny), *want_dx = fixture_get(f, "gmp.dx", nx);
    if (!x || !r || !want_y || !want_dx)
        return;
    float *y = check_fresh(ny), *dx = check_fresh(nx);
    int32_t *arg = malloc(ny * sizeof *arg);
    char what[96];
    for (int fast = 0; fast <= 1; fast++) {
        const char *kind = fast ? "fast" : "ref";
        if (fast) {
            cnn_fast_gmp_forward(n, hw, c, x, y, arg);
            cnn_fast_gmp_backward(n, hw, c, arg, r, dx);
        } else {
            cnn_ref_gmp_forward(n, hw, c, x, y);
            cnn_ref_gmp_backward(n, hw, c, x, r, dx);
        }
        snprintf(what, sizeof what, "%s gmp N%d HW%d C%d (ties): y", kind, n, hw, c);
        vs_torch(what, y, want_y, ny);
        snprintf(what, sizeof what, "%s gmp N%d HW%d C%d (ties): dx", kind, n, hw, c);
        vs_torch(what, dx, want_dx, nx);
    }
    free(y), free(dx), free(arg);
}

/* ---------------- dropout with PyTorch's masks ---------------- */

static void torch_dropout(const fixture_file *f, int two_d)
{
    const char *pre = two_d ? "dropout2d" : "dropout";
    char rec[64], what[96];
    int s[4] = {1, 1, 1, 60};
    if (two_d) {
        snprintf(rec, sizeof rec, "%s.shape", pre);
        if (!shape_of(f, rec, s, 4))
            return;
    }
    const int n = s[0], hw = s[1] * s[2], c = s[3];
    const size_t count = (size_t)n * hw * c, masks = two_d ? (size_t)n * c : count;
#define GET(field, len) (snprintf(rec, sizeof rec, "%s." field, pre), fixture_get(f, rec, len))
    const float *p = GET("p", 1), *x = GET("x", count), *r = GET("r", count);
    const float *mv = GET("mask", masks), *want_y = GET("y", count), *want_dx = GET("dx", count);
#undef GET
    if (!p || !x || !r || !mv || !want_y || !want_dx)
        return;
    uint8_t *mask = bytes_of(mv, masks);
    float *y = check_fresh(count), *dx = check_fresh(count);
    for (int fast = 0; fast <= 1; fast++) {
        const char *kind = fast ? "fast" : "ref";
        if (two_d && fast) {
            cnn_fast_dropout2d_forward(n, hw, c, *p, mask, x, y);
            cnn_fast_dropout2d_backward(n, hw, c, *p, mask, r, dx);
        } else if (two_d) {
            cnn_ref_dropout2d_forward(n, hw, c, *p, mask, x, y);
            cnn_ref_dropout2d_backward(n, hw, c, *p, mask, r, dx);
        } else if (fast) {
            cnn_fast_dropout_forward(count, *p, mask, x, y);
            cnn_fast_dropout_backward(count, *p, mask, r, dx);
        } else {
            cnn_ref_dropout_forward(count, *p, mask, x, y);
            cnn_ref_dropout_backward(count, *p, mask, r, dx);
        }
        snprintf(what, sizeof what, "%s %s p %g (torch's mask): y", kind, pre, (double)*p);
        vs_torch(what, y, want_y, count);
        snprintf(what, sizeof what, "%s %s p %g (torch's mask): dx", kind, pre, (double)*p);
        vs_torch(what, dx, want_dx, count);
    }
    free(mask), free(y), free(dx);
}

int main(void)
{
    printf("test_torch_ops: cnn_ref_* and cnn_fast_* vs PyTorch (%s),\n"
           "  pass when |got - want| <= %g + %g*|want| (worst ratio <= 1)\n",
           FIXTURES, ATOL, RTOL);
    fixture_file f;
    if (!fixture_load(&f, FIXTURES, MADE_BY)) {
        check(0, "PyTorch fixtures %s not loaded", FIXTURES);
        return check_finish("test_torch_ops");
    }
    torch_activations(&f);
    torch_xent(&f);
    torch_concat(&f);
    torch_gmp(&f);
    torch_dropout(&f, 0);
    torch_dropout(&f, 1);
    fixture_free(&f);
    return check_finish("test_torch_ops");
}
