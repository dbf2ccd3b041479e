/* linear.c: reference fully connected layer, PyTorch's nn.Linear:
 *
 *   y[n,o]  = b[o] + sum_i x[n,i] * w[o,i]        (y = x w^T + b)
 *   dx[n,i] = sum_o dy[n,o] * w[o,i]               (dx = dy w)
 *   dw[o,i] = sum_n dy[n,o] * x[n,i]               (dw = dy^T x)
 *   db[o]   = sum_n dy[n,o]
 *
 * Sums are accumulated in double; every output is written once (overwritten). */
#include "ops/ops.h"

/* x (N,IN), w (OUT,IN), b (OUT) or NULL, y (N,OUT) */
void cnn_ref_linear_forward(int n, int in, int out, const float *x, const float *w,
                            const float *b, float *y)
{
    for (int r = 0; r < n; r++)
        for (int o = 0; o < out; o++) {
            const float *xr = x + (size_t)r * in;
            const float *wo = w + (size_t)o * in;
            double s = b ? b[o] : 0.0;
            for (int i = 0; i < in; i++)
                s += (double)xr[i] * wo[i];
            y[(size_t)r * out + o] = (float)s;
        }
}

/* x (N,IN), w (OUT,IN), dy (N,OUT) -> dx (N,IN), dw (OUT,IN), db (OUT); each may be NULL. */
void cnn_ref_linear_backward(int n, int in, int out, const float *x, const float *w,
                             const float *dy, float *dx, float *dw, float *db)
{
    if (dx)
        for (int r = 0; r < n; r++)
            for (int i = 0; i < in; i++) {
                double s = 0;
                for (int o = 0; o < out; o++)
                    s += (double)dy[(size_t)r * out + o] * w[(size_t)o * in + i];
                dx[(size_t)r * in + i] = (float)s;
            }
    if (dw)
        for (int o = 0; o < out; o++)
            for (int i = 0; i < in; i++) {
                double s = 0;
                for (int r = 0; r < n; r++)
                    s += (double)dy[(size_t)r * out + o] * x[(size_t)r * in + i];
                dw[(size_t)o * in + i] = (float)s;
            }
    if (db)
        for (int o = 0; o < out; o++) {
            double s = 0;
            for (int r = 0; r < n; r++)
                s += dy[(size_t)r * out + o];
            db[o] = (float)s;
        }
}
