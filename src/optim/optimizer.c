/* optimizer.c: SGD, Adam, AdamW and RMSprop over one parameter block, as
 * torch.optim (1.13) does them, with optional parameter groups (PyTorch param
 * groups with their own lr and weight_decay); the formulas are in
 * include/cnnlab/optim.h.
 *
 * Invariant: the state blocks o->m and o->v exist exactly when the kind (and,
 * for SGD and RMSprop, a momentum > 0) needs them, each (count) floats, and
 * every update is a single pass touching each element once (each run of equal
 * multipliers a pass of its own; a frozen run none). o->runs, when set, covers
 * [0, count) with sorted, disjoint runs. Element-wise
 * arithmetic is float32 in the order PyTorch's single-tensor path uses; the
 * per-step scalars (bias corrections, 1 - lr * wd) are computed in double, as
 * PyTorch computes them in Python, then rounded once to float. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cnnlab/optim.h"
#include "core/core.h"

/* Below this many elements the pass runs on one thread. */
#define PARALLEL_MIN 32768

static const char *const kind_names[] = {"sgd", "adam", "adamw", "rmsprop"};
#define KIND_COUNT ((int)(sizeof kind_names / sizeof kind_names[0]))

const char *cnn_opt_kind_name(cnn_opt_kind k)
{
    return cnn_name_of(kind_names, KIND_COUNT, (int)k);
}

int cnn_opt_kind_parse(const char *s, cnn_opt_kind *out)
{
    int i = cnn_name_find(kind_names, KIND_COUNT, s);
    if (i >= 0)
        *out = (cnn_opt_kind)i;
    return i >= 0;
}

void cnn_optim_config_defaults(cnn_optim_config *c, cnn_opt_kind kind)
{
    memset(c, 0, sizeof *c);
    c->kind = kind;
    c->lr = kind == CNN_OPT_ADAM || kind == CNN_OPT_ADAMW ? 1e-3f : 1e-2f;
    c->momentum = 0.0f;
    c->weight_decay = kind == CNN_OPT_ADAMW ? 0.01f : 0.0f;
    c->nesterov = 0;
    c->beta1 = 0.9f;
    c->beta2 = 0.999f;
    c->eps = 1e-8f;
    c->alpha = 0.99f;
}

/* Checks one setting: lo <= x (strictly when lo_open), x < hi (or <= when
 * hi_closed). The message names the flag, the value and the range. */
static cnn_status check_range(const char *flag, float x, double lo, int lo_open, double hi,
                              int hi_closed, const char *kind, cnn_error *err)
{
    double v = x;
    int ok = (lo_open ? v > lo : v >= lo) && (hi_closed ? v <= hi : v < hi);
    if (ok)
        return CNN_STATUS_OK;
    if (isinf(hi))
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                             "%s: expected a number %s %g for optimizer %s, found %g", flag,
                             lo_open ? ">" : ">=", lo, kind, v);
    return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                         "%s: expected a number in %c%g, %g%c for optimizer %s, found %g", flag,
                         lo_open ? '(' : '[', lo, hi, hi_closed ? ']' : ')', kind, v);
}

cnn_status cnn_optim_init(cnn_optim *o, const cnn_optim_config *c, size_t count, cnn_error *err)
{
    memset(o, 0, sizeof *o);
    if ((int)c->kind < 0 || (int)c->kind >= KIND_COUNT)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                             "--optimizer: expected sgd, adam, adamw or rmsprop, found kind %d",
                             (int)c->kind);
    const char *name = kind_names[c->kind];
    const int sgd = c->kind == CNN_OPT_SGD, rms = c->kind == CNN_OPT_RMSPROP;
    const int adam = c->kind == CNN_OPT_ADAM || c->kind == CNN_OPT_ADAMW;
    cnn_status st;
    if ((st = check_range("--lr", c->lr, 0, 0, INFINITY, 0, name, err)) ||
        (st = check_range("--weight-decay", c->weight_decay, 0, 0, INFINITY, 0, name, err)))
        return st;
    if ((sgd || rms) && (st = check_range("--momentum", c->momentum, 0, 0, 1, 0, name, err)))
        return st;
    if (c->nesterov && !(sgd && c->momentum > 0))
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                             "--nesterov: needs optimizer sgd with a momentum > 0, found "
                             "optimizer %s with momentum %g", name, (double)c->momentum);
    if (adam && ((st = check_range("--beta1", c->beta1, 0, 0, 1, 0, name, err)) ||
                 (st = check_range("--beta2", c->beta2, 0, 0, 1, 0, name, err))))
        return st;
    if ((adam || rms) && (st = check_range("--eps", c->eps, 0, 0, INFINITY, 0, name, err)))
        return st;
    if (rms && (st = check_range("--alpha", c->alpha, 0, 0, 1, 1, name, err)))
        return st;

    o->c = *c;
    o->count = count;
    int need_m = adam || ((sgd || rms) && c->momentum > 0);
    int need_v = adam || rms;
    if ((need_m && !(o->m = cnn_alloc(count * sizeof(float)))) ||
        (need_v && !(o->v = cnn_alloc(count * sizeof(float))))) {
        cnn_optim_free(o);
        return cnn_error_set(err, CNN_STATUS_NO_MEMORY,
                             "optimizer %s: no memory for its state (%d blocks of %zu floats)",
                             name, need_m + need_v, count);
    }
    return CNN_STATUS_OK;
}

