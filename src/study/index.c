/* index.c: every run folder below some folders, for `cnnlab runs`: found by
 * walking the tree (a folder with config.txt is a run; a folder with
 * study.txt is a study, whose runs are grouped under it), each read back as
 * a study result (metrics.csv, status.txt), its test.json, and the settings
 * that differ between the runs listed. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cnnlab/study.h"
#include "core/core.h"
#include "study/view.h"

#define MAX_DEPTH 8

typedef struct walker {
    cnn_run_entry *runs;
    int n, cap;
    int failed;
} walker;

static int has_file(const char *dir, const char *name)
{
    char path[4400];
    struct stat st;
    snprintf(path, sizeof path, "%.4000s/%.200s", dir, name);
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* test.json's "accuracy" and "uses" (1 when a test.json has none: the
 * tests before the count was kept) */
static void read_test(const char *dir, cnn_run_entry *r)
{
    r->test_acc = NAN;
    r->test_uses = 0;
    char *t = cnn_study_read_text(dir, "test.json");
    if (!t)
        return;
    const char *a = strstr(t, "\"accuracy\": ");
    if (a)
        r->test_acc = strtod(a + 12, NULL);
    const char *u = strstr(t, "\"uses\": ");
    r->test_uses = u ? (int)strtol(u + 8, NULL, 10) : 1;
    free(t);
}

static void add_run(walker *w, const char *dir, const char *study)
{
    if (w->n == w->cap) {
        int cap = w->cap ? 2 * w->cap : 64;
        cnn_run_entry *a = realloc(w->runs, sizeof *a * (size_t)cap);
        if (!a) {
            w->failed = 1;
            return;
        }
        w->runs = a;
        w->cap = cap;
    }
    cnn_run_entry *r = &w->runs[w->n++];
    memset(r, 0, sizeof *r);
    snprintf(r->path, sizeof r->path, "%s", dir);
    snprintf(r->study, sizeof r->study, "%s", study ? study : "");
    r->config = cnn_study_read_text(dir, "config.txt");
    const char *cfg = r->config ? r->config : "";
    cnn_kv_get(cfg, "model", r->model, sizeof r->model, "?");
    /* the data a run trained on: CIFAR-10 unless its config.txt names another */
    cnn_kv_get(cfg, "dataset", r->dataset, sizeof r->dataset, "cifar10");
    cnn_kv_get(cfg, "seed", r->seed, sizeof r->seed, "?");
    cnn_study_read_result(dir, NULL, &r->result);
    read_test(dir, r);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void walk(walker *w, const char *dir, const char *study, int depth)
{
    if (has_file(dir, "config.txt")) { /* a run: nothing below it is */
        add_run(w, dir, study);
        return;
    }
    if (depth >= MAX_DEPTH)
        return;
    if (has_file(dir, "study.txt"))
        study = dir;
    DIR *d = opendir(dir);
    if (!d)
        return;
    char **names = NULL;
    int n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[4400];
        struct stat st;
        if (snprintf(path, sizeof path, "%.4000s/%.255s", dir, e->d_name) >= 4096 ||
            lstat(path, &st) != 0 || !S_ISDIR(st.st_mode)) /* no symbolic links: no cycles */
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 32;
            char **a = realloc(names, sizeof *a * (size_t)cap);
            if (!a)
                break;
            names = a;
        }
        if (!(names[n] = strdup(e->d_name)))
            break;
        n++;
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, by_name);
    for (int i = 0; i < n; i++) {
        char path[4400];
        if (snprintf(path, sizeof path, "%.4000s/%.255s", dir, names[i]) < 4096)
            walk(w, path, study, depth + 1);
        free(names[i]);
    }
    free(names);
}

cnn_status cnn_runs_find(const char *const *dirs, int n_dirs, cnn_run_entry **out, int *count,
                         cnn_error *err)
{
    walker w = {0};
    for (int i = 0; i < n_dirs; i++) {
        struct stat st;
        if (stat(dirs[i], &st) != 0 || !S_ISDIR(st.st_mode)) {
            cnn_runs_free(w.runs, w.n);
            return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "%s: expected a folder of "
                                 "runs, found %s", dirs[i], stat(dirs[i], &st) ? "nothing"
                                                                              : "a file");
        }
        size_t len = strlen(dirs[i]);
        char dir[4096];
        snprintf(dir, sizeof dir, "%.*s", (int)(len > 1 && dirs[i][len - 1] == '/' ? len - 1 : len),
                 dirs[i]);
        int first = w.n;
        walk(&w, dir, NULL, 0);
        for (int r = first; r < w.n; r++)
            w.runs[r].below = strncmp(w.runs[r].path, dir, strlen(dir)) == 0 &&
                                      w.runs[r].path[strlen(dir)] == '/' ? (int)strlen(dir) + 1 : 0;
    }
    if (w.failed) {
        cnn_runs_free(w.runs, w.n);
        return cnn_error_set(err, CNN_STATUS_NO_MEMORY, "no memory for the list of runs");
    }
    *out = w.runs;
    *count = w.n;
    return CNN_STATUS_OK;
}

/* Whether "key" is a word of the space-separated list ("k=v k=v"), by key. */
static int listed(const char *keys, const char *key, size_t klen)
{
    for (const char *p = keys; *p;) {
        size_t n = strcspn(p, " ");
        if (n == klen && strncmp(p, key, klen) == 0)
            return 1;
        p += n;
        while (*p == ' ')
            p++;
    }
    return 0;
}

void cnn_runs_differing(cnn_run_entry *runs, int n)
{
    /* The keys some run sets otherwise than the first (cnn_study_config_diff
     * leaves out the machine's and the seed's): together, every key whose
     * value is not the same in all runs. */
    char keys[2048] = "", diff[1024];
    size_t used = 0;
    for (int i = 1; i < n; i++) {
        if (!runs[0].config || !runs[i].config)
            continue;
        cnn_study_config_diff(runs[0].config, runs[i].config, diff, sizeof diff);
        for (const char *p = diff; *p;) {
            size_t len = strcspn(p, " "), klen = strcspn(p, "=");
            if (klen > len)
                klen = len;
            /* the model has its own column; its parameter count follows from it */
            int shown = !(klen == 5 && strncmp(p, "model", 5) == 0) &&
                        !(klen == 10 && strncmp(p, "parameters", 10) == 0);
            if (shown && !listed(keys, p, klen) && used + klen + 2 < sizeof keys)
                used += (size_t)snprintf(keys + used, sizeof keys - used, "%s%.*s",
                                         used ? " " : "", (int)klen, p);
            p += len;
            while (*p == ' ')
                p++;
        }
    }
    for (int i = 0; i < n; i++) {
        cnn_fixbuf b = {runs[i].flags, sizeof runs[i].flags, 0};
        runs[i].flags[0] = 0;
        for (const char *p = keys; *p;) {
            size_t klen = strcspn(p, " ");
            char key[128], value[256];
            snprintf(key, sizeof key, "%.*s", (int)(klen < sizeof key ? klen : sizeof key - 1), p);
            cnn_kv_get(runs[i].config ? runs[i].config : "", key, value, sizeof value, "(none)");
            cnn_fixbuf_printf(&b, "%s%s=%s", b.used ? " " : "", key, value[0] ? value : "\"\"");
            p += klen;
            while (*p == ' ')
                p++;
        }
    }
}

void cnn_runs_free(cnn_run_entry *runs, int n)
{
    for (int i = 0; i < n; i++)
        free(runs[i].config);
    free(runs);
}
