/* plan_run.c: running a plan that plan.c made: forward and loss, backward,
 * which layers need gradients, per-layer profiling and the description of
 * what runs each layer. Nothing here allocates. */
#include <stdio.h>
#include <string.h>

#include "layers/layer.h"
#include "net/plan_impl.h"

int cnn_plan_batch(const cnn_plan *p) { return p->batch; }
void cnn_plan_set_seed(cnn_plan *p, uint64_t seed, uint64_t step)
{
    p->seed = seed;
    p->step = step;
}

void cnn_plan_set_label_smoothing(cnn_plan *p, float smoothing) { p->label_smoothing = smoothing; }

void cnn_plan_set_dist(cnn_plan *p, const cnn_plan_dist *d)
{
    CNN_ASSERT(p->training);
    p->dist = *d;
    for (int i = 0; i < p->m->count; i++)
        p->layers[i].bn_sync = d->bn;
}

void cnn_plan_freeze(cnn_plan *p)
{
    CNN_ASSERT(!p->training);
    for (int i = 0; i < p->m->count; i++) {
        p->layers[i].frozen = 1;
        p->layers[i].prepared = 0;
    }
}

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
        pl->seed = p->seed;
        pl->step = p->step;
        double t0 = p->profiling ? cnn_now() : 0;
        cnn_layer_class_of(pl->ml->desc.kind)->forward(pl);
        if (p->profiling)
            p->fwd_s[i] += cnn_now() - t0;
    }
    p->fwd_calls++;
    if (training)
        p->step++;
    if (!labels)
        return 0.0f;
    double t0 = p->profiling ? cnn_now() : 0;
    int classes = p->m->desc->classes, ok = 0;
    float *dlogits = training ? p->layers[p->last].dy : NULL;
    if (training)
        CNN_ASSERT(rows == p->batch);
    /* label smoothing shapes the training objective; evaluation reports plain
     * cross-entropy so that runs with and without it compare */
    float smoothing = training ? p->label_smoothing : 0.0f;
    float loss = p->backend == CNN_BACKEND_FAST
                     ? cnn_fast_softmax_xent(rows, classes, cnn_plan_logits(p), labels, smoothing,
                                             dlogits, &ok)
                     : cnn_ref_softmax_xent(rows, classes, cnn_plan_logits(p), labels, smoothing,
                                            dlogits, &ok);
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
        if (pl->absorbed || !pl->dy || !p->run_bwd[i])
            continue;
        double t0 = p->profiling ? cnn_now() : 0;
        cnn_layer_class_of(pl->ml->desc.kind)->backward(pl);
        for (int s = 0; s < pl->n_in; s++) {
            float *into = p->add_into[i][s];
            if (!into || !pl->dxs[s])
                continue;
            const float *t = pl->dxs[s];
            size_t count = (size_t)p->batch * cnn_shape_size(pl->ml->ins[s]);
#pragma omp parallel for simd schedule(static) if (count >= 65536)
            for (size_t k = 0; k < count; k++)
                into[k] += t[k];
        }
        if (p->profiling)
            p->bwd_s[i] += cnn_now() - t0;
        if (p->dist.grads_ready && p->m->layers[i].param_count)
            p->dist.grads_ready(p->dist.ctx, p->m->layers[i].param_offset);
    }
    p->bwd_calls++;
}

void cnn_plan_set_wanted_grads(cnn_plan *p, const unsigned char *want)
{
    CNN_ASSERT(p->training);
    cnn_model *m = p->m;
    /* in model order, so every input's source is decided before its reader */
    for (int i = 0; i < m->count; i++) {
        cnn_plan_layer *pl = &p->layers[i];
        if (pl->absorbed)
            continue;
        int run = !want || (want[i] && m->layers[i].param_count > 0);
        for (int s = 0; s < pl->n_in; s++) {
            int j = p->in[i][s];
            int needed = j >= 0 && p->run_bwd[j];
            pl->dxs[s] = needed ? p->all_dxs[i][s] : NULL;
            run |= needed;
        }
        pl->dx = pl->dxs[0];
        p->run_bwd[i] = (unsigned char)run;
        if (!run && m->layers[i].param_count) /* nobody reads them: keep them defined */
            memset(m->grads + m->layers[i].param_offset, 0,
                   m->layers[i].param_count * sizeof(float));
    }
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
        snprintf(shape, sizeof shape, "%dx%dx%d%s%s", l->out.h, l->out.w, l->out.c,
                 pl->folded_bn ? " +bn" : "", pl->fused ? " +act" : "");
        /* a training step does the forward's FLOPs three times (forward, backward
         * data, backward weights), an inference step once */
        double step_flop = p->bwd_calls ? 3 * flop : flop;
        char share[16] = "-";
        if (flop > 0 && peak_gflops > 0 && f + b > 0)
            snprintf(share, sizeof share, "%.1f", 100.0 * step_flop / (f + b) / 1e9 / peak_gflops);
        int w = snprintf(buf + used, size - used, "%3d %-9s %-22s %10.3f %10.3f %9.1f %9.1f %7s\n",
                         i + 1, cls->name, shape, 1e3 * f, 1e3 * b, gf, gb, share);
        if (w < 0)
            return;
        used += (size_t)w;
    }
    if (used < size)
        snprintf(buf + used, size - used, "    loss %.3f ms; layers total: forward %.3f ms, "
                 "backward %.3f ms\n", 1e3 * p->loss_s / nf, 1e3 * tf, 1e3 * tb);
}

size_t cnn_plan_describe(const cnn_plan *p, char *buf, size_t size)
{
    size_t used = 0;
    if (size)
        buf[0] = 0;
    for (int i = 0; i < p->m->count; i++) {
        const cnn_plan_layer *pl = &p->layers[i];
        const cnn_model_layer *l = pl->ml;
        const char *impl = "";
        if (pl->absorbed)
            impl = "(folded into the layer before)";
        else if ((l->desc.kind == CNN_LAYER_CONV || l->desc.kind == CNN_LAYER_LINEAR) && pl->impl)
            impl = cnn_fast_conv_impl(pl->impl);
        else if (l->desc.kind == CNN_LAYER_ADD && (pl->y == pl->xs[0] || pl->y == pl->xs[1]))
            impl = "(in place, over its input's buffer)";
        /* past the end only counted */
        int w = snprintf(used < size ? buf + used : NULL, used < size ? size - used : 0,
                         "%3d %-9s %3dx%-3dx%4d -> %3dx%-3dx%4d %s%s%s%s%s%s\n", i + 1,
                         cnn_layer_class_of(l->desc.kind)->name, l->in.h, l->in.w, l->in.c,
                         l->out.h, l->out.w, l->out.c, pl->folded_bn ? "+batchnorm " : "",
                         pl->fused ? "+act " : "", pl->y_bf16 ? "[out stored bf16] " : "",
                         pl->y_copied ? "[a bf16 copy for its convolutions] " : "",
                         pl->dy_bf16 ? "[its gradient stored bf16] " : "", impl);
        if (w < 0)
            break;
        used += (size_t)w;
    }
    return used;
}
