/* conv_dnnl.c: 2-D convolution on oneDNN primitives, NHWC activations.
 *
 * Invariant: every primitive, memory object and weight buffer is created in
 * cnn_fast_conv_create; forward and backward only set data handles, reorder
 * and execute.
 *
 * The caller's tensors are fp32: activations NHWC, weights in PyTorch's
 * (OC,IC,KH,KW) layout. A kernel may want something else, and then each tensor
 * has a "kernel side" it is reordered into (inputs) or out of (outputs):
 *   - weights: the blocked layout the kernel prefers, refreshed by each forward
 *     (the forward's and backward-data's may differ); weight gradients are
 *     reordered back;
 *   - Winograd (fp32, 3x3, stride 1): blocked activations;
 *   - bf16 (mixed precision): the kernels read bf16 inputs, weights and output
 *     gradients and accumulate in fp32; outputs, input gradients and weight
 *     gradients stay fp32, so everything around the convolution (normalisation,
 *     the optimizer and its fp32 master weights) is unchanged.
 * Kernel-side copies of activations live in three buffers all convolutions of
 * a plan share (in, out, gradient), so they cost memory once, not per layer;
 * backward-weights converts x again rather than keep the forward's copy. So do
 * backward-data's weights and the blocked weight gradients (one buffer: they
 * are used one after the other); only the forward's weights are kept.
 * With CNN_CONV_AUTO the algorithm of each shape is chosen by timing the
 * candidates on the plan's batch once (cached per plan, so repeated shapes are
 * timed once): direct always, Winograd for 3x3 stride 1, and the dense matrix
 * product of conv_dense.c where the input has no more positions than the
 * kernel has taps. The dense form runs on sgemm, fp32; a training plan builds
 * its matrix in the shared weight buffer for each pass (forward, backward),
 * an inference plan keeps its own. cnnlab's Winograd (conv_wino.c, sgemm,
 * fp32) keeps its transformed weights the same way and its tiles' scratch in
 * one more shared buffer; auto times it where oneDNN has no Winograd.
 * Timed choices are also kept on disk for later processes (conv_cache.c).
 */
#include <dnnl.h>
#include <omp.h>
#include <string.h>

#include "conv_cache.h"
#include "conv_dense.h"
#include "conv_wino.h"
#include "core/core.h"
#include "fast.h"

/* Kernel-side buffers that live only within one call, shared by all convolutions. */
enum { SHARED_IN, SHARED_OUT, SHARED_GRAD, SHARED_WEI, SHARED_WINO, SHARED_COUNT };

#define MAX_CHOICES 64

typedef struct choice {
    cnn_conv_geom g;
    int has_bias, training, bf16;
    cnn_act act;
    cnn_conv_algo algo;
    int run_bf16; /* the kept kernel reads bf16 (a bf16 plan's direct kernel) */
    char why[136]; /* the timing that decided ("(cached ...": an earlier process's) */
} choice;

struct cnn_dnnl {
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    void *scratch;
    size_t scratch_bytes;
    void *shared[SHARED_COUNT];
    size_t shared_bytes[SHARED_COUNT];
    choice choices[MAX_CHOICES]; /* CNN_CONV_AUTO's decisions so far */
    int nchoices;
};

/* One primitive with its arguments; handles of user buffers are set per call. */
typedef struct prim {
    dnnl_primitive_t p;
    dnnl_memory_t scratch; /* NULL if none needed */
} prim;

/* A tensor as the caller holds it and as the kernel reads or writes it. */
typedef struct side {
    dnnl_memory_t user;  /* fp32 in the caller's layout; handle set per call */
    dnnl_memory_t kern;  /* == user when the layouts agree */
    prim reorder;        /* user -> kern for inputs, kern -> user for outputs; p NULL if none */
    int shared;          /* kern's buffer, when not the user's: ctx->shared[shared] */
} side;

struct cnn_fast_conv {
    cnn_dnnl *ctx;
    cnn_conv_geom g;
    int has_bias;
    cnn_act act;
    char impl[224];
    const float *w_last; /* user weights of the latest forward */
    const float *b_last; /* bias of the latest forward (NULL without) */
    int training;
    int dense;           /* runs as conv_dense.c's matrix product, not on primitives */
    cnn_dense_conv dd;
    float *wd_own;       /* inference: the dense weight matrix (training: ctx->shared[SHARED_WEI]) */
    int wino;            /* runs as conv_wino.c's Winograd on sgemm, not on primitives */
    cnn_wino_conv wc;
    float *u_own;        /* inference: the transformed weights (training: SHARED_WEI) */

