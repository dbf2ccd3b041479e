/* modelfile.c: model files from text to checked lines, and the public entry
 * points (docs/model-files.md describes the format).
 *
 * Reading happens in passes, each leaving an invariant the next relies on:
 *   1. lines: comments stripped, tokens with their columns, an optional label,
 *      a kind per line (header, assignment, block, if, else, repeat, end, layer);
 *   2. structure: every block, if and repeat body has its `end` (match), every
 *      else its if; block definitions and header settings only at the top level;
 *   3. the checks that need no values (modelfile_check.c): blocks, statements,
 *      recursion.
 * Values, variables and labels are checked when the lines run
 * (modelfile_build.c), so a file that passes has no unknown word, key or block
 * anywhere, even in branches that did not run.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "modelfile.h"

/* The longest model name and --var text a weights file stores (its fixed
 * 64- and 128-byte fields, NUL included): longer ones are refused here, when
 * the model is read, rather than cut when a run saves its weights. */
#define MF_MAX_NAME_BYTES 63
#define MF_MAX_VARS_BYTES 127
/* Values set from outside, as every value of an expression (modelfile_expr.c). */
#define MF_MAX_VALUE (1L << 40)

/* ---- arena ---- */

struct mf_arena {
    struct mf_arena *next;
    size_t used, size;
    _Alignas(16) unsigned char data[];
};

void *mf_alloc(mf_arena **a, size_t bytes)
{
    bytes = (bytes + 15) / 16 * 16;
    if (!*a || (*a)->used + bytes > (*a)->size) {
        size_t size = bytes > 16384 ? bytes : 16384;
        mf_arena *c = malloc(sizeof *c + size);
        if (!c)
            return NULL;
        c->next = *a;
        c->used = 0;
        c->size = size;
        *a = c;
    }
    void *p = (*a)->data + (*a)->used;
    (*a)->used += bytes;
    memset(p, 0, bytes);
    return p;
}

char *mf_strndup(mf_arena **a, const char *s, size_t n)
{
    char *p = mf_alloc(a, n + 1);
    if (p)
        memcpy(p, s, n);
    return p;
}

