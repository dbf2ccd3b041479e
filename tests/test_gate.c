/* test_gate.c: the channel-wise gate of squeeze-and-excitation (src/layers/gate.c,
 * ops/gate.h): y = x * sigmoid(s) per sample and channel.
 *  - the reference backward (dx, ds) against central finite differences of
 *    L = sum(y * r), gradient buffers filled with NaN first;
 *  - the fast op against the reference, forward and backward, on shapes with
 *    and without SIMD tails, threaded and not, with dx aliasing dy and with a
 *    gradient nobody needs (NULL);
 *  - both against PyTorch 1.13 (tests/fixtures/gate.txt, written by
 *    tools/fixtures/make_gate_fixtures.py; torch is not needed here);
 *  - the model file's `gate MAP[, LOGITS]`: a squeeze-and-excitation block
 *    parses, its shapes and parameter count are right, a logits branch of the
 *    wrong width is refused naming both inputs, and the network's fast plan
 *    matches its reference plan (loss, logits, every gradient).
 * Run from the repository root, as tests/run_all.sh does. */
#include <math.h>
#include <string.h>

#include "check.h"
#include "fixture.h"
#include "layers/layer.h"
#include "ops/gate.h"
#include "plan_compare.h"

#define FIXTURES "tests/fixtures/gate.txt"
#define MADE_BY "tools/fixtures/make_gate_fixtures.py"

static unsigned seed = 4242u;

/* ---- finite differences ---- */

typedef struct gate_ctx {
    int n, hw, c;
    float *x, *s, *y, *r; /* x, y, r (N,HW,C); s (N,C) */
} gate_ctx;

static double objective(gate_ctx *g)
{
    size_t ny = (size_t)g->n * g->hw * g->c;
    cnn_ref_gate_forward(g->n, g->hw, g->c, g->x, g->s, g->y);
    return check_dot(g->y, g->r, ny);
}

/* num (count) = central differences of the objective in each element of p */
static void fd(gate_ctx *g, float *p, size_t count, float *num)
{
    for (size_t i = 0; i < count; i++) {
        float saved = p[i], hi = saved + 1e-3f, lo = saved - 1e-3f;
        p[i] = hi;
        double lp = objective(g);
        p[i] = lo;
        double lm = objective(g);
        p[i] = saved;
        num[i] = (float)((lp - lm) / ((double)hi - (double)lo));
    }
}

static void fd_case(int n, int h, int w, int c)
{
    gate_ctx g = {.n = n, .hw = h * w, .c = c};
    size_t nx = (size_t)n * h * w * c, ns = (size_t)n * c;
    g.x = check_frand(nx, &seed, -1, 1);
    g.s = check_frand(ns, &seed, -3, 3);
    g.y = check_falloc(nx);
    g.r = check_frand(nx, &seed, -1, 1);
    float *dx = check_fnan(nx), *ds = check_fnan(ns), *num = check_falloc(nx);
    cnn_ref_gate_backward(n, h * w, c, g.x, g.s, g.r, dx, ds);
    char what[96];
    fd(&g, g.x, nx, num);
    snprintf(what, sizeof what, "gate ref N%d %dx%dx%d: dx vs finite differences", n, h, w, c);
    check_close_print(what, 60, dx, num, nx, 1e-2, 1e-3);
    fd(&g, g.s, ns, num);
    snprintf(what, sizeof what, "gate ref N%d %dx%dx%d: ds vs finite differences", n, h, w, c);
    check_close_print(what, 60, ds, num, ns, 1e-2, 1e-3);
    free(g.x), free(g.s), free(g.y), free(g.r), free(dx), free(ds), free(num);
}

/* ---- fast against reference ---- */

