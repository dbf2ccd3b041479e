/* safetensors.c: writing and reading the safetensors container (layout in
 * safetensors.h). The header's JSON is parsed by a small strict reader of the
 * subset the format uses: objects, strings, arrays of integers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "safetensors.h"

static const struct {
    const char *name;
    size_t size;
} DTYPES[] = {{"F32", 4}, {"I64", 8}};

cnn_status cnn_st_write(const char *path, const cnn_st_tensor *tensors, int count,
                        const char *const *meta_keys, const char *const *meta_values, int n_meta,
                        cnn_error *err)
{
    cnn_text h = {0};
    cnn_text_append(&h, "{", 1);
    if (n_meta > 0) {
        cnn_text_printf(&h, "\"__metadata__\":{");
        for (int i = 0; i < n_meta; i++) {
            if (i)
                cnn_text_append(&h, ",", 1);
            cnn_json_string(&h, meta_keys[i]);
            cnn_text_append(&h, ":", 1);
            cnn_json_string(&h, meta_values[i]);
        }
        cnn_text_append(&h, "}", 1);
    }
    size_t offset = 0;
    for (int i = 0; i < count; i++) {
        const cnn_st_tensor *t = &tensors[i];
        cnn_text_append(&h, i || n_meta > 0 ? "," : "", i || n_meta > 0 ? 1 : 0);
        cnn_json_string(&h, t->name);
        cnn_text_printf(&h, ":{\"dtype\":\"%s\",\"shape\":[", DTYPES[t->dtype].name);
        for (int d = 0; d < t->rank; d++)
            cnn_text_printf(&h, "%s%lld", d ? "," : "", (long long)t->shape[d]);
        cnn_text_printf(&h, "],\"data_offsets\":[%zu,%zu]}", offset, offset + t->bytes);
        offset += t->bytes;
    }
    cnn_text_append(&h, "}", 1);
    while (h.len % 8) /* the spec's alignment: the buffer starts at a multiple of 8 */
        cnn_text_append(&h, " ", 1);
    if (h.failed) {
        cnn_text_free(&h);
        return cnn_error_set(err, CNN_STATUS_NO_MEMORY, "%s: no memory for the header", path);
    }
    size_t total = 8 + h.len + offset;
    unsigned char *buf = malloc(total);
    if (!buf) {
        cnn_text_free(&h);
        return cnn_error_set(err, CNN_STATUS_NO_MEMORY, "%s: no memory for %zu bytes", path,
                             total);
    }
    uint64_t n = h.len;
    for (int i = 0; i < 8; i++)
        buf[i] = (unsigned char)(n >> (8 * i));
    memcpy(buf + 8, h.buf, h.len);
    unsigned char *p = buf + 8 + h.len;
    for (int i = 0; i < count; i++) {
        memcpy(p, tensors[i].data, tensors[i].bytes);
        p += tensors[i].bytes;
    }
    cnn_text_free(&h);
    cnn_status st = cnn_file_write_atomic(path, buf, total, err);
    free(buf);
    return st;
}

/* ---- the header's JSON ---- */

typedef struct parser {
    const char *p, *end, *start;
    const char *path;
    cnn_error *err;
} parser;

static cnn_status fail(parser *ps, const char *expected)
{
    char found[24];
    size_t n = (size_t)(ps->end - ps->p) < 16 ? (size_t)(ps->end - ps->p) : 16;
    for (size_t i = 0; i < n; i++)
        found[i] = (ps->p[i] >= 0x20 && ps->p[i] < 0x7f) ? ps->p[i] : '?';
    found[n] = 0;
    return cnn_error_set(ps->err, CNN_STATUS_FORMAT,
                         "%s: header byte %zu: expected %s, found %s%s%s", ps->path,
                         (size_t)(ps->p - ps->start) + 8, expected, n ? "'" : "the header's end",
                         found, n ? "'" : "");
}

static void skip_ws(parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\n' || *ps->p == '\r' || *ps->p == '\t'))
        ps->p++;
}

static int eat(parser *ps, char c)
{
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == c) {
        ps->p++;
        return 1;
    }
    return 0;
}

/* A JSON string into a new allocation (\uXXXX below 0x80 only, which is all
 * the writer makes; others are refused). */
