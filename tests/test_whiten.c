/* test_whiten.c: cnn_whiten_weights (src/train/whiten.c) against PyTorch's
 * init_whitening of the airbench recipe (tests/fixtures/whiten.txt, made by
 * tools/fixtures/make_whiten_fixtures.py from 20 synthetic images stored in
 * the fixture), and against its definition computed here in plain loops.
 *
 * Eigenvectors are unique only up to sign, so each filter k (and its negative
 * k + 12) is compared with +- the fixture's filter k, whichever sign is
 * closer. Also: idx selects the images, the result is the same on 1 and 2
 * threads, and wrong shapes are refused with a message naming them. */
#include <omp.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "cnnlab/train.h"
#include "core/core.h"
#include "fixture.h"

#define FIXTURE "tests/fixtures/whiten.txt"
#define MADE_BY "tools/fixtures/make_whiten_fixtures.py"
#define N 20
#define D 12 /* 3 * 2 * 2 */

/* max over filters k of min over s = +-1 of max |w[k] - s ref[k]| / max |ref[k]|;
 * also checks that w[D + k] = -w[k] exactly. */
static double filter_error(const float *w, const float *ref, int *negated_ok)
{
    double worst = 0;
    *negated_ok = 1;
    for (int k = 0; k < 2 * D; k++) {
        double scale = 0, ep = 0, em = 0;
        for (int r = 0; r < D; r++) {
            double a = w[k * D + r], b = ref[k * D + r];
            scale = fmax(scale, fabs(b));
            ep = fmax(ep, fabs(a - b));
            em = fmax(em, fabs(a + b));
        }
        worst = fmax(worst, fmin(ep, em) / scale);
        if (k < D)
            for (int r = 0; r < D; r++)
                *negated_ok &= w[(D + k) * D + r] == -w[k * D + r];
    }
    return worst;
}

/* The definition in plain loops: cov (D, D) in double over every 2x2 patch of
 * the normalised images (cnn_batch_fill), (C, kh, kw) order. */
static void plain_cov(const cnn_dataset *d, const cnn_norm *norm, double *cov)
{
    float *x = malloc(sizeof(float) * N * CNN_CIFAR_PIXELS);
    cnn_batch_fill(d, NULL, N, norm, x, NULL);
    memset(cov, 0, sizeof(double) * D * D);
    long n = 0;
    for (int i = 0; i < N; i++)
        for (int y = 0; y < 31; y++)
            for (int xx = 0; xx < 31; xx++, n++) {
                double v[D];
                for (int c = 0; c < 3; c++)
                    for (int a = 0; a < 2; a++)
                        for (int b = 0; b < 2; b++)
                            v[(c * 2 + a) * 2 + b] =
                                x[(size_t)i * CNN_CIFAR_PIXELS + ((y + a) * 32 + xx + b) * 3 + c];
                for (int r = 0; r < D; r++)
                    for (int s = 0; s < D; s++)
                        cov[r * D + s] += v[r] * v[s];
            }
    for (int k = 0; k < D * D; k++)
        cov[k] /= (double)n;
    free(x);
}

