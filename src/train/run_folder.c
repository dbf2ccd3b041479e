/* run_folder.c: the files of a run folder as the trainer writes and reads
 * them (see run.h and cnnlab/train.h): config.txt, status.txt, the weights,
 * resume.state with lookahead.weights, and metrics.csv read back on resume.
 * Every file is written atomically. */
#include <string.h>

#include "train/resume.h"
#include "train/run.h"

cnn_status cnn_run_write_string(const char *dir, const char *name, const char *text, cnn_error *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return cnn_file_write_atomic(path, text, strlen(text), err);
}

/* dir/name from a composed text (cnn_text_write: atomically). */
cnn_status cnn_run_write_text(const char *dir, const char *name, const cnn_text *t,
                              cnn_error *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return cnn_text_write(t, path, err);
}

cnn_status cnn_run_write_config(const cnn_train_config *c, const cnn_model *m,
                                const cnn_norm *norm, int n_train, int n_val,
                                const cnn_data_info *data, cnn_error *err)
{
    cnn_text t = {0};
    const cnn_model_options *mo = &m->options;
    const cnn_optim_config *o = &c->optim;
    const cnn_sched_config *s = &c->sched;
    cnn_text_printf(&t, "# cnnlab %s run configuration\n", CNNLAB_VERSION);
    cnn_text_printf(&t, "# reproduce with: %s\n", c->command_line ? c->command_line : "(library call)");
    cnn_text_printf(&t, "model = %s\nmodel_vars = %s\nparameters = %zu\n", c->model,
        c->model_vars ? c->model_vars : "", m->param_count);
    cnn_text_printf(&t, "norm = %s\ngroups = %d\nactivation = %s\ndropout = %.7g\ndropconnect = %.7g\n"
                        "kernel_size = %d\ninit = %s\n",
        mo->norm == CNN_NORM_DEFAULT ? "model default" : cnn_norm_kind_name(mo->norm), mo->groups,
        mo->act == CNN_ACT_NONE ? "model default" : cnn_act_name(mo->act),
        (double)(mo->dropout < 0 ? 0 : mo->dropout), (double)mo->dropconnect, mo->kernel_size,
        cnn_init_kind_name(cnn_model_init_kind(m)));
    cnn_text_printf(&t, "epochs = %d\nepochs_fraction = %.7g\nbatch_size = %d\ndrop_last = %d\n"
                        "loss_reduction = %s\n", c->epochs, c->epochs_fraction, c->batch_size, c->drop_last,
        c->loss_sum ? "sum" : "mean");
    cnn_text_printf(&t, "lr_mult =");
    for (int i = 0; i < CNN_PARAM_ROLE_COUNT; i++)
        cnn_text_printf(&t, " %s=%.7g", cnn_param_role_name((cnn_param_role)i), (double)c->lr_mult[i]);
    cnn_text_printf(&t, "\nlookahead_every = %d\nlookahead_base = %.7g\nlookahead_power = %.7g\n"
                        "whiten_images = %d\nwhiten_eps = %.7g\nwhiten_bias_epochs = %d\ntta = %d\n",
        c->lookahead.every, c->lookahead.base, c->lookahead.power, c->whiten_images,
        (double)c->whiten_eps, c->whiten_bias_epochs, c->tta);
    cnn_text_printf(&t, "optimizer = %s\nlr = %.7g\nmomentum = %.7g\nnesterov = %d\nweight_decay = %.7g\n"
                        "beta1 = %.7g\nbeta2 = %.7g\neps = %.7g\n",
        cnn_opt_kind_name(o->kind), (double)o->lr, (double)o->momentum, o->nesterov,
        (double)o->weight_decay, (double)o->beta1, (double)o->beta2, (double)o->eps);
    cnn_text_printf(&t, "muon_lr = %.7g\nmuon_momentum = %.7g\nmuon_steps = %d\nmuon_renorm = %d\n",
        (double)c->muon.lr, (double)c->muon.momentum, c->muon.ns_steps, c->muon.renorm);
    cnn_text_printf(&t, "lr_schedule = %s\nstep_size = %d\ngamma = %.7g\nmilestones = ",
        cnn_sched_kind_name(s->kind), s->step_size, (double)s->gamma);
    for (int i = 0; i < s->milestone_count; i++)
        cnn_text_printf(&t, "%s%d", i ? "," : "", s->milestones[i]);
    cnn_text_printf(&t, "\nmin_lr = %.7g\npatience = %d\nwarmup_epochs = %d\nwarmup_frac = %.7g\n"
                        "lr_start_factor = %.7g\nlr_end_factor = %.7g\n", (double)s->min_lr, s->patience,
        s->warmup_epochs, s->warmup_frac, s->start_factor, s->end_factor);
    cnn_text_printf(&t, "l2 = %.7g\nclip_grad_norm = %.7g\nclip_grad_value = %.7g\nlabel_smoothing = %.7g\n"
                        "early_stop = %d\n",
        (double)c->l2, (double)c->clip_grad_norm, (double)c->clip_grad_value,
        (double)c->label_smoothing, c->early_stop);
    const cnn_augment *a = &c->augment;
    cnn_text_printf(&t, "augment = %s%s%s%s%s%s\ncrop_padding = %d\ntranslate_padding = %d\ncutout_size = %d\n"
                        "input_noise = %.7g\n",
        a->crop || a->translate || a->flip || a->altflip || a->cutout ? "" : "none",
        a->crop ? "crop " : "", a->translate ? "translate " : "", a->flip ? "flip " : "",
        a->altflip ? "altflip " : "", a->cutout ? "cutout" : "", a->crop_padding,
        a->translate_padding, a->cutout_size, (double)a->input_noise);
    cnn_text_printf(&t, "sync_bn = %d\n", c->sync_bn);
    cnn_text_printf(&t, "seed = %llu\nthreads = %d\nval_fraction = %.7g\nsubset = %d\ntrain_images = %d\n"
                        "val_images = %d\ndata = %s\nbackend = %s\nprecision = %s\nconv = %s\n",
        (unsigned long long)c->seed, c->threads, c->val_fraction, c->subset, n_train, n_val, data->path,
        c->exec.backend == CNN_BACKEND_FAST ? "fast" : "reference",
        cnn_precision_name(c->exec.precision), cnn_conv_algo_name(c->exec.conv));
    /* how a bf16 run stores activations between layers (--activations) */
    cnn_text_printf(&t, "activations = %s\n",
                    c->exec.precision == CNN_PRECISION_BF16 && !c->exec.fp32_activations ? "bf16"
                                                                                         : "fp32");
    cnn_text_printf(&t, "dataset = %s\ninput = %dx%dx%d\nclasses = %d\n",
        cnn_data_format_name(data->format), data->h, data->w, data->c, data->classes);
    if (data->format == CNN_DATA_CIFAR100)
        cnn_text_printf(&t, "coarse_labels = %d\n", c->coarse_labels);
    if (data->format == CNN_DATA_FOLDER)
        cnn_text_printf(&t, "skip_bad = %d\ntest_fraction = %.7g\n", c->skip_bad,
                        c->test_fraction > 0 ? c->test_fraction : 0.2);
    cnn_text_printf(&t, "norm_mean =");
    for (int k = 0; k < data->c; k++)
        cnn_text_printf(&t, " %.6f", (double)norm->mean[k]);
    cnn_text_printf(&t, "\nnorm_std =");
    for (int k = 0; k < data->c; k++)
        cnn_text_printf(&t, " %.6f", (double)norm->std[k]);
    cnn_text_printf(&t, "\n");
    cnn_status st = cnn_run_write_text(c->out_dir, "config.txt", &t, err);
    cnn_text_free(&t);
    return st;
}

