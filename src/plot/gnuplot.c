/* gnuplot.c: the gnuplot driver (see gnuplot.h): script text, quoting, the
 * shared picture style, and running gnuplot (cnn_proc_start, no shell between),
 * its stderr collected for the error message. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cnnlab/plot.h"
#include "core/core.h"
#include "gnuplot.h"

#define INSTALL_HINT "install it with `apt-get install gnuplot-nox` (Debian/Ubuntu)"

/* ---- text ---- */

void cnn_gp_quote(cnn_text *t, const char *s)
{
    cnn_text_append(t, "'", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char out = c < 0x20 || c == 0x7f ? ' ' : (char)c;
        if (c == '\'')
            cnn_text_append(t, "'", 1);
        cnn_text_append(t, &out, 1);
    }
    cnn_text_append(t, "'", 1);
}

void cnn_gp_number(cnn_text *t, double x)
{
    if (isfinite(x))
        cnn_text_printf(t, "%.9g", x);
    else
        cnn_text_printf(t, "NaN");
}

/* ---- files ---- */

cnn_status cnn_gp_out_init(cnn_gp_out *o, const char *prefix, cnn_error *err)
{
    if (!prefix || !*prefix)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "plot: empty output prefix");
    for (const char *p = prefix; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                                 "plot: output prefix has a control character at byte %d; "
                                 "expected a plain path", (int)(p - prefix));
    const char *slash = strrchr(prefix, '/');
    const char *base = slash ? slash + 1 : prefix;
    if (!*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                             "plot: output prefix '%s' names a folder; expected a folder and a "
                             "file name stem, e.g. 'runs/plot'", prefix);
    size_t dlen = slash ? (size_t)(slash - prefix) : 0;
    if (dlen + 1 > sizeof o->dir || strlen(base) + 1 > sizeof o->base)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "plot: output prefix too long: %s",
                             prefix);
    if (!slash)
        snprintf(o->dir, sizeof o->dir, ".");
    else if (dlen == 0)
        snprintf(o->dir, sizeof o->dir, "/");
    else
        snprintf(o->dir, sizeof o->dir, "%.*s", (int)dlen, prefix);
    snprintf(o->base, sizeof o->base, "%s", base);
    return cnn_mkdir_p(o->dir, err);
}

void cnn_gp_path(const cnn_gp_out *o, const char *suffix, char *path, size_t size)
{
    if (strcmp(o->dir, ".") == 0)
        snprintf(path, size, "%s%s", o->base, suffix);
    else
        snprintf(path, size, "%s%s%s%s", o->dir, strcmp(o->dir, "/") ? "/" : "", o->base, suffix);
}

cnn_status cnn_gp_save(const cnn_gp_out *o, const char *suffix, const cnn_text *t,
                       cnn_error *err)
{
    char path[4800];
    cnn_gp_path(o, suffix, path, sizeof path);
    if (t->failed)
        return cnn_error_set(err, CNN_STATUS_NO_MEMORY, "%s: no memory to build the file", path);
    return cnn_file_write_atomic(path, t->buf ? t->buf : "", t->len, err);
}

/* ---- style ---- */

/* Ten colours that stay apart on screen and in print (Tableau 10), each with
 * its own filled point shape. */
static const char *const colours[10] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                        "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"};
static const int points[10] = {7, 5, 9, 13, 11, 15, 7, 5, 9, 13};

void cnn_gp_begin(cnn_text *t, const char *name, int width, int height)
{
    cnn_text_printf(t, "set encoding utf8\n"
                       "set border lw 1 lc rgb '#606060'\n"
                       "set tics nomirror textcolor rgb '#303030'\n"
                       "set grid xtics ytics back lt 1 lw 1 lc rgb '#e8e8e8'\n"
                       "set key box lc rgb '#c8c8c8' samplen 2.5 spacing 1.15\n"
                       "set title font ',13'\n");
    for (int i = 0; i < 10; i++)
        cnn_text_printf(t, "set style line %d lc rgb '%s' lw 2 pt %d ps 1.1\n", i + 1, colours[i],
                      points[i]);
    cnn_text_printf(t, "\n# Drawn twice: as PNG and as SVG.\ndo for [fmt in 'png svg'] {\n"
                       "if (fmt eq 'png') {\n"
                       "    set terminal pngcairo size %d,%d noenhanced font 'DejaVu Sans,11' "
                       "linewidth 1.2 background rgb 'white'\n"
                       "} else {\n"
                       "    set terminal svg size %d,%d dynamic noenhanced font 'DejaVu Sans,11' "
                       "linewidth 1.2 background rgb 'white'\n"
                       "}\n"
                       "set output ",
                  width, height, width, height);
    char stem[600];
    snprintf(stem, sizeof stem, "%s.", name);
    cnn_gp_quote(t, stem);
    cnn_text_printf(t, " . fmt\n\n");
}