int main(void)
{
    fixture_file f;
    if (!fixture_load(&f, FIXTURE, MADE_BY))
        return check_finish("test_whiten");
    const float *images = fixture_get(&f, "images", (size_t)N * CNN_CIFAR_PIXELS);
    const float *mean = fixture_get(&f, "mean", 3), *sd = fixture_get(&f, "std", 3);
    const float *config = fixture_get(&f, "config", 4), *cov_ref = fixture_get(&f, "cov", D * D);
    const float *evals_ref = fixture_get(&f, "evals", D), *w_ref = fixture_get(&f, "w", 2 * D * D);
    if (!images || !mean || !sd || !config || !cov_ref || !evals_ref || !w_ref) {
        fixture_free(&f);
        return check_finish("test_whiten");
    }
    check(config[0] == N && config[1] == 2 && config[2] == 2, "fixture config: %g images %gx%g",
          (double)config[0], (double)config[1], (double)config[2]);
    const double eps = 5e-4;
    check(fabs(config[3] - eps) < 1e-10, "fixture eps %g", (double)config[3]);

    cnn_dataset d = {.count = N, .pixels = cnn_alloc((size_t)N * CNN_CIFAR_PIXELS),
                     .labels = cnn_alloc(N), .c = 3, .h = 32, .w = 32, .classes = 10};
    for (size_t k = 0; k < (size_t)N * CNN_CIFAR_PIXELS; k++)
        d.pixels[k] = (uint8_t)images[k];
    cnn_norm norm;
    for (int c = 0; c < 3; c++) {
        norm.mean[c] = mean[c];
        norm.std[c] = sd[c];
    }

    /* the covariance of the definition against PyTorch's */
    double cov[D * D];
    plain_cov(&d, &norm, cov);
    double cov_err = 0, cov_max = 0;
    for (int k = 0; k < D * D; k++) {
        cov_err = fmax(cov_err, fabs(cov[k] - cov_ref[k]));
        cov_max = fmax(cov_max, fabs(cov_ref[k]));
    }
    printf("patch covariance (plain loops) vs PyTorch: max |diff| %.3g of max %.3g "
           "(tolerance 1e-6 relative)\n", cov_err, cov_max);
    check(cov_err <= 1e-6 * cov_max, "patch covariance differs from PyTorch's by %.3g", cov_err);

    /* the weights against PyTorch's, up to each filter's sign */
    float w[2 * D * D];
    cnn_error err;
    cnn_status st = cnn_whiten_weights(&d, NULL, N, &norm, 2, 2, eps, w, 2 * D, &err);
    check(st == CNN_STATUS_OK, "cnn_whiten_weights: %s", st ? err.msg : "ok");
    int negated_ok;
    double e = filter_error(w, w_ref, &negated_ok);
    printf("whitening weight (24, 3, 2, 2) vs PyTorch, per filter up to sign: max |diff| %.3g "
           "of the filter's largest value (tolerance 1e-5)\n", e);
    check(e <= 1e-5, "whitening filters differ from PyTorch's by %.3g (relative)", e);
    check(negated_ok, "filters 12..23 are exactly the negatives of 0..11");

    /* the definition: w[k] = e_k / sqrt(lambda_k + eps) with cov e_k = lambda_k e_k,
     * so sum_r cov[q][r] w[k][r] = lambda_k w[k][q], and lambda_k descending as PyTorch's */
    double eig_err = 0, norm_err = 0;
    for (int k = 0; k < D; k++) {
        double nn = 0, lam = evals_ref[k];
        for (int r = 0; r < D; r++)
            nn += (double)w[k * D + r] * w[k * D + r];
        norm_err = fmax(norm_err, fabs(nn * (lam + eps) - 1));
        for (int q = 0; q < D; q++) {
            double s = 0;
            for (int r = 0; r < D; r++)
                s += cov[q * D + r] * w[k * D + r];
            eig_err = fmax(eig_err, fabs(s - lam * w[k * D + q]) / (lam * sqrt(nn)));
        }
    }
    printf("definition: |cov w_k - lambda_k w_k| / (lambda_k |w_k|) max %.3g, "
           "| |w_k|^2 (lambda_k + eps) - 1 | max %.3g (tolerance 1e-4 each)\n", eig_err, norm_err);
    check(eig_err <= 1e-4 && norm_err <= 1e-4, "eigen-equation %.3g, norm %.3g", eig_err,
          norm_err);

    /* idx selects the images: the 20 images in reverse order give the same
     * covariance (sums in another order: equal to rounding) */
    int idx[N];
    for (int i = 0; i < N; i++)
        idx[i] = N - 1 - i;
    float w2[2 * D * D];
    st = cnn_whiten_weights(&d, idx, N, &norm, 2, 2, eps, w2, 2 * D, &err);
    double e2 = filter_error(w2, w_ref, &negated_ok);
    check(st == CNN_STATUS_OK && e2 <= 1e-5, "reversed idx: filters differ by %.3g", e2);
    /* a subset differs */
    st = cnn_whiten_weights(&d, idx, 5, &norm, 2, 2, eps, w2, 2 * D, &err);
    double e3 = filter_error(w2, w_ref, &negated_ok);
    check(st == CNN_STATUS_OK && e3 > 1e-2, "5 of the images: filters differ by only %.3g", e3);
    printf("idx: the 20 images reversed match (%.3g); 5 of them differ (%.3g)\n", e2, e3);

    /* thread-count independence, bit for bit */
    float w1[2 * D * D], wt[2 * D * D];
    int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    cnn_whiten_weights(&d, NULL, N, &norm, 2, 2, eps, w1, 2 * D, &err);
    omp_set_num_threads(2);
    cnn_whiten_weights(&d, NULL, N, &norm, 2, 2, eps, wt, 2 * D, &err);
    omp_set_num_threads(threads);
    check(memcmp(w1, wt, sizeof w1) == 0 && memcmp(w1, w, sizeof w1) == 0,
          "1 and 2 threads give different weights");
    printf("threads: 1 and 2 threads bit-identical\n");

    /* other kernel sizes: the definition's eigen-equation holds (3x3, 54 outputs) */
    float w3[54 * 27];
    st = cnn_whiten_weights(&d, NULL, N, &norm, 3, 3, eps, w3, 54, &err);
    check(st == CNN_STATUS_OK, "3x3: %s", st ? err.msg : "ok");
    int negated3 = 1;
    for (int k = 0; k < 27; k++)
        for (int r = 0; r < 27; r++)
            negated3 &= w3[(27 + k) * 27 + r] == -w3[k * 27 + r] && isfinite(w3[k * 27 + r]);
    check(negated3, "3x3: finite filters and their negatives");

    /* refusals */
    memset(&err, 0, sizeof err);
    st = cnn_whiten_weights(&d, NULL, N, &norm, 2, 2, eps, w, 32, &err);
    printf("refusal: %s\n", err.msg);
    check(st == CNN_STATUS_INVALID_ARGUMENT && strstr(err.msg, "(32, 3, 2, 2)") &&
              strstr(err.msg, "24"),
          "32 output channels for 2x2: status %d, message '%s'", (int)st, err.msg);
    memset(&err, 0, sizeof err);
    st = cnn_whiten_weights(&d, NULL, N + 1, &norm, 2, 2, eps, w, 24, &err);
    check(st == CNN_STATUS_INVALID_ARGUMENT && strstr(err.msg, "21"),
          "21 of 20 images: status %d, message '%s'", (int)st, err.msg);
    int bad_idx[2] = {0, N};
    memset(&err, 0, sizeof err);
    st = cnn_whiten_weights(&d, bad_idx, 2, &norm, 2, 2, eps, w, 24, &err);
    check(st == CNN_STATUS_INVALID_ARGUMENT && strstr(err.msg, "20"),
          "index 20 of 20 images: status %d, message '%s'", (int)st, err.msg);

    cnn_dataset_free(&d);
    fixture_free(&f);
    return check_finish("test_whiten");
}
