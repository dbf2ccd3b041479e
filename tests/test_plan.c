/* test_plan.c: whole networks. The fast plan (oneDNN, fused activations) against
 * the reference plan (plain loops) on the same weights and batch: loss, logits,
 * every parameter gradient and the batch-norm running estimates; which batch
 * norms absorbed the activation after them (ReLU, GELU). Then a tiny
 * training on a learnable synthetic task whose loss must fall, and a check that
 * two runs with the same seed are bit-identical. */
#include <math.h>
#include <string.h>

#include "check.h"
#include "cnnlab/cnnlab.h"
#include "core/core.h"
#include "plan_compare.h"

#define CONV(oc, k_, s, p_, b)                                                               \
    {.kind = CNN_LAYER_CONV, .out = (oc), .k = (k_), .stride = (s), .pad = (p_), .bias = (b)}
#define ACT(a) {.kind = CNN_LAYER_ACT, .act = (a)}
#define BN {.kind = CNN_LAYER_BATCHNORM}
#define POOL(kind_, k_, s, p_) {.kind = (kind_), .k = (k_), .stride = (s), .pad = (p_)}
#define LINEAR(o) {.kind = CNN_LAYER_LINEAR, .out = (o), .bias = 1}
#define FROM1(a) .from_count = 1, .from = {a}

/* Every layer kind, fused and unfused activations, BatchNorm2d and 1d. */
static const cnn_layer_desc mixed_layers[] = {
    CONV(16, 3, 1, 1, 0), BN, ACT(CNN_ACT_RELU),
    POOL(CNN_LAYER_MAXPOOL, 2, 2, 0),
    CONV(20, 3, 1, 1, 1), ACT(CNN_ACT_RELU),
    POOL(CNN_LAYER_AVGPOOL, 3, 2, 1),
    CONV(24, 1, 1, 0, 1), ACT(CNN_ACT_TANH),
    {.kind = CNN_LAYER_FLATTEN},
    LINEAR(32), BN, ACT(CNN_ACT_RELU),
    LINEAR(10), ACT(CNN_ACT_SIGMOID),
    LINEAR(10),
};
static const cnn_model_desc mixed = {"mixed", "", 12, 12, 3, 10,
                                     (int)(sizeof mixed_layers / sizeof mixed_layers[0]),
                                     mixed_layers, CNN_INIT_DEFAULT};

static const cnn_layer_desc gap_layers[] = {
    CONV(8, 3, 2, 1, 1), ACT(CNN_ACT_RELU),
    {.kind = CNN_LAYER_GAP},
    LINEAR(10),
};
static const cnn_model_desc gapnet = {"gapnet", "", 9, 9, 3, 10, 4, gap_layers, CNN_INIT_DEFAULT};

/* A residual block and an Inception-style concatenation: layers with several
 * inputs and outputs read by several layers (gradients must add up). Indices
 * in from[] are 0-based layer positions. */
static const cnn_layer_desc graph_layers[] = {
    /* 0 */ CONV(8, 3, 1, 1, 0), /* 1 */ BN, /* 2 */ ACT(CNN_ACT_RELU),
    /* 3 */ CONV(8, 3, 1, 1, 0), /* 4 */ {.kind = CNN_LAYER_GROUPNORM, .groups = 2},
    /* 5 */ {.kind = CNN_LAYER_ADD, .from_count = 2, .from = {4, 2}},
    /* 6 */ ACT(CNN_ACT_RELU),
    /* 7 */ {.kind = CNN_LAYER_CONV, .out = 4, .k = 1, .stride = 1, .bias = 1, FROM1(6)},
    /* 8 */ {.kind = CNN_LAYER_CONV, .out = 6, .k = 3, .stride = 1, .pad = 1, .bias = 1, FROM1(6)},
    /* 9 */ {.kind = CNN_LAYER_MAXPOOL, .k = 3, .stride = 1, .pad = 1, FROM1(6)},
    /* 10 */ {.kind = CNN_LAYER_CONCAT, .from_count = 3, .from = {7, 8, 9}},
    /* 11 */ {.kind = CNN_LAYER_INSTANCENORM}, /* 12 */ ACT(CNN_ACT_GELU),
    /* 13 */ {.kind = CNN_LAYER_DROPOUT2D, .p = 0.25f},
    /* 14 */ {.kind = CNN_LAYER_LAYERNORM}, /* 15 */ ACT(CNN_ACT_ELU),
    /* 16 */ {.kind = CNN_LAYER_GMP},
    /* 17 */ {.kind = CNN_LAYER_DROPOUT, .p = 0.5f},
    /* 18 */ {.kind = CNN_LAYER_LINEAR, .out = 10, .bias = 1, .p = 0.3f},
};
static const cnn_model_desc graphnet = {"graphnet", "", 6, 6, 3, 10,
                                        (int)(sizeof graph_layers / sizeof graph_layers[0]),
                                        graph_layers, CNN_INIT_DEFAULT};

