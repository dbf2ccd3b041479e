/* batchnorm.c: reference batch normalisation, PyTorch's nn.BatchNorm2d (rows
 * m = N*H*W of an NHWC tensor) and nn.BatchNorm1d (m = N), per channel c:
 *
 * train: mean = (1/m) sum_r x[r,c]
 *        var  = (1/m) sum_r (x[r,c] - mean)^2               (biased)
 *        invstd = 1 / sqrt(var + eps)
 *        y[r,c] = gamma[c] * (x[r,c] - mean) * invstd + beta[c]
 *        save_mean = mean, save_invstd = invstd             (for the backward)
 *        running_mean = (1-momentum)*running_mean + momentum*mean
 *        running_var  = (1-momentum)*running_var  + momentum*var*m/(m-1)
 *                       (the unbiased variance, as PyTorch; var itself when m == 1)
 * eval:  y = gamma * (x - running_mean) / sqrt(running_var + eps) + beta
 * backward (train mode), with xhat = (x - mean) * invstd:
 *        dbeta  = sum_r dy
 *        dgamma = sum_r dy * xhat
 *        dx     = gamma * invstd / m * (m*dy - dbeta - xhat * dgamma)
 *
 * With g->sync (--sync-bn) mean, var and the backward's two sums are the
 * whole batch's over every rank's rows, m their count (ops/bn_sync.c).
 *
 * Statistics and reductions are accumulated in double. */
#include <math.h>

#include "core/core.h"
#include "ops/ops.h"

/* x (M,C), gamma (C), beta (C), y (M,C); save_mean, save_invstd, running_mean,
 * running_var (C), none of them NULL. */
void cnn_ref_batchnorm_forward_train(const cnn_bn_geom *g, const float *x, const float *gamma,
                                     const float *beta, float *y, float *save_mean,
                                     float *save_invstd, float *running_mean, float *running_var)
{
    CNN_ASSERT(save_mean && save_invstd && running_mean && running_var && g->m >= 1);
    const int m = g->m, C = g->c;
    double *v = g->sync ? cnn_bn_sync_values(g) : NULL, rows = m;
    for (int c = 0; c < C && v; c++) { /* with sync: this rank's moments, then everyone's */
        double s = 0, ss = 0;
        for (int r = 0; r < m; r++)
            s += x[(size_t)r * C + c];
        for (int r = 0; r < m; r++)
            ss += (x[(size_t)r * C + c] - s / m) * (x[(size_t)r * C + c] - s / m);
        v[c] = s / m;
        v[C + c] = ss;
    }
    if (v)
        rows = cnn_bn_sync_moments(g);
    for (int c = 0; c < C; c++) {
        double mean, var;
        if (v) {
            mean = v[c];
            var = v[C + c];
        } else {
            double s = 0;
            for (int r = 0; r < m; r++)
                s += x[(size_t)r * C + c];
            mean = s / m;
            double ss = 0;
            for (int r = 0; r < m; r++) {
                double d = x[(size_t)r * C + c] - mean;
                ss += d * d;
            }
            var = ss / m;
        }
        double invstd = 1.0 / sqrt(var + g->eps);
        for (int r = 0; r < m; r++)
            y[(size_t)r * C + c] =
                (float)(gamma[c] * (x[(size_t)r * C + c] - mean) * invstd + beta[c]);
        save_mean[c] = (float)mean;
        save_invstd[c] = (float)invstd;
        double unbiased = rows > 1 ? var * rows / (rows - 1) : var;
        double mom = g->momentum;
        running_mean[c] = (float)((1.0 - mom) * running_mean[c] + mom * mean);
        running_var[c] = (float)((1.0 - mom) * running_var[c] + mom * unbiased);
    }
}

/* x (M,C), gamma, beta, running_mean, running_var (C), y (M,C) */
void cnn_ref_batchnorm_forward_eval(const cnn_bn_geom *g, const float *x, const float *gamma,
                                    const float *beta, const float *running_mean,
                                    const float *running_var, float *y)
{
    const int m = g->m, C = g->c;
    for (int c = 0; c < C; c++) {
        double invstd = 1.0 / sqrt((double)running_var[c] + g->eps);
        for (int r = 0; r < m; r++)
            y[(size_t)r * C + c] =
                (float)(gamma[c] * (x[(size_t)r * C + c] - (double)running_mean[c]) * invstd +
                        beta[c]);
    }
}

/* x (M,C), gamma, save_mean, save_invstd (C), dy (M,C)
 * -> dx (M,C), dgamma (C), dbeta (C); each may be NULL. */
void cnn_ref_batchnorm_backward(const cnn_bn_geom *g, const float *x, const float *gamma,
                                const float *save_mean, const float *save_invstd, const float *dy,
                                float *dx, float *dgamma, float *dbeta)
{
    const int m = g->m, C = g->c;
    double *v = g->sync ? cnn_bn_sync_values(g) : NULL, rows = m;
    for (int pass = v ? 0 : 1; pass < 2; pass++) { /* with sync: this rank's sums first */
        for (int c = 0; c < C; c++) {
            double mean = save_mean[c], invstd = save_invstd[c];
            double sdy = 0, sdyx = 0;
            for (int r = 0; r < m; r++) {
                double d = dy[(size_t)r * C + c];
                sdy += d;
                sdyx += d * (x[(size_t)r * C + c] - mean) * invstd;
            }
            if (pass == 0) {
                v[c] = sdy;
                v[C + c] = sdyx;
                continue;
            }
            if (dbeta)
                dbeta[c] = (float)sdy;
            if (dgamma)
                dgamma[c] = (float)sdyx;
            if (v) { /* dx from the whole batch's sums */
                sdy = v[c];
                sdyx = v[C + c];
            }
            if (dx) {
                double k = gamma[c] * invstd / rows;
                for (int r = 0; r < m; r++) {
                    double xhat = (x[(size_t)r * C + c] - mean) * invstd;
                    dx[(size_t)r * C + c] =
                        (float)(k * (rows * (double)dy[(size_t)r * C + c] - sdy - xhat * sdyx));
                }
            }
        }
        if (pass == 0)
            rows = cnn_bn_sync_sums(g);
    }
}
