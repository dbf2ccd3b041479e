/* cmd_lab.c: `cnnlab lab`: the course's lab in one go. Five studies (dropout,
 * norm, lr-decay, kernel-size, depth) on one base configuration, sharing one
 * control run; the best configuration on validation across them; the test set
 * used once (`cnnlab select`); last, each study's winner (where it beat the
 * control) trained together with the studies' seeds, on validation only
 * (`cnnlab select --combine`, into LAB_DIR/combined); one report,
 * LAB_DIR/report.md, with every study's table, sentences and plots. Each study
 * is a `cnnlab study` folder under LAB_DIR, so an interrupted lab continues
 * where it stopped. */
#define _POSIX_C_SOURCE 200809L
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnnlab/cnnlab.h"
#include "cnnlab/study.h"
#include "commands.h"
#include "core/core.h"
#include "dist/dist.h"
#include "flags.h"
#include "report.h"
#include "text.h"

static const char *const lab_presets[] = {"dropout", "norm", "lr-decay", "kernel-size", "depth"};
enum { LAB_STUDIES = 5 };

typedef struct lab_study {
    const char *preset;
    char dir[4096];
    int done;           /* the study ran to the end */
    char skipped[1024]; /* why it did not run, or "" */
    double seconds;     /* time spent on it by this invocation */
    double best;        /* best configuration's mean validation accuracy */
    char best_label[CNN_STUDY_ID_LEN];
} lab_study;

static void clock_text(double s, char *buf, size_t size)
{
    int t = (int)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, size, "%dh%02dm", t / 3600, t / 60 % 60);
    else
        snprintf(buf, size, "%dm%02ds", t / 60, t % 60);
}

/* The study's best configuration on validation. */
static int study_best(lab_study *s)
{
    cnn_study_spec *spec = malloc(sizeof *spec);
    cnn_study_run *runs = malloc(sizeof *runs * CNN_STUDY_MAX_RUNS);
    int n = 0, best = -1;
    double mean = 0, sd = 0;
    int ok = spec && runs && cnn_study_load(s->dir, spec, NULL) == CNN_STATUS_OK &&
             cnn_study_plan(spec, runs, CNN_STUDY_MAX_RUNS, &n, NULL) == CNN_STATUS_OK &&
             cnn_study_best(s->dir, runs, n, &best, &mean, &sd, NULL) == CNN_STATUS_OK;
    if (ok) {
        s->best = mean;
        snprintf(s->best_label, sizeof s->best_label, "%s", runs[best].label);
    }
    free(spec);
    free(runs);
    return ok;
}

typedef struct study_copy {
    cnn_text *out;
    const lab_study *s;
    int on; /* inside the sections copied */
} study_copy;

static void copy_line(void *user, const char *heading, const char *line)
{
    study_copy *c = user;
    if (strncmp(line, "## ", 3) == 0) {
        c->on = strncmp(line, "## Files", 8) != 0 && strncmp(line, "## Test set", 11) != 0 &&
                (c->on || strncmp(line, "## Results", 10) == 0);
        if (c->on)
            cnn_text_printf(c->out, "#");
    } else if (c->on && strncmp(line, "### ", 4) == 0) {
        cnn_text_printf(c->out, "#");
    }
    if (!c->on)
        return;
    /* ](plots/x) -> ](PRESET/plots/x) */
    for (const char *p = line; *p;) {
        const char *hit = strstr(p, "](plots/");
        if (!hit) {
            cnn_text_printf(c->out, "%s", p);
            break;
        }
        cnn_text_append(c->out, p, (size_t)(hit - p) + 2);
        cnn_text_printf(c->out, "%s/", c->s->preset);
        p = hit + 2;
    }
}

/* Appends study s's report to the lab report: its sections from "## Results"
 * up to "## Files", one heading level down, picture paths made relative to
 * the lab folder. */
static void copy_study(cnn_text *out, const lab_study *s)
{
    study_copy c = {out, s, 0};
    cnn_cli_report_lines(s->dir, copy_line, &c);
}

