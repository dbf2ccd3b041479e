/* optim.h: everything that turns gradients into a parameter update, with
 * PyTorch's (1.13) semantics:
 *
 *   optimizers     cnn_optim: SGD (momentum, Nesterov), Adam, AdamW, RMSprop,
 *                  with optional parameter groups (lr and weight-decay
 *                  multipliers per slice of the block; lr 0 freezes a slice)
 *   schedules      cnn_sched: the learning rate of every training step
 *                  (step, multistep, exponential, cosine, plateau, one-cycle,
 *                  linear, and a linear warm-up that composes with any of them)
 *   lookahead      cnn_lookahead: a shadow (EMA) copy of the parameter and
 *                  state blocks that the live network is pulled back to
 *   clipping       cnn_clip_grad_norm, cnn_clip_grad_value
 *   L2 penalty     cnn_l2_penalty: an explicit lambda * sum w^2 term
 *
 * One training step, in this order:
 *
 *   backward                                  -> grads
 *   pen  = cnn_l2_penalty(lambda, weights, n, params, grads);   (optional)
 *   cnn_clip_grad_norm(grads, count, max_norm);                 (optional)
 *   cnn_clip_grad_value(grads, count, clip);                    (optional)
 *   lr   = cnn_sched_lr(&sched, epoch, step);
 *   cnn_optim_step(&opt, lr, params, grads);
 *   k = k + 1;                                   (steps taken; with lookahead:)
 *   if k % every == 0: cnn_lookahead_update(&la, params, state,
 *                                           cnn_lookahead_decay(&lc, k, N));
 *   if k == N:         cnn_lookahead_update(&la, params, state, 1.0f);
 *   ... and after each epoch's validation: cnn_sched_epoch_end(&sched, val_loss).
 *
 * Every function works on a model's whole parameter block (params and grads
 * are (count) floats each) and each optimizer state is one block of the same
 * size, so an update is one fused loop. Tested against PyTorch trajectories in
 * tests/test_optim.c (fixtures from tools/fixtures/make_optim_fixtures.py).
 */
#ifndef CNNLAB_OPTIM_H
#define CNNLAB_OPTIM_H

#include <stddef.h>

#include "cnnlab/status.h"

/* ======================================================================
 * Optimizers
 * ====================================================================== */

/* A slice of the parameter block: elements [offset, offset + count). */
typedef struct cnn_range {
    size_t offset, count;
} cnn_range;

typedef enum cnn_opt_kind {
    CNN_OPT_SGD,
    CNN_OPT_ADAM,
    CNN_OPT_ADAMW,
    CNN_OPT_RMSPROP
} cnn_opt_kind;

typedef struct cnn_optim_config {
    cnn_opt_kind kind;
    float lr;           /* the base learning rate (a schedule scales from it) */
    float momentum;     /* SGD and RMSprop; [0, 1) */
    float weight_decay; /* coupled (added to the gradient) except for AdamW */
    int nesterov;       /* SGD only; needs momentum > 0 */
    float beta1, beta2; /* Adam, AdamW; [0, 1) */
    float eps;          /* Adam, AdamW, RMSprop; >= 0 */
    float alpha;        /* RMSprop's smoothing constant; [0, 1] */
} cnn_optim_config;

/* Fills c with PyTorch's defaults for kind: momentum 0, nesterov 0,
 * betas (0.9, 0.999), eps 1e-8, RMSprop alpha 0.99; weight decay 0.01 for
 * AdamW, 0 otherwise; lr 1e-3 for Adam/AdamW, 1e-2 for RMSprop and SGD
 * (PyTorch's SGD has no default lr; 1e-2 is cnnlab's choice). */
void cnn_optim_config_defaults(cnn_optim_config *c, cnn_opt_kind kind);

