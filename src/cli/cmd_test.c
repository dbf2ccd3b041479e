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
                             int tta, const cnn_eval_result *plain, int uses, cnn_error *err)
{
    char text[4096], loss[32], loss_plain[32];
    json_number(r->loss, loss, sizeof loss);
    json_number(plain->loss, loss_plain, sizeof loss_plain);
    int n = snprintf(text, sizeof text,
                     "{\"model\": \"%s\", \"images\": %d, \"accuracy\": %.4f, \"loss\": %s, "
                     "\"tta\": %d, \"accuracy_plain\": %.4f, \"loss_plain\": %s, \"uses\": %d, "
                     "\"per_class\": [", model, r->count, r->accuracy, loss, tta,
                     plain->accuracy, loss_plain, uses);
    for (int k = 0; k < CNN_CIFAR_CLASSES; k++) {
        int total = 0;
        for (int j = 0; j < CNN_CIFAR_CLASSES; j++)
            total += r->confusion[k][j];
        n += snprintf(text + n, sizeof text - (size_t)n, "%s%.4f", k ? ", " : "",
                      total ? (double)r->confusion[k][k] / total : 0.0);
    }
    n += snprintf(text + n, sizeof text - (size_t)n, "], \"classes\": [");
    for (int k = 0; k < CNN_CIFAR_CLASSES; k++)
        n += snprintf(text + n, sizeof text - (size_t)n, "%s\"%s\"", k ? ", " : "",
                      cnn_cifar_class_names[k]);
    n += snprintf(text + n, sizeof text - (size_t)n, "], \"confusion\": [");
    for (int k = 0; k < CNN_CIFAR_CLASSES; k++) {
        n += snprintf(text + n, sizeof text - (size_t)n, "%s[", k ? ", " : "");
        for (int j = 0; j < CNN_CIFAR_CLASSES; j++)
            n += snprintf(text + n, sizeof text - (size_t)n, "%s%d", j ? ", " : "",
                          r->confusion[k][j]);
        n += snprintf(text + n, sizeof text - (size_t)n, "]");
    }
    n += snprintf(text + n, sizeof text - (size_t)n, "]}\n");
    return cnn_file_write_atomic(path, text, (size_t)n, err);
}

/* RUN_DIR/confusion.csv, and the heat map RUN_DIR/confusion.png/.svg when
 * gnuplot is there (without it, a note says how to get it). */
static cnn_status write_confusion(const char *run, const char *model, const cnn_eval_result *r,
                                  cnn_error *err)
{
    char path[4200], title[600];
    size_t end = strlen(run), start;
    while (end > 1 && run[end - 1] == '/')
        end--;
    for (start = end; start > 0 && run[start - 1] != '/'; start--)
        ;
    snprintf(path, sizeof path, "%s/confusion.csv", run);
    cnn_status st = cnn_plot_confusion_csv(&r->confusion[0][0], CNN_CIFAR_CLASSES,
                                           cnn_cifar_class_names, path, err);
    if (st)
        return st;
    printf("wrote %s\n", path);
    snprintf(path, sizeof path, "%s/confusion", run);
    snprintf(title, sizeof title, "%s on the test set (%.*s)", model, (int)(end - start),
             run + start);
    st = cnn_plot_confusion(&r->confusion[0][0], CNN_CIFAR_CLASSES, cnn_cifar_class_names, path,
                            title, err);
    if (st == CNN_STATUS_MISSING_DATA) {
        fprintf(stderr, "cnnlab test: note: confusion.png skipped: %s\n", err->msg);
        return CNN_STATUS_OK;
    }
    if (st == CNN_STATUS_OK)
        printf("wrote %s.png (and .svg, .gp, .dat)\n", path);
    return st;
}

