/* config.c: a training configuration's defaults, and their resolution: the
 * settings whose default depends on others (the optimizer's, the schedule's
 * from the run's length) are left unset by cnn_train_config_defaults and
 * filled in by cnn_train_config_resolve, the one place every command (train,
 * study, select, lab) and cnn_train itself take them from. */
#include <omp.h>
#include <string.h>

#include "cnnlab/cnnlab.h"

void cnn_train_config_defaults(cnn_train_config *c)
{
    memset(c, 0, sizeof *c);
    c->model = "lenet5";
    cnn_model_options_defaults(&c->model_options);
    c->epochs = 10;
    c->batch_size = 128;
    cnn_optim_config_defaults(&c->optim, CNN_OPT_SGD);
    /* unset: resolved for the optimizer chosen */
    c->optim.lr = c->optim.momentum = c->optim.weight_decay = -1;
    c->optim.beta1 = c->optim.beta2 = c->optim.eps = -1;
    c->sched.kind = CNN_SCHED_NONE; /* gamma, patience, step_size, milestones: unset (0) */
    cnn_augment_defaults(&c->augment);
    c->seed = 1;
    c->threads = omp_get_num_procs();
    c->val_fraction = 0.1;
    for (int i = 0; i < CNN_PARAM_ROLE_COUNT; i++)
        c->lr_mult[i] = 1.0f;
    cnn_lookahead_config_defaults(&c->lookahead);
    c->lookahead.every = 0;
    c->muon = (cnn_muon_config){.lr = 0, .momentum = 0.95f, .nesterov = 1, .ns_steps = 5};
    c->whiten_images = 5000;
    c->whiten_eps = 5e-4f;
    c->exec = (cnn_plan_config){.backend = CNN_BACKEND_FAST, .precision = CNN_PRECISION_FP32,
                                .conv = CNN_CONV_AUTO};
}

void cnn_train_data_source(const cnn_train_config *c, cnn_data_source *src)
{
    *src = (cnn_data_source){.path = c->data_dir, .format = c->data_format,
                             .coarse = c->coarse_labels, .image_h = c->image_h,
                             .image_w = c->image_w, .channels = c->image_channels,
                             .skip_bad = c->skip_bad, .test_fraction = c->test_fraction,
                             .progress = c->data_progress};
}

/* The optimizer: PyTorch's defaults for the kind (cnn_optim_config_defaults),
 * except the learning rate, 0.01 for SGD and 0.001 for the others, and SGD's
 * momentum 0.9 and weight decay 5e-4 (the course's). */
static cnn_status resolve_optim(cnn_optim_config *o, cnn_error *err)
{
    cnn_optim_config d;
    cnn_optim_config_defaults(&d, o->kind);
    if (o->kind == CNN_OPT_SGD) {
        d.lr = 0.01f;
        d.momentum = 0.9f;
        d.weight_decay = 5e-4f;
    } else {
        d.lr = 0.001f;
    }
    if (o->lr < 0)
        o->lr = d.lr;
    if (o->momentum < 0)
        o->momentum = d.momentum;
    if (o->weight_decay < 0)
        o->weight_decay = d.weight_decay;
    if (o->beta1 < 0)
        o->beta1 = d.beta1;
    if (o->beta2 < 0)
        o->beta2 = d.beta2;
    if (o->eps < 0)
        o->eps = d.eps;
    if (o->nesterov && (o->kind != CNN_OPT_SGD || o->momentum <= 0))
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                             "--nesterov: needs --optimizer sgd with a momentum > 0");
    return CNN_STATUS_OK;
}

/* The schedule's defaults, scaled to the run's length so that short runs (a
 * study's five epochs) see each schedule do something: plateau waits a tenth
 * of the run (1 to PyTorch's 10 epochs), step decays two or three times,
 * multistep decays at half and three quarters of the run. */
static cnn_status resolve_sched(cnn_sched_config *s, int epochs, cnn_error *err)
{
    if (!(s->gamma > 0))
        s->gamma = s->kind == CNN_SCHED_EXP ? 0.95f : 0.1f;
    if (s->kind == CNN_SCHED_PLATEAU && s->patience == 0)
        s->patience = epochs / 10 < 1 ? 1 : epochs / 10 > 10 ? 10 : epochs / 10;
    if (s->kind == CNN_SCHED_STEP && s->step_size == 0)
        s->step_size = (epochs + 2) / 3;
    if (s->kind != CNN_SCHED_MULTISTEP || s->milestone_count > 0)
        return CNN_STATUS_OK;
    if (epochs < 2)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                             "--lr-schedule multistep: its default milestones (half and three "
                             "quarters of the run) need --epochs 2 or more, found %d; give "
                             "--milestones or train longer", epochs);
    /* the second only if it still falls inside the run */
    int m0 = epochs / 2 > 0 ? epochs / 2 : 1, m1 = epochs * 3 / 4;
    if (m1 <= m0)
        m1 = m0 + 1;
    s->milestones[0] = m0;
    s->milestones[1] = m1;
    s->milestone_count = m1 < epochs ? 2 : 1;
    return CNN_STATUS_OK;
}

cnn_status cnn_train_config_resolve(cnn_train_config *c, cnn_error *err)
{
    cnn_status st = resolve_optim(&c->optim, err);
    return st ? st : resolve_sched(&c->sched, c->epochs, err);
}