cnn_status cnn_run_write_classes(const char *dir, const cnn_dataset *d, cnn_error *err)
{
    cnn_text t = {0};
    for (int k = 0; k < d->classes; k++) {
        char num[16];
        cnn_text_printf(&t, "%s\n", cnn_dataset_class_name(d, k, num, sizeof num));
    }
    cnn_status st = cnn_run_write_text(dir, "classes.txt", &t, err);
    cnn_text_free(&t);
    return st;
}

cnn_status cnn_run_save_weights(run *r, const char *name, cnn_error *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", r->cfg->out_dir, name);
    return cnn_checkpoint_save(path, r->model, &r->norm, err);
}

cnn_status cnn_run_write_status(const run *r, const char *status, int epochs_run, int best_epoch,
                               double best_acc, double tta_acc, const char *why, cnn_error *err)
{
    char buf[2048], tta[64] = "";
    if (tta_acc >= 0)
        snprintf(tta, sizeof tta, "final_val_acc_tta = %.6f\n", tta_acc);
    snprintf(buf, sizeof buf, "status = %s\nepochs_run = %d\nbest_epoch = %d\nbest_val_acc = %.6f\n"
             "%sdetail = %s\n", status, epochs_run, best_epoch, best_acc, tta, why);
    return cnn_run_write_string(r->cfg->out_dir, "status.txt", buf, err);
}

cnn_status cnn_run_save_resume(const run *r, const progress *g, cnn_error *err)
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
cnn_status cnn_run_load_resume(run *r, progress *g, cnn_error *err)
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
    cnn_text_printf(&r->csv, "%.*s", (int)keep, (const char *)csv);
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
