/* plan.c: makes a plan, which runs a model on batches of one size (running it:
 * plan_run.c).
 *
 * Invariants, set up once in cnn_plan_create and kept by every step:
 *  - every buffer lives in one of a few blocks (input, activations, gradient
 *    buffers, gradient temporaries, workspaces) allocated here; forward and
 *    backward allocate nothing;
 *  - layers that do nothing are absorbed: identities, dropout in an inference
 *    plan, and (fast path) an activation folded into the layer before it when
 *    that layer's output has no other consumer, and in a fast inference plan a
 *    batch norm folded into the convolution before it on the same condition.
 *    Their consumers read the source layer's output instead;
 *  - in a training plan each executed layer owns its output (the backward
 *    needs them); in an inference plan outputs share buffers whose occupants'
 *    lives (from the layer to its last reader) do not overlap;
 *  - the gradient of a layer's output (dy) lives in one of a few shared
 *    buffers, from the backward of its last consumer (which overwrites it) to
 *    its own backward; further consumers write into a temporary that is added
 *    in. A sequential network needs two buffers; residual and Inception blocks
 *    a few more;
 *  - a bf16 plan on the fast backend stores an output as bf16 (in half the
 *    floats) where its producer can write and every reader can read it so
 *    (choose_bf16_storage); gradients stay fp32 but for a stored output's
 *    gradient that its layer reads as bf16 and its one reader writes so
 *    (max pooling's dx for the convolution before it), which takes half its
 *    buffer. A training plan's output that stays floats for some readers
 *    (a residual add's sum, read by the next add) is copied as bf16 for the
 *    bf16 convolutions among them, which read the copy.
 */
#include <string.h>

#include "layers/layer.h"
#include "net/plan_impl.h"


static size_t round16(size_t n) { return (n + 15) / 16 * 16; }

/* Floats of layer i's output buffer: its values, or as many bf16 (y_bf16). */
static size_t out_floats(const cnn_plan *p, int i)
{
    size_t n = (size_t)p->batch * cnn_shape_size(p->layers[i].ml->out);
    return round16(p->layers[i].y_bf16 ? (n + 1) / 2 : n);
}

/* Floats of layer i's bf16 copy of its output (y_copy), 0 without one. */
static size_t copy_floats(const cnn_plan *p, int i)
{
    size_t n = (size_t)p->batch * cnn_shape_size(p->layers[i].ml->out);
    return p->layers[i].y_copied ? round16((n + 1) / 2) : 0;
}

static cnn_status alloc_block(float **p, size_t floats, size_t *bytes, cnn_error *err)
{
    *p = cnn_alloc(floats * sizeof(float));
    if (!*p)
        return cnn_error_set(err, CNN_STATUS_NO_MEMORY, "no memory for a %zu MiB plan buffer",
                             floats * sizeof(float) >> 20);
    *bytes += floats * sizeof(float);
    return CNN_STATUS_OK;
}

/* Decides which layers are absorbed; fills src[i] (the executed layer whose
 * output layer i's output is; -1 for the model input) and each executed
 * layer's inputs in[i][s] as executed layers. */
