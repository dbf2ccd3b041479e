/* cmd_study.c: `cnnlab study`: a family of training runs, compared on
 * validation data. Every flag that is not the study's own is a base train
 * flag (the flag parser passes them through). Every configuration (the base and each varied value) is checked with
 * train's own flag parser before anything runs; then the runs go one process
 * each (src/study/runner.c), and summary.csv and report.md are written. */
#define _POSIX_C_SOURCE 200809L
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cnnlab/cnnlab.h"
#include "cnnlab/study.h"
#include "commands.h"
#include "core/core.h"
#include "dist/dist.h"
#include "flags.h"
#include "text.h"
#include "report.h"

/* The study's own flags; every other word is a base train flag. */
typedef struct study_args {
    const char *out, *data, *control_from;
    const char *preset_items[CNN_STUDY_MAX_FACTORS], *vary_items[CNN_STUDY_MAX_FACTORS];
    cli_list presets, varies;
    int grid, repeats, jobs, threads;
    int worker, array_index; /* array_index -1: not given */
    uint64_t seed;
    const char *base[CNN_STUDY_MAX_ARGS];
    int nbase;
} study_args;

static void help_tail(FILE *f)
{
    fprintf(f, "\npresets:\n");
    for (const cnn_study_preset *p = cnn_study_presets(); p->name; p++) {
        char list[256];
        snprintf(list, sizeof list, "--vary %s=%s", p->flag, p->values ? p->values : "(by model)");
        fprintf(f, "  %-12s %s\n  %-12s   %s\n", p->name, list, "", p->about);
    }
    fprintf(f, "\nexample:\n  cnnlab study --out studies/dropout --preset dropout --model lenet5 "
               "--epochs 5 --subset 10000\n");
}

