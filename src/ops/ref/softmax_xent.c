/* softmax_xent.c: reference softmax cross-entropy, PyTorch's
 * nn.CrossEntropyLoss (reduction = mean) on logits (N,K) and class labels:
 *
 *   p[n,k]  = exp(z[n,k] - max_k z[n,:]) / sum_j exp(z[n,j] - max_k z[n,:])
 *   loss    = (1/N) sum_n ( logsumexp(z[n,:]) - z[n,label[n]] )
 *   dz[n,k] = (p[n,k] - [k == label[n]]) / N
 *
 * Subtracting the row maximum keeps exp() from overflowing. correct counts the
 * rows whose arg-max (the first maximum on ties) equals the label. */
#include <math.h>

#include "core/core.h"
#include "ops/ops.h"

/* logits (N,K), labels (N) in [0,K), dlogits (N,K) or NULL, correct or NULL */
float cnn_ref_softmax_xent(int n, int k, const float *logits, const uint8_t *labels,
                           float *dlogits, int *correct)
{
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
        double zmax = z[arg], s = 0;
        for (int j = 0; j < k; j++)
            s += exp((double)z[j] - zmax);
        total += zmax + log(s) - z[label];
        if (dlogits)
            for (int j = 0; j < k; j++) {
                double p = exp((double)z[j] - zmax) / s;
                dlogits[(size_t)r * k + j] = (float)((p - (j == label)) / n);
            }
    }
    if (correct)
        *correct = right;
    return (float)(total / n);
}