static void fast_case(int n, int h, int w, int c)
{
    int hw = h * w;
    size_t nx = (size_t)n * hw * c, ns = (size_t)n * c;
    float *x = check_frand(nx, &seed, -1, 1), *s = check_frand(ns, &seed, -4, 4);
    float *dy = check_frand(nx, &seed, -1, 1), *g = check_falloc(ns);
    float *y = check_fnan(nx), *yr = check_fnan(nx), *dx = check_fnan(nx), *dxr = check_fnan(nx);
    float *ds = check_fnan(ns), *dsr = check_fnan(ns), *alias = check_falloc(nx);
    cnn_ref_gate_forward(n, hw, c, x, s, yr);
    cnn_ref_gate_backward(n, hw, c, x, s, dy, dxr, dsr);
    cnn_fast_gate_forward(n, hw, c, x, s, g, y);
    cnn_fast_gate_backward(n, hw, c, x, s, dy, g, dx, ds);
    char what[96];
    int used = snprintf(what, sizeof what, "gate fast vs ref N%d %dx%dx%d:", n, h, w, c);
    snprintf(what + used, sizeof what - (size_t)used, " y");
    check_close_print(what, 60, y, yr, nx, 1e-5, 1e-6);
    snprintf(what + used, sizeof what - (size_t)used, " dx");
    check_close_print(what, 60, dx, dxr, nx, 1e-5, 1e-6);
    snprintf(what + used, sizeof what - (size_t)used, " ds");
    check_close_print(what, 60, ds, dsr, ns, 1e-4, 1e-5);
    /* dx over dy, and ds not wanted: dx comes out the same */
    memcpy(alias, dy, nx * sizeof(float));
    cnn_fast_gate_backward(n, hw, c, x, s, alias, g, alias, NULL);
    check(check_bitwise_equal(alias, dx, nx), "%s dx written over dy, ds NULL: the same dx", what);
    memcpy(alias, dy, nx * sizeof(float));
    cnn_ref_gate_backward(n, hw, c, x, s, alias, alias, NULL);
    check(check_bitwise_equal(alias, dxr, nx), "%s ref dx written over dy: the same dx", what);
    free(x), free(s), free(dy), free(g), free(y), free(yr), free(dx), free(dxr), free(ds);
    free(dsr), free(alias);
}

/* ---- PyTorch ---- */

static int torch_case(const fixture_file *f, int i)
{
    char rec[48];
    snprintf(rec, sizeof rec, "gate%d.shape", i);
    if (!fixture_find(f, rec))
        return 0;
    const float *sh = fixture_get(f, rec, 4);
    if (!sh)
        return 0;
    int n = (int)sh[0], hw = (int)sh[1] * (int)sh[2], c = (int)sh[3];
    size_t nx = (size_t)n * hw * c, ns = (size_t)n * c;
    const float *v[6];
    static const char *const names[6] = {"x", "s", "r", "y", "dx", "ds"};
    for (int k = 0; k < 6; k++) {
        snprintf(rec, sizeof rec, "gate%d.%s", i, names[k]);
        v[k] = fixture_get(f, rec, k == 1 || k == 5 ? ns : nx);
        if (!v[k])
            return 1;
    }
    float *y = check_falloc(nx), *dx = check_falloc(nx), *ds = check_falloc(ns);
    float *g = check_falloc(ns);
    for (int fast = 0; fast <= 1; fast++) {
        if (fast) {
            cnn_fast_gate_forward(n, hw, c, v[0], v[1], g, y);
            cnn_fast_gate_backward(n, hw, c, v[0], v[1], v[2], g, dx, ds);
        } else {
            cnn_ref_gate_forward(n, hw, c, v[0], v[1], y);
            cnn_ref_gate_backward(n, hw, c, v[0], v[1], v[2], dx, ds);
        }
        char what[96];
        int used = snprintf(what, sizeof what, "gate%d N%d %dx%d %s vs PyTorch:", i, n, hw, c,
                            fast ? "fast" : "ref");
        snprintf(what + used, sizeof what - (size_t)used, " y");
        check_close_print(what, 60, y, v[3], nx, 1e-5, 1e-6);
        snprintf(what + used, sizeof what - (size_t)used, " dx");
        check_close_print(what, 60, dx, v[4], nx, 1e-5, 1e-6);
        snprintf(what + used, sizeof what - (size_t)used, " ds");
        check_close_print(what, 60, ds, v[5], ns, 1e-4, 1e-6);
    }
    free(y), free(dx), free(ds), free(g);
    return 1;
}

/* ---- the layer in model files ---- */

/* A residual stage with a squeeze-and-excitation block (torchvision's
 * SqueezeExcitation(16, 4): fc1 16->4 and fc2 4->16 as 1x1 convolutions) and
 * a second gate that names its logits explicitly. */
