/* plan.c: runs a model on batches of one size.
 *
 * Invariants, set up once in cnn_plan_create and kept by every step:
 *  - every buffer lives in one of four blocks (input, activations, two
 *    gradient buffers, workspaces) allocated here; forward and backward
 *    allocate nothing;
 *  - each executed layer owns its output (the backward needs them); an
 *    activation folded into the layer before it (fast path) runs inside that
 *    layer and is skipped;
 *  - gradients flow through two buffers used in turn: a layer reads dy from one
 *    and writes dx into the other, which is the dy of the layer before it.
 */
#include <string.h>

#include "layers/layer.h"

struct cnn_plan {
    cnn_model *m;
    int batch;
    cnn_backend backend;
    int training;
    cnn_dnnl *dnnl;
    cnn_plan_layer *layers;
    int last;          /* index of the last executed layer: its output is the logits */
    float *input;      /* (batch, H, W, C) */
    float *acts;       /* every executed layer's output */
    float *grad[2];    /* gradient ping-pong buffers */
    float *ws;         /* every layer's workspace */
    size_t bytes;
    int profiling;     /* time each layer's forward and backward */
    double *fwd_s, *bwd_s, loss_s;
    long fwd_calls, bwd_calls;
};

static size_t round16(size_t n) { return (n + 15) / 16 * 16; }

static cnn_status alloc_block(float **p, size_t floats, size_t *bytes, cnn_error *err)
{
    *p = cnn_alloc(floats * sizeof(float));
    if (!*p)
        return cnn_error_set(err, CNN_STATUS_NO_MEMORY, "no memory for a %zu MiB plan buffer",
                             floats * sizeof(float) >> 20);
    *bytes += floats * sizeof(float);
    return CNN_STATUS_OK;
}

cnn_status cnn_plan_create(cnn_model *m, int batch, cnn_backend backend, int training,
                           cnn_plan **out, cnn_error *err)
{
    if (batch < 1)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "batch size must be >= 1, found %d",
                             batch);
    cnn_status st = CNN_STATUS_OK;
    cnn_plan *p = calloc(1, sizeof *p);
    if (!p || !(p->layers = calloc((size_t)m->count, sizeof *p->layers)) ||
        !(p->fwd_s = calloc((size_t)m->count, sizeof(double))) ||
        !(p->bwd_s = calloc((size_t)m->count, sizeof(double)))) {
        if (p) {
            free(p->layers);
            free(p->fwd_s);
        }
        free(p);
        return cnn_error_set(err, CNN_STATUS_NO_MEMORY, "no memory for a plan");
    }
    p->m = m;
    p->batch = batch;
    p->backend = backend;
    p->training = training;
    if (backend == CNN_BACKEND_FAST && (st = cnn_dnnl_create(&p->dnnl, err)) != CNN_STATUS_OK)
        goto fail;

    /* Layer views and activation fusion. */
    for (int i = 0; i < m->count; i++) {
        cnn_plan_layer *pl = &p->layers[i];
        const cnn_model_layer *l = &m->layers[i];
        pl->ml = l;
        pl->n = batch;
        pl->backend = backend;
        pl->training = training;
        pl->dnnl = p->dnnl;
        pl->w = m->params + l->param_offset;
        pl->dw = m->grads + l->param_offset;
        pl->state = m->state + l->state_offset;
        if (backend == CNN_BACKEND_FAST && i > 0 && l->desc.kind == CNN_LAYER_ACT) {
            cnn_plan_layer *prev = &p->layers[i - 1];
            const cnn_layer_class *pc = cnn_layer_class_of(prev->ml->desc.kind);
            if (!prev->absorbed && prev->fused == CNN_ACT_NONE && pc->can_fuse &&
                pc->can_fuse(l->desc.act)) {
                prev->fused = l->desc.act;
                pl->absorbed = 1;
            }
        }
        if (!pl->absorbed)
            p->last = i;
    }

    /* Activation buffers. */
    cnn_shape in0 = {m->desc->in_h, m->desc->in_w, m->desc->in_c};
    size_t act_floats = 0, grad_floats = round16((size_t)batch * cnn_shape_size(in0));
    for (int i = 0; i < m->count; i++) {
        size_t n = round16((size_t)batch * cnn_shape_size(m->layers[i].out));
        if (!p->layers[i].absorbed)
            act_floats += n;
        if (n > grad_floats)
            grad_floats = n;
    }
    if ((st = alloc_block(&p->input, round16((size_t)batch * cnn_shape_size(in0)), &p->bytes, err)) ||
        (st = alloc_block(&p->acts, act_floats, &p->bytes, err)))
        goto fail;
    if (training && ((st = alloc_block(&p->grad[0], grad_floats, &p->bytes, err)) ||
                     (st = alloc_block(&p->grad[1], grad_floats, &p->bytes, err))))
        goto fail;
    float *next = p->acts;
    const float *x = p->input;
    for (int i = 0; i < m->count; i++) {
        cnn_plan_layer *pl = &p->layers[i];
        pl->x = x;
        if (pl->absorbed) {
            pl->y = p->layers[i - 1].y;
        } else {
            pl->y = next;
            next += round16((size_t)batch * cnn_shape_size(pl->ml->out));
        }
        x = pl->y;
    }
    if (training) {
        int cur = 0;
        for (int i = m->count - 1; i >= 0; i--) {
            cnn_plan_layer *pl = &p->layers[i];
            if (pl->absorbed)
                continue;
            pl->dy = p->grad[cur];
            cur = 1 - cur;
            pl->dx = p->grad[cur];
        }
        for (int i = 0; i < m->count; i++)
            if (!p->layers[i].absorbed) {
                p->layers[i].dx = NULL; /* nothing before the first layer needs a gradient */
                break;
            }
    }

    /* Per-layer set-up (oneDNN primitives) and workspaces. */
    size_t ws_floats = 0;
    for (int i = 0; i < m->count; i++) {
        cnn_plan_layer *pl = &p->layers[i];
        const cnn_layer_class *cls = cnn_layer_class_of(pl->ml->desc.kind);
        if (pl->absorbed || !cls->plan)
            continue;
        cnn_error sub;
        if ((st = cls->plan(pl, &sub)) != CNN_STATUS_OK) {
            cnn_error_set(err, st, "model %s, layer %d (%s): %s", m->desc->name, i + 1, cls->name,
                          sub.msg);
            goto fail;
        }
        ws_floats += round16(pl->ws_floats);
    }
    if ((st = alloc_block(&p->ws, ws_floats, &p->bytes, err)))
        goto fail;
    float *w = p->ws;
    for (int i = 0; i < m->count; i++) {
        cnn_plan_layer *pl = &p->layers[i];
        if (pl->ws_floats) {
            pl->ws = w;
            w += round16(pl->ws_floats);
        }
    }
    if (p->dnnl)
        p->bytes += cnn_dnnl_scratch_bytes(p->dnnl);
    *out = p;
    return CNN_STATUS_OK;