void cnn_gp_end(cnn_text *t)
{
    cnn_text_printf(t, "\nunset output\n}\n");
}

void cnn_gp_series_style(cnn_text *t, int i)
{
    cnn_text_printf(t, "ls %d dt %d", i % 10 + 1, i / 10 % 5 + 1);
}

/* ---- running gnuplot ---- */

/* Runs argv (found on PATH) in dir (NULL: here), stdin and stdout on
 * /dev/null, stderr collected into errtext (its last size-1 bytes, 0-ended).
 * Returns the exit status, 127 when argv[0] could not be run, 128 + signal
 * when killed, -1 when no process could be started. */
static int spawn(const char *dir, const char *const argv[], char *errtext, size_t size)
{
    errtext[0] = 0;
    cnn_proc_spec spec = {.argv = argv, .search_path = 1, .dir = dir, .null_stdin = 1,
                          .out = CNN_PROC_NULL, .err = CNN_PROC_PIPE};
    cnn_proc p;
    if (cnn_proc_start(&spec, &p, NULL))
        return -1;
    size_t len = 0;
    char chunk[1024];
    for (;;) {
        ssize_t r = read(p.fd, chunk, sizeof chunk);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        size_t n = (size_t)r;
        if (n >= size) {
            memcpy(errtext, chunk + n - (size - 1), size - 1);
            len = size - 1;
            continue;
        }
        if (len + n > size - 1) { /* keep the end: gnuplot's error comes last */
            size_t drop = len + n - (size - 1);
            memmove(errtext, errtext + drop, len - drop);
            len -= drop;
        }
        memcpy(errtext + len, chunk, n);
        len += n;
    }
    errtext[len] = 0;
    return cnn_proc_wait(&p);
}

/* gnuplot's stderr as one line: blank lines and caret lines dropped, the rest
 * joined with " | ", trimmed to its last part. */
static void one_line(const char *in, char *out, size_t size)
{
    char joined[8192];
    size_t n = 0;
    const char *p = in;
    while (*p) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        while (len && (*p == ' ' || *p == '\t')) {
            p++;
            len--;
        }
        while (len && (p[len - 1] == ' ' || p[len - 1] == '\r'))
            len--;
        int caret = len > 0 && strspn(p, " ^") >= len;
        if (len && !caret && n + len + 4 < sizeof joined) {
            if (n)
                n += (size_t)snprintf(joined + n, sizeof joined - n, " | ");
            memcpy(joined + n, p, len);
            n += len;
        }
        p += len;
        while (*p == ' ' || *p == '\r' || *p == '\n')
            p++;
    }
    joined[n] = 0;
    if (!n) {
        snprintf(out, size, "(no message)");
        return;
    }
    /* The end matters most: keep the last size - 5 bytes after "... ". */
    size_t keep = n + 1 > size ? size - 5 : n, o = 0;
    if (keep < n) {
        memcpy(out, "... ", 4);
        o = 4;
    }
    memcpy(out + o, joined + n - keep, keep);
    out[o + keep] = 0;
}

int cnn_plot_available(void)
{
    char text[1024];
    const char *argv[] = {"gnuplot", "-e", "set terminal pngcairo", NULL};
    return spawn(NULL, argv, text, sizeof text) == 0;
}

cnn_status cnn_gp_require(cnn_error *err)
{
    if (cnn_plot_available())
        return CNN_STATUS_OK;
    return cnn_error_set(err, CNN_STATUS_MISSING_DATA,
                         "gnuplot with the pngcairo terminal was not found on PATH, so no plots "
                         "were drawn; " INSTALL_HINT);
}

cnn_status cnn_gp_run(const cnn_gp_out *o, const char *script_suffix, cnn_error *err)
{
    char script[600], path[4800], text[8192], line[720];
    snprintf(script, sizeof script, "%s%s", o->base, script_suffix);
    cnn_gp_path(o, script_suffix, path, sizeof path);
    const char *argv[] = {"gnuplot", script, NULL};
    int rc = spawn(o->dir, argv, text, sizeof text);
    if (rc == 0)
        return CNN_STATUS_OK;
    if (rc == 127)
        return cnn_error_set(err, CNN_STATUS_MISSING_DATA, "%s: gnuplot could not be run; "
                             INSTALL_HINT, path);
    if (rc == 126)
        return cnn_error_set(err, CNN_STATUS_IO, "%s: cannot enter the folder %s", path, o->dir);
    if (rc < 0)
        return cnn_error_set(err, CNN_STATUS_IO, "%s: cannot start gnuplot: %s", path,
                             strerror(errno));
    one_line(text, line, sizeof line);
    return cnn_error_set(err, CNN_STATUS_IO, "%s: gnuplot failed (exit status %d): %s", path, rc,
                         line);
}