/* Batch norms folded into convolutions in a fast inference plan: layer 1 into
 * a conv with bias (then the ReLU fused too), layer 4 into one without, whose
 * output goes to an add; layer 8 stays, since its conv has two readers. */
static const cnn_layer_desc fold_layers[] = {
    /* 0 */ CONV(8, 3, 1, 1, 1), /* 1 */ BN, /* 2 */ ACT(CNN_ACT_RELU),
    /* 3 */ CONV(8, 3, 1, 1, 0), /* 4 */ BN,
    /* 5 */ {.kind = CNN_LAYER_ADD, .from_count = 2, .from = {4, 2}},
    /* 6 */ ACT(CNN_ACT_RELU),
    /* 7 */ CONV(8, 1, 1, 0, 0), /* 8 */ BN,
    /* 9 */ {.kind = CNN_LAYER_ADD, .from_count = 2, .from = {8, 7}},
    /* 10 */ {.kind = CNN_LAYER_GAP},
    /* 11 */ LINEAR(10),
};
static const cnn_model_desc foldnet = {"foldnet", "", 6, 6, 3, 10,
                                       (int)(sizeof fold_layers / sizeof fold_layers[0]),
                                       fold_layers, CNN_INIT_DEFAULT};

/* Wide enough that a folded conv's weights span whole pages (64 -> 64, 3x3:
 * 144 KiB), which an inference plan gives back once its kernel has its own
 * copy: the frozen forwards must not read them again. */
static const cnn_layer_desc widefold_layers[] = {
    /* 0 */ CONV(64, 3, 1, 1, 1), /* 1 */ BN, /* 2 */ ACT(CNN_ACT_RELU),
    /* 3 */ CONV(64, 3, 1, 1, 0), /* 4 */ BN, /* 5 */ ACT(CNN_ACT_RELU),
    /* 6 */ {.kind = CNN_LAYER_GAP},
    /* 7 */ LINEAR(10),
};
static const cnn_model_desc widefold = {"widefold", "", 6, 6, 3, 10,
                                        (int)(sizeof widefold_layers / sizeof widefold_layers[0]),
                                        widefold_layers, CNN_INIT_DEFAULT};

/* airbench94's pattern: conv -> maxpool -> batch norm -> GELU and conv ->
 * batch norm -> GELU, after a first conv -> GELU. On the fast path both GELUs
 * after a batch norm fuse into it (the backward recomputes the pre-activation
 * from the norm's input); the first stays a layer of its own. */
static const cnn_layer_desc gelu_layers[] = {
    /* 0 */ CONV(8, 2, 1, 0, 1), /* 1 */ ACT(CNN_ACT_GELU),
    /* 2 */ CONV(16, 3, 1, 1, 0), /* 3 */ POOL(CNN_LAYER_MAXPOOL, 2, 2, 0),
    /* 4 */ BN, /* 5 */ ACT(CNN_ACT_GELU),
    /* 6 */ CONV(16, 3, 1, 1, 0), /* 7 */ BN, /* 8 */ ACT(CNN_ACT_GELU),
    /* 9 */ POOL(CNN_LAYER_MAXPOOL, 3, 3, 0),
    /* 10 */ {.kind = CNN_LAYER_FLATTEN},
    /* 11 */ LINEAR(10),
};
static const cnn_model_desc gelunet = {"gelunet", "", 13, 13, 3, 10,
                                       (int)(sizeof gelu_layers / sizeof gelu_layers[0]),
                                       gelu_layers, CNN_INIT_DEFAULT};

/* Counts the batch norms of a fast training plan of d that apply an activation
 * themselves (the plan absorbed the activation layer after them). */
