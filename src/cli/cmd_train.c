/* cmd_train.c: `cnnlab train`: flags -> cnn_train_config, progress printing. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cnnlab/cnnlab.h"
#include "commands.h"
#include "core/core.h"
#include "dist/dist.h"
#include "flags.h"
#include "report.h"
#include "text.h"

typedef struct progress {
    int tty;
    double last;
} progress;

static void on_info(void *user, const char *line) { printf("%s\n", line), fflush(stdout); }

/* In-epoch progress: a live line on a terminal, otherwise a line every 30 s,
 * and always the first step's loss (where training starts from). */
static void on_step(void *user, int epoch, int step, int steps, double loss)
{
    progress *p = user;
    double now = cnn_now();
    int first = epoch == 1 && step == 1;
    if (!first && (now - p->last < (p->tty ? 0.5 : 30.0) || step == steps))
        return;
    p->last = now;
    if (p->tty)
        fprintf(stderr, "\r  epoch %d: step %d/%d, loss %.4f   ", epoch, step, steps, loss);
    else
        fprintf(stderr, "  epoch %d: step %d/%d, loss %.4f\n", epoch, step, steps, loss);
}

static void on_epoch(void *user, const cnn_epoch_stats *s)
{
    progress *p = user;
    if (p->tty)
        fprintf(stderr, "\r%60s\r", "");
    if (isnan(s->val_acc)) /* no validation split (--val-fraction 0) */
        printf("epoch %3d  train loss %.4f acc %6.2f%%  (no validation split)  lr %.4g  "
               "%6.1f s  %7.0f img/s\n",
               s->epoch, s->train_loss, 100 * s->train_acc, s->lr, s->seconds,
               s->images_per_second);
    else
        printf("epoch %3d  train loss %.4f acc %6.2f%%  val loss %.4f acc %6.2f%%  lr %.4g  "
               "%6.1f s  %7.0f img/s%s\n",
               s->epoch, s->train_loss, 100 * s->train_acc, s->val_loss, 100 * s->val_acc, s->lr,
               s->seconds, s->images_per_second, s->best ? "  *" : "");
    fflush(stdout);
}

/* What the flags give that is not yet a configuration (words to parse,
 * values to place): NULL or -1 where not given. */
typedef struct train_words {
    const char *backend, *precision, *activations, *conv, *norm, *act, *init, *optimizer;
    const char *schedule;
    const char *milestones, *augment, *vars, *resume, *recipe, *reduction, *lr_mult;
    const char *dataset, *image_size, *channels;
    float dropout;
    int head;
    double epochs;
} train_words;

enum { TRAIN_MAX_FLAGS = 96 };

