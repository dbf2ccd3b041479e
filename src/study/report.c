/* report.c: a study's report.md: the question, the table sorted by
 * validation accuracy, one sentence per factor, the plots, once `cnnlab
 * select --combine` has run the combination of the winners (combine.c) and,
 * once `cnnlab select` has run, the test result. */
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

static const char *factor_name(const cnn_study_factor *f) { return f->name[0] ? f->name : f->flag; }

/* The value of factor f that the control has, or -1. */
static int control_value(const cnn_study_factor *fa)
{
    for (int v = 0; v < fa->count; v++)
        if (fa->is_control[v])
            return v;
    return -1;
}

/* The configuration an ablation gives to value v of factor f (-1: none). */
static int config_of(const study_view *v, int f, int value)
{
    for (int i = 0; i < v->n; i++)
        if (v->runs[i].factor == f && v->runs[i].value[f] == value)
            return v->runs[i].config;
    return -1;
}

/* Levels of factor f (room for CNN_STUDY_MAX_VALUES + 1), labels in labels. */
static int factor_levels(const study_view *v, int f, cnn_study_level *lv,
                         char (*labels)[CNN_STUDY_ID_LEN])
{
    const cnn_study_factor *fa = &v->spec->factors[f];
    int k = 0;
    if (!v->spec->grid) {
        int cv = control_value(fa);
        if (cv >= 0)
            snprintf(labels[k], CNN_STUDY_ID_LEN, "the control (%s=%s)", fa->flag, fa->values[cv]);
        else
            snprintf(labels[k], CNN_STUDY_ID_LEN, "the control");
        lv[k] = (cnn_study_level){labels[k], v->mean[0], v->std[0], v->count[0], 1};
        k++;
        for (int val = 0; val < fa->count; val++) {
            int c = config_of(v, f, val);
            if (c < 0)
                continue;
            snprintf(labels[k], CNN_STUDY_ID_LEN, "%s=%s", fa->flag, fa->values[val]);
            lv[k] = (cnn_study_level){labels[k], v->mean[c], v->std[c], v->count[c], 0};
            k++;
        }
        return k;
    }
    /* Grid: each value's mean over the configurations that have it. */
    for (int val = 0; val < fa->count; val++) {
        double sum = 0, sd = 0;
        int m = 0;
        for (int c = 0; c < v->configs; c++) {
            int i = v->first[c];
            if (i < 0 || v->runs[i].value[f] != val || !v->count[c])
                continue;
            sum += v->mean[c];
            sd += v->std[c];
            m++;
        }
        snprintf(labels[k], CNN_STUDY_ID_LEN, val == 0 ? "%s=%s (the first value)" : "%s=%s",
                 fa->flag, fa->values[val]);
        lv[k] = (cnn_study_level){labels[k], m ? sum / m : NAN, m ? sd / m : 0, m, val == 0};
        k++;
    }
    return k;
}

static const char *base_value(const cnn_study_spec *s, const char *flag, const char *fallback)
{
    for (int i = 0; i + 1 < s->base_count; i++)
        if (strcmp(s->base[i], flag) == 0 && strncmp(s->base[i + 1], "--", 2) != 0)
            return s->base[i + 1];
    return fallback;
}

/* Mean of a result field over a configuration's finished runs. */
static double config_field(const study_view *v, int c, size_t offset)
{
    double sum = 0;
    int m = 0;
    for (int i = 0; i < v->n; i++) {
        if (v->runs[i].config != c || v->res[i].epochs == 0)
            continue;
        double x = *(const double *)((const char *)&v->res[i] + offset);
        if (isfinite(x)) {
            sum += x;
            m++;
        }
    }
    return m ? sum / m : NAN;
}

/* Mean epoch of the best validation accuracy over a configuration's runs. */
static double config_epoch(const study_view *v, int c)
{
    double sum = 0;
    int m = 0;
    for (int i = 0; i < v->n; i++)
        if (v->runs[i].config == c && v->res[i].best_epoch > 0) {
            sum += v->res[i].best_epoch;
            m++;
        }
    return m ? sum / m : NAN;
}