static void check_bn_fused(const cnn_model_desc *d, int batch, int expected)
{
    cnn_error err;
    cnn_model *m;
    cnn_plan *p;
    if (cnn_model_create(d, NULL, &m, &err) || cnn_plan_create(m, batch, NULL, 1, &p, &err)) {
        check(0, "%s: %s", d->name, err.msg);
        return;
    }
    char desc[8192];
    cnn_plan_describe(p, desc, sizeof desc);
    int n = 0;
    for (const char *q = desc; (q = strstr(q, "batchnorm")); q++) {
        const char *end = strchr(q, '\n');
        const char *act = strstr(q, "+act");
        if (act && (!end || act < end))
            n++;
    }
    printf("  %s: %d batch norms with the activation fused (expected %d)\n", d->name, n,
           expected);
    check(n == expected, "%s: %d batch norms with a fused activation, expected %d", d->name, n,
          expected);
    cnn_plan_destroy(p);
    cnn_model_destroy(m);
}

/* Inference plans, fast (batch norms folded into convolutions, outputs sharing
 * buffers) against the reference training plan in eval mode (every norm run as
 * it is, every output in its own buffer), on the same weights and on
 * batch-norm parameters and running estimates drawn away from their initial 1
 * and 0 so that a fold that dropped a term would show. */
static void compare_inference(const cnn_model_desc *d, int batch, int folded)
{
    cnn_error err;
    cnn_model *mf, *mr;
    cnn_plan *pf, *pr;
    if (cnn_model_create(d, NULL, &mf, &err) || cnn_model_create(d, NULL, &mr, &err) ||
        cnn_plan_create(mf, batch, NULL, 0, &pf, &err) ||
        cnn_plan_create(mr, batch, &(cnn_plan_config){.backend = CNN_BACKEND_REFERENCE}, 1, &pr,
                        &err)) {
        check(0, "%s: %s", d->name, err.msg);
        return;
    }
    cnn_model_init(mf, 3);
    unsigned seed = 17;
    for (int i = 0; i < mf->count; i++) {
        const cnn_model_layer *l = &mf->layers[i];
        if (l->desc.kind != CNN_LAYER_BATCHNORM)
            continue;
        size_t c = (size_t)l->in.c;
        float *par = mf->params + l->param_offset, *st = mf->state + l->state_offset;
        check_fill(par, c, &seed, 0.5f, 1.5f);     /* gamma */
        check_fill(par + c, c, &seed, -0.5f, 0.5f); /* beta */
        check_fill(st, c, &seed, -0.5f, 0.5f);      /* running mean */
        check_fill(st + c, c, &seed, 0.5f, 2.0f);   /* running variance */
    }
    memcpy(mr->params, mf->params, mf->param_count * sizeof(float));
    memcpy(mr->state, mf->state, mf->state_count * sizeof(float));
    size_t nx = (size_t)batch * d->in_h * d->in_w * d->in_c;
    check_fill(cnn_plan_input(pf), nx, &seed, -2, 2);
    memcpy(cnn_plan_input(pr), cnn_plan_input(pf), nx * 4);
    cnn_plan_forward(pf, NULL, batch, 0, NULL);
    cnn_plan_forward(pr, NULL, batch, 0, NULL);
    char desc[8192], what[160];
    cnn_plan_describe(pf, desc, sizeof desc);
    int n = 0;
    for (const char *q = desc; (q = strstr(q, "+batchnorm")); q++)
        n++;
    check(n == folded, "%s: %d batch norms folded into convolutions, expected %d", d->name, n,
          folded);
    snprintf(what, sizeof what, "%s: inference logits, %d batch norms folded", d->name, n);
    check_close_print(what, 52, cnn_plan_logits(pf), cnn_plan_logits(pr),
                      (size_t)batch * d->classes, 1e-4, 1e-5);
    cnn_plan_destroy(pf);
    cnn_plan_destroy(pr);
    cnn_model_destroy(mf);
    cnn_model_destroy(mr);
}

/* A frozen inference plan (weights prepared once) against an unfrozen one
 * (prepared every forward) on one model: bit-identical logits on the first
 * and second forward; after the weights change, a new freeze picks them up. */
