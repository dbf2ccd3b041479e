/* onnx_graph.c: an ONNX ModelProto assembled from protobuf-c's generated
 * messages (onnx.pb-c.h, made at build time from Debian's onnx.proto) and
 * packed by protobuf-c. Everything the graph allocates is kept in one list
 * and freed with it; the first failed allocation makes the graph "failed",
 * after which calls return a placeholder and write reports it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "onnx.pb-c.h"
#include "onnx_graph.h"

#define OPSET 13

struct cnn_onnx_graph {
    void **owned; /* every allocation, freed by destroy */
    size_t n_owned, cap_owned;
    Onnx__NodeProto **nodes;
    size_t n_nodes, cap_nodes;
    Onnx__TensorProto **inits;
    size_t n_inits, cap_inits;
    int layer;  /* the layer being added (-1: the graph's own nodes) */
    int serial; /* makes names unique */
    int failed;
};

static void *own(cnn_onnx_graph *g, void *p)
{
    if (!p) {
        g->failed = 1;
        return NULL;
    }
    if (g->n_owned == g->cap_owned) {
        size_t cap = g->cap_owned ? 2 * g->cap_owned : 256;
        void **a = realloc(g->owned, cap * sizeof *a);
        if (!a) {
            free(p);
            g->failed = 1;
            return NULL;
        }
        g->owned = a;
        g->cap_owned = cap;
    }
    g->owned[g->n_owned++] = p;
    return p;
}

static void *alloc(cnn_onnx_graph *g, size_t bytes) { return own(g, calloc(1, bytes ? bytes : 1)); }

/* Appends p to a growable array of pointers. */
static int push(cnn_onnx_graph *g, void ***arr, size_t *n, size_t *cap, void *p)
{
    if (!p)
        return 0;
    if (*n == *cap) {
        size_t c = *cap ? 2 * *cap : 64;
        void **a = realloc(*arr, c * sizeof *a);
        if (!a) {
            g->failed = 1;
            return 0;
        }
        *arr = a;
        *cap = c;
    }
    (*arr)[(*n)++] = p;
    return 1;
}

static char *name_of(cnn_onnx_graph *g, const char *what)
{
    char buf[160];
    if (g->layer >= 0)
        snprintf(buf, sizeof buf, "l%d.%s.%d", g->layer + 1, what, g->serial++);
    else
        snprintf(buf, sizeof buf, "%s.%d", what, g->serial++);
    char *s = alloc(g, strlen(buf) + 1);
    if (!s)
        return "failed";
    return strcpy(s, buf);
}

cnn_onnx_graph *cnn_onnx_graph_create(void)
{
    cnn_onnx_graph *g = calloc(1, sizeof *g);
    if (g)
        g->layer = -1;
    return g;
}

void cnn_onnx_graph_destroy(cnn_onnx_graph *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->n_owned; i++)
        free(g->owned[i]);
    free(g->owned);
    free(g->nodes);
    free(g->inits);
    free(g);
}

void cnn_onnx_graph_layer(cnn_onnx_graph *g, int index) { g->layer = index; }

/* A tensor proto named after hint, with dims; its data set by the caller. */
static Onnx__TensorProto *tensor(cnn_onnx_graph *g, const char *hint, int rank,
                                 const int64_t *dims, int32_t type)
{
    Onnx__TensorProto *t = alloc(g, sizeof *t);
    int64_t *d = alloc(g, sizeof(int64_t) * (size_t)(rank > 0 ? rank : 1));
    if (!t || !d)
        return NULL;
    onnx__tensor_proto__init(t);
    if (rank > 0) /* a scalar has no dims (NULL) */
        memcpy(d, dims, sizeof(int64_t) * (size_t)rank);
    t->n_dims = (size_t)rank;
    t->dims = d;
    t->has_data_type = 1;
    t->data_type = type;
    t->name = name_of(g, hint);
    return t;
}

const char *cnn_onnx_const(cnn_onnx_graph *g, const char *hint, const float *data, int rank,
                           const int64_t *dims)
{
    size_t count = 1;
    for (int i = 0; i < rank; i++)
        count *= (size_t)dims[i];
    Onnx__TensorProto *t = tensor(g, hint, rank, dims, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT);
    float *v = alloc(g, count * sizeof(float));
    if (!t || !v || !push(g, (void ***)&g->inits, &g->n_inits, &g->cap_inits, t))
        return "failed";
    memcpy(v, data, count * sizeof(float));
    t->n_float_data = count;
    t->float_data = v;
    return t->name;
}

const char *cnn_onnx_const_chw(cnn_onnx_graph *g, const char *hint, const float *hwc,
                               const int64_t *dims)
{
    size_t c = (size_t)dims[0], h = (size_t)dims[1], w = (size_t)dims[2];
    float *chw = malloc(c * h * w * sizeof(float) + 1);
    if (!chw) {
        g->failed = 1;
        return "failed";
    }
    for (size_t i = 0; i < h; i++)
        for (size_t j = 0; j < w; j++)
            for (size_t k = 0; k < c; k++)
                chw[(k * h + i) * w + j] = hwc[(i * w + j) * c + k];
    const char *name = cnn_onnx_const(g, hint, chw, 3, dims);
    free(chw);
    return name;
}