/* Splits argv into the study's own flags and the base train flags. */
static cnn_status parse_args(int argc, char **argv, study_args *a, int *help, cnn_error *err)
{
    memset(a, 0, sizeof *a);
    a->presets = (cli_list){a->preset_items, CNN_STUDY_MAX_FACTORS, 0};
    a->varies = (cli_list){a->vary_items, CNN_STUDY_MAX_FACTORS, 0};
    a->repeats = 1;
    a->jobs = 1;
    a->seed = 1;
    a->threads = omp_get_num_procs();
    a->array_index = -1;
    cli_list base = {a->base, CNN_STUDY_MAX_ARGS, 0};
    const cli_flag flags[] = {
        {"--out", CLI_STRING, &a->out, 0, 0, "STUDY_DIR", "the study folder (required)", NULL},
        {"--vary", CLI_LIST, &a->varies, 0, 0, "FLAG=v1,v2,...", "a train flag and its values (repeatable); list values of --augment and --milestones join items with '+' (crop+flip); flags without a value take on,off", NULL},
        {"--preset", CLI_LIST, &a->presets, 0, 0, "NAME", "a named --vary list (repeatable), see below", NULL},
        {"--grid", CLI_BOOL, &a->grid, 0, 0, NULL, "run every combination instead of one change at a time", NULL},
        {"--repeats", CLI_INT, &a->repeats, 1, 100, "N", "seeds per configuration: seed, seed+1, ... (default 1); the report gives mean ± standard deviation", NULL},
        {"--jobs", CLI_INT, &a->jobs, 1, 64, "N", "runs at once, the threads split between them (default 1; docs/performance.md compares jobs and threads)", NULL},
        {"--seed", CLI_U64, &a->seed, 0, 9.2e18, "N", "the first seed (default 1)", NULL},
        {"--threads", CLI_INT, &a->threads, 1, 1024, "N", "threads in all (default: all cores), N/jobs per run", NULL},
        {"--data", CLI_STRING, &a->data, 0, 0, "PATH", "the data, as train's --data (not part of the study)", NULL},
        {"--worker", CLI_BOOL, &a->worker, 0, 0, NULL, "one of several processes sharing the study folder (Slurm array tasks, machines sharing a file system): claims the runs nobody has claimed, one at a time, until none is left, and writes no summary; the same command without --worker then collects (docs/distributed.md)", NULL},
        {"--array-index", CLI_INT, &a->array_index, 0, 1e9, "N", "as --worker, but claims one run only (sbatch --array=0-(RUNS-1): N is $SLURM_ARRAY_TASK_ID, named in the claim)", NULL},
        {"--control-from", CLI_STRING, &a->control_from, 0, 0, "DIR", "another study folder with the same base flags, seed and repeats: its finished control runs are copied, not trained again (what `cnnlab lab` does)", NULL},
    };
    cli_command cmd = {
        .name = "study",
        .usage = "cnnlab study --out STUDY_DIR [--preset NAME | --vary FLAG=v1,v2,...] [--grid]\n"
                 "                    [--repeats N] [--jobs N] [train flags...]",
        .about = "Runs a family of trainings and compares them on the validation split. The train "
                 "flags given (--model, --epochs, --lr, ...) are the base configuration. By default "
                 "an ablation: a control run with the base, then one run per varied value, one "
                 "change at a time; --grid runs the full product of the varied values instead. "
                 "Each run is a `cnnlab train` process writing STUDY_DIR/runs/ID (with train.log); "
                 "then STUDY_DIR/summary.csv (one row per run), report.md (question, table sorted "
                 "by validation accuracy, overlaid curves, one sentence per factor) and plots/. "
                 "Rerunning the same command continues an interrupted study: finished and "
                 "diverged runs are kept, a killed run resumes after its last finished epoch. "
                 "Under mpirun each rank trains runs that rank 0 hands out; --worker shares the "
                 "runs between processes without MPI (docs/distributed.md).",
        CLI_FLAGS(flags),
        .rest = &base,
        .rest_what = "train flags",
        .help_tail = help_tail,
    };
    cnn_status st = cli_parse(&cmd, argc, argv, help, err);
    a->nbase = base.count;
    if (st || *help)
        return st;
    if (a->presets.count + a->varies.count > CNN_STUDY_MAX_FACTORS)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "--preset, --vary: at most %d "
                             "presets and --vary flags in all, found %d", CNN_STUDY_MAX_FACTORS,
                             a->presets.count + a->varies.count);
    if (!a->out)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "--out: expected the study folder "
                             "(--out STUDY_DIR), found none (see `cnnlab study --help`)");
    return CNN_STATUS_OK;
}

/* A flag a study may not vary, and why. */
static const char *reserved(const char *flag)
{
    if (strcmp(flag, "seed") == 0)
        return "use --repeats N (seeds seed, seed+1, ...)";
    if (strcmp(flag, "out") == 0)
        return "each run's folder is the study's: STUDY_DIR/runs/ID";
    if (strcmp(flag, "threads") == 0)
        return "threads do not change results much but do change the timing: use --jobs";
    if (strcmp(flag, "data") == 0)
        return "every run uses the same data";
    if (strcmp(flag, "help") == 0 || strcmp(flag, "h") == 0)
        return "it is not a setting";
    return NULL;
}

/* Checks a factor's flag against train's: known? takes a value? */
static cnn_status check_flag(cnn_study_factor *f, cnn_error *err)
{
    const char *why = reserved(f->flag);
    if (why)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "--vary %s: a study cannot vary "
                             "--%s: %s; nothing was run", f->flag, f->flag, why);
    char flag[64];
    snprintf(flag, sizeof flag, "--%s", f->flag);
    int kind = cnn_cli_train_flag_kind(flag);
    if (kind < 0)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "--vary %s: `cnnlab train` has no "
                             "flag --%s (see `cnnlab train --help`); nothing was run", f->flag,
                             f->flag);
    f->is_bool = kind == 0;
    for (int v = 0; f->is_bool && v < f->count; v++)
        if (strcmp(f->values[v], "on") != 0 && strcmp(f->values[v], "off") != 0)
            return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "--vary %s: --%s takes no "
                                 "value, so its values are on and off, found '%s'; nothing was "
                                 "run", f->flag, f->flag, f->values[v]);
    return CNN_STATUS_OK;
}

