/* cmd_study.c: `cnnlab study`: a family of training runs, compared on
 * validation data. Every flag that is not the study's own is a base train
 * flag. Every configuration (the base and each varied value) is checked with
 * train's own flag parser before anything runs; then the runs go one process
 * each (src/study/runner.c), and summary.csv and report.md are written. */
#define _POSIX_C_SOURCE 200809L
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cnnlab/cnnlab.h"
#include "cnnlab/study.h"
#include "commands.h"
#include "core/core.h"
#include "flags.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: cnnlab study --out STUDY_DIR [--preset NAME | --vary FLAG=v1,v2,...] [--grid]\n"
            "                    [--repeats N] [--jobs N] [train flags...]\n\n"
            "Runs a family of trainings and compares them on the validation split. The train\n"
            "flags given (--model, --epochs, --lr, ...) are the base configuration. By default\n"
            "an ablation: a control run with the base, then one run per varied value, one\n"
            "change at a time; --grid runs the full product of the varied values instead.\n"
            "Each run is a `cnnlab train` process writing STUDY_DIR/runs/ID (with train.log);\n"
            "then STUDY_DIR/summary.csv (one row per run), report.md (question, table sorted by\n"
            "validation accuracy, overlaid curves, one sentence per factor) and plots/.\n"
            "Rerunning the same command continues an interrupted study: finished and diverged\n"
            "runs are kept, a killed run is run again from scratch.\n\n"
            "options:\n"
            "  --out STUDY_DIR          the study folder (required)\n"
            "  --vary FLAG=v1,v2,...    a train flag and its values (repeatable); list values of\n"
            "                           --augment and --milestones join items with '+'\n"
            "                           (crop+flip); flags without a value take on,off\n"
            "  --preset NAME            a named --vary list (repeatable), see below\n"
            "  --grid                   run every combination instead of one change at a time\n"
            "  --repeats N              seeds per configuration: seed, seed+1, ... (default 1);\n"
            "                           the report gives mean ± standard deviation\n"
            "  --jobs N                 runs at once, the threads split between them (default 1;\n"
            "                           for lenet5 on 2 cores, 2 jobs of 1 thread were faster\n"
            "                           than 1 job of 2 threads: see README)\n"
            "  --seed N                 the first seed (default 1)\n"
            "  --threads N              threads in all (default: all cores), N/jobs per run\n"
            "  --data DIR               the cifar-10-batches-bin folder (not part of the study)\n"
            "  --control-from DIR       another study folder with the same base flags, seed and\n"
            "                           repeats: its finished control runs are copied, not\n"
            "                           trained again (what `cnnlab lab` does)\n"
            "  --help                   show this help\n\n"
            "presets:\n");
    for (const cnn_study_preset *p = cnn_study_presets(); p->name; p++) {
        char list[256];
        snprintf(list, sizeof list, "--vary %s=%s", p->flag, p->values ? p->values : "(by model)");
        fprintf(f, "  %-12s %s\n  %-12s   %s\n", p->name, list, "", p->about);
    }
    fprintf(f, "\nexample:\n  cnnlab study --out studies/dropout --preset dropout --model lenet5 "
               "--epochs 5 --subset 10000\n");
}

/* ---- checking configurations with train's own parser ---- */

/* Runs cnn_cli_train_config("study", ...) with its messages caught: msg
 * receives the first line it printed, without the "cnnlab study: " head. */
static int probe(int argc, const char **argv, cnn_train_config *cfg, char *msg, size_t size)
{
    msg[0] = 0;
    fflush(stderr);
    FILE *tmp = tmpfile();
    int saved = dup(2);
    if (tmp && saved >= 0)
        dup2(fileno(tmp), 2);
    int r = cnn_cli_train_config("study", argc, (char **)argv, cfg);
    fflush(stderr);
    if (tmp && saved >= 0) {
        dup2(saved, 2);
        close(saved);
        rewind(tmp);
        char line[1024] = "";
        if (fgets(line, sizeof line, tmp)) {
            line[strcspn(line, "\n")] = 0;
            const char *p = strncmp(line, "cnnlab study: ", 14) == 0 ? line + 14 : line;
            char *see = strstr(line, " (see `cnnlab study --help`)");
            if (see)
                *see = 0;
            snprintf(msg, size, "%s", p);
        }
    }
    if (tmp)
        fclose(tmp);
    return r;
}

