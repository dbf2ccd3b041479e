/* modelfile_check.c: the checks that need no values, run over every line of a
 * model file (also in blocks never called and branches never taken):
 *   blocks      names unique and not layer words, parameters NAME or
 *               NAME=DEFAULT, those without defaults first, at most
 *               MF_MAX_ARGS of them;
 *   statements  every layer line names a known layer word (the layer
 *               classes' words, src/layers/registry.c) or block, with the
 *               word's keys, each once, and the right number of arguments;
 *   recursion   no block calls itself, directly or through others (an
 *               explicit stack: no depth limit, no recursion in C).
 * After them, running the lines (modelfile_build.c) meets no unknown word,
 * key or block.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "modelfile.h"

static cnn_status no_memory(const mf_file *f)
{
    return cnn_error_set(f->err, CNN_STATUS_NO_MEMORY, "%s: no memory to parse the model file",
                         f->path);
}

/* ---- words ---- */

static const char *const keywords[] = {"block", "end", "if", "else", "repeat", "name",
                                       "about", "input", "classes", "defaults"};

int mf_is_keyword(const char *s)
{
    for (size_t i = 0; i < sizeof keywords / sizeof keywords[0]; i++)
        if (strcmp(keywords[i], s) == 0)
            return 1;
    return 0;
}

int mf_is_ident(const char *s, size_t n)
{
    if (n == 0 || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') || s[0] == '_'))
        return 0;
    for (size_t i = 1; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || s[i] == '_' ||
              (s[i] >= '0' && s[i] <= '9')))
            return 0;
    return 1;
}

int mf_key_like(const char *s, size_t *n)
{
    const char *eq = strchr(s, '=');
    if (!eq || eq[1] == '=' || !mf_is_ident(s, (size_t)(eq - s)))
        return 0;
    *n = (size_t)(eq - s);
    return 1;
}

const mf_block *mf_block_find(const mf_file *f, const char *name)
{
    for (int i = 0; i < f->nblocks; i++)
        if (strcmp(f->blocks[i].name, name) == 0)
            return &f->blocks[i];
    return NULL;
}

/* ---- blocks ---- */

cnn_status mf_collect_blocks(mf_file *f)
{
    int n = 0;
    for (int i = 0; i < f->nlines; i++)
        n += f->lines[i].kind == MF_BLOCK;
    f->blocks = mf_alloc(&f->arena, sizeof(mf_block) * (size_t)(n ? n : 1));
    if (!f->blocks)
        return no_memory(f);
    for (int i = 0; i < f->nlines; i++) {
        const mf_line *l = &f->lines[i];
        if (l->kind != MF_BLOCK)
            continue;
        const mf_tok *w = &l->tok[0];
        if (l->ntok < 2)
            return mf_fail(f, l, w->col + 5, "expected a block name after 'block', found the end "
                           "of the line");
        const mf_tok *name = &l->tok[1];
        if (!mf_is_ident(name->s, strlen(name->s)) || mf_is_keyword(name->s) ||
            cnn_layer_word_find(name->s, NULL) || !strcmp(name->s, "in"))
            return mf_fail(f, l, name->col, "expected a block name (letters, digits, _; not a "
                           "layer kind or keyword), found '%s'", name->s);
        const mf_block *prev = mf_block_find(f, name->s);
        if (prev)
            return mf_fail(f, l, name->col, "duplicate block '%s': expected each block defined "
                           "once, found it again (first defined at line %d)", name->s,
                           f->lines[prev->line].no);
        mf_block *b = &f->blocks[f->nblocks];
        b->name = name->s;
        b->line = i;
        b->nparams = l->ntok - 2;
        if (b->nparams > MF_MAX_ARGS)
            return mf_fail(f, l, l->tok[2 + MF_MAX_ARGS].col, "block %s: expected at most %d "
                           "parameters, found %d", name->s, MF_MAX_ARGS, b->nparams);
        b->params = mf_alloc(&f->arena, sizeof(mf_tok *) * (size_t)(b->nparams ? b->nparams : 1));
        if (!b->params)
            return no_memory(f);
        for (int p = 0; p < b->nparams; p++) {
            const mf_tok *t = &l->tok[2 + p];
            size_t len;
            int has_default = mf_key_like(t->s, &len);
            if (!has_default)
                len = strlen(t->s);
            if (t->comma || !mf_is_ident(t->s, len))
                return mf_fail(f, l, t->col, "expected a parameter NAME or NAME=DEFAULT, found "
                               "'%s'", t->s);
            if ((len == 4 && !strncmp(t->s, "from", 4)) || (len == 2 && !strncmp(t->s, "in", 2)))
                return mf_fail(f, l, t->col, "expected a parameter name other than 'from' and "
                               "'in' (they name the block's input), found '%.*s'", (int)len, t->s);
            if (has_default && t->s[len + 1] == 0)
                return mf_fail(f, l, t->col + (int)len + 1, "expected a default value after "
                               "'%.*s=', found nothing", (int)len, t->s);
            if (!has_default && b->nrequired < p)
                return mf_fail(f, l, t->col, "expected parameters without defaults before those "
                               "with defaults, found '%s' after '%s'", t->s, b->params[p - 1]->s);
            for (int q = 0; q < p; q++) {
                const char *o = b->params[q]->s;
                if (strncmp(o, t->s, len) == 0 && (o[len] == 0 || o[len] == '='))
                    return mf_fail(f, l, t->col, "duplicate parameter '%.*s' of block %s: "
                                   "expected each once, found it again (first at column %d)",
                                   (int)len, t->s, b->name, b->params[q]->col);
            }
            b->params[p] = t;
            if (!has_default)
                b->nrequired++;
        }
        f->nblocks++;
    }
    return CNN_STATUS_OK;
}

