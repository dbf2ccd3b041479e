/* cifar100.c: the CIFAR-100 binary reader.
 *
 * cifar-100-binary/ holds train.bin (50,000 records) and test.bin (10,000);
 * a record is 3074 bytes: the coarse label (0-19), the fine label (0-99), then
 * the 32x32 red, green and blue planes, row-major, as CIFAR-10's. The class
 * names are the lines of fine_label_names.txt and coarse_label_names.txt
 * beside them. Invariant: a dataset returned here holds only whole records
 * that passed every check; on failure the output is left empty. */
#include <errno.h>
#include <string.h>

#include "cnnlab/data.h"
#include "core/core.h"
#include "dataset/readers.h"

#define RECORD_BYTES (2 + CNN_CIFAR_PIXELS) /* 3074 */
#define FINE 100
#define COARSE 20

/* The class names from the names file beside path (its folder's
 * fine_label_names.txt or coarse_label_names.txt), when it is there and has
 * one name a line for every class; else none (the labels' numbers). */
static cnn_status set_names(cnn_dataset *d, const char *path, int coarse, cnn_error *err)
{
    int classes = coarse ? COARSE : FINE;
    char names_path[4200];
    const char *slash = strrchr(path, '/');
    int dir_len = slash ? (int)(slash - path) : 1;
    snprintf(names_path, sizeof names_path, "%.*s/%s", dir_len, slash ? path : ".",
             coarse ? "coarse_label_names.txt" : "fine_label_names.txt");
    char *text = NULL;
    size_t size;
    const char *names[FINE];
    int n = 0;
    if (cnn_path_exists(names_path) && cnn_file_read_text(names_path, &text, &size, err) == 0) {
        for (char *line = text; line && *line && n < FINE;) {
            char *next = strchr(line, '\n');
            if (next)
                *next++ = 0;
            size_t len = strlen(line);
            while (len && (line[len - 1] == '\r' || line[len - 1] == ' '))
                line[--len] = 0;
            if (len)
                names[n++] = line;
            line = next;
        }
    }
    cnn_status st = cnn_dataset_set_shape(d, CNN_CIFAR_CHANNELS, CNN_CIFAR_SIDE, CNN_CIFAR_SIDE,
                                          classes, n == classes ? names : NULL, err);
    free(text);
    return st;
}

cnn_status cnn_cifar100_load_file(const char *path, int coarse, cnn_dataset *out, cnn_error *err)
{
    *out = (cnn_dataset){0};
    if (!cnn_path_exists(path))
        return cnn_error_set(err, CNN_STATUS_MISSING_DATA, "%s: file not found", path);
    FILE *f;
    long long size;
    cnn_status st = cnn_file_open_read(path, &f, &size, err);
    if (st)
        return st;
    if (size == 0 || size % RECORD_BYTES != 0 || size / RECORD_BYTES > 0x7fffffffLL) {
        fclose(f);
        return cnn_error_set(err, CNN_STATUS_FORMAT,
                             "%s: expected a whole number of %d-byte CIFAR-100 records, found "
                             "%lld bytes (%lld records and %lld bytes left over; file truncated, "
                             "or not a CIFAR-100 file?)", path, RECORD_BYTES, size,
                             size / RECORD_BYTES, size % RECORD_BYTES);
    }
    int count = (int)(size / RECORD_BYTES);
    out->count = count;
    out->pixels = cnn_alloc((size_t)count * CNN_CIFAR_PIXELS);
    out->labels = cnn_alloc((size_t)count);
    uint8_t *rec = malloc(RECORD_BYTES);
    if (!out->pixels || !out->labels || !rec) {
        st = cnn_error_set(err, CNN_STATUS_NO_MEMORY, "%s: no memory for %d images", path, count);
        goto done;
    }
    for (int i = 0; i < count; i++) {
        if (fread(rec, 1, RECORD_BYTES, f) != RECORD_BYTES) {
            st = cnn_error_set(err, CNN_STATUS_IO, "%s: read failed at record %d: %s", path, i,
                               ferror(f) ? strerror(errno) : "unexpected end of file");
            goto done;
        }
        if (rec[0] >= COARSE || rec[1] >= FINE) {
            st = cnn_error_set(err, CNN_STATUS_FORMAT,
                               "%s: record %d (byte offset %lld): expected a coarse label in 0-19 "
                               "and a fine label in 0-99, found %d and %d", path, i,
                               (long long)i * RECORD_BYTES, rec[0], rec[1]);
            goto done;
        }
        out->labels[i] = coarse ? rec[0] : rec[1];
        memcpy(out->pixels + (size_t)i * CNN_CIFAR_PIXELS, rec + 2, CNN_CIFAR_PIXELS);
    }
    st = set_names(out, path, coarse, err);
done:
    free(rec);
    fclose(f);
    if (st)
        cnn_dataset_free(out);
    return st;
}
