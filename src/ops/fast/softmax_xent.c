/* softmax_xent.c: fast softmax cross-entropy, same semantics as
 * ref/softmax_xent.c (PyTorch's CrossEntropyLoss with label_smoothing s, mean
 * over the batch):
 *
 *   a_n     = lse_n - z[n,label],  b_n = lse_n - mean_k z[n,k],
 *             lse_n = max_n + log sum_k e^(z[n,k] - max_n)
 *   loss    = (1/N) sum_n ( a_n + s (b_n - a_n) )
 *   dz[n,k] = (p[n,k] - (1-s) [k == label] - s/K) / N
 *
 * Rows are independent; threads split them for large problems. The exponentials
 * are computed once, in float, into dlogits when it is given; each row's sum and
 * the loss accumulate in double. */
#include <math.h>

#include "core/core.h"
#include "ops/ops.h"

/* One row: returns its loss term; writes its gradient into d (K) when d is not
 * NULL; sets *right to whether its first arg-max is the label; s_mix is the
 * smoothing. */
static double row_xent(int k, const float *z, int label, float s_mix, float inv_n, float *d,
                       int *right)
{
    int arg = 0;
    for (int j = 1; j < k; j++)
        if (z[j] > z[arg])
            arg = j;
    *right = arg == label;
    const float zmax = z[arg];
    double s = 0;
    if (d) {
        for (int j = 0; j < k; j++) {
            d[j] = expf(z[j] - zmax);
            s += d[j];
        }
        const double e_label = d[label];
        const float scale = (float)(1.0 / s) * inv_n;
        const float each = s_mix / (float)k * inv_n; /* s/K, scaled; 0 without smoothing */
#pragma omp simd
        for (int j = 0; j < k; j++)
            d[j] = d[j] * scale - each;
        /* p - 1 = -(sum of the other terms) / s, free of cancellation; the
         * smoothing gives back s - s/K of the label's target */
        d[label] = (-(float)((s - e_label) / s) + (s_mix - s_mix / (float)k)) * inv_n;
    } else {
        for (int j = 0; j < k; j++)
            s += expf(z[j] - zmax);
    }
    const double lse = (double)zmax + log(s);
    const double a = lse - (double)z[label];
    if (s_mix == 0.0f)
        return a;
    double zsum = 0;
    for (int j = 0; j < k; j++)
        zsum += z[j];
    return a + (double)s_mix * ((lse - zsum / k) - a);
}

/* logits (N,K), labels (N) in [0,K), dlogits (N,K) or NULL, correct or NULL */
float cnn_fast_softmax_xent(int n, int k, const float *logits, const uint8_t *labels,
                            float smoothing, float *dlogits, int *correct)
{
    CNN_ASSERT(smoothing >= 0.0f && smoothing < 1.0f);
    double total = 0;
    int right = 0;
    const float inv_n = 1.0f / (float)n;
#pragma omp parallel for schedule(static) reduction(+ : total, right) if ((size_t)n * k >= 65536)
    for (int r = 0; r < n; r++) {
        int label = labels[r];
        CNN_ASSERT(label < k);
        int ok;
        total += row_xent(k, logits + (size_t)r * k, label, smoothing, inv_n,
                          dlogits ? dlogits + (size_t)r * k : NULL, &ok);
        right += ok;
    }
    if (correct)
        *correct = right;
    return (float)(total / n);
}