/* A parameter group: a slice of the block with its own multipliers, as a
 * PyTorch param group with its own lr and weight_decay. Its elements step with
 *     lr_eff = lr * lr_mult,   wd_eff = weight_decay * wd_mult
 * (each product taken in double and rounded once to float) in the formulas of
 * cnn_optim_step. lr_mult 0 freezes the slice, as requires_grad=False does in
 * PyTorch (the parameter is not in any group): its parameters and its
 * optimizer state are not touched at all, whatever its gradients hold. E.g.
 * airbench's batch-norm biases: lr_mult 64, wd_mult 1/64 (so lr_eff * wd_eff,
 * the decay per step, stays that of the other parameters). */
typedef struct cnn_param_group {
    cnn_range range;
    float lr_mult; /* >= 0; 0 freezes */
    float wd_mult; /* >= 0 */
} cnn_param_group;

/* The optimizer's state. Which blocks exist depends on the kind:
 *   SGD      m: momentum buffer (only when momentum > 0)
 *   Adam(W)  m: first moment (exp_avg), v: second moment (exp_avg_sq)
 *   RMSprop  v: square_avg, m: momentum buffer (only when momentum > 0)
 * Unused blocks are NULL. t counts the steps taken (Adam's bias correction).
 * runs is the block cut by cnn_optim_set_groups into sorted, disjoint groups
 * that cover [0, count) (gaps filled with multipliers 1, neighbours with equal
 * multipliers merged); NULL (run_count 0) means one run of multipliers 1. */
typedef struct cnn_optim {
    cnn_optim_config c;
    size_t count;
    float *m; /* (count) or NULL */
    float *v; /* (count) or NULL */
    long t;
    cnn_param_group *runs; /* (run_count) or NULL */
    int run_count;
} cnn_optim;

/* Validates c (errors name the flag: --lr, --momentum, --nesterov,
 * --weight-decay, --beta1, --beta2, --eps, --alpha, with the value found and
 * the range allowed) and allocates zeroed state for count parameters. No
 * groups: every element has multipliers 1. */
cnn_status cnn_optim_init(cnn_optim *o, const cnn_optim_config *c, size_t count, cnn_error *err);

/* Sets the parameter groups (after init; may be called again between steps,
 * e.g. to freeze a slice from some epoch on; n = 0 clears them). The n groups
 * must lie inside the block and not overlap (any order; empty ones are
 * ignored); elements outside every group keep multipliers 1. g is copied. On
 * an error (INVALID_ARGUMENT naming the group, or NO_MEMORY) the groups in
 * effect before stay. Optimizer state is kept either way. */
cnn_status cnn_optim_set_groups(cnn_optim *o, const cnn_param_group *g, int n, cnn_error *err);

/* One update of params (count) from grads (count) with learning rate lr (the
 * schedule's value for this step; o->c.lr is not used here). grads is not
 * modified. One fused OpenMP pass over the block (one per run of equal
 * multipliers when groups are set; frozen runs are skipped). Per element, with
 * g = grad, p = param, t = the step number from 1, and lr and wd the group's
 * lr_eff and wd_eff (lr and weight_decay when there are no groups):
 *
 * SGD (torch.optim.SGD, dampening 0):
 *     g = g + wd * p
 *     momentum > 0:  m = momentum * m + g     (m starts at 0: the first m is g)
 *                    g = nesterov ? g + momentum * m : m
 *     p = p - lr * g
 *   With momentum 0 and wd 0 this is exactly p -= lr * g.
 *
 * Adam (torch.optim.Adam, amsgrad off; weight decay coupled, L2-style):
 *     g = g + wd * p
 *     m = beta1 * m + (1 - beta1) * g
 *     v = beta2 * v + (1 - beta2) * g^2
 *     p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
 *
 * AdamW (torch.optim.AdamW): Adam without the coupled term, and first
 *     p = p * (1 - lr * wd)                   (decoupled decay, scaled by lr)
 *
 * RMSprop (torch.optim.RMSprop, centered off):
 *     g = g + wd * p
 *     v = alpha * v + (1 - alpha) * g^2
 *     momentum > 0:  m = momentum * m + g / (sqrt(v) + eps);  p = p - lr * m
 *     otherwise:     p = p - lr * g / (sqrt(v) + eps)
 *
 * t counts every call, frozen slices included: PyTorch counts Adam's steps per
 * parameter, so a slice frozen for some steps and then released would see a
 * smaller t there than here (while it stays frozen the two agree). */