    prim fwd, bwd_data, bwd_weights;
    side src, dst, diff_dst, diff_src;
    dnnl_memory_t bias, diff_bias;
    dnnl_memory_t wei_user, wei_fwd, wei_bwd; /* wei_bwd NULL: the forward's copy serves */
    prim reorder_fwd, reorder_bwd;            /* wei_user -> wei_fwd / wei_bwd, or p == NULL */
    dnnl_memory_t diff_wei_user, diff_wei;
    prim reorder_dw;                          /* diff_wei -> diff_wei_user, or p == NULL */
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

cnn_status cnn_dnnl_create(cnn_dnnl **out, cnn_error *err)
{
    cnn_dnnl *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return cnn_error_set(err, CNN_STATUS_NO_MEMORY, "no memory for the oneDNN context");
    if (dnnl_engine_create(&ctx->engine, dnnl_cpu, 0) != dnnl_success ||
        dnnl_stream_create(&ctx->stream, ctx->engine, dnnl_stream_default_flags) != dnnl_success) {
        cnn_dnnl_destroy(ctx);
        return cnn_error_set(err, CNN_STATUS_BACKEND, "cannot create a oneDNN CPU engine");
    }
    *out = ctx;
    return CNN_STATUS_OK;
}

void cnn_dnnl_destroy(cnn_dnnl *ctx)
{
    if (!ctx)
        return;
    if (ctx->stream)
        dnnl_stream_destroy(ctx->stream);
    if (ctx->engine)
        dnnl_engine_destroy(ctx->engine);
    cnn_free(ctx->scratch);
    for (int i = 0; i < SHARED_COUNT; i++)
        cnn_free(ctx->shared[i]);
    free(ctx);
}

size_t cnn_dnnl_scratch_bytes(const cnn_dnnl *ctx)
{
    size_t b = ctx->scratch_bytes;
    for (int i = 0; i < SHARED_COUNT; i++)
        b += ctx->shared_bytes[i];
    return b;
}

/* Makes sure *buf holds `bytes`; only called at plan time. */
static cnn_status grow(void **buf, size_t *have, size_t bytes, cnn_error *err)
{
    if (bytes <= *have)
        return CNN_STATUS_OK;
    void *p = cnn_alloc(bytes);
    if (!p)
        return cnn_error_set(err, CNN_STATUS_NO_MEMORY, "no memory for a %zu-byte buffer", bytes);
    cnn_free(*buf);
    *buf = p;
    *have = bytes;
    return CNN_STATUS_OK;
}

/* Gives back what *buf holds beyond `bytes` (plan time: a timed candidate that
 * lost); keeps the larger buffer if the smaller cannot be had. */
static void shrink(void **buf, size_t *have, size_t bytes)
{
    if (bytes >= *have)
        return;
    void *p = bytes ? cnn_alloc(bytes) : NULL;
    if (bytes && !p)
        return;
    cnn_free(*buf);
    *buf = p;
    *have = bytes;
}

/* Brings every shared buffer back to the sizes in had (taken before making a
 * convolution that is not kept: nothing made before it needs more). */
static void give_back(cnn_dnnl *ctx, const size_t had[SHARED_COUNT])
{
    for (int i = 0; i < SHARED_COUNT; i++)
        shrink(&ctx->shared[i], &ctx->shared_bytes[i], had[i]);
}

/* Creates the primitive of pd and its scratchpad memory (handle set at run). */
static cnn_status prim_make(cnn_dnnl *ctx, const_dnnl_primitive_desc_t pd, prim *out,
                            cnn_error *err)
{
    cnn_status st = CNN_STATUS_OK;
    DNNL_TRY(dnnl_primitive_create(&out->p, pd), "a primitive");
    const dnnl_memory_desc_t *smd = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    size_t bytes = smd ? dnnl_memory_desc_get_size(smd) : 0;
    if (bytes > 0) {
        if ((st = grow(&ctx->scratch, &ctx->scratch_bytes, bytes, err)) != CNN_STATUS_OK)
            return st;
        DNNL_TRY(dnnl_memory_create(&out->scratch, smd, ctx->engine, DNNL_MEMORY_NONE),
                 "a scratchpad");
    }
fail:
    return st;
}

static void prim_free(prim *p)
{
    if (p->p)
        dnnl_primitive_destroy(p->p);
    if (p->scratch)
        dnnl_memory_destroy(p->scratch);
}

/* Executes with args; appends the scratchpad argument. */
static void prim_run(cnn_dnnl *ctx, prim *p, int nargs, dnnl_exec_arg_t *args)
{
    if (p->scratch) {
        dnnl_memory_set_data_handle(p->scratch, ctx->scratch);
        args[nargs].arg = DNNL_ARG_SCRATCHPAD;
        args[nargs].memory = p->scratch;
        nargs++;
    }
    dnnl_status_t s = dnnl_primitive_execute(p->p, ctx->stream, nargs, args);
    CNN_ASSERT(s == dnnl_success);
}

static dnnl_primitive_attr_t make_attr(cnn_act act)
{
    dnnl_primitive_attr_t attr;
    dnnl_primitive_attr_create(&attr);
    dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
    if (act == CNN_ACT_RELU) {
        dnnl_post_ops_t po;
        dnnl_post_ops_create(&po);
        dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, 0.0f, 0.0f);
        dnnl_primitive_attr_set_post_ops(attr, po);
        dnnl_post_ops_destroy(po);
    }
    return attr;
}

/* A reorder from -> to, or p = NULL when the two are the same. */
static cnn_status make_reorder(cnn_dnnl *ctx, const dnnl_memory_desc_t *from,
                               const dnnl_memory_desc_t *to, prim *out, cnn_error *err)
{
    cnn_status st = CNN_STATUS_OK;
    out->p = NULL;
    out->scratch = NULL;
    if (dnnl_memory_desc_equal(from, to))
        return CNN_STATUS_OK;
    dnnl_primitive_attr_t attr = make_attr(CNN_ACT_NONE);
    dnnl_primitive_desc_t pd = NULL;
    DNNL_TRY(dnnl_reorder_primitive_desc_create(&pd, from, ctx->engine, to, ctx->engine, attr),
             "a reorder");
    st = prim_make(ctx, pd, out, err);
fail:
    if (pd)
        dnnl_primitive_desc_destroy(pd);
    dnnl_primitive_attr_destroy(attr);
    return st;
}