static void num(cnn_fixbuf *b, const char *fmt, double x)
{
    if (isfinite(x))
        cnn_fixbuf_printf(b, fmt, x);
    else
        cnn_fixbuf_printf(b, "–");
}

/* ---- plots ---- */

static void plots(const study_view *v, cnn_fixbuf *md, char *note, size_t note_size)
{
    const cnn_study_spec *s = v->spec;
    const char *model = base_value(s, "--model", "lenet5");
    cnn_fixbuf_printf(md, "\n## Plots\n\n");
    if (!cnn_plot_available()) {
        snprintf(note, note_size,
                 "plots skipped: gnuplot (with the pngcairo terminal) was not found; install "
                 "Debian's gnuplot-nox (`sudo apt-get install gnuplot-nox`, or scripts/deps.sh), "
                 "then run the same `cnnlab study` command again: finished runs are kept and the "
                 "report is redrawn with its plots");
        cnn_fixbuf_printf(md, "Plots were skipped: gnuplot was not found. Install Debian's `gnuplot-nox` "
                              "(`sudo apt-get install gnuplot-nox`, or `scripts/deps.sh`) and run the same "
                              "`cnnlab study` command again: finished runs are kept and this report is redrawn "
                              "with its plots.\n");
        return;
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/plots", v->dir);
    cnn_mkdir_p(dir, NULL);
    int groups = s->grid ? 1 : s->factor_count;
    int drawn = 0, failed = 0;
    char first_error[1024] = "";
    for (int g = 0; g < groups; g++) {
        char (*paths)[4200] = malloc(sizeof *paths * (size_t)(v->n + 1));
        char (*labels)[CNN_STUDY_ID_LEN] = malloc(sizeof *labels * (size_t)(v->n + 1));
        const char **dirs = malloc(sizeof *dirs * (size_t)(v->n + 1));
        const char **labs = malloc(sizeof *labs * (size_t)(v->n + 1));
        int m = 0;
        if (!paths || !labels || !dirs || !labs) {
            free(paths), free(labels), free(dirs), free(labs);
            failed++;
            continue;
        }
        const char *name = s->grid ? "grid" : factor_name(&s->factors[g]);
        for (int i = 0; i < v->n; i++) {
            const cnn_study_run *r = &v->runs[i];
            if (r->repeat != 0 || v->res[i].epochs == 0)
                continue;
            if (!s->grid && r->factor != g && r->factor != -1)
                continue;
            snprintf(paths[m], sizeof paths[m], "%s/runs/%s", v->dir, r->id);
            if (!s->grid && r->factor == -1) {
                int cv = control_value(&s->factors[g]);
                if (cv >= 0)
                    snprintf(labels[m], sizeof labels[m], "%s=%s (control)",
                             s->factors[g].flag, s->factors[g].values[cv]);
                else
                    snprintf(labels[m], sizeof labels[m], "control");
            } else {
                snprintf(labels[m], sizeof labels[m], "%s", r->label);
            }
            dirs[m] = paths[m];
            labs[m] = labels[m];
            m++;
        }
        char prefix[4200], title[512], written[4096];
        char fname[64];
        snprintf(fname, sizeof fname, "%s", name);
        for (char *c = fname; *c; c++)
            if (*c == '/' || *c == ' ')
                *c = '-';
        snprintf(prefix, sizeof prefix, "%s/%s", dir, fname);
        snprintf(title, sizeof title, "%s study, %s%s", name, model,
                 s->repeats > 1 ? " (first seed of each)" : "");
        cnn_error perr = {0};
        cnn_status pst = m ? cnn_plot_curves(dirs, labs, m, prefix, title, written,
                                             sizeof written, &perr) : CNN_STATUS_OK;
        free(paths), free(labels), free(dirs), free(labs);
        if (m == 0)
            continue;
        if (pst) {
            failed++;
            if (!*first_error)
                snprintf(first_error, sizeof first_error, "%s", perr.msg);
            cnn_fixbuf_printf(md, "### %s\n\nThe plot could not be drawn: %s\n\n", name, perr.msg);
            continue;
        }
        drawn++;
        cnn_fixbuf_printf(md, "### %s\n\n![%s: validation loss](plots/%s-val_loss.png)\n"
                              "![%s: validation accuracy](plots/%s-val_acc.png)\n\n"
                              "The [learning rate per epoch](plots/%s-lr.png); SVG versions beside each PNG.\n\n",
           name, name, fname, name, fname, fname);
    }
    if (failed)
        snprintf(note, note_size, "%d plot(s) drawn, %d failed: %s", drawn, failed, first_error);
    else
        snprintf(note, note_size, "%d plot set(s) drawn in %s", drawn, dir);
}

/* ---- select.txt: the test result ---- */

static void test_section(const study_view *v, cnn_fixbuf *md)
{
    char *sel = cnn_study_read_text(v->dir, "select.txt");
    if (!sel)
        return;
    char label[256], tested[512], acc[64], uses[32], val[64], retrained[8], std[64], seeds[16],
        train_images[32];
    cnn_kv_get(sel, "chosen_label", label, sizeof label, "?");
    cnn_kv_get(sel, "tested", tested, sizeof tested, "?");
    cnn_kv_get(sel, "test_accuracy", acc, sizeof acc, "");
    cnn_kv_get(sel, "test_uses", uses, sizeof uses, "1");
    cnn_kv_get(sel, "val_mean", val, sizeof val, "");
    cnn_kv_get(sel, "val_std", std, sizeof std, "0");
    cnn_kv_get(sel, "val_seeds", seeds, sizeof seeds, "1");
    cnn_kv_get(sel, "retrained", retrained, sizeof retrained, "0");
    cnn_kv_get(sel, "train_images", train_images, sizeof train_images, "");
    free(sel);
    cnn_fixbuf_printf(md, "\n## Test set\n\n");
    cnn_fixbuf_printf(md, "Chosen on validation only: **%s**, the configuration with the best validation accuracy "
                          "(%.2f %%", label, 100 * atof(val));
    if (atoi(seeds) > 1)
        cnn_fixbuf_printf(md, " ± %.2f over %s seeds", 100 * atof(std), seeds);
    cnn_fixbuf_printf(md, ").\n");
    if (atoi(retrained))
        cnn_fixbuf_printf(md, "It was retrained with the same settings on all %s training images "
                              "(`--val-fraction 0`) into `%s`, ", *train_images ? train_images : "50,000", tested);
    else
        cnn_fixbuf_printf(md, "Its run folder `%s` (the weights of its best validation epoch) ", tested);
    cnn_fixbuf_printf(md, "%s evaluated on the 10,000 test images: **test accuracy %.2f %%** (per class and the "
                          "confusion matrix: `%s/test.json`).\n\n",
       atoi(retrained) ? "and" : "was", 100 * atof(acc), tested);
    int u = atoi(uses);
    if (u == 1)
        cnn_fixbuf_printf(md, "The test set was used once for this study, after the choice was made on "
                              "validation; no decision was taken on it.\n");
    else
        cnn_fixbuf_printf(md, "The test set was used %d times for this study: every use after the first makes "
                              "the reported accuracy a less honest estimate of accuracy on new images.\n", u);
}

/* ---- report.md ---- */

static int cmp_desc(const void *a, const void *b, const double *mean)
{
    double x = mean[*(const int *)a], y = mean[*(const int *)b];
    int fx = isfinite(x), fy = isfinite(y);
    if (fx != fy)
        return fy - fx;
    if (fx && x != y)
        return x < y ? 1 : -1;
    return *(const int *)a - *(const int *)b;
}

static void sort_configs(int *order, int n, const double *mean)
{
    for (int i = 1; i < n; i++) /* insertion sort: a few dozen rows */
        for (int j = i; j > 0 && cmp_desc(&order[j - 1], &order[j], mean) > 0; j--) {
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
}

/* Title, question and method. */
static void report_question(const study_view *v, cnn_fixbuf *md)
{
    const cnn_study_spec *s = v->spec;
    const char *model = base_value(s, "--model", "lenet5");
    char varies[2048] = "";
    size_t used = 0;
    for (int f = 0; f < s->factor_count; f++) {
        char list[CNN_STUDY_MAX_VALUES * 66];
        cnn_study_factor_format(&s->factors[f], list, sizeof list);
        used += (size_t)snprintf(varies + used, used < sizeof varies ? sizeof varies - used : 0,
                                 "%s--vary %s", f ? " " : "", list);
    }
    char title[512] = "";
    for (int f = 0; f < s->factor_count; f++) {
        size_t u = strlen(title);
        snprintf(title + u, sizeof title - u, "%s%s", f ? ", " : "", factor_name(&s->factors[f]));
    }
    cnn_fixbuf_printf(md, "# Study: %s on %s\n\n", *s->preset ? s->preset : *title ? title : "the base alone",
       model);
    cnn_fixbuf_printf(md, "**Question.** ");
    if (s->factor_count == 0)
        cnn_fixbuf_printf(md, "How well does the base configuration do on validation data?");
    for (int f = 0; f < s->factor_count; f++) {
        const cnn_study_factor *fa = &s->factors[f];
        cnn_fixbuf_printf(md, "%sWhat does `--%s` (", f ? " " : "", fa->flag);
        for (int val = 0; val < fa->count; val++)
            cnn_fixbuf_printf(md, "%s%s", val ? ", " : "", fa->values[val]);
        cnn_fixbuf_printf(md, ") do to the validation accuracy of %s?", model);
    }
    cnn_fixbuf_printf(md, "\n\n**Method.** %s. The base configuration is `cnnlab train",
       s->grid ? "Every combination of the varied values (a grid)"
               : "A control run with the base configuration, then one change at a time against it");
    for (int i = 0; i < s->base_count; i++)
        cnn_fixbuf_printf(md, " %s", s->base[i]);
    cnn_fixbuf_printf(md, "`; varied: `%s`%s%s%s. ", varies, *s->preset ? " (preset " : "", s->preset,
       *s->preset ? ")" : "");
    if (s->repeats > 1)
        cnn_fixbuf_printf(md, "Each configuration ran with %d seeds (%llu to %llu): accuracies are mean ± "
                              "standard deviation. ", s->repeats, (unsigned long long)s->seed,
           (unsigned long long)(s->seed + (uint64_t)s->repeats - 1));
    else
        cnn_fixbuf_printf(md, "One seed (%llu) per configuration: differences of a point or so may be seed "
                              "noise (`--repeats 3` measures it). ", (unsigned long long)s->seed);
    cnn_fixbuf_printf(md, "Every number is on the validation split; the test set is not used here.\n\n");
}

/* The results table, best validation accuracy first. */
static void report_table(const study_view *v, cnn_fixbuf *md)
{
    const cnn_study_spec *s = v->spec;
    cnn_fixbuf_printf(md, "## Results, best validation accuracy first\n\n");
    cnn_fixbuf_printf(md, "| configuration | differs from the %s (config.txt) | best val acc | epoch | final "
                          "train loss | final val loss | val − train loss | train − val acc | time | img/s | "
                          "status |\n|---|---|---|---|---|---|---|---|---|---|---|\n",
       s->grid ? "first configuration" : "control");
    int *order = malloc(sizeof(int) * (size_t)(v->configs > 0 ? v->configs : 1));
    for (int c = 0; c < v->configs; c++)
        order[c] = c;
    sort_configs(order, v->configs, v->mean);
    for (int k = 0; k < v->configs; k++) {
        int c = order[k], i = v->first[c];
        if (i < 0)
            continue;
        const cnn_study_run *r = &v->runs[i];
        char acc[64];
        cnn_study_pct(acc, sizeof acc, v->mean[c], v->std[c], v->count[c], s->repeats);
        int fin = 0, div = 0, other = 0;
        for (int j = 0; j < v->n; j++)
            if (v->runs[j].config == c) {
                if (v->res[j].outcome == CNN_STUDY_RUN_FINISHED)
                    fin++;
                else if (v->res[j].outcome == CNN_STUDY_RUN_DIVERGED)
                    div++;
                else
                    other++;
            }
        cnn_fixbuf_printf(md, "| %s | %s | %s | ", r->label,
           c == 0 ? (s->grid ? "(the first configuration)" : "(the control)")
                  : (*v->res[i].diff ? v->res[i].diff : "nothing"), acc);
        num(md, s->repeats > 1 ? "%.1f" : "%.0f", config_epoch(v, c));
        cnn_fixbuf_printf(md, " | ");
        num(md, "%.4f", config_field(v, c, offsetof(cnn_study_result, final_train_loss)));
        cnn_fixbuf_printf(md, " | ");
        num(md, "%.4f", config_field(v, c, offsetof(cnn_study_result, final_val_loss)));
        cnn_fixbuf_printf(md, " | ");
        num(md, "%+.4f", config_field(v, c, offsetof(cnn_study_result, final_val_loss)) -
                             config_field(v, c, offsetof(cnn_study_result, final_train_loss)));
        cnn_fixbuf_printf(md, " | ");
        num(md, "%+.2f pt", 100 * (config_field(v, c, offsetof(cnn_study_result, final_train_acc)) -
                                   config_field(v, c, offsetof(cnn_study_result, final_val_acc))));
        cnn_fixbuf_printf(md, " | ");
        num(md, "%.1f s", config_field(v, c, offsetof(cnn_study_result, seconds)));
        cnn_fixbuf_printf(md, " | ");
        num(md, "%.0f", config_field(v, c, offsetof(cnn_study_result, images_per_second)));
        if (div || other)
            cnn_fixbuf_printf(md, " | %d finished, %d diverged, %d not run |\n", fin, div, other);
        else
            cnn_fixbuf_printf(md, " | %s |\n", s->repeats > 1 ? "finished" : v->res[i].status);
    }
    free(order);
}

/* "What the data shows": a sentence per factor, a grid's best combination. */
static void report_findings(const study_view *v, cnn_fixbuf *md)
{
    const cnn_study_spec *s = v->spec;
    cnn_fixbuf_printf(md, "\n## What the data shows\n\n");
    for (int f = 0; f < s->factor_count; f++) {
        cnn_study_level lv[CNN_STUDY_MAX_VALUES + 1];
        char labels[CNN_STUDY_MAX_VALUES + 1][CNN_STUDY_ID_LEN];
        int k = factor_levels(v, f, lv, labels);
        char sentence[2048];
        cnn_study_sentence(factor_name(&s->factors[f]), lv, k, s->repeats, sentence,
                           sizeof sentence);
        cnn_fixbuf_printf(md, "- %s\n", sentence);
    }
    if (s->grid && v->configs > 0) {
        int best = -1;
        for (int c = 0; c < v->configs; c++)
            if (v->count[c] && (best < 0 || v->mean[c] > v->mean[best]))
                best = c;
        if (best >= 0)
            cnn_fixbuf_printf(md, "- The best combination was %s with %.2f %% validation accuracy.\n",
               v->runs[v->first[best]].label, 100 * v->mean[best]);
    }
    if (s->factor_count == 0)
        cnn_fixbuf_printf(md, "- Nothing was varied.\n");
}

void cnn_study_report(const study_view *v, cnn_fixbuf *md, char *note, size_t note_size)
{
    report_question(v, md);
    report_table(v, md);
    report_findings(v, md);
    if (v->combo) {
        char *section = malloc(16384);
        if (section) {
            cnn_study_combine_section(v->combo, v->dir, section, 16384);
            cnn_fixbuf_printf(md, "\n%s", section);
            free(section);
        }
    }

    plots(v, md, note, note_size);

    cnn_fixbuf_printf(md, "\n## Files\n\n`summary.csv` has one row per run (seconds and images/s last); "
                          "`runs/ID/` holds each run's config.txt, metrics.csv, status.txt, weights and "
                          "train.log; `study.txt` says what the study is (rerunning `cnnlab study` with the same "
                          "`--out` continues it). `cnnlab select %s` tests the best configuration once.\n",
       v->dir);
    test_section(v, md);
}
