/* idx.c: the IDX format of the MNIST family (MNIST, Fashion-MNIST, KMNIST,
 * EMNIST), raw or gzipped.
 *
 * An IDX file is a 4-byte magic 0x00 0x00 TYPE NDIM (TYPE 0x08: unsigned
 * bytes), NDIM big-endian u32 sizes, then the data row-major. Images are
 * NDIM 3 (N, H, W), labels NDIM 1 (N). zlib's gzread reads a gzipped file and
 * passes a raw one through, so both go the same way. Invariant: a dataset
 * returned here holds the whole of both files, every check passed; on
 * failure the output is left empty. */
#include <errno.h>
#include <string.h>
#include <zlib.h>

#include "cnnlab/data.h"
#include "core/core.h"
#include "dataset/readers.h"

/* Reads exactly n bytes; 0 on success. */
static cnn_status read_exact(gzFile g, const char *path, void *buf, size_t n, const char *what,
                             cnn_error *err)
{
    uint8_t *p = buf;
    while (n > 0) {
        unsigned chunk = n > (1u << 30) ? 1u << 30 : (unsigned)n;
        int got = gzread(g, p, chunk);
        if (got <= 0) {
            int code;
            const char *msg = gzerror(g, &code);
            return cnn_error_set(err, CNN_STATUS_FORMAT, "%s: reading %s: %s", path, what,
                                 got < 0 && code != Z_OK ? msg
                                                         : "unexpected end of file (truncated?)");
        }
        p += got;
        n -= (size_t)got;
    }
    return CNN_STATUS_OK;
}

/* Opens path and reads its header: ndim sizes into dims. */
static cnn_status open_idx(const char *path, int ndim, uint32_t *dims, gzFile *out,
                           cnn_error *err)
{
    *out = NULL;
    if (!cnn_path_exists(path))
        return cnn_error_set(err, CNN_STATUS_MISSING_DATA, "%s: file not found", path);
    gzFile g = gzopen(path, "rb");
    if (!g)
        return cnn_error_set(err, CNN_STATUS_IO, "%s: cannot open: %s", path, strerror(errno));
    uint8_t head[4];
    cnn_status st = read_exact(g, path, head, 4, "the magic number", err);
    if (!st && (head[0] != 0 || head[1] != 0 || head[2] != 0x08 || head[3] != ndim))
        st = cnn_error_set(err, CNN_STATUS_FORMAT,
                           "%s: expected an IDX file of unsigned bytes with %d dimensions (magic "
                           "00 00 08 %02x), found magic %02x %02x %02x %02x", path, ndim, ndim,
                           head[0], head[1], head[2], head[3]);
    for (int k = 0; !st && k < ndim; k++) {
        uint8_t b[4];
        if (!(st = read_exact(g, path, b, 4, "a dimension", err)))
            dims[k] = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    }
    if (st) {
        gzclose(g);
        return st;
    }
    *out = g;
    return CNN_STATUS_OK;
}

/* After the data: nothing may follow. */
static cnn_status check_end(gzFile g, const char *path, size_t expected, cnn_error *err)
{
    uint8_t extra;
    if (gzread(g, &extra, 1) > 0)
        return cnn_error_set(err, CNN_STATUS_FORMAT, "%s: expected %zu data bytes as the header "
                             "says, found more (not an IDX file, or a damaged one)", path,
                             expected);
    return CNN_STATUS_OK;
}

cnn_status cnn_idx_load(const char *images, const char *labels, cnn_dataset *out,
                        cnn_error *err)
{
    *out = (cnn_dataset){0};
    uint32_t idim[3], ldim[1];
    gzFile gi = NULL, gl = NULL;
    cnn_status st;
    if ((st = open_idx(images, 3, idim, &gi, err)) || (st = open_idx(labels, 1, ldim, &gl, err)))
        goto done;
    if (idim[0] != ldim[0]) {
        st = cnn_error_set(err, CNN_STATUS_FORMAT, "%s holds %u images but %s holds %u labels; "
                           "expected the same count", images, idim[0], labels, ldim[0]);
        goto done;
    }
    if (idim[0] == 0 || idim[0] > 0x7fffffffu || idim[1] == 0 || idim[2] == 0 ||
        idim[1] > 65536 || idim[2] > 65536) {
        st = cnn_error_set(err, CNN_STATUS_FORMAT, "%s: expected 1 or more images of 1 to 65536 "
                           "pixels a side, found %u images of %ux%u", images, idim[0], idim[1],
                           idim[2]);
        goto done;
    }
    size_t n = idim[0], bytes = (size_t)idim[1] * idim[2];
    out->count = (int)n;
    out->pixels = cnn_alloc(n * bytes);
    out->labels = cnn_alloc(n);
    if (!out->pixels || !out->labels) {
        st = cnn_error_set(err, CNN_STATUS_NO_MEMORY, "%s: no memory for %zu images of %ux%u",
                           images, n, idim[1], idim[2]);
        goto done;
    }
    if ((st = read_exact(gi, images, out->pixels, n * bytes, "the pixels", err)) ||
        (st = check_end(gi, images, n * bytes, err)) ||
        (st = read_exact(gl, labels, out->labels, n, "the labels", err)) ||
        (st = check_end(gl, labels, n, err)))
        goto done;
    int classes = 0;
    for (size_t i = 0; i < n; i++)
        if (out->labels[i] + 1 > classes)
            classes = out->labels[i] + 1;
    st = cnn_dataset_set_shape(out, 1, (int)idim[1], (int)idim[2], classes, NULL, err);
done:
    if (gi)
        gzclose(gi);
    if (gl)
        gzclose(gl);
    if (st)
        cnn_dataset_free(out);
    return st;
}

cnn_status cnn_idx_probe(const char *images, const char *labels, int *h, int *w, int *classes,
                         cnn_error *err)
{
    uint32_t idim[3], ldim[1];
    gzFile gi = NULL, gl = NULL;
    uint8_t *lab = NULL;
    cnn_status st;
    if ((st = open_idx(images, 3, idim, &gi, err)) || (st = open_idx(labels, 1, ldim, &gl, err)))
        goto done;
    if (idim[0] != ldim[0] || idim[0] == 0 || idim[1] == 0 || idim[2] == 0 || idim[1] > 65536 ||
        idim[2] > 65536) {
        st = cnn_error_set(err, CNN_STATUS_FORMAT, "%s and %s: expected as many labels as images "
                           "(1 or more, of 1 to 65536 pixels a side), found %u labels for %u "
                           "images of %ux%u", images, labels, ldim[0], idim[0], idim[1], idim[2]);
        goto done;
    }
    if (!(lab = malloc(ldim[0]))) {
        st = cnn_error_set(err, CNN_STATUS_NO_MEMORY, "%s: no memory for %u labels", labels,
                           ldim[0]);
        goto done;
    }
    if ((st = read_exact(gl, labels, lab, ldim[0], "the labels", err)))
        goto done;
    int top = 0;
    for (uint32_t i = 0; i < ldim[0]; i++)
        if (lab[i] + 1 > top)
            top = lab[i] + 1;
    *h = (int)idim[1];
    *w = (int)idim[2];
    *classes = top;
done:
    free(lab);
    if (gi)
        gzclose(gi);
    if (gl)
        gzclose(gl);
    return st;
}
