/* builtin.c: where model descriptions come from. The built-in models are the
 * files in models/, compiled in (tools/embed_models.sh writes the table in
 * embedded.h at build time), parsed on first use; cnn_model_load also reads
 * the user's files and built-ins with variables set.
 *
 * Invariant: every description this file hands out belongs to a parsed model
 * file that is kept until the program ends (cnn_model_find's callers hold the
 * pointers without owning them), and is either a built-in or in the load cache,
 * so cnn_model_file_of can find the file behind it. This is the library's one
 * piece of global state: an append-only cache, filled on first use (load
 * models from one thread).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnnlab/model.h"
#include "core/core.h"
#include "models/embedded.h"

typedef struct loaded {
    cnn_model_file *file;
    char *name, *vars; /* what cnn_model_load was asked for */
    struct loaded *next;
} loaded;

static cnn_model_file **builtin_files; /* in the order of cnn_embedded_models */
static const cnn_model_desc **builtin_list; /* NULL-terminated, in natural name order */
static int builtin_count;
static loaded *cache;

/* "resnet20" before "resnet110": digit runs compare as numbers. */
static int natural_cmp(const char *a, const char *b)
{
    while (*a && *b) {
        if (*a >= '0' && *a <= '9' && *b >= '0' && *b <= '9') {
            char *ea, *eb;
            unsigned long x = strtoul(a, &ea, 10), y = strtoul(b, &eb, 10);
            if (x != y)
                return x < y ? -1 : 1;
            a = ea, b = eb;
        } else if (*a != *b) {
            return (unsigned char)*a < (unsigned char)*b ? -1 : 1;
        } else {
            a++, b++;
        }
    }
    return (unsigned char)*a - (unsigned char)*b;
}

static int desc_cmp(const void *x, const void *y)
{
    const cnn_model_desc *a = *(const cnn_model_desc *const *)x, *b = *(const cnn_model_desc *const *)y;
    return natural_cmp(a->name, b->name);
}

static void load_builtins(void)
{
    if (builtin_list)
        return;
    while (cnn_embedded_models[builtin_count].path)
        builtin_count++;
    builtin_files = calloc((size_t)builtin_count + 1, sizeof *builtin_files);
    builtin_list = calloc((size_t)builtin_count + 1, sizeof *builtin_list);
    CNN_ASSERT(builtin_files && builtin_list);
    for (int i = 0; i < builtin_count; i++) {
        cnn_error err;
        const cnn_embedded_model *e = &cnn_embedded_models[i];
        if (cnn_model_file_parse(e->path, e->text, NULL, &builtin_files[i], &err)) {
            fprintf(stderr, "cnnlab: built-in model file broken: %s\n", err.msg);
            CNN_ASSERT(!"every built-in model file parses");
        }
        builtin_list[i] = &builtin_files[i]->desc;
    }
    qsort(builtin_list, (size_t)builtin_count, sizeof *builtin_list, desc_cmp);
}

const cnn_model_desc *const *cnn_model_builtins(void)
{
    load_builtins();
    return builtin_list;
}

const cnn_model_desc *cnn_model_find(const char *name)
{
    load_builtins();
    for (int i = 0; i < builtin_count; i++)
        if (strcmp(builtin_list[i]->name, name) == 0)
            return builtin_list[i];
    return NULL;
}

const cnn_model_file *cnn_model_file_of(const cnn_model_desc *d)
{
    load_builtins();
    for (int i = 0; i < builtin_count; i++)
        if (&builtin_files[i]->desc == d)
            return builtin_files[i];
    for (loaded *l = cache; l; l = l->next)
        if (&l->file->desc == d)
            return l->file;
    return NULL;
}

static int is_path(const char *s)
{
    size_t n = strlen(s);
    return strchr(s, '/') || (n > 4 && strcmp(s + n - 4, ".cnn") == 0);
}

static cnn_status unknown(const char *name, cnn_error *err)
{
    char names[1024];
    size_t used = 0;
    names[0] = 0;
    for (int i = 0; i < builtin_count && used < sizeof names; i++)
        used += (size_t)snprintf(names + used, sizeof names - used, "%s%s", i ? ", " : "",
                                 builtin_list[i]->name);
    return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "unknown model '%s'; expected a "
                         "built-in (%s) or a model file (a path containing '/' or ending in "
                         ".cnn)", name, names);
}

cnn_status cnn_model_load(const char *name_or_path, const char *vars, const cnn_model_desc **out,
                          cnn_error *err)
{
    return cnn_model_load_shaped(name_or_path, vars, NULL, out, err);
}

/* cnn_model_load_shaped with its cache key: the variables, then the shape
 * when there is one. */
static cnn_status load_keyed(const char *name_or_path, const char *vars, const char *key,
                             const cnn_data_shape *shape, const cnn_model_desc **out,
                             cnn_error *err)
{
    int path = is_path(name_or_path);
    const cnn_model_desc *builtin = path ? NULL : cnn_model_find(name_or_path);
    if (!path && !builtin)
        return unknown(name_or_path, err);
    if (builtin && !*vars && !shape) {
        *out = builtin;
        return CNN_STATUS_OK;
    }
    for (loaded *l = cache; l; l = l->next)
        if (!strcmp(l->name, name_or_path) && !strcmp(l->vars, key)) {
            *out = &l->file->desc;
            return CNN_STATUS_OK;
        }
    cnn_model_file *f;
    const cnn_model_file *bf = builtin ? cnn_model_file_of(builtin) : NULL;
    cnn_status st = bf ? cnn_model_file_parse_shaped(bf->path, bf->text, vars, shape, &f, err)
                       : cnn_model_file_read_shaped(name_or_path, vars, shape, &f, err);
    if (st)
        return st;
    loaded *l = calloc(1, sizeof *l);
    if (l) {
        l->name = malloc(strlen(name_or_path) + 1);
        l->vars = malloc(strlen(key) + 1);
    }
    if (!l || !l->name || !l->vars) {
        if (l)
            free(l->name), free(l->vars);
        free(l);
        cnn_model_file_free(f);
        return cnn_error_set(err, CNN_STATUS_NO_MEMORY, "%s: no memory", name_or_path);
    }
    strcpy(l->name, name_or_path);
    strcpy(l->vars, key);
    l->file = f;
    l->next = cache;
    cache = l;
    *out = &f->desc;
    return CNN_STATUS_OK;
}

cnn_status cnn_model_load_shaped(const char *name_or_path, const char *vars,
                                 const cnn_data_shape *shape, const cnn_model_desc **out,
                                 cnn_error *err)
{
    load_builtins();
    *out = NULL;
    if (!vars)
        vars = "";
    const cnn_data_shape cifar = CNN_DATA_SHAPE_DEFAULT;
    if (shape && shape->h == cifar.h && shape->w == cifar.w && shape->c == cifar.c &&
        shape->classes == cifar.classes)
        shape = NULL; /* the built-ins as parsed */
    if (!shape)
        return load_keyed(name_or_path, vars, vars, NULL, out, err);
    size_t size = strlen(vars) + 64;
    char *key = malloc(size);
    if (!key)
        return cnn_error_set(err, CNN_STATUS_NO_MEMORY, "%s: no memory", name_or_path);
    snprintf(key, size, "%s\n%dx%dx%d/%d", vars, shape->h, shape->w, shape->c, shape->classes);
    cnn_status st = load_keyed(name_or_path, vars, key, shape, out, err);
    free(key);
    return st;
}
