/* modelfile_scope.c: the model-file builder's names and values.
 *
 * Scopes: the top level and each block call open a scope where labels are
 * looked up (a block sees its own labels and `in`, never its caller's); each
 * repeat iteration opens one inside the current scope (its labels are new each
 * time, earlier ones stay visible); an if's body shares its scope. Variables
 * are looked up outwards: iteration, block call, top level. Values are
 * evaluated here (integers in a range, probabilities, numbers), and each
 * layer is emitted here with its label and origin.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "modelfile.h"

cnn_status mf_no_memory(const mf_file *f)
{
    return cnn_error_set(f->err, CNN_STATUS_NO_MEMORY, "%s: no memory to build the model", f->path);
}

int mf_grow(void **p, int *cap, int n, size_t elem)
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

void mf_scope_free(mf_scope *s)
{
    free(s->vars);
    free(s->labels);
    free(s->counts);
}

/* ---- variables ---- */

mf_var *mf_var_find(mf_scope *s, const char *name)
{
    for (; s; s = s->parent)
        for (int i = 0; i < s->nvars; i++)
            if (!strcmp(s->vars[i].name, name))
                return &s->vars[i];
    return NULL;
}

static int lookup(void *ctx, const char *name, long *value)
{
    mf_var *v = mf_var_find(ctx, name);
    if (v)
        *value = v->value;
    return v != NULL;
}

cnn_status mf_var_set(mf_run *r, mf_scope *s, const mf_line *l, int col, const char *name,
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
    if (!mf_grow((void **)&s->vars, &s->cap_vars, s->nvars, sizeof *s->vars))
        return mf_no_memory(r->f);
    s->vars[s->nvars++] = (mf_var){name, value, l ? l->no : 0};
    return CNN_STATUS_OK;
}

cnn_status mf_run_eval(mf_run *r, mf_scope *s, const mf_line *l, int col, const char *text, long *out)
{
    return mf_eval(r->f, l, col, text, lookup, s, out);
}

/* An integer in [min, max]; what names it in the message. */
cnn_status mf_run_eval_int(mf_run *r, mf_scope *s, const mf_line *l, int col, const char *text,
                           const char *what, long min, long max, int *out)
{
    long v;
    cnn_status st = mf_run_eval(r, s, l, col, text, &v);
    if (st)
        return st;
    if (v < min || v > max)
        return mf_fail(r->f, l, col, "%s: expected %ld to %ld, found %ld%s%s", what, min, max, v,
                       text[0] == '$' || text[0] == '(' ? " from " : "",
                       text[0] == '$' || text[0] == '(' ? text : "");
    *out = (int)v;
    return CNN_STATUS_OK;
}

cnn_status mf_prob(mf_run *r, const mf_line *l, int col, const char *text, const char *what,
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
cnn_status mf_number(mf_run *r, const mf_line *l, int col, const char *text, const char *what,
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

static mf_label *mf_label_find(mf_scope *s, const char *name)
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

cnn_status mf_label_set(mf_run *r, mf_scope *s, const mf_line *l, const char *name, int layer)
{
    mf_label *old = mf_label_find(s, name);
    if (old)
        return mf_fail(r->f, l, l->label_col, "duplicate label '%s': expected each label once, "
                       "found it again (first at line %d)", name, old->line);
    if (!mf_grow((void **)&s->labels, &s->cap_labels, s->nlabels, sizeof *s->labels))
        return mf_no_memory(r->f);
    s->labels[s->nlabels++] = (mf_label){name, layer, l ? l->no : 0};
    return CNN_STATUS_OK;
}

cnn_status mf_label_get(mf_run *r, mf_scope *s, const mf_line *l, const mf_tok *t, const char *text,
                            int col, int *layer)
{
    mf_label *lb = mf_label_find(s, text);
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

cnn_status mf_emit(mf_run *r, mf_scope *s, const mf_line *l, const char *label, const char *word,
                       cnn_layer_desc *d, int *cursor)
{
    if (r->count == MF_MAX_LAYERS)
        return mf_fail(r->f, l, l->tok[l->first].col, "expected at most %d layers, found more",
                       MF_MAX_LAYERS);
    if (!mf_grow((void **)&r->layers, &r->cap, r->count, sizeof *r->layers))
        return mf_no_memory(r->f);
    d->label = mf_printf(&r->f->arena, "%s%s", s->prefix, label ? label : word);
    d->origin = mf_printf(&r->f->arena, "%s:%d", r->f->path, l->no);
    if (!d->label || !d->origin)
        return mf_no_memory(r->f);
    if (!r->first_layer_line)
        r->first_layer_line = l->no;
    r->layers[r->count] = *d;
    *cursor = r->count++;
    return label ? mf_label_set(r, s, l, label, *cursor) : CNN_STATUS_OK;
}
