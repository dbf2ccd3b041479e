/* test_optim.c: optimizers, learning-rate schedules, gradient clipping and the
 * L2 penalty against PyTorch 1.13, plus unit checks of what fixtures cannot
 * show (exactness, validation messages, names, edge cases).
 *
 * The PyTorch side is tests/fixtures/optim.txt, written by
 * tools/fixtures/make_optim_fixtures.py (its header documents every record):
 *   traj.*   5 steps of each optimizer (some under a schedule) on a tiny
 *            network: C replays torch's gradients from torch's initial
 *            parameters and compares the parameters after every step
 *   sched.*  the lr of every step of 12 epochs x 3 steps for each schedule
 *   clip.*   clip_grad_norm_ (clipping and not) and clip_grad_value_
 *   l2.*     the penalty's value and gradient
 * and tests/fixtures/optim_recipe.txt, written by
 * tools/fixtures/make_recipe_optim_fixtures.py, the airbench94 recipe's side:
 *   grp.*    each optimizer with parameter groups (lr/wd multipliers, a frozen
 *            group) against PyTorch param groups, 6 steps
 *   lin.*    the linear schedule against LambdaLR with airbench's lambda
 *   la.*     lookahead decays, and airbench's loop (groups, linear schedule,
 *            lookahead on parameters and state) as a PyTorch trajectory
 * Usage: test_optim [FIXTURE [RECIPE_FIXTURE]]   (defaults
 * tests/fixtures/optim.txt and tests/fixtures/optim_recipe.txt, relative to
 * the repository root, where tests/run_all.sh runs it). */
#include <string.h>

#include "check.h"
#include "fixture.h"
#include "cnnlab/optim.h"
#include "core/core.h"

/* Tolerances (see the summary lines printed by main). */
#define TRAJ_RTOL 1e-4  /* parameters after 1..5 optimizer steps */
#define TRAJ_ATOL 1e-6
#define LR_RTOL 1e-6    /* learning rates (both sides compute in double) */
#define CLIP_RTOL 1e-5  /* clipped gradients, norms, the L2 penalty */
#define CLIP_ATOL 1e-7
#define GROUP_RTOL 1e-5 /* parameters after 1..6 steps with parameter groups */
#define GROUP_ATOL 1e-7
#define LA_RTOL 1e-5    /* parameters and state along the airbench-loop trajectory */
#define LA_ATOL 1e-7

/* ---- the fixture file (read by tests/fixture.h) ---- */

#define MADE_BY "tools/fixtures/make_optim_fixtures.py"
#define RECIPE_MADE_BY "tools/fixtures/make_recipe_optim_fixtures.py"

/* The record called prefix + suffix, with count values (count < 0: any); a
 * missing record, or one of another length, ends the program. */
static const fixture_record *need(const fixture_file *f, const char *prefix, const char *suffix,
                                  int count)
{
    char name[160];
    snprintf(name, sizeof name, "%s%s", prefix, suffix);
    const fixture_record *r = fixture_find(f, name);
    if (!r) {
        printf("FAIL fixture: no record %s\n", name);
        exit(1);
    }
    if (count >= 0 && r->count != (size_t)count) {
        printf("FAIL fixture: %s has %zu values, expected %d\n", name, r->count, count);
        exit(1);
    }
    return r;
}

/* A sched config record (layout in make_optim_fixtures.py). */
static cnn_sched_config sched_from(const fixture_record *r)
{
    cnn_sched_config c;
    memset(&c, 0, sizeof c);
    const float *v = r->v;
    c.kind = (cnn_sched_kind)v[0];
    c.base_lr = v[1];
    c.epochs = (int)v[2];
    c.steps_per_epoch = (int)v[3];
    c.step_size = (int)v[4];
    c.gamma = v[5];
    c.min_lr = v[6];
    c.patience = (int)v[7];
    c.factor = v[8];
    c.warmup_epochs = (int)v[9];
    c.milestone_count = (int)v[10];
    for (int i = 0; i < c.milestone_count; i++)
        c.milestones[i] = (int)v[11 + i];
    return c;
}

