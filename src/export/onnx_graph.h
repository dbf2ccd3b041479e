/* onnx_graph.h: building an ONNX graph (opset 13) node by node, for the
 * layer classes' onnx hooks (layer.h) and the exporter (export.c).
 *
 * Tensors are NCHW: a feature map is a value of rank 4 (N, C, H, W), a vector
 * (cnnlab's 1x1xF) one of rank 2 (N, F); N is the graph's dynamic batch. Each
 * node has one output, named after the layer being added and the operator
 * ("l12.Conv"); initializers are named the same way from a hint. The graph
 * owns every name it returns. A failed allocation is remembered and reported
 * by cnn_onnx_graph_write; until then calls return a placeholder name, so
 * hooks need not check each call. The messages themselves are protobuf-c code
 * generated at build time from Debian's onnx.proto (Makefile). */
#ifndef CNN_EXPORT_ONNX_GRAPH_H
#define CNN_EXPORT_ONNX_GRAPH_H

#include <stddef.h>
#include <stdint.h>

#include "cnnlab/status.h"

typedef struct cnn_onnx_graph cnn_onnx_graph;

typedef struct cnn_onnx_value {
    const char *name;
    int rank; /* 4: (N, C, H, W); 2: (N, F) */
    int c;    /* C, or F */
} cnn_onnx_value;

typedef enum cnn_onnx_attr_kind {
    CNN_ONNX_ATTR_INT = 0,
    CNN_ONNX_ATTR_INTS,
    CNN_ONNX_ATTR_FLOAT
} cnn_onnx_attr_kind;

typedef struct cnn_onnx_attr {
    const char *name;
    cnn_onnx_attr_kind kind;
    int64_t i;           /* INT */
    float f;             /* FLOAT */
    int n;               /* INTS: count */
    const int64_t *ints; /* INTS */
} cnn_onnx_attr;

#define CNN_ONNX_INT(nm, v) ((cnn_onnx_attr){.name = (nm), .kind = CNN_ONNX_ATTR_INT, .i = (v)})
#define CNN_ONNX_FLOAT(nm, v) ((cnn_onnx_attr){.name = (nm), .kind = CNN_ONNX_ATTR_FLOAT, .f = (v)})
#define CNN_ONNX_INTS(nm, a, cnt)                                                                  \
    ((cnn_onnx_attr){.name = (nm), .kind = CNN_ONNX_ATTR_INTS, .n = (cnt), .ints = (a)})

cnn_onnx_graph *cnn_onnx_graph_create(void);
void cnn_onnx_graph_destroy(cnn_onnx_graph *g);

/* Names the nodes and initializers added next after layer index (0-based). */
void cnn_onnx_graph_layer(cnn_onnx_graph *g, int index);

/* A float initializer of the given shape (rank 0 to 4), copied from data. */
const char *cnn_onnx_const(cnn_onnx_graph *g, const char *hint, const float *data, int rank,
                           const int64_t *dims);
/* The same from data stored (H, W, C) for dims (C, H, W) (a layer-norm gamma). */
const char *cnn_onnx_const_chw(cnn_onnx_graph *g, const char *hint, const float *hwc,
                               const int64_t *dims);
/* A scalar float initializer. */
const char *cnn_onnx_scalar(cnn_onnx_graph *g, const char *hint, float v);
/* A 1-D int64 initializer (shapes, axes, pads). */
const char *cnn_onnx_ints(cnn_onnx_graph *g, const char *hint, const int64_t *v, int n);

/* A node op(in...) with attributes; returns its output's name. */
const char *cnn_onnx_node(cnn_onnx_graph *g, const char *op, const char *const *in, int n_in,
                          const cnn_onnx_attr *attrs, int n_attrs);
/* A node with one or two inputs and no attributes. */
const char *cnn_onnx_op1(cnn_onnx_graph *g, const char *op, const char *a);
const char *cnn_onnx_op2(cnn_onnx_graph *g, const char *op, const char *a, const char *b);

/* v as a map (N, C, H, W): a vector (N, F) becomes (N, F, 1, 1). */
const char *cnn_onnx_as_map(cnn_onnx_graph *g, cnn_onnx_value v);
/* v as a vector (N, F): a map is flattened in (C, H, W) order, as PyTorch. */
const char *cnn_onnx_as_vector(cnn_onnx_graph *g, cnn_onnx_value v);

/* The model's input ("input", float (batch, c, h, w)) and output ("logits",
 * float (batch, classes)), which last names. */
typedef struct cnn_onnx_io {
    int c, h, w, classes;
    const char *last;     /* the value the logits are */
    const char *producer; /* ModelProto's producer_version ("cnnlab 1.2") */
    const char *doc;      /* the graph's doc_string */
    int n_meta;
    const char *const *meta_keys, *const *meta_values; /* metadata_props */
} cnn_onnx_io;

/* Packs the model and writes it to path atomically. */
cnn_status cnn_onnx_graph_write(cnn_onnx_graph *g, const cnn_onnx_io *io, const char *path,
                                cnn_error *err);

#endif
