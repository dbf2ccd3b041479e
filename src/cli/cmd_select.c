/* cmd_select.c: `cnnlab select STUDY_DIR`: the study's best configuration on
 * validation (mean over its seeds), optionally retrained on all 50,000
 * training images, evaluated on the test set once by `cnnlab test` (a separate
 * process), and written into the study's report. STUDY_DIR/select.txt keeps
 * the choice and counts the uses of the test set; a second select refuses
 * unless --force.
 *
 * `cnnlab select STUDY_DIR... --combine`: each factor's best value that beat
 * the control, trained together with the study's seeds (src/study/combine.c)
 * as runs of the study runner, on validation only: the test set is not used. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnnlab/cnnlab.h"
#include "cnnlab/data.h"
#include "cnnlab/study.h"
#include "commands.h"
#include "core/core.h"
#include "flags.h"
#include "report.h"

/* Runs `cnnlab ARGS...` (this binary, even if rebuilt meanwhile) with this
 * process's output; returns its exit status (128 + signal when killed, 127
 * or -1 when it could not run). */
static int spawn(const char **argv)
{
    cnn_proc_spec spec = {.argv = argv, .path = "/proc/self/exe"};
    return cnn_proc_run(&spec, NULL);
}

/* Drops FLAG and its value from argv[0..n); returns the new count. */
static int drop_flag(const char **argv, int n, const char *flag)
{
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (strcmp(argv[i], flag) == 0) {
            if (i + 1 < n && strncmp(argv[i + 1], "--", 2) != 0)
                i++;
            continue;
        }
        argv[k++] = argv[i];
    }
    return k;
}

/* Trains the chosen configuration on all training images into final. */
static cnn_status retrain(const char *dir, const cnn_study_spec *spec, const cnn_study_run *run,
                          const char *final, const char *data, int threads, cnn_error *err)
{
    const char *argv[CNN_STUDY_MAX_ARGS + 2 * CNN_STUDY_MAX_FACTORS + 32];
    char scratch[2 * CNN_STUDY_MAX_FACTORS][CNN_STUDY_ARG_LEN];
    int n = 0;
    argv[n++] = "cnnlab";
    argv[n++] = "train";
    n += cnn_study_config_args(spec, run->value, argv + n, scratch);
    /* The same flags, on every training image: no validation split, no subset. */
    cnn_train_config cfg;
    char run_dir[4096];
    snprintf(run_dir, sizeof run_dir, "%s/runs/%s", dir, run->id);
    argv[n] = NULL;
    int early = 0;
    for (int i = 0; i < n; i++)
        if (strcmp(argv[i], "--early-stop") == 0)
            early = 1;
    cnn_status st = cnn_cli_train_config("select", n - 1, (char **)argv + 1, &cfg, NULL, stderr,
                                         err);
    if (st)
        return st;
    if (cfg.sched.kind == CNN_SCHED_PLATEAU)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "--retrain: the chosen "
                             "configuration uses --lr-schedule plateau, which needs validation "
                             "data; run `cnnlab select %s` without --retrain to test the chosen "
                             "run itself", dir);
    n = drop_flag(argv, n, "--subset");
    n = drop_flag(argv, n, "--early-stop");
    n = drop_flag(argv, n, "--val-fraction");
    char epochs[32], seed[32], th[32];
    if (early) {
        /* Early stopping needs validation data: train for the epochs it chose. */
        cnn_study_result res;
        cnn_study_read_result(run_dir, NULL, &res);
        snprintf(epochs, sizeof epochs, "%d", res.best_epoch > 0 ? res.best_epoch : cfg.epochs);
        n = drop_flag(argv, n, "--epochs");
        argv[n++] = "--epochs";
        argv[n++] = epochs;
        printf("select: the chosen run stopped early; retraining for its best epoch count, %s\n",
               epochs);
    }
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)spec->seed);
    snprintf(th, sizeof th, "%d", threads);
    argv[n++] = "--val-fraction";
    argv[n++] = "0";
    argv[n++] = "--seed";
    argv[n++] = seed;
    argv[n++] = "--threads";
    argv[n++] = th;
    argv[n++] = "--out";
    argv[n++] = final;
    if (data) {
        argv[n++] = "--data";
        argv[n++] = data;
    }
    argv[n] = NULL;
    printf("select: retraining on all training images:");
    for (int i = 1; i < n; i++)
        printf(" %s", argv[i]);
    printf("\n");
    int rc = spawn(argv);
    if (rc != 0)
        return cnn_error_set(err, rc == 3 ? CNN_STATUS_NUMERIC : CNN_STATUS_INVALID_ARGUMENT,
                             "retraining into %s failed (train exited with status %d); nothing "
                             "was tested", final, rc);
    return CNN_STATUS_OK;
}

