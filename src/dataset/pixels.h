/* pixels.h: planar CIFAR bytes to normalised NHWC floats, the one formula
 * that cnn_batch_fill (batch.c) and the augmented batches (augment.c) share,
 * so that an image augmentation left unchanged is bit-identical in both.
 * Internal to src/dataset; defined in batch.c. */
#ifndef CNN_DATASET_PIXELS_H
#define CNN_DATASET_PIXELS_H

#include <stdint.h>

#include "cnnlab/data.h"

/* x = p * scale[c] + offset[c], with scale = 1 / (255 std) and offset =
 * -mean / std (a zero std only shifts). */
void cnn_norm_coefficients(const cnn_norm *norm, float scale[3], float offset[3]);
/* One image: three 1024-byte planes -> 1024 RGB float triples, one multiply
 * and one add per value (no contraction under -std=c11). */
void cnn_image_normalise(const uint8_t *restrict src, float *restrict dst, const float scale[3],
                         const float offset[3]);

#endif
