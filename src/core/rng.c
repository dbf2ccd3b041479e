/* rng.c: xoshiro256** (Blackman and Vigna) with splitmix64 seeding.
 * Invariant: a (seed, stream, sub) triple always yields the same sequence,
 * on every machine and thread count. */
#include <math.h>

#include "core.h"

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void cnn_rng_init(cnn_rng *r, uint64_t seed, uint64_t stream, uint64_t sub)
{
    uint64_t x = seed;
    uint64_t a = splitmix64(&x);
    x = a ^ (stream * 0xd1b54a32d192ed03ULL);
    uint64_t b = splitmix64(&x);
    x = b ^ (sub * 0xaef17502108ef2d9ULL);
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t v, int k) { return (v << k) | (v >> (64 - k)); }

uint64_t cnn_rng_next(cnn_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double cnn_rng_uniform(cnn_rng *r) { return (double)(cnn_rng_next(r) >> 11) * 0x1.0p-53; }

uint32_t cnn_rng_below(cnn_rng *r, uint32_t n)
{
    /* Lemire's multiply-and-reject: unbiased. */
    uint64_t m = (uint64_t)(uint32_t)cnn_rng_next(r) * n;
    uint32_t low = (uint32_t)m;
    if (low < n) {
        uint32_t threshold = (uint32_t)(-n) % n;
        while (low < threshold) {
            m = (uint64_t)(uint32_t)cnn_rng_next(r) * n;
            low = (uint32_t)m;
        }
    }
    return (uint32_t)(m >> 32);
}

double cnn_rng_normal(cnn_rng *r)
{
    double u1 = cnn_rng_uniform(r), u2 = cnn_rng_uniform(r);
    if (u1 < 1e-300)
        u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

void cnn_rng_shuffle(cnn_rng *r, int *a, int n)
{
    for (int i = n - 1; i > 0; i--) {
        int j = (int)cnn_rng_below(r, (uint32_t)(i + 1));
        int t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}