/* train's flags, their targets in c and w; returns their number. */
static int train_flags(cnn_train_config *c, train_words *w, cli_flag *out)
{
    const cli_flag flags[] = {
        {"--model", CLI_STRING, &c->model, 0, 0, "NAME", "a built-in (`cnnlab models` lists them; default lenet5) or a model file (a path with / or ending in .cnn)", NULL},
        {"--head", CLI_INT, &w->head, 0, 1000000, "N", "classifier head width for models with a head knob (VGG: 4096 = the course's head)", NULL},
        {"--var", CLI_STRING, &w->vars, 0, 0, "\"K=V ...\"", "sets variables a model file declares", NULL},
        {"--recipe", CLI_STRING, &w->recipe, 0, 0, "NAME", "a named group of these flags (`cnnlab recipes` lists them) applied first; flags given win", NULL},
        {"--epochs", CLI_DOUBLE, &w->epochs, 0.01, 100000, "N", "passes over the train split (default 10); a fraction (9.9) ends the run after that share of the last epoch's steps", NULL},
        {"--batch-size", CLI_INT, &c->batch_size, 1, 65536, "N", "images per step (default 128)", NULL},
        {"--drop-last", CLI_BOOL, &c->drop_last, 0, 0, NULL, "leave out each epoch's last, shorter batch", NULL},
        {"--loss-reduction", CLI_CHOICE, &w->reduction, 0, 0, "R", "mean (default) or sum of the per-image losses (the logged loss is the mean either way)", "mean,sum"},
        {"--optimizer", CLI_CHOICE, &w->optimizer, 0, 0, "NAME", "sgd (default), adam, adamw or rmsprop", "sgd,adam,adamw,rmsprop"},
        {"--lr", CLI_FLOAT, &c->optim.lr, 0, 1000, "F", "learning rate (default 0.01 for sgd, 0.001 otherwise)", NULL},
        {"--momentum", CLI_FLOAT, &c->optim.momentum, 0, 0.9999, "F", "momentum of sgd and rmsprop (default 0.9 for sgd, 0 for rmsprop)", NULL},
        {"--nesterov", CLI_BOOL, &c->optim.nesterov, 0, 0, NULL, "Nesterov momentum (sgd)", NULL},
        {"--muon-lr", CLI_FLOAT, &c->muon.lr, 0, 1000, "F", "Muon for the convolution filters with this learning rate (Nesterov momentum, Newton-Schulz orthogonalised updates; docs/architecture.md); --optimizer then updates the other parameters (default 0: off)", NULL},
        {"--muon-momentum", CLI_FLOAT, &c->muon.momentum, 0, 0.9999, "F", "Muon's momentum (default 0.95)", NULL},
        {"--muon-steps", CLI_INT, &c->muon.ns_steps, 1, 20, "N", "Muon's Newton-Schulz iterations (default 5)", NULL},
        {"--muon-renorm", CLI_BOOL, &c->muon.renorm, 0, 0, NULL, "Muon rescales each filter tensor to norm sqrt(output channels) before its step (airbench94_muon)", NULL},
        {"--weight-decay", CLI_FLOAT, &c->optim.weight_decay, 0, 100, "F", "the optimizer's weight decay (default 5e-4 for sgd, 0.01 for adamw, 0 otherwise; decoupled for adamw)", NULL},
        {"--beta1", CLI_FLOAT, &c->optim.beta1, 0, 0.99999, "F", "Adam's beta1 (default 0.9)", NULL},
        {"--beta2", CLI_FLOAT, &c->optim.beta2, 0, 0.99999999, "F", "Adam's beta2 (default 0.999)", NULL},
        {"--eps", CLI_FLOAT, &c->optim.eps, 1e-12, 1, "F", "Adam/RMSprop epsilon (default 1e-8)", NULL},
        {"--lr-mult", CLI_STRING, &w->lr_mult, 0, 0, "ROLE=F,..", "lr multiplier per parameter role (weight, bias, norm_weight, norm_bias); the weight decay is divided by it, keeping the decay per step", NULL},
        {"--lr-schedule", CLI_CHOICE, &w->schedule, 0, 0, "NAME", "none (default), step, multistep, exp, cosine, plateau, onecycle or linear (per step: warm-up, then a linear decay)", "none,step,multistep,exp,cosine,plateau,onecycle,linear"},
        {"--warmup-frac", CLI_DOUBLE, &c->sched.warmup_frac, 0, 0.999, "F", "linear: share of the steps spent rising from --lr-start-factor to 1 (default 0)", NULL},
        {"--lr-start-factor", CLI_DOUBLE, &c->sched.start_factor, 0, 1000, "F", "linear: the lr factor at the first step (default 0)", NULL},
        {"--lr-end-factor", CLI_DOUBLE, &c->sched.end_factor, 0, 1000, "F", "linear: the lr factor at the last step (default 0)", NULL},
        {"--lookahead-every", CLI_INT, &c->lookahead.every, 0, 100000, "K", "Lookahead: every K steps pull the weights to their running average (0: off, default)", NULL},
        {"--lookahead-base", CLI_DOUBLE, &c->lookahead.base, 0, 1, "F", "Lookahead: the average's decay is F^K (step/steps)^power (default 0.95)", NULL},
        {"--lookahead-power", CLI_DOUBLE, &c->lookahead.power, 0, 100, "P", "Lookahead: power of step/steps in the decay (default 3)", NULL},
        {"--step-size", CLI_INT, &c->sched.step_size, 1, 100000, "N", "epochs between decays (step; default a third of the epochs, rounded up)", NULL},
        {"--gamma", CLI_FLOAT, &c->sched.gamma, 1e-6, 1, "F", "decay factor (step, multistep: 0.1; exp: 0.95)", NULL},
        {"--milestones", CLI_STRING, &w->milestones, 0, 0, "A,B,..", "epochs at which multistep decays", NULL},
        {"--min-lr", CLI_FLOAT, &c->sched.min_lr, 0, 1000, "F", "floor of cosine and plateau (default 0)", NULL},
        {"--patience", CLI_INT, &c->sched.patience, 0, 100000, "N", "plateau: epochs without a lower validation loss before a decay (default epochs/10, 1 to 10)", NULL},
        {"--warmup-epochs", CLI_INT, &c->sched.warmup_epochs, 0, 100000, "N", "linear warm-up over N epochs, per step (default 0)", NULL},
        {"--norm", CLI_CHOICE, &w->norm, 0, 0, "NAME", "normalisation in every norm slot: none, batch, layer, instance, group", "none,batch,layer,instance,group"},
        {"--groups", CLI_INT, &c->model_options.groups, 1, 4096, "N", "groups of --norm group (default 32 or the largest divisor that fits)", NULL},
        {"--activation", CLI_CHOICE, &w->act, 0, 0, "NAME", "activation in every activation slot: relu, leaky_relu, sigmoid, tanh, gelu, elu", "relu,leaky_relu,sigmoid,tanh,gelu,elu"},
        {"--dropout", CLI_FLOAT, &w->dropout, 0, 0.99, "P", "dropout probability in the model's dropout slots (default 0)", NULL},
        {"--dropconnect", CLI_FLOAT, &c->model_options.dropconnect, 0, 0.99, "P", "DropConnect probability on fully connected weights (default 0)", NULL},
        {"--kernel-size", CLI_INT, &c->model_options.kernel_size, 1, 15, "K", "kernel size of the model's kernel-size slots", NULL},
        {"--init", CLI_CHOICE, &w->init, 0, 0, "NAME", "pytorch, kaiming or xavier (default: the model's; pytorch unless its file says otherwise, kaiming for VGG)", "pytorch,kaiming,xavier"},
        {"--l2", CLI_FLOAT, &c->l2, 0, 10, "LAMBDA", "adds LAMBDA * sum w^2 over conv and fc weights to the objective (logged separately)", NULL},
        {"--clip-grad-norm", CLI_FLOAT, &c->clip_grad_norm, 0, 1e6, "MAX", "clip the global gradient norm to MAX", NULL},
        {"--clip-grad-value", CLI_FLOAT, &c->clip_grad_value, 0, 1e6, "V", "clamp every gradient to [-V, V]", NULL},
        {"--label-smoothing", CLI_FLOAT, &c->label_smoothing, 0, 0.99, "E", "label smoothing of the training loss (default 0)", NULL},
        {"--input-noise", CLI_FLOAT, &c->augment.input_noise, 0, 100, "SIGMA", "Gaussian noise added to normalised training inputs", NULL},
        {"--augment", CLI_STRING, &w->augment, 0, 0, "LIST", "none (default) or a comma list of crop, flip, cutout", NULL},
        {"--crop-padding", CLI_INT, &c->augment.crop_padding, 0, 16, "N", "zero padding before the random crop (default 4)", NULL},
        {"--cutout-size", CLI_INT, &c->augment.cutout_size, 1, 32, "N", "side of the cutout square (default 8)", NULL},
        {"--translate-padding", CLI_INT, &c->augment.translate_padding, 0, 31, "N", "reflect padding before the translate crop (default 2)", NULL},
        {"--whiten-images", CLI_INT, &c->whiten_images, 1, 1000000, "N", "conv layers with init=whiten: filters from the first N train images (default 5000)", NULL},
        {"--whiten-eps", CLI_FLOAT, &c->whiten_eps, 0, 1, "F", "whitening: eps added to each eigenvalue (default 5e-4)", NULL},
        {"--whiten-bias-epochs", CLI_INT, &c->whiten_bias_epochs, 0, 100000, "N", "whitened layers' bias trains only in the first N epochs (0: always, default)", NULL},
        {"--tta", CLI_INT, &c->tta, 0, 2, "LEVEL", "test-time augmentation of the final validation and `cnnlab test`: 0 none (default), 1 mirror, 2 mirror and 1-pixel translations", NULL},
        {"--early-stop", CLI_INT, &c->early_stop, 1, 100000, "PATIENCE", "stop after PATIENCE epochs without a better validation accuracy; keeps the best weights", NULL},
        {"--seed", CLI_U64, &c->seed, 0, 9.2e18, "N", "seed of the split, initialisation, shuffling, augmentation and dropout (default 1)", NULL},
        {"--threads", CLI_INT, &c->threads, 1, 1024, "N", "OpenMP threads (default: all cores)", NULL},
        {"--sync-bn", CLI_BOOL, &c->sync_bn, 0, 0, NULL, "under mpirun: batch norm's statistics over every rank's images of a step, as one process on the global batch (default: each rank's own, as PyTorch's DDP)", NULL},
        {"--val-fraction", CLI_DOUBLE, &c->val_fraction, 0, 0.9, "F", "share of the training images held out for validation (default 0.1)", NULL},
        {"--subset", CLI_INT, &c->subset, 0, 100000000, "N", "train on only N images of the train split (0 = all)", NULL},
        {"--data", CLI_STRING, &c->data_dir, 0, 0, "PATH", "the data: a cifar-10-batches-bin or cifar-100-binary folder, an IDX folder or file (MNIST family), or an image folder (PATH/train/CLASS/...); the format is detected (default data/cifar-10-batches-bin)", NULL},
        {"--dataset", CLI_CHOICE, &w->dataset, 0, 0, "FORMAT", "the format of --data instead of detecting it: cifar10, cifar100, idx (mnist) or folder", "auto,cifar10,cifar100,idx,mnist,folder"},
        {"--coarse-labels", CLI_BOOL, &c->coarse_labels, 0, 0, NULL, "CIFAR-100: its 20 coarse classes instead of the 100 fine ones", NULL},
        {"--image-size", CLI_STRING, &w->image_size, 0, 0, "HxW", "image folders: every image resized to H x W (default 32x32)", NULL},
        {"--channels", CLI_CHOICE, &w->channels, 0, 0, "C", "image folders: 3 (RGB, default) or 1 (grayscale)", "1,3"},
        {"--skip-bad", CLI_BOOL, &c->skip_bad, 0, 0, NULL, "image folders: skip unreadable images (listed, counted) instead of refusing the data", NULL},
        {"--test-fraction", CLI_DOUBLE, &c->test_fraction, 0.01, 0.9, "F", "image folders without test/: share held out as the test set, the same files for every run (default 0.2)", NULL},
        {"--out", CLI_STRING, &c->out_dir, 0, 0, "RUN_DIR", "run folder to create (default runs/MODEL-DATE-TIME)", NULL},
        {"--resume", CLI_STRING, &w->resume, 0, 0, "RUN_DIR", "continue a run that stopped before its end (killed, crashed) after its last finished epoch; alone: the run's flags come from its config.txt", NULL},
        {"--backend", CLI_CHOICE, &w->backend, 0, 0, "NAME", "fast (default) or reference (plain loops, slow)", "fast,reference"},
        {"--conv", CLI_CHOICE, &w->conv, 0, 0, "ALGO", "convolutions: auto (default: the fastest candidate, timed per shape when training starts), direct, winograd (3x3 stride 1, fp32: oneDNN's where the CPU has it, else cnnlab's), dense (an input map of at most kernel size, e.g. 2x2 under 3x3, as one matrix product, fp32), winograd-sgemm (cnnlab's Winograd on sgemm, any CPU, fp32) or winograd-bf16 (bf16 plans: cnnlab's F(2x2, 3x3) on AVX512_BF16, 3x3 stride 1, channels in 8s)", "auto,direct,winograd,dense,winograd-sgemm,winograd-bf16"},
        {"--precision", CLI_CHOICE, &w->precision, 0, 0, "P", "fp32 (default) or bf16: convolutions on bf16 with fp32 accumulation and fp32 master weights", "fp32,bf16"},
        {"--activations", CLI_CHOICE, &w->activations, 0, 0, "A", "with --precision bf16: bf16 (default: activations stored as bf16 between the layers that can read and write them, as PyTorch's autocast; less memory and traffic) or fp32 (every activation kept fp32)", "bf16,fp32"},
    };
    int n = (int)(sizeof flags / sizeof flags[0]);
    CNN_ASSERT(n <= TRAIN_MAX_FLAGS);
    memcpy(out, flags, sizeof flags);
    return n;
}

