/* modelfile.h: the model-file parser's internals, shared by its four files:
 *   modelfile.c        text -> lines of tokens; block structure; entry points
 *   modelfile_check.c  the words; the checks that need no values (kinds, keys,
 *                      arity, recursion)
 *   modelfile_expr.c   integer expressions ($width*4, $stride > 1 && $n)
 *   modelfile_build.c  runs the lines: variables, labels, block calls, repeats,
 *                      conditions -> the layer list
 * The format is described in docs/model-files.md; the public API in
 * include/cnnlab/model.h. Every error is "PATH:LINE:COL: what was expected,
 * what was found", status CNN_STATUS_FORMAT.
 */
#ifndef CNN_MODELFILE_H
#define CNN_MODELFILE_H

#include <stddef.h>

#include "cnnlab/model.h"

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

/* A layer word: the kinds a line may start with. */
enum {
    MF_KEY_K = 1, MF_KEY_STRIDE = 2, MF_KEY_PAD = 4, MF_KEY_BIAS = 8, MF_KEY_KNOBS = 16,
    MF_KEY_GROUPS = 32, MF_KEY_FROM = 64,
    MF_KEY_GAMMA = 128, MF_KEY_EPS = 256, MF_KEY_MOMENTUM = 512, MF_KEY_FREEZE = 1024,
    MF_KEY_INIT = 2048
};
typedef enum mf_args {
    MF_ARGS_NONE,     /* no positional arguments */
    MF_ARGS_INT,      /* one integer: out channels or features, a window */
    MF_ARGS_PROB_OPT, /* an optional probability */
    MF_ARGS_PROB,     /* a probability */
    MF_ARGS_LABELS,   /* labels of earlier layers */
    MF_ARGS_NUMBER    /* a finite number (scale's factor) */
} mf_args;
typedef struct mf_kind {
    const char *word;
    cnn_layer_kind kind;
    mf_args args;
    int min_labels, max_labels;
    unsigned keys;  /* MF_KEY_* allowed */
    int slots;      /* CNN_SLOT_NORM, _ACT or _DROPOUT for the slot words */
    cnn_act act;    /* fixed activations */
    const char *usage;
} mf_kind;

const mf_kind *mf_kind_find(const char *word);
const mf_block *mf_block_find(const mf_file *f, const char *name);
const char *mf_key_name(unsigned key);
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
cnn_status mf_build(mf_file *f, mf_override *ovr, int novr, cnn_model_desc *desc,
                    cnn_layer_desc **layers);

#endif
