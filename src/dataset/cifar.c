/* cifar.c: the CIFAR-10 binary batch reader.
 *
 * A batch file is a sequence of 3073-byte records: one label byte (0-9), then
 * the 32x32 red, green and blue planes, row-major. Invariant: a cnn_dataset
 * returned by this file holds only whole records that passed every check; on
 * any failure the output is left empty ({0}) and nothing is leaked. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <string.h>

#include "cnnlab/data.h"
#include "core/core.h"

#define RECORD_BYTES (1 + CNN_CIFAR_PIXELS) /* 3073 */
#define CHUNK_RECORDS 512                   /* records per read(): ~1.5 MiB */
#define BATCH_RECORDS 10000                 /* records in each official file */
#define TRAIN_FILES 5

const char *const cnn_cifar_class_names[CNN_CIFAR_CLASSES] = {
    "airplane", "automobile", "bird", "cat", "deer",
    "dog",      "frog",       "horse", "ship", "truck",
};

/* dir + "/" + name into buf (one slash, whatever dir ends with). */
static cnn_status join_path(char *buf, size_t size, const char *dir, const char *name,
                            cnn_error *err)
{
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    int len = snprintf(buf, size, "%.*s/%s", (int)n, dir, name);
    if (len < 0 || (size_t)len >= size)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "%s/%s: path too long", dir,
                             name);
    return CNN_STATUS_OK;
}

/* Opens path and checks its size against the record layout. expect_count < 0
 * accepts any non-zero whole number of records. On success *count is the
 * number of records and *f is positioned at the first one. */
static cnn_status open_batch(const char *path, int expect_count, FILE **f, int *count,
                             cnn_error *err)
{
    *f = NULL;
    *count = 0;
    if (!cnn_path_exists(path))
        return cnn_error_set(err, CNN_STATUS_MISSING_DATA, "%s: file not found", path);
    FILE *fp;
    long long size;
    cnn_status st = cnn_file_open_read(path, &fp, &size, err);
    if (st)
        return st;
    if (expect_count >= 0) {
        long long want = (long long)expect_count * RECORD_BYTES;
        if (size != want) {
            fclose(fp);
            return cnn_error_set(err, CNN_STATUS_FORMAT,
                                 "%s: expected %lld bytes (%d records of %d), found %lld (%s)",
                                 path, want, expect_count, RECORD_BYTES, size,
                                 size < want ? "file truncated?" : "not a CIFAR-10 batch file?");
        }
    } else if (size == 0) {
        fclose(fp);
        return cnn_error_set(err, CNN_STATUS_FORMAT,
                             "%s: expected %d-byte CIFAR-10 records, found an empty file", path,
                             RECORD_BYTES);
    } else if (size % RECORD_BYTES != 0 || size / RECORD_BYTES > 0x7fffffffLL) {
        fclose(fp);
        return cnn_error_set(err, CNN_STATUS_FORMAT,
                             "%s: expected a whole number of %d-byte records, found %lld bytes "
                             "(%lld records and %lld bytes left over; file truncated?)",
                             path, RECORD_BYTES, size, size / RECORD_BYTES,
                             size % RECORD_BYTES);
    }
    *f = fp;
    *count = (int)(size / RECORD_BYTES);
    return CNN_STATUS_OK;
}

/* Reads count records from f, splitting them into pixels (count, 3, 32, 32)
 * and labels (count). Checks every label. */
static cnn_status read_records(FILE *f, const char *path, int count, uint8_t *pixels,
                               uint8_t *labels, cnn_error *err)
{
    uint8_t *chunk = malloc((size_t)CHUNK_RECORDS * RECORD_BYTES);
    if (!chunk)
        return cnn_error_set(err, CNN_STATUS_NO_MEMORY, "%s: no memory for a read buffer", path);
    cnn_status st = CNN_STATUS_OK;
    for (int first = 0; first < count && st == CNN_STATUS_OK; first += CHUNK_RECORDS) {
        int n = count - first < CHUNK_RECORDS ? count - first : CHUNK_RECORDS;
        size_t want = (size_t)n * RECORD_BYTES;
        size_t got = fread(chunk, 1, want, f);
        if (got != want) {
            st = cnn_error_set(err, CNN_STATUS_IO, "%s: read failed at record %d: %s", path,
                               first + (int)(got / RECORD_BYTES),
                               ferror(f) ? strerror(errno) : "unexpected end of file");
            break;
        }
        for (int r = 0; r < n; r++) {
            const uint8_t *rec = chunk + (size_t)r * RECORD_BYTES;
            int i = first + r;
            if (rec[0] >= CNN_CIFAR_CLASSES) {
                st = cnn_error_set(err, CNN_STATUS_FORMAT,
                                   "%s: record %d (byte offset %lld): label %d is outside 0-9",
                                   path, i, (long long)i * RECORD_BYTES, rec[0]);
                break;
            }
            labels[i] = rec[0];
            memcpy(pixels + (size_t)i * CNN_CIFAR_PIXELS, rec + 1, CNN_CIFAR_PIXELS);
        }
    }
    free(chunk);
    return st;
}

