/* model.c: from a description and options to a resolved layer list, shapes,
 * parameter layout and initial values.
 * Invariants after cnn_model_create: every layer's desc has explicit inputs
 * (from_count >= 1, earlier layers or -1 for the model input), no slot is left
 * unresolved, biases are decided; layer i's parameters are
 * params[param_offset, +param_count), its gradients the same range of grads,
 * its state the same range of state. */
#include <stdint.h>
#include <string.h>

#include "layers/layer.h"

/* Limits checked in 64-bit arithmetic before a size is used: every activation
 * (the input included) holds at most MAX_VALUES values per image, so a layer's
 * int shape arithmetic (flatten's H*W*C, concat's channel sum) cannot
 * overflow; a model holds at most MAX_PARAMS parameters (16 GiB of fp32), so
 * the byte counts of its blocks cannot either. */
#define MAX_VALUES ((int64_t)1 << 28)
#define MAX_PARAMS ((size_t)1 << 32)

/* 1 if s has positive sides and at most MAX_VALUES values; *n its count
 * (every partial product stays below 2^28 * 2^31, so none overflows). */
static int shape_ok(cnn_shape s, double *n)
{
    *n = (double)s.h * (double)s.w * (double)s.c;
    if (s.h < 1 || s.w < 1 || s.c < 1 || s.h > MAX_VALUES)
        return 0;
    int64_t hw = (int64_t)s.h * s.w;
    return hw <= MAX_VALUES && hw * s.c <= MAX_VALUES;
}


/* Refuses a knob the model has no slot for, or a value out of range. */
static cnn_status check_options(const cnn_model_desc *d, const cnn_model_options *o, cnn_error *err)
{
    int slots = 0;
    for (int i = 0; i < d->count; i++)
        slots |= d->layers[i].slots;
    struct {
        int set, slot;
        const char *flag, *what;
    } knobs[] = {
        {o->norm != CNN_NORM_DEFAULT, CNN_SLOT_NORM, "--norm", "normalisation"},
        {o->groups != 0, CNN_SLOT_NORM, "--groups", "normalisation"},
        {o->act != CNN_ACT_NONE, CNN_SLOT_ACT, "--activation", "activation"},
        {o->kernel_size != 0, CNN_SLOT_KERNEL, "--kernel-size", "kernel-size"},
        {o->dropout >= 0, CNN_SLOT_DROPOUT, "--dropout", "dropout"},
        {o->dropconnect > 0, CNN_SLOT_DROPCONNECT, "--dropconnect", "DropConnect"},
    };
    for (size_t i = 0; i < sizeof knobs / sizeof knobs[0]; i++)
        if (knobs[i].set && !(slots & knobs[i].slot))
            return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                                 "%s: model %s has no %s slots, so it cannot take this option",
                                 knobs[i].flag, d->name, knobs[i].what);
    if (o->dropout >= 1.0f)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                             "--dropout: expected a probability in [0, 1), found %g", (double)o->dropout);
    if (o->dropconnect < 0.0f || o->dropconnect >= 1.0f)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                             "--dropconnect: expected a probability in [0, 1), found %g",
                             (double)o->dropconnect);
    if (o->kernel_size < 0 || o->kernel_size > 15)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                             "--kernel-size: expected 1 to 15, found %d", o->kernel_size);
    if (o->groups < 0)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                             "--groups: expected a positive number, found %d", o->groups);
    if (o->groups && o->norm != CNN_NORM_GROUP)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                             "--groups: only used with --norm group, found --norm %s",
                             cnn_norm_kind_name(o->norm));
    return CNN_STATUS_OK;
}

static cnn_layer_kind norm_layer(cnn_norm_kind k, cnn_layer_kind own)
{
    switch (k) {
    case CNN_NORM_NONE: return CNN_LAYER_IDENTITY;
    case CNN_NORM_BATCH: return CNN_LAYER_BATCHNORM;
    case CNN_NORM_LAYER: return CNN_LAYER_LAYERNORM;
    case CNN_NORM_INSTANCE: return CNN_LAYER_INSTANCENORM;
    case CNN_NORM_GROUP: return CNN_LAYER_GROUPNORM;
    default: return own;
    }
}

