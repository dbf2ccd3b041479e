/* schedule.c: the learning rate of every training step, as PyTorch's (1.13)
 * lr_scheduler classes produce it; the formulas are in include/cnnlab/optim.h.
 *
 * Invariant: cnn_sched_lr is a pure function of the validated configuration,
 * (epoch, step) and, for plateau only, the state cnn_sched_epoch_end keeps.
 * Every schedule is evaluated in closed form in double and rounded to float
 * once, so a resumed or replayed run gets the same lr for the same step. */
#include <math.h>
#include <string.h>

#include "cnnlab/optim.h"
#include "core/core.h"

static const char *const kind_names[] = {"none",    "step",     "multistep", "exp",
                                         "cosine",  "plateau",  "onecycle",  "linear"};
#define KIND_COUNT ((int)(sizeof kind_names / sizeof kind_names[0]))

/* OneCycleLR's fixed settings (PyTorch's defaults). */
#define ONECYCLE_PCT_START 0.3
#define ONECYCLE_DIV 25.0
#define ONECYCLE_FINAL_DIV 1e4
/* ReduceLROnPlateau's fixed settings (PyTorch's defaults). */
#define PLATEAU_THRESHOLD 1e-4
#define PLATEAU_EPS 1e-8
#define PLATEAU_FACTOR 0.1f

static const double PI = 3.14159265358979323846;

const char *cnn_sched_kind_name(cnn_sched_kind k)
{
    return cnn_name_of(kind_names, KIND_COUNT, (int)k);
}

int cnn_sched_kind_parse(const char *s, cnn_sched_kind *out)
{
    int i = cnn_name_find(kind_names, KIND_COUNT, s);
    if (i >= 0)
        *out = (cnn_sched_kind)i;
    return i >= 0;
}

void cnn_sched_config_defaults(cnn_sched_config *c, cnn_sched_kind kind)
{
    memset(c, 0, sizeof *c);
    c->kind = kind;
    c->gamma = kind == CNN_SCHED_EXP ? 0.95f : 0.1f;
    c->factor = PLATEAU_FACTOR;
    c->patience = 10;
}

/* N, the run's length in steps: total_steps when given, else epochs x steps. */
static long run_steps(const cnn_sched_config *c)
{
    return c->total_steps > 0 ? c->total_steps : (long)c->epochs * c->steps_per_epoch;
}

/* Every refusal is an invalid argument whose message names the flag. */
#define BAD(...) cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, __VA_ARGS__)

