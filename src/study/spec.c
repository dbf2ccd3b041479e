/* spec.c: what a study is: presets, --vary lists, the base flags and the
 * list of runs (an ablation's one-change-at-a-time list or a grid's
 * product). study.txt is spec_file.c's, configuration text and diffs
 * settings.c's. Everything here is pure: no processes, no run folders
 * (runner.c and summary.c do those). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnnlab/cnnlab.h"
#include "cnnlab/study.h"
#include "core/core.h"

/* ---- presets ---- */

static const cnn_study_preset presets[] = {
    {"dropout", "dropout", "0,0.1,0.2,0.3,0.5", "dropout probability in the model's dropout slots"},
    {"norm", "norm", "none,batch,layer,instance,group", "normalisation in every norm slot"},
    {"lr-decay", "lr-schedule", "none,step,multistep,exp,cosine,plateau",
     "learning-rate schedule (each with train's defaults: step every epochs/3, multistep at "
     "1/2 and 3/4, exp gamma 0.95, plateau patience epochs/10 within 1 to 10)"},
    {"kernel-size", "kernel-size", "3,5,7", "kernel size of the model's kernel-size slots"},
    {"depth", "model", NULL,
     "the model's family by depth: vgg11,vgg13,vgg16,vgg19 (with _bn when --model has it), "
     "resnet20,resnet32,resnet44,resnet56, or LeNet-5 with 2 vs 3 fully connected layers "
     "(--vary var=fc=2,fc=3)"},
    {"activation", "activation", "relu,leaky_relu,sigmoid,tanh,gelu,elu",
     "activation in every activation slot"},
    {"optimizer", "optimizer", "sgd,adam,adamw,rmsprop",
     "optimizer, each with train's default lr (0.01 for sgd, 0.001 otherwise) unless the base "
     "sets --lr"},
    {"l2", "l2", "0,0.0001,0.0005,0.001,0.005", "explicit L2 penalty lambda * sum w^2"},
    {"augment", "augment", "none,flip,crop,crop+flip,crop+flip+cutout", "training-time augmentation"},
    {"batch-size", "batch-size", "32,64,128,256", "images per step (same lr for all)"},
    {NULL, NULL, NULL, NULL},
};

const cnn_study_preset *cnn_study_presets(void) { return presets; }

static int starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* depth: the members of the base model's family, all of which must exist. */
static cnn_status depth_factor(const char *model, cnn_study_factor *out, cnn_error *err)
{
    const char *family, *members[4];
    char names[4][64];
    int count = 0;
    if (starts_with(model, "vgg")) {
        const char *bn = ends_with(model, "_bn") ? "_bn" : "";
        static const char *depths[] = {"11", "13", "16", "19"};
        for (int i = 0; i < 4; i++) {
            snprintf(names[i], sizeof names[i], "vgg%s%s", depths[i], bn);
            members[count++] = names[i];
        }
        family = *bn ? "VGG with batch norm" : "VGG";
    } else if (starts_with(model, "resnet")) {
        static const char *resnets[] = {"resnet20", "resnet32", "resnet44", "resnet56"};
        for (int i = 0; i < 4; i++)
            members[count++] = resnets[i];
        family = "CIFAR ResNet";
    } else if (starts_with(model, "lenet5")) {
        /* LeNet-5 with 2 fully connected layers beside the usual 3: the
         * model file's variable fc (`--var fc=2`). */
        const cnn_model_desc *d;
        if (cnn_model_load(model, "fc=2", &d, NULL) != CNN_STATUS_OK)
            return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                                 "--preset depth: the LeNet-5 family (2 vs 3 fully connected "
                                 "layers) needs a model whose file declares the variable fc; "
                                 "--model %s does not (see `cnnlab summary %s`)", model, model);
        return cnn_study_factor_parse("var=fc=2,fc=3", out, err);
    } else {
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                             "--preset depth: no depth family for --model %s; depth knows VGG "
                             "(vgg11/13/16/19), CIFAR ResNet (resnet20/32/44/56) and LeNet-5 "
                             "(2 vs 3 fully connected layers)", model);
    }
    char missing[256] = "";
    size_t used = 0;
    for (int i = 0; i < count; i++)
        if (!cnn_model_find(members[i]))
            used += (size_t)snprintf(missing + used, used < sizeof missing ? sizeof missing - used : 0,
                                     "%s%s", used ? ", " : "", members[i]);
    if (used)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                             "--preset depth: the %s family of --model %s needs built-in models "
                             "that do not exist: %s (see `cnnlab models`)", family, model, missing);
    memset(out, 0, sizeof *out);
    snprintf(out->flag, sizeof out->flag, "model");
    for (int i = 0; i < count; i++)
        snprintf(out->values[out->count++], sizeof out->values[0], "%s", members[i]);
    return CNN_STATUS_OK;
}