/* Checks one configuration with train's parser, and what train checks only
 * once it runs (the optimizer and the schedule); settings receives its
 * canonical text (may be NULL). what names it in messages. */
static cnn_status check_config(const cnn_study_spec *spec, const int *value, const char *what,
                               char *settings, size_t size, cnn_error *err)
{
    const char *argv[CNN_STUDY_MAX_ARGS + 2 * CNN_STUDY_MAX_FACTORS + 4];
    char scratch[2 * CNN_STUDY_MAX_FACTORS][CNN_STUDY_ARG_LEN];
    int n = 0;
    argv[n++] = "study";
    n += cnn_study_config_args(spec, value, argv + n, scratch);
    cnn_train_config cfg;
    cnn_error e = {0};
    if (cnn_cli_train_config("study", n, (char **)argv, &cfg, NULL, NULL, &e) == CNN_STATUS_OK &&
        !(cfg.val_fraction > 0))
        cnn_error_set(&e, CNN_STATUS_INVALID_ARGUMENT, "--val-fraction 0 leaves no validation "
                      "data to compare the runs on");
    if (e.status == CNN_STATUS_OK) {
        cnn_optim opt;
        cnn_sched sched;
        cnn_sched_config sc = cfg.sched;
        sc.base_lr = cfg.optim.lr;
        sc.epochs = cfg.epochs;
        sc.steps_per_epoch = 1;
        if (cnn_optim_init(&opt, &cfg.optim, 1, &e) == CNN_STATUS_OK)
            cnn_optim_free(&opt);
        if (e.status == CNN_STATUS_OK)
            cnn_sched_init(&sched, &sc, &e);
    }
    if (e.status == CNN_STATUS_OK && settings)
        cnn_study_settings_text(&cfg, settings, size, &e);
    if (e.status)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "%s: %s; nothing was run", what,
                             e.msg);
    return CNN_STATUS_OK;
}

/* The factors: the presets' (the base's model decides what depth means),
 * then the --vary lists; each flag once, and one train can vary. */
static cnn_status add_factors(const study_args *a, cnn_study_spec *spec, cnn_error *err)
{
    const char *model = "lenet5";
    for (int i = 0; i + 1 < spec->base_count; i++)
        if (strcmp(spec->base[i], "--model") == 0)
            model = spec->base[i + 1];
    cnn_error e = {0};
    for (int i = 0; i < a->presets.count; i++) {
        const char *name = a->presets.items[i];
        if (cnn_study_preset_factor(name, model, &spec->factors[spec->factor_count], &e))
            return cnn_error_set(err, e.status, "%s; nothing was run", e.msg);
        spec->factor_count++;
        size_t used = strlen(spec->preset);
        snprintf(spec->preset + used, sizeof spec->preset - used, "%s%s", used ? ", " : "", name);
    }
    for (int i = 0; i < a->varies.count; i++) {
        if (cnn_study_factor_parse(a->varies.items[i], &spec->factors[spec->factor_count], &e))
            return cnn_error_set(err, e.status, "%s; nothing was run", e.msg);
        spec->factor_count++;
    }
    cnn_status st;
    for (int f = 0; f < spec->factor_count; f++) {
        for (int g = 0; g < f; g++)
            if (strcmp(spec->factors[f].flag, spec->factors[g].flag) == 0)
                return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "--vary %s is given twice "
                                     "(a preset counts); nothing was run", spec->factors[f].flag);
        if ((st = check_flag(&spec->factors[f], err)))
            return st;
    }
    if (spec->grid && spec->factor_count == 0)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "--grid: expected at least one "
                             "--vary or --preset, found none");
    return CNN_STATUS_OK;
}

/* An ablation's configurations, each checked; a value whose settings are
 * the control's (settings text `control`) is marked as the control's own. */
