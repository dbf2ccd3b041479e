/* export.c: a model's tensors as PyTorch names them, written as safetensors
 * or as an ONNX graph, and safetensors read back into a model (export.h).
 * Each layer class says what its tensors are (its `tensors` hook) and how
 * ONNX computes it (its `onnx` hook); this file only walks the model. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnnlab/cnnlab.h"
#include "cnnlab/export.h"
#include "layers/layer.h"
#include "onnx_graph.h"
#include "safetensors.h"

/* One tensor of the model: the class's description and its full name. */
typedef struct model_tensor {
    cnn_layer_tensor t;
    int layer;
    char name[64];
    size_t count; /* elements */
} model_tensor;

/* Every tensor of m in layer order; *out is freed by the caller. */
static cnn_status model_tensors(const cnn_model *m, model_tensor **out, int *count,
                                cnn_error *err)
{
    model_tensor *a = malloc(sizeof *a * ((size_t)m->count * CNN_LAYER_MAX_TENSORS + 1));
    if (!a)
        return cnn_error_set(err, CNN_STATUS_NO_MEMORY, "no memory for the tensor list");
    int n = 0;
    for (int i = 0; i < m->count; i++) {
        const cnn_model_layer *l = &m->layers[i];
        const cnn_layer_class *cls = cnn_layer_class_of(l->desc.kind);
        cnn_layer_tensor ts[CNN_LAYER_MAX_TENSORS];
        int k = cls->tensors ? cls->tensors(l, ts) : 0;
        size_t covered = 0;
        for (int j = 0; j < k; j++) {
            model_tensor *mt = &a[n++];
            mt->t = ts[j];
            mt->layer = i;
            snprintf(mt->name, sizeof mt->name, "layers.%d.%s", i, ts[j].name);
            mt->count = 1;
            for (int d = 0; d < ts[j].rank; d++)
                mt->count *= (size_t)ts[j].dims[d];
            if (ts[j].source != CNN_LAYER_TENSOR_COUNTER)
                covered += mt->count;
        }
        /* every parameter and state value belongs to exactly one tensor */
        CNN_ASSERT(covered == l->param_count + l->state_count);
    }
    *out = a;
    *count = n;
    return CNN_STATUS_OK;
}

static const float *tensor_src(const cnn_model *m, const model_tensor *mt)
{
    const cnn_model_layer *l = &m->layers[mt->layer];
    return mt->t.source == CNN_LAYER_TENSOR_STATE ? m->state + l->state_offset + mt->t.offset
                                                  : m->params + l->param_offset + mt->t.offset;
}

static float *tensor_dst(cnn_model *m, const model_tensor *mt)
{
    const cnn_model_layer *l = &m->layers[mt->layer];
    return mt->t.source == CNN_LAYER_TENSOR_STATE ? m->state + l->state_offset + mt->t.offset
                                                  : m->params + l->param_offset + mt->t.offset;
}

/* (C, H, W) from (H, W, C) storage, or back (to_hwc) */
static void transpose_chw(const float *src, float *dst, const int64_t *dims, int to_hwc)
{
    size_t c = (size_t)dims[0], h = (size_t)dims[1], w = (size_t)dims[2];
    for (size_t i = 0; i < h; i++)
        for (size_t j = 0; j < w; j++)
            for (size_t k = 0; k < c; k++) {
                size_t hwc = (i * w + j) * c + k, chw = (k * h + i) * w + j;
                if (to_hwc)
                    dst[hwc] = src[chw];
                else
                    dst[chw] = src[hwc];
            }
}

/* ---- metadata ---- */

static void json_floats(cnn_text *t, const float *v, int n)
{
    cnn_text_append(t, "[", 1);
    for (int i = 0; i < n; i++)
        cnn_text_printf(t, "%s%.9g", i ? ", " : "", (double)v[i]);
    cnn_text_append(t, "]", 1);
}

/* The layer list as JSON, for tools/torch_models.py: each layer's class, its
 * inputs (-1: the model's input), shapes (C, H, W) and settings. */
