/* results.c: one run folder read back as a result (metrics.csv, status.txt,
 * config.txt diffed against the control's), the mean and spread over seeds,
 * and the sentence that says what a factor did. */
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
#include "plot/metrics.h"
#include "study/view.h"

/* ---- one run ---- */

char *cnn_study_read_text(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%.3900s/%.100s", dir, name);
    return cnn_file_text_or_null(path);
}

void cnn_study_read_result(const char *run_dir, const char *control_config, cnn_study_result *out)
{
    memset(out, 0, sizeof *out);
    out->best_val_acc = out->final_train_loss = out->final_train_acc = NAN;
    out->final_val_loss = out->final_val_acc = out->images_per_second = NAN;
    out->outcome = cnn_study_run_state(run_dir);
    snprintf(out->status, sizeof out->status, "not run");
    char *status = cnn_study_read_text(run_dir, "status.txt");
    if (status) {
        const char *s = strstr(status, "status = ");
        if (s && out->outcome != CNN_STUDY_RUN_MISSING)
            snprintf(out->status, sizeof out->status, "%.*s", (int)strcspn(s + 9, "\n"), s + 9);
        free(status);
    }
    cnn_metrics m;
    double ips_sum = 0;
    int ips_n = 0;
    if (cnn_metrics_read(run_dir, &m, NULL) == CNN_STATUS_OK) {
        for (int e = 0; e < m.epochs; e++) {
            out->epochs++;
            if (isfinite(m.val_acc[e]) && !(m.val_acc[e] <= out->best_val_acc)) {
                out->best_val_acc = m.val_acc[e];
                out->best_epoch = (int)m.epoch[e];
            }
            out->final_train_loss = m.train_loss[e];
            out->final_train_acc = m.train_acc[e];
            out->final_val_loss = m.val_loss[e];
            out->final_val_acc = m.val_acc[e];
            if (isfinite(m.seconds[e]))
                out->seconds += m.seconds[e];
            if (isfinite(m.images_per_second[e])) {
                ips_sum += m.images_per_second[e];
                ips_n++;
            }
        }
        cnn_metrics_free(&m);
    }
    if (ips_n)
        out->images_per_second = ips_sum / ips_n;
    char *config = control_config ? cnn_study_read_text(run_dir, "config.txt") : NULL;
    if (config)
        cnn_study_config_diff(control_config, config, out->diff, sizeof out->diff);
    free(config);
}

int cnn_study_mean_std(const double *x, int n, double *mean, double *std)
{
    double sum = 0;
    int k = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(x[i])) {
            sum += x[i];
            k++;
        }
    *mean = k ? sum / k : NAN;
    double ss = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(x[i]))
            ss += (x[i] - *mean) * (x[i] - *mean);
    *std = k > 1 ? sqrt(ss / (k - 1)) : 0;
    return k;
}

/* ---- the sentence ---- */


/* ", a difference larger than the seed-to-seed spread (std up to 0.40 points)" */
static void spread_clause(cnn_fixbuf *b, const cnn_study_level *x, const cnn_study_level *y, int repeats)
{
    if (repeats < 2)
        return;
    double diff = 100 * fabs(x->mean - y->mean), spread = 100 * fmax(x->std, y->std);
    if (diff > spread)
        cnn_fixbuf_printf(b, "; the difference is larger than the seed-to-seed spread (std up to %.2f points "
                             "over %d seeds)", spread, repeats);
    else
        cnn_fixbuf_printf(b, "; the difference is within the seed-to-seed spread (std up to %.2f points over %d "
                             "seeds), so these runs do not tell them apart", spread, repeats);
}

void cnn_study_sentence(const char *factor, const cnn_study_level *levels, int count, int repeats,
                        char *out, size_t size)
{
    cnn_fixbuf b = {out, size, 0};
    out[0] = 0;
    int best = -1, ref = -1, failed = 0;
    for (int i = 0; i < count; i++) {
        if (levels[i].is_reference && ref < 0)
            ref = i;
        if (!isfinite(levels[i].mean) || levels[i].n == 0) {
            failed++;
            continue;
        }
        if (best < 0 || levels[i].mean > levels[best].mean)
            best = i;
    }
    if (best < 0) {
        cnn_fixbuf_printf(&b, "%s: no run has a validation result yet, so the data shows nothing.", factor);
        return;
    }
    const cnn_study_level *w = &levels[best];
    int ref_ok = ref >= 0 && isfinite(levels[ref].mean) && levels[ref].n > 0;
    if (!ref_ok) {
        cnn_fixbuf_printf(&b, "%s: %s did best with %.2f%% validation accuracy%s", factor, w->label, 100 * w->mean,
           ref >= 0 ? "; the reference run has no result to compare with" : "");
    } else if (best == ref) {
        /* The reference won: how close did the others come? */
        int second = -1;
        for (int i = 0; i < count; i++)
            if (i != ref && isfinite(levels[i].mean) && levels[i].n > 0 &&
                (second < 0 || levels[i].mean > levels[second].mean))
                second = i;
        if (second < 0)
            cnn_fixbuf_printf(&b, "%s: only %s has a result, %.2f%% validation accuracy", factor, w->label,
               100 * w->mean);
        else
            cnn_fixbuf_printf(&b, "%s: no value beat %s at %.2f%% validation accuracy", factor, w->label,
               100 * w->mean);
        if (second >= 0) {
            cnn_fixbuf_printf(&b, "; the closest, %s, was %.2f points lower", levels[second].label,
               100 * (w->mean - levels[second].mean));
            spread_clause(&b, w, &levels[second], repeats);
        }
    } else {
        const cnn_study_level *r = &levels[ref];
        cnn_fixbuf_printf(&b, "%s: %s won with %.2f%% validation accuracy, %.2f points above %s at %.2f%%", factor,
           w->label, 100 * w->mean, 100 * (w->mean - r->mean), r->label, 100 * r->mean);
        spread_clause(&b, w, r, repeats);
    }
    if (failed) {
        cnn_fixbuf_printf(&b, "; without a result (diverged or not run):");
        int k = 0;
        for (int i = 0; i < count; i++)
            if (!isfinite(levels[i].mean) || levels[i].n == 0)
                cnn_fixbuf_printf(&b, "%s %s", k++ ? "," : "", levels[i].label);
    }
    cnn_fixbuf_printf(&b, ".");
}

void cnn_study_pct(char *buf, size_t size, double mean, double std, int n, int repeats)
{
    if (!isfinite(mean) || n == 0)
        snprintf(buf, size, "–");
    else if (repeats > 1)
        snprintf(buf, size, "%.2f ± %.2f %% (%d)", 100 * mean, 100 * std, n);
    else
        snprintf(buf, size, "%.2f %%", 100 * mean);
}