static cnn_status check_ablation(cnn_study_spec *spec, const char *control, cnn_error *err)
{
    char *settings = malloc(65536);
    if (!settings)
        return cnn_error_set(err, CNN_STATUS_NO_MEMORY, "out of memory");
    cnn_status st = CNN_STATUS_OK;
    for (int f = 0; !st && f < spec->factor_count; f++) {
        cnn_study_factor *fa = &spec->factors[f];
        for (int v = 0; !st && v < fa->count; v++) {
            int value[CNN_STUDY_MAX_FACTORS];
            for (int g = 0; g < CNN_STUDY_MAX_FACTORS; g++)
                value[g] = g == f ? v : -1;
            char what[256];
            snprintf(what, sizeof what, "--vary %s=%s", fa->flag, fa->values[v]);
            st = check_config(spec, value, what, settings, 65536, err);
            fa->is_control[v] = !st && strcmp(settings, control) == 0;
        }
    }
    free(settings);
    return st;
}

/* A grid's configurations, every combination, each checked. */
static cnn_status check_grid(const cnn_study_spec *spec, cnn_error *err)
{
    int value[CNN_STUDY_MAX_FACTORS] = {0};
    /* A grid's size is known before any configuration is built: a product
     * of thousands of runs is refused at once, not after checking them all. */
    int planned;
    cnn_status st = cnn_study_count(spec, CNN_STUDY_MAX_RUNS, &planned, err);
    if (st)
        return st;
    for (;;) {
        char what[512] = "--grid";
        for (int f = 0; f < spec->factor_count; f++) {
            size_t used = strlen(what);
            snprintf(what + used, sizeof what - used, " %s=%s", spec->factors[f].flag,
                     spec->factors[f].values[value[f]]);
        }
        st = check_config(spec, value, what, NULL, 0, err);
        if (st)
            return st;
        int f = spec->factor_count - 1;
        while (f >= 0 && ++value[f] == spec->factors[f].count)
            value[f--] = 0;
        if (f < 0)
            return CNN_STATUS_OK;
    }
}

/* Builds and checks the whole study before anything runs: the base, the
 * factors, every configuration, which varied values are the control's own.
 * control receives the base's settings text. */
static cnn_status build_spec(const study_args *a, cnn_study_spec *spec, char *control,
                             size_t size, cnn_error *err)
{
    memset(spec, 0, sizeof *spec);
    spec->grid = a->grid;
    spec->repeats = a->repeats;
    spec->seed = a->seed;
    int none[CNN_STUDY_MAX_FACTORS];
    for (int f = 0; f < CNN_STUDY_MAX_FACTORS; f++)
        none[f] = -1;
    cnn_status st;
    if ((st = cnn_study_normalise_args(a->nbase, a->base, spec, err)) ||
        (st = check_config(spec, none, "base flags", control, size, err)) ||
        (st = add_factors(a, spec, err)))
        return st;
    return spec->grid ? check_grid(spec, err) : check_ablation(spec, control, err);
}

/* ---- progress ---- */

typedef struct progress {
    const char *dir;
    char who[32]; /* "[rank 1] " when one of several, else "" */
    int jobs;
    double t0, run_seconds; /* run_seconds: the runs trained in this session */
    int trained, remaining;
} progress;

static void clock_text(double s, char *buf, size_t size)
{
    int t = (int)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, size, "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(buf, size, "%d:%02d", t / 60, t % 60);
}

static void on_start(void *user, int index, int total, const cnn_study_run *r, const char *state)
{
    progress *p = user;
    char seed[48] = "";
    if (r->repeat > 0 || strstr(r->id, "_s"))
        snprintf(seed, sizeof seed, " (seed %llu)", (unsigned long long)r->seed);
    if (strcmp(state, "running") != 0 && strcmp(state, "running again") != 0) {
        printf("%srun %d/%d: %s%s: %s\n", p->who, index + 1, total, r->label, seed, state);
        p->remaining--;
    } else {
        char el[32], left[64] = "";
        clock_text(cnn_now() - p->t0, el, sizeof el);
        if (p->trained > 0) {
            char t[32];
            clock_text(p->run_seconds / p->trained * p->remaining / p->jobs, t, sizeof t);
            snprintf(left, sizeof left, ", about %s left", t);
        }
        printf("%srun %d/%d: %s%s%s (elapsed %s%s)\n", p->who, index + 1, total, r->label, seed,
               strcmp(state, "running") ? ": running again from scratch (it was interrupted)" : "",
               el, left);
    }
    fflush(stdout);
}

