/* safetensors.h: the safetensors container, without any model knowledge.
 *
 *   u64 N (little-endian)   the header's size in bytes
 *   N bytes of JSON         {"__metadata__": {"KEY": "VALUE", ...},
 *                            "NAME": {"dtype": "F32", "shape": [..],
 *                                     "data_offsets": [BEGIN, END]}, ...}
 *   the buffer              each tensor's bytes at [BEGIN, END) of it, little-endian
 *
 * The reader checks what a loader must not trust: the header size against the
 * file, the JSON, each dtype, that END - BEGIN is the shape's size, that the
 * offsets lie inside the buffer and that no two tensors overlap. */
#ifndef CNN_EXPORT_SAFETENSORS_H
#define CNN_EXPORT_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "cnnlab/status.h"
#include "core/core.h"

#define CNN_ST_MAX_RANK 8

typedef enum cnn_st_dtype { CNN_ST_F32 = 0, CNN_ST_I64 } cnn_st_dtype;

typedef struct cnn_st_tensor {
    char *name;
    cnn_st_dtype dtype;
    int rank;
    int64_t shape[CNN_ST_MAX_RANK];
    const unsigned char *data; /* into the file's buffer (read), or the caller's (write) */
    size_t bytes;
} cnn_st_tensor;

typedef struct cnn_st_file {
    int count;
    cnn_st_tensor *tensors;
    int n_meta;
    char **meta_keys, **meta_values;
    unsigned char *raw; /* the whole file (read) */
} cnn_st_file;

/* Reads and checks path; free with cnn_st_free. Errors name the file and
 * what was expected and found. */
cnn_status cnn_st_read(const char *path, cnn_st_file *f, cnn_error *err);
void cnn_st_free(cnn_st_file *f);
/* The tensor named name, or NULL; the metadata value of key, or NULL. */
const cnn_st_tensor *cnn_st_find(const cnn_st_file *f, const char *name);
const char *cnn_st_meta(const cnn_st_file *f, const char *key);

/* Writes the tensors in order (their data from tensors[i].data) and the
 * metadata to path atomically. */
cnn_status cnn_st_write(const char *path, const cnn_st_tensor *tensors, int count,
                        const char *const *meta_keys, const char *const *meta_values, int n_meta,
                        cnn_error *err);

#endif
