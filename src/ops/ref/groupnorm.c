/* groupnorm.c: reference per-sample normalisation (group norm and its special
 * cases), PyTorch's nn.GroupNorm(G, C), nn.InstanceNorm2d(C, affine=True)
 * (G = C) and nn.LayerNorm([C, H, W]) (G = 1, elementwise affine), on an NHWC
 * tensor x (N, HW, C). Channel c belongs to group g = c / (C/G); a group of
 * sample n holds M = HW * C/G values.
 *
 * forward:  mean[n,g]   = (1/M) sum_{p, c in g} x[n,p,c]
 *           var[n,g]    = (1/M) sum_{p, c in g} (x[n,p,c] - mean)^2      (biased)
 *           invstd[n,g] = 1 / sqrt(var + eps)
 *           xhat        = (x - mean) * invstd
 *           y[n,p,c]    = xhat * gamma[i] + beta[i]
 *           with i = c (per channel: GroupNorm, InstanceNorm) or i = p*C + c
 *           (per element: LayerNorm, whose (C,H,W) parameters are kept in NHWC
 *           order). save_mean, save_invstd (N,G) keep mean and invstd.
 * backward: with gdy = gamma[i] * dy, per (n,g):
 *           A  = sum gdy,   B = sum gdy * xhat
 *           dx = invstd / M * (M * gdy - A - xhat * B)
 *           dbeta[i]  = sum dy          over n (and p when per channel)
 *           dgamma[i] = sum dy * xhat   over n (and p when per channel)
 * Training and evaluation are the same computation: there are no running
 * estimates. Statistics and reductions are accumulated in double; the
 * backward uses the saved (float) mean and invstd, as PyTorch does. */
#include <math.h>

#include "core/core.h"
#include "ops/ops.h"

static void check_geom(const cnn_gn_geom *g)
{
    CNN_ASSERT(g->n >= 1 && g->hw >= 1 && g->c >= 1 && g->groups >= 1 && g->c % g->groups == 0);
}

/* x (N,HW,C); gamma, beta (C), or (HW*C) when per_element; y (N,HW,C);
 * save_mean, save_invstd (N,G). */
void cnn_ref_groupnorm_forward(const cnn_gn_geom *g, const float *x, const float *gamma,
                               const float *beta, float *y, float *save_mean, float *save_invstd)
{
    check_geom(g);
    const int N = g->n, HW = g->hw, C = g->c, G = g->groups, cpg = C / G;
    const double M = (double)HW * cpg;
    for (int n = 0; n < N; n++) {
        const float *xn = x + (size_t)n * HW * C;
        float *yn = y + (size_t)n * HW * C;
        for (int gr = 0; gr < G; gr++) {
            const int c0 = gr * cpg, c1 = c0 + cpg;
            double s = 0;
            for (int p = 0; p < HW; p++)
                for (int c = c0; c < c1; c++)
                    s += xn[(size_t)p * C + c];
            const double mean = s / M;
            double ss = 0;
            for (int p = 0; p < HW; p++)
                for (int c = c0; c < c1; c++) {
                    double d = xn[(size_t)p * C + c] - mean;
                    ss += d * d;
                }
            const double invstd = 1.0 / sqrt(ss / M + g->eps);
            for (int p = 0; p < HW; p++)
                for (int c = c0; c < c1; c++) {
                    const size_t o = (size_t)p * C + c, i = g->per_element ? o : (size_t)c;
                    yn[o] = (float)((xn[o] - mean) * invstd * gamma[i] + beta[i]);
                }
            save_mean[(size_t)n * G + gr] = (float)mean;
            save_invstd[(size_t)n * G + gr] = (float)invstd;
        }
    }
}

/* x (N,HW,C), gamma (C) or (HW*C), save_mean, save_invstd (N,G), dy (N,HW,C)
 * -> dx (N,HW,C), dgamma, dbeta (C) or (HW*C); each output may be NULL. */
void cnn_ref_groupnorm_backward(const cnn_gn_geom *g, const float *x, const float *gamma,
                                const float *save_mean, const float *save_invstd, const float *dy,
                                float *dx, float *dgamma, float *dbeta)
{
    check_geom(g);
    const int N = g->n, HW = g->hw, C = g->c, G = g->groups, cpg = C / G;
    const double M = (double)HW * cpg;
    const size_t sample = (size_t)HW * C;

    if (dx)
        for (int n = 0; n < N; n++)
            for (int gr = 0; gr < G; gr++) {
                const double mean = save_mean[(size_t)n * G + gr];
                const double invstd = save_invstd[(size_t)n * G + gr];
                const int c0 = gr * cpg, c1 = c0 + cpg;
                double A = 0, B = 0;
                for (int p = 0; p < HW; p++)
                    for (int c = c0; c < c1; c++) {
                        const size_t o = (size_t)p * C + c, i = g->per_element ? o : (size_t)c;
                        const double gdy = (double)gamma[i] * dy[n * sample + o];
                        A += gdy;
                        B += gdy * (x[n * sample + o] - mean) * invstd;
                    }
                for (int p = 0; p < HW; p++)
                    for (int c = c0; c < c1; c++) {
                        const size_t o = (size_t)p * C + c, i = g->per_element ? o : (size_t)c;
                        const double gdy = (double)gamma[i] * dy[n * sample + o];
                        const double xhat = (x[n * sample + o] - mean) * invstd;
                        dx[n * sample + o] = (float)(invstd / M * (M * gdy - A - xhat * B));
                    }
            }

    if (!dgamma && !dbeta)
        return;
    /* parameter i collects the elements o = p*C + c of every sample: one o when
     * per element, every p of channel c when per channel */
    const size_t params = g->per_element ? sample : (size_t)C;
    const int pixels = g->per_element ? 1 : HW;
    for (size_t i = 0; i < params; i++) {
        const int c = (int)(i % (size_t)C), gr = c / cpg;
        double sdy = 0, sdyx = 0;
        for (int n = 0; n < N; n++) {
            const double mean = save_mean[(size_t)n * G + gr];
            const double invstd = save_invstd[(size_t)n * G + gr];
            for (int p = 0; p < pixels; p++) {
                const size_t o = n * sample + (g->per_element ? i : (size_t)p * C + i);
                sdy += dy[o];
                sdyx += dy[o] * (x[o] - mean) * invstd;
            }
        }
        if (dbeta)
            dbeta[i] = (float)sdy;
        if (dgamma)
            dgamma[i] = (float)sdyx;
    }
}