/* ---- --combine ---- */

static void on_start(void *user, int index, int total, const cnn_study_run *r, const char *state)
{
    printf("combined run %d/%d (seed %llu): %s\n", index + 1, total, (unsigned long long)r->seed,
           state);
    fflush(stdout);
}

static void on_line(void *user, int index, int total, const cnn_study_run *r, const char *line)
{
    if (strncmp(line, "epoch", 5) == 0 || strncmp(line, "cnnlab", 6) == 0) {
        printf("  [%d/%d] %s\n", index + 1, total, line);
        fflush(stdout);
    }
}

static void on_end(void *user, int index, int total, const cnn_study_run *r, cnn_study_outcome o,
                   const char *detail)
{
    printf("combined run %d/%d (seed %llu): %s (%s)\n", index + 1, total,
           (unsigned long long)r->seed,
           o == CNN_STUDY_RUN_FINISHED ? "finished" : o == CNN_STUDY_RUN_DIVERGED ? "diverged"
                                                                                  : "FAILED",
           detail);
    fflush(stdout);
}

/* Writes out/report.md for a combination of several studies: a title and the
 * section (one study's report gets the section from cnn_study_write_outputs). */
static cnn_status combine_report(const char *out, const cnn_study_combination *c, cnn_error *err)
{
    size_t size = 1 << 16;
    char *text = malloc(size);
    if (!text)
        return cnn_error_set(err, CNN_STATUS_NO_MEMORY, "out of memory");
    int head = snprintf(text, size, "# Combining what did well: %.1000s\n\n", c->studies);
    cnn_study_combine_section(c, out, text + head, size - (size_t)head);
    char path[4200];
    snprintf(path, sizeof path, "%s/report.md", out);
    cnn_status st = cnn_file_write_atomic(path, text, strlen(text), err);
    free(text);
    return st;
}

/* Prints what the combination chose: the control and each factor's best. */
static void print_choice(const cnn_study_combination *c)
{
    printf("select --combine: the control: %.2f%% (mean over %d seed%s)\n",
           100 * c->control_mean, c->control_n, c->control_n == 1 ? "" : "s");
    for (int f = 0; f < c->spec.factor_count; f++) {
        const cnn_study_factor *fa = &c->spec.factors[f];
        if (c->best[f] < 0)
            printf("  %s: no value has a result\n", fa->flag);
        else
            printf("  %s: best %s=%s, %.2f%% (%+.2f points): %s\n", fa->flag, fa->flag,
                   fa->values[c->best[f]], 100 * c->best_mean[f],
                   100 * (c->best_mean[f] - c->control_mean),
                   c->value[f] >= 0 ? "combined" : "did not beat the control, its setting kept");
    }
}

/* Says what the combination trains, and checks it with train's own parser
 * before anything runs. */
static cnn_status check_combination(const cnn_study_combination *c, cnn_error *err)
{
    const char *argv[CNN_STUDY_MAX_ARGS + 2 * CNN_STUDY_MAX_FACTORS + 4];
    char scratch[2 * CNN_STUDY_MAX_FACTORS][CNN_STUDY_ARG_LEN];
    int an = 0;
    argv[an++] = "select";
    an += cnn_study_config_args(&c->spec, c->value, argv + an, scratch);
    argv[an] = NULL;
    cnn_train_config cfg;
    printf("select --combine: training the combination %s with %d seed%s:", c->label,
           c->spec.repeats, c->spec.repeats == 1 ? "" : "s");
    for (int i = 1; i < an; i++)
        printf(" %s", argv[i]);
    printf("\n");
    cnn_error e = {0};
    if (cnn_cli_train_config("select", an, (char **)argv, &cfg, NULL, stderr, &e))
        return cnn_error_set(err, e.status, "--combine: the combination %s is not a valid "
                             "training configuration (%s); nothing was trained", c->label, e.msg);
    return CNN_STATUS_OK;
}

