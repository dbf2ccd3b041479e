/* test_export.c: the exporters and the importer (include/cnnlab/export.h).
 *
 * Without arguments, for every built-in model and tests/models/graph.cnn:
 *   - safetensors written and read back into a fresh model give every
 *     parameter and running estimate bit for bit;
 *   - the ONNX export succeeds;
 * and damaged files are refused with CNN_STATUS_FORMAT and a message naming
 * what is wrong: a truncated header, a header size beyond the file, offsets
 * out of range or overlapping, a wrong dtype, NaN in a weight, a wrong shape
 * (both shapes named), a missing or an unknown tensor.
 *
 * With `--fixtures DIR [IMAGES]` it writes what tests/cli_export.sh gives
 * PyTorch, ONNX Runtime and OpenCV: DIR/images.bin (IMAGES float32 images
 * (N, C, H, W) in [0, 1]: CIFAR-10 test images when data/cifar-10-batches-bin
 * is there, else random pixels), and per model NAME.safetensors, NAME.onnx and
 * NAME.logits (cnnlab's float32 logits (n, classes) from the fast inference
 * plan, as `cnnlab test` runs it, on the first n images), listed in
 * DIR/manifest.txt as "NAME n classes". Large models get fewer images
 * (n = 256 * 60 MMAC / their MACs per image, at least 16) so that the check
 * stays quick; IMAGES 256 with CNNLAB_EXPORT_ALL=1 gives every model all 256. */
#define _DEFAULT_SOURCE /* mkdtemp */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cnnlab/cnnlab.h"
#include "cnnlab/export.h"
#include "core/core.h"

/* The test models beside the built-ins: between them every layer kind. */
static const char *const TEST_MODELS[] = {"tests/models/graph.cnn", "tests/models/kinds.cnn",
                                           "tests/models/se.cnn"};

/* Whether a built-in takes part: the large ones (3 M parameters and more,
 * whose layer kinds smaller models share) only with CNNLAB_EXPORT_ALL=1, to
 * keep `make test` quick. */
static int wanted(const cnn_model_desc *d)
{
    if (getenv("CNNLAB_EXPORT_ALL"))
        return 1;
    cnn_model *m;
    cnn_error err;
    if (cnn_model_create(d, NULL, &m, &err))
        return 1;
    int small = m->param_count < 3000000;
    cnn_model_destroy(m);
    return small;
}

static const cnn_norm NORM = {{0.4914f, 0.4822f, 0.4465f}, {0.2470f, 0.2435f, 0.2616f}};

/* Random norm parameters and running estimates, so that a swapped or
 * mislaid tensor shows. */
static void perturb(cnn_model *m, unsigned *seed)
{
    int n = cnn_model_param_ranges(m, NULL, 0);
    cnn_param_range *r = malloc(sizeof *r * (size_t)n);
    cnn_model_param_ranges(m, r, n);
    for (int i = 0; i < n; i++)
        if (r[i].role == CNN_PARAM_NORM_WEIGHT)
            check_fill(m->params + r[i].offset, r[i].count, seed, 0.6f, 1.4f);
        else if (r[i].role == CNN_PARAM_NORM_BIAS || r[i].role == CNN_PARAM_BIAS)
            check_fill(m->params + r[i].offset, r[i].count, seed, -0.2f, 0.2f);
    free(r);
    for (int i = 0; i < m->count; i++) {
        const cnn_model_layer *l = &m->layers[i];
        if (l->desc.kind != CNN_LAYER_BATCHNORM)
            continue;
        size_t c = l->state_count / 2;
        check_fill(m->state + l->state_offset, c, seed, -0.3f, 0.3f);
        check_fill(m->state + l->state_offset + c, c, seed, 0.5f, 2.0f);
    }
}

static cnn_model *make_model(const char *name, unsigned seed)
{
    const cnn_model_desc *d;
    cnn_model *m = NULL;
    cnn_error err = {0};
    if (cnn_model_load(name, NULL, &d, &err) || cnn_model_create(d, NULL, &m, &err)) {
        check(0, "%s: %s", name, err.msg);
        return NULL;
    }
    cnn_model_init(m, seed);
    perturb(m, &seed);
    return m;
}

static cnn_export_info info_of(void)
{
    return (cnn_export_info){.norm = &NORM, .n_classes = CNN_CIFAR_CLASSES,
                             .class_names = cnn_cifar_class_names, .source = "test_export"};
}

