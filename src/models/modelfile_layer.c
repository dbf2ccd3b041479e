/* modelfile_layer.c: one layer line run. The reader knows no layer: the line's
 * word belongs to a layer class (src/layers/layer.h), which says what
 * arguments and keys it takes and with which ranges. Here the keys are
 * evaluated in the order written, then the arguments, into values; the
 * inputs are resolved (a labels word's labels, else from= or the cursor); and
 * the class's build turns the values into the layer's description.
 */
#include <stdio.h>
#include <string.h>

#include "core/core.h"
#include "modelfile.h"

/* "a, b or c" of the comma list words. */
static void choice_text(const char *words, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = 0;
    for (const char *p = words; *p;) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        const char *sep = p == words ? "" : e ? ", " : " or ";
        cnn_layer_text_add(buf, size, &used, "%s%.*s", sep, (int)n, p);
        p = e ? e + 1 : p + n;
    }
}

/* The index of the n bytes at s in the comma list words, or -1. */
static int word_index(const char *words, const char *s, size_t n)
{
    int i = 0;
    for (const char *p = words; *p; i++) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && !strncmp(p, s, n))
            return i;
        p = e ? e + 1 : p + len;
    }
    return -1;
}

/* knobs=none or knobs=kernel,dropconnect: bit i for word i of k->words. */
static cnn_status flags_of(mf_run *r, const mf_line *l, int col, const char *text,
                           const char *what, const cnn_layer_key *k, long *out)
{
    *out = 0;
    if (!strcmp(text, "none"))
        return CNN_STATUS_OK;
    for (const char *p = text; *p;) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        int i = word_index(k->words, p, n);
        if (i < 0) {
            char list[128];
            size_t used = 0;
            cnn_layer_text_add(list, sizeof list, &used, "none or %s",
                               strchr(k->words, ',') ? "a list of " : "");
            for (const char *q = k->words; *q; q++)
                cnn_layer_text_add(list, sizeof list, &used, "%s", *q == ',' ? ", " : (char[]){*q, 0});
            return mf_fail(r->f, l, col + (int)(p - text), "%s: expected %s, found '%.*s'", what,
                           list, (int)n, p);
        }
        *out |= 1L << i;
        p = e ? e + 1 : p + n;
    }
    return CNN_STATUS_OK;
}

/* The value of key k written as text at column col. */
static cnn_status key_value(mf_run *r, mf_scope *s, const mf_line *l, const mf_tok *t,
                            const char *word, const cnn_layer_key *k, const char *text, int col,
                            cnn_layer_value *v)
{
    char what[64];
    snprintf(what, sizeof what, "%s %s", word, k->name);
    v->given = 1;
    switch (k->kind) {
    case CNN_LAYER_KEY_INT: {
        if (k->words && !strcmp(text, k->words)) {
            v->is_word = 1;
            return CNN_STATUS_OK;
        }
        int x = 0;
        cnn_status st = mf_run_eval_int(r, s, l, col, text, what, (long)k->min, (long)k->max, &x);
        v->i = x;
        return st;
    }
    case CNN_LAYER_KEY_NUMBER:
        return mf_number(r, l, col, text, what, k->min, k->max, &v->f);
    case CNN_LAYER_KEY_CHOICE: {
        int i = word_index(k->words, text, strlen(text));
        if (i >= 0) {
            v->i = i;
            return CNN_STATUS_OK;
        }
        char list[128];
        choice_text(k->words, list, sizeof list);
        return mf_fail(r->f, l, col, "%s: expected %s, found '%s'", what, list, text);
    }
    case CNN_LAYER_KEY_FLAGS:
        return flags_of(r, l, col, text, what, k, &v->i);
    case CNN_LAYER_KEY_LABEL: {
        int layer = 0;
        cnn_status st = mf_label_get(r, s, l, t, text, col, &layer);
        v->i = layer;
        return st;
    }
    }
    return CNN_STATUS_OK;
}

/* The positional arguments of word w, evaluated into pos. */
static cnn_status args_of(mf_run *r, mf_scope *s, const mf_line *l, const cnn_layer_word *w,
                          const mf_args_split *a, cnn_layer_value *pos)
{
    cnn_status st = CNN_STATUS_OK;
    for (int i = 0; i < a->npos && !st; i++) {
        const mf_tok *p = a->pos[i];
        cnn_layer_value *v = &pos[i];
        v->given = 1;
        switch (w->args) {
        case CNN_LAYER_ARG_INT: {
            char what[64];
            int x = 0;
            snprintf(what, sizeof what, "%s %s", w->word, w->arg_name);
            st = mf_run_eval_int(r, s, l, p->col, p->s, what, (long)w->arg_min, (long)w->arg_max,
                                 &x);
            v->i = x;
            break;
        }
        case CNN_LAYER_ARG_PROB_OPT:
        case CNN_LAYER_ARG_PROB:
            st = mf_prob(r, l, p->col, p->s, w->word, &v->f);
            break;
        case CNN_LAYER_ARG_NUMBER:
            st = mf_number(r, l, p->col, p->s, w->word, w->arg_min, w->arg_max, &v->f);
            break;
        case CNN_LAYER_ARG_LABELS: {
            int layer = 0;
            st = mf_label_get(r, s, l, p, p->s, p->col, &layer);
            v->i = layer;
            break;
        }
        case CNN_LAYER_ARG_NONE:
            break;
        }
    }
    return st;
}

cnn_status mf_layer(mf_run *r, mf_scope *s, const mf_line *l, int t0, const cnn_layer_class *cls,
                    const cnn_layer_word *w, const char *label, int *cursor)
{
    mf_args_split a;
    cnn_status st = mf_split_args(r->f, l, t0 + 1, &a);
    if (st)
        return st;
    /* modelfile_check.c let through only the word's keys and argument counts */
    cnn_layer_value keys[MF_MAX_ARGS] = {{0}}, pos[MF_MAX_ARGS] = {{0}};
    int from = *cursor;
    for (int i = 0; i < a.nkeys && !st; i++) {
        size_t n = (size_t)(a.values[i] - 1 - a.key_names[i]);
        int k = cnn_layer_key_find(w, a.key_names[i], n);
        CNN_ASSERT(k >= 0 && k < MF_MAX_ARGS);
        st = key_value(r, s, l, a.keys[i], w->word, &w->keys[k], a.values[i], a.value_cols[i],
                       &keys[k]);
        if (!st && w->keys[k].kind == CNN_LAYER_KEY_LABEL)
            from = (int)keys[k].i;
    }
    if (st || (st = args_of(r, s, l, w, &a, pos)))
        return st;
    cnn_layer_desc d = {.kind = cnn_layer_kind_of(cls), .slots = w->slots, .act = w->act};
    if (w->args == CNN_LAYER_ARG_LABELS) {
        d.from_count = a.npos;
        for (int i = 0; i < a.npos; i++)
            d.from[i] = (int)pos[i].i;
    } else {
        d.from_count = 1;
        d.from[0] = from;
    }
    if (cls->build) {
        cnn_layer_args args = {w, keys, pos, a.npos, *cursor, &r->defaults};
        cnn_error err = {0};
        if (cls->build(&args, &d, &err))
            return mf_fail(r->f, l, l->tok[t0].col, "%s", err.msg);
    }
    return mf_emit(r, s, l, label, w->word, &d, cursor);
}
