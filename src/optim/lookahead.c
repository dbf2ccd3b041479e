/* lookahead.c: airbench's lookahead, a shadow (EMA) copy of a model's
 * parameter and state blocks that the live network is periodically pulled back
 * to; the semantics are in include/cnnlab/optim.h.
 *
 *     ema  = torch.lerp(ema, live, 1 - decay)      (every `every` steps)
 *     live = ema
 *
 * Invariant: the shadow blocks keep the sizes given at init; an update reads
 * and writes each element of both blocks once, with torch 1.13's CPU lerp
 * arithmetic (the weight rounded to float, the two branches split at |w| = 0.5,
 * each one fused multiply-add), so a replay matches PyTorch to the bit. */
#include <math.h>
#include <string.h>

#include "cnnlab/optim.h"
#include "core/core.h"

/* Below this many elements the pass runs on one thread. */
#define PARALLEL_MIN 32768

void cnn_lookahead_config_defaults(cnn_lookahead_config *c)
{
    c->every = 5;
    c->base = 0.95;
    c->power = 3.0;
}

cnn_status cnn_lookahead_config_check(const cnn_lookahead_config *c, cnn_error *err)
{
    if (c->every < 1)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                             "--lookahead-every: expected an integer >= 1 (steps between "
                             "updates), found %d", c->every);
    if (!(c->base >= 0 && c->base <= 1))
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                             "--lookahead-base: expected a number in [0, 1], found %g", c->base);
    if (!(c->power >= 0 && isfinite(c->power)))
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                             "--lookahead-power: expected a number >= 0, found %g", c->power);
    return CNN_STATUS_OK;
}

cnn_status cnn_lookahead_init(cnn_lookahead *la, const float *params, size_t n_params,
                              const float *state, size_t n_state, cnn_error *err)
{
    memset(la, 0, sizeof *la);
    la->params = cnn_alloc((n_params ? n_params : 1) * sizeof(float));
    la->state = n_state ? cnn_alloc(n_state * sizeof(float)) : NULL;
    if (!la->params || (n_state && !la->state)) {
        cnn_lookahead_free(la);
        return cnn_error_set(err, CNN_STATUS_NO_MEMORY,
                             "lookahead: no memory for a shadow of %zu parameters and %zu state "
                             "values", n_params, n_state);
    }
    la->n_params = n_params;
    la->n_state = n_state;
    if (n_params)
        memcpy(la->params, params, n_params * sizeof(float));
    if (n_state)
        memcpy(la->state, state, n_state * sizeof(float));
    return CNN_STATUS_OK;
}

/* ema (n), live (n): one lerp of ema toward live with weight w, then live = ema. */
static void lerp_pull(float *ema, float *live, long n, float w)
{
    if (fabsf(w) < 0.5f) {
#pragma omp parallel for simd schedule(static) if (n >= PARALLEL_MIN)
        for (long i = 0; i < n; i++) {
            float e = fmaf(w, live[i] - ema[i], ema[i]);
            ema[i] = e;
            live[i] = e;
        }
    } else {
        const float rest = 1.0f - w;
#pragma omp parallel for simd schedule(static) if (n >= PARALLEL_MIN)
        for (long i = 0; i < n; i++) {
            float e = fmaf(-(live[i] - ema[i]), rest, live[i]);
            ema[i] = e;
            live[i] = e;
        }
    }
}

void cnn_lookahead_update(cnn_lookahead *la, float *params, float *state, float decay)
{
    const float w = (float)(1.0 - (double)decay);
    lerp_pull(la->params, params, (long)la->n_params, w);
    if (la->n_state) {
        CNN_ASSERT(state);
        lerp_pull(la->state, state, (long)la->n_state, w);
    }
}

float cnn_lookahead_decay(const cnn_lookahead_config *c, long step, long total)
{
    CNN_ASSERT(total > 0);
    const float r = (float)step / (float)total;
    float rp;
    if (c->power == 2.0)
        rp = r * r;
    else if (c->power == 3.0)
        rp = r * r * r;
    else
        rp = powf(r, (float)c->power);
    return (float)pow(c->base, (double)c->every) * rp;
}

void cnn_lookahead_free(cnn_lookahead *la)
{
    cnn_free(la->params);
    cnn_free(la->state);
    la->params = la->state = NULL;
    la->n_params = la->n_state = 0;
}