/* Memory for md with its own buffer (owned by oneDNN). */
static cnn_status owned_memory(cnn_dnnl *ctx, const dnnl_memory_desc_t *md, dnnl_memory_t *m,
                               cnn_error *err)
{
    if (dnnl_memory_create(m, md, ctx->engine, DNNL_MEMORY_ALLOCATE) != dnnl_success)
        return cnn_error_set(err, CNN_STATUS_NO_MEMORY, "oneDNN could not allocate %zu bytes",
                             dnnl_memory_desc_get_size(md));
    return CNN_STATUS_OK;
}

/* Memory for md whose buffer is ctx->shared[shared] (handle set at run). */
static cnn_status shared_memory(cnn_dnnl *ctx, const dnnl_memory_desc_t *md, int shared,
                                dnnl_memory_t *m, cnn_error *err)
{
    cnn_status st = grow(&ctx->shared[shared], &ctx->shared_bytes[shared],
                         dnnl_memory_desc_get_size(md), err);
    if (st)
        return st;
    if (dnnl_memory_create(m, md, ctx->engine, DNNL_MEMORY_NONE) != dnnl_success)
        return cnn_error_set(err, CNN_STATUS_BACKEND, "oneDNN refused a memory object");
    return CNN_STATUS_OK;
}

/* Sets up s for a tensor the caller holds as user_md and the kernel wants as
 * kern_md; the kernel side lives in ctx->shared[shared]. */
static cnn_status side_make(cnn_dnnl *ctx, const dnnl_memory_desc_t *user_md,
                            const dnnl_memory_desc_t *kern_md, int input, int shared, side *s,
                            cnn_error *err)
{
    cnn_status st = CNN_STATUS_OK;
    s->shared = shared;
    DNNL_TRY(dnnl_memory_create(&s->user, user_md, ctx->engine, DNNL_MEMORY_NONE), "memory");
    if (dnnl_memory_desc_equal(user_md, kern_md)) {
        s->kern = s->user;
        return CNN_STATUS_OK;
    }
    if ((st = shared_memory(ctx, kern_md, shared, &s->kern, err)))
        return st;
    st = input ? make_reorder(ctx, user_md, kern_md, &s->reorder, err)
               : make_reorder(ctx, kern_md, user_md, &s->reorder, err);
fail:
    return st;
}

static void side_free(side *s)
{
    prim_free(&s->reorder);
    if (s->kern && s->kern != s->user)
        dnnl_memory_destroy(s->kern);
    if (s->user)
        dnnl_memory_destroy(s->user);
}

static void set(dnnl_memory_t m, const void *p) { dnnl_memory_set_data_handle(m, (void *)p); }

static void reorder(cnn_dnnl *ctx, prim *r, dnnl_memory_t from, dnnl_memory_t to)
{
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
    prim_run(ctx, r, 2, args);
}

/* Points s at the caller's buffer p; returns the memory the kernel uses, after
 * reordering into it for an input. */
static dnnl_memory_t side_bind(cnn_dnnl *ctx, side *s, const void *p, int input)
{
    set(s->user, p);
    if (s->kern == s->user)
        return s->user;
    set(s->kern, ctx->shared[s->shared]);
    if (input)
        reorder(ctx, &s->reorder, s->user, s->kern);
    return s->kern;
}

/* After the kernel wrote an output's kernel side: the caller's copy. */
static void side_finish(cnn_dnnl *ctx, side *s)
{
    if (s->kern != s->user)
        reorder(ctx, &s->reorder, s->kern, s->user);
}

void cnn_fast_conv_destroy(cnn_fast_conv *c)
{
    if (!c)
        return;
    cnn_dense_conv_free(&c->dd);
    cnn_free(c->wd_own);
    cnn_free(c->u_own);
    prim_free(&c->fwd);
    prim_free(&c->bwd_data);
    prim_free(&c->bwd_weights);
    prim_free(&c->reorder_fwd);
    prim_free(&c->reorder_bwd);
    prim_free(&c->reorder_dw);
    side_free(&c->src);
    side_free(&c->dst);
    side_free(&c->diff_dst);
    side_free(&c->diff_src);
    dnnl_memory_t mems[] = {c->bias, c->wei_user, c->wei_fwd, c->wei_bwd,
                            c->diff_wei, c->diff_wei_user, c->diff_bias};
    for (size_t i = 0; i < sizeof mems / sizeof mems[0]; i++)
        if (mems[i])
            dnnl_memory_destroy(mems[i]);
    free(c);
}

/* The dense form (conv_dense.c): no primitives, one matrix of weights. */
static cnn_status dense_make(cnn_fast_conv *c, cnn_error *err)
{
    cnn_status st = cnn_dense_conv_init(&c->dd, &c->g, err);
    if (st)
        return st;
    c->dense = 1;
    size_t bytes = cnn_dense_conv_floats(&c->g) * sizeof(float);
    snprintf(c->impl, sizeof c->impl, "dense:sgemm (%dx%d map as one %dx%d matrix)", c->g.ih,
             c->g.iw, c->g.ih * c->g.iw * c->g.ic, c->g.oh * c->g.ow * c->g.oc);
    if (c->training)
        return grow(&c->ctx->shared[SHARED_WEI], &c->ctx->shared_bytes[SHARED_WEI], bytes, err);
    if (!(c->wd_own = cnn_alloc(bytes)))
        return cnn_error_set(err, CNN_STATUS_NO_MEMORY, "no memory for a %zu MiB dense "
                             "convolution matrix", bytes >> 20);
    return CNN_STATUS_OK;
}

/* cnnlab's Winograd (conv_wino.c): no primitives, transformed weights and
 * the tiles' scratch (shared by all convolutions). */