/* export, import into a fresh model: the same bits */
static void round_trip(const char *name, const char *dir)
{
    cnn_model *a = make_model(name, 7), *b = make_model(name, 8);
    if (!a || !b)
        goto done;
    char st_path[512], onnx_path[512];
    snprintf(st_path, sizeof st_path, "%s/m.safetensors", dir);
    snprintf(onnx_path, sizeof onnx_path, "%s/m.onnx", dir);
    cnn_export_info info = info_of();
    cnn_error err = {0};
    cnn_norm norm;
    int has_norm = 0;
    if (cnn_export_safetensors(a, &info, st_path, &err) ||
        cnn_import_safetensors(st_path, b, &norm, &has_norm, &err)) {
        check(0, "%s: safetensors round trip: %s", name, err.msg);
        goto done;
    }
    int same = memcmp(a->params, b->params, a->param_count * sizeof(float)) == 0 &&
               memcmp(a->state, b->state, a->state_count * sizeof(float)) == 0;
    check(same, "%s: safetensors round trip changed the weights", name);
    check(has_norm && memcmp(&norm, &NORM, sizeof norm) == 0,
          "%s: the normalisation did not come back from the metadata", name);
    cnn_status st = cnn_export_onnx(a, &info, onnx_path, &err);
    check(st == CNN_STATUS_OK, "%s: ONNX export: %s", name, err.msg);
    printf("  %-16s %9zu parameters: safetensors round trip %s, ONNX written\n", name,
           a->param_count, same ? "exact" : "DIFFERS");
done:
    cnn_model_destroy(a);
    cnn_model_destroy(b);
}

/* ---- damaged files ---- */

static void spit(const char *path, const void *buf, size_t size)
{
    cnn_error err;
    check(cnn_file_write_atomic(path, buf, size, &err) == CNN_STATUS_OK, "write %s", path);
}

/* Imports path into m; expects CNN_STATUS_FORMAT with want in the message. */
static void expect_refused(const char *what, const char *path, cnn_model *m, const char *want)
{
    cnn_error err = {0};
    cnn_norm norm;
    int has_norm;
    cnn_status st = cnn_import_safetensors(path, m, &norm, &has_norm, &err);
    int ok = st == CNN_STATUS_FORMAT && strstr(err.msg, want) != NULL;
    check(ok, "%s: expected a format error mentioning '%s', found status %d: %s", what, want,
          (int)st, err.msg);
    if (ok)
        printf("  %-26s refused: %s\n", what, err.msg);
}

/* The JSON header with `from` replaced by `to` once (same length kept by
 * padding with spaces, so the buffer stays where it was). */
static void edit_header(const unsigned char *good, size_t size, const char *from, const char *to,
                        const char *path)
{
    unsigned char *buf = malloc(size);
    memcpy(buf, good, size);
    uint64_t n = 0;
    for (int i = 0; i < 8; i++)
        n |= (uint64_t)buf[i] << (8 * i);
    char *h = (char *)buf + 8, *hit = NULL;
    for (size_t i = 0; i + strlen(from) <= n && !hit; i++)
        if (memcmp(h + i, from, strlen(from)) == 0)
            hit = h + i;
    check(hit && strlen(to) <= strlen(from), "header holds '%s'", from);
    if (hit) {
        memcpy(hit, to, strlen(to));
        memset(hit + strlen(to), ' ', strlen(from) - strlen(to));
    }
    spit(path, buf, size);
    free(buf);
}