/* ---- statements ---- */

cnn_status mf_split_args(const mf_file *f, const mf_line *l, int t0, mf_args_split *a)
{
    memset(a, 0, sizeof *a);
    int after_comma = 0;
    for (int i = t0; i < l->ntok; i++) {
        const mf_tok *t = &l->tok[i];
        size_t kn;
        if (t->comma) {
            if (a->npos == 0 || after_comma || a->nkeys > 0 || i == l->ntok - 1)
                return mf_fail(f, l, t->col, "expected ',' only between arguments, found it %s",
                               i == l->ntok - 1 ? "at the end of the line" : "here");
            after_comma = 1;
            continue;
        }
        if (mf_key_like(t->s, &kn)) {
            if (after_comma)
                return mf_fail(f, l, t->col, "expected an argument after ',', found key '%s'",
                               t->s);
            if (a->nkeys == MF_MAX_ARGS)
                return mf_fail(f, l, t->col, "expected at most %d keys, found more", MF_MAX_ARGS);
            a->keys[a->nkeys] = t;
            a->key_names[a->nkeys] = t->s; /* compared up to '=' */
            a->values[a->nkeys] = t->s + kn + 1;
            a->value_cols[a->nkeys] = t->col + (int)kn + 1;
            if (!t->s[kn + 1])
                return mf_fail(f, l, t->col + (int)kn + 1, "expected a value after '%.*s=', found "
                               "nothing", (int)kn, t->s);
            for (int j = 0; j < a->nkeys; j++)
                if (!strncmp(a->keys[j]->s, t->s, kn + 1))
                    return mf_fail(f, l, t->col, "duplicate key '%.*s': expected each key once, "
                                   "found it again (first at %d:%d)", (int)kn, t->s, l->no,
                                   a->keys[j]->col);
            a->nkeys++;
        } else {
            if (a->nkeys > 0)
                return mf_fail(f, l, t->col, "expected arguments before keys, found '%s' after "
                               "key '%s'", t->s, a->keys[a->nkeys - 1]->s);
            if (a->npos == MF_MAX_ARGS)
                return mf_fail(f, l, t->col, "expected at most %d arguments, found more",
                               MF_MAX_ARGS);
            a->pos[a->npos++] = t;
        }
        after_comma = 0;
    }
    return CNN_STATUS_OK;
}

/* The length of "k" in "k=3". */
static size_t key_len(const char *kv)
{
    return (size_t)(strchr(kv, '=') - kv);
}

/* The index of block b's parameter named by the n bytes at name, or -1. */
static int param_index(const mf_block *b, const char *name, size_t n)
{
    for (int p = 0; p < b->nparams; p++)
        if (strncmp(b->params[p]->s, name, n) == 0 &&
            (b->params[p]->s[n] == 0 || b->params[p]->s[n] == '='))
            return p;
    return -1;
}

