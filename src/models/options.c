/* options.c: the model knobs' names, and their text form (saved with weights
 * so a model can be rebuilt exactly). */
#define _POSIX_C_SOURCE 200809L /* strtok_r */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnnlab/model.h"

static const char *const norm_names[] = {"default", "none", "batch", "layer", "instance", "group"};
static const char *const act_names[] = {"none", "relu", "sigmoid", "tanh", "leaky_relu", "gelu", "elu"};
static const char *const init_names[] = {"default", "pytorch", "kaiming", "xavier"};

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

static int find(const char *const *names, int n, const char *s)
{
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], s) == 0)
            return i;
    return -1;
}

const char *cnn_norm_kind_name(cnn_norm_kind k) { return norm_names[k]; }
const char *cnn_act_name(cnn_act a) { return (int)a < COUNT(act_names) ? act_names[a] : "?"; }
const char *cnn_init_kind_name(cnn_init_kind k) { return init_names[k]; }

int cnn_norm_kind_parse(const char *s, cnn_norm_kind *out)
{
    int i = find(norm_names, COUNT(norm_names), s);
    if (i <= 0) /* "default" is not a user's choice */
        return 0;
    *out = (cnn_norm_kind)i;
    return 1;
}

int cnn_act_parse(const char *s, cnn_act *out)
{
    int i = find(act_names, COUNT(act_names), s);
    if (i <= 0)
        return 0;
    *out = (cnn_act)i;
    return 1;
}

int cnn_init_kind_parse(const char *s, cnn_init_kind *out)
{
    int i = find(init_names, COUNT(init_names), s);
    if (i <= 0) /* "default" is not a user's choice */
        return 0;
    *out = (cnn_init_kind)i;
    return 1;
}

void cnn_model_options_defaults(cnn_model_options *o)
{
    memset(o, 0, sizeof *o);
    o->dropout = -1.0f;
}

void cnn_model_options_format(const cnn_model_options *o, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = 0;
#define ADD(...) used += (size_t)snprintf(buf + used, used < size ? size - used : 0, __VA_ARGS__)
    if (o->norm != CNN_NORM_DEFAULT)
        ADD("%snorm=%s", used ? " " : "", cnn_norm_kind_name(o->norm));
    if (o->groups)
        ADD("%sgroups=%d", used ? " " : "", o->groups);
    if (o->act != CNN_ACT_NONE)
        ADD("%sactivation=%s", used ? " " : "", cnn_act_name(o->act));
    if (o->dropout >= 0)
        ADD("%sdropout=%.9g", used ? " " : "", (double)o->dropout);
    if (o->dropconnect > 0)
        ADD("%sdropconnect=%.9g", used ? " " : "", (double)o->dropconnect);
    if (o->kernel_size)
        ADD("%skernel_size=%d", used ? " " : "", o->kernel_size);
    if (o->init != CNN_INIT_DEFAULT)
        ADD("%sinit=%s", used ? " " : "", cnn_init_kind_name(o->init));
#undef ADD
}

cnn_status cnn_model_options_parse(const char *text, cnn_model_options *o, cnn_error *err)
{
    cnn_model_options_defaults(o);
    char buf[512];
    snprintf(buf, sizeof buf, "%s", text);
    for (char *save = NULL, *tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        char *eq = strchr(tok, '=');
        if (!eq)
            return cnn_error_set(err, CNN_STATUS_FORMAT, "model options: expected key=value, found '%s'", tok);
        *eq = 0;
        const char *k = tok, *v = eq + 1;
        int ok = 1;
        if (strcmp(k, "norm") == 0)
            ok = cnn_norm_kind_parse(v, &o->norm);
        else if (strcmp(k, "groups") == 0)
            o->groups = atoi(v);
        else if (strcmp(k, "activation") == 0)
            ok = cnn_act_parse(v, &o->act);
        else if (strcmp(k, "dropout") == 0)
            o->dropout = strtof(v, NULL);
        else if (strcmp(k, "dropconnect") == 0)
            o->dropconnect = strtof(v, NULL);
        else if (strcmp(k, "kernel_size") == 0)
            o->kernel_size = atoi(v);
        else if (strcmp(k, "init") == 0)
            ok = cnn_init_kind_parse(v, &o->init);
        else
            ok = 0;
        if (!ok)
            return cnn_error_set(err, CNN_STATUS_FORMAT, "model options: bad '%s=%s'", k, v);
    }
    return CNN_STATUS_OK;
}