/* Appends LAB_DIR/combined/report.md from its "## Combining the winners" on. */
static void copy_combination(cnn_text *out, const char *out_dir)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/combined/report.md", out_dir);
    FILE *in = fopen(path, "r");
    if (!in) {
        cnn_text_printf(out, "\n## Combining the winners\n\nNot done: the combination did not finish "
                             "(see the lab's output); running `cnnlab lab` again continues it.\n");
        return;
    }
    char line[8192];
    int on = 0;
    cnn_text_printf(out, "\n");
    while (fgets(line, sizeof line, in)) {
        if (strncmp(line, "## Combining the winners", 24) == 0)
            on = 1;
        if (!on)
            continue;
        /* runs/ -> combined/runs/: the paths are the lab folder's */
        const char *hit = strstr(line, "`runs/combined");
        if (hit) {
            cnn_text_append(out, line, (size_t)(hit - line) + 1);
            cnn_text_printf(out, "combined/%s", hit + 1);
        } else {
            cnn_text_printf(out, "%s", line);
        }
    }
    fclose(in);
}

/* The report's head: setting, method, time. */
static void report_head(cnn_text *f, const lab_study *st, const char *setting, double seconds,
                        int combined, double combine_seconds)
{
    char el[32];
    clock_text(seconds, el, sizeof el);
    cnn_text_printf(f, "# cnnlab lab: the course's five studies\n\n");
    cnn_text_printf(f, "**Setting.** %s\n\n", setting);
    cnn_text_printf(f, "**Method.** Each study changes one setting at a time against the same control "
                       "run (trained once, shared by the studies), and compares the runs on the "
                       "validation split. The best configuration on validation across all studies is "
                       "then evaluated on the test set, once. %s\n\n",
            combined ? "Last, each study's best value that beat the control is trained together "
                       "with the same seeds, on validation only (`cnnlab select --combine`): do "
                       "the gains add up?"
                     : "(The combination of the studies' winners was not trained: --no-combine.)");
    cnn_text_printf(f, "**Time.** %s for this invocation of `cnnlab lab` on %d cores (studies: ", el,
            omp_get_num_procs());
    for (int k = 0; k < LAB_STUDIES; k++) {
        char t[32];
        clock_text(st[k].seconds, t, sizeof t);
        cnn_text_printf(f, "%s%s %s", k ? ", " : "", st[k].preset, st[k].skipped[0] ? "skipped" : t);
    }
    if (combined) {
        char t[32];
        clock_text(combine_seconds, t, sizeof t);
        cnn_text_printf(f, ", the combination %s", t);
    }
    cnn_text_printf(f, "; runs finished earlier are kept, not timed again).\n\n");
}

/* "The choice, and the test set": what select.txt of the chosen study says. */
static void report_choice(cnn_text *f, const lab_study *st, int chosen)
{
    cnn_text_printf(f, "\n## The choice, and the test set\n\n");
    if (chosen < 0) {
        cnn_text_printf(f, "No study finished, so nothing was chosen or tested.\n");
        return;
    }
    char sel_path[4200];
    snprintf(sel_path, sizeof sel_path, "%s/select.txt", st[chosen].dir);
    char *sel = cnn_file_text_or_null(sel_path);
    char label[256], acc[64], uses[32], tested[512], retrained[8];
    cnn_kv_get(sel, "chosen_label", label, sizeof label, "");
    cnn_kv_get(sel, "test_accuracy", acc, sizeof acc, "");
    cnn_kv_get(sel, "test_uses", uses, sizeof uses, "");
    cnn_kv_get(sel, "tested", tested, sizeof tested, "");
    cnn_kv_get(sel, "retrained", retrained, sizeof retrained, "");
    free(sel);
    cnn_text_printf(f, "Best on validation across the studies: **%s** in the %s study (%.2f %% "
                       "validation accuracy; the best of each study:", st[chosen].best_label,
            st[chosen].preset, 100 * st[chosen].best);
    for (int k = 0; k < LAB_STUDIES; k++)
        if (st[k].done)
            cnn_text_printf(f, "%s %s %.2f %%", k ? ";" : "", st[k].best_label, 100 * st[k].best);
    cnn_text_printf(f, ").\n\n");
    char times[32];
    snprintf(times, sizeof times, atoi(uses) == 1 ? "once" : "%s times", uses);
    if (*acc)
        cnn_text_printf(f, "%s, evaluated on the 10,000 test images: **test accuracy %.2f %%** "
                           "(`%s/%s/test.json`). The test set was used %s, after the choice.\n",
                atoi(retrained) ? "Retrained on all 50,000 training images"
                                : "Its own run (the weights of its best validation epoch)",
                100 * atof(acc), st[chosen].preset, tested, times);
    else
        cnn_text_printf(f, "The test set was not used (the selection did not finish).\n");
}

