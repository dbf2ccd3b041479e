/* dnnl_ctx.c: the oneDNN context all convolutions of a plan share (engine,
 * stream, one scratchpad, the kernel-side buffers of conv_dnnl.h), and the
 * plumbing of primitives, reorders and memory objects.
 *
 * Invariant: buffers only grow at plan time (or shrink back, the scratchpad
 * as well, after each candidate CNN_CONV_AUTO timed); running a primitive
 * allocates nothing.
 */
#include <string.h>

#include "conv_dnnl.h"

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
cnn_status cnn_dnnl_grow(void **buf, size_t *have, size_t bytes, cnn_error *err)
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

cnn_dnnl_sizes cnn_dnnl_sizes_of(const cnn_dnnl *ctx)
{
    cnn_dnnl_sizes s;
    memcpy(s.shared, ctx->shared_bytes, sizeof s.shared);
    s.scratch = ctx->scratch_bytes;
    return s;
}

/* Brings every buffer back to the sizes in had (taken before making
 * convolutions that are not kept: nothing made before them needs more). */
void cnn_dnnl_give_back(cnn_dnnl *ctx, const cnn_dnnl_sizes *had)
{
    for (int i = 0; i < SHARED_COUNT; i++)
        shrink(&ctx->shared[i], &ctx->shared_bytes[i], had->shared[i]);
    shrink(&ctx->scratch, &ctx->scratch_bytes, had->scratch);
}

void cnn_dnnl_release_buffers(cnn_dnnl *ctx)
{
    const cnn_dnnl_sizes none = {{0}, 0};
    cnn_dnnl_give_back(ctx, &none);
}

/* Creates the primitive of pd and its scratchpad memory (handle set at run). */
cnn_status cnn_dnnl_prim_make(cnn_dnnl *ctx, const_dnnl_primitive_desc_t pd, cnn_dnnl_prim *out,
                            cnn_error *err)
{
    cnn_status st = CNN_STATUS_OK;
    DNNL_TRY(dnnl_primitive_create(&out->p, pd), "a primitive");
    const dnnl_memory_desc_t *smd = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    size_t bytes = smd ? dnnl_memory_desc_get_size(smd) : 0;
    if (bytes > 0) {
        if ((st = cnn_dnnl_grow(&ctx->scratch, &ctx->scratch_bytes, bytes, err)) != CNN_STATUS_OK)
            return st;
        DNNL_TRY(dnnl_memory_create(&out->scratch, smd, ctx->engine, DNNL_MEMORY_NONE),
                 "a scratchpad");
    }
fail:
    return st;
}

void cnn_dnnl_prim_free(cnn_dnnl_prim *p)
{
    if (p->p)
        dnnl_primitive_destroy(p->p);
    if (p->scratch)
        dnnl_memory_destroy(p->scratch);
}

/* Executes with args; appends the scratchpad argument. */
void cnn_dnnl_prim_run(cnn_dnnl *ctx, cnn_dnnl_prim *p, int nargs, dnnl_exec_arg_t *args)
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

dnnl_primitive_attr_t cnn_dnnl_attr(cnn_act act)
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
cnn_status cnn_dnnl_reorder_make(cnn_dnnl *ctx, const dnnl_memory_desc_t *from,
                               const dnnl_memory_desc_t *to, cnn_dnnl_prim *out, cnn_error *err)
{
    cnn_status st = CNN_STATUS_OK;
    out->p = NULL;
    out->scratch = NULL;
    if (dnnl_memory_desc_equal(from, to))
        return CNN_STATUS_OK;
    dnnl_primitive_attr_t attr = cnn_dnnl_attr(CNN_ACT_NONE);
    dnnl_primitive_desc_t pd = NULL;
    DNNL_TRY(dnnl_reorder_primitive_desc_create(&pd, from, ctx->engine, to, ctx->engine, attr),
             "a reorder");
    st = cnn_dnnl_prim_make(ctx, pd, out, err);
fail:
    if (pd)
        dnnl_primitive_desc_destroy(pd);
    dnnl_primitive_attr_destroy(attr);
    return st;
}