/* p, g: (n). */
static void sgd_step(const cnn_optim_config *c, float lr, float *m, long n, float *p,
                     const float *grads)
{
    const float wd = c->weight_decay, mom = c->momentum;
    if (!m) { /* momentum 0: no buffer */
        if (wd == 0.0f) {
#pragma omp parallel for simd schedule(static) if (n >= PARALLEL_MIN)
            for (long i = 0; i < n; i++)
                p[i] -= lr * grads[i];
        } else {
#pragma omp parallel for simd schedule(static) if (n >= PARALLEL_MIN)
            for (long i = 0; i < n; i++)
                p[i] -= lr * (grads[i] + wd * p[i]);
        }
        return;
    }
    if (c->nesterov) {
#pragma omp parallel for simd schedule(static) if (n >= PARALLEL_MIN)
        for (long i = 0; i < n; i++) {
            float g = grads[i] + wd * p[i];
            float b = mom * m[i] + g;
            m[i] = b;
            p[i] -= lr * (g + mom * b);
        }
    } else {
#pragma omp parallel for simd schedule(static) if (n >= PARALLEL_MIN)
        for (long i = 0; i < n; i++) {
            float g = grads[i] + wd * p[i];
            float b = mom * m[i] + g;
            m[i] = b;
            p[i] -= lr * b;
        }
    }
}

/* Adam and AdamW; t is the step number from 1. */
static void adam_step(const cnn_optim_config *c, float lr, long t, float *m, float *v, long n,
                      float *p, const float *grads)
{
    const int decoupled = c->kind == CNN_OPT_ADAMW;
    const double b1 = c->beta1, b2 = c->beta2;
    const float beta1 = c->beta1, beta2 = c->beta2, eps = c->eps;
    const float one_b1 = (float)(1.0 - b1), one_b2 = (float)(1.0 - b2);
    /* Coupled decay (Adam) is added to the gradient; decoupled (AdamW) shrinks p. */
    const float wd = decoupled ? 0.0f : c->weight_decay;
    const float shrink = decoupled ? (float)(1.0 - (double)lr * (double)c->weight_decay) : 1.0f;
    const float step_size = (float)((double)lr / (1.0 - pow(b1, (double)t)));
    const float bc2_sqrt = (float)sqrt(1.0 - pow(b2, (double)t));
#pragma omp parallel for simd schedule(static) if (n >= PARALLEL_MIN)
    for (long i = 0; i < n; i++) {
        float pi = p[i] * shrink;
        float g = grads[i] + wd * pi;
        float mi = beta1 * m[i] + one_b1 * g;
        float vi = beta2 * v[i] + one_b2 * (g * g);
        m[i] = mi;
        v[i] = vi;
        p[i] = pi - step_size * (mi / (sqrtf(vi) / bc2_sqrt + eps));
    }
}

static void rmsprop_step(const cnn_optim_config *c, float lr, float *m, float *v, long n,
                         float *p, const float *grads)
{
    const float wd = c->weight_decay, alpha = c->alpha, eps = c->eps, mom = c->momentum;
    const float one_alpha = (float)(1.0 - (double)c->alpha);
    if (m) {
#pragma omp parallel for simd schedule(static) if (n >= PARALLEL_MIN)
        for (long i = 0; i < n; i++) {
            float g = grads[i] + wd * p[i];
            float vi = alpha * v[i] + one_alpha * (g * g);
            v[i] = vi;
            float b = mom * m[i] + g / (sqrtf(vi) + eps);
            m[i] = b;
            p[i] -= lr * b;
        }
    } else {
#pragma omp parallel for simd schedule(static) if (n >= PARALLEL_MIN)
        for (long i = 0; i < n; i++) {
            float g = grads[i] + wd * p[i];
            float vi = alpha * v[i] + one_alpha * (g * g);
            v[i] = vi;
            p[i] -= lr * (g / (sqrtf(vi) + eps));
        }
    }
}

/* One pass over elements [off, off + n) with config c (whose weight_decay is
 * already the run's). */
static void step_range(const cnn_optim *o, const cnn_optim_config *c, float lr, size_t off,
                       long n, float *params, const float *grads)
{
    float *m = o->m ? o->m + off : NULL, *v = o->v ? o->v + off : NULL;
    switch (c->kind) {
    case CNN_OPT_SGD:
        sgd_step(c, lr, m, n, params + off, grads + off);
        break;
    case CNN_OPT_ADAM:
    case CNN_OPT_ADAMW:
        CNN_ASSERT(m && v);
        adam_step(c, lr, o->t, m, v, n, params + off, grads + off);
        break;
    case CNN_OPT_RMSPROP:
        CNN_ASSERT(v);
        rmsprop_step(c, lr, m, v, n, params + off, grads + off);
        break;
    }
}