static void absorb(cnn_plan *p, int *src, int (*in)[CNN_MAX_INPUTS], int *consumers)
{
    cnn_model *m = p->m;
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < m->count; i++) {
            cnn_plan_layer *pl = &p->layers[i];
            const cnn_layer_desc *d = &pl->ml->desc;
            src[i] = i;
            pl->n_in = d->from_count;
            for (int s = 0; s < d->from_count; s++)
                in[i][s] = d->from[s] < 0 ? -1 : src[d->from[s]];
            if (pass == 0) {
                pl->absorbed = d->kind == CNN_LAYER_IDENTITY ||
                               (!p->training && (d->kind == CNN_LAYER_DROPOUT ||
                                                 d->kind == CNN_LAYER_DROPOUT2D));
            } else if (!pl->absorbed && p->backend == CNN_BACKEND_FAST && !p->training &&
                       d->kind == CNN_LAYER_BATCHNORM && in[i][0] >= 0) {
                int j = in[i][0];
                cnn_plan_layer *prev = &p->layers[j];
                if (prev->ml->desc.kind == CNN_LAYER_CONV && consumers[j] == 1 &&
                    prev->fused == CNN_ACT_NONE && !prev->folded_bn) {
                    prev->folded_bn = pl;
                    pl->absorbed = 1;
                    consumers[j] = consumers[i]; /* the norm's readers now read the conv */
                }
            } else if (!pl->absorbed && p->backend == CNN_BACKEND_FAST &&
                       d->kind == CNN_LAYER_ACT && in[i][0] >= 0) {
                /* can_fuse(act) promises that the producer's backward applies
                 * act' itself. The absorbed layer's x is the producer's output,
                 * which no longer exists apart from y = act(x): an activation
                 * whose backward needs x (cnn_act_backward_needs_x: GELU) fuses
                 * only into a producer that recomputes x from its own input
                 * (batch norm); conv, add and linear refuse it. */
                cnn_plan_layer *prev = &p->layers[in[i][0]];
                const cnn_layer_class *pc = cnn_layer_class_of(prev->ml->desc.kind);
                if (consumers[in[i][0]] == 1 && prev->fused == CNN_ACT_NONE && pc->can_fuse &&
                    pc->can_fuse(d->act)) {
                    prev->fused = d->act;
                    pl->absorbed = 1;
                }
            }
            if (pl->absorbed)
                src[i] = in[i][0];
        }
        if (pass == 0) {
            memset(consumers, 0, sizeof(int) * (size_t)m->count);
            for (int i = 0; i < m->count; i++)
                if (!p->layers[i].absorbed)
                    for (int s = 0; s < p->layers[i].n_in; s++)
                        if (in[i][s] >= 0)
                            consumers[in[i][s]]++;
        }
    }
}

const char *cnn_precision_name(cnn_precision p) { return p == CNN_PRECISION_BF16 ? "bf16" : "fp32"; }

int cnn_precision_parse(const char *s, cnn_precision *out)
{
    if (strcmp(s, "fp32") && strcmp(s, "bf16"))
        return 0;
    *out = strcmp(s, "bf16") == 0 ? CNN_PRECISION_BF16 : CNN_PRECISION_FP32;
    return 1;
}

static const char *const conv_algo_names[] = {"auto", "direct", "winograd", "dense",
                                               "winograd-sgemm", "winograd-bf16"};

#define CONV_ALGO_COUNT ((int)(sizeof conv_algo_names / sizeof conv_algo_names[0]))

const char *cnn_conv_algo_name(cnn_conv_algo a)
{
    return cnn_name_of(conv_algo_names, CONV_ALGO_COUNT, (int)a);
}

int cnn_conv_algo_parse(const char *s, cnn_conv_algo *out)
{
    int i = cnn_name_find(conv_algo_names, CONV_ALGO_COUNT, s);
    if (i >= 0)
        *out = (cnn_conv_algo)i;
    return i >= 0;
}

/* An add may write its sum over one of its inputs (in place) when nothing
 * else reads that input and the input's producer never reads its own output
 * again: in training a convolution, batch norm or linear layer without a fused
 * activation (their backwards read y only to apply that activation's
 * derivative), in an inference plan any producer. A residual block then keeps
 * one activation fewer. Returns that input's layer, or -1. */