static void layers_json(const cnn_model *m, cnn_text *t)
{
    cnn_text_append(t, "[", 1);
    for (int i = 0; i < m->count; i++) {
        const cnn_model_layer *l = &m->layers[i];
        const cnn_layer_desc *d = &l->desc;
        cnn_text_printf(t, "%s\n{\"kind\": \"%s\", \"inputs\": [", i ? "," : "",
                        cnn_layer_class_of(d->kind)->name);
        for (int j = 0; j < d->from_count; j++)
            cnn_text_printf(t, "%s%d", j ? ", " : "", d->from[j]);
        cnn_text_printf(t, "], \"in\": [%d, %d, %d], \"out\": [%d, %d, %d], \"channels\": %d, "
                        "\"k\": %d, \"stride\": %d, \"pad\": %d, \"groups\": %d, \"bias\": %d, "
                        "\"act\": \"%s\", \"p\": %.9g, \"eps\": %.9g, \"scale\": %.9g, "
                        "\"label\": ", l->in.c, l->in.h, l->in.w, l->out.c, l->out.h, l->out.w,
                        d->out, d->k, d->stride, d->pad, d->groups, d->bias ? 1 : 0,
                        cnn_act_name(d->act), (double)d->p, (double)d->eps, (double)d->scale);
        cnn_json_string(t, d->label ? d->label : "");
        cnn_text_append(t, "}", 1);
    }
    cnn_text_append(t, "]", 1);
}

enum { META_MAX = 12 };

typedef struct meta {
    int n;
    const char *keys[META_MAX];
    const char *values[META_MAX];
    cnn_text texts[META_MAX];
} meta;

static cnn_text *meta_add(meta *mt, const char *key)
{
    CNN_ASSERT(mt->n < META_MAX);
    mt->keys[mt->n] = key;
    return &mt->texts[mt->n++];
}

static int meta_finish(meta *mt)
{
    int failed = 0;
    for (int i = 0; i < mt->n; i++) {
        failed |= mt->texts[i].failed;
        mt->values[i] = cnn_text_str(&mt->texts[i]);
    }
    return !failed;
}

static void meta_free(meta *mt)
{
    for (int i = 0; i < mt->n; i++)
        cnn_text_free(&mt->texts[i]);
}

/* What both formats record: the model, its input, classes and normalisation. */
static void meta_common(meta *mt, const cnn_model *m, const cnn_export_info *info)
{
    const cnn_model_desc *d = m->desc;
    cnn_text_printf(meta_add(mt, "model"), "%s", d->name);
    char opts[256];
    cnn_model_options_format(&m->options, opts, sizeof opts);
    cnn_text_printf(meta_add(mt, "options"), "%s", opts);
    cnn_text_printf(meta_add(mt, "input_shape"), "[%d, %d, %d]", d->in_c, d->in_h, d->in_w);
    cnn_text *c = meta_add(mt, "classes");
    cnn_text_append(c, "[", 1);
    for (int k = 0; k < d->classes; k++) {
        if (k)
            cnn_text_append(c, ", ", 2);
        if (k < info->n_classes)
            cnn_json_string(c, info->class_names[k]);
        else
            cnn_text_printf(c, "\"%d\"", k);
    }
    cnn_text_append(c, "]", 1);
    json_floats(meta_add(mt, "mean"), info->norm->mean, d->in_c);
    json_floats(meta_add(mt, "std"), info->norm->std, d->in_c);
    if (info->source)
        cnn_text_printf(meta_add(mt, "source"), "%s", info->source);
    const cnn_model_file *f = cnn_model_file_of(d);
    if (f) {
        cnn_text_printf(meta_add(mt, "model_file"), "%s", f->text);
        if (f->vars && f->vars[0])
            cnn_text_printf(meta_add(mt, "model_vars"), "%s", f->vars);
    }
}

static cnn_status check_channels(const cnn_model *m, const char *path, cnn_error *err)
{
    if (m->desc->in_c > CNN_CIFAR_CHANNELS)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "%s: the model reads %d channels; "
                             "the normalisation holds at most %d", path, m->desc->in_c,
                             CNN_CIFAR_CHANNELS);
    return CNN_STATUS_OK;
}

