/* modelfile_build.c: runs a model file's checked lines into a layer list.
 *
 * Scopes: the top level and each block call open a scope where labels are
 * looked up (a block sees its own labels and `in`, never its caller's); each
 * repeat iteration opens one inside the current scope (its labels are new each
 * time, earlier ones stay visible); an if's body shares its scope. Variables
 * are looked up outwards: iteration, block call, top level.
 * The cursor is the layer a line without from= reads: the previous layer, the
 * block's input at the start of a body, the model's input (-1) at the start.
 * Every emitted layer has explicit inputs (from_count >= 1), a label for
 * messages ("basic4.body", or the kind word where none was written) and its
 * origin "PATH:LINE".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "modelfile.h"

#define MAX_LAYERS 100000
#define MAX_DEPTH 64
#define MAX_STEPS 1000000 /* lines run, repeats included */

typedef struct mf_var {
    const char *name;
    long value;
    int line; /* where it was set; 0: the `classes` header setting */
} mf_var;

typedef struct mf_label {
    const char *name;
    int layer; /* -1: the model input */
    int line;
} mf_label;

typedef struct mf_count {
    const char *block;
    int n;
} mf_count;

typedef struct mf_scope {
    struct mf_scope *parent;
    int is_block;       /* the top level or a block call: label lookups stop here */
    const char *prefix; /* label path of the block call: "basic4." */
    mf_var *vars;
    int nvars, cap_vars;
    mf_label *labels;
    int nlabels, cap_labels;
    mf_count *counts; /* calls per block name, for unlabelled calls' names */
    int ncounts, cap_counts;
} mf_scope;

typedef struct run {
    mf_file *f;
    mf_scope *global;
    cnn_layer_desc *layers;
    int count, cap;
    int first_layer_line;
    /* header settings and the lines that set them */
    const char *name, *about;
    int in_h, in_w, in_c;
    int set_line[5]; /* name, about, input, classes, defaults */
    /* the model's knob defaults */
    cnn_layer_kind norm;
    int groups;
    cnn_act act;
    float dropout;
    int kernel;
    cnn_init_kind init;
    mf_override *ovr;
    int novr;
    int depth;
    long steps;
} run;

static cnn_status no_memory(const mf_file *f)
{
    return cnn_error_set(f->err, CNN_STATUS_NO_MEMORY, "%s: no memory to build the model", f->path);
}

static int grow(void **p, int *cap, int n, size_t elem)
{
    if (n < *cap)
        return 1;
    int c = *cap ? *cap * 2 : 8;
    void *q = realloc(*p, elem * (size_t)c);
    if (!q)
        return 0;
    *p = q;
    *cap = c;
    return 1;
}

static void scope_free(mf_scope *s)
{
    free(s->vars);
    free(s->labels);
    free(s->counts);
}

/* ---- variables ---- */

static mf_var *var_find(mf_scope *s, const char *name)
{
    for (; s; s = s->parent)
        for (int i = 0; i < s->nvars; i++)
            if (!strcmp(s->vars[i].name, name))
                return &s->vars[i];
    return NULL;
}

static int lookup(void *ctx, const char *name, long *value)
{
    mf_var *v = var_find(ctx, name);
    if (v)
        *value = v->value;
    return v != NULL;
}

static cnn_status var_set(run *r, mf_scope *s, const mf_line *l, int col, const char *name,
                          long value)
{
    for (int i = 0; i < s->nvars; i++)
        if (!strcmp(s->vars[i].name, name)) {
            if (s->vars[i].line == 0)
                return mf_fail(r->f, l, col, "duplicate variable '%s': expected each variable set "
                               "once, found it again (the `classes` setting sets it)", name);
            return mf_fail(r->f, l, col, "duplicate variable '%s': expected each variable set "
                           "once, found it again (first set at line %d)", name, s->vars[i].line);
        }
    if (!grow((void **)&s->vars, &s->cap_vars, s->nvars, sizeof *s->vars))
        return no_memory(r->f);
    s->vars[s->nvars++] = (mf_var){name, value, l ? l->no : 0};
    return CNN_STATUS_OK;
}