/* Trains the combination's n runs into out/runs/. */
static cnn_status train_combination(const cnn_study_combination *c, cnn_study_run *runs, int n,
                                    const char *out, const char *data, int threads, int jobs,
                                    cnn_error *err)
{
    cnn_data_info info;
    cnn_status st = cnn_data_probe(&(cnn_data_source){.path = data}, &info, err);
    if (st)
        return st;
    const char *extra[2] = {"--data", data};
    int per = threads / jobs > 0 ? threads / jobs : 1;
    cnn_study_exec x = {"/proc/self/exe", out, extra, data ? 2 : 0, jobs, per, NULL, NULL, NULL,
                        NULL};
    cnn_study_hooks hooks = {on_start, on_line, on_end, NULL};
    return cnn_study_run_all(&c->spec, runs, n, &x, &hooks, err);
}

/* The report section: into the study's report when out is the (one) study
 * (dirs[0]), else into out/report.md. */
static cnn_status write_combination(const cnn_study_combination *c, const char *const *dirs,
                                    const char *out, cnn_study_spec *spec, cnn_study_run *runs,
                                    cnn_error *err)
{
    if (strcmp(out, dirs[0]) != 0)
        return combine_report(out, c, err);
    int sn = 0;
    cnn_status st;
    if ((st = cnn_study_load(out, spec, err)) ||
        (st = cnn_study_plan(spec, runs, CNN_STUDY_MAX_RUNS, &sn, err)))
        return st;
    return cnn_study_write_outputs(out, spec, runs, sn, NULL, 0, err);
}

/* The sentence: did the single gains add up? */
static void print_outcome(const cnn_study_combination *c, const char *out)
{
    cnn_study_level control = {"the control", c->control_mean, c->control_std, c->control_n, 1};
    cnn_study_level singles[CNN_STUDY_MAX_FACTORS], combo = {"the combination", NAN, 0, 0, 0};
    char labels[CNN_STUDY_MAX_FACTORS][CNN_STUDY_ID_LEN];
    int k = 0;
    for (int f = 0; f < c->spec.factor_count; f++)
        if (c->value[f] >= 0) {
            snprintf(labels[k], sizeof labels[k], "%s=%s", c->spec.factors[f].flag,
                     c->spec.factors[f].values[c->value[f]]);
            singles[k] = (cnn_study_level){labels[k], c->best_mean[f], c->best_std[f],
                                           c->best_n[f], 0};
            k++;
        }
    cnn_study_combine_result(c, out, &combo.mean, &combo.std, &combo.n);
    char sentence[2048];
    cnn_study_combine_sentence(&control, singles, k, &combo, c->spec.repeats, sentence,
                               sizeof sentence);
    printf("select --combine: %s\nreport: %s/report.md (section \"Combining the winners\")\n",
           sentence, out);
}

/* Chooses each factor's winner over the studies dirs[0..n), trains their
 * combination into out/runs/ and writes the report section. */
static cnn_status combine(const char **dirs, int ndirs, const char *out, const char *data,
                          int threads, int jobs, cnn_error *err)
{
    cnn_study_combination *c = malloc(sizeof *c);
    cnn_study_spec *spec = malloc(sizeof *spec);
    cnn_study_run *runs = malloc(sizeof *runs * CNN_STUDY_MAX_RUNS);
    cnn_status st = CNN_STATUS_OK;
    if (!c || !spec || !runs) {
        st = cnn_error_set(err, CNN_STATUS_NO_MEMORY, "out of memory");
        goto done;
    }
    if ((st = cnn_study_combine_choose(dirs, ndirs, c, err)))
        goto done;
    print_choice(c);
    int n = cnn_study_combine_plan(c, runs, CNN_STUDY_MAX_RUNS);
    char runs_dir[4200];
    snprintf(runs_dir, sizeof runs_dir, "%s/runs", out);
    if ((st = cnn_mkdir_p(runs_dir, err)) || (st = cnn_study_combine_record(out, c, err)))
        goto done;
    if (n == 0)
        printf("select --combine: %s; nothing to train\n",
               c->winners ? "one factor beat the control: the combination is that configuration, "
                            "trained already" : "no factor beat the control");
    else if ((st = check_combination(c, err)))
        goto done; /* refused before anything ran: no report */
    else
        st = train_combination(c, runs, n, out, data, threads, jobs, err);
    /* The report covers whatever finished, even after a failure. */
    cnn_error rerr = {0};
    cnn_status rst = write_combination(c, dirs, out, spec, runs, &rerr);
    if (!st && rst) {
        st = rst;
        *err = rerr;
    }
    if (!st)
        print_outcome(c, out);
done:
    free(c);
    free(spec);
    free(runs);
    return st;
}

