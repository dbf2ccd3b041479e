/* train.h: training runs, evaluation and the run folder.
 *
 * A run folder holds everything needed to understand and reproduce a run:
 *   config.txt     every setting (and the command line that reproduces it), the data's
 *                  format (dataset), image shape (input) and class count (classes)
 *   classes.txt    the data's class names, one a line in label order
 *   model.cnn      the model file the run trained (built-ins too), so the run rebuilds alone
 *   metrics.csv    epoch,train_loss,train_acc,val_loss,val_acc,lr,seconds,images_per_second
 *   best.weights   weights of the epoch with the best validation accuracy
 *   last.weights   weights after the last finished epoch
 *   resume.state   all a stopped run needs to continue (src/train/resume.h)
 *   lookahead.weights  the Lookahead shadow, for resume (runs with --lookahead-every)
 *   status.txt     how the run ended: finished, stopped early (when, why) or diverged;
 *                  final_val_acc_tta with --tta and a validation split
 *   test.json      written by `cnnlab test` (the test set is used there only): accuracy
 *                  with the run's TTA level (tta), and accuracy_plain without
 */
#ifndef CNNLAB_TRAIN_H
#define CNNLAB_TRAIN_H

#include <stdint.h>

#include "cnnlab/data.h"
#include "cnnlab/model.h"
#include "cnnlab/optim.h"
#include "cnnlab/plan.h"
#include "cnnlab/status.h"

typedef struct cnn_train_config {
    const char *model;               /* a built-in's name or a model file's path */
    const char *model_vars;          /* model-file variables, "head=4096" (NULL: none) */
    cnn_model_options model_options; /* --norm, --activation, --dropout, ... */
    int epochs, batch_size;
    double epochs_fraction; /* > 0: a fractional run length (airbench's 9.9): the run ends
                             * after ceil(epochs_fraction * steps per epoch) steps, and
                             * epochs is its ceiling; 0: epochs whole epochs */
    int drop_last;          /* 1: an epoch's last, shorter batch is left out (each epoch's
                             * shuffle decides which images sit out) */
    int loss_sum;           /* 1: the loss is summed over the batch (PyTorch's
                             * reduction='sum'), 0: averaged; the logged loss is the mean */
    float lr_mult[CNN_PARAM_ROLE_COUNT]; /* per parameter role (model.h): the lr is multiplied
                             * and the weight decay divided by it, so the decay per step
                             * stays the others' (airbench's norm biases: 64); 1 = as all */
    cnn_lookahead_config lookahead; /* every = 0: off */
    int whiten_images;      /* conv layers with init=whiten: computed from the first N
                             * images of the train split */
    float whiten_eps;
    int whiten_bias_epochs; /* > 0: the bias of whitened layers trains only in the first N
                             * epochs (airbench: 3) */
    int tta;                /* test-time augmentation level of the run's evaluations
                             * (cnn_evaluate_tta): validation after the last epoch and
                             * `cnnlab test`; per-epoch validation stays plain */
    cnn_optim_config optim;          /* lr, momentum, weight decay, Adam's betas, ... */
    cnn_muon_config muon;            /* lr > 0: Muon updates the trainable convolution
                                      * filters (optim.h) and optim the rest; the schedule
                                      * scales muon.lr as it scales optim.lr */
    cnn_sched_config sched;          /* learning-rate schedule (base_lr = optim.lr) */
    float l2;                        /* explicit penalty l2 * sum w^2 on conv/linear weights */
    float clip_grad_norm;            /* 0: off */
    float clip_grad_value;           /* 0: off */
    float label_smoothing;
    int early_stop;                  /* patience in epochs on validation accuracy; 0: off */
    cnn_augment augment;             /* includes input noise */
    uint64_t seed;
    int threads;
    int sync_bn;          /* data-parallel (mpirun): batch-norm statistics over every rank's
                           * rows of a step; 0: each rank's own (docs/distributed.md) */
    double val_fraction;
    int subset;           /* train on this many images of the train split; 0 = all */
    const char *data_dir; /* --data: NULL: ./data/cifar-10-batches-bin (downloaded if missing) */
    cnn_data_format data_format; /* --dataset: CNN_DATA_AUTO detects it from data_dir */
    int coarse_labels;    /* CIFAR-100: the 20 coarse classes */
    int image_h, image_w; /* image folders: --image-size (0: 32x32) */
    int image_channels;   /* image folders: --channels 1 or 3 (0: 3) */
    int skip_bad;         /* image folders: skip unreadable files (counted), else refuse */
    double test_fraction; /* image folders without test/: held-out share (0: 0.2) */
    int data_progress;    /* image folders: progress of a first decode through on_info */
    const char *out_dir;  /* must not exist or be empty, unless resume */
    int resume;           /* continue the run in out_dir after its last finished epoch; the
                           * rest of the config must be the run's own (config.txt) */
    cnn_plan_config exec;     /* backend, precision (bf16 keeps fp32 master weights), conv algorithm */
    const char *command_line; /* recorded in config.txt; may be NULL */
} cnn_train_config;

/* Every setting's default (src/train/config.c). Those that depend on others
 * are left unset (optimizer values -1; the schedule's gamma, patience,
 * step_size and milestones 0) for cnn_train_config_resolve. */
void cnn_train_config_defaults(cnn_train_config *c);
/* The data source the settings name (data_dir, data_format, ...). */
void cnn_train_data_source(const cnn_train_config *c, cnn_data_source *src);
/* The data a run trained on, from its config.txt's text (config; NULL: a
 * run without one, CIFAR-10 at its default place); path names the file in
 * messages. source.path points into the struct (data_path: config.txt's
 * data, where the run found its data). */