/* An optim config record: kind lr momentum wd nesterov beta1 beta2 eps alpha. */
static cnn_optim_config optim_from(const fixture_record *r)
{
    cnn_optim_config c;
    const float *v = r->v;
    cnn_optim_config_defaults(&c, (cnn_opt_kind)v[0]);
    c.lr = v[1];
    c.momentum = v[2];
    c.weight_decay = v[3];
    c.nesterov = (int)v[4];
    c.beta1 = v[5];
    c.beta2 = v[6];
    c.eps = v[7];
    c.alpha = v[8];
    return c;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* ---- PyTorch trajectories ---- */

static void test_trajectories(const fixture_file *f)
{
    const fixture_record *p0 = need(f, "net.params0", "", -1);
    const int n = (int)p0->count;
    float *params = malloc((size_t)n * sizeof(float));
    int cases = 0;
    for (int ri = 0; ri < f->n; ri++) {
        if (strncmp(f->r[ri].name, "traj.", 5) != 0 || !ends_with(f->r[ri].name, ".optim"))
            continue;
        char c_name[96];
        snprintf(c_name, sizeof c_name, "%.*s", (int)(strlen(f->r[ri].name) - 6),
                 f->r[ri].name);
        cnn_optim_config oc = optim_from(&f->r[ri]);
        cnn_sched_config sc = sched_from(need(f, c_name, ".sched", -1));
        const fixture_record *torch_lr = need(f, c_name, ".lr", 5);
        cnn_error err = {0};
        cnn_optim o;
        cnn_sched s;
        if (cnn_sched_init(&s, &sc, &err) || cnn_optim_init(&o, &oc, (size_t)n, &err)) {
            check(0, "%s: init: %s", c_name, err.msg);
            continue;
        }
        memcpy(params, p0->v, (size_t)n * sizeof(float));
        for (int k = 1; k <= 5; k++) {
            char what[160], suffix[32];
            float lr = cnn_sched_lr(&s, k - 1, 0); /* 5 epochs of 1 step */
            snprintf(what, sizeof what, "%s: lr of step %d", c_name, k);
            check_close(what, &lr, &torch_lr->v[k - 1], 1, LR_RTOL, 0);
            snprintf(suffix, sizeof suffix, ".grad%d", k);
            const float *g = need(f, c_name, suffix, n)->v;
            cnn_optim_step(&o, lr, params, g);
            snprintf(suffix, sizeof suffix, ".params%d", k);
            snprintf(what, sizeof what, "%s: params after step %d", c_name, k);
            check_close(what, params, need(f, c_name, suffix, n)->v, (size_t)n, TRAJ_RTOL,
                        TRAJ_ATOL);
        }
        check(o.t == 5, "%s: step counter %ld, expected 5", c_name, o.t);
        cnn_optim_free(&o);
        cases++;
    }
    check(cases >= 10, "trajectories: found %d cases in the fixture, expected at least 10", cases);
    printf("trajectories: %d optimizer/schedule cases x 5 steps vs PyTorch, rtol %g atol %g "
           "(lr rtol %g)\n", cases, TRAJ_RTOL, TRAJ_ATOL, LR_RTOL);
    free(params);
}

/* ---- PyTorch lr sequences ---- */

static void test_schedules(const fixture_file *f)
{
    int cases = 0;
    for (int ri = 0; ri < f->n; ri++) {
        if (strncmp(f->r[ri].name, "sched.", 6) != 0 || !ends_with(f->r[ri].name, ".config"))
            continue;
        char c_name[96];
        snprintf(c_name, sizeof c_name, "%.*s", (int)(strlen(f->r[ri].name) - 7),
                 f->r[ri].name);
        cnn_sched_config c = sched_from(&f->r[ri]);
        const int steps = c.epochs * c.steps_per_epoch;
        const fixture_record *want = need(f, c_name, ".lr", steps);
        const fixture_record *loss =
            c.kind == CNN_SCHED_PLATEAU ? need(f, c_name, ".loss", c.epochs) : NULL;
        cnn_sched s;
        cnn_error err = {0};
        if (cnn_sched_init(&s, &c, &err)) {
            check(0, "%s: init: %s", c_name, err.msg);
            continue;
        }
        float *got = malloc((size_t)steps * sizeof(float));
        for (int e = 0; e < c.epochs; e++) {
            for (int st = 0; st < c.steps_per_epoch; st++)
                got[e * c.steps_per_epoch + st] = cnn_sched_lr(&s, e, st);
            /* Other kinds must ignore it. */
            cnn_sched_epoch_end(&s, loss ? (double)loss->v[e] : 1.0 / (e + 1));
        }
        char what[160];
        snprintf(what, sizeof what, "%s: lr of each of %d steps (%s%s)", c_name, steps,
                 cnn_sched_kind_name(c.kind), c.warmup_epochs ? " with warm-up" : "");
        check_close(what, got, want->v, (size_t)steps, LR_RTOL, 0);
        free(got);
        cases++;
    }
    check(cases >= 10, "schedules: found %d cases in the fixture, expected at least 10", cases);
    printf("schedules: %d lr sequences vs PyTorch, rtol %g\n", cases, LR_RTOL);
}

/* ---- PyTorch clipping and L2 ---- */

static void test_clip_l2(const fixture_file *f)
{
    const fixture_record *g0 = need(f, "clip.grads", "", -1);
    const size_t n = g0->count;
    float *g = malloc(n * sizeof(float));
    const char *tags[] = {"clip.norm_small", "clip.norm_large"};
    for (int t = 0; t < 2; t++) {
        memcpy(g, g0->v, n * sizeof(float));
        float max_norm = need(f, tags[t], ".max", 1)->v[0];
        float total = (float)cnn_clip_grad_norm(g, n, max_norm);
        char what[96];
        snprintf(what, sizeof what, "%s: total norm", tags[t]);
        check_close(what, &total, need(f, tags[t], ".total", 1)->v, 1, CLIP_RTOL, 0);
        snprintf(what, sizeof what, "%s: clipped gradients (max_norm %g)", tags[t],
                 (double)max_norm);
        check_close(what, g, need(f, tags[t], ".out", (int)n)->v, n, CLIP_RTOL, CLIP_ATOL);
        if (t == 1)
            check(check_bitwise_equal(g, g0->v, n),
                  "clip_grad_norm under max_norm changed gradients");
    }
    memcpy(g, g0->v, n * sizeof(float));
    cnn_clip_grad_value(g, n, need(f, "clip.value.clip", "", 1)->v[0]);
    check(check_bitwise_equal(g, need(f, "clip.value.out", "", (int)n)->v, n),
          "clip_grad_value: differs from PyTorch's clamp (expected bitwise equal)");
    free(g);

    const fixture_record *params = need(f, "l2.params", "", -1);
    const fixture_record *ranges = need(f, "l2.ranges", "", -1);
    const size_t np = params->count;
    const float lambda = need(f, "l2.lambda", "", 1)->v[0];
    cnn_range r[8];
    const int nr = (int)(ranges->count / 2);
    for (int i = 0; i < nr; i++)
        r[i] = (cnn_range){(size_t)ranges->v[2 * i], (size_t)ranges->v[2 * i + 1]};
    float *lg = malloc(np * sizeof(float));
    const float *before = need(f, "l2.grads", "", (int)np)->v;
    memcpy(lg, before, np * sizeof(float));
    float pen = (float)cnn_l2_penalty(lambda, r, nr, params->v, lg);
    check_close("l2: penalty lambda * sum w^2", &pen, need(f, "l2.penalty", "", 1)->v, 1,
                CLIP_RTOL, 0);
    check_close("l2: gradient with the penalty", lg, need(f, "l2.grads_out", "", (int)np)->v, np,
                CLIP_RTOL, CLIP_ATOL);
    /* Outside the ranges (the biases) nothing may change, to the bit. */
    size_t pos = 0;
    int outside_same = 1;
    for (int i = 0; i <= nr; i++) {
        size_t end = i < nr ? r[i].offset : np;
        if (end > pos)
            outside_same &= check_bitwise_equal(lg + pos, before + pos, end - pos);
        if (i < nr)
            pos = r[i].offset + r[i].count;
    }
    check(outside_same, "l2: gradients outside the ranges changed");
    free(lg);
    printf("clipping and L2 vs PyTorch: rtol %g atol %g; clip_grad_value and untouched "
           "elements bitwise\n", CLIP_RTOL, CLIP_ATOL);
}

/* ---- unit checks ---- */

/* SGD without momentum or weight decay is exactly p -= lr * g, on a block
 * large enough for the OpenMP path; the old and new SGD APIs agree bitwise. */
static void test_sgd_exact(void)
{
    const size_t n = 100003;
    unsigned seed = 12345;
    float *p = malloc(n * sizeof(float)), *g = malloc(n * sizeof(float));
    float *want = malloc(n * sizeof(float));
    check_fill(p, n, &seed, -1, 1);
    check_fill(g, n, &seed, -2, 2);
    const float lr = 0.037f;
    for (size_t i = 0; i < n; i++)
        want[i] = p[i] - lr * g[i];
    cnn_optim_config c;
    cnn_optim_config_defaults(&c, CNN_OPT_SGD);
    cnn_optim o;
    cnn_error err = {0};
    check(cnn_optim_init(&o, &c, n, &err) == CNN_STATUS_OK, "sgd init: %s", err.msg);
    check(!o.m && !o.v, "sgd with momentum 0 allocates no state");
    cnn_optim_step(&o, lr, p, g);
    check(check_bitwise_equal(p, want, n), "sgd momentum 0, wd 0: not exactly p -= lr * g");
    cnn_optim_free(&o);

    free(p);
    free(g);
    free(want);
}

/* init must refuse c with a message naming flag and value. */
static void expect_optim_error(const char *what, const cnn_optim_config *c, const char *flag,
                               const char *value)
{
    cnn_optim o;
    cnn_error err = {0};
    cnn_status st = cnn_optim_init(&o, c, 10, &err);
    check(st == CNN_STATUS_INVALID_ARGUMENT && strstr(err.msg, flag) &&
              (!value || strstr(err.msg, value)),
          "optim init, %s: expected an error naming %s and %s, got status %d '%s'", what, flag,
          value ? value : "-", (int)st, err.msg);
    if (st == CNN_STATUS_OK)
        cnn_optim_free(&o);
}

static void test_optim_validation(void)
{
    cnn_optim_config c;
    cnn_optim_config_defaults(&c, CNN_OPT_SGD);
    c.lr = -1;
    expect_optim_error("negative lr", &c, "--lr", "-1");
    cnn_optim_config_defaults(&c, CNN_OPT_SGD);
    c.momentum = 1;
    expect_optim_error("momentum 1", &c, "--momentum", "1");
    cnn_optim_config_defaults(&c, CNN_OPT_SGD);
    c.nesterov = 1;
    expect_optim_error("nesterov without momentum", &c, "--nesterov", NULL);
    cnn_optim_config_defaults(&c, CNN_OPT_ADAM);
    c.nesterov = 1;
    expect_optim_error("nesterov with adam", &c, "--nesterov", "adam");
    cnn_optim_config_defaults(&c, CNN_OPT_RMSPROP);
    c.weight_decay = -0.25f;
    expect_optim_error("negative weight decay", &c, "--weight-decay", "-0.25");
    cnn_optim_config_defaults(&c, CNN_OPT_ADAMW);
    c.beta1 = 1;
    expect_optim_error("beta1 1", &c, "--beta1", "1");
    cnn_optim_config_defaults(&c, CNN_OPT_ADAM);
    c.beta2 = -0.5f;
    expect_optim_error("negative beta2", &c, "--beta2", "-0.5");
    cnn_optim_config_defaults(&c, CNN_OPT_ADAM);
    c.eps = -1e-3f;
    expect_optim_error("negative eps", &c, "--eps", "-0.001");
    cnn_optim_config_defaults(&c, CNN_OPT_RMSPROP);
    c.alpha = 1.5f;
    expect_optim_error("alpha 1.5", &c, "--alpha", "1.5");

    /* PyTorch's defaults, and which state blocks each kind gets. */
    cnn_optim_config_defaults(&c, CNN_OPT_ADAMW);
    check(c.weight_decay == 0.01f && c.beta1 == 0.9f && c.beta2 == 0.999f && c.eps == 1e-8f &&
              c.lr == 1e-3f && c.momentum == 0,
          "adamw defaults: wd %g beta1 %g beta2 %g eps %g lr %g", (double)c.weight_decay,
          (double)c.beta1, (double)c.beta2, (double)c.eps, (double)c.lr);
    cnn_optim_config_defaults(&c, CNN_OPT_ADAM);
    check(c.weight_decay == 0, "adam default weight decay %g, expected 0", (double)c.weight_decay);
    cnn_optim_config_defaults(&c, CNN_OPT_RMSPROP);
    check(c.alpha == 0.99f && c.eps == 1e-8f && c.lr == 1e-2f && c.momentum == 0,
          "rmsprop defaults: alpha %g eps %g lr %g", (double)c.alpha, (double)c.eps, (double)c.lr);
    struct {
        cnn_opt_kind k;
        float momentum;
        int m, v;
    } blocks[] = {{CNN_OPT_SGD, 0.9f, 1, 0}, {CNN_OPT_ADAM, 0, 1, 1}, {CNN_OPT_ADAMW, 0, 1, 1},
                  {CNN_OPT_RMSPROP, 0, 0, 1}, {CNN_OPT_RMSPROP, 0.5f, 1, 1}};
    for (size_t i = 0; i < sizeof blocks / sizeof blocks[0]; i++) {
        cnn_optim o;
        cnn_error err = {0};
        cnn_optim_config_defaults(&c, blocks[i].k);
        c.momentum = blocks[i].momentum;
        check(cnn_optim_init(&o, &c, 100, &err) == CNN_STATUS_OK, "init %s: %s",
              cnn_opt_kind_name(blocks[i].k), err.msg);
        check(!!o.m == blocks[i].m && !!o.v == blocks[i].v,
              "%s momentum %g: state blocks m %d v %d, expected %d %d",
              cnn_opt_kind_name(blocks[i].k), (double)c.momentum, !!o.m, !!o.v, blocks[i].m,
              blocks[i].v);
        cnn_optim_free(&o);
    }

    /* Names round-trip; unknown names are refused and leave *out alone. */
    for (int k = CNN_OPT_SGD; k <= CNN_OPT_RMSPROP; k++) {
        cnn_opt_kind out = CNN_OPT_SGD;
        check(cnn_opt_kind_parse(cnn_opt_kind_name((cnn_opt_kind)k), &out) == 1 && (int)out == k,
              "optimizer name %s does not parse back", cnn_opt_kind_name((cnn_opt_kind)k));
    }
    cnn_opt_kind ko = CNN_OPT_RMSPROP;
    check(cnn_opt_kind_parse("lbfgs", &ko) == 0 && ko == CNN_OPT_RMSPROP,
          "unknown optimizer name accepted");
    check(strcmp(cnn_opt_kind_name(CNN_OPT_ADAMW), "adamw") == 0, "adamw's name");
}

static cnn_sched_config sched_base(cnn_sched_kind kind)
{
    cnn_sched_config c;
    cnn_sched_config_defaults(&c, kind);
    c.base_lr = 0.1f;
    c.epochs = 12;
    c.steps_per_epoch = 3;
    c.step_size = 4;
    c.milestone_count = 2;
    c.milestones[0] = 4;
    c.milestones[1] = 8;
    return c;
}

static void expect_sched_error(const char *what, const cnn_sched_config *c, const char *flag,
                               const char *value)
{
    cnn_sched s;
    cnn_error err = {0};
    cnn_status st = cnn_sched_init(&s, c, &err);
    check(st == CNN_STATUS_INVALID_ARGUMENT && strstr(err.msg, flag) &&
              (!value || strstr(err.msg, value)),
          "sched init, %s: expected an error naming %s and %s, got status %d '%s'", what, flag,
          value ? value : "-", (int)st, err.msg);
}

static void test_sched_validation(void)
{
    cnn_sched_config c;
    for (int k = CNN_SCHED_NONE; k <= CNN_SCHED_LINEAR; k++) {
        c = sched_base((cnn_sched_kind)k);
        cnn_sched s;
        cnn_error err = {0};
        check(cnn_sched_init(&s, &c, &err) == CNN_STATUS_OK, "sched %s with valid settings: %s",
              cnn_sched_kind_name((cnn_sched_kind)k), err.msg);
        cnn_sched_kind out = CNN_SCHED_NONE;
        check(cnn_sched_kind_parse(cnn_sched_kind_name((cnn_sched_kind)k), &out) == 1 &&
                  (int)out == k,
              "schedule name %s does not parse back", cnn_sched_kind_name((cnn_sched_kind)k));
    }
    cnn_sched_kind ks = CNN_SCHED_EXP;
    check(cnn_sched_kind_parse("cyclic", &ks) == 0 && ks == CNN_SCHED_EXP,
          "unknown schedule name accepted");

    c = sched_base(CNN_SCHED_STEP);
    c.step_size = 0;
    expect_sched_error("step size 0", &c, "--step-size", "0");
    c = sched_base(CNN_SCHED_STEP);
    c.gamma = 0;
    expect_sched_error("step gamma 0", &c, "--gamma", "0");
    c = sched_base(CNN_SCHED_EXP);
    c.gamma = -0.5f;
    expect_sched_error("exp gamma -0.5", &c, "--gamma", "-0.5");
    c = sched_base(CNN_SCHED_MULTISTEP);
    c.milestones[1] = 4;
    expect_sched_error("repeated milestone", &c, "--milestones", "4");
    c = sched_base(CNN_SCHED_MULTISTEP);
    c.milestones[0] = 9;
    expect_sched_error("decreasing milestones", &c, "--milestones", "8 after 9");
    c = sched_base(CNN_SCHED_MULTISTEP);
    c.milestones[1] = 12; /* at --epochs: accepted and never fires, as in PyTorch */
    {
        cnn_sched s;
        cnn_error err = {0};
        cnn_status st = cnn_sched_init(&s, &c, &err);
        check(st == CNN_STATUS_OK && fabsf(cnn_sched_lr(&s, c.epochs - 1, 0) - c.base_lr * c.gamma) < 1e-6f,
              "sched init, milestone at --epochs: expected it accepted (status %d '%s') and "
              "only the first to fire", (int)st, err.msg);
    }
    c = sched_base(CNN_SCHED_MULTISTEP);
    c.milestones[0] = 0;
    expect_sched_error("milestone 0", &c, "--milestones", "found 0");
    c = sched_base(CNN_SCHED_MULTISTEP);
    c.milestone_count = 0;
    expect_sched_error("no milestones", &c, "--milestones", NULL);
    c = sched_base(CNN_SCHED_PLATEAU);
    c.patience = -1;
    expect_sched_error("negative patience", &c, "--patience", "-1");
    c = sched_base(CNN_SCHED_PLATEAU);
    c.factor = 1.5f;
    expect_sched_error("factor 1.5", &c, "--factor", "1.5");
    c = sched_base(CNN_SCHED_PLATEAU);
    c.min_lr = -0.125f;
    expect_sched_error("negative min lr", &c, "--min-lr", "-0.125");
    c = sched_base(CNN_SCHED_COSINE);
    c.min_lr = 0.5f;
    expect_sched_error("min lr above lr", &c, "--min-lr", "0.5");
    c = sched_base(CNN_SCHED_COSINE);
    c.warmup_epochs = 13;
    expect_sched_error("warm-up longer than the run", &c, "--warmup-epochs", "13");
    c = sched_base(CNN_SCHED_NONE);
    c.warmup_epochs = -1;
    expect_sched_error("negative warm-up", &c, "--warmup-epochs", "-1");
    c = sched_base(CNN_SCHED_ONECYCLE);
    c.steps_per_epoch = 0;
    expect_sched_error("onecycle without steps", &c, "steps per epoch", "0");
    c = sched_base(CNN_SCHED_COSINE);
    c.epochs = 0;
    expect_sched_error("cosine without epochs", &c, "--epochs", "0");
    c = sched_base(CNN_SCHED_NONE);
    c.base_lr = -0.1f;
    expect_sched_error("negative lr", &c, "--lr", "-0.1");

    /* Defaults: PyTorch's gamma per kind; factor 0 means 0.1. */
    cnn_sched_config_defaults(&c, CNN_SCHED_EXP);
    check(c.gamma == 0.95f, "exp default gamma %g, expected 0.95", (double)c.gamma);
    cnn_sched_config_defaults(&c, CNN_SCHED_MULTISTEP);
    check(c.gamma == 0.1f && c.factor == 0.1f && c.patience == 10,
          "defaults: gamma %g factor %g patience %d", (double)c.gamma, (double)c.factor,
          c.patience);
    c = sched_base(CNN_SCHED_PLATEAU);
    c.factor = 0;
    c.patience = 0;
    cnn_sched s;
    cnn_error err = {0};
    check(cnn_sched_init(&s, &c, &err) == CNN_STATUS_OK, "plateau with factor 0: %s", err.msg);
    cnn_sched_epoch_end(&s, 1.0);
    cnn_sched_epoch_end(&s, 1.0); /* bad epoch, patience 0: decay by the default 0.1 */
    check(cnn_sched_lr(&s, 2, 0) == (float)((double)0.1f * (double)0.1f),
          "plateau factor 0 decays by 0.1: lr %g", (double)cnn_sched_lr(&s, 2, 0));
}

static void test_sched_edges(void)
{
    cnn_sched s;
    cnn_error err = {0};
    /* Warm-up: the first step runs at lr / W, step W-1 at the full lr. */
    cnn_sched_config c = sched_base(CNN_SCHED_NONE);
    c.warmup_epochs = 2; /* W = 6 */
    cnn_sched_init(&s, &c, &err);
    check(cnn_sched_lr(&s, 0, 0) == (float)((double)c.base_lr / 6) &&
              cnn_sched_lr(&s, 1, 2) == c.base_lr && cnn_sched_lr(&s, 5, 1) == c.base_lr,
          "warm-up over 6 steps: %g at step 0, %g at step 5", (double)cnn_sched_lr(&s, 0, 0),
          (double)cnn_sched_lr(&s, 1, 2));
    /* Past the end: one-cycle holds its last step, cosine holds min_lr. */
    c = sched_base(CNN_SCHED_ONECYCLE);
    cnn_sched_init(&s, &c, &err);
    float last = cnn_sched_lr(&s, c.epochs - 1, c.steps_per_epoch - 1);
    check(cnn_sched_lr(&s, c.epochs + 2, 0) == last, "onecycle past its end: %g, expected %g",
          (double)cnn_sched_lr(&s, c.epochs + 2, 0), (double)last);
    check(fabs((double)last - 0.1 / 25 / 1e4) <= 1e-6 * (0.1 / 25 / 1e4),
          "onecycle's last lr %g, expected max_lr / 25 / 1e4", (double)last);
    c = sched_base(CNN_SCHED_COSINE);
    c.min_lr = 0.01f;
    cnn_sched_init(&s, &c, &err);
    check(cnn_sched_lr(&s, c.epochs + 5, 0) == c.min_lr, "cosine past its end: %g, expected %g",
          (double)cnn_sched_lr(&s, c.epochs + 5, 0), (double)c.min_lr);
    /* Plateau: a bad epoch at min_lr still resets the count. */
    c = sched_base(CNN_SCHED_PLATEAU);
    c.patience = 1;
    c.factor = 0.5f;
    c.min_lr = 0.1f; /* already at the floor */
    cnn_sched_init(&s, &c, &err);
    cnn_sched_epoch_end(&s, 1.0);
    cnn_sched_epoch_end(&s, 2.0);
    cnn_sched_epoch_end(&s, 2.0);
    check(s.bad_epochs == 0 && cnn_sched_lr(&s, 3, 0) == 0.1f,
          "plateau at min_lr: bad epochs %d (expected reset to 0), lr %g", s.bad_epochs,
          (double)cnn_sched_lr(&s, 3, 0));
    /* Plateau: a decay smaller than PyTorch's eps (1e-8) is skipped. */
    c = sched_base(CNN_SCHED_PLATEAU);
    c.base_lr = 1e-8f;
    c.patience = 0;
    cnn_sched_init(&s, &c, &err);
    cnn_sched_epoch_end(&s, 1.0);
    cnn_sched_epoch_end(&s, 1.0); /* 1e-8 -> 1e-9 would change it by 9e-9 < 1e-8 */
    check(cnn_sched_lr(&s, 2, 0) == 1e-8f, "plateau decay below eps applied: lr %g",
          (double)cnn_sched_lr(&s, 2, 0));
}

static void test_clip_edges(void)
{
    /* Large block (OpenMP path): the norm matches a serial double sum. */
    const size_t n = 200001;
    unsigned seed = 777;
    float *g = malloc(n * sizeof(float)), *g0 = malloc(n * sizeof(float));
    check_fill(g, n, &seed, -1, 1);
    memcpy(g0, g, n * sizeof(float));
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += (double)g[i] * (double)g[i];
    double total = cnn_clip_grad_norm(g, n, 1.0f);
    check(fabs(total - sqrt(sum)) <= 1e-12 * sqrt(sum), "clip norm of %zu values: %.17g vs %.17g",
          n, total, sqrt(sum));
    double after = 0;
    for (size_t i = 0; i < n; i++)
        after += (double)g[i] * (double)g[i];
    check(fabs(sqrt(after) - 1.0) < 1e-5, "norm after clipping to 1: %.9g", sqrt(after));
    /* Non-finite: gradients left alone, the norm says so. */
    memcpy(g, g0, n * sizeof(float));
    g[5] = NAN;
    total = cnn_clip_grad_norm(g, n, 1.0f);
    check(isnan(total) && g[6] == g0[6], "clip norm with a NaN: total %g, others kept", total);
    float v[4] = {NAN, -3.0f, 0.25f, 2.0f};
    cnn_clip_grad_value(v, 4, 1.0f);
    check(isnan(v[0]) && v[1] == -1.0f && v[2] == 0.25f && v[3] == 1.0f,
          "clip value: %g %g %g %g", (double)v[0], (double)v[1], (double)v[2], (double)v[3]);
    free(g);
    free(g0);
}

/* ---- the airbench recipe's optimizer side (tests/fixtures/optim_recipe.txt) ---- */

/* max over i of |a-b| / (atol + rtol*|b|), as check_close measures it. */
static double worst_ratio(const float *a, const float *b, size_t n, double rtol, double atol)
{
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]) / (atol + rtol * fabs((double)b[i]));
        if (!(d <= worst))
            worst = d;
    }
    return worst;
}

