/* study.h: families of training runs compared on validation data.
 *
 * A study is a base configuration (the flags of `cnnlab train`) and factors:
 * train flags with the values to try. An ablation (the default) runs the base
 * as the control and then one run per varied value, one change at a time; a
 * grid runs the full product. Each configuration runs `repeats` times, with
 * seeds seed, seed+1, ...; results are compared on the validation split only.
 *
 * The study folder:
 *   study.txt     what the study is (written atomically before any run starts);
 *                 a second `cnnlab study` with the same folder continues it
 *   settings.txt  the base configuration as train resolves it (defaults included),
 *                 so that a changed default cannot mix into a continued study
 *   runs/ID/      one run folder per run, as `cnnlab train` writes it, plus
 *                 train.log (everything the training printed)
 *   summary.csv   one row per run (cnn_study_write_outputs)
 *   report.md     the question, the table, the plots, one sentence per factor
 *   plots/        per factor: validation loss and accuracy overlaid (PNG, SVG)
 *   select.txt    written by `cnnlab select`: the chosen run, the test result
 *                 and how many times the test set was used
 *   combine.txt   written by `cnnlab select --combine`: the combination of each
 *                 factor's best value; its runs are runs/combined (_sN per seed)
 *
 * The pieces, one job per file: spec.c (presets, --vary lists, the list of
 * runs, study.txt, configuration diffs), runner.c (running the runs as
 * separate processes, resuming), results.c (one run folder read back, the
 * sentences), summary.c (the study read back, summary.csv, the best
 * configuration), report.c (report.md) and combine.c (each factor's winner,
 * their combination and whether the gains added up). The library prints
 * nothing: progress arrives through cnn_study_hooks.
 */
#ifndef CNNLAB_STUDY_H
#define CNNLAB_STUDY_H

#include <stddef.h>
#include <stdint.h>

#include "cnnlab/status.h"
#include "cnnlab/train.h"

#define CNN_STUDY_MAX_FACTORS 8
#define CNN_STUDY_MAX_VALUES 32
#define CNN_STUDY_MAX_ARGS 96
#define CNN_STUDY_MAX_RUNS 2048
#define CNN_STUDY_ARG_LEN 256
#define CNN_STUDY_ID_LEN 160
#define CNN_STUDY_COMBINED (-2) /* cnn_study_run.factor of a combination's runs */

/* One varied train flag and its values, e.g. dropout = 0, 0.1, 0.3. Values are
 * kept as written. List-valued flags (--augment, --milestones) write their
 * items joined by '+' ("crop+flip"), since ',' separates the values. */
typedef struct cnn_study_factor {
    char flag[48]; /* without the dashes: "dropout" */
    char name[48]; /* what reports call it: the preset's name ("lr-decay"), or "" (the flag) */
    int count;
    char values[CNN_STUDY_MAX_VALUES][64];
    /* value v's configuration is the control's (an ablation runs it once, as
     * the control); set by whoever validates the study (the command line). */
    int is_control[CNN_STUDY_MAX_VALUES];
    int is_bool; /* the flag takes no value: values are on/off */
} cnn_study_factor;

typedef struct cnn_study_spec {
    int base_count; /* the base train flags, normalised (cnn_study_normalise_args) */
    char base[CNN_STUDY_MAX_ARGS][CNN_STUDY_ARG_LEN];
    int factor_count;
    cnn_study_factor factors[CNN_STUDY_MAX_FACTORS];
    int grid;     /* 0: ablation, 1: full product */
    int repeats;  /* seeds per configuration, >= 1 */
    uint64_t seed; /* the first seed */
    char preset[128]; /* the presets the factors came from ("dropout"), for the report */
} cnn_study_spec;

/* One run of a study. value[f] indexes factors[f].values, or -1 where the
 * run keeps the base setting of factor f. */
typedef struct cnn_study_run {
    char id[CNN_STUDY_ID_LEN]; /* folder name under runs/: "control", "dropout=0.3", "..._s2" */
    char label[CNN_STUDY_ID_LEN]; /* "dropout=0.3", "control", "dropout=0 (control)" */
    int config;   /* configuration index; repeats of one configuration share it */
    int factor;   /* ablation: the factor this run varies, -1 for the control; grid: -1;
                   * the combination of winners (combine.c): CNN_STUDY_COMBINED */
    int value[CNN_STUDY_MAX_FACTORS];
    int repeat;   /* 0 .. repeats-1 */
    uint64_t seed;
} cnn_study_run;