typedef struct study_args {
    const char *out, *data, *control_from;
    const char *presets[CNN_STUDY_MAX_FACTORS], *varies[CNN_STUDY_MAX_FACTORS];
    int npresets, nvaries, grid, repeats, jobs, threads;
    uint64_t seed;
    const char *base[CNN_STUDY_MAX_ARGS];
    int nbase;
} study_args;

static int bad(const char *fmt, const char *a, const char *b)
{
    fprintf(stderr, "cnnlab study: ");
    fprintf(stderr, fmt, a, b);
    fprintf(stderr, "\n");
    return CLI_EXIT_USAGE;
}

static int parse_int(const char *flag, const char *v, long lo, long hi, long *out)
{
    char *end;
    long x = strtol(v, &end, 10);
    if (!*v || *end || x < lo || x > hi) {
        fprintf(stderr, "cnnlab study: %s: expected an integer from %ld to %ld, found '%s'\n", flag,
                lo, hi, v);
        return CLI_EXIT_USAGE;
    }
    *out = x;
    return -1;
}

/* Splits argv into the study's own flags and the base train flags. */
static int parse_args(int argc, char **argv, study_args *a)
{
    memset(a, 0, sizeof *a);
    a->repeats = 1;
    a->jobs = 1;
    a->seed = 1;
    a->threads = omp_get_num_procs();
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            usage(stdout);
            return CLI_EXIT_OK;
        }
        static const char *own[] = {"--out", "--preset", "--vary", "--repeats", "--jobs", "--seed",
                                    "--threads", "--data", "--grid", "--control-from", NULL};
        const char *name = NULL, *value = NULL;
        for (int k = 0; own[k]; k++) {
            size_t n = strlen(own[k]);
            if (strncmp(arg, own[k], n) == 0 && (arg[n] == 0 || arg[n] == '=')) {
                name = own[k];
                value = arg[n] == '=' ? arg + n + 1 : NULL;
            }
        }
        if (!name) {
            if (a->nbase >= CNN_STUDY_MAX_ARGS)
                return bad("too many train flags (at most %d)%s", "96", "");
            a->base[a->nbase++] = arg;
            continue;
        }
        if (strcmp(name, "--grid") == 0) {
            if (value)
                return bad("--grid takes no value, found '%s'%s", value, "");
            a->grid = 1;
            continue;
        }
        if (!value) {
            if (i + 1 >= argc)
                return bad("%s: expected a value after it, found the end of the line%s", name, "");
            value = argv[++i];
        }
        long x;
        int r = -1;
        if (strcmp(name, "--out") == 0) {
            a->out = value;
        } else if (strcmp(name, "--data") == 0) {
            a->data = value;
        } else if (strcmp(name, "--control-from") == 0) {
            a->control_from = value;
        } else if (strcmp(name, "--preset") == 0 || strcmp(name, "--vary") == 0) {
            if (a->npresets + a->nvaries >= CNN_STUDY_MAX_FACTORS)
                return bad("%s: at most 8 presets and --vary flags in all%s", name, "");
            if (name[2] == 'p')
                a->presets[a->npresets++] = value;
            else
                a->varies[a->nvaries++] = value;
        } else if (strcmp(name, "--repeats") == 0) {
            if ((r = parse_int(name, value, 1, 100, &x)) < 0)
                a->repeats = (int)x;
        } else if (strcmp(name, "--jobs") == 0) {
            if ((r = parse_int(name, value, 1, 64, &x)) < 0)
                a->jobs = (int)x;
        } else if (strcmp(name, "--threads") == 0) {
            if ((r = parse_int(name, value, 1, 1024, &x)) < 0)
                a->threads = (int)x;
        } else if (strcmp(name, "--seed") == 0) {
            char *end;
            unsigned long long s = strtoull(value, &end, 10);
            if (!*value || *end || *value == '-')
                return bad("--seed: expected a non-negative integer, found '%s'%s", value, "");
            a->seed = s;
        }
        if (r >= 0)
            return r;
    }
    if (!a->out)
        return bad("--out: expected the study folder (--out STUDY_DIR), found none (see `cnnlab "
                   "study --help`)%s%s", "", "");
    return -1;
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

