/* conv_dnnl.c: 2-D convolution on oneDNN primitives, NHWC activations.
 *
 * Invariant: every primitive, memory object and weight buffer is created in
 * cnn_fast_conv_create; forward and backward only set data handles and execute.
 * Weights arrive in PyTorch's (OC,IC,KH,KW) layout and are reordered into the
 * layout each primitive prefers (the forward's and backward-data's may differ);
 * weight gradients are reordered back.
 *
 * bf16 (mixed precision): the primitives read bf16 inputs, weights and output
 * gradients and accumulate in fp32; outputs, input gradients and weight
 * gradients stay fp32, so everything around the convolution (normalisation,
 * the optimizer and its fp32 master weights) is unchanged. Each forward rounds
 * x into a bf16 copy the layer keeps for its backward-weights; each backward
 * rounds dy into a buffer all convolutions of the plan share.
 */
#include <dnnl.h>
#include <string.h>

#include "core/core.h"
#include "fast.h"

struct cnn_dnnl {
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    void *scratch;
    size_t scratch_bytes;
    void *dy_bf16; /* bf16 rounding of an output gradient, shared by all convolutions */
    size_t dy_bf16_bytes;
};

/* One primitive with its arguments; handles of user buffers are set per call. */
typedef struct prim {
    dnnl_primitive_t p;
    dnnl_memory_t scratch; /* NULL if none needed */
} prim;

struct cnn_fast_conv {
    cnn_dnnl *ctx;
    cnn_conv_geom g;
    int has_bias;
    int bf16;
    cnn_act act;
    char impl[64];
    const float *w_last; /* user weights of the latest forward */

    prim fwd, bwd_data, bwd_weights;
    dnnl_memory_t src, dst, bias, wei_user;     /* forward arguments */
    dnnl_memory_t wei_fwd;                      /* weights in the forward's layout */
    prim reorder_fwd;                           /* wei_user -> wei_fwd, or p == NULL */
    dnnl_memory_t diff_dst, diff_src, wei_bwd;  /* backward data */
    prim reorder_bwd;                           /* wei_user -> wei_bwd, or p == NULL */
    dnnl_memory_t diff_wei, diff_wei_user, diff_bias;
    prim reorder_dw;                            /* diff_wei -> diff_wei_user, or p == NULL */
    /* bf16 only: the rounded input (kept for backward-weights) and output gradient */
    dnnl_memory_t src_bf, diff_dst_bf;
    prim round_src, round_dy;                   /* f32 -> bf16 reorders */
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
    cnn_free(ctx->dy_bf16);
    free(ctx);
}

size_t cnn_dnnl_scratch_bytes(const cnn_dnnl *ctx) { return ctx->scratch_bytes + ctx->dy_bf16_bytes; }

/* Makes sure the shared scratchpad holds `bytes`; only called at plan time. */
static cnn_status grow_scratch(cnn_dnnl *ctx, size_t bytes, cnn_error *err)
{
    if (bytes <= ctx->scratch_bytes)
        return CNN_STATUS_OK;
    void *p = cnn_alloc(bytes);
    if (!p)
        return cnn_error_set(err, CNN_STATUS_NO_MEMORY, "no memory for a %zu-byte scratchpad",
                             bytes);
    cnn_free(ctx->scratch);
    ctx->scratch = p;
    ctx->scratch_bytes = bytes;
    return CNN_STATUS_OK;
}

/* Makes sure the shared bf16 output-gradient buffer holds `bytes`. */
static cnn_status grow_dy_bf16(cnn_dnnl *ctx, size_t bytes, cnn_error *err)
{
    if (bytes <= ctx->dy_bf16_bytes)
        return CNN_STATUS_OK;
    void *p = cnn_alloc(bytes);
    if (!p)
        return cnn_error_set(err, CNN_STATUS_NO_MEMORY, "no memory for a %zu-byte bf16 buffer",
                             bytes);
    cnn_free(ctx->dy_bf16);
    ctx->dy_bf16 = p;
    ctx->dy_bf16_bytes = bytes;
    return CNN_STATUS_OK;
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
        if ((st = grow_scratch(ctx, bytes, err)) != CNN_STATUS_OK)
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

/* A reorder from -> to, or p = NULL when the two layouts are the same. Buffers
 * for `to` are allocated into *buf when buf is not NULL. */
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
             "a weight reorder");
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

