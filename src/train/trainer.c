/* trainer.c: one training run, from the data folder to a filled run folder.
 *
 * Reproducibility: one seed drives the split (CNN_STREAM_SPLIT), the subset
 * (CNN_STREAM_SUBSET), initialisation (CNN_STREAM_INIT), each epoch's shuffle
 * (CNN_STREAM_SHUFFLE, epoch), augmentation (per global step and image) and
 * dropout masks (per global step and layer); with the same thread count the
 * metrics are bit-identical.
 * The step allocates nothing: plans are made before the first epoch, one for
 * the batch size, one for the epoch's last, shorter batch when there is one
 * (none with --drop-last), and an inference plan for validation. A run ends
 * after total_steps steps (fractional --epochs end inside the last epoch).
 * Crash safety: after each epoch metrics.csv, the weights and last of all
 * resume.state are written atomically, status.txt only at the end; a run
 * killed anywhere goes on with --resume after the epoch resume.state holds
 * (metrics.csv's rows past it are dropped) and ends as if never killed.
 */
#include <math.h>
#include <omp.h>
#include <stdarg.h>
#include <string.h>

#include "cnnlab/cnnlab.h"
#include "core/core.h"
#include "train/resume.h"

#define MAX_WEIGHT_RANGES 1024
#define EVAL_BATCH 1000 /* images per forward of the validation plan */

void cnn_train_config_defaults(cnn_train_config *c)
{
    memset(c, 0, sizeof *c);
    c->model = "lenet5";
    cnn_model_options_defaults(&c->model_options);
    c->epochs = 10;
    c->batch_size = 128;
    cnn_optim_config_defaults(&c->optim, CNN_OPT_SGD);
    c->optim.lr = 0.01f;
    c->optim.momentum = 0.9f;
    c->optim.weight_decay = 5e-4f;
    c->sched.kind = CNN_SCHED_NONE;
    cnn_augment_defaults(&c->augment);
    c->seed = 1;
    c->threads = omp_get_num_procs();
    c->val_fraction = 0.1;
    for (int i = 0; i < CNN_PARAM_ROLE_COUNT; i++)
        c->lr_mult[i] = 1.0f;
    cnn_lookahead_config_defaults(&c->lookahead);
    c->lookahead.every = 0;
    c->whiten_images = 5000;
    c->whiten_eps = 5e-4f;
    c->exec = (cnn_plan_config){CNN_BACKEND_FAST, CNN_PRECISION_FP32, CNN_CONV_AUTO};
}

