/* checkpoint.c: saving and loading model weights (layout in checkpoint.h). */
#include <string.h>

#include "cnnlab/checkpoint.h"
#include "core/core.h"

static const char MAGIC[8] = {'C', 'N', 'N', 'L', 'A', 'B', 'W', '1'};
#define HEADER_BYTES (8 + 4 + 64 + 192 + 128 + 24 + 16)

cnn_status cnn_checkpoint_save(const char *path, const cnn_model *m, const cnn_norm *norm,
                               cnn_error *err)
{
    size_t bytes = HEADER_BYTES + (m->param_count + m->state_count) * sizeof(float) + 8;
    unsigned char *buf = calloc(1, bytes), *p = buf;
    if (!buf)
        return cnn_error_set(err, CNN_STATUS_NO_MEMORY, "%s: no memory to save", path);
    uint32_t version = 3;
    uint64_t np = m->param_count, ns = m->state_count;
    memcpy(p, MAGIC, 8), p += 8;
    memcpy(p, &version, 4), p += 4;
    strncpy((char *)p, m->desc->name, 63), p += 64;
    cnn_model_options_format(&m->options, (char *)p, 192), p += 192;
    const cnn_model_file *file = cnn_model_file_of(m->desc);
    if (file && file->vars)
        strncpy((char *)p, file->vars, 127);
    p += 128;
    memcpy(p, norm->mean, 12), p += 12;
    memcpy(p, norm->std, 12), p += 12;
    memcpy(p, &np, 8), p += 8;
    memcpy(p, &ns, 8), p += 8;
    memcpy(p, m->params, np * sizeof(float)), p += np * sizeof(float);
    memcpy(p, m->state, ns * sizeof(float)), p += ns * sizeof(float);
    CNN_ASSERT((size_t)(p - buf) + 8 == bytes);
    cnn_status st = cnn_file_write_summed(path, buf, bytes, err);
    free(buf);
    return st;
}

cnn_status cnn_checkpoint_read(const char *path, cnn_checkpoint *ck, cnn_error *err)
{
    memset(ck, 0, sizeof *ck);
    unsigned char *buf;
    size_t size;
    cnn_status st = cnn_file_read_versioned(path, MAGIC, "weights", 3, HEADER_BYTES, &buf, &size,
                                            err);
    if (st)
        return st;
    const unsigned char *p = buf + 12;
    uint64_t np, ns;
    memcpy(ck->model, p, 64), p += 64;
    ck->model[63] = 0;
    memcpy(ck->options, p, 192), p += 192;
    ck->options[191] = 0;
    memcpy(ck->vars, p, 128), p += 128;
    ck->vars[127] = 0;
    memcpy(ck->norm.mean, p, 12), p += 12;
    memcpy(ck->norm.std, p, 12), p += 12;
    memcpy(&np, p, 8), p += 8;
    memcpy(&ns, p, 8), p += 8;
    if (np > size || ns > size || HEADER_BYTES + (np + ns) * sizeof(float) + 8 != size) {
        st = cnn_error_set(err, CNN_STATUS_FORMAT, "%s: expected %llu bytes for %llu parameters "
                           "and %llu state values, found %zu (file truncated?)", path,
                           (unsigned long long)(HEADER_BYTES + (np + ns) * 4 + 8),
                           (unsigned long long)np, (unsigned long long)ns, size);
        goto done;
    }
    if (!cnn_file_sum_ok(buf, size)) {
        st = cnn_error_set(err, CNN_STATUS_FORMAT, "%s: checksum mismatch (file damaged)", path);
        goto done;
    }
    ck->param_count = np;
    ck->state_count = ns;
    ck->params = malloc(np * sizeof(float) + 1);
    ck->state = malloc(ns * sizeof(float) + 1);
    if (!ck->params || !ck->state) {
        cnn_checkpoint_free(ck);
        st = cnn_error_set(err, CNN_STATUS_NO_MEMORY, "%s: no memory", path);
        goto done;
    }
    memcpy(ck->params, p, np * sizeof(float));
    memcpy(ck->state, p + np * sizeof(float), ns * sizeof(float));
done:
    free(buf);
    return st;
}