static cnn_status eval(run *r, mf_scope *s, const mf_line *l, int col, const char *text, long *out)
{
    return mf_eval(r->f, l, col, text, lookup, s, out);
}

/* An integer in [min, max]; what names it in the message. */
static cnn_status eval_int(run *r, mf_scope *s, const mf_line *l, int col, const char *text,
                           const char *what, long min, long max, int *out)
{
    long v;
    cnn_status st = eval(r, s, l, col, text, &v);
    if (st)
        return st;
    if (v < min || v > max)
        return mf_fail(r->f, l, col, "%s: expected %ld to %ld, found %ld%s%s", what, min, max, v,
                       text[0] == '$' || text[0] == '(' ? " from " : "",
                       text[0] == '$' || text[0] == '(' ? text : "");
    *out = (int)v;
    return CNN_STATUS_OK;
}

static cnn_status prob(run *r, const mf_line *l, int col, const char *text, const char *what,
                       float *out)
{
    char *end;
    double p = strtod(text, &end);
    if (end == text || *end || !(p >= 0.0 && p < 1.0))
        return mf_fail(r->f, l, col, "%s: expected a probability in [0, 1), found '%s'", what,
                       text);
    *out = (float)p;
    return CNN_STATUS_OK;
}

/* A finite number in [min, max] (no expressions: keys like eps=1e-12). */
static cnn_status number(run *r, const mf_line *l, int col, const char *text, const char *what,
                         double min, double max, float *out)
{
    char *end;
    double v = strtod(text, &end);
    if (end == text || *end || !(v >= min && v <= max))
        return mf_fail(r->f, l, col, "%s: expected a number in [%g, %g], found '%s'", what, min,
                       max, text);
    *out = (float)v;
    return CNN_STATUS_OK;
}

/* ---- labels ---- */

static mf_label *label_find(mf_scope *s, const char *name)
{
    for (; s; s = s->parent) {
        for (int i = 0; i < s->nlabels; i++)
            if (!strcmp(s->labels[i].name, name))
                return &s->labels[i];
        if (s->is_block)
            break;
    }
    return NULL;
}

static cnn_status label_set(run *r, mf_scope *s, const mf_line *l, const char *name, int layer)
{
    mf_label *old = label_find(s, name);
    if (old)
        return mf_fail(r->f, l, l->label_col, "duplicate label '%s': expected each label once, "
                       "found it again (first at line %d)", name, old->line);
    if (!grow((void **)&s->labels, &s->cap_labels, s->nlabels, sizeof *s->labels))
        return no_memory(r->f);
    s->labels[s->nlabels++] = (mf_label){name, layer, l ? l->no : 0};
    return CNN_STATUS_OK;
}

static cnn_status label_get(run *r, mf_scope *s, const mf_line *l, const mf_tok *t, const char *text,
                            int col, int *layer)
{
    mf_label *lb = label_find(s, text);
    if (lb) {
        *layer = lb->layer;
        return CNN_STATUS_OK;
    }
    char known[400];
    size_t used = 0;
    known[0] = 0;
    for (mf_scope *p = s; p && used < sizeof known; p = p->parent) {
        for (int i = 0; i < p->nlabels && used < sizeof known; i++)
            used += (size_t)snprintf(known + used, sizeof known - used, "%s%s", used ? ", " : "",
                                     p->labels[i].name);
        if (p->is_block)
            break;
    }
    return mf_fail(r->f, l, col, "unknown label '%s'; expected one defined earlier in this %s: %s",
                   text, s->prefix[0] ? "block" : "file", known);
}

/* ---- layers ---- */

static cnn_status emit(run *r, mf_scope *s, const mf_line *l, const char *label, const char *word,
                       cnn_layer_desc *d, int *cursor)
{
    if (r->count == MAX_LAYERS)
        return mf_fail(r->f, l, l->tok[l->first].col, "expected at most %d layers, found more",
                       MAX_LAYERS);
    if (!grow((void **)&r->layers, &r->cap, r->count, sizeof *r->layers))
        return no_memory(r->f);
    d->label = mf_printf(&r->f->arena, "%s%s", s->prefix, label ? label : word);
    d->origin = mf_printf(&r->f->arena, "%s:%d", r->f->path, l->no);
    if (!d->label || !d->origin)
        return no_memory(r->f);
    if (!r->first_layer_line)
        r->first_layer_line = l->no;
    r->layers[r->count] = *d;
    *cursor = r->count++;
    return label ? label_set(r, s, l, label, *cursor) : CNN_STATUS_OK;
}

