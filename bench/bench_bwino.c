/* bench_bwino.c: the pieces of cnnlab's bf16 Winograd F(2x2, 3x3)
 * (src/ops/fast/conv_bwino.c) one at a time on a 3x3 stride-1 shape: the
 * weight transform (a training step makes it twice, forward and
 * backward-data), the forward, backward-data and weight gradient, 2 threads.
 * Default shapes: resnet18's and VGG's CIFAR layers at batch 128, then
 * airbench94's at its recipe's batch 1024; or one shape from the command
 * line (batch, map side, channels). Prints the best of 5 runs after a
 * warm-up, milliseconds, and the forward's rate counted as a direct
 * convolution's FLOPs. A benchmark: it measures, it does not assert.
 *
 * Build and run (no Makefile rule; from the repository root, after make):
 *   gcc -std=c11 -O2 -march=native -fopenmp -Isrc -Iinclude bench/bench_bwino.c \
 *       build/libcnnlab.a -ldnnl -lm -o build/bench_bwino && build/bench_bwino [N SIDE C]
 */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "ops/fast/conv_bwino.h"

static void bench(int n, int side, int c)
{
    cnn_conv_geom g = {.n = n, .ih = side, .iw = side, .ic = c, .oc = c, .kh = 3, .kw = 3,
                       .sh = 1, .sw = 1, .ph = 1, .pw = 1};
    cnn_conv_geom_finish(&g);
    if (!cnn_bwino_applies(&g)) {
        printf("n%d %dx%dx%d: no bf16 Winograd in this build or for this shape\n", n, side,
               side, c);
        return;
    }
    const size_t nx = (size_t)n * side * side * c, nw = (size_t)c * c * 9;
    const size_t sb = cnn_bwino_scratch_bytes(&g, 2, 1), bb = cnn_bwino_bww_scratch_bytes(&g, 2);
    uint16_t *x = cnn_alloc(nx * 2), *dy = cnn_alloc(nx * 2);
    uint16_t *u = cnn_alloc(cnn_bwino_weight_bytes(&g));
    float *w = cnn_alloc(nw * 4), *y = cnn_alloc(nx * 4), *dw = cnn_alloc(nw * 4);
    char *scratch = cnn_alloc(sb > bb ? sb : bb);
    if (!x || !dy || !u || !w || !y || !dw || !scratch) {
        printf("n%d %dx%dx%d: no memory\n", n, side, side, c);
        exit(1);
    }
    for (size_t i = 0; i < nx; i++)
        x[i] = dy[i] = (uint16_t)(0x3f80 + i % 64); /* 1 .. 1.5 */
    for (size_t i = 0; i < nw; i++)
        w[i] = 0.01f * (float)(i % 7) - 0.03f;
    double best[4] = {1e30, 1e30, 1e30, 1e30};
    for (int r = 0; r < 6; r++) {
        double t[5];
        t[0] = omp_get_wtime();
        cnn_bwino_weights(&g, w, 0, u);
        t[1] = omp_get_wtime();
        cnn_bwino_forward(&g, x, u, NULL, 0, y, 0, scratch, 2);
        t[2] = omp_get_wtime();
        cnn_bwino_backward_data(&g, dy, u, y, scratch, 2);
        t[3] = omp_get_wtime();
        cnn_bwino_backward_weights(&g, x, dy, dw, NULL, scratch, 2);
        t[4] = omp_get_wtime();
        for (int k = 0; k < 4 && r > 0; k++)
            if (t[k + 1] - t[k] < best[k])
                best[k] = t[k + 1] - t[k];
    }
    const double gflop = 2.0 * n * side * side * (double)c * c * 9 / 1e9;
    printf("n%-5d %2dx%-2dx%-4d weights %6.2f ms  forward %6.2f ms (%5.0f GFLOP/s as direct)  "
           "backward-data %6.2f ms  weight gradient %6.2f ms\n",
           n, side, side, c, best[0] * 1e3, best[1] * 1e3, gflop / best[1], best[2] * 1e3,
           best[3] * 1e3);
    cnn_free(x), cnn_free(dy), cnn_free(u), cnn_free(w), cnn_free(y), cnn_free(dw);
    cnn_free(scratch);
}

int main(int argc, char **argv)
{
    if (argc == 4) {
        bench(atoi(argv[1]), atoi(argv[2]), atoi(argv[3]));
        return 0;
    }
    static const int shapes[][3] = {{128, 32, 64}, {128, 16, 128}, {128, 8, 256},
                                    {128, 4, 512}, {128, 2, 512},  {1024, 15, 64},
                                    {1024, 7, 256}, {1024, 3, 256}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        bench(shapes[i][0], shapes[i][1], shapes[i][2]);
    return 0;
}
