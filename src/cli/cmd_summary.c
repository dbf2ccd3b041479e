/* cmd_summary.c: `cnnlab summary MODEL|FILE`: a model's layers as torchsummary
 * prints them: label, kind (with its inputs where they are not the layer
 * before), output shape, parameters and multiply-accumulates per image, then
 * the totals; --json prints one object instead. The model knobs (--norm, ...)
 * and the file's variables (--head, --var) apply as they would for training. */
#include <stdio.h>
#include <string.h>

#include "cnnlab/cnnlab.h"
#include "commands.h"
#include "flags.h"
#include "report.h"
#include "text.h"
#include "layers/layer.h"

static const char *name_of(const cnn_model *m, int i, char *buf, size_t size)
{
    if (i < 0)
        snprintf(buf, size, "input");
    else if (m->layers[i].desc.label)
        snprintf(buf, size, "%s", m->layers[i].desc.label);
    else
        snprintf(buf, size, "%d", i + 1);
    return buf;
}

/* "conv 3x3 /2 pad 1", "maxpool 2x2 /2", "relu", "add <- basic1.body, in" */
static void kind_text(const cnn_model *m, int i, char *buf, size_t size)
{
    const cnn_layer_desc *d = &m->layers[i].desc;
    cnn_layer_describe(d, buf, size); /* the layer class's text */
    size_t u = strlen(buf);
#define ADD(...) u += (size_t)snprintf(buf + u, u < size ? size - u : 0, __VA_ARGS__)
    if (d->from_count > 1 || d->from[0] != i - 1) {
        for (int j = 0; j < d->from_count; j++) {
            char who[128];
            ADD("%s%s", j ? ", " : " <- ", name_of(m, d->from[j], who, sizeof who));
        }
    }
#undef ADD
}

static void json_string(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            printf("\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            printf("\\u%04x", *s);
        else
            putchar(*s);
    }
    putchar('"');
}

static void print_json(const cnn_model *m, const char *path, const char *options)
{
    const cnn_model_desc *d = m->desc;
    printf("{\"model\": ");
    json_string(d->name);
    printf(", \"file\": ");
    if (path)
        json_string(path);
    else
        printf("null");
    printf(", \"options\": ");
    json_string(options);
    printf(", \"input\": [%d, %d, %d], \"classes\": %d, \"params\": %zu, \"macs\": %.0f, "
           "\"state\": %zu, \"layers\": [", d->in_h, d->in_w, d->in_c, d->classes, m->param_count,
           cnn_model_macs(m), m->state_count);
    for (int i = 0; i < m->count; i++) {
        const cnn_model_layer *l = &m->layers[i];
        const cnn_layer_class *cls = cnn_layer_class_of(l->desc.kind);
        char who[128], kind[256];
        kind_text(m, i, kind, sizeof kind);
        printf("%s\n  {\"index\": %d, \"label\": ", i ? "," : "", i + 1);
        json_string(name_of(m, i, who, sizeof who));
        printf(", \"kind\": ");
        json_string(cls->name);
        printf(", \"text\": ");
        json_string(kind);
        printf(", \"inputs\": [");
        for (int j = 0; j < l->desc.from_count; j++)
            printf("%s%d", j ? ", " : "", l->desc.from[j] + 1);
        printf("], \"out\": [%d, %d, %d], \"params\": %zu, \"macs\": %.0f}", l->out.h, l->out.w,
               l->out.c, l->param_count, cls->macs ? cls->macs(l) : 0.0);
    }
    printf("\n]}\n");
}

static void print_table(const cnn_model *m, const char *path, const char *options, int all)
{
    const cnn_model_desc *d = m->desc;
    char a[32], b[32];
    printf("%s%s%s%s%s%s\n", d->name, path ? " (" : "", path ? path : "", path ? ")" : "",
           *d->about ? ": " : "", d->about);
    printf("input %dx%dx%d, %d classes%s%s\n\n", d->in_h, d->in_w, d->in_c, d->classes,
           *options ? ", options: " : "", options);
    printf("%4s  %-26s %-36s %-12s %11s %15s\n", "#", "layer", "kind", "output", "params", "MACs");
    int hidden = 0;
    for (int i = 0; i < m->count; i++) {
        const cnn_model_layer *l = &m->layers[i];
        const cnn_layer_class *cls = cnn_layer_class_of(l->desc.kind);
        if (l->desc.kind == CNN_LAYER_IDENTITY && !all) {
            hidden++;
            continue;
        }
        char who[128], kind[256], shape[32];
        kind_text(m, i, kind, sizeof kind);
        snprintf(shape, sizeof shape, "%dx%dx%d", l->out.h, l->out.w, l->out.c);
        printf("%4d  %-26s %-36s %-12s %11s %15s\n", i + 1, name_of(m, i, who, sizeof who), kind,
               shape, cnn_cli_grouped((double)l->param_count, a, sizeof a),
               cnn_cli_grouped(cls->macs ? cls->macs(l) : 0.0, b, sizeof b));
    }
    double macs = cnn_model_macs(m);
    printf("\ntotal: %s parameters, %s multiply-accumulates per image (%.1f M), %d layers",
           cnn_cli_grouped((double)m->param_count, a, sizeof a), cnn_cli_grouped(macs, b, sizeof b), macs / 1e6,
           m->count);
    if (m->state_count)
        printf(", %zu saved state values (norm running estimates)", m->state_count);
    printf("\n");
    if (hidden)
        printf("(%d empty slot%s (identity) not shown: --all shows %s)\n", hidden,
               hidden == 1 ? "" : "s", hidden == 1 ? "it" : "them");
}