enum { KNOB_KERNEL = 1, KNOB_DROPCONNECT = 2 };

static cnn_status knobs_of(run *r, const mf_line *l, int col, const char *text, const char *word,
                           int allowed, int *out)
{
    *out = 0;
    const char *p = text;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == 4 && !strncmp(p, "none", 4) && p == text && !e)
            return CNN_STATUS_OK;
        int bit = n == 6 && !strncmp(p, "kernel", 6) ? KNOB_KERNEL
                  : n == 11 && !strncmp(p, "dropconnect", 11) ? KNOB_DROPCONNECT : 0;
        if (!(bit & allowed))
            return mf_fail(r->f, l, col + (int)(p - text), "%s knobs: expected %s, found '%.*s'",
                           word, allowed & KNOB_KERNEL ? "none or a list of kernel, dropconnect"
                                                       : "none or dropconnect", (int)n, p);
        *out |= bit;
        p = e ? e + 1 : p + n;
    }
    return CNN_STATUS_OK;
}

static cnn_status layer(run *r, mf_scope *s, const mf_line *l, int t0, const mf_kind *k,
                        const char *label, int *cursor)
{
    const mf_file *f = r->f;
    const char *word = l->tok[t0].s;
    mf_args_split a;
    cnn_status st = mf_split_args(f, l, t0 + 1, &a);
    if (st)
        return st;
    cnn_layer_desc d = {.kind = k->kind, .slots = k->slots, .act = k->act};
    if (k->kind == CNN_LAYER_CONV || k->kind == CNN_LAYER_LINEAR)
        d.bias = CNN_BIAS_AUTO;
    int from = *cursor, kk = 0, stride = 0, pad = 0, same = 0, groups = -1, knobs = -1, gamma = 1;
    char what[64];
    for (int i = 0; i < a.nkeys; i++) {
        const char *v = a.values[i];
        int col = a.value_cols[i];
        size_t n = (size_t)(v - 1 - a.key_names[i]);
        char key[16];
        snprintf(key, sizeof key, "%.*s", (int)n, a.key_names[i]);
        snprintf(what, sizeof what, "%s %s", word, key);
        if (!strcmp(key, "from"))
            st = label_get(r, s, l, a.keys[i], v, col, &from);
        else if (!strcmp(key, "k"))
            st = eval_int(r, s, l, col, v, what, 1, 64, &kk);
        else if (!strcmp(key, "stride"))
            st = eval_int(r, s, l, col, v, what, 1, 64, &stride);
        else if (!strcmp(key, "pad") && !strcmp(v, "same"))
            same = 1;
        else if (!strcmp(key, "pad"))
            st = eval_int(r, s, l, col, v, what, 0, 64, &pad);
        else if (!strcmp(key, "groups"))
            st = eval_int(r, s, l, col, v, what, 1, 65536, &groups);
        else if (!strcmp(key, "gamma"))
            st = eval_int(r, s, l, col, v, what, 0, 1, &gamma);
        else if (!strcmp(key, "eps"))
            st = number(r, l, col, v, what, 1e-30, 1, &d.eps);
        else if (!strcmp(key, "momentum"))
            st = number(r, l, col, v, what, 1e-6, 1, &d.momentum);
        else if (!strcmp(key, "freeze")) {
            if (!strcmp(v, "weight"))
                d.freeze_weight = 1;
            else
                st = mf_fail(f, l, col, "%s: expected weight, found '%s'", what, v);
        } else if (!strcmp(key, "init")) {
            if (!strcmp(v, "dirac"))
                d.init = CNN_LAYER_INIT_DIRAC;
            else if (!strcmp(v, "whiten"))
                d.init = CNN_LAYER_INIT_WHITEN;
            else
                st = mf_fail(f, l, col, "%s: expected dirac or whiten, found '%s'", what, v);
        } else if (!strcmp(key, "knobs"))
            st = knobs_of(r, l, col, v, word, k->kind == CNN_LAYER_CONV
                                                  ? KNOB_KERNEL | KNOB_DROPCONNECT
                                                  : KNOB_DROPCONNECT, &knobs);
        else if (!strcmp(key, "bias")) {
            if (!strcmp(v, "yes"))
                d.bias = CNN_BIAS_YES;
            else if (!strcmp(v, "no"))
                d.bias = CNN_BIAS_NO;
            else if (!strcmp(v, "auto"))
                d.bias = CNN_BIAS_AUTO;
            else
                st = mf_fail(f, l, col, "%s: expected yes, no or auto, found '%s'", what, v);
        }
        if (st)
            return st;
    }
    const mf_tok *p0 = a.npos ? a.pos[0] : NULL;
    switch (k->args) {
    case MF_ARGS_INT:
        snprintf(what, sizeof what, "%s %s", word,
                 k->kind == CNN_LAYER_MAXPOOL || k->kind == CNN_LAYER_AVGPOOL ? "window"
                 : k->kind == CNN_LAYER_LINEAR ? "features" : "channels");
        if (k->kind == CNN_LAYER_MAXPOOL || k->kind == CNN_LAYER_AVGPOOL)
            st = eval_int(r, s, l, p0->col, p0->s, what, 1, 64, &d.k);
        else
            st = eval_int(r, s, l, p0->col, p0->s, what, 1, 1 << 20, &d.out);
        break;
    case MF_ARGS_PROB_OPT:
    case MF_ARGS_PROB:
        d.p = r->dropout;
        if (p0)
            st = prob(r, l, p0->col, p0->s, word, &d.p);
        break;
    case MF_ARGS_NUMBER:
        st = number(r, l, p0->col, p0->s, word, -1e6, 1e6, &d.scale);
        break;
    case MF_ARGS_LABELS:
        d.from_count = a.npos;
        for (int i = 0; i < a.npos && !st; i++)
            st = label_get(r, s, l, a.pos[i], a.pos[i]->s, a.pos[i]->col, &d.from[i]);
        break;
    case MF_ARGS_NONE:
        break;
    }
    if (st)
        return st;
    if (k->args != MF_ARGS_LABELS) {
        d.from_count = 1;
        d.from[0] = from;
    }
    switch (k->kind) {
    case CNN_LAYER_CONV:
        d.stride = stride ? stride : 1;
        if (knobs < 0)
            knobs = 0;
        d.k = kk;
        if (!kk && (knobs & KNOB_KERNEL) && r->kernel)
            d.k = r->kernel;
        if (!d.k)
            return mf_fail(f, l, l->tok[t0].col, "conv: expected k=K, found no k= (%s)",
                           knobs & KNOB_KERNEL ? "no `defaults kernel=K` either"
                                               : "knobs=kernel takes it from `defaults kernel=K`");
        d.pad = same ? d.k / 2 : pad;
        break;
    case CNN_LAYER_SHORTCUT:
        d.stride = stride ? stride : 1;
        break;
    case CNN_LAYER_LINEAR:
        if (knobs < 0)
            knobs = KNOB_DROPCONNECT;
        break;
    case CNN_LAYER_MAXPOOL:
    case CNN_LAYER_AVGPOOL:
        d.stride = stride ? stride : d.k;
        d.pad = pad;
        if (same)
            return mf_fail(f, l, l->tok[t0].col, "%s pad: expected a number, found 'same'", word);
        break;
    default:
        break;
    }
    if (knobs > 0)
        d.slots |= (knobs & KNOB_KERNEL ? CNN_SLOT_KERNEL : 0) |
                   (knobs & KNOB_DROPCONNECT ? CNN_SLOT_DROPCONNECT : 0);
    if (k->slots & CNN_SLOT_NORM) {
        d.kind = r->norm;
        d.groups = groups > 0 ? groups : r->groups;
    } else if (k->kind == CNN_LAYER_GROUPNORM) {
        d.groups = groups > 0 ? groups : 0;
    }
    if (k->slots & CNN_SLOT_ACT)
        d.act = r->act;
    d.gamma0 = gamma == 0;
    return emit(r, s, l, label, word, &d, cursor);
}