fail:
    cnn_plan_destroy(p);
    return st;
}

void cnn_plan_destroy(cnn_plan *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->m->count; i++) {
        cnn_plan_layer *pl = &p->layers[i];
        const cnn_layer_class *cls = cnn_layer_class_of(pl->ml ? pl->ml->desc.kind : CNN_LAYER_CONV);
        if (pl->ml && pl->impl && cls->release)
            cls->release(pl);
    }
    cnn_free(p->input);
    cnn_free(p->acts);
    cnn_free(p->grad[0]);
    cnn_free(p->grad[1]);
    cnn_free(p->ws);
    cnn_dnnl_destroy(p->dnnl);
    free(p->fwd_s);
    free(p->bwd_s);
    free(p->layers);
    free(p);
}

int cnn_plan_batch(const cnn_plan *p) { return p->batch; }
float *cnn_plan_input(cnn_plan *p) { return p->input; }
const float *cnn_plan_logits(const cnn_plan *p) { return p->layers[p->last].y; }
size_t cnn_plan_bytes(const cnn_plan *p) { return p->bytes; }

float cnn_plan_forward(cnn_plan *p, const uint8_t *labels, int rows, int training, int *correct)
{
    CNN_ASSERT(!training || p->training);
    CNN_ASSERT(rows >= 1 && rows <= p->batch);
    for (int i = 0; i < p->m->count; i++) {
        cnn_plan_layer *pl = &p->layers[i];
        if (pl->absorbed)
            continue;
        pl->training = training;
        double t0 = p->profiling ? cnn_now() : 0;
        cnn_layer_class_of(pl->ml->desc.kind)->forward(pl);
        if (p->profiling)
            p->fwd_s[i] += cnn_now() - t0;
    }
    p->fwd_calls++;
    if (!labels)
        return 0.0f;
    double t0 = p->profiling ? cnn_now() : 0;
    int classes = p->m->desc->classes, ok = 0;
    float *dlogits = training ? p->layers[p->last].dy : NULL;
    if (training)
        CNN_ASSERT(rows == p->batch);
    float loss = p->backend == CNN_BACKEND_FAST
                     ? cnn_fast_softmax_xent(rows, classes, cnn_plan_logits(p), labels, dlogits, &ok)
                     : cnn_ref_softmax_xent(rows, classes, cnn_plan_logits(p), labels, dlogits, &ok);
    if (correct)
        *correct += ok;
    if (p->profiling)
        p->loss_s += cnn_now() - t0;
    return loss;
}

