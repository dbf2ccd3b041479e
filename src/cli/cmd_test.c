/* cmd_test.c: `cnnlab test RUN_DIR`: the run's best weights on the test set.
 * The test set is for the final answer only: a run folder that already has a
 * test.json is not tested again unless --force. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnnlab/cnnlab.h"
#include "cnnlab/plot.h"
#include "commands.h"
#include "core/core.h"
#include "flags.h"
#include "report.h"
#include "text.h"

/* v as JSON: a number, or null when it is not finite (a diverged model's loss) */
static void json_number(double v, char *buf, size_t size)
{
    if (isfinite(v))
        snprintf(buf, size, "%.6f", v);
    else
        snprintf(buf, size, "null");
}

/* How often the run was tested before: the uses of its test.json (1 for a
 * test.json written before the count was kept), 0 without one. */
static int earlier_uses(const char *path)
{
    char *old = cnn_file_text_or_null(path);
    if (!old)
        return 0;
    const char *u = strstr(old, "\"uses\": ");
    int uses = u ? atoi(u + 8) : 1;
    free(old);
    return uses > 0 ? uses : 1;
}

/* r: the run's own evaluation (with TTA when tta > 0); plain: without TTA;
 * uses: how often the test set has now been used on this run */
static cnn_status write_json(const char *path, const char *model, const cnn_eval_result *r,
                             int tta, const cnn_eval_result *plain, int uses,
                             const cnn_dataset *d, cnn_error *err)
{
    char loss[32], loss_plain[32], num[16];
    json_number(r->loss, loss, sizeof loss);
    json_number(plain->loss, loss_plain, sizeof loss_plain);
    const int k_n = r->classes;
    cnn_text t = {0};
    cnn_text_printf(&t, "{\"model\": \"%s\", \"images\": %d, \"accuracy\": %.4f, \"loss\": %s, "
                    "\"tta\": %d, \"accuracy_plain\": %.4f, \"loss_plain\": %s, \"uses\": %d, "
                    "\"per_class\": [", model, r->count, r->accuracy, loss, tta,
                    plain->accuracy, loss_plain, uses);
    for (int k = 0; k < k_n; k++) {
        int total = 0;
        for (int j = 0; j < k_n; j++)
            total += r->confusion[k][j];
        cnn_text_printf(&t, "%s%.4f", k ? ", " : "",
                        total ? (double)r->confusion[k][k] / total : 0.0);
    }
    cnn_text_printf(&t, "], \"classes\": [");
    for (int k = 0; k < k_n; k++) { /* class names may be folder names: escaped */
        cnn_text_printf(&t, "%s", k ? ", " : "");
        cnn_json_string(&t, cnn_dataset_class_name(d, k, num, sizeof num));
    }
    cnn_text_printf(&t, "], \"confusion\": [");
    for (int k = 0; k < k_n; k++) {
        cnn_text_printf(&t, "%s[", k ? ", " : "");
        for (int j = 0; j < k_n; j++)
            cnn_text_printf(&t, "%s%d", j ? ", " : "", r->confusion[k][j]);
        cnn_text_printf(&t, "]");
    }
    cnn_text_printf(&t, "]}\n");
    cnn_status st = cnn_text_write(&t, path, err);
    cnn_text_free(&t);
    return st;
}

/* The confusion matrix as (k, k) row-major, and the class names, for the
 * plot functions; free both with free(). */
static cnn_status confusion_table(const cnn_eval_result *r, const cnn_dataset *d, int **table,
                                  const char ***names, char (**bufs)[16], cnn_error *err)
{
    int k_n = r->classes;
    *table = malloc(sizeof(int) * (size_t)k_n * (size_t)k_n);
    *names = malloc(sizeof(char *) * (size_t)k_n);
    *bufs = malloc(16 * (size_t)k_n);
    if (!*table || !*names || !*bufs)
        return cnn_error_set(err, CNN_STATUS_NO_MEMORY, "no memory for a %dx%d confusion matrix",
                             k_n, k_n);
    for (int k = 0; k < k_n; k++) {
        (*names)[k] = cnn_dataset_class_name(d, k, (*bufs)[k], 16);
        for (int j = 0; j < k_n; j++)
            (*table)[(size_t)k * k_n + j] = r->confusion[k][j];
    }
    return CNN_STATUS_OK;
}

