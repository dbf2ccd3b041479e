/* readers.h: what source.c needs of the readers beyond data.h: probing a
 * source's shape without reading its pixels, and the image-folder reader.
 * Internal to src/dataset. */
#ifndef CNN_DATASET_READERS_H
#define CNN_DATASET_READERS_H

#include "cnnlab/data.h"

/* The image side and the class count (largest label + 1) of an IDX pair,
 * from the images' header and the labels. */
cnn_status cnn_idx_probe(const char *images, const char *labels, int *h, int *w, int *classes,
                         cnn_error *err);

/* An image folder (folder.c): root/train/<class>/..., root/test/<class>/...
 * Probing lists the classes (info->classes; shape from src: --image-size and
 * the channels); loading decodes (or maps the cache of) one split. */
cnn_status cnn_folder_probe(const cnn_data_source *src, cnn_data_info *info, cnn_error *err);
cnn_status cnn_folder_load(const cnn_data_source *src, const cnn_data_info *info, int test,
                           cnn_dataset *out, cnn_error *err);

#endif
