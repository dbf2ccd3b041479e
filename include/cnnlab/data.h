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

/* ---- training-time augmentation and input noise ----
 *
 * cnn_batch_fill_augmented assembles a batch like cnn_batch_fill and, per
 * image, applies in this order (torchvision semantics, and airbench's for
 * translate and altflip):
 *   1. crop:   RandomCrop(32, padding=crop_padding): the image is padded with
 *              black (pixel value 0) on every side, then a 32x32 window is cut
 *              at a uniform offset. Output pixel (h, w) is source pixel
 *              (h + dy, w + dx), dy and dx uniform in [-crop_padding,
 *              crop_padding]; padded pixels normalise to (0 - mean) / std.
 *      or translate: the same with reflect padding by translate_padding
 *              (torch F.pad(x, (R, R, R, R), mode='reflect'): the edge pixel is
 *              not repeated, so source index -k reads k and 31 + k reads
 *              31 - k), dy and dx uniform in [-translate_padding,
 *              translate_padding]. crop and translate exclude each other.
 *   2. flip:   RandomHorizontalFlip(0.5): w -> 31 - w, after the crop.
 *      or altflip: airbench's alternating flip. Every image of the dataset
 *              is mirrored once, before the crop, with probability 0.5: a
 *              fixed choice per (seed, dataset index idx[i]); then the whole
 *              set is mirrored, after the crop, on odd epochs (counted from
 *              0). So an image is shown mirrored every other epoch. flip and
 *              altflip exclude each other.
 *   3. normalise, as cnn_batch_fill.
 *   4. cutout: Cutout (DeVries & Taylor 2017): one square of side cutout_size
 *              whose centre (cy, cx) is uniform over the 32x32 pixels covers rows
 *              [cy - cutout_size/2, cy - cutout_size/2 + cutout_size) and the same
 *              columns, clipped at the borders; it is set to 0 after
 *              normalisation (= the channel mean), all three channels. (The
 *              reference code's square is cutout_size - 1 for odd sizes; here
 *              it is always cutout_size.)
 *   5. noise:  input_noise * N(0, 1) added to every normalised value, cutout
 *              square included. The normals come from Box-Muller with float
 *              polynomial log/sin/cos (error about 1e-6 sigma); the radius
 *              is limited to 5.77 sigma (missing probability 2^-24).
 *
 * Randomness: image i of the batch draws everything from its own stream,
 * cnn_rng_init(&r, seed, CNN_STREAM_AUGMENT, batch_id * 65536 + i), so the
 * result depends on (seed, batch_id, i) only, never on the thread count.
 * Crop (or translate, which takes the same draw), flip and cutout each take
 * their own fixed draw, so switching one on or off leaves the others' choices
 * unchanged. Offsets map a 32-bit draw onto their range (bias below 2^-32).
 * altflip's once-per-image choice is the top bit of the first draw of
 * cnn_rng_init(&r, seed, CNN_STREAM_AUGMENT, 2^63 + idx[i]) (batch ids below
 * 2^47 never reach that range), so it depends on (seed, idx[i]) only.
 */
typedef struct cnn_augment {
    int crop;          /* 1: random crop after zero padding by crop_padding */
    int crop_padding;  /* pixels of padding on each side, 0 to 32 (default 4) */
    int translate;     /* 1: random crop after reflect padding by translate_padding */
    int translate_padding; /* reflect-pad pixels on each side, 0 to 31 (default 2) */
    int flip;          /* 1: horizontal flip with probability 0.5 */
    int altflip;       /* 1: alternating flip (fixed per image, whole set on odd epochs) */
    int cutout;        /* 1: one zeroed square of side cutout_size per image */
    int cutout_size;   /* side of the square, >= 0 (default 8); 0 zeroes nothing */
    float input_noise; /* sigma of Gaussian noise on normalised inputs, >= 0; 0 = none */
} cnn_augment;

/* Everything off, crop_padding 4, translate_padding 2, cutout_size 8,
 * input_noise 0. */
void cnn_augment_defaults(cnn_augment *a);

/* Sets a->crop, a->translate, a->flip, a->altflip and a->cutout from list:
 * "none" (all off) or a comma-separated list of crop, translate, flip,
 * altflip and cutout in any order (those not listed are switched off; crop
 * with translate and flip with altflip are refused). Sizes and input_noise
 * are kept. On error a is unchanged and the message names --augment, the bad
 * item and the allowed ones. */
cnn_status cnn_augment_parse(const char *list, cnn_augment *a, cnn_error *err);

/* 1 if a changes anything (crop, translate, flip, altflip, cutout or
 * input_noise > 0), else 0. */
int cnn_augment_active(const cnn_augment *a);

/* Like cnn_batch_fill (same arguments, same layout), then applies a as
 * described above. batch_id must identify the batch uniquely within the run
 * (e.g. the global step, below 2^47); epoch is the 0-based epoch (only altflip
 * reads it: odd epochs mirror); count <= 65536. idx NULL means images
 * 0..count-1 (altflip's dataset indices too). With nothing active the output
 * is exactly cnn_batch_fill's. */
void cnn_batch_fill_augmented(const cnn_dataset *d, const int *idx, int count,
                              const cnn_norm *norm, const cnn_augment *a, uint64_t seed,
                              uint64_t batch_id, int epoch, float *x, uint8_t *labels);

/* ---- evaluation views (test-time augmentation) ----
 *
 * cnn_batch_fill_view assembles a batch like cnn_batch_fill, every image
 * translated by (dy, dx) with reflect padding and then mirrored if flip:
 * output pixel (h, w) is source pixel (P(h + dy), P(w' + dx)) with
 * w' = flip ? 31 - w : w and P the reflection P(j) = -j for j < 0,
 * 62 - j for j > 31. In PyTorch terms, with p = F.pad(x, (1, 1, 1, 1),
 * mode='reflect'), view (flip, dy, dx) with |dy|, |dx| <= 1 is
 * p[:, :, 1+dy : 33+dy, 1+dx : 33+dx], flipped on the last axis if flip
 * (airbench's TTA views: (0, 0), (-1, -1) and (1, 1), each plain and
 * mirrored). |dy| and |dx| may be up to 31. (0, 0, 0) is exactly
 * cnn_batch_fill. */
void cnn_batch_fill_view(const cnn_dataset *d, const int *idx, int count, const cnn_norm *norm,
                         int flip, int dy, int dx, float *x, uint8_t *labels);

#endif