/* ---- spec.c: presets, factors, the list of runs ---- */

typedef struct cnn_study_preset {
    const char *name;   /* "dropout" */
    const char *flag;   /* "dropout"; "model" for depth */
    const char *values; /* "0,0.1,0.2,0.3,0.5"; NULL for depth (chosen by the model) */
    const char *about;
} cnn_study_preset;

/* The presets, NULL-name terminated. */
const cnn_study_preset *cnn_study_presets(void);
/* The factor of preset name for a base model (depth depends on the model's
 * family: vgg11/13/16/19, resnet20/32/44/56 or LeNet-5 with 2 vs 3 fully
 * connected layers). Errors name the preset, or the family and the models it
 * lacks. */
cnn_status cnn_study_preset_factor(const char *name, const char *model, cnn_study_factor *out,
                                   cnn_error *err);
/* Parses "FLAG=v1,v2,..." (FLAG with or without leading dashes). */
cnn_status cnn_study_factor_parse(const char *text, cnn_study_factor *out, cnn_error *err);
/* "dropout=0,0.1,0.3" into buf. */
void cnn_study_factor_format(const cnn_study_factor *f, char *buf, size_t size);

/* Train flags in a canonical order: "--x=v" becomes "--x v", and each flag
 * with its value (the next argument unless that starts with "--") is sorted
 * by flag name, keeping the order of repeated flags. */
cnn_status cnn_study_normalise_args(int argc, const char *const *argv, cnn_study_spec *spec,
                                    cnn_error *err);

/* The runs of a study, in order: an ablation's control first, then each
 * factor's values (values marked is_control are not run again: the control
 * stands for them); a grid's product with the first factor varying slowest.
 * Each configuration is repeated spec->repeats times. runs has room for max. */
cnn_status cnn_study_plan(const cnn_study_spec *spec, cnn_study_run *runs, int max, int *count,
                          cnn_error *err);
/* The number of runs cnn_study_plan makes, counted without making them (a
 * grid's product with an overflow check): refused when more than max. */
cnn_status cnn_study_count(const cnn_study_spec *spec, int max, int *count, cnn_error *err);
/* Number of distinct configurations in runs[0..n). */
int cnn_study_config_count(const cnn_study_run *runs, int n);

/* The train arguments of a configuration: the base flags, with the factors a
 * run varies replacing any base setting of the same flag. Strings point into
 * spec, or are "--FLAG" copies in scratch (room for CNN_STUDY_MAX_FACTORS *
 * 2 strings of CNN_STUDY_ARG_LEN). Returns the count written to argv (room for
 * CNN_STUDY_MAX_ARGS + 2 * CNN_STUDY_MAX_FACTORS). */
int cnn_study_config_args(const cnn_study_spec *spec, const int *value, const char **argv,
                          char (*scratch)[CNN_STUDY_ARG_LEN]);

/* study.txt: the spec as text, and back. Only base, vary, grid, repeats and
 * seed make a study's identity; the rest is information. */
void cnn_study_spec_format(const cnn_study_spec *spec, char *buf, size_t size);
cnn_status cnn_study_spec_parse(const char *text, cnn_study_spec *spec, cnn_error *err);
/* 1 if a and b are the same study. When not, describe (may be NULL) receives
 * what differs, naming both sides. */
int cnn_study_spec_same(const cnn_study_spec *a, const cnn_study_spec *b, char *describe,
                        size_t size);

/* A training configuration as canonical text: every setting that changes what
 * is trained (not the seed, threads, data folder or run folder), with the
 * model's layers as its options resolve them (so --dropout 0 and a model
 * without dropout agree). Two configurations with equal text train the same
 * network the same way. Fails only if the model cannot be built. */
cnn_status cnn_study_settings_text(const cnn_train_config *c, char *buf, size_t size,
                                   cnn_error *err);

/* What differs between two settings texts, word by word: "lr 0.05 -> 0.01;
 * ..." (at most a few items; empty when equal). */
void cnn_study_settings_diff(const char *was, const char *now, char *out, size_t size);

/* The settings of run folder config.txt text `run` that differ from
 * `control`'s, as "key=value key=value" (keys that describe the machine or
 * the seed are ignored: seed, threads, data, norm_mean, norm_std,
 * train_images, val_images). Empty when they agree. */
void cnn_study_config_diff(const char *control, const char *run, char *out, size_t size);

