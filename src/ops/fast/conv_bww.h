/* conv_bww.h: a convolution's weight gradient on bf16 x and dy, with
 * AVX512_BF16's pair dot products (conv_bww.c has the formulas). Used by the
 * fast convolution (conv_dnnl.c) in place of oneDNN's backward-weights where
 * CNN_CONV_AUTO's timing says it is faster (CNN_RUN_OWN_BWW). */
#ifndef CNN_OPS_FAST_CONV_BWW_H
#define CNN_OPS_FAST_CONV_BWW_H

#include <stddef.h>
#include <stdint.h>

#include "ops/ops.h"

/* 1 where this build has the kernel (AVX512_BF16) and the shape suits it:
 * ungrouped, OC a multiple of 16. */
int cnn_bww_applies(const cnn_conv_geom *g);
/* Bytes of scratch cnn_bww_run needs with up to `threads` threads. */
size_t cnn_bww_scratch_bytes(const cnn_conv_geom *g, int threads);
/* x (N,IH,IW,IC) and dy (N,OH,OW,OC), bf16 -> dw (OC,IC,KH,KW) and db (OC, or
 * NULL), fp32, overwritten; at most `threads` threads. */
void cnn_bww_run(const cnn_conv_geom *g, const uint16_t *x, const uint16_t *dy, float *dw,
                 float *db, void *scratch, int threads);

#endif
