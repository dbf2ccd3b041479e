/* conv_wino.h: cnnlab's own Winograd convolution for 3x3 stride-1 kernels, its
 * element-wise products batched into sgemm calls (conv_wino.c has the
 * formulas). It serves CPUs where oneDNN has no Winograd kernel (oneDNN's is
 * for AVX-512 only) and competes with the others, oneDNN's Winograd included,
 * under CNN_CONV_AUTO. The caller owns the transformed weights and the
 * scratch. */
#ifndef CNN_OPS_FAST_CONV_WINO_H
#define CNN_OPS_FAST_CONV_WINO_H

#include <stddef.h>

#include "cnnlab/status.h"
#include "ops/ops.h"

typedef struct cnn_wino_conv {
    cnn_conv_geom g; /* 3x3, stride 1, padding 0 to 2 */
    int threads;     /* the team the scratch was sized for */
    int chunk;       /* tiles transformed and multiplied together, per thread */
} cnn_wino_conv;

/* 1 for 3x3 stride-1 kernels with padding 0 to 2 (so that backward-data, a
 * convolution with padding 2 - p, is one too). */
int cnn_wino_conv_applies(const cnn_conv_geom *g);

cnn_status cnn_wino_conv_init(cnn_wino_conv *c, const cnn_conv_geom *g, int threads,
                              cnn_error *err);

/* Floats of the transformed weights (forward's or backward-data's). */
size_t cnn_wino_conv_weight_floats(const cnn_wino_conv *c);
/* Floats of scratch for forward and backward-data, or (training = 1) for
 * backward-weights as well. */
size_t cnn_wino_conv_scratch_floats(const cnn_wino_conv *c, int training);

/* w (OC,IC,3,3) -> u, for the forward (flip = 0) or backward-data (flip = 1). */
void cnn_wino_conv_weights(const cnn_wino_conv *c, const float *w, int flip, float *u);
/* x (N,IH,IW,IC), u (flip 0), b (OC) or NULL -> y (N,OH,OW,OC), then ReLU if relu. */
void cnn_wino_conv_forward(const cnn_wino_conv *c, const float *x, const float *u,
                           const float *b, int relu, float *y, float *scratch);
/* dy (N,OH,OW,OC), u (flip 1) -> dx (N,IH,IW,IC). */
void cnn_wino_conv_backward_data(const cnn_wino_conv *c, const float *dy, const float *u,
                                 float *dx, float *scratch);
/* x, dy -> dw (OC,IC,3,3) and db (OC, or NULL), overwritten. */
void cnn_wino_conv_backward_weights(const cnn_wino_conv *c, const float *x, const float *dy,
                                    float *dw, float *db, float *scratch);

#endif
