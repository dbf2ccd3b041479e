/* dropout.c: reference inverted dropout, PyTorch's nn.Dropout(p) and
 * nn.Dropout2d(p) in training mode (in eval mode they are the identity, and
 * callers skip them):
 *
 *   mask[i]   = 1 with probability 1-p, else 0     (one byte per element)
 *   dropout:  y[i] = x[i] * mask[i] / (1-p)        dx[i] = dy[i] * mask[i] / (1-p)
 *   2d:       y[n,q,c] = x[n,q,c] * mask[n,c] / (1-p)   (one draw per channel of a
 *             sample, broadcast over the H*W positions q)
 *             dx[n,q,c] = dy[n,q,c] * mask[n,c] / (1-p)
 *
 * As PyTorch, a dropped element is x * 0, so a NaN or infinity in x still
 * shows as NaN in y. The scale is the float 1 / (1-p), as PyTorch's mask
 * (bernoulli(1-p) / (1-p)). p lies in [0, 1). The mask comes from
 * cnn_dropout_mask, the one place randomness enters: the same RNG state gives
 * the same mask on every machine and thread count. */
#include <string.h>

#include "core/core.h"
#include "ops/ops.h"

/* mask (count): mask[i] = (u_i >= p) for consecutive uniforms u_i of rng. p == 0
 * keeps everything without drawing (the RNG is left as it was). */
void cnn_dropout_mask(cnn_rng *rng, size_t count, float p, uint8_t *mask)
{
    CNN_ASSERT(p >= 0.0f && p < 1.0f);
    if (p == 0.0f) {
        memset(mask, 1, count);
        return;
    }
    const double pd = p;
    for (size_t i = 0; i < count; i++)
        mask[i] = cnn_rng_uniform(rng) >= pd;
}

/* mask (count), x (count) -> y (count) */
void cnn_ref_dropout_forward(size_t count, float p, const uint8_t *mask, const float *x, float *y)
{
    const float scale = 1.0f / (1.0f - p);
    for (size_t i = 0; i < count; i++)
        y[i] = x[i] * (mask[i] ? scale : 0.0f);
}

/* mask (count), dy (count) -> dx (count) or NULL */
void cnn_ref_dropout_backward(size_t count, float p, const uint8_t *mask, const float *dy,
                              float *dx)
{
    if (!dx)
        return;
    const float scale = 1.0f / (1.0f - p);
    for (size_t i = 0; i < count; i++)
        dx[i] = dy[i] * (mask[i] ? scale : 0.0f);
}

/* mask (N,C), x (N,HW,C) -> y (N,HW,C) */
void cnn_ref_dropout2d_forward(int n, int hw, int c, float p, const uint8_t *mask, const float *x,
                               float *y)
{
    const float scale = 1.0f / (1.0f - p);
    for (int b = 0; b < n; b++)
        for (int q = 0; q < hw; q++)
            for (int ch = 0; ch < c; ch++) {
                size_t i = ((size_t)b * hw + q) * c + ch;
                y[i] = x[i] * (mask[(size_t)b * c + ch] ? scale : 0.0f);
            }
}

/* mask (N,C), dy (N,HW,C) -> dx (N,HW,C) or NULL */
void cnn_ref_dropout2d_backward(int n, int hw, int c, float p, const uint8_t *mask,
                                const float *dy, float *dx)
{
    if (!dx)
        return;
    const float scale = 1.0f / (1.0f - p);
    for (int b = 0; b < n; b++)
        for (int q = 0; q < hw; q++)
            for (int ch = 0; ch < c; ch++) {
                size_t i = ((size_t)b * hw + q) * c + ch;
                dx[i] = dy[i] * (mask[(size_t)b * c + ch] ? scale : 0.0f);
            }
}