void cnn_optim_step(cnn_optim *o, float lr, float *params, const float *grads)
{
    o->t++;
    if (!o->runs) {
        step_range(o, &o->c, lr, 0, (long)o->count, params, grads);
        return;
    }
    for (int r = 0; r < o->run_count; r++) {
        const cnn_param_group *g = &o->runs[r];
        if (g->lr_mult == 0.0f)
            continue; /* frozen: parameters and state untouched */
        cnn_optim_config c = o->c;
        c.weight_decay = (float)((double)o->c.weight_decay * (double)g->wd_mult);
        const float run_lr = (float)((double)lr * (double)g->lr_mult);
        step_range(o, &c, run_lr, g->range.offset, (long)g->range.count, params, grads);
    }
}

static int by_offset(const void *a, const void *b)
{
    size_t x = ((const cnn_param_group *)a)->range.offset;
    size_t y = ((const cnn_param_group *)b)->range.offset;
    return x < y ? -1 : x > y;
}

/* Appends run {off, count, lr, wd} to runs[*n], merging it into the last run
 * when that one ends at off with the same multipliers. */
static void push_run(cnn_param_group *runs, int *n, size_t off, size_t count, float lr_mult,
                     float wd_mult)
{
    if (count == 0)
        return;
    cnn_param_group *last = *n > 0 ? &runs[*n - 1] : NULL;
    if (last && last->range.offset + last->range.count == off && last->lr_mult == lr_mult &&
        last->wd_mult == wd_mult) {
        last->range.count += count;
        return;
    }
    runs[(*n)++] = (cnn_param_group){{off, count}, lr_mult, wd_mult};
}

cnn_status cnn_optim_set_groups(cnn_optim *o, const cnn_param_group *g, int n, cnn_error *err)
{
    if (n < 0)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                             "parameter groups: expected a count >= 0, found %d", n);
    for (int i = 0; i < n; i++) {
        const cnn_param_group *q = &g[i];
        if (q->range.offset > o->count || q->range.count > o->count - q->range.offset)
            return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                                 "parameter group %d: expected a slice inside the block of "
                                 "%zu parameters, found [%zu, %zu + %zu)", i, o->count,
                                 q->range.offset, q->range.offset, q->range.count);
        if (!(q->lr_mult >= 0 && isfinite(q->lr_mult)) ||
            !(q->wd_mult >= 0 && isfinite(q->wd_mult)))
            return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                                 "parameter group %d: expected multipliers >= 0, found lr x %g, "
                                 "weight decay x %g", i, (double)q->lr_mult, (double)q->wd_mult);
    }
    /* Sort a copy (only non-empty groups), then check neighbours for overlap. */
    cnn_param_group *sorted = malloc((size_t)(n > 0 ? n : 1) * sizeof *sorted);
    cnn_param_group *runs = malloc((size_t)(2 * n + 1) * sizeof *runs);
    if (!sorted || !runs) {
        free(sorted);
        free(runs);
        return cnn_error_set(err, CNN_STATUS_NO_MEMORY, "parameter groups: no memory for %d",
                             n);
    }
    int k = 0;
    for (int i = 0; i < n; i++)
        if (g[i].range.count > 0)
            sorted[k++] = g[i];
    qsort(sorted, (size_t)k, sizeof *sorted, by_offset);
    for (int i = 1; i < k; i++) {
        const cnn_range *a = &sorted[i - 1].range, *b = &sorted[i].range;
        if (a->offset + a->count > b->offset) {
            /* the message reads a and b: free after it */
            cnn_status st = cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                                          "parameter groups: expected disjoint slices, found "
                                          "[%zu, %zu) and [%zu, %zu) overlapping", a->offset,
                                          a->offset + a->count, b->offset, b->offset + b->count);
            free(sorted);
            free(runs);
            return st;
        }
    }
    int nr = 0;
    size_t pos = 0;
    for (int i = 0; i < k; i++) {
        push_run(runs, &nr, pos, sorted[i].range.offset - pos, 1.0f, 1.0f);
        push_run(runs, &nr, sorted[i].range.offset, sorted[i].range.count, sorted[i].lr_mult,
                 sorted[i].wd_mult);
        pos = sorted[i].range.offset + sorted[i].range.count;
    }
    push_run(runs, &nr, pos, o->count - pos, 1.0f, 1.0f);
    free(sorted);
    free(o->runs);
    o->runs = NULL;
    o->run_count = 0;
    /* No groups, or all multipliers 1: the plain single pass. */
    if (nr == 1 && runs[0].lr_mult == 1.0f && runs[0].wd_mult == 1.0f)
        nr = 0;
    if (nr == 0) {
        free(runs);
        return CNN_STATUS_OK;
    }
    o->runs = runs;
    o->run_count = nr;
    return CNN_STATUS_OK;
}

void cnn_optim_free(cnn_optim *o)
{
    cnn_free(o->m);
    cnn_free(o->v);
    free(o->runs);
    o->m = o->v = NULL;
    o->runs = NULL;
    o->run_count = 0;
}