int cnn_cli_train_flag_kind(const char *name)
{
    cnn_train_config c;
    train_words w;
    cli_flag flags[TRAIN_MAX_FLAGS];
    cli_command cmd = {.name = "train", .flags = flags, .flag_count = train_flags(&c, &w, flags)};
    const cli_flag *f = cli_find_flag(&cmd, name);
    return !f ? -1 : f->type == CLI_BOOL ? 0 : 1;
}

static cnn_status parse_milestones(const char *text, cnn_sched_config *s, cnn_error *err)
{
    s->milestone_count = 0;
    const char *p = text;
    while (*p) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 1 || v > 100000 || s->milestone_count >= 32 ||
            (s->milestone_count && v <= s->milestones[s->milestone_count - 1]))
            return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "--milestones: expected "
                                 "increasing epoch numbers separated by commas (at most 32), "
                                 "found '%s'", text);
        s->milestones[s->milestone_count++] = (int)v;
        p = *end == ',' ? end + 1 : end;
        if (*end && *end != ',')
            return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "--milestones: expected "
                                 "numbers separated by commas, found '%s'", text);
    }
    return CNN_STATUS_OK;
}

/* "norm_bias=64,weight=1" -> lr_mult per role */
static cnn_status parse_lr_mult(const char *text, float *mult, cnn_error *err)
{
    const char *p = text;
    while (*p) {
        size_t n = strcspn(p, "=,");
        char role[32];
        cnn_param_role r;
        char *end;
        double v = 0;
        int ok = p[n] == '=' && n < sizeof role;
        if (ok) {
            memcpy(role, p, n);
            role[n] = 0;
            v = strtod(p + n + 1, &end);
            ok = cnn_param_role_parse(role, &r) && end != p + n + 1 && (*end == ',' || !*end) &&
                 v >= 0 && v <= 1e6;
        }
        if (!ok)
            return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "--lr-mult: expected "
                                 "ROLE=F[,ROLE=F...] with ROLE weight, bias, norm_weight or "
                                 "norm_bias and F in [0, 1e6], found '%s'", text);
        mult[r] = (float)v;
        p = *end == ',' ? end + 1 : end;
    }
    return CNN_STATUS_OK;
}

