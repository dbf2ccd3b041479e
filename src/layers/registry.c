/* registry.c: the layer classes (one line per layer type), lookups by kind
 * and by model-file word, and the helpers layers share: initialisation and
 * DropConnect. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "layer.h"

/* Every layer class, one line each. A class's cnn_layer_kind is its place
 * here: the first CNN_LAYER_KIND_COUNT follow the order of the kinds model.h
 * names; a layer added below them gets the next number and is reached by its
 * model-file word. */
#define CNN_LAYER_CLASSES(X)                                                                       \
    X(conv)                                                                                        \
    X(linear)                                                                                      \
    X(act)                                                                                         \
    X(maxpool)                                                                                     \
    X(avgpool)                                                                                     \
    X(gap)                                                                                         \
    X(flatten)                                                                                     \
    X(batchnorm)                                                                                   \
    X(identity)                                                                                    \
    X(dropout)                                                                                     \
    X(dropout2d)                                                                                   \
    X(layernorm)                                                                                   \
    X(instancenorm)                                                                                \
    X(groupnorm)                                                                                   \
    X(add)                                                                                         \
    X(concat)                                                                                      \
    X(gmp)                                                                                         \
    X(shortcut)                                                                                    \
    X(scale)                                                                                       \
    X(gate)                                                                                        \
    /* (one line per layer above: its class is cnn_layer_NAME) */

#define DECLARE(name) extern const cnn_layer_class cnn_layer_##name;
CNN_LAYER_CLASSES(DECLARE)
#undef DECLARE

#define ENTRY(name) &cnn_layer_##name,
static const cnn_layer_class *const classes[] = {CNN_LAYER_CLASSES(ENTRY)};
#undef ENTRY

#define CLASS_COUNT ((int)(sizeof classes / sizeof classes[0]))

const cnn_layer_class *cnn_layer_class_of(cnn_layer_kind kind)
{
    CNN_ASSERT((int)kind >= 0 && (int)kind < CLASS_COUNT);
    return classes[kind];
}

cnn_layer_kind cnn_layer_kind_of(const cnn_layer_class *cls)
{
    for (int i = 0; i < CLASS_COUNT; i++)
        if (classes[i] == cls)
            return (cnn_layer_kind)i;
    CNN_ASSERT(!"a layer class missing from the registry");
    return CNN_LAYER_KIND_COUNT;
}

const cnn_layer_class *cnn_layer_word_find(const char *word, const cnn_layer_word **entry)
{
    for (int i = 0; i < CLASS_COUNT; i++)
        for (const cnn_layer_word *w = classes[i]->words; w && w->word; w++)
            if (!strcmp(w->word, word)) {
                if (entry)
                    *entry = w;
                return classes[i];
            }
    return NULL;
}

int cnn_layer_key_find(const cnn_layer_word *w, const char *name, size_t n)
{
    for (int i = 0; w->keys && w->keys[i].name; i++)
        if (!strncmp(w->keys[i].name, name, n) && w->keys[i].name[n] == 0)
            return i;
    return -1;
}

void cnn_layer_key_list(const cnn_layer_word *w, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = 0;
    for (int i = 0; w->keys && w->keys[i].name; i++)
        used += (size_t)snprintf(buf + used, used < size ? size - used : 0, "%s%s",
                                 used ? ", " : "", w->keys[i].name);
    if (!used)
        snprintf(buf, size, "none");
}

void cnn_layer_describe(const cnn_layer_desc *d, char *buf, size_t size)
{
    const cnn_layer_class *cls = cnn_layer_class_of(d->kind);
    if (cls->describe)
        cls->describe(d, buf, size);
    else
        snprintf(buf, size, "%s", cls->name);
}

const cnn_layer_key cnn_layer_keys_from[] = {CNN_LAYER_KEY_FROM, CNN_LAYER_KEY_END};

int cnn_layer_bias_of(const cnn_layer_value *v)
{
    static const int bias[] = {CNN_BIAS_YES, CNN_BIAS_NO, CNN_BIAS_AUTO}; /* "yes,no,auto" */
    return v->given ? bias[v->i] : CNN_BIAS_AUTO;
}

void cnn_layer_norm_keys(cnn_layer_desc *d, const cnn_layer_value *gamma,
                         const cnn_layer_value *freeze, const cnn_layer_value *eps,
                         const cnn_layer_value *momentum)
{
    d->gamma0 = gamma && gamma->given && gamma->i == 0;
    d->freeze_weight = freeze && freeze->given;
    if (eps && eps->given)
        d->eps = eps->f;
    if (momentum && momentum->given)
        d->momentum = momentum->f;
}

void cnn_layer_text_add(char *buf, size_t size, size_t *used, const char *fmt, ...)
{
    if (*used >= size)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *used, size - *used, fmt, ap);
    va_end(ap);
    if (n > 0)
        *used = *used + (size_t)n < size ? *used + (size_t)n : size;
}

int cnn_layer_is_norm(cnn_layer_kind kind) { return cnn_layer_class_of(kind)->norm; }

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