void cnn_optim_step(cnn_optim *o, float lr, float *params, const float *grads);

/* Frees the state blocks and the groups. */
void cnn_optim_free(cnn_optim *o);

/* "sgd", "adam", "adamw", "rmsprop". parse returns 1 and sets *out, or 0 for
 * an unknown name (leaving *out alone). */
const char *cnn_opt_kind_name(cnn_opt_kind k);
int cnn_opt_kind_parse(const char *s, cnn_opt_kind *out);


/* ======================================================================
 * Muon: orthogonalised updates for convolution filters
 * ====================================================================== */

/* Muon (Jordan et al., 2024; as airbench94_muon uses it) updates each filter
 * tensor W (rows = output channels, cols = the rest, PyTorch's
 * W.reshape(len(W), -1)) with the nearest semi-orthogonal matrix to its
 * momentum, while the base optimizer (cnn_optim, which must leave these ranges
 * frozen) updates every other parameter. One step of a matrix, g its gradient:
 *     m = momentum * m + g                      (m: the caller's block, see below)
 *     g = nesterov ? g + momentum * m : m
 *     renorm:  W = W * sqrt(rows) / ||W||_F     (airbench: filters keep their norm)
 *     W = W - lr * NS(g)
 * NS(g) is the quintic Newton-Schulz iteration: X = g / (||g||_F + 1e-7),
 * taken as its transpose when rows > cols, then steps times
 *     A = X X^T,  B = b A + c A A,  X = a X + B X
 * with (a, b, c) = (3.4445, -4.7750, 2.0315), which brings every singular value
 * of X near 1 (between about 0.7 and 1.2) rather than exactly to it. */
typedef struct cnn_muon_config {
    float lr;       /* > 0; the schedule scales it as it scales the base lr */
    float momentum; /* [0, 1) */
    int nesterov;
    int ns_steps;   /* Newton-Schulz iterations, 1..20 (Muon's default 5; airbench 3) */
    int renorm;     /* 1: the rescaling to sqrt(rows) before each step (airbench) */
} cnn_muon_config;

/* One filter tensor: rows x cols floats at offset of the parameter block. */
typedef struct cnn_muon_matrix {
    size_t offset;
    int rows, cols;
} cnn_muon_matrix;

typedef struct cnn_muon {
    cnn_muon_config c;
    cnn_muon_matrix *mats; /* (count) */
    int count;
    float *work;           /* the largest matrix's scratch */
} cnn_muon;

/* Validates c (errors name --muon-lr, --muon-momentum, --muon-steps) and the
 * matrices (n of them, copied), and allocates the scratch. */
cnn_status cnn_muon_init(cnn_muon *mu, const cnn_muon_config *c, const cnn_muon_matrix *mats,
                         int n, cnn_error *err);
/* One step of every matrix with learning rate lr. m is the momentum block,
 * indexed as params (the base optimizer's own momentum or first-moment block,
 * whose slices at the matrices it never touches while they are frozen for it:
 * so resume.state keeps Muon's momentum with no field of its own). */
void cnn_muon_step(cnn_muon *mu, float lr, float *params, const float *grads, float *m);
void cnn_muon_free(cnn_muon *mu);

/* NS(g) of a rows x cols matrix into out (may not alias g): the fast form on
 * sgemm (oneDNN), and the reference with plain loops accumulating in double.
 * work: cnn_muon_work_floats(rows, cols) floats. */
size_t cnn_muon_work_floats(int rows, int cols);
void cnn_muon_orthogonalize(int rows, int cols, int steps, const float *g, float *out,
                            float *work);
void cnn_muon_orthogonalize_ref(int rows, int cols, int steps, const float *g, float *out);