/* argv with the flags of --recipe NAME (if given) in front of the others, so
 * that the flags given win; the words live until the program ends. */
static cnn_status expand_recipe(int *argc, char ***argv, cnn_error *err)
{
    const char *recipe = NULL;
    for (int i = 1; i < *argc; i++) {
        if (strcmp((*argv)[i], "--recipe") == 0 && i + 1 < *argc)
            recipe = (*argv)[i + 1];
        else if (strncmp((*argv)[i], "--recipe=", 9) == 0)
            recipe = (*argv)[i] + 9;
    }
    if (!recipe)
        return CNN_STATUS_OK;
    const cnn_recipe *r = cnn_recipe_find(recipe);
    if (!r) {
        int n;
        const cnn_recipe *all = cnn_recipes(&n);
        char names[1024] = "";
        cnn_fixbuf b = {names, sizeof names, 0};
        for (int i = 0; i < n; i++)
            cnn_fixbuf_printf(&b, "%s %s", i ? "," : "", all[i].name);
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "--recipe: unknown recipe '%s'; "
                             "expected one of%s (`cnnlab recipes` lists them)", recipe, names);
    }
    char **words = malloc(((size_t)*argc + (size_t)r->count + 1) * sizeof *words);
    if (!words)
        return cnn_error_set(err, CNN_STATUS_NO_MEMORY, "no memory");
    words[0] = (*argv)[0];
    for (int i = 0; i < r->count; i++)
        words[1 + i] = (char *)r->words[i];
    for (int i = 1; i < *argc; i++)
        words[r->count + i] = (*argv)[i];
    *argc += r->count;
    words[*argc] = NULL;
    *argv = words;
    return CNN_STATUS_OK;
}