/* Applies the options to layer i's description. */
static void resolve(cnn_layer_desc *l, const cnn_model_options *o)
{
    if (l->slots & CNN_SLOT_NORM) {
        l->kind = norm_layer(o->norm, l->kind);
        if (l->kind == CNN_LAYER_GROUPNORM && o->groups)
            l->groups = o->groups;
    }
    if ((l->slots & CNN_SLOT_ACT) && o->act != CNN_ACT_NONE)
        l->act = o->act;
    if ((l->slots & CNN_SLOT_KERNEL) && o->kernel_size) {
        if (l->pad > 0)
            l->pad = o->kernel_size / 2;
        l->k = o->kernel_size;
    }
    if (l->slots & CNN_SLOT_DROPOUT) {
        /* an empty dropout slot is an identity until given a probability */
        if (o->dropout >= 0)
            l->p = o->dropout;
        if (l->kind == CNN_LAYER_IDENTITY && l->p > 0.0f)
            l->kind = CNN_LAYER_DROPOUT;
    }
    if ((l->kind == CNN_LAYER_DROPOUT || l->kind == CNN_LAYER_DROPOUT2D) && l->p == 0.0f)
        l->kind = CNN_LAYER_IDENTITY;
    if (l->slots & CNN_SLOT_DROPCONNECT)
        l->p = o->dropconnect;
}

/* 32 groups, or the largest divisor of c below it. */
static int auto_groups(int c)
{
    int g = c < 32 ? c : 32;
    while (c % g)
        g--;
    return g;
}

static void shape_text(cnn_shape s, char *buf, size_t n) { snprintf(buf, n, "%dx%dx%d", s.h, s.w, s.c); }

/* "layer 12 'basic4.add' (add, models/resnet20.cnn:19)", "layer 3 (conv)" or
 * "the model's input". */
static void layer_text(const cnn_model *m, int i, char *buf, size_t n)
{
    if (i < 0) {
        snprintf(buf, n, "the model's input");
        return;
    }
    const cnn_layer_desc *d = &m->layers[i].desc;
    const char *kind = cnn_layer_class_of(d->kind)->name;
    if (d->label && d->origin)
        snprintf(buf, n, "layer %d '%s' (%s, %s)", i + 1, d->label, kind, d->origin);
    else
        snprintf(buf, n, "layer %d (%s)", i + 1, kind);
}

/* "; reading layer 9 'basic1.body' (...) gives 16x16x32, layer 4 ... gives ..." */
static void inputs_text(const cnn_model *m, int i, char *buf, size_t n)
{
    const cnn_model_layer *l = &m->layers[i];
    size_t used = 0;
    buf[0] = 0;
    for (int j = 0; j < l->desc.from_count && used < n; j++) {
        char who[256], shape[48];
        layer_text(m, l->desc.from[j], who, sizeof who);
        shape_text(l->ins[j], shape, sizeof shape);
        used += (size_t)snprintf(buf + used, n - used, "%s%s gives %s", j ? ", " : "; reading ",
                                 who, shape);
    }
}

/* Automatic biases: none when a norm layer takes the output. */
static void resolve_biases(cnn_model *m)
{
    for (int i = 0; i < m->count; i++) {
        cnn_layer_desc *l = &m->layers[i].desc;
        if (l->bias == CNN_BIAS_AUTO) {
            const cnn_layer_desc *next = i + 1 < m->count ? &m->layers[i + 1].desc : NULL;
            /* (an instance-norm slot after a linear layer stays empty: see below) */
            int norm_follows = next && next->from[0] == i && cnn_layer_is_norm(next->kind) &&
                               !(next->kind == CNN_LAYER_INSTANCENORM &&
                                 (next->slots & CNN_SLOT_NORM) && l->kind == CNN_LAYER_LINEAR);
            l->bias = !norm_follows;
        }
    }
}

/* Layer i's inputs, output shape and its place in the parameter and state
 * blocks; an error names the layer and the shapes. */