char *mf_printf(mf_arena **a, const char *fmt, ...)
{
    va_list ap, again;
    va_start(ap, fmt);
    va_copy(again, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *p = n < 0 ? NULL : mf_alloc(a, (size_t)n + 1);
    if (p)
        vsnprintf(p, (size_t)n + 1, fmt, again);
    va_end(again);
    return p;
}

void mf_arena_free(mf_arena *a)
{
    while (a) {
        mf_arena *next = a->next;
        free(a);
        a = next;
    }
}
cnn_status mf_fail(const mf_file *f, const mf_line *l, int col, const char *fmt, ...)
{
    char msg[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (l)
        return cnn_error_set(f->err, CNN_STATUS_FORMAT, "%s:%d:%d: %s", f->path, l->no, col, msg);
    return cnn_error_set(f->err, CNN_STATUS_FORMAT, "%s: %s", f->path, msg);
}

static cnn_status no_memory(const mf_file *f)
{
    return cnn_error_set(f->err, CNN_STATUS_NO_MEMORY, "%s: no memory to parse the model file",
                         f->path);
}
/* ---- pass 1: lines and tokens ---- */

#define MAX_TOKENS 128

static cnn_status tokenize(mf_file *f, mf_line *l)
{
    mf_tok tok[MAX_TOKENS];
    int n = 0;
    const char *s = l->text;
    size_t i = 0;
    while (s[i]) {
        if (s[i] == ' ' || s[i] == '\t' || s[i] == '\r') {
            i++;
            continue;
        }
        if (n == MAX_TOKENS)
            return mf_fail(f, l, (int)i + 1, "expected at most %d words on a line, found more",
                           MAX_TOKENS);
        size_t start = i;
        if (s[i] == ',') {
            tok[n++] = (mf_tok){",", (int)i + 1, 1};
            i++;
            continue;
        }
        int depth = 0, key = 0;
        for (; s[i]; i++) {
            char c = s[i];
            if (depth == 0 && (c == ' ' || c == '\t' || c == '\r' || (c == ',' && !key)))
                break;
            if (c == '(')
                depth++;
            else if (c == ')' && depth > 0)
                depth--;
            else if (c == '=' && depth == 0 && !key && mf_is_ident(s + start, i - start))
                key = 1;
        }
        const char *copy = mf_strndup(&f->arena, s + start, i - start);
        if (!copy)
            return no_memory(f);
        tok[n++] = (mf_tok){copy, (int)start + 1, 0};
    }
    l->ntok = n;
    l->tok = mf_alloc(&f->arena, sizeof(mf_tok) * (size_t)(n ? n : 1));
    if (!l->tok)
        return no_memory(f);
    memcpy(l->tok, tok, sizeof(mf_tok) * (size_t)n);
    return CNN_STATUS_OK;
}

static int is_header(const char *w)
{
    return !strcmp(w, "name") || !strcmp(w, "about") || !strcmp(w, "input") ||
           !strcmp(w, "classes") || !strcmp(w, "defaults");
}

/* Label and kind of a tokenized line. */
static cnn_status classify(mf_file *f, mf_line *l)
{
    l->else_at = -1;
    l->match = -1;
    if (l->ntok == 0) {
        l->kind = MF_EMPTY;
        return CNN_STATUS_OK;
    }
    const mf_tok *t0 = &l->tok[0];
    size_t n0 = strlen(t0->s);
    if (n0 > 1 && t0->s[n0 - 1] == ':') {
        if (!mf_is_ident(t0->s, n0 - 1))
            return mf_fail(f, l, t0->col, "expected a label (letters, digits, _) before ':', "
                           "found '%s'", t0->s);
        if (strcmp(t0->s, "in:") == 0)
            return mf_fail(f, l, t0->col, "expected a label other than 'in' (it names the "
                           "input), found 'in:'");
        l->label = mf_strndup(&f->arena, t0->s, n0 - 1);
        if (!l->label)
            return no_memory(f);
        l->label_col = t0->col;
        l->first = 1;
        if (l->ntok == 1)
            return mf_fail(f, l, t0->col + (int)n0, "expected a layer or block call after "
                           "label '%s:', found the end of the line", l->label);
    }
    const mf_tok *w = &l->tok[l->first];
    size_t kn;
    if (!strcmp(w->s, "block"))
        l->kind = MF_BLOCK;
    else if (!strcmp(w->s, "end"))
        l->kind = MF_END;
    else if (!strcmp(w->s, "if"))
        l->kind = MF_IF;
    else if (!strcmp(w->s, "else"))
        l->kind = MF_ELSE;
    else if (!strcmp(w->s, "repeat"))
        l->kind = MF_REPEAT;
    else if (is_header(w->s))
        l->kind = MF_HEADER;
    else if ((mf_is_ident(w->s, strlen(w->s)) && l->first + 1 < l->ntok &&
              l->tok[l->first + 1].s[0] == '=' && l->tok[l->first + 1].s[1] != '=') ||
             mf_key_like(w->s, &kn))
        l->kind = MF_ASSIGN;
    else
        l->kind = MF_LAYER;
    if (l->label && l->kind != MF_LAYER)
        return mf_fail(f, l, l->label_col, "expected a label only before a layer or block call, "
                       "found one before '%s'", w->s);
    return CNN_STATUS_OK;
}

static cnn_status split_lines(mf_file *f, const char *text)
{
    int cap = 1;
    for (const char *p = text; *p; p++)
        cap += *p == '\n';
    f->lines = mf_alloc(&f->arena, sizeof(mf_line) * (size_t)cap);
    if (!f->lines)
        return no_memory(f);
    const char *p = text;
    while (*p) {
        const char *e = strchr(p, '\n');
        if (!e)
            e = p + strlen(p);
        const char *hash = memchr(p, '#', (size_t)(e - p));
        const char *stop = hash ? hash : e;
        while (stop > p && (stop[-1] == ' ' || stop[-1] == '\t' || stop[-1] == '\r'))
            stop--;
        mf_line *l = &f->lines[f->nlines++];
        l->no = f->nlines;
        if (!(l->text = mf_strndup(&f->arena, p, (size_t)(stop - p))))
            return no_memory(f);
        cnn_status st;
        if ((st = tokenize(f, l)) || (st = classify(f, l)))
            return st;
        p = *e ? e + 1 : e;
    }
    return CNN_STATUS_OK;
}

/* ---- pass 2: structure ---- */

static const char *opener_text(const mf_file *f, int i)
{
    const mf_line *l = &f->lines[i];
    return l->kind == MF_BLOCK ? "block" : l->kind == MF_IF ? "if" : "repeat";
}

static cnn_status structure(mf_file *f)
{
    int stack[64], depth = 0;
    for (int i = 0; i < f->nlines; i++) {
        mf_line *l = &f->lines[i];
        const mf_tok *w = &l->tok[l->first];
        switch (l->kind) {
        case MF_BLOCK:
            if (depth > 0)
                return mf_fail(f, l, w->col, "expected block definitions at the top level, found "
                               "one inside '%s' (line %d)", opener_text(f, stack[depth - 1]),
                               f->lines[stack[depth - 1]].no);
            stack[depth++] = i;
            break;
        case MF_IF:
        case MF_REPEAT:
            if (l->kind == MF_REPEAT && l->ntok - l->first > 2)
                break; /* repeat N LAYER: one line */
            if (l->ntok - l->first < 2)
                return mf_fail(f, l, w->col + (int)strlen(w->s), "expected %s after '%s', found "
                               "the end of the line", l->kind == MF_IF ? "a condition" : "a count",
                               w->s);
            if (depth == 64)
                return mf_fail(f, l, w->col, "expected at most 64 nested bodies, found more");
            stack[depth++] = i;
            break;
        case MF_ELSE:
            if (depth == 0 || f->lines[stack[depth - 1]].kind != MF_IF ||
                f->lines[stack[depth - 1]].else_at >= 0)
                return mf_fail(f, l, w->col, "expected 'else' only inside an 'if' (once), found "
                               "it %s", depth == 0 ? "outside any if"
                                                   : f->lines[stack[depth - 1]].kind == MF_IF
                                                         ? "a second time" : "inside a block or repeat");
            if (l->ntok > 1)
                return mf_fail(f, l, l->tok[1].col, "expected nothing after 'else', found '%s'",
                               l->tok[1].s);
            f->lines[stack[depth - 1]].else_at = i;
            break;
        case MF_END:
            if (depth == 0)
                return mf_fail(f, l, w->col, "expected 'end' only to close a block, if or repeat, "
                               "found one with nothing open");
            if (l->ntok > 1)
                return mf_fail(f, l, l->tok[1].col, "expected nothing after 'end', found '%s'",
                               l->tok[1].s);
            depth--;
            f->lines[stack[depth]].match = i;
            if (f->lines[stack[depth]].else_at >= 0)
                f->lines[f->lines[stack[depth]].else_at].match = i;
            break;
        case MF_HEADER:
            if (depth > 0)
                return mf_fail(f, l, w->col, "expected header setting '%s' at the top level, "
                               "found it inside '%s' (line %d)", w->s,
                               opener_text(f, stack[depth - 1]), f->lines[stack[depth - 1]].no);
            break;
        default:
            break;
        }
    }
    if (depth > 0) {
        const mf_line *l = &f->lines[stack[depth - 1]];
        return mf_fail(f, l, l->tok[l->first].col, "expected 'end' closing this '%s', found the "
                       "end of the file (line %d)", opener_text(f, stack[depth - 1]), f->nlines);
    }
    return CNN_STATUS_OK;
}
/* ---- variables set from outside ---- */

static cnn_status parse_overrides(mf_file *f, const char *vars, mf_override **out, int *n)
{
    *out = NULL;
    *n = 0;
    if (!vars || !*vars)
        return CNN_STATUS_OK;
    if (strlen(vars) > MF_MAX_VARS_BYTES)
        return mf_fail(f, NULL, 0, "variables set from outside (--var): expected at most %d "
                       "bytes (what a weights file stores), found %zu", MF_MAX_VARS_BYTES,
                       strlen(vars));
    int cap = 1;
    for (const char *p = vars; *p; p++)
        cap += *p == '=';
    mf_override *o = mf_alloc(&f->arena, sizeof *o * (size_t)cap);
    if (!o)
        return no_memory(f);
    const char *p = vars;
    while (*p) {
        while (*p == ' ' || *p == ',' || *p == '\t')
            p++;
        if (!*p)
            break;
        const char *s = p;
        while (*p && *p != ' ' && *p != ',' && *p != '\t')
            p++;
        const char *eq = memchr(s, '=', (size_t)(p - s));
        char *end = NULL;
        long v = 0;
        errno = 0;
        if (eq && eq + 1 < p)
            v = strtol(eq + 1, &end, 10);
        if (!eq || !mf_is_ident(s, (size_t)(eq - s)) || !end || end != p || errno ||
            v > MF_MAX_VALUE || v < -MF_MAX_VALUE)
            return mf_fail(f, NULL, 0, "variables set from outside: expected NAME=INTEGER "
                           "(within +-2^40), found '%.*s'", (int)(p - s), s);
        const char *name = mf_strndup(&f->arena, s, (size_t)(eq - s));
        if (!name)
            return no_memory(f);
        for (int i = 0; i < *n; i++)
            if (!strcmp(o[i].name, name))
                return mf_fail(f, NULL, 0, "variables set from outside: expected each once, "
                               "found '%s' twice", name);
        o[(*n)++] = (mf_override){name, v, 0};
    }
    *out = o;
    return CNN_STATUS_OK;
}

/* ---- entry points ---- */

typedef struct mf_owned {
    cnn_model_file pub; /* first: a cnn_model_file * is an mf_owned * */
    mf_arena *arena;
    cnn_layer_desc *layers;
} mf_owned;

cnn_status cnn_model_file_parse(const char *path, const char *text, const char *vars,
                                cnn_model_file **out, cnn_error *err)
{
    return cnn_model_file_parse_shaped(path, text, vars, NULL, out, err);
}

cnn_status cnn_model_file_parse_shaped(const char *path, const char *text, const char *vars,
                                       const cnn_data_shape *shape, cnn_model_file **out,
                                       cnn_error *err)
{
    const cnn_data_shape cifar = CNN_DATA_SHAPE_DEFAULT;
    if (!shape)
        shape = &cifar;
    *out = NULL;
    mf_owned *o = calloc(1, sizeof *o);
    if (!o)
        return cnn_error_set(err, CNN_STATUS_NO_MEMORY, "%s: no memory", path);
    mf_file f = {.path = path, .err = err};
    cnn_status st = CNN_STATUS_OK;
    o->pub.path = mf_strndup(&f.arena, path, strlen(path));
    o->pub.text = mf_strndup(&f.arena, text, strlen(text));
    o->pub.vars = mf_strndup(&f.arena, vars ? vars : "", vars ? strlen(vars) : 0);
    if (!o->pub.path || !o->pub.text || !o->pub.vars) {
        st = no_memory(&f);
        goto done;
    }
    f.path = o->pub.path;
    mf_override *ovr;
    int novr;
    if ((st = split_lines(&f, text)) || (st = structure(&f)) || (st = mf_collect_blocks(&f)) ||
        (st = mf_check_statements(&f)) || (st = mf_check_recursion(&f)) ||
        (st = parse_overrides(&f, vars, &ovr, &novr)) ||
        (st = mf_build(&f, ovr, novr, shape, &o->pub.desc, &o->layers)))
        goto done;
    if (strlen(o->pub.desc.name) > MF_MAX_NAME_BYTES)
        st = mf_fail(&f, NULL, 0, "model name '%s': expected at most %d bytes (what a weights "
                     "file stores), found %zu; give a shorter `name`", o->pub.desc.name,
                     MF_MAX_NAME_BYTES, strlen(o->pub.desc.name));
done:
    o->arena = f.arena;
    if (st) {
        cnn_model_file_free(&o->pub);
        return st;
    }
    *out = &o->pub;
    return CNN_STATUS_OK;
}

cnn_status cnn_model_file_read(const char *path, const char *vars, cnn_model_file **out,
                               cnn_error *err)
{
    return cnn_model_file_read_shaped(path, vars, NULL, out, err);
}

cnn_status cnn_model_file_read_shaped(const char *path, const char *vars,
                                      const cnn_data_shape *shape, cnn_model_file **out,
                                      cnn_error *err)
{
    *out = NULL;
    char *data;
    size_t size;
    cnn_status st = cnn_file_read_text(path, &data, &size, err);
    if (st)
        return st;
    st = cnn_model_file_parse_shaped(path, data, vars, shape, out, err);
    free(data);
    return st;
}

void cnn_model_file_free(cnn_model_file *f)
{
    if (!f)
        return;
    mf_owned *o = (mf_owned *)f;
    free(o->layers);
    mf_arena_free(o->arena);
    free(o);
}
