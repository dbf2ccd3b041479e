/* bench_augment.c: microseconds per batch of cnn_batch_fill against
 * cnn_batch_fill_augmented (src/dataset/augment.c) with several augmentations,
 * batch 128 of random CIFAR-shaped bytes drawn from 8,192 images in shuffled
 * order (as training reads them), on 1 and 2 threads (and all of them, if
 * more). Prints the median of 7 timed windows of 200 batches after a warm-up.
 * A benchmark: it measures, it does not assert.
 *
 * Build and run (no Makefile rule; from the repository root; it needs only
 * the core and data modules, not oneDNN):
 *   gcc -std=c11 -O3 -march=native -fopenmp -Wall -Wextra -Wshadow -Wstrict-prototypes \
 *       -Wno-unused-parameter -Iinclude -Isrc bench/bench_augment.c \
 *       $(find src/core src/dataset -name '*.c') -lm -o build/bench_augment && build/bench_augment
 */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnnlab/data.h"
#include "core/core.h"

#define IMAGES 8192
#define BATCH 128
#define WINDOWS 7
#define PER_WINDOW 200

typedef struct config {
    const char *name;
    int plain; /* 1: cnn_batch_fill itself */
    int crop, flip, cutout;
    float noise;
    int translate, altflip;
} config;

static const config configs[] = {
    {"cnn_batch_fill", 1, 0, 0, 0, 0.0f, 0, 0},
    {"augmented, none", 0, 0, 0, 0, 0.0f, 0, 0},
    {"flip", 0, 0, 1, 0, 0.0f, 0, 0},
    {"crop,flip", 0, 1, 1, 0, 0.0f, 0, 0},
    {"crop,flip,cutout", 0, 1, 1, 1, 0.0f, 0, 0},
    {"noise 0.1", 0, 0, 0, 0, 0.1f, 0, 0},
    {"crop,flip,cutout + noise", 0, 1, 1, 1, 0.1f, 0, 0},
    {"translate,altflip", 0, 0, 0, 0, 0.0f, 1, 1},
};

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median over windows of the mean microseconds per batch. */
static double time_config(const config *c, const cnn_dataset *d, const int *order,
                          const cnn_norm *norm, float *x, uint8_t *labels)
{
    cnn_augment a;
    cnn_augment_defaults(&a);
    a.crop = c->crop;
    a.flip = c->flip;
    a.cutout = c->cutout;
    a.input_noise = c->noise;
    a.translate = c->translate;
    a.altflip = c->altflip;
    const int per_epoch = IMAGES / BATCH;
    uint64_t step = 0;
    double us[WINDOWS];
    for (int win = -1; win < WINDOWS; win++) { /* window -1 warms up */
        double t0 = cnn_now();
        for (int b = 0; b < PER_WINDOW; b++, step++) {
            const int *idx = order + (step % per_epoch) * BATCH;
            if (c->plain)
                cnn_batch_fill(d, idx, BATCH, norm, x, labels);
            else
                cnn_batch_fill_augmented(d, idx, BATCH, norm, &a, 1, step,
                                         (int)(step / per_epoch), x, labels);
        }
        if (win >= 0)
            us[win] = (cnn_now() - t0) * 1e6 / PER_WINDOW;
    }
    qsort(us, WINDOWS, sizeof us[0], cmp_double);
    return us[WINDOWS / 2];
}

int main(void)
{
    cnn_dataset d = {.count = IMAGES, .pixels = cnn_alloc((size_t)IMAGES * CNN_CIFAR_PIXELS),
                     .labels = cnn_alloc(IMAGES), .c = 3, .h = 32, .w = 32, .classes = 10};
    int *order = malloc(sizeof(int) * IMAGES);
    float *x = cnn_alloc(sizeof(float) * BATCH * CNN_CIFAR_PIXELS);
    uint8_t labels[BATCH];
    if (!d.pixels || !d.labels || !order || !x) {
        fprintf(stderr, "bench_augment: out of memory\n");
        return 1;
    }
    cnn_rng r;
    cnn_rng_init(&r, 1, CNN_STREAM_BENCH, 0);
    for (size_t k = 0; k < (size_t)IMAGES * CNN_CIFAR_PIXELS; k++)
        d.pixels[k] = (uint8_t)cnn_rng_next(&r);
    for (int i = 0; i < IMAGES; i++) {
        d.labels[i] = (uint8_t)(i % CNN_CIFAR_CLASSES);
        order[i] = i;
    }
    cnn_rng_shuffle(&r, order, IMAGES);
    cnn_norm norm;
    cnn_norm_compute(&d, NULL, IMAGES, &norm);

    int max_threads = omp_get_max_threads();
    int threads[3] = {1, 2, max_threads}, n_threads = max_threads > 2 ? 3 : 2;
    printf("bench_augment: batch %d, %d images, median of %d windows x %d batches, "
           "microseconds per batch\n", BATCH, IMAGES, WINDOWS, PER_WINDOW);
    printf("%-26s", "configuration");
    for (int t = 0; t < n_threads; t++)
        printf("  %5d thread%s", threads[t], threads[t] == 1 ? " " : "s");
    printf("\n");
    for (size_t c = 0; c < sizeof configs / sizeof configs[0]; c++) {
        printf("%-26s", configs[c].name);
        for (int t = 0; t < n_threads; t++) {
            omp_set_num_threads(threads[t]);
            printf("  %13.1f", time_config(&configs[c], &d, order, &norm, x, labels));
            fflush(stdout);
        }
        printf("\n");
    }
    cnn_free(x);
    free(order);
    cnn_dataset_free(&d);
    return 0;
}
