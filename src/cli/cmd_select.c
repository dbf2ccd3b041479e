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
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cnnlab/cnnlab.h"
#include "cnnlab/data.h"
#include "cnnlab/study.h"
#include "commands.h"
#include "core/core.h"
#include "flags.h"

/* Runs `cnnlab ARGS...` with this process's output; returns its exit status
 * (128 + signal when killed, 127 when it could not start). */
static int spawn(const char **argv)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return 127;
    if (pid == 0) {
        execv("/proc/self/exe", (char *const *)argv);
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        ;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static char *slurp(const char *path)
{
    unsigned char *data;
    size_t size;
    return cnn_file_read_all(path, &data, &size, NULL) ? NULL : (char *)data;
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
static int retrain(const char *dir, const cnn_study_spec *spec, const cnn_study_run *run,
                   const char *final, const char *data, int threads)
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
    if (cnn_cli_train_config("select", n - 1, (char **)argv + 1, &cfg) >= 0)
        return CLI_EXIT_USAGE;
    if (cfg.sched.kind == CNN_SCHED_PLATEAU) {
        fprintf(stderr, "cnnlab select: --retrain: the chosen configuration uses --lr-schedule "
                "plateau, which needs validation data; run `cnnlab select %s` without --retrain "
                "to test the chosen run itself\n", dir);
        return CLI_EXIT_USAGE;
    }
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
    if (rc != 0) {
        fprintf(stderr, "cnnlab select: retraining into %s failed (train exited with status %d); "
                "nothing was tested\n", final, rc);
        return rc == 3 ? CLI_EXIT_NUMERIC : CLI_EXIT_USAGE;
    }
    return -1;
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

/* Chooses each factor's winner over the studies dirs[0..n), trains their
 * combination into out/runs/ and writes the report section: into the study's
 * report when out is the (one) study, else into out/report.md. */
static int combine(const char **dirs, int ndirs, const char *out, const char *data, int threads,
                   int jobs)
{
    cnn_study_combination *c = malloc(sizeof *c);
    cnn_study_spec *spec = malloc(sizeof *spec);
    cnn_study_run *runs = malloc(sizeof *runs * CNN_STUDY_MAX_RUNS);
    cnn_error err = {0};
    cnn_status st = CNN_STATUS_OK;
    int r = -1;
    if (!c || !spec || !runs) {
        st = cnn_error_set(&err, CNN_STATUS_NO_MEMORY, "out of memory");
        goto done;
    }
    if ((st = cnn_study_combine_choose(dirs, ndirs, c, &err)))
        goto done;
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
    int n = cnn_study_combine_plan(c, runs, CNN_STUDY_MAX_RUNS);
    char runs_dir[4200];
    snprintf(runs_dir, sizeof runs_dir, "%s/runs", out);
    if ((st = cnn_mkdir_p(runs_dir, &err)) || (st = cnn_study_combine_record(out, c, &err)))
        goto done;
    if (n == 0) {
        printf("select --combine: %s; nothing to train\n",
               c->winners ? "one factor beat the control: the combination is that configuration, "
                            "trained already" : "no factor beat the control");
    } else {
        /* The combination checked with train's own parser before anything runs. */
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
        if ((r = cnn_cli_train_config("select", an, (char **)argv, &cfg)) >= 0) {
            fprintf(stderr, "cnnlab select: --combine: the combination %s is not a valid "
                    "training configuration (above); nothing was trained\n", c->label);
            goto done;
        }
        char data_dir[4096];
        if ((st = cnn_cifar_locate(data, 1, data_dir, sizeof data_dir, &err)))
            goto done;
        const char *extra[2] = {"--data", data};
        int per = threads / jobs > 0 ? threads / jobs : 1;
        cnn_study_exec x = {"/proc/self/exe", out, extra, data ? 2 : 0, jobs, per, NULL};
        cnn_study_hooks hooks = {on_start, on_line, on_end, NULL};
        st = cnn_study_run_all(&c->spec, runs, n, &x, &hooks, &err);
    }
    /* The report covers whatever finished, even after a failure. */
    cnn_error rerr = {0};
    cnn_status rst;
    if (strcmp(out, dirs[0]) == 0) {
        int sn = 0;
        rst = cnn_study_load(out, spec, &rerr);
        if (!rst)
            rst = cnn_study_plan(spec, runs, CNN_STUDY_MAX_RUNS, &sn, &rerr);
        if (!rst)
            rst = cnn_study_write_outputs(out, spec, runs, sn, NULL, 0, &rerr);
    } else {
        rst = combine_report(out, c, &rerr);
    }
    if (!st && rst) {
        st = rst;
        err = rerr;
    }
    if (!st) {
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
done:
    free(c);
    free(spec);
    free(runs);
    if (r >= 0)
        return r;
    return st ? cnn_cli_report("select", &err) : CLI_EXIT_OK;
}

int cnn_cmd_select(int argc, char **argv)
{
    const char *data = NULL, *out = NULL;
    int threads = omp_get_num_procs(), do_retrain = 0, force = 0, do_combine = 0, jobs = 1;
    const char *positional[CNN_STUDY_MAX_FACTORS];
    int npos = 0;
    const cli_flag flags[] = {
        {"--combine", CLI_BOOL, &do_combine, 0, 0, NULL, "instead of testing: train the combination of each factor's best value that beat the control, with the study's seeds, as runs/combined* of the study, on validation only (several STUDY_DIRs of one base: their factors together, into --out DIR)", NULL},
        {"--out", CLI_STRING, &out, 0, 0, "DIR", "--combine: the folder for the combination's runs and its report.md (needed with several studies; default: the study itself)", NULL},
        {"--jobs", CLI_INT, &jobs, 1, 64, "N", "--combine: runs at once, the threads split between them (default 1)", NULL},
        {"--retrain", CLI_BOOL, &do_retrain, 0, 0, NULL, "retrain the chosen configuration on all 50,000 training images (--val-fraction 0, no --subset) into STUDY_DIR/final, and test that", NULL},
        {"--data", CLI_STRING, &data, 0, 0, "DIR", "the cifar-10-batches-bin folder", NULL},
        {"--threads", CLI_INT, &threads, 1, 1024, "N", "threads for retraining and testing, or in all for --combine (split between --jobs; default: all cores)", NULL},
        {"--force", CLI_BOOL, &force, 0, 0, NULL, "use the test set again although this study already used it (the report counts every use)", NULL},
    };
    cli_command cmd = {"select", "cnnlab select STUDY_DIR [--retrain] [options]\n"
                       "       cnnlab select STUDY_DIR... --combine [--out DIR] [options]",
                       "Picks the configuration of a study with the best validation accuracy (the "
                       "mean over its seeds), optionally retrains it on all training images, "
                       "evaluates it on the test set once (`cnnlab test`) and adds a \"Test set\" "
                       "section to STUDY_DIR/report.md. A study's test set is used once: a second "
                       "select refuses unless --force. With --combine it trains, instead, "
                       "the combination of each factor's best value on validation (where it "
                       "beat the control) with the study's seeds and reports whether the gains "
                       "added up; the test set is not used.",
                       flags, (int)(sizeof flags / sizeof flags[0]), positional,
                       CNN_STUDY_MAX_FACTORS, &npos};
    int r = cli_parse(&cmd, argc, argv);
    if (r >= 0)
        return r;
    if (npos < 1) {
        fprintf(stderr, "cnnlab select: expected a study folder (STUDY_DIR), found none (see "
                "`cnnlab select --help`)\n");
        return CLI_EXIT_USAGE;
    }
    if (do_combine) {
        if (do_retrain || force) {
            fprintf(stderr, "cnnlab select: --combine trains on validation only; %s belongs to "
                    "testing the chosen configuration (run select without --combine for that)\n",
                    do_retrain ? "--retrain" : "--force");
            return CLI_EXIT_USAGE;
        }
        if (npos > 1 && !out) {
            fprintf(stderr, "cnnlab select: --combine over %d studies: expected --out DIR for the "
                    "combination's runs and report, found none\n", npos);
            return CLI_EXIT_USAGE;
        }
        for (int i = 0; npos > 1 && out && i < npos; i++)
            if (strcmp(out, positional[i]) == 0) {
                fprintf(stderr, "cnnlab select: --combine over %d studies: --out %s is one of "
                        "them; expected a folder of its own for the combination\n", npos, out);
                return CLI_EXIT_USAGE;
            }
        return combine(positional, npos, out ? out : positional[0], data, threads, jobs);
    }
    if (npos > 1 || out) {
        fprintf(stderr, "cnnlab select: %s is for --combine only; select tests one study's best "
                "configuration (found %d study folders)\n", out ? "--out" : "several STUDY_DIRs",
                npos);
        return CLI_EXIT_USAGE;
    }
    const char *dir = positional[0];
    cnn_study_spec *spec = malloc(sizeof *spec);
    cnn_study_run *runs = malloc(sizeof *runs * CNN_STUDY_MAX_RUNS);
    char *sel = NULL;
    cnn_error err = {0};
    cnn_status st = CNN_STATUS_OK;
    int n = 0, best = -1;
    double mean = 0, sd = 0;
    if (!spec || !runs) {
        st = cnn_error_set(&err, CNN_STATUS_NO_MEMORY, "out of memory");
        goto done;
    }
    if ((st = cnn_study_load(dir, spec, &err)) ||
        (st = cnn_study_plan(spec, runs, CNN_STUDY_MAX_RUNS, &n, &err)) ||
        (st = cnn_study_best(dir, runs, n, &best, &mean, &sd, &err)))
        goto done;
    const cnn_study_run *chosen = &runs[best];
    char path[4096], target[4096], final[4096];
    snprintf(path, sizeof path, "%s/select.txt", dir);
    snprintf(final, sizeof final, "%s/final", dir);
    if (do_retrain)
        snprintf(target, sizeof target, "%s", final);
    else
        snprintf(target, sizeof target, "%s/runs/%s", dir, chosen->id);

    /* The test set is used once per study. */
    sel = slurp(path);
    char uses_text[32], prev_acc[64], prev_tested[4096], final_of[256];
    cnn_kv_get(sel, "test_uses", uses_text, sizeof uses_text, "0");
    cnn_kv_get(sel, "test_accuracy", prev_acc, sizeof prev_acc, "0");
    cnn_kv_get(sel, "tested", prev_tested, sizeof prev_tested, "?");
    cnn_kv_get(sel, "final_of", final_of, sizeof final_of, "");
    int uses = atoi(uses_text);
    char json[4200];
    snprintf(json, sizeof json, "%s/test.json", target);
    if (!force && uses > 0) {
        st = cnn_error_set(&err, CNN_STATUS_INVALID_ARGUMENT,
                           "%s: this study already used the test set (%.200s: test accuracy "
                           "%.2f%%); it is used once per study, so nothing was run (--force "
                           "evaluates again, and the report will say it was used %d times)",
                           dir, prev_tested, 100 * atof(prev_acc), uses + 1);
        goto done;
    }
    if (!force && cnn_path_exists(json)) {
        st = cnn_error_set(&err, CNN_STATUS_INVALID_ARGUMENT,
                           "%s exists: that run was already evaluated on the test set; it is "
                           "used once (--force evaluates again)", json);
        goto done;
    }
    printf("select: best on validation: %s, %.2f%%", chosen->label, 100 * mean);
    if (spec->repeats > 1)
        printf(" ± %.2f over its seeds", 100 * sd);
    printf(" (%s/runs/%s)\n", dir, chosen->id);
    fflush(stdout);

    if (do_retrain) {
        cnn_study_outcome fs = cnn_study_run_state(final);
        if (fs == CNN_STUDY_RUN_FINISHED && strcmp(final_of, chosen->id) == 0) {
            printf("select: %s was trained before for this configuration; kept\n", final);
        } else if (fs != CNN_STUDY_RUN_MISSING) {
            st = cnn_error_set(&err, CNN_STATUS_INVALID_ARGUMENT,
                               "%s holds a finished run of another configuration (%.200s); "
                               "nothing was changed", final, *final_of ? final_of : "unknown");
            goto done;
        } else {
            if ((st = cnn_study_remove_tree(final, &err)))
                goto done;
            /* Record what final is for before it exists. */
            char text[1024];
            snprintf(text, sizeof text, "final_of = %s\ntest_uses = %d\n", chosen->id, uses);
            if ((st = cnn_file_write_atomic(path, text, strlen(text), &err)))
                goto done;
            if ((r = retrain(dir, spec, chosen, final, data, threads)) >= 0)
                goto done;
        }
    }

    char th[32];
    snprintf(th, sizeof th, "%d", threads);
    const char *targv[10];
    int tn = 0;
    targv[tn++] = "cnnlab";
    targv[tn++] = "test";
    targv[tn++] = target;
    targv[tn++] = "--threads";
    targv[tn++] = th;
    if (data) {
        targv[tn++] = "--data";
        targv[tn++] = data;
    }
    if (cnn_path_exists(json))
        targv[tn++] = "--force";
    targv[tn] = NULL;
    printf("select: evaluating %s on the test set (use %d of the test set for this study)\n",
           target, uses + 1);
    int rc = spawn(targv);
    char *result = slurp(json);
    const char *acc = result ? strstr(result, "\"accuracy\": ") : NULL;
    if (rc != 0 || !acc) {
        free(result);
        st = cnn_error_set(&err, CNN_STATUS_IO, "`cnnlab test %s` failed (exit status %d)", target,
                           rc);
        goto done;
    }
    double test_acc = atof(acc + 12);
    free(result);
    char *cfg = NULL;
    char train_images[32] = "";
    if (do_retrain) {
        char cpath[4200];
        snprintf(cpath, sizeof cpath, "%s/config.txt", final);
        cfg = slurp(cpath);
        cnn_kv_get(cfg, "train_images", train_images, sizeof train_images, "");
        free(cfg);
    }
    char text[4096];
    snprintf(text, sizeof text,
             "# written by `cnnlab select`: the configuration chosen on validation and its one "
             "use of the test set\nchosen = %s\nchosen_label = %s\nval_mean = %.6f\nval_std = %.6f\n"
             "val_seeds = %d\nretrained = %d\nfinal_of = %s\ntested = %s\ntrain_images = %s\n"
             "test_accuracy = %.6f\ntest_uses = %d\n",
             chosen->id, chosen->label, mean, sd, spec->repeats, do_retrain,
             do_retrain ? chosen->id : final_of, do_retrain ? "final" : target + strlen(dir) + 1,
             train_images, test_acc, uses + 1);
    if ((st = cnn_file_write_atomic(path, text, strlen(text), &err)))
        goto done;
    char note[1024];
    if ((st = cnn_study_write_outputs(dir, spec, runs, n, note, sizeof note, &err)))
        goto done;
    char times[32];
    snprintf(times, sizeof times, uses ? "%d times" : "once", uses + 1);
    printf("select: test accuracy %.2f%% (%s, chosen on validation: %s); the test set has been "
           "used %s for this study\nreport: %s/report.md (section \"Test set\")\n",
           100 * test_acc, target, chosen->label, times, dir);
done:
    free(sel);
    free(spec);
    free(runs);
    if (r >= 0)
        return r;
    return st ? cnn_cli_report("select", &err) : CLI_EXIT_OK;
}
