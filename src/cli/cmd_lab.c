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
#include "flags.h"

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

static char *slurp(const char *path)
{
    unsigned char *data;
    size_t size;
    return cnn_file_read_all(path, &data, &size, NULL) ? NULL : (char *)data;
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

/* Appends study s's report to the lab report: its sections from "## Results"
 * up to "## Files", one heading level down, picture paths made relative to
 * the lab folder. */
static void copy_study(FILE *out, const lab_study *s)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/report.md", s->dir);
    FILE *in = fopen(path, "r");
    if (!in)
        return;
    char line[8192];
    int on = 0;
    while (fgets(line, sizeof line, in)) {
        if (strncmp(line, "## ", 3) == 0) {
            on = strncmp(line, "## Files", 8) != 0 && strncmp(line, "## Test set", 11) != 0 &&
                 (on || strncmp(line, "## Results", 10) == 0);
            if (on)
                fprintf(out, "#");
        } else if (on && strncmp(line, "### ", 4) == 0) {
            fprintf(out, "#");
        }
        if (!on)
            continue;
        /* ](plots/x) -> ](PRESET/plots/x) */
        for (const char *p = line; *p;) {
            const char *hit = strstr(p, "](plots/");
            if (!hit) {
                fputs(p, out);
                break;
            }
            fwrite(p, 1, (size_t)(hit - p) + 2, out);
            fprintf(out, "%s/", s->preset);
            p = hit + 2;
        }
    }
    fclose(in);
}

static void findings(FILE *out, const lab_study *s)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/report.md", s->dir);
    FILE *in = fopen(path, "r");
    if (!in)
        return;
    char line[8192];
    int on = 0;
    while (fgets(line, sizeof line, in)) {
        if (strncmp(line, "## ", 3) == 0)
            on = strncmp(line, "## What the data shows", 22) == 0;
        else if (on && strncmp(line, "- ", 2) == 0)
            fputs(line, out);
    }
    fclose(in);
}

/* Appends LAB_DIR/combined/report.md from its "## Combining the winners" on. */
static void copy_combination(FILE *out, const char *out_dir)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/combined/report.md", out_dir);
    FILE *in = fopen(path, "r");
    if (!in) {
        fprintf(out, "\n## Combining the winners\n\nNot done: the combination did not finish "
                     "(see the lab's output); running `cnnlab lab` again continues it.\n");
        return;
    }
    char line[8192];
    int on = 0;
    fprintf(out, "\n");
    while (fgets(line, sizeof line, in)) {
        if (strncmp(line, "## Combining the winners", 24) == 0)
            on = 1;
        if (!on)
            continue;
        /* runs/ -> combined/runs/: the paths are the lab folder's */
        const char *hit = strstr(line, "`runs/combined");
        if (hit) {
            fwrite(line, 1, (size_t)(hit - line) + 1, out);
            fprintf(out, "combined/%s", hit + 1);
        } else {
            fputs(line, out);
        }
    }
    fclose(in);
}

