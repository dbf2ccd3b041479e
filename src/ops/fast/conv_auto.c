/* conv_auto.c: CNN_CONV_AUTO. The algorithm of each shape is chosen by timing
 * the candidates on the plan's batch once: direct always (bf16 plans also
 * fp32 direct), Winograd for 3x3 stride 1 (oneDNN's where the CPU has it, and
 * cnnlab's conv_wino.c), and the dense matrix product of conv_dense.c where
 * the input has no more positions than the kernel has taps; in training plans
 * also direct with its backward-data run as a forward (stride 1, ungrouped),
 * and in bf16 training the faster of those two with cnnlab's weight gradient
 * (conv_bww.c) in place of oneDNN's; on bf16 3x3 stride-1 shapes with
 * channels in 16s (cnn_bwino_auto_applies) the best of those with cnnlab's
 * Winograd (conv_bwino.c) in place of the direct kernel's forward and
 * backward-data, then (training) the Winograd for all three passes, and the
 * best direct form with only the Winograd's weight gradient.
 * An fp32 shape with none of the other candidates runs direct untimed. Each
 * candidate is made, timed and destroyed in turn, and the fastest made again;
 * the choice is cached in the context, so repeated shapes are timed once per
 * plan, and kept on disk for later processes (conv_cache.c).
 */
#include <string.h>

#include "conv_cache.h"
#include "conv_dnnl.h"

/* The zero tensors a shape's candidates are timed on, allocated once for all
 * of them: x and dx share a buffer, as do y and dy, and every step leaves
 * them zero (zero input and weights), so no pass clears them and the
 * plan-time peak of memory stays lower. cnn_alloc's blocks start zeroed,
 * their pages mapped when first written, during the untimed warm-up. */
typedef struct timing_data {
    float *x, *y, *w, *dw, *b, *db;
} timing_data;

static void timing_free(timing_data *d)
{
    cnn_free(d->x), cnn_free(d->y), cnn_free(d->w);
    cnn_free(d->dw), cnn_free(d->b), cnn_free(d->db);
}

static cnn_status timing_alloc(const cnn_conv_geom *g, timing_data *d, cnn_error *err)
{
    size_t nx = (size_t)g->n * g->ih * g->iw * g->ic, ny = (size_t)g->n * g->oh * g->ow * g->oc;
    size_t nw = (size_t)g->oc * cnn_conv_group_ic(g) * g->kh * g->kw;
    *d = (timing_data){cnn_alloc(nx * 4), cnn_alloc(ny * 4), cnn_alloc(nw * 4),
                       cnn_alloc(nw * 4), cnn_alloc((size_t)g->oc * 4),
                       cnn_alloc((size_t)g->oc * 4)};
    if (d->x && d->y && d->w && d->dw && d->b && d->db)
        return CNN_STATUS_OK;
    timing_free(d);
    return cnn_error_set(err, CNN_STATUS_NO_MEMORY, "no memory to time a convolution");
}

/* Seconds of one step (forward, and backward when training) of c on d: after
 * a warm-up, the fastest of timed steps once the two fastest agree within
 * TIMING_AGREE (at most TIMING_STEPS of them). A lone best of two was not
 * enough on a shared machine: one slow stretch during a candidate's two
 * steps made it look up to 2x slower than it was, and a wrong choice cached
 * on disk stays (resnet18's 32x32x64 layers kept direct at 48 ms a step
 * where the Winograd takes 29 ms). An inference step is timed as a frozen
 * plan runs it (cnn_plan_freeze): on the weights the warm-up prepared, since
 * their reorder (for Winograd, a transform that costs more than the forward
 * itself at 4x4) then happens once, not per batch. */