static void on_line(void *user, int index, int total, const cnn_study_run *r, const char *line)
{
    progress *p = user;
    if (strncmp(line, "epoch", 5) != 0 && strncmp(line, "early stop", 10) != 0 &&
        strncmp(line, "cnnlab", 6) != 0)
        return;
    if (p->jobs > 1 || *p->who)
        printf("  %s[%d/%d %s] %s\n", p->who, index + 1, total, r->label, line);
    else
        printf("  %s\n", line);
    fflush(stdout);
}

static void on_end(void *user, int index, int total, const cnn_study_run *r,
                   cnn_study_outcome o, const char *detail)
{
    progress *p = user;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/runs/%s", p->dir, r->id);
    cnn_study_result res;
    cnn_study_read_result(dir, NULL, &res);
    p->trained++;
    p->remaining--;
    p->run_seconds += res.seconds;
    if (o == CNN_STUDY_RUN_FINISHED)
        printf("%srun %d/%d: %s: %s, best validation accuracy %.2f%% at epoch %d (%.0f s)\n",
               p->who, index + 1, total, r->label, res.status, 100 * res.best_val_acc, res.best_epoch,
               res.seconds);
    else if (o == CNN_STUDY_RUN_DIVERGED)
        printf("%srun %d/%d: %s: diverged, recorded as such and not retried: %s\n", p->who,
               index + 1, total,
               r->label, detail);
    else
        printf("%srun %d/%d: %s: FAILED: %s\n", p->who, index + 1, total, r->label, detail);
    fflush(stdout);
}

/* What will run, in words anyone can check. */
static void describe(const study_args *a, const cnn_study_spec *spec, const cnn_study_run *runs,
                     int n, int threads)
{
    int configs = cnn_study_config_count(runs, n);
    printf("study %s: %s of %d configuration%s, %d run%s\n", a->out,
           spec->grid ? "a grid" : "an ablation", configs, configs == 1 ? "" : "s", n,
           n == 1 ? "" : "s");
    printf("  base: cnnlab train");
    for (int i = 0; i < spec->base_count; i++)
        printf(" %s", spec->base[i]);
    printf(" (seed %llu%s)\n", (unsigned long long)spec->seed,
           spec->repeats > 1 ? " and up, per --repeats" : "");
    for (int f = 0; f < spec->factor_count; f++) {
        char list[CNN_STUDY_MAX_VALUES * 66];
        cnn_study_factor_format(&spec->factors[f], list, sizeof list);
        printf("  --vary %s", list);
        for (int v = 0; v < spec->factors[f].count; v++)
            if (spec->factors[f].is_control[v])
                printf("  (%s=%s is the control's own setting: the control run stands for it)",
                       spec->factors[f].flag, spec->factors[f].values[v]);
        printf("\n");
    }
    if (*spec->preset)
        printf("  from preset %s\n", spec->preset);
    int ranks = cnn_dist_size();
    printf("  %d run%s at a time%s, %d thread%s each\n", a->jobs, a->jobs == 1 ? "" : "s",
           ranks > 1 ? " on each of the MPI ranks" : a->worker || a->array_index >= 0
           ? " in this worker" : "", threads, threads == 1 ? "" : "s");
    if (ranks > 1)
        printf("  %d MPI ranks (%s): rank 0 hands out the runs; the study folder must be on a "
               "file system every rank sees\n", ranks, cnn_dist_library());
    fflush(stdout);
}

/* How this process takes part: alone, as one of several workers, or as one
 * rank of an MPI job. */
typedef enum share_mode { SHARE_NONE, SHARE_WORKER, SHARE_RANKS } share_mode;

