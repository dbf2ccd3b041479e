/* conv_dnnl.c: 2-D convolution on oneDNN primitives, NHWC activations
 * (the context and plumbing: dnnl_ctx.c; the auto choice: conv_auto.c).
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
 *     the optimizer and its fp32 master weights) is unchanged. A bf16 plan may
 *     store x and y as bf16 (CNN_RUN_X_BF16, CNN_RUN_Y_BF16), and in training
 *     hand it dy so (CNN_RUN_DY_BF16): then the caller's side is bf16 NHWC,
 *     which the direct kernel reads and writes as it is.
 * Kernel-side copies of activations live in three buffers all convolutions of
 * a plan share (in, out, gradient), so they cost memory once, not per layer;
 * backward-weights converts x again rather than keep the forward's copy. So do
 * backward-data's weights and the blocked weight gradients (one buffer: they
 * are used one after the other); only the forward's weights are kept (and,
 * for a stride-1 direct convolution whose backward-data runs as a forward
 * primitive on dy with flipped weights, bwd_as_forward, chosen where
 * CNN_CONV_AUTO's timing says that is faster, the flipped fp32 weights).
 * In bf16 training backward-weights may instead be conv_bww.c's kernel on the
 * same bf16 x and dy (CNN_RUN_OWN_BWW, where auto's timing says it is
 * faster): no primitive then, its sums in the shared scratch buffer. A bf16
 * 3x3 stride-1 convolution may run its forward and backward-data as
 * conv_bwino.c's Winograd (CNN_RUN_OWN_WINO: the forward's descriptor only
 * gives the sides their layouts, bf16 NHWC; the transformed weights are made
 * per pass) and its weight gradient so too (CNN_RUN_WINO_BWW).
 * With CNN_CONV_AUTO the algorithm of each shape is chosen by timing the
 * candidates on the plan's batch once (cached per plan, so repeated shapes are
 * timed once): direct always, Winograd for 3x3 stride 1, and the dense matrix
 * product of conv_dense.c where the input has no more positions than the
 * kernel has taps. The dense form runs on sgemm, fp32; a training plan builds
 * its matrix in the shared weight buffer for each pass (forward, backward),
 * an inference plan keeps its own. cnnlab's Winograd (conv_wino.c, sgemm,
 * fp32) keeps its transformed weights the same way and its tiles' scratch in
 * one more shared buffer; auto times it beside oneDNN's.
 */
#include <omp.h>
#include <string.h>

#include "conv_dnnl.h"