static void compare_frozen(const cnn_model_desc *d, int batch, cnn_conv_algo algo)
{
    cnn_error err;
    cnn_model *m;
    cnn_plan *pu, *pz;
    /* one algorithm for both: auto's timing could pick differently per plan */
    const cnn_plan_config *cfg = &(cnn_plan_config){.conv = algo};
    if (cnn_model_create(d, NULL, &m, &err) || cnn_plan_create(m, batch, cfg, 0, &pu, &err) ||
        cnn_plan_create(m, batch, cfg, 0, &pz, &err)) {
        check(0, "%s: %s", d->name, err.msg);
        return;
    }
    cnn_model_init(m, 4);
    unsigned seed = 23;
    size_t nx = (size_t)batch * d->in_h * d->in_w * d->in_c, nl = (size_t)batch * d->classes;
    check_fill(cnn_plan_input(pu), nx, &seed, -2, 2);
    memcpy(cnn_plan_input(pz), cnn_plan_input(pu), nx * 4);
    cnn_plan_freeze(pz);
    int same = 1;
    for (int pass = 0; pass < 3; pass++) {
        if (pass == 2) { /* other weights: scale every parameter, then freeze anew */
            for (size_t i = 0; i < m->param_count; i++)
                m->params[i] *= 0.9f;
            cnn_plan_freeze(pz);
        }
        cnn_plan_forward(pu, NULL, batch, 0, NULL);
        cnn_plan_forward(pz, NULL, batch, 0, NULL);
        same &= memcmp(cnn_plan_logits(pu), cnn_plan_logits(pz), nl * sizeof(float)) == 0;
    }
    printf("  %s (%s): frozen plan, 2 forwards, then new weights and a new freeze: %s\n",
           d->name, algo == CNN_CONV_WINOGRAD ? "Winograd" : "direct",
           same ? "bit-identical to the unfrozen plan" : "DIFFERS");
    check(same, "%s: the frozen plan's logits equal the unfrozen plan's", d->name);
    cnn_plan_destroy(pu);
    cnn_plan_destroy(pz);
    cnn_model_destroy(m);
}

/* Cosine of two vectors, in double. */
/* cnn_plan_set_wanted_grads: with the first conv of gelunet unwanted (airbench
 * after its whitening bias stops training), the wanted layers' gradients are
 * bit-identical to a full backward's, the unwanted ones are zero, the second
 * conv skips its backward-data, and asking for all again restores the full
 * backward. */
static void compare_wanted(const cnn_model_desc *d, int batch)
{
    cnn_error err;
    cnn_model *m;
    cnn_plan *p;
    cnn_plan_config cfg = {.backend = CNN_BACKEND_FAST, .precision = CNN_PRECISION_FP32,
                           .conv = CNN_CONV_DIRECT};
    if (cnn_model_create(d, NULL, &m, &err) || cnn_plan_create(m, batch, &cfg, 1, &p, &err)) {
        check(0, "%s: %s", d->name, err.msg);
        return;
    }
    cnn_model_init(m, 5);
    cnn_rng rng;
    cnn_rng_init(&rng, 9, 0, 0);
    size_t in = (size_t)batch * d->in_h * d->in_w * d->in_c;
    float *x = cnn_plan_input(p);
    for (size_t i = 0; i < in; i++)
        x[i] = (float)cnn_rng_normal(&rng);
    uint8_t labels[64];
    for (int i = 0; i < batch; i++)
        labels[i] = (uint8_t)(i % 10);
    float *full = malloc(m->param_count * sizeof(float));
    float *st0 = malloc(m->state_count * sizeof(float));
    memcpy(st0, m->state, m->state_count * sizeof(float));
    cnn_plan_forward(p, labels, batch, 1, NULL);
    cnn_plan_backward(p);
    memcpy(full, m->grads, m->param_count * sizeof(float));
    unsigned char want[64];
    for (int i = 0; i < d->count; i++)
        want[i] = i > 0; /* layer 0 (the first conv) frozen */
    cnn_plan_set_wanted_grads(p, want);
    memcpy(m->state, st0, m->state_count * sizeof(float));
    memset(m->grads, 0x7f, m->param_count * sizeof(float)); /* garbage where nothing writes */
    cnn_plan_set_wanted_grads(p, want); /* zeroes the unwanted layers' gradients */
    cnn_plan_forward(p, labels, batch, 1, NULL);
    cnn_plan_backward(p);
    int same = 1, zero = 1;
    for (int i = 0; i < m->count; i++) {
        const cnn_model_layer *l = &m->layers[i];
        for (size_t k = 0; k < l->param_count; k++) {
            float g = m->grads[l->param_offset + k];
            if (i == 0)
                zero &= g == 0.0f;
            else
                same &= memcmp(&g, &full[l->param_offset + k], sizeof g) == 0;
        }
    }
    printf("  %s: first layer unwanted: other gradients bit-identical %s, its own zero %s\n",
           d->name, same ? "yes" : "NO", zero ? "yes" : "NO");
    check(same, "%s: wanted gradients differ from a full backward's", d->name);
    check(zero, "%s: the unwanted layer's gradients are not zero", d->name);
    cnn_plan_set_wanted_grads(p, NULL);
    memcpy(m->state, st0, m->state_count * sizeof(float));
    cnn_plan_forward(p, labels, batch, 1, NULL);
    cnn_plan_backward(p);
    check(memcmp(full, m->grads, m->param_count * sizeof(float)) == 0,
          "%s: the full backward after set_wanted_grads(NULL) differs", d->name);
    free(full);
    free(st0);
    cnn_plan_destroy(p);
    cnn_model_destroy(m);
}