cnn_status cnn_cmd_test(int argc, char **argv, cnn_error *err)
{
    const char *data = NULL, *precision = NULL;
    int threads = omp_get_num_procs(), batch = 250, force = 0, tta = -1;
    const char *positional[1];
    cli_list words = {positional, 1, 0};
    const cli_flag flags[] = {
        {"--data", CLI_STRING, &data, 0, 0, "DIR", "the cifar-10-batches-bin folder", NULL},
        {"--threads", CLI_INT, &threads, 1, 1024, "N", "OpenMP threads (default: all cores)", NULL},
        {"--batch-size", CLI_INT, &batch, 1, 65536, "N", "images per forward pass (default 250)", NULL},
        {"--force", CLI_BOOL, &force, 0, 0, NULL, "test again although this run was tested before", NULL},
        {"--precision", CLI_CHOICE, &precision, 0, 0, "P", "fp32 or bf16 (default: the precision the run trained in)", "fp32,bf16"},
        {"--tta", CLI_INT, &tta, 0, 2, "LEVEL", "test-time augmentation (default: the run's own --tta; 0 none, 1 mirror, 2 mirror and 1-pixel translations)", NULL},
    };
    cli_command cmd = {
        .name = "test",
        .usage = "cnnlab test RUN_DIR [options]",
        .about = "Evaluates RUN_DIR/best.weights on the 10,000 test images, prints the "
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
    char weights[4096], json[4096], dir[4096];
    snprintf(weights, sizeof weights, "%s/best.weights", run);
    snprintf(json, sizeof json, "%s/test.json", run);
    if (cnn_path_exists(json) && !force)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "%s exists: this run was already "
                             "evaluated on the test set; the test set is used once per run (use "
                             "--force to test again)", json);
    omp_set_num_threads(threads);
    cnn_precision prec = CNN_PRECISION_FP32;
    char prec_text[16];
    if (!precision || tta < 0) { /* the run's own, from config.txt */
        char path[4096], tta_text[16];
        char *cfg = NULL;
        size_t cfg_size;
        snprintf(path, sizeof path, "%s/config.txt", run);
        if (cnn_path_exists(path) && (st = cnn_file_read_text(path, &cfg, &cfg_size, err)))
            return st;
        if (cfg) {
            if (!precision) {
                cnn_kv_get(cfg, "precision", prec_text, sizeof prec_text, "fp32");
                precision = prec_text;
            }
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
    /* The test set is CIFAR-10's: a model that reads other images or gives
     * other scores is refused before anything is fetched or written. */
    if ((st = cnn_checkpoint_model(&ck, cnn_path_exists(model_file) ? model_file : NULL, weights,
                                   &m, err)) ||
        (st = cnn_model_check_data(m->desc, CNN_CIFAR_SIDE, CNN_CIFAR_SIDE, CNN_CIFAR_CHANNELS,
                                   CNN_CIFAR_CLASSES, "CIFAR-10", err)) ||
        (st = cnn_cifar_locate(data, 1, dir, sizeof dir, err)) ||
        (st = cnn_cifar_load_test(dir, &test, err)) ||
        (st = cnn_plan_create(m, batch, &(cnn_plan_config){CNN_BACKEND_FAST, prec, CNN_CONV_AUTO}, 0, &p, err)))
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
    for (int k = 0; k < CNN_CIFAR_CLASSES; k++) {
        int total = 0;
        for (int j = 0; j < CNN_CIFAR_CLASSES; j++)
            total += res.confusion[k][j];
        printf("  %-10s %6.2f%%\n", cnn_cifar_class_names[k],
               total ? 100.0 * res.confusion[k][k] / total : 0.0);
    }
    if ((st = write_json(json, ck.model, &res, tta, &plain, earlier_uses(json) + 1, err)) ==
        CNN_STATUS_OK) {
        printf("wrote %s\n", json);
        st = write_confusion(run, ck.model, &res, err);
    }
done:
    cnn_plan_destroy(p);
    cnn_model_destroy(m);
    cnn_dataset_free(&test);
    cnn_checkpoint_free(&ck);
    return st;
}
