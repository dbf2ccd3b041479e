/* curves.c: cnn_plot_curves: per-epoch curves of one or more run folders.
 *
 * For out_prefix P it writes P-curves.dat (every run's metrics, one gnuplot
 * data block per run: epoch, train loss, train accuracy %, validation loss,
 * validation accuracy %, learning rate), then per picture a script
 * P-KIND.gp that draws P-KIND.png and P-KIND.svg from it. Values that are not
 * finite become NaN in the data, which gnuplot leaves out (the line breaks
 * there); a run whose status.txt says it diverged gets a cross at its last
 * point and says so in the legend; a loss axis is cut where a few exploding
 * values would flatten every other curve, and the picture says so. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cnnlab/plot.h"
#include "core/core.h"
#include "gnuplot.h"
#include "metrics.h"

/* Columns of P-curves.dat (1-based, as gnuplot counts). */
enum { DAT_EPOCH = 1, DAT_TRAIN_LOSS, DAT_TRAIN_ACC, DAT_VAL_LOSS, DAT_VAL_ACC, DAT_LR };

typedef enum axis_kind { AXIS_LOSS, AXIS_ACC, AXIS_LR } axis_kind;

/* One curve drawn from the data: run `run`, data column `column`. */
typedef struct curve {
    int run, column, style;
    const char *title; /* legend entry (before any note) */
} curve;

typedef struct curves_job {
    const cnn_metrics *runs;
    int n;
    const char *const *names; /* legend name per run */
    const char *dat;          /* the data file's name (no folder) */
    const char *title;        /* the caller's title, may be NULL */
    int max_epoch;
} curves_job;

static double value(const cnn_metrics *m, int column, int row)
{
    switch (column) {
    case DAT_EPOCH: return m->epoch[row];
    case DAT_TRAIN_LOSS: return m->train_loss[row];
    case DAT_TRAIN_ACC: return 100 * m->train_acc[row];
    case DAT_VAL_LOSS: return m->val_loss[row];
    case DAT_VAL_ACC: return 100 * m->val_acc[row];
    default: return m->lr[row];
    }
}

/* Writes text into a comment line: control characters become spaces. */
static void comment_text(cnn_text *t, const char *s)
{
    for (; *s; s++)
        cnn_text_printf(t, "%c", (unsigned char)*s < 0x20 ? ' ' : *s);
}

