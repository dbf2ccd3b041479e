/* whiten.c: patch-whitening initialisation of a first convolution, as
 * airbench's init_whitening (KellerJordan/cifar10-airbench, legacy/airbench94.py).
 *
 * With v_p in R^D, D = C*kh*kw, the kh x kw patch p (stride 1, no padding) of
 * a normalised image in PyTorch's (C, kh, kw) order, over every patch of every
 * given image (n of them):
 *   cov = sum_p v_p v_p^T / n              (double; not mean-centred)
 *   cov = E diag(lambda) E^T, lambda descending (LAPACKE_dsyevd)
 *   filter k = E[:, k]^T / sqrt(lambda_k + eps), reshaped to (C, kh, kw)
 *   w = concat(filters, -filters)          (2D, C, kh, kw), PyTorch OIHW
 * so the convolution's first D outputs decorrelate patches and scale each
 * principal direction to unit variance, and the second D are their negatives.
 *
 * Invariant: the result does not depend on the thread count. Images are cut
 * into a fixed number of contiguous blocks (a function of count and D only);
 * each block's sum is accumulated in image order, and the blocks are added in
 * block order. Within an image each entry of the sum is a dot product over
 * the patch positions with LANES independent partial sums (so that it
 * vectorises without reassociation). */
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cnnlab/train.h"
#include "core/core.h"

#define LANES 8
#define MAX_BLOCKS 64
#define BLOCK_BYTES_CAP ((size_t)64 << 20) /* all blocks' partial sums together */

