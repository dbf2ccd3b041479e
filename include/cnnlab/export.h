/* export.h: a trained model out of cnnlab and back in (docs/export.md).
 *
 * safetensors: 8-byte little-endian header size, a JSON header (each tensor's
 * dtype, shape and data offsets, and __metadata__), then the raw buffer.
 * Tensor names and layouts are PyTorch's state_dict of the equivalent
 * nn.Module, "layers.INDEX.NAME" with INDEX the layer's 0-based place in the
 * model (tools/torch_models.py builds that module), so load_state_dict works.
 * ONNX: a ModelProto of opset 13 taking float32 NCHW pixels scaled to 0-1
 * ("input", dynamic batch) and giving "logits"; the input normalisation is
 * inside the graph and the metadata names the classes.
 */
#ifndef CNNLAB_EXPORT_H
#define CNNLAB_EXPORT_H

#include "cnnlab/data.h"
#include "cnnlab/model.h"
#include "cnnlab/status.h"

typedef struct cnn_export_info {
    const cnn_norm *norm;           /* the input normalisation the weights were trained with */
    int n_classes;                  /* entries of class_names (0: unnamed) */
    const char *const *class_names; /* the classes, in the order of the logits */
    const char *source;             /* where the weights came from (metadata), or NULL */
} cnn_export_info;

/* Writes m's parameters and state as PyTorch names them, and in
 * __metadata__ the model's name, model-file text, input shape, classes,
 * normalisation and layer list (atomically). */
cnn_status cnn_export_safetensors(const cnn_model *m, const cnn_export_info *info,
                                  const char *path, cnn_error *err);
/* Writes m as an ONNX model (atomically). A layer ONNX cannot express is
 * refused, naming it. */
cnn_status cnn_export_onnx(const cnn_model *m, const cnn_export_info *info, const char *path,
                           cnn_error *err);

/* Reads a safetensors file into m: every tensor of m (by the names above)
 * must be there, float32 and finite, with m's shape; a tensor m has no place
 * for is an error too (PyTorch's strict=True). num_batches_tracked may be
 * missing and is not read. When the file's metadata holds "mean" and "std"
 * (as the exporter writes them), *norm gets them and *has_norm is 1. Errors
 * name the file, the tensor and both shapes. */
cnn_status cnn_import_safetensors(const char *path, cnn_model *m, cnn_norm *norm, int *has_norm,
                                  cnn_error *err);
/* The metadata value of key in a safetensors file (checked as a whole, as
 * above), or "" when it has none. */
cnn_status cnn_safetensors_meta(const char *path, const char *key, char *out, size_t size,
                                cnn_error *err);

#endif
