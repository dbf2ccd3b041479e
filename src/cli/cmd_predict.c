/* cmd_predict.c: `cnnlab predict RUN_DIR FILE|FOLDER... [--top K] [--json]
 * [--tta LEVEL]`: each image's top-K classes by name with probabilities, as
 * the run's best weights see it.
 *
 * The images are read as the run's data was: PNG or JPEG through
 * cnn_image_read at the run's input shape (config.txt's input), normalised
 * with the weights' statistics; the answer is cnn_predict_logits (the logits
 * `cnnlab test` scores, with the run's TTA level unless --tta), softmaxed.
 * A folder stands for its image files (recursively, '.' names left out, in
 * name order). Nothing is written; the test set is not touched. A file that
 * is not a readable image stops the command before any answer, naming it. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cnnlab/cnnlab.h"
#include "commands.h"
#include "core/core.h"
#include "flags.h"
#include "text.h"

#define MAX_FILES 1000000

typedef struct file_list {
    char **path;
    int n, cap;
} file_list;

static void files_free(file_list *l)
{
    for (int i = 0; i < l->n; i++)
        free(l->path[i]);
    free(l->path);
}

static cnn_status files_add(file_list *l, const char *path, cnn_error *err)
{
    if (l->n == MAX_FILES)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "predict: more than %d images; "
                             "give fewer at a time", MAX_FILES);
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        char **grown = realloc(l->path, (size_t)l->cap * sizeof *grown);
        if (!grown)
            return cnn_error_set(err, CNN_STATUS_NO_MEMORY, "predict: no memory");
        l->path = grown;
    }
    if (!(l->path[l->n] = strdup(path)))
        return cnn_error_set(err, CNN_STATUS_NO_MEMORY, "predict: no memory");
    l->n++;
    return CNN_STATUS_OK;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* path, or the files under it when it is a folder, in name order. */
static cnn_status collect(const char *path, file_list *l, int depth, cnn_error *err)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "%s: no such file or folder",
                             path);
    if (!S_ISDIR(sb.st_mode))
        return files_add(l, path, err);
    if (depth > 32)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "%s: folders nested too deep",
                             path);
    DIR *d = opendir(path);
    if (!d)
        return cnn_error_set(err, CNN_STATUS_IO, "%s: cannot open the folder", path);
    file_list here = {0};
    cnn_status st = CNN_STATUS_OK;
    for (struct dirent *e; !st && (e = readdir(d));)
        if (e->d_name[0] != '.') {
            char child[8192];
            snprintf(child, sizeof child, "%s/%s", path, e->d_name);
            st = files_add(&here, child, err);
        }
    closedir(d);
    if (here.n > 1)
        qsort(here.path, (size_t)here.n, sizeof *here.path, name_cmp);
    for (int i = 0; !st && i < here.n; i++)
        st = collect(here.path[i], l, depth + 1, err);
    files_free(&here);
    return st;
}

static void print_answer(const char *file, const float *logits, int classes, int top,
                         char **names, int json, int first)
{
    double mx = logits[0], z = 0;
    for (int k = 1; k < classes; k++)
        mx = logits[k] > mx ? logits[k] : mx;
    for (int k = 0; k < classes; k++)
        z += exp((double)logits[k] - mx);
    int order[CNN_DATA_MAX_CLASSES];
    for (int k = 0; k < classes; k++)
        order[k] = k;
    for (int a = 0; a < top; a++) /* the top entries, by selection (ties: the lower class) */
        for (int b = a + 1; b < classes; b++)
            if (logits[order[b]] > logits[order[a]]) {
                int t = order[a];
                order[a] = order[b];
                order[b] = t;
            }
    cnn_text t = {0};
    if (json) {
        cnn_text_printf(&t, "%s{\"file\": ", first ? "" : ",\n ");
        cnn_json_string(&t, file);
        cnn_text_printf(&t, ", \"top\": [");
        for (int a = 0; a < top; a++) {
            cnn_text_printf(&t, "%s{\"class\": ", a ? ", " : "");
            cnn_json_string(&t, names[order[a]]);
            cnn_text_printf(&t, ", \"label\": %d, \"probability\": %.6f}", order[a],
                            exp((double)logits[order[a]] - mx) / z);
        }
        cnn_text_printf(&t, "]}");
    } else {
        cnn_text_printf(&t, "%s:", file);
        for (int a = 0; a < top; a++)
            cnn_text_printf(&t, "%s %s %.4f", a ? "," : "", names[order[a]],
                            exp((double)logits[order[a]] - mx) / z);
        cnn_text_printf(&t, "\n");
    }
    fputs(cnn_text_str(&t), stdout);
    cnn_text_free(&t);
}

