/* main.c: the cnnlab tool: one table of subcommands drives the usage text,
 * the dispatch and the unknown-command message. The command-line layer is
 * the only code that prints errors and chooses exit statuses (report.h). */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "cnnlab/cnnlab.h"
#include "commands.h"
#include "dist/dist.h"
#include "flags.h"
#include "report.h"

typedef struct cli_entry {
    const char *name;
    cnn_cli_run *run;
    const char *about;
} cli_entry;

static const cli_entry commands[] = {
    {"train", cnn_cmd_train, "train a model; writes a run folder (config, metrics.csv, weights)"},
    {"test", cnn_cmd_test, "evaluate a run's best weights on the test set, once"},
    {"predict", cnn_cmd_predict, "a run's top classes for image files (PNG, JPEG), by name"},
    {"bench", cnn_cmd_bench, "time training steps or inference on random data"},
    {"models", cnn_cmd_models, "list the built-in models"},
    {"recipes", cnn_cmd_recipes, "list the training recipes (named groups of train flags)"},
    {"summary", cnn_cmd_summary, "print a model's layers, shapes, parameters and MACs"},
    {"plot", cnn_cmd_plot, "draw runs' curves (loss, accuracy, learning rate) with gnuplot"},
    {"study", cnn_cmd_study, "a family of runs (one change at a time, or a grid) compared on validation"},
    {"select", cnn_cmd_select, "pick a study's best configuration, retrain it if asked, test it once"},
    {"runs", cnn_cmd_runs, "one table of every run below folders: results, test use, differing settings"},
    {"export", cnn_cmd_export, "write a run's model as safetensors (PyTorch) or ONNX"},
    {"import", cnn_cmd_import, "make a run folder from PyTorch weights (safetensors)"},
    {"lab", cnn_cmd_lab, "the course's lab in one go: five studies, the best tested once, one report"},
};
enum { COMMAND_COUNT = (int)(sizeof commands / sizeof commands[0]) };

static void usage(FILE *f)
{
    fprintf(f, "cnnlab %s: train and study convolutional networks on CIFAR-10\n\n"
               "usage: cnnlab COMMAND [options]\n\ncommands:\n", CNNLAB_VERSION);
    for (int i = 0; i < COMMAND_COUNT; i++)
        fprintf(f, "  %-7s %s\n", commands[i].name, commands[i].about);
    fprintf(f, "\n`cnnlab COMMAND --help` describes a command's options; `cnnlab --version`.\n");
}

/* Plans allocate their buffers once and free them at the end, but plan
 * creation also times convolution candidates on temporary buffers of tens of
 * MiB. glibc raises its mmap threshold to the size of each mmapped block freed
 * (up to 32 MiB), so after the first such free, blocks of that size come from
 * the heap, where freeing them seldom returns the pages, and the resident
 * peak grows (docs/performance.md gives the figures). A fixed threshold keeps
 * every large block mmapped and returned when freed. */
static void tune_malloc(void)
{
#ifdef __GLIBC__
    mallopt(M_MMAP_THRESHOLD, 256 * 1024);
#endif
}

/* Runs a command as this process's part of the world (docs/distributed.md):
 * alone, or as one rank of an MPI job. A failure that every rank knows of
 * (cnn_dist_agree) ends each rank normally; one that only this rank knows of
 * stops the others too (they may be waiting for this one), after its
 * message. */
static int run_command(const cli_entry *c, int argc, char **argv)
{
    cnn_error err = {0};
    if (cnn_dist_init(&err) != CNN_STATUS_OK)
        return cnn_cli_report(c->name, &err);
    err.status = c->run(argc, argv, &err);
    int code = cnn_cli_report(c->name, &err);
    if (code != CLI_EXIT_OK && cnn_dist_size() > 1 && !cnn_dist_agreed())
        cnn_dist_abort(code);
    cnn_dist_finalize();
    return code;
}

int main(int argc, char **argv)
{
    tune_malloc();
    /* A write past the file-size limit (ulimit -f) then fails with EFBIG,
     * which the atomic writer reports like a full disk, keeping the file it
     * was replacing, instead of killing cnnlab in the middle of the write. */
    signal(SIGXFSZ, SIG_IGN);
    if (argc < 2) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("cnnlab %s\n", CNNLAB_VERSION);
        return CLI_EXIT_OK;
    }
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return CLI_EXIT_OK;
    }
    for (int i = 0; i < COMMAND_COUNT; i++)
        if (strcmp(cmd, commands[i].name) == 0)
            return run_command(&commands[i], argc - 1, argv + 1);
    fprintf(stderr, "cnnlab: unknown command '%s'; expected ", cmd);
    for (int i = 0; i < COMMAND_COUNT; i++)
        fprintf(stderr, "%s%s", i == 0 ? "" : i + 1 < COMMAND_COUNT ? ", " : " or ",
                commands[i].name);
    fprintf(stderr, " (see `cnnlab --help`)\n");
    return CLI_EXIT_USAGE;
}
