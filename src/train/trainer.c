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
 * Under mpirun the run is data-parallel (shard.c): each rank trains on its
 * shard of every global batch, the gradients are summed between the steps'
 * backward and optimizer, and rank 0 alone writes the run folder.
 */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "cnnlab/cnnlab.h"
#include "core/core.h"
#include "dist/dist.h"
#include "train/run.h"

#define EVAL_BATCH 1000 /* images per forward of the validation plan */

/* info(hooks, fmt, ...): a line to the caller's on_info, if any */
#define info(h, ...) cnn_notef((h) ? (h)->on_info : NULL, (h) ? (h)->user : NULL, __VA_ARGS__)

static void run_free(run *r)
{
    cnn_plan_destroy(r->plan);
    cnn_plan_destroy(r->tail);
    cnn_plan_destroy(r->eval);
    cnn_optim_free(&r->opt);
    cnn_muon_free(&r->muon);
    if (r->la.params)
        cnn_lookahead_free(&r->la);
    cnn_model_destroy(r->model);
    cnn_dataset_free(&r->data);
    free(r->train_idx);
    free(r->val_idx);
    cnn_text_free(&r->csv);
    free(r->bn_sync.buf);
    free(r->untrained);
    cnn_dir_unlock(r->lock);
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

/* 1 if Muon updates this range: a trainable convolution's filters. */
static int muon_owns(const run *r, const cnn_param_range *pr)
{
    return r->cfg->muon.lr > 0 && pr->role == CNN_PARAM_WEIGHT && !pr->frozen &&
           r->model->layers[pr->layer].desc.kind == CNN_LAYER_CONV;
}

/* The optimizer's parameter groups for epoch (1-based): --lr-mult per role
 * (weight decay divided by the multiplier), parameters the model file froze,
 * whitened biases after --whiten-bias-epochs, and Muon's filters (frozen for
 * the base optimizer, trained by Muon). */
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
    cnn_range *untrained = realloc(r->untrained, ((size_t)n + 1) * sizeof *untrained);
    if (untrained)
        r->untrained = untrained;
    if (!want || !untrained) {
        free(want);
        free(ranges);
        free(groups);
        return cnn_error_set(err, CNN_STATUS_NO_MEMORY, "no memory for %d layers", r->model->count);
    }
    int any = 0;
    r->n_untrained = 0;
    for (int i = 0; i < n; i++) {
        float mult = c->lr_mult[ranges[i].role];
        const cnn_layer_desc *d = &r->model->layers[ranges[i].layer].desc;
        int bias_done = c->whiten_bias_epochs > 0 && epoch > c->whiten_bias_epochs &&
                        d->init == CNN_LAYER_INIT_WHITEN && ranges[i].role == CNN_PARAM_BIAS;
        if (ranges[i].frozen || bias_done)
            mult = 0;
        int muon = muon_owns(r, &ranges[i]);
        groups[i] = (cnn_param_group){{ranges[i].offset, ranges[i].count}, muon ? 0.0f : mult,
                                      mult > 0 ? 1.0f / mult : 0.0f};
        any |= muon || mult != 1.0f;
        want[ranges[i].layer] |= muon || mult > 0;
        /* frozen as by PyTorch's requires_grad=False (an --lr-mult of 0 is
         * not: its gradient counts in the clipping there) */
        if (ranges[i].frozen || bias_done)
            r->untrained[r->n_untrained++] = (cnn_range){ranges[i].offset, ranges[i].count};
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

/* --muon-lr: Muon for the trainable convolution filters, its momentum kept in
 * the base optimizer's momentum block (where resume.state saves it). */
static cnn_status init_muon(run *r, cnn_error *err)
{
    if (r->cfg->muon.lr <= 0)
        return CNN_STATUS_OK;
    if (!r->opt.m)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "--muon-lr: the other parameters' "
                             "optimizer must keep a momentum block for Muon's to live in: "
                             "--optimizer sgd or rmsprop with --momentum above 0, adam or adamw "
                             "(found %s with momentum %g)", cnn_opt_kind_name(r->cfg->optim.kind),
                             (double)r->cfg->optim.momentum);
    int n = cnn_model_param_ranges(r->model, NULL, 0), k = 0;
    cnn_param_range *ranges = malloc(sizeof *ranges * (size_t)n);
    cnn_muon_matrix *mats = malloc(sizeof *mats * (size_t)n);
    if (!ranges || !mats) {
        free(ranges);
        free(mats);
        return cnn_error_set(err, CNN_STATUS_NO_MEMORY, "no memory for %d parameter ranges", n);
    }
    cnn_model_param_ranges(r->model, ranges, n);
    for (int i = 0; i < n; i++) {
        if (!muon_owns(r, &ranges[i]))
            continue;
        int rows = r->model->layers[ranges[i].layer].out.c; /* (OC, IC/G, KH, KW) */
        CNN_ASSERT(rows > 0 && ranges[i].count % (size_t)rows == 0);
        mats[k++] = (cnn_muon_matrix){ranges[i].offset, rows, (int)(ranges[i].count / (size_t)rows)};
    }
    cnn_status st = cnn_muon_init(&r->muon, &r->cfg->muon, mats, k, err);
    free(ranges);
    free(mats);
    return st;
}

/* a (count) *= f */
static void scale_block(float *a, size_t count, float f)
{
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < count; i++)
        a[i] *= f;
}

