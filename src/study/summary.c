/* summary.c: a study's outputs: every run folder read back into a view
 * (results.c reads one), summary.csv (one row per run), report.md (its text:
 * report.c), and the best configuration for `cnnlab select`. Everything is
 * recomputed from the run folders, so the report of a resumed study is the
 * report of an uninterrupted one. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnnlab/plot.h"
#include "cnnlab/study.h"
#include "core/core.h"
#include "study/view.h"

/* ---- the whole study ---- */

static void view_free(study_view *v)
{
    free(v->res);
    free(v->mean);
    free(v->std);
    free(v->count);
    free(v->first);
}

/* The control's config.txt (an ablation's first run, a grid's first
 * configuration: what every run's is compared with), or NULL. */
static char *control_config(const char *dir, const cnn_study_run *runs, int n)
{
    char path[4096];
    for (int i = 0; i < n; i++)
        if (runs[i].config == 0) {
            snprintf(path, sizeof path, "%.3800s/runs/%.200s", dir, runs[i].id);
            char *text = cnn_study_read_text(path, "config.txt");
            if (text)
                return text;
        }
    return NULL;
}

static cnn_status view_load(study_view *v, const char *dir, const cnn_study_spec *spec,
                            const cnn_study_run *runs, int n, cnn_error *err)
{
    memset(v, 0, sizeof *v);
    v->dir = dir;
    v->spec = spec;
    v->runs = runs;
    v->n = n;
    v->configs = cnn_study_config_count(runs, n);
    int c = v->configs > 0 ? v->configs : 1;
    v->res = calloc((size_t)(n > 0 ? n : 1), sizeof *v->res);
    v->mean = calloc((size_t)c, sizeof *v->mean);
    v->std = calloc((size_t)c, sizeof *v->std);
    v->count = calloc((size_t)c, sizeof *v->count);
    v->first = calloc((size_t)c, sizeof *v->first);
    double *acc = calloc((size_t)(n > 0 ? n : 1), sizeof *acc);
    if (!v->res || !v->mean || !v->std || !v->count || !v->first || !acc) {
        free(acc);
        view_free(v);
        return cnn_error_set(err, CNN_STATUS_NO_MEMORY, "out of memory reading the study");
    }
    char path[4096];
    char *control = control_config(dir, runs, n);
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/runs/%s", dir, runs[i].id);
        cnn_study_read_result(path, control ? control : "", &v->res[i]);
    }
    free(control);
    for (int k = 0; k < v->configs; k++) {
        int m = 0;
        v->first[k] = -1;
        for (int i = 0; i < n; i++)
            if (runs[i].config == k) {
                if (v->first[k] < 0)
                    v->first[k] = i;
                acc[m++] = v->res[i].outcome == CNN_STUDY_RUN_FINISHED ? v->res[i].best_val_acc : NAN;
            }
        v->count[k] = cnn_study_mean_std(acc, m, &v->mean[k], &v->std[k]);
    }
    free(acc);
    return CNN_STATUS_OK;
}

static void csv_num(cnn_text *f, const char *fmt, double x)
{
    cnn_text_append(f, ",", 1);
    if (isfinite(x))
        cnn_text_printf(f, fmt, x);
}

/* One row of summary.csv. */
static void summary_row(cnn_text *f, const cnn_study_run *r, const cnn_study_result *x, double mean,
                        double std, const char *differs)
{
    cnn_csv_field(f, r->id);
    cnn_text_append(f, ",", 1);
    cnn_csv_field(f, r->label);
    cnn_text_printf(f, ",%llu,", (unsigned long long)r->seed);
    cnn_csv_field(f, x->status);
    csv_num(f, "%.4f", x->best_val_acc);
    cnn_text_append(f, ",", 1);
    if (x->best_epoch)
        cnn_text_printf(f, "%d", x->best_epoch);
    csv_num(f, "%.4f", x->final_train_loss);
    csv_num(f, "%.4f", x->final_val_loss);
    csv_num(f, "%.4f", x->final_val_loss - x->final_train_loss);
    csv_num(f, "%.4f", x->final_train_acc - x->final_val_acc);
    csv_num(f, "%.4f", mean);
    csv_num(f, "%.4f", std);
    cnn_text_append(f, ",", 1);
    cnn_csv_field(f, differs);
    csv_num(f, "%.1f", x->epochs ? x->seconds : NAN);
    csv_num(f, "%.0f", x->images_per_second);
    cnn_text_append(f, "\n", 1);
}

