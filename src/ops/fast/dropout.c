/* dropout.c: fast inverted dropout, same semantics as ref/dropout.c (PyTorch's
 * nn.Dropout and nn.Dropout2d in training):
 *
 *   dropout:  y[i] = x[i] * (mask[i] ? 1/(1-p) : 0),   dx likewise from dy
 *   2d:       y[n,q,c] = x[n,q,c] * (mask[n,c] ? 1/(1-p) : 0)
 *
 * Memory bound: one vectorised pass (the byte mask becomes a select), threaded
 * for large counts. Dropout2d runs over (n, q) rows with the sample's mask row
 * innermost along the channels. The mask itself comes from cnn_dropout_mask in
 * ref/dropout.c: drawing it is sequential by design, so one seed gives one mask
 * whatever the thread count. Each element is read before it is written at the
 * same index, so x and y (dy and dx) may alias. */
#include "core/core.h"
#include "ops/ops.h"

/* below this many elements one thread does the work */
#define DROPOUT_PARALLEL_MIN 32768

static void scale_masked(size_t count, float p, const uint8_t *mask, const float *a, float *b)
{
    const float scale = 1.0f / (1.0f - p);
#pragma omp parallel for simd schedule(static) if (count >= DROPOUT_PARALLEL_MIN)
    for (size_t i = 0; i < count; i++)
        b[i] = a[i] * (mask[i] ? scale : 0.0f);
}

/* mask (count), x (count) -> y (count) */
void cnn_fast_dropout_forward(size_t count, float p, const uint8_t *mask, const float *x, float *y)
{
    scale_masked(count, p, mask, x, y);
}

/* mask (count), dy (count) -> dx (count) or NULL */
void cnn_fast_dropout_backward(size_t count, float p, const uint8_t *mask, const float *dy,
                               float *dx)
{
    if (dx)
        scale_masked(count, p, mask, dy, dx);
}

/* mask (N,C), a (N,HW,C) -> b (N,HW,C) */
static void scale_channels(int n, int hw, int c, float p, const uint8_t *mask, const float *a,
                           float *b)
{
    const float scale = 1.0f / (1.0f - p);
    const size_t rows = (size_t)n * hw;
#pragma omp parallel for schedule(static) if (rows * c >= DROPOUT_PARALLEL_MIN)
    for (size_t r = 0; r < rows; r++) {
        const uint8_t *m = mask + (r / (size_t)hw) * c; /* (C) of this row's sample */
        const float *ar = a + r * c;
        float *br = b + r * c;
#pragma omp simd
        for (int ch = 0; ch < c; ch++)
            br[ch] = ar[ch] * (m[ch] ? scale : 0.0f);
    }
}

void cnn_fast_dropout2d_forward(int n, int hw, int c, float p, const uint8_t *mask,
                                const float *x, float *y)
{
    scale_channels(n, hw, c, p, mask, x, y);
}

void cnn_fast_dropout2d_backward(int n, int hw, int c, float p, const uint8_t *mask,
                                 const float *dy, float *dx)
{
    if (dx)
        scale_channels(n, hw, c, p, mask, dy, dx);
}