/* Runs the study's runs (this process's share of them) and, unless this is
 * a worker or a rank other than 0, writes its outputs. */
static cnn_status run_study(const study_args *a, const cnn_study_spec *spec,
                            const cnn_study_run *runs, int n, const char *exe, int threads,
                            share_mode mode, cnn_error *err)
{
    const char *extra[2] = {"--data", a->data};
    char who[64];
    if (a->array_index >= 0)
        snprintf(who, sizeof who, "array task %d", a->array_index);
    else
        snprintf(who, sizeof who, "worker");
    cnn_study_share share = {.dir = a->out, .runs = runs, .n = n, .who = who,
                             .max_claims = a->array_index >= 0 ? 1 : 0};
    cnn_study_exec x = {exe, a->out, extra, a->data ? 2 : 0, a->jobs, threads, a->control_from,
                        NULL, NULL, &share};
    if (mode == SHARE_WORKER)
        x.claim = cnn_study_claim_file;
    if (mode == SHARE_RANKS) {
        x.claim = cnn_study_claim_rank;
        x.tick = cnn_dist_rank() == 0 ? cnn_study_serve : NULL;
    }
    progress p = {a->out, "", a->jobs, cnn_now(), 0, 0, n};
    if (mode == SHARE_RANKS)
        snprintf(p.who, sizeof p.who, "[rank %d] ", cnn_dist_rank());
    cnn_study_hooks hooks = {on_start, on_line, on_end, &p};
    cnn_error run_err = {0};
    cnn_status run_st = cnn_study_run_all(spec, runs, n, &x, &hooks, &run_err);
    if (mode == SHARE_RANKS) {
        /* rank 0 waits for every rank's end: the summary covers all runs */
        run_st = cnn_study_share_end(&share, run_st, &run_err);
        if (cnn_dist_rank() != 0) {
            cnn_dist_barrier_idle(); /* while rank 0 writes the summary */
            return cnn_dist_agree(CNN_STATUS_OK, err);
        }
    }
    if (mode == SHARE_WORKER) {
        printf("%s: %d run%s claimed and ended here; `cnnlab study` with the same flags but "
               "without --worker/--array-index collects the summary once every worker has "
               "ended\n", who, share.claims, share.claims == 1 ? "" : "s");
        *err = run_err;
        return run_st;
    }
    /* The summary and report cover whatever finished, even after a failure. */
    char note[1024] = "";
    cnn_status st = cnn_study_write_outputs(a->out, spec, runs, n, note, sizeof note, err);
    if (!st) {
        char el[32];
        clock_text(cnn_now() - p.t0, el, sizeof el);
        printf("study %s: %s in %s\n", a->out, run_st ? "stopped" : "done", el);
        cnn_text findings = {0};
        cnn_cli_study_findings(a->out, "  ", &findings);
        fputs(cnn_text_str(&findings), stdout);
        cnn_text_free(&findings);
        printf("  %s\n  summary: %s/summary.csv\n  report:  %s/report.md\n", note, a->out,
               a->out);
        if (run_st) {
            *err = run_err;
            st = run_st;
        }
    }
    if (mode == SHARE_RANKS) {
        cnn_dist_barrier_idle();
        st = cnn_dist_agree(st, err);
    }
    if (!st)
        printf("next: cnnlab select %s [--retrain] tests the best configuration once\n", a->out);
    return st;
}

/* The study folder made ready for this process: the data found (by rank 0
 * first: it may download it), the folder locked (exclusively, or shared by
 * workers; rank 0 alone for MPI), what a killed study or dead workers left
 * cleared, study.txt written or checked, and under MPI every rank shown to
 * see the folder. *lock receives the lock's descriptor. Collective. */