/* ---- block calls ---- */

static cnn_status run_range(run *r, mf_scope *s, int a, int b, int *cursor);

static mf_scope *block_scope(mf_scope *s)
{
    while (!s->is_block)
        s = s->parent;
    return s;
}

static cnn_status call(run *r, mf_scope *s, const mf_line *l, int t0, const mf_block *b,
                       const char *label, int *cursor)
{
    const mf_file *f = r->f;
    mf_args_split a;
    cnn_status st = mf_split_args(f, l, t0 + 1, &a);
    if (st)
        return st;
    if (r->depth == MAX_DEPTH)
        return mf_fail(f, l, l->tok[t0].col, "expected block calls nested at most %d deep, found "
                       "deeper", MAX_DEPTH);
    /* mf_collect_blocks refused blocks with more parameters than these hold */
    CNN_ASSERT(b->nparams <= MF_MAX_ARGS);
    long vals[MF_MAX_ARGS] = {0};
    int given[MF_MAX_ARGS] = {0}, in = *cursor;
    for (int i = 0; i < a.npos && !st; i++) {
        st = eval(r, s, l, a.pos[i]->col, a.pos[i]->s, &vals[i]);
        given[i] = 1;
    }
    for (int i = 0; i < a.nkeys && !st; i++) {
        size_t n = (size_t)(a.values[i] - 1 - a.key_names[i]);
        if (n == 4 && !strncmp(a.key_names[i], "from", 4)) {
            st = label_get(r, s, l, a.keys[i], a.values[i], a.value_cols[i], &in);
            continue;
        }
        for (int p = 0; p < b->nparams; p++)
            if (!strncmp(b->params[p]->s, a.key_names[i], n) &&
                (b->params[p]->s[n] == 0 || b->params[p]->s[n] == '=')) {
                st = eval(r, s, l, a.value_cols[i], a.values[i], &vals[p]);
                given[p] = 1;
            }
    }
    if (st)
        return st;
    /* the call's name: its label, or the block's name and a count in this scope */
    mf_scope *owner = block_scope(s);
    int nth = 0;
    for (int i = 0; i < owner->ncounts; i++)
        if (owner->counts[i].block == b->name)
            nth = ++owner->counts[i].n;
    if (!nth) {
        if (!grow((void **)&owner->counts, &owner->cap_counts, owner->ncounts, sizeof(mf_count)))
            return no_memory(f);
        owner->counts[owner->ncounts++] = (mf_count){b->name, nth = 1};
    }
    const char *prefix = label ? mf_printf(&r->f->arena, "%s%s.", s->prefix, label)
                               : mf_printf(&r->f->arena, "%s%s%d.", s->prefix, b->name, nth);
    if (!prefix)
        return no_memory(f);
    mf_scope bs = {.parent = r->global, .is_block = 1, .prefix = prefix};
    const mf_line *def = &f->lines[b->line];
    for (int p = 0; p < b->nparams && !st; p++) {
        const mf_tok *t = b->params[p];
        const char *eq = strchr(t->s, '=');
        size_t n = eq ? (size_t)(eq - t->s) : strlen(t->s);
        const char *name = mf_strndup(&r->f->arena, t->s, n);
        long v = vals[p];
        if (!name)
            st = no_memory(f);
        else if (!given[p])
            st = eval(r, &bs, def, t->col + (int)n + 1, eq + 1, &v);
        if (!st)
            st = var_set(r, &bs, def, t->col, name, v);
    }
    if (!st)
        st = label_set(r, &bs, NULL, "in", in);
    int c = in;
    if (!st) {
        r->depth++;
        st = run_range(r, &bs, b->line + 1, def->match, &c);
        r->depth--;
    }
    scope_free(&bs);
    if (st)
        return st;
    *cursor = c;
    return label ? label_set(r, s, l, label, c) : CNN_STATUS_OK;
}