static cnn_status wino_make(cnn_fast_conv *c, cnn_error *err)
{
    cnn_status st = cnn_wino_conv_init(&c->wc, &c->g, omp_get_max_threads(), err);
    if (st)
        return st;
    c->wino = 1;
    snprintf(c->impl, sizeof c->impl, "winograd:sgemm F(4x4,3x3), %d tiles a chunk",
             c->wc.chunk);
    cnn_dnnl *ctx = c->ctx;
    size_t bytes = cnn_wino_conv_weight_floats(&c->wc) * sizeof(float);
    if ((st = grow(&ctx->shared[SHARED_WINO], &ctx->shared_bytes[SHARED_WINO],
                   cnn_wino_conv_scratch_floats(&c->wc, c->training) * sizeof(float), err)))
        return st;
    if (c->training)
        return grow(&ctx->shared[SHARED_WEI], &ctx->shared_bytes[SHARED_WEI], bytes, err);
    if (!(c->u_own = cnn_alloc(bytes)))
        return cnn_error_set(err, CNN_STATUS_NO_MEMORY, "no memory for %zu MiB of Winograd "
                             "weights", bytes >> 20);
    return CNN_STATUS_OK;
}

/* One convolution with a given algorithm (direct, Winograd or dense). */
static cnn_status conv_make(cnn_dnnl *ctx, const cnn_conv_geom *g, int has_bias, cnn_act act,
                            int training, int bf16, cnn_conv_algo algo, cnn_fast_conv **out,
                            cnn_error *err)
{
    cnn_status st = CNN_STATUS_OK;
    cnn_fast_conv *c = calloc(1, sizeof *c);
    if (!c)
        return cnn_error_set(err, CNN_STATUS_NO_MEMORY, "no memory for a convolution");
    c->ctx = ctx;
    c->g = *g;
    c->has_bias = has_bias;
    c->act = act;
    c->training = training;
    if (algo == CNN_CONV_DENSE || algo == CNN_CONV_WINOGRAD_SGEMM) {
        if ((st = algo == CNN_CONV_DENSE ? dense_make(c, err) : wino_make(c, err))) {
            cnn_fast_conv_destroy(c);
            return st;
        }
        *out = c;
        return CNN_STATUS_OK;
    }
    int wino = algo == CNN_CONV_WINOGRAD;
    dnnl_alg_kind_t alg = wino ? dnnl_convolution_winograd : dnnl_convolution_direct;
    dnnl_data_type_t lo = bf16 ? dnnl_bf16 : dnnl_f32; /* what the kernels read */
    /* Activation layouts the kernels get: NHWC, or their choice for Winograd. */
    dnnl_format_tag_t act_tag = wino ? dnnl_format_tag_any : dnnl_nhwc;

    dnnl_memory_desc_t src_md, dst_md, bias_md, wei_user_md, wei_any_md, dw_any_md;
    dnnl_memory_desc_t src_k_md, dst_k_md, ddst_k_md, dsrc_k_md;
    dnnl_dims_t src_dims = {g->n, g->ic, g->ih, g->iw};
    dnnl_dims_t dst_dims = {g->n, g->oc, g->oh, g->ow};
    dnnl_dims_t wei_dims = {g->oc, g->ic, g->kh, g->kw};
    dnnl_dims_t bias_dims = {g->oc};
    dnnl_dims_t strides = {g->sh, g->sw};
    dnnl_dims_t pad_l = {g->ph, g->pw};
    /* Right padding so that the last window is the last one PyTorch uses. */
    dnnl_dims_t pad_r = {(g->oh - 1) * g->sh + g->kh - g->ih - g->ph,
                         (g->ow - 1) * g->sw + g->kw - g->iw - g->pw};
    dnnl_memory_desc_init_by_tag(&src_md, 4, src_dims, dnnl_f32, dnnl_nhwc);
    dnnl_memory_desc_init_by_tag(&dst_md, 4, dst_dims, dnnl_f32, dnnl_nhwc);
    dnnl_memory_desc_init_by_tag(&wei_user_md, 4, wei_dims, dnnl_f32, dnnl_oihw);
    dnnl_memory_desc_init_by_tag(&wei_any_md, 4, wei_dims, lo, dnnl_format_tag_any);
    dnnl_memory_desc_init_by_tag(&dw_any_md, 4, wei_dims, dnnl_f32, dnnl_format_tag_any);
    dnnl_memory_desc_init_by_tag(&bias_md, 1, bias_dims, dnnl_f32, dnnl_a);
    dnnl_memory_desc_init_by_tag(&src_k_md, 4, src_dims, lo, act_tag);
    dnnl_memory_desc_init_by_tag(&dst_k_md, 4, dst_dims, dnnl_f32, act_tag);
    dnnl_memory_desc_init_by_tag(&ddst_k_md, 4, dst_dims, lo, act_tag);
    dnnl_memory_desc_init_by_tag(&dsrc_k_md, 4, src_dims, dnnl_f32, act_tag);

    dnnl_primitive_attr_t attr_fwd = make_attr(act), attr = make_attr(CNN_ACT_NONE);
    dnnl_primitive_desc_t fwd_pd = NULL, bwd_d_pd = NULL, bwd_w_pd = NULL;
    dnnl_convolution_desc_t d;
    const dnnl_memory_desc_t *q;

    DNNL_TRY(dnnl_convolution_forward_desc_init(
                 &d, training ? dnnl_forward_training : dnnl_forward_inference, alg, &src_k_md,
                 &wei_any_md, has_bias ? &bias_md : NULL, &dst_k_md, strides, pad_l, pad_r),
             "the convolution forward");
    if (dnnl_primitive_desc_create(&fwd_pd, &d, attr_fwd, ctx->engine, NULL) != dnnl_success) {
        st = cnn_error_set(err, CNN_STATUS_BACKEND, "oneDNN has no %s %s convolution for this "
                           "shape on this CPU%s", bf16 ? "bf16" : "fp32",
                           wino ? "Winograd" : "direct",
                           bf16   ? " (bf16 needs AVX-512; use --precision fp32)"
                           : wino ? " (oneDNN's Winograd is for AVX-512 CPUs and 3x3 stride-1 "
                                    "kernels; use --conv auto or direct)"
                                  : "");
        goto fail;
    }
    const char *impl = NULL;
    dnnl_primitive_desc_query(fwd_pd, dnnl_query_impl_info_str, 0, &impl);
    snprintf(c->impl, sizeof c->impl, "%s", impl ? impl : "?");
    if ((st = prim_make(ctx, fwd_pd, &c->fwd, err)))
        goto fail;
    q = dnnl_primitive_desc_query_md(fwd_pd, dnnl_query_src_md, 0);
    if ((st = side_make(ctx, &src_md, q, 1, SHARED_IN, &c->src, err)))
        goto fail;
    q = dnnl_primitive_desc_query_md(fwd_pd, dnnl_query_dst_md, 0);
    if ((st = side_make(ctx, &dst_md, q, 0, SHARED_OUT, &c->dst, err)))
        goto fail;
    DNNL_TRY(dnnl_memory_create(&c->bias, &bias_md, ctx->engine, DNNL_MEMORY_NONE), "memory");
    DNNL_TRY(dnnl_memory_create(&c->wei_user, &wei_user_md, ctx->engine, DNNL_MEMORY_NONE),
             "memory");
    const dnnl_memory_desc_t *wei_fwd_md =
        dnnl_primitive_desc_query_md(fwd_pd, dnnl_query_weights_md, 0);
    if ((st = make_reorder(ctx, &wei_user_md, wei_fwd_md, &c->reorder_fwd, err)))
        goto fail;
    if (c->reorder_fwd.p && (st = owned_memory(ctx, wei_fwd_md, &c->wei_fwd, err)))
        goto fail;

    if (training) {
        DNNL_TRY(dnnl_convolution_backward_data_desc_init(&d, alg, &dsrc_k_md, &wei_any_md,
                                                          &ddst_k_md, strides, pad_l, pad_r),
                 "the convolution backward-data");
        DNNL_TRY(dnnl_primitive_desc_create(&bwd_d_pd, &d, attr, ctx->engine, fwd_pd),
                 "the convolution backward-data");
        if ((st = prim_make(ctx, bwd_d_pd, &c->bwd_data, err)))
            goto fail;
        const dnnl_memory_desc_t *ddst_q =
            dnnl_primitive_desc_query_md(bwd_d_pd, dnnl_query_diff_dst_md, 0);
        if ((st = side_make(ctx, &dst_md, ddst_q, 1, SHARED_OUT, &c->diff_dst, err)))
            goto fail;
        q = dnnl_primitive_desc_query_md(bwd_d_pd, dnnl_query_diff_src_md, 0);
        if ((st = side_make(ctx, &src_md, q, 0, SHARED_GRAD, &c->diff_src, err)))
            goto fail;
        const dnnl_memory_desc_t *wei_bwd_md =
            dnnl_primitive_desc_query_md(bwd_d_pd, dnnl_query_weights_md, 0);
        if (!dnnl_memory_desc_equal(wei_bwd_md, wei_fwd_md)) {
            if ((st = make_reorder(ctx, &wei_user_md, wei_bwd_md, &c->reorder_bwd, err)) ||
                (st = shared_memory(ctx, wei_bwd_md, SHARED_WEI, &c->wei_bwd, err)))
                goto fail;
        }

        /* Backward-weights reads the forward's copy of x and backward-data's dy. */
        const dnnl_memory_desc_t *src_q = dnnl_primitive_desc_query_md(fwd_pd, dnnl_query_src_md, 0);
        DNNL_TRY(dnnl_convolution_backward_weights_desc_init(
                     &d, alg, src_q, &dw_any_md, has_bias ? &bias_md : NULL, ddst_q, strides,
                     pad_l, pad_r),
                 "the convolution backward-weights");
        DNNL_TRY(dnnl_primitive_desc_create(&bwd_w_pd, &d, attr, ctx->engine, fwd_pd),
                 "the convolution backward-weights");
        if ((st = prim_make(ctx, bwd_w_pd, &c->bwd_weights, err)))
            goto fail;
        const dnnl_memory_desc_t *dw_md =
            dnnl_primitive_desc_query_md(bwd_w_pd, dnnl_query_diff_weights_md, 0);
        DNNL_TRY(dnnl_memory_create(&c->diff_wei_user, &wei_user_md, ctx->engine, DNNL_MEMORY_NONE),
                 "memory");
        DNNL_TRY(dnnl_memory_create(&c->diff_bias, &bias_md, ctx->engine, DNNL_MEMORY_NONE), "memory");
        if ((st = make_reorder(ctx, dw_md, &wei_user_md, &c->reorder_dw, err)))
            goto fail;
        if (c->reorder_dw.p && (st = shared_memory(ctx, dw_md, SHARED_WEI, &c->diff_wei, err)))
            goto fail;
    }

fail:
    if (fwd_pd)
        dnnl_primitive_desc_destroy(fwd_pd);
    if (bwd_d_pd)
        dnnl_primitive_desc_destroy(bwd_d_pd);
    if (bwd_w_pd)
        dnnl_primitive_desc_destroy(bwd_w_pd);
    dnnl_primitive_attr_destroy(attr_fwd);
    dnnl_primitive_attr_destroy(attr);
    if (st != CNN_STATUS_OK) {
        cnn_fast_conv_destroy(c);
        return st;
    }
    *out = c;
    return CNN_STATUS_OK;
}