/* A groups record: (offset, count, lr_mult, wd_mult) per group. Returns the
 * count; *frozen is the (last) group with lr_mult 0, or -1. */
static int groups_from(const fixture_record *r, cnn_param_group *g, int cap, int *frozen)
{
    const int n = (int)(r->count / 4);
    CNN_ASSERT(n <= cap && r->count % 4 == 0);
    *frozen = -1;
    for (int i = 0; i < n; i++) {
        g[i] = (cnn_param_group){{(size_t)r->v[4 * i], (size_t)r->v[4 * i + 1]},
                                 r->v[4 * i + 2], r->v[4 * i + 3]};
        if (g[i].lr_mult == 0.0f)
            *frozen = i;
    }
    return n;
}

/* Each optimizer on two groups with lr/wd multipliers and a frozen group, 6
 * steps of PyTorch param groups. The frozen slice gets gradients of 1 here
 * (torch's are None): it must not move, to the bit, nor its state. */
static void test_groups(const fixture_file *f)
{
    const fixture_record *p0 = need(f, "grp.params0", "", -1);
    const int n = (int)p0->count;
    float *params = check_fresh((size_t)n), *grads = check_fresh((size_t)n);
    double worst = 0;
    int cases = 0;
    for (int ri = 0; ri < f->n; ri++) {
        if (strncmp(f->r[ri].name, "grp.", 4) != 0 || !ends_with(f->r[ri].name, ".optim"))
            continue;
        char c_name[96];
        snprintf(c_name, sizeof c_name, "%.*s", (int)(strlen(f->r[ri].name) - 6),
                 f->r[ri].name);
        cnn_optim_config oc = optim_from(&f->r[ri]);
        cnn_param_group g[8];
        int frozen;
        const int ng = groups_from(need(f, c_name, ".groups", -1), g, 8, &frozen);
        CNN_ASSERT(frozen >= 0);
        const cnn_range fr = g[frozen].range;
        cnn_optim o;
        cnn_error err = {0};
        if (cnn_optim_init(&o, &oc, (size_t)n, &err) || cnn_optim_set_groups(&o, g, ng, &err)) {
            check(0, "%s: init: %s", c_name, err.msg);
            continue;
        }
        memcpy(params, p0->v, (size_t)n * sizeof(float));
        for (int k = 1; k <= 6; k++) {
            char what[160], suffix[32];
            snprintf(suffix, sizeof suffix, ".grad%d", k);
            memcpy(grads, need(f, c_name, suffix, n)->v, (size_t)n * sizeof(float));
            for (size_t i = 0; i < fr.count; i++)
                grads[fr.offset + i] = 1.0f;
            cnn_optim_step(&o, oc.lr, params, grads);
            snprintf(suffix, sizeof suffix, ".params%d", k);
            snprintf(what, sizeof what, "%s: params after step %d", c_name, k);
            const float *want = need(f, c_name, suffix, n)->v;
            check_close(what, params, want, (size_t)n, GROUP_RTOL, GROUP_ATOL);
            double w = worst_ratio(params, want, (size_t)n, GROUP_RTOL, GROUP_ATOL);
            worst = w > worst ? w : worst;
        }
        check(check_bitwise_equal(params + fr.offset, p0->v + fr.offset, fr.count),
              "%s: the frozen slice moved", c_name);
        int state_kept = 1;
        for (size_t i = 0; i < fr.count; i++)
            state_kept &= (!o.m || o.m[fr.offset + i] == 0) && (!o.v || o.v[fr.offset + i] == 0);
        check(state_kept, "%s: the frozen slice's optimizer state changed", c_name);
        cnn_optim_free(&o);
        cases++;
    }
    check(cases >= 5, "groups: found %d cases in the fixture, expected at least 5", cases);
    printf("parameter groups: %d optimizers x 6 steps vs PyTorch param groups (lr/wd "
           "multipliers, a frozen group), rtol %g atol %g, worst ratio %.3f; frozen slice "
           "bitwise\n", cases, GROUP_RTOL, GROUP_ATOL, worst);
    free(params);
    free(grads);
}