/* ======================================================================
 * Gradient adjustments before the step
 * ====================================================================== */

/* The explicit L2 penalty lambda * sum w^2 over the elements of the n ranges
 * (usually the conv and linear weights, not biases or norm parameters):
 *     grads[i] += 2 * lambda * params[i]      for i in the ranges
 * Returns lambda * sum w^2 (summed in double), the term this adds to the
 * objective, for logging. Independent of the optimizer's weight decay. */
double cnn_l2_penalty(float lambda, const cnn_range *ranges, int n, const float *params,
                      float *grads);

/* torch.nn.utils.clip_grad_norm_ (norm type 2) over the whole block:
 *     total = sqrt(sum g^2)            (accumulated in double)
 *     coef  = max_norm / (total + 1e-6)
 *     if coef < 1: g = g * coef
 * Returns total, the norm before clipping. A NaN or infinite total leaves the
 * gradients untouched (PyTorch would scale them by NaN or 0); check the return
 * value with isfinite when that matters. */
double cnn_clip_grad_norm(float *grads, size_t count, float max_norm);

/* torch.nn.utils.clip_grad_value_: g = min(max(g, -clip), clip). NaN stays NaN. */
void cnn_clip_grad_value(float *grads, size_t count, float clip);

/* ======================================================================
 * Learning-rate schedules
 * ====================================================================== */

typedef enum cnn_sched_kind {
    CNN_SCHED_NONE,
    CNN_SCHED_STEP,
    CNN_SCHED_MULTISTEP,
    CNN_SCHED_EXP,
    CNN_SCHED_COSINE,
    CNN_SCHED_PLATEAU,
    CNN_SCHED_ONECYCLE,
    CNN_SCHED_LINEAR
} cnn_sched_kind;

#define CNN_SCHED_MAX_MILESTONES 32

typedef struct cnn_sched_config {
    cnn_sched_kind kind;
    float base_lr;       /* the optimizer's lr; one-cycle's max_lr */
    int epochs;          /* length of the run: cosine's T_max, one-cycle's length */
    int steps_per_epoch; /* training steps per epoch (one-cycle and warm-up count steps) */
    int total_steps;     /* > 0: N, the run's length in steps (a step budget, e.g.
                            ceil(9.9 epochs x 48) = 476), for one-cycle, linear and
                            cosine, which then runs per step; 0: N = epochs *
                            steps_per_epoch and cosine runs per epoch */
    int step_size;       /* step: epochs between decays, >= 1 */
    float gamma;         /* step, multistep, exp: the decay factor, > 0 */
    int milestones[CNN_SCHED_MAX_MILESTONES]; /* multistep: increasing, >= 1 (>= epochs: never fires) */
    int milestone_count;
    float min_lr;        /* cosine's eta_min, plateau's floor; in [0, base_lr] */
    int patience;        /* plateau: bad epochs tolerated before a decay, >= 0 */
    float factor;        /* plateau: the decay multiplier, in (0, 1); 0 means 0.1 */
    int warmup_epochs;   /* linear warm-up length in epochs, in [0, epochs]; 0: off */
    /* linear only (doubles, so that W and the factors are what Python computes
     * from the same decimal text): */
    double warmup_frac;  /* W = (int)(N * warmup_frac), in [0, 1) */
    double start_factor; /* the factor at step 0 (with W > 0), >= 0 */
    double end_factor;   /* the factor at step N, >= 0 */
} cnn_sched_config;

/* Fills c for kind with PyTorch's defaults where PyTorch has them: gamma 0.1
 * (step, multistep) or 0.95 (exp, which PyTorch requires explicitly),
 * factor 0.1, patience 10, min_lr 0, no warm-up, total_steps 0; linear:
 * warmup_frac 0, start_factor 0, end_factor 0 (a straight decay from base_lr
 * to 0). base_lr, epochs, steps_per_epoch, step_size and milestones are the
 * caller's to set. */
