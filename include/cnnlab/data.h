/* data.h: datasets with a shape, their readers, the train/validation split,
 * per-channel normalisation and batch assembly.
 *
 * A dataset is N images of C x H x W bytes (planar: each channel's H x W
 * plane, row-major), a label per image in [0, classes) and the class names.
 * Only the readers know a format's numbers:
 *   CIFAR-10   cifar-10-batches-bin/: data_batch_1.bin ... data_batch_5.bin
 *              (10,000 records each) and test_batch.bin; a record is 1 label
 *              byte (0-9) then 3072 pixel bytes: the 32x32 red plane, then
 *              green, then blue (src/dataset/cifar.c)
 *   CIFAR-100  cifar-100-binary/: train.bin (50,000 records), test.bin
 *              (10,000); a record is the coarse label byte (0-19), the fine
 *              label byte (0-99) and 3072 pixel bytes as CIFAR-10's
 *              (src/dataset/cifar100.c)
 *   IDX        the MNIST family's files (MNIST, Fashion-MNIST, KMNIST,
 *              EMNIST): *train-images-idx3-ubyte and *train-labels-idx1-ubyte,
 *              their t10k/test twins, raw or gzipped (src/dataset/idx.c)
 *   folder     torchvision's ImageFolder layout, root/train/<class>/... and
 *              root/test/<class>/..., PNG and JPEG (src/dataset/folder.c)
 * src/dataset/source.c detects the format of a --data path and opens it.
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

/* Channels an image may have (grayscale or RGB: what normalisation and the
 * weights file's statistics hold), and classes a label byte can name. */
#define CNN_DATA_MAX_CHANNELS 3
#define CNN_DATA_MAX_CLASSES 256

/* Images as bytes: pixels (count, c, h, w), labels (count). pixels and labels
 * are owned (cnn_alloc), or point into a mapped file (map, map_bytes). */
typedef struct cnn_dataset {
    int count;
    uint8_t *pixels; /* (count, C, H, W), planar */
    uint8_t *labels; /* (count), each in [0, classes) */
    int c, h, w;     /* channels (1..3), height, width */
    int classes;     /* 1..256 */
    char **class_names; /* (classes), owned; NULL: the names are the label numbers */
    void *map;          /* NULL, or one block holding pixels and labels: a mapped cache
                         * file (map_bytes its size) or, map_bytes 0, an allocation
                         * (cnn_alloc) laid out as one */
    size_t map_bytes;
} cnn_dataset;

/* Bytes of one image: c * h * w. */
static inline size_t cnn_dataset_image_bytes(const cnn_dataset *d)
{
    return (size_t)d->c * (size_t)d->h * (size_t)d->w;
}

/* Class names in label order ("airplane", ..., "truck"). */
extern const char *const cnn_cifar_class_names[CNN_CIFAR_CLASSES];

/* Sets d's shape and copies names (classes of them, or NULL for none) as its
 * class names; an error leaves d's names NULL. */
cnn_status cnn_dataset_set_shape(cnn_dataset *d, int c, int h, int w, int classes,
                                 const char *const *names, cnn_error *err);
/* The name of class k: its name, or its number in buf. */
const char *cnn_dataset_class_name(const cnn_dataset *d, int k, char *buf, size_t size);

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
 * given images, on the 0-1 scale), for the dataset's c channels (the others
 * are mean 0, std 1). Computed from the training split only. The
 * true CIFAR-10 training-set values are about mean (0.4914, 0.4822, 0.4465),
 * std (0.2470, 0.2435, 0.2616); the often-copied (0.2023, 0.1994, 0.2010) are
 * averages of per-image stds, not the dataset's std. */
typedef struct cnn_norm {
    float mean[CNN_DATA_MAX_CHANNELS];
    float std[CNN_DATA_MAX_CHANNELS];
} cnn_norm;

/* idx NULL means images 0..count-1; no images gives mean 0, std 1. */
void cnn_norm_compute(const cnn_dataset *d, const int *idx, int count, cnn_norm *out);

