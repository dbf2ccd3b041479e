/* conv_dnnl.h: the oneDNN convolution's internals, shared by its files:
 *   dnnl_ctx.c   the context (engine, stream, the scratchpad and the kernel-side
 *                buffers all convolutions of a plan share) and the plumbing of
 *                primitives, reorders and memory objects;
 *   conv_dnnl.c  one convolution: its primitives (or conv_dense.c's and
 *                conv_wino.c's forms), forward and backward;
 *   conv_auto.c  CNN_CONV_AUTO: the candidates timed on the plan's batch, the
 *                choice cached per shape in the context.
 * The public interface is fast.h.
 */
#ifndef CNN_OPS_FAST_CONV_DNNL_H
#define CNN_OPS_FAST_CONV_DNNL_H

#include <dnnl.h>

#include "conv_bwino.h"
#include "conv_bww.h"
#include "conv_dense.h"
#include "conv_wino.h"
#include "core/core.h"
#include "fast.h"

/* How a direct kernel runs (cnn_fast_conv_make's run; conv_auto.c's choices
 * and the third field of its disk cache): on bf16, and in training with its
 * stride-1 backward-data as a forward primitive (conv_dnnl.c, bwd_as_forward)
 * and, on bf16, its weight gradient from conv_bww.c, its forward and
 * backward-data from conv_bwino.c's Winograd.
 * The storage bits (a bf16 kernel only; never cached: the plan's choice) read
 * x, write y or read dy stored as bf16 (CNN_FAST_X_BF16, CNN_FAST_Y_BF16,
 * CNN_FAST_DY_BF16 in fast.h). */
enum {
    CNN_RUN_BF16 = CNN_FAST_BF16,
    CNN_RUN_BWD_FWD = 2,
    CNN_RUN_X_BF16 = CNN_FAST_X_BF16,
    CNN_RUN_Y_BF16 = CNN_FAST_Y_BF16,
    CNN_RUN_DY_BF16 = CNN_FAST_DY_BF16,
    /* bf16 training: the weight gradient from conv_bww.c, not oneDNN's */
    CNN_RUN_OWN_BWW = 128,
    /* bf16, 3x3 stride 1: the forward and backward-data by conv_bwino.c's
     * Winograd F(2x2, 3x3), not oneDNN's direct kernels */
    CNN_RUN_OWN_WINO = 256,
    /* bf16 training, 3x3 stride 1: the weight gradient by conv_bwino.c's
     * Winograd (not with CNN_RUN_OWN_BWW) */
    CNN_RUN_WINO_BWW = 512
};
#define CNN_RUN_STORAGE (CNN_RUN_X_BF16 | CNN_RUN_Y_BF16 | CNN_RUN_DY_BF16)
/* The bits a timed choice carries (the disk cache's run field): a new
 * candidate's bit belongs here, or caches will never hold its choice. */
#define CNN_RUN_CHOICE \
    (CNN_RUN_BF16 | CNN_RUN_BWD_FWD | CNN_RUN_OWN_BWW | CNN_RUN_OWN_WINO | CNN_RUN_WINO_BWW)

/* Kernel-side buffers that live only within one call, shared by all
 * convolutions; SHARED_SCRATCH: cnnlab's own kernels' (conv_wino.c's and
 * conv_bwino.c's tiles, conv_bww.c's sums). */
enum { SHARED_IN, SHARED_OUT, SHARED_GRAD, SHARED_WEI, SHARED_SCRATCH, SHARED_COUNT };

#define MAX_CHOICES 64

typedef struct cnn_conv_choice {
    cnn_conv_geom g;
    int has_bias, training, bf16;
    cnn_act act;
    cnn_conv_algo algo;
    int run; /* CNN_RUN_* of the kept kernel */
    char why[336]; /* the timing that decided ("(cached ...": an earlier process's) */
} cnn_conv_choice;

