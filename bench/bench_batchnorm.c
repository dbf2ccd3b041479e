/* bench_batchnorm.c: the fast batch norm (src/ops/fast/batchnorm.c) in
 * training on resnet18's first stage at batch 128 (128 x 32 x 32 rows, 64
 * channels), as a bf16 plan runs it: x and y stored as bf16, with and without
 * a fused ReLU, dx as floats and as bf16. 2 threads. Prints the best of 8
 * forward and backward passes, milliseconds. A benchmark: it measures, it
 * does not assert.
 *
 * Build and run (no Makefile rule; from the repository root, after make):
 *   gcc -std=c11 -O2 -march=native -fopenmp -Isrc -Iinclude bench/bench_batchnorm.c \
 *       build/libcnnlab.a -ldnnl -lm -o build/bench_batchnorm && build/bench_batchnorm
 */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/core.h"
#include "ops/fast/bf16.h"
#include "ops/ops.h"

int main(void)
{
    enum { C = 64 };
    const int m = 128 * 32 * 32;
    const size_t n = (size_t)m * C;
    uint16_t *x = cnn_alloc(n * 2);
    float *y = cnn_alloc(n * 4), *dy = cnn_alloc(n * 4), *dx = cnn_alloc(n * 4);
    float *scratch = cnn_alloc(cnn_fast_batchnorm_scratch_floats(C) * 4);
    if (!x || !y || !dy || !dx || !scratch)
        return 1;
    for (size_t i = 0; i < n; i++) {
        x[i] = cnn_bf16_from_float((float)(i * 7919 % 1000) / 500.0f - 1.0f);
        dy[i] = (float)(i * 31 % 97) / 50.0f - 1.0f;
    }
    float gamma[C], beta[C], mean[C], invstd[C], rm[C], rv[C], dg[C], db[C];
    for (int j = 0; j < C; j++)
        gamma[j] = 1.0f, beta[j] = 0.1f, rm[j] = 0.0f, rv[j] = 1.0f;
    omp_set_num_threads(2);
    for (int relu = 0; relu < 2; relu++)
        for (int dx_bf16 = 0; dx_bf16 < 2; dx_bf16++) {
            const cnn_bn_geom g = {.m = m, .c = C, .eps = 1e-5f, .momentum = 0.1f, .x_bf16 = 1,
                                   .y_bf16 = 1, .dx_bf16 = dx_bf16};
            const cnn_act act = relu ? CNN_ACT_RELU : CNN_ACT_NONE;
            double fwd = 1e30, bwd = 1e30;
            for (int r = 0; r < 9; r++) {
                double t0 = omp_get_wtime();
                cnn_fast_batchnorm_forward_train(&g, act, (const float *)(void *)x, gamma, beta,
                                                 y, mean, invstd, rm, rv, scratch);
                double t1 = omp_get_wtime();
                cnn_fast_batchnorm_backward(&g, act, (const float *)(void *)x, gamma, beta, mean,
                                            invstd, dy, dx, dg, db, scratch);
                double t2 = omp_get_wtime();
                if (r > 0 && t1 - t0 < fwd)
                    fwd = t1 - t0;
                if (r > 0 && t2 - t1 < bwd)
                    bwd = t2 - t1;
            }
            printf("batch norm%s 128x32x32x64, x and y bf16, dx %s: forward %.2f ms, backward "
                   "%.2f ms\n", relu ? " + ReLU" : "", dx_bf16 ? "bf16" : "floats", fwd * 1e3,
                   bwd * 1e3);
        }
    cnn_free(x), cnn_free(y), cnn_free(dy), cnn_free(dx), cnn_free(scratch);
    return 0;
}