/* RUN_DIR/confusion.csv, and the heat map RUN_DIR/confusion.png/.svg when
 * gnuplot is there (without it, a note says how to get it). */
static cnn_status write_confusion(const char *run, const char *model, const cnn_eval_result *r,
                                  const cnn_dataset *d, cnn_error *err)
{
    char path[4200], title[600];
    size_t end = strlen(run), start;
    while (end > 1 && run[end - 1] == '/')
        end--;
    for (start = end; start > 0 && run[start - 1] != '/'; start--)
        ;
    int *table = NULL;
    const char **names = NULL;
    char(*bufs)[16] = NULL;
    cnn_status st = confusion_table(r, d, &table, &names, &bufs, err);
    if (st)
        goto done;
    snprintf(path, sizeof path, "%s/confusion.csv", run);
    if ((st = cnn_plot_confusion_csv(table, r->classes, names, path, err)))
        goto done;
    printf("wrote %s\n", path);
    snprintf(path, sizeof path, "%s/confusion", run);
    snprintf(title, sizeof title, "%s on the test set (%.*s)", model, (int)(end - start),
             run + start);
    st = cnn_plot_confusion(table, r->classes, names, path, title, err);
    if (st == CNN_STATUS_MISSING_DATA) {
        fprintf(stderr, "cnnlab test: note: confusion.png skipped: %s\n", err->msg);
        st = CNN_STATUS_OK;
    } else if (st == CNN_STATUS_OK) {
        printf("wrote %s.png (and .svg, .gp, .dat)\n", path);
    }
done:
    free(table);
    free(names);
    free(bufs);
    return st;
}