/* What the fixtures cannot show: validation, the all-ones case taking the
 * plain path, and a grouped block on the OpenMP path agreeing bitwise with
 * ungrouped optimizers run on its slices with the effective settings. */
static void test_groups_units(void)
{
    cnn_optim_config c;
    cnn_optim_config_defaults(&c, CNN_OPT_SGD);
    c.momentum = 0.85f;
    c.nesterov = 1;
    c.weight_decay = 0.02f;
    cnn_optim o;
    cnn_error err = {0};
    const size_t n = 200003, half = 100000;
    cnn_optim_init(&o, &c, n, &err);
    struct {
        const char *what;
        cnn_param_group g[2];
        int n;
        const char *msg;
    } bad[] = {
        {"past the end", {{{n - 5, 6}, 1, 1}}, 1, "inside the block"},
        {"overlap", {{{10, 20}, 2, 1}, {{0, 11}, 1, 2}}, 2, "overlapping"},
        {"negative lr", {{{0, 5}, -1, 1}}, 1, "lr x -1"},
        {"NaN wd", {{{0, 5}, 1, NAN}}, 1, "weight decay x nan"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cnn_status st = cnn_optim_set_groups(&o, bad[i].g, bad[i].n, &err);
        check(st == CNN_STATUS_INVALID_ARGUMENT && strstr(err.msg, bad[i].msg) && !o.runs,
              "set_groups, %s: expected an error with '%s', got %d '%s'", bad[i].what,
              bad[i].msg, (int)st, err.msg);
    }
    cnn_param_group ones[2] = {{{0, half}, 1, 1}, {{half, 7}, 1, 1}};
    check(cnn_optim_set_groups(&o, ones, 2, &err) == CNN_STATUS_OK && !o.runs,
          "groups with multipliers 1 keep the single fused pass");
    /* [0, half): lr x 2, wd x 0.5 (exact in float); [half, half + 7): frozen;
     * the rest: multipliers 1. Empty groups are ignored; order does not matter. */
    cnn_param_group g[3] = {{{half, 7}, 0, 3}, {{5, 0}, 9, 9}, {{0, half}, 2, 0.5f}};
    check(cnn_optim_set_groups(&o, g, 3, &err) == CNN_STATUS_OK && o.run_count == 3,
          "set_groups: %s (runs %d, expected 3)", err.msg, o.run_count);
    unsigned seed = 99;
    float *p = check_frand(n, &seed, -1, 1), *want = check_fresh(n);
    memcpy(want, p, n * sizeof(float));
    cnn_optim_config ca = c, cb = c;
    ca.weight_decay = c.weight_decay * 0.5f;
    cnn_optim oa, ob;
    cnn_optim_init(&oa, &ca, half, &err);
    cnn_optim_init(&ob, &cb, n - half - 7, &err);
    const float lr = 0.0375f;
    for (int k = 0; k < 3; k++) {
        float *gr = check_frand(n, &seed, -2, 2);
        cnn_optim_step(&o, lr, p, gr);
        cnn_optim_step(&oa, lr * 2, want, gr);
        cnn_optim_step(&ob, lr, want + half + 7, gr + half + 7);
        free(gr);
    }
    check(check_bitwise_equal(p, want, n),
          "grouped SGD (%zu elements, 3 runs) differs from ungrouped optimizers on its slices",
          n);
    check(cnn_optim_set_groups(&o, NULL, 0, &err) == CNN_STATUS_OK && !o.runs && !o.run_count,
          "set_groups with n = 0 clears the groups");
    printf("parameter groups (units): validation, all-ones groups keep one pass, %zu-element "
           "grouped SGD bitwise equal to per-slice optimizers\n", n);
    cnn_optim_free(&o);
    cnn_optim_free(&oa);
    cnn_optim_free(&ob);
    free(p);
    free(want);
}

/* The linear schedule against LambdaLR with airbench's lambda. */
static void test_linear_sched(const fixture_file *f)
{
    int cases = 0;
    for (int ri = 0; ri < f->n; ri++) {
        if (strncmp(f->r[ri].name, "lin.", 4) != 0 || !ends_with(f->r[ri].name, ".config"))
            continue;
        char c_name[96];
        snprintf(c_name, sizeof c_name, "%.*s", (int)(strlen(f->r[ri].name) - 7),
                 f->r[ri].name);
        const float *v = f->r[ri].v;
        cnn_sched_config c;
        cnn_sched_config_defaults(&c, CNN_SCHED_LINEAR);
        c.base_lr = v[0];
        c.epochs = (int)v[1];
        c.steps_per_epoch = (int)v[2];
        c.total_steps = (int)v[3];
        c.warmup_frac = v[4];
        c.start_factor = v[5];
        c.end_factor = v[6];
        if (strcmp(c_name, "lin.airbench") == 0) { /* the decimals torch used */
            c.warmup_frac = 0.23;
            c.start_factor = 0.2;
            c.end_factor = 0.07;
        }
        const int steps = c.total_steps > 0 ? c.total_steps : c.epochs * c.steps_per_epoch;
        const fixture_record *want = need(f, c_name, ".lr", steps);
        cnn_sched s;
        cnn_error err = {0};
        if (cnn_sched_init(&s, &c, &err)) {
            check(0, "%s: init: %s", c_name, err.msg);
            continue;
        }
        float *got = check_fresh((size_t)steps);
        for (int i = 0; i < steps; i++)
            got[i] = cnn_sched_lr(&s, i / c.steps_per_epoch, i % c.steps_per_epoch);
        char what[160];
        snprintf(what, sizeof what, "%s: lr of each of %d steps (W = %d)", c_name, steps,
                 (int)(steps * c.warmup_frac));
        /* atol: a start factor 0 gives lr 0. */
        check_close(what, got, want->v, (size_t)steps, LR_RTOL, 1e-12);
        /* Past the end it holds base_lr * end_factor. */
        const int past = steps + 3;
        float end = cnn_sched_lr(&s, past / c.steps_per_epoch, past % c.steps_per_epoch);
        check(end == (float)((double)c.base_lr * c.end_factor), "%s: past the end %g, expected %g",
              c_name, (double)end, (double)c.base_lr * c.end_factor);
        free(got);
        cases++;
    }
    check(cases >= 4, "linear: found %d cases in the fixture, expected at least 4", cases);
    printf("linear schedule: %d lr sequences vs LambdaLR(airbench's lr_factor) per step (N = "
           "476, W = int(476 * 0.23) = 109 among them), rtol %g\n", cases, LR_RTOL);

    /* Validation names the flags. */
    cnn_sched_config c = sched_base(CNN_SCHED_LINEAR);
    c.warmup_frac = 1.0;
    expect_sched_error("warmup_frac 1", &c, "--warmup-frac", "1");
    c = sched_base(CNN_SCHED_LINEAR);
    c.warmup_frac = -0.5;
    expect_sched_error("negative warmup_frac", &c, "--warmup-frac", "-0.5");
    c = sched_base(CNN_SCHED_LINEAR);
    c.start_factor = -1;
    expect_sched_error("negative start factor", &c, "--lr-start-factor", "-1");
    c = sched_base(CNN_SCHED_LINEAR);
    c.end_factor = NAN;
    expect_sched_error("NaN end factor", &c, "--lr-end-factor", "nan");
    c = sched_base(CNN_SCHED_LINEAR);
    c.total_steps = -3;
    expect_sched_error("negative total steps", &c, "total steps", "-3");
    c = sched_base(CNN_SCHED_LINEAR);
    c.steps_per_epoch = 0;
    expect_sched_error("linear without steps", &c, "steps per epoch", "0");
    c = sched_base(CNN_SCHED_LINEAR);
    c.epochs = 0;
    expect_sched_error("linear without epochs or total", &c, "--epochs", "0");
    c = sched_base(CNN_SCHED_ONECYCLE);
    c.total_steps = 10;
    c.warmup_epochs = 4; /* 12 steps > 10 */
    expect_sched_error("warm-up past the step budget", &c, "--warmup-epochs", "4");

    /* A step budget: N for one-cycle (same as epochs x steps when equal),
     * per-step cosine (half way at N / 2), and epochs not needed. */
    cnn_sched a, b;
    cnn_error err = {0};
    c = sched_base(CNN_SCHED_ONECYCLE);
    cnn_sched_init(&a, &c, &err);
    c.total_steps = c.epochs * c.steps_per_epoch;
    c.epochs = 0;
    check(cnn_sched_init(&b, &c, &err) == CNN_STATUS_OK, "onecycle with total_steps only: %s",
          err.msg);
    int same = 1;
    for (int i = 0; i < c.total_steps; i++)
        same &= cnn_sched_lr(&a, i / 3, i % 3) == cnn_sched_lr(&b, i / 3, i % 3);
    check(same, "onecycle: total_steps = epochs x steps gives another sequence");
    c = sched_base(CNN_SCHED_COSINE);
    c.min_lr = 0.02f;
    c.total_steps = 10; /* steps_per_epoch 3 */
    check(cnn_sched_init(&a, &c, &err) == CNN_STATUS_OK, "cosine with total_steps: %s", err.msg);
    float mid = cnn_sched_lr(&a, 1, 2), last = cnn_sched_lr(&a, 3, 0);
    float past = cnn_sched_lr(&a, 5, 0);
    check(fabs((double)mid - 0.06) < 1e-7 && last > c.min_lr && past == c.min_lr,
          "cosine per step over 10: step 5 %g (expected 0.06), step 9 %g, past %g",
          (double)mid, (double)last, (double)past);
}

static void expect_lookahead_error(const char *what, const cnn_lookahead_config *c,
                                   const char *flag, const char *value)
{
    cnn_error err = {0};
    cnn_status st = cnn_lookahead_config_check(c, &err);
    check(st == CNN_STATUS_INVALID_ARGUMENT && strstr(err.msg, flag) && strstr(err.msg, value),
          "lookahead config, %s: expected an error naming %s and %s, got %d '%s'", what, flag,
          value, (int)st, err.msg);
}

/* airbench's loop on a small network: SGD Nesterov on groups (a x64 lr /64 wd
 * slice, a frozen slice whitened after the shadow copy), the linear schedule
 * per step, lookahead every 5 steps and at the last, on params and state. */
static void test_lookahead(const fixture_file *f)
{
    cnn_lookahead_config lc;
    cnn_lookahead_config_defaults(&lc);
    const fixture_record *alpha = need(f, "la.alpha476", "", 477);
    float got_alpha[477];
    for (int k = 0; k <= 476; k++)
        got_alpha[k] = cnn_lookahead_decay(&lc, k, 476);
    check(check_bitwise_equal(got_alpha, alpha->v, 477),
          "lookahead decay: differs from 0.95**5 * (arange(477) / 476) ** 3 (expected bitwise)");
    const fixture_record *ema0 = need(f, "la.lerp.ema", "", -1);
    const size_t nl = ema0->count;
    const float *live0 = need(f, "la.lerp.live", "", (int)nl)->v;
    const fixture_record *lerp_decay = need(f, "la.lerp.decay", "", -1);
    float *live = check_fresh(nl);
    for (size_t d = 0; d < lerp_decay->count; d++) {
        cnn_lookahead la;
        cnn_error err = {0};
        cnn_lookahead_init(&la, ema0->v, nl, NULL, 0, &err);
        memcpy(live, live0, nl * sizeof(float));
        cnn_lookahead_update(&la, live, NULL, lerp_decay->v[d]);
        char suffix[32];
        snprintf(suffix, sizeof suffix, "%zu", d + 1);
        const float *want = need(f, "la.lerp.out", suffix, (int)nl)->v;
        check(check_bitwise_equal(la.params, want, nl) && check_bitwise_equal(live, want, nl),
              "lookahead update with decay %g: differs from torch's lerp_ (expected bitwise)",
              (double)lerp_decay->v[d]);
        cnn_lookahead_free(&la);
    }
    free(live);

    double worst = 0;
    int cases = 0;
    for (int ri = 0; ri < f->n; ri++) {
        if (strncmp(f->r[ri].name, "la.", 3) != 0 || !ends_with(f->r[ri].name, ".config"))
            continue;
        char c_name[96];
        snprintf(c_name, sizeof c_name, "%.*s", (int)(strlen(f->r[ri].name) - 7),
                 f->r[ri].name);
        const float *v = f->r[ri].v;
        const int total = (int)v[0];
        lc.every = (int)v[1];
        lc.base = 0.95; /* v[2], v[3]: the decimals torch used */
        lc.power = 3;
        check(v[2] == 0.95f && v[3] == 3.0f, "%s: fixture's base %g power %g, expected 0.95 3",
              c_name, (double)v[2], (double)v[3]);
        cnn_sched_config sc;
        cnn_sched_config_defaults(&sc, CNN_SCHED_LINEAR);
        sc.base_lr = v[7];
        sc.total_steps = total;
        sc.steps_per_epoch = 4; /* any split of the steps into epochs */
        sc.epochs = (total + 3) / 4;
        sc.warmup_frac = v[4];
        sc.start_factor = v[5];
        sc.end_factor = v[6];
        cnn_optim_config oc;
        cnn_optim_config_defaults(&oc, CNN_OPT_SGD);
        oc.lr = v[7];
        oc.momentum = v[8];
        oc.weight_decay = v[9];
        oc.nesterov = 1;
        cnn_param_group g[4];
        int frozen;
        const int ng = groups_from(need(f, c_name, ".groups", -1), g, 4, &frozen);
        CNN_ASSERT(frozen >= 0);
        const cnn_range fr = g[frozen].range;
        const fixture_record *p0 = need(f, c_name, ".params0", -1);
        const fixture_record *s0 = need(f, c_name, ".state0", -1);
        const size_t np = p0->count, ns = s0->count;
        float *params = check_fresh(np), *state = check_fresh(ns), *grads = check_fresh(np);
        memcpy(params, p0->v, np * sizeof(float));
        memcpy(state, s0->v, ns * sizeof(float));
        cnn_sched s;
        cnn_optim o;
        cnn_lookahead la;
        cnn_error err = {0};
        if (cnn_sched_init(&s, &sc, &err) || cnn_optim_init(&o, &oc, np, &err) ||
            cnn_optim_set_groups(&o, g, ng, &err) ||
            cnn_lookahead_init(&la, params, np, state, ns, &err)) {
            check(0, "%s: init: %s", c_name, err.msg);
            continue;
        }
        /* The whitening init comes after the shadow copy. */
        memcpy(params + fr.offset, need(f, c_name, ".whiten", (int)fr.count)->v,
               fr.count * sizeof(float));
        for (int k = 1; k <= total; k++) {
            char what[160], suffix[32];
            const int i = k - 1;
            float lr = cnn_sched_lr(&s, i / sc.steps_per_epoch, i % sc.steps_per_epoch);
            snprintf(suffix, sizeof suffix, ".grad%d", k);
            memcpy(grads, need(f, c_name, suffix, (int)np)->v, np * sizeof(float));
            for (size_t j = 0; j < fr.count; j++)
                grads[fr.offset + j] = 1.0f;
            snprintf(suffix, sizeof suffix, ".delta%d", k);
            const float *delta = need(f, c_name, suffix, (int)ns)->v;
            for (size_t j = 0; j < ns; j++)
                state[j] += delta[j];
            cnn_optim_step(&o, lr, params, grads);
            snprintf(suffix, sizeof suffix, ".decay%d", k);
            const fixture_record *dec = need(f, c_name, suffix, -1);
            float decays[2];
            int nd = 0;
            if (k % lc.every == 0)
                decays[nd++] = cnn_lookahead_decay(&lc, k, total);
            if (k == total)
                decays[nd++] = 1.0f;
            check(nd == (int)dec->count &&
                      (nd == 0 || check_bitwise_equal(decays, dec->v, (size_t)nd)),
                  "%s: step %d: %d lookahead updates (expected %zu) or their decays differ",
                  c_name, k, nd, dec->count);
            for (int d = 0; d < nd; d++)
                cnn_lookahead_update(&la, params, state, decays[d]);
            snprintf(suffix, sizeof suffix, ".params%d", k);
            const float *wp = need(f, c_name, suffix, (int)np)->v;
            snprintf(what, sizeof what, "%s: params after step %d", c_name, k);
            check_close(what, params, wp, np, LA_RTOL, LA_ATOL);
            double w = worst_ratio(params, wp, np, LA_RTOL, LA_ATOL);
            worst = w > worst ? w : worst;
            snprintf(suffix, sizeof suffix, ".state%d", k);
            const float *ws = need(f, c_name, suffix, (int)ns)->v;
            snprintf(what, sizeof what, "%s: state after step %d", c_name, k);
            check_close(what, state, ws, ns, LA_RTOL, LA_ATOL);
            w = worst_ratio(state, ws, ns, LA_RTOL, LA_ATOL);
            worst = w > worst ? w : worst;
        }
        check(check_bitwise_equal(params, la.params, np) &&
                  check_bitwise_equal(state, la.state, ns),
              "%s: after the last step the network is not the shadow", c_name);
        cnn_lookahead_free(&la);
        cnn_optim_free(&o);
        free(params);
        free(state);
        free(grads);
        cases++;
    }
    check(cases >= 2, "lookahead: found %d cases in the fixture, expected at least 2", cases);
    printf("lookahead: decays for total 476 and lerp_ (%zu decays) bitwise; %d airbench-loop "
           "trajectories (groups, linear schedule, lookahead every 5 and at the end, params "
           "and state) vs PyTorch, rtol %g atol %g, worst ratio %.3f\n", lerp_decay->count,
           cases, LA_RTOL, LA_ATOL, worst);
}

/* lerp's two branches, decay 1 and 0, a block on the OpenMP path against a
 * plain loop with torch's formula, and the config checks. */
static void test_lookahead_units(void)
{
    const size_t n = 150001, ns = 7;
    unsigned seed = 4242;
    float *p = check_frand(n, &seed, -1, 1), *s = check_frand(ns, &seed, 0, 2);
    cnn_lookahead la;
    cnn_error err = {0};
    check(cnn_lookahead_init(&la, p, n, s, ns, &err) == CNN_STATUS_OK, "lookahead init: %s",
          err.msg);
    check(check_bitwise_equal(la.params, p, n) && check_bitwise_equal(la.state, s, ns),
          "lookahead init: the shadow is not a copy");
    float *ema = check_fresh(n), *live = check_fresh(n);
    const float decays[] = {0.0559f, 0.7737809f, 0.5f, 0.25f};
    int same = 1;
    for (size_t d = 0; d < sizeof decays / sizeof decays[0]; d++) {
        check_fill(p, n, &seed, -1, 1);
        memcpy(ema, la.params, n * sizeof(float));
        memcpy(live, p, n * sizeof(float));
        const float w = (float)(1.0 - (double)decays[d]);
        for (size_t i = 0; i < n; i++) {
            float e = fabsf(w) < 0.5f ? fmaf(w, live[i] - ema[i], ema[i])
                                      : fmaf(-(live[i] - ema[i]), 1.0f - w, live[i]);
            ema[i] = live[i] = e;
        }
        cnn_lookahead_update(&la, p, s, decays[d]);
        same &= check_bitwise_equal(p, live, n) && check_bitwise_equal(la.params, ema, n);
    }
    check(same, "lookahead update on %zu elements differs from torch's lerp formula", n);
    memcpy(ema, la.params, n * sizeof(float));
    check_fill(p, n, &seed, -1, 1);
    cnn_lookahead_update(&la, p, s, 1.0f);
    check(check_bitwise_equal(la.params, ema, n) && check_bitwise_equal(p, ema, n),
          "lookahead decay 1: the shadow changed or the network is not the shadow");
    check_fill(p, n, &seed, -1, 1);
    memcpy(live, p, n * sizeof(float));
    cnn_lookahead_update(&la, p, s, 0.0f);
    check(check_bitwise_equal(la.params, live, n) && check_bitwise_equal(p, live, n),
          "lookahead decay 0: the shadow is not the network");
    cnn_lookahead_free(&la);
    check(cnn_lookahead_init(&la, p, 3, NULL, 0, &err) == CNN_STATUS_OK && !la.state,
          "lookahead without state: %s", err.msg);
    cnn_lookahead_update(&la, p, NULL, 0.5f);
    cnn_lookahead_free(&la);

    cnn_lookahead_config c;
    cnn_lookahead_config_defaults(&c);
    check(c.every == 5 && c.base == 0.95 && c.power == 3.0 &&
              cnn_lookahead_config_check(&c, &err) == CNN_STATUS_OK,
          "lookahead defaults: every %d base %g power %g", c.every, c.base, c.power);
    c.every = 0;
    expect_lookahead_error("every 0", &c, "--lookahead-every", "0");
    cnn_lookahead_config_defaults(&c);
    c.base = 1.5;
    expect_lookahead_error("base 1.5", &c, "--lookahead-base", "1.5");
    cnn_lookahead_config_defaults(&c);
    c.power = -2;
    expect_lookahead_error("power -2", &c, "--lookahead-power", "-2");
    c.power = 2;
    check(cnn_lookahead_decay(&c, 1, 2) == (float)pow(0.95, 5) * 0.25f &&
              cnn_lookahead_decay(&c, 4, 4) == (float)pow(0.95, 5),
          "lookahead decay with power 2");
    printf("lookahead (units): %zu-element updates bitwise equal to torch's lerp formula "
           "(both branches), decay 1 and 0 exact, config checks\n", n);
    free(p);
    free(s);
    free(ema);
    free(live);
}

/* ---- Muon (tests/fixtures/muon.txt, tools/fixtures/make_muon_fixtures.py) ---- */
#define MUON_MADE_BY "tools/fixtures/make_muon_fixtures.py"

static void test_muon(const fixture_file *f)
{
    /* Newton-Schulz: the fast form and the reference against torch's */
    for (int k = 0;; k++) {
        char p[32];
        snprintf(p, sizeof p, "ns.%d.", k);
        char name[64];
        snprintf(name, sizeof name, "%sshape", p);
        if (!fixture_find(f, name))
            break;
        const float *sh = need(f, p, "shape", 3)->v;
        int rows = (int)sh[0], cols = (int)sh[1], steps = (int)sh[2];
        size_t n = (size_t)rows * cols;
        const float *g = need(f, p, "g", (int)n)->v, *want = need(f, p, "out", (int)n)->v;
        float *fast = malloc(sizeof *fast * n), *ref = malloc(sizeof *ref * n);
        float *work = malloc(sizeof *work * cnn_muon_work_floats(rows, cols));
        cnn_muon_orthogonalize(rows, cols, steps, g, fast, work);
        cnn_muon_orthogonalize_ref(rows, cols, steps, g, ref);
        double wf = worst_ratio(fast, want, n, 1e-4, 1e-5), wr = worst_ratio(ref, want, n, 1e-4, 1e-5);
        check(wf <= 1 && wr <= 1, "muon NS %dx%d, %d steps: fast %.3g, reference %.3g of the "
              "tolerance (1e-4 relative + 1e-5) from torch", rows, cols, steps, wf, wr);
        printf("muon: Newton-Schulz %dx%d (%d steps) = torch's: fast %.3g, reference %.3g of the "
               "tolerance\n", rows, cols, steps, wf, wr);
        free(fast);
        free(ref);
        free(work);
    }
    /* five steps of Muon on three filter tensors */
    const char *cases[] = {"airbench", "plain"};
    for (int c = 0; c < 2; c++) {
        char p[32];
        snprintf(p, sizeof p, "mu.%s.", cases[c]);
        const float *cfg = need(f, p, "config", 5)->v;
        const fixture_record *shapes = need(f, p, "shapes", -1);
        int t = (int)(shapes->count / 2);
        cnn_muon_matrix mats[8];
        size_t total = 0;
        CNN_ASSERT(t <= 8);
        for (int i = 0; i < t; i++) {
            mats[i] = (cnn_muon_matrix){total, (int)shapes->v[2 * i], (int)shapes->v[2 * i + 1]};
            total += (size_t)mats[i].rows * mats[i].cols;
        }
        cnn_muon_config mc = {.lr = cfg[0], .momentum = cfg[1], .nesterov = (int)cfg[2],
                              .ns_steps = (int)cfg[3], .renorm = (int)cfg[4]};
        cnn_muon mu;
        cnn_error err;
        if (cnn_muon_init(&mu, &mc, mats, t, &err)) {
            check(0, "muon %s: %s", cases[c], err.msg);
            continue;
        }
        float *params = malloc(sizeof *params * total), *m = calloc(total, sizeof *m);
        memcpy(params, need(f, p, "params0", (int)total)->v, sizeof *params * total);
        double worst = 0;
        for (int k = 1; k <= 5; k++) {
            char g[24], w[24];
            snprintf(g, sizeof g, "grad%d", k);
            snprintf(w, sizeof w, "params%d", k);
            cnn_muon_step(&mu, mc.lr, params, need(f, p, g, (int)total)->v, m);
            double r = worst_ratio(params, need(f, p, w, (int)total)->v, total, 1e-4, 1e-5);
            worst = r > worst ? r : worst;
        }
        check(worst <= 1, "muon %s: 5 steps of %d tensors (%zu floats): %.3g of the tolerance "
              "(1e-4 relative + 1e-5) from torch", cases[c], t, total, worst);
        printf("muon: %s (lr %g, momentum %g, %d Newton-Schulz steps, renorm %d), 5 steps of %d "
               "filter tensors = torch's within %.3g of the tolerance\n", cases[c],
               (double)mc.lr, (double)mc.momentum, mc.ns_steps, mc.renorm, t, worst);
        free(params);
        free(m);
        cnn_muon_free(&mu);
    }
    /* what cnn_muon_init refuses */
    cnn_muon_matrix one = {0, 4, 9};
    cnn_muon mu;
    cnn_error err;
    cnn_muon_config bad = {.lr = 0.1f, .momentum = 1.0f, .nesterov = 1, .ns_steps = 5};
    check(cnn_muon_init(&mu, &bad, &one, 1, &err) && strstr(err.msg, "--muon-momentum"),
          "muon: momentum 1 refused naming the flag");
    bad.momentum = 0.9f;
    bad.ns_steps = 0;
    check(cnn_muon_init(&mu, &bad, &one, 1, &err) && strstr(err.msg, "--muon-steps"),
          "muon: 0 Newton-Schulz steps refused naming the flag");
    bad.ns_steps = 5;
    check(cnn_muon_init(&mu, &bad, &one, 0, &err) && strstr(err.msg, "no trainable convolution"),
          "muon: a model without filters refused");
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "tests/fixtures/optim.txt";
    const char *recipe_path = argc > 2 ? argv[2] : "tests/fixtures/optim_recipe.txt";
    test_sgd_exact();
    test_groups_units();
    test_lookahead_units();
    test_optim_validation();
    test_sched_validation();
    test_sched_edges();
    test_clip_edges();
    fixture_file f;
    if (fixture_load(&f, path, MADE_BY)) {
        test_trajectories(&f);
        test_schedules(&f);
        test_clip_l2(&f);
    } else {
        check(0, "fixture %s not loaded", path);
    }
    fixture_free(&f);
    if (fixture_load(&f, recipe_path, RECIPE_MADE_BY)) {
        test_groups(&f);
        test_linear_sched(&f);
        test_lookahead(&f);
    } else {
        check(0, "fixture %s not loaded", recipe_path);
    }
    fixture_free(&f);
    const char *muon_path = argc > 3 ? argv[3] : "tests/fixtures/muon.txt";
    if (fixture_load(&f, muon_path, MUON_MADE_BY)) {
        test_muon(&f);
    } else {
        check(0, "fixture %s not loaded", muon_path);
    }
    fixture_free(&f);
    return check_finish("test_optim");
}