/* Seconds of one step (forward, and backward when training) of c on zeros:
 * the best of two after a warm-up. x and dx share a buffer, as do y and dy:
 * all stay zero, and the plan-time peak of memory stays lower. An inference
 * step is timed as a frozen plan runs it (cnn_plan_freeze): on the weights the
 * warm-up prepared, since their reorder (for Winograd, a transform that costs
 * more than the forward itself at 4x4) then happens once, not per batch. */
static double time_step(cnn_fast_conv *c, int training, cnn_status *st, cnn_error *err)
{
    const cnn_conv_geom *g = &c->g;
    size_t nx = (size_t)g->n * g->ih * g->iw * g->ic, ny = (size_t)g->n * g->oh * g->ow * g->oc;
    size_t nw = (size_t)g->oc * g->ic * g->kh * g->kw;
    float *x = cnn_alloc(nx * 4), *y = cnn_alloc(ny * 4), *dx = x, *dy = y;
    float *w = cnn_alloc(nw * 4), *dw = cnn_alloc(nw * 4);
    float *b = cnn_alloc((size_t)g->oc * 4), *db = cnn_alloc((size_t)g->oc * 4);
    double best = 1e30;
    if (!x || !y || !w || !dw || !b || !db) {
        *st = cnn_error_set(err, CNN_STATUS_NO_MEMORY, "no memory to time a convolution");
    } else {
        memset(x, 0, nx * 4);
        memset(w, 0, nw * 4);
        memset(b, 0, (size_t)g->oc * 4);
        for (int i = 0; i < 3; i++) {
            memset(dy, 0, ny * 4);
            double t = cnn_now();
            cnn_fast_conv_forward(c, x, training || i == 0 ? w : NULL, b, y);
            if (training)
                cnn_fast_conv_backward(c, x, y, dy, dx, dw, db);
            t = cnn_now() - t;
            if (i > 0 && t < best)
                best = t;
        }
    }
    cnn_free(x), cnn_free(y);
    cnn_free(w), cnn_free(dw), cnn_free(b), cnn_free(db);
    return best;
}

