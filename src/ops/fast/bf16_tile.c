/* bf16_tile.c: the register tile of bf16_tile.h, instantiated for every
 * m x nv (1..6 rows by 1..4 vectors) so that each tile's sums stay in
 * registers (24 accumulators at 6 x 4, no spills). */
#include "bf16_tile.h"

#ifdef __AVX512BF16__
#include <immintrin.h>
#include <string.h>

#include "core/core.h"

static inline __attribute__((always_inline)) void tile(const uint16_t *a, size_t lda_row,
                                                        size_t lda_pair, const uint16_t *b,
                                                        size_t ldb, int pairs, float *out,
                                                        size_t ldo, int accumulate, int m, int nv)
{
    __m512 acc[BF16_TILE_MR][BF16_TILE_NV];
    for (int i = 0; i < m; i++)
        for (int v = 0; v < nv; v++)
            acc[i][v] = accumulate ? _mm512_loadu_ps(out + i * ldo + v * 16) : _mm512_setzero_ps();
    for (int j = 0; j < pairs; j++) {
        __m512bh bv[BF16_TILE_NV];
        for (int v = 0; v < nv; v++)
            bv[v] = (__m512bh)_mm512_loadu_si512(b + j * ldb + v * 32);
        const uint16_t *aj = a + j * lda_pair;
        for (int i = 0; i < m; i++) {
            int32_t pair;
            memcpy(&pair, aj + i * lda_row, sizeof pair);
            __m512bh av = (__m512bh)_mm512_set1_epi32(pair);
            for (int v = 0; v < nv; v++)
                acc[i][v] = _mm512_dpbf16_ps(acc[i][v], bv[v], av);
        }
    }
    for (int i = 0; i < m; i++)
        for (int v = 0; v < nv; v++)
            _mm512_storeu_ps(out + i * ldo + v * 16, acc[i][v]);
}

#define TILE(M, V)                                                                       \
    case (M) * 8 + (V):                                                                  \
        tile(a, lda_row, lda_pair, b, ldb, pairs, out, ldo, accumulate, M, V);          \
        break
#define TILES(M) TILE(M, 1); TILE(M, 2); TILE(M, 3); TILE(M, 4)

void cnn_bf16_tile(const uint16_t *a, size_t lda_row, size_t lda_pair, const uint16_t *b,
                   size_t ldb, int pairs, float *out, size_t ldo, int accumulate, int m, int nv)
{
    switch (m * 8 + nv) {
        TILES(1);
        TILES(2);
        TILES(3);
        TILES(4);
        TILES(5);
        TILES(6);
    default:
        CNN_ASSERT(0);
    }
}
#endif
