/* linear.c: fully connected layer on oneDNN's sgemm (row-major).
 *   forward   y (N,OUT)  = x (N,IN) . w^T (IN,OUT) + b, then act
 *   backward  dy' = dy * act'(y);  dx (N,IN) = dy' . w;  dw (OUT,IN) = dy'^T . x;
 *             db = column sums of dy'
 */
#include <dnnl.h>
#include <math.h>

#include "core/core.h"
#include "fast.h"

void cnn_fast_linear_forward(int n, int in, int out, const float *x, const float *w,
                             const float *b, cnn_act act, float *y)
{
    dnnl_status_t s = dnnl_sgemm('N', 'T', n, out, in, 1.0f, x, in, w, in, 0.0f, y, out);
    CNN_ASSERT(s == dnnl_success);
    if (b) {
#pragma omp parallel for if ((size_t)n * out >= 65536)
        for (int i = 0; i < n; i++) {
            float *row = y + (size_t)i * out;
#pragma omp simd
            for (int j = 0; j < out; j++)
                row[j] += b[j];
        }
    }
    if (act != CNN_ACT_NONE)
        cnn_fast_act_forward(act, (size_t)n * out, y, y);
}

void cnn_fast_linear_backward(int n, int in, int out, const float *x, const float *w,
                              const float *y, cnn_act act, float *dy, float *dx, float *dw,
                              float *db)
{
    if (act != CNN_ACT_NONE)
        cnn_fast_act_backward(act, (size_t)n * out, NULL, y, dy, dy);
    dnnl_status_t s;
    if (dx) {
        s = dnnl_sgemm('N', 'N', n, in, out, 1.0f, dy, out, w, in, 0.0f, dx, in);
        CNN_ASSERT(s == dnnl_success);
    }
    if (dw) {
        s = dnnl_sgemm('T', 'N', out, in, n, 1.0f, dy, out, x, in, 0.0f, dw, in);
        CNN_ASSERT(s == dnnl_success);
    }
    if (db) {
        for (int j = 0; j < out; j++)
            db[j] = 0.0f;
        for (int i = 0; i < n; i++) {
            const float *row = dy + (size_t)i * out;
#pragma omp simd
            for (int j = 0; j < out; j++)
                db[j] += row[j];
        }
    }
}