typedef struct select_args {
    const char *data, *out;
    int threads, retrain, force, combine, jobs;
    const char *dirs[CNN_STUDY_MAX_FACTORS]; /* the STUDY_DIRs */
    int ndirs;
} select_args;

static cnn_status parse_args(int argc, char **argv, select_args *a, int *help, cnn_error *err)
{
    *a = (select_args){.threads = omp_get_num_procs(), .jobs = 1};
    cli_list words = {a->dirs, CNN_STUDY_MAX_FACTORS, 0};
    const cli_flag flags[] = {
        {"--combine", CLI_BOOL, &a->combine, 0, 0, NULL, "instead of testing: train the combination of each factor's best value that beat the control, with the study's seeds, as runs/combined* of the study, on validation only (several STUDY_DIRs of one base: their factors together, into --out DIR)", NULL},
        {"--out", CLI_STRING, &a->out, 0, 0, "DIR", "--combine: the folder for the combination's runs and its report.md (needed with several studies; default: the study itself)", NULL},
        {"--jobs", CLI_INT, &a->jobs, 1, 64, "N", "--combine: runs at once, the threads split between them (default 1)", NULL},
        {"--retrain", CLI_BOOL, &a->retrain, 0, 0, NULL, "retrain the chosen configuration on all 50,000 training images (--val-fraction 0, no --subset) into STUDY_DIR/final, and test that", NULL},
        {"--data", CLI_STRING, &a->data, 0, 0, "PATH", "the data, as train's --data", NULL},
        {"--threads", CLI_INT, &a->threads, 1, 1024, "N", "threads for retraining and testing, or in all for --combine (split between --jobs; default: all cores)", NULL},
        {"--force", CLI_BOOL, &a->force, 0, 0, NULL, "use the test set again although this study already used it (the report counts every use)", NULL},
    };
    cli_command cmd = {
        .name = "select",
        .usage = "cnnlab select STUDY_DIR [--retrain] [options]\n"
                 "       cnnlab select STUDY_DIR... --combine [--out DIR] [options]",
        .about = "Picks the configuration of a study with the best validation accuracy (the "
                 "mean over its seeds), optionally retrains it on all training images, "
                 "evaluates it on the test set once (`cnnlab test`) and adds a \"Test set\" "
                 "section to STUDY_DIR/report.md. A study's test set is used once: a second "
                 "select refuses unless --force. With --combine it trains, instead, "
                 "the combination of each factor's best value on validation (where it "
                 "beat the control) with the study's seeds and reports whether the gains "
                 "added up; the test set is not used.",
        CLI_FLAGS(flags),
        .positional = &words,
        .required = "a study folder (STUDY_DIR)",
    };
    cnn_status st = cli_parse(&cmd, argc, argv, help, err);
    a->ndirs = words.count;
    return st;
}

/* The flags that go together, and those that do not. */
static cnn_status check_args(const select_args *a, cnn_error *err)
{
    if (!a->combine) {
        if (a->ndirs > 1 || a->out)
            return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "%s is for --combine only; "
                                 "select tests one study's best configuration (found %d study "
                                 "folders)", a->out ? "--out" : "several STUDY_DIRs", a->ndirs);
        return CNN_STATUS_OK;
    }
    if (a->retrain || a->force)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "--combine trains on validation "
                             "only; %s belongs to testing the chosen configuration (run select "
                             "without --combine for that)", a->retrain ? "--retrain" : "--force");
    if (a->ndirs > 1 && !a->out)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "--combine over %d studies: "
                             "expected --out DIR for the combination's runs and report, found "
                             "none", a->ndirs);
    for (int i = 0; a->ndirs > 1 && a->out && i < a->ndirs; i++)
        if (strcmp(a->out, a->dirs[i]) == 0)
            return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "--combine over %d studies: "
                                 "--out %s is one of them; expected a folder of its own for the "
                                 "combination", a->ndirs, a->out);
    return CNN_STATUS_OK;
}

