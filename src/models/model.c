/* model.c: from a description to shapes, parameter layout and initial values.
 * Invariant: layer i's parameters are params[param_offset, +param_count), its
 * gradients the same range of grads, its state the range of state. */
#include <string.h>

#include "layers/layer.h"

static const char *kind_name(cnn_layer_kind k) { return cnn_layer_class_of(k)->name; }

cnn_status cnn_model_create(const cnn_model_desc *desc, cnn_model **out, cnn_error *err)
{
    cnn_model *m = calloc(1, sizeof *m);
    if (!m)
        return cnn_error_set(err, CNN_STATUS_NO_MEMORY, "no memory for model %s", desc->name);
    m->desc = desc;
    m->count = desc->count;
    m->layers = calloc((size_t)desc->count, sizeof *m->layers);
    if (!m->layers) {
        cnn_model_destroy(m);
        return cnn_error_set(err, CNN_STATUS_NO_MEMORY, "no memory for model %s", desc->name);
    }
    cnn_shape shape = {desc->in_h, desc->in_w, desc->in_c};
    for (int i = 0; i < desc->count; i++) {
        cnn_model_layer *l = &m->layers[i];
        l->desc = desc->layers[i];
        l->in = shape;
        size_t np = 0, ns = 0;
        cnn_error sub;
        if (cnn_layer_class_of(l->desc.kind)->infer(&l->desc, shape, &l->out, &np, &ns, &sub) !=
            CNN_STATUS_OK) {
            cnn_status st = cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                                          "model %s, layer %d (%s) on input %dx%dx%d: %s",
                                          desc->name, i + 1, kind_name(l->desc.kind), shape.h,
                                          shape.w, shape.c, sub.msg);
            cnn_model_destroy(m);
            return st;
        }
        l->param_offset = m->param_count;
        l->param_count = np;
        l->state_offset = m->state_count;
        l->state_count = ns;
        m->param_count += np;
        m->state_count += ns;
        shape = l->out;
    }
    if (shape.h != 1 || shape.w != 1 || shape.c != desc->classes) {
        cnn_status st = cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                                      "model %s: the last layer gives %dx%dx%d, expected %d class "
                                      "scores (1x1x%d)", desc->name, shape.h, shape.w, shape.c,
                                      desc->classes, desc->classes);
        cnn_model_destroy(m);
        return st;
    }
    m->params = cnn_alloc(m->param_count * sizeof(float));
    m->grads = cnn_alloc(m->param_count * sizeof(float));
    m->state = cnn_alloc(m->state_count * sizeof(float));
    if (!m->params || !m->grads || !m->state) {
        size_t count = m->param_count;
        cnn_model_destroy(m);
        return cnn_error_set(err, CNN_STATUS_NO_MEMORY, "no memory for %zu parameters of %s",
                             count, desc->name);
    }
    *out = m;
    return CNN_STATUS_OK;
}

void cnn_model_destroy(cnn_model *m)
{
    if (!m)
        return;
    cnn_free(m->params);
    cnn_free(m->grads);
    cnn_free(m->state);
    free(m->layers);
    free(m);
}

void cnn_model_init(cnn_model *m, uint64_t seed)
{
    for (int i = 0; i < m->count; i++) {
        const cnn_model_layer *l = &m->layers[i];
        const cnn_layer_class *cls = cnn_layer_class_of(l->desc.kind);
        if (!cls->init)
            continue;
        cnn_rng rng;
        cnn_rng_init(&rng, seed, CNN_STREAM_INIT, (uint64_t)i);
        cls->init(l, m->params + l->param_offset, m->state + l->state_offset, &rng);
    }
}

double cnn_model_macs(const cnn_model *m)
{
    double total = 0;
    for (int i = 0; i < m->count; i++) {
        const cnn_layer_class *cls = cnn_layer_class_of(m->layers[i].desc.kind);
        if (cls->macs)
            total += cls->macs(&m->layers[i]);
    }
    return total;
}