static cnn_status write_report(const char *out_dir, const lab_study *st, int chosen,
                               const char *setting, double seconds, int combined,
                               double combine_seconds, cnn_error *err)
{
    cnn_text out = {0}, *f = &out;
    report_head(f, st, setting, seconds, combined, combine_seconds);
    cnn_text_printf(f, "## Findings\n\n");
    for (int k = 0; k < LAB_STUDIES; k++) {
        if (st[k].skipped[0])
            cnn_text_printf(f, "- %s: skipped: %s\n", st[k].preset, st[k].skipped);
        else
            cnn_cli_study_findings(st[k].dir, "", f);
    }
    report_choice(f, st, chosen);
    if (combined && chosen >= 0) {
        copy_combination(f, out_dir);
        cnn_text_printf(f, "\nThe combination was trained after the test set was used on the single best "
                           "configuration, so it was chosen and is compared on validation only, and not "
                           "tested.\n");
    }
    for (int k = 0; k < LAB_STUDIES; k++) {
        cnn_text_printf(f, "\n## Study %d: %s\n\n", k + 1, st[k].preset);
        if (st[k].skipped[0]) {
            cnn_text_printf(f, "Skipped: %s\n", st[k].skipped);
            continue;
        }
        cnn_text_printf(f, "The study's own report: [%s/report.md](%s/report.md); one row per run: "
                           "`%s/summary.csv`.\n\n", st[k].preset, st[k].preset, st[k].preset);
        copy_study(f, &st[k]);
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/report.md", out_dir);
    cnn_status status = cnn_text_write(&out, path, err);
    cnn_text_free(&out);
    return status;
}

typedef struct lab_args {
    const char *data, *out, *model, *lr, *recipe;
    int full, threads, repeats, epochs, subset, jobs, no_retrain, no_combine;
} lab_args;

static cnn_status parse_args(int argc, char **argv, lab_args *a, int *help, cnn_error *err)
{
    *a = (lab_args){.out = "lab", .threads = omp_get_num_procs(), .repeats = 3, .subset = -1};
    a->jobs = a->threads >= 2 ? 2 : 1;
    const cli_flag flags[] = {
        {"--full", CLI_BOOL, &a->full, 0, 0, NULL, "all data and longer training: the whole 45,000/5,000 split and 30 epochs per run (docs/performance.md: how long)", NULL},
        {"--out", CLI_STRING, &a->out, 0, 0, "LAB_DIR", "the lab folder (default lab): one study folder per study, report.md", NULL},
        {"--data", CLI_STRING, &a->data, 0, 0, "PATH", "the data, as train's --data", NULL},
        {"--recipe", CLI_STRING, &a->recipe, 0, 0, "NAME", "a training recipe as the base (`cnnlab recipes`; e.g. quick: the studies on a 90 %-class network), with a validation split of 0.1 where the recipe has none; the flags below override it", NULL},
        {"--model", CLI_STRING, &a->model, 0, 0, "NAME", "the base model (default lenet5, or the recipe's; depth needs its family: LeNet-5, VGG or CIFAR ResNet)", NULL},
        {"--lr", CLI_STRING, &a->lr, 0, 0, "F", "learning rate of the base (default 0.05 for LeNet-5, the course's; train's default for other models)", NULL},
        {"--epochs", CLI_INT, &a->epochs, 1, 100000, "N", "epochs per run (default 5, or the recipe's; --full: 30)", NULL},
        {"--subset", CLI_INT, &a->subset, 0, 50000, "N", "training images per run (default 10000; --full: 0, all 45,000)", NULL},
        {"--repeats", CLI_INT, &a->repeats, 1, 100, "N", "seeds per configuration (default 3: the report says whether a difference exceeds the seed-to-seed spread)", NULL},
        {"--no-retrain", CLI_BOOL, &a->no_retrain, 0, 0, NULL, "test the winning run itself instead of retraining it on all 50,000 training images first", NULL},
        {"--no-combine", CLI_BOOL, &a->no_combine, 0, 0, NULL, "skip the last stage: training each study's winner together (one run per seed, validation only) to see whether the gains add up", NULL},
        {"--jobs", CLI_INT, &a->jobs, 1, 64, "N", "runs at once, the threads split between them (default 2 where there are 2 cores or more; docs/performance.md compares jobs and threads)", NULL},
        {"--threads", CLI_INT, &a->threads, 1, 1024, "N", "threads in all (default: all cores)", NULL},
    };
    cli_command cmd = {
        .name = "lab",
        .usage = "cnnlab lab [--full] [options]",
        .about = "The course's lab in one go: the five course studies (dropout, norm, "
                 "lr-decay, kernel-size, depth: see `cnnlab study --help` for their values) "
                 "on a quick setting (lenet5, lr 0.05, 5 epochs, 10,000 training images, 3 "
                 "seeds per configuration), the best "
                 "configuration chosen on validation, retrained on all 50,000 training "
                 "images and tested once, then each study's winner trained together "
                 "(validation only: do the gains add up?), and one report, "
                 "LAB_DIR/report.md, with every study's table, sentences and plots. "
                 "Running it again continues an interrupted lab.",
        CLI_FLAGS(flags),
    };
    return cli_parse(&cmd, argc, argv, help, err);
}

/* The base configuration every study shares, as train flags. */
typedef struct lab_base {
    const char *words[12];
    int count;
    const char *model;
    char epochs[16], subset[16], repeats[16], jobs[16], threads[16];
    char setting[1024]; /* the setting in a sentence, for the output and the report */
} lab_base;

static cnn_status make_base(lab_args *a, lab_base *b, cnn_error *err)
{
    const cnn_recipe *rcp = NULL;
    if (a->recipe && !(rcp = cnn_recipe_find(a->recipe)))
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "--recipe: unknown recipe '%s' "
                             "(`cnnlab recipes` lists them)", a->recipe);
    const char *model = a->model;
    for (int i = 0; rcp && !model && i + 1 < rcp->count; i++)
        if (strcmp(rcp->words[i], "--model") == 0)
            model = rcp->words[i + 1];
    b->model = model ? model : "lenet5";
    if (!a->epochs && !(rcp && !a->full))
        a->epochs = a->full ? 30 : 5;
    if (a->subset < 0)
        a->subset = a->full ? 0 : 10000;
    if (!a->lr && !rcp && strncmp(b->model, "lenet5", 6) == 0)
        a->lr = "0.05";
    snprintf(b->epochs, sizeof b->epochs, "%d", a->epochs);
    snprintf(b->subset, sizeof b->subset, "%d", a->subset);
    snprintf(b->repeats, sizeof b->repeats, "%d", a->repeats);
    snprintf(b->jobs, sizeof b->jobs, "%d", a->jobs);
    snprintf(b->threads, sizeof b->threads, "%d", a->threads);
    b->count = 0;
    if (rcp) { /* the recipe first, so that the flags after it win; studies need validation */
        b->words[b->count++] = "--recipe";
        b->words[b->count++] = a->recipe;
        b->words[b->count++] = "--val-fraction";
        b->words[b->count++] = "0.1";
    }
    if (!rcp || a->model) {
        b->words[b->count++] = "--model";
        b->words[b->count++] = b->model;
    }
    if (a->epochs) {
        b->words[b->count++] = "--epochs";
        b->words[b->count++] = b->epochs;
    }
    if (a->subset) {
        b->words[b->count++] = "--subset";
        b->words[b->count++] = b->subset;
    }
    if (a->lr) {
        b->words[b->count++] = "--lr";
        b->words[b->count++] = a->lr;
    }
    char flags_text[512] = "";
    for (int i = 0; i < b->count; i++) {
        size_t u = strlen(flags_text);
        snprintf(flags_text + u, sizeof flags_text - u, "%s%s", i ? " " : "", b->words[i]);
    }
    snprintf(b->setting, sizeof b->setting,
             "%s: `%s`, train's defaults otherwise (`cnnlab train --help`); %s training images "
             "per run, 5,000 validation images, %d seed%s per configuration; the winner is %s.",
             a->full ? "full" : "quick", flags_text, a->subset ? b->subset : "all 45,000",
             a->repeats, a->repeats == 1 ? "" : "s",
             !a->no_retrain ? "retrained on all 50,000 training images, then tested once"
                            : "tested once as it is (its weights from the study)");
    return CNN_STATUS_OK;
}

