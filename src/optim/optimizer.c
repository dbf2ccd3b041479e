/* optimizer.c: SGD, Adam, AdamW and RMSprop over one parameter block, as
 * torch.optim (1.13) does them; the formulas are in include/cnnlab/optim.h.
 *
 * Invariant: the state blocks o->m and o->v exist exactly when the kind (and,
 * for SGD and RMSprop, a momentum > 0) needs them, each (count) floats, and
 * every update is a single pass touching each element once. Element-wise
 * arithmetic is float32 in the order PyTorch's single-tensor path uses; the
 * per-step scalars (bias corrections, 1 - lr * wd) are computed in double, as
 * PyTorch computes them in Python, then rounded once to float. */
#include <math.h>
#include <string.h>

#include "cnnlab/optim.h"
#include "core/core.h"

/* Below this many elements the pass runs on one thread. */
#define PARALLEL_MIN 32768

static const char *const kind_names[] = {"sgd", "adam", "adamw", "rmsprop"};
#define KIND_COUNT ((int)(sizeof kind_names / sizeof kind_names[0]))

const char *cnn_opt_kind_name(cnn_opt_kind k)
{
    return (int)k >= 0 && (int)k < KIND_COUNT ? kind_names[k] : "?";
}

int cnn_opt_kind_parse(const char *s, cnn_opt_kind *out)
{
    for (int i = 0; i < KIND_COUNT; i++)
        if (strcmp(s, kind_names[i]) == 0) {
            *out = (cnn_opt_kind)i;
            return 1;
        }
    return 0;
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

void cnn_optim_step(cnn_optim *o, float lr, float *params, const float *grads)
{
    const long n = (long)o->count;
    o->t++;
    switch (o->c.kind) {
    case CNN_OPT_SGD:
        sgd_step(&o->c, lr, o->m, n, params, grads);
        break;
    case CNN_OPT_ADAM:
    case CNN_OPT_ADAMW:
        CNN_ASSERT(o->m && o->v);
        adam_step(&o->c, lr, o->t, o->m, o->v, n, params, grads);
        break;
    case CNN_OPT_RMSPROP:
        CNN_ASSERT(o->v);
        rmsprop_step(&o->c, lr, o->m, o->v, n, params, grads);
        break;
    }
}

void cnn_optim_free(cnn_optim *o)
{
    cnn_free(o->m);
    cnn_free(o->v);
    o->m = o->v = NULL;
}