static int add_in_place_over(const cnn_plan *p, int i, const int (*in)[CNN_MAX_INPUTS],
                             const int *readers)
{
    const cnn_plan_layer *pl = &p->layers[i];
    if (pl->absorbed || pl->ml->desc.kind != CNN_LAYER_ADD || pl->y_bf16)
        return -1; /* (bf16 over floats: a thread's writes would reach another's inputs) */
    for (int s = 0; s < pl->n_in; s++) {
        int j = in[i][s];
        if (j < 0 || readers[j] != 1)
            continue;
        const cnn_plan_layer *q = &p->layers[j];
        cnn_layer_kind k = q->ml->desc.kind;
        if (!p->training || (q->fused == CNN_ACT_NONE && (k == CNN_LAYER_CONV ||
                                                          k == CNN_LAYER_BATCHNORM ||
                                                          k == CNN_LAYER_LINEAR)))
            return j;
    }
    return -1;
}

/* Inference plans: an output is needed only until its last reader has run, so
 * outputs share buffers ("slots"). Output j, with the adds written over it,
 * lives from j to its last reader (the logits to the end). In index order each
 * output takes the smallest free slot that holds it, else the largest free one
 * (grown to fit), else a new one; a slot is free at j when its occupant's last
 * reader comes before j, so no layer writes over its own input. Fills slot_of[j]
 * for the layers that own a buffer and slot_floats[] (count entries each, from
 * zero); returns the number of slots. */
static int share_outputs(const cnn_plan *p, const int (*in)[CNN_MAX_INPUTS], const int *over,
                         int *last, int *slot_of, size_t *slot_floats, int *slot_end)
{
    int count = p->m->count, slots = 0;
    for (int j = 0; j < count; j++)
        last[j] = -1;
    for (int i = 0; i <= count; i++) {
        for (int s = 0; s < (i < count ? p->layers[i].n_in : 1); s++) {
            int j = i < count ? in[i][s] : p->last;
            if (i < count && p->layers[i].absorbed)
                break;
            if (j < 0)
                continue;
            while (over[j] >= 0) /* an add over its input: that input's buffer */
                j = over[j];
            if (i > last[j])
                last[j] = i;
        }
    }
    for (int j = 0; j < count; j++) {
        if (p->layers[j].absorbed || over[j] >= 0)
            continue;
        size_t n = out_floats(p, j);
        int fit = -1, largest = -1;
        for (int b = 0; b < slots; b++) {
            if (slot_end[b] >= j)
                continue;
            if (slot_floats[b] >= n && (fit < 0 || slot_floats[b] < slot_floats[fit]))
                fit = b;
            if (largest < 0 || slot_floats[b] > slot_floats[largest])
                largest = b;
        }
        int b = fit >= 0 ? fit : largest >= 0 ? largest : slots++;
        if (slot_floats[b] < n)
            slot_floats[b] = n;
        slot_end[b] = last[j] > j ? last[j] : j;
        slot_of[j] = b;
    }
    return slots;
}

/* What cnn_plan_create works out before it allocates, per layer (count
 * entries each); freed once the plan is made. Each array keeps one meaning. */
typedef struct plan_build {
    int *src;        /* the executed layer whose output layer i's output is (-1: the input) */
    int *consumers;  /* absorb's count of each output's consumers */
    int (*in)[CNN_MAX_INPUTS]; /* each executed layer's inputs as executed layers */
    int *readers;    /* readers of each output (the loss reads the logits) */
    int *over;       /* an add written in place: the layer whose buffer it takes, else -1 */
    /* inference plans: outputs share slots (share_outputs) */
    int *last_read;  /* each output's last reader */
    int *slot_of;    /* output j's slot */
    size_t *slot_floats; /* each slot's size */
    size_t *slot_start;  /* each slot's offset in the activations block */
    int *slot_end;   /* the last reader of each slot's occupant so far */
    /* training plans: gradient buffers */
    int *first_bwd;  /* the consumer whose backward runs first (count: the loss; -1: none) */
    int *grad_buf;   /* the gradient buffer dy_j lives in */
} plan_build;

static void build_free(plan_build *b)
{
    free(b->src), free(b->consumers), free(b->in), free(b->readers), free(b->over);
    free(b->last_read), free(b->slot_of), free(b->slot_floats), free(b->slot_start);
    free(b->slot_end), free(b->first_bwd), free(b->grad_buf);
}

