/* modelfile.h: the model-file parser's internals, shared by its files:
 *   modelfile.c         text -> lines of tokens; block structure; entry points
 *   modelfile_check.c   the checks that need no values (words, keys, arity,
 *                       recursion)
 *   modelfile_expr.c    integer expressions ($width*4, $stride > 1 && $n)
 *   modelfile_build.c   runs the lines: block calls, repeats, conditions ->
 *                       the layer list
 *   modelfile_scope.c   the builder's scopes: variables, labels, values
 *   modelfile_header.c  header settings and assignments
 *   modelfile_layer.c   one layer line, through its class's word (the layer
 *                       classes own their words, arguments and keys:
 *                       src/layers/layer.h)
 * The format is described in docs/model-files.md; the public API in
 * include/cnnlab/model.h. Every error is "PATH:LINE:COL: what was expected,
 * what was found", status CNN_STATUS_FORMAT.
 */
#ifndef CNN_MODELFILE_H
#define CNN_MODELFILE_H

#include <stddef.h>

#include "cnnlab/model.h"
#include "layers/layer.h"

/* Everything a parse allocates, freed at once. */
typedef struct mf_arena mf_arena;
void *mf_alloc(mf_arena **a, size_t bytes); /* zero-filled; NULL when out of memory */
char *mf_strndup(mf_arena **a, const char *s, size_t n);
char *mf_printf(mf_arena **a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void mf_arena_free(mf_arena *a);

typedef struct mf_tok {
    const char *s; /* NUL-terminated copy */
    int col;       /* 1-based column in the line */
    int comma;     /* a ',' between positional arguments */
} mf_tok;

typedef enum mf_line_kind {
    MF_EMPTY = 0,
    MF_HEADER, /* name, about, input, classes, defaults */
    MF_ASSIGN, /* NAME = EXPR */
    MF_BLOCK,  /* block NAME PARAM... PARAM=DEFAULT... */
    MF_END,
    MF_IF,     /* if EXPR */
    MF_ELSE,
    MF_REPEAT, /* repeat N (body until end), or repeat N LAYER-OR-CALL on one line */
    MF_LAYER   /* [LABEL:] KIND-OR-BLOCK ARG... KEY=VALUE... */
} mf_line_kind;

typedef struct mf_line {
    int no;           /* 1-based line number */
    const char *text; /* comment stripped (NUL-terminated); columns index it */
    mf_tok *tok;
    int ntok;
    const char *label; /* "b2" of "b2: conv ...", or NULL */
    int label_col;
    int first;         /* index of the first token after the label */
    mf_line_kind kind;
    int match;         /* block, if, repeat with a body, else: index of the closing end */
    int else_at;       /* if: index of its else, or -1 */
} mf_line;

typedef struct mf_block {
    const char *name;
    int line;            /* index of its `block` line */
    int nparams, nrequired; /* parameters without defaults come first */
    const mf_tok **params;  /* "out" or "stride=1" */
} mf_block;

typedef struct mf_file {
    const char *path;
    mf_arena *arena;
    mf_line *lines;
    int nlines;
    mf_block *blocks;
    int nblocks;
    cnn_error *err;
} mf_file;

const mf_block *mf_block_find(const mf_file *f, const char *name);
int mf_is_ident(const char *s, size_t n);
int mf_is_keyword(const char *s);
/* "k=3" -> 1 with the length of "k" in *n; anything else -> 0. */
int mf_key_like(const char *s, size_t *n);

/* The checks of modelfile_check.c, in this order, after the structure pass. */
cnn_status mf_collect_blocks(mf_file *f);
cnn_status mf_check_statements(const mf_file *f);
cnn_status mf_check_recursion(const mf_file *f);

/* Sets f->err to "PATH:LINE:COL: message" and returns CNN_STATUS_FORMAT. */
cnn_status mf_fail(const mf_file *f, const mf_line *l, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Splits line tokens [t0, ntok) into positional arguments and key=value pairs;
 * checks commas. Returns CNN_STATUS_OK or an error. */
#define MF_MAX_ARGS 32
typedef struct mf_args_split {
    const mf_tok *pos[MF_MAX_ARGS];
    int npos;
    const mf_tok *keys[MF_MAX_ARGS];
    const char *key_names[MF_MAX_ARGS]; /* the part before '=' */
    const char *values[MF_MAX_ARGS];    /* the part after '=' */
    int value_cols[MF_MAX_ARGS];
    int nkeys;
} mf_args_split;
cnn_status mf_split_args(const mf_file *f, const mf_line *l, int t0, mf_args_split *a);

/* Variables for expressions: a lookup the builder provides. */
typedef int (*mf_lookup_fn)(void *ctx, const char *name, long *value);
/* Evaluates the integer expression s (at column col of line l). */
cnn_status mf_eval(const mf_file *f, const mf_line *l, int col, const char *s, mf_lookup_fn lookup,
                   void *ctx, long *out);

/* Runs the checked lines into desc (layers allocated with malloc into *layers). */
typedef struct mf_override {
    const char *name;
    long value;
    int used;
} mf_override;
/* shape: the input and classes a file that does not set them gets. */
cnn_status mf_build(mf_file *f, mf_override *ovr, int novr, const cnn_data_shape *shape,
                    cnn_model_desc *desc, cnn_layer_desc **layers);

/* ---- the builder's state (modelfile_build.c, _scope.c, _header.c, _layer.c) ---- */

#define MF_MAX_LAYERS 100000

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

typedef struct mf_run {
    mf_file *f;
    mf_scope *global;
    cnn_layer_desc *layers;
    int count, cap;
    int first_layer_line;
    /* header settings and the lines that set them */
    const char *name, *about;
    int in_h, in_w, in_c;
    int set_line[5]; /* name, about, input, classes, defaults */
    cnn_layer_defaults defaults; /* the file's `defaults` line, for the slot words */
    cnn_init_kind init;
    mf_override *ovr;
    int novr;
    int depth;
    long steps;
} mf_run;

cnn_status mf_no_memory(const mf_file *f);
/* Makes room for element n of *p (capacity *cap); 0 when out of memory. */
int mf_grow(void **p, int *cap, int n, size_t elem);
void mf_scope_free(mf_scope *s);
mf_var *mf_var_find(mf_scope *s, const char *name);
cnn_status mf_var_set(mf_run *r, mf_scope *s, const mf_line *l, int col, const char *name,
                      long value);
/* The expression text at column col of l, with s's variables. */
cnn_status mf_run_eval(mf_run *r, mf_scope *s, const mf_line *l, int col, const char *text,
                       long *out);
/* An integer in [min, max]; what names it in the message. */
cnn_status mf_run_eval_int(mf_run *r, mf_scope *s, const mf_line *l, int col, const char *text,
                           const char *what, long min, long max, int *out);
/* A probability in [0, 1). */
cnn_status mf_prob(mf_run *r, const mf_line *l, int col, const char *text, const char *what,
                   float *out);
/* A finite number in [min, max] (no expressions: keys like eps=1e-12). */
cnn_status mf_number(mf_run *r, const mf_line *l, int col, const char *text, const char *what,
                     double min, double max, float *out);
cnn_status mf_label_set(mf_run *r, mf_scope *s, const mf_line *l, const char *name, int layer);
/* The layer a label names (-1: the model's input); an error lists the known ones. */
cnn_status mf_label_get(mf_run *r, mf_scope *s, const mf_line *l, const mf_tok *t,
                        const char *text, int col, int *layer);
/* Appends d (labelled label, else word) to the layer list; the cursor moves to it. */
cnn_status mf_emit(mf_run *r, mf_scope *s, const mf_line *l, const char *label, const char *word,
                   cnn_layer_desc *d, int *cursor);
/* A layer line from token t0 (word) on. */
cnn_status mf_layer(mf_run *r, mf_scope *s, const mf_line *l, int t0, const cnn_layer_class *cls,
                    const cnn_layer_word *w, const char *label, int *cursor);
cnn_status mf_header(mf_run *r, const mf_line *l);
cnn_status mf_assign(mf_run *r, mf_scope *s, const mf_line *l);

#endif
