/* dataset.c: a dataset's shape, class names and release, shared by every
 * reader. Invariant: a cnn_dataset either owns its pixels and labels
 * (cnn_alloc) or has them in its mapping (map), never both; its class names
 * are NULL or classes owned strings. */
#define _POSIX_C_SOURCE 200809L
#include <string.h>
#include <sys/mman.h>

#include "cnnlab/data.h"
#include "core/core.h"

static void free_names(cnn_dataset *d)
{
    if (d->class_names)
        for (int k = 0; k < d->classes; k++)
            free(d->class_names[k]);
    free(d->class_names);
    d->class_names = NULL;
}

cnn_status cnn_dataset_set_shape(cnn_dataset *d, int c, int h, int w, int classes,
                                 const char *const *names, cnn_error *err)
{
    CNN_ASSERT(c >= 1 && c <= CNN_DATA_MAX_CHANNELS && h >= 1 && w >= 1);
    CNN_ASSERT(classes >= 1 && classes <= CNN_DATA_MAX_CLASSES);
    free_names(d);
    d->c = c;
    d->h = h;
    d->w = w;
    d->classes = classes;
    if (!names)
        return CNN_STATUS_OK;
    d->class_names = calloc((size_t)classes, sizeof *d->class_names);
    for (int k = 0; d->class_names && k < classes; k++)
        if (!(d->class_names[k] = strdup(names[k] ? names[k] : ""))) {
            free_names(d);
            break;
        }
    if (!d->class_names)
        return cnn_error_set(err, CNN_STATUS_NO_MEMORY, "no memory for %d class names", classes);
    return CNN_STATUS_OK;
}

const char *cnn_dataset_class_name(const cnn_dataset *d, int k, char *buf, size_t size)
{
    if (d->class_names && k >= 0 && k < d->classes && d->class_names[k][0])
        return d->class_names[k];
    snprintf(buf, size, "%d", k);
    return buf;
}

void cnn_dataset_free(cnn_dataset *d)
{
    if (!d)
        return;
    free_names(d);
    if (d->map && d->map_bytes)
        munmap(d->map, d->map_bytes);
    else if (d->map)
        cnn_free(d->map);
    else {
        cnn_free(d->pixels);
        cnn_free(d->labels);
    }
    *d = (cnn_dataset){0};
}