static cnn_status write_report(const char *out_dir, const lab_study *st, int chosen,
                               const char *setting, double seconds, int combined,
                               double combine_seconds, cnn_error *err)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/report.md", out_dir);
    cnn_text_file out;
    FILE *f = cnn_text_file_open(&out);
    if (!f)
        return cnn_text_file_commit(&out, path, err);
    char el[32];
    clock_text(seconds, el, sizeof el);
    fprintf(f, "# cnnlab lab: the course's five studies\n\n");
    fprintf(f, "**Setting.** %s\n\n", setting);
    fprintf(f, "**Method.** Each study changes one setting at a time against the same control "
               "run (trained once, shared by the studies), and compares the runs on the "
               "validation split. The best configuration on validation across all studies is "
               "then evaluated on the test set, once. %s\n\n",
            combined ? "Last, each study's best value that beat the control is trained together "
                       "with the same seeds, on validation only (`cnnlab select --combine`): do "
                       "the gains add up?"
                     : "(The combination of the studies' winners was not trained: --no-combine.)");
    fprintf(f, "**Time.** %s for this invocation of `cnnlab lab` on %d cores (studies: ", el,
            omp_get_num_procs());
    for (int k = 0; k < LAB_STUDIES; k++) {
        char t[32];
        clock_text(st[k].seconds, t, sizeof t);
        fprintf(f, "%s%s %s", k ? ", " : "", st[k].preset, st[k].skipped[0] ? "skipped" : t);
    }
    if (combined) {
        char t[32];
        clock_text(combine_seconds, t, sizeof t);
        fprintf(f, ", the combination %s", t);
    }
    fprintf(f, "; runs finished earlier are kept, not timed again).\n\n");

    fprintf(f, "## Findings\n\n");
    for (int k = 0; k < LAB_STUDIES; k++) {
        if (st[k].skipped[0])
            fprintf(f, "- %s: skipped: %s\n", st[k].preset, st[k].skipped);
        else
            findings(f, &st[k]);
    }
    fprintf(f, "\n## The choice, and the test set\n\n");
    if (chosen >= 0) {
        char sel_path[4200];
        snprintf(sel_path, sizeof sel_path, "%s/select.txt", st[chosen].dir);
        char *sel = slurp(sel_path);
        char label[256], acc[64], uses[32], tested[512], retrained[8];
        cnn_kv_get(sel, "chosen_label", label, sizeof label, "");
        cnn_kv_get(sel, "test_accuracy", acc, sizeof acc, "");
        cnn_kv_get(sel, "test_uses", uses, sizeof uses, "");
        cnn_kv_get(sel, "tested", tested, sizeof tested, "");
        cnn_kv_get(sel, "retrained", retrained, sizeof retrained, "");
        free(sel);
        fprintf(f, "Best on validation across the studies: **%s** in the %s study (%.2f %% "
                   "validation accuracy; the best of each study:", st[chosen].best_label,
                st[chosen].preset, 100 * st[chosen].best);
        for (int k = 0; k < LAB_STUDIES; k++)
            if (st[k].done)
                fprintf(f, "%s %s %.2f %%", k ? ";" : "", st[k].best_label, 100 * st[k].best);
        fprintf(f, ").\n\n");
        char times[32];
        snprintf(times, sizeof times, atoi(uses) == 1 ? "once" : "%s times", uses);
        if (*acc)
            fprintf(f, "%s, evaluated on the 10,000 test images: **test accuracy %.2f %%** "
                       "(`%s/%s/test.json`). The test set was used %s, after the choice.\n",
                    atoi(retrained) ? "Retrained on all 50,000 training images"
                                    : "Its own run (the weights of its best validation epoch)",
                    100 * atof(acc), st[chosen].preset, tested, times);
        else
            fprintf(f, "The test set was not used (the selection did not finish).\n");
    } else {
        fprintf(f, "No study finished, so nothing was chosen or tested.\n");
    }
    if (combined && chosen >= 0) {
        copy_combination(f, out_dir);
        fprintf(f, "\nThe combination was trained after the test set was used on the single best "
                   "configuration, so it was chosen and is compared on validation only, and not "
                   "tested.\n");
    }
    for (int k = 0; k < LAB_STUDIES; k++) {
        fprintf(f, "\n## Study %d: %s\n\n", k + 1, st[k].preset);
        if (st[k].skipped[0]) {
            fprintf(f, "Skipped: %s\n", st[k].skipped);
            continue;
        }
        fprintf(f, "The study's own report: [%s/report.md](%s/report.md); one row per run: "
                   "`%s/summary.csv`.\n\n", st[k].preset, st[k].preset, st[k].preset);
        copy_study(f, &st[k]);
    }
    return cnn_text_file_commit(&out, path, err);
}