#define TIMING_STEPS 6
#define TIMING_AGREE 0.03
static double time_step(cnn_fast_conv *c, int training, const timing_data *d)
{
    double best = 1e30, second = 1e30;
    for (int i = 0; i <= TIMING_STEPS; i++) {
        double t = cnn_now();
        cnn_fast_conv_forward(c, d->x, training || i == 0 ? d->w : NULL, d->b, d->y);
        if (training)
            cnn_fast_conv_backward(c, d->x, d->y, d->y, d->x, d->dw, d->db);
        t = cnn_now() - t;
        if (i == 0)
            continue; /* the warm-up */
        if (t < best)
            second = best, best = t;
        else if (t < second)
            second = t;
        if (second <= best * (1.0 + TIMING_AGREE))
            break;
    }
    return best;
}

/* The timed choice for this shape made earlier with ctx, or NULL. */
static const cnn_conv_choice *cached(const cnn_dnnl *ctx, const cnn_conv_geom *g, int has_bias,
                                     cnn_act act, int training, int bf16)
{
    for (int i = 0; i < ctx->nchoices; i++) {
        const cnn_conv_choice *k = &ctx->choices[i];
        if (!memcmp(&k->g, g, sizeof *g) && k->has_bias == has_bias && k->act == act &&
            k->training == training && k->bf16 == bf16)
            return k;
    }
    return NULL;
}

static void impl_append(cnn_fast_conv *c, const char *why)
{
    size_t n = strlen(c->impl);
    snprintf(c->impl + n, sizeof c->impl - n, " %s", why);
}

/* Keeps auto's choice for the shape in ctx (for the plan's later layers). */
static void remember(cnn_dnnl *ctx, const cnn_conv_geom *g, int has_bias, cnn_act act,
                     int training, int bf16, cnn_conv_algo algo, int run, const char *why)
{
    if (ctx->nchoices == MAX_CHOICES)
        return;
    cnn_conv_choice *k = &ctx->choices[ctx->nchoices++];
    *k = (cnn_conv_choice){.g = *g, .has_bias = has_bias, .training = training, .bf16 = bf16,
                           .act = act, .algo = algo, .run = run};
    snprintf(k->why, sizeof k->why, "%s", why);
}

/* The conv made as an earlier process's auto chose for the shape (1), or 0
 * when the disk cache has no usable answer (nothing kept then). */
static int make_cached(cnn_dnnl *ctx, const cnn_conv_geom *g, int has_bias, cnn_act act,
                       int training, int bf16, const char *key, cnn_fast_conv **out)
{
    cnn_conv_algo algo;
    int run;
    char stored[320], why[336];
    cnn_error err;
    if (!cnn_conv_cache_find(key, &algo, &run, stored, sizeof stored) ||
        ((run & CNN_RUN_BF16) && (!bf16 || algo != CNN_CONV_DIRECT)) ||
        ((run & CNN_RUN_BWD_FWD) && (!training || algo != CNN_CONV_DIRECT)) ||
        ((run & CNN_RUN_OWN_BWW) && (!training || !(run & CNN_RUN_BF16) || !cnn_bww_applies(g))) ||
        ((run & CNN_RUN_OWN_WINO) &&
         (!(run & CNN_RUN_BF16) || (run & CNN_RUN_BWD_FWD) || !cnn_bwino_applies(g))) ||
        ((run & CNN_RUN_WINO_BWW) && (!training || !(run & CNN_RUN_BF16) ||
                                      (run & CNN_RUN_OWN_BWW) || !cnn_bwino_applies(g))))
        return 0;
    cnn_dnnl_sizes had = cnn_dnnl_sizes_of(ctx);
    if (cnn_fast_conv_make(ctx, g, has_bias, act, training, run, algo, out, &err) !=
        CNN_STATUS_OK) {
        cnn_dnnl_give_back(ctx, &had);
        return 0;
    }
    snprintf(why, sizeof why, "(cached %s", stored[0] == '(' ? stored + 1 : stored);
    impl_append(*out, why);
    remember(ctx, g, has_bias, act, training, bf16, algo, run, why);
    return 1;
}

/* The candidates (wanted[]), each made, timed on one step and destroyed in
 * turn, its buffers given back (which keeps the plan-time peak of memory at
 * one candidate's); then the fastest made again from the sizes before the
 * timing, so the shared buffers hold what it needs and no more. Remembers the
 * choice in ctx and stores it on disk under key. */