static cnn_status prepare_folder(const study_args *a, const cnn_study_spec *spec,
                                 const char *control, share_mode mode, int *lock, cnn_error *err)
{
    /* The data once, here: missing data stops the study before any run, and
     * runs started together never download it at the same time (under MPI
     * rank 0 fetches it, the others find it then). */
    cnn_data_info data;
    const cnn_data_source src = {.path = a->data};
    int owner = mode != SHARE_RANKS || cnn_dist_rank() == 0;
    cnn_status st = CNN_STATUS_OK;
    if (owner)
        st = cnn_data_probe(&src, &data, err);
    if ((st = cnn_dist_agree(st, err)))
        return st;
    if (!owner)
        st = cnn_data_probe(&src, &data, err);
    if ((st = cnn_dist_agree(st, err)))
        return st;
    if (owner) {
        /* One study per folder: a second one on it is refused, naming the
         * first; workers share it, but not with a plain study. */
        if (!(st = cnn_mkdir_p(a->out, err)))
            st = mode == SHARE_WORKER
                     ? cnn_dir_lock_shared(a->out, "--out: study folder (shared by workers)",
                                           lock, err)
                     : cnn_dir_lock(a->out, "--out: study folder", lock, err);
        if (!st && mode != SHARE_WORKER) {
            /* a killed study's unfinished writes, its plots' included */
            char plots[4200];
            cnn_file_remove_temps(a->out);
            if (snprintf(plots, sizeof plots, "%s/plots", a->out) < (int)sizeof plots)
                cnn_file_remove_temps(plots);
            cnn_study_claims_clear(a->out); /* workers that ended or died */
        }
        if (!st)
            st = cnn_study_open(a->out, spec, control, err);
        /* workers started together: another may be creating the folder's
         * study.txt right now; it is there in a moment */
        for (int wait = 0; st && mode == SHARE_WORKER && wait < 50; wait++) {
            char path[4200];
            snprintf(path, sizeof path, "%s/study.txt", a->out);
            if (cnn_path_exists(path) && wait > 0)
                break;
            struct timespec ts = {0, 100000000};
            nanosleep(&ts, NULL);
            st = cnn_study_open(a->out, spec, control, err);
        }
    }
    if ((st = cnn_dist_agree(st, err)))
        return st;
    return cnn_study_check_shared(a->out, err);
}

cnn_status cnn_cmd_study(int argc, char **argv, cnn_error *err)
{
    study_args a;
    int help;
    cnn_status st = parse_args(argc, argv, &a, &help, err);
    if (st || help)
        return st;
    share_mode mode = cnn_dist_size() > 1 ? SHARE_RANKS
                      : a.worker || a.array_index >= 0 ? SHARE_WORKER : SHARE_NONE;
    if (mode == SHARE_RANKS && (a.worker || a.array_index >= 0))
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "--worker, --array-index: not "
                             "under mpirun, whose ranks share the runs already; give one or "
                             "the other");
    cnn_study_spec *spec = malloc(sizeof *spec);
    cnn_study_run *runs = malloc(sizeof *runs * CNN_STUDY_MAX_RUNS);
    char *control = malloc(65536); /* the base's settings as train resolves them */
    int n = 0;
    int lock = -1; /* the study folder's (cnn_dir_lock) */
    const char *exe = "/proc/self/exe"; /* this binary, even if rebuilt meanwhile */
    if (!spec || !runs || !control)
        st = cnn_error_set(err, CNN_STATUS_NO_MEMORY, "out of memory");
    if (!st && !(st = build_spec(&a, spec, control, 65536, err)))
        st = cnn_study_plan(spec, runs, CNN_STUDY_MAX_RUNS, &n, err);
    if (!st && access(exe, X_OK) != 0)
        st = cnn_error_set(err, CNN_STATUS_IO, "cannot run the cnnlab binary itself (%s)", exe);
    if ((st = cnn_dist_agree(st, err)))
        goto done;
    int threads = a.threads / a.jobs > 0 ? a.threads / a.jobs : 1;
    if (cnn_dist_rank() == 0)
        describe(&a, spec, runs, n, threads);
    if ((st = prepare_folder(&a, spec, control, mode, &lock, err)))
        goto done;
    st = run_study(&a, spec, runs, n, exe, threads, mode, err);
done:
    cnn_dir_unlock(lock);
    free(spec);
    free(runs);
    free(control);
    return st;
}
