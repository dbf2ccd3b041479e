/* pixels.h: planar image bytes to normalised NHWC floats, the one formula
 * that cnn_batch_fill (batch.c) and the augmented batches (augment.c) share,
 * so that an image augmentation left unchanged is bit-identical in both.
 * Internal to src/dataset; defined in batch.c. */
#ifndef CNN_DATASET_PIXELS_H
#define CNN_DATASET_PIXELS_H

#include <stddef.h>
#include <stdint.h>

#include "cnnlab/data.h"

/* x = p * scale[c] + offset[c], with scale = 1 / (255 std) and offset =
 * -mean / std (a zero std only shifts). */
void cnn_norm_coefficients(const cnn_norm *norm, float scale[CNN_DATA_MAX_CHANNELS],
                           float offset[CNN_DATA_MAX_CHANNELS]);
/* One image: channels planes of plane bytes -> plane interleaved pixels of
 * channels floats, one multiply and one add per value (no contraction under
 * -std=c11). */
void cnn_image_normalise(const uint8_t *restrict src, float *restrict dst, int channels,
                         size_t plane, const float scale[CNN_DATA_MAX_CHANNELS],
                         const float offset[CNN_DATA_MAX_CHANNELS]);

#endif