/* Checks a factor's flag against train: known? takes a value? */
static int check_flag(cnn_study_factor *f)
{
    const char *why = reserved(f->flag);
    if (why) {
        fprintf(stderr, "cnnlab study: --vary %s: a study cannot vary --%s: %s; nothing was run\n",
                f->flag, f->flag, why);
        return CLI_EXIT_USAGE;
    }
    char flag[64], msg[1024];
    snprintf(flag, sizeof flag, "--%s", f->flag);
    const char *argv[] = {"study", flag};
    cnn_train_config cfg;
    int r = probe(2, argv, &cfg, msg, sizeof msg);
    if (r < 0) { /* accepted alone: a flag without a value */
        f->is_bool = 1;
        for (int v = 0; v < f->count; v++)
            if (strcmp(f->values[v], "on") != 0 && strcmp(f->values[v], "off") != 0) {
                fprintf(stderr, "cnnlab study: --vary %s: --%s takes no value, so its values are "
                        "on and off, found '%s'; nothing was run\n", f->flag, f->flag,
                        f->values[v]);
                return CLI_EXIT_USAGE;
            }
        return -1;
    }
    if (strstr(msg, "unknown flag")) {
        fprintf(stderr, "cnnlab study: --vary %s: `cnnlab train` has no flag --%s (see `cnnlab "
                "train --help`); nothing was run\n", f->flag, f->flag);
        return CLI_EXIT_USAGE;
    }
    return -1;
}

typedef struct checked {
    cnn_study_spec *spec;
    const study_args *a;
    char control[65536];
} checked;

/* Checks one configuration with train's parser; settings receives its
 * canonical text (may be NULL). what names it in messages. */
static int check_config(const checked *c, const int *value, const char *what, char *settings,
                        size_t size)
{
    const char *argv[CNN_STUDY_MAX_ARGS + 2 * CNN_STUDY_MAX_FACTORS + 4];
    char scratch[2 * CNN_STUDY_MAX_FACTORS][CNN_STUDY_ARG_LEN];
    int n = 0;
    argv[n++] = "study";
    n += cnn_study_config_args(c->spec, value, argv + n, scratch);
    cnn_train_config cfg;
    char msg[1024];
    if (probe(n, argv, &cfg, msg, sizeof msg) >= 0) {
        fprintf(stderr, "cnnlab study: %s: %s; nothing was run\n", what, msg);
        return CLI_EXIT_USAGE;
    }
    if (!(cfg.val_fraction > 0)) {
        fprintf(stderr, "cnnlab study: %s: --val-fraction 0 leaves no validation data to compare "
                "the runs on; nothing was run\n", what);
        return CLI_EXIT_USAGE;
    }
    /* What train checks only once it runs: the optimizer and the schedule. */
    cnn_error err = {0};
    cnn_optim opt;
    cnn_sched sched;
    cnn_sched_config sc = cfg.sched;
    sc.base_lr = cfg.optim.lr;
    sc.epochs = cfg.epochs;
    sc.steps_per_epoch = 1;
    if (cnn_optim_init(&opt, &cfg.optim, 1, &err) == CNN_STATUS_OK)
        cnn_optim_free(&opt);
    if (err.status == CNN_STATUS_OK)
        cnn_sched_init(&sched, &sc, &err);
    if (err.status) {
        fprintf(stderr, "cnnlab study: %s: %s; nothing was run\n", what, err.msg);
        return CLI_EXIT_USAGE;
    }
    if (settings && cnn_study_settings_text(&cfg, settings, size, &err)) {
        fprintf(stderr, "cnnlab study: %s: %s; nothing was run\n", what, err.msg);
        return CLI_EXIT_USAGE;
    }
    return -1;
}

/* Builds and checks the whole study: factors, every configuration, which
 * varied values are the control's own. */
