/* combine.c: "combine what did well", the step after one-factor-at-a-time
 * studies. Each factor's best value on validation (the highest mean best
 * validation accuracy over its seeds) is kept where it beats the control's
 * mean; the kept values together make one configuration, trained with the
 * studies' seeds; the report sets it beside the control and each single
 * winner and says whether the single gains added up in it.
 *
 * Invariant: the choice is recomputed from finished run folders only (every
 * run of every study must have ended), so it is the same each time it is
 * made; combine.txt records it, and a different choice later is refused
 * rather than mixed with runs of the old one. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnnlab/study.h"
#include "core/core.h"
#include "study/view.h"


/* ---- choosing ---- */

/* Mean, std and count of the best validation accuracy of the runs with
 * config c (finished runs only); *unended receives the id of the first run
 * that has not ended, if it is still NULL. */
static void config_stats(const char *dir, const cnn_study_run *runs, int n, int c, double *mean,
                         double *std, int *count, const char **unended)
{
    double acc[128];
    int m = 0;
    for (int i = 0; i < n && m < 128; i++) {
        if (runs[i].config != c)
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%.3800s/runs/%.200s", dir, runs[i].id);
        cnn_study_result r;
        cnn_study_read_result(path, NULL, &r);
        if (r.outcome == CNN_STUDY_RUN_MISSING && !*unended)
            *unended = runs[i].id;
        acc[m++] = r.outcome == CNN_STUDY_RUN_FINISHED ? r.best_val_acc : NAN;
    }
    *count = cnn_study_mean_std(acc, m, mean, std);
}

static int same_base(const cnn_study_spec *a, const cnn_study_spec *b)
{
    if (a->base_count != b->base_count || a->seed != b->seed || a->repeats != b->repeats)
        return 0;
    for (int i = 0; i < a->base_count; i++)
        if (strcmp(a->base[i], b->base[i]) != 0)
            return 0;
    return 1;
}

/* Adds study s's factors and their best values to c. */
static cnn_status add_study(cnn_study_combination *c, const char *dir, const cnn_study_spec *s,
                            int first, cnn_error *err)
{
    if (s->grid)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                             "%s is a grid: it trained every combination already (its report "
                             "names the best); combining is for one-change-at-a-time studies", dir);
    if (!first && !same_base(&c->spec, s))
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                             "%s has another base, seed or repeats than %.300s; only studies of "
                             "one base (one shared control) can be combined", dir, c->studies);
    cnn_study_run *runs = malloc(sizeof *runs * CNN_STUDY_MAX_RUNS);
    if (!runs)
        return cnn_error_set(err, CNN_STATUS_NO_MEMORY, "out of memory");
    int n = 0;
    cnn_status st = cnn_study_plan(s, runs, CNN_STUDY_MAX_RUNS, &n, err);
    const char *unended = NULL;
    if (!st && first)
        config_stats(dir, runs, n, 0, &c->control_mean, &c->control_std, &c->control_n, &unended);
    for (int f = 0; !st && f < s->factor_count; f++) {
        int k = first ? f : c->spec.factor_count;
        if (!first) {
            for (int g = 0; g < k && !st; g++)
                if (strcmp(c->spec.factors[g].flag, s->factors[f].flag) == 0)
                    st = cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                                       "--%s is varied by two of the studies (%s and one of "
                                       "%.300s); each factor must come from one study",
                                       s->factors[f].flag, dir, c->studies);
            if (!st && k >= CNN_STUDY_MAX_FACTORS)
                st = cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                                   "the studies vary more than %d flags in all; combine fewer",
                                   CNN_STUDY_MAX_FACTORS);
            if (st)
                break;
            c->spec.factors[k] = s->factors[f];
            c->spec.factor_count++;
        }
        c->best[k] = -1;
        c->best_mean[k] = NAN;
        for (int i = 0; i < n; i++) {
            if (runs[i].factor != f || runs[i].repeat != 0)
                continue;
            double mean, sd;
            int m;
            config_stats(dir, runs, n, runs[i].config, &mean, &sd, &m, &unended);
            if (m > 0 && (c->best[k] < 0 || mean > c->best_mean[k])) {
                c->best[k] = runs[i].value[f];
                c->best_mean[k] = mean;
                c->best_std[k] = sd;
                c->best_n[k] = m;
            }
        }
    }
    free(runs);
    if (!st && unended)
        st = cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                           "%s: run %s has not ended yet; finish the study first (the same "
                           "`cnnlab study` command continues it), then combine", dir, unended);
    return st;
}