void cnn_fast_conv_destroy(cnn_fast_conv *c)
{
    if (!c)
        return;
    cnn_dense_conv_free(&c->dd);
    cnn_free(c->wd_own);
    cnn_free(c->u_own);
    cnn_free(c->ub_own);
    cnn_free(c->wflip_own);
    cnn_dnnl_prim_free(&c->fwd);
    cnn_dnnl_prim_free(&c->bwd_data);
    cnn_dnnl_prim_free(&c->bwd_weights);
    cnn_dnnl_prim_free(&c->reorder_fwd);
    cnn_dnnl_prim_free(&c->reorder_bwd);
    cnn_dnnl_prim_free(&c->reorder_dw);
    cnn_dnnl_side_free(&c->src);
    cnn_dnnl_side_free(&c->dst);
    cnn_dnnl_side_free(&c->diff_dst);
    cnn_dnnl_side_free(&c->diff_src);
    dnnl_memory_t mems[] = {c->bias, c->wei_user, c->wei_fwd, c->wei_bwd, c->wflip_user,
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
        return cnn_dnnl_grow(&c->ctx->shared[SHARED_WEI], &c->ctx->shared_bytes[SHARED_WEI], bytes, err);
    if (!(c->wd_own = cnn_alloc(bytes)))
        return cnn_error_set(err, CNN_STATUS_NO_MEMORY, "no memory for a %zu MiB dense "
                             "convolution matrix", bytes >> 20);
    return CNN_STATUS_OK;
}

/* The buffers of a cnnlab Winograd: its tiles' scratch (shared by all
 * convolutions) and its transformed weights, shared in training (each pass
 * makes them again), in *own in inference (a frozen plan's forward reuses
 * them). */
static cnn_status wino_buffers(cnn_fast_conv *c, size_t scratch_bytes, size_t weight_bytes,
                               void **own, cnn_error *err)
{
    cnn_dnnl *ctx = c->ctx;
    cnn_status st = cnn_dnnl_grow(&ctx->shared[SHARED_SCRATCH],
                                  &ctx->shared_bytes[SHARED_SCRATCH], scratch_bytes, err);
    if (st)
        return st;
    if (c->training)
        return cnn_dnnl_grow(&ctx->shared[SHARED_WEI], &ctx->shared_bytes[SHARED_WEI],
                             weight_bytes, err);
    if (!(*own = cnn_alloc(weight_bytes)))
        return cnn_error_set(err, CNN_STATUS_NO_MEMORY, "no memory for %zu MiB of Winograd "
                             "weights", weight_bytes >> 20);
    return CNN_STATUS_OK;
}

/* cnnlab's Winograd on sgemm (conv_wino.c): no primitives. */
static cnn_status wino_make(cnn_fast_conv *c, cnn_error *err)
{
    cnn_status st = cnn_wino_conv_init(&c->wc, &c->g, omp_get_max_threads(), err);
    if (st)
        return st;
    c->wino = 1;
    snprintf(c->impl, sizeof c->impl, "winograd:sgemm F(4x4,3x3), %d tiles a chunk",
             c->wc.chunk);
    void *own = NULL;
    st = wino_buffers(c, cnn_wino_conv_scratch_floats(&c->wc, c->training) * sizeof(float),
                      cnn_wino_conv_weight_floats(&c->wc) * sizeof(float), &own, err);
    c->u_own = own;
    return st;
}

/* cnnlab's bf16 Winograd (conv_bwino.c, CNN_RUN_OWN_WINO) in place of the
 * direct kernel's forward and backward-data. */
static cnn_status own_wino_make(cnn_fast_conv *c, cnn_error *err)
{
    c->own_threads = omp_get_max_threads();
    void *own = NULL;
    cnn_status st = wino_buffers(c, cnn_bwino_scratch_bytes(&c->g, c->own_threads, c->training),
                                 cnn_bwino_weight_bytes(&c->g), &own, err);
    c->ub_own = own;
    return st;
}

/* The memory descriptors and window of a convolution's primitives: the
 * caller's side (fp32, NHWC activations, PyTorch's weights) and the kernel's
 * (its data type; NHWC or, for Winograd, its choice; weights its choice). */
typedef struct conv_mds {
    dnnl_alg_kind_t alg;
    dnnl_memory_desc_t src, dst, bias, wei_user, wei_any, dw_any;
    dnnl_memory_desc_t dy, dx; /* the gradients as the caller holds them: NHWC, fp32 (dy bf16
                                * with CNN_RUN_DY_BF16) */
    dnnl_memory_desc_t src_k, dst_k, ddst_k, dsrc_k;
    dnnl_dims_t strides, pad_l, pad_r;
} conv_mds;

static void mds_init(const cnn_conv_geom *g, int run, int wino, conv_mds *m)
{
    m->alg = wino ? dnnl_convolution_winograd : dnnl_convolution_direct;
    dnnl_data_type_t lo = run & CNN_RUN_BF16 ? dnnl_bf16 : dnnl_f32; /* what the kernels read */
    /* x and y as the caller stores them */
    dnnl_data_type_t xt = run & CNN_RUN_X_BF16 ? dnnl_bf16 : dnnl_f32;
    dnnl_data_type_t yt = run & CNN_RUN_Y_BF16 ? dnnl_bf16 : dnnl_f32;
    dnnl_data_type_t dyt = run & CNN_RUN_DY_BF16 ? dnnl_bf16 : dnnl_f32;
    /* Activation layouts the kernels get: NHWC, or their choice for Winograd. */
    dnnl_format_tag_t act_tag = wino ? dnnl_format_tag_any : dnnl_nhwc;
    dnnl_dims_t src_dims = {g->n, g->ic, g->ih, g->iw};
    dnnl_dims_t dst_dims = {g->n, g->oc, g->oh, g->ow};
    /* grouped: weights (G, OC/G, IC/G, KH, KW), PyTorch's (OC, IC/G, KH, KW) split */
    int groups = g->groups > 1 ? g->groups : 1, wnd = groups > 1 ? 5 : 4;
    dnnl_dims_t wei_dims = {g->oc, g->ic, g->kh, g->kw};
    dnnl_dims_t gwei_dims = {groups, g->oc / groups, g->ic / groups, g->kh, g->kw};
    dnnl_format_tag_t wei_tag = groups > 1 ? dnnl_goihw : dnnl_oihw;
    dnnl_dims_t bias_dims = {g->oc};
    m->strides[0] = g->sh, m->strides[1] = g->sw;
    m->pad_l[0] = g->ph, m->pad_l[1] = g->pw;
    /* Right padding so that the last window is the last one PyTorch uses. */
    m->pad_r[0] = (g->oh - 1) * g->sh + g->kh - g->ih - g->ph;
    m->pad_r[1] = (g->ow - 1) * g->sw + g->kw - g->iw - g->pw;
    dnnl_memory_desc_init_by_tag(&m->src, 4, src_dims, xt, dnnl_nhwc);
    dnnl_memory_desc_init_by_tag(&m->dst, 4, dst_dims, yt, dnnl_nhwc);
    dnnl_memory_desc_init_by_tag(&m->dx, 4, src_dims, dnnl_f32, dnnl_nhwc);
    dnnl_memory_desc_init_by_tag(&m->dy, 4, dst_dims, dyt, dnnl_nhwc);
    const dnnl_dim_t *wd = groups > 1 ? gwei_dims : wei_dims;
    dnnl_memory_desc_init_by_tag(&m->wei_user, wnd, wd, dnnl_f32, wei_tag);
    dnnl_memory_desc_init_by_tag(&m->wei_any, wnd, wd, lo, dnnl_format_tag_any);
    dnnl_memory_desc_init_by_tag(&m->dw_any, wnd, wd, dnnl_f32, dnnl_format_tag_any);
    dnnl_memory_desc_init_by_tag(&m->bias, 1, bias_dims, dnnl_f32, dnnl_a);
    dnnl_memory_desc_init_by_tag(&m->src_k, 4, src_dims, lo, act_tag);
    dnnl_memory_desc_init_by_tag(&m->dst_k, 4, dst_dims, yt, act_tag);
    dnnl_memory_desc_init_by_tag(&m->ddst_k, 4, dst_dims, lo, act_tag);
    dnnl_memory_desc_init_by_tag(&m->dsrc_k, 4, src_dims, dnnl_f32, act_tag);
}

/* The forward primitive (its descriptor in *fwd_pd, for the backward's
 * hints), the sides of x and y, and the forward's weights. */
static cnn_status make_forward(cnn_fast_conv *c, const conv_mds *m, int bf16,
                               dnnl_primitive_desc_t *fwd_pd, cnn_error *err)
{
    cnn_dnnl *ctx = c->ctx;
    cnn_status st = CNN_STATUS_OK;
    int wino = m->alg == dnnl_convolution_winograd;
    dnnl_primitive_attr_t attr = cnn_dnnl_attr(c->act);
    dnnl_convolution_desc_t d;
    const dnnl_memory_desc_t *q;
    DNNL_TRY(dnnl_convolution_forward_desc_init(
                 &d, c->training ? dnnl_forward_training : dnnl_forward_inference, m->alg,
                 &m->src_k, &m->wei_any, c->has_bias ? &m->bias : NULL, &m->dst_k, m->strides,
                 m->pad_l, m->pad_r),
             "the convolution forward");
    if (dnnl_primitive_desc_create(fwd_pd, &d, attr, ctx->engine, NULL) != dnnl_success) {
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
    dnnl_primitive_desc_query(*fwd_pd, dnnl_query_impl_info_str, 0, &impl);
    snprintf(c->impl, sizeof c->impl, "%s", c->own_wino ? "winograd:bf16 F(2x2,3x3), cnnlab's"
                                          : impl ? impl : "?");
    /* cnnlab's Winograd: the descriptor serves the sides (and backward-weights' hint) */
    if (!c->own_wino && (st = cnn_dnnl_prim_make(ctx, *fwd_pd, &c->fwd, err)))
        goto fail;
    q = dnnl_primitive_desc_query_md(*fwd_pd, dnnl_query_src_md, 0);
    if ((st = cnn_dnnl_side_make(ctx, &m->src, q, 1, SHARED_IN, &c->src, err)))
        goto fail;
    q = dnnl_primitive_desc_query_md(*fwd_pd, dnnl_query_dst_md, 0);
    if ((st = cnn_dnnl_side_make(ctx, &m->dst, q, 0, SHARED_OUT, &c->dst, err)))
        goto fail;
    DNNL_TRY(dnnl_memory_create(&c->bias, &m->bias, ctx->engine, DNNL_MEMORY_NONE), "memory");
    DNNL_TRY(dnnl_memory_create(&c->wei_user, &m->wei_user, ctx->engine, DNNL_MEMORY_NONE),
             "memory");
    if (c->own_wino) {
        st = own_wino_make(c, err);
        goto fail;
    }
    q = dnnl_primitive_desc_query_md(*fwd_pd, dnnl_query_weights_md, 0);
    if ((st = cnn_dnnl_reorder_make(ctx, &m->wei_user, q, &c->reorder_fwd, err)))
        goto fail;
    if (c->reorder_fwd.p && (st = cnn_dnnl_owned_memory(ctx, q, &c->wei_fwd, err)))
        goto fail;
fail:
    dnnl_primitive_attr_destroy(attr);
    return st;
}

/* Backward-data of a stride-1 convolution is a forward convolution of dy
 * with each kernel flipped and the channel roles swapped, padding k - 1 - p
 * on each side (the identity conv_wino.c uses too). oneDNN 2.6's forward
 * kernels (brgconv) outrun its backward-data kernels on some shapes (7x7 and
 * 15x15 maps with 256 channels) and lose on others (3x3 and 4x4 maps;
 * bench/bench_bwd_data.c), so it is a choice: CNN_CONV_AUTO times direct
 * both ways. The forward primitive's descriptor in *pd, or 0 when the shape
 * does not allow it or oneDNN has no such forward. */
static int bwd_as_forward(cnn_fast_conv *c, const conv_mds *m, dnnl_primitive_attr_t attr,
                          dnnl_primitive_desc_t *pd)
{
    const cnn_conv_geom *g = &c->g;
    if (m->alg != dnnl_convolution_direct || g->sh != 1 || g->sw != 1 || g->groups > 1)
        return 0;
    dnnl_dims_t pl = {g->kh - 1 - m->pad_l[0], g->kw - 1 - m->pad_l[1]};
    dnnl_dims_t pr = {g->kh - 1 - m->pad_r[0], g->kw - 1 - m->pad_r[1]};
    for (int i = 0; i < 2; i++)
        if (pl[i] < 0 || pr[i] < 0)
            return 0;
    dnnl_dims_t wt_dims = {g->ic, g->oc, g->kh, g->kw};
    dnnl_memory_desc_t wt_any;
    dnnl_memory_desc_init_by_tag(&wt_any, 4, wt_dims, m->wei_any.data_type, dnnl_format_tag_any);
    dnnl_convolution_desc_t d;
    return dnnl_convolution_forward_desc_init(&d, dnnl_forward_inference,
                                              dnnl_convolution_direct, &m->ddst_k, &wt_any, NULL,
                                              &m->dsrc_k, m->strides, pl, pr) == dnnl_success &&
           dnnl_primitive_desc_create(pd, &d, attr, c->ctx->engine, NULL) == dnnl_success;
}

/* Backward-weights on oneDNN, reading x and dy as the kernels hold them
 * (src_q, ddst_q); its weight gradient reordered back to the caller's. */
static cnn_status make_backward_weights(cnn_fast_conv *c, const conv_mds *m,
                                        const_dnnl_primitive_desc_t fwd_pd,
                                        const dnnl_memory_desc_t *src_q,
                                        const dnnl_memory_desc_t *ddst_q, cnn_error *err)
{
    cnn_dnnl *ctx = c->ctx;
    cnn_status st = CNN_STATUS_OK;
    dnnl_primitive_attr_t attr = cnn_dnnl_attr(CNN_ACT_NONE);
    dnnl_primitive_desc_t pd = NULL;
    dnnl_convolution_desc_t d;
    DNNL_TRY(dnnl_convolution_backward_weights_desc_init(
                 &d, m->alg, src_q, &m->dw_any, c->has_bias ? &m->bias : NULL, ddst_q,
                 m->strides, m->pad_l, m->pad_r),
             "the convolution backward-weights");
    DNNL_TRY(dnnl_primitive_desc_create(&pd, &d, attr, ctx->engine, fwd_pd),
             "the convolution backward-weights");
    if ((st = cnn_dnnl_prim_make(ctx, pd, &c->bwd_weights, err)))
        goto fail;
    const dnnl_memory_desc_t *q = dnnl_primitive_desc_query_md(pd, dnnl_query_diff_weights_md, 0);
    DNNL_TRY(dnnl_memory_create(&c->diff_wei_user, &m->wei_user, ctx->engine, DNNL_MEMORY_NONE),
             "memory");
    DNNL_TRY(dnnl_memory_create(&c->diff_bias, &m->bias, ctx->engine, DNNL_MEMORY_NONE), "memory");
    if ((st = cnn_dnnl_reorder_make(ctx, q, &m->wei_user, &c->reorder_dw, err)))
        goto fail;
    if (c->reorder_dw.p && (st = cnn_dnnl_shared_memory(ctx, q, SHARED_WEI, &c->diff_wei, err)))
        goto fail;
fail:
    if (pd)
        dnnl_primitive_desc_destroy(pd);
    dnnl_primitive_attr_destroy(attr);
    return st;
}

/* Backward-weights by conv_bww.c (CNN_RUN_OWN_BWW) or conv_bwino.c
 * (CNN_RUN_WINO_BWW): x and dy must reach it as bf16 NHWC; its sums live in
 * SHARED_SCRATCH. */
static cnn_status own_bww_make(cnn_fast_conv *c, const conv_mds *m,
                               const dnnl_memory_desc_t *src_q, const dnnl_memory_desc_t *ddst_q,
                               cnn_error *err)
{
    cnn_dnnl *ctx = c->ctx;
    if (!dnnl_memory_desc_equal(src_q, &m->src_k) || !dnnl_memory_desc_equal(ddst_q, &m->ddst_k))
        return cnn_error_set(err, CNN_STATUS_BACKEND, "cnnlab's bf16 weight gradient needs x "
                             "and dy as bf16 NHWC, and the kernels chose other layouts");
    c->bww_threads = omp_get_max_threads();
    return cnn_dnnl_grow(&ctx->shared[SHARED_SCRATCH], &ctx->shared_bytes[SHARED_SCRATCH],
                         c->wino_bww ? cnn_bwino_bww_scratch_bytes(&c->g, c->bww_threads)
                                     : cnn_bww_scratch_bytes(&c->g, c->bww_threads),
                         err);
}

/* Backward-data (with dy's and dx's sides and, where its layout differs from
 * the forward's, its weights) and backward-weights (reading the forward's
 * copy of x and backward-data's dy; its weight gradient reordered back). */
static cnn_status make_backward(cnn_fast_conv *c, const conv_mds *m,
                                const_dnnl_primitive_desc_t fwd_pd, int bwd_fwd, cnn_error *err)
{
    cnn_dnnl *ctx = c->ctx;
    cnn_status st = CNN_STATUS_OK;
    dnnl_primitive_attr_t attr = cnn_dnnl_attr(CNN_ACT_NONE);
    dnnl_primitive_desc_t bwd_d_pd = NULL;
    dnnl_convolution_desc_t d;
    const dnnl_memory_desc_t *q, *ddst_q = &m->ddst_k;
    if (c->own_wino) { /* backward-data by conv_bwino.c: dy and dx as the direct kernel's */
        if ((st = cnn_dnnl_side_make(ctx, &m->dy, ddst_q, 1, SHARED_OUT, &c->diff_dst, err)) ||
            (st = cnn_dnnl_side_make(ctx, &m->dx, &m->dsrc_k, 0, SHARED_GRAD, &c->diff_src, err)))
            goto fail;
        goto weights;
    }
    if (bwd_fwd) {
        if (!(c->bwd_as_fwd = bwd_as_forward(c, m, attr, &bwd_d_pd))) {
            st = cnn_error_set(err, CNN_STATUS_BACKEND, "no backward-data as a forward for this "
                               "convolution (stride 1, ungrouped) on this CPU");
            goto fail;
        }
    } else {
        DNNL_TRY(dnnl_convolution_backward_data_desc_init(&d, m->alg, &m->dsrc_k, &m->wei_any,
                                                          &m->ddst_k, m->strides, m->pad_l,
                                                          m->pad_r),
                 "the convolution backward-data");
        DNNL_TRY(dnnl_primitive_desc_create(&bwd_d_pd, &d, attr, ctx->engine, fwd_pd),
                 "the convolution backward-data");
    }
    if ((st = cnn_dnnl_prim_make(ctx, bwd_d_pd, &c->bwd_data, err)))
        goto fail;
    ddst_q = dnnl_primitive_desc_query_md(
        bwd_d_pd, c->bwd_as_fwd ? dnnl_query_src_md : dnnl_query_diff_dst_md, 0);
    if ((st = cnn_dnnl_side_make(ctx, &m->dy, ddst_q, 1, SHARED_OUT, &c->diff_dst, err)))
        goto fail;
    q = dnnl_primitive_desc_query_md(bwd_d_pd,
                                     c->bwd_as_fwd ? dnnl_query_dst_md : dnnl_query_diff_src_md, 0);
    if ((st = cnn_dnnl_side_make(ctx, &m->dx, q, 0, SHARED_GRAD, &c->diff_src, err)))
        goto fail;
    q = dnnl_primitive_desc_query_md(bwd_d_pd, dnnl_query_weights_md, 0);
    if (c->bwd_as_fwd) { /* the flipped weights, (IC, OC, KH, KW), then the kernel's layout */
        const cnn_conv_geom *g = &c->g;
        dnnl_dims_t wt_dims = {g->ic, g->oc, g->kh, g->kw};
        dnnl_memory_desc_t wt_user;
        dnnl_memory_desc_init_by_tag(&wt_user, 4, wt_dims, dnnl_f32, dnnl_oihw);
        if (!(c->wflip_own = cnn_alloc((size_t)g->ic * g->oc * g->kh * g->kw * sizeof(float)))) {
            st = cnn_error_set(err, CNN_STATUS_NO_MEMORY, "no memory for flipped weights");
            goto fail;
        }
        DNNL_TRY(dnnl_memory_create(&c->wflip_user, &wt_user, ctx->engine, c->wflip_own),
                 "memory");
        if ((st = cnn_dnnl_reorder_make(ctx, &wt_user, q, &c->reorder_bwd, err)))
            goto fail;
        if (c->reorder_bwd.p &&
            (st = cnn_dnnl_shared_memory(ctx, q, SHARED_WEI, &c->wei_bwd, err)))
            goto fail;
    } else if (!dnnl_memory_desc_equal(
                   q, dnnl_primitive_desc_query_md(fwd_pd, dnnl_query_weights_md, 0))) {
        if ((st = cnn_dnnl_reorder_make(ctx, &m->wei_user, q, &c->reorder_bwd, err)) ||
            (st = cnn_dnnl_shared_memory(ctx, q, SHARED_WEI, &c->wei_bwd, err)))
            goto fail;
    }

weights:;
    const dnnl_memory_desc_t *src_q = dnnl_primitive_desc_query_md(fwd_pd, dnnl_query_src_md, 0);
    st = c->own_bww || c->wino_bww ? own_bww_make(c, m, src_q, ddst_q, err)
                    : make_backward_weights(c, m, fwd_pd, src_q, ddst_q, err);
fail:
    if (bwd_d_pd)
        dnnl_primitive_desc_destroy(bwd_d_pd);
    dnnl_primitive_attr_destroy(attr);
    return st;
}

cnn_status cnn_fast_conv_make(cnn_dnnl *ctx, const cnn_conv_geom *g, int has_bias, cnn_act act,
                              int training, int run, cnn_conv_algo algo, cnn_fast_conv **out,
                              cnn_error *err)
{
    int bf16 = run & CNN_RUN_BF16, bwd_fwd = (run & CNN_RUN_BWD_FWD) && training;
    if (algo == CNN_CONV_AUTO || algo == CNN_CONV_WINOGRAD_BF16) /* (cnn_fast_conv_create's) */
        return cnn_error_set(err, CNN_STATUS_BACKEND, "a convolution is made with a kernel's "
                             "algorithm and run bits, not %s", cnn_conv_algo_name(algo));
    int own_bww = (run & CNN_RUN_OWN_BWW) && training, own_wino = run & CNN_RUN_OWN_WINO;
    int wino_bww = (run & CNN_RUN_WINO_BWW) && training;
    if (wino_bww && !(bf16 && algo == CNN_CONV_DIRECT && !own_bww && cnn_bwino_applies(g)))
        return cnn_error_set(err, CNN_STATUS_BACKEND, "cnnlab's bf16 Winograd weight gradient "
                             "is for bf16 3x3 stride-1 convolutions, ungrouped, with multiples "
                             "of 8 input and output channels, on a build with AVX512_BF16 "
                             "(and not with cnnlab's direct one)");
    if (own_bww && !(bf16 && algo == CNN_CONV_DIRECT && cnn_bww_applies(g)))
        return cnn_error_set(err, CNN_STATUS_BACKEND, "cnnlab's weight gradient is for bf16 "
                             "direct convolutions, ungrouped, with a multiple of 16 output "
                             "channels, on a build with AVX512_BF16");
    if (own_wino && !(bf16 && algo == CNN_CONV_DIRECT && !bwd_fwd && cnn_bwino_applies(g)))
        return cnn_error_set(err, CNN_STATUS_BACKEND, "cnnlab's bf16 Winograd is for bf16 3x3 "
                             "stride-1 convolutions, ungrouped, with multiples of 8 input and "
                             "output channels, on a build with AVX512_BF16 (and runs "
                             "backward-data itself)");
    if ((run & CNN_RUN_STORAGE) && !(bf16 && algo == CNN_CONV_DIRECT))
        return cnn_error_set(err, CNN_STATUS_BACKEND, "bf16 activations are read and written "
                             "by bf16 direct convolutions only");
    if (run & CNN_RUN_STORAGE & ~cnn_fast_conv_storage(training, act))
        return cnn_error_set(err, CNN_STATUS_BACKEND, "%s",
                             training ? "a training convolution with a fused ReLU keeps y and dy "
                                        "as floats (its backward masks dy by y): store x only"
                                      : "an inference convolution has no dy to store as bf16");
    cnn_status st = CNN_STATUS_OK;
    cnn_fast_conv *c = calloc(1, sizeof *c);
    if (!c)
        return cnn_error_set(err, CNN_STATUS_NO_MEMORY, "no memory for a convolution");
    c->ctx = ctx;
    c->g = *g;
    c->has_bias = has_bias;
    c->act = act;
    c->training = training;
    c->run = run;
    c->own_bww = own_bww;
    c->own_wino = own_wino;
    c->wino_bww = wino_bww;
    if (algo == CNN_CONV_DENSE || algo == CNN_CONV_WINOGRAD_SGEMM) {
        st = algo == CNN_CONV_DENSE ? dense_make(c, err) : wino_make(c, err);
    } else {
        conv_mds m;
        dnnl_primitive_desc_t fwd_pd = NULL;
        mds_init(g, run, algo == CNN_CONV_WINOGRAD, &m);
        st = make_forward(c, &m, bf16, &fwd_pd, err);
        if (!st && training)
            st = make_backward(c, &m, fwd_pd, bwd_fwd, err);
        if (!st && (c->bwd_as_fwd || c->own_bww || c->wino_bww)) {
            size_t n = strlen(c->impl);
            snprintf(c->impl + n, sizeof c->impl - n, "%s%s%s",
                     c->bwd_as_fwd ? ", backward-data as a forward" : "",
                     c->own_bww ? ", weight gradient by cnnlab's bf16 kernel" : "",
                     c->wino_bww ? ", weight gradient by cnnlab's bf16 Winograd" : "");
        }
        if (fwd_pd)
            dnnl_primitive_desc_destroy(fwd_pd);
    }
    if (st) {
        cnn_fast_conv_destroy(c);
        return st;
    }
    *out = c;
    return CNN_STATUS_OK;
}

const char *cnn_fast_conv_impl(const cnn_fast_conv *c) { return c->impl; }

int cnn_fast_conv_runs_bf16(const cnn_fast_conv *c)
{
    return !c->dense && !c->wino && (c->run & CNN_RUN_BF16); /* Winograd runs fp32 */
}

int cnn_fast_conv_storage(int training, cnn_act act)
{
    if (!training)
        return CNN_FAST_X_BF16 | CNN_FAST_Y_BF16;
    return CNN_FAST_X_BF16 | (act == CNN_ACT_RELU ? 0 : CNN_FAST_Y_BF16 | CNN_FAST_DY_BF16);
}

int cnn_fast_conv_keeps_weights(const cnn_fast_conv *c)
{
    return !c->training && (c->dense || c->wino || c->own_wino || c->reorder_fwd.p != NULL);
}

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
                              ctx->shared[SHARED_SCRATCH]);
        return;
    }
    if (c->own_wino) {
        uint16_t *u = c->training ? ctx->shared[SHARED_WEI] : c->ub_own;
        void *xk = NULL, *yk = NULL;
        if (w)
            cnn_bwino_weights(&c->g, w, 0, u);
        dnnl_memory_get_data_handle(cnn_dnnl_side_bind(ctx, &c->src, x, 1), &xk);
        dnnl_memory_get_data_handle(cnn_dnnl_side_bind(ctx, &c->dst, y, 0), &yk);
        cnn_bwino_forward(&c->g, xk, u, c->has_bias ? b : NULL, c->act == CNN_ACT_RELU, yk,
                          (c->run & CNN_RUN_Y_BF16) != 0, ctx->shared[SHARED_SCRATCH],
                          c->own_threads);
        cnn_dnnl_side_finish(ctx, &c->dst);
        return;
    }
    dnnl_memory_t wei = c->reorder_fwd.p ? c->wei_fwd : c->wei_user;
    if (w) {
        cnn_dnnl_set(c->wei_user, w);
        if (c->reorder_fwd.p)
            cnn_dnnl_reorder(ctx, &c->reorder_fwd, c->wei_user, c->wei_fwd);
    }
    dnnl_exec_arg_t args[5] = {{DNNL_ARG_SRC, cnn_dnnl_side_bind(ctx, &c->src, x, 1)},
                               {DNNL_ARG_WEIGHTS, wei},
                               {DNNL_ARG_DST, cnn_dnnl_side_bind(ctx, &c->dst, y, 0)}};
    int n = 3;
    if (c->has_bias) {
        cnn_dnnl_set(c->bias, b);
        args[n].arg = DNNL_ARG_BIAS;
        args[n].memory = c->bias;
        n++;
    }
    cnn_dnnl_prim_run(ctx, &c->fwd, n, args);
    cnn_dnnl_side_finish(ctx, &c->dst);
}