struct cnn_dnnl {
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    void *scratch;
    size_t scratch_bytes;
    void *shared[SHARED_COUNT];
    size_t shared_bytes[SHARED_COUNT];
    cnn_conv_choice choices[MAX_CHOICES]; /* CNN_CONV_AUTO's decisions so far */
    int nchoices;
};

/* One primitive with its arguments; handles of user buffers are set per call. */
typedef struct cnn_dnnl_prim {
    dnnl_primitive_t p;
    dnnl_memory_t scratch; /* NULL if none needed */
} cnn_dnnl_prim;

/* A tensor as the caller holds it and as the kernel reads or writes it. */
typedef struct cnn_dnnl_side {
    dnnl_memory_t user;  /* fp32 in the caller's layout; handle set per call */
    dnnl_memory_t kern;  /* == user when the layouts agree */
    cnn_dnnl_prim reorder;        /* user -> kern for inputs, kern -> user for outputs; p NULL if none */
    int shared;          /* kern's buffer, when not the user's: ctx->shared[shared] */
} cnn_dnnl_side;

struct cnn_fast_conv {
    cnn_dnnl *ctx;
    cnn_conv_geom g;
    int has_bias;
    cnn_act act;
    int run;             /* CNN_RUN_* as made */
    char impl[512];
    const float *w_last; /* user weights of the latest forward */
    const float *b_last; /* bias of the latest forward (NULL without) */
    int training;
    int dense;           /* runs as conv_dense.c's matrix product, not on primitives */
    cnn_dense_conv dd;
    float *wd_own;       /* inference: the dense weight matrix (training: ctx->shared[SHARED_WEI]) */
    int wino;            /* runs as conv_wino.c's Winograd on sgemm, not on primitives */
    cnn_wino_conv wc;
    float *u_own;        /* inference: the transformed weights (training: SHARED_WEI) */

    cnn_dnnl_prim fwd, bwd_data, bwd_weights;
    /* bwd_data is a forward primitive on dy with the flipped, transposed
     * weights (conv_dnnl.c, bwd_as_forward), kept in wflip_own as
     * (IC, OC, KH, KW) for the reorder into wei_bwd */
    int bwd_as_fwd;
    /* bwd_weights unused: conv_bww.c (CNN_RUN_OWN_BWW) or conv_bwino.c
     * (wino_bww, CNN_RUN_WINO_BWW) on the bf16 x and dy, with SHARED_SCRATCH
     * for up to bww_threads threads */
    int own_bww, wino_bww, bww_threads;
    /* fwd and bwd_data unused: conv_bwino.c (CNN_RUN_OWN_WINO) on the bf16 x
     * and dy, its transformed weights in ub_own (inference) or SHARED_WEI
     * (training, made again by each pass), its tiles in SHARED_SCRATCH for up
     * to own_threads threads */
    int own_wino, own_threads;
    uint16_t *ub_own;
    float *wflip_own;
    dnnl_memory_t wflip_user;
    cnn_dnnl_side src, dst, diff_dst, diff_src;
    dnnl_memory_t bias, diff_bias;
    /* wei_bwd NULL: the forward's copy serves (wflip_user, with bwd_as_fwd) */
    dnnl_memory_t wei_user, wei_fwd, wei_bwd;
    cnn_dnnl_prim reorder_fwd, reorder_bwd;            /* wei_user -> wei_fwd / wei_bwd, or p == NULL */
    dnnl_memory_t diff_wei_user, diff_wei;
    cnn_dnnl_prim reorder_dw;                          /* diff_wei -> diff_wei_user, or p == NULL */
};

#define DNNL_TRY(call, what)                                                             \
    do {                                                                                 \
        dnnl_status_t s_ = (call);                                                       \
        if (s_ != dnnl_success) {                                                        \
            st = cnn_error_set(err, CNN_STATUS_BACKEND, "oneDNN refused %s (status %d)", \
                               what, (int)s_);                                           \
            goto fail;                                                                   \
        }                                                                                \
    } while (0)

/* ---- dnnl_ctx.c ---- */

