/* bn_sync.c: batch-norm statistics over the rows of several ranks (ops.h,
 * cnn_bn_sync), shared by the reference and the fast batch norm. Each rank
 * sends its row count and two values per channel; every rank combines all of
 * them in rank order, so every rank gets the same numbers to the bit.
 * The buffer: [0, n) this rank's (count, then v), [n, n + ranks*n) everyone's. */
#include "core/core.h"
#include "ops.h"

double *cnn_bn_sync_values(const cnn_bn_geom *g) { return g->sync->buf + 1; }

/* Sends this rank's values; returns everyone's (ranks rows of n) and the rows
 * of all ranks in *rows. */
static const double *exchange(const cnn_bn_geom *g, double *rows)
{
    const cnn_bn_sync *s = g->sync;
    const int n = 1 + 2 * g->c;
    double *all = s->buf + n;
    s->buf[0] = g->m;
    s->gather(s->ctx, s->buf, all, n);
    *rows = 0;
    for (int r = 0; r < s->ranks; r++)
        *rows += all[(size_t)r * n];
    CNN_ASSERT(*rows >= 1);
    return all;
}

double cnn_bn_sync_moments(const cnn_bn_geom *g)
{
    const int C = g->c, n = 1 + 2 * C, R = g->sync->ranks;
    double rows, *v = cnn_bn_sync_values(g);
    const double *all = exchange(g, &rows);
    for (int c = 0; c < C; c++) {
        /* the mean of the union, then each part's squares about it */
        double sum = 0;
        for (int r = 0; r < R; r++)
            sum += all[(size_t)r * n] * all[(size_t)r * n + 1 + c];
        double mu = sum / rows, sq = 0;
        for (int r = 0; r < R; r++) {
            const double *p = all + (size_t)r * n;
            double d = p[1 + c] - mu;
            sq += p[1 + C + c] + p[0] * d * d;
        }
        v[c] = mu;
        v[C + c] = sq / rows;
    }
    return rows;
}

double cnn_bn_sync_sums(const cnn_bn_geom *g)
{
    const cnn_bn_sync *s = g->sync;
    const int C = g->c, n = 1 + 2 * C, R = s->ranks;
    CNN_ASSERT(s->share > 0);
    double rows, *v = cnn_bn_sync_values(g);
    for (int k = 0; k < 2 * C; k++)
        v[k] *= s->share;
    const double *all = exchange(g, &rows);
    for (int k = 0; k < 2 * C; k++) {
        double a = 0;
        for (int r = 0; r < R; r++)
            a += all[(size_t)r * n + 1 + k];
        v[k] = a / s->share;
    }
    return rows;
}
