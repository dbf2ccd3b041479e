/* metrics.c: metrics.csv and status.txt of a run folder read back (see
 * metrics.h). The reader is strict about what it needs (the named columns, a
 * number in every needed field) and names the file and line otherwise. */
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "metrics.h"

#define MAX_COLUMNS 64 /* metrics.csv has 8 or 9; more is not a metrics file */

enum { COL_EPOCH, COL_TRAIN_LOSS, COL_TRAIN_ACC, COL_VAL_LOSS, COL_VAL_ACC, COL_LR, NCOL };
static const char *const col_names[NCOL] = {"epoch",   "train_loss", "train_acc",
                                            "val_loss", "val_acc",    "lr"};

/* The next line of *p (without its end of line, '\r' dropped) as [*start, len);
 * returns 0 at the end of the text. */
static int next_line(char **p, char **start, size_t *len)
{
    if (!**p)
        return 0;
    char *s = *p, *e = strchr(s, '\n');
    size_t n = e ? (size_t)(e - s) : strlen(s);
    *p = e ? e + 1 : s + n;
    if (n && s[n - 1] == '\r')
        n--;
    s[n] = 0;
    *start = s;
    *len = n;
    return 1;
}

static int blank(const char *s)
{
    return strspn(s, " \t") == strlen(s);
}

/* Splits s in place at commas into at most max fields; returns the count. */
static int split(char *s, char **fields, int max)
{
    int n = 0;
    for (;;) {
        if (n < max)
            fields[n] = s;
        n++;
        char *c = strchr(s, ',');
        if (!c)
            return n;
        *c = 0;
        s = c + 1;
    }
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = 0;
    return s;
}

static void read_status(const char *run_dir, cnn_metrics *m)
{
    char path[4200];
    char *data;
    size_t size;
    cnn_error ignored;
    snprintf(path, sizeof path, "%s/status.txt", run_dir);
    if (!cnn_path_exists(path) || cnn_file_read_text(path, &data, &size, &ignored))
        return;
    char *p = data, *line;
    size_t len;
    while (next_line(&p, &line, &len)) {
        char *eq = strchr(line, '=');
        if (!eq)
            continue;
        *eq = 0;
        char *key = trim(line), *value = trim(eq + 1);
        if (strcmp(key, "status") == 0)
            m->diverged = strcmp(value, "diverged") == 0;
        else if (strcmp(key, "epochs_run") == 0)
            m->epochs_run = atoi(value);
    }
    free(data);
}

cnn_status cnn_metrics_read(const char *run_dir, cnn_metrics *m, cnn_error *err)
{
    *m = (cnn_metrics){0};
    char path[4200];
    snprintf(path, sizeof path, "%s/metrics.csv", run_dir);
    if (!cnn_path_exists(path))
        return cnn_error_set(err, CNN_STATUS_IO, "%s: not found; expected a run folder written "
                             "by `cnnlab train`", path);
    char *data;
    size_t size;
    cnn_status st = cnn_file_read_text(path, &data, &size, err);
    if (st)
        return st;
    char *p = data, *line;
    size_t len;
    int lineno = 1, have;
    while ((have = next_line(&p, &line, &len)) && blank(line))
        lineno++;
    if (!have) {
        free(data);
        return cnn_error_set(err, CNN_STATUS_FORMAT, "%s: empty file; expected the header "
                             "epoch,train_loss,train_acc,val_loss,val_acc,lr,... and one row per "
                             "epoch", path);
    }
    /* The header: where each needed column is. */
    char *fields[MAX_COLUMNS];
    int nf = split(line, fields, MAX_COLUMNS), col[NCOL], need = 0;
    if (nf > MAX_COLUMNS) {
        free(data);
        return cnn_error_set(err, CNN_STATUS_FORMAT, "%s line %d: the header has %d columns; "
                             "expected at most %d", path, lineno, nf, MAX_COLUMNS);
    }
    for (int c = 0; c < NCOL; c++) {
        col[c] = -1;
        for (int f = 0; f < nf; f++)
            if (strcmp(trim(fields[f]), col_names[c]) == 0)
                col[c] = f;
        if (col[c] < 0) {
            free(data);
            return cnn_error_set(err, CNN_STATUS_FORMAT, "%s line %d: the header lacks the "
                                 "column '%s'; expected epoch,train_loss,train_acc,val_loss,"
                                 "val_acc,lr,...", path, lineno, col_names[c]);
        }
        if (col[c] + 1 > need)
            need = col[c] + 1;
    }
    /* Rows: at most one per remaining line. */
    int rows = 0;
    for (const char *q = p; *q; q++)
        rows += *q == '\n';
    rows++;
    double *block = calloc((size_t)rows * NCOL, sizeof(double));
    if (!block) {
        free(data);
        return cnn_error_set(err, CNN_STATUS_NO_MEMORY, "%s: no memory for %d rows", path, rows);
    }
    double *v[NCOL];
    for (int c = 0; c < NCOL; c++)
        v[c] = block + (size_t)c * (size_t)rows;
    int n = 0;
    while (next_line(&p, &line, &len)) {
        lineno++;
        if (blank(line))
            continue;
        nf = split(line, fields, MAX_COLUMNS);
        if (nf < need) {
            st = cnn_error_set(err, CNN_STATUS_FORMAT, "%s line %d: expected at least %d fields, "
                               "found %d", path, lineno, need, nf);
            goto fail;
        }
        for (int c = 0; c < NCOL; c++) {
            char *s = trim(fields[col[c]]), *end;
            double x = strtod(s, &end);
            if (!*s || *end) {
                st = cnn_error_set(err, CNN_STATUS_FORMAT, "%s line %d: %s: expected a number, "
                                   "found '%s'", path, lineno, col_names[c], s);
                goto fail;
            }
            v[c][n] = x;
        }
        n++;
    }
    free(data);
    if (n == 0) {
        free(block);
        return cnn_error_set(err, CNN_STATUS_FORMAT, "%s: no epochs recorded (a header and no "
                             "rows): the run has not finished an epoch yet", path);
    }
    m->epochs = n;
    m->epoch = v[COL_EPOCH];
    m->train_loss = v[COL_TRAIN_LOSS];
    m->train_acc = v[COL_TRAIN_ACC];
    m->val_loss = v[COL_VAL_LOSS];
    m->val_acc = v[COL_VAL_ACC];
    m->lr = v[COL_LR];
    read_status(run_dir, m);
    return CNN_STATUS_OK;
fail:
    free(data);
    free(block);
    return st;
}

void cnn_metrics_free(cnn_metrics *m)
{
    free(m->epoch); /* the start of the one block */
    *m = (cnn_metrics){0};
}