static cnn_status build_alloc(plan_build *b, int count, cnn_error *err)
{
    size_t n = (size_t)count;
    memset(b, 0, sizeof *b);
    if (!(b->src = calloc(n, sizeof(int))) || !(b->consumers = calloc(n, sizeof(int))) ||
        !(b->in = calloc(n, sizeof *b->in)) || !(b->readers = calloc(n, sizeof(int))) ||
        !(b->over = calloc(n, sizeof(int))) || !(b->last_read = calloc(n, sizeof(int))) ||
        !(b->slot_of = calloc(n, sizeof(int))) ||
        !(b->slot_floats = calloc(n, sizeof(size_t))) ||
        !(b->slot_start = calloc(n, sizeof(size_t))) ||
        !(b->slot_end = calloc(n, sizeof(int))) || !(b->first_bwd = calloc(n, sizeof(int))) ||
        !(b->grad_buf = calloc(n, sizeof(int))))
        return cnn_error_set(err, CNN_STATUS_NO_MEMORY, "no memory for a plan");
    return CNN_STATUS_OK;
}

/* The plan and its per-layer arrays, each layer pointed at its parameters. */
static cnn_status plan_alloc(cnn_model *m, int batch, const cnn_plan_config *cfg, int training,
                             cnn_plan **out, cnn_error *err)
{
    size_t count = (size_t)m->count;
    cnn_plan *p = *out = calloc(1, sizeof *p);
    if (!p || !(p->layers = calloc(count, sizeof *p->layers)) ||
        !(p->add_into = calloc(count, sizeof *p->add_into)) ||
        !(p->in = calloc(count, sizeof *p->in)) ||
        !(p->all_dxs = calloc(count, sizeof *p->all_dxs)) ||
        !(p->run_bwd = calloc(count, 1)) || !(p->fwd_s = calloc(count, sizeof(double))) ||
        !(p->bwd_s = calloc(count, sizeof(double))))
        return cnn_error_set(err, CNN_STATUS_NO_MEMORY, "no memory for a plan");
    p->m = m;
    p->batch = batch;
    p->backend = cfg->backend;
    p->training = training;
    cnn_status st;
    if (cfg->backend == CNN_BACKEND_FAST && (st = cnn_dnnl_create(&p->dnnl, err)))
        return st;
    for (int i = 0; i < m->count; i++) {
        cnn_plan_layer *pl = &p->layers[i];
        const cnn_model_layer *l = &m->layers[i];
        pl->ml = l;
        pl->index = i;
        pl->n = batch;
        pl->backend = cfg->backend;
        pl->precision = cfg->precision;
        pl->may_store = cfg->backend == CNN_BACKEND_FAST && cfg->precision == CNN_PRECISION_BF16 &&
                        !cfg->fp32_activations;
        pl->conv_algo = cfg->conv;
        pl->training = training;
        pl->dnnl = p->dnnl;
        pl->w = m->params + l->param_offset;
        pl->dw = m->grads + l->param_offset;
        pl->state = m->state + l->state_offset;
    }
    return CNN_STATUS_OK;
}

/* Activation buffers: one per layer that is not absorbed, except the adds
 * that write in place (over[i] >= 0: the layer whose buffer they take); in
 * an inference plan outputs share slots. Allocates the input and the
 * activations, points every layer's y and xs into them, and sets *max_out to
 * the largest output (or input) in floats: the size of a gradient buffer. */
