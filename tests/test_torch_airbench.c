/* test_torch_airbench.c: the built-in airbench94 network against PyTorch 1.13,
 * at reduced widths (the fixture's config: w1, w2, w3 as model variables):
 *
 *   1. one training step (batch norm on batch statistics, label smoothing 0.2,
 *      the summed loss): the loss, the logits, every parameter gradient (the
 *      frozen whitening weight and batch-norm gammas too: PyTorch computed them
 *      with requires_grad switched on for that pass), the running estimates
 *      after it, and the eval-mode logits after it (on the training plan and
 *      on an inference plan, which folds each batch norm into its convolution);
 *      on the reference plan and the fast fp32 plan (direct, and cnnlab's
 *      Winograd, winograd-sgemm);
 *   2. airbench's test-time augmentation (cnn_evaluate_tta, level 2, on
 *      inference plans) on six images: each image's prediction and loss, the
 *      mean loss and the accuracy;
 *   3. five steps of the airbench94 recipe's update rule at a tenth of its lr
 *      (parameter groups: batch-norm betas at 64x the lr and 1/64 the weight
 *      decay, the whitening weight and the gammas frozen; Nesterov SGD 0.85;
 *      the linear per-step schedule; lookahead every 5 steps with the shadow
 *      taken before the whitening weights are written, and the final copy),
 *      the pieces
 *      src/train/trainer.c runs, called directly: each step's loss, then every
 *      parameter and running estimate.
 *
 * cnnlab's loss: the plan returns the mean cross-entropy and its gradient;
 * the recipe's summed loss (--loss-reduction sum) is the mean times the batch,
 * and so is its gradient (the trainer scales the gradient block by the batch
 * size). This test does the same: loss * B against PyTorch's summed loss,
 * gradients * B against PyTorch's gradients of it.
 *
 * The PyTorch side is tests/fixtures/airbench.txt, written by
 * tools/torch_airbench.py, whose header gives the formulas that fill the
 * parameters and the images on both sides (no weights are stored). Every
 * comparison is element by element, |cnnlab - PyTorch| <= tol * (|PyTorch| +
 * max |PyTorch| over the tensor): the tolerance is relative to each tensor's
 * scale, as sums of mixed signs can land near zero. PyTorch's own float32
 * results lie within 4.2e-6 of its float64 ones in that measure (the script's
 * --fp64), and the tolerances below are set from that and from what each plan
 * measured (in the comments). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fixture.h"
#include "cnnlab/cnnlab.h"

#define MADE_BY "tools/torch_airbench.py"
#define FIXTURE "tests/fixtures/airbench.txt"
#define CLASSES 10
#define MAX_TENSORS 32
#define MAX_BATCH 16
#define TTA_IMAGES 6
#define TTA_FIRST 100   /* the TTA images' first index in the formula */
#define MULTI_FIRST 1000 /* the multi-step batches' */
#define SMOOTHING 0.2f

/* airbench's normalisation (/work/shared/bench/torch_airbench_cpu.py) */
static const cnn_norm NORM = {{0.4914f, 0.4822f, 0.4465f}, {0.2470f, 0.2435f, 0.2616f}};

/* The network at the fixture's widths and its parameter tensors in block
 * order (PyTorch's named_parameters() order). */
typedef struct airnet {
    const cnn_model_desc *desc;
    int batch;
    cnn_param_range t[MAX_TENSORS];
    int n;
    char names[MAX_TENSORS][32];
} airnet;

/* PyTorch's name of tensor t (tools/torch_airbench.py's state-dict names). */
static void tensor_name(int t, int n, char *out, size_t size)
{
    static const char *const part[6] = {"conv1.weight", "norm1.weight", "norm1.bias",
                                        "conv2.weight", "norm2.weight", "norm2.bias"};
    if (t == 0 || t == 1)
        snprintf(out, size, "whiten.%s", t ? "bias" : "weight");
    else if (t == n - 1)
        snprintf(out, size, "head.weight");
    else
        snprintf(out, size, "group%d.%s", (t - 2) / 6 + 1, part[(t - 2) % 6]);
}

/* Image j's pixel (c, h, w) (the script's formula). */
static uint8_t pixel(long j, long c, long h, long w)
{
    long v = 7 * j * j + 31 * j + 3 * h * h + 5 * w * w + (2 + j) * h * w + (11 + 3 * j) * h +
             (13 + 5 * j) * w + 41 * c + 5 * c * h;
    return (uint8_t)(v % 256);
}

