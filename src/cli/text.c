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

int cnn_cli_report_lines(const char *dir,
                         void (*f)(void *user, const char *heading, const char *line),
                         void *user)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/report.md", dir);
    FILE *in = fopen(path, "r");
    if (!in)
        return 0;
    char line[8192], heading[8192] = "";
    while (fgets(line, sizeof line, in)) {
        if (strncmp(line, "## ", 3) == 0)
            snprintf(heading, sizeof heading, "%s", line);
        f(user, heading, line);
    }
    fclose(in);
    return 1;
}

typedef struct findings {
    const char *indent;
    cnn_text *out;
} findings;

static void finding_line(void *user, const char *heading, const char *line)
{
    findings *fi = user;
    if (strncmp(heading, "## What the data shows", 22) == 0 && strncmp(line, "- ", 2) == 0)
        cnn_text_printf(fi->out, "%s%s", fi->indent, line);
}

void cnn_cli_study_findings(const char *dir, const char *indent, cnn_text *out)
{
    findings fi = {indent, out};
    cnn_cli_report_lines(dir, finding_line, &fi);
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