/* Study k of the lab, as `cnnlab study` in this process (its output and its
 * error its own); skipped with the reason when the base's model has no such
 * family. */
static cnn_status run_study(const lab_args *a, const lab_base *b, lab_study *studies, int k,
                            double t0, cnn_error *err)
{
    lab_study *s = &studies[k];
    s->preset = lab_presets[k];
    snprintf(s->dir, sizeof s->dir, "%s/%s", a->out, s->preset);
    cnn_study_factor probe;
    cnn_error e = {0};
    if (cnn_study_preset_factor(s->preset, b->model, &probe, &e)) {
        snprintf(s->skipped, sizeof s->skipped, "%s", e.msg);
        if (cnn_dist_rank() == 0) /* under MPI rank 0 tells */
            printf("\nlab: study %d/%d: %s: skipped: %s\n", k + 1, LAB_STUDIES, s->preset,
                   e.msg);
        return CNN_STATUS_OK;
    }
    char el[32];
    clock_text(cnn_now() - t0, el, sizeof el);
    if (cnn_dist_rank() == 0)
        printf("\nlab: study %d/%d: %s (elapsed %s)\n", k + 1, LAB_STUDIES, s->preset, el);
    fflush(stdout);
    const char *sargv[32];
    int n = 0;
    sargv[n++] = "study";
    sargv[n++] = "--out";
    sargv[n++] = s->dir;
    sargv[n++] = "--preset";
    sargv[n++] = s->preset;
    sargv[n++] = "--repeats";
    sargv[n++] = b->repeats;
    sargv[n++] = "--jobs";
    sargv[n++] = b->jobs;
    sargv[n++] = "--threads";
    sargv[n++] = b->threads;
    if (k > 0) {
        sargv[n++] = "--control-from";
        sargv[n++] = studies[0].dir;
    }
    if (a->data) {
        sargv[n++] = "--data";
        sargv[n++] = a->data;
    }
    for (int i = 0; i < b->count; i++)
        sargv[n++] = b->words[i];
    sargv[n] = NULL;
    double ts = cnn_now();
    cnn_status st = cnn_cmd_study(n, (char **)sargv, &e);
    s->seconds = cnn_now() - ts;
    if (st) {
        cnn_cli_report("study", &e);
        return cnn_error_set(err, st, "the %s study stopped (see above); finished runs are "
                             "kept: run `cnnlab lab` with the same options again to continue",
                             s->preset);
    }
    s->done = study_best(s);
    return CNN_STATUS_OK;
}