/* --image-size HxW (or one number for a square) */
static cnn_status parse_image_size(const char *text, cnn_train_config *c, cnn_error *err)
{
    char *end;
    long h = strtol(text, &end, 10), w = h;
    if (end != text && (*end == 'x' || *end == 'X')) {
        const char *p = end + 1;
        w = strtol(p, &end, 10);
        if (end == p)
            w = 0;
    }
    if (end == text || *end || h < 1 || h > 4096 || w < 1 || w > 4096)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "--image-size: expected HxW "
                             "(e.g. 64x64) with sides from 1 to 4096, found '%s'", text);
    c->image_h = (int)h;
    c->image_w = (int)w;
    return CNN_STATUS_OK;
}

/* The model: --var and --head as its variables (the text lives as long as
 * argv: a static buffer, one configuration per process), loaded to check. */
static cnn_status load_model(train_words *w, cnn_train_config *c, const cnn_model_desc **desc,
                             cnn_error *err)
{
    static char model_vars[512];
    cnn_cli_model_vars(w->vars, w->head, model_vars, sizeof model_vars);
    c->model_vars = model_vars[0] ? model_vars : NULL;
    cnn_error lerr = {0};
    if (cnn_model_load(c->model, c->model_vars, desc, &lerr) == CNN_STATUS_OK)
        return CNN_STATUS_OK;
    if (w->head >= 0 && strstr(lerr.msg, "head"))
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "--head: model %s has no head "
                             "knob (%s)", c->model, lerr.msg);
    return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "--model: %s", lerr.msg);
}

