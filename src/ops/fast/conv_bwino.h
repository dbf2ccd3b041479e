/* conv_bwino.h: 3x3 stride-1 convolutions on bf16 activations by Winograd's
 * F(2x2, 3x3), with AVX512_BF16's pair dot products (conv_bwino.c has the
 * formulas). Used by the fast convolution (conv_dnnl.c) in place of a bf16
 * direct kernel's forward and backward-data where CNN_CONV_AUTO's timing says
 * it is faster (CNN_RUN_OWN_WINO). The caller owns the transformed weights
 * and the scratch. */
#ifndef CNN_OPS_FAST_CONV_BWINO_H
#define CNN_OPS_FAST_CONV_BWINO_H

#include <stddef.h>
#include <stdint.h>

#include "ops/ops.h"

/* 1 where this build has the kernel (AVX512_BF16) and the shape suits it:
 * 3x3, stride 1, the same padding (0 to 2) on both axes, ungrouped, input and
 * output channels multiples of 8 (its packed tiles take them in 16s). */
int cnn_bwino_applies(const cnn_conv_geom *g);
/* 1 where CNN_CONV_AUTO offers it: where it applies, with channel counts in
 * 16s. (At 24 input channels, airbench94's first 3x3 layer, it saved 5 % of
 * that layer's step, and the recipe's test accuracy over three seeds came out
 * 0.17 points lower, 90.59 against 90.76 %: inside the seeds' spread, but the
 * wrong way for a small gain, so auto leaves such layers to the direct
 * kernels; --conv winograd-bf16 still runs it there.) */
int cnn_bwino_auto_applies(const cnn_conv_geom *g);
/* Bytes of one set of transformed weights (forward's or backward-data's). */
size_t cnn_bwino_weight_bytes(const cnn_conv_geom *g);
/* Bytes of scratch with up to `threads` threads: forward, or (training = 1)
 * backward-data as well. */
size_t cnn_bwino_scratch_bytes(const cnn_conv_geom *g, int threads, int training);
/* Bytes of scratch cnn_bwino_backward_weights needs with up to `threads`. */
size_t cnn_bwino_bww_scratch_bytes(const cnn_conv_geom *g, int threads);
/* w (OC,IC,3,3) -> u, for the forward (flip = 0) or backward-data (flip = 1);
 * _ref is the plain loop over kernels, the other 16 kernels a vector with
 * AVX-512 and the same bits. */
void cnn_bwino_weights(const cnn_conv_geom *g, const float *w, int flip, uint16_t *u);
void cnn_bwino_weights_ref(const cnn_conv_geom *g, const float *w, int flip, uint16_t *u);
/* x (N,IH,IW,IC) bf16, u (flip 0), b (OC) or NULL -> y (N,OH,OW,OC), floats
 * or (y_bf16) bf16, then ReLU if relu; at most `threads` threads. */
void cnn_bwino_forward(const cnn_conv_geom *g, const uint16_t *x, const uint16_t *u,
                       const float *b, int relu, void *y, int y_bf16, void *scratch,
                       int threads);
/* dy (N,OH,OW,OC) bf16, u (flip 1) -> dx (N,IH,IW,IC), floats. */
void cnn_bwino_backward_data(const cnn_conv_geom *g, const uint16_t *dy, const uint16_t *u,
                             float *dx, void *scratch, int threads);
/* x (N,IH,IW,IC) and dy (N,OH,OW,OC), bf16 -> dw (OC,IC,3,3) and db (OC, or
 * NULL), floats, overwritten. */
void cnn_bwino_backward_weights(const cnn_conv_geom *g, const uint16_t *x, const uint16_t *dy,
                                float *dw, float *db, void *scratch, int threads);

#endif