/* Images first..first+count-1 with their labels, as a dataset. */
static void dataset_make(cnn_dataset *d, long first, int count)
{
    *d = (cnn_dataset){.count = count, .c = 3, .h = 32, .w = 32, .classes = 10};
    d->pixels = malloc((size_t)count * 3 * 32 * 32);
    d->labels = malloc((size_t)count);
    if (!d->pixels || !d->labels) {
        fprintf(stderr, "test: out of memory\n");
        exit(2);
    }
    for (int i = 0; i < count; i++) {
        long j = first + i;
        d->labels[i] = (uint8_t)((3 * j + 1) % 10);
        for (int c = 0; c < 3; c++)
            for (int h = 0; h < 32; h++)
                for (int w = 0; w < 32; w++)
                    d->pixels[(((size_t)i * 3 + c) * 32 + h) * 32 + w] = pixel(j, c, h, w);
    }
}

static void dataset_drop(cnn_dataset *d)
{
    free(d->pixels);
    free(d->labels);
}

/* The formula parameters (the script's make_net); whitened 0 puts the conv
 * formula in the whitening weight instead of its fixed values. */
static void fill_params(const airnet *a, cnn_model *m, int whitened)
{
    for (int t = 0; t < a->n; t++) {
        const cnn_param_range *r = &a->t[t];
        const cnn_layer_desc *d = &m->layers[r->layer].desc;
        float *p = m->params + r->offset;
        for (size_t k = 0; k < r->count; k++) {
            double i = (double)k, big = sin(1.7 * i + 0.9 * t + 0.013 * i * i),
                   small = 0.1 * sin(0.7 * i + 1.3 * t);
            double v;
            if (r->role == CNN_PARAM_NORM_WEIGHT)
                v = 1.0;
            else if (r->role != CNN_PARAM_WEIGHT)
                v = small;
            else if (d->kind == CNN_LAYER_LINEAR)
                v = 4 * big;
            else if (d->init == CNN_LAYER_INIT_WHITEN && whitened)
                v = 1.5 * big;
            else
                v = big / sqrt((double)(r->count / (size_t)d->out));
            p[k] = (float)v;
        }
    }
}

/* A model of the fixture's network with the formula parameters and the
 * default running estimates (mean 0, variance 1). */
static cnn_model *model_make(const airnet *a, int whitened)
{
    cnn_model *m;
    cnn_error err;
    if (cnn_model_create(a->desc, NULL, &m, &err)) {
        check(0, "airbench94: %s", err.msg);
        return NULL;
    }
    cnn_model_init(m, 1);
    fill_params(a, m, whitened);
    return m;
}

/* The fixture's widths; the tensors checked against PyTorch's sizes. */
static int airnet_load(airnet *a, const fixture_file *f)
{
    const float *config = fixture_get(f, "config", 4);
    const fixture_record *sizes = fixture_find(f, "sizes");
    if (!config || !sizes)
        return 0;
    char vars[96];
    snprintf(vars, sizeof vars, "w1=%d w2=%d w3=%d", (int)config[0], (int)config[1],
             (int)config[2]);
    a->batch = (int)config[3];
    cnn_error err;
    if (cnn_model_load("airbench94", vars, &a->desc, &err)) {
        check(0, "airbench94 with %s: %s", vars, err.msg);
        return 0;
    }
    if (a->batch < 1 || a->batch > MAX_BATCH) {
        check(0, "fixture batch %d: expected 1 to %d", a->batch, MAX_BATCH);
        return 0;
    }
    /* a bare model: its tensors are counted here, so none can be filled yet */
    cnn_model *m;
    if (cnn_model_create(a->desc, NULL, &m, &err)) {
        check(0, "airbench94 with %s: %s", vars, err.msg);
        return 0;
    }
    a->n = cnn_model_param_ranges(m, a->t, MAX_TENSORS);
    int ok = a->n == (int)sizes->count && a->n <= MAX_TENSORS;
    check(ok, "airbench94 (%s): %d parameter tensors, PyTorch has %zu", vars, a->n, sizes->count);
    for (int t = 0; ok && t < a->n; t++) {
        tensor_name(t, a->n, a->names[t], sizeof a->names[t]);
        check(a->t[t].count == (size_t)sizes->v[t], "%s: %zu values, PyTorch has %g",
              a->names[t], a->t[t].count, (double)sizes->v[t]);
        ok &= a->t[t].count == (size_t)sizes->v[t];
    }
    printf("airbench94 with %s: %zu parameters in %d tensors, %zu running estimates, batch %d\n",
           vars, m->param_count, a->n, m->state_count, a->batch);
    cnn_model_destroy(m);
    return ok;
}