cnn_status cnn_study_preset_factor(const char *name, const char *model, cnn_study_factor *out,
                                   cnn_error *err)
{
    for (const cnn_study_preset *p = presets; p->name; p++) {
        if (strcmp(p->name, name) != 0)
            continue;
        cnn_status st;
        if (!p->values) {
            st = depth_factor(model, out, err);
        } else {
            char text[256];
            snprintf(text, sizeof text, "%s=%s", p->flag, p->values);
            st = cnn_study_factor_parse(text, out, err);
        }
        if (st == CNN_STATUS_OK && strcmp(out->flag, p->name) != 0)
            snprintf(out->name, sizeof out->name, "%s", p->name);
        return st;
    }
    char known[512] = "";
    size_t used = 0;
    for (const cnn_study_preset *p = presets; p->name; p++)
        used += (size_t)snprintf(known + used, used < sizeof known ? sizeof known - used : 0,
                                 "%s%s", used ? ", " : "", p->name);
    return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                         "--preset: unknown preset '%s'; expected one of %s", name, known);
}

/* ---- factors ---- */

cnn_status cnn_study_factor_parse(const char *text, cnn_study_factor *out, cnn_error *err)
{
    memset(out, 0, sizeof *out);
    const char *s = text;
    while (*s == '-')
        s++;
    const char *eq = strchr(s, '=');
    if (!eq || eq == s || !eq[1])
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                             "--vary: expected FLAG=v1,v2,... (e.g. dropout=0,0.3), found '%s'", text);
    size_t n = (size_t)(eq - s);
    if (n >= sizeof out->flag)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "--vary: flag name too long in '%s'",
                             text);
    memcpy(out->flag, s, n);
    out->flag[n] = 0;
    for (const char *v = eq + 1;;) {
        const char *comma = strchr(v, ',');
        size_t len = comma ? (size_t)(comma - v) : strlen(v);
        if (len == 0)
            return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                                 "--vary %s: expected values separated by single commas, found "
                                 "an empty value in '%s'", out->flag, text);
        if (len >= sizeof out->values[0] || out->count >= CNN_STUDY_MAX_VALUES)
            return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                                 "--vary %s: expected at most %d values of at most %zu characters, "
                                 "found '%s'", out->flag, CNN_STUDY_MAX_VALUES,
                                 sizeof out->values[0] - 1, text);
        memcpy(out->values[out->count], v, len);
        out->values[out->count][len] = 0;
        for (int i = 0; i < out->count; i++)
            if (strcmp(out->values[i], out->values[out->count]) == 0)
                return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                                     "--vary %s: value '%s' is listed twice", out->flag,
                                     out->values[i]);
        out->count++;
        if (!comma)
            break;
        v = comma + 1;
    }
    return CNN_STATUS_OK;
}

void cnn_study_factor_format(const cnn_study_factor *f, char *buf, size_t size)
{
    size_t used = (size_t)snprintf(buf, size, "%s=", f->flag);
    for (int i = 0; i < f->count; i++)
        used += (size_t)snprintf(buf + (used < size ? used : size), used < size ? size - used : 0,
                                 "%s%s", i ? "," : "", f->values[i]);
}

/* ---- base flags ---- */

typedef struct arg_pair {
    const char *flag, *value; /* value NULL for a flag without one */
    size_t flag_len;
} arg_pair;

