/* registry.c: layer kind -> layer class (one line per layer type), and the
 * helpers layers share: initialisation and DropConnect. */
#include <math.h>
#include <string.h>

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
    [CNN_LAYER_IDENTITY] = &cnn_layer_identity,
    [CNN_LAYER_DROPOUT] = &cnn_layer_dropout,
    [CNN_LAYER_DROPOUT2D] = &cnn_layer_dropout2d,
    [CNN_LAYER_LAYERNORM] = &cnn_layer_layernorm,
    [CNN_LAYER_INSTANCENORM] = &cnn_layer_instancenorm,
    [CNN_LAYER_GROUPNORM] = &cnn_layer_groupnorm,
    [CNN_LAYER_ADD] = &cnn_layer_add,
    [CNN_LAYER_CONCAT] = &cnn_layer_concat,
    [CNN_LAYER_GMP] = &cnn_layer_gmp,
    [CNN_LAYER_SHORTCUT] = &cnn_layer_shortcut,
    [CNN_LAYER_SCALE] = &cnn_layer_scale,
};

const cnn_layer_class *cnn_layer_class_of(cnn_layer_kind kind)
{
    CNN_ASSERT((int)kind >= 0 && kind < CNN_LAYER_KIND_COUNT && classes[kind]);
    return classes[kind];
}

int cnn_layer_is_norm(cnn_layer_kind kind)
{
    return kind == CNN_LAYER_BATCHNORM || kind == CNN_LAYER_LAYERNORM ||
           kind == CNN_LAYER_INSTANCENORM || kind == CNN_LAYER_GROUPNORM;
}

void cnn_layer_fill_uniform(float *a, size_t n, float bound, cnn_rng *rng)
{
    for (size_t i = 0; i < n; i++)
        a[i] = (float)((2.0 * cnn_rng_uniform(rng) - 1.0) * bound);
}

void cnn_layer_init_weights(cnn_init_kind how, float *w, size_t wcount, float *b, size_t bcount,
                            int fan_in, int fan_out, cnn_rng *rng)
{
    switch (how) {
    case CNN_INIT_DEFAULT: /* resolved by cnn_model_init: not reached */
    case CNN_INIT_PYTORCH: { /* kaiming_uniform(a = sqrt(5)): bound 1/sqrt(fan_in) */
        float bound = 1.0f / sqrtf((float)fan_in);
        cnn_layer_fill_uniform(w, wcount, bound, rng);
        if (b)
            cnn_layer_fill_uniform(b, bcount, bound, rng);
        return;
    }
    case CNN_INIT_KAIMING: { /* kaiming_normal(fan_in, relu): std sqrt(2/fan_in) */
        double std = sqrt(2.0 / fan_in);
        for (size_t i = 0; i < wcount; i++)
            w[i] = (float)(std * cnn_rng_normal(rng));
        break;
    }
    case CNN_INIT_XAVIER: /* xavier_uniform: bound sqrt(6/(fan_in+fan_out)) */
        cnn_layer_fill_uniform(w, wcount, sqrtf(6.0f / (float)(fan_in + fan_out)), rng);
        break;
    }
    if (b)
        memset(b, 0, bcount * sizeof(float));
}

size_t cnn_dropconnect_ws_floats(size_t wcount) { return wcount + (wcount + 3) / 4; }

const float *cnn_dropconnect_forward(cnn_plan_layer *pl, float *ws, size_t wcount)
{
    float p = pl->ml->desc.p;
    if (!pl->training || p <= 0.0f)
        return pl->w;
    float *wm = ws;
    uint8_t *mask = (uint8_t *)(ws + wcount);
    cnn_rng rng;
    cnn_rng_init(&rng, pl->seed, CNN_STREAM_DROPOUT, pl->step * 4096 + (uint64_t)pl->index);
    cnn_dropout_mask(&rng, wcount, p, mask);
    float scale = 1.0f / (1.0f - p);
    const float *w = pl->w;
#pragma omp parallel for simd schedule(static) if (wcount >= 65536)
    for (size_t i = 0; i < wcount; i++)
        wm[i] = mask[i] ? w[i] * scale : 0.0f;
    return wm;
}

void cnn_dropconnect_backward(cnn_plan_layer *pl, const float *ws, size_t wcount)
{
    float p = pl->ml->desc.p;
    if (p <= 0.0f)
        return;
    const uint8_t *mask = (const uint8_t *)(ws + wcount);
    float scale = 1.0f / (1.0f - p);
    float *dw = pl->dw;
#pragma omp parallel for simd schedule(static) if (wcount >= 65536)
    for (size_t i = 0; i < wcount; i++)
        dw[i] = mask[i] ? dw[i] * scale : 0.0f;
}