cnn_status cnn_study_combine_choose(const char *const *dirs, int count, cnn_study_combination *out,
                                    cnn_error *err)
{
    memset(out, 0, sizeof *out);
    if (count < 1)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                             "nothing to combine: expected at least one study folder");
    cnn_study_spec *s = malloc(sizeof *s);
    if (!s)
        return cnn_error_set(err, CNN_STATUS_NO_MEMORY, "out of memory");
    cnn_status st = CNN_STATUS_OK;
    for (int k = 0; k < count && !st; k++) {
        if ((st = cnn_study_load(dirs[k], k ? s : &out->spec, err)))
            break;
        st = add_study(out, dirs[k], k ? s : &out->spec, k == 0, err);
        size_t u = strlen(out->studies);
        snprintf(out->studies + u, sizeof out->studies - u, "%s%s", k ? " " : "", dirs[k]);
    }
    free(s);
    if (st)
        return st;
    if (out->control_n == 0)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                             "%s: the control has no result (diverged), so no value can be "
                             "said to beat it; nothing to combine", dirs[0]);
    for (int f = 0; f < out->spec.factor_count; f++) {
        const cnn_study_factor *fa = &out->spec.factors[f];
        int won = out->best[f] >= 0 && out->best_mean[f] > out->control_mean;
        out->value[f] = won ? out->best[f] : -1;
        if (!won)
            continue;
        out->winners++;
        size_t u = strlen(out->label);
        snprintf(out->label + u, sizeof out->label - u, "%s%s=%s", u ? " " : "", fa->flag,
                 fa->values[out->best[f]]);
    }
    for (int f = out->spec.factor_count; f < CNN_STUDY_MAX_FACTORS; f++)
        out->value[f] = out->best[f] = -1;
    return CNN_STATUS_OK;
}

int cnn_study_combine_plan(const cnn_study_combination *c, cnn_study_run *runs, int max)
{
    int n = 0;
    if (c->winners < 2)
        return 0;
    for (int r = 0; r < c->spec.repeats && n < max; r++) {
        cnn_study_run *run = &runs[n++];
        memset(run, 0, sizeof *run);
        run->config = 0;
        run->factor = CNN_STUDY_COMBINED;
        memcpy(run->value, c->value, sizeof run->value);
        run->repeat = r;
        run->seed = c->spec.seed + (uint64_t)r;
        snprintf(run->label, sizeof run->label, "combined: %.140s", c->label);
        if (c->spec.repeats > 1)
            snprintf(run->id, sizeof run->id, "combined_s%llu", (unsigned long long)run->seed);
        else
            snprintf(run->id, sizeof run->id, "combined");
    }
    return n;
}

cnn_status cnn_study_combine_record(const char *dir, const cnn_study_combination *c,
                                    cnn_error *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%.4000s/combine.txt", dir);
    unsigned char *was;
    size_t size;
    if (cnn_file_read_all(path, &was, &size, NULL) == CNN_STATUS_OK) {
        char old[CNN_STUDY_ID_LEN];
        cnn_kv_get((const char *)was, "combination", old, sizeof old, "");
        free(was);
        if (strcmp(old, c->label) != 0)
            return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                                 "%s names the combination '%s', but the studies now give '%s'; "
                                 "nothing was changed (remove %s and %s/runs/combined* to "
                                 "combine again)", path, old, c->label, path, dir);
        return CNN_STATUS_OK;
    }
    char text[2048];
    snprintf(text, sizeof text,
             "# written by `cnnlab select --combine`: each factor's best value on validation, "
             "kept where it beat the control\ncombination = %s\nwinners = %d\nstudies = %.1000s\n",
             c->label, c->winners, c->studies);
    return cnn_file_write_atomic(path, text, strlen(text), err);
}