static cnn_status statement(run *r, mf_scope *s, const mf_line *l, int t0, int *cursor)
{
    const char *label = t0 == l->first ? l->label : NULL;
    const mf_kind *k = mf_kind_find(l->tok[t0].s);
    if (k)
        return layer(r, s, l, t0, k, label, cursor);
    const mf_block *b = mf_block_find(r->f, l->tok[t0].s);
    CNN_ASSERT(b); /* checked when the file was read */
    return call(r, s, l, t0, b, label, cursor);
}

/* ---- header settings, assignments ---- */

static const char *const settings[] = {"name", "about", "input", "classes", "defaults"};

static cnn_status defaults(run *r, const mf_line *l)
{
    mf_args_split a;
    cnn_status st = mf_split_args(r->f, l, l->first + 1, &a);
    if (st)
        return st;
    if (a.npos)
        return mf_fail(r->f, l, a.pos[0]->col, "defaults: expected KEY=VALUE settings (norm, act, "
                       "dropout, kernel, groups, init), found '%s'", a.pos[0]->s);
    for (int i = 0; i < a.nkeys && !st; i++) {
        const char *v = a.values[i];
        int col = a.value_cols[i];
        size_t n = (size_t)(v - 1 - a.key_names[i]);
        char key[16];
        snprintf(key, sizeof key, "%.*s", (int)n, a.key_names[i]);
        if (!strcmp(key, "norm")) {
            static const struct { const char *name; cnn_layer_kind kind; } norms[] = {
                {"none", CNN_LAYER_IDENTITY}, {"batch", CNN_LAYER_BATCHNORM},
                {"layer", CNN_LAYER_LAYERNORM}, {"instance", CNN_LAYER_INSTANCENORM},
                {"group", CNN_LAYER_GROUPNORM}};
            int found = 0;
            for (size_t j = 0; j < sizeof norms / sizeof norms[0]; j++)
                if (!strcmp(v, norms[j].name)) {
                    r->norm = norms[j].kind;
                    found = 1;
                }
            if (!found)
                st = mf_fail(r->f, l, col, "defaults norm: expected none, batch, layer, instance "
                             "or group, found '%s'", v);
        } else if (!strcmp(key, "act")) {
            if (!cnn_act_parse(v, &r->act))
                st = mf_fail(r->f, l, col, "defaults act: expected relu, leaky_relu, sigmoid, "
                             "tanh, gelu or elu, found '%s'", v);
        } else if (!strcmp(key, "dropout")) {
            st = prob(r, l, col, v, "defaults dropout", &r->dropout);
        } else if (!strcmp(key, "kernel")) {
            st = eval_int(r, r->global, l, col, v, "defaults kernel", 1, 15, &r->kernel);
        } else if (!strcmp(key, "groups")) {
            st = eval_int(r, r->global, l, col, v, "defaults groups", 1, 65536, &r->groups);
        } else if (!strcmp(key, "init")) {
            if (!cnn_init_kind_parse(v, &r->init))
                st = mf_fail(r->f, l, col, "defaults init: expected pytorch, kaiming or xavier, "
                             "found '%s'", v);
        } else {
            st = mf_fail(r->f, l, a.keys[i]->col, "defaults: unknown key '%s'; expected one of: "
                         "norm, act, dropout, kernel, groups, init", key);
        }
    }
    return st;
}