/* STUDY_DIR/select.txt as an earlier select left it. */
typedef struct select_record {
    int uses;               /* uses of the test set so far */
    char acc[64];           /* the last test accuracy */
    char tested[4096];      /* what was tested */
    char final_of[256];     /* the run STUDY_DIR/final was retrained for */
} select_record;

static void read_record(const char *path, select_record *rec)
{
    char *sel = cnn_file_text_or_null(path), uses[32];
    cnn_kv_get(sel, "test_uses", uses, sizeof uses, "0");
    cnn_kv_get(sel, "test_accuracy", rec->acc, sizeof rec->acc, "0");
    cnn_kv_get(sel, "tested", rec->tested, sizeof rec->tested, "?");
    cnn_kv_get(sel, "final_of", rec->final_of, sizeof rec->final_of, "");
    rec->uses = atoi(uses);
    free(sel);
}

/* STUDY_DIR/final for --retrain: kept when trained before for this
 * configuration, else trained now (what it is for recorded first). */
static cnn_status prepare_final(const select_args *a, const char *dir, const cnn_study_spec *spec,
                                const cnn_study_run *chosen, const select_record *rec,
                                const char *final, const char *path, cnn_error *err)
{
    cnn_study_outcome fs = cnn_study_run_state(final);
    if (fs == CNN_STUDY_RUN_FINISHED && strcmp(rec->final_of, chosen->id) == 0) {
        printf("select: %s was trained before for this configuration; kept\n", final);
        return CNN_STATUS_OK;
    }
    if (fs != CNN_STUDY_RUN_MISSING)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "%s holds a finished run of "
                             "another configuration (%.200s); nothing was changed", final,
                             *rec->final_of ? rec->final_of : "unknown");
    cnn_status st = cnn_study_remove_tree(final, err);
    if (st)
        return st;
    char text[1024];
    snprintf(text, sizeof text, "final_of = %s\ntest_uses = %d\n", chosen->id, rec->uses);
    if ((st = cnn_file_write_atomic(path, text, strlen(text), err)))
        return st;
    return retrain(dir, spec, chosen, final, a->data, a->threads, err);
}

/* `cnnlab test TARGET` as a process of its own; *acc: the accuracy from
 * its test.json. */
static cnn_status run_test(const select_args *a, const char *target, const char *json, int use,
                           double *acc, cnn_error *err)
{
    char th[32];
    snprintf(th, sizeof th, "%d", a->threads);
    const char *targv[10];
    int tn = 0;
    targv[tn++] = "cnnlab";
    targv[tn++] = "test";
    targv[tn++] = target;
    targv[tn++] = "--threads";
    targv[tn++] = th;
    if (a->data) {
        targv[tn++] = "--data";
        targv[tn++] = a->data;
    }
    if (cnn_path_exists(json))
        targv[tn++] = "--force";
    targv[tn] = NULL;
    printf("select: evaluating %s on the test set (use %d of the test set for this study)\n",
           target, use);
    int rc = spawn(targv);
    char *result = cnn_file_text_or_null(json);
    const char *at = result ? strstr(result, "\"accuracy\": ") : NULL;
    if (rc != 0 || !at) {
        free(result);
        return cnn_error_set(err, CNN_STATUS_IO, "`cnnlab test %s` failed (exit status %d)",
                             target, rc);
    }
    *acc = atof(at + 12);
    free(result);
    return CNN_STATUS_OK;
}

/* select.txt after the test: the choice and the uses of the test set. */
static cnn_status write_record(const select_args *a, const char *dir, const cnn_study_spec *spec,
                               const cnn_study_run *chosen, double mean, double sd,
                               const select_record *rec, const char *target, double test_acc,
                               const char *path, cnn_error *err)
{
    char train_images[32] = "";
    if (a->retrain) {
        char cpath[4200];
        snprintf(cpath, sizeof cpath, "%s/final/config.txt", dir);
        char *cfg = cnn_file_text_or_null(cpath);
        cnn_kv_get(cfg, "train_images", train_images, sizeof train_images, "");
        free(cfg);
    }
    char text[4096];
    snprintf(text, sizeof text,
             "# written by `cnnlab select`: the configuration chosen on validation and its one "
             "use of the test set\nchosen = %s\nchosen_label = %s\nval_mean = %.6f\nval_std = %.6f\n"
             "val_seeds = %d\nretrained = %d\nfinal_of = %s\ntested = %s\ntrain_images = %s\n"
             "test_accuracy = %.6f\ntest_uses = %d\n",
             chosen->id, chosen->label, mean, sd, spec->repeats, a->retrain,
             a->retrain ? chosen->id : rec->final_of, a->retrain ? "final" : target + strlen(dir) + 1,
             train_images, test_acc, rec->uses + 1);
    return cnn_file_write_atomic(path, text, strlen(text), err);
}