/* max |b| over n values */
static double max_abs(const float *b, size_t n)
{
    double mx = 0;
    for (size_t i = 0; i < n; i++)
        if (fabs((double)b[i]) > mx)
            mx = fabs((double)b[i]);
    return mx;
}

/* a against b, element by element, at tol relative to each value and to b's
 * largest magnitude; returns the worst ratio (<= 1 passes), recording a
 * failure that names the element. */
static double compare(const char *what, const float *a, const float *b, size_t n, double tol)
{
    double atol = tol * max_abs(b, n) + 1e-30, worst = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]) / (atol + tol * fabs((double)b[i]));
        if (!(d <= worst))
            worst = d;
    }
    check_close(what, a, b, n, tol, atol);
    return worst;
}

/* compare, printing one line */
static void compare_print(const char *plan, const char *what, const float *a, const float *b,
                          size_t n, double tol)
{
    char label[128];
    snprintf(label, sizeof label, "%s: %s", plan, what);
    double worst = compare(label, a, b, n, tol);
    printf("  %-26s %-28s %5zu values  worst %.3f of tol %g\n", plan, what, n, worst, tol);
}

/* ---- 1. one training step ---- */

static void one_step(const airnet *a, const fixture_file *f, const cnn_plan_config *cfg,
                     const char *plan, double tol)
{
    int B = a->batch;
    cnn_model *m = model_make(a, 1);
    cnn_plan *p = NULL, *inf = NULL;
    cnn_error err;
    if (!m)
        return;
    if (cnn_plan_create(m, B, cfg, 1, &p, &err) || cnn_plan_create(m, B, cfg, 0, &inf, &err)) {
        check(0, "%s: %s", plan, err.msg);
        goto out;
    }
    cnn_dataset d;
    dataset_make(&d, 0, B);
    uint8_t labels[MAX_BATCH];
    cnn_batch_fill(&d, NULL, B, &NORM, cnn_plan_input(p), labels);
    cnn_plan_set_label_smoothing(p, SMOOTHING);
    float loss = cnn_plan_forward(p, labels, B, 1, NULL) * (float)B; /* the summed loss */
    cnn_plan_backward(p);
    for (size_t i = 0; i < m->param_count; i++) /* its gradient */
        m->grads[i] *= (float)B;
    const float *want;
    if ((want = fixture_get(f, "step.loss", 1)))
        compare_print(plan, "loss (sum)", &loss, want, 1, tol);
    if ((want = fixture_get(f, "step.logits", (size_t)B * CLASSES)))
        compare_print(plan, "logits (train mode)", cnn_plan_logits(p), want,
                      (size_t)B * CLASSES, tol);
    double worst = 0;
    int worst_t = 0;
    for (int t = 0; t < a->n; t++) {
        char name[32], label[160];
        snprintf(name, sizeof name, "step.grad%d", t);
        if (!(want = fixture_get(f, name, a->t[t].count)))
            continue;
        snprintf(label, sizeof label, "%s: gradient of %s", plan, a->names[t]);
        double w = compare(label, m->grads + a->t[t].offset, want, a->t[t].count, tol);
        if (w > worst) {
            worst = w;
            worst_t = t;
        }
    }
    printf("  %-26s %-28s %5zu values  worst %.3f of tol %g (%s)\n", plan, "gradients (all tensors)",
           m->param_count, worst, tol, a->names[worst_t]);
    if ((want = fixture_get(f, "step.state", m->state_count)))
        compare_print(plan, "running mean and var", m->state, want, m->state_count, tol);
    if ((want = fixture_get(f, "step.eval_logits", (size_t)B * CLASSES))) {
        cnn_batch_fill(&d, NULL, B, &NORM, cnn_plan_input(p), NULL);
        cnn_plan_forward(p, NULL, B, 0, NULL);
        compare_print(plan, "logits (eval, training plan)", cnn_plan_logits(p), want,
                      (size_t)B * CLASSES, tol);
        cnn_batch_fill(&d, NULL, B, &NORM, cnn_plan_input(inf), NULL);
        cnn_plan_freeze(inf);
        cnn_plan_forward(inf, NULL, B, 0, NULL);
        compare_print(plan, "logits (inference plan)", cnn_plan_logits(inf), want,
                      (size_t)B * CLASSES, tol);
    }
    dataset_drop(&d);
out:
    cnn_plan_destroy(inf);
    cnn_plan_destroy(p);
    cnn_model_destroy(m);
}