/* ---- runner.c: running the runs ---- */

typedef enum cnn_study_outcome {
    CNN_STUDY_RUN_FINISHED = 0, /* status.txt: finished or stopped early */
    CNN_STUDY_RUN_DIVERGED,     /* status diverged, or train exited with status 3 */
    CNN_STUDY_RUN_FAILED,       /* any other ending: bad input, crash, killed */
    CNN_STUDY_RUN_MISSING       /* not run (yet) */
} cnn_study_outcome;

typedef struct cnn_study_exec {
    const char *exe;   /* the cnnlab binary: runs are `exe train ARGS` ("/proc/self/exe":
                        * this very binary, even if the file was rebuilt since) */
    const char *dir;   /* the study folder */
    const char *const *extra; /* arguments given to every run but not part of the study */
    int extra_count;   /* (--data DIR) */
    int jobs;          /* runs at once, >= 1 */
    int threads;       /* --threads of each run, >= 1 */
    /* NULL, or another study folder with the same base, seed and repeats whose
     * finished control runs are copied instead of trained again (the lab's
     * studies share one control). */
    const char *control_from;
    /* Several processes sharing the study's runs (src/study/claim.c; NULL:
     * this process runs them all): before it starts a run, the runner asks
     * claim for the next run that is this process's, *index from `from` to
     * n - 1, or n when none is left for it. tick, when not NULL, is called
     * at least every 50 ms while runs are under way. */
    cnn_status (*claim)(void *user, int from, int *index, cnn_error *err);
    void (*tick)(void *user);
    void *share;       /* their user */
} cnn_study_exec;

typedef struct cnn_study_hooks {
    /* A run starts (state "running"), or is kept from before (state
     * "finished earlier", "diverged earlier"). index is 0-based. */
    void (*on_start)(void *user, int index, int total, const cnn_study_run *r, const char *state);
    /* A line the training printed (every line goes to the run's train.log). */
    void (*on_line)(void *user, int index, int total, const cnn_study_run *r, const char *line);
    /* A run ended; detail says how (exit status, the log to read). */
    void (*on_end)(void *user, int index, int total, const cnn_study_run *r,
                   cnn_study_outcome outcome, const char *detail);
    void *user;
} cnn_study_hooks;

/* Creates the study folder and writes study.txt, or checks that the folder
 * holds this same study (refusing another study, naming both, or a folder
 * that is not a study). control_settings (cnn_study_settings_text of the base
 * configuration; NULL: not checked) is kept in settings.txt: continuing a
 * study whose base now trains differently (train's defaults changed since it
 * started) is refused, naming what changed. */
cnn_status cnn_study_open(const char *dir, const cnn_study_spec *spec, const char *control_settings,
                          cnn_error *err);
/* Reads dir/study.txt. */
cnn_status cnn_study_load(const char *dir, cnn_study_spec *spec, cnn_error *err);

/* How a run folder ended: finished (or stopped early), diverged, or missing
 * (no folder, or no final status). */
cnn_study_outcome cnn_study_run_state(const char *run_dir);

/* Runs every run that has not ended yet, exec->jobs at a time, each as a
 * separate process with its output in runs/ID/train.log. Finished and
 * diverged runs are kept; a run folder without a final status (a killed run)
 * resumes after its last finished epoch (`cnnlab train --resume`) when it
 * has a resume.state, and is otherwise removed and run again from scratch.
 * A failed run stops the study (the
 * runs under way finish first): the error names the run and its log. */
cnn_status cnn_study_run_all(const cnn_study_spec *spec, const cnn_study_run *runs, int n,
                             const cnn_study_exec *exec, const cnn_study_hooks *hooks,
                             cnn_error *err);

/* ---- claim.c: several processes sharing one study's runs ----
 * (docs/distributed.md). Workers (`study --worker`, Slurm array tasks) claim
 * a run by creating runs/ID.claim exclusively; MPI ranks ask rank 0, which
 * hands the runs out in order. Either way the runner gets the run through
 * cnn_study_exec.claim, with a cnn_study_share as its user. */
typedef struct cnn_study_share {
    const char *dir;            /* the study folder */
    const cnn_study_run *runs;
    int n;
    const char *who;            /* workers: the claimer's name in its claims ("worker") */
    int max_claims;             /* workers: runs to claim at most (0: no limit) */
    int claims;                 /* workers: claimed so far */
    int next, ended, failed;    /* MPI, rank 0: the next run to hand out, ranks that
                                 * ended, a failure stopped the hand-out */
    cnn_error failure;          /* MPI, rank 0: the first failure of any rank */
} cnn_study_share;

