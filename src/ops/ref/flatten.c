/* flatten.c: reference flatten, PyTorch's nn.Flatten on an NCHW tensor. Our
 * activations are NHWC, so flattening reorders to PyTorch's (C,H,W) order and a
 * following linear layer's weights mean what they mean in PyTorch:
 *
 *   y[n*(C*H*W) + c*H*W + h*W + w] = x[((n*H + h)*W + w)*C + c]
 *
 * The backward is the inverse permutation (every dx element written once). */
#include "ops/ops.h"

/* x (N,H,W,C), y (N,C*H*W) */
void cnn_ref_flatten_forward(int n, int h, int w, int c, const float *x, float *y)
{
    for (int b = 0; b < n; b++)
        for (int ch = 0; ch < c; ch++)
            for (int r = 0; r < h; r++)
                for (int col = 0; col < w; col++)
                    y[(((size_t)b * c + ch) * h + r) * w + col] =
                        x[(((size_t)b * h + r) * w + col) * c + ch];
}

/* dy (N,C*H*W) -> dx (N,H,W,C) or NULL */
void cnn_ref_flatten_backward(int n, int h, int w, int c, const float *dy, float *dx)
{
    if (!dx)
        return;
    for (int b = 0; b < n; b++)
        for (int ch = 0; ch < c; ch++)
            for (int r = 0; r < h; r++)
                for (int col = 0; col < w; col++)
                    dx[(((size_t)b * h + r) * w + col) * c + ch] =
                        dy[(((size_t)b * c + ch) * h + r) * w + col];
}