void cnn_sched_config_defaults(cnn_sched_config *c, cnn_sched_kind kind);

typedef struct cnn_sched {
    cnn_sched_config c;
    double plateau_lr; /* plateau: the lr now in effect */
    double best;       /* plateau: the lowest validation loss so far (starts at +inf) */
    int bad_epochs;    /* plateau: epochs since best improved */
} cnn_sched;

/* Validates c and starts the schedule. Errors name the flag (--lr, --epochs,
 * --step-size, --gamma, --milestones, --min-lr, --patience, --factor,
 * --warmup-epochs, --warmup-frac, --lr-start-factor, --lr-end-factor; "total
 * steps" and "steps per epoch", which the caller derives), the value found and
 * the range allowed. The settings of other kinds are not looked at. */
cnn_status cnn_sched_init(cnn_sched *s, const cnn_sched_config *c, cnn_error *err);

/* The lr in effect for training step `step` (0-based, within the epoch) of
 * epoch `epoch` (0-based). With e = epoch, E = epochs, i = e * steps_per_epoch
 * + step (the global step) and N = total_steps if > 0, else E *
 * steps_per_epoch, the schedule's lr is PyTorch's scheduler stepped once per
 * epoch (per step for one-cycle, linear, and cosine with total_steps > 0):
 *
 *   none       base_lr
 *   step       base_lr * gamma^floor(e / step_size)                    (StepLR)
 *   multistep  base_lr * gamma^(number of milestones <= e)        (MultiStepLR)
 *   exp        base_lr * gamma^e                                (ExponentialLR)
 *   cosine     min_lr + (base_lr - min_lr) * (1 + cos(pi * e / E)) / 2
 *              (CosineAnnealingLR, T_max = E, eta_min = min_lr; closed form;
 *              e > E holds min_lr. The last epoch, E-1, is still above min_lr.)
 *              With total_steps > 0, per step: i / N in place of e / E
 *              (T_max = N, stepped per step; i > N holds min_lr).
 *   plateau    the lr ReduceLROnPlateau has reached (see cnn_sched_epoch_end)
 *   onecycle   OneCycleLR(max_lr = base_lr, total_steps = N, pct_start 0.3,
 *              anneal 'cos', div_factor 25, final_div_factor 1e4,
 *              three_phase off) at step i (i >= N is taken as N-1):
 *                a = 0.3 * N - 1   (float, may be fractional)
 *                i <= a:  cos_anneal(base_lr / 25, base_lr, i / a)
 *                else:    cos_anneal(base_lr, base_lr / 25 / 1e4, (i - a) / (N - 1 - a))
 *              with cos_anneal(x, y, f) = y + (x - y) * (1 + cos(pi * f)) / 2.
 *              Only the lr cycles: PyTorch's default cycle_momentum=True would
 *              also cycle SGD's momentum (0.95 -> 0.85) or Adam's beta1; cnnlab
 *              does not, which is PyTorch's cycle_momentum=False.
 *   linear     base_lr * f(i), with W = (int)(N * warmup_frac):
 *                i < W:  f = start_factor * (1 - i / W) + i / W
 *                else:   f = (1 - t) + end_factor * t,  t = (i - W) / (N - W)
 *              (LambdaLR with that lambda, stepped per step: airbench's
 *              schedule; W = 0 skips the ramp; i >= N holds end_factor.)
 *
 * Warm-up (warmup_epochs > 0, W = warmup_epochs * steps_per_epoch) multiplies
 * that lr by (i + 1) / W while i < W, and by 1 afterwards: the first step runs
 * at lr/W, step W-1 at the full lr. It is torch.optim.lr_scheduler.LinearLR(
 * start_factor = 1/W, end_factor = 1, total_iters = W - 1) stepped per step,
 * multiplied with the schedule above (which keeps running during warm-up). */
float cnn_sched_lr(const cnn_sched *s, int epoch, int step);

