/* main.c: the cnnlab tool: dispatches to a subcommand. The command-line layer is
 * the only code that prints errors and chooses exit statuses (see flags.h). */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "cnnlab/cnnlab.h"
#include "commands.h"
#include "flags.h"

static void usage(FILE *f)
{
    fprintf(f,
            "cnnlab %s: train and study convolutional networks on CIFAR-10\n\n"
            "usage: cnnlab COMMAND [options]\n\n"
            "commands:\n"
            "  train   train a model; writes a run folder (config, metrics.csv, weights)\n"
            "  test    evaluate a run's best weights on the test set, once\n"
            "  bench   time training steps or inference on random data\n"
            "  models  list the built-in models\n"
            "  recipes list the training recipes (named groups of train flags)\n"
            "  summary print a model's layers, shapes, parameters and MACs\n"
            "  plot    draw runs' curves (loss, accuracy, learning rate) with gnuplot\n"
            "  study   a family of runs (one change at a time, or a grid) compared on validation\n"
            "  select  pick a study's best configuration, retrain it if asked, test it once\n"
            "  lab     the course's lab in one go: five studies, the best tested once, one report\n\n"
            "`cnnlab COMMAND --help` describes a command's options; `cnnlab --version`.\n",
            CNNLAB_VERSION);
}

int cnn_cli_exit_for(cnn_status st)
{
    switch (st) {
    case CNN_STATUS_OK: return CLI_EXIT_OK;
    case CNN_STATUS_INVALID_ARGUMENT:
    case CNN_STATUS_FORMAT:
    case CNN_STATUS_MISSING_DATA:
    case CNN_STATUS_IO: return CLI_EXIT_USAGE;
    case CNN_STATUS_NUMERIC: return CLI_EXIT_NUMERIC;
    default: return CLI_EXIT_FAILURE;
    }
}

int cnn_cli_report(const char *cmd, const cnn_error *err)
{
    fprintf(stderr, "cnnlab %s: %s\n", cmd, err->msg);
    return cnn_cli_exit_for(err->status);
}

/* Plans allocate their buffers once and free them at the end, but plan
 * creation also times convolution candidates on temporary buffers of tens of
 * MiB. glibc raises its mmap threshold to the size of each mmapped block freed
 * (up to 32 MiB), so after the first such free, blocks of that size come from
 * the heap, where freeing them seldom returns the pages: vgg16_bn's training
 * bench peaked at 881 MiB resident against 830 with the threshold fixed. A
 * fixed threshold keeps every large block mmapped and returned when freed. */
static void tune_malloc(void)
{
#ifdef __GLIBC__
    mallopt(M_MMAP_THRESHOLD, 256 * 1024);
#endif
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
    if (strcmp(cmd, "train") == 0)
        return cnn_cmd_train(argc - 1, argv + 1);
    if (strcmp(cmd, "test") == 0)
        return cnn_cmd_test(argc - 1, argv + 1);
    if (strcmp(cmd, "bench") == 0)
        return cnn_cmd_bench(argc - 1, argv + 1);
    if (strcmp(cmd, "models") == 0)
        return cnn_cmd_models(argc - 1, argv + 1);
    if (strcmp(cmd, "recipes") == 0)
        return cnn_cmd_recipes(argc - 1, argv + 1);
    if (strcmp(cmd, "summary") == 0)
        return cnn_cmd_summary(argc - 1, argv + 1);
    if (strcmp(cmd, "plot") == 0)
        return cnn_cmd_plot(argc - 1, argv + 1);
    if (strcmp(cmd, "study") == 0)
        return cnn_cmd_study(argc - 1, argv + 1);
    if (strcmp(cmd, "select") == 0)
        return cnn_cmd_select(argc - 1, argv + 1);
    if (strcmp(cmd, "lab") == 0)
        return cnn_cmd_lab(argc - 1, argv + 1);
    fprintf(stderr, "cnnlab: unknown command '%s'; expected train, test, bench, models, summary, "
            "plot, study, select or lab (see `cnnlab --help`)\n", cmd);
    return CLI_EXIT_USAGE;
}