/* sum over p in [0, n) of u[p] v[p]; n a multiple of LANES. */
static double dot_lanes(const double *restrict u, const double *restrict v, int n)
{
    double acc[LANES] = {0};
    for (int p = 0; p < n; p += LANES)
        for (int l = 0; l < LANES; l++)
            acc[l] += u[p + l] * v[p + l];
    return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

/* One image's patches into pt (D, np_pad): pt[a][p] = component a = (c, i, j)
 * of the patch at position p = (y, x), y < oh, x < ow; zero for p >= oh*ow.
 * img is (H, W, C) NHWC floats as cnn_batch_fill writes them. */
static void gather_patches(const float *img, int H, int W, int C, int kh, int kw, int np_pad,
                           double *pt)
{
    const int oh = H - kh + 1, ow = W - kw + 1;
    for (int c = 0; c < C; c++)
        for (int i = 0; i < kh; i++)
            for (int j = 0; j < kw; j++) {
                double *row = pt + (size_t)((c * kh + i) * kw + j) * (size_t)np_pad;
                for (int y = 0; y < oh; y++)
                    for (int x = 0; x < ow; x++)
                        row[y * ow + x] = img[((y + i) * W + (x + j)) * C + c];
                for (int p = oh * ow; p < np_pad; p++)
                    row[p] = 0.0;
            }
}

/* cov (D, D), upper triangle only: sum over the images of their patches'
 * outer products, in the block order described at the head. */
static cnn_status patch_sums(const cnn_dataset *d, const int *idx, int count,
                             const cnn_norm *norm, int kh, int kw, double *cov, cnn_error *err)
{
    const int C = d->c, H = d->h, W = d->w;
    const int dim = C * kh * kw, np = (H - kh + 1) * (W - kw + 1);
    const int np_pad = (np + LANES - 1) / LANES * LANES;
    const size_t dd = (size_t)dim * (size_t)dim;
    size_t cap = BLOCK_BYTES_CAP / (dd * sizeof(double));
    int blocks = count < MAX_BLOCKS ? count : MAX_BLOCKS;
    if ((size_t)blocks > cap)
        blocks = cap > 0 ? (int)cap : 1;
    double *part = calloc((size_t)blocks * dd, sizeof(double));
    if (!part)
        return cnn_error_set(err, CNN_STATUS_NO_MEMORY,
                             "whitening: no memory for %d partial %dx%d covariances", blocks, dim,
                             dim);
    int failed = 0;
#pragma omp parallel
    {
        float *img = malloc(sizeof(float) * cnn_dataset_image_bytes(d));
        double *pt = malloc(sizeof(double) * (size_t)dim * (size_t)np_pad);
        if (!img || !pt) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(dynamic, 1)
        for (int b = 0; b < blocks; b++) {
            if (!img || !pt)
                continue;
            double *acc = part + (size_t)b * dd;
            int first = (int)((long)count * b / blocks), end = (int)((long)count * (b + 1) / blocks);
            for (int n = first; n < end; n++) {
                int one = idx ? idx[n] : n;
                cnn_batch_fill(d, &one, 1, norm, img, NULL);
                gather_patches(img, H, W, C, kh, kw, np_pad, pt);
                for (int a = 0; a < dim; a++)
                    for (int e = a; e < dim; e++)
                        acc[(size_t)a * dim + e] += dot_lanes(pt + (size_t)a * np_pad,
                                                              pt + (size_t)e * np_pad, np_pad);
            }
        }
        free(img);
        free(pt);
    }
    if (!failed) {
        memset(cov, 0, dd * sizeof(double));
        for (int b = 0; b < blocks; b++)
            for (size_t k = 0; k < dd; k++)
                cov[k] += part[(size_t)b * dd + k];
    }
    free(part);
    if (failed)
        return cnn_error_set(err, CNN_STATUS_NO_MEMORY,
                             "whitening: no memory for a thread's patch buffer (%d x %d doubles)",
                             dim, np_pad);
    return CNN_STATUS_OK;
}

cnn_status cnn_whiten_weights(const cnn_dataset *d, const int *idx, int count,
                              const cnn_norm *norm, int kh, int kw, double eps, float *w,
                              int out_channels, cnn_error *err)
{
    const int C = d->c, H = d->h, W = d->w;
    if (kh < 1 || kh > H || kw < 1 || kw > W)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                             "whitening: kernel %dx%d, expected sides from 1 to the images' "
                             "%dx%d", kh, kw, H, W);
    const int dim = C * kh * kw;
    if (out_channels != 2 * dim)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                             "whitening: the layer's weight is (%d, %d, %d, %d); patch whitening "
                             "needs 2 * %d*%d*%d = %d output channels (the filters and their "
                             "negatives)", out_channels, C, kh, kw, C, kh, kw, 2 * dim);
    if (count < 1 || (!idx && count > d->count))
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                             "whitening: %d images asked for, expected 1 to %d", count, d->count);
    if (!(eps >= 0.0) || !isfinite(eps))
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                             "whitening: eps %g, expected a finite value >= 0", eps);
    for (int n = 0; idx && n < count; n++)
        if (idx[n] < 0 || idx[n] >= d->count)
            return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                                 "whitening: image index %d (entry %d) outside the dataset's %d",
                                 idx[n], n, d->count);

    const size_t dd = (size_t)dim * (size_t)dim;
    double *cov = malloc(dd * sizeof(double)), *evals = malloc((size_t)dim * sizeof(double));
    cnn_status st = CNN_STATUS_OK;
    if (!cov || !evals) {
        st = cnn_error_set(err, CNN_STATUS_NO_MEMORY, "whitening: no memory for a %dx%d matrix",
                           dim, dim);
        goto done;
    }
    if ((st = patch_sums(d, idx, count, norm, kh, kw, cov, err)))
        goto done;
    const double n_patches = (double)count * (H - kh + 1) * (W - kw + 1);
    for (int a = 0; a < dim; a++)
        for (int e = a; e < dim; e++) {
            double v = cov[(size_t)a * dim + e] / n_patches;
            cov[(size_t)a * dim + e] = cov[(size_t)e * dim + a] = v;
        }
    /* ascending eigenvalues; column k of cov (row-major) becomes eigenvector k */
    lapack_int info = LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'V', 'U', dim, cov, dim, evals);
    if (info != 0) {
        st = cnn_error_set(err, CNN_STATUS_NUMERIC,
                           "whitening: LAPACKE_dsyevd failed on the %dx%d patch covariance "
                           "(info %d)", dim, dim, (int)info);
        goto done;
    }
    for (int k = 0; k < dim; k++) {
        int e = dim - 1 - k; /* descending */
        double s = sqrt(evals[e] + eps);
        if (!(s > 0.0)) {
            st = cnn_error_set(err, CNN_STATUS_NUMERIC,
                               "whitening: eigenvalue %d of the patch covariance is %g; with eps "
                               "%g its scale 1/sqrt(%g) is not finite (raise eps)", k, evals[e],
                               eps, evals[e] + eps);
            goto done;
        }
        float *f = w + (size_t)k * dim, *g = w + (size_t)(dim + k) * dim; /* (C, kh, kw) */
        for (int r = 0; r < dim; r++) {
            f[r] = (float)(cov[(size_t)r * dim + e] / s);
            g[r] = -f[r];
        }
    }
done:
    free(cov);
    free(evals);
    return st;
}