int cnn_cmd_lab(int argc, char **argv)
{
    const char *data = NULL, *out = "lab", *model = NULL, *lr = NULL, *recipe = NULL;
    int full = 0, threads = omp_get_num_procs(), repeats = 3, epochs = 0, subset = -1;
    int jobs = threads >= 2 ? 2 : 1;
    int no_retrain = 0, no_combine = 0;
    const char *positional[1];
    int npos = 0;
    const cli_flag flags[] = {
        {"--full", CLI_BOOL, &full, 0, 0, NULL, "all data and longer training: the whole 45,000/5,000 split and 30 epochs per run (about 3 hours on 2 cores for lenet5, estimated from the quick lab's speed)", NULL},
        {"--out", CLI_STRING, &out, 0, 0, "LAB_DIR", "the lab folder (default lab): one study folder per study, report.md", NULL},
        {"--data", CLI_STRING, &data, 0, 0, "DIR", "the cifar-10-batches-bin folder", NULL},
        {"--recipe", CLI_STRING, &recipe, 0, 0, "NAME", "a training recipe as the base (`cnnlab recipes`; e.g. quick: the studies on a 90 %-class network), with a validation split of 0.1 where the recipe has none; the flags below override it", NULL},
        {"--model", CLI_STRING, &model, 0, 0, "NAME", "the base model (default lenet5, or the recipe's; depth needs its family: LeNet-5, VGG or CIFAR ResNet)", NULL},
        {"--lr", CLI_STRING, &lr, 0, 0, "F", "learning rate of the base (default 0.05 for LeNet-5, the course's; train's default for other models)", NULL},
        {"--epochs", CLI_INT, &epochs, 1, 100000, "N", "epochs per run (default 5, or the recipe's; --full: 30)", NULL},
        {"--subset", CLI_INT, &subset, 0, 50000, "N", "training images per run (default 10000; --full: 0, all 45,000)", NULL},
        {"--repeats", CLI_INT, &repeats, 1, 100, "N", "seeds per configuration (default 3: the report says whether a difference exceeds the seed-to-seed spread)", NULL},
        {"--no-retrain", CLI_BOOL, &no_retrain, 0, 0, NULL, "test the winning run itself instead of retraining it on all 50,000 training images first", NULL},
        {"--no-combine", CLI_BOOL, &no_combine, 0, 0, NULL, "skip the last stage: training each study's winner together (one run per seed, validation only) to see whether the gains add up", NULL},
        {"--jobs", CLI_INT, &jobs, 1, 64, "N", "runs at once, the threads split between them (default 2 where there are 2 cores or more: for lenet5, faster than 1 run of 2 threads)", NULL},
        {"--threads", CLI_INT, &threads, 1, 1024, "N", "threads in all (default: all cores)", NULL},
    };
    cli_command cmd = {"lab", "cnnlab lab [--full] [options]",
                       "The course's lab in one go: the five course studies (dropout, norm, "
                       "lr-decay, kernel-size, depth: see `cnnlab study --help` for their values) "
                       "on a quick setting (lenet5, lr 0.05, 5 epochs, 10,000 training images, 3 "
                       "seeds per configuration: about 10 minutes on 2 cores), the best "
                       "configuration chosen on validation, retrained on all 50,000 training "
                       "images and tested once, then each study's winner trained together "
                       "(validation only: do the gains add up?), and one report, "
                       "LAB_DIR/report.md, with every study's table, sentences and plots. "
                       "Running it again continues an interrupted lab.",
                       flags, (int)(sizeof flags / sizeof flags[0]), positional, 0, &npos};
    int r = cli_parse(&cmd, argc, argv);
    if (r >= 0)
        return r;
    const cnn_recipe *rcp = NULL;
    if (recipe && !(rcp = cnn_recipe_find(recipe))) {
        fprintf(stderr, "cnnlab lab: --recipe: unknown recipe '%s' (`cnnlab recipes` lists them)\n",
                recipe);
        return CLI_EXIT_USAGE;
    }
    const char *model_given = model;
    for (int i = 0; rcp && !model && i + 1 < rcp->count; i++)
        if (strcmp(rcp->words[i], "--model") == 0)
            model = rcp->words[i + 1];
    if (!model)
        model = "lenet5";
    if (!epochs && !(rcp && !full))
        epochs = full ? 30 : 5;
    if (subset < 0)
        subset = full ? 0 : 10000;
    if (!lr && !rcp && strncmp(model, "lenet5", 6) == 0)
        lr = "0.05";
    int retrain = !no_retrain;
    char epochs_text[16], subset_text[16], repeats_text[16], jobs_text[16], threads_text[16];
    snprintf(epochs_text, sizeof epochs_text, "%d", epochs);
    snprintf(subset_text, sizeof subset_text, "%d", subset);
    snprintf(repeats_text, sizeof repeats_text, "%d", repeats);
    snprintf(jobs_text, sizeof jobs_text, "%d", jobs);
    snprintf(threads_text, sizeof threads_text, "%d", threads);
    /* The base configuration every study shares. */
    const char *base[12];
    int nb = 0;
    if (rcp) { /* the recipe first, so that the flags after it win; studies need validation */
        base[nb++] = "--recipe";
        base[nb++] = recipe;
        base[nb++] = "--val-fraction";
        base[nb++] = "0.1";
    }
    if (!rcp || model_given) {
        base[nb++] = "--model";
        base[nb++] = model;
    }
    if (epochs) {
        base[nb++] = "--epochs";
        base[nb++] = epochs_text;
    }
    if (subset) {
        base[nb++] = "--subset";
        base[nb++] = subset_text;
    }
    if (lr) {
        base[nb++] = "--lr";
        base[nb++] = lr;
    }
    char setting[1024], flags_text[512] = "";
    for (int i = 0; i < nb; i++) {
        size_t u = strlen(flags_text);
        snprintf(flags_text + u, sizeof flags_text - u, "%s%s", i ? " " : "", base[i]);
    }
    snprintf(setting, sizeof setting,
             "%s: `%s`, train's defaults otherwise (`cnnlab train --help`); %s training images "
             "per run, 5,000 validation images, %d seed%s per configuration; the winner is %s.",
             full ? "full" : "quick", flags_text, subset ? subset_text : "all 45,000", repeats,
             repeats == 1 ? "" : "s",
             retrain ? "retrained on all 50,000 training images, then tested once"
                     : "tested once as it is (its weights from the study)");

    cnn_error err = {0};
    cnn_status st;
    if ((st = cnn_mkdir_p(out, &err)))
        return cnn_cli_report("lab", &err);
    lab_study studies[LAB_STUDIES];
    memset(studies, 0, sizeof studies);
    double t0 = cnn_now();
    printf("lab %s: %s\n", out, setting);
    fflush(stdout);
    for (int k = 0; k < LAB_STUDIES; k++) {
        lab_study *s = &studies[k];
        s->preset = lab_presets[k];
        snprintf(s->dir, sizeof s->dir, "%s/%s", out, s->preset);
        cnn_study_factor probe;
        if (cnn_study_preset_factor(s->preset, model, &probe, &err)) {
            snprintf(s->skipped, sizeof s->skipped, "%s", err.msg);
            printf("\nlab: study %d/%d: %s: skipped: %s\n", k + 1, LAB_STUDIES, s->preset, err.msg);
            continue;
        }
        char el[32];
        clock_text(cnn_now() - t0, el, sizeof el);
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
        sargv[n++] = repeats_text;
        sargv[n++] = "--jobs";
        sargv[n++] = jobs_text;
        sargv[n++] = "--threads";
        sargv[n++] = threads_text;
        if (k > 0) {
            sargv[n++] = "--control-from";
            sargv[n++] = studies[0].dir;
        }
        if (data) {
            sargv[n++] = "--data";
            sargv[n++] = data;
        }
        for (int i = 0; i < nb; i++)
            sargv[n++] = base[i];
        sargv[n] = NULL;
        double ts = cnn_now();
        r = cnn_cmd_study(n, (char **)sargv);
        s->seconds = cnn_now() - ts;
        if (r != 0) {
            fprintf(stderr, "cnnlab lab: the %s study stopped (see above); finished runs are kept: "
                    "run `cnnlab lab` with the same options again to continue\n", s->preset);
            return r;
        }
        s->done = study_best(s);
    }

    int chosen = -1;
    for (int k = 0; k < LAB_STUDIES; k++)
        if (studies[k].done && (chosen < 0 || studies[k].best > studies[chosen].best))
            chosen = k;
    if (chosen >= 0) {
        lab_study *c = &studies[chosen];
        printf("\nlab: best on validation across the studies: %s in %s (%.2f%%)\n", c->best_label,
               c->dir, 100 * c->best);
        char sel_path[4200];
        snprintf(sel_path, sizeof sel_path, "%s/select.txt", c->dir);
        char *sel = slurp(sel_path);
        char uses[32];
        cnn_kv_get(sel, "test_uses", uses, sizeof uses, "");
        free(sel);
        if (atoi(uses) > 0) {
            printf("lab: %s already used the test set (select.txt); not used again\n", c->dir);
        } else {
            const char *sargv[12];
            int n = 0;
            /* As many threads as each study run had: on this project's shared 2-core
             * machine, retraining lenet5 with 1 thread took 36 s, with 2 about 100 s. */
            char select_threads[16];
            snprintf(select_threads, sizeof select_threads, "%d",
                     threads / jobs > 0 ? threads / jobs : 1);
            sargv[n++] = "select";
            sargv[n++] = c->dir;
            sargv[n++] = "--threads";
            sargv[n++] = select_threads;
            if (retrain)
                sargv[n++] = "--retrain";
            if (data) {
                sargv[n++] = "--data";
                sargv[n++] = data;
            }
            sargv[n] = NULL;
            if ((r = cnn_cmd_select(n, (char **)sargv)) != 0)
                fprintf(stderr, "cnnlab lab: the selection failed (see above); the report is "
                        "written without a test result\n");
        }
    }
    /* The last stage: the studies' winners together, on validation only. */
    double combine_seconds = 0;
    if (!no_combine && chosen >= 0) {
        char combined_dir[4200], select_threads[16];
        snprintf(combined_dir, sizeof combined_dir, "%s/combined", out);
        snprintf(select_threads, sizeof select_threads, "%d", threads);
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
        cargv[n++] = jobs_text;
        if (data) {
            cargv[n++] = "--data";
            cargv[n++] = data;
        }
        cargv[n] = NULL;
        char el[32];
        clock_text(cnn_now() - t0, el, sizeof el);
        printf("\nlab: combining the studies' winners (elapsed %s)\n", el);
        fflush(stdout);
        double tc = cnn_now();
        int rc = cnn_cmd_select(n, (char **)cargv);
        combine_seconds = cnn_now() - tc;
        if (rc != 0) {
            fprintf(stderr, "cnnlab lab: the combination stopped (see above); the report is "
                    "written without it, and `cnnlab lab` again continues it\n");
            if (r == 0)
                r = rc;
        }
    }
    double total = cnn_now() - t0;
    if ((st = write_report(out, studies, chosen, setting, total, !no_combine, combine_seconds,
                           &err)))
        return cnn_cli_report("lab", &err);
    char el[32];
    clock_text(total, el, sizeof el);
    printf("\nlab %s: done in %s\nreport: %s/report.md\n", out, el, out);
    return r;
}
