/* text.c: small pieces of text the commands share (see text.h). */
#include <stdio.h>
#include <string.h>

#include "core/core.h"
#include "text.h"

const char *cnn_cli_grouped(double v, char *buf, size_t size)
{
    char digits[32];
    int n = snprintf(digits, sizeof digits, "%.0f", v), o = 0;
    for (int i = 0; i < n && (size_t)o + 2 < size; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = digits[i];
    }
    buf[o] = 0;
    return buf;
}

void cnn_cli_study_findings(const char *dir, const char *indent, cnn_text *out)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/report.md", dir);
    FILE *in = fopen(path, "r");
    if (!in)
        return;
    char line[8192];
    int on = 0;
    while (fgets(line, sizeof line, in)) {
        if (strncmp(line, "## ", 3) == 0)
            on = strncmp(line, "## What the data shows", 22) == 0;
        else if (on && strncmp(line, "- ", 2) == 0)
            cnn_text_printf(out, "%s%s", indent, line);
    }
    fclose(in);
}

const char *cnn_cli_model_vars(const char *vars, int head, char *buf, size_t size)
{
    snprintf(buf, size, "%s", vars ? vars : "");
    if (head >= 0) {
        size_t n = strlen(buf);
        snprintf(buf + n, size - n, "%shead=%d", n ? " " : "", head);
    }
    return buf;
}

cnn_status cnn_cli_data_shape(const char *input, int classes, cnn_data_shape *out,
                              cnn_error *err)
{
    *out = (cnn_data_shape)CNN_DATA_SHAPE_DEFAULT;
    if (input) {
        int n = 0;
        if (sscanf(input, "%dx%dx%d%n", &out->h, &out->w, &out->c, &n) != 3 || input[n] ||
            out->h < 1 || out->w < 1 || out->c < 1 || out->h > 65536 || out->w > 65536 ||
            out->c > 65536)
            return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "--input: expected HxWxC "
                                 "(e.g. 28x28x1), found '%s'", input);
    }
    if (classes)
        out->classes = classes;
    return CNN_STATUS_OK;
}

void cnn_cli_json_string(cnn_text *out, const char *s)
{
    cnn_text_append(out, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            char esc[2] = {'\\', (char)*p};
            cnn_text_append(out, esc, 2);
        } else if (*p < 0x20) {
            cnn_text_printf(out, "\\u%04x", *p);
        } else {
            cnn_text_append(out, (const char *)p, 1);
        }
    }
    cnn_text_append(out, "\"", 1);
}