static int build_spec(const study_args *a, cnn_study_spec *spec, char *control, size_t size)
{
    memset(spec, 0, sizeof *spec);
    spec->grid = a->grid;
    spec->repeats = a->repeats;
    spec->seed = a->seed;
    cnn_error err = {0};
    if (cnn_study_normalise_args(a->nbase, a->base, spec, &err)) {
        fprintf(stderr, "cnnlab study: %s\n", err.msg);
        return CLI_EXIT_USAGE;
    }
    checked *c = malloc(sizeof *c);
    if (!c)
        return CLI_EXIT_FAILURE;
    c->spec = spec;
    c->a = a;
    int none[CNN_STUDY_MAX_FACTORS];
    for (int f = 0; f < CNN_STUDY_MAX_FACTORS; f++)
        none[f] = -1;
    int r = check_config(c, none, "base flags", c->control, sizeof c->control);
    /* The base's model decides what depth means. */
    const char *model = "lenet5";
    for (int i = 0; i + 1 < spec->base_count; i++)
        if (strcmp(spec->base[i], "--model") == 0)
            model = spec->base[i + 1];
    for (int i = 0; r < 0 && i < a->npresets; i++) {
        cnn_study_factor *f = &spec->factors[spec->factor_count];
        if (cnn_study_preset_factor(a->presets[i], model, f, &err)) {
            fprintf(stderr, "cnnlab study: %s; nothing was run\n", err.msg);
            r = CLI_EXIT_USAGE;
            break;
        }
        spec->factor_count++;
        size_t used = strlen(spec->preset);
        snprintf(spec->preset + used, sizeof spec->preset - used, "%s%s", used ? ", " : "",
                 a->presets[i]);
    }
    for (int i = 0; r < 0 && i < a->nvaries; i++) {
        if (cnn_study_factor_parse(a->varies[i], &spec->factors[spec->factor_count], &err)) {
            fprintf(stderr, "cnnlab study: %s; nothing was run\n", err.msg);
            r = CLI_EXIT_USAGE;
            break;
        }
        spec->factor_count++;
    }
    for (int f = 0; r < 0 && f < spec->factor_count; f++) {
        for (int g = 0; g < f; g++)
            if (strcmp(spec->factors[f].flag, spec->factors[g].flag) == 0) {
                fprintf(stderr, "cnnlab study: --vary %s is given twice (a preset counts); "
                        "nothing was run\n", spec->factors[f].flag);
                r = CLI_EXIT_USAGE;
            }
        if (r < 0)
            r = check_flag(&spec->factors[f]);
    }
    if (r < 0 && spec->grid && spec->factor_count == 0) {
        fprintf(stderr, "cnnlab study: --grid: expected at least one --vary or --preset, found "
                "none\n");
        r = CLI_EXIT_USAGE;
    }
    /* A grid's size is known before any configuration is built: a product
     * of thousands of runs is refused at once, not after checking them all. */
    int planned;
    if (r < 0 && spec->grid && cnn_study_count(spec, CNN_STUDY_MAX_RUNS, &planned, &err)) {
        fprintf(stderr, "cnnlab study: %s; nothing was run\n", err.msg);
        r = CLI_EXIT_USAGE;
    }
    /* Every configuration the study will run, checked before the first runs. */
    char *settings = malloc(65536);
    if (r < 0 && !spec->grid) {
        for (int f = 0; r < 0 && f < spec->factor_count; f++) {
            cnn_study_factor *fa = &spec->factors[f];
            for (int v = 0; r < 0 && v < fa->count; v++) {
                int value[CNN_STUDY_MAX_FACTORS];
                memcpy(value, none, sizeof value);
                value[f] = v;
                char what[256];
                snprintf(what, sizeof what, "--vary %s=%s", fa->flag, fa->values[v]);
                r = check_config(c, value, what, settings, 65536);
                fa->is_control[v] = r < 0 && strcmp(settings, c->control) == 0;
            }
        }
    } else if (r < 0) {
        int value[CNN_STUDY_MAX_FACTORS] = {0};
        for (long k = 0; r < 0; k++) {
            char what[512] = "--grid";
            for (int f = 0; f < spec->factor_count; f++) {
                size_t used = strlen(what);
                snprintf(what + used, sizeof what - used, " %s=%s", spec->factors[f].flag,
                         spec->factors[f].values[value[f]]);
            }
            r = check_config(c, value, what, NULL, 0);
            int f = spec->factor_count - 1;
            while (f >= 0 && ++value[f] == spec->factors[f].count)
                value[f--] = 0;
            if (f < 0)
                break;
        }
    }
    free(settings);
    snprintf(control, size, "%s", c->control);
    free(c);
    return r;
}

/* ---- progress ---- */

typedef struct progress {
    const char *dir;
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
        printf("run %d/%d: %s%s: %s\n", index + 1, total, r->label, seed, state);
        p->remaining--;
    } else {
        char el[32], left[64] = "";
        clock_text(cnn_now() - p->t0, el, sizeof el);
        if (p->trained > 0) {
            char t[32];
            clock_text(p->run_seconds / p->trained * p->remaining / p->jobs, t, sizeof t);
            snprintf(left, sizeof left, ", about %s left", t);
        }
        printf("run %d/%d: %s%s%s (elapsed %s%s)\n", index + 1, total, r->label, seed,
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
    if (p->jobs > 1)
        printf("  [%d/%d %s] %s\n", index + 1, total, r->label, line);
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
        printf("run %d/%d: %s: %s, best validation accuracy %.2f%% at epoch %d (%.0f s)\n",
               index + 1, total, r->label, res.status, 100 * res.best_val_acc, res.best_epoch,
               res.seconds);
    else if (o == CNN_STUDY_RUN_DIVERGED)
        printf("run %d/%d: %s: diverged, recorded as such and not retried: %s\n", index + 1, total,
               r->label, detail);
    else
        printf("run %d/%d: %s: FAILED: %s\n", index + 1, total, r->label, detail);
    fflush(stdout);
}

/* Prints the report's "What the data shows" lines. */
static void print_findings(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/report.md", dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char line[4096];
    int in = 0;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "## ", 3) == 0)
            in = strncmp(line, "## What the data shows", 22) == 0;
        else if (in && strncmp(line, "- ", 2) == 0)
            printf("  %s", line);
    }
    fclose(f);
}