static cnn_status layout_outputs(cnn_plan *p, plan_build *b, size_t *max_out, cnn_error *err)
{
    cnn_model *m = p->m;
    int count = m->count, batch = p->batch;
    b->readers[p->last]++;
    for (int i = 0; i < count; i++)
        if (!p->layers[i].absorbed)
            for (int s = 0; s < p->layers[i].n_in; s++)
                if (b->in[i][s] >= 0)
                    b->readers[b->in[i][s]]++;
    for (int i = 0; i < count; i++)
        b->over[i] = add_in_place_over(p, i, (const int(*)[CNN_MAX_INPUTS])b->in, b->readers);
    cnn_shape in0 = {m->desc->in_h, m->desc->in_w, m->desc->in_c};
    size_t act_floats = 0, max_floats = round16((size_t)batch * cnn_shape_size(in0));
    int slots = 0;
    if (!p->training)
        slots = share_outputs(p, (const int(*)[CNN_MAX_INPUTS])b->in, b->over, b->last_read,
                              b->slot_of, b->slot_floats, b->slot_end);
    for (int k = 0; k < slots; k++) {
        b->slot_start[k] = act_floats;
        act_floats += b->slot_floats[k];
    }
    for (int i = 0; i < count; i++) {
        size_t n = round16((size_t)batch * cnn_shape_size(m->layers[i].out));
        if (p->training && !p->layers[i].absorbed && b->over[i] < 0)
            act_floats += out_floats(p, i);
        act_floats += copy_floats(p, i);
        if (n > max_floats)
            max_floats = n;
    }
    cnn_status st;
    if ((st = alloc_block(&p->input, round16((size_t)batch * cnn_shape_size(in0)), &p->bytes,
                          err)) ||
        (st = alloc_block(&p->acts, act_floats, &p->bytes, err)))
        return st;
    float *next = p->acts; /* training: each output in turn */
    for (int i = 0; i < count; i++) {
        cnn_plan_layer *pl = &p->layers[i];
        if (pl->absorbed)
            continue;
        if (b->over[i] >= 0) {
            pl->y = p->layers[b->over[i]].y;
        } else if (!p->training) {
            pl->y = p->acts + b->slot_start[b->slot_of[i]];
        } else {
            pl->y = next;
            next += out_floats(p, i);
        }
        pl->y_copy = pl->y_copied ? next : NULL; /* (training plans only) */
        next += copy_floats(p, i);
    }
    for (int i = 0; i < count; i++) {
        cnn_plan_layer *pl = &p->layers[i];
        for (int s = 0; s < pl->n_in; s++)
            pl->xs[s] = b->in[i][s] < 0 ? p->input : p->layers[b->in[i][s]].y;
        if (pl->x_copy)
            pl->xs[0] = p->layers[b->in[i][0]].y_copy;
        pl->x = pl->xs[0];
        if (pl->absorbed)
            pl->y = (float *)pl->x;
    }
    *max_out = max_floats;
    return CNN_STATUS_OK;
}

/* Training plans: which backward writes each gradient first, and which of
 * a few shared buffers each dy lives in (interval colouring in backward
 * order: dy_j lives from the backward of first_bwd[j] down to j's own; a
 * buffer is free for an interval starting at c if its occupant's own
 * backward comes after c's in index). Returns the number of buffers. */
static int colour_gradients(const cnn_plan *p, plan_build *b)
{
    int count = p->m->count;
    for (int j = 0; j < count; j++)
        b->first_bwd[j] = -1;
    b->first_bwd[p->last] = count;
    for (int i = 0; i < count; i++)
        if (!p->layers[i].absorbed)
            for (int s = 0; s < p->layers[i].n_in; s++)
                if (b->in[i][s] >= 0 && i > b->first_bwd[b->in[i][s]])
                    b->first_bwd[b->in[i][s]] = i;
    int nbuf = 0, ends[64];
    for (int c = count; c >= 0; c--)
        for (int j = count - 1; j >= 0; j--) {
            if (p->layers[j].absorbed || b->first_bwd[j] != c)
                continue;
            int k = 0;
            while (k < nbuf && !(ends[k] > c))
                k++;
            if (k == nbuf) {
                CNN_ASSERT(nbuf < 64);
                nbuf++;
            }
            ends[k] = j;
            b->grad_buf[j] = k;
        }
    return nbuf;
}