/* Keeps auto's choice for the shape in ctx (for the plan's later layers). */
static void remember(cnn_dnnl *ctx, const cnn_conv_geom *g, int has_bias, cnn_act act,
                     int training, int bf16, cnn_conv_algo algo, int run_bf16, const char *why)
{
    if (ctx->nchoices == MAX_CHOICES)
        return;
    choice *k = &ctx->choices[ctx->nchoices++];
    k->g = *g;
    k->has_bias = has_bias;
    k->act = act;
    k->training = training;
    k->bf16 = bf16;
    k->algo = algo;
    k->run_bf16 = run_bf16;
    snprintf(k->why, sizeof k->why, "%s", why);
}

/* The conv made as an earlier process's auto chose for the shape (1), or 0
 * when the disk cache has no usable answer (nothing kept then). */
static int make_cached(cnn_dnnl *ctx, const cnn_conv_geom *g, int has_bias, cnn_act act,
                       int training, int bf16, const char *key, cnn_fast_conv **out)
{
    cnn_conv_algo algo;
    int run_bf16;
    char stored[120], why[136];
    cnn_error err;
    size_t had[SHARED_COUNT];
    if (!cnn_conv_cache_find(key, &algo, &run_bf16, stored, sizeof stored) ||
        (run_bf16 && (!bf16 || algo != CNN_CONV_DIRECT)))
        return 0;
    memcpy(had, ctx->shared_bytes, sizeof had);
    if (conv_make(ctx, g, has_bias, act, training, run_bf16, algo, out, &err) != CNN_STATUS_OK) {
        give_back(ctx, had);
        return 0;
    }
    snprintf(why, sizeof why, "(cached %s", stored[0] == '(' ? stored + 1 : stored);
    snprintf((*out)->impl + strlen((*out)->impl), sizeof (*out)->impl - strlen((*out)->impl),
             " %s", why);
    remember(ctx, g, has_bias, act, training, bf16, algo, run_bf16, why);
    return 1;
}

