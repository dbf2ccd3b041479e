/* run.h: one training run's state, shared by trainer.c (preparing it and
 * the loop) and run_folder.c (the files of its run folder: config.txt,
 * metrics.csv, status.txt, the weights and resume.state). Internal to
 * src/train. */
#ifndef CNN_TRAIN_RUN_H
#define CNN_TRAIN_RUN_H

#include "cnnlab/cnnlab.h"
#include "core/core.h"
#include "ops/ops.h"

#define MAX_WEIGHT_RANGES 1024

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
    cnn_muon muon;         /* muon.count 0: no Muon */
    cnn_lookahead la;      /* la.params NULL: no lookahead */
    cnn_sched sched;
    cnn_range weights[MAX_WEIGHT_RANGES];
    int n_weights;
    cnn_range *untrained;  /* parameters frozen this epoch (set_groups): their gradients */
    int n_untrained;       /* are zeroed before clipping, as PyTorch's are None */
    cnn_text csv;          /* metrics.csv as written so far */
    int lock;              /* the run folder's lock (cnn_dir_lock), or -1 */
    /* data-parallel training (shard.c): this rank of ranks; plan, tail and
     * their input hold its shard of each global batch of `batch` rows */
    int rank, ranks, writer; /* writer: rank 0, which alone writes the run folder */
    int batch;             /* rows of plan's global batch */
    /* ranks > 1 (shard.c): the backward's gradient sums, sent in buckets of
     * bucket_floats as they become final ([grads_sent, param_count) sent), each
     * weighed by grad_share (this rank's rows / the global batch's); bn_sync:
     * --sync-bn's exchange (buf NULL: off) */
    size_t bucket_floats, grads_sent;
    float grad_share;
    cnn_bn_sync bn_sync;
    cnn_data_info data_info; /* the data as probed: where, which format, its shape */
    double sync_seconds;   /* ranks > 1: time in the steps' sums over the ranks */
    double step_seconds;   /* time in the training steps (validation aside) */
} run;


/* What the run has done so far: all of it, besides the model and the optimizer,
 * that resume.state carries. */
typedef struct progress {
    int epoch; /* epochs finished */
    long global_step;
    double best_score; /* best validation accuracy (the epoch without a split); -1 before any */
    int best_epoch, since_best;
} progress;

/* dir/name written atomically: a string, or a composed text. */
cnn_status cnn_run_write_string(const char *dir, const char *name, const char *text,
                                cnn_error *err);
cnn_status cnn_run_write_text(const char *dir, const char *name, const cnn_text *t,
                              cnn_error *err);
/* config.txt: every setting, the command line that reproduces the run, the
 * split's sizes and the normalisation. */
cnn_status cnn_run_write_config(const cnn_train_config *c, const cnn_model *m,
                                const cnn_norm *norm, int n_train, int n_val,
                                const cnn_data_info *data, cnn_error *err);
/* classes.txt: the data's class names, one a line in label order (what
 * `cnnlab predict` names its answers with). */
cnn_status cnn_run_write_classes(const char *dir, const cnn_dataset *d, cnn_error *err);
/* RUN_DIR/name: the model's weights (a checkpoint). */
cnn_status cnn_run_save_weights(run *r, const char *name, cnn_error *err);
/* status.txt: how the run ended (tta_acc < 0: no TTA figure). */
cnn_status cnn_run_write_status(const run *r, const char *status, int epochs_run,
                                int best_epoch, double best_acc, double tta_acc,
                                const char *why, cnn_error *err);
/* resume.state (and lookahead.weights) after an epoch, and back: the run
 * restored, metrics.csv's first g->epoch rows into r->csv. */
cnn_status cnn_run_save_resume(const run *r, const progress *g, cnn_error *err);
cnn_status cnn_run_load_resume(run *r, progress *g, cnn_error *err);

/* ---- shard.c: data-parallel training across MPI ranks ---- */
/* Rank `rank`'s rows of a global batch of `rows`: [first, first + count). */
void cnn_shard_rows(int rows, int rank, int ranks, int *first, int *count);
/* Refuses a batch (or the epoch's last batch, rest rows) that leaves a rank
 * without images. */
cnn_status cnn_shard_check(int batch, int rest, int ranks, cnn_error *err);
/* This rank's shard of the global batch idx[0..rows) of step (global) and
 * epoch (1-based), as one process would read those rows, into x and labels. */
void cnn_shard_fill(const run *r, const int *idx, int rows, int step, int epoch, float *x,
                    uint8_t *labels);
/* The global batch's mean loss from this rank's (over count of rows rows);
 * *correct: this rank's count in, the global count out. */
float cnn_shard_loss(run *r, float loss, int count, int rows, int *correct);
/* Sets the plans' data-parallel hooks (once, after the plans are made): the
 * gradient sums started during the backward and, with --sync-bn, batch norm
 * over every rank's rows. Nothing in a world of one. */
cnn_status cnn_shard_setup(run *r, cnn_error *err);
/* Before each backward: this rank's count of the step's rows. */
void cnn_shard_begin(run *r, int count, int rows);
/* After the backward: the model's gradient of this rank's mean loss becomes
 * the global batch's, the same on every rank. cnn_shard_loss and this add
 * their time to r->sync_seconds (waiting for a slower rank included). */
void cnn_shard_grads(run *r, int count, int rows);
/* The batch-norm running estimates averaged over the ranks. */
void cnn_shard_state(const run *r);

#endif
