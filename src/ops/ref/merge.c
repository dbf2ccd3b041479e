/* merge.c: reference ops that join branches of a network.
 *
 *   add:     y = a + b, elementwise (a residual connection, PyTorch's a + b).
 *            The backward is the identity into both inputs: da = db = dy, so
 *            there is no backward op; the caller hands dy to both branches.
 *   concat:  torch.cat(xs, dim=1) on NCHW, which in NHWC is a concatenation of
 *            the channel rows of each position: input i (N, HW, C_i) lands in
 *            y (N, HW, CT), CT = sum C_i, at channels [off_i, off_i + C_i),
 *            off_i = sum_{j<i} C_j:
 *              y[n,q,off_i + c] = x_i[n,q,c]      dx_i[n,q,c] = dy[n,q,off_i + c]
 */
#include "core/core.h"
#include "ops/ops.h"

/* a (count), b (count) -> y (count); y may alias a or b */
void cnn_ref_add_forward(size_t count, const float *a, const float *b, float *y)
{
    for (size_t i = 0; i < count; i++)
        y[i] = a[i] + b[i];
}

static int total_channels(int k, const int *c)
{
    int ct = 0;
    for (int i = 0; i < k; i++) {
        CNN_ASSERT(c[i] > 0);
        ct += c[i];
    }
    return ct;
}

/* c (k), x[i] (N,HW,c[i]) -> y (N,HW,sum c) */
void cnn_ref_concat_forward(int n, int hw, int k, const int *c, const float *const *x, float *y)
{
    const int ct = total_channels(k, c);
    for (int b = 0; b < n; b++)
        for (int q = 0; q < hw; q++) {
            size_t pos = (size_t)b * hw + q;
            int off = 0;
            for (int i = 0; i < k; i++) {
                for (int ch = 0; ch < c[i]; ch++)
                    y[pos * ct + off + ch] = x[i][pos * c[i] + ch];
                off += c[i];
            }
        }
}

/* c (k), dy (N,HW,sum c) -> dx[i] (N,HW,c[i]); a NULL dx[i] is skipped */
void cnn_ref_concat_backward(int n, int hw, int k, const int *c, const float *dy,
                             float *const *dx)
{
    const int ct = total_channels(k, c);
    for (int b = 0; b < n; b++)
        for (int q = 0; q < hw; q++) {
            size_t pos = (size_t)b * hw + q;
            int off = 0;
            for (int i = 0; i < k; i++) {
                if (dx[i])
                    for (int ch = 0; ch < c[i]; ch++)
                        dx[i][pos * c[i] + ch] = dy[pos * ct + off + ch];
                off += c[i];
            }
        }
}