/* The optimizer and the schedule: the kinds named, the milestones given
 * (a warning on notes for one that never fires), then the library's
 * defaults for what was not given. */
static cnn_status optim_and_sched(const char *name, const train_words *w, cnn_train_config *c,
                                  FILE *notes, cnn_error *err)
{
    cnn_opt_kind_parse(w->optimizer, &c->optim.kind);
    cnn_sched_kind_parse(w->schedule, &c->sched.kind);
    cnn_status st;
    if (w->milestones && (st = parse_milestones(w->milestones, &c->sched, err)))
        return st;
    for (int i = 0; notes && i < c->sched.milestone_count; i++)
        if (c->sched.milestones[i] >= c->epochs) {
            fprintf(notes, "cnnlab %s: --milestones: warning: %d at or past the end of the run "
                    "(--epochs %d) never fires (as in PyTorch's MultiStepLR)\n", name,
                    c->sched.milestones[i], c->epochs);
            break;
        }
    return cnn_train_config_resolve(c, err);
}

/* The words that name kinds (norm, activation, init, augmentation,
 * backend, precision, convolution algorithm) as the configuration's values. */
static cnn_status place_words(const train_words *w, cnn_train_config *c, cnn_error *err)
{
    if (w->norm)
        cnn_norm_kind_parse(w->norm, &c->model_options.norm);
    if (w->act)
        cnn_act_parse(w->act, &c->model_options.act);
    if (w->init)
        cnn_init_kind_parse(w->init, &c->model_options.init);
    if (w->dropout >= 0)
        c->model_options.dropout = w->dropout;
    cnn_augment aug = c->augment;
    cnn_status st = cnn_augment_parse(w->augment, &aug, err);
    if (st)
        return st;
    c->augment = aug;
    c->exec.backend = strcmp(w->backend, "reference") == 0 ? CNN_BACKEND_REFERENCE
                                                            : CNN_BACKEND_FAST;
    cnn_precision_parse(w->precision, &c->exec.precision);
    c->exec.fp32_activations = strcmp(w->activations, "fp32") == 0;
    cnn_conv_algo_parse(w->conv, &c->exec.conv);
    if (c->exec.precision == CNN_PRECISION_BF16 && c->exec.backend != CNN_BACKEND_FAST)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "--precision bf16 needs "
                             "--backend fast, found --backend %s", w->backend);
    return CNN_STATUS_OK;
}