/* The run folder: for --resume one that stopped before its end (locked),
 * else one that does not exist or is empty. */
static cnn_status check_folder(run *r, cnn_error *err)
{
    const cnn_train_config *c = r->cfg;
    cnn_status st;
    char path[4200];
    if (c->resume) {
        /* one process at a time in a run folder (a second --resume is refused) */
        if (r->writer && cnn_path_exists(c->out_dir) &&
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
    } else if (r->writer && cnn_dir_nonempty(c->out_dir)) {
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                             "--out: run folder %s already exists and is not empty; choose "
                             "another, nothing in it was changed", c->out_dir);
    }
    return CNN_STATUS_OK;
}

/* The data: the train split (and its --subset) and the validation split,
 * and the normalisation from the training images. */
static cnn_status load_data(run *r, const cnn_data_source *src, const cnn_data_info *info,
                            cnn_error *err)
{
    const cnn_train_config *c = r->cfg;
    cnn_status st;
    if ((st = cnn_data_load(src, info, 0, &r->data, err)) ||
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

    return CNN_STATUS_OK;
}

/* The plans (the batch, the epoch's last shorter batch, validation), the
 * run's length in steps, the schedule, the optimizer and its groups. */
static cnn_status make_plans(run *r, cnn_error *err)
{
    const cnn_train_config *c = r->cfg;
    cnn_status st;
    int full = r->n_train / c->batch_size, rest = r->n_train % c->batch_size;
    if (c->drop_last && !full)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                             "--drop-last: the %d training images make no whole batch of "
                             "--batch-size %d", r->n_train, c->batch_size);
    if (c->drop_last)
        rest = 0;
    /* each rank's plans hold its shard of the global batches */
    r->batch = full ? c->batch_size : rest;
    int first, shard, tail_shard;
    cnn_shard_rows(r->batch, r->rank, r->ranks, &first, &shard);
    cnn_shard_rows(rest, r->rank, r->ranks, &first, &tail_shard);
    if ((st = cnn_shard_check(r->batch, full ? rest : 0, r->ranks, err)) ||
        (st = cnn_plan_create(r->model, shard, &c->exec, 1, &r->plan, err)))
        return st;
    if (full && rest && (st = cnn_plan_create(r->model, tail_shard, &c->exec, 1, &r->tail, err)))
        return st;
    if (r->n_val > 0 && (st = cnn_plan_create(r->model, r->n_val < EVAL_BATCH ? r->n_val : EVAL_BATCH,
                                              &c->exec, 0, &r->eval, err)))
        return st;
    if ((st = cnn_shard_setup(r, err)))
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
        (st = init_muon(r, err)) || (st = set_groups(r, 1, err)))
        return st;
    return CNN_STATUS_OK;
}

