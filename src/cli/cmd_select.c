/* cmd_select.c: `cnnlab select STUDY_DIR`: the study's best configuration on
 * validation (mean over its seeds), optionally retrained on all 50,000
 * training images, evaluated on the test set once by `cnnlab test` (a separate
 * process), and written into the study's report. STUDY_DIR/select.txt keeps
 * the choice and counts the uses of the test set; a second select refuses
 * unless --force. */
#define _POSIX_C_SOURCE 200809L
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cnnlab/cnnlab.h"
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

int cnn_cmd_select(int argc, char **argv)
{
    const char *data = NULL;
    int threads = omp_get_num_procs(), do_retrain = 0, force = 0;
    const char *positional[1];
    int npos = 0;
    const cli_flag flags[] = {
        {"--retrain", CLI_BOOL, &do_retrain, 0, 0, NULL, "retrain the chosen configuration on all 50,000 training images (--val-fraction 0, no --subset) into STUDY_DIR/final, and test that", NULL},
        {"--data", CLI_STRING, &data, 0, 0, "DIR", "the cifar-10-batches-bin folder", NULL},
        {"--threads", CLI_INT, &threads, 1, 1024, "N", "threads for retraining and testing (default: all cores)", NULL},
        {"--force", CLI_BOOL, &force, 0, 0, NULL, "use the test set again although this study already used it (the report counts every use)", NULL},
    };
    cli_command cmd = {"select", "cnnlab select STUDY_DIR [--retrain] [options]",
                       "Picks the configuration of a study with the best validation accuracy (the "
                       "mean over its seeds), optionally retrains it on all training images, "
                       "evaluates it on the test set once (`cnnlab test`) and adds a \"Test set\" "
                       "section to STUDY_DIR/report.md. A study's test set is used once: a second "
                       "select refuses unless --force.",
                       flags, (int)(sizeof flags / sizeof flags[0]), positional, 1, &npos};
    int r = cli_parse(&cmd, argc, argv);
    if (r >= 0)
        return r;
    if (npos != 1) {
        fprintf(stderr, "cnnlab select: expected a study folder (STUDY_DIR), found none (see "
                "`cnnlab select --help`)\n");
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