cnn_status cnn_fast_conv_create(cnn_dnnl *ctx, const cnn_conv_geom *g, int has_bias,
                                cnn_act act, int training, int bf16, cnn_fast_conv **out,
                                cnn_error *err)
{
    CNN_ASSERT(act == CNN_ACT_NONE || act == CNN_ACT_RELU);
    cnn_status st = CNN_STATUS_OK;
    cnn_fast_conv *c = calloc(1, sizeof *c);
    if (!c)
        return cnn_error_set(err, CNN_STATUS_NO_MEMORY, "no memory for a convolution");
    c->ctx = ctx;
    c->g = *g;
    c->has_bias = has_bias;
    c->act = act;
    c->bf16 = bf16;
    dnnl_data_type_t lo = bf16 ? dnnl_bf16 : dnnl_f32; /* what the kernels read */

    dnnl_memory_desc_t src_md, dst_md, bias_md, wei_user_md, wei_any_md, src_lo_md, dst_lo_md;
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
    dnnl_memory_desc_init_by_tag(&src_lo_md, 4, src_dims, lo, dnnl_nhwc);
    dnnl_memory_desc_init_by_tag(&dst_lo_md, 4, dst_dims, lo, dnnl_nhwc);
    dnnl_memory_desc_init_by_tag(&bias_md, 1, bias_dims, dnnl_f32, dnnl_a);

    dnnl_primitive_attr_t attr_fwd = make_attr(act), attr = make_attr(CNN_ACT_NONE);
    dnnl_primitive_desc_t fwd_pd = NULL, bwd_d_pd = NULL, bwd_w_pd = NULL;
    dnnl_convolution_desc_t d;

    DNNL_TRY(dnnl_convolution_forward_desc_init(
                 &d, training ? dnnl_forward_training : dnnl_forward_inference,
                 dnnl_convolution_direct, &src_lo_md, &wei_any_md, has_bias ? &bias_md : NULL,
                 &dst_md, strides, pad_l, pad_r),
             "the convolution forward");
    if (dnnl_primitive_desc_create(&fwd_pd, &d, attr_fwd, ctx->engine, NULL) != dnnl_success) {
        st = cnn_error_set(err, CNN_STATUS_BACKEND, "oneDNN has no %s convolution for this "
                           "shape on this CPU%s", bf16 ? "bf16" : "fp32",
                           bf16 ? " (bf16 needs AVX-512; use --precision fp32)" : "");
        goto fail;
    }
    const char *impl = NULL;
    dnnl_primitive_desc_query(fwd_pd, dnnl_query_impl_info_str, 0, &impl);
    snprintf(c->impl, sizeof c->impl, "%s", impl ? impl : "?");
    if ((st = prim_make(ctx, fwd_pd, &c->fwd, err)) != CNN_STATUS_OK)
        goto fail;
    const dnnl_memory_desc_t *wei_fwd_md = dnnl_primitive_desc_query_md(fwd_pd, dnnl_query_weights_md, 0);
    DNNL_TRY(dnnl_memory_create(&c->src, &src_md, ctx->engine, DNNL_MEMORY_NONE), "src memory");
    DNNL_TRY(dnnl_memory_create(&c->dst, &dst_md, ctx->engine, DNNL_MEMORY_NONE), "dst memory");
    DNNL_TRY(dnnl_memory_create(&c->bias, &bias_md, ctx->engine, DNNL_MEMORY_NONE), "bias memory");
    DNNL_TRY(dnnl_memory_create(&c->wei_user, &wei_user_md, ctx->engine, DNNL_MEMORY_NONE),
             "weight memory");
    if ((st = make_reorder(ctx, &wei_user_md, wei_fwd_md, &c->reorder_fwd, err)) != CNN_STATUS_OK)
        goto fail;
    if (c->reorder_fwd.p && (st = owned_memory(ctx, wei_fwd_md, &c->wei_fwd, err)) != CNN_STATUS_OK)
        goto fail;
    if (bf16) {
        if ((st = owned_memory(ctx, &src_lo_md, &c->src_bf, err)) ||
            (st = make_reorder(ctx, &src_md, &src_lo_md, &c->round_src, err)))
            goto fail;
    }

    if (training) {
        DNNL_TRY(dnnl_convolution_backward_data_desc_init(&d, dnnl_convolution_direct, &src_md,
                                                          &wei_any_md, &dst_lo_md, strides,
                                                          pad_l, pad_r),
                 "the convolution backward-data");
        DNNL_TRY(dnnl_primitive_desc_create(&bwd_d_pd, &d, attr, ctx->engine, fwd_pd),
                 "the convolution backward-data");
        if ((st = prim_make(ctx, bwd_d_pd, &c->bwd_data, err)) != CNN_STATUS_OK)
            goto fail;
        const dnnl_memory_desc_t *wei_bwd_md =
            dnnl_primitive_desc_query_md(bwd_d_pd, dnnl_query_weights_md, 0);
        DNNL_TRY(dnnl_memory_create(&c->diff_dst, &dst_md, ctx->engine, DNNL_MEMORY_NONE), "memory");
        DNNL_TRY(dnnl_memory_create(&c->diff_src, &src_md, ctx->engine, DNNL_MEMORY_NONE), "memory");
        if (bf16) {
            DNNL_TRY(dnnl_memory_create(&c->diff_dst_bf, &dst_lo_md, ctx->engine, DNNL_MEMORY_NONE),
                     "memory");
            if ((st = grow_dy_bf16(ctx, dnnl_memory_desc_get_size(&dst_lo_md), err)) ||
                (st = make_reorder(ctx, &dst_md, &dst_lo_md, &c->round_dy, err)))
                goto fail;
        }
        if (dnnl_memory_desc_equal(wei_bwd_md, wei_fwd_md)) {
            c->wei_bwd = NULL; /* the forward's reordered copy serves */
        } else {
            if ((st = make_reorder(ctx, &wei_user_md, wei_bwd_md, &c->reorder_bwd, err)) !=
                CNN_STATUS_OK)
                goto fail;
            if ((st = owned_memory(ctx, wei_bwd_md, &c->wei_bwd, err)) != CNN_STATUS_OK)
                goto fail;
        }

        dnnl_memory_desc_t dw_any_md; /* weight gradients stay fp32 */
        dnnl_memory_desc_init_by_tag(&dw_any_md, 4, wei_dims, dnnl_f32, dnnl_format_tag_any);
        DNNL_TRY(dnnl_convolution_backward_weights_desc_init(
                     &d, dnnl_convolution_direct, &src_lo_md, &dw_any_md,
                     has_bias ? &bias_md : NULL, &dst_lo_md, strides, pad_l, pad_r),
                 "the convolution backward-weights");
        DNNL_TRY(dnnl_primitive_desc_create(&bwd_w_pd, &d, attr, ctx->engine, fwd_pd),
                 "the convolution backward-weights");
        if ((st = prim_make(ctx, bwd_w_pd, &c->bwd_weights, err)) != CNN_STATUS_OK)
            goto fail;
        const dnnl_memory_desc_t *dw_md =
            dnnl_primitive_desc_query_md(bwd_w_pd, dnnl_query_diff_weights_md, 0);
        DNNL_TRY(dnnl_memory_create(&c->diff_wei_user, &wei_user_md, ctx->engine, DNNL_MEMORY_NONE),
                 "memory");
        DNNL_TRY(dnnl_memory_create(&c->diff_bias, &bias_md, ctx->engine, DNNL_MEMORY_NONE), "memory");
        if ((st = make_reorder(ctx, dw_md, &wei_user_md, &c->reorder_dw, err)) != CNN_STATUS_OK)
            goto fail;
        if (c->reorder_dw.p && (st = owned_memory(ctx, dw_md, &c->diff_wei, err)) != CNN_STATUS_OK)
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

void cnn_fast_conv_destroy(cnn_fast_conv *c)
{
    if (!c)
        return;
    prim_free(&c->fwd);
    prim_free(&c->bwd_data);
    prim_free(&c->bwd_weights);
    prim_free(&c->reorder_fwd);
    prim_free(&c->reorder_bwd);
    prim_free(&c->reorder_dw);
    prim_free(&c->round_src);
    prim_free(&c->round_dy);
    dnnl_memory_t mems[] = {c->src, c->dst, c->bias, c->wei_user, c->wei_fwd, c->diff_dst,
                            c->diff_src, c->wei_bwd, c->diff_wei, c->diff_wei_user, c->diff_bias,
                            c->src_bf, c->diff_dst_bf};
    for (size_t i = 0; i < sizeof mems / sizeof mems[0]; i++)
        if (mems[i])
            dnnl_memory_destroy(mems[i]);
    free(c);
}

const char *cnn_fast_conv_impl(const cnn_fast_conv *c) { return c->impl; }

static void set(dnnl_memory_t m, const void *p) { dnnl_memory_set_data_handle(m, (void *)p); }

static void reorder(cnn_dnnl *ctx, prim *r, dnnl_memory_t from, dnnl_memory_t to)
{
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
    prim_run(ctx, r, 2, args);
}

void cnn_fast_conv_forward(cnn_fast_conv *c, const float *x, const float *w, const float *b,
                           float *y)
{
    set(c->src, x);
    set(c->dst, y);
    set(c->wei_user, w);
    c->w_last = w;
    dnnl_memory_t wei = c->wei_user;
    if (c->reorder_fwd.p) {
        reorder(c->ctx, &c->reorder_fwd, c->wei_user, c->wei_fwd);
        wei = c->wei_fwd;
    }
    dnnl_memory_t src = c->src;
    if (c->bf16) {
        reorder(c->ctx, &c->round_src, c->src, c->src_bf);
        src = c->src_bf;
    }
    dnnl_exec_arg_t args[5] = {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DST, c->dst}};
    int n = 3;
    if (c->has_bias) {
        set(c->bias, b);
        args[n].arg = DNNL_ARG_BIAS;
        args[n].memory = c->bias;
        n++;
    }
    prim_run(c->ctx, &c->fwd, n, args);
}

void cnn_fast_conv_backward(cnn_fast_conv *c, const float *x, const float *y, float *dy,
                            float *dx, float *dw, float *db)
{
    CNN_ASSERT(c->bwd_weights.p != NULL);
    if (c->act == CNN_ACT_RELU)
        cnn_fast_act_backward(CNN_ACT_RELU,
                              (size_t)c->g.n * c->g.oh * c->g.ow * c->g.oc, NULL, y, dy, dy);
    set(c->diff_dst, dy);
    dnnl_memory_t diff_dst = c->diff_dst;
    if (c->bf16) {
        set(c->diff_dst_bf, c->ctx->dy_bf16);
        reorder(c->ctx, &c->round_dy, c->diff_dst, c->diff_dst_bf);
        diff_dst = c->diff_dst_bf;
    }
    if (dx) {
        set(c->diff_src, dx);
        dnnl_memory_t wei = c->reorder_fwd.p ? c->wei_fwd : c->wei_user;
        if (c->wei_bwd) { /* backward-data wants its own layout: refresh it */
            set(c->wei_user, c->w_last);
            reorder(c->ctx, &c->reorder_bwd, c->wei_user, c->wei_bwd);
            wei = c->wei_bwd;
        }
        dnnl_exec_arg_t args[4] = {{DNNL_ARG_DIFF_DST, diff_dst}, {DNNL_ARG_WEIGHTS, wei},
                                   {DNNL_ARG_DIFF_SRC, c->diff_src}};
        prim_run(c->ctx, &c->bwd_data, 3, args);
    }
    set(c->src, x); /* bf16: src_bf still holds x, rounded by the forward */
    dnnl_memory_t dwm = c->diff_wei_user;
    set(c->diff_wei_user, dw);
    if (c->reorder_dw.p)
        dwm = c->diff_wei;
    dnnl_exec_arg_t args[5] = {{DNNL_ARG_SRC, c->bf16 ? c->src_bf : c->src},
                               {DNNL_ARG_DIFF_DST, diff_dst}, {DNNL_ARG_DIFF_WEIGHTS, dwm}};
    int n = 3;
    if (c->has_bias) {
        set(c->diff_bias, db);
        args[n].arg = DNNL_ARG_DIFF_BIAS;
        args[n].memory = c->diff_bias;
        n++;
    }
    prim_run(c->ctx, &c->bwd_weights, n, args);
    if (c->reorder_dw.p)
        reorder(c->ctx, &c->reorder_dw, c->diff_wei, c->diff_wei_user);
}