/* Memory for md with its own buffer (owned by oneDNN). */
cnn_status cnn_dnnl_owned_memory(cnn_dnnl *ctx, const dnnl_memory_desc_t *md, dnnl_memory_t *m,
                               cnn_error *err)
{
    if (dnnl_memory_create(m, md, ctx->engine, DNNL_MEMORY_ALLOCATE) != dnnl_success)
        return cnn_error_set(err, CNN_STATUS_NO_MEMORY, "oneDNN could not allocate %zu bytes",
                             dnnl_memory_desc_get_size(md));
    return CNN_STATUS_OK;
}

/* Memory for md whose buffer is ctx->shared[shared] (handle set at run). */
cnn_status cnn_dnnl_shared_memory(cnn_dnnl *ctx, const dnnl_memory_desc_t *md, int shared,
                                dnnl_memory_t *m, cnn_error *err)
{
    cnn_status st = cnn_dnnl_grow(&ctx->shared[shared], &ctx->shared_bytes[shared],
                         dnnl_memory_desc_get_size(md), err);
    if (st)
        return st;
    if (dnnl_memory_create(m, md, ctx->engine, DNNL_MEMORY_NONE) != dnnl_success)
        return cnn_error_set(err, CNN_STATUS_BACKEND, "oneDNN refused a memory object");
    return CNN_STATUS_OK;
}

/* Sets up s for a tensor the caller holds as user_md and the kernel wants as
 * kern_md; the kernel side lives in ctx->shared[shared]. */
cnn_status cnn_dnnl_side_make(cnn_dnnl *ctx, const dnnl_memory_desc_t *user_md,
                            const dnnl_memory_desc_t *kern_md, int input, int shared, cnn_dnnl_side *s,
                            cnn_error *err)
{
    cnn_status st = CNN_STATUS_OK;
    s->shared = shared;
    DNNL_TRY(dnnl_memory_create(&s->user, user_md, ctx->engine, DNNL_MEMORY_NONE), "memory");
    if (dnnl_memory_desc_equal(user_md, kern_md)) {
        s->kern = s->user;
        return CNN_STATUS_OK;
    }
    if ((st = cnn_dnnl_shared_memory(ctx, kern_md, shared, &s->kern, err)))
        return st;
    st = input ? cnn_dnnl_reorder_make(ctx, user_md, kern_md, &s->reorder, err)
               : cnn_dnnl_reorder_make(ctx, kern_md, user_md, &s->reorder, err);
fail:
    return st;
}

void cnn_dnnl_side_free(cnn_dnnl_side *s)
{
    cnn_dnnl_prim_free(&s->reorder);
    if (s->kern && s->kern != s->user)
        dnnl_memory_destroy(s->kern);
    if (s->user)
        dnnl_memory_destroy(s->user);
}

void cnn_dnnl_set(dnnl_memory_t m, const void *p) { dnnl_memory_set_data_handle(m, (void *)p); }

void cnn_dnnl_reorder(cnn_dnnl *ctx, cnn_dnnl_prim *r, dnnl_memory_t from, dnnl_memory_t to)
{
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
    cnn_dnnl_prim_run(ctx, r, 2, args);
}

/* Points s at the caller's buffer p; returns the memory the kernel uses, after
 * reordering into it for an input. */
dnnl_memory_t cnn_dnnl_side_bind(cnn_dnnl *ctx, cnn_dnnl_side *s, const void *p, int input)
{
    cnn_dnnl_set(s->user, p);
    if (s->kern == s->user)
        return s->user;
    cnn_dnnl_set(s->kern, ctx->shared[s->shared]);
    if (input)
        cnn_dnnl_reorder(ctx, &s->reorder, s->user, s->kern);
    return s->kern;
}

/* After the kernel wrote an output's kernel side: the caller's copy. */
void cnn_dnnl_side_finish(cnn_dnnl *ctx, cnn_dnnl_side *s)
{
    if (s->kern != s->user)
        cnn_dnnl_reorder(ctx, &s->reorder, s->kern, s->user);
}