int cnn_cmd_study(int argc, char **argv)
{
    study_args a;
    int r = parse_args(argc, argv, &a);
    if (r >= 0)
        return r;
    cnn_study_spec *spec = malloc(sizeof *spec);
    cnn_study_run *runs = malloc(sizeof *runs * CNN_STUDY_MAX_RUNS);
    char *control = malloc(65536); /* the base's settings as train resolves them */
    if (!spec || !runs || !control) {
        free(spec);
        free(runs);
        free(control);
        fprintf(stderr, "cnnlab study: out of memory\n");
        return CLI_EXIT_FAILURE;
    }
    cnn_error err = {0};
    int n = 0;
    cnn_status st = CNN_STATUS_OK;
    int lock = -1; /* the study folder's (cnn_dir_lock) */
    if ((r = build_spec(&a, spec, control, 65536)) >= 0)
        goto done;
    if ((st = cnn_study_plan(spec, runs, CNN_STUDY_MAX_RUNS, &n, &err)))
        goto done;
    const char *exe = "/proc/self/exe"; /* this binary, even if rebuilt meanwhile */
    if (access(exe, X_OK) != 0) {
        st = cnn_error_set(&err, CNN_STATUS_IO, "cannot run the cnnlab binary itself (%s)", exe);
        goto done;
    }

    /* What will run, in words anyone can check. */
    int configs = cnn_study_config_count(runs, n);
    printf("study %s: %s of %d configuration%s, %d run%s\n", a.out,
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
    int threads = a.threads / a.jobs > 0 ? a.threads / a.jobs : 1;
    printf("  %d run%s at a time, %d thread%s each\n", a.jobs, a.jobs == 1 ? "" : "s", threads,
           threads == 1 ? "" : "s");
    fflush(stdout);

    /* The data once, here: missing data stops the study before any run, and
     * runs started together never download it at the same time. */
    char data_dir[4096];
    if ((st = cnn_cifar_locate(a.data, 1, data_dir, sizeof data_dir, &err)))
        goto done;
    /* One study per folder: a second one on it is refused, naming the first. */
    if ((st = cnn_mkdir_p(a.out, &err)) ||
        (st = cnn_dir_lock(a.out, "--out: study folder", &lock, &err)))
        goto done;
    cnn_file_remove_temps(a.out); /* a killed study's unfinished writes */
    if ((st = cnn_study_open(a.out, spec, control, &err)))
        goto done;
    const char *extra[2] = {"--data", a.data};
    cnn_study_exec x = {exe, a.out, extra, a.data ? 2 : 0, a.jobs, threads, a.control_from};
    progress p = {a.out, a.jobs, cnn_now(), 0, 0, n};
    cnn_study_hooks hooks = {on_start, on_line, on_end, &p};
    cnn_error run_err = {0};
    cnn_status run_st = cnn_study_run_all(spec, runs, n, &x, &hooks, &run_err);
    /* The summary and report cover whatever finished, even after a failure. */
    char note[1024] = "";
    if ((st = cnn_study_write_outputs(a.out, spec, runs, n, note, sizeof note, &err)))
        goto done;
    char el[32];
    clock_text(cnn_now() - p.t0, el, sizeof el);
    printf("study %s: %s in %s\n", a.out, run_st ? "stopped" : "done", el);
    print_findings(a.out);
    printf("  %s\n  summary: %s/summary.csv\n  report:  %s/report.md\n", note, a.out, a.out);
    if (run_st) {
        st = run_st;
        err = run_err;
    } else {
        printf("next: cnnlab select %s [--retrain] tests the best configuration once\n", a.out);
    }
done:
    cnn_dir_unlock(lock);
    free(spec);
    free(runs);
    free(control);
    if (r >= 0)
        return r;
    return st ? cnn_cli_report("study", &err) : CLI_EXIT_OK;
}
