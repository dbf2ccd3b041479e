/* modelfile_build.c: runs a model file's checked lines into a layer list.
 *
 * The lines run in order: header settings and assignments
 * (modelfile_header.c), layers (modelfile_layer.c), block calls with their
 * own scope (here), repeats and conditions (here); names and values live in
 * scopes (modelfile_scope.c).
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
#include "layers/layer.h"
#include "modelfile.h"

#define MAX_DEPTH 64
#define MAX_STEPS 1000000 /* lines run, repeats included */

/* ---- block calls ---- */

static cnn_status run_range(mf_run *r, mf_scope *s, int a, int b, int *cursor);

static mf_scope *block_scope(mf_scope *s)
{
    while (!s->is_block)
        s = s->parent;
    return s;
}

static cnn_status call(mf_run *r, mf_scope *s, const mf_line *l, int t0, const mf_block *b,
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
        st = mf_run_eval(r, s, l, a.pos[i]->col, a.pos[i]->s, &vals[i]);
        given[i] = 1;
    }
    for (int i = 0; i < a.nkeys && !st; i++) {
        size_t n = (size_t)(a.values[i] - 1 - a.key_names[i]);
        if (n == 4 && !strncmp(a.key_names[i], "from", 4)) {
            st = mf_label_get(r, s, l, a.keys[i], a.values[i], a.value_cols[i], &in);
            continue;
        }
        for (int p = 0; p < b->nparams; p++)
            if (!strncmp(b->params[p]->s, a.key_names[i], n) &&
                (b->params[p]->s[n] == 0 || b->params[p]->s[n] == '=')) {
                st = mf_run_eval(r, s, l, a.value_cols[i], a.values[i], &vals[p]);
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
        if (!mf_grow((void **)&owner->counts, &owner->cap_counts, owner->ncounts, sizeof(mf_count)))
            return mf_no_memory(f);
        owner->counts[owner->ncounts++] = (mf_count){b->name, nth = 1};
    }
    const char *prefix = label ? mf_printf(&r->f->arena, "%s%s.", s->prefix, label)
                               : mf_printf(&r->f->arena, "%s%s%d.", s->prefix, b->name, nth);
    if (!prefix)
        return mf_no_memory(f);
    mf_scope bs = {.parent = r->global, .is_block = 1, .prefix = prefix};
    const mf_line *def = &f->lines[b->line];
    for (int p = 0; p < b->nparams && !st; p++) {
        const mf_tok *t = b->params[p];
        const char *eq = strchr(t->s, '=');
        size_t n = eq ? (size_t)(eq - t->s) : strlen(t->s);
        const char *name = mf_strndup(&r->f->arena, t->s, n);
        long v = vals[p];
        if (!name)
            st = mf_no_memory(f);
        else if (!given[p])
            st = mf_run_eval(r, &bs, def, t->col + (int)n + 1, eq + 1, &v);
        if (!st)
            st = mf_var_set(r, &bs, def, t->col, name, v);
    }
    if (!st)
        st = mf_label_set(r, &bs, NULL, "in", in);
    int c = in;
    if (!st) {
        r->depth++;
        st = run_range(r, &bs, b->line + 1, def->match, &c);
        r->depth--;
    }
    mf_scope_free(&bs);
    if (st)
        return st;
    *cursor = c;
    return label ? mf_label_set(r, s, l, label, c) : CNN_STATUS_OK;
}

static cnn_status statement(mf_run *r, mf_scope *s, const mf_line *l, int t0, int *cursor)
{
    const char *label = t0 == l->first ? l->label : NULL;
    const cnn_layer_word *w;
    const cnn_layer_class *cls = cnn_layer_word_find(l->tok[t0].s, &w);
    if (cls)
        return mf_layer(r, s, l, t0, cls, w, label, cursor);
    const mf_block *b = mf_block_find(r->f, l->tok[t0].s);
    CNN_ASSERT(b); /* checked when the file was read */
    return call(r, s, l, t0, b, label, cursor);
}

/* ---- running lines ---- */

static cnn_status run_range(mf_run *r, mf_scope *s, int a, int b, int *cursor)
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
        case MF_HEADER: st = mf_header(r, l); break;
        case MF_ASSIGN: st = mf_assign(r, s, l); break;
        case MF_LAYER: st = statement(r, s, l, l->first, cursor); break;
        case MF_BLOCK: i = l->match; break;
        case MF_IF: {
            long c;
            const char *text = l->text + l->tok[l->first + 1].col - 1;
            if ((st = mf_run_eval(r, s, l, l->tok[l->first + 1].col, text, &c)))
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
            if ((st = mf_run_eval_int(r, s, l, t->col, t->s, "repeat count", 0, MF_MAX_LAYERS, &n)))
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
                mf_scope_free(&it);
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

cnn_status mf_build(mf_file *f, mf_override *ovr, int novr, const cnn_data_shape *shape,
                    cnn_model_desc *desc, cnn_layer_desc **layers)
{
    mf_scope global = {.is_block = 1, .prefix = ""};
    mf_run r = {.f = f, .global = &global, .in_h = shape->h, .in_w = shape->w, .in_c = shape->c,
             .defaults = {.norm = CNN_LAYER_IDENTITY, .act = CNN_ACT_RELU}, .ovr = ovr,
             .novr = novr};
    int cursor = -1;
    cnn_status st;
    if ((st = mf_var_set(&r, &global, NULL, 0, "classes", shape->classes)) ||
        (st = mf_label_set(&r, &global, NULL, "in", -1)) ||
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
                             (int)mf_var_find(&global, "classes")->value, r.count, r.layers,
                             r.init};
    *layers = r.layers;
    mf_scope_free(&global);
    return CNN_STATUS_OK;
fail:
    free(r.layers);
    mf_scope_free(&global);
    return st;
}