cnn_status cnn_study_normalise_args(int argc, const char *const *argv, cnn_study_spec *spec,
                                    cnn_error *err)
{
    arg_pair pairs[CNN_STUDY_MAX_ARGS];
    int np = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!starts_with(a, "--") || a[2] == 0)
            return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                                 "unexpected argument '%s': train flags start with --", a);
        if (np >= CNN_STUDY_MAX_ARGS / 2)
            return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                                 "too many train flags (at most %d)", CNN_STUDY_MAX_ARGS / 2);
        arg_pair p = {a, NULL, strlen(a)};
        const char *eq = strchr(a, '=');
        if (eq) {
            p.flag_len = (size_t)(eq - a);
            p.value = eq + 1;
        } else if (i + 1 < argc && !starts_with(argv[i + 1], "--")) {
            p.value = argv[++i];
        }
        if (p.flag_len + 1 > CNN_STUDY_ARG_LEN || (p.value && strlen(p.value) + 1 > CNN_STUDY_ARG_LEN))
            return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                                 "%s: flag or value longer than %d characters", a,
                                 CNN_STUDY_ARG_LEN - 1);
        /* Insertion sort by flag name, stable. */
        int j = np++;
        while (j > 0) {
            const arg_pair *q = &pairs[j - 1];
            size_t m = q->flag_len < p.flag_len ? q->flag_len : p.flag_len;
            int c = strncmp(q->flag, p.flag, m);
            if (c < 0 || (c == 0 && q->flag_len <= p.flag_len))
                break;
            pairs[j] = pairs[j - 1];
            j--;
        }
        pairs[j] = p;
    }
    spec->base_count = 0;
    for (int i = 0; i < np; i++) {
        snprintf(spec->base[spec->base_count++], CNN_STUDY_ARG_LEN, "%.*s", (int)pairs[i].flag_len,
                 pairs[i].flag);
        if (pairs[i].value)
            snprintf(spec->base[spec->base_count++], CNN_STUDY_ARG_LEN, "%s", pairs[i].value);
    }
    return CNN_STATUS_OK;
}

/* ---- the runs ---- */

/* Folder names keep letters, digits and . _ + = -; anything else becomes '-'. */
static void sanitise(char *s)
{
    for (; *s; s++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+=-", *s))
            *s = '-';
}

static void append(char *buf, size_t size, const char *fmt, const char *a, const char *b)
{
    size_t used = strlen(buf);
    if (used < size)
        snprintf(buf + used, size - used, fmt, a, b);
}

static int add_config(const cnn_study_spec *spec, const int *value, int factor, int config,
                      cnn_study_run *runs, int max, int *count, cnn_error *err)
{
    char id[CNN_STUDY_ID_LEN] = "", label[CNN_STUDY_ID_LEN] = "";
    if (factor < 0 && !spec->grid) {
        snprintf(id, sizeof id, "control");
        snprintf(label, sizeof label, "control");
        for (int f = 0; f < spec->factor_count; f++)
            for (int v = 0; v < spec->factors[f].count; v++)
                if (spec->factors[f].is_control[v]) {
                    append(label, sizeof label, strchr(label, '(') ? ", %s=%s" : " (%s=%s",
                           spec->factors[f].flag, spec->factors[f].values[v]);
                }
        if (strchr(label, '('))
            append(label, sizeof label, "%s%s", ")", "");
    } else {
        for (int f = 0; f < spec->factor_count; f++) {
            if (value[f] < 0)
                continue;
            append(label, sizeof label, *label ? " %s=%s" : "%s=%s", spec->factors[f].flag,
                   spec->factors[f].values[value[f]]);
            append(id, sizeof id, *id ? "_%s=%s" : "%s=%s", spec->factors[f].flag,
                   spec->factors[f].values[value[f]]);
        }
        sanitise(id);
    }
    for (int r = 0; r < spec->repeats; r++) {
        if (*count >= max)
            return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                                 "the study has more than %d runs; vary fewer values", max);
        cnn_study_run *run = &runs[(*count)++];
        memset(run, 0, sizeof *run);
        run->config = config;
        run->factor = factor;
        for (int f = 0; f < CNN_STUDY_MAX_FACTORS; f++)
            run->value[f] = f < spec->factor_count ? value[f] : -1;
        run->repeat = r;
        run->seed = spec->seed + (uint64_t)r;
        snprintf(run->label, sizeof run->label, "%s", label);
        if (spec->repeats > 1)
            snprintf(run->id, sizeof run->id, "%.140s_s%llu", id, (unsigned long long)run->seed);
        else
            snprintf(run->id, sizeof run->id, "%s", id);
    }
    return 0;
}

cnn_status cnn_study_count(const cnn_study_spec *spec, int max, int *count, cnn_error *err)
{
    *count = 0;
    if (spec->repeats < 1)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "--repeats: expected >= 1, found %d",
                             spec->repeats);
    /* Saturated at max + 1, so that no product or sum overflows. An
     * ablation: the control and each factor's other values; a grid: the
     * product of the factors' value counts. */
    unsigned long long limit = (unsigned long long)max + 1, configs = 1;
    char sizes[CNN_STUDY_MAX_FACTORS * 8] = "";
    cnn_fixbuf b = {sizes, sizeof sizes, 0};
    for (int f = 0; f < spec->factor_count; f++) {
        unsigned long long n = 0;
        for (int v = 0; v < spec->factors[f].count; v++)
            n += spec->grid || !spec->factors[f].is_control[v];
        configs = spec->grid ? configs * n : configs + n;
        if (configs > limit)
            configs = limit;
        cnn_fixbuf_printf(&b, "%s%d", f ? " x " : "", spec->factors[f].count);
    }
    unsigned long long total = configs * (unsigned long long)spec->repeats;
    if (total > (unsigned long long)max) {
        char what[128];
        if (spec->grid)
            snprintf(what, sizeof what, "--grid of %s values", sizes);
        else
            snprintf(what, sizeof what, "%llu configurations", configs);
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                             "the study has more than %d runs (%s, %d repeat%s each); vary "
                             "fewer values", max, what, spec->repeats,
                             spec->repeats == 1 ? "" : "s");
    }
    *count = (int)total;
    return CNN_STATUS_OK;
}