static cnn_status header(run *r, const mf_line *l)
{
    const mf_file *f = r->f;
    const mf_tok *w = &l->tok[l->first];
    int which = 0;
    while (strcmp(settings[which], w->s))
        which++;
    if (r->set_line[which])
        return mf_fail(f, l, w->col, "duplicate setting '%s': expected it once, found it again "
                       "(first at line %d)", w->s, r->set_line[which]);
    if (r->first_layer_line)
        return mf_fail(f, l, w->col, "expected header settings before the first layer (line %d), "
                       "found '%s' after it", r->first_layer_line, w->s);
    r->set_line[which] = l->no;
    int nargs = l->ntok - l->first - 1;
    const mf_tok *args = &l->tok[l->first + 1];
    int want = which == 2 ? 3 : which == 4 ? -1 : which == 1 ? -1 : 1;
    if (nargs == 0 || (want > 0 && nargs != want))
        return mf_fail(f, l, nargs > want && want > 0 ? args[want].col
                                                      : w->col + (int)strlen(w->s) + 1,
                       "%s: expected %s, found %s", w->s,
                       which == 0 ? "the model's name" : which == 1 ? "a line of text"
                       : which == 2 ? "H W C (three numbers)" : which == 3 ? "the number of classes"
                       : "KEY=VALUE settings", nargs == 0 ? "nothing" : "more");
    switch (which) {
    case 0:
        for (const char *p = args[0].s; *p; p++)
            if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                  *p == '_' || *p == '-' || *p == '.'))
                return mf_fail(f, l, args[0].col + (int)(p - args[0].s), "name: expected letters, "
                               "digits, '_', '-' or '.', found '%c' in '%s'", *p, args[0].s);
        r->name = args[0].s;
        return CNN_STATUS_OK;
    case 1: {
        const char *t = l->text + args[0].col - 1;
        size_t n = strlen(t);
        if (n >= 2 && t[0] == '"' && t[n - 1] == '"')
            t++, n -= 2;
        r->about = mf_strndup(&r->f->arena, t, n);
        return r->about ? CNN_STATUS_OK : no_memory(f);
    }
    case 2: {
        cnn_status st;
        if ((st = eval_int(r, r->global, l, args[0].col, args[0].s, "input H", 1, 65536, &r->in_h)) ||
            (st = eval_int(r, r->global, l, args[1].col, args[1].s, "input W", 1, 65536, &r->in_w)) ||
            (st = eval_int(r, r->global, l, args[2].col, args[2].s, "input C", 1, 65536, &r->in_c)))
            return st;
        return CNN_STATUS_OK;
    }
    case 3: {
        int classes = 0;
        cnn_status st = eval_int(r, r->global, l, args[0].col, args[0].s, "classes", 1, 1 << 20,
                                 &classes);
        if (!st)
            var_find(r->global, "classes")->value = classes;
        return st;
    }
    default:
        return defaults(r, l);
    }
}