static void info(const cnn_train_hooks *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void info(const cnn_train_hooks *h, const char *fmt, ...)
{
    if (!h || !h->on_info)
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    h->on_info(h->user, line);
}

static cnn_status write_text(const char *dir, const char *name, const char *text, cnn_error *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return cnn_file_write_atomic(path, text, strlen(text), err);
}

/* A growing text buffer (config.txt, metrics.csv). */
typedef struct text {
    char *buf;
    size_t len, cap;
} text;

static void put(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if (t->len + (size_t)n + 1 > t->cap) {
        size_t cap = (t->len + (size_t)n + 1) * 2 + 256;
        char *p = realloc(t->buf, cap);
        CNN_ASSERT(p != NULL); /* a few kilobytes: running out here is not recoverable */
        t->buf = p;
        t->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    t->len += (size_t)n;
}

static cnn_status write_config(const cnn_train_config *c, const cnn_model *m, const cnn_norm *norm,
                               int n_train, int n_val, const char *data_dir, cnn_error *err)
{
    text t = {0};
    const cnn_model_options *mo = &m->options;
    const cnn_optim_config *o = &c->optim;
    const cnn_sched_config *s = &c->sched;
    put(&t, "# cnnlab %s run configuration\n", CNNLAB_VERSION);
    put(&t, "# reproduce with: %s\n", c->command_line ? c->command_line : "(library call)");
    put(&t, "model = %s\nmodel_vars = %s\nparameters = %zu\n", c->model,
        c->model_vars ? c->model_vars : "", m->param_count);
    put(&t, "norm = %s\ngroups = %d\nactivation = %s\ndropout = %.7g\ndropconnect = %.7g\n"
            "kernel_size = %d\ninit = %s\n",
        mo->norm == CNN_NORM_DEFAULT ? "model default" : cnn_norm_kind_name(mo->norm), mo->groups,
        mo->act == CNN_ACT_NONE ? "model default" : cnn_act_name(mo->act),
        (double)(mo->dropout < 0 ? 0 : mo->dropout), (double)mo->dropconnect, mo->kernel_size,
        cnn_init_kind_name(cnn_model_init_kind(m)));
    put(&t, "epochs = %d\nepochs_fraction = %.7g\nbatch_size = %d\ndrop_last = %d\n"
            "loss_reduction = %s\n", c->epochs, c->epochs_fraction, c->batch_size, c->drop_last,
        c->loss_sum ? "sum" : "mean");
    put(&t, "lr_mult =");
    for (int i = 0; i < CNN_PARAM_ROLE_COUNT; i++)
        put(&t, " %s=%.7g", cnn_param_role_name((cnn_param_role)i), (double)c->lr_mult[i]);
    put(&t, "\nlookahead_every = %d\nlookahead_base = %.7g\nlookahead_power = %.7g\n"
            "whiten_images = %d\nwhiten_eps = %.7g\nwhiten_bias_epochs = %d\ntta = %d\n",
        c->lookahead.every, c->lookahead.base, c->lookahead.power, c->whiten_images,
        (double)c->whiten_eps, c->whiten_bias_epochs, c->tta);
    put(&t, "optimizer = %s\nlr = %.7g\nmomentum = %.7g\nnesterov = %d\nweight_decay = %.7g\n"
            "beta1 = %.7g\nbeta2 = %.7g\neps = %.7g\n",
        cnn_opt_kind_name(o->kind), (double)o->lr, (double)o->momentum, o->nesterov,
        (double)o->weight_decay, (double)o->beta1, (double)o->beta2, (double)o->eps);
    put(&t, "lr_schedule = %s\nstep_size = %d\ngamma = %.7g\nmilestones = ",
        cnn_sched_kind_name(s->kind), s->step_size, (double)s->gamma);
    for (int i = 0; i < s->milestone_count; i++)
        put(&t, "%s%d", i ? "," : "", s->milestones[i]);
    put(&t, "\nmin_lr = %.7g\npatience = %d\nwarmup_epochs = %d\nwarmup_frac = %.7g\n"
            "lr_start_factor = %.7g\nlr_end_factor = %.7g\n", (double)s->min_lr, s->patience,
        s->warmup_epochs, s->warmup_frac, s->start_factor, s->end_factor);
    put(&t, "l2 = %.7g\nclip_grad_norm = %.7g\nclip_grad_value = %.7g\nlabel_smoothing = %.7g\n"
            "early_stop = %d\n",
        (double)c->l2, (double)c->clip_grad_norm, (double)c->clip_grad_value,
        (double)c->label_smoothing, c->early_stop);
    const cnn_augment *a = &c->augment;
    put(&t, "augment = %s%s%s%s%s%s\ncrop_padding = %d\ntranslate_padding = %d\ncutout_size = %d\n"
            "input_noise = %.7g\n",
        a->crop || a->translate || a->flip || a->altflip || a->cutout ? "" : "none",
        a->crop ? "crop " : "", a->translate ? "translate " : "", a->flip ? "flip " : "",
        a->altflip ? "altflip " : "", a->cutout ? "cutout" : "", a->crop_padding,
        a->translate_padding, a->cutout_size, (double)a->input_noise);
    put(&t, "seed = %llu\nthreads = %d\nval_fraction = %.7g\nsubset = %d\ntrain_images = %d\n"
            "val_images = %d\ndata = %s\nbackend = %s\nprecision = %s\nconv = %s\n",
        (unsigned long long)c->seed, c->threads, c->val_fraction, c->subset, n_train, n_val, data_dir,
        c->exec.backend == CNN_BACKEND_FAST ? "fast" : "reference",
        cnn_precision_name(c->exec.precision), cnn_conv_algo_name(c->exec.conv));
    put(&t, "norm_mean = %.6f %.6f %.6f\nnorm_std = %.6f %.6f %.6f\n", (double)norm->mean[0],
        (double)norm->mean[1], (double)norm->mean[2], (double)norm->std[0], (double)norm->std[1],
        (double)norm->std[2]);
    cnn_status st = write_text(c->out_dir, "config.txt", t.buf, err);
    free(t.buf);
    return st;
}

typedef struct run {
    const cnn_train_config *cfg;
    cnn_dataset data;
    int *train_idx, *val_idx, n_train, n_val;
    cnn_norm norm;
    cnn_model *model;
    cnn_plan *plan, *tail; /* tail: the last, shorter batch of an epoch (or NULL) */
    cnn_plan *eval;        /* inference plan for validation (folded batch norm) */
    int steps_per_epoch;
    long total_steps;      /* the run's length in steps */
    cnn_optim opt;
    cnn_lookahead la;      /* la.params NULL: no lookahead */
    cnn_sched sched;
    cnn_range weights[MAX_WEIGHT_RANGES];
    int n_weights;
    text csv;
    int lock;              /* the run folder's lock (cnn_dir_lock), or -1 */
} run;

static void run_free(run *r)
{
    cnn_plan_destroy(r->plan);
    cnn_plan_destroy(r->tail);
    cnn_plan_destroy(r->eval);
    cnn_optim_free(&r->opt);
    if (r->la.params)
        cnn_lookahead_free(&r->la);
    cnn_model_destroy(r->model);
    cnn_dataset_free(&r->data);
    free(r->train_idx);
    free(r->val_idx);
    free(r->csv.buf);
    cnn_dir_unlock(r->lock);
}

static cnn_status save_weights(run *r, const char *name, cnn_error *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", r->cfg->out_dir, name);
    return cnn_checkpoint_save(path, r->model, &r->norm, err);
}

static cnn_status write_status(const run *r, const char *status, int epochs_run, int best_epoch,
                               double best_acc, double tta_acc, const char *why, cnn_error *err)
{
    char buf[2048], tta[64] = "";
    if (tta_acc >= 0)
        snprintf(tta, sizeof tta, "final_val_acc_tta = %.6f\n", tta_acc);
    snprintf(buf, sizeof buf, "status = %s\nepochs_run = %d\nbest_epoch = %d\nbest_val_acc = %.6f\n"
             "%sdetail = %s\n", status, epochs_run, best_epoch, best_acc, tta, why);
    return write_text(r->cfg->out_dir, "status.txt", buf, err);
}

/* Convolutions with init=whiten: patch-whitening filters from the first
 * whiten_images images of the train split (the bias stays as initialised). */
static cnn_status whiten_layers(run *r, cnn_error *err)
{
    const cnn_train_config *c = r->cfg;
    cnn_model *m = r->model;
    for (int i = 0; i < m->count; i++) {
        const cnn_model_layer *l = &m->layers[i];
        if (l->desc.kind != CNN_LAYER_CONV || l->desc.init != CNN_LAYER_INIT_WHITEN)
            continue;
        int count = c->whiten_images < r->n_train ? c->whiten_images : r->n_train;
        cnn_status st = cnn_whiten_weights(&r->data, r->train_idx, count, &r->norm, l->desc.k,
                                           l->desc.k, c->whiten_eps, m->params + l->param_offset,
                                           l->desc.out, err);
        if (st)
            return st;
    }
    return CNN_STATUS_OK;
}

/* The optimizer's parameter groups for epoch (1-based): --lr-mult per role
 * (weight decay divided by the multiplier), parameters the model file froze,
 * and whitened biases after --whiten-bias-epochs. */
static cnn_status set_groups(run *r, int epoch, cnn_error *err)
{
    const cnn_train_config *c = r->cfg;
    int n = cnn_model_param_ranges(r->model, NULL, 0);
    cnn_param_range *ranges = malloc((size_t)n * sizeof *ranges);
    cnn_param_group *groups = malloc((size_t)n * sizeof *groups);
    if (!ranges || !groups) {
        free(ranges);
        free(groups);
        return cnn_error_set(err, CNN_STATUS_NO_MEMORY, "no memory for %d parameter groups", n);
    }
    cnn_model_param_ranges(r->model, ranges, n);
    unsigned char *want = calloc((size_t)r->model->count, 1);
    if (!want) {
        free(ranges);
        free(groups);
        return cnn_error_set(err, CNN_STATUS_NO_MEMORY, "no memory for %d layers", r->model->count);
    }
    int any = 0;
    for (int i = 0; i < n; i++) {
        float mult = c->lr_mult[ranges[i].role];
        const cnn_layer_desc *d = &r->model->layers[ranges[i].layer].desc;
        int bias_done = c->whiten_bias_epochs > 0 && epoch > c->whiten_bias_epochs &&
                        d->init == CNN_LAYER_INIT_WHITEN && ranges[i].role == CNN_PARAM_BIAS;
        if (ranges[i].frozen || bias_done)
            mult = 0;
        groups[i] = (cnn_param_group){{ranges[i].offset, ranges[i].count}, mult,
                                      mult > 0 ? 1.0f / mult : 0.0f};
        any |= mult != 1.0f;
        want[ranges[i].layer] |= mult > 0;
    }
    cnn_status st = cnn_optim_set_groups(&r->opt, groups, any ? n : 0, err);
    /* layers nobody trains (nor anything before them) skip their backward */
    if (!st && c->exec.backend == CNN_BACKEND_FAST) {
        cnn_plan_set_wanted_grads(r->plan, want);
        if (r->tail)
            cnn_plan_set_wanted_grads(r->tail, want);
    }
    free(want);
    free(ranges);
    free(groups);
    return st;
}

/* a (count) *= f */
static void scale_block(float *a, size_t count, float f)
{
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < count; i++)
        a[i] *= f;
}

static cnn_status prepare(run *r, const cnn_train_hooks *hooks, cnn_error *err)
{
    const cnn_train_config *c = r->cfg;
    cnn_status st;
    const cnn_model_desc *desc;
    if ((st = cnn_model_load(c->model, c->model_vars, &desc, err)))
        return st;
    char path[4200];
    if (c->resume) {
        /* one process at a time in a run folder (a second --resume is refused) */
        if (cnn_path_exists(c->out_dir) &&
            (st = cnn_dir_lock(c->out_dir, "--resume: run folder", &r->lock, err)))
            return st;
        /* what a killed run was writing when it died: never renamed, never read */
        if (r->lock >= 0)
            cnn_file_remove_temps(c->out_dir);
        snprintf(path, sizeof path, "%s/status.txt", c->out_dir);
        if (cnn_path_exists(path))
            return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                                 "--resume: run %s has ended (%s says how); there is nothing to "
                                 "continue", c->out_dir, path);
        snprintf(path, sizeof path, "%s/resume.state", c->out_dir);
        if (!cnn_path_exists(path))
            return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                                 "--resume: %s not found: run %s finished no epoch, or was made "
                                 "by a cnnlab without resume; train it again", path, c->out_dir);
    } else if (cnn_dir_nonempty(c->out_dir)) {
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                             "--out: run folder %s already exists and is not empty; choose "
                             "another, nothing in it was changed", c->out_dir);
    }
    /* Everything that can be refused is checked before the data is read. */
    if ((st = cnn_model_check_data(desc, CNN_CIFAR_SIDE, CNN_CIFAR_SIDE, CNN_CIFAR_CHANNELS,
                                   CNN_CIFAR_CLASSES, "CIFAR-10", err)) ||
        (st = cnn_model_create(desc, &c->model_options, &r->model, err)))
        return st;
    char data_dir[4096];
    if ((st = cnn_cifar_locate(c->data_dir, 1, data_dir, sizeof data_dir, err)) ||
        (st = cnn_cifar_load_train(data_dir, &r->data, err)) ||
        (st = cnn_split_make(r->data.count, c->val_fraction, c->seed, &r->train_idx, &r->n_train,
                             &r->val_idx, &r->n_val, err)))
        return st;
    if (c->subset > 0) {
        if (c->subset > r->n_train)
            return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                                 "--subset: expected at most the %d images of the train split, "
                                 "found %d", r->n_train, c->subset);
        cnn_rng rng;
        cnn_rng_init(&rng, c->seed, CNN_STREAM_SUBSET, 0);
        cnn_rng_shuffle(&rng, r->train_idx, r->n_train);
        r->n_train = c->subset;
    }
    cnn_norm_compute(&r->data, r->train_idx, r->n_train, &r->norm);

    cnn_model_init(r->model, c->seed);
    /* airbench takes its lookahead copy before the whitening init */
    if (c->lookahead.every > 0 &&
        (st = cnn_lookahead_init(&r->la, r->model->params, r->model->param_count,
                                 r->model->state, r->model->state_count, err)))
        return st;
    if ((st = whiten_layers(r, err)))
        return st;
    int full = r->n_train / c->batch_size, rest = r->n_train % c->batch_size;
    if (c->drop_last && !full)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                             "--drop-last: the %d training images make no whole batch of "
                             "--batch-size %d", r->n_train, c->batch_size);
    if (c->drop_last)
        rest = 0;
    if ((st = cnn_plan_create(r->model, full ? c->batch_size : rest, &c->exec, 1, &r->plan, err)))
        return st;
    if (full && rest && (st = cnn_plan_create(r->model, rest, &c->exec, 1, &r->tail, err)))
        return st;
    if (r->n_val > 0 && (st = cnn_plan_create(r->model, r->n_val < EVAL_BATCH ? r->n_val : EVAL_BATCH,
                                              &c->exec, 0, &r->eval, err)))
        return st;
    cnn_plan_set_label_smoothing(r->plan, c->label_smoothing);
    if (r->tail)
        cnn_plan_set_label_smoothing(r->tail, c->label_smoothing);
    size_t off[MAX_WEIGHT_RANGES], cnt[MAX_WEIGHT_RANGES];
    r->n_weights = cnn_model_weight_ranges(r->model, off, cnt, MAX_WEIGHT_RANGES);
    for (int i = 0; i < r->n_weights; i++)
        r->weights[i] = (cnn_range){off[i], cnt[i]};
    r->steps_per_epoch = full + (rest ? 1 : 0);
    r->total_steps = (long)r->steps_per_epoch * c->epochs;
    cnn_sched_config sc = c->sched;
    sc.base_lr = c->optim.lr;
    sc.epochs = c->epochs;
    sc.steps_per_epoch = r->steps_per_epoch;
    if (c->epochs_fraction > 0) {
        r->total_steps = (long)ceil(c->epochs_fraction * r->steps_per_epoch - 1e-9);
        sc.total_steps = (int)r->total_steps;
    }
    if ((st = cnn_sched_init(&r->sched, &sc, err)) ||
        (st = cnn_optim_init(&r->opt, &c->optim, r->model->param_count, err)) ||
        (st = set_groups(r, 1, err)))
        return st;
    const cnn_model_file *file = cnn_model_file_of(desc);
    if (!c->resume && ((st = cnn_mkdir_p(c->out_dir, err)) ||
                       (st = cnn_dir_lock(c->out_dir, "--out: run folder", &r->lock, err)) ||
                       (cnn_dir_nonempty(c->out_dir) && /* filled by another process meanwhile */
                        (st = cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "--out: run folder "
                                            "%s was filled by another process meanwhile; nothing "
                                            "in it was changed", c->out_dir))) ||
                       (st = write_config(c, r->model, &r->norm, r->n_train, r->n_val, data_dir,
                                          err)) ||
                       (file && (st = write_text(c->out_dir, "model.cnn", file->text, err)))))
        return st;
    info(hooks, "model %s: %zu parameters, %.1f MMAC per image; %d train / %d validation images "
         "from %s; %d threads; plan memory %.1f MiB",
         desc->name, r->model->param_count, cnn_model_macs(r->model) / 1e6, r->n_train, r->n_val,
         data_dir, c->threads,
         (double)(cnn_plan_bytes(r->plan) + (r->tail ? cnn_plan_bytes(r->tail) : 0)) / 1048576.0);
    return CNN_STATUS_OK;
}