/* A bf16 plan (every convolution and fully connected layer on bf16 kernels:
 * --conv direct; activations stored as bf16 where the layers allow,
 * test_bf16_storage.c) against the fp32 reference plan, on the same weights and
 * batch. bf16 keeps 8 significant bits, so each operand is off by up to 2^-9
 * (0.2 %) relative and every layer's output by about that much of its scale.
 * Over this model's six weighted layers the loss stays within 1 %, and every
 * layer's gradient points the same way: cosine >= 0.99 (measured worst 0.994,
 * a batch norm's, whose gradient is a difference of nearly equal sums; the
 * fully connected layers' 0.998). A kernel that read the wrong weights,
 * transposed or stale, gives cosines near 0. */
static void compare_bf16(const cnn_model_desc *d, int batch)
{
    cnn_error err;
    cnn_model *mb, *mr;
    cnn_plan *pb, *pr;
    const cnn_plan_config bf = {.precision = CNN_PRECISION_BF16, .conv = CNN_CONV_DIRECT};
    if (cnn_model_create(d, NULL, &mb, &err) || cnn_model_create(d, NULL, &mr, &err) ||
        cnn_plan_create(mr, batch, &(cnn_plan_config){.backend = CNN_BACKEND_REFERENCE}, 1, &pr,
                        &err)) {
        check(0, "%s: %s", d->name, err.msg);
        return;
    }
    if (cnn_plan_create(mb, batch, &bf, 1, &pb, &err)) {
        if (!check_cpu_avx512_core()) /* oneDNN's bf16 kernels need AVX-512 */
            printf("  SKIP %s bf16: %s\n", d->name, err.msg);
        else
            check(0, "%s bf16: %s", d->name, err.msg);
        cnn_plan_destroy(pr);
        cnn_model_destroy(mb);
        cnn_model_destroy(mr);
        return;
    }
    char desc[8192];
    cnn_plan_describe(pb, desc, sizeof desc);
    int linears = 0, on_bf16 = 0;
    for (const char *line = desc; *line; line = strchr(line, '\n') + 1) {
        const char *end = strchr(line, '\n');
        if (!end)
            break;
        if (strstr(line, " linear ") && strstr(line, " linear ") < end) {
            linears++;
            const char *k = strstr(line, "bf16");
            on_bf16 += k && k < end;
        }
    }
    check(linears > 0 && on_bf16 == linears,
          "%s: every fully connected layer runs a bf16 kernel (%d of %d)", d->name, on_bf16,
          linears);
    float lb, lr;
    uint8_t labels[64];
    plan_pair_step(d, batch, mb, mr, pb, pr, labels, &lb, &lr, NULL, NULL);
    check(fabsf(lb - lr) <= 0.01f * fabsf(lr), "%s bf16: loss %.6f within 1 %% of fp32's %.6f",
          d->name, lb, lr);
    double worst = 1;
    int layers = 0;
    for (int i = 0; i < mb->count; i++) {
        const cnn_model_layer *l = &mb->layers[i];
        if (!l->param_count)
            continue;
        double c = check_cosine(mb->grads + l->param_offset, mr->grads + l->param_offset,
                             l->param_count);
        check(c >= 0.99, "%s bf16: layer %d gradient cosine with fp32 %.6f (expected >= 0.99)",
              d->name, i + 1, c);
        worst = c < worst ? c : worst;
        layers++;
    }
    printf("  %s batch %d: %d of %d fully connected layers on bf16; loss bf16 %.6f fp32 %.6f; "
           "worst gradient cosine of %d layers %.6f\n", d->name, batch, on_bf16, linears, lb, lr,
           layers, worst);
    cnn_plan_destroy(pb);
    cnn_plan_destroy(pr);
    cnn_model_destroy(mb);
    cnn_model_destroy(mr);
}

