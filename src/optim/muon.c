/* muon.c: the Muon update of filter tensors (formulas in include/cnnlab/optim.h).
 *
 * The Newton-Schulz iteration works on the wide orientation X (r x c, r <= c):
 * each step is three matrix products, X X^T (r x r, depth c), A A (r x r) and
 * B X (r x c, depth r), on oneDNN's sgemm; the element-wise parts (the norm,
 * the momentum, the step) are single passes. The reference form does the same
 * arithmetic with plain loops, accumulating every product in double. */
#include <dnnl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cnnlab/optim.h"
#include "core/core.h"

#define NS_A 3.4445f
#define NS_B (-4.7750f)
#define NS_C 2.0315f
#define NS_EPS 1e-7

/* the wide orientation: r <= c */
static void wide(int rows, int cols, int *r, int *c)
{
    *r = rows <= cols ? rows : cols;
    *c = rows <= cols ? cols : rows;
}

size_t cnn_muon_work_floats(int rows, int cols)
{
    int r, c;
    wide(rows, cols, &r, &c);
    return 2 * (size_t)r * c + 2 * (size_t)r * r;
}

static double frobenius(const float *x, size_t n)
{
    double s = 0;
#pragma omp parallel for reduction(+ : s) schedule(static) if (n >= 65536)
    for (size_t i = 0; i < n; i++)
        s += (double)x[i] * x[i];
    return sqrt(s);
}

/* x (r x c) = g / (||g|| + eps), transposed when g is tall */
static void start(int rows, int cols, const float *g, float *x)
{
    const size_t n = (size_t)rows * cols;
    const float inv = (float)(1.0 / (frobenius(g, n) + NS_EPS));
    if (rows <= cols) {
        for (size_t i = 0; i < n; i++)
            x[i] = g[i] * inv;
        return;
    }
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++)
            x[(size_t)j * rows + i] = g[(size_t)i * cols + j] * inv;
}

/* out (rows x cols) from x (r x c), transposed back when g was tall */
static void finish(int rows, int cols, const float *x, float *out)
{
    if (rows <= cols) {
        memcpy(out, x, sizeof *out * (size_t)rows * cols);
        return;
    }
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++)
            out[(size_t)i * cols + j] = x[(size_t)j * rows + i];
}

void cnn_muon_orthogonalize(int rows, int cols, int steps, const float *g, float *out,
                            float *work)
{
    int r, c;
    wide(rows, cols, &r, &c);
    float *x = work, *xn = x + (size_t)r * c, *a = xn + (size_t)r * c, *b = a + (size_t)r * r;
    start(rows, cols, g, x);
    for (int k = 0; k < steps; k++) {
        dnnl_status_t s = dnnl_sgemm('N', 'T', r, r, c, 1.0f, x, c, x, c, 0.0f, a, r);
        CNN_ASSERT(s == dnnl_success);
        s = dnnl_sgemm('N', 'N', r, r, r, NS_C, a, r, a, r, 0.0f, b, r);
        CNN_ASSERT(s == dnnl_success);
        for (size_t i = 0; i < (size_t)r * r; i++)
            b[i] += NS_B * a[i];
        for (size_t i = 0; i < (size_t)r * c; i++)
            xn[i] = NS_A * x[i];
        s = dnnl_sgemm('N', 'N', r, c, r, 1.0f, b, r, x, c, 1.0f, xn, c);
        CNN_ASSERT(s == dnnl_success);
        float *t = x;
        x = xn;
        xn = t;
    }
    finish(rows, cols, x, out);
}

