/* plan_compare.h: a whole model, fast plan against reference plan, on the same
 * weights (seed 3) and the same batch (inputs seed 99 in [-2, 2], labels
 * i * 7 % 10): loss, logits and every parameter gradient after one training
 * forward and backward; and a few steps of training on synthetic batches.
 * Shared by test_plan.c and test_modelfile.c; include after check.h. */
#ifndef CNN_TEST_PLAN_COMPARE_H
#define CNN_TEST_PLAN_COMPARE_H

#include <stdint.h>
#include <string.h>

#include "cnnlab/cnnlab.h"
#include "core/core.h"

/* Also print the correct counts, compare the batch-norm running estimates and
 * the eval-mode logits (test_plan.c). */
#define PLAN_COMPARE_STATE 1
/* Name each layer by its label in the gradient checks and print a summary line
 * with the number of layers compared (test_modelfile.c). */
#define PLAN_COMPARE_LABELS 2

/* One training forward and backward of plans pa and pb (of models ma and mb,
 * both of description d) on the same weights (seed 3) and the same batch
 * (inputs seed 99 in [-2, 2], labels i * 7 % 10, written to labels[batch]):
 * their losses, and correct counts where ca, cb are not NULL. */
__attribute__((unused)) static void plan_pair_step(const cnn_model_desc *d, int batch,
                                                   cnn_model *ma, cnn_model *mb, cnn_plan *pa,
                                                   cnn_plan *pb, uint8_t *labels, float *la,
                                                   float *lb, int *ca, int *cb)
{
    cnn_model_init(ma, 3);
    cnn_model_init(mb, 3);
    unsigned seed = 99;
    size_t nx = (size_t)batch * d->in_h * d->in_w * d->in_c;
    check_fill(cnn_plan_input(pa), nx, &seed, -2, 2);
    memcpy(cnn_plan_input(pb), cnn_plan_input(pa), nx * 4);
    for (int i = 0; i < batch; i++)
        labels[i] = (uint8_t)(i * 7 % 10);
    *la = cnn_plan_forward(pa, labels, batch, 1, ca);
    *lb = cnn_plan_forward(pb, labels, batch, 1, cb);
    cnn_plan_backward(pa);
    cnn_plan_backward(pb);
}

__attribute__((unused)) static void compare_backends(const cnn_model_desc *d, int batch, int flags)
{
    cnn_error err;
    cnn_model *mf, *mr;
    cnn_plan *pf, *pr;
    if (cnn_model_create(d, NULL, &mf, &err) || cnn_model_create(d, NULL, &mr, &err) ||
        cnn_plan_create(mf, batch, NULL, 1, &pf, &err) ||
        cnn_plan_create(mr, batch, &(cnn_plan_config){.backend = CNN_BACKEND_REFERENCE}, 1, &pr, &err)) {
        check(0, "%s: %s", d->name, err.msg);
        return;
    }
    int state = flags & PLAN_COMPARE_STATE, named = flags & PLAN_COMPARE_LABELS;
    int cf = 0, cr = 0;
    float lf, lr;
    uint8_t labels[64];
    plan_pair_step(d, batch, mf, mr, pf, pr, labels, &lf, &lr, state ? &cf : NULL,
                   state ? &cr : NULL);
    if (state)
        printf("  %s batch %d: loss fast %.6f reference %.6f, correct %d / %d\n", d->name, batch,
               lf, lr, cf, cr);
    else
        printf("  %s batch %d: loss fast %.6f reference %.6f\n", d->name, batch, lf, lr);
    char what[160];
    snprintf(what, sizeof what, "%s: loss", d->name);
    check_close(what, &lf, &lr, 1, 1e-5, 1e-6);
    snprintf(what, sizeof what, "%s: logits", d->name);
    check_close(what, cnn_plan_logits(pf), cnn_plan_logits(pr), (size_t)batch * d->classes, 1e-4,
                1e-5);
    int layers = 0;
    for (int i = 0; i < mf->count; i++) {
        const cnn_model_layer *l = &mf->layers[i];
        if (l->param_count) {
            if (named)
                snprintf(what, sizeof what, "%s: layer %d (%s) gradients", d->name, i + 1,
                         l->desc.label);
            else
                snprintf(what, sizeof what, "%s: layer %d gradients", d->name, i + 1);
            /* Batch-norm gradients subtract nearly equal sums: judge them
             * against the gradient's scale, not element by element. */
            check_close(what, mf->grads + l->param_offset, mr->grads + l->param_offset,
                        l->param_count, 1e-3, 1e-5);
            layers++;
        }
        if (state && l->state_count) {
            snprintf(what, sizeof what, "%s: layer %d running estimates", d->name, i + 1);
            check_close(what, mf->state + l->state_offset, mr->state + l->state_offset,
                        l->state_count, 1e-5, 1e-6);
        }
    }
    if (named)
        printf("  %s: loss, logits and the gradients of %d layers agree (rtol 1e-3, atol 1e-5)\n",
               d->name, layers);
    if (state) {
        /* eval mode uses the running estimates on both paths */
        lf = cnn_plan_forward(pf, labels, batch, 0, NULL);
        lr = cnn_plan_forward(pr, labels, batch, 0, NULL);
        snprintf(what, sizeof what, "%s: eval logits", d->name);
        check_close(what, cnn_plan_logits(pf), cnn_plan_logits(pr), (size_t)batch * d->classes,
                    1e-4, 1e-5);
    }
    cnn_plan_destroy(pf);
    cnn_plan_destroy(pr);
    cnn_model_destroy(mf);
    cnn_model_destroy(mr);
}

/* A synthetic 12x12x3 batch: class k is a bright 3x2 patch at a position
 * given by k, on noise. */
__attribute__((unused)) static void synth_batch(float *x, uint8_t *labels, int batch,
                                                cnn_rng *rng)
{
    for (int i = 0; i < batch; i++) {
        int k = (int)cnn_rng_below(rng, 10);
        labels[i] = (uint8_t)k;
        float *img = x + (size_t)i * 12 * 12 * 3;
        for (int j = 0; j < 12 * 12 * 3; j++)
            img[j] = (float)(0.3 * cnn_rng_normal(rng));
        int py = 1 + (k / 5) * 6, px = 1 + (k % 5) * 2;
        for (int dy = 0; dy < 3; dy++)
            for (int dx = 0; dx < 2; dx++)
                for (int c = 0; c < 3; c++)
                    img[((py + dy) * 12 + px + dx) * 3 + c] += 1.5f;
    }
}

/* steps optimizer steps of plan p (model m, batch 32, 12x12x3 input) on
 * synth_batch batches drawn from seed 5: the mean loss of the first 10 steps
 * in *head and of the last 10 in *tail. */
__attribute__((unused)) static void synth_train(cnn_plan *p, cnn_model *m, cnn_optim *opt,
                                                float lr, int steps, double *head,
                                                double *tail)
{
    cnn_rng rng;
    cnn_rng_init(&rng, 5, CNN_STREAM_BENCH, 0);
    uint8_t labels[32];
    *head = *tail = 0;
    for (int step = 0; step < steps; step++) {
        synth_batch(cnn_plan_input(p), labels, 32, &rng);
        float loss = cnn_plan_forward(p, labels, 32, 1, NULL);
        cnn_plan_backward(p);
        cnn_optim_step(opt, lr, m->params, m->grads);
        if (step < 10)
            *head += loss / 10;
        if (step >= steps - 10)
            *tail += loss / 10;
    }
}

#endif