const char *cnn_onnx_scalar(cnn_onnx_graph *g, const char *hint, float v)
{
    return cnn_onnx_const(g, hint, &v, 0, NULL);
}

const char *cnn_onnx_ints(cnn_onnx_graph *g, const char *hint, const int64_t *v, int n)
{
    int64_t dims[1] = {n};
    Onnx__TensorProto *t = tensor(g, hint, 1, dims, ONNX__TENSOR_PROTO__DATA_TYPE__INT64);
    int64_t *d = alloc(g, sizeof(int64_t) * (size_t)n);
    if (!t || !d || !push(g, (void ***)&g->inits, &g->n_inits, &g->cap_inits, t))
        return "failed";
    memcpy(d, v, sizeof(int64_t) * (size_t)n);
    t->n_int64_data = (size_t)n;
    t->int64_data = d;
    return t->name;
}

static char *copy_str(cnn_onnx_graph *g, const char *s)
{
    char *c = alloc(g, strlen(s) + 1);
    return c ? strcpy(c, s) : "failed";
}

static Onnx__AttributeProto *attribute(cnn_onnx_graph *g, const cnn_onnx_attr *a)
{
    Onnx__AttributeProto *p = alloc(g, sizeof *p);
    if (!p)
        return NULL;
    onnx__attribute_proto__init(p);
    p->name = copy_str(g, a->name);
    p->has_type = 1;
    switch (a->kind) {
    case CNN_ONNX_ATTR_INT:
        p->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
        p->has_i = 1;
        p->i = a->i;
        break;
    case CNN_ONNX_ATTR_FLOAT:
        p->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
        p->has_f = 1;
        p->f = a->f;
        break;
    case CNN_ONNX_ATTR_INTS:
        p->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
        p->ints = alloc(g, sizeof(int64_t) * (size_t)a->n);
        if (!p->ints)
            return NULL;
        memcpy(p->ints, a->ints, sizeof(int64_t) * (size_t)a->n);
        p->n_ints = (size_t)a->n;
        break;
    }
    return p;
}

const char *cnn_onnx_node(cnn_onnx_graph *g, const char *op, const char *const *in, int n_in,
                          const cnn_onnx_attr *attrs, int n_attrs)
{
    Onnx__NodeProto *n = alloc(g, sizeof *n);
    char **ins = alloc(g, sizeof(char *) * (size_t)n_in);
    char **outs = alloc(g, sizeof(char *));
    Onnx__AttributeProto **at = alloc(g, sizeof *at * (size_t)n_attrs);
    if (!n || !ins || !outs || !at)
        return "failed";
    onnx__node_proto__init(n);
    for (int i = 0; i < n_in; i++)
        ins[i] = copy_str(g, in[i]);
    for (int i = 0; i < n_attrs; i++)
        if (!(at[i] = attribute(g, &attrs[i])))
            return "failed";
    n->op_type = copy_str(g, op);
    outs[0] = name_of(g, op);
    n->name = outs[0];
    n->n_input = (size_t)n_in;
    n->input = ins;
    n->n_output = 1;
    n->output = outs;
    n->n_attribute = (size_t)n_attrs;
    n->attribute = at;
    if (!push(g, (void ***)&g->nodes, &g->n_nodes, &g->cap_nodes, n))
        return "failed";
    return outs[0];
}

const char *cnn_onnx_op1(cnn_onnx_graph *g, const char *op, const char *a)
{
    return cnn_onnx_node(g, op, &a, 1, NULL, 0);
}

const char *cnn_onnx_op2(cnn_onnx_graph *g, const char *op, const char *a, const char *b)
{
    const char *in[2] = {a, b};
    return cnn_onnx_node(g, op, in, 2, NULL, 0);
}

const char *cnn_onnx_as_map(cnn_onnx_graph *g, cnn_onnx_value v)
{
    if (v.rank == 4)
        return v.name;
    int64_t shape[4] = {0, v.c, 1, 1}; /* 0: the batch, as it is */
    return cnn_onnx_op2(g, "Reshape", v.name, cnn_onnx_ints(g, "shape", shape, 4));
}

const char *cnn_onnx_as_vector(cnn_onnx_graph *g, cnn_onnx_value v)
{
    if (v.rank == 2)
        return v.name;
    return cnn_onnx_node(g, "Flatten", &v.name, 1, &CNN_ONNX_INT("axis", 1), 1);
}

