/* conv_dense.h: a convolution on a small input map as one matrix product
 * (conv_dense.c has the formulas). Used by the fast convolution (conv_dnnl.c)
 * where it is the cheaper form; the caller owns the dense weight matrices. */
#ifndef CNN_OPS_FAST_CONV_DENSE_H
#define CNN_OPS_FAST_CONV_DENSE_H

#include <stddef.h>

#include "cnnlab/status.h"
#include "ops/ops.h"

/* One kernel tap joining an input position and an output position. */
typedef struct cnn_dense_tap {
    int in, out, tap; /* iy*IW + ix, oy*OW + ox, ky*KW + kx */
} cnn_dense_tap;

typedef struct cnn_dense_conv {
    cnn_conv_geom g;
    cnn_dense_tap *taps; /* every (input, output) pair that meets in a tap */
    int ntaps;
    int full;            /* every pair meets: the expansion writes all of wd */
} cnn_dense_conv;

/* 1 if the dense form has no more multiply-adds than direct: IH*IW <= KH*KW. */
int cnn_dense_conv_applies(const cnn_conv_geom *g);
/* Floats of the dense weight matrix: IH*IW*IC * OH*OW*OC. */
size_t cnn_dense_conv_floats(const cnn_conv_geom *g);

cnn_status cnn_dense_conv_init(cnn_dense_conv *d, const cnn_conv_geom *g, cnn_error *err);
void cnn_dense_conv_free(cnn_dense_conv *d);

/* w (OC,IC,KH,KW) -> wd (IH*IW*IC, OH*OW*OC). */
void cnn_dense_conv_expand(const cnn_dense_conv *d, const float *w, float *wd);
/* x (N,IH,IW,IC), wd, b (OC) or NULL -> y (N,OH,OW,OC), then ReLU if relu. */
void cnn_dense_conv_forward(const cnn_dense_conv *d, const float *x, const float *wd,
                            const float *b, int relu, float *y);
/* dy (N,OH,OW,OC), wd -> dx (N,IH,IW,IC). */
void cnn_dense_conv_backward_data(const cnn_dense_conv *d, const float *dy, const float *wd,
                                  float *dx);
/* x, dy -> dw (OC,IC,KH,KW) and db (OC, or NULL), overwritten; dwd is scratch
 * of cnn_dense_conv_floats floats. */
void cnn_dense_conv_backward_weights(const cnn_dense_conv *d, const float *x, const float *dy,
                                     float *dwd, float *dw, float *db);

#endif