/* Plateau bookkeeping after each epoch's validation (no-op for other kinds),
 * as ReduceLROnPlateau(mode 'min', threshold 1e-4 'rel', cooldown 0, eps 1e-8):
 *     if val_loss < best * (1 - 1e-4):  best = val_loss, bad = 0
 *     else                              bad = bad + 1      (NaN counts as bad)
 *     if bad > patience:
 *         new = max(lr * factor, min_lr);  if lr - new > 1e-8: lr = new
 *         bad = 0                          (even when lr is already at min_lr) */
void cnn_sched_epoch_end(cnn_sched *s, double val_loss);

/* "none", "step", "multistep", "exp", "cosine", "plateau", "onecycle",
 * "linear". parse returns 1 and sets *out, or 0 for an unknown name. */
const char *cnn_sched_kind_name(cnn_sched_kind k);
int cnn_sched_kind_parse(const char *s, cnn_sched_kind *out);

/* ======================================================================
 * Lookahead (weight EMA)
 * ====================================================================== */

/* airbench's lookahead: a shadow copy of everything the model's state_dict
 * holds in floats (the parameter block and the state block: batch-norm running
 * mean and variance), taken once; every `every` steps the shadow moves toward
 * the live network and the live network is set to the shadow; at the last step
 * the network becomes the shadow. All elements take part, frozen parameters
 * included (state_dict has them too). */
typedef struct cnn_lookahead_config {
    int every;    /* steps between updates, >= 1 (airbench: 5) */
    double base;  /* decay base, in [0, 1] (airbench: 0.95) */
    double power; /* exponent of step / total, >= 0 (airbench: 3) */
} cnn_lookahead_config;

/* airbench's settings: every 5, base 0.95, power 3. */
void cnn_lookahead_config_defaults(cnn_lookahead_config *c);

/* Errors name the flag (--lookahead-every, --lookahead-base,
 * --lookahead-power), the value found and the range allowed. */
cnn_status cnn_lookahead_config_check(const cnn_lookahead_config *c, cnn_error *err);

typedef struct cnn_lookahead {
    float *params;   /* (n_params) the shadow of the parameter block */
    size_t n_params;
    float *state;    /* (n_state) the shadow of the state block; NULL when n_state is 0 */
    size_t n_state;
} cnn_lookahead;

/* Allocates the shadow and copies params (n_params) and state (n_state; may
 * be NULL when n_state is 0) into it. Only this copies: a caller reproducing
 * airbench takes it before the whitening layer's data-dependent init, so the
 * shadow starts from the random init. */
cnn_status cnn_lookahead_init(cnn_lookahead *la, const float *params, size_t n_params,
                              const float *state, size_t n_state, cnn_error *err);

/* For both blocks, element by element (ema the shadow, live the network's):
 *     ema  = torch.lerp(ema, live, w),  w = (float)(1 - decay)
 *     live = ema
 * torch.lerp as 1.13's CPU kernel computes it, fused multiply-adds included:
 *     |w| < 0.5:  ema = fma(w, live - ema, ema)          (ema + w * (live - ema))
 *     otherwise:  ema = fma(-(live - ema), 1 - w, live)  (live - (live - ema) * (1 - w))
 * decay 1 leaves the shadow as it is and copies it into the network; decay 0
 * copies the network into the shadow. state may be NULL when n_state is 0. */
void cnn_lookahead_update(cnn_lookahead *la, float *params, float *state, float decay);

/* The decay for the update after optimizer step `step` (1-based: the number
 * of steps taken) of `total`, computed in float32 as airbench's tensor
 *     alpha = base**every * (torch.arange(total + 1) / total) ** power
 * is:  (float)(base^every) * r^power with r = (float)step / (float)total, the
 * power taken as r * r for 2 and r * r * r for 3 (as torch's pow does) and
 * powf otherwise. Call it when step % every == 0. */
float cnn_lookahead_decay(const cnn_lookahead_config *c, long step, long total);

void cnn_lookahead_free(cnn_lookahead *la);

#endif
