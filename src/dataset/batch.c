/* batch.c: batch assembly, on the training hot path.
 *
 * x[n, h, w, c] = (pixels[idx[n], c, h, w] / 255 - mean[c]) / std[c], computed
 * as one multiply-add per value with scale[c] = 1 / (255 std[c]) and
 * offset[c] = -mean[c] / std[c] worked out once per batch. Planar uint8 in,
 * interleaved (NHWC) float out. */
#include "cnnlab/data.h"
#include "core/core.h"
#include "dataset/pixels.h"

static inline __attribute__((always_inline)) void
normalise_inline(const uint8_t *restrict src, float *restrict dst, int channels, size_t plane,
                 const float scale[CNN_DATA_MAX_CHANNELS], const float offset[CNN_DATA_MAX_CHANNELS])
{
    if (channels == 3) { /* RGB: the three planes in one pass */
        const uint8_t *r = src, *g = src + plane, *b = src + 2 * plane;
        const float sr = scale[0], sg = scale[1], sb = scale[2];
        const float orr = offset[0], og = offset[1], ob = offset[2];
        for (size_t k = 0; k < plane; k++) {
            dst[3 * k + 0] = (float)r[k] * sr + orr;
            dst[3 * k + 1] = (float)g[k] * sg + og;
            dst[3 * k + 2] = (float)b[k] * sb + ob;
        }
        return;
    }
    for (int c = 0; c < channels; c++) {
        const uint8_t *p = src + (size_t)c * plane;
        const float s = scale[c], o = offset[c];
        for (size_t k = 0; k < plane; k++)
            dst[(size_t)channels * k + (size_t)c] = (float)p[k] * s + o;
    }
}

/* CIFAR's plane of 1024 pixels a constant (a fixed trip count, as fast as
 * before the shape became a variable). */
void cnn_image_normalise(const uint8_t *restrict src, float *restrict dst, int channels,
                         size_t plane, const float scale[CNN_DATA_MAX_CHANNELS],
                         const float offset[CNN_DATA_MAX_CHANNELS])
{
    if (channels == CNN_CIFAR_CHANNELS && plane == CNN_CIFAR_SIDE * CNN_CIFAR_SIDE)
        normalise_inline(src, dst, CNN_CIFAR_CHANNELS, CNN_CIFAR_SIDE * CNN_CIFAR_SIDE, scale,
                         offset);
    else
        normalise_inline(src, dst, channels, plane, scale, offset);
}

void cnn_norm_coefficients(const cnn_norm *norm, float scale[CNN_DATA_MAX_CHANNELS],
                           float offset[CNN_DATA_MAX_CHANNELS])
{
    for (int c = 0; c < CNN_DATA_MAX_CHANNELS; c++) {
        /* A zero std (a constant channel) only shifts: there is nothing to scale. */
        double sd = norm->std[c] > 0.0f ? (double)norm->std[c] : 1.0;
        scale[c] = (float)(1.0 / (255.0 * sd));
        offset[c] = (float)(-(double)norm->mean[c] / sd);
    }
}

void cnn_batch_fill(const cnn_dataset *d, const int *idx, int count, const cnn_norm *norm,
                    float *x, uint8_t *labels)
{
    float scale[CNN_DATA_MAX_CHANNELS], offset[CNN_DATA_MAX_CHANNELS];
    cnn_norm_coefficients(norm, scale, offset);
    const size_t bytes = cnn_dataset_image_bytes(d), plane = (size_t)d->h * (size_t)d->w;
    CNN_ASSERT(bytes > 0); /* a dataset without a shape would leave x unwritten */
#pragma omp parallel for if (count >= 64) schedule(static)
    for (int i = 0; i < count; i++) {
        int img = idx ? idx[i] : i;
        CNN_ASSERT(img >= 0 && img < d->count);
        cnn_image_normalise(d->pixels + (size_t)img * bytes, x + (size_t)i * bytes, d->c, plane,
                            scale, offset);
        if (labels)
            labels[i] = d->labels[img];
    }
}