/* ---- 2. test-time augmentation ---- */

/* The class cnn_evaluate_tta predicted for a one-image evaluation: the only
 * non-zero entry of the confusion row of its label. */
static int predicted(const cnn_eval_result *r, int label)
{
    for (int k = 0; k < CLASSES; k++)
        if (r->confusion[label][k])
            return k;
    return -1;
}

static void tta(const airnet *a, const fixture_file *f, const cnn_plan_config *cfg,
                const char *plan, double tol)
{
    cnn_model *m = model_make(a, 1);
    cnn_plan *p = NULL;
    cnn_error err;
    const float *state, *logits, *pred, *loss, *mean_loss;
    if (!m)
        return;
    if (!(state = fixture_get(f, "tta.state", m->state_count)) ||
        !(logits = fixture_get(f, "tta.logits", TTA_IMAGES * CLASSES)) ||
        !(pred = fixture_get(f, "tta.pred", TTA_IMAGES)) ||
        !(loss = fixture_get(f, "tta.loss", TTA_IMAGES)) ||
        !(mean_loss = fixture_get(f, "tta.mean_loss", 1)))
        goto out;
    memcpy(m->state, state, m->state_count * sizeof(float));
    /* a batch of 4: the six images take a full and a padded batch */
    if (cnn_plan_create(m, 4, cfg, 0, &p, &err)) {
        check(0, "%s: %s", plan, err.msg);
        goto out;
    }
    cnn_plan_freeze(p);
    cnn_dataset d;
    dataset_make(&d, TTA_FIRST, TTA_IMAGES);
    int idx[TTA_IMAGES];
    for (int i = 0; i < TTA_IMAGES; i++)
        idx[i] = i;
    float got_loss[TTA_IMAGES];
    int agree = 0, right = 0;
    double margin = INFINITY; /* PyTorch's smallest gap between a row's top two */
    for (int i = 0; i < TTA_IMAGES; i++) {
        cnn_eval_result r;
        cnn_evaluate_tta(p, m, &d, idx + i, 1, &NORM, 2, &r);
        got_loss[i] = (float)r.loss;
        int k = predicted(&r, d.labels[i]);
        agree += k == (int)pred[i];
        right += (int)pred[i] == d.labels[i];
        check(k == (int)pred[i], "%s: TTA image %d: predicted %d, PyTorch %d", plan, i, k,
              (int)pred[i]);
        const float *row = logits + i * CLASSES;
        float top = row[(int)pred[i]], second = -INFINITY;
        for (int c = 0; c < CLASSES; c++)
            if (c != (int)pred[i] && row[c] > second)
                second = row[c];
        if (top - second < margin)
            margin = top - second;
    }
    printf("  %-26s %-28s %5d images  %d agree (PyTorch's smallest top-2 gap %.3g)\n", plan,
           "TTA predictions", TTA_IMAGES, agree, margin);
    compare_print(plan, "TTA loss per image", got_loss, loss, TTA_IMAGES, tol);
    cnn_eval_result all;
    cnn_evaluate_tta(p, m, &d, idx, TTA_IMAGES, &NORM, 2, &all);
    float got_mean = (float)all.loss;
    compare_print(plan, "TTA mean loss (6 images)", &got_mean, mean_loss, 1, tol);
    check(fabs(all.accuracy - (double)right / TTA_IMAGES) < 1e-9,
          "%s: TTA accuracy %g, PyTorch %g", plan, all.accuracy, (double)right / TTA_IMAGES);
    printf("  %-26s %-28s %.4f, PyTorch %.4f\n", plan, "TTA accuracy", all.accuracy,
           (double)right / TTA_IMAGES);
    dataset_drop(&d);
out:
    cnn_plan_destroy(p);
    cnn_model_destroy(m);
}

/* ---- 3. the recipe's update over several steps ---- */

/* The recipe's groups, as src/train/trainer.c's set_groups: norm betas at
 * lr x mult with weight decay / mult, frozen ranges (the whitening weight,
 * the gammas) out. */
