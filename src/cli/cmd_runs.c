/* cmd_runs.c: `cnnlab runs [DIR...] [--sort KEY] [--json]`: one table of
 * every run folder below the folders (runs/ by default), studies as groups:
 * model, dataset, status, epochs, best validation accuracy, test accuracy
 * with how often the test set was used, time, and the settings that differ
 * between the runs listed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnnlab/study.h"
#include "commands.h"
#include "core/core.h"
#include "flags.h"

static const char *const SORT_KEYS = "path,model,status,epochs,val,test,time";
static int sort_key; /* index in SORT_KEYS; qsort has no context argument */

/* descending for the figures (best first), ascending for the words; NaN last */
static int cmp_num(double a, double b)
{
    if (isnan(a) || isnan(b))
        return isnan(a) - isnan(b);
    return a > b ? -1 : a < b;
}

static int cmp_runs(const void *pa, const void *pb)
{
    const cnn_run_entry *a = pa, *b = pb;
    int c = strcmp(a->study, b->study); /* studies stay together */
    if (c)
        return c;
    switch (sort_key) {
    case 1: c = strcmp(a->model, b->model); break;
    case 2: c = strcmp(a->result.status, b->result.status); break;
    case 3: c = cmp_num(a->result.epochs, b->result.epochs); break;
    case 4: c = cmp_num(a->result.best_val_acc, b->result.best_val_acc); break;
    case 5: c = cmp_num(a->test_acc, b->test_acc); break;
    case 6: c = cmp_num(a->result.seconds, b->result.seconds); break;
    default: break;
    }
    return c ? c : strcmp(a->path, b->path);
}

static void json_number(cnn_text *t, double v, const char *fmt)
{
    if (isfinite(v))
        cnn_text_printf(t, fmt, v);
    else
        cnn_text_printf(t, "null");
}

/* one JSON array, a record per run */
static cnn_status print_json(const cnn_run_entry *r, int n, cnn_error *err)
{
    cnn_text t = {0};
    cnn_text_printf(&t, "[");
    for (int i = 0; i < n; i++) {
        cnn_text_printf(&t, "%s\n  {\"run\": ", i ? "," : "");
        cnn_json_string(&t, r[i].path);
        cnn_text_printf(&t, ", \"study\": ");
        if (r[i].study[0])
            cnn_json_string(&t, r[i].study);
        else
            cnn_text_printf(&t, "null");
        cnn_text_printf(&t, ", \"model\": ");
        cnn_json_string(&t, r[i].model);
        cnn_text_printf(&t, ", \"dataset\": ");
        cnn_json_string(&t, r[i].dataset);
        cnn_text_printf(&t, ", \"status\": ");
        cnn_json_string(&t, r[i].result.status);
        cnn_text_printf(&t, ", \"epochs\": %d, \"best_val_acc\": ", r[i].result.epochs);
        json_number(&t, r[i].result.best_val_acc, "%.4f");
        cnn_text_printf(&t, ", \"test_acc\": ");
        json_number(&t, r[i].test_acc, "%.4f");
        cnn_text_printf(&t, ", \"test_uses\": %d, \"seconds\": ", r[i].test_uses);
        json_number(&t, r[i].result.seconds, "%.1f");
        cnn_text_printf(&t, ", \"seed\": ");
        cnn_json_string(&t, r[i].seed);
        cnn_text_printf(&t, ", \"flags\": ");
        cnn_json_string(&t, r[i].flags);
        cnn_text_printf(&t, "}");
    }
    cnn_text_printf(&t, "\n]\n");
    cnn_status st = t.failed ? cnn_error_set(err, CNN_STATUS_NO_MEMORY, "no memory for the JSON")
                             : CNN_STATUS_OK;
    if (!st)
        fputs(cnn_text_str(&t), stdout);
    cnn_text_free(&t);
    return st;
}

/* "12.3 s", "4.5 min", "1.2 h" */
static void duration(double s, char *buf, size_t size)
{
    if (!isfinite(s))
        snprintf(buf, size, "-");
    else if (s < 120)
        snprintf(buf, size, "%.1f s", s);
    else if (s < 7200)
        snprintf(buf, size, "%.1f min", s / 60);
    else
        snprintf(buf, size, "%.1f h", s / 3600);
}