static cnn_status prepare(run *r, const cnn_train_hooks *hooks, cnn_error *err)
{
    const cnn_train_config *c = r->cfg;
    cnn_status st;
    const cnn_model_desc *desc;
    if ((st = cnn_model_load(c->model, c->model_vars, &desc, err)))
        return st;
    if ((st = check_folder(r, err)))
        return st;
    /* Everything that can be refused is checked before the data is read:
     * the data's shape comes from its headers, the model takes what it does
     * not fix from there, and what it fixes must agree. */
    cnn_data_source src;
    cnn_data_info data;
    cnn_train_data_source(c, &src);
    src.note = hooks ? hooks->on_info : NULL;
    src.note_user = hooks ? hooks->user : NULL;
    if ((st = cnn_data_probe(&src, &data, err)) ||
        (st = cnn_model_load_shaped(c->model, c->model_vars,
                                    &(cnn_data_shape){data.h, data.w, data.c, data.classes},
                                    &desc, err)) ||
        (st = cnn_model_check_data(desc, data.h, data.w, data.c, data.classes, data.name, err)) ||
        (st = cnn_model_create(desc, &c->model_options, &r->model, err)))
        return st;
    if ((st = load_data(r, &src, &data, err)))
        return st;
    cnn_model_init(r->model, c->seed);
    /* airbench takes its lookahead copy before the whitening init */
    if (c->lookahead.every > 0 &&
        (st = cnn_lookahead_init(&r->la, r->model->params, r->model->param_count,
                                 r->model->state, r->model->state_count, err)))
        return st;
    if ((st = whiten_layers(r, err)))
        return st;
    if ((st = make_plans(r, err)))
        return st;
    info(hooks, "model %s: %zu parameters, %.1f MMAC per image; %d train / %d validation images "
         "from %s; %d threads%s; plan memory %.1f MiB",
         desc->name, r->model->param_count, cnn_model_macs(r->model) / 1e6, r->n_train, r->n_val,
         data.path, c->threads, r->ranks > 1 ? " per rank" : "",
         (double)(cnn_plan_bytes(r->plan) + (r->tail ? cnn_plan_bytes(r->tail) : 0)) / 1048576.0);
    if (r->ranks > 1)
        info(hooks, "data-parallel on %d MPI ranks (%s): each takes %d of every %d images; "
             "batch norm uses %s statistics", r->ranks, cnn_dist_library(),
             cnn_plan_batch(r->plan), r->batch,
             c->sync_bn ? "the global batch's (--sync-bn)" : "each rank's");
    r->data_info = data;
    return CNN_STATUS_OK;
}

/* A new run's folder (rank 0): made and locked, config.txt and the model
 * file written. */
static cnn_status open_folder(run *r, cnn_error *err)
{
    const cnn_train_config *c = r->cfg;
    cnn_status st;
    const cnn_model_file *file = cnn_model_file_of(r->model->desc);
    if (!c->resume && ((st = cnn_mkdir_p(c->out_dir, err)) ||
                       (st = cnn_dir_lock(c->out_dir, "--out: run folder", &r->lock, err)) ||
                       (cnn_dir_nonempty(c->out_dir) && /* filled by another process meanwhile */
                        (st = cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "--out: run folder "
                                            "%s was filled by another process meanwhile; nothing "
                                            "in it was changed", c->out_dir))) ||
                       (st = cnn_run_write_config(c, r->model, &r->norm, r->n_train, r->n_val,
                                                  &r->data_info, err)) ||
                       (st = cnn_run_write_classes(c->out_dir, &r->data, err)) ||
                       (file && (st = cnn_run_write_string(c->out_dir, "model.cnn", file->text,
                                                           err)))))
        return st;
    return CNN_STATUS_OK;
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

/* One epoch's sums over its steps. */
typedef struct epoch_sums {
    double loss, l2; /* sums over the images (the loss per image times rows) */
    int correct, seen;
    float lr;        /* the last step's */
} epoch_sums;