/* ---- safetensors ---- */

cnn_status cnn_export_safetensors(const cnn_model *m, const cnn_export_info *info,
                                  const char *path, cnn_error *err)
{
    cnn_status st = check_channels(m, path, err);
    model_tensor *mts;
    int n;
    if (st || (st = model_tensors(m, &mts, &n, err)))
        return st;
    cnn_st_tensor *ts = calloc((size_t)n + 1, sizeof *ts);
    float *scratch = malloc((m->param_count + m->state_count) * sizeof(float) + 8);
    static const int64_t zero64 = 0;
    meta mt = {0};
    if (!ts || !scratch) {
        st = cnn_error_set(err, CNN_STATUS_NO_MEMORY, "%s: no memory", path);
        goto done;
    }
    float *sp = scratch;
    for (int i = 0; i < n; i++) {
        const model_tensor *x = &mts[i];
        cnn_st_tensor *t = &ts[i];
        t->name = (char *)x->name;
        t->rank = x->t.rank;
        memcpy(t->shape, x->t.dims, sizeof(int64_t) * (size_t)x->t.rank);
        if (x->t.source == CNN_LAYER_TENSOR_COUNTER) {
            t->dtype = CNN_ST_I64;
            t->data = (const unsigned char *)&zero64;
            t->bytes = 8;
            continue;
        }
        t->dtype = CNN_ST_F32;
        t->bytes = x->count * sizeof(float);
        if (x->t.hwc) {
            transpose_chw(tensor_src(m, x), sp, x->t.dims, 0);
            t->data = (const unsigned char *)sp;
            sp += x->count;
        } else {
            t->data = (const unsigned char *)tensor_src(m, x);
        }
    }
    cnn_text_printf(meta_add(&mt, "format"), "pt"); /* what safetensors' PyTorch helpers expect */
    meta_common(&mt, m, info);
    layers_json(m, meta_add(&mt, "layers"));
    if (!meta_finish(&mt)) {
        st = cnn_error_set(err, CNN_STATUS_NO_MEMORY, "%s: no memory for the metadata", path);
        goto done;
    }
    st = cnn_st_write(path, ts, n, mt.keys, mt.values, mt.n, err);
done:
    meta_free(&mt);
    free(scratch);
    free(ts);
    free(mts);
    return st;
}

/* ---- ONNX ---- */

