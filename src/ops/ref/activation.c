/* activation.c: reference elementwise activations, as PyTorch's nn.ReLU,
 * nn.Sigmoid and nn.Tanh (CNN_ACT_NONE is the identity):
 *
 *   relu:    y = max(0, x)          dx = dy * (y > 0)
 *   sigmoid: y = 1 / (1 + e^-x)     dx = dy * y * (1 - y)
 *   tanh:    y = tanh(x)            dx = dy * (1 - y^2)
 *
 * The backward reads only the forward's output y, so x need not be kept. Each
 * element is read before it is written, so x and y (and dy and dx) may alias.
 * ReLU's derivative at exactly 0 is 0 and ReLU passes NaN through, as in PyTorch. */
#include <math.h>

#include "core/core.h"
#include "ops/ops.h"

/* x (count), y (count) */
void cnn_ref_act_forward(cnn_act a, size_t count, const float *x, float *y)
{
    for (size_t i = 0; i < count; i++) {
        float v = x[i];
        switch (a) {
        case CNN_ACT_NONE: y[i] = v; break;
        case CNN_ACT_RELU: y[i] = v < 0.0f ? 0.0f : v; break; /* NaN passes through */
        case CNN_ACT_SIGMOID: y[i] = 1.0f / (1.0f + expf(-v)); break;
        case CNN_ACT_TANH: y[i] = tanhf(v); break;
        default: CNN_ASSERT(!"unknown activation");
        }
    }
}

/* y (count), dy (count) -> dx (count); dx may be NULL */
void cnn_ref_act_backward(cnn_act a, size_t count, const float *y, const float *dy, float *dx)
{
    if (!dx)
        return;
    for (size_t i = 0; i < count; i++) {
        float v = y[i], d = dy[i];
        switch (a) {
        case CNN_ACT_NONE: dx[i] = d; break;
        case CNN_ACT_RELU: dx[i] = v > 0.0f ? d : 0.0f; break;
        case CNN_ACT_SIGMOID: dx[i] = d * v * (1.0f - v); break;
        case CNN_ACT_TANH: dx[i] = d * (1.0f - v * v); break;
        default: CNN_ASSERT(!"unknown activation");
        }
    }
}