cnn_status cnn_sched_init(cnn_sched *s, const cnn_sched_config *cfg, cnn_error *err)
{
    memset(s, 0, sizeof *s);
    cnn_sched_config c = *cfg;
    if ((int)c.kind < 0 || (int)c.kind >= KIND_COUNT)
        return BAD("--lr-schedule: expected none, step, multistep, exp, cosine, plateau, "
                   "onecycle or linear, found kind %d", (int)c.kind);
    const char *name = kind_names[c.kind];
    if (c.factor == 0.0f)
        c.factor = PLATEAU_FACTOR;
    if (!(c.base_lr >= 0 && isfinite(c.base_lr)))
        return BAD("--lr: expected a number >= 0, found %g", (double)c.base_lr);
    if (c.total_steps < 0)
        return BAD("total steps: expected an integer >= 0 (0: --epochs x steps per epoch), "
                   "found %d", c.total_steps);
    const int budget = c.total_steps > 0;
    const int per_step = c.kind == CNN_SCHED_ONECYCLE || c.kind == CNN_SCHED_LINEAR ||
                         c.warmup_epochs > 0 || (budget && c.kind == CNN_SCHED_COSINE);
    /* A step budget gives N itself; multistep's milestones still count epochs. */
    const int needs_epochs =
        c.kind == CNN_SCHED_MULTISTEP ||
        (!budget && (per_step || c.kind == CNN_SCHED_COSINE));
    if (needs_epochs && c.epochs < 1)
        return BAD("--epochs: expected an integer >= 1 for --lr-schedule %s, found %d", name,
                   c.epochs);
    if (per_step && c.steps_per_epoch < 1)
        return BAD("steps per epoch: expected >= 1 for --lr-schedule %s%s, found %d "
                   "(is the train split smaller than one batch?)", name,
                   c.warmup_epochs > 0 ? " with --warmup-epochs" : "", c.steps_per_epoch);
    if (budget && c.warmup_epochs > 0 && (long)c.warmup_epochs * c.steps_per_epoch > c.total_steps)
        return BAD("--warmup-epochs: expected at most the run's %d steps (%d epochs of %d), "
                   "found %d", c.total_steps, c.warmup_epochs, c.steps_per_epoch,
                   c.warmup_epochs);
    if (c.warmup_epochs < 0 || (!budget && c.warmup_epochs > c.epochs))
        return BAD("--warmup-epochs: expected an integer in [0, %d] (--epochs), found %d",
                   c.epochs > 0 ? c.epochs : 0, c.warmup_epochs);

    switch (c.kind) {
    case CNN_SCHED_STEP:
        if (c.step_size < 1)
            return BAD("--step-size: expected an integer >= 1, found %d", c.step_size);
        /* fall through */
    case CNN_SCHED_MULTISTEP:
    case CNN_SCHED_EXP:
        if (!(c.gamma > 0 && isfinite(c.gamma)))
            return BAD("--gamma: expected a number > 0 for --lr-schedule %s, found %g", name,
                       (double)c.gamma);
        break;
    case CNN_SCHED_COSINE:
        if (!(c.min_lr >= 0 && c.min_lr <= c.base_lr))
            return BAD("--min-lr: expected a number in [0, %g] (--lr) for --lr-schedule "
                       "cosine, found %g", (double)c.base_lr, (double)c.min_lr);
        break;
    case CNN_SCHED_PLATEAU:
        if (!(c.min_lr >= 0 && c.min_lr <= c.base_lr))
            return BAD("--min-lr: expected a number in [0, %g] (--lr) for --lr-schedule "
                       "plateau, found %g", (double)c.base_lr, (double)c.min_lr);
        if (c.patience < 0)
            return BAD("--patience: expected an integer >= 0, found %d", c.patience);
        if (!(c.factor > 0 && c.factor < 1))
            return BAD("--factor: expected a number in (0, 1) for --lr-schedule plateau, "
                       "found %g", (double)c.factor);
        break;
    case CNN_SCHED_LINEAR:
        if (!(c.warmup_frac >= 0 && c.warmup_frac < 1))
            return BAD("--warmup-frac: expected a number in [0, 1) for --lr-schedule linear, "
                       "found %g", c.warmup_frac);
        if (!(c.start_factor >= 0 && isfinite(c.start_factor)))
            return BAD("--lr-start-factor: expected a number >= 0 for --lr-schedule linear, "
                       "found %g", c.start_factor);
        if (!(c.end_factor >= 0 && isfinite(c.end_factor)))
            return BAD("--lr-end-factor: expected a number >= 0 for --lr-schedule linear, "
                       "found %g", c.end_factor);
        break;
    case CNN_SCHED_NONE:
    case CNN_SCHED_ONECYCLE:
        break;
    }
    if (c.kind == CNN_SCHED_MULTISTEP) {
        if (c.milestone_count < 1 || c.milestone_count > CNN_SCHED_MAX_MILESTONES)
            return BAD("--milestones: expected 1 to %d epochs, found %d",
                       CNN_SCHED_MAX_MILESTONES, c.milestone_count);
        for (int i = 0; i < c.milestone_count; i++) {
            int m = c.milestones[i];
            /* as PyTorch's MultiStepLR: one at or past the end never fires */
            if (m < 1)
                return BAD("--milestones: expected epochs >= 1, found %d", m);
            if (i > 0 && m <= c.milestones[i - 1])
                return BAD("--milestones: expected strictly increasing epochs, found %d "
                           "after %d", m, c.milestones[i - 1]);
        }
    }
    s->c = c;
    s->plateau_lr = c.base_lr;
    s->best = INFINITY;
    s->bad_epochs = 0;
    return CNN_STATUS_OK;
}