static cnn_status assign(run *r, mf_scope *s, const mf_line *l)
{
    const mf_tok *w = &l->tok[l->first];
    const char *start = l->text + w->col - 1, *eq = strchr(start, '=');
    size_t n = (size_t)(eq - start);
    while (n > 0 && (start[n - 1] == ' ' || start[n - 1] == '\t'))
        n--;
    if (!mf_is_ident(start, n))
        return mf_fail(r->f, l, w->col, "expected a variable NAME = VALUE, found '%.*s'", (int)n,
                       start);
    const char *name = mf_strndup(&r->f->arena, start, n);
    if (!name)
        return no_memory(r->f);
    const char *e = eq + 1;
    while (*e == ' ' || *e == '\t')
        e++;
    int col = (int)(e - l->text) + 1;
    if (!*e)
        return mf_fail(r->f, l, col, "expected a value after '%s =', found nothing", name);
    long v;
    cnn_status st = eval(r, s, l, col, e, &v);
    if (st)
        return st;
    if (s == r->global)
        for (int i = 0; i < r->novr; i++)
            if (!strcmp(r->ovr[i].name, name)) {
                v = r->ovr[i].value;
                r->ovr[i].used = 1;
            }
    return var_set(r, s, l, w->col, name, v);
}

/* ---- running lines ---- */