static void damaged(const char *dir)
{
    cnn_model *m = make_model("lenet5", 3);
    if (!m)
        return;
    char good[512], bad[512];
    snprintf(good, sizeof good, "%s/good.safetensors", dir);
    snprintf(bad, sizeof bad, "%s/bad.safetensors", dir);
    cnn_export_info info = info_of();
    cnn_error err;
    check(cnn_export_safetensors(m, &info, good, &err) == CNN_STATUS_OK, "export lenet5");
    size_t size;
    unsigned char *buf = NULL;
    if (cnn_file_read_all(good, &buf, &size, &err)) {
        check(0, "read %s", good);
        cnn_model_destroy(m);
        return;
    }
    uint64_t n = 0;
    for (int i = 0; i < 8; i++)
        n |= (uint64_t)buf[i] << (8 * i);

    spit(bad, buf, 5);
    expect_refused("shorter than 8 bytes", bad, m, "truncated");
    spit(bad, buf, 8 + n / 2);
    expect_refused("truncated header", bad, m, "header size");
    unsigned char *big = malloc(size);
    memcpy(big, buf, size);
    big[5] = 1; /* 2^40 bytes of header */
    spit(bad, big, size);
    expect_refused("header size beyond file", bad, m, "header size");
    free(big);
    spit(bad, buf, size - 4);
    expect_refused("truncated buffer", bad, m, "out of range");
    /* the last tensor's offsets reversed (BEGIN > END), and layers.0.bias
     * moved onto layers.0.weight */
    char last[64] = "", reversed[64] = "", bias[64] = "", onto[64] = "";
    const char *h = (const char *)buf + 8, *o = NULL;
    for (const char *q = h; (q = strstr(q, "\"data_offsets\":[")) && q < h + n; q++)
        o = q;
    long a, b;
    if (o && sscanf(o, "\"data_offsets\":[%ld,%ld]", &a, &b) == 2) {
        snprintf(last, sizeof last, "\"data_offsets\":[%ld,%ld]", a, b);
        snprintf(reversed, sizeof reversed, "\"data_offsets\":[%ld,%ld]", b, a);
    }
    o = strstr(h, "\"layers.0.bias\"");
    if (o && (o = strstr(o, "\"data_offsets\":[")) && sscanf(o, "\"data_offsets\":[%ld,%ld]", &a, &b) == 2) {
        snprintf(bias, sizeof bias, "\"data_offsets\":[%ld,%ld]", a, b);
        snprintf(onto, sizeof onto, "\"data_offsets\":[%ld,%ld]", 0L, b - a);
    }
    check(last[0] && bias[0], "the header has the offsets this test edits");
    if (last[0]) {
        edit_header(buf, size, last, reversed, bad);
        expect_refused("offsets out of order", bad, m, "out of range");
    }
    if (bias[0]) {
        edit_header(buf, size, bias, onto, bad);
        expect_refused("overlapping offsets", bad, m, "overlap");
    }
    edit_header(buf, size, "\"dtype\":\"F32\"", "\"dtype\":\"F16\"", bad);
    expect_refused("wrong dtype", bad, m, "dtype F16");
    edit_header(buf, size, "\"layers.0.weight\"", "\"layers.0.weigh\"", bad);
    expect_refused("missing tensor", bad, m, "layers.0.weight");
    edit_header(buf, size, "{", "[", bad);
    expect_refused("not JSON", bad, m, "expected '{'");
    /* a NaN in the first tensor's data */
    unsigned char *nan_buf = malloc(size);
    memcpy(nan_buf, buf, size);
    float nanv = NAN;
    memcpy(nan_buf + 8 + n + 4 * 3, &nanv, 4);
    spit(bad, nan_buf, size);
    expect_refused("NaN in a weight", bad, m, "finite");
    free(nan_buf);
    /* the same file against another model: a shape mismatch names both */
    cnn_model *other = make_model("resnet20", 3);
    if (other)
        expect_refused("wrong model", good, other, "expected shape [16, 3, 3, 3]");
    cnn_model_destroy(other);
    free(buf);
    cnn_model_destroy(m);
}

/* ---- fixtures for the PyTorch, ONNX Runtime and OpenCV checks ---- */

/* n images: CIFAR-10's first test images, else random pixels */
static cnn_dataset images(int n, int *real)
{
    cnn_dataset d = {0};
    cnn_error err;
    char dir[4096];
    *real = 0;
    if (cnn_cifar_locate(NULL, 0, dir, sizeof dir, &err) == CNN_STATUS_OK) {
        char path[4200];
        snprintf(path, sizeof path, "%s/test_batch.bin", dir);
        if (cnn_cifar_load_file(path, -1, &d, &err) == CNN_STATUS_OK && d.count >= n) {
            d.count = n;
            *real = 1;
            return d;
        }
        cnn_dataset_free(&d);
    }
    /* CIFAR-10's shape: cnn_batch_fill reads c, h and w */
    if (cnn_dataset_set_shape(&d, CNN_CIFAR_CHANNELS, CNN_CIFAR_SIDE, CNN_CIFAR_SIDE,
                              CNN_CIFAR_CLASSES, NULL, &err) != CNN_STATUS_OK)
        check(0, "random images: %s", err.msg);
    d.count = n;
    d.pixels = cnn_alloc((size_t)n * CNN_CIFAR_PIXELS); /* cnn_dataset_free's allocator */
    d.labels = cnn_alloc((size_t)n);
    unsigned s = 12345;
    for (size_t i = 0; i < (size_t)n * CNN_CIFAR_PIXELS; i++) {
        s = s * 1664525u + 1013904223u;
        d.pixels[i] = (uint8_t)(s >> 24);
    }
    return d;
}