/* The steps of epoch (1-based) until the epoch or the run (total_steps)
 * ends. CNN_STATUS_NUMERIC when the loss became NaN or infinite: err says
 * what, why says where. */
static cnn_status train_steps(run *r, int epoch, progress *g, uint8_t *labels, epoch_sums *e,
                              const cnn_train_hooks *hooks, char *why, size_t why_size,
                              cnn_error *err)
{
    const cnn_train_config *c = r->cfg;
    int batch = r->batch, steps = r->steps_per_epoch;
    for (int s = 0; s < steps && g->global_step < r->total_steps; s++) {
        int whole = s * batch + batch <= r->n_train;
        cnn_plan *p = whole ? r->plan : r->tail;
        int rows = whole ? batch : r->n_train - s * batch; /* the global batch's */
        int count = cnn_plan_batch(p), correct = 0;          /* this rank's share */
        cnn_shard_fill(r, r->train_idx + s * batch, rows, (int)g->global_step, epoch,
                       cnn_plan_input(p), labels);
        cnn_plan_set_seed(p, c->seed, (uint64_t)g->global_step);
        float loss = cnn_plan_forward(p, labels, count, 1, &correct);
        loss = cnn_shard_loss(r, loss, count, rows, &correct);
        e->correct += correct;
        g->global_step++;
        if (!isfinite(loss)) {
            char kept[4200];
            if (epoch > 1)
                snprintf(kept, sizeof kept, "the weights of epoch %d stay in %s", epoch - 1,
                         c->out_dir);
            else
                snprintf(kept, sizeof kept, "no epoch finished, so no weights were saved");
            snprintf(why, why_size, "loss %s at epoch %d step %d", isnan(loss) ? "NaN" : "inf",
                     epoch, s + 1);
            return cnn_error_set(err, CNN_STATUS_NUMERIC,
                                 "the training loss became %s at epoch %d, step %d of %d "
                                 "(step %ld overall); training stopped and %s; try a lower "
                                 "--lr (now %g) or --clip-grad-norm",
                                 isnan(loss) ? "NaN" : "infinite", epoch, s + 1, steps,
                                 g->global_step, kept, (double)c->optim.lr);
        }
        cnn_shard_begin(r, count, rows);
        cnn_plan_backward(p);
        cnn_shard_grads(r, count, rows);
        if (c->loss_sum) /* the gradient of the summed loss */
            scale_block(r->model->grads, r->model->param_count, (float)rows);
        if (c->l2 > 0)
            e->l2 += cnn_l2_penalty(c->l2, r->weights, r->n_weights, r->model->params,
                                    r->model->grads) * rows;
        /* frozen parameters (a model file's freeze=weight, a whitened bias
         * after its epochs): their gradients, computed beside the others',
         * must not count in the clipping's norm or be clipped */
        for (int i = 0; i < r->n_untrained; i++)
            memset(r->model->grads + r->untrained[i].offset, 0,
                   r->untrained[i].count * sizeof(float));
        if (c->clip_grad_norm > 0)
            cnn_clip_grad_norm(r->model->grads, r->model->param_count, c->clip_grad_norm);
        if (c->clip_grad_value > 0)
            cnn_clip_grad_value(r->model->grads, r->model->param_count, c->clip_grad_value);
        e->lr = cnn_sched_lr(&r->sched, epoch - 1, s);
        cnn_optim_step(&r->opt, e->lr, r->model->params, r->model->grads);
        if (r->muon.count) /* scheduled as the base lr is */
            cnn_muon_step(&r->muon, c->optim.lr > 0 ? c->muon.lr * (e->lr / c->optim.lr) : 0,
                          r->model->params, r->model->grads, r->opt.m);
        if (r->la.params && g->global_step % c->lookahead.every == 0)
            cnn_lookahead_update(&r->la, r->model->params, r->model->state,
                                 cnn_lookahead_decay(&c->lookahead, g->global_step,
                                                     r->total_steps));
        if (r->la.params && g->global_step == r->total_steps) /* the network becomes the average */
            cnn_lookahead_update(&r->la, r->model->params, r->model->state, 1.0f);
        e->loss += (double)loss * rows;
        e->seen += rows;
        if (hooks && hooks->on_step)
            hooks->on_step(hooks->user, epoch, s + 1, steps, loss);
    }
    return CNN_STATUS_OK;
}