/* Makes sure *buf holds `bytes`; only called at plan time. */
cnn_status cnn_dnnl_grow(void **buf, size_t *have, size_t bytes, cnn_error *err);
/* The sizes of a context's buffers: the shared ones and the scratchpad. */
typedef struct cnn_dnnl_sizes {
    size_t shared[SHARED_COUNT], scratch;
} cnn_dnnl_sizes;
cnn_dnnl_sizes cnn_dnnl_sizes_of(const cnn_dnnl *ctx);
/* Brings every buffer back to the sizes in had (taken before making
 * convolutions that are not kept: nothing made before them needs more). */
void cnn_dnnl_give_back(cnn_dnnl *ctx, const cnn_dnnl_sizes *had);
/* Creates the primitive of pd and its scratchpad memory (handle set at run). */
cnn_status cnn_dnnl_prim_make(cnn_dnnl *ctx, const_dnnl_primitive_desc_t pd, cnn_dnnl_prim *out,
                              cnn_error *err);
void cnn_dnnl_prim_free(cnn_dnnl_prim *p);
/* Executes with args (room for one more); appends the scratchpad argument. */
void cnn_dnnl_prim_run(cnn_dnnl *ctx, cnn_dnnl_prim *p, int nargs, dnnl_exec_arg_t *args);
/* User scratchpad, and act (CNN_ACT_RELU or none) as a post-op. */
dnnl_primitive_attr_t cnn_dnnl_attr(cnn_act act);
/* A reorder from -> to, or p = NULL when the two are the same. */
cnn_status cnn_dnnl_reorder_make(cnn_dnnl *ctx, const dnnl_memory_desc_t *from,
                                 const dnnl_memory_desc_t *to, cnn_dnnl_prim *out, cnn_error *err);
/* Memory for md with its own buffer (owned by oneDNN). */
cnn_status cnn_dnnl_owned_memory(cnn_dnnl *ctx, const dnnl_memory_desc_t *md, dnnl_memory_t *m,
                                 cnn_error *err);
/* Memory for md whose buffer is ctx->shared[shared] (handle set at run). */
cnn_status cnn_dnnl_shared_memory(cnn_dnnl *ctx, const dnnl_memory_desc_t *md, int shared,
                                  dnnl_memory_t *m, cnn_error *err);
/* Sets up s for a tensor the caller holds as user_md and the kernel wants as
 * kern_md; the kernel side lives in ctx->shared[shared]. */
cnn_status cnn_dnnl_side_make(cnn_dnnl *ctx, const dnnl_memory_desc_t *user_md,
                              const dnnl_memory_desc_t *kern_md, int input, int shared,
                              cnn_dnnl_side *s, cnn_error *err);
void cnn_dnnl_side_free(cnn_dnnl_side *s);
void cnn_dnnl_set(dnnl_memory_t m, const void *p);
void cnn_dnnl_reorder(cnn_dnnl *ctx, cnn_dnnl_prim *r, dnnl_memory_t from, dnnl_memory_t to);
/* Points s at the caller's buffer p; returns the memory the kernel uses, after
 * reordering into it for an input. */
dnnl_memory_t cnn_dnnl_side_bind(cnn_dnnl *ctx, cnn_dnnl_side *s, const void *p, int input);
/* After the kernel wrote an output's kernel side: the caller's copy. */
void cnn_dnnl_side_finish(cnn_dnnl *ctx, cnn_dnnl_side *s);

/* ---- conv_dnnl.c ---- */

/* One convolution with a given algorithm (direct, Winograd or dense) run as
 * run (CNN_RUN_*, direct only) says; CNN_STATUS_BACKEND where oneDNN has no
 * such kernel (CNN_RUN_BWD_FWD: where the shape does not allow it). */
cnn_status cnn_fast_conv_make(cnn_dnnl *ctx, const cnn_conv_geom *g, int has_bias, cnn_act act,
                              int training, int run, cnn_conv_algo algo, cnn_fast_conv **out,
                              cnn_error *err);

#endif