static int fixture(const char *name, const char *dir, const cnn_dataset *d, int n, FILE *manifest)
{
    cnn_model *m = make_model(name, 11);
    if (!m)
        return 1;
    const cnn_model_desc *desc = m->desc;
    double macs = cnn_model_macs(m);
    if (!getenv("CNNLAB_EXPORT_ALL") && macs > 60e6) {
        int fewer = (int)(n * 60e6 / macs);
        n = fewer < 16 ? (n < 16 ? n : 16) : fewer;
    }
    cnn_plan *p = NULL;
    cnn_error err = {0};
    cnn_plan_config cfg = {.backend = CNN_BACKEND_FAST, .precision = CNN_PRECISION_FP32,
                           .conv = CNN_CONV_DIRECT};
    int batch = n < 64 ? n : 64;
    char path[4300];
    cnn_export_info info = info_of();
    snprintf(path, sizeof path, "%s/%s.safetensors", dir, desc->name);
    cnn_status st = cnn_export_safetensors(m, &info, path, &err);
    snprintf(path, sizeof path, "%s/%s.onnx", dir, desc->name);
    if (!st)
        st = cnn_export_onnx(m, &info, path, &err);
    if (!st)
        st = cnn_plan_create(m, batch, &cfg, 0, &p, &err);
    if (st) {
        check(0, "%s: %s", name, err.msg);
        cnn_model_destroy(m);
        return 1;
    }
    cnn_plan_freeze(p);
    float *logits = malloc(sizeof(float) * (size_t)n * desc->classes);
    int idx[64];
    for (int at = 0; at < n; at += batch) {
        int rows = n - at < batch ? n - at : batch;
        for (int i = 0; i < batch; i++)
            idx[i] = at + (i < rows ? i : 0); /* padding rows repeat the first */
        cnn_batch_fill(d, idx, batch, &NORM, cnn_plan_input(p), NULL);
        cnn_plan_forward(p, NULL, batch, 0, NULL);
        memcpy(logits + (size_t)at * desc->classes, cnn_plan_logits(p),
               sizeof(float) * (size_t)rows * desc->classes);
    }
    snprintf(path, sizeof path, "%s/%s.logits", dir, desc->name);
    st = cnn_file_write_atomic(path, logits, sizeof(float) * (size_t)n * desc->classes, &err);
    check(st == CNN_STATUS_OK, "%s: %s", path, err.msg);
    fprintf(manifest, "%s %d %d\n", desc->name, n, desc->classes);
    printf("  %-16s %4d images, %8.1f MMAC per image\n", desc->name, n, macs / 1e6);
    free(logits);
    cnn_plan_destroy(p);
    cnn_model_destroy(m);
    return 0;
}

static int fixtures(const char *dir, int n)
{
    int real;
    cnn_dataset d = images(n, &real);
    float *x = malloc(sizeof(float) * (size_t)n * CNN_CIFAR_PIXELS);
    for (size_t i = 0; i < (size_t)n * CNN_CIFAR_PIXELS; i++)
        x[i] = (float)d.pixels[i] / 255.0f; /* (N, C, H, W), as the files store them */
    char path[4200];
    cnn_error err;
    snprintf(path, sizeof path, "%s/images.bin", dir);
    check(cnn_file_write_atomic(path, x, sizeof(float) * (size_t)n * CNN_CIFAR_PIXELS, &err) ==
              CNN_STATUS_OK, "%s", path);
    free(x);
    printf("test_export: %d %s images\n", n, real ? "CIFAR-10 test" : "random");
    snprintf(path, sizeof path, "%s/manifest.txt", dir);
    FILE *manifest = fopen(path, "w");
    if (!manifest) {
        cnn_dataset_free(&d);
        return check(0, "cannot write %s", path), check_finish("test_export");
    }
    const cnn_model_desc *const *b = cnn_model_builtins();
    for (int i = 0; b[i]; i++)
        if (wanted(b[i]))
            fixture(b[i]->name, dir, &d, n, manifest);
    for (size_t i = 0; i < sizeof TEST_MODELS / sizeof TEST_MODELS[0]; i++)
        fixture(TEST_MODELS[i], dir, &d, n, manifest);
    fclose(manifest);
    cnn_dataset_free(&d);
    return check_finish("test_export --fixtures");
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "--fixtures") == 0)
        return fixtures(argv[2], argc > 3 ? atoi(argv[3]) : 256);
    char dir[] = "/tmp/cnnlab-export.XXXXXX";
    if (!mkdtemp(dir))
        return check(0, "mkdtemp"), check_finish("test_export");
    printf("test_export: safetensors round trips and ONNX exports\n");
    const cnn_model_desc *const *b = cnn_model_builtins();
    for (int i = 0; b[i]; i++)
        if (wanted(b[i]))
            round_trip(b[i]->name, dir);
    for (size_t i = 0; i < sizeof TEST_MODELS / sizeof TEST_MODELS[0]; i++)
        round_trip(TEST_MODELS[i], dir);
    printf("test_export: damaged files\n");
    damaged(dir);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        printf("note: could not remove %s\n", dir);
    return check_finish("test_export");
}
