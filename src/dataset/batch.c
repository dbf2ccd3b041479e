/* batch.c: batch assembly, on the training hot path.
 *
 * x[n, h, w, c] = (pixels[idx[n], c, h, w] / 255 - mean[c]) / std[c], computed
 * as one multiply-add per value with scale[c] = 1 / (255 std[c]) and
 * offset[c] = -mean[c] / std[c] worked out once per batch. Planar uint8 in,
 * interleaved (NHWC) float out. */
#include "cnnlab/data.h"
#include "core/core.h"
#include "dataset/pixels.h"

#define PLANE (CNN_CIFAR_SIDE * CNN_CIFAR_SIDE) /* 1024 pixels per channel */

void cnn_image_normalise(const uint8_t *restrict src, float *restrict dst, const float scale[3],
                         const float offset[3])
{
    const uint8_t *r = src, *g = src + PLANE, *b = src + 2 * PLANE;
    const float sr = scale[0], sg = scale[1], sb = scale[2];
    const float orr = offset[0], og = offset[1], ob = offset[2];
    for (int k = 0; k < PLANE; k++) {
        dst[3 * k + 0] = (float)r[k] * sr + orr;
        dst[3 * k + 1] = (float)g[k] * sg + og;
        dst[3 * k + 2] = (float)b[k] * sb + ob;
    }
}

void cnn_norm_coefficients(const cnn_norm *norm, float scale[3], float offset[3])
{
    for (int c = 0; c < CNN_CIFAR_CHANNELS; c++) {
        /* A zero std (a constant channel) only shifts: there is nothing to scale. */
        double sd = norm->std[c] > 0.0f ? (double)norm->std[c] : 1.0;
        scale[c] = (float)(1.0 / (255.0 * sd));
        offset[c] = (float)(-(double)norm->mean[c] / sd);
    }
}

void cnn_batch_fill(const cnn_dataset *d, const int *idx, int count, const cnn_norm *norm,
                    float *x, uint8_t *labels)
{
    float scale[3], offset[3];
    cnn_norm_coefficients(norm, scale, offset);
#pragma omp parallel for if (count >= 64) schedule(static)
    for (int i = 0; i < count; i++) {
        int img = idx ? idx[i] : i;
        CNN_ASSERT(img >= 0 && img < d->count);
        cnn_image_normalise(d->pixels + (size_t)img * CNN_CIFAR_PIXELS, x + (size_t)i * CNN_CIFAR_PIXELS,
                   scale, offset);
        if (labels)
            labels[i] = d->labels[img];
    }
}
