/* peak.c: the machine's arithmetic peak, measured rather than looked up.
 *
 * Every thread runs CHAINS independent chains of 512-bit multiply-adds that
 * never touch memory: fp32 FMA (16 lanes, 2 FLOPs each) or bf16 dot products
 * with fp32 accumulation (vdpbf16ps: 16 lanes of 2 products and their sum
 * added, 4 FLOPs each). Enough chains hide the instructions' latency, so the
 * loop runs at the core's issue rate. The peak is total FLOPs over the wall
 * time of the whole team, the best of three timed runs, each about `seconds`
 * long after a calibration run.
 *
 * Builds without the instructions (the portable build has no AVX-512) measure
 * nothing and return 0; so do CPUs without them, as the build then does not
 * run at all. */
#include <omp.h>

#include "core.h"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#define CHAINS 12

#if defined(__AVX512F__)
/* The body both kernels share: CHAINS accumulators a0..a11, each updated by
 * STEP(a) per round, then summed into one value that depends on every chain,
 * so that the compiler keeps them. Written out, not as an array, so that the
 * accumulators stay in registers at any optimisation level. */
#define CHAIN_ROUNDS(reps, STEP)                                                                \
    __m512 a0 = _mm512_set1_ps(0.0f), a1 = _mm512_set1_ps(1.0f), a2 = _mm512_set1_ps(2.0f);     \
    __m512 a3 = _mm512_set1_ps(3.0f), a4 = _mm512_set1_ps(4.0f), a5 = _mm512_set1_ps(5.0f);     \
    __m512 a6 = _mm512_set1_ps(6.0f), a7 = _mm512_set1_ps(7.0f), a8 = _mm512_set1_ps(8.0f);     \
    __m512 a9 = _mm512_set1_ps(9.0f), a10 = _mm512_set1_ps(10.0f), a11 = _mm512_set1_ps(11.0f); \
    for (long r = 0; r < (reps); r++) {                                                         \
        a0 = STEP(a0), a1 = STEP(a1), a2 = STEP(a2), a3 = STEP(a3);                             \
        a4 = STEP(a4), a5 = STEP(a5), a6 = STEP(a6), a7 = STEP(a7);                             \
        a8 = STEP(a8), a9 = STEP(a9), a10 = STEP(a10), a11 = STEP(a11);                         \
    }                                                                                           \
    __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),       \
                             _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)));      \
    s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11)));        \
    return _mm512_reduce_add_ps(s)

/* reps rounds of CHAINS FMAs; the operands keep the chains finite. */
static float fma_rounds(long reps)
{
    const __m512 m = _mm512_set1_ps(0.999f), b = _mm512_set1_ps(1e-3f);
#define FMA_STEP(a) _mm512_fmadd_ps(a, m, b)
    CHAIN_ROUNDS(reps, FMA_STEP);
#undef FMA_STEP
}
#endif

#if defined(__AVX512BF16__)
/* The same with bf16 dot products: pairs of 1.0 and 2^-24, so the fp32
 * accumulators grow by a few ulps a round and stay finite. */
static float dot_rounds(long reps)
{
    const __m512bh x = (__m512bh)_mm512_set1_epi16(0x3f80), y = (__m512bh)_mm512_set1_epi16(0x3380);
#define DOT_STEP(a) _mm512_dpbf16_ps(a, x, y)
    CHAIN_ROUNDS(reps, DOT_STEP);
#undef DOT_STEP
}
#endif

/* Seconds for every thread of the team to run reps rounds. */
static double team_seconds(int threads, int bf16, long reps)
{
    volatile float sink = 0.0f;
    double t = cnn_now();
#pragma omp parallel num_threads(threads)
    {
        float v = 0.0f;
#if defined(__AVX512BF16__)
        if (bf16)
            v = dot_rounds(reps);
        else
#endif
#if defined(__AVX512F__)
            v = fma_rounds(reps);
#endif
        if (v == 12345.0f) /* practically never: keeps v alive without a shared write */
            sink = v;
    }
    (void)sink;
    return cnn_now() - t;
}

double cnn_peak_gflops(int threads, int bf16, double seconds)
{
#if !defined(__AVX512F__)
    (void)threads, (void)bf16, (void)seconds, (void)team_seconds;
    return 0.0;
#else
#if !defined(__AVX512BF16__)
    if (bf16)
        return 0.0;
#endif
    if (threads < 1 || !(seconds > 0))
        return 0.0;
    /* FLOPs of one round on one thread: CHAINS instructions of 16 lanes */
    const double round_flop = CHAINS * 16.0 * (bf16 ? 4.0 : 2.0);
    long reps = 100000;
    double t = team_seconds(threads, bf16, reps); /* calibration, also wakes the cores */
    if (t > 0)
        reps = (long)((double)reps * seconds / t) + 1;
    double best = 0;
    for (int k = 0; k < 3; k++) {
        t = team_seconds(threads, bf16, reps);
        double g = t > 0 ? round_flop * (double)reps * threads / t / 1e9 : 0;
        if (g > best)
            best = g;
    }
    return best;
#endif
}