cnn_status cnn_study_plan(const cnn_study_spec *spec, cnn_study_run *runs, int max, int *count,
                          cnn_error *err)
{
    int planned;
    cnn_status st = cnn_study_count(spec, max, &planned, err);
    *count = 0;
    if (st)
        return st;
    int value[CNN_STUDY_MAX_FACTORS];
    for (int f = 0; f < CNN_STUDY_MAX_FACTORS; f++)
        value[f] = -1;
    int config = 0;
    if (!spec->grid) {
        if (add_config(spec, value, -1, config++, runs, max, count, err))
            return err ? err->status : CNN_STATUS_INVALID_ARGUMENT;
        for (int f = 0; f < spec->factor_count; f++)
            for (int v = 0; v < spec->factors[f].count; v++) {
                if (spec->factors[f].is_control[v])
                    continue;
                value[f] = v;
                if (add_config(spec, value, f, config++, runs, max, count, err))
                    return err ? err->status : CNN_STATUS_INVALID_ARGUMENT;
                value[f] = -1;
            }
        return CNN_STATUS_OK;
    }
    if (spec->factor_count == 0)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                             "--grid: expected at least one --vary or --preset, found none");
    for (int f = 0; f < spec->factor_count; f++)
        value[f] = 0;
    for (;;) {
        if (add_config(spec, value, -1, config++, runs, max, count, err))
            return err ? err->status : CNN_STATUS_INVALID_ARGUMENT;
        int f = spec->factor_count - 1; /* the last factor varies fastest */
        while (f >= 0 && ++value[f] == spec->factors[f].count)
            value[f--] = 0;
        if (f < 0)
            break;
    }
    return CNN_STATUS_OK;
}

int cnn_study_config_count(const cnn_study_run *runs, int n)
{
    int most = -1;
    for (int i = 0; i < n; i++)
        if (runs[i].config > most)
            most = runs[i].config;
    return most + 1;
}

/* List-valued flags join their items with '+' inside a --vary value. */
static int is_list_flag(const char *flag)
{
    return strcmp(flag, "augment") == 0 || strcmp(flag, "milestones") == 0;
}

int cnn_study_config_args(const cnn_study_spec *spec, const int *value, const char **argv,
                          char (*scratch)[CNN_STUDY_ARG_LEN])
{
    int n = 0, s = 0;
    for (int i = 0; i < spec->base_count; i++) {
        const char *a = spec->base[i];
        int has_value = i + 1 < spec->base_count && !starts_with(spec->base[i + 1], "--");
        int replaced = 0;
        for (int f = 0; f < spec->factor_count; f++)
            if (value[f] >= 0 && strcmp(a + 2, spec->factors[f].flag) == 0)
                replaced = 1;
        if (!replaced) {
            argv[n++] = a;
            if (has_value)
                argv[n++] = spec->base[i + 1];
        }
        if (has_value)
            i++;
    }
    for (int f = 0; f < spec->factor_count; f++) {
        const cnn_study_factor *fa = &spec->factors[f];
        if (value[f] < 0)
            continue;
        const char *v = fa->values[value[f]];
        if (fa->is_bool) {
            if (strcmp(v, "on") == 0) {
                snprintf(scratch[s], CNN_STUDY_ARG_LEN, "--%s", fa->flag);
                argv[n++] = scratch[s++];
            }
            continue;
        }
        snprintf(scratch[s], CNN_STUDY_ARG_LEN, "--%s", fa->flag);
        argv[n++] = scratch[s++];
        if (is_list_flag(fa->flag) && strchr(v, '+')) {
            snprintf(scratch[s], CNN_STUDY_ARG_LEN, "%s", v);
            for (char *c = scratch[s]; *c; c++)
                if (*c == '+')
                    *c = ',';
            argv[n++] = scratch[s++];
        } else {
            argv[n++] = v;
        }
    }
    return n;
}