typedef struct cnn_run_data_settings {
    cnn_data_source source;
    cnn_data_shape shape;
    char data_path[4096];
} cnn_run_data_settings;
cnn_status cnn_run_data(const char *config, const char *path, cnn_run_data_settings *out,
                        cnn_error *err);
/* Fills in what is unset from the settings given: the optimizer's values
 * for its kind (lr 0.01 for sgd, 0.001 otherwise; sgd's momentum 0.9 and
 * weight decay 5e-4; PyTorch's for the rest) and the schedule's from the
 * run's length (plateau patience epochs/10 within 1..10, step size a third of
 * the epochs rounded up, multistep at 1/2 and 3/4 of the run; gamma 0.95 for
 * exp, else 0.1). Refuses --nesterov without sgd momentum and a default
 * multistep under 2 epochs. Resolving twice changes nothing; cnn_train
 * resolves its own copy. */
cnn_status cnn_train_config_resolve(cnn_train_config *c, cnn_error *err);

typedef struct cnn_epoch_stats {
    int epoch; /* 1-based */
    double train_loss, train_acc, val_loss, val_acc, lr, seconds, images_per_second;
    double l2_penalty; /* mean of the L2 term over the epoch's steps (0 without --l2) */
    int best; /* 1 if this epoch's validation accuracy is the best so far */
} cnn_epoch_stats;

/* Progress callbacks; any may be NULL. The library prints nothing itself. */
typedef struct cnn_train_hooks {
    void (*on_info)(void *user, const char *line);
    void (*on_step)(void *user, int epoch, int step, int steps, double loss);
    void (*on_epoch)(void *user, const cnn_epoch_stats *s);
    void *user;
} cnn_train_hooks;

/* Runs a whole training and fills the run folder. A NaN or infinite loss stops
 * the run with CNN_STATUS_NUMERIC; the weights saved so far stay. With
 * cfg->resume, a run that stopped before its end (killed, crashed) continues
 * from its resume.state and ends as the uninterrupted run would have, to the
 * bit with the same thread count and convolution algorithms; a run that ended
 * (status.txt written) is refused. */
cnn_status cnn_train(const cnn_train_config *cfg, const cnn_train_hooks *hooks, cnn_error *err);

typedef struct cnn_eval_result {
    int count;
    double loss, accuracy;
    int classes; /* the model's: the rows and columns of confusion in use */
    int confusion[CNN_DATA_MAX_CLASSES][CNN_DATA_MAX_CLASSES]; /* [true][predicted] */
} cnn_eval_result;

/* Evaluates m (eval mode) on images d[idx[0..count)] with plan p (made for m;
 * the last partial batch is padded). */
void cnn_evaluate(cnn_plan *p, const cnn_model *m, const cnn_dataset *d, const int *idx,
                  int count, const cnn_norm *norm, cnn_eval_result *out);
/* The same with test-time augmentation of level tta (0: none, as cnn_evaluate;
 * 1: the image and its mirror; 2: those and the mirrored pairs of the image
 * translated one pixel up-left and down-right, reflect-padded; logits averaged
 * with airbench's weights, src/train/evaluate.c). The loss is the
 * cross-entropy of the averaged logits. */
void cnn_evaluate_tta(cnn_plan *p, const cnn_model *m, const cnn_dataset *d, const int *idx,
                      int count, const cnn_norm *norm, int tta, cnn_eval_result *out);
/* The logits cnn_evaluate_tta bases its answer on: out (count, classes) for
 * images d[idx[0..count)] (idx NULL: 0..count-1), averaged over the views of
 * level tta with the same weights; what `cnnlab predict` shows. */
void cnn_predict_logits(cnn_plan *p, const cnn_model *m, const cnn_dataset *d, const int *idx,
                        int count, const cnn_norm *norm, int tta, float *out);
/* Forward passes per image at a TTA level: 1, 2 or 6. */
int cnn_tta_views(int level);

/* ---- patch-whitening initialisation (src/train/whiten.c) ----
 *
 * Fills w (out_channels, 3, kh, kw), PyTorch OIHW as every cnnlab convolution
 * weight, as airbench's init_whitening: the images d[idx[0..count)] (idx NULL:
 * 0..count-1) normalised as cnn_batch_fill does, every kh x kw patch (stride 1,
 * no padding) of each as a vector v of D = 3*kh*kw values in (C, kh, kw)
 * order; cov = sum v v^T / (number of patches) in double, not mean-centred;
 * its eigenvalues lambda_k descending with eigenvectors e_k (LAPACKE_dsyevd);
 * filter k = e_k / sqrt(lambda_k + eps) as (3, kh, kw); w = concat(filters,
 * -filters). out_channels must be 2 * D (else CNN_STATUS_INVALID_ARGUMENT,
 * naming the layer's weight shape). Each eigenvector's sign is LAPACK's
 * choice. The result does not depend on the thread count. airbench uses the
 * first 5,000 training images, a 2x2 kernel (24 outputs) and eps 5e-4. */
cnn_status cnn_whiten_weights(const cnn_dataset *d, const int *idx, int count,
                              const cnn_norm *norm, int kh, int kw, double eps, float *w,
                              int out_channels, cnn_error *err);

/* ---- Recipes ----
 * A recipe is a named group of `cnnlab train` flags (recipes/NAME.rcp,
 * compiled in): `cnnlab train --recipe NAME` applies them before the flags
 * given, which win. Parsed on first use; they live until the program ends. */
typedef struct cnn_recipe {
    const char *name;   /* "airbench94" */
    const char *about;  /* one line */
    const char *text;   /* the file as written */
    const char **words; /* the flags and their values, in order */
    int count;
} cnn_recipe;

const cnn_recipe *cnn_recipes(int *count);
const cnn_recipe *cnn_recipe_find(const char *name); /* NULL if unknown */

#endif
