/* softmax_xent.c: fast softmax cross-entropy, same semantics as
 * ref/softmax_xent.c (PyTorch's CrossEntropyLoss, mean over the batch):
 *
 *   loss    = (1/N) sum_n ( max_n + log sum_k e^(z[n,k] - max_n) - z[n,label] )
 *   dz[n,k] = (p[n,k] - [k == label]) / N
 *
 * Rows are independent; threads split them for large problems. The exponentials
 * are computed once, in float, into dlogits when it is given; each row's sum and
 * the loss accumulate in double. */
#include <math.h>

#include "core/core.h"
#include "ops/ops.h"

/* One row: returns its loss term; writes its gradient into d (K) when d is not
 * NULL; sets *right to whether its first arg-max is the label. */
static double row_xent(int k, const float *z, int label, float inv_n, float *d, int *right)
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
#pragma omp simd
        for (int j = 0; j < k; j++)
            d[j] *= scale;
        /* p - 1 = -(sum of the other terms) / s, free of cancellation */
        d[label] = -(float)((s - e_label) / s) * inv_n;
    } else {
        for (int j = 0; j < k; j++)
            s += expf(z[j] - zmax);
    }
    return (double)zmax + log(s) - (double)z[label];
}

/* logits (N,K), labels (N) in [0,K), dlogits (N,K) or NULL, correct or NULL */
float cnn_fast_softmax_xent(int n, int k, const float *logits, const uint8_t *labels,
                            float *dlogits, int *correct)
{
    double total = 0;
    int right = 0;
    const float inv_n = 1.0f / (float)n;
#pragma omp parallel for schedule(static) reduction(+ : total, right) if ((size_t)n * k >= 65536)
    for (int r = 0; r < n; r++) {
        int label = labels[r];
        CNN_ASSERT(label < k);
        int ok;
        total += row_xent(k, logits + (size_t)r * k, label, inv_n,
                          dlogits ? dlogits + (size_t)r * k : NULL, &ok);
        right += ok;
    }
    if (correct)
        *correct = right;
    return (float)(total / n);
}