cnn_status cnn_fast_conv_create(cnn_dnnl *ctx, const cnn_conv_geom *g, int has_bias,
                                cnn_act act, int training, int bf16, cnn_conv_algo algo,
                                cnn_fast_conv **out, cnn_error *err)
{
    CNN_ASSERT(act == CNN_ACT_NONE || act == CNN_ACT_RELU);
    /* oneDNN's Winograd: 3x3, stride 1, fp32 only (so with bf16 asked for, a
     * Winograd layer computes in fp32: more precise, and chosen only if faster);
     * the dense form is fp32 too. A bf16 plan's auto also times fp32 direct:
     * on a CPU whose bf16 kernels are slower (AVX512_BF16 without AMX, where
     * oneDNN 2.6's bf16 convolutions ran 1.4x slower than fp32), it runs fp32. */
    int wino_shape = g->kh == 3 && g->kw == 3 && g->sh == 1 && g->sw == 1;
    int own_wino_shape = cnn_wino_conv_applies(g), dense_shape = cnn_dense_conv_applies(g);
    if ((algo == CNN_CONV_WINOGRAD && !wino_shape) || (algo == CNN_CONV_DENSE && !dense_shape) ||
        (algo == CNN_CONV_WINOGRAD_SGEMM && !own_wino_shape))
        algo = CNN_CONV_DIRECT; /* asked for where it applies; the rest stays direct */
    if (algo == CNN_CONV_WINOGRAD && own_wino_shape) { /* oneDNN's, else cnnlab's */
        cnn_error derr;
        size_t had[SHARED_COUNT];
        memcpy(had, ctx->shared_bytes, sizeof had);
        if (conv_make(ctx, g, has_bias, act, training, 0, algo, out, &derr) == CNN_STATUS_OK)
            return CNN_STATUS_OK;
        give_back(ctx, had);
        algo = CNN_CONV_WINOGRAD_SGEMM;
    }
    if (algo != CNN_CONV_AUTO)
        return conv_make(ctx, g, has_bias, act, training, algo == CNN_CONV_DIRECT ? bf16 : 0,
                         algo, out, err);
    if (!wino_shape && !dense_shape && !bf16)
        return conv_make(ctx, g, has_bias, act, training, 0, CNN_CONV_DIRECT, out, err);

    for (int i = 0; i < ctx->nchoices; i++) {
        const choice *k = &ctx->choices[i];
        if (!memcmp(&k->g, g, sizeof *g) && k->has_bias == has_bias && k->act == act &&
            k->training == training && k->bf16 == bf16) {
            cnn_status st = conv_make(ctx, g, has_bias, act, training, k->run_bf16, k->algo,
                                      out, err);
            if (st == CNN_STATUS_OK)
                snprintf((*out)->impl + strlen((*out)->impl),
                         sizeof (*out)->impl - strlen((*out)->impl), " %s", k->why);
            return st;
        }
    }
    char key[512];
    cnn_conv_cache_key(g, has_bias, act, training, bf16, key, sizeof key);
    if (make_cached(ctx, g, has_bias, act, training, bf16, key, out))
        return CNN_STATUS_OK;
    /* The candidates, each made and timed on one step in turn, only the
     * fastest so far kept alive (which keeps the plan-time peak of memory low). */
    enum { DIRECT, DIRECT32, WINO, WINO_SGEMM, DENSE, NCAND };
    static const cnn_conv_algo algo_of[NCAND] = {CNN_CONV_DIRECT, CNN_CONV_DIRECT,
                                                 CNN_CONV_WINOGRAD, CNN_CONV_WINOGRAD_SGEMM,
                                                 CNN_CONV_DENSE};
    static const char *const name_of[NCAND] = {"direct", "fp32 direct", "fp32 winograd",
                                               "fp32 winograd-sgemm", "fp32 dense"};
    /* cnnlab's Winograd only where oneDNN has none for the shape (so on
     * AVX-512 CPUs plans, their memory included, are as before it existed) */
    int wanted[NCAND] = {1, bf16, wino_shape, own_wino_shape, dense_shape};
    cnn_fast_conv *kept = NULL;
    double best_t = 0;
    int best = DIRECT;
    char why[120];
    int used = snprintf(why, sizeof why, "(timed:");
    cnn_status st = CNN_STATUS_OK;
    for (int a = 0; a < NCAND && !st; a++) {
        cnn_fast_conv *c = NULL;
        cnn_error cerr;
        if (!wanted[a])
            continue;
        size_t had[SHARED_COUNT]; /* the shared buffers' sizes before this candidate */
        memcpy(had, ctx->shared_bytes, sizeof had);
        if (a == DIRECT)
            st = conv_make(ctx, g, has_bias, act, training, bf16, CNN_CONV_DIRECT, &c, err);
        else if (conv_make(ctx, g, has_bias, act, training, 0, algo_of[a], &c, &cerr)) {
            give_back(ctx, had); /* e.g. no Winograd kernel for this shape on this CPU */
            continue;
        }
        if (a == WINO)
            wanted[WINO_SGEMM] = 0;
        double t = st ? 0 : time_step(c, training, &st, err);
        if (st) {
            cnn_fast_conv_destroy(c);
            break;
        }
        used += snprintf(why + used, sizeof why - (size_t)used, "%s %s%s %.1f ms",
                         a ? "," : "", a == DIRECT ? (bf16 ? "bf16 " : "fp32 ") : "", name_of[a],
                         t * 1e3);
        if (used >= (int)sizeof why)
            used = (int)sizeof why - 1; /* cut, never past the end */
        if (!kept || t < best_t) {
            cnn_fast_conv_destroy(kept);
            kept = c;
            best_t = t;
            best = a;
        } else { /* lost */
            cnn_fast_conv_destroy(c);
            give_back(ctx, had);
        }
    }
    if (st) {
        cnn_fast_conv_destroy(kept);
        return st;
    }
    snprintf(why + used, sizeof why - (size_t)used, ")");
    *out = kept;
    snprintf((*out)->impl + strlen((*out)->impl), sizeof (*out)->impl - strlen((*out)->impl),
             " %s", why);
    remember(ctx, g, has_bias, act, training, bf16, algo_of[best], bf16 && best == DIRECT, why);
    cnn_conv_cache_store(key, algo_of[best], bf16 && best == DIRECT, why);
    return CNN_STATUS_OK;
}

const char *cnn_fast_conv_impl(const cnn_fast_conv *c) { return c->impl; }