/* Assembles a batch: images d[idx[0..count)] normalised ((p/255 - mean)/std)
 * into x (count, H, W, C) NHWC floats and their labels into labels (count).
 * idx NULL means images 0..count-1; labels may be NULL. A channel with std 0
 * is only shifted by its mean. */
void cnn_batch_fill(const cnn_dataset *d, const int *idx, int count, const cnn_norm *norm,
                    float *x, uint8_t *labels);

/* ---- training-time augmentation and input noise ----
 *
 * cnn_batch_fill_augmented assembles a batch like cnn_batch_fill and, per
 * image, applies in this order (torchvision semantics, and airbench's for
 * translate and altflip):
 *   1. crop:   RandomCrop((H, W), padding=crop_padding): the image is padded with
 *              black (pixel value 0) on every side, then an H x W window is cut
 *              at a uniform offset. Output pixel (h, w) is source pixel
 *              (h + dy, w + dx), dy and dx uniform in [-crop_padding,
 *              crop_padding]; padded pixels normalise to (0 - mean) / std.
 *      or translate: the same with reflect padding by translate_padding
 *              (torch F.pad(x, (R, R, R, R), mode='reflect'): the edge pixel is
 *              not repeated, so source index -k reads k and W - 1 + k reads
 *              W - 1 - k; 31 for CIFAR's 32), dy and dx uniform in [-translate_padding,
 *              translate_padding]. crop and translate exclude each other.
 *   2. flip:   RandomHorizontalFlip(0.5): w -> W - 1 - w, after the crop.
 *      or altflip: airbench's alternating flip. Every image of the dataset
 *              is mirrored once, before the crop, with probability 0.5: a
 *              fixed choice per (seed, dataset index idx[i]); then the whole
 *              set is mirrored, after the crop, on odd epochs (counted from
 *              0). So an image is shown mirrored every other epoch. flip and
 *              altflip exclude each other.
 *   3. normalise, as cnn_batch_fill.
 *   4. cutout: Cutout (DeVries & Taylor 2017): one square of side cutout_size
 *              whose centre (cy, cx) is uniform over the H x W pixels covers rows
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
    int crop_padding;  /* pixels of padding on each side, 0 to min(H, W) (default 4) */
    int translate;     /* 1: random crop after reflect padding by translate_padding */
    int translate_padding; /* reflect-pad pixels on each side, 0 to min(H, W) - 1 (default 2) */
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
/* Rows [first, first + count) of the batch that cnn_batch_fill_augmented
 * with idx, first + count, ... would fill, written to x (count images) and
 * labels, the same values to the bit: each row draws from (seed, batch_id,
 * its row), so one shard of a batch (an MPI rank's) is augmented alone. */
void cnn_batch_fill_augmented_rows(const cnn_dataset *d, const int *idx, int first, int count,
                                   const cnn_norm *norm, const cnn_augment *a, uint64_t seed,
                                   uint64_t batch_id, int epoch, float *x, uint8_t *labels);

/* ---- evaluation views (test-time augmentation) ----
 *
 * cnn_batch_fill_view assembles a batch like cnn_batch_fill, every image
 * translated by (dy, dx) with reflect padding and then mirrored if flip:
 * output pixel (h, w) is source pixel (P(h + dy), P(w' + dx)) with
 * w' = flip ? W - 1 - w : w and P the reflection P(j) = -j for j < 0,
 * 2 (W - 1) - j for j > W - 1 (rows alike with H). In PyTorch terms, with p = F.pad(x, (1, 1, 1, 1),
 * mode='reflect'), view (flip, dy, dx) with |dy|, |dx| <= 1 is
 * p[:, :, 1+dy : 33+dy, 1+dx : 33+dx], flipped on the last axis if flip
 * (airbench's TTA views: (0, 0), (-1, -1) and (1, 1), each plain and
 * mirrored). |dy| and |dx| may be up to H - 1 and W - 1. (0, 0, 0) is exactly
 * cnn_batch_fill. */
void cnn_batch_fill_view(const cnn_dataset *d, const int *idx, int count, const cnn_norm *norm,
                         int flip, int dy, int dx, float *x, uint8_t *labels);