static cnn_status parse_string(parser *ps, char **out)
{
    if (!eat(ps, '"'))
        return fail(ps, "a string");
    cnn_text t = {0};
    while (ps->p < ps->end && *ps->p != '"') {
        char c = *ps->p++;
        if (c == '\\') {
            if (ps->p >= ps->end)
                break;
            char e = *ps->p++;
            const char *map = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t", *m = strchr(map, e);
            if (e && m) {
                c = to[m - map];
            } else if (e == 'u' && ps->end - ps->p >= 4) {
                char hex[5] = {ps->p[0], ps->p[1], ps->p[2], ps->p[3], 0}, *hend;
                long v = strtol(hex, &hend, 16);
                if (*hend || v <= 0 || v >= 0x80) {
                    cnn_text_free(&t);
                    return fail(ps, "an ASCII \\u escape");
                }
                c = (char)v;
                ps->p += 4;
            } else {
                cnn_text_free(&t);
                ps->p--;
                return fail(ps, "a JSON escape");
            }
        }
        cnn_text_append(&t, &c, 1);
    }
    if (ps->p >= ps->end) {
        cnn_text_free(&t);
        return fail(ps, "the string's closing quote");
    }
    ps->p++;
    if (t.failed) {
        cnn_text_free(&t);
        return cnn_error_set(ps->err, CNN_STATUS_NO_MEMORY, "%s: no memory", ps->path);
    }
    *out = t.buf ? t.buf : calloc(1, 1);
    return *out ? CNN_STATUS_OK : cnn_error_set(ps->err, CNN_STATUS_NO_MEMORY, "no memory");
}