cnn_status cnn_checkpoint_apply(const cnn_checkpoint *ck, cnn_model *m, const char *path,
                                cnn_error *err)
{
    if (strcmp(ck->model, m->desc->name) != 0 || ck->param_count != m->param_count ||
        ck->state_count != m->state_count)
        return cnn_error_set(err, CNN_STATUS_FORMAT,
                             "%s: holds %s with %zu parameters, expected %s with %zu", path,
                             ck->model, ck->param_count, m->desc->name, m->param_count);
    memcpy(m->params, ck->params, m->param_count * sizeof(float));
    memcpy(m->state, ck->state, m->state_count * sizeof(float));
    return CNN_STATUS_OK;
}

/* The stored model options, checked as the train flags they came from
 * (--dropout, --dropconnect in [0, 0.99], --groups in [1, 4096], --kernel-size in
 * [1, 15]): a damaged value is refused here, naming the file, rather than
 * blamed on a flag nobody passed. */
static cnn_status check_options(const char *text, const char *path, cnn_error *err)
{
    static const struct { const char *key, *flag; double lo, hi; int integer; } num[] = {
        {"dropout", "--dropout", 0, 0.99, 0},       {"dropconnect", "--dropconnect", 0, 0.99, 0},
        {"groups", "--groups", 1, 4096, 1},         {"kernel_size", "--kernel-size", 1, 15, 1}};
    const char *p = text;
    while (*p) {
        while (*p == ' ')
            p++;
        size_t n = strcspn(p, " ");
        const char *eq = memchr(p, '=', n);
        for (size_t i = 0; eq && i < sizeof num / sizeof num[0]; i++) {
            size_t klen = strlen(num[i].key);
            if ((size_t)(eq - p) != klen || strncmp(p, num[i].key, klen) != 0)
                continue;
            char v[64], *end;
            size_t vlen = n - klen - 1;
            int ok = vlen > 0 && vlen < sizeof v;
            if (ok) {
                memcpy(v, eq + 1, vlen);
                v[vlen] = 0;
                double x = strtod(v, &end);
                ok = *end == 0 && x >= num[i].lo && x <= num[i].hi &&
                     (!num[i].integer || x == (double)(long)x);
            }
            if (!ok)
                return cnn_error_set(err, CNN_STATUS_FORMAT, "%s: stored model option %.*s: "
                                     "expected %s in [%g, %g] (as %s), found '%.*s'", path,
                                     (int)n, p, num[i].integer ? "an integer" : "a number",
                                     num[i].lo, num[i].hi, num[i].flag, (int)(vlen < 64 ? vlen : 64),
                                     eq + 1);
        }
        p += n;
    }
    return CNN_STATUS_OK;
}

cnn_status cnn_checkpoint_model(const cnn_checkpoint *ck, const char *model_file,
                                const char *path, cnn_model **out, cnn_error *err)
{
    return cnn_checkpoint_model_shaped(ck, model_file, NULL, path, out, err);
}

cnn_status cnn_checkpoint_model_shaped(const cnn_checkpoint *ck, const char *model_file,
                                       const cnn_data_shape *shape, const char *path,
                                       cnn_model **out, cnn_error *err)
{
    /* Without the run's model.cnn only a built-in will do: the stored name is
     * never opened as a path. */
    size_t len = strlen(ck->model);
    if (!model_file && (strchr(ck->model, '/') || (len >= 4 && strcmp(ck->model + len - 4, ".cnn") == 0)))
        return cnn_error_set(err, CNN_STATUS_FORMAT, "%s: holds model '%s', which is not a "
                             "built-in, and its model file (model.cnn beside it) is missing",
                             path, ck->model);
    cnn_status st = check_options(ck->options, path, err);
    if (st)
        return st;
    const cnn_model_desc *desc;
    if ((st = cnn_model_load_shaped(model_file ? model_file : ck->model, ck->vars, shape, &desc,
                                    err)))
        return st;
    cnn_model_options opt;
    if ((st = cnn_model_options_parse(ck->options, &opt, err)))
        return st;
    cnn_model *m;
    if ((st = cnn_model_create(desc, &opt, &m, err)))
        return st;
    if ((st = cnn_checkpoint_apply(ck, m, path, err))) {
        cnn_model_destroy(m);
        return st;
    }
    *out = m;
    return CNN_STATUS_OK;
}

void cnn_checkpoint_free(cnn_checkpoint *ck)
{
    free(ck->params);
    free(ck->state);
    ck->params = ck->state = NULL;
}
