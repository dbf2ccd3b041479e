/* text.c: small pieces of text the commands share (see text.h). */
#define _POSIX_C_SOURCE 200809L /* strdup */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnnlab/data.h"
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

/* The class names: RUN_DIR/classes.txt, else CIFAR-10's for a run of its
 * shape (runs from before classes.txt), else the label numbers. */
char **cnn_cli_class_names(const char *run, int classes)
{
    char **names = calloc((size_t)classes, sizeof *names);
    if (!names)
        return NULL;
    char path[4200];
    snprintf(path, sizeof path, "%s/classes.txt", run);
    char *text = cnn_file_text_or_null(path);
    char *line = text;
    for (int k = 0; k < classes; k++) {
        char num[16];
        const char *name = NULL;
        char *next = line ? strchr(line, '\n') : NULL;
        if (next)
            *next++ = 0;
        if (line && *line)
            name = line;
        else if (!text && classes == CNN_CIFAR_CLASSES)
            name = cnn_cifar_class_names[k];
        else
            snprintf(num, sizeof num, "%d", k), name = num;
        names[k] = strdup(name);
        line = next;
    }
    free(text);
    return names;
}

void cnn_cli_class_names_free(char **names, int classes)
{
    if (names)
        for (int k = 0; k < classes; k++)
            free(names[k]);
    free(names);
}