void cnn_fast_conv_forward(cnn_fast_conv *c, const float *x, const float *w, const float *b,
                           float *y)
{
    cnn_dnnl *ctx = c->ctx;
    if (w) {
        c->w_last = w;
    } else { /* reuse: a forward with weights came first, and inference keeps them */
        CNN_ASSERT(c->w_last != NULL && !c->training);
        b = c->b_last;
    }
    c->b_last = b;
    if (c->dense) {
        float *wd = c->training ? ctx->shared[SHARED_WEI] : c->wd_own;
        if (w)
            cnn_dense_conv_expand(&c->dd, w, wd);
        cnn_dense_conv_forward(&c->dd, x, wd, c->has_bias ? b : NULL, c->act == CNN_ACT_RELU, y);
        return;
    }
    if (c->wino) {
        float *u = c->training ? ctx->shared[SHARED_WEI] : c->u_own;
        if (w)
            cnn_wino_conv_weights(&c->wc, w, 0, u);
        cnn_wino_conv_forward(&c->wc, x, u, c->has_bias ? b : NULL, c->act == CNN_ACT_RELU, y,
                              ctx->shared[SHARED_WINO]);
        return;
    }
    dnnl_memory_t wei = c->reorder_fwd.p ? c->wei_fwd : c->wei_user;
    if (w) {
        set(c->wei_user, w);
        if (c->reorder_fwd.p)
            reorder(ctx, &c->reorder_fwd, c->wei_user, c->wei_fwd);
    }
    dnnl_exec_arg_t args[5] = {{DNNL_ARG_SRC, side_bind(ctx, &c->src, x, 1)},
                               {DNNL_ARG_WEIGHTS, wei},
                               {DNNL_ARG_DST, side_bind(ctx, &c->dst, y, 0)}};
    int n = 3;
    if (c->has_bias) {
        set(c->bias, b);
        args[n].arg = DNNL_ARG_BIAS;
        args[n].memory = c->bias;
        n++;
    }
    prim_run(ctx, &c->fwd, n, args);
    side_finish(ctx, &c->dst);
}

void cnn_fast_conv_backward(cnn_fast_conv *c, const float *x, const float *y, float *dy,
                            float *dx, float *dw, float *db)
{
    CNN_ASSERT(c->training);
    cnn_dnnl *ctx = c->ctx;
    if (c->act == CNN_ACT_RELU)
        cnn_fast_act_backward(CNN_ACT_RELU,
                              (size_t)c->g.n * c->g.oh * c->g.ow * c->g.oc, NULL, y, dy, dy);
    if (c->dense) { /* the matrix again (the shared buffer served other layers since) */
        float *wd = ctx->shared[SHARED_WEI];
        if (dx) {
            cnn_dense_conv_expand(&c->dd, c->w_last, wd);
            cnn_dense_conv_backward_data(&c->dd, dy, wd, dx);
        }
        cnn_dense_conv_backward_weights(&c->dd, x, dy, wd, dw, c->has_bias ? db : NULL);
        return;
    }
    if (c->wino) { /* backward-data's weights: flipped, from the latest forward's */
        float *scratch = ctx->shared[SHARED_WINO];
        if (dx) {
            cnn_wino_conv_weights(&c->wc, c->w_last, 1, ctx->shared[SHARED_WEI]);
            cnn_wino_conv_backward_data(&c->wc, dy, ctx->shared[SHARED_WEI], dx, scratch);
        }
        cnn_wino_conv_backward_weights(&c->wc, x, dy, dw, c->has_bias ? db : NULL, scratch);
        return;
    }
    dnnl_memory_t diff_dst = side_bind(ctx, &c->diff_dst, dy, 1);
    if (dx) {
        dnnl_memory_t wei = c->reorder_fwd.p ? c->wei_fwd : c->wei_user;
        if (c->wei_bwd) { /* backward-data wants its own layout: refresh it */
            set(c->wei_user, c->w_last);
            set(c->wei_bwd, ctx->shared[SHARED_WEI]);
            reorder(ctx, &c->reorder_bwd, c->wei_user, c->wei_bwd);
            wei = c->wei_bwd;
        }
        dnnl_exec_arg_t args[4] = {{DNNL_ARG_DIFF_DST, diff_dst}, {DNNL_ARG_WEIGHTS, wei},
                                   {DNNL_ARG_DIFF_SRC, side_bind(ctx, &c->diff_src, dx, 0)}};
        prim_run(ctx, &c->bwd_data, 3, args);
        side_finish(ctx, &c->diff_src);
    }
    dnnl_memory_t src = side_bind(ctx, &c->src, x, 1);
    set(c->diff_wei_user, dw);
    dnnl_memory_t dwm = c->diff_wei_user;
    if (c->reorder_dw.p) {
        set(c->diff_wei, ctx->shared[SHARED_WEI]);
        dwm = c->diff_wei;
    }
    dnnl_exec_arg_t args[5] = {{DNNL_ARG_SRC, src}, {DNNL_ARG_DIFF_DST, diff_dst},
                               {DNNL_ARG_DIFF_WEIGHTS, dwm}};
    int n = 3;
    if (c->has_bias) {
        set(c->diff_bias, db);
        args[n].arg = DNNL_ARG_DIFF_BIAS;
        args[n].memory = c->diff_bias;
        n++;
    }
    prim_run(ctx, &c->bwd_weights, n, args);
    if (c->reorder_dw.p)
        reorder(ctx, &c->reorder_dw, c->diff_wei, c->diff_wei_user);
}
