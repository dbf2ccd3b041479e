/* bench_conv_groups.c: milliseconds per forward + backward of MobileNetV2's
 * depthwise 3x3 convolutions (CIFAR strides, batch 32), the reference loops
 * (src/ops/ref/conv2d.c) against the fast path (oneDNN's grouped primitives,
 * fp32; bf16 too where the CPU has kernels for it). Prints the best of 5 runs
 * after a warm-up for each, and the ratio. A benchmark: it measures, it does
 * not assert.
 *
 * Build and run (no Makefile rule; from the repository root, after `make`):
 *   gcc -std=c11 -O3 -march=native -fopenmp -Iinclude -Isrc bench/bench_conv_groups.c \
 *       build/libcnnlab.a -ldnnl -llapacke -lm -o build/bench_conv_groups && build/bench_conv_groups
 */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "ops/fast/fast.h"
#include "ops/ops.h"

#define BATCH 32
#define RUNS 5

static float *filled(size_t n)
{
    float *a = cnn_alloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++)
        a[i] = (float)((i * 2654435761u) % 1000) / 1000.0f - 0.5f;
    return a;
}

/* best of RUNS seconds of one forward and backward (fast: c, else reference) */
static double timed(const cnn_conv_geom *g, cnn_fast_conv *c, const float *x, const float *w,
                    float *y, float *dy, float *dx, float *dw)
{
    double best = 1e30;
    size_t ny = (size_t)g->n * g->oh * g->ow * g->oc;
    for (int r = 0; r <= RUNS; r++) {
        memset(dy, 0, ny * sizeof(float));
        double t = cnn_now();
        if (c) {
            cnn_fast_conv_forward(c, x, w, NULL, y);
            cnn_fast_conv_backward(c, x, y, dy, dx, dw, NULL);
        } else {
            cnn_ref_conv2d_forward(g, x, w, NULL, y);
            cnn_ref_conv2d_backward(g, x, w, dy, dx, dw, NULL);
        }
        t = cnn_now() - t;
        if (r > 0 && t < best)
            best = t;
    }
    return best;
}

int main(void)
{
    static const int shapes[][3] = {{32, 96, 1}, {32, 144, 1}, {32, 144, 2}, {16, 192, 1},
                                    {8, 384, 1}, {8, 576, 1}, {8, 576, 2}, {4, 960, 1}};
    cnn_dnnl *ctx;
    cnn_error err;
    if (cnn_dnnl_create(&ctx, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    printf("depthwise 3x3 pad 1, batch %d, forward + backward, best of %d, %d threads\n", BATCH,
           RUNS, omp_get_max_threads());
    printf("%-22s %12s %12s %12s %10s\n", "shape", "ref ms", "fast ms", "bf16 ms", "ref/fast");
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        int h = shapes[i][0], ch = shapes[i][1], s = shapes[i][2];
        cnn_conv_geom g = {.n = BATCH, .ih = h, .iw = h, .ic = ch, .oc = ch, .kh = 3, .kw = 3,
                           .sh = s, .sw = s, .ph = 1, .pw = 1, .groups = ch};
        cnn_conv_geom_finish(&g);
        size_t nx = (size_t)BATCH * h * h * ch, ny = (size_t)BATCH * g.oh * g.ow * ch;
        float *x = filled(nx), *w = filled((size_t)ch * 9), *y = filled(ny), *dy = filled(ny);
        float *dx = filled(nx), *dw = filled((size_t)ch * 9);
        double t[3] = {0, 0, 0};
        t[0] = timed(&g, NULL, x, w, y, dy, dx, dw);
        for (int bf16 = 0; bf16 <= 1; bf16++) {
            cnn_fast_conv *c;
            if (cnn_fast_conv_create(ctx, &g, 0, CNN_ACT_NONE, 1, bf16, CNN_CONV_DIRECT, &c,
                                     &err) == CNN_STATUS_OK) {
                t[1 + bf16] = timed(&g, c, x, w, y, dy, dx, dw);
                cnn_fast_conv_destroy(c);
            }
        }
        char name[32], b16[16];
        snprintf(name, sizeof name, "%dx%dx%d /%d", h, h, ch, s);
        snprintf(b16, sizeof b16, t[2] > 0 ? "%.2f" : "-", t[2] * 1e3);
        printf("%-22s %12.1f %12.2f %12s %9.0fx\n", name, t[0] * 1e3, t[1] * 1e3, b16,
               t[0] / t[1]);
        cnn_free(x), cnn_free(w), cnn_free(y), cnn_free(dy), cnn_free(dx), cnn_free(dw);
    }
    cnn_dnnl_destroy(ctx);
    return 0;
}
