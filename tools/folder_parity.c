/* folder_parity.c: checks that an image folder and a CIFAR-10 binary folder
 * hold the same (image, label) pairs, compared as sets (the binary layout's
 * order is its writer's shuffle), for the training and the test split; and
 * prints how long the folder took to load (a first decode, or the cache).
 *
 * Build and run (no Makefile rule; from the repository root, after make):
 *   gcc -std=c11 -O2 -fopenmp -Iinclude -Isrc tools/folder_parity.c build/libcnnlab.a \
 *       -ldnnl -llapacke -lpng -ljpeg -lstb -lz -lm -o build/folder_parity
 *   build/folder_parity FOLDER BINARY_FOLDER
 * e.g. the project's JPEG copy unpacked to /tmp/cj and data/cifar-10-batches-bin
 * written from it by ../shared/data/cifar10-binary. Exits 1 on a difference. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnnlab/data.h"
#include "core/core.h"

/* FNV-1a of the label byte and the pixels of image i */
static uint64_t pair_hash(const cnn_dataset *d, int i)
{
    size_t bytes = cnn_dataset_image_bytes(d);
    uint8_t *buf = malloc(bytes + 1);
    buf[0] = d->labels[i];
    memcpy(buf + 1, d->pixels + (size_t)i * bytes, bytes);
    uint64_t h = cnn_fnv1a(buf, bytes + 1);
    free(buf);
    return h;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int same_sets(const cnn_dataset *a, const cnn_dataset *b, const char *what)
{
    if (a->count != b->count || cnn_dataset_image_bytes(a) != cnn_dataset_image_bytes(b)) {
        printf("%s: %d images of %zu bytes against %d of %zu: DIFFERENT\n", what, a->count,
               cnn_dataset_image_bytes(a), b->count, cnn_dataset_image_bytes(b));
        return 0;
    }
    uint64_t *ha = malloc(sizeof *ha * (size_t)a->count), *hb = malloc(sizeof *hb * (size_t)b->count);
    for (int i = 0; i < a->count; i++)
        ha[i] = pair_hash(a, i), hb[i] = pair_hash(b, i);
    qsort(ha, (size_t)a->count, sizeof *ha, cmp_u64);
    qsort(hb, (size_t)b->count, sizeof *hb, cmp_u64);
    int diff = 0;
    for (int i = 0; i < a->count; i++)
        diff += ha[i] != hb[i];
    printf("%s: %d (image, label) pairs; %d of the sorted pair hashes differ: %s\n", what,
           a->count, diff, diff ? "DIFFERENT" : "the same set");
    free(ha);
    free(hb);
    return diff == 0;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: folder_parity FOLDER BINARY_FOLDER\n");
        return 2;
    }
    int ok = 1;
    for (int test = 0; test < 2; test++) {
        cnn_error err;
        cnn_data_source fs = {.path = argv[1], .format = CNN_DATA_FOLDER};
        cnn_data_source bs = {.path = argv[2], .format = CNN_DATA_CIFAR10};
        cnn_data_info fi, bi;
        cnn_dataset f, b;
        double t0 = cnn_now();
        if (cnn_data_probe(&fs, &fi, &err) || cnn_data_load(&fs, &fi, test, &f, &err)) {
            fprintf(stderr, "folder_parity: %s\n", err.msg);
            return 2;
        }
        double t1 = cnn_now();
        if (cnn_data_probe(&bs, &bi, &err) || cnn_data_load(&bs, &bi, test, &b, &err)) {
            fprintf(stderr, "folder_parity: %s\n", err.msg);
            return 2;
        }
        printf("%s split: folder loaded in %.2f s (%s)\n", test ? "test" : "train", t1 - t0,
               f.map_bytes ? "mapped from its cache" : "decoded");
        ok &= same_sets(&f, &b, test ? "test" : "train");
        cnn_dataset_free(&f);
        cnn_dataset_free(&b);
    }
    return ok ? 0 : 1;
}
