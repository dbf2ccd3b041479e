/* data.h: CIFAR-10 in the official binary layout, the train/validation split,
 * per-channel normalisation and batch assembly.
 *
 * The official layout (cifar-10-batches-bin/): data_batch_1.bin ... data_batch_5.bin
 * (10,000 records each) and test_batch.bin; a record is 1 label byte (0-9) then
 * 3072 pixel bytes: the 32x32 red plane, then green, then blue, row-major.
 */
#ifndef CNNLAB_DATA_H
#define CNNLAB_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "cnnlab/status.h"

#define CNN_CIFAR_SIDE 32
#define CNN_CIFAR_CHANNELS 3
#define CNN_CIFAR_PIXELS (CNN_CIFAR_SIDE * CNN_CIFAR_SIDE * CNN_CIFAR_CHANNELS) /* 3072 */
#define CNN_CIFAR_CLASSES 10
#define CNN_CIFAR_TRAIN_COUNT 50000
#define CNN_CIFAR_TEST_COUNT 10000

/* Images as stored on disk: pixels (count, 3, 32, 32) bytes, labels (count). */
typedef struct cnn_dataset {
    int count;
    uint8_t *pixels; /* (count, C=3, H=32, W=32), planar as in the files */
    uint8_t *labels; /* (count), each in [0, 10) */
} cnn_dataset;

/* Class names in label order ("airplane", ..., "truck"). */
extern const char *const cnn_cifar_class_names[CNN_CIFAR_CLASSES];

/* Finds the data folder: dir if given (it must hold the files), else
 * ./data/cifar-10-batches-bin. When the files are missing and the official
 * archive can be downloaded (curl or wget, network reachable), downloads
 * https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz into the parent of the
 * folder, verifies its MD5 (c32a1d4ab5d03f1284b67883e8d87530) and unpacks it.
 * Otherwise fails with CNN_STATUS_MISSING_DATA and a message that says exactly
 * which files to put where. resolved receives the folder's path (without a
 * trailing slash). Only a folder named cifar-10-batches-bin (the name the
 * archive unpacks to) is ever downloaded into; a download prints progress lines
 * to stderr. */
cnn_status cnn_cifar_locate(const char *dir, int allow_download, char *resolved,
                            size_t resolved_size, cnn_error *err);

/* Reads the five training batches (50,000 images) of dir. Every file must be
 * exactly 10,000 records; a short file or a label outside 0-9 is an error that
 * names the file and the record. */
cnn_status cnn_cifar_load_train(const char *dir, cnn_dataset *out, cnn_error *err);
/* Reads test_batch.bin (10,000 images). Only `cnnlab test` calls this. */
cnn_status cnn_cifar_load_test(const char *dir, cnn_dataset *out, cnn_error *err);
/* Reads one batch file with any whole number of records (used by the two above
 * and by tests); expect_count < 0 accepts any count of one or more. A missing
 * file is CNN_STATUS_MISSING_DATA, bad contents CNN_STATUS_FORMAT; on failure
 * *out is left empty. Free with cnn_dataset_free. */
cnn_status cnn_cifar_load_file(const char *path, int expect_count, cnn_dataset *out,
                               cnn_error *err);
void cnn_dataset_free(cnn_dataset *d);

/* Seeded split of `total` images into train and validation index lists.
 * n_val = round(total * val_fraction). The same (total, val_fraction, seed)
 * always gives the same lists; both are returned sorted ascending.
 * Free both with free(). */
cnn_status cnn_split_make(int total, double val_fraction, uint64_t seed, int **train_idx,
                          int *n_train, int **val_idx, int *n_val, cnn_error *err);

/* Per-channel mean and standard deviation (population, over every pixel of the
 * given images, on the 0-1 scale). Computed from the training split only. The
 * true CIFAR-10 training-set values are about mean (0.4914, 0.4822, 0.4465),
 * std (0.2470, 0.2435, 0.2616); the often-copied (0.2023, 0.1994, 0.2010) are
 * averages of per-image stds, not the dataset's std. */
typedef struct cnn_norm {
    float mean[CNN_CIFAR_CHANNELS];
    float std[CNN_CIFAR_CHANNELS];
} cnn_norm;

/* idx NULL means images 0..count-1; no images gives mean 0, std 1. */
void cnn_norm_compute(const cnn_dataset *d, const int *idx, int count, cnn_norm *out);

/* Assembles a batch: images d[idx[0..count)] normalised ((p/255 - mean)/std)
 * into x (count, 32, 32, 3) NHWC floats and their labels into labels (count).
 * idx NULL means images 0..count-1; labels may be NULL. A channel with std 0
 * is only shifted by its mean. */
void cnn_batch_fill(const cnn_dataset *d, const int *idx, int count, const cnn_norm *norm,
                    float *x, uint8_t *labels);

#endif
