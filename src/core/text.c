/* text.c: the growable text buffer (cnn_text) every module composes files
 * and scripts in (also behind a stdio stream: cnn_text_file), CSV quoting on
 * it, and cnn_fixbuf, text appended to a caller's fixed buffer. A failed allocation is remembered, not fatal: the
 * text stops growing and cnn_text_write reports it. */
#define _GNU_SOURCE /* fopencookie */
#include <stdarg.h>
#include <stdio.h>
#include <sys/types.h>
#include <string.h>

#include "core.h"

/* Room for more bytes and the terminating NUL; 0 once an allocation failed. */
static int reserve(cnn_text *t, size_t more)
{
    if (t->failed)
        return 0;
    if (t->len + more + 1 <= t->cap)
        return 1;
    size_t cap = t->cap ? t->cap : 4096;
    while (cap < t->len + more + 1)
        cap *= 2;
    char *b = realloc(t->buf, cap);
    if (!b) {
        t->failed = 1;
        return 0;
    }
    t->buf = b;
    t->cap = cap;
    return 1;
}

void cnn_text_printf(cnn_text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !reserve(t, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(t->buf + t->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    t->len += (size_t)n;
}

void cnn_text_append(cnn_text *t, const char *s, size_t n)
{
    if (!reserve(t, n))
        return;
    memcpy(t->buf + t->len, s, n);
    t->len += n;
    t->buf[t->len] = 0;
}

const char *cnn_text_str(const cnn_text *t)
{
    return t->buf && !t->failed ? t->buf : "";
}

void cnn_text_free(cnn_text *t)
{
    free(t->buf);
    *t = (cnn_text){0};
}

cnn_status cnn_text_write(const cnn_text *t, const char *path, cnn_error *err)
{
    if (t->failed)
        return cnn_error_set(err, CNN_STATUS_NO_MEMORY, "%s: no memory to compose it", path);
    return cnn_file_write_atomic(path, t->buf ? t->buf : "", t->len, err);
}

/* cnn_text_file's stream writes into its cnn_text. */
static ssize_t stream_write(void *cookie, const char *buf, size_t n)
{
    cnn_text *t = cookie;
    cnn_text_append(t, buf, n);
    return t->failed ? -1 : (ssize_t)n;
}

FILE *cnn_text_file_open(cnn_text_file *t)
{
    t->text = (cnn_text){0};
    t->f = fopencookie(&t->text, "w", (cookie_io_functions_t){.write = stream_write});
    return t->f;
}

cnn_status cnn_text_file_commit(cnn_text_file *t, const char *path, cnn_error *err)
{
    cnn_status st;
    if (!t->f || fclose(t->f) != 0)
        st = cnn_error_set(err, CNN_STATUS_NO_MEMORY, "%s: no memory to compose it", path);
    else
        st = cnn_text_write(&t->text, path, err);
    t->f = NULL;
    cnn_text_free(&t->text);
    return st;
}

void cnn_csv_field(cnn_text *t, const char *s)
{
    if (!s[strcspn(s, ",\"\r\n")]) {
        cnn_text_append(t, s, strlen(s));
        return;
    }
    cnn_text_append(t, "\"", 1);
    for (; *s; s++) {
        if (*s == '"')
            cnn_text_append(t, "\"", 1);
        cnn_text_append(t, s, 1);
    }
    cnn_text_append(t, "\"", 1);
}

void cnn_json_string(cnn_text *t, const char *s)
{
    cnn_text_append(t, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            cnn_text_printf(t, "\\%c", c);
        else if (c == '\n')
            cnn_text_append(t, "\\n", 2);
        else if (c == '\t')
            cnn_text_append(t, "\\t", 2);
        else if (c < 0x20)
            cnn_text_printf(t, "\\u%04x", c);
        else
            cnn_text_append(t, (const char *)&c, 1);
    }
    cnn_text_append(t, "\"", 1);
}

void cnn_notef(void (*f)(void *user, const char *line), void *user, const char *fmt, ...)
{
    if (!f)
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    f(user, line);
}

void cnn_fixbuf_printf(cnn_fixbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (b->used < b->size) {
        int n = vsnprintf(b->buf + b->used, b->size - b->used, fmt, ap);
        if (n > 0)
            b->used += (size_t)n;
    }
    va_end(ap);
}