static cnn_status run_range(run *r, mf_scope *s, int a, int b, int *cursor)
{
    const mf_file *f = r->f;
    cnn_status st = CNN_STATUS_OK;
    for (int i = a; i < b && !st; i++) {
        const mf_line *l = &f->lines[i];
        const mf_tok *w = &l->tok[l->first];
        if (l->kind != MF_EMPTY && ++r->steps > MAX_STEPS) {
            st = mf_fail(f, l, w->col, "expected at most %d lines run (repeats included), "
                         "found more", MAX_STEPS);
            break;
        }
        switch (l->kind) {
        case MF_EMPTY: break;
        case MF_HEADER: st = header(r, l); break;
        case MF_ASSIGN: st = assign(r, s, l); break;
        case MF_LAYER: st = statement(r, s, l, l->first, cursor); break;
        case MF_BLOCK: i = l->match; break;
        case MF_IF: {
            long c;
            const char *text = l->text + l->tok[l->first + 1].col - 1;
            if ((st = eval(r, s, l, l->tok[l->first + 1].col, text, &c)))
                break;
            if (c)
                st = run_range(r, s, i + 1, l->else_at >= 0 ? l->else_at : l->match, cursor);
            else if (l->else_at >= 0)
                st = run_range(r, s, l->else_at + 1, l->match, cursor);
            i = l->match;
            break;
        }
        case MF_REPEAT: {
            const mf_tok *t = &l->tok[l->first + 1];
            int n = 0;
            if ((st = eval_int(r, s, l, t->col, t->s, "repeat count", 0, MAX_LAYERS, &n)))
                break;
            int inline_body = l->ntok - l->first > 2;
            for (int k = 0; k < n && !st; k++) {
                if (++r->steps > MAX_STEPS) {
                    st = mf_fail(f, l, w->col, "expected at most %d lines run (repeats "
                                 "included), found more", MAX_STEPS);
                    break;
                }
                mf_scope it = {.parent = s, .prefix = s->prefix};
                st = inline_body ? statement(r, &it, l, l->first + 2, cursor)
                                 : run_range(r, &it, i + 1, l->match, cursor);
                scope_free(&it);
            }
            if (!inline_body)
                i = l->match;
            break;
        }
        case MF_ELSE:
        case MF_END:
            st = mf_fail(f, l, w->col, "internal: '%s' outside its body", w->s);
            break;
        }
    }
    return st;
}

cnn_status mf_build(mf_file *f, mf_override *ovr, int novr, cnn_model_desc *desc,
                    cnn_layer_desc **layers)
{
    mf_scope global = {.is_block = 1, .prefix = ""};
    run r = {.f = f, .global = &global, .in_h = 32, .in_w = 32, .in_c = 3,
             .norm = CNN_LAYER_IDENTITY, .act = CNN_ACT_RELU, .ovr = ovr, .novr = novr};
    int cursor = -1;
    cnn_status st;
    if ((st = var_set(&r, &global, NULL, 0, "classes", 10)) ||
        (st = label_set(&r, &global, NULL, "in", -1)) ||
        (st = run_range(&r, &global, 0, f->nlines, &cursor)))
        goto fail;
    if (r.count == 0) {
        st = mf_fail(f, NULL, 0, "expected at least one layer, found none");
        goto fail;
    }
    if (cursor != r.count - 1) {
        st = mf_fail(f, &f->lines[f->nlines - 1], 1, "expected the last layer written to be the "
                     "model's output, found the output is %s",
                     cursor < 0 ? "the input" : r.layers[cursor].label);
        goto fail;
    }
    for (int i = 0; i < novr; i++)
        if (!ovr[i].used) {
            char names[400];
            size_t used = 0;
            names[0] = 0;
            for (int j = 0; j < global.nvars && used < sizeof names; j++)
                if (global.vars[j].line > 0)
                    used += (size_t)snprintf(names + used, sizeof names - used, "%s%s",
                                             used ? ", " : "", global.vars[j].name);
            st = mf_fail(f, NULL, 0, "cannot set variable '%s': expected one the file declares "
                         "at its top level (%s), found none of that name", ovr[i].name,
                         used ? names : "it declares none");
            goto fail;
        }
    const char *name = r.name;
    if (!name) { /* the file name without folders and .cnn */
        const char *base = strrchr(f->path, '/');
        base = base ? base + 1 : f->path;
        size_t n = strlen(base);
        if (n > 4 && !strcmp(base + n - 4, ".cnn"))
            n -= 4;
        name = mf_strndup(&f->arena, base, n);
    }
    *desc = (cnn_model_desc){name, r.about ? r.about : "", r.in_h, r.in_w, r.in_c,
                             (int)var_find(&global, "classes")->value, r.count, r.layers,
                             r.init};
    *layers = r.layers;
    scope_free(&global);
    return CNN_STATUS_OK;
fail:
    free(r.layers);
    scope_free(&global);
    return st;
}