/* OneCycleLR's annealing: from x at f = 0 to y at f = 1 along half a cosine. */
static double cos_anneal(double x, double y, double f)
{
    return y + (x - y) / 2.0 * (cos(PI * f) + 1.0);
}

/* OneCycleLR (two phases) at global step i of n. */
static double onecycle(double max_lr, long i, long n)
{
    const double initial = max_lr / ONECYCLE_DIV, final = initial / ONECYCLE_FINAL_DIV;
    const double a = ONECYCLE_PCT_START * (double)n - 1.0; /* end of the warm phase */
    if (i >= n)
        i = n - 1;
    if ((double)i <= a)
        return cos_anneal(initial, max_lr, (double)i / a);
    return cos_anneal(max_lr, final, ((double)i - a) / ((double)(n - 1) - a));
}

/* airbench's lr factor at global step i of n (LambdaLR's lambda). */
static double linear_factor(const cnn_sched_config *c, long i, long n)
{
    long w = (long)((double)n * c->warmup_frac);
    if (w >= n) /* only when warmup_frac rounds N * frac up to N */
        w = n - 1;
    if (i < w) {
        const double f = (double)i / (double)w;
        return c->start_factor * (1.0 - f) + f;
    }
    double t = (double)(i - w) / (double)(n - w);
    if (t > 1.0)
        t = 1.0;
    return (1.0 - t) + c->end_factor * t;
}

float cnn_sched_lr(const cnn_sched *s, int epoch, int step)
{
    const cnn_sched_config *c = &s->c;
    const double base = c->base_lr;
    const long i = (long)epoch * c->steps_per_epoch + step; /* global step */
    double lr = base;
    switch (c->kind) {
    case CNN_SCHED_NONE:
        break;
    case CNN_SCHED_STEP:
        lr = base * pow(c->gamma, (double)(epoch / c->step_size));
        break;
    case CNN_SCHED_MULTISTEP: {
        int passed = 0;
        while (passed < c->milestone_count && c->milestones[passed] <= epoch)
            passed++;
        lr = base * pow(c->gamma, (double)passed);
        break;
    }
    case CNN_SCHED_EXP:
        lr = base * pow(c->gamma, (double)epoch);
        break;
    case CNN_SCHED_COSINE: {
        const double lo = c->min_lr;
        /* Per epoch (e of E), or per step (i of N) under a step budget. */
        const long span = c->total_steps > 0 ? c->total_steps : c->epochs;
        long at = c->total_steps > 0 ? i : epoch;
        if (at > span)
            at = span;
        lr = lo + (base - lo) * (1.0 + cos(PI * (double)at / (double)span)) / 2.0;
        break;
    }
    case CNN_SCHED_PLATEAU:
        lr = s->plateau_lr;
        break;
    case CNN_SCHED_ONECYCLE:
        lr = onecycle(base, i, run_steps(c));
        break;
    case CNN_SCHED_LINEAR:
        lr = base * linear_factor(c, i, run_steps(c));
        break;
    }
    const long w = (long)c->warmup_epochs * c->steps_per_epoch;
    if (i < w)
        lr *= (double)(i + 1) / (double)w;
    return (float)lr;
}

void cnn_sched_epoch_end(cnn_sched *s, double val_loss)
{
    if (s->c.kind != CNN_SCHED_PLATEAU)
        return;
    if (val_loss < s->best * (1.0 - PLATEAU_THRESHOLD)) {
        s->best = val_loss;
        s->bad_epochs = 0;
    } else {
        s->bad_epochs++;
    }
    if (s->bad_epochs > s->c.patience) {
        double now = s->plateau_lr;
        double next = fmax(now * (double)s->c.factor, (double)s->c.min_lr);
        if (now - next > PLATEAU_EPS)
            s->plateau_lr = next;
        s->bad_epochs = 0;
    }
}