/* The rows of the combination's runs (`select --combine`), after the study's. */
static void combined_rows(cnn_text *f, const study_view *v)
{
    cnn_study_run runs[128];
    int n = cnn_study_combine_plan(v->combo, runs, 128);
    double mean, std;
    int count;
    cnn_study_combine_result(v->combo, v->dir, &mean, &std, &count);
    char path[4096];
    char *control = control_config(v->dir, v->runs, v->n);
    for (int i = 0; i < n; i++) {
        cnn_study_result x;
        snprintf(path, sizeof path, "%.3800s/runs/%.200s", v->dir, runs[i].id);
        cnn_study_read_result(path, control ? control : "", &x);
        summary_row(f, &runs[i], &x, mean, count ? std : NAN, x.diff);
    }
    free(control);
}

static cnn_status write_summary(const study_view *v, cnn_error *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/summary.csv", v->dir);
    cnn_text out = {0}, *f = &out;
    cnn_text_printf(f, "run,varied,seed,status,best_val_acc,best_epoch,final_train_loss,final_val_loss,"
                       "gap_loss,gap_acc,mean_best_val_acc,std_best_val_acc,differs_from_control,"
                       "seconds,images_per_second\n");
    for (int i = 0; i < v->n; i++) {
        const cnn_study_run *r = &v->runs[i];
        int c = r->config;
        summary_row(f, r, &v->res[i], v->mean[c], v->count[c] ? v->std[c] : NAN,
                    c == 0 && !v->spec->grid ? "(the control)" : v->res[i].diff);
    }
    if (v->combo)
        combined_rows(f, v);
    cnn_status st = cnn_text_write(&out, path, err);
    cnn_text_free(&out);
    return st;
}

/* What the report calls a factor: its preset's name, or its flag. */
cnn_status cnn_study_write_outputs(const char *dir, const cnn_study_spec *spec,
                                   const cnn_study_run *runs, int n, char *plots_note,
                                   size_t note_size, cnn_error *err)
{
    study_view v;
    cnn_status st = view_load(&v, dir, spec, runs, n, err);
    if (st)
        return st;
    char note_local[1024];
    char *note = plots_note ? plots_note : note_local;
    size_t nsize = plots_note ? note_size : sizeof note_local;
    note[0] = 0;
    /* After `select --combine`: its section, recomputed from the run folders. */
    char combine_path[4096];
    snprintf(combine_path, sizeof combine_path, "%s/combine.txt", dir);
    cnn_study_combination *combo = NULL;
    if (cnn_path_exists(combine_path) && (combo = malloc(sizeof *combo)) &&
        cnn_study_combine_choose(&dir, 1, combo, NULL) != CNN_STATUS_OK) {
        free(combo);
        combo = NULL;
    }
    v.combo = combo;
    if ((st = write_summary(&v, err)) == CNN_STATUS_OK) {
        size_t size = 1 << 20;
        cnn_fixbuf md = {malloc(size), size, 0};
        if (!md.buf) {
            view_free(&v);
            return cnn_error_set(err, CNN_STATUS_NO_MEMORY, "out of memory writing the report");
        }
        md.buf[0] = 0;
        cnn_study_report(&v, &md, note, nsize);
        char path[4096];
        snprintf(path, sizeof path, "%s/report.md", dir);
        st = cnn_file_write_atomic(path, md.buf, md.used < size ? md.used : size - 1, err);
        free(md.buf);
    }
    free(combo);
    view_free(&v);
    return st;
}

cnn_status cnn_study_best(const char *dir, const cnn_study_run *runs, int n, int *run,
                          double *mean, double *std, cnn_error *err)
{
    cnn_study_spec dummy;
    memset(&dummy, 0, sizeof dummy);
    study_view v;
    cnn_status st = view_load(&v, dir, &dummy, runs, n, err);
    if (st)
        return st;
    int best = -1;
    for (int c = 0; c < v.configs; c++)
        if (v.count[c] && (best < 0 || v.mean[c] > v.mean[best]))
            best = c;
    *run = -1;
    if (best >= 0) {
        *mean = v.mean[best];
        *std = v.std[best];
        for (int i = 0; i < n && *run < 0; i++)
            if (runs[i].config == best && v.res[i].outcome == CNN_STUDY_RUN_FINISHED)
                *run = i;
    }
    view_free(&v);
    if (*run < 0)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                             "%s: no run has finished yet, so there is nothing to select "
                             "(run `cnnlab study` first)", dir);
    return CNN_STATUS_OK;
}
