/* softmax_xent.c: reference softmax cross-entropy, PyTorch's
 * nn.CrossEntropyLoss(label_smoothing = s) (reduction = mean) on logits (N,K)
 * and class labels:
 *
 *   p[n,k]  = exp(z[n,k] - max_k z[n,:]) / sum_j exp(z[n,j] - max_k z[n,:])
 *   q[n,k]  = (1 - s) [k == label[n]] + s / K          (the smoothed target)
 *   loss    = -(1/N) sum_n sum_k q[n,k] log p[n,k]
 *           =  (1/N) sum_n ( (1-s) (lse_n - z[n,label]) + s (lse_n - mean_k z[n,k]) )
 *   dz[n,k] = (p[n,k] - q[n,k]) / N
 *
 * with lse_n = logsumexp(z[n,:]); the second form follows from sum_k q = 1 and
 * log p[n,k] = z[n,k] - lse_n. s = 0 is the plain cross-entropy. Subtracting
 * the row maximum keeps exp() from overflowing. correct counts the rows whose
 * arg-max (the first maximum on ties) equals the label. */
#include <math.h>

#include "core/core.h"
#include "ops/ops.h"

/* logits (N,K), labels (N) in [0,K), dlogits (N,K) or NULL, correct or NULL */
float cnn_ref_softmax_xent(int n, int k, const float *logits, const uint8_t *labels,
                           float smoothing, float *dlogits, int *correct)
{
    CNN_ASSERT(smoothing >= 0.0f && smoothing < 1.0f);
    const double s_mix = smoothing, s_each = (double)smoothing / k;
    double total = 0;
    int right = 0;
    for (int r = 0; r < n; r++) {
        const float *z = logits + (size_t)r * k;
        int label = labels[r];
        CNN_ASSERT(label < k);
        int arg = 0;
        for (int j = 1; j < k; j++)
            if (z[j] > z[arg])
                arg = j;
        right += arg == label;
        double zmax = z[arg], s = 0, zsum = 0;
        for (int j = 0; j < k; j++) {
            s += exp((double)z[j] - zmax);
            zsum += z[j];
        }
        double lse = zmax + log(s);
        total += (1.0 - s_mix) * (lse - z[label]) + s_mix * (lse - zsum / k);
        if (dlogits)
            for (int j = 0; j < k; j++) {
                double p = exp((double)z[j] - zmax) / s;
                double q = (1.0 - s_mix) * (j == label) + s_each;
                dlogits[(size_t)r * k + j] = (float)((p - q) / n);
            }
    }
    if (correct)
        *correct = right;
    return (float)(total / n);
}
