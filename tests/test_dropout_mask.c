/* test_dropout_mask.c: the statistics of cnn_dropout_mask and of dropout's
 * output, the one random part of the dropout ops (their arithmetic is checked
 * by tests/test_ref_grad.c and tests/test_fast_ops.c with fixed masks).
 *
 *   keep rate:   over 1e6 draws the kept fraction is within 5 standard errors
 *                (sqrt(p(1-p)/n)) of 1-p, for p = 0.1, 0.5, 0.9
 *   independence: the fraction of consecutive kept pairs is within 5 standard
 *                errors of (1-p)^2
 *   expectation: the mean of dropout(x) is within 5 standard errors of the
 *                mean of x (inverted dropout keeps E[y] = x), for Dropout and
 *                Dropout2d
 *   determinism: the same RNG state gives the same mask; another seed another
 *   p = 0:       keeps everything
 *
 * The draws are seeded, so the outcome is fixed; 5 standard errors make a
 * false failure of a correct implementation a < 1e-6 event per check. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "core/core.h"
#include "ops/ops.h"

#define DRAWS 1000000
#define Z_MAX 5.0

static uint8_t *mask_of(uint64_t seed, size_t count, float p)
{
    uint8_t *m = malloc(count);
    if (!m) {
        fprintf(stderr, "test_dropout_mask: out of memory\n");
        exit(2);
    }
    cnn_rng rng;
    cnn_rng_init(&rng, seed, CNN_STREAM_DROPOUT, 0);
    cnn_dropout_mask(&rng, count, p, m);
    return m;
}

/* Records |observed - expected| / se <= Z_MAX and prints the z-score. */
static void check_z(const char *what, double observed, double expected, double se)
{
    double z = fabs(observed - expected) / se;
    printf("  %-52s %.6f vs %.6f  z %.2f (pass when <= %g)\n", what, observed, expected, z, Z_MAX);
    check(z <= Z_MAX, "%s: %.6f, expected %.6f (z %.2f)", what, observed, expected, z);
}

static void test_keep_rate(float p)
{
    uint8_t *m = mask_of(42, DRAWS, p);
    size_t kept = 0, pairs = 0, other = 0;
    for (size_t i = 0; i < DRAWS; i++) {
        kept += m[i] == 1;
        other += m[i] > 1;
        if (i > 0)
            pairs += m[i] && m[i - 1];
    }
    check(other == 0, "p %.1f: %zu mask bytes neither 0 nor 1", (double)p, other);
    const double q = 1.0 - p, n = DRAWS;
    char what[96];
    snprintf(what, sizeof what, "p %.1f: kept fraction of %d", (double)p, DRAWS);
    check_z(what, kept / n, q, sqrt(p * q / n));
    /* overlapping pairs are correlated: the variance of their mean is about
     * (v + 2 cov) / n with v = q^2 (1 - q^2), cov = q^3 - q^4 */
    const double v = q * q * (1 - q * q), cov = q * q * q - q * q * q * q;
    snprintf(what, sizeof what, "p %.1f: consecutive kept pairs", (double)p);
    check_z(what, pairs / (n - 1), q * q, sqrt((v + 2 * cov) / (n - 1)));
    free(m);
}

/* The mean of dropout(x) against the mean of x, x ~ U(0.5, 1.5). */
static void test_expectation(int two_d, float p)
{
    const int n = 100, hw = two_d ? 100 : 1, c = two_d ? 100 : DRAWS / 100;
    const size_t count = (size_t)n * hw * c, masks = two_d ? (size_t)n * c : count;
    float *x = malloc(count * sizeof *x), *y = malloc(count * sizeof *y);
    unsigned state = 99;
    check_fill(x, count, &state, 0.5f, 1.5f);
    uint8_t *m = mask_of(7, masks, p);
    if (two_d)
        cnn_fast_dropout2d_forward(n, hw, c, p, m, x, y);
    else
        cnn_fast_dropout_forward(count, p, m, x, y);
    /* The mean of y is the mean of its `masks` independent units (an element,
     * or for Dropout2d the mean of one (n, c) channel over HW): the standard
     * error is the units' spread / sqrt(masks). */
    double sx = 0, sy = 0, syy = 0;
    for (int b = 0; b < n; b++)
        for (int ch = 0; ch < c; ch++) {
            double u = 0;
            for (int q = 0; q < hw; q++) {
                size_t i = ((size_t)b * hw + q) * c + ch;
                sx += x[i];
                u += y[i];
            }
            u /= hw;
            sy += u, syy += u * u;
        }
    const double mx = sx / count, my = sy / masks;
    const double se = sqrt((syy / masks - my * my) / masks);
    char what[96];
    snprintf(what, sizeof what, "%s p %.1f: mean of y vs mean of x", two_d ? "dropout2d" : "dropout",
             (double)p);
    check_z(what, my, mx, se);
    free(x), free(y), free(m);
}

static void test_determinism(void)
{
    const size_t count = 100000;
    uint8_t *a = mask_of(1234, count, 0.5f), *b = mask_of(1234, count, 0.5f);
    uint8_t *c = mask_of(1235, count, 0.5f);
    size_t differ = 0;
    for (size_t i = 0; i < count; i++)
        differ += a[i] != c[i];
    check(memcmp(a, b, count) == 0, "same seed: masks differ");
    /* two independent masks disagree at about half the positions */
    check(differ > count / 2 - 2500 && differ < count / 2 + 2500,
          "another seed: %zu of %zu positions differ, expected about half", differ, count);
    printf("  same seed: identical masks; seeds 1234 vs 1235: %zu of %zu positions differ\n",
           differ, count);

    /* The same state, not just the same seed: a copied RNG continues alike. */
    cnn_rng r1, r2;
    cnn_rng_init(&r1, 5, CNN_STREAM_DROPOUT, 3);
    for (int i = 0; i < 17; i++)
        cnn_rng_next(&r1);
    r2 = r1;
    cnn_dropout_mask(&r1, count, 0.3f, a);
    cnn_dropout_mask(&r2, count, 0.3f, b);
    check(memcmp(a, b, count) == 0, "same RNG state: masks differ");

    uint8_t *z = mask_of(1234, count, 0.0f);
    size_t kept = 0;
    for (size_t i = 0; i < count; i++)
        kept += z[i] == 1;
    check(kept == count, "p = 0: %zu of %zu kept", kept, count);
    printf("  same RNG state: identical masks; p = 0 keeps %zu of %zu\n", kept, count);
    free(a), free(b), free(c), free(z);
}

int main(void)
{
    printf("test_dropout_mask: cnn_dropout_mask statistics on %d draws\n", DRAWS);
    const float ps[3] = {0.1f, 0.5f, 0.9f};
    for (int i = 0; i < 3; i++)
        test_keep_rate(ps[i]);
    for (int i = 0; i < 3; i++) {
        test_expectation(0, ps[i]);
        test_expectation(1, ps[i]);
    }
    test_determinism();
    return check_finish("test_dropout_mask");
}