/* Input slot s of layer i writes its gradient into a temporary (to be added
 * into the producer's dy) unless layer i's backward is the first to write it. */
static int needs_temp(const plan_build *b, int i, int s)
{
    int j = b->in[i][s];
    return b->first_bwd[j] != i || (s > 0 && j == b->in[i][s - 1]);
}

/* Training plans: the gradient buffers and temporaries, each layer's dy and
 * dxs pointed into them (max_floats each). */
static cnn_status layout_gradients(cnn_plan *p, plan_build *b, size_t max_floats, cnn_error *err)
{
    int count = p->m->count;
    int nbuf = colour_gradients(p, b), ntemp = 0;
    for (int i = 0; i < count; i++) {
        int t = 0;
        for (int s = 0; s < p->layers[i].n_in; s++)
            if (!p->layers[i].absorbed && b->in[i][s] >= 0 && needs_temp(b, i, s))
                t++;
        if (t > ntemp)
            ntemp = t;
    }
    cnn_status st;
    if ((st = alloc_block(&p->grads, max_floats * (size_t)(nbuf ? nbuf : 1), &p->bytes, err)) ||
        (ntemp && (st = alloc_block(&p->temps, max_floats * (size_t)ntemp, &p->bytes, err))))
        return st;
    for (int j = 0; j < count; j++)
        if (!p->layers[j].absorbed && b->first_bwd[j] >= 0)
            p->layers[j].dy = p->grads + (size_t)b->grad_buf[j] * max_floats;
    for (int i = 0; i < count; i++) {
        cnn_plan_layer *pl = &p->layers[i];
        if (pl->absorbed)
            continue;
        int t = 0;
        for (int s = 0; s < pl->n_in; s++) {
            int j = b->in[i][s];
            if (j < 0) {
                pl->dxs[s] = NULL;
            } else if (!needs_temp(b, i, s)) {
                pl->dxs[s] = p->layers[j].dy;
            } else {
                pl->dxs[s] = p->temps + (size_t)t++ * max_floats;
                p->add_into[i][s] = p->layers[j].dy;
            }
        }
        pl->dx = pl->dxs[0];
        memcpy(p->all_dxs[i], pl->dxs, sizeof pl->dxs);
        p->run_bwd[i] = 1;
    }
    memcpy(p->in, b->in, (size_t)count * sizeof *b->in);
    return CNN_STATUS_OK;
}

/* Per-layer set-up (oneDNN primitives, each layer's ws_floats). */
static cnn_status plan_layers(cnn_plan *p, cnn_error *err)
{
    for (int i = 0; i < p->m->count; i++) {
        cnn_plan_layer *pl = &p->layers[i];
        const cnn_layer_class *cls = cnn_layer_class_of(pl->ml->desc.kind);
        if (pl->absorbed || !cls->plan)
            continue;
        cnn_error sub;
        cnn_status st = cls->plan(pl, &sub);
        if (st)
            return cnn_error_set(err, st, "model %s, layer %d (%s): %s", p->m->desc->name, i + 1,
                                 cls->name, sub.msg);
    }
    return CNN_STATUS_OK;
}

static int storage_of(const cnn_plan_layer *pl)
{
    const cnn_layer_class *cls = cnn_layer_class_of(pl->ml->desc.kind);
    return cls->bf16_storage ? cls->bf16_storage(pl) : 0;
}

/* Layer i could read a bf16 copy of its one input: a convolution on bf16. */
static int copy_reader(const cnn_plan *p, const plan_build *b, int i)
{
    const cnn_plan_layer *pl = &p->layers[i];
    return !pl->absorbed && pl->n_in == 1 && b->in[i][0] >= 0 &&
           pl->ml->desc.kind == CNN_LAYER_CONV && (storage_of(pl) & CNN_FAST_X_BF16);
}

