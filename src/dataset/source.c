/* source.c: a data source (--data PATH, --dataset) to a format, a shape and
 * the images of a split.
 *
 * Detection, in this order, on the folder PATH (or the file PATH names):
 *   CIFAR-10    PATH/data_batch_1.bin
 *   CIFAR-100   PATH/train.bin and PATH/test.bin
 *   IDX         a file PATH/...train-images-idx3-ubyte[.gz] (exactly one), or
 *               PATH itself is such a file (EMNIST's folder holds several
 *               splits: name the one to use)
 *   folder      PATH/train/ holding at least one folder (a class)
 *   otherwise   CIFAR-10, whose reader says which files to put where (and
 *               fetches them into a folder named cifar-10-batches-bin).
 * No PATH means CIFAR-10 at data/cifar-10-batches-bin. Probing reads headers
 * (and IDX's labels, for the class count), never pixels. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <string.h>
#include <sys/stat.h>

#include "cnnlab/data.h"
#include "core/core.h"
#include "dataset/readers.h"

/* Fashion-MNIST's classes, in label order (zalandoresearch/fashion-mnist). */
static const char *const fashion_names[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress",
                                              "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                                              "Ankle boot"};

static const char *const format_names[] = {"auto", "cifar10", "cifar100", "idx", "folder"};

const char *cnn_data_format_name(cnn_data_format f)
{
    return f >= CNN_DATA_AUTO && f <= CNN_DATA_FOLDER ? format_names[f] : "?";
}

int cnn_data_format_parse(const char *s, cnn_data_format *out)
{
    for (int i = 0; i <= CNN_DATA_FOLDER; i++)
        if (!strcmp(s, format_names[i])) {
            *out = (cnn_data_format)i;
            return 1;
        }
    if (!strcmp(s, "mnist")) {
        *out = CNN_DATA_IDX;
        return 1;
    }
    return 0;
}

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int has(const char *dir, const char *name)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return cnn_path_exists(path);
}

/* 1 if dir/sub holds at least one folder. */
static int has_subfolder(const char *dir, const char *sub)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, sub);
    DIR *d = opendir(path);
    if (!d)
        return 0;
    int found = 0;
    for (struct dirent *e; !found && (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        char child[4500];
        snprintf(child, sizeof child, "%s/%s", path, e->d_name);
        found = is_dir(child);
    }
    closedir(d);
    return found;
}

#define IDX_TRAIN "train-images-idx3-ubyte"

/* The training images of an IDX source: PATH itself, or the one file in the
 * folder PATH whose name holds IDX_TRAIN. 0: none; -1: several (listed in err). */
static int find_idx(const char *path, char *out, size_t size, cnn_error *err)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (!is_dir(path)) {
        if (strstr(base, IDX_TRAIN) && cnn_path_exists(path)) {
            snprintf(out, size, "%s", path);
            return 1;
        }
        return 0;
    }
    DIR *d = opendir(path);
    if (!d)
        return 0;
    int n = 0;
    char names[1024] = "";
    for (struct dirent *e; (e = readdir(d));) {
        const char *hit = strstr(e->d_name, IDX_TRAIN);
        const char *tail = hit ? hit + strlen(IDX_TRAIN) : NULL;
        if (!hit || (*tail && strcmp(tail, ".gz")))
            continue;
        if (n++ == 0)
            snprintf(out, size, "%s/%s", path, e->d_name);
        size_t used = strlen(names);
        snprintf(names + used, sizeof names - used, "%s%s", used ? ", " : "", e->d_name);
    }
    closedir(d);
    if (n > 1) {
        cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "--data %s: holds %d IDX training sets "
                      "(%s); expected one: give the file of the one to use as --data", path, n,
                      names);
        return -1;
    }
    return n;
}

/* The file beside train_images named like it with "train-images" replaced by
 * word ("t10k-labels": then idx3 becomes idx1), with or without .gz; 0 if
 * there is none. */