static cnn_status place_layer(cnn_model *m, int i, cnn_shape input, cnn_error *err)
{
    double values;
    cnn_model_layer *l = &m->layers[i];
    cnn_layer_desc *d = &l->desc;
    char where[400];
    size_t wn = (size_t)snprintf(where, sizeof where, "model %s, ", m->desc->name);
    layer_text(m, i, where + wn, sizeof where - wn);
    if (d->from_count < 1 || d->from_count > CNN_MAX_INPUTS) {
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "%s: expected 1 to %d inputs, "
                             "found %d", where, CNN_MAX_INPUTS, d->from_count);
    }
    for (int j = 0; j < d->from_count; j++) {
        int f = d->from[j];
        if (f < -1 || f >= i) {
            return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "%s: input %d refers to "
                                 "layer %d, expected an earlier layer", where, j + 1, f + 1);
        }
        l->ins[j] = f < 0 ? input : m->layers[f].out;
    }
    l->in = l->ins[0];
    /* Instance norm needs a spatial extent: on flat features (a norm slot
     * after a linear layer) it would zero every value, so the slot stays
     * empty there. */
    if (d->kind == CNN_LAYER_INSTANCENORM && (d->slots & CNN_SLOT_NORM) && l->in.h * l->in.w == 1)
        d->kind = CNN_LAYER_IDENTITY;
    if (d->kind == CNN_LAYER_GROUPNORM && d->groups == 0)
        d->groups = auto_groups(l->in.c);
    const cnn_layer_class *cls = cnn_layer_class_of(d->kind);
    size_t np = 0, ns = 0;
    cnn_error sub;
    if (cls->infer(d, l->ins, d->from_count, &l->out, &np, &ns, &sub) != CNN_STATUS_OK) {
        char shape[48], inputs[800];
        shape_text(l->in, shape, sizeof shape);
        inputs_text(m, i, inputs, sizeof inputs);
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "%s on input %s: %s%s", where,
                             shape, sub.msg, d->label ? inputs : "");
    }
    if (!shape_ok(l->out, &values)) {
        char shape[48];
        shape_text(l->out, shape, sizeof shape);
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "%s: output %s: expected "
                             "positive sides and at most %lld values per image, found %.0f",
                             where, shape, (long long)MAX_VALUES, values);
    }
    if (np > MAX_PARAMS - m->param_count || ns > MAX_PARAMS - m->state_count) {
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "%s: expected at most %zu "
                             "parameters in the model, found %zu more after %zu", where,
                             MAX_PARAMS, np > MAX_PARAMS - m->param_count ? np : ns,
                             m->param_count);
    }
    l->param_offset = m->param_count;
    l->param_count = np;
    l->state_offset = m->state_count;
    l->state_count = ns;
    m->param_count += np;
    m->state_count += ns;
    return CNN_STATUS_OK;
}

cnn_status cnn_model_create(const cnn_model_desc *desc, const cnn_model_options *opt,
                            cnn_model **out, cnn_error *err)
{
    cnn_model_options defaults;
    if (!opt) {
        cnn_model_options_defaults(&defaults);
        opt = &defaults;
    }
    cnn_status st = check_options(desc, opt, err);
    if (st)
        return st;
    cnn_model *m = calloc(1, sizeof *m);
    if (!m || !(m->layers = calloc((size_t)desc->count, sizeof *m->layers))) {
        free(m);
        return cnn_error_set(err, CNN_STATUS_NO_MEMORY, "no memory for model %s", desc->name);
    }
    m->desc = desc;
    m->options = *opt;
    m->count = desc->count;
    for (int i = 0; i < desc->count; i++) {
        cnn_layer_desc *l = &m->layers[i].desc;
        *l = desc->layers[i];
        resolve(l, opt);
        if (l->from_count == 0) {
            l->from_count = 1;
            l->from[0] = i - 1;
        }
    }
    resolve_biases(m);
    cnn_shape input = {desc->in_h, desc->in_w, desc->in_c};
    double values;
    if (!shape_ok(input, &values)) {
        st = cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "model %s: input %dx%dx%d: expected "
                           "positive sides and at most %lld values per image, found %.0f",
                           desc->name, input.h, input.w, input.c, (long long)MAX_VALUES, values);
        goto fail;
    }
    for (int i = 0; i < desc->count; i++)
        if ((st = place_layer(m, i, input, err)))
            goto fail;
    cnn_shape last = m->layers[desc->count - 1].out;
    if (last.h != 1 || last.w != 1 || last.c != desc->classes) {
        char who[256];
        layer_text(m, desc->count - 1, who, sizeof who);
        st = cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                           "model %s: the last layer, %s, gives %dx%dx%d, expected %d class "
                           "scores (1x1x%d)", desc->name, who, last.h, last.w, last.c,
                           desc->classes, desc->classes);
        goto fail;
    }
    m->params = cnn_alloc(m->param_count * sizeof(float));
    m->grads = cnn_alloc(m->param_count * sizeof(float));
    m->state = cnn_alloc(m->state_count * sizeof(float));
    if (!m->params || !m->grads || !m->state) {
        st = cnn_error_set(err, CNN_STATUS_NO_MEMORY, "no memory for %zu parameters of %s",
                           m->param_count, desc->name);
        goto fail;
    }
    *out = m;
    return CNN_STATUS_OK;