cnn_status cnn_cli_train_config(const char *name, int argc, char **argv, cnn_train_config *out,
                                int *help, FILE *notes, cnn_error *err)
{
    cnn_status st = expand_recipe(&argc, &argv, err);
    if (st)
        return st;
    cnn_train_config c;
    cnn_train_config_defaults(&c);
    train_words w = {.backend = "fast", .precision = "fp32", .activations = "bf16",
                     .conv = "auto", .optimizer = "sgd",
                     .schedule = "none", .augment = "none", .reduction = "mean", .dropout = -1,
                     .head = -1, .epochs = -1};
    cli_flag flags[TRAIN_MAX_FLAGS];
    int asked = 0;
    cli_command cmd = {
        .name = name,
        .usage = "cnnlab train --model NAME [options]",
        .about = "Trains a model on the train split, evaluating on the validation split after "
                 "each epoch. Writes RUN_DIR/config.txt, metrics.csv, status.txt, best.weights "
                 "and last.weights. The test set is not touched: see `cnnlab test`.",
        .flags = flags,
        .flag_count = train_flags(&c, &w, flags),
    };
    cmd.no_hint = strcmp(name, "train") != 0; /* study's and select's words are train's flags */
    if ((st = cli_parse(&cmd, argc, argv, help ? &asked : NULL, err)) || asked) {
        if (help)
            *help = asked;
        return st;
    }
    if (help)
        *help = 0;
    if (w.epochs > 0) {
        c.epochs = (int)ceil(w.epochs - 1e-9);
        c.epochs_fraction = w.epochs == floor(w.epochs) ? 0 : w.epochs;
    }
    c.loss_sum = strcmp(w.reduction, "sum") == 0;
    if (w.lr_mult && (st = parse_lr_mult(w.lr_mult, c.lr_mult, err)))
        return st;
    if (w.resume)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "--resume RUN_DIR %s",
                             strcmp(name, "train") ? "belongs to `cnnlab train`"
                                                   : "comes alone, right after `train` (the run's "
                                                     "own flags come from RUN_DIR/config.txt)");
    const cnn_model_desc *desc;
    if ((st = load_model(&w, &c, &desc, err)) ||
        (st = optim_and_sched(name, &w, &c, notes, err)) || (st = place_words(&w, &c, err)))
        return st;
    if (w.dataset)
        cnn_data_format_parse(w.dataset, &c.data_format);
    if (w.image_size && (st = parse_image_size(w.image_size, &c, err)))
        return st;
    if (w.channels)
        c.image_channels = atoi(w.channels);
    /* Options the model cannot take are refused now, before any data is
     * read, for the data's shape (from its headers). */
    cnn_data_source src;
    cnn_data_info data;
    cnn_train_data_source(&c, &src);
    if ((st = cnn_data_peek(&src, &data, err)) ||
        (st = cnn_model_load_shaped(c.model, c.model_vars,
                                    &(cnn_data_shape){data.h, data.w, data.c, data.classes},
                                    &desc, err)))
        return st;
    cnn_model *probe;
    if ((st = cnn_model_create(desc, &c.model_options, &probe, err)))
        return st;
    cnn_model_destroy(probe);
    *out = c;
    return CNN_STATUS_OK;
}

/* Splits a command line written by cli_join (words separated by single
 * spaces; a word with other characters in single quotes, a quote in it as
 * '\\'') into words, in place; returns their number (at most max). */
static int split_words(char *s, char **words, int max)
{
    int n = 0;
    char *out = s;
    while (*s == ' ')
        s++;
    while (*s && n < max) {
        words[n++] = out;
        while (*s && *s != ' ') {
            if (*s == '\'') {
                for (s++; *s && *s != '\''; )
                    *out++ = *s++;
                if (*s)
                    s++;
            } else if (*s == '\\' && s[1]) {
                *out++ = s[1];
                s += 2;
            } else {
                *out++ = *s++;
            }
        }
        while (*s == ' ')
            s++;
        *out++ = 0;
    }
    return n;
}