static int idx_partner(const char *train_images, const char *word, char *out, size_t size)
{
    const char *slash = strrchr(train_images, '/');
    const char *hit = strstr(slash ? slash + 1 : train_images, "train-images");
    if (!hit)
        return 0;
    int labels = strstr(word, "labels") != NULL;
    int gz = strstr(hit, ".gz") != NULL;
    for (int t = 0; t < 2; t++) {
        snprintf(out, size, "%.*s%s-%s-ubyte%s", (int)(hit - train_images), train_images, word,
                 labels ? "idx1" : "idx3", gz != t ? ".gz" : "");
        if (cnn_path_exists(out))
            return 1;
    }
    return 0;
}

/* The images and labels of one IDX split: train, or test (t10k- or test-). */
static cnn_status idx_split(const char *train_images, int test, char *images, char *labels,
                            size_t size, cnn_error *err)
{
    static const char *const words[3][2] = {{"train-images", "train-labels"},
                                            {"t10k-images", "t10k-labels"},
                                            {"test-images", "test-labels"}};
    for (int t = test ? 1 : 0; t < (test ? 3 : 1); t++)
        if (idx_partner(train_images, words[t][0], images, size) &&
            idx_partner(train_images, words[t][1], labels, size))
            return CNN_STATUS_OK;
    return cnn_error_set(err, CNN_STATUS_MISSING_DATA,
                         "%s: expected %s beside it, not found", train_images,
                         test ? "the test set (t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte, "
                                "or test-..., raw or .gz)"
                              : "its labels (train-labels-idx1-ubyte, raw or .gz)");
}

static cnn_data_format detect(const char *path, char *idx_images, size_t size, cnn_error *err,
                              int *several)
{
    *several = 0;
    if (is_dir(path) && has(path, "data_batch_1.bin"))
        return CNN_DATA_CIFAR10;
    if (is_dir(path) && has(path, "train.bin") && has(path, "test.bin"))
        return CNN_DATA_CIFAR100;
    int n = find_idx(path, idx_images, size, err);
    if (n < 0)
        *several = 1;
    if (n)
        return CNN_DATA_IDX;
    if (is_dir(path) && has_subfolder(path, "train"))
        return CNN_DATA_FOLDER;
    return CNN_DATA_CIFAR10;
}