fail:
    cnn_model_destroy(m);
    return st;
}

cnn_status cnn_model_check_data(const cnn_model_desc *desc, int h, int w, int c, int classes,
                                const char *data, cnn_error *err)
{
    if (desc->in_h == h && desc->in_w == w && desc->in_c == c && desc->classes == classes)
        return CNN_STATUS_OK;
    const cnn_model_file *file = cnn_model_file_of(desc);
    return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                         "model %s%s%s%s reads %dx%dx%d images into %d classes; the %s "
                         "data has %dx%dx%d images and %d classes (expected `input %d %d %d` and "
                         "`classes %d`)", desc->name, file ? " (" : "", file ? file->path : "",
                         file ? ")" : "", desc->in_h, desc->in_w, desc->in_c, desc->classes, data,
                         h, w, c, classes, h, w, c, classes);
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

cnn_init_kind cnn_model_init_kind(const cnn_model *m)
{
    if (m->options.init != CNN_INIT_DEFAULT)
        return m->options.init;
    return m->desc->init != CNN_INIT_DEFAULT ? m->desc->init : CNN_INIT_PYTORCH;
}

void cnn_model_init(cnn_model *m, uint64_t seed)
{
    cnn_init_kind how = cnn_model_init_kind(m);
    for (int i = 0; i < m->count; i++) {
        const cnn_model_layer *l = &m->layers[i];
        const cnn_layer_class *cls = cnn_layer_class_of(l->desc.kind);
        if (!cls->init)
            continue;
        cnn_rng rng;
        cnn_rng_init(&rng, seed, CNN_STREAM_INIT, (uint64_t)i);
        cls->init(l, how, m->params + l->param_offset, m->state + l->state_offset, &rng);
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

int cnn_model_weight_ranges(const cnn_model *m, size_t *offsets, size_t *counts, int max)
{
    int n = 0;
    for (int i = 0; i < m->count && n < max; i++) {
        const cnn_model_layer *l = &m->layers[i];
        if (!cnn_layer_class_of(l->desc.kind)->weighted)
            continue;
        offsets[n] = l->param_offset;
        counts[n] = l->param_count - (l->desc.bias ? (size_t)l->desc.out : 0);
        n++;
    }
    return n;
}

int cnn_model_param_ranges(const cnn_model *m, cnn_param_range *out, int max)
{
    int n = 0;
    for (int i = 0; i < m->count; i++) {
        const cnn_model_layer *l = &m->layers[i];
        if (!l->param_count)
            continue;
        size_t first = l->param_count, second = 0; /* weights, then biases or shifts */
        cnn_param_role r0 = CNN_PARAM_WEIGHT, r1 = CNN_PARAM_BIAS;
        if (cnn_layer_is_norm(l->desc.kind)) {
            first = second = l->param_count / 2;
            r0 = CNN_PARAM_NORM_WEIGHT;
            r1 = CNN_PARAM_NORM_BIAS;
        } else if (cnn_layer_class_of(l->desc.kind)->weighted && l->desc.bias) {
            second = (size_t)l->desc.out;
            first = l->param_count - second;
        }
        cnn_param_range a = {l->param_offset, first, r0, i, l->desc.freeze_weight};
        cnn_param_range b = {l->param_offset + first, second, r1, i, 0};
        if (n < max)
            out[n] = a;
        n++;
        if (second) {
            if (n < max)
                out[n] = b;
            n++;
        }
    }
    return n;
}

static const char *const role_names[CNN_PARAM_ROLE_COUNT] = {"weight", "bias", "norm_weight",
                                                             "norm_bias"};

const char *cnn_param_role_name(cnn_param_role r)
{
    return (int)r >= 0 && r < CNN_PARAM_ROLE_COUNT ? role_names[r] : "?";
}

int cnn_param_role_parse(const char *s, cnn_param_role *out)
{
    for (int i = 0; i < CNN_PARAM_ROLE_COUNT; i++)
        if (strcmp(s, role_names[i]) == 0) {
            *out = (cnn_param_role)i;
            return 1;
        }
    return 0;
}
