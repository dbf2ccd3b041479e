/* test_shortcut.c: the parameter-free ResNet shortcut layer (src/layers/shortcut.c).
 *  - forward against the definition, x[:, :, ::s, ::s] padded with (OC-C)/2
 *    zero channels in front and the rest behind (PyTorch's F.pad of the
 *    CIFAR ResNet reproduction), on odd and even sizes;
 *  - backward against central finite differences of L = sum(y * r), with the
 *    gradient buffer filled with NaN first, so an element it forgets fails;
 *  - shape checks: fewer output than input channels is refused;
 *  - a small network using it, fast plan against reference plan. */
#include <math.h>
#include <string.h>

#include "check.h"
#include "cnnlab/cnnlab.h"
#include "layers/layer.h"

static unsigned seed = 777u;

/* Runs the layer's forward (and backward with dy) on n samples of shape in. */
static void run_layer(const cnn_layer_desc *d, cnn_shape in, int n, const float *x, float *y,
                      const float *dy, float *dx, cnn_shape *out)
{
    cnn_model_layer ml = {.desc = *d, .in = in, .ins = {in}};
    size_t np, ns;
    cnn_error err;
    CNN_ASSERT(cnn_layer_shortcut.infer(d, &in, 1, &ml.out, &np, &ns, &err) == CNN_STATUS_OK);
    *out = ml.out;
    float *dyc = NULL;
    cnn_plan_layer pl = {.ml = &ml, .n = n, .backend = CNN_BACKEND_REFERENCE, .n_in = 1,
                         .xs = {x}, .x = x, .y = y, .dxs = {dx}, .dx = dx};
    cnn_layer_shortcut.forward(&pl);
    if (dy && dx) {
        size_t ny = (size_t)n * cnn_shape_size(ml.out);
        dyc = malloc(ny * sizeof(float)); /* dy may be clobbered by a backward */
        memcpy(dyc, dy, ny * sizeof(float));
        pl.dy = dyc;
        cnn_layer_shortcut.backward(&pl);
        free(dyc);
    }
}

static void case_shortcut(int n, int h, int w, int c, int oc, int s)
{
    cnn_layer_desc d = {.kind = CNN_LAYER_SHORTCUT, .out = oc, .stride = s};
    cnn_shape in = {h, w, c}, out;
    size_t nx = (size_t)n * h * w * c;
    int oh = (h - 1) / s + 1, ow = (w - 1) / s + 1, b = (oc - c) / 2;
    size_t ny = (size_t)n * oh * ow * oc;
    float *x = malloc(nx * 4), *y = malloc(ny * 4), *r = malloc(ny * 4), *dx = malloc(nx * 4);
    float *ya = malloc(ny * 4), *yb = malloc(ny * 4);
    check_fill(x, nx, &seed, -1, 1);
    check_fill(r, ny, &seed, -1, 1);
    for (size_t i = 0; i < nx; i++)
        dx[i] = NAN;
    run_layer(&d, in, n, x, y, r, dx, &out);
    check(out.h == oh && out.w == ow && out.c == oc, "shortcut %dx%dx%d -> %dx%dx%d", h, w, c,
          out.h, out.w, out.c);

    /* forward: the definition */
    int bad = 0;
    for (int i = 0; i < n; i++)
        for (int p = 0; p < oh; p++)
            for (int q = 0; q < ow; q++)
                for (int k = 0; k < oc; k++) {
                    float want = k >= b && k < b + c
                                     ? x[(((size_t)i * h + (size_t)p * s) * w + (size_t)q * s) * c + (k - b)]
                                     : 0.0f;
                    bad += y[(((size_t)i * oh + p) * ow + q) * oc + k] != want;
                }
    check(bad == 0, "shortcut forward %dx%dx%d /%d -> %d channels: %d elements differ from "
          "x[:, :, ::s, ::s] padded", h, w, c, s, oc, bad);

    /* backward: finite differences of L = sum(y * r) */
    float fd[4096];
    CNN_ASSERT(nx <= 4096);
    for (size_t j = 0; j < nx; j++) {
        float keep = x[j], step = 1e-2f;
        double l[2];
        for (int sign = 0; sign < 2; sign++) {
            x[j] = keep + (sign ? -step : step);
            run_layer(&d, in, n, x, sign ? yb : ya, NULL, NULL, &out);
            l[sign] = 0;
            for (size_t i = 0; i < ny; i++)
                l[sign] += (double)(sign ? yb : ya)[i] * r[i];
        }
        x[j] = keep;
        fd[j] = (float)((l[0] - l[1]) / (2.0 * step));
    }
    char what[128];
    snprintf(what, sizeof what, "shortcut backward %dx%dx%d /%d -> %d vs finite differences", h,
             w, c, s, oc);
    check_close(what, dx, fd, nx, 1e-3, 1e-4);
    printf("  %s: checked %zu elements (rtol 1e-3, atol 1e-4)\n", what, nx);
    free(x), free(y), free(r), free(dx), free(ya), free(yb);
}