enum {
    DIRECT,
    DIRECT_BWD_FWD,
    DIRECT_BWW,
    BF16_WINO,
    BF16_WINO_BWW,
    DIRECT_WINO_BWW,
    DIRECT32,
    WINO,
    WINO_SGEMM,
    DENSE,
    NCAND
};
/* the forms of a bf16 kernel (named by their run bits, form_name), timed on
 * the plan's bf16 storage */
#define BF16_FORM(a) ((a) <= DIRECT_WINO_BWW)

/* The algorithm a candidate runs. */
static cnn_conv_algo algo_of(int candidate)
{
    switch (candidate) {
    case WINO:
        return CNN_CONV_WINOGRAD;
    case WINO_SGEMM:
        return CNN_CONV_WINOGRAD_SGEMM;
    case DENSE:
        return CNN_CONV_DENSE;
    default:
        return CNN_CONV_DIRECT;
    }
}

/* A bf16 form's name: how forward and backward-data run, then the weight
 * gradient where it is cnnlab's. */
static const char *form_name(int run, char *buf, size_t size)
{
    snprintf(buf, size, "%s%s",
             run & CNN_RUN_OWN_WINO  ? "winograd"
             : run & CNN_RUN_BWD_FWD ? "direct/fwd-bwd"
                                     : "direct",
             run & CNN_RUN_OWN_BWW    ? "+own-bww"
             : run & CNN_RUN_WINO_BWW ? "+wino-bww"
                                      : "");
    return buf;
}
#define STORE_MARGIN 0.05