/* A worker's claim (cnn_study_exec.claim): the next run from `from` on that
 * has not ended and that this call could claim, or n. */
cnn_status cnn_study_claim_file(void *share, int from, int *index, cnn_error *err);
/* Removes every claim of dir's runs (what workers that ended or died left);
 * only for the process that holds the study folder's lock alone. Returns
 * how many. */
int cnn_study_claims_clear(const char *dir);
/* An MPI rank's claim: rank 0 hands out the next run in order (or n once
 * none is left or a rank failed); the others ask it. */
cnn_status cnn_study_claim_rank(void *share, int from, int *index, cnn_error *err);
/* Rank 0's tick: answers the requests waiting. */
void cnn_study_serve(void *share);
/* A rank's runs have ended with st (err): it tells rank 0; rank 0 serves
 * until every rank has ended and returns the first failure of any rank
 * (naming it), else OK. Other ranks return OK. */
cnn_status cnn_study_share_end(cnn_study_share *s, cnn_status st, cnn_error *err);
/* Under MPI, checks that every rank sees study folder dir (rank 0 writes a
 * file there that each rank reads back); refuses, naming the rank, when one
 * does not. Collective; OK at once in a world of one. */
cnn_status cnn_study_check_shared(const char *dir, cnn_error *err);

/* Copies the regular files of run folder from into a new folder to. */
cnn_status cnn_study_copy_run(const char *from, const char *to, cnn_error *err);

/* Removes a directory tree (a run folder that never finished). */
cnn_status cnn_study_remove_tree(const char *path, cnn_error *err);

/* ---- summary.c: results, summary.csv, report.md ---- */

typedef struct cnn_study_result {
    cnn_study_outcome outcome;
    char status[32];     /* "finished", "stopped early", "diverged", "failed", "not run" */
    int epochs;          /* rows in metrics.csv */
    int best_epoch;      /* epoch of the best validation accuracy (0 if none) */
    double best_val_acc; /* NAN when no epoch finished */
    double final_train_loss, final_train_acc, final_val_loss, final_val_acc;
    double seconds, images_per_second;
    char diff[512];      /* settings that differ from the control's config.txt */
} cnn_study_result;

/* Reads run_dir's metrics.csv and status.txt; diff against control_config
 * (config.txt text of the control run; NULL: none). */
void cnn_study_read_result(const char *run_dir, const char *control_config, cnn_study_result *out);

/* Mean and sample standard deviation (n - 1; 0 when n < 2) of the finite
 * values of x[0..n); returns how many were finite. */
int cnn_study_mean_std(const double *x, int n, double *mean, double *std);

/* One level of a factor, as the sentence compares them. */
typedef struct cnn_study_level {
    const char *label;  /* "0.3", "batch" */
    double mean, std;   /* best validation accuracy over the seeds, in [0, 1]; NAN: diverged */
    int n;              /* seeds with a result */
    int is_reference;   /* the control (ablation) or the first value (grid) */
} cnn_study_level;

/* One sentence stating what the data shows for a factor: which level won and
 * by how many points against the reference, and, with repeats, whether the
 * difference exceeds the seed-to-seed spread (the larger standard deviation). */
void cnn_study_sentence(const char *factor, const cnn_study_level *levels, int count, int repeats,
                        char *out, size_t size);

/* Reads every run's results; writes summary.csv and report.md (and the plots
 * when gnuplot is there: plots_note receives a line saying what happened to
 * them, e.g. that they were skipped and how to get them; may be NULL). */
cnn_status cnn_study_write_outputs(const char *dir, const cnn_study_spec *spec,
                                   const cnn_study_run *runs, int n, char *plots_note,
                                   size_t note_size, cnn_error *err);

/* The best configuration on validation: the highest mean best validation
 * accuracy over its seeds (ties: the earlier). *run receives the index of its
 * first finished run. Errors when no run finished. */
cnn_status cnn_study_best(const char *dir, const cnn_study_run *runs, int n, int *run,
                          double *mean, double *std, cnn_error *err);

/* ---- combine.c: combining what did well ---- */

/* After one-factor-at-a-time studies (ablations sharing one base, seed and
 * repeats), each factor's best value is the one with the highest mean best
 * validation accuracy over its seeds; it is kept if that mean beats the
 * control's, else the factor keeps the control's setting. The combination of
 * the kept values is trained with the studies' seeds, on validation only. */