static int set_groups(const airnet *a, cnn_optim *o, float norm_bias_mult)
{
    cnn_param_group g[MAX_TENSORS];
    for (int t = 0; t < a->n; t++) {
        float mult = a->t[t].frozen ? 0.0f
                     : a->t[t].role == CNN_PARAM_NORM_BIAS ? norm_bias_mult : 1.0f;
        g[t] = (cnn_param_group){{a->t[t].offset, a->t[t].count}, mult,
                                 mult > 0 ? 1.0f / mult : 0.0f};
    }
    cnn_error err;
    if (cnn_optim_set_groups(o, g, a->n, &err)) {
        check(0, "parameter groups: %s", err.msg);
        return 0;
    }
    return 1;
}

/* Tolerances: the loss and running estimates 1e-3, each tensor's change 1e-2.
 * Max pooling sends a gradient to whichever of a window's inputs is larger, and
 * over several steps some windows come within rounding of a tie (8 of 220,000
 * within 1e-5 over ten steps here); each that breaks the other way in cnnlab
 * than in PyTorch moves the trajectory, and later steps amplify it (the
 * script's header: at the recipe's lr, or over ten steps, by up to 11 %;
 * over these five steps at a tenth of it, by up to 7.5e-5 in the loss and
 * 2.9e-3 in the change). A wrong multiplier, weight decay, momentum, schedule
 * or lookahead moves the change by several percent to 100 %. */
static void multi_steps(const airnet *a, const fixture_file *f, const cnn_plan_config *cfg,
                        const char *plan)
{
    const double tol = 1e-3, change_tol = 1e-2;
    int B = a->batch;
    const float *c = fixture_get(f, "multi.config", 10);
    if (!c)
        return;
    int steps = (int)c[0];
    const float *losses = fixture_get(f, "multi.loss", (size_t)steps);
    cnn_model *m = model_make(a, 0), *start = model_make(a, 1);
    cnn_plan *p = NULL;
    cnn_optim o = {0};
    cnn_lookahead la = {0};
    cnn_sched s;
    cnn_dataset d = {0};
    cnn_error err;
    float *got = check_falloc((size_t)steps);
    if (!m || !start || !losses)
        goto out;
    /* the shadow before the whitening weights, as airbench */
    if (cnn_lookahead_init(&la, m->params, m->param_count, m->state, m->state_count, &err)) {
        check(0, "%s: %s", plan, err.msg);
        goto out;
    }
    memcpy(m->params + a->t[0].offset, start->params + a->t[0].offset,
           a->t[0].count * sizeof(float));
    cnn_optim_config oc;
    cnn_optim_config_defaults(&oc, CNN_OPT_SGD);
    oc.lr = c[1];
    oc.momentum = c[2];
    oc.weight_decay = c[3];
    oc.nesterov = 1;
    cnn_sched_config sc;
    cnn_sched_config_defaults(&sc, CNN_SCHED_LINEAR);
    sc.base_lr = c[1];
    sc.epochs = 1;
    sc.steps_per_epoch = steps;
    sc.total_steps = steps;
    /* the decimals the script used (its record holds them rounded to float) */
    sc.warmup_frac = 0.23;
    sc.start_factor = 0.2;
    sc.end_factor = 0.07;
    cnn_lookahead_config lc;
    cnn_lookahead_config_defaults(&lc);
    lc.every = (int)c[8];
    check(fabs(c[5] - 0.23) < 1e-7 && fabs(c[6] - 0.2) < 1e-7 && fabs(c[7] - 0.07) < 1e-7 &&
          lc.every == 5 && fabs(c[9] - 0.95) < 1e-7 && fabs(lc.base - 0.95) < 1e-12,
          "multi.config: the schedule and lookahead settings are not the recipe's");
    if (cnn_plan_create(m, B, cfg, 1, &p, &err) || cnn_optim_init(&o, &oc, m->param_count, &err) ||
        cnn_sched_init(&s, &sc, &err)) {
        check(0, "%s: %s", plan, err.msg);
        goto out;
    }
    if (!set_groups(a, &o, c[4]))
        goto out;
    cnn_plan_set_label_smoothing(p, SMOOTHING);
    dataset_make(&d, MULTI_FIRST, steps * B);
    uint8_t labels[MAX_BATCH];
    for (int k = 0; k < steps; k++) {
        /* the k-th batch: images k*B.. of the dataset */
        int idx[MAX_BATCH];
        for (int i = 0; i < B; i++)
            idx[i] = k * B + i;
        cnn_batch_fill(&d, idx, B, &NORM, cnn_plan_input(p), labels);
        got[k] = cnn_plan_forward(p, labels, B, 1, NULL) * (float)B;
        cnn_plan_backward(p);
        for (size_t i = 0; i < m->param_count; i++)
            m->grads[i] *= (float)B;
        cnn_optim_step(&o, cnn_sched_lr(&s, 0, k), m->params, m->grads);
        long done = k + 1;
        if (done % lc.every == 0)
            cnn_lookahead_update(&la, m->params, m->state,
                                 cnn_lookahead_decay(&lc, done, steps));
        if (done == steps)
            cnn_lookahead_update(&la, m->params, m->state, 1.0f);
    }
    char what[64];
    snprintf(what, sizeof what, "loss of each of %d steps", steps);
    compare_print(plan, what, got, losses, (size_t)steps, tol);
    /* parameters: the change from the start, tensor by tensor */
    const float *want = fixture_get(f, "multi.params", m->param_count);
    if (want) {
        float *dg = check_falloc(m->param_count), *dw = check_falloc(m->param_count);
        for (size_t i = 0; i < m->param_count; i++) {
            dg[i] = m->params[i] - start->params[i];
            dw[i] = want[i] - start->params[i];
        }
        double worst = 0;
        int worst_t = 0, moved = 0;
        for (int t = 0; t < a->n; t++) {
            char label[160];
            size_t off = a->t[t].offset, n = a->t[t].count;
            snprintf(label, sizeof label, "%s: %s after %d steps (change)", plan, a->names[t],
                     steps);
            if (max_abs(dw + off, n) == 0) { /* the gammas: never move */
                check(max_abs(dg + off, n) == 0, "%s: moved, PyTorch's did not", label);
                continue;
            }
            moved++;
            double w = compare(label, dg + off, dw + off, n, change_tol);
            if (w > worst) {
                worst = w;
                worst_t = t;
            }
        }
        printf("  %-26s %-28s %5zu values  worst %.3f of tol %g (%s; %d tensors moved)\n", plan,
               "parameter change", m->param_count, worst, change_tol, a->names[worst_t], moved);
        free(dg);
        free(dw);
    }
    if ((want = fixture_get(f, "multi.state", m->state_count)))
        compare_print(plan, "running mean and var", m->state, want, m->state_count, tol);
out:
    free(got);
    dataset_drop(&d);
    cnn_plan_destroy(p);
    if (la.params)
        cnn_lookahead_free(&la);
    cnn_optim_free(&o);
    cnn_model_destroy(start);
    cnn_model_destroy(m);
}