/* After an epoch's steps: validation, its row of metrics.csv, last.weights
 * (and best.weights when it is the best), the schedule's epoch end,
 * resume.state and the hook. */
static cnn_status end_epoch(run *r, int epoch, double t0, const epoch_sums *e, progress *g,
                            const cnn_train_hooks *hooks, cnn_error *err)
{
    const cnn_train_config *c = r->cfg;
    double train_seconds = cnn_now() - t0;
    r->step_seconds += train_seconds;
    cnn_eval_result val = {0};
    cnn_shard_state(r);
    if (r->n_val > 0) {
        cnn_plan_freeze(r->eval);
        cnn_evaluate(r->eval, r->model, &r->data, r->val_idx, r->n_val, &r->norm, &val);
    }
    cnn_epoch_stats es = {
        .epoch = epoch,
        .train_loss = e->loss / e->seen,
        .train_acc = (double)e->correct / e->seen,
        .val_loss = r->n_val ? val.loss : NAN,
        .val_acc = r->n_val ? val.accuracy : NAN,
        .lr = e->lr,
        .seconds = cnn_now() - t0,
        .images_per_second = e->seen / train_seconds,
        .l2_penalty = e->l2 / e->seen,
    };
    /* Without a validation split the last epoch counts as the best. */
    double score = r->n_val ? val.accuracy : epoch;
    es.best = score > g->best_score;
    cnn_text_printf(&r->csv, "%d,%.6f,%.6f,%.6f,%.6f,%.9g,%.3f,%.1f", es.epoch, es.train_loss,
                    es.train_acc, es.val_loss, es.val_acc, es.lr, es.seconds,
                    es.images_per_second);
    if (c->l2 > 0)
        cnn_text_printf(&r->csv, ",%.6f", es.l2_penalty);
    cnn_text_printf(&r->csv, "\n");
    cnn_status st;
    if (r->writer && ((st = cnn_run_write_text(c->out_dir, "metrics.csv", &r->csv, err)) ||
                      (st = cnn_run_save_weights(r, "last.weights", err))))
        return st;
    if (es.best) {
        g->best_score = score;
        g->best_epoch = epoch;
        g->since_best = 0;
        if (r->writer && (st = cnn_run_save_weights(r, "best.weights", err)))
            return st;
    } else {
        g->since_best++;
    }
    if (r->n_val > 0)
        cnn_sched_epoch_end(&r->sched, val.loss);
    g->epoch = epoch;
    if (r->writer && (st = cnn_run_save_resume(r, g, err)))
        return st;
    if (hooks && hooks->on_epoch)
        hooks->on_epoch(hooks->user, &es);
    return CNN_STATUS_OK;
}

/* How the run ended, into status.txt, after the final validation with TTA
 * (--tta, with a validation split) when it ran to its end. st: the run's
 * status so far; returns it, or the failure to write status.txt. */