/* ---- the verdict ---- */

void cnn_study_combine_sentence(const cnn_study_level *control, const cnn_study_level *singles,
                                int count, const cnn_study_level *combo, int repeats, char *out,
                                size_t size)
{
    cnn_fixbuf b = {out, size, 0};
    out[0] = 0;
    if (count == 0) {
        cnn_fixbuf_printf(&b, "No varied value beat %s, so there was nothing to combine: the control's "
                              "settings stand, and nothing more was trained.", control->label);
        return;
    }
    int best = 0;
    double sum = 0, spread = repeats > 1 ? control->std : 0;
    for (int i = 0; i < count; i++) {
        sum += singles[i].mean - control->mean;
        if (singles[i].mean > singles[best].mean)
            best = i;
        if (repeats > 1)
            spread = fmax(spread, singles[i].std);
    }
    if (count == 1) {
        cnn_fixbuf_printf(&b, "Only %s beat %s, so the combination is that configuration itself, already "
                              "trained with the same seeds: nothing more was trained.", singles[0].label,
            control->label);
        return;
    }
    if (!combo || combo->n == 0 || !isfinite(combo->mean)) {
        cnn_fixbuf_printf(&b, "The combination has no result yet (not run, or diverged), so whether the gains "
                              "add up is not known.");
        return;
    }
    if (repeats > 1)
        spread = fmax(spread, combo->std);
    const cnn_study_level *w = &singles[best];
    double gain = 100 * (combo->mean - control->mean), total = 100 * sum;
    double below = 100 * (w->mean - combo->mean);
    if (below > 0) {
        cnn_fixbuf_printf(&b, "The gains did not add up: the combination (%.2f%%) fell %.2f points below the "
                              "best single winner, %s (%.2f%%), though the single gains summed to %+.2f "
                              "points; the changes interact (regularisers together can over-regularise)",
            100 * combo->mean, below, w->label, 100 * w->mean, total);
        if (repeats > 1 && below <= 100 * spread)
            cnn_fixbuf_printf(&b, "; that shortfall is within the seed-to-seed spread (std up to %.2f points "
                                  "over %d seeds), so these runs do not tell the two apart", 100 * spread,
                repeats);
        cnn_fixbuf_printf(&b, ".");
        return;
    }
    /* "Close to the sum": short of it by no more than the seed spread or a quarter of it. */
    double slack = fmax(100 * spread, 0.25 * total);
    if (gain >= total - slack) {
        cnn_fixbuf_printf(&b, "The gains added up: the combination gained %+.2f points over %s against "
                              "%+.2f for the single gains summed, %s %s the best single winner, %s", gain,
            control->label, total, gain > total + slack ? "more than their sum, and" : "and",
            below > -0.005 ? "matched" : "beat", w->label);
        if (below <= -0.005)
            cnn_fixbuf_printf(&b, ", by %.2f points", -below);
    } else {
        cnn_fixbuf_printf(&b, "The gains partly added up: the combination %s the best single winner, %s",
            below > -0.005 ? "matched" : "beat", w->label);
        if (below <= -0.005)
            cnn_fixbuf_printf(&b, ", by %.2f points", -below);
        cnn_fixbuf_printf(&b, ", but gained %+.2f points over %s, well short of the %+.2f the single gains "
                              "summed to", gain, control->label, total);
    }
    if (repeats > 1)
        cnn_fixbuf_printf(&b, " (seed-to-seed spread: std up to %.2f points over %d seeds)", 100 * spread,
            repeats);
    cnn_fixbuf_printf(&b, ".");
}

/* ---- the report section ---- */

void cnn_study_combine_result(const cnn_study_combination *c, const char *dir, double *mean,
                              double *std, int *n)
{
    cnn_study_run runs[128];
    int count = cnn_study_combine_plan(c, runs, 128);
    const char *unended = NULL;
    *mean = NAN;
    *std = 0;
    *n = 0;
    if (count > 0)
        config_stats(dir, runs, count, 0, mean, std, n, &unended);
}