/* ---- data sources: --data PATH and --dataset ----
 *
 * A source names where the images are and how to read them; cnn_data_probe
 * finds its format, shape and classes from the files' headers (no pixels
 * read), so a model can be built and checked before anything is loaded, and
 * cnn_data_load reads a split. */
typedef enum cnn_data_format {
    CNN_DATA_AUTO = 0, /* detect from what PATH holds */
    CNN_DATA_CIFAR10,
    CNN_DATA_CIFAR100,
    CNN_DATA_IDX,
    CNN_DATA_FOLDER
} cnn_data_format;

/* "cifar10", "cifar100", "idx", "folder" ("auto" for CNN_DATA_AUTO). */
const char *cnn_data_format_name(cnn_data_format f);
/* Parses those names ("mnist" is "idx"); 0 if unknown. */
int cnn_data_format_parse(const char *s, cnn_data_format *out);

typedef struct cnn_data_source {
    const char *path;       /* --data; NULL: data/cifar-10-batches-bin (fetched if missing) */
    cnn_data_format format; /* --dataset; CNN_DATA_AUTO: detected from path */
    int coarse;             /* CIFAR-100: the 20 coarse labels instead of the 100 fine ones */
    int image_h, image_w;   /* folders: --image-size (0: 32x32) */
    int channels;           /* folders: 1 or 3 (0: 3) */
    int skip_bad;           /* folders: skip unreadable files (with a count), else refuse */
    double test_fraction;   /* folders without test/: the held-out share (0: 0.2), chosen
                             * by a hash of each file's path: the same for every run */
    int progress;           /* folders: progress lines of a first decode through note (the
                             * command line asks for them on a terminal) */
    /* folders: the progress lines, the bad files and where the decoded
     * images were cached; NULL: silent */
    void (*note)(void *user, const char *line);
    void *note_user;
} cnn_data_source;

typedef struct cnn_data_info {
    cnn_data_format format; /* as detected */
    char path[4096];        /* the folder (or file stem) it was found at */
    int c, h, w, classes;
    char name[64];          /* "CIFAR-10", "CIFAR-100 (fine labels)", "IDX", "image folder" */
} cnn_data_info;

/* Finds the source's format and shape. Errors name the path and what was
 * looked for. */
cnn_status cnn_data_probe(const cnn_data_source *src, cnn_data_info *info, cnn_error *err);
/* The same without looking for CIFAR-10's files (nor fetching them): its
 * shape is known. For checks before a run starts. */
cnn_status cnn_data_peek(const cnn_data_source *src, cnn_data_info *info, cnn_error *err);
/* Reads the training images (test 0) or the test images (test 1) of a
 * probed source into out, with its shape and class names. */
cnn_status cnn_data_load(const cnn_data_source *src, const cnn_data_info *info, int test,
                         cnn_dataset *out, cnn_error *err);

/* ---- readers (called through cnn_data_load; public for tests) ---- */

/* One PNG or JPEG image (src/dataset/image.c) as c (1 or 3) planes of h x w
 * bytes into out (c * h * w): grayscale, RGB, RGBA and palette images
 * converted (alpha dropped; one channel is PIL's luma), any other size
 * resized with stb_image_resize. Errors name the file and what is wrong
 * (empty, not an image, damaged); CNN_STATUS_FORMAT. decode: from memory
 * (path only names it). */
cnn_status cnn_image_read(const char *path, int c, int h, int w, uint8_t *out, cnn_error *err);
cnn_status cnn_image_decode(const char *path, const uint8_t *data, size_t size, int c, int h,
                            int w, uint8_t *out, cnn_error *err);

/* CIFAR-100 binary file (train.bin or test.bin) with any whole number of
 * 3074-byte records; coarse picks the coarse label. Class names come from
 * fine_label_names.txt / coarse_label_names.txt beside it when present. */
cnn_status cnn_cifar100_load_file(const char *path, int coarse, cnn_dataset *out,
                                  cnn_error *err);
/* An IDX pair: images (u8, 3 dimensions N x H x W) and labels (u8, N), each
 * raw or gzipped; their counts must agree. classes is the largest label + 1;
 * the names are the label numbers. */
cnn_status cnn_idx_load(const char *images, const char *labels, cnn_dataset *out,
                        cnn_error *err);

#endif