static cnn_status time_candidates(cnn_dnnl *ctx, const cnn_conv_geom *g, int has_bias,
                                  cnn_act act, int training, int bf16, const int wanted[NCAND],
                                  const char *key, cnn_fast_conv **out, cnn_error *err)
{
    /* (the bf16 forms' names: form_name) */
    static const char *const name_of[NCAND] = {[DIRECT32] = "fp32 direct",
                                               [WINO] = "fp32 winograd",
                                               [WINO_SGEMM] = "fp32 winograd-sgemm",
                                               [DENSE] = "fp32 dense"};
    /* how each candidate runs (CNN_RUN_*); with CNN_FAST_MAY_STORE the bf16
     * kernels are timed reading x and writing y stored as bf16 where the plan
     * can run them so (cnn_fast_conv_storage; dy only where a pooling writes
     * it, not timed), the fp32 forms on floats */
    const int on_bf16 = bf16 & CNN_FAST_BF16 ? CNN_RUN_BF16 : 0;
    int run_of[NCAND] = {on_bf16, on_bf16 | CNN_RUN_BWD_FWD, 0, 0, 0, 0, 0, 0, 0};
    const int stored =
        on_bf16 && (bf16 & CNN_FAST_MAY_STORE)
            ? cnn_fast_conv_storage(training, act) & (CNN_RUN_X_BF16 | CNN_RUN_Y_BF16)
            : 0;
    double best_t = 1e30;
    int best = DIRECT, best_direct = DIRECT; /* the best so far; of the direct forms */
    const cnn_dnnl_sizes start = cnn_dnnl_sizes_of(ctx);
    char why[320];
    int used = snprintf(why, sizeof why, stored ? "(timed with bf16 storage:" : "(timed:");
    timing_data data;
    cnn_status st = timing_alloc(g, &data, err);
    if (st)
        return st;
    for (int a = 0; a < NCAND; a++) {
        cnn_fast_conv *c = NULL;
        cnn_error cerr;
        if (!wanted[a])
            continue;
        if (a == DIRECT_BWW) /* the faster bf16 direct so far, with cnnlab's weight gradient */
            run_of[a] = run_of[best] | CNN_RUN_OWN_BWW;
        if (a == BF16_WINO) /* the same weight gradient, the rest by cnnlab's Winograd */
            run_of[a] = (run_of[best] & ~CNN_RUN_BWD_FWD) | CNN_RUN_OWN_WINO;
        /* all three passes by Winograd; and the best direct form with only
         * the weight gradient by Winograd (each timed whatever came before:
         * one step's noise must not hide a pair that wins together, as when
         * resnet18's 32x32x64 Winograd lost to direct by 1 % with oneDNN's
         * weight gradient and so was never timed with its own) */
        if (a == BF16_WINO_BWW)
            run_of[a] = on_bf16 | CNN_RUN_OWN_WINO | CNN_RUN_WINO_BWW;
        if (a == DIRECT_WINO_BWW)
            run_of[a] = (run_of[best_direct] & ~CNN_RUN_OWN_BWW) | CNN_RUN_WINO_BWW;
        /* direct must exist; another form may not (no Winograd kernel for
         * this shape on this CPU, say) */
        const int timed_run = run_of[a] | (BF16_FORM(a) ? stored : 0);
        st = cnn_fast_conv_make(ctx, g, has_bias, act, training, timed_run, algo_of(a), &c,
                                a == DIRECT ? err : &cerr);
        if (st && timed_run != run_of[a]) {
            /* no kernel on storage: the plan would fall back to fp32
             * activations (plan.c), so it is timed as that runs it */
            cnn_dnnl_give_back(ctx, &start);
            st = cnn_fast_conv_make(ctx, g, has_bias, act, training, run_of[a], algo_of(a), &c,
                                    a == DIRECT ? err : &cerr);
        }
        if (st) {
            cnn_dnnl_give_back(ctx, &start);
            if (a == DIRECT) {
                timing_free(&data);
                return st;
            }
            continue;
        }
        double t = time_step(c, training, &data);
        cnn_fast_conv_destroy(c);
        cnn_dnnl_give_back(ctx, &start);
        char form[40];
        used += snprintf(why + used, sizeof why - (size_t)used, "%s %s%s %.1f ms",
                         a ? "," : "", BF16_FORM(a) ? (on_bf16 ? "bf16 " : "fp32 ") : "",
                         BF16_FORM(a) ? form_name(run_of[a], form, sizeof form) : name_of[a],
                         t * 1e3);
        if (used >= (int)sizeof why)
            used = (int)sizeof why - 1; /* cut, never past the end */
        /* an fp32 form also makes its neighbours read and write floats,
         * which this lone timing does not see: it must win by STORE_MARGIN */
        if (stored && !BF16_FORM(a))
            t *= 1.0 + STORE_MARGIN;
        if (t < best_t) {
            best_t = t;
            best = a;
            if (a <= DIRECT_BWW)
                best_direct = a;
        }
    }
    timing_free(&data);
    cnn_fast_conv *kept = NULL;
    if ((st = cnn_fast_conv_make(ctx, g, has_bias, act, training, run_of[best], algo_of(best),
                                 &kept, err)))
        return st;
    snprintf(why + used, sizeof why - (size_t)used, ")");
    *out = kept;
    impl_append(kept, why);
    remember(ctx, g, has_bias, act, training, bf16, algo_of(best), run_of[best], why);
    cnn_conv_cache_store(key, algo_of(best), run_of[best], why);
    return CNN_STATUS_OK;
}