void cnn_study_combine_section(const cnn_study_combination *c, const char *dir, char *out,
                               size_t size)
{
    cnn_fixbuf b = {out, size, 0};
    out[0] = 0;
    const cnn_study_spec *s = &c->spec;
    char acc[96];
    cnn_fixbuf_printf(&b, "## Combining the winners\n\n");
    cnn_fixbuf_printf(&b, "Each factor's best value on validation, kept where its mean beat the control's; "
                          "the kept values trained together (`cnnlab select --combine`) with the same %s, "
                          "on validation only. Accuracies are the best validation accuracy, %s.\n\n",
        s->repeats == 1 ? "seed" : "seeds",
        s->repeats > 1 ? "mean ± std over the seeds (seeds with a result)" : "one seed");
    cnn_fixbuf_printf(&b, "The gains *added up* when the combination beats the best single winner and its "
                          "gain over the control falls short of the single gains summed by no more than the "
                          "seed-to-seed spread or a quarter of that sum; *partly* when it beats the best "
                          "single winner but falls further short; *not* when it is below the best single "
                          "winner.\n\n");
    cnn_fixbuf_printf(&b, "| configuration | best val acc | gain over the control |\n|---|---|---|\n");
    cnn_study_pct(acc, sizeof acc, c->control_mean, c->control_std, c->control_n, s->repeats);
    cnn_fixbuf_printf(&b, "| the control | %s | – |\n", acc);
    cnn_study_level singles[CNN_STUDY_MAX_FACTORS];
    char labels[CNN_STUDY_MAX_FACTORS][CNN_STUDY_ID_LEN];
    int k = 0;
    double sum = 0;
    for (int f = 0; f < s->factor_count; f++) {
        const cnn_study_factor *fa = &s->factors[f];
        const char *name = fa->name[0] ? fa->name : fa->flag;
        if (c->best[f] < 0) {
            cnn_fixbuf_printf(&b, "| %s: no value has a result | – | – |\n", name);
            continue;
        }
        cnn_study_pct(acc, sizeof acc, c->best_mean[f], c->best_std[f], c->best_n[f], s->repeats);
        double gain = 100 * (c->best_mean[f] - c->control_mean);
        cnn_fixbuf_printf(&b, "| %s: best %s=%s%s | %s | %+.2f pt |\n", name, fa->flag, fa->values[c->best[f]],
            c->value[f] >= 0 ? "" : " (did not beat the control: not combined)", acc, gain);
        if (c->value[f] < 0)
            continue;
        snprintf(labels[k], sizeof labels[k], "%s=%s", fa->flag, fa->values[c->best[f]]);
        singles[k] = (cnn_study_level){labels[k], c->best_mean[f], c->best_std[f], c->best_n[f], 0};
        sum += gain;
        k++;
    }
    cnn_study_level control = {"the control", c->control_mean, c->control_std, c->control_n, 1};
    cnn_study_level combo = {"the combination", NAN, 0, 0, 0};
    if (c->winners >= 2) {
        cnn_study_combine_result(c, dir, &combo.mean, &combo.std, &combo.n);
        cnn_study_pct(acc, sizeof acc, combo.mean, combo.std, combo.n, s->repeats);
        cnn_fixbuf_printf(&b, "| **combined: %s** | %s | ", c->label, acc);
        if (combo.n > 0)
            cnn_fixbuf_printf(&b, "%+.2f pt |\n", 100 * (combo.mean - c->control_mean));
        else
            cnn_fixbuf_printf(&b, "– |\n");
        cnn_fixbuf_printf(&b, "| the single gains summed | | %+.2f pt |\n", sum);
    }
    char sentence[2048];
    cnn_study_combine_sentence(&control, singles, k, &combo, s->repeats, sentence,
                               sizeof sentence);
    cnn_fixbuf_printf(&b, "\n%s\n", sentence);
    if (c->winners >= 2)
        cnn_fixbuf_printf(&b, "\nThe combination's runs: `runs/combined%s/` (config.txt, metrics.csv, "
                              "train.log); the test set was not used for them.\n",
            s->repeats > 1 ? "_sN" : "");
}