static cnn_status finish(run *r, cnn_status st, const char *status, int epochs_run,
                         const progress *g, char *why, size_t why_size,
                         const cnn_train_hooks *hooks, cnn_error *err)
{
    const cnn_train_config *c = r->cfg;
    double tta_acc = -1;
    if (st == CNN_STATUS_OK && c->tta > 0 && r->n_val > 0) {
        cnn_eval_result val;
        double t0 = cnn_now();
        cnn_plan_freeze(r->eval);
        cnn_evaluate_tta(r->eval, r->model, &r->data, r->val_idx, r->n_val, &r->norm, c->tta,
                         &val);
        tta_acc = val.accuracy;
        info(hooks, "final validation with TTA level %d: acc %.2f%%, loss %.4f (%.1f s)", c->tta,
             100 * val.accuracy, val.loss, cnn_now() - t0);
    }
    if (r->ranks > 1 && r->step_seconds > 0)
        info(hooks, "data-parallel: the sums over the %d ranks (gradients of %zu floats, in "
             "buckets; the loss) took %.2f s of the %.2f s of training steps (%.1f %%), waiting "
             "for the slowest rank included", r->ranks, r->model->param_count, r->sync_seconds,
             r->step_seconds, 100 * r->sync_seconds / r->step_seconds);
    if (st != CNN_STATUS_OK && st != CNN_STATUS_NUMERIC)
        return st;
    if (!r->writer)
        return st;
    cnn_error werr;
    if (!*why)
        snprintf(why, why_size, "all %d epochs ran", c->epochs);
    if (cnn_run_write_status(r, status, epochs_run, g->best_epoch, g->best_score < 0 ? 0 : g->best_score,
                     tta_acc, why, st ? &werr : err) && !st)
        st = err->status;
    return st;
}

cnn_status cnn_train(const cnn_train_config *cfg, const cnn_train_hooks *hooks, cnn_error *err)
{
    cnn_train_config resolved = *cfg;
    const cnn_train_config *c = &resolved;
    cnn_status st = cnn_train_config_resolve(&resolved, err);
    if (st || (st = check_config(c, err)))
        return st;
    omp_set_num_threads(c->threads);
    run r = {.cfg = c, .lock = -1, .rank = cnn_dist_rank(), .ranks = cnn_dist_size()};
    r.writer = r.rank == 0;
    if (!r.writer) /* rank 0 tells what happens */
        hooks = NULL;
    progress g = {.best_score = -1};
    /* every rank ready, or all of them stop with the first one's refusal */
    st = prepare(&r, hooks, err);
    if ((st = cnn_dist_agree(st, err)) || (r.writer && (st = open_folder(&r, err))))
        goto done;
    cnn_text_printf(&r.csv, "epoch,train_loss,train_acc,val_loss,val_acc,lr,seconds,"
                    "images_per_second%s\n", c->l2 > 0 ? ",l2_penalty" : "");
    if (c->resume) {
        /* every rank reads the run folder: it must be one they all see */
        st = cnn_run_load_resume(&r, &g, err);
        if ((st = cnn_dist_agree(st, err)))
            goto done;
        info(hooks, "resuming %s after epoch %d of %d", c->out_dir, g.epoch, c->epochs);
    }
    uint8_t *labels = malloc((size_t)r.batch);
    const char *status = "finished";
    char why[512] = "";
    int epoch;
    /* A run killed after the checkpoint of the epoch that stopped it early
     * stops again, where it stopped. */
    int stopped = c->resume && stops_early(c, g.since_best, g.epoch, g.best_epoch, why,
                                           sizeof why);
    if (stopped) {
        status = "stopped early";
        info(hooks, "early stop: %s", why);
    }
    for (epoch = g.epoch + 1; !stopped && epoch <= c->epochs; epoch++) {
        double t0 = cnn_now();
        cnn_rng rng;
        cnn_rng_init(&rng, c->seed, CNN_STREAM_SHUFFLE, (uint64_t)epoch);
        cnn_rng_shuffle(&rng, r.train_idx, r.n_train);
        epoch_sums e = {.lr = c->optim.lr};
        if (c->whiten_bias_epochs > 0 && (st = set_groups(&r, epoch, err)))
            break;
        if ((st = train_steps(&r, epoch, &g, labels, &e, hooks, why, sizeof why, err))) {
            status = "diverged";
            break;
        }
        if ((st = end_epoch(&r, epoch, t0, &e, &g, hooks, err)))
            break;
        if (stops_early(c, g.since_best, epoch, g.best_epoch, why, sizeof why)) {
            status = "stopped early";
            info(hooks, "early stop: %s", why);
            epoch++;
            break;
        }
    }
    st = finish(&r, st, status, epoch - 1, &g, why, sizeof why, hooks, err);
    free(labels);
done:
    run_free(&r);
    return st;
}
