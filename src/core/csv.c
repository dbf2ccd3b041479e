/* csv.c: CSV tables of numbers read by header (see core.h): the columns a
 * caller wants are found by name, so other and later columns are ignored.
 * Strict about what it needs (the named columns, a number in every wanted
 * field of a row) and names the file and line otherwise. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

#define MAX_COLUMNS 64 /* a wider header is not one of cnnlab's tables */

/* The next line of *p (without its end of line, '\r' dropped, cut in place);
 * 0 at the end of the text. */
static int next_line(char **p, char **start)
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
    return 1;
}

static int blank(const char *s) { return strspn(s, " \t") == strlen(s); }

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

/* The header: where each wanted column is (col[c], -1 for an optional one
 * that is absent); *need: the fields a row must have. */
static cnn_status read_header(char *line, const char *path, int lineno, const cnn_csv_spec *spec,
                              int *col, int *need, cnn_error *err)
{
    char *fields[MAX_COLUMNS];
    int nf = split(line, fields, MAX_COLUMNS);
    *need = 0;
    if (nf > MAX_COLUMNS)
        return cnn_error_set(err, CNN_STATUS_FORMAT, "%s line %d: the header has %d columns; "
                             "expected at most %d", path, lineno, nf, MAX_COLUMNS);
    for (int c = 0; c < spec->count; c++) {
        col[c] = -1;
        for (int f = 0; f < nf; f++)
            if (strcmp(trim(fields[f]), spec->names[c]) == 0)
                col[c] = f;
        if (col[c] < 0 && c < spec->needed)
            return cnn_error_set(err, CNN_STATUS_FORMAT, "%s line %d: the header lacks the "
                                 "column '%s'; expected %s", path, lineno, spec->names[c],
                                 spec->header);
        if (c < spec->needed && col[c] + 1 > *need)
            *need = col[c] + 1;
    }
    return CNN_STATUS_OK;
}

/* One row into v[c][row]: a number in every needed field, and in every
 * optional one the row has (NaN where it has none). */
static cnn_status read_row(char *line, const char *path, int lineno, const cnn_csv_spec *spec,
                           const int *col, int need, double **v, int row, cnn_error *err)
{
    char *fields[MAX_COLUMNS];
    int nf = split(line, fields, MAX_COLUMNS);
    if (nf < need)
        return cnn_error_set(err, CNN_STATUS_FORMAT, "%s line %d: expected at least %d fields, "
                             "found %d", path, lineno, need, nf);
    for (int c = 0; c < spec->count; c++) {
        if (col[c] < 0 || col[c] >= nf || col[c] >= MAX_COLUMNS) {
            v[c][row] = NAN;
            continue;
        }
        char *s = trim(fields[col[c]]), *end;
        double x = strtod(s, &end);
        if (!*s || *end)
            return cnn_error_set(err, CNN_STATUS_FORMAT, "%s line %d: %s: expected a number, "
                                 "found '%s'", path, lineno, spec->names[c], s);
        v[c][row] = x;
    }
    return CNN_STATUS_OK;
}

cnn_status cnn_csv_read(const char *path, const cnn_csv_spec *spec, double **columns, int *rows,
                        cnn_error *err)
{
    *rows = 0;
    CNN_ASSERT(spec->count <= CNN_CSV_MAX_COLUMNS);
    char *data;
    size_t size;
    cnn_status st = cnn_file_read_text(path, &data, &size, err); /* a NUL byte is refused */
    if (st)
        return st;
    char *p = data, *line;
    int lineno = 1, have;
    while ((have = next_line(&p, &line)) && blank(line))
        lineno++;
    int col[CNN_CSV_MAX_COLUMNS], need = 0;
    if (!have)
        st = cnn_error_set(err, CNN_STATUS_FORMAT, "%s: empty file; expected the header %s and "
                           "one row per %s", path, spec->header, spec->row);
    else
        st = read_header(line, path, lineno, spec, col, &need, err);
    if (st) {
        free(data);
        return st;
    }
    int max_rows = 1; /* at most one per remaining line */
    for (const char *q = p; *q; q++)
        max_rows += *q == '\n';
    double *block = calloc((size_t)max_rows * (size_t)spec->count, sizeof(double));
    if (!block) {
        free(data);
        return cnn_error_set(err, CNN_STATUS_NO_MEMORY, "%s: no memory for %d rows", path,
                             max_rows);
    }
    for (int c = 0; c < spec->count; c++)
        columns[c] = block + (size_t)c * (size_t)max_rows;
    int n = 0;
    while (!st && next_line(&p, &line)) {
        lineno++;
        if (!blank(line) && !(st = read_row(line, path, lineno, spec, col, need, columns, n, err)))
            n++;
    }
    free(data);
    if (st) {
        free(block);
        return st;
    }
    *rows = n;
    return CNN_STATUS_OK;
}
