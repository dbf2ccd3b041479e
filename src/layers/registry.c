/* registry.c: layer kind -> layer class. One line per layer type. */
#include "layer.h"

static const cnn_layer_class *const classes[CNN_LAYER_KIND_COUNT] = {
    [CNN_LAYER_CONV] = &cnn_layer_conv,
    [CNN_LAYER_LINEAR] = &cnn_layer_linear,
    [CNN_LAYER_ACT] = &cnn_layer_act,
    [CNN_LAYER_MAXPOOL] = &cnn_layer_maxpool,
    [CNN_LAYER_AVGPOOL] = &cnn_layer_avgpool,
    [CNN_LAYER_GAP] = &cnn_layer_gap,
    [CNN_LAYER_FLATTEN] = &cnn_layer_flatten,
    [CNN_LAYER_BATCHNORM] = &cnn_layer_batchnorm,
};

const cnn_layer_class *cnn_layer_class_of(cnn_layer_kind kind)
{
    CNN_ASSERT((int)kind >= 0 && kind < CNN_LAYER_KIND_COUNT && classes[kind]);
    return classes[kind];
}

void cnn_layer_fill_uniform(float *a, size_t n, float bound, cnn_rng *rng)
{
    for (size_t i = 0; i < n; i++)
        a[i] = (float)((2.0 * cnn_rng_uniform(rng) - 1.0) * bound);
}