/* What the run has done so far: all of it, besides the model and the optimizer,
 * that resume.state carries. */
typedef struct progress {
    int epoch; /* epochs finished */
    long global_step;
    double best_score; /* best validation accuracy (the epoch without a split); -1 before any */
    int best_epoch, since_best;
} progress;

static cnn_status save_resume(const run *r, const progress *g, cnn_error *err)
{
    const cnn_model *m = r->model;
    cnn_resume s = {.epoch = g->epoch, .best_epoch = g->best_epoch, .since_best = g->since_best,
                    .bad_epochs = r->sched.bad_epochs, .n_train = r->n_train,
                    .global_step = g->global_step, .opt_steps = r->opt.t,
                    .best_score = g->best_score, .plateau_lr = r->sched.plateau_lr,
                    .plateau_best = r->sched.best, .param_count = m->param_count,
                    .state_count = m->state_count, .m_count = r->opt.m ? r->opt.count : 0,
                    .v_count = r->opt.v ? r->opt.count : 0, .order = r->train_idx,
                    .params = m->params, .state = m->state, .m = r->opt.m, .v = r->opt.v};
    char path[4200];
    if (r->la.params) { /* the lookahead shadow, as a weights file of the same model */
        cnn_model shadow = *m;
        shadow.params = r->la.params;
        shadow.state = r->la.state;
        snprintf(path, sizeof path, "%s/lookahead.weights", r->cfg->out_dir);
        cnn_status st = cnn_checkpoint_save(path, &shadow, &r->norm, err);
        if (st)
            return st;
    }
    snprintf(path, sizeof path, "%s/resume.state", r->cfg->out_dir);
    return cnn_resume_save(path, &s, err);
}