void cnn_plan_backward(cnn_plan *p)
{
    CNN_ASSERT(p->training);
    for (int i = p->last; i >= 0; i--) {
        cnn_plan_layer *pl = &p->layers[i];
        if (pl->absorbed)
            continue;
        double t0 = p->profiling ? cnn_now() : 0;
        cnn_layer_class_of(pl->ml->desc.kind)->backward(pl);
        if (p->profiling)
            p->bwd_s[i] += cnn_now() - t0;
    }
    p->bwd_calls++;
}

void cnn_plan_profile(cnn_plan *p, int on)
{
    p->profiling = on;
    p->fwd_calls = p->bwd_calls = 0;
    p->loss_s = 0;
    for (int i = 0; i < p->m->count; i++)
        p->fwd_s[i] = p->bwd_s[i] = 0;
}

void cnn_plan_profile_report(const cnn_plan *p, double peak_gflops, char *buf, size_t size)
{
    size_t used = 0;
    double tf = 0, tb = 0;
    long nf = p->fwd_calls ? p->fwd_calls : 1, nb = p->bwd_calls ? p->bwd_calls : 1;
    used += (size_t)snprintf(buf, size, "%3s %-9s %-22s %10s %10s %9s %9s %7s\n", "#", "layer",
                             "output", "fwd ms", "bwd ms", "fwd GF/s", "bwd GF/s", "% peak");
    for (int i = 0; i < p->m->count && used < size; i++) {
        const cnn_plan_layer *pl = &p->layers[i];
        if (pl->absorbed)
            continue;
        const cnn_model_layer *l = pl->ml;
        const cnn_layer_class *cls = cnn_layer_class_of(l->desc.kind);
        double f = p->fwd_s[i] / nf, b = p->bwd_s[i] / nb;
        tf += f;
        tb += b;
        double flop = cls->macs ? 2.0 * cls->macs(l) * p->batch : 0;
        double gf = f > 0 ? flop / f / 1e9 : 0, gb = b > 0 ? 2 * flop / b / 1e9 : 0;
        char shape[32];
        snprintf(shape, sizeof shape, "%dx%dx%d%s", l->out.h, l->out.w, l->out.c,
                 pl->fused ? " +act" : "");
        int w = snprintf(buf + used, size - used, "%3d %-9s %-22s %10.3f %10.3f %9.1f %9.1f %7.1f\n",
                         i + 1, cls->name, shape, 1e3 * f, 1e3 * b, gf, gb,
                         flop > 0 && peak_gflops > 0 && f + b > 0
                             ? 100.0 * 3 * flop / (f + b) / 1e9 / peak_gflops : 0.0);
        if (w < 0)
            return;
        used += (size_t)w;
    }
    if (used < size)
        snprintf(buf + used, size - used, "    loss %.3f ms; layers total: forward %.3f ms, "
                 "backward %.3f ms\n", 1e3 * p->loss_s / nf, 1e3 * tf, 1e3 * tb);
}

void cnn_plan_describe(const cnn_plan *p, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = 0;
    for (int i = 0; i < p->m->count && used < size; i++) {
        const cnn_plan_layer *pl = &p->layers[i];
        const cnn_model_layer *l = pl->ml;
        const char *impl = "";
        if (pl->absorbed)
            impl = "(folded into the layer before)";
        else if (l->desc.kind == CNN_LAYER_CONV && pl->impl)
            impl = cnn_fast_conv_impl(pl->impl);
        int w = snprintf(buf + used, size - used, "%3d %-9s %3dx%-3dx%4d -> %3dx%-3dx%4d %s%s\n",
                         i + 1, cnn_layer_class_of(l->desc.kind)->name, l->in.h, l->in.w, l->in.c,
                         l->out.h, l->out.w, l->out.c, pl->fused ? "+act " : "", impl);
        if (w < 0)
            break;
        used += (size_t)w;
    }
}