cnn_status cnn_export_onnx(const cnn_model *m, const cnn_export_info *info, const char *path,
                           cnn_error *err)
{
    cnn_status st = check_channels(m, path, err);
    if (st)
        return st;
    /* refuse before anything is built: the first layer ONNX cannot express */
    for (int i = 0; i < m->count; i++) {
        const cnn_model_layer *l = &m->layers[i];
        if (!cnn_layer_class_of(l->desc.kind)->onnx)
            return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "%s: layer %d (%s%s%s) is a "
                                 "%s, which the ONNX export cannot express", path, i + 1,
                                 l->desc.label ? l->desc.label : "unnamed",
                                 l->desc.origin ? ", " : "", l->desc.origin ? l->desc.origin : "",
                                 cnn_layer_class_of(l->desc.kind)->name);
    }
    const cnn_model_desc *d = m->desc;
    cnn_onnx_graph *g = cnn_onnx_graph_create();
    cnn_onnx_value *vals = calloc((size_t)m->count + 1, sizeof *vals);
    meta mt = {0};
    if (!g || !vals) {
        st = cnn_error_set(err, CNN_STATUS_NO_MEMORY, "%s: no memory", path);
        goto done;
    }
    /* the input normalisation: (x - mean) / std per channel, x in [0, 1]
     * (mean and std (C, 1, 1): OpenCV 4.6 reads (1, C, 1, 1) wrongly) */
    int64_t cdims[3] = {d->in_c, 1, 1};
    const char *mean = cnn_onnx_const(g, "mean", info->norm->mean, 3, cdims);
    const char *sd = cnn_onnx_const(g, "std", info->norm->std, 3, cdims);
    cnn_onnx_value input = {cnn_onnx_op2(g, "Div", cnn_onnx_op2(g, "Sub", "input", mean), sd), 4,
                           d->in_c};
    for (int i = 0; i < m->count && !st; i++) {
        const cnn_model_layer *l = &m->layers[i];
        cnn_onnx_value in[CNN_MAX_INPUTS];
        for (int j = 0; j < l->desc.from_count; j++)
            in[j] = l->desc.from[j] < 0 ? input : vals[l->desc.from[j]];
        cnn_onnx_graph_layer(g, i);
        st = cnn_layer_class_of(l->desc.kind)
                 ->onnx(g, l, m->params + l->param_offset, m->state + l->state_offset, in,
                        l->desc.from_count, &vals[i], err);
    }
    if (st)
        goto done;
    cnn_onnx_value last = vals[m->count - 1];
    if (last.rank != 2) { /* a model ending on a 1x1 map */
        cnn_onnx_graph_layer(g, m->count - 1);
        last.name = cnn_onnx_node(g, "Flatten", &last.name, 1, &CNN_ONNX_INT("axis", 1), 1);
    }
    meta_common(&mt, m, info);
    if (!meta_finish(&mt)) {
        st = cnn_error_set(err, CNN_STATUS_NO_MEMORY, "%s: no memory for the metadata", path);
        goto done;
    }
    char doc[256];
    snprintf(doc, sizeof doc, "%s exported by cnnlab: input float32 NCHW pixels in [0, 1], "
             "normalised inside the graph; output logits", d->name);
    cnn_onnx_io io = {.c = d->in_c, .h = d->in_h, .w = d->in_w, .classes = d->classes,
                      .last = last.name, .producer = CNNLAB_VERSION, .doc = doc, .n_meta = mt.n,
                      .meta_keys = mt.keys, .meta_values = mt.values};
    st = cnn_onnx_graph_write(g, &io, path, err);
done:
    meta_free(&mt);
    free(vals);
    cnn_onnx_graph_destroy(g);
    return st;
}

/* ---- import ---- */

static void shape_text(const int64_t *dims, int rank, char *buf, size_t size)
{
    size_t u = 0;
    u += (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < rank && u < size; i++)
        u += (size_t)snprintf(buf + u, size - u, "%s%lld", i ? ", " : "", (long long)dims[i]);
    if (u < size)
        snprintf(buf + u, size - u, "]");
}

/* "[0.49, 0.48, 0.45]" into v[0..n) */
static int parse_floats(const char *s, float *v, int n)
{
    if (!s || *s++ != '[')
        return 0;
    for (int i = 0; i < n; i++) {
        char *end;
        double x = strtod(s, &end);
        if (end == s || !isfinite(x))
            return 0;
        v[i] = (float)x;
        s = end;
        while (*s == ' ')
            s++;
        if (*s != (i + 1 < n ? ',' : ']'))
            return 0;
        s++;
    }
    return 1;
}

static cnn_status import_tensor(const char *path, cnn_model *m, const model_tensor *mt,
                                const cnn_st_tensor *t, cnn_error *err)
{
    char want[96], found[96];
    shape_text(mt->t.dims, mt->t.rank, want, sizeof want);
    shape_text(t->shape, t->rank, found, sizeof found);
    int same = t->rank == mt->t.rank;
    for (int d = 0; same && d < t->rank; d++)
        same = t->shape[d] == mt->t.dims[d];
    if (!same)
        return cnn_error_set(err, CNN_STATUS_FORMAT, "%s: tensor %s: expected shape %s for %s, "
                             "found %s", path, mt->name, want, m->desc->name, found);
    if (mt->t.source == CNN_LAYER_TENSOR_COUNTER)
        return CNN_STATUS_OK; /* PyTorch's counter: not a weight */
    if (t->dtype != CNN_ST_F32)
        return cnn_error_set(err, CNN_STATUS_FORMAT, "%s: tensor %s: expected dtype F32, found "
                             "I64", path, mt->name);
    float *v = malloc(mt->count * sizeof(float) + 1);
    if (!v)
        return cnn_error_set(err, CNN_STATUS_NO_MEMORY, "%s: no memory", path);
    memcpy(v, t->data, mt->count * sizeof(float));
    for (size_t i = 0; i < mt->count; i++)
        if (!isfinite(v[i])) {
            float bad = v[i];
            free(v);
            return cnn_error_set(err, CNN_STATUS_FORMAT, "%s: tensor %s: expected finite values, "
                                 "found %g at element %zu", path, mt->name, (double)bad, i);
        }
    float *dst = tensor_dst(m, mt);
    if (mt->t.hwc)
        transpose_chw(v, dst, mt->t.dims, 1);
    else
        memcpy(dst, v, mt->count * sizeof(float));
    free(v);
    return CNN_STATUS_OK;
}