cnn_status cnn_cmd_predict(int argc, char **argv, cnn_error *err)
{
    int top = 5, json = 0, tta = -1, threads = omp_get_num_procs(), batch = 64;
    const char *positional[4096];
    cli_list words = {positional, 4096, 0};
    const cli_flag flags[] = {
        {"--top", CLI_INT, &top, 1, CNN_DATA_MAX_CLASSES, "K", "classes shown per image, most likely first (default 5, at most the run's classes)", NULL},
        {"--json", CLI_BOOL, &json, 0, 0, NULL, "one JSON array of {file, top: [{class, label, probability}]}", NULL},
        {"--tta", CLI_INT, &tta, 0, 2, "LEVEL", "test-time augmentation (default: the run's own --tta; 0 none, 1 mirror, 2 mirror and 1-pixel translations)", NULL},
        {"--threads", CLI_INT, &threads, 1, 1024, "N", "OpenMP threads (default: all cores)", NULL},
        {"--batch-size", CLI_INT, &batch, 1, 65536, "N", "images per forward pass (default 64)", NULL},
    };
    cli_command cmd = {
        .name = "predict",
        .usage = "cnnlab predict RUN_DIR FILE|FOLDER... [options]",
        .about = "Shows each image's most likely classes, by name with probabilities, as "
                 "RUN_DIR/best.weights sees it. PNG and JPEG files are read, converted and "
                 "resized as the run's training data was; a folder stands for the images in it. "
                 "Nothing is written and the test set is not touched.",
        CLI_FLAGS(flags),
        .positional = &words,
        .required = "a run folder (RUN_DIR) and images",
    };
    int help;
    cnn_status st = cli_parse(&cmd, argc, argv, &help, err);
    if (st || help)
        return st;
    if (words.count < 2)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "predict: expected RUN_DIR and "
                             "at least one image file or folder, found %s",
                             words.count ? "no image" : "nothing");
    omp_set_num_threads(threads);
    const char *run = positional[0];
    char path[4200], weights[4200], model_file[4200];
    snprintf(path, sizeof path, "%s/config.txt", run);
    snprintf(weights, sizeof weights, "%s/best.weights", run);
    snprintf(model_file, sizeof model_file, "%s/model.cnn", run);
    char *cfg = NULL;
    size_t cfg_size;
    if (!cnn_path_exists(path))
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "%s: not found; expected a run "
                             "folder made by `cnnlab train`", path);
    if ((st = cnn_file_read_text(path, &cfg, &cfg_size, err)))
        return st;
    cnn_run_data_settings rd;
    char tta_text[16];
    st = cnn_run_data(cfg, path, &rd, err);
    cnn_kv_get(cfg, "tta", tta_text, sizeof tta_text, "0");
    free(cfg);
    if (st)
        return st;
    if (tta < 0)
        tta = atoi(tta_text) < 0 || atoi(tta_text) > 2 ? 0 : atoi(tta_text);
    file_list files = {0};
    for (int i = 1; i < words.count && !st; i++)
        st = collect(positional[i], &files, 0, err);
    if (!st && files.n == 0)
        st = cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "predict: no image files in %s",
                           positional[1]);
    cnn_checkpoint ck = {0};
    cnn_model *m = NULL;
    cnn_plan *p = NULL;
    cnn_dataset d = {0};
    float *logits = NULL;
    char **names = NULL;
    const cnn_data_shape *sh = &rd.shape;
    if (st || (st = cnn_checkpoint_read(weights, &ck, err)) ||
        (st = cnn_checkpoint_model_shaped(&ck, cnn_path_exists(model_file) ? model_file : NULL,
                                          sh, weights, &m, err)))
        goto done;
    if (m->desc->in_c != sh->c || m->desc->in_c > CNN_DATA_MAX_CHANNELS) {
        st = cnn_error_set(err, CNN_STATUS_FORMAT, "%s: the model reads %d channels; expected "
                           "1 or 3 as config.txt's input says", run, m->desc->in_c);
        goto done;
    }
    /* every image first: a bad one stops the command before any answer */
    size_t bytes = (size_t)sh->c * (size_t)sh->h * (size_t)sh->w;
    d = (cnn_dataset){.count = files.n, .pixels = cnn_alloc((size_t)files.n * bytes),
                      .labels = cnn_alloc((size_t)files.n)};
    logits = malloc(sizeof(float) * (size_t)files.n * (size_t)sh->classes);
    names = cnn_cli_class_names(run, sh->classes);
    if (!d.pixels || !d.labels || !logits || !names) {
        st = cnn_error_set(err, CNN_STATUS_NO_MEMORY, "predict: no memory for %d images",
                           files.n);
        goto done;
    }
    if ((st = cnn_dataset_set_shape(&d, sh->c, sh->h, sh->w, sh->classes, NULL, err)))
        goto done;
    for (int i = 0; i < files.n && !st; i++)
        st = cnn_image_read(files.path[i], sh->c, sh->h, sh->w, d.pixels + (size_t)i * bytes,
                            err);
    if (st || (st = cnn_plan_create(m, files.n < batch ? files.n : batch,
                                    &(cnn_plan_config){.backend = CNN_BACKEND_FAST,
                                                       .precision = CNN_PRECISION_FP32,
                                                       .conv = CNN_CONV_AUTO}, 0, &p, err)))
        goto done;
    cnn_plan_freeze(p);
    cnn_predict_logits(p, m, &d, NULL, files.n, &ck.norm, tta, logits);
    if (top > sh->classes)
        top = sh->classes;
    if (json)
        printf("[");
    for (int i = 0; i < files.n; i++)
        print_answer(files.path[i], logits + (size_t)i * sh->classes, sh->classes, top, names,
                     json, i == 0);
    if (json)
        printf("]\n");
done:
    cnn_cli_class_names_free(names, sh->classes);
    free(logits);
    cnn_dataset_free(&d);
    cnn_plan_destroy(p);
    cnn_model_destroy(m);
    cnn_checkpoint_free(&ck);
    files_free(&files);
    return st;
}