/* w (OC, IC, KH, KW) -> wt (IC, OC, KH, KW), each kernel turned by 180 degrees. */
static void flip_weights(const cnn_conv_geom *g, const float *w, float *wt)
{
    const int kk = g->kh * g->kw;
#pragma omp parallel for schedule(static)
    for (int o = 0; o < g->oc; o++)
        for (int i = 0; i < g->ic; i++) {
            const float *src = w + ((size_t)o * g->ic + i) * kk;
            float *dst = wt + ((size_t)i * g->oc + o) * kk;
            for (int t = 0; t < kk; t++)
                dst[t] = src[kk - 1 - t];
        }
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
        float *scratch = ctx->shared[SHARED_SCRATCH];
        if (dx) {
            cnn_wino_conv_weights(&c->wc, c->w_last, 1, ctx->shared[SHARED_WEI]);
            cnn_wino_conv_backward_data(&c->wc, dy, ctx->shared[SHARED_WEI], dx, scratch);
        }
        cnn_wino_conv_backward_weights(&c->wc, x, dy, dw, c->has_bias ? db : NULL, scratch);
        return;
    }
    dnnl_memory_t diff_dst = cnn_dnnl_side_bind(ctx, &c->diff_dst, dy, 1);
    if (dx && c->own_wino) { /* backward-data's weights: flipped, from the latest forward's */
        uint16_t *u = ctx->shared[SHARED_WEI];
        void *dyk = NULL, *dxk = NULL;
        cnn_bwino_weights(&c->g, c->w_last, 1, u);
        dnnl_memory_get_data_handle(diff_dst, &dyk);
        dnnl_memory_get_data_handle(cnn_dnnl_side_bind(ctx, &c->diff_src, dx, 0), &dxk);
        cnn_bwino_backward_data(&c->g, dyk, u, dxk, ctx->shared[SHARED_SCRATCH], c->own_threads);
        cnn_dnnl_side_finish(ctx, &c->diff_src);
    } else if (dx) {
        /* The weights backward-data reads: the forward's copy, or (as a
         * forward) the flipped ones; either refreshed into its own layout
         * when the kernel wants another (wei_bwd). */
        dnnl_memory_t user = c->wei_user, wei = c->reorder_fwd.p ? c->wei_fwd : c->wei_user;
        if (c->bwd_as_fwd) {
            flip_weights(&c->g, c->w_last, c->wflip_own);
            user = wei = c->wflip_user;
        }
        if (c->wei_bwd) {
            if (!c->bwd_as_fwd)
                cnn_dnnl_set(c->wei_user, c->w_last);
            cnn_dnnl_set(c->wei_bwd, ctx->shared[SHARED_WEI]);
            cnn_dnnl_reorder(ctx, &c->reorder_bwd, user, c->wei_bwd);
            wei = c->wei_bwd;
        }
        dnnl_exec_arg_t args[4] = {
            {c->bwd_as_fwd ? DNNL_ARG_SRC : DNNL_ARG_DIFF_DST, diff_dst},
            {DNNL_ARG_WEIGHTS, wei},
            {c->bwd_as_fwd ? DNNL_ARG_DST : DNNL_ARG_DIFF_SRC,
             cnn_dnnl_side_bind(ctx, &c->diff_src, dx, 0)}};
        cnn_dnnl_prim_run(ctx, &c->bwd_data, 3, args);
        cnn_dnnl_side_finish(ctx, &c->diff_src);
    }
    dnnl_memory_t src = cnn_dnnl_side_bind(ctx, &c->src, x, 1);
    if (c->own_bww || c->wino_bww) {
        void *xk = NULL, *dyk = NULL;
        dnnl_memory_get_data_handle(src, &xk);
        dnnl_memory_get_data_handle(diff_dst, &dyk);
        (c->wino_bww ? cnn_bwino_backward_weights : cnn_bww_run)(
            &c->g, xk, dyk, dw, c->has_bias ? db : NULL, ctx->shared[SHARED_SCRATCH],
            c->bww_threads);
        return;
    }
    cnn_dnnl_set(c->diff_wei_user, dw);
    dnnl_memory_t dwm = c->diff_wei_user;
    if (c->reorder_dw.p) {
        cnn_dnnl_set(c->diff_wei, ctx->shared[SHARED_WEI]);
        dwm = c->diff_wei;
    }
    dnnl_exec_arg_t args[5] = {{DNNL_ARG_SRC, src}, {DNNL_ARG_DIFF_DST, diff_dst},
                               {DNNL_ARG_DIFF_WEIGHTS, dwm}};
    int n = 3;
    if (c->has_bias) {
        cnn_dnnl_set(c->diff_bias, db);
        args[n].arg = DNNL_ARG_DIFF_BIAS;
        args[n].memory = c->diff_bias;
        n++;
    }
    cnn_dnnl_prim_run(ctx, &c->bwd_weights, n, args);
    if (c->reorder_dw.p)
        cnn_dnnl_reorder(ctx, &c->reorder_dw, c->diff_wei, c->diff_wei_user);
}