/* `cnnlab select` on the chosen study, in this process, unless it used the
 * test set already. A failure is reported here; the lab goes on. */
static cnn_status select_chosen(const lab_args *a, const lab_study *c)
{
    printf("\nlab: best on validation across the studies: %s in %s (%.2f%%)\n", c->best_label,
           c->dir, 100 * c->best);
    char sel_path[4200];
    snprintf(sel_path, sizeof sel_path, "%s/select.txt", c->dir);
    char *sel = cnn_file_text_or_null(sel_path);
    char uses[32];
    cnn_kv_get(sel, "test_uses", uses, sizeof uses, "");
    free(sel);
    if (atoi(uses) > 0) {
        printf("lab: %s already used the test set (select.txt); not used again\n", c->dir);
        return CNN_STATUS_OK;
    }
    const char *sargv[12];
    int n = 0;
    /* As many threads as each study run had (docs/performance.md: why). */
    char select_threads[16];
    snprintf(select_threads, sizeof select_threads, "%d",
             a->threads / a->jobs > 0 ? a->threads / a->jobs : 1);
    sargv[n++] = "select";
    sargv[n++] = c->dir;
    sargv[n++] = "--threads";
    sargv[n++] = select_threads;
    if (!a->no_retrain)
        sargv[n++] = "--retrain";
    if (a->data) {
        sargv[n++] = "--data";
        sargv[n++] = a->data;
    }
    sargv[n] = NULL;
    cnn_error e = {0};
    cnn_status st = cnn_cmd_select(n, (char **)sargv, &e);
    if (st) {
        cnn_cli_report("select", &e);
        fprintf(stderr, "cnnlab lab: the selection failed (see above); the report is written "
                "without a test result\n");
    }
    return st;
}