/* Restores the run from its resume.state, and metrics.csv's first g->epoch
 * rows into r->csv (the file may hold one epoch more, if the run stopped
 * between writing it and the state). */
static cnn_status load_resume(run *r, progress *g, cnn_error *err)
{
    const cnn_train_config *c = r->cfg;
    cnn_model *m = r->model;
    char path[4200];
    snprintf(path, sizeof path, "%s/resume.state", c->out_dir);
    cnn_resume s;
    cnn_status st = cnn_resume_read(path, &s, err);
    if (st)
        return st;
    size_t m_count = r->opt.m ? r->opt.count : 0, v_count = r->opt.v ? r->opt.count : 0;
    if (s.n_train != r->n_train || s.param_count != m->param_count ||
        s.state_count != m->state_count || s.m_count != m_count || s.v_count != v_count) {
        st = cnn_error_set(err, CNN_STATUS_FORMAT,
                           "%s: holds %d training images, %zu parameters, %zu state values and "
                           "%zu + %zu optimizer values; this configuration has %d, %zu, %zu and "
                           "%zu + %zu; restore the run's own config.txt, or train it again", path, s.n_train, s.param_count,
                           s.state_count, s.m_count, s.v_count, r->n_train, m->param_count,
                           m->state_count, m_count, v_count);
        goto out;
    }
    /* The last epoch: a run killed after its last checkpoint, before its
     * status.txt; it only finishes (final validation, status.txt). */
    if (s.epoch < 1 || s.epoch > c->epochs) {
        st = cnn_error_set(err, CNN_STATUS_FORMAT, "%s: holds epoch %d of %d; expected one from "
                           "1 to %d", path, s.epoch, c->epochs, c->epochs);
        goto out;
    }
    for (int i = 0; i < s.n_train; i++)
        if (s.order[i] < 0 || s.order[i] >= r->data.count) {
            st = cnn_error_set(err, CNN_STATUS_FORMAT, "%s: image index %d at position %d is "
                               "outside the %d training images", path, s.order[i], i,
                               r->data.count);
            goto out;
        }
    /* metrics.csv: its header and one row per finished epoch */
    snprintf(path, sizeof path, "%s/metrics.csv", c->out_dir);
    unsigned char *csv;
    size_t size;
    if ((st = cnn_file_read_all(path, &csv, &size, err)))
        goto out;
    size_t keep = 0; /* bytes up to the end of row s.epoch */
    int lines = 0;
    while (keep < size && lines <= s.epoch)
        lines += csv[keep++] == '\n';
    if (lines != s.epoch + 1) {
        free(csv);
        st = cnn_error_set(err, CNN_STATUS_FORMAT, "%s: expected a header and at least %d rows "
                           "(the epochs resume.state holds), found %d lines; the run cannot be "
                           "resumed, train it again", path, s.epoch, lines);
        goto out;
    }
    r->csv.len = 0;
    put(&r->csv, "%.*s", (int)keep, (const char *)csv);
    free(csv);
    memcpy(r->train_idx, s.order, (size_t)s.n_train * sizeof(int));
    memcpy(m->params, s.params, m->param_count * sizeof(float));
    if (m->state_count) /* a model without norm layers has none (and NULL pointers) */
        memcpy(m->state, s.state, m->state_count * sizeof(float));
    if (m_count)
        memcpy(r->opt.m, s.m, m_count * sizeof(float));
    if (v_count)
        memcpy(r->opt.v, s.v, v_count * sizeof(float));
    r->opt.t = s.opt_steps;
    if (r->la.params) {
        cnn_model shadow = *m;
        shadow.params = r->la.params;
        shadow.state = r->la.state;
        cnn_checkpoint ck;
        snprintf(path, sizeof path, "%s/lookahead.weights", c->out_dir);
        if ((st = cnn_checkpoint_read(path, &ck, err)))
            goto out;
        st = cnn_checkpoint_apply(&ck, &shadow, path, err);
        cnn_checkpoint_free(&ck);
        if (st)
            goto out;
    }
    r->sched.bad_epochs = s.bad_epochs;
    r->sched.plateau_lr = s.plateau_lr;
    r->sched.best = s.plateau_best;
    *g = (progress){.epoch = s.epoch, .global_step = s.global_step, .best_score = s.best_score,
                    .best_epoch = s.best_epoch, .since_best = s.since_best};
out:
    cnn_resume_free(&s);
    return st;
}