static void compare_plans(void)
{
    static const char text[] =
        "input 7 7 4\n"
        "conv 8 k=3 pad=1\n"
        "a: batchnorm\n"
        "s: shortcut 16 stride=2\n"       /* 4x4x16 from the batch norm */
        "conv 16 k=3 stride=2 pad=1 from=a\n"
        "b: relu\n"
        "add s, b\n"
        "t: shortcut 21 stride=3\n"       /* odd padding: 2 zero channels in front, 3 behind */
        "gap\n"
        "linear 10\n";
    cnn_model_file *f;
    cnn_error err;
    cnn_model *mf, *mr;
    cnn_plan *pf, *pr;
    if (cnn_model_file_parse("shortcut.cnn", text, NULL, &f, &err) ||
        cnn_model_create(&f->desc, NULL, &mf, &err) || cnn_model_create(&f->desc, NULL, &mr, &err) ||
        cnn_plan_create(mf, 3, NULL, 1, &pf, &err) ||
        cnn_plan_create(mr, 3, &(cnn_plan_config){.backend = CNN_BACKEND_REFERENCE}, 1, &pr, &err)) {
        check(0, "shortcut network: %s", err.msg);
        return;
    }
    cnn_model_init(mf, 5);
    cnn_model_init(mr, 5);
    size_t nx = 3 * 7 * 7 * 4;
    check_fill(cnn_plan_input(pf), nx, &seed, -2, 2);
    memcpy(cnn_plan_input(pr), cnn_plan_input(pf), nx * 4);
    uint8_t labels[3] = {1, 4, 9};
    float lf = cnn_plan_forward(pf, labels, 3, 1, NULL), lr = cnn_plan_forward(pr, labels, 3, 1, NULL);
    cnn_plan_backward(pf);
    cnn_plan_backward(pr);
    printf("  shortcut network: loss fast %.6f reference %.6f\n", lf, lr);
    check_close("shortcut network: loss", &lf, &lr, 1, 1e-5, 1e-6);
    check_close("shortcut network: gradients", mf->grads, mr->grads, mf->param_count, 1e-3, 1e-5);
    cnn_plan_destroy(pf);
    cnn_plan_destroy(pr);
    cnn_model_destroy(mf);
    cnn_model_destroy(mr);
    cnn_model_file_free(f);
}

int main(void)
{
    printf("shortcut layer (option A: subsample, zero-pad channels):\n");
    case_shortcut(2, 6, 6, 3, 6, 2);  /* even sizes, CIFAR's case */
    case_shortcut(2, 5, 7, 2, 5, 2);  /* odd sizes and odd padding */
    case_shortcut(1, 5, 5, 4, 4, 1);  /* the identity */
    case_shortcut(2, 7, 5, 3, 4, 3);

    cnn_layer_desc d = {.kind = CNN_LAYER_SHORTCUT, .out = 2, .stride = 2};
    cnn_shape in = {4, 4, 3}, out;
    size_t np, ns;
    cnn_error err = {0};
    cnn_status st = cnn_layer_shortcut.infer(&d, &in, 1, &out, &np, &ns, &err);
    printf("  2 channels from 3: %s\n", err.msg);
    check(st == CNN_STATUS_INVALID_ARGUMENT && strstr(err.msg, "at least the input's 3 channels"),
          "a shortcut with fewer channels than its input is refused");

    printf("whole network with shortcuts, fast vs reference (rtol 1e-3):\n");
    compare_plans();
    return check_finish("test_shortcut");
}