int main(void)
{
    fixture_file f;
    airnet a;
    if (!fixture_load(&f, FIXTURE, MADE_BY))
        return check_finish("test_torch_airbench");
    if (airnet_load(&a, &f)) {
        /* 1e-4 for the step and TTA; measured worst: 1.0e-5 (winograd-sgemm's
         * gradients), 3.8e-6 direct, 2.6e-6 reference. Every max-pool window's
         * top two inputs are at least 1.6e-5 of their tensor's largest value
         * apart in this step, so rounding sends no gradient elsewhere. The
         * multi-step check has its own (multi_steps). */
        const struct {
            cnn_plan_config cfg;
            const char *name;
            double tol;
        } plans[] = {
            {{.backend = CNN_BACKEND_REFERENCE}, "reference", 1e-4},
            {{.conv = CNN_CONV_DIRECT}, "fast fp32, direct", 1e-4},
            {{.conv = CNN_CONV_WINOGRAD_SGEMM}, "fast fp32, winograd-sgemm", 1e-4},
        };
        int n = (int)(sizeof plans / sizeof plans[0]);
        printf("one training step, summed loss (cnnlab: mean x %d, gradients x %d):\n", a.batch,
               a.batch);
        for (int i = 0; i < n; i++)
            one_step(&a, &f, &plans[i].cfg, plans[i].name, plans[i].tol);
        printf("TTA level 2 (cnn_evaluate_tta on inference plans):\n");
        for (int i = 0; i < n; i++)
            tta(&a, &f, &plans[i].cfg, plans[i].name, plans[i].tol);
        printf("the airbench94 recipe's update at a tenth of its lr, several steps:\n");
        for (int i = 0; i < n; i++)
            multi_steps(&a, &f, &plans[i].cfg, plans[i].name);
    }
    fixture_free(&f);
    return check_finish("test_torch_airbench");
}