/* count CIFAR-10 images (3x32x32, 10 named classes), pixels and labels to be read. */
static cnn_status dataset_alloc(cnn_dataset *d, int count, const char *what, cnn_error *err)
{
    d->count = count;
    d->pixels = cnn_alloc((size_t)count * CNN_CIFAR_PIXELS);
    d->labels = cnn_alloc((size_t)count);
    if (!d->pixels || !d->labels) {
        cnn_dataset_free(d);
        return cnn_error_set(err, CNN_STATUS_NO_MEMORY, "%s: no memory for %d images", what,
                             count);
    }
    cnn_status st = cnn_dataset_set_shape(d, CNN_CIFAR_CHANNELS, CNN_CIFAR_SIDE, CNN_CIFAR_SIDE,
                                          CNN_CIFAR_CLASSES, cnn_cifar_class_names, err);
    if (st)
        cnn_dataset_free(d);
    return st;
}

cnn_status cnn_cifar_load_file(const char *path, int expect_count, cnn_dataset *out,
                               cnn_error *err)
{
    *out = (cnn_dataset){0};
    FILE *f;
    int count;
    cnn_status st = open_batch(path, expect_count, &f, &count, err);
    if (st != CNN_STATUS_OK)
        return st;
    st = dataset_alloc(out, count, path, err);
    if (st == CNN_STATUS_OK)
        st = read_records(f, path, count, out->pixels, out->labels, err);
    fclose(f);
    if (st != CNN_STATUS_OK)
        cnn_dataset_free(out);
    return st;
}

cnn_status cnn_cifar_load_train(const char *dir, cnn_dataset *out, cnn_error *err)
{
    *out = (cnn_dataset){0};
    char path[4096];
    /* Check all five sizes before committing 150 MB. */
    for (int b = 1; b <= TRAIN_FILES; b++) {
        char name[32];
        snprintf(name, sizeof name, "data_batch_%d.bin", b);
        cnn_status st = join_path(path, sizeof path, dir, name, err);
        FILE *f;
        int count;
        if (st == CNN_STATUS_OK)
            st = open_batch(path, BATCH_RECORDS, &f, &count, err);
        if (st != CNN_STATUS_OK)
            return st;
        fclose(f);
    }
    cnn_status st = dataset_alloc(out, TRAIN_FILES * BATCH_RECORDS, dir, err);
    for (int b = 1; b <= TRAIN_FILES && st == CNN_STATUS_OK; b++) {
        char name[32];
        snprintf(name, sizeof name, "data_batch_%d.bin", b);
        st = join_path(path, sizeof path, dir, name, err);
        FILE *f = NULL;
        int count;
        if (st == CNN_STATUS_OK)
            st = open_batch(path, BATCH_RECORDS, &f, &count, err);
        if (st == CNN_STATUS_OK) {
            size_t first = (size_t)(b - 1) * BATCH_RECORDS;
            st = read_records(f, path, count, out->pixels + first * CNN_CIFAR_PIXELS,
                              out->labels + first, err);
            fclose(f);
        }
    }
    if (st != CNN_STATUS_OK)
        cnn_dataset_free(out);
    return st;
}

cnn_status cnn_cifar_load_test(const char *dir, cnn_dataset *out, cnn_error *err)
{
    *out = (cnn_dataset){0};
    char path[4096];
    cnn_status st = join_path(path, sizeof path, dir, "test_batch.bin", err);
    if (st != CNN_STATUS_OK)
        return st;
    return cnn_cifar_load_file(path, CNN_CIFAR_TEST_COUNT, out, err);
}