typedef struct cnn_study_combination {
    cnn_study_spec spec; /* the first study's base, seed and repeats; every study's factors */
    int value[CNN_STUDY_MAX_FACTORS]; /* the combination: a factor's kept value, or -1 */
    int best[CNN_STUDY_MAX_FACTORS];  /* each factor's best value, -1: none has a result */
    double best_mean[CNN_STUDY_MAX_FACTORS], best_std[CNN_STUDY_MAX_FACTORS];
    int best_n[CNN_STUDY_MAX_FACTORS];
    double control_mean, control_std; /* the (first study's) control */
    int control_n;
    int winners; /* factors whose best value beat the control */
    char label[CNN_STUDY_ID_LEN]; /* "dropout=0.3 norm=batch"; "" when no factor won */
    char studies[1024];           /* the study folders, space-separated */
} cnn_study_combination;

/* Reads the studies' run folders and chooses. Errors: no study, a grid (it
 * trained every combination already), studies that differ in base, seed or
 * repeats, a flag varied by two studies, more than CNN_STUDY_MAX_FACTORS
 * factors, a run that has not ended yet (its study is not finished) or a
 * control without a result. */
cnn_status cnn_study_combine_choose(const char *const *dirs, int count, cnn_study_combination *out,
                                    cnn_error *err);

/* The combination's runs: one per seed of the studies, ids "combined" (one
 * seed) or "combined_sN", factor CNN_STUDY_COMBINED. Fewer than two winners:
 * none (the combination is the control or the one winner, trained already).
 * Returns the count (at most max). */
int cnn_study_combine_plan(const cnn_study_combination *c, cnn_study_run *runs, int max);

/* Writes dir/combine.txt (what was combined), or checks that an existing one
 * names the same combination (refusing otherwise, naming both: the runs
 * under dir/runs/combined* belong to it). */
cnn_status cnn_study_combine_record(const char *dir, const cnn_study_combination *c,
                                    cnn_error *err);

/* One sentence on whether single gains over the control added up in their
 * combination: combo against the control, the winners singles[0..count) (the
 * levels that beat the control) and their summed gains. With repeats > 1 the
 * seed-to-seed spread (the largest std) is the tolerance of "close to". */
void cnn_study_combine_sentence(const cnn_study_level *control, const cnn_study_level *singles,
                                int count, const cnn_study_level *combo, int repeats, char *out,
                                size_t size);

/* The report section "## Combining the winners": the control, each factor's
 * best value and the combination (mean ± std over seeds, gain over the
 * control), the sum of the single gains against the combination's gain, and
 * the sentence. The combination's runs are read from dir/runs/. */
void cnn_study_combine_section(const cnn_study_combination *c, const char *dir, char *out,
                               size_t size);

/* The combination's results: mean, std and count of its runs' best
 * validation accuracies (dir/runs/ID; NAN mean when none finished). */
void cnn_study_combine_result(const cnn_study_combination *c, const char *dir, double *mean,
                              double *std, int *n);

/* ---- index.c: every run below some folders (`cnnlab runs`) ---- */

typedef struct cnn_run_entry {
    char path[1024];  /* the run folder */
    int below;        /* path + below: the part below the folder it was found in */
    char study[1024]; /* the study folder (study.txt) it lies in, "" if none */
    char model[128], dataset[64], seed[32];
    cnn_study_result result; /* status, epochs, best validation accuracy, seconds */
    double test_acc;         /* test.json's accuracy, NAN if never tested */
    int test_uses;           /* how often `cnnlab test` ran on it (test.json's uses) */
    char *config;            /* config.txt's text (NULL if unreadable) */
    char flags[512];         /* after cnn_runs_differing: "key=value ..." */
} cnn_run_entry;

/* Every run folder (a folder with config.txt) below the dirs, in path order,
 * each with the study folder above it; free with cnn_runs_free. An error
 * names a dir that is not a folder. */
cnn_status cnn_runs_find(const char *const *dirs, int n_dirs, cnn_run_entry **out, int *count,
                         cnn_error *err);
/* Sets each run's flags: its values of the settings that are not the same
 * in all n runs (the machine's settings, the seed, the model and its
 * parameter count left out: they have their own columns). */
void cnn_runs_differing(cnn_run_entry *runs, int n);
void cnn_runs_free(cnn_run_entry *runs, int n);

#endif
