/* activation.c: reference elementwise activations, as PyTorch's nn.ReLU,
 * nn.Sigmoid, nn.Tanh, nn.LeakyReLU(0.01), nn.GELU() (approximate='none') and
 * nn.ELU(alpha=1) (CNN_ACT_NONE is the identity):
 *
 *   relu:    y = max(0, x)                 dx = dy * (y > 0)
 *   sigmoid: y = 1 / (1 + e^-x)            dx = dy * y * (1 - y)
 *   tanh:    y = tanh(x)                   dx = dy * (1 - y^2)
 *   leaky:   y = x > 0 ? x : 0.01 x        dx = dy * (y > 0 ? 1 : 0.01)
 *   gelu:    y = x Phi(x)                  dx = dy * (Phi(x) + x phi(x))
 *   elu:     y = x > 0 ? x : e^x - 1       dx = dy * (y > 0 ? 1 : y + 1)
 *
 * with Phi(x) = (1 + erf(x / sqrt 2)) / 2 the standard normal distribution and
 * phi(x) = e^(-x^2/2) / sqrt(2 pi) its density.
 *
 * Every backward but GELU's reads only the forward's output y, so x need not be
 * kept (y > 0 exactly when x > 0 for leaky ReLU and ELU, and e^x = y + 1 for
 * ELU's negative side); GELU is not invertible from y and reads x. Each element
 * is read before it is written, so x and y (and dy and dx) may alias. At x = 0
 * the derivative is the left one (ReLU 0, leaky 0.01, ELU 1 = e^0), as PyTorch;
 * ReLU passes NaN through, as PyTorch. ELU uses expm1 so that small negative x
 * keep their relative precision. */
#include <math.h>

#include "core/core.h"
#include "ops/ops.h"

#define LEAKY_SLOPE 0.01f
#define INV_SQRT2 0.70710678118654752f
#define INV_SQRT_2PI 0.39894228040143268f

int cnn_act_backward_needs_x(cnn_act a) { return a == CNN_ACT_GELU; }

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
        case CNN_ACT_LEAKY_RELU: y[i] = v > 0.0f ? v : LEAKY_SLOPE * v; break;
        case CNN_ACT_GELU: y[i] = 0.5f * v * (1.0f + erff(v * INV_SQRT2)); break;
        case CNN_ACT_ELU: y[i] = v > 0.0f ? v : expm1f(v); break;
        default: CNN_ASSERT(!"unknown activation");
        }
    }
}

/* x (count) or NULL unless GELU, y (count), dy (count) -> dx (count); dx may be NULL */
void cnn_ref_act_backward(cnn_act a, size_t count, const float *x, const float *y,
                          const float *dy, float *dx)
{
    if (!dx)
        return;
    CNN_ASSERT(x != NULL || !cnn_act_backward_needs_x(a));
    for (size_t i = 0; i < count; i++) {
        float v = y[i], d = dy[i];
        switch (a) {
        case CNN_ACT_NONE: dx[i] = d; break;
        case CNN_ACT_RELU: dx[i] = v > 0.0f ? d : 0.0f; break;
        case CNN_ACT_SIGMOID: dx[i] = d * v * (1.0f - v); break;
        case CNN_ACT_TANH: dx[i] = d * (1.0f - v * v); break;
        case CNN_ACT_LEAKY_RELU: dx[i] = v > 0.0f ? d : LEAKY_SLOPE * d; break;
        case CNN_ACT_GELU: {
            float u = x[i];
            float cdf = 0.5f * (1.0f + erff(u * INV_SQRT2));
            float pdf = INV_SQRT_2PI * expf(-0.5f * u * u);
            dx[i] = d * (cdf + u * pdf);
            break;
        }
        case CNN_ACT_ELU: dx[i] = v > 0.0f ? d : d * (v + 1.0f); break;
        default: CNN_ASSERT(!"unknown activation");
        }
    }
}
