/* normalize.c: per-channel mean and population standard deviation of a set of
 * images, on the 0-1 scale.
 *
 * Pixel sums and sums of squares are exact integers (uint64 holds 50,000
 * images' worth many times over), so the result does not depend on the order
 * of summation or the thread count; only the final division is floating point:
 *   mean = S1 / (N * 255),  var = S2 / (N * 255^2) - mean^2,
 * with N the number of pixels per channel. */
#include <math.h>

#include "cnnlab/data.h"
#include "core/core.h"

void cnn_norm_compute(const cnn_dataset *d, const int *idx, int count, cnn_norm *out)
{
    const size_t plane = (size_t)d->h * (size_t)d->w, bytes = cnn_dataset_image_bytes(d);
    const int channels = d->c;
    CNN_ASSERT(channels >= 1 && channels <= CNN_DATA_MAX_CHANNELS);
    uint64_t s0 = 0, s1 = 0, s2 = 0; /* sum of p, per channel */
    uint64_t q0 = 0, q1 = 0, q2 = 0; /* sum of p^2, per channel */
#pragma omp parallel for if (count >= 256) schedule(static) \
    reduction(+ : s0, s1, s2, q0, q1, q2)
    for (int i = 0; i < count; i++) {
        int img = idx ? idx[i] : i;
        CNN_ASSERT(img >= 0 && img < d->count);
        const uint8_t *p = d->pixels + (size_t)img * bytes;
        /* Per image and channel: sum < 2^8 plane, sum of squares < 2^16 plane
         * (CIFAR: 2^18 and 2^26); uint32 suffices up to 65,793 pixels a plane. */
        uint64_t s[3] = {0, 0, 0}, q[3] = {0, 0, 0};
        for (int c = 0; c < channels; c++) {
            const uint8_t *pl = p + (size_t)c * plane;
            uint64_t a = 0, b = 0;
            if (plane <= 65793) { /* 32-bit sums vectorise better; exact either way */
                uint32_t a32 = 0, b32 = 0;
                for (size_t k = 0; k < plane; k++) {
                    uint32_t v = pl[k];
                    a32 += v;
                    b32 += v * v;
                }
                a = a32;
                b = b32;
            } else for (size_t k = 0; k < plane; k++) {
                uint64_t v = pl[k];
                a += v;
                b += v * v;
            }
            s[c] = a;
            q[c] = b;
        }
        s0 += s[0];
        s1 += s[1];
        s2 += s[2];
        q0 += q[0];
        q1 += q[1];
        q2 += q[2];
    }
    uint64_t sum[3] = {s0, s1, s2}, sq[3] = {q0, q1, q2};
    double n = (double)count * (double)plane;
    for (int c = 0; c < CNN_DATA_MAX_CHANNELS; c++) {
        if (count <= 0 || c >= channels) {
            out->mean[c] = 0.0f;
            out->std[c] = 1.0f;
            continue;
        }
        double mean = (double)sum[c] / (n * 255.0);
        double var = (double)sq[c] / (n * 255.0 * 255.0) - mean * mean;
        out->mean[c] = (float)mean;
        out->std[c] = (float)sqrt(var > 0.0 ? var : 0.0);
    }
}