static void build_data(const curves_job *j, const char *const *run_dirs, cnn_text *t)
{
    cnn_text_printf(t, "# cnnlab plot data: one block per run (gnuplot's index 0, 1, ...), blocks\n"
                       "# separated by two blank lines; accuracies in percent; NaN: not finite.\n"
                       "# epoch train_loss train_acc val_loss val_acc lr\n");
    for (int i = 0; i < j->n; i++) {
        const cnn_metrics *m = &j->runs[i];
        cnn_text_printf(t, "%s# index %d: ", i ? "\n\n" : "", i);
        comment_text(t, j->names[i]);
        cnn_text_printf(t, " (");
        comment_text(t, run_dirs[i]);
        cnn_text_printf(t, "/metrics.csv%s)\n", m->diverged ? ", diverged" : "");
        for (int r = 0; r < m->epochs; r++) {
            for (int c = DAT_EPOCH; c <= DAT_LR; c++) {
                if (c > DAT_EPOCH)
                    cnn_text_printf(t, " ");
                cnn_gp_number(t, value(m, c, r));
            }
            cnn_text_printf(t, "\n");
        }
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The y axis for curves c[0..nc): scale, range and (for losses) a cut above
 * which values are not shown. Returns the number of finite values. */
static int put_y_axis(const curves_job *j, const curve *c, int nc, axis_kind kind,
                      const char *ylabel, cnn_text *t)
{
    int count = 0;
    for (int k = 0; k < nc; k++)
        count += j->runs[c[k].run].epochs;
    double *v = malloc(sizeof(double) * (size_t)(count ? count : 1));
    if (!v) {
        t->failed = 1; /* reported when the script is saved */
        return 0;
    }
    int nv = 0;
    for (int k = 0; k < nc; k++) {
        const cnn_metrics *m = &j->runs[c[k].run];
        for (int r = 0; r < m->epochs; r++) {
            double x = value(m, c[k].column, r);
            if (isfinite(x) && (kind != AXIS_LR || x > 0))
                v[nv++] = x;
        }
    }
    cnn_text_printf(t, "set ylabel ");
    cnn_gp_quote(t, ylabel);
    cnn_text_printf(t, "\nunset logscale y\nset format y '%%g'\nunset label\n");
    if (nv == 0) {
        cnn_text_printf(t, "set yrange [0:1]\nset label 'no finite values to draw (diverged, or no "
                           "validation split)' at graph 0.5, graph 0.5 center textcolor rgb "
                           "'#a00000'\n");
        free(v);
        return 0;
    }
    qsort(v, (size_t)nv, sizeof(double), cmp_double);
    double lo = v[0], hi = v[nv - 1];
    /* Where the curves start: the median of each curve's first finite value. */
    double first[64];
    int nfirst = 0;
    for (int k = 0; k < nc && nfirst < 64; k++) {
        const cnn_metrics *m = &j->runs[c[k].run];
        for (int r = 0; r < m->epochs; r++)
            if (isfinite(value(m, c[k].column, r))) {
                first[nfirst++] = value(m, c[k].column, r);
                break;
            }
    }
    qsort(first, (size_t)nfirst, sizeof(double), cmp_double);
    double start = nfirst ? first[nfirst / 2] : hi;
    if (kind == AXIS_LR) {
        if (hi > 10 * lo)
            cnn_text_printf(t, "set logscale y\nset yrange [*:*]\n");
        else if (hi == lo)
            cnn_text_printf(t, "set yrange [0:%.9g]\n", 2 * hi);
        else
            cnn_text_printf(t, "set yrange [0:*]\n");
    } else if (kind == AXIS_LOSS && start > 0 && hi > 5 * start) {
        /* A loss exploding far above where the curves start: cut the axis
         * above the largest ordinary value. */
        double cut = start;
        for (int k = 0; k < nv; k++)
            if (v[k] <= 5 * start)
                cut = v[k];
        cut *= 1.15;
        cnn_text_printf(t, "set yrange [0:%.6g]\n"
                           "set label 'values above %.3g are cut off (largest: %.3g)' at graph "
                           "0.98, graph 0.95 right textcolor rgb '#a00000'\n",
                      cut, cut, hi);
    } else {
        /* The data's range and a little air, so no point sits on the frame. */
        double pad = hi > lo ? 0.04 * (hi - lo) : fabs(hi) > 0 ? 0.05 * fabs(hi) : 0.5;
        cnn_text_printf(t, "set yrange [%.9g:%.9g]\n", lo - pad, hi + pad);
    }
    free(v);
    return nv;
}

static void put_x_axis(const curves_job *j, cnn_text *t)
{
    double pad = j->max_epoch > 10 ? 0.02 * j->max_epoch : 0.25;
    cnn_text_printf(t, "set xlabel 'epoch'\nset xrange [%.3g:%.3g]\n", 1 - pad, j->max_epoch + pad);
    if (j->max_epoch <= 20)
        cnn_text_printf(t, "set xtics 1\n");
    else
        cnn_text_printf(t, "set xtics autofreq\n");
    cnn_text_printf(t, "set format x '%%.0f'\n");
}

/* The command cmd, then "TITLE: what" (or "What") quoted, then tail. */
static void put_title(const curves_job *j, const char *cmd, const char *what, const char *tail,
                      cnn_text *t)
{
    char s[1200];
    if (j->title && *j->title)
        snprintf(s, sizeof s, "%s: %s", j->title, what);
    else
        snprintf(s, sizeof s, "%c%s", what[0] - ('a' <= what[0] && what[0] <= 'z' ? 32 : 0),
                 what + 1);
    cnn_text_printf(t, "%s ", cmd);
    cnn_gp_quote(t, s);
    cnn_text_printf(t, "%s\n", tail);
}

/* The plot command for curves c[0..nc). */
static void put_plot(const curves_job *j, const curve *c, int nc, axis_kind kind, cnn_text *t)
{
    int interval = j->max_epoch / 25 + 1;
    cnn_text_printf(t, "plot ");
    for (int k = 0; k < nc; k++) {
        const cnn_metrics *m = &j->runs[c[k].run];
        int finite = 0, last = -1;
        for (int r = 0; r < m->epochs; r++)
            if (isfinite(value(m, c[k].column, r))) {
                finite++;
                last = r;
            }
        char legend[1200], note[80] = "";
        if (m->diverged)
            snprintf(note, sizeof note, " (diverged in epoch %d)", m->epochs_run + 1);
        else if (finite == 0)
            snprintf(note, sizeof note, " (no values)");
        else if (finite < m->epochs)
            snprintf(note, sizeof note, " (%d non-finite left out)", m->epochs - finite);
        snprintf(legend, sizeof legend, "%s%s", c[k].title, note);
        cnn_text_printf(t, "%s", k ? ", \\\n     " : "");
        cnn_gp_quote(t, j->dat);
        cnn_text_printf(t, " index %d using 1:", c[k].run);
        if (kind == AXIS_LR)
            cnn_text_printf(t, "($%d > 0 ? $%d : NaN)", c[k].column, c[k].column);
        else
            cnn_text_printf(t, "%d", c[k].column);
        cnn_text_printf(t, " with linespoints ");
        cnn_gp_series_style(t, c[k].style);
        cnn_text_printf(t, " pi %d title ", interval);
        cnn_gp_quote(t, legend);
        if (m->diverged && last >= 0) {
            cnn_text_printf(t, ", \\\n     ");
            cnn_gp_quote(t, j->dat);
            cnn_text_printf(t, " index %d every ::%d::%d using 1:%d with points ls %d pt 2 ps 2.8 "
                               "lw 2.5 notitle",
                          c[k].run, last, last, c[k].column, c[k].style % 10 + 1);
        }
    }
    cnn_text_printf(t, "\n");
}

/* One overlay picture: column `column` of every run. */
static void overlay_script(const curves_job *j, const char *name, int column, axis_kind kind,
                           const char *what, const char *ylabel, cnn_text *t)
{
    curve *c = malloc(sizeof(curve) * (size_t)j->n);
    if (!c) {
        t->failed = 1;
        return;
    }
    for (int i = 0; i < j->n; i++)
        c[i] = (curve){i, column, i, j->names[i]};
    cnn_text_printf(t, "# %s per epoch; data in %s. Re-draw: gnuplot %s.gp\n", what, j->dat, name);
    cnn_gp_begin(t, name, 900, 560);
    put_title(j, "set title", what, "", t);
    cnn_text_printf(t, "set key outside below center horizontal Left reverse nobox\n");
    put_x_axis(j, t);
    put_y_axis(j, c, j->n, kind, ylabel, t);
    put_plot(j, c, j->n, kind, t);
    cnn_gp_end(t);
    free(c);
}

/* Training against validation for run 0: loss and accuracy side by side. */
static void train_val_script(const curves_job *j, const char *name, cnn_text *t)
{
    char what[1100];
    snprintf(what, sizeof what, "training vs validation, %s", j->names[0]);
    cnn_text_printf(t, "# training vs validation per epoch; data in %s. Re-draw: gnuplot %s.gp\n",
                  j->dat, name);
    cnn_gp_begin(t, name, 1100, 500);
    put_title(j, "set multiplot layout 1,2 title", what, " font ',13'", t);
    cnn_text_printf(t, "set title font ',12'\n");
    put_x_axis(j, t);
    const curve loss[2] = {{0, DAT_TRAIN_LOSS, 0, "training"}, {0, DAT_VAL_LOSS, 1, "validation"}};
    const curve acc[2] = {{0, DAT_TRAIN_ACC, 0, "training"}, {0, DAT_VAL_ACC, 1, "validation"}};
    cnn_text_printf(t, "set title 'loss'\nset key inside right top\n");
    put_y_axis(j, loss, 2, AXIS_LOSS, "loss", t);
    put_plot(j, loss, 2, AXIS_LOSS, t);
    cnn_text_printf(t, "set title 'accuracy'\nset key inside right bottom\n");
    put_y_axis(j, acc, 2, AXIS_ACC, "accuracy (%)", t);
    put_plot(j, acc, 2, AXIS_ACC, t);
    cnn_text_printf(t, "unset multiplot\n");
    cnn_gp_end(t);
}

static const char *base_name(const char *path, char *buf, size_t size)
{
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/')
        n--;
    size_t s = n;
    while (s > 0 && path[s - 1] != '/')
        s--;
    snprintf(buf, size, "%.*s", (int)(n - s), path + s);
    return buf;
}

cnn_status cnn_plot_curves(const char *const *run_dirs, const char *const *labels, int n,
                           const char *out_prefix, const char *title, char *written,
                           size_t written_size, cnn_error *err)
{
    if (written && written_size)
        written[0] = 0;
    if (!run_dirs || n < 1)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                             "plot: expected at least one run folder, found %d", n);
    for (int i = 0; i < n; i++)
        if (!run_dirs[i] || !*run_dirs[i])
            return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                                 "plot: run folder %d of %d is empty", i + 1, n);
    cnn_status st = cnn_gp_require(err);
    if (st)
        return st;
    cnn_metrics *runs = calloc((size_t)n, sizeof *runs);
    char(*names)[256] = calloc((size_t)n, sizeof *names);
    const char **name_ptrs = calloc((size_t)n, sizeof *name_ptrs);
    cnn_text data = {0}, script = {0};
    if (!runs || !names || !name_ptrs) {
        st = cnn_error_set(err, CNN_STATUS_NO_MEMORY, "plot: no memory for %d runs", n);
        goto done;
    }
    curves_job j = {runs, n, name_ptrs, NULL, title, 1};
    for (int i = 0; i < n; i++) {
        if ((st = cnn_metrics_read(run_dirs[i], &runs[i], err)))
            goto done;
        if (labels && labels[i])
            snprintf(names[i], sizeof names[i], "%s", labels[i]);
        else
            base_name(run_dirs[i], names[i], sizeof names[i]);
        name_ptrs[i] = names[i];
        for (int r = 0; r < runs[i].epochs; r++)
            if (isfinite(runs[i].epoch[r]) && runs[i].epoch[r] > j.max_epoch)
                j.max_epoch = (int)runs[i].epoch[r];
    }
    cnn_gp_out o;
    if ((st = cnn_gp_out_init(&o, out_prefix, err)))
        goto done;
    char dat[600];
    snprintf(dat, sizeof dat, "%s-curves.dat", o.base);
    j.dat = dat;
    build_data(&j, run_dirs, &data);
    if ((st = cnn_gp_save(&o, "-curves.dat", &data, err)))
        goto done;

    static const struct {
        const char *kind, *what, *ylabel;
        int column;
        axis_kind axis;
    } pictures[] = {
        {"val_loss", "validation loss", "validation loss", DAT_VAL_LOSS, AXIS_LOSS},
        {"val_acc", "validation accuracy", "validation accuracy (%)", DAT_VAL_ACC, AXIS_ACC},
        {"lr", "learning rate", "learning rate", DAT_LR, AXIS_LR},
        {"train_val", NULL, NULL, 0, AXIS_LOSS},
    };
    size_t used = 0;
    for (size_t k = 0; k < sizeof pictures / sizeof pictures[0]; k++) {
        if (!pictures[k].what && n != 1)
            continue;
        char name[600], suffix[64], png[4800];
        snprintf(name, sizeof name, "%s-%s", o.base, pictures[k].kind);
        cnn_text_free(&script);
        if (pictures[k].what)
            overlay_script(&j, name, pictures[k].column, pictures[k].axis, pictures[k].what,
                           pictures[k].ylabel, &script);
        else
            train_val_script(&j, name, &script);
        snprintf(suffix, sizeof suffix, "-%s.gp", pictures[k].kind);
        if ((st = cnn_gp_save(&o, suffix, &script, err)) || (st = cnn_gp_run(&o, suffix, err)))
            goto done;
        snprintf(suffix, sizeof suffix, "-%s.png", pictures[k].kind);
        cnn_gp_path(&o, suffix, png, sizeof png);
        if (written && used < written_size) {
            int w = snprintf(written + used, written_size - used, "%s\n", png);
            used += w > 0 ? (size_t)w : 0;
            if (used >= written_size)
                used = written_size - 1;
        }
    }
done:
    for (int i = 0; runs && i < n; i++)
        cnn_metrics_free(&runs[i]);
    free(runs);
    free(names);
    free(name_ptrs);
    cnn_text_free(&data);
    cnn_text_free(&script);
    return st;
}