static const char se_model[] =
    "input 8 8 3\n"
    "defaults norm=batch\n"
    "block se c r=4\n"
    "    gap\n"
    "    conv $c/$r k=1 bias=yes\n"
    "    relu\n"
    "    conv $c k=1 bias=yes\n"
    "    gate in\n"
    "end\n"
    "conv 16 k=3 pad=1\n"
    "norm\n"
    "stem: relu\n"
    "s1: se 16\n"
    "body: add s1, stem\n"
    "squeeze: gap\n"
    "excite: linear 16\n"
    "gate body, excite\n"
    "gap\n"
    "linear 10\n";

static void model_cases(void)
{
    cnn_model_file *f;
    cnn_error err;
    if (cnn_model_file_parse("se.cnn", se_model, NULL, &f, &err)) {
        check(0, "se.cnn: %s", err.msg);
        return;
    }
    cnn_model *m;
    if (cnn_model_create(&f->desc, NULL, &m, &err)) {
        check(0, "se.cnn: %s", err.msg);
        cnn_model_file_free(f);
        return;
    }
    /* conv 3*16*9, bn 32, se 16*4+4 + 4*16+16, excite 16*16+16, linear 16*10+10 */
    size_t want = 432 + 32 + (68 + 80) + 272 + 170;
    int gates = 0;
    for (int i = 0; i < m->count; i++)
        if (!strcmp(cnn_layer_class_of(m->layers[i].desc.kind)->name, "gate")) {
            const cnn_model_layer *l = &m->layers[i];
            gates++;
            check(l->desc.from_count == 2 && l->out.h == 8 && l->out.c == 16 &&
                      l->ins[1].h == 1 && l->ins[1].c == 16,
                  "gate %s: map 8x8x16 and logits 1x1x16 in, 8x8x16 out", l->desc.label);
        }
    printf("  se.cnn: %d gates, %zu parameters (expected %zu)\n", gates, m->param_count, want);
    check(gates == 2 && m->param_count == want, "se.cnn: 2 gates, %zu parameters, expected %zu",
          m->param_count, want);
    cnn_model_destroy(m);
    compare_backends(&f->desc, 4, PLAN_COMPARE_LABELS);
    cnn_model_file_free(f);

    /* logits of the wrong width: refused, naming both inputs */
    static const char bad[] = "input 8 8 3\nbody: conv 16 k=3\ngap\nlinear 8\ngate body\n";
    if (cnn_model_file_parse("bad.cnn", bad, NULL, &f, &err) == CNN_STATUS_OK) {
        cnn_status st = cnn_model_create(&f->desc, NULL, &m, &err);
        printf("  bad.cnn: %s\n", err.msg);
        check(st == CNN_STATUS_INVALID_ARGUMENT && strstr(err.msg, "1x1x16") &&
                  strstr(err.msg, "1x1x8") && strstr(err.msg, "bad.cnn:5"),
              "a gate with 8 logits for 16 channels is refused naming both");
        if (!st)
            cnn_model_destroy(m);
        cnn_model_file_free(f);
    } else {
        check(0, "bad.cnn should parse: %s", err.msg);
    }
    static const char three[] = "input 8 8 3\na: conv 4 k=1\nb: gap\ngate a, b, b\n";
    cnn_status st = cnn_model_file_parse("three.cnn", three, NULL, &f, &err);
    printf("  three.cnn: %s\n", st ? err.msg : "parsed");
    check(st == CNN_STATUS_FORMAT && strstr(err.msg, "three.cnn:4:") && strstr(err.msg, "gate"),
          "gate with three labels is refused at its line");
    if (!st)
        cnn_model_file_free(f);
}

int main(void)
{
    printf("finite differences (rtol 1e-2, atol 1e-3):\n");
    fd_case(2, 3, 3, 4);
    fd_case(3, 1, 1, 5);
    printf("fast against reference:\n");
    fast_case(2, 3, 4, 5);
    fast_case(3, 1, 1, 35);
    fast_case(8, 16, 16, 64); /* threaded */
    fast_case(4, 7, 7, 96);
    printf("against PyTorch:\n");
    fixture_file f;
    if (fixture_load(&f, FIXTURES, MADE_BY)) {
        int cases = 0;
        while (torch_case(&f, cases))
            cases++;
        check(cases == 4, "%d fixture cases, expected 4", cases);
        fixture_free(&f);
    } else {
        check(0, "fixtures %s", FIXTURES);
    }
    printf("model files:\n");
    model_cases();
    return check_finish("test_gate");
}
