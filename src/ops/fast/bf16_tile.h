/* bf16_tile.h: the register tile of cnnlab's AVX512_BF16 matrix products
 * (conv_bww.c's weight gradient, conv_bwino.c's Winograd). VDPBF16PS
 * multiplies 16 pairs of bf16 values and adds both products of each pair to
 * one float lane, so both operands hold their sum's index in pairs:
 *
 *   out[i][col] (+)= sum over pairs j of  a(i, j) . b(j, col)
 *   a(i, j): two bf16 values at a + i*lda_row + j*lda_pair
 *   b(j, .): nv*16 columns' pairs interleaved at b + j*ldb (32 values a vector)
 *
 * m <= BF16_TILE_MR rows by nv <= BF16_TILE_NV vectors of 16 columns stay in
 * registers for the whole sum: per pair, nv loads of b, m broadcasts of a
 * pair of a, m*nv dot products. out has ldo floats a row; accumulate = 0
 * overwrites it. */
#ifndef CNN_OPS_FAST_BF16_TILE_H
#define CNN_OPS_FAST_BF16_TILE_H

#include <stddef.h>
#include <stdint.h>

#define BF16_TILE_MR 6
#define BF16_TILE_NV 4

#ifdef __AVX512BF16__
void cnn_bf16_tile(const uint16_t *a, size_t lda_row, size_t lda_pair, const uint16_t *b,
                   size_t ldb, int pairs, float *out, size_t ldo, int accumulate, int m, int nv);
#endif

#endif
