/* split.c: the seeded train/validation split.
 *
 * 0..total-1 is shuffled with the CNN_STREAM_SPLIT stream of the seed; the
 * first n_val = round(total * val_fraction) shuffled indices are the validation
 * set, the rest the training set, each listed in ascending order. Invariant:
 * the lists depend on (total, val_fraction, seed) only, never on the caller's
 * other random draws, and together they hold every index exactly once. */
#include <math.h>
#include <string.h>

#include "cnnlab/data.h"
#include "core/core.h"

cnn_status cnn_split_make(int total, double val_fraction, uint64_t seed, int **train_idx,
                          int *n_train, int **val_idx, int *n_val, cnn_error *err)
{
    *train_idx = NULL;
    *val_idx = NULL;
    *n_train = 0;
    *n_val = 0;
    if (total < 0)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                             "split: expected a non-negative image count, found %d", total);
    if (!(val_fraction >= 0.0 && val_fraction <= 1.0))
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                             "split: expected a validation fraction in [0, 1], found %g",
                             val_fraction);
    int nv = (int)floor((double)total * val_fraction + 0.5);
    if (nv > total)
        nv = total;
    int nt = total - nv;

    int *perm = malloc(((size_t)total + 1) * sizeof *perm);
    unsigned char *is_val = calloc((size_t)total + 1, 1);
    int *tr = malloc(((size_t)nt + 1) * sizeof *tr); /* +1: never malloc(0) */
    int *va = malloc(((size_t)nv + 1) * sizeof *va);
    if (!perm || !is_val || !tr || !va) {
        free(perm);
        free(is_val);
        free(tr);
        free(va);
        return cnn_error_set(err, CNN_STATUS_NO_MEMORY, "split: no memory for %d indices",
                             total);
    }
    for (int i = 0; i < total; i++)
        perm[i] = i;
    cnn_rng r;
    cnn_rng_init(&r, seed, CNN_STREAM_SPLIT, 0);
    cnn_rng_shuffle(&r, perm, total);
    for (int i = 0; i < nv; i++)
        is_val[perm[i]] = 1;
    /* Walking 0..total-1 and dealing each index to its list sorts both lists. */
    int t = 0, v = 0;
    for (int i = 0; i < total; i++) {
        if (is_val[i])
            va[v++] = i;
        else
            tr[t++] = i;
    }
    CNN_ASSERT(t == nt && v == nv);
    free(perm);
    free(is_val);
    *train_idx = tr;
    *val_idx = va;
    *n_train = nt;
    *n_val = nv;
    return CNN_STATUS_OK;
}