static cnn_status check_layer(const mf_file *f, const mf_line *l, int t0,
                              const cnn_layer_word *k)
{
    mf_args_split a;
    cnn_status st = mf_split_args(f, l, t0 + 1, &a);
    if (st)
        return st;
    const mf_tok *w = &l->tok[t0];
    int min = 0, max = 0;
    switch (k->args) {
    case CNN_LAYER_ARG_NONE: break;
    case CNN_LAYER_ARG_INT: min = max = 1; break;
    case CNN_LAYER_ARG_PROB_OPT: max = 1; break;
    case CNN_LAYER_ARG_PROB: min = max = 1; break;
    case CNN_LAYER_ARG_NUMBER: min = max = 1; break;
    case CNN_LAYER_ARG_LABELS: min = k->min_labels, max = k->max_labels; break;
    }
    if (a.npos < min)
        return mf_fail(f, l, a.npos ? a.pos[a.npos - 1]->col : w->col + (int)strlen(w->s) + 1,
                       "%s: expected %d %s (%s), found %d", w->s, min,
                       k->args == CNN_LAYER_ARG_LABELS ? "labels" : "argument", k->usage, a.npos);
    if (a.npos > max)
        return mf_fail(f, l, a.pos[max]->col, "%s: expected %s%d argument%s (%s), found '%s' "
                       "too", w->s, max ? "at most " : "", max, max == 1 ? "" : "s", k->usage,
                       a.pos[max]->s);
    for (int i = 0; i < a.nkeys; i++) {
        size_t n = key_len(a.keys[i]->s);
        if (cnn_layer_key_find(k, a.keys[i]->s, n) < 0) {
            char allowed[128];
            cnn_layer_key_list(k, allowed, sizeof allowed);
            return mf_fail(f, l, a.keys[i]->col, "%s: unknown key '%.*s'; expected one of: %s",
                           w->s, (int)n, a.keys[i]->s, allowed);
        }
    }
    return CNN_STATUS_OK;
}

static cnn_status check_call(const mf_file *f, const mf_line *l, int t0, const mf_block *b)
{
    mf_args_split a;
    cnn_status st = mf_split_args(f, l, t0 + 1, &a);
    if (st)
        return st;
    const mf_tok *w = &l->tok[t0];
    if (a.npos > b->nparams)
        return mf_fail(f, l, a.pos[b->nparams]->col, "block %s: expected at most %d argument%s, "
                       "found %d", b->name, b->nparams, b->nparams == 1 ? "" : "s", a.npos);
    for (int i = 0; i < a.nkeys; i++) {
        const char *name = a.keys[i]->s;
        size_t n = key_len(name);
        if (n == 4 && !strncmp(name, "from", 4))
            continue;
        int p = param_index(b, name, n);
        if (p < 0)
            return mf_fail(f, l, a.keys[i]->col, "block %s: unknown key '%.*s'; expected a "
                           "parameter of the block (see line %d) or from", b->name, (int)n, name,
                           f->lines[b->line].no);
        if (p < a.npos)
            return mf_fail(f, l, a.keys[i]->col, "block %s: duplicate parameter '%.*s': expected "
                           "it once, found it as argument %d and as a key", b->name, (int)n, name,
                           p + 1);
    }
    for (int p = a.npos; p < b->nrequired; p++) {
        int given = 0;
        for (int i = 0; i < a.nkeys; i++)
            if (param_index(b, a.keys[i]->s, key_len(a.keys[i]->s)) == p)
                given = 1;
        if (!given)
            return mf_fail(f, l, w->col, "block %s: expected %d argument%s (%s), found %d; "
                           "missing '%s'", b->name, b->nrequired, b->nrequired == 1 ? "" : "s",
                           f->lines[b->line].text + f->lines[b->line].tok[1].col - 1, a.npos,
                           b->params[p]->s);
    }
    return CNN_STATUS_OK;
}