/* bf16 plans, after a first plan_layers: an output is stored as
 * bf16 when its layer writes bf16 as planned, it is not the logits, and every
 * reader has it as its only input and reads bf16. Sets y_bf16 and x_bf16
 * (and dy_bf16, dx_bf16 below); returns how many outputs are stored so. */
static int choose_bf16_storage(cnn_plan *p, const plan_build *b)
{
    int count = p->m->count, stored = 0;
    for (int j = 0; j < count; j++) {
        cnn_plan_layer *pj = &p->layers[j];
        pj->y_bf16 = 0;
        if (pj->absorbed || j == p->last || !(storage_of(pj) & CNN_FAST_Y_BF16))
            continue;
        int readers = 0, ok = 1;
        for (int i = 0; i < count; i++) {
            const cnn_plan_layer *pi = &p->layers[i];
            for (int s = 0; s < pi->n_in && !pi->absorbed; s++)
                if (b->in[i][s] == j) {
                    readers++;
                    ok &= pi->n_in == 1 && (storage_of(pi) & CNN_FAST_X_BF16) != 0;
                }
        }
        pj->y_bf16 = ok && readers > 0;
        stored += pj->y_bf16;
    }
    /* training: an output kept as floats is copied as bf16 too where its
     * layer can write the copy and a bf16 convolution reads it (one input),
     * which reads the copy: the values it would round y to itself, once per
     * step instead of in its forward and again in its weight gradient */
    for (int j = 0; j < count; j++) {
        cnn_plan_layer *pj = &p->layers[j];
        pj->y_copied = 0;
        if (!p->training || pj->absorbed || pj->y_bf16 || j == p->last ||
            !(storage_of(pj) & CNN_FAST_Y_COPY))
            continue;
        for (int i = 0; i < count; i++)
            pj->y_copied |= copy_reader(p, b, i) && b->in[i][0] == j;
        stored += pj->y_copied;
    }
    for (int i = 0; i < count; i++) {
        cnn_plan_layer *pl = &p->layers[i];
        int from = pl->absorbed || pl->n_in != 1 ? -1 : b->in[i][0];
        pl->x_copy = from >= 0 && p->layers[from].y_copied && copy_reader(p, b, i);
        pl->x_bf16 = from >= 0 && (p->layers[from].y_bf16 || pl->x_copy);
        pl->dx_bf16 = pl->dy_bf16 = 0;
    }
    /* training: a stored output's gradient is stored too where its layer
     * reads dy as bf16 and its one reader (one input, so no gradient is
     * summed into it) writes dx so */
    for (int j = 0; j < count && p->training; j++) {
        cnn_plan_layer *pj = &p->layers[j];
        if (!pj->y_bf16 || !(storage_of(pj) & CNN_FAST_DY_BF16))
            continue;
        int reader = -1, readers = 0;
        for (int i = 0; i < count; i++)
            for (int s = 0; s < p->layers[i].n_in && !p->layers[i].absorbed; s++)
                if (b->in[i][s] == j)
                    reader = i, readers++;
        if (readers == 1 && (storage_of(&p->layers[reader]) & CNN_FAST_DX_BF16))
            pj->dy_bf16 = p->layers[reader].dx_bf16 = 1;
    }
    return stored;
}

/* Makes the layers' op objects again, now that choose_bf16_storage decided
 * what each reads and writes (the auto choices are remembered: nothing is
 * timed twice), their buffers sized afresh. */
static cnn_status replan_layers(cnn_plan *p, cnn_error *err)
{
    for (int i = 0; i < p->m->count; i++) {
        cnn_plan_layer *pl = &p->layers[i];
        const cnn_layer_class *cls = cnn_layer_class_of(pl->ml->desc.kind);
        if (pl->impl && cls->release)
            cls->release(pl);
        pl->impl = NULL;
        pl->ws_floats = 0;
    }
    cnn_dnnl_release_buffers(p->dnnl);
    return plan_layers(p, err);
}

