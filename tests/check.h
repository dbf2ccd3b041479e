/* check.h: what every test program shares: comparisons that print what they
 * compared and with which tolerance, a failure count that becomes the exit
 * status, and small float-buffer helpers (allocate, fill, bitwise compare,
 * dot). Include once per test program. */
#ifndef CNN_TEST_CHECK_H
#define CNN_TEST_CHECK_H

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_failures;
static int check_count;

/* Records a pass/fail with a printf-style description. */
static void check(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void check(int ok, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    check_count++;
    if (!ok) {
        check_failures++;
        fputs("FAIL ", stdout);
        vprintf(fmt, ap);
        fputc('\n', stdout);
    }
    va_end(ap);
}

/* Whether the CPU has what oneDNN's Winograd and bf16 convolutions need
 * (AVX-512 with the byte/word and doubleword/quadword extensions, which
 * oneDNN calls avx512_core). Without it their absence is a skip, not a
 * failure; with it, a missing kernel is a failure. */
__attribute__((unused)) static int check_cpu_avx512_core(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
}

/* max over i of |a-b| / (atol + rtol*|b|); passes when <= 1. Prints the worst. */
__attribute__((unused)) static int check_close(const char *what, const float *a, const float *b, size_t n, double rtol,
                       double atol)
{
    double worst = 0;
    size_t wi = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]) / (atol + rtol * fabs((double)b[i]));
        if (!(d <= worst)) { /* also catches NaN */
            worst = d;
            wi = i;
            if (isnan(d))
                break;
        }
    }
    int ok = worst <= 1.0;
    check_count++;
    if (!ok) {
        check_failures++;
        printf("FAIL %s: element %zu: %.8g vs %.8g (rtol %g, atol %g, ratio %.3g)\n", what, wi,
               (double)a[wi], (double)b[wi], rtol, atol, worst);
    }
    return ok;
}

/* check_close, after printing "  <what> <n> values  worst ratio <r>" with what
 * padded to width: one line per comparison, passing or not. */
__attribute__((unused)) static int check_close_print(const char *what, int width, const float *a,
                                                     const float *b, size_t n, double rtol,
                                                     double atol)
{
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]) / (atol + rtol * fabs((double)b[i]));
        if (!(d <= worst))
            worst = d;
    }
    printf("  %-*s %4zu values  worst ratio %.3f\n", width, what, n, worst);
    return check_close(what, a, b, n, rtol, atol);
}

/* Prints the summary and returns the exit status for main. */
static int check_finish(const char *name)
{
    printf("%s: %d checks, %d failed\n", name, check_count, check_failures);
    return check_failures ? 1 : 0;
}

/* The cosine of the angle between a and b (n values each): 1 when they point
 * the same way, about 0 for unrelated data. */
__attribute__((unused)) static double check_cosine(const float *a, const float *b, size_t n)
{
    double dot = 0, a2 = 0, b2 = 0;
    for (size_t i = 0; i < n; i++) {
        dot += (double)a[i] * b[i];
        a2 += (double)a[i] * a[i];
        b2 += (double)b[i] * b[i];
    }
    return dot / (sqrt(a2 * b2) + 1e-30);
}

/* Fills a with uniform values in [lo, hi) from a small LCG (tests only). */
__attribute__((unused)) static void check_fill(float *a, size_t n, unsigned *state, float lo, float hi)
{
    for (size_t i = 0; i < n; i++) {
        *state = *state * 1664525u + 1013904223u;
        a[i] = lo + (hi - lo) * (float)((*state >> 8) & 0xffffff) / 16777216.0f;
    }
}

/* n floats, zeroed (at least one, so n = 0 is not NULL); exits with status 2
 * when memory runs out. */
__attribute__((unused)) static float *check_falloc(size_t n)
{
    float *p = calloc(n ? n : 1, sizeof *p);
    if (!p) {
        fprintf(stderr, "test: out of memory (%zu floats)\n", n);
        exit(2);
    }
    return p;
}

/* n floats, left uninitialised (at least one); exits with status 2 when
 * memory runs out. */
__attribute__((unused)) static float *check_fresh(size_t n)
{
    float *p = malloc((n ? n : 1) * sizeof *p);
    if (!p) {
        fprintf(stderr, "test: out of memory (%zu floats)\n", n);
        exit(2);
    }
    return p;
}

/* n floats uniform in [lo, hi), drawn by check_fill from *state. */
__attribute__((unused)) static float *check_frand(size_t n, unsigned *state, float lo, float hi)
{
    float *p = check_falloc(n);
    check_fill(p, n, state, lo, hi);
    return p;
}

/* n floats, all NaN: an output buffer whose unwritten elements fail any
 * comparison. */
__attribute__((unused)) static float *check_fnan(size_t n)
{
    float *p = check_falloc(n);
    for (size_t i = 0; i < n; i++)
        p[i] = NAN;
    return p;
}

/* Whether a (n) and b (n) hold the same bits. */
__attribute__((unused)) static int check_bitwise_equal(const float *a, const float *b, size_t n)
{
    return memcmp(a, b, n * sizeof *a) == 0;
}

/* sum_i y_i * r_i over n, accumulated in double: the scalar objective of the
 * finite-difference checks. */
__attribute__((unused)) static double check_dot(const float *y, const float *r, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)y[i] * r[i];
    return s;
}

#endif