/* A layer or call starting at token t0 of line l. */
static cnn_status check_statement(const mf_file *f, const mf_line *l, int t0)
{
    const mf_tok *w = &l->tok[t0];
    const cnn_layer_word *k;
    if (cnn_layer_word_find(w->s, &k))
        return check_layer(f, l, t0, k);
    const mf_block *b = mf_block_find(f, w->s);
    if (b)
        return check_call(f, l, t0, b);
    char blocks[256] = "";
    size_t used = 0;
    for (int i = 0; i < f->nblocks && used < sizeof blocks; i++)
        used += (size_t)snprintf(blocks + used, sizeof blocks - used, "%s%s", i ? ", " : "",
                                 f->blocks[i].name);
    return mf_fail(f, l, w->col, "expected a layer kind (conv, linear, norm, act, relu, maxpool, "
                   "avgpool, gap, dropout, add, concat, ...: see docs/model-files.md) or a block "
                   "(%s), found '%s'%s", f->nblocks ? blocks : "none defined", w->s,
                   strchr(w->s, ':') ? " (a label is written 'NAME: ' with a space)" : "");
}

cnn_status mf_check_statements(const mf_file *f)
{
    for (int i = 0; i < f->nlines; i++) {
        const mf_line *l = &f->lines[i];
        cnn_status st = CNN_STATUS_OK;
        if (l->kind == MF_LAYER)
            st = check_statement(f, l, l->first);
        else if (l->kind == MF_REPEAT && l->ntok - l->first > 2)
            st = check_statement(f, l, l->first + 2);
        if (st)
            return st;
    }
    return CNN_STATUS_OK;
}

/* ---- recursion ---- */

/* The block a line calls (directly or as repeat's one-line body), or NULL. */
static const mf_block *called(const mf_file *f, const mf_line *l, int *col)
{
    int t = l->kind == MF_LAYER ? l->first
            : l->kind == MF_REPEAT && l->ntok - l->first > 2 ? l->first + 2 : -1;
    if (t < 0)
        return NULL;
    *col = l->tok[t].col;
    return mf_block_find(f, l->tok[t].s);
}

/* "a -> b -> ... -> c" of the cycle path[from..depth] closed by c; a long one
 * keeps its first and last three blocks. */
static void cycle_text(const mf_file *f, const int *path, int from, int depth, const mf_block *c,
                       char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = 0;
    for (int j = from; j <= depth && used < size; j++) {
        if (depth - from >= 8 && j == from + 3) {
            used += (size_t)snprintf(buf + used, size - used, "... (%d blocks) -> ",
                                     depth - from - 5);
            j = depth - 3;
            continue;
        }
        used += (size_t)snprintf(buf + used, size - used, "%s -> ", f->blocks[path[j]].name);
    }
    if (used < size)
        snprintf(buf + used, size - used, "%s", c->name);
}

/* Depth-first over calls with an explicit stack (a file may chain thousands
 * of blocks, each calling the next): path[d] is the block at depth d, at[d]
 * the next of its lines to look at; state: 0 unseen, 1 on the path, 2 done.
 * A block is on the path at most once, so the depth stays below nblocks. */
cnn_status mf_check_recursion(const mf_file *f)
{
    if (f->nblocks == 0)
        return CNN_STATUS_OK;
    int *state = calloc((size_t)f->nblocks * 3, sizeof(int));
    if (!state)
        return no_memory(f);
    int *path = state + f->nblocks, *at = path + f->nblocks;
    cnn_status st = CNN_STATUS_OK;
    for (int root = 0; root < f->nblocks && !st; root++) {
        if (state[root] != 0)
            continue;
        int depth = 0;
        path[0] = root;
        at[0] = f->blocks[root].line + 1;
        state[root] = 1;
        while (depth >= 0 && !st) {
            int b = path[depth];
            if (at[depth] >= f->lines[f->blocks[b].line].match) {
                state[b] = 2;
                depth--;
                continue;
            }
            const mf_line *l = &f->lines[at[depth]++];
            int col;
            const mf_block *c = called(f, l, &col);
            if (!c)
                continue;
            int ci = (int)(c - f->blocks);
            if (state[ci] == 1) {
                char cycle[512];
                int from = depth;
                while (path[from] != ci)
                    from--;
                cycle_text(f, path, from, depth, c, cycle, sizeof cycle);
                st = mf_fail(f, l, col, "recursion: expected blocks that do not call "
                             "themselves, found %s", cycle);
            } else if (state[ci] == 0) {
                CNN_ASSERT(depth + 1 < f->nblocks);
                depth++;
                path[depth] = ci;
                at[depth] = c->line + 1;
                state[ci] = 1;
            }
        }
    }
    free(state);
    return st;
}