void cnn_muon_orthogonalize_ref(int rows, int cols, int steps, const float *g, float *out)
{
    int r, c;
    wide(rows, cols, &r, &c);
    float *base = malloc(sizeof *base * (2 * (size_t)r * c + 2 * (size_t)r * r)), *x = base;
    CNN_ASSERT(base); /* a reference for tests */
    float *xn = x + (size_t)r * c, *a = xn + (size_t)r * c, *b = a + (size_t)r * r;
    start(rows, cols, g, x);
    for (int k = 0; k < steps; k++) {
        for (int i = 0; i < r; i++)
            for (int j = 0; j < r; j++) {
                double s = 0;
                for (int t = 0; t < c; t++)
                    s += (double)x[(size_t)i * c + t] * x[(size_t)j * c + t];
                a[(size_t)i * r + j] = (float)s;
            }
        for (int i = 0; i < r; i++)
            for (int j = 0; j < r; j++) {
                double s = 0;
                for (int t = 0; t < r; t++)
                    s += (double)a[(size_t)i * r + t] * a[(size_t)t * r + j];
                b[(size_t)i * r + j] = (float)(NS_C * s + NS_B * (double)a[(size_t)i * r + j]);
            }
        for (int i = 0; i < r; i++)
            for (int j = 0; j < c; j++) {
                double s = NS_A * (double)x[(size_t)i * c + j];
                for (int t = 0; t < r; t++)
                    s += (double)b[(size_t)i * r + t] * x[(size_t)t * c + j];
                xn[(size_t)i * c + j] = (float)s;
            }
        float *t = x;
        x = xn;
        xn = t;
    }
    finish(rows, cols, x, out);
    free(base);
}

cnn_status cnn_muon_init(cnn_muon *mu, const cnn_muon_config *c, const cnn_muon_matrix *mats,
                         int n, cnn_error *err)
{
    memset(mu, 0, sizeof *mu);
    if (!(c->lr > 0 && c->lr <= 1000))
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "--muon-lr: expected a number "
                             "above 0 and at most 1000, found %g", (double)c->lr);
    if (!(c->momentum >= 0 && c->momentum < 1))
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "--muon-momentum: expected a "
                             "number from 0 to below 1, found %g", (double)c->momentum);
    if (c->ns_steps < 1 || c->ns_steps > 20)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "--muon-steps: expected an "
                             "integer from 1 to 20, found %d", c->ns_steps);
    if (n < 1)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "--muon-lr: the model has no "
                             "trainable convolution filters for Muon to update");
    size_t most = 0;
    for (int i = 0; i < n; i++) {
        CNN_ASSERT(mats[i].rows >= 1 && mats[i].cols >= 1);
        size_t w = cnn_muon_work_floats(mats[i].rows, mats[i].cols) +
                   2 * (size_t)mats[i].rows * mats[i].cols; /* + the direction, the update */
        most = w > most ? w : most;
    }
    mu->mats = malloc(sizeof *mu->mats * (size_t)n);
    mu->work = cnn_alloc(sizeof *mu->work * most);
    if (!mu->mats || !mu->work) {
        cnn_muon_free(mu);
        return cnn_error_set(err, CNN_STATUS_NO_MEMORY, "Muon: no memory for %zu floats of "
                             "scratch", most);
    }
    memcpy(mu->mats, mats, sizeof *mats * (size_t)n);
    mu->count = n;
    mu->c = *c;
    return CNN_STATUS_OK;
}

void cnn_muon_step(cnn_muon *mu, float lr, float *params, const float *grads, float *m)
{
    const float mom = mu->c.momentum;
    for (int k = 0; k < mu->count; k++) {
        const cnn_muon_matrix *t = &mu->mats[k];
        const size_t n = (size_t)t->rows * t->cols;
        float *p = params + t->offset, *buf = m + t->offset, *u = mu->work;
        const float *g = grads + t->offset;
        float *dir = u + n, *scratch = dir + n;
        for (size_t i = 0; i < n; i++) { /* torch: buf.mul_(mom).add_(g); g.add(buf, alpha=mom) */
            buf[i] = buf[i] * mom + g[i];
            dir[i] = mu->c.nesterov ? g[i] + mom * buf[i] : buf[i];
        }
        if (mu->c.renorm) {
            const float f = (float)(sqrt((double)t->rows) / frobenius(p, n));
            for (size_t i = 0; i < n; i++)
                p[i] *= f;
        }
        cnn_muon_orthogonalize(t->rows, t->cols, mu->c.ns_steps, dir, u, scratch);
        for (size_t i = 0; i < n; i++)
            p[i] -= lr * u[i];
    }
}

void cnn_muon_free(cnn_muon *mu)
{
    free(mu->mats);
    cnn_free(mu->work);
    memset(mu, 0, sizeof *mu);
}