cnn_status cnn_cmd_summary(int argc, char **argv, cnn_error *err)
{
    int json = 0, all = 0, head = -1;
    const char *norm = NULL, *act = NULL, *vars = NULL, *input = NULL;
    int classes = 0;
    float dropout = -1;
    cnn_model_options o;
    cnn_model_options_defaults(&o);
    const char *positional[1];
    cli_list words = {positional, 1, 0};
    const cli_flag flags[] = {
        {"--json", CLI_BOOL, &json, 0, 0, NULL, "print one JSON object (params, macs, layers)", NULL},
        {"--all", CLI_BOOL, &all, 0, 0, NULL, "also list empty slots (identity layers)", NULL},
        {"--head", CLI_INT, &head, 0, 1 << 20, "N", "set the file's variable head (VGG: the course's classifier head, 4096)", NULL},
        {"--var", CLI_STRING, &vars, 0, 0, "'NAME=N ...'", "set variables the model file declares", NULL},
        {"--norm", CLI_CHOICE, &norm, 0, 0, "NAME", "normalisation in every norm slot", "none,batch,layer,instance,group"},
        {"--groups", CLI_INT, &o.groups, 1, 4096, "N", "groups of --norm group", NULL},
        {"--activation", CLI_CHOICE, &act, 0, 0, "NAME", "activation in every activation slot", "relu,leaky_relu,sigmoid,tanh,gelu,elu"},
        {"--dropout", CLI_FLOAT, &dropout, 0, 0.99, "P", "probability in the dropout slots", NULL},
        {"--dropconnect", CLI_FLOAT, &o.dropconnect, 0, 0.99, "P", "DropConnect probability", NULL},
        {"--kernel-size", CLI_INT, &o.kernel_size, 1, 15, "K", "kernel size of the kernel-size slots", NULL},
        {"--input", CLI_STRING, &input, 0, 0, "HxWxC", "the data's image shape, for a model that does not fix it (default 32x32x3)", NULL},
        {"--classes", CLI_INT, &classes, 1, CNN_DATA_MAX_CLASSES, "N", "the data's classes, for a model that does not fix them (default 10)", NULL},
    };
    cli_command cmd = {
        .name = "summary",
        .usage = "cnnlab summary MODEL|FILE [options]",
        .about = "Prints each layer of a built-in model (see `cnnlab models`) or a model "
                 "file (a path containing '/' or ending in .cnn): label, kind, output "
                 "shape, parameters and multiply-accumulates per image, and the totals.",
        CLI_FLAGS(flags),
        .positional = &words,
        .required = "a model name or file",
    };
    int help;
    cnn_status st = cli_parse(&cmd, argc, argv, &help, err);
    if (st || help)
        return st;
    if (norm)
        cnn_norm_kind_parse(norm, &o.norm);
    if (act)
        cnn_act_parse(act, &o.act);
    if (dropout >= 0)
        o.dropout = dropout;
    char var_text[1024];
    cnn_cli_model_vars(vars, head, var_text, sizeof var_text);
    const cnn_model_desc *d;
    cnn_model *m;
    cnn_data_shape shape;
    if ((st = cnn_cli_data_shape(input, classes, &shape, err)) ||
        (st = cnn_model_load_shaped(positional[0], var_text, &shape, &d, err)) ||
        (st = cnn_model_create(d, &o, &m, err)))
        return st;
    const cnn_model_file *f = cnn_model_file_of(d);
    char options[1600];
    cnn_model_options_format(&o, options, sizeof options);
    if (*var_text) {
        size_t n = strlen(options);
        snprintf(options + n, sizeof options - n, "%s%s", n ? " " : "", var_text);
    }
    if (json)
        print_json(m, f ? f->path : NULL, options);
    else
        print_table(m, f ? f->path : NULL, options, all);
    cnn_model_destroy(m);
    return CNN_STATUS_OK;
}