cnn_status cnn_fast_conv_create(cnn_dnnl *ctx, const cnn_conv_geom *g, int has_bias,
                                cnn_act act, int training, int bf16, cnn_conv_algo algo,
                                cnn_fast_conv **out, cnn_error *err)
{
    CNN_ASSERT(act == CNN_ACT_NONE || act == CNN_ACT_RELU);
    const int store = bf16 & CNN_RUN_STORAGE; /* added to the kernel's run when it is made */
    bf16 &= CNN_FAST_BF16 | CNN_FAST_MAY_STORE; /* what the choice depends on */
    if (!(bf16 & CNN_FAST_BF16))
        bf16 = 0; /* an fp32 plan stores nothing */
    /* oneDNN's Winograd: 3x3, stride 1, fp32 only (so with bf16 asked for, a
     * Winograd layer computes in fp32: more precise, and chosen only if faster);
     * the dense form is fp32 too. A bf16 plan's auto also times fp32 direct:
     * on a CPU whose bf16 kernels are slower (AVX512_BF16 without AMX, where
     * oneDNN 2.6's bf16 convolutions ran 1.4x slower than fp32), it runs fp32. */
    int grouped = g->groups > 1; /* direct only: the other forms are for dense weights */
    int wino_shape = !grouped && g->kh == 3 && g->kw == 3 && g->sh == 1 && g->sw == 1;
    int own_wino_shape = !grouped && cnn_wino_conv_applies(g);
    int dense_shape = !grouped && cnn_dense_conv_applies(g);
    if (algo == CNN_CONV_WINOGRAD_BF16) { /* cnnlab's bf16 Winograd where it applies */
        if (bf16 && cnn_bwino_applies(g))
            return cnn_fast_conv_make(ctx, g, has_bias, act, training,
                                      CNN_RUN_BF16 | CNN_RUN_OWN_WINO | store, CNN_CONV_DIRECT,
                                      out, err);
        algo = CNN_CONV_DIRECT;
    }
    if ((algo == CNN_CONV_WINOGRAD && !wino_shape) || (algo == CNN_CONV_DENSE && !dense_shape) ||
        (algo == CNN_CONV_WINOGRAD_SGEMM && !own_wino_shape))
        algo = CNN_CONV_DIRECT; /* asked for where it applies; the rest stays direct */
    if (algo == CNN_CONV_WINOGRAD && own_wino_shape) { /* oneDNN's, else cnnlab's */
        cnn_error derr;
        cnn_dnnl_sizes had = cnn_dnnl_sizes_of(ctx);
        if (cnn_fast_conv_make(ctx, g, has_bias, act, training, 0, algo, out, &derr) == CNN_STATUS_OK)
            return CNN_STATUS_OK;
        cnn_dnnl_give_back(ctx, &had);
        algo = CNN_CONV_WINOGRAD_SGEMM;
    }
    if (algo != CNN_CONV_AUTO)
        return cnn_fast_conv_make(ctx, g, has_bias, act, training,
                                  (algo == CNN_CONV_DIRECT && bf16 ? CNN_RUN_BF16 : 0) | store,
                                  algo, out, err);
    if (!wino_shape && !dense_shape && !bf16)
        return cnn_fast_conv_make(ctx, g, has_bias, act, training, store, CNN_CONV_DIRECT, out,
                                  err);
    const cnn_conv_choice *k = cached(ctx, g, has_bias, act, training, bf16);
    if (k) {
        cnn_status st = cnn_fast_conv_make(ctx, g, has_bias, act, training, k->run | store,
                                           k->algo, out, err);
        if (st == CNN_STATUS_OK)
            impl_append(*out, k->why);
        return st;
    }
    CNN_ASSERT(!store); /* asked for after a first make of this shape, which is remembered */
    char key[512];
    cnn_conv_cache_key(g, has_bias, act, training, bf16, key, sizeof key);
    if (make_cached(ctx, g, has_bias, act, training, bf16, key, out))
        return CNN_STATUS_OK;
    /* both Winograds: cnnlab's works on NHWC without oneDNN's blocked copies
     * and scratchpad, and ran faster on some shapes (resnet18's 32x32x64 and
     * 16x16x128 layers in inference) and slower on others (docs/performance.md) */
    int bwd_fwd_shape = training && !grouped && g->sh == 1 && g->sw == 1;
    int own_bww_shape = training && bf16 && cnn_bww_applies(g);
    int bf16_wino_shape = bf16 && cnn_bwino_auto_applies(g);
    const int wanted[NCAND] = {1,
                               bwd_fwd_shape,
                               own_bww_shape,
                               bf16_wino_shape,
                               training && bf16_wino_shape,
                               training && bf16_wino_shape,
                               bf16,
                               wino_shape,
                               own_wino_shape,
                               dense_shape};
    return time_candidates(ctx, g, has_bias, act, training, bf16, wanted, key, out, err);
}
