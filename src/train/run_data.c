/* run_data.c: the data a run trained on, read back from its config.txt
 * (dataset, data, input, classes and the reader's settings), so that `test`
 * and `predict` read images as the run did. A config.txt without these keys
 * (a run from before they were written) trained on CIFAR-10. */
#include <stdlib.h>
#include <string.h>

#include "cnnlab/cnnlab.h"
#include "core/core.h"

cnn_status cnn_run_data(const char *config, const char *path, cnn_run_data_settings *out,
                        cnn_error *err)
{
    memset(out, 0, sizeof *out);
    out->shape = (cnn_data_shape)CNN_DATA_SHAPE_DEFAULT;
    out->source.format = CNN_DATA_CIFAR10;
    if (!config)
        return CNN_STATUS_OK;
    char v[4096];
    cnn_kv_get(config, "dataset", v, sizeof v, "cifar10");
    if (!cnn_data_format_parse(v, &out->source.format) || out->source.format == CNN_DATA_AUTO)
        return cnn_error_set(err, CNN_STATUS_FORMAT, "%s: dataset: expected cifar10, cifar100, "
                             "idx or folder, found '%s'", path, v);
    cnn_kv_get(config, "data", out->data_path, sizeof out->data_path, "");
    if (out->data_path[0]) /* where the run found its data (CIFAR-10 too) */
        out->source.path = out->data_path;
    if (cnn_kv_get(config, "input", v, sizeof v, NULL)) {
        int h, w, c, n = 0;
        if (sscanf(v, "%dx%dx%d%n", &h, &w, &c, &n) != 3 || v[n] || h < 1 || w < 1 || c < 1 ||
            c > CNN_DATA_MAX_CHANNELS)
            return cnn_error_set(err, CNN_STATUS_FORMAT, "%s: input: expected HxWxC with C 1 to "
                                 "%d, found '%s'", path, CNN_DATA_MAX_CHANNELS, v);
        out->shape.h = h, out->shape.w = w, out->shape.c = c;
    }
    if (cnn_kv_get(config, "classes", v, sizeof v, NULL)) {
        char *end;
        long k = strtol(v, &end, 10);
        if (end == v || *end || k < 1 || k > CNN_DATA_MAX_CLASSES)
            return cnn_error_set(err, CNN_STATUS_FORMAT, "%s: classes: expected 1 to %d, found "
                                 "'%s'", path, CNN_DATA_MAX_CLASSES, v);
        out->shape.classes = (int)k;
    }
    cnn_kv_get(config, "coarse_labels", v, sizeof v, "0");
    out->source.coarse = !strcmp(v, "1");
    cnn_kv_get(config, "skip_bad", v, sizeof v, "0");
    out->source.skip_bad = !strcmp(v, "1");
    cnn_kv_get(config, "test_fraction", v, sizeof v, "0");
    out->source.test_fraction = atof(v);
    out->source.image_h = out->shape.h;
    out->source.image_w = out->shape.w;
    out->source.channels = out->shape.c;
    return CNN_STATUS_OK;
}