/* fetch 0: CIFAR-10 is not looked for (its shape is known). */
static cnn_status probe(const cnn_data_source *src, cnn_data_info *info, int fetch,
                        cnn_error *err)
{
    memset(info, 0, sizeof *info);
    cnn_data_format f = src->format;
    char idx_images[4200] = "";
    cnn_status st;
    if (!src->path && f != CNN_DATA_AUTO && f != CNN_DATA_CIFAR10)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "--dataset %s: needs --data PATH "
                             "(only CIFAR-10 has a default place)", cnn_data_format_name(f));
    if (src->path && f == CNN_DATA_AUTO) {
        int several;
        f = detect(src->path, idx_images, sizeof idx_images, err, &several);
        if (several)
            return CNN_STATUS_INVALID_ARGUMENT;
    } else if (f == CNN_DATA_IDX) {
        int n = find_idx(src->path, idx_images, sizeof idx_images, err);
        if (n < 0)
            return CNN_STATUS_INVALID_ARGUMENT;
        if (n == 0)
            return cnn_error_set(err, CNN_STATUS_MISSING_DATA, "--data %s: expected an IDX "
                                 "training set (a file *" IDX_TRAIN "[.gz], or a folder holding "
                                 "one), found none", src->path);
    } else if (f == CNN_DATA_AUTO) {
        f = CNN_DATA_CIFAR10;
    }
    info->format = f;
    switch (f) {
    case CNN_DATA_CIFAR10:
        if (fetch && (st = cnn_cifar_locate(src->path, 1, info->path, sizeof info->path, err)))
            return st;
        if (!fetch)
            snprintf(info->path, sizeof info->path, "%s",
                     src->path ? src->path : "data/cifar-10-batches-bin");
        info->c = CNN_CIFAR_CHANNELS;
        info->h = info->w = CNN_CIFAR_SIDE;
        info->classes = CNN_CIFAR_CLASSES;
        snprintf(info->name, sizeof info->name, "CIFAR-10");
        return CNN_STATUS_OK;
    case CNN_DATA_CIFAR100:
        snprintf(info->path, sizeof info->path, "%s", src->path);
        for (int t = 0; t < 2; t++)
            if (!has(src->path, t ? "test.bin" : "train.bin"))
                return cnn_error_set(err, CNN_STATUS_MISSING_DATA, "--data %s: expected CIFAR-100's "
                                     "train.bin and test.bin (the cifar-100-binary folder), found "
                                     "no %s", src->path, t ? "test.bin" : "train.bin");
        info->c = CNN_CIFAR_CHANNELS;
        info->h = info->w = CNN_CIFAR_SIDE;
        info->classes = src->coarse ? 20 : 100;
        snprintf(info->name, sizeof info->name, "CIFAR-100 (%s labels)",
                 src->coarse ? "coarse" : "fine");
        return CNN_STATUS_OK;
    case CNN_DATA_IDX: {
        char images[4200], labels[4200];
        if (snprintf(info->path, sizeof info->path, "%s", idx_images) >= (int)sizeof info->path)
            return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "--data %s: path too long "
                                 "(room for %zu bytes)", idx_images, sizeof info->path - 1);
        if ((st = idx_split(info->path, 0, images, labels, sizeof images, err)) ||
            (st = cnn_idx_probe(images, labels, &info->h, &info->w, &info->classes, err)))
            return st;
        if (info->classes < 1 || info->classes > CNN_DATA_MAX_CLASSES)
            return cnn_error_set(err, CNN_STATUS_FORMAT, "%s: found no labels", labels);
        info->c = 1;
        snprintf(info->name, sizeof info->name, "IDX");
        return CNN_STATUS_OK;
    }
    case CNN_DATA_FOLDER:
        snprintf(info->path, sizeof info->path, "%s", src->path);
        snprintf(info->name, sizeof info->name, "image folder");
        return cnn_folder_probe(src, info, err);
    default:
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "--dataset: unknown format %d", f);
    }
}

cnn_status cnn_data_probe(const cnn_data_source *src, cnn_data_info *info, cnn_error *err)
{
    return probe(src, info, 1, err);
}

cnn_status cnn_data_peek(const cnn_data_source *src, cnn_data_info *info, cnn_error *err)
{
    return probe(src, info, 0, err);
}

cnn_status cnn_data_load(const cnn_data_source *src, const cnn_data_info *info, int test,
                         cnn_dataset *out, cnn_error *err)
{
    *out = (cnn_dataset){0};
    cnn_status st;
    char a[4200], b[4200];
    switch (info->format) {
    case CNN_DATA_CIFAR10:
        return test ? cnn_cifar_load_test(info->path, out, err)
                    : cnn_cifar_load_train(info->path, out, err);
    case CNN_DATA_CIFAR100:
        snprintf(a, sizeof a, "%s/%s", info->path, test ? "test.bin" : "train.bin");
        return cnn_cifar100_load_file(a, src->coarse, out, err);
    case CNN_DATA_IDX:
        if ((st = idx_split(info->path, test, a, b, sizeof a, err)) ||
            (st = cnn_idx_load(a, b, out, err)))
            return st;
        if (out->h != info->h || out->w != info->w || out->classes > info->classes) {
            st = cnn_error_set(err, CNN_STATUS_FORMAT, "%s: holds %dx%d images with labels up "
                               "to %d; the training set's are %dx%d with labels up to %d", a,
                               out->h, out->w, out->classes - 1, info->h, info->w,
                               info->classes - 1);
            cnn_dataset_free(out);
            return st;
        }
        /* the training set's count (a test set may lack a class); Fashion-MNIST's
         * names when the path says it is that set */
        return cnn_dataset_set_shape(out, out->c, out->h, out->w, info->classes,
                                     strstr(info->path, "fashion") && info->classes == 10
                                         ? fashion_names : NULL, err);
    case CNN_DATA_FOLDER:
        return cnn_folder_load(src, info, test, out, err);
    default:
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "data: unknown format %d",
                             info->format);
    }
}