static cnn_status check_config(const cnn_train_config *c, cnn_error *err)
{
    if (c->epochs < 1)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "--epochs: expected >= 1, found %d", c->epochs);
    if (c->batch_size < 1)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "--batch-size: expected >= 1, found %d", c->batch_size);
    if (!(c->val_fraction >= 0 && c->val_fraction < 1))
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                             "--val-fraction: expected a number in [0, 1), found %g", c->val_fraction);
    if (!(c->label_smoothing >= 0 && c->label_smoothing < 1))
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                             "--label-smoothing: expected a number in [0, 1), found %g",
                             (double)c->label_smoothing);
    if (c->early_stop && c->val_fraction == 0)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                             "--early-stop: needs a validation split, found --val-fraction 0");
    if (c->sched.kind == CNN_SCHED_PLATEAU && c->val_fraction == 0)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                             "--lr-schedule plateau: needs a validation split, found --val-fraction 0");
    return CNN_STATUS_OK;
}

/* 1 when --early-stop ends the run after epoch (why says so). */
static int stops_early(const cnn_train_config *c, int since_best, int epoch, int best_epoch,
                       char *why, size_t size)
{
    if (!c->early_stop || since_best < c->early_stop || epoch >= c->epochs)
        return 0;
    snprintf(why, size, "no better validation accuracy for %d epochs after epoch %d; stopped "
             "after epoch %d of %d; best.weights are epoch %d's", c->early_stop, best_epoch,
             epoch, c->epochs, best_epoch);
    return 1;
}