/* The workspaces, once every layer's ws_floats is known. */
static cnn_status layout_workspaces(cnn_plan *p, cnn_error *err)
{
    int count = p->m->count;
    size_t ws_floats = 0;
    for (int i = 0; i < count; i++)
        if (!p->layers[i].absorbed)
            ws_floats += round16(p->layers[i].ws_floats);
    cnn_status st = alloc_block(&p->ws, ws_floats, &p->bytes, err);
    if (st)
        return st;
    float *w = p->ws;
    for (int i = 0; i < count; i++) {
        cnn_plan_layer *pl = &p->layers[i];
        if (pl->ws_floats) {
            pl->ws = w;
            w += round16(pl->ws_floats);
        }
    }
    if (p->dnnl)
        p->bytes += cnn_dnnl_scratch_bytes(p->dnnl);
    return CNN_STATUS_OK;
}

cnn_status cnn_plan_create(cnn_model *m, int batch, const cnn_plan_config *cfg, int training,
                           cnn_plan **out, cnn_error *err)
{
    static const cnn_plan_config defaults;
    if (!cfg)
        cfg = &defaults;
    *out = NULL;
    if (batch < 1)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "batch size must be >= 1, found %d",
                             batch);
    if (cfg->precision == CNN_PRECISION_BF16 && cfg->backend != CNN_BACKEND_FAST)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "bf16 runs on the fast backend "
                             "only; the reference backend is fp32");
    plan_build b;
    cnn_plan *p = NULL;
    size_t max_floats = 0;
    cnn_status st;
    if ((st = build_alloc(&b, m->count, err)) ||
        (st = plan_alloc(m, batch, cfg, training, &p, err)))
        goto fail;
    absorb(p, b.src, b.in, b.consumers);
    p->last = b.src[m->count - 1];
    CNN_ASSERT(p->last >= 0);
    if ((st = plan_layers(p, err)))
        goto fail;
    if (cfg->backend == CNN_BACKEND_FAST && cfg->precision == CNN_PRECISION_BF16 &&
        !cfg->fp32_activations && choose_bf16_storage(p, &b) && replan_layers(p, err)) {
        /* a kernel refused bf16 storage after all: fp32 activations, as planned first */
        for (int i = 0; i < m->count; i++)
            p->layers[i].y_bf16 = p->layers[i].x_bf16 = p->layers[i].dy_bf16 =
                p->layers[i].dx_bf16 = p->layers[i].y_copied = p->layers[i].x_copy = 0;
        if ((st = replan_layers(p, err)))
            goto fail;
    }
    if ((st = layout_outputs(p, &b, &max_floats, err)) ||
        (training && (st = layout_gradients(p, &b, max_floats, err))) ||
        (st = layout_workspaces(p, err)))
        goto fail;
    build_free(&b);
    *out = p;
    return CNN_STATUS_OK;
fail:
    build_free(&b);
    cnn_plan_destroy(p);
    return st;
}

void cnn_plan_destroy(cnn_plan *p)
{
    if (!p)
        return;
    for (int i = 0; p->layers && p->m && i < p->m->count; i++) {
        cnn_plan_layer *pl = &p->layers[i];
        if (pl->ml && pl->impl && cnn_layer_class_of(pl->ml->desc.kind)->release)
            cnn_layer_class_of(pl->ml->desc.kind)->release(pl);
    }
    cnn_free(p->input);
    cnn_free(p->acts);
    cnn_free(p->grads);
    cnn_free(p->temps);
    cnn_free(p->ws);
    free(p->add_into);
    free(p->in);
    free(p->all_dxs);
    free(p->run_bwd);
    cnn_dnnl_destroy(p->dnnl);
    free(p->fwd_s);
    free(p->bwd_s);
    free(p->layers);
    free(p);
}
