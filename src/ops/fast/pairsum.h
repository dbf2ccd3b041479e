/* pairsum.h: the per-channel reduction that batch and group normalisation
 * share. Over rows of n channels it forms two sums,
 *
 *   s1 = sum d,  s2 = sum d * (x - m)
 *
 * (the statistics: d = x - K, so s2 = sum (x - K)^2; the backward: d = the
 * incoming gradient, m the mean), in float over PAIRSUM_CHUNK rows at a time
 * and then in double, so that the inner loop stays float and vectorises while
 * a long sum keeps double's precision. The order of additions depends only on
 * the rows fed, so callers stay bitwise reproducible. */
#ifndef CNNLAB_OPS_FAST_PAIRSUM_H
#define CNNLAB_OPS_FAST_PAIRSUM_H

#define PAIRSUM_LANES 256 /* most channels one accumulator holds */
#define PAIRSUM_CHUNK 32  /* rows a float partial sums before joining the double */

typedef struct cnn_pairsum {
    int n, rows; /* channels; rows in the float partials */
    float p1[PAIRSUM_LANES], p2[PAIRSUM_LANES];
    double t1[PAIRSUM_LANES], t2[PAIRSUM_LANES];
} cnn_pairsum;

static inline void cnn_pairsum_start(cnn_pairsum *a, int n)
{
    a->n = n;
    a->rows = 0;
    for (int j = 0; j < n; j++) {
        a->p1[j] = a->p2[j] = 0.0f;
        a->t1[j] = a->t2[j] = 0.0;
    }
}

/* Moves the float partials into the double sums (the last call before the
 * sums t1, t2 are read). */
static inline void cnn_pairsum_flush(cnn_pairsum *a)
{
#pragma omp simd
    for (int j = 0; j < a->n; j++) {
        a->t1[j] += a->p1[j];
        a->t2[j] += a->p2[j];
        a->p1[j] = a->p2[j] = 0.0f;
    }
    a->rows = 0;
}

static inline void cnn_pairsum_row_done(cnn_pairsum *a)
{
    if (++a->rows == PAIRSUM_CHUNK)
        cnn_pairsum_flush(a);
}

/* One row: s1 += d, s2 += d * (x - m). */
static inline void cnn_pairsum_add(cnn_pairsum *a, const float *d, const float *x, const float *m)
{
    float *p1 = a->p1, *p2 = a->p2;
#pragma omp simd
    for (int j = 0; j < a->n; j++) {
        p1[j] += d[j];
        p2[j] += d[j] * (x[j] - m[j]);
    }
    cnn_pairsum_row_done(a);
}

/* One row of the statistics: s1 += x - k, s2 += (x - k)^2. */
static inline void cnn_pairsum_add_shifted(cnn_pairsum *a, const float *x, const float *k)
{
    float *p1 = a->p1, *p2 = a->p2;
#pragma omp simd
    for (int j = 0; j < a->n; j++) {
        float d = x[j] - k[j];
        p1[j] += d;
        p2[j] += d * d;
    }
    cnn_pairsum_row_done(a);
}

/* k (n) = the mean of the first `rows` rows of x (row r at x + r * stride):
 * the shift K of the statistics, close enough to the mean that E[d^2] - E[d]^2
 * does not cancel. */
static inline void cnn_pairsum_pilot(const float *x, int rows, size_t stride, int n, float *k)
{
    for (int j = 0; j < n; j++)
        k[j] = 0.0f;
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * stride;
#pragma omp simd
        for (int j = 0; j < n; j++)
            k[j] += xr[j];
    }
    for (int j = 0; j < n; j++)
        k[j] /= (float)rows;
}

#endif