cnn_status cnn_cmd_test(int argc, char **argv, cnn_error *err)
{
    const char *data = NULL, *precision = NULL;
    int threads = omp_get_num_procs(), batch = 250, force = 0, tta = -1;
    const char *positional[1];
    cli_list words = {positional, 1, 0};
    const cli_flag flags[] = {
        {"--data", CLI_STRING, &data, 0, 0, "PATH", "the data (default: where the run's config.txt says it found its data)", NULL},
        {"--threads", CLI_INT, &threads, 1, 1024, "N", "OpenMP threads (default: all cores)", NULL},
        {"--batch-size", CLI_INT, &batch, 1, 65536, "N", "images per forward pass (default 250)", NULL},
        {"--force", CLI_BOOL, &force, 0, 0, NULL, "test again although this run was tested before", NULL},
        {"--precision", CLI_CHOICE, &precision, 0, 0, "P", "fp32 or bf16 (default: the precision the run trained in)", "fp32,bf16"},
        {"--tta", CLI_INT, &tta, 0, 2, "LEVEL", "test-time augmentation (default: the run's own --tta; 0 none, 1 mirror, 2 mirror and 1-pixel translations)", NULL},
    };
    cli_command cmd = {
        .name = "test",
        .usage = "cnnlab test RUN_DIR [options]",
        .about = "Evaluates RUN_DIR/best.weights on the test images of the run's data, prints the "
                 "overall and per-class accuracy and writes RUN_DIR/test.json, the "
                 "confusion matrix RUN_DIR/confusion.csv and, with gnuplot, its heat map "
                 "RUN_DIR/confusion.png (and .svg).",
        CLI_FLAGS(flags),
        .positional = &words,
        .required = "a run folder (RUN_DIR)",
    };
    int help;
    cnn_status st = cli_parse(&cmd, argc, argv, &help, err);
    if (st || help)
        return st;
    const char *run = positional[0];
    char weights[4096], json[4096];
    snprintf(weights, sizeof weights, "%s/best.weights", run);
    snprintf(json, sizeof json, "%s/test.json", run);
    if (cnn_path_exists(json) && !force)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "%s exists: this run was already "
                             "evaluated on the test set; the test set is used once per run (use "
                             "--force to test again)", json);
    omp_set_num_threads(threads);
    cnn_precision prec = CNN_PRECISION_FP32;
    char prec_text[16], act_text[16] = "bf16";
    cnn_run_data_settings rd;
    { /* the run's own settings, from config.txt */
        char path[4096], tta_text[16];
        char *cfg = NULL;
        size_t cfg_size;
        snprintf(path, sizeof path, "%s/config.txt", run);
        if (cnn_path_exists(path) && (st = cnn_file_read_text(path, &cfg, &cfg_size, err)))
            return st;
        if ((st = cnn_run_data(cfg, path, &rd, err))) {
            free(cfg);
            return st;
        }
        if (cfg) {
            if (!precision) {
                cnn_kv_get(cfg, "precision", prec_text, sizeof prec_text, "fp32");
                precision = prec_text;
            }
            /* a bf16 run trained with --activations fp32 is evaluated so too */
            cnn_kv_get(cfg, "activations", act_text, sizeof act_text, "bf16");
            if (tta < 0) {
                cnn_kv_get(cfg, "tta", tta_text, sizeof tta_text, "0");
                char *end;
                long v = strtol(tta_text, &end, 10);
                if (end == tta_text || *end || v < 0 || v > 2) {
                    free(cfg);
                    return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                                         "%s: tta: expected 0, 1 or 2, found '%s'", path, tta_text);
                }
                tta = (int)v;
            }
        }
        free(cfg);
        if (tta < 0)
            tta = 0;
    }
    if (precision && !cnn_precision_parse(precision, &prec))
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                             "%s/config.txt: precision: expected fp32 or bf16, found '%s'", run,
                             precision);
    cnn_checkpoint ck;
    cnn_model *m = NULL;
    cnn_plan *p = NULL;
    cnn_dataset test = {0};
    if ((st = cnn_checkpoint_read(weights, &ck, err)))
        return st;
    char model_file[4096];
    snprintf(model_file, sizeof model_file, "%s/model.cnn", run);
    if (data)
        rd.source.path = data;
    cnn_data_info info;
    /* The test set is the run's data's: a model that reads other images or
     * gives other scores is refused before anything is fetched or written. */
    if ((st = cnn_checkpoint_model_shaped(&ck, cnn_path_exists(model_file) ? model_file : NULL,
                                          &rd.shape, weights, &m, err)) ||
        (st = cnn_data_peek(&rd.source, &info, err)) ||
        (st = cnn_model_check_data(m->desc, info.h, info.w, info.c, info.classes, info.name,
                                   err)) ||
        (st = cnn_data_probe(&rd.source, &info, err)) ||
        (st = cnn_data_load(&rd.source, &info, 1, &test, err)) ||
        (st = cnn_plan_create(m, batch, &(cnn_plan_config){.backend = CNN_BACKEND_FAST, .precision = prec,
                                                       .conv = CNN_CONV_AUTO,
                                                       .fp32_activations = strcmp(act_text, "fp32") == 0},
                              0, &p, err)))
        goto done;
    cnn_plan_freeze(p); /* the weights stay as loaded: prepare them once */
    int *idx = malloc(sizeof(int) * (size_t)test.count);
    for (int i = 0; i < test.count; i++)
        idx[i] = i;
    cnn_eval_result res, plain;
    cnn_evaluate(p, m, &test, idx, test.count, &ck.norm, &plain);
    res = plain;
    if (tta > 0)
        cnn_evaluate_tta(p, m, &test, idx, test.count, &ck.norm, tta, &res);
    free(idx);
    if (tta > 0)
        printf("%s on %d test images: accuracy %.2f%% with TTA level %d (%.2f%% without), "
               "loss %.4f\n", ck.model, res.count, 100 * res.accuracy, tta, 100 * plain.accuracy,
               res.loss);
    else
        printf("%s on %d test images: accuracy %.2f%%, loss %.4f\n", ck.model, res.count,
               100 * res.accuracy, res.loss);
    for (int k = 0; k < res.classes; k++) {
        int total = 0;
        char num[16];
        for (int j = 0; j < res.classes; j++)
            total += res.confusion[k][j];
        printf("  %-10s %6.2f%%\n", cnn_dataset_class_name(&test, k, num, sizeof num),
               total ? 100.0 * res.confusion[k][k] / total : 0.0);
    }
    if ((st = write_json(json, ck.model, &res, tta, &plain, earlier_uses(json) + 1, &test,
                         err)) == CNN_STATUS_OK) {
        printf("wrote %s\n", json);
        st = write_confusion(run, ck.model, &res, &test, err);
    }
done:
    cnn_plan_destroy(p);
    cnn_model_destroy(m);
    cnn_dataset_free(&test);
    cnn_checkpoint_free(&ck);
    return st;
}