/* `train --resume RUN_DIR`: the run's configuration is its own command line,
 * as config.txt recorded it; only the run folder is taken from RUN_DIR.
 * *line_out: that line; *words_out: the words c's strings point into (the
 * caller frees both when done with c). */
static cnn_status resume_config(const char *dir, cnn_train_config *c, char **line_out,
                                char **words_out, cnn_error *err)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/config.txt", dir);
    char *text;
    size_t size;
    cnn_error rerr = {0};
    if (cnn_file_read_text(path, &text, &size, &rerr))
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "--resume: %s", rerr.msg);
    static const char key[] = "# reproduce with: ";
    char *s = text, *at = strstr(s, key);
    char *line = NULL;
    if (at) {
        at += strlen(key);
        size_t n = strcspn(at, "\r\n");
        line = malloc(n + 1);
        if (line)
            memcpy(line, at, n), line[n] = 0;
    }
    free(text);
    char *copy = line ? malloc(strlen(line) + 1) : NULL, *words[256];
    if (copy)
        strcpy(copy, line);
    int n = copy ? split_words(copy, words, 256) : 0;
    if (n < 2 || strcmp(words[1], "train") != 0) {
        cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "--resume: %s: expected a line '%s... "
                      "train ...' with the command that started the run, found %.900s", path, key,
                      line ? line : "none");
        free(line);
        free(copy);
        return err->status;
    }
    cnn_status st = cnn_cli_train_config("train", n - 1, words + 1, c, NULL, stderr, &rerr);
    if (st) {
        free(line);
        free(copy);
        return cnn_error_set(err, st, "--resume: the command in %s was refused: %s", path,
                             rerr.msg);
    }
    c->out_dir = dir;
    c->resume = 1;
    c->command_line = line;
    *line_out = line;
    *words_out = copy; /* the parsed strings (model name, data folder) point into it */
    return CNN_STATUS_OK;
}

cnn_status cnn_cmd_train(int argc, char **argv, cnn_error *err)
{
    cnn_train_config c;
    char *line = NULL, *words = NULL;
    int help = 0;
    cnn_status st;
    if (argc >= 2 && strcmp(argv[1], "--resume") == 0) {
        if (argc != 3)
            return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "--resume RUN_DIR takes no "
                                 "other flags (the run's own come from RUN_DIR/config.txt), "
                                 "found %s", argc < 3 ? "no RUN_DIR" : argv[3]);
        st = resume_config(argv[2], &c, &line, &words, err);
    } else {
        st = cnn_cli_train_config("train", argc, argv, &c, &help, stderr, err);
    }
    if (st || help)
        return st;
    char out[4096];
    if (!c.out_dir) {
        char stamp[32];
        time_t t = time(NULL);
        strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", localtime(&t));
        snprintf(out, sizeof out, "runs/%s-%s", c.model, stamp);
        for (int i = 2; cnn_path_exists(out); i++)
            snprintf(out, sizeof out, "runs/%s-%s-%d", c.model, stamp, i);
        cnn_dist_bcast(out, sizeof out, 0); /* under MPI: rank 0's name */
        c.out_dir = out;
    }
    if (!line) {
        line = cli_join(argc + 1, argv - 1);
        c.command_line = line;
    }
    progress p = {isatty(2), cnn_now()};
    c.data_progress = p.tty; /* a first decode of an image folder says how far it is */
    cnn_train_hooks hooks = {on_info, on_step, on_epoch, &p};
    const int tell = cnn_dist_rank() == 0; /* under MPI rank 0 speaks */
    if (tell)
        printf("run folder: %s\n", c.out_dir);
    st = cnn_train(&c, &hooks, err);
    free(line);
    free(words);
    if (st)
        return st;
    if (tell)
        printf("done: %s (next: cnnlab test %s)\n", c.out_dir, c.out_dir);
    return CNN_STATUS_OK;
}