cnn_status cnn_safetensors_meta(const char *path, const char *key, char *out, size_t size,
                                cnn_error *err)
{
    cnn_st_file f;
    cnn_status st = cnn_st_read(path, &f, err);
    if (st)
        return st;
    const char *v = cnn_st_meta(&f, key);
    if (v && strlen(v) >= size)
        st = cnn_error_set(err, CNN_STATUS_FORMAT, "%s: metadata %s: expected at most %zu "
                           "characters, found %zu", path, key, size - 1, strlen(v));
    else
        snprintf(out, size, "%s", v ? v : "");
    cnn_st_free(&f);
    return st;
}

cnn_status cnn_import_safetensors(const char *path, cnn_model *m, cnn_norm *norm, int *has_norm,
                                  cnn_error *err)
{
    cnn_st_file f;
    model_tensor *mts = NULL;
    int n = 0;
    cnn_status st = cnn_st_read(path, &f, err);
    if (st)
        return st;
    if ((st = model_tensors(m, &mts, &n, err)))
        goto done;
    int used = 0;
    for (int i = 0; i < n && !st; i++) {
        const cnn_st_tensor *t = cnn_st_find(&f, mts[i].name);
        if (t) {
            used++;
            st = import_tensor(path, m, &mts[i], t, err);
        } else if (mts[i].t.source != CNN_LAYER_TENSOR_COUNTER) {
            char want[96];
            shape_text(mts[i].t.dims, mts[i].t.rank, want, sizeof want);
            st = cnn_error_set(err, CNN_STATUS_FORMAT, "%s: expected tensor %s (shape %s) for "
                               "%s, found none", path, mts[i].name, want, m->desc->name);
        }
    }
    for (int i = 0; !st && used < f.count && i < f.count; i++) {
        int known = 0;
        for (int j = 0; j < n && !known; j++)
            known = strcmp(f.tensors[i].name, mts[j].name) == 0;
        if (!known) {
            char found[96];
            shape_text(f.tensors[i].shape, f.tensors[i].rank, found, sizeof found);
            st = cnn_error_set(err, CNN_STATUS_FORMAT, "%s: tensor %s (shape %s): %s has no such "
                               "tensor (expected names layers.INDEX.NAME as `cnnlab export` "
                               "writes them)", path, f.tensors[i].name, found, m->desc->name);
        }
    }
    *has_norm = 0;
    if (!st && cnn_st_meta(&f, "mean") && cnn_st_meta(&f, "std")) {
        int c = m->desc->in_c;
        if (c > CNN_CIFAR_CHANNELS || !parse_floats(cnn_st_meta(&f, "mean"), norm->mean, c) ||
            !parse_floats(cnn_st_meta(&f, "std"), norm->std, c))
            st = cnn_error_set(err, CNN_STATUS_FORMAT, "%s: metadata mean and std: expected "
                               "[%d finite numbers] each, found '%.40s' and '%.40s'", path, c,
                               cnn_st_meta(&f, "mean"), cnn_st_meta(&f, "std"));
        for (int k = 0; !st && k < c; k++)
            if (!(norm->std[k] > 0))
                st = cnn_error_set(err, CNN_STATUS_FORMAT, "%s: metadata std: expected positive "
                                   "numbers, found %g", path, (double)norm->std[k]);
        *has_norm = !st;
    }
done:
    free(mts);
    cnn_st_free(&f);
    return st;
}