/* [INT, ...] of at most max non-negative integers below 2^53 */
static cnn_status parse_ints(parser *ps, int64_t *v, int max, int *n, const char *what)
{
    *n = 0;
    if (!eat(ps, '['))
        return fail(ps, what);
    if (eat(ps, ']'))
        return CNN_STATUS_OK;
    do {
        skip_ws(ps);
        int64_t x = 0;
        int digits = 0;
        while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9' && digits < 16) {
            x = x * 10 + (*ps->p++ - '0');
            digits++;
        }
        if (!digits || (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9'))
            return fail(ps, "a non-negative integer below 10^16");
        if (*n == max)
            return fail(ps, what);
        v[(*n)++] = x;
    } while (eat(ps, ','));
    if (!eat(ps, ']'))
        return fail(ps, "',' or ']'");
    return CNN_STATUS_OK;
}

static cnn_status parse_metadata(parser *ps, cnn_st_file *f)
{
    if (!eat(ps, '{'))
        return fail(ps, "the __metadata__ object");
    if (eat(ps, '}'))
        return CNN_STATUS_OK;
    do {
        char *k = NULL, *v = NULL;
        cnn_status st = parse_string(ps, &k);
        if (!st && !eat(ps, ':'))
            st = fail(ps, "':'");
        if (!st)
            st = parse_string(ps, &v);
        char **nk = st ? NULL : realloc(f->meta_keys, sizeof(char *) * (size_t)(f->n_meta + 1));
        if (nk)
            f->meta_keys = nk;
        char **nv = nk ? realloc(f->meta_values, sizeof(char *) * (size_t)(f->n_meta + 1)) : NULL;
        if (nv)
            f->meta_values = nv;
        if (!st && !nv)
            st = cnn_error_set(ps->err, CNN_STATUS_NO_MEMORY, "%s: no memory", ps->path);
        if (st) {
            free(k);
            free(v);
            return st;
        }
        f->meta_keys[f->n_meta] = k;
        f->meta_values[f->n_meta++] = v;
    } while (eat(ps, ','));
    if (!eat(ps, '}'))
        return fail(ps, "',' or '}' in __metadata__");
    return CNN_STATUS_OK;
}

/* {"dtype": ..., "shape": [...], "data_offsets": [B, E]} in any order */
static cnn_status parse_tensor(parser *ps, cnn_st_tensor *t, int64_t *begin, int64_t *end)
{
    int have_dtype = 0, have_shape = 0, have_offsets = 0;
    if (!eat(ps, '{'))
        return fail(ps, "a tensor's object");
    do {
        char *key = NULL;
        cnn_status st = parse_string(ps, &key);
        if (!st && !eat(ps, ':'))
            st = fail(ps, "':'");
        if (!st && strcmp(key, "dtype") == 0) {
            char *dt = NULL;
            if (!(st = parse_string(ps, &dt))) {
                int i;
                for (i = 0; i < (int)(sizeof DTYPES / sizeof DTYPES[0]); i++)
                    if (strcmp(dt, DTYPES[i].name) == 0)
                        break;
                if (i == (int)(sizeof DTYPES / sizeof DTYPES[0]))
                    st = cnn_error_set(ps->err, CNN_STATUS_FORMAT, "%s: tensor %s: dtype %s: "
                                       "expected F32 (or I64 for a counter)", ps->path, t->name,
                                       dt);
                t->dtype = (cnn_st_dtype)i;
                have_dtype = 1;
            }
            free(dt);
        } else if (!st && strcmp(key, "shape") == 0) {
            st = parse_ints(ps, t->shape, CNN_ST_MAX_RANK, &t->rank, "a shape of at most 8 sizes");
            have_shape = 1;
        } else if (!st && strcmp(key, "data_offsets") == 0) {
            int64_t o[2];
            int n;
            if (!(st = parse_ints(ps, o, 2, &n, "[BEGIN, END]")) && n != 2)
                st = fail(ps, "two data offsets");
            *begin = o[0];
            *end = o[1];
            have_offsets = 1;
        } else if (!st) {
            st = cnn_error_set(ps->err, CNN_STATUS_FORMAT, "%s: tensor %s: unknown key '%s' "
                               "(expected dtype, shape, data_offsets)", ps->path, t->name, key);
        }
        free(key);
        if (st)
            return st;
    } while (eat(ps, ','));
    if (!eat(ps, '}'))
        return fail(ps, "',' or '}'");
    if (!have_dtype || !have_shape || !have_offsets)
        return cnn_error_set(ps->err, CNN_STATUS_FORMAT, "%s: tensor %s: expected dtype, shape "
                             "and data_offsets, found only%s%s%s", ps->path, t->name,
                             have_dtype ? " dtype" : "", have_shape ? " shape" : "",
                             have_offsets ? " data_offsets" : "");
    return CNN_STATUS_OK;
}

typedef struct span {
    int64_t begin, end;
    int index;
} span;

static int span_cmp(const void *a, const void *b)
{
    const span *x = a, *y = b;
    return x->begin < y->begin ? -1 : x->begin > y->begin ? 1 : x->end < y->end ? -1 : x->end > y->end;
}

/* Offsets inside the buffer, sizes matching the shapes, no overlaps. */
static cnn_status check_spans(const char *path, cnn_st_file *f, span *s, size_t buffer,
                              cnn_error *err)
{
    for (int i = 0; i < f->count; i++) {
        cnn_st_tensor *t = &f->tensors[i];
        if (s[i].begin > s[i].end || (uint64_t)s[i].end > buffer)
            return cnn_error_set(err, CNN_STATUS_FORMAT, "%s: tensor %s: data_offsets [%lld, %lld] "
                                 "out of range: expected BEGIN <= END <= %zu (the buffer's size)",
                                 path, t->name, (long long)s[i].begin, (long long)s[i].end, buffer);
        uint64_t count = 1;
        for (int d = 0; d < t->rank; d++) {
            uint64_t dim = (uint64_t)t->shape[d];
            if (dim && count > buffer / dim) { /* more than the buffer holds (and no overflow) */
                count = buffer + 1;
                break;
            }
            count *= dim;
        }
        uint64_t want = count * DTYPES[t->dtype].size;
        if ((uint64_t)(s[i].end - s[i].begin) != want)
            return cnn_error_set(err, CNN_STATUS_FORMAT, "%s: tensor %s: expected %llu bytes for "
                                 "its shape and dtype, found data_offsets [%lld, %lld] (%lld bytes)",
                                 path, t->name, (unsigned long long)want, (long long)s[i].begin,
                                 (long long)s[i].end, (long long)(s[i].end - s[i].begin));
        t->bytes = (size_t)want;
        s[i].index = i;
    }
    qsort(s, (size_t)f->count, sizeof *s, span_cmp);
    for (int i = 1; i < f->count; i++)
        if (s[i].begin < s[i - 1].end)
            return cnn_error_set(err, CNN_STATUS_FORMAT, "%s: tensors %s [%lld, %lld] and %s "
                                 "[%lld, %lld] overlap: expected disjoint data_offsets", path,
                                 f->tensors[s[i - 1].index].name, (long long)s[i - 1].begin,
                                 (long long)s[i - 1].end, f->tensors[s[i].index].name,
                                 (long long)s[i].begin, (long long)s[i].end);
    return CNN_STATUS_OK;
}

static cnn_status parse_header(parser *ps, cnn_st_file *f, span **spans)
{
    int cap = 0;
    if (!eat(ps, '{'))
        return fail(ps, "'{' opening the header");
    if (eat(ps, '}'))
        goto closed;
    do {
        char *name = NULL;
        cnn_status st = parse_string(ps, &name);
        if (!st && !eat(ps, ':'))
            st = fail(ps, "':'");
        if (!st && strcmp(name, "__metadata__") == 0) {
            free(name);
            if ((st = parse_metadata(ps, f)))
                return st;
            continue;
        }
        if (!st && cnn_st_find(f, name))
            st = cnn_error_set(ps->err, CNN_STATUS_FORMAT, "%s: tensor %s appears twice",
                               ps->path, name);
        if (!st && f->count == cap) {
            cap = cap ? 2 * cap : 64;
            cnn_st_tensor *nt = realloc(f->tensors, sizeof *nt * (size_t)cap);
            span *ns = realloc(*spans, sizeof *ns * (size_t)cap);
            if (nt)
                f->tensors = nt;
            if (ns)
                *spans = ns;
            if (!nt || !ns)
                st = cnn_error_set(ps->err, CNN_STATUS_NO_MEMORY, "%s: no memory", ps->path);
        }
        if (st) {
            free(name);
            return st;
        }
        cnn_st_tensor *t = &f->tensors[f->count++];
        memset(t, 0, sizeof *t);
        t->name = name;
        if ((st = parse_tensor(ps, t, &(*spans)[f->count - 1].begin, &(*spans)[f->count - 1].end)))
            return st;
    } while (eat(ps, ','));
    if (!eat(ps, '}'))
        return fail(ps, "',' or '}'");
closed:
    skip_ws(ps);
    if (ps->p != ps->end)
        return fail(ps, "nothing after the header's object but spaces");
    return CNN_STATUS_OK;
}

cnn_status cnn_st_read(const char *path, cnn_st_file *f, cnn_error *err)
{
    memset(f, 0, sizeof *f);
    size_t size;
    cnn_status st = cnn_file_read_all(path, &f->raw, &size, err);
    if (st)
        return st;
    if (size < 8) {
        cnn_st_free(f);
        return cnn_error_set(err, CNN_STATUS_FORMAT, "%s: expected at least the 8-byte header "
                             "size of a safetensors file, found %zu bytes (truncated?)", path, size);
    }
    uint64_t n = 0;
    for (int i = 0; i < 8; i++)
        n |= (uint64_t)f->raw[i] << (8 * i);
    if (n > size - 8 || n < 2) {
        cnn_st_free(f);
        return cnn_error_set(err, CNN_STATUS_FORMAT, "%s: header size %llu: expected 2 to %zu "
                             "(the bytes after it), so the file is truncated or not safetensors",
                             path, (unsigned long long)n, size - 8);
    }
    parser ps = {(const char *)f->raw + 8, (const char *)f->raw + 8 + n,
                 (const char *)f->raw + 8, path, err};
    span *spans = NULL;
    size_t buffer = size - 8 - (size_t)n;
    if (!(st = parse_header(&ps, f, &spans)))
        st = check_spans(path, f, spans, buffer, err);
    /* the data: each tensor's begin, found again by index after the sort */
    if (!st)
        for (int i = 0; i < f->count; i++)
            f->tensors[spans[i].index].data = f->raw + 8 + n + spans[i].begin;
    free(spans);
    if (st)
        cnn_st_free(f);
    return st;
}

void cnn_st_free(cnn_st_file *f)
{
    for (int i = 0; i < f->count; i++)
        free(f->tensors[i].name);
    for (int i = 0; i < f->n_meta; i++) {
        free(f->meta_keys[i]);
        free(f->meta_values[i]);
    }
    free(f->tensors);
    free(f->meta_keys);
    free(f->meta_values);
    free(f->raw);
    memset(f, 0, sizeof *f);
}

const cnn_st_tensor *cnn_st_find(const cnn_st_file *f, const char *name)
{
    for (int i = 0; i < f->count; i++)
        if (strcmp(f->tensors[i].name, name) == 0)
            return &f->tensors[i];
    return NULL;
}

const char *cnn_st_meta(const cnn_st_file *f, const char *key)
{
    for (int i = 0; i < f->n_meta; i++)
        if (strcmp(f->meta_keys[i], key) == 0)
            return f->meta_values[i];
    return NULL;
}