/* Trains `mixed` for 60 steps (direct convolutions); returns the mean loss of
 * the last 10 and writes the final parameters' checksum. */
static double tiny_training(double *first, uint32_t *checksum)
{
    cnn_error err;
    cnn_model *m;
    cnn_plan *p;
    cnn_optim opt;
    cnn_optim_config oc;
    cnn_optim_config_defaults(&oc, CNN_OPT_SGD);
    oc.lr = 0.05f;
    oc.momentum = 0.9f;
    oc.weight_decay = 5e-4f;
    cnn_model_create(&mixed, NULL, &m, &err);
    cnn_model_init(m, 5);
    /* the algorithm pinned: --conv auto chooses by timing, which a loaded
     * machine can tip either way between two runs */
    cnn_plan_create(m, 32, &(cnn_plan_config){.conv = CNN_CONV_DIRECT}, 1, &p, &err);
    cnn_optim_init(&opt, &oc, m->param_count, &err);
    double head, tail;
    synth_train(p, m, &opt, oc.lr, 60, &head, &tail);
    uint32_t h = 2166136261u;
    const unsigned char *b = (const unsigned char *)m->params;
    for (size_t i = 0; i < m->param_count * 4; i++)
        h = (h ^ b[i]) * 16777619u;
    *checksum = h;
    *first = head;
    cnn_optim_free(&opt);
    cnn_plan_destroy(p);
    cnn_model_destroy(m);
    return tail;
}

int main(void)
{
    printf("whole network, fast vs reference (logits rtol 1e-4; gradients rtol 1e-3, atol 1e-5):\n");
    compare_backends(&mixed, 5, PLAN_COMPARE_STATE);
    compare_backends(&mixed, 1 + 1, PLAN_COMPARE_STATE); /* batch norm needs 2 samples for a variance */
    compare_backends(&gapnet, 3, PLAN_COMPARE_STATE);
    compare_backends(&graphnet, 4, PLAN_COMPARE_STATE); /* residual, concat, norms, dropout, DropConnect */
    compare_backends(&gelunet, 4, PLAN_COMPARE_STATE); /* batch norm + GELU fused */
    compare_backends(&gelunet, 2, PLAN_COMPARE_STATE);
    check_bn_fused(&gelunet, 4, 2);
    check_bn_fused(&mixed, 4, 2);
    compare_wanted(&gelunet, 4);

    printf("inference plans, fast (batch norm folded) vs reference (rtol 1e-4, atol 1e-5):\n");
    compare_inference(&mixed, 5, 1);
    compare_inference(&graphnet, 4, 1);
    compare_inference(&foldnet, 3, 2);
    compare_inference(&gelunet, 4, 1); /* the conv before batch norm 7 takes it in */
    compare_frozen(&foldnet, 3, CNN_CONV_DIRECT);
    compare_frozen(&mixed, 4, CNN_CONV_DIRECT);
    compare_frozen(&widefold, 3, CNN_CONV_DIRECT);
    compare_frozen(&widefold, 3, CNN_CONV_WINOGRAD);

    printf("bf16 plan (direct: bf16 convolutions and fully connected layers) vs fp32 reference:\n");
    compare_bf16(&mixed, 5);

    double first, last, first2, last2;
    uint32_t sum1, sum2;
    last = tiny_training(&first, &sum1);
    printf("tiny training (60 steps, synthetic patches): loss %.4f -> %.4f\n", first, last);
    check(last < 0.5 * first, "loss falls by more than half (%.4f -> %.4f)", first, last);
    last2 = tiny_training(&first2, &sum2);
    check(sum1 == sum2 && last == last2, "the same seed gives bit-identical weights (%08x vs %08x)",
          sum1, sum2);
    return check_finish("test_plan");
}