/* A float tensor value (batch, d1, ..., dk), its first dimension named "batch". */
static Onnx__ValueInfoProto *value_info(cnn_onnx_graph *g, const char *name, const int *dims,
                                        int rank)
{
    Onnx__ValueInfoProto *v = alloc(g, sizeof *v);
    Onnx__TypeProto *t = alloc(g, sizeof *t);
    Onnx__TypeProto__Tensor *tt = alloc(g, sizeof *tt);
    Onnx__TensorShapeProto *sh = alloc(g, sizeof *sh);
    Onnx__TensorShapeProto__Dimension **ds = alloc(g, sizeof *ds * (size_t)(rank + 1));
    if (!v || !t || !tt || !sh || !ds)
        return NULL;
    onnx__value_info_proto__init(v);
    onnx__type_proto__init(t);
    onnx__type_proto__tensor__init(tt);
    onnx__tensor_shape_proto__init(sh);
    for (int i = 0; i <= rank; i++) {
        Onnx__TensorShapeProto__Dimension *d = alloc(g, sizeof *d);
        if (!d)
            return NULL;
        onnx__tensor_shape_proto__dimension__init(d);
        if (i == 0) {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            d->dim_param = copy_str(g, "batch");
        } else {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            d->dim_value = dims[i - 1];
        }
        ds[i] = d;
    }
    sh->n_dim = (size_t)rank + 1;
    sh->dim = ds;
    tt->has_elem_type = 1;
    tt->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    tt->shape = sh;
    t->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    t->tensor_type = tt;
    v->name = copy_str(g, name);
    v->type = t;
    return v;
}

cnn_status cnn_onnx_graph_write(cnn_onnx_graph *g, const cnn_onnx_io *io, const char *path,
                                cnn_error *err)
{
    g->layer = -1;
    /* the logits under their public name */
    const char *last = io->last;
    Onnx__NodeProto *n = alloc(g, sizeof *n);
    char **ins = alloc(g, sizeof(char *)), **outs = alloc(g, sizeof(char *));
    if (n && ins && outs) {
        onnx__node_proto__init(n);
        ins[0] = copy_str(g, last);
        outs[0] = "logits";
        n->op_type = "Identity";
        n->name = "logits";
        n->n_input = n->n_output = 1;
        n->input = ins;
        n->output = outs;
        push(g, (void ***)&g->nodes, &g->n_nodes, &g->cap_nodes, n);
    }
    int in_dims[3] = {io->c, io->h, io->w}, out_dims[1] = {io->classes};
    Onnx__ValueInfoProto *input = value_info(g, "input", in_dims, 3);
    Onnx__ValueInfoProto *output = value_info(g, "logits", out_dims, 1);
    Onnx__GraphProto graph = ONNX__GRAPH_PROTO__INIT;
    Onnx__OperatorSetIdProto opset = ONNX__OPERATOR_SET_ID_PROTO__INIT;
    Onnx__OperatorSetIdProto *opsets[1] = {&opset};
    Onnx__ModelProto model = ONNX__MODEL_PROTO__INIT;
    Onnx__StringStringEntryProto **props = alloc(g, sizeof *props * (size_t)(io->n_meta + 1));
    for (int i = 0; props && i < io->n_meta; i++) {
        Onnx__StringStringEntryProto *e = alloc(g, sizeof *e);
        if (!e)
            break;
        onnx__string_string_entry_proto__init(e);
        e->key = copy_str(g, io->meta_keys[i]);
        e->value = copy_str(g, io->meta_values[i]);
        props[i] = e;
    }
    if (g->failed || !input || !output)
        return cnn_error_set(err, CNN_STATUS_NO_MEMORY, "%s: no memory to build the ONNX model",
                             path);
    graph.name = "cnnlab";
    graph.doc_string = (char *)(io->doc ? io->doc : "");
    graph.n_node = g->n_nodes;
    graph.node = g->nodes;
    graph.n_initializer = g->n_inits;
    graph.initializer = g->inits;
    graph.n_input = 1;
    graph.input = &input;
    graph.n_output = 1;
    graph.output = &output;
    opset.domain = "";
    opset.has_version = 1;
    opset.version = OPSET;
    model.has_ir_version = 1;
    model.ir_version = 7; /* the IR of opset 13 (ONNX 1.8) */
    model.n_opset_import = 1;
    model.opset_import = opsets;
    model.producer_name = "cnnlab";
    model.producer_version = (char *)(io->producer ? io->producer : "");
    model.graph = &graph;
    model.n_metadata_props = (size_t)io->n_meta;
    model.metadata_props = props;
    size_t size = onnx__model_proto__get_packed_size(&model);
    unsigned char *buf = malloc(size + 1);
    if (!buf)
        return cnn_error_set(err, CNN_STATUS_NO_MEMORY, "%s: no memory for %zu bytes of ONNX",
                             path, size);
    size_t packed = onnx__model_proto__pack(&model, buf);
    CNN_ASSERT(packed == size);
    cnn_status st = cnn_file_write_atomic(path, buf, size, err);
    free(buf);
    return st;
}