static void print_table(const cnn_run_entry *r, int n)
{
    const char *group = NULL;
    for (int i = 0; i < n; i++) {
        if (!group || strcmp(group, r[i].study) != 0) {
            group = r[i].study;
            int k = 0;
            while (i + k < n && strcmp(r[i + k].study, group) == 0)
                k++;
            if (group[0])
                printf("%sstudy %s (%d run%s)\n", i ? "\n" : "", group, k, k == 1 ? "" : "s");
            else
                printf("%sruns outside studies (%d)\n", i ? "\n" : "", k);
            printf("  %-36s %-14s %-8s %-13s %6s %8s %12s %9s  %s\n", "run", "model", "dataset",
                   "status", "epochs", "best val", "test (uses)", "time", "settings that differ");
        }
        const char *name = r[i].path;
        size_t sl = strlen(group);
        if (sl && strncmp(name, group, sl) == 0 && name[sl] == '/')
            name += sl + 1; /* below its study */
        else
            name += r[i].below; /* below the folder given */
        char val[16] = "-", test[24] = "-", time[24];
        if (isfinite(r[i].result.best_val_acc))
            snprintf(val, sizeof val, "%.2f%%", 100 * r[i].result.best_val_acc);
        if (isfinite(r[i].test_acc))
            snprintf(test, sizeof test, "%.2f%% (%d)", 100 * r[i].test_acc, r[i].test_uses);
        duration(r[i].result.seconds, time, sizeof time);
        printf("  %-36s %-14s %-8s %-13s %6d %8s %12s %9s  seed=%s%s%s\n", name, r[i].model,
               r[i].dataset, r[i].result.status, r[i].result.epochs, val, test, time, r[i].seed,
               r[i].flags[0] ? " " : "", r[i].flags);
    }
}

cnn_status cnn_cmd_runs(int argc, char **argv, cnn_error *err)
{
    const char *sort = "path", *dirs[64];
    int json = 0;
    cli_list words = {dirs, 64, 0};
    const cli_flag flags[] = {
        {"--sort", CLI_CHOICE, &sort, 0, 0, "KEY", "order within each group: path (default), model, status, epochs, val, test, time (figures best first)", SORT_KEYS},
        {"--json", CLI_BOOL, &json, 0, 0, NULL, "print one JSON array, a record per run", NULL},
    };
    cli_command cmd = {
        .name = "runs",
        .usage = "cnnlab runs [DIR...] [options]",
        .about = "Lists every run folder below the folders (default: runs): model, dataset, "
                 "status, epochs, best validation accuracy, test accuracy and how often the "
                 "test set was used, training time, the seed and the settings that differ "
                 "between the runs listed. The runs of a study (a folder with study.txt) are "
                 "listed together under it.",
        CLI_FLAGS(flags),
        .positional = &words,
    };
    int help;
    cnn_status st = cli_parse(&cmd, argc, argv, &help, err);
    if (st || help)
        return st;
    if (words.count == 0)
        dirs[words.count++] = "runs";
    cnn_run_entry *runs;
    int n;
    if ((st = cnn_runs_find(dirs, words.count, &runs, &n, err)))
        return st;
    cnn_runs_differing(runs, n);
    const char *k = SORT_KEYS;
    for (sort_key = 0; strncmp(k, sort, strlen(sort)) != 0 || (k[strlen(sort)] != ',' &&
                                                              k[strlen(sort)] != 0);
         sort_key++)
        k = strchr(k, ',') + 1;
    qsort(runs, (size_t)n, sizeof *runs, cmp_runs);
    if (json)
        st = print_json(runs, n, err);
    else if (n == 0)
        printf("no run folders (a folder with config.txt) below %s%s\n", dirs[0],
               words.count > 1 ? " and the others" : "");
    else
        print_table(runs, n);
    cnn_runs_free(runs, n);
    return st;
}