cnn_status cnn_train(const cnn_train_config *c, const cnn_train_hooks *hooks, cnn_error *err)
{
    cnn_status st = check_config(c, err);
    if (st)
        return st;
    omp_set_num_threads(c->threads);
    run r = {.cfg = c, .lock = -1};
    if ((st = prepare(&r, hooks, err))) {
        run_free(&r);
        return st;
    }
    put(&r.csv, "epoch,train_loss,train_acc,val_loss,val_acc,lr,seconds,images_per_second%s\n",
        c->l2 > 0 ? ",l2_penalty" : "");
    progress done = {.best_score = -1};
    if (c->resume) {
        if ((st = load_resume(&r, &done, err))) {
            run_free(&r);
            return st;
        }
        info(hooks, "resuming %s after epoch %d of %d", c->out_dir, done.epoch, c->epochs);
    }
    int batch = cnn_plan_batch(r.plan);
    int steps = r.steps_per_epoch;
    uint8_t *labels = malloc((size_t)batch);
    double best_acc = done.best_score;
    int best_epoch = done.best_epoch, since_best = done.since_best, epoch = 0;
    long global_step = done.global_step;
    const char *status = "finished";
    char why[512] = "";
    int augment = cnn_augment_active(&c->augment);
    /* A run killed after the checkpoint of the epoch that stopped it early
     * stops again, where it stopped. */
    int stopped = c->resume && stops_early(c, since_best, done.epoch, best_epoch, why,
                                           sizeof why);
    if (stopped) {
        status = "stopped early";
        info(hooks, "early stop: %s", why);
    }
    for (epoch = done.epoch + 1; !stopped && epoch <= c->epochs; epoch++) {
        double t0 = cnn_now();
        cnn_rng rng;
        cnn_rng_init(&rng, c->seed, CNN_STREAM_SHUFFLE, (uint64_t)epoch);
        cnn_rng_shuffle(&rng, r.train_idx, r.n_train);
        double loss_sum = 0, l2_sum = 0;
        float lr = c->optim.lr;
        int correct = 0, seen = 0;
        if (c->whiten_bias_epochs > 0 && (st = set_groups(&r, epoch, err)))
            break;
        for (int s = 0; s < steps && global_step < r.total_steps; s++) {
            cnn_plan *p = (s * batch + batch <= r.n_train) ? r.plan : r.tail;
            int rows = cnn_plan_batch(p);
            if (augment)
                cnn_batch_fill_augmented(&r.data, r.train_idx + s * batch, rows, &r.norm,
                                         &c->augment, c->seed, (uint64_t)global_step,
                                         epoch - 1, cnn_plan_input(p), labels);
            else
                cnn_batch_fill(&r.data, r.train_idx + s * batch, rows, &r.norm,
                               cnn_plan_input(p), labels);
            cnn_plan_set_seed(p, c->seed, (uint64_t)global_step);
            float loss = cnn_plan_forward(p, labels, rows, 1, &correct);
            global_step++;
            if (!isfinite(loss)) {
                char kept[4200];
                if (epoch > 1)
                    snprintf(kept, sizeof kept, "the weights of epoch %d stay in %s", epoch - 1,
                             c->out_dir);
                else
                    snprintf(kept, sizeof kept, "no epoch finished, so no weights were saved");
                st = cnn_error_set(err, CNN_STATUS_NUMERIC,
                                   "the training loss became %s at epoch %d, step %d of %d "
                                   "(step %ld overall); training stopped and %s; try a lower "
                                   "--lr (now %g) or --clip-grad-norm",
                                   isnan(loss) ? "NaN" : "infinite", epoch, s + 1, steps,
                                   global_step, kept, (double)c->optim.lr);
                status = "diverged";
                snprintf(why, sizeof why, "loss %s at epoch %d step %d", isnan(loss) ? "NaN" : "inf",
                         epoch, s + 1);
                break;
            }
            cnn_plan_backward(p);
            if (c->loss_sum) /* the gradient of the summed loss */
                scale_block(r.model->grads, r.model->param_count, (float)rows);
            if (c->l2 > 0)
                l2_sum += cnn_l2_penalty(c->l2, r.weights, r.n_weights, r.model->params,
                                         r.model->grads) * rows;
            if (c->clip_grad_norm > 0)
                cnn_clip_grad_norm(r.model->grads, r.model->param_count, c->clip_grad_norm);
            if (c->clip_grad_value > 0)
                cnn_clip_grad_value(r.model->grads, r.model->param_count, c->clip_grad_value);
            lr = cnn_sched_lr(&r.sched, epoch - 1, s);
            cnn_optim_step(&r.opt, lr, r.model->params, r.model->grads);
            if (r.la.params && global_step % c->lookahead.every == 0)
                cnn_lookahead_update(&r.la, r.model->params, r.model->state,
                                     cnn_lookahead_decay(&c->lookahead, global_step, r.total_steps));
            if (r.la.params && global_step == r.total_steps) /* the network becomes the average */
                cnn_lookahead_update(&r.la, r.model->params, r.model->state, 1.0f);
            loss_sum += (double)loss * rows;
            seen += rows;
            if (hooks && hooks->on_step)
                hooks->on_step(hooks->user, epoch, s + 1, steps, loss);
        }
        if (st)
            break;
        double train_seconds = cnn_now() - t0;
        cnn_eval_result val = {0};
        if (r.n_val > 0) {
            cnn_plan_freeze(r.eval);
            cnn_evaluate(r.eval, r.model, &r.data, r.val_idx, r.n_val, &r.norm, &val);
        }
        cnn_epoch_stats es = {
            .epoch = epoch,
            .train_loss = loss_sum / seen,
            .train_acc = (double)correct / seen,
            .val_loss = r.n_val ? val.loss : NAN,
            .val_acc = r.n_val ? val.accuracy : NAN,
            .lr = lr,
            .seconds = cnn_now() - t0,
            .images_per_second = seen / train_seconds,
            .l2_penalty = l2_sum / seen,
        };
        /* Without a validation split the last epoch counts as the best. */
        double score = r.n_val ? val.accuracy : epoch;
        es.best = score > best_acc;
        put(&r.csv, "%d,%.6f,%.6f,%.6f,%.6f,%.9g,%.3f,%.1f", es.epoch, es.train_loss, es.train_acc,
            es.val_loss, es.val_acc, es.lr, es.seconds, es.images_per_second);
        if (c->l2 > 0)
            put(&r.csv, ",%.6f", es.l2_penalty);
        put(&r.csv, "\n");
        if ((st = write_text(c->out_dir, "metrics.csv", r.csv.buf, err)) ||
            (st = save_weights(&r, "last.weights", err)))
            break;
        if (es.best) {
            best_acc = score;
            best_epoch = epoch;
            since_best = 0;
            if ((st = save_weights(&r, "best.weights", err)))
                break;
        } else {
            since_best++;
        }
        if (r.n_val > 0)
            cnn_sched_epoch_end(&r.sched, val.loss);
        progress now = {epoch, global_step, best_acc, best_epoch, since_best};
        if ((st = save_resume(&r, &now, err)))
            break;
        if (hooks && hooks->on_epoch)
            hooks->on_epoch(hooks->user, &es);
        if (stops_early(c, since_best, epoch, best_epoch, why, sizeof why)) {
            status = "stopped early";
            info(hooks, "early stop: %s", why);
            epoch++;
            break;
        }
    }
    double tta_acc = -1;
    if (st == CNN_STATUS_OK && c->tta > 0 && r.n_val > 0) {
        cnn_eval_result val;
        double t0 = cnn_now();
        cnn_plan_freeze(r.eval);
        cnn_evaluate_tta(r.eval, r.model, &r.data, r.val_idx, r.n_val, &r.norm, c->tta, &val);
        tta_acc = val.accuracy;
        info(hooks, "final validation with TTA level %d: acc %.2f%%, loss %.4f (%.1f s)", c->tta,
             100 * val.accuracy, val.loss, cnn_now() - t0);
    }
    if (st == CNN_STATUS_OK || st == CNN_STATUS_NUMERIC) {
        cnn_error werr;
        if (!*why)
            snprintf(why, sizeof why, "all %d epochs ran", c->epochs);
        if (write_status(&r, status, epoch - 1, best_epoch, best_acc < 0 ? 0 : best_acc, tta_acc, why,
                         st ? &werr : err) && !st)
            st = err->status;
    }
    free(labels);
    run_free(&r);
    return st;
}
