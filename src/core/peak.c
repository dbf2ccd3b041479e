/* peak.c: the machine's arithmetic peak, measured rather than looked up.
 *
 * Every thread runs CHAINS independent chains of multiply-adds that never
 * touch memory, with the widest instructions the CPU has: 512-bit fp32 FMA
 * (16 lanes, 2 FLOPs each), else 256-bit FMA (8 lanes); for bf16, 512-bit
 * dot products with fp32 accumulation (vdpbf16ps: 16 lanes of 2 products and
 * their sum added, 4 FLOPs each). Enough chains hide the instructions'
 * latency, so the loop runs at the core's issue rate. The peak is total FLOPs
 * over the wall time of the whole team. One short window is at the mercy of a
 * core woken late, a clock still ramping or another process (windows of 50 ms
 * read 62 to 393 GFLOP/s on one idle machine), so the rounds per window are
 * calibrated on a run of at least 20 ms, and windows are timed until the
 * best two agree within 2 %.
 *
 * The kernels are compiled for their instructions whatever the build's -march
 * (the portable build included) and chosen by what the CPU reports at run
 * time. A CPU without FMA measures 0, and one without AVX512_BF16 measures no
 * bf16 peak. */
#include <immintrin.h>
#include <omp.h>

#include "core.h"

#define CHAINS 12

/* The body every kernel shares: CHAINS accumulators a0..a11 of vector type V,
 * each updated by STEP(a) per round, then summed by ADD into one value that
 * depends on every chain, so that the compiler keeps them; LANE0 reads it out.
 * Written out, not as an array, so that the accumulators stay in registers at
 * any optimisation level. */
#define CHAIN_ROUNDS(V, SET1, ADD, LANE0, reps, STEP)                                  \
    V a0 = SET1(0.0f), a1 = SET1(1.0f), a2 = SET1(2.0f), a3 = SET1(3.0f);              \
    V a4 = SET1(4.0f), a5 = SET1(5.0f), a6 = SET1(6.0f), a7 = SET1(7.0f);              \
    V a8 = SET1(8.0f), a9 = SET1(9.0f), a10 = SET1(10.0f), a11 = SET1(11.0f);          \
    for (long r = 0; r < (reps); r++) {                                                \
        a0 = STEP(a0), a1 = STEP(a1), a2 = STEP(a2), a3 = STEP(a3);                    \
        a4 = STEP(a4), a5 = STEP(a5), a6 = STEP(a6), a7 = STEP(a7);                    \
        a8 = STEP(a8), a9 = STEP(a9), a10 = STEP(a10), a11 = STEP(a11);                \
    }                                                                                  \
    V s = ADD(ADD(ADD(a0, a1), ADD(a2, a3)), ADD(ADD(a4, a5), ADD(a6, a7)));           \
    s = ADD(s, ADD(ADD(a8, a9), ADD(a10, a11)));                                       \
    return LANE0(s)

/* reps rounds of CHAINS FMAs; the operands keep the chains finite. */
__attribute__((target("avx512f"))) static float fma512_rounds(long reps)
{
    const __m512 m = _mm512_set1_ps(0.999f), b = _mm512_set1_ps(1e-3f);
#define FMA512(a) _mm512_fmadd_ps(a, m, b)
    CHAIN_ROUNDS(__m512, _mm512_set1_ps, _mm512_add_ps, _mm512_cvtss_f32, reps, FMA512);
#undef FMA512
}

__attribute__((target("avx2,fma"))) static float fma256_rounds(long reps)
{
    const __m256 m = _mm256_set1_ps(0.999f), b = _mm256_set1_ps(1e-3f);
#define FMA256(a) _mm256_fmadd_ps(a, m, b)
    CHAIN_ROUNDS(__m256, _mm256_set1_ps, _mm256_add_ps, _mm256_cvtss_f32, reps, FMA256);
#undef FMA256
}

/* The same with bf16 dot products: pairs of 1.0 and 2^-24, so the fp32
 * accumulators grow by a few ulps a round and stay finite. */
__attribute__((target("avx512f,avx512bf16"))) static float dot512_rounds(long reps)
{
    const __m512bh x = (__m512bh)_mm512_set1_epi16(0x3f80), y = (__m512bh)_mm512_set1_epi16(0x3380);
#define DOT512(a) _mm512_dpbf16_ps(a, x, y)
    CHAIN_ROUNDS(__m512, _mm512_set1_ps, _mm512_add_ps, _mm512_cvtss_f32, reps, DOT512);
#undef DOT512
}

typedef float (*rounds_fn)(long reps);

/* Seconds for every thread of the team to run reps rounds of f. */
static double team_seconds(int threads, rounds_fn f, long reps)
{
    volatile float sink = 0.0f;
    double t = cnn_now();
#pragma omp parallel num_threads(threads)
    {
        float v = f(reps);
        if (v == 12345.0f) /* practically never: keeps v alive without a shared write */
            sink = v;
    }
    (void)sink;
    return cnn_now() - t;
}

double cnn_peak_gflops(int threads, int bf16, double seconds, int *agreed)
{
    if (agreed)
        *agreed = 0;
    if (threads < 1 || !(seconds > 0))
        return 0.0;
    __builtin_cpu_init();
    rounds_fn f;
    double lane_flop; /* FLOPs of one instruction */
    if (bf16 && __builtin_cpu_supports("avx512bf16"))
        f = dot512_rounds, lane_flop = 16 * 4.0;
    else if (bf16)
        return 0.0;
    else if (__builtin_cpu_supports("avx512f"))
        f = fma512_rounds, lane_flop = 16 * 2.0;
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        f = fma256_rounds, lane_flop = 8 * 2.0;
    else
        return 0.0;
    /* calibration: double the rounds until a run takes 20 ms (this also
     * wakes the cores and lets their clocks settle) */
    long reps = 10000;
    double t = team_seconds(threads, f, reps);
    while (t < 0.02 && reps < (1L << 40)) {
        reps *= 2;
        t = team_seconds(threads, f, reps);
    }
    if (t > 0)
        reps = (long)((double)reps * seconds / t) + 1;
    double best = 0, second = 0;
    int ok = 0;
    for (int k = 0; k < 12 && !ok; k++) {
        t = team_seconds(threads, f, reps);
        double g = t > 0 ? CHAINS * lane_flop * (double)reps * threads / t / 1e9 : 0;
        if (g > best) {
            second = best;
            best = g;
        } else if (g > second) {
            second = g;
        }
        ok = k >= 2 && second >= 0.98 * best;
    }
    if (agreed)
        *agreed = ok;
    return best;
}