/* The last stage: the studies' winners together, on validation only, as
 * `cnnlab select --combine` in this process. A failure is reported here. */
static cnn_status combine_winners(const lab_args *a, const lab_base *b, const lab_study *studies,
                                  double t0)
{
    char combined_dir[4200], select_threads[16];
    snprintf(combined_dir, sizeof combined_dir, "%s/combined", a->out);
    snprintf(select_threads, sizeof select_threads, "%d", a->threads);
    const char *cargv[LAB_STUDIES + 16];
    int n = 0;
    cargv[n++] = "select";
    cargv[n++] = "--combine";
    for (int k = 0; k < LAB_STUDIES; k++)
        if (studies[k].done)
            cargv[n++] = studies[k].dir;
    cargv[n++] = "--out";
    cargv[n++] = combined_dir;
    cargv[n++] = "--threads";
    cargv[n++] = select_threads;
    cargv[n++] = "--jobs";
    cargv[n++] = b->jobs;
    if (a->data) {
        cargv[n++] = "--data";
        cargv[n++] = a->data;
    }
    cargv[n] = NULL;
    char el[32];
    clock_text(cnn_now() - t0, el, sizeof el);
    printf("\nlab: combining the studies' winners (elapsed %s)\n", el);
    fflush(stdout);
    cnn_error e = {0};
    cnn_status st = cnn_cmd_select(n, (char **)cargv, &e);
    if (st) {
        cnn_cli_report("select", &e);
        fprintf(stderr, "cnnlab lab: the combination stopped (see above); the report is "
                "written without it, and `cnnlab lab` again continues it\n");
    }
    return st;
}

cnn_status cnn_cmd_lab(int argc, char **argv, cnn_error *err)
{
    lab_args a;
    lab_base b;
    int help;
    cnn_status st = parse_args(argc, argv, &a, &help, err);
    if (st || help || (st = make_base(&a, &b, err)) || (st = cnn_mkdir_p(a.out, err)))
        return st;
    lab_study studies[LAB_STUDIES];
    memset(studies, 0, sizeof studies);
    double t0 = cnn_now();
    if (cnn_dist_rank() == 0)
        printf("lab %s: %s\n", a.out, b.setting);
    fflush(stdout);
    for (int k = 0; k < LAB_STUDIES; k++)
        if ((st = run_study(&a, &b, studies, k, t0, err)))
            return st;
    /* Under MPI the ranks shared the studies' runs; the selection, the
     * combination and the report are rank 0's, and the others wait for it. */
    if (cnn_dist_rank() != 0)
        return cnn_dist_agree(CNN_STATUS_OK, err);
    int chosen = -1;
    for (int k = 0; k < LAB_STUDIES; k++)
        if (studies[k].done && (chosen < 0 || studies[k].best > studies[chosen].best))
            chosen = k;
    /* Failures of the last two stages were reported; the lab's status is the first. */
    cnn_status late = CNN_STATUS_OK, cst;
    if (chosen >= 0)
        late = select_chosen(&a, &studies[chosen]);
    double combine_seconds = 0;
    if (!a.no_combine && chosen >= 0) {
        double tc = cnn_now();
        cst = combine_winners(&a, &b, studies, t0);
        combine_seconds = cnn_now() - tc;
        if (!late)
            late = cst;
    }
    double total = cnn_now() - t0;
    st = write_report(a.out, studies, chosen, b.setting, total, !a.no_combine, combine_seconds,
                      err);
    if (cnn_dist_size() > 1) { /* the other ranks learn how it ended */
        if (!st && late)
            cnn_error_set(err, late, "the selection or the combination failed (see above); the "
                          "report is written without it");
        st = cnn_dist_agree(st ? st : late, err);
    }
    if (st)
        return st;
    char el[32];
    clock_text(total, el, sizeof el);
    printf("\nlab %s: done in %s\nreport: %s/report.md\n", a.out, el, a.out);
    err->msg[0] = 0; /* reported where it happened */
    return err->status = late;
}