/* The study's best configuration on validation, retrained if asked, tested
 * once; select.txt and the report say so. */
static cnn_status select_best(const select_args *a, cnn_study_spec *spec, cnn_study_run *runs,
                              cnn_error *err)
{
    const char *dir = a->dirs[0];
    int n = 0, best = -1;
    double mean = 0, sd = 0;
    cnn_status st;
    if ((st = cnn_study_load(dir, spec, err)) ||
        (st = cnn_study_plan(spec, runs, CNN_STUDY_MAX_RUNS, &n, err)) ||
        (st = cnn_study_best(dir, runs, n, &best, &mean, &sd, err)))
        return st;
    const cnn_study_run *chosen = &runs[best];
    char path[4096], target[4096], final[4096], json[4200];
    snprintf(path, sizeof path, "%s/select.txt", dir);
    snprintf(final, sizeof final, "%s/final", dir);
    if (a->retrain)
        snprintf(target, sizeof target, "%s", final);
    else
        snprintf(target, sizeof target, "%s/runs/%s", dir, chosen->id);
    snprintf(json, sizeof json, "%s/test.json", target);
    /* The test set is used once per study. */
    select_record rec;
    read_record(path, &rec);
    if (!a->force && rec.uses > 0)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                             "%s: this study already used the test set (%.200s: test accuracy "
                             "%.2f%%); it is used once per study, so nothing was run (--force "
                             "evaluates again, and the report will say it was used %d times)",
                             dir, rec.tested, 100 * atof(rec.acc), rec.uses + 1);
    if (!a->force && cnn_path_exists(json))
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                             "%s exists: that run was already evaluated on the test set; it is "
                             "used once (--force evaluates again)", json);
    printf("select: best on validation: %s, %.2f%%", chosen->label, 100 * mean);
    if (spec->repeats > 1)
        printf(" ± %.2f over its seeds", 100 * sd);
    printf(" (%s/runs/%s)\n", dir, chosen->id);
    fflush(stdout);
    double test_acc = 0;
    char note[1024];
    if ((a->retrain &&
         (st = prepare_final(a, dir, spec, chosen, &rec, final, path, err))) ||
        (st = run_test(a, target, json, rec.uses + 1, &test_acc, err)) ||
        (st = write_record(a, dir, spec, chosen, mean, sd, &rec, target, test_acc, path, err)) ||
        (st = cnn_study_write_outputs(dir, spec, runs, n, note, sizeof note, err)))
        return st;
    char times[32];
    snprintf(times, sizeof times, rec.uses ? "%d times" : "once", rec.uses + 1);
    printf("select: test accuracy %.2f%% (%s, chosen on validation: %s); the test set has been "
           "used %s for this study\nreport: %s/report.md (section \"Test set\")\n",
           100 * test_acc, target, chosen->label, times, dir);
    return CNN_STATUS_OK;
}

cnn_status cnn_cmd_select(int argc, char **argv, cnn_error *err)
{
    select_args a;
    int help;
    cnn_status st = parse_args(argc, argv, &a, &help, err);
    if (st || help || (st = check_args(&a, err)))
        return st;
    if (a.combine)
        return combine(a.dirs, a.ndirs, a.out ? a.out : a.dirs[0], a.data, a.threads, a.jobs, err);
    cnn_study_spec *spec = malloc(sizeof *spec);
    cnn_study_run *runs = malloc(sizeof *runs * CNN_STUDY_MAX_RUNS);
    if (!spec || !runs)
        st = cnn_error_set(err, CNN_STATUS_NO_MEMORY, "out of memory");
    else
        st = select_best(&a, spec, runs, err);
    free(spec);
    free(runs);
    return st;
}
