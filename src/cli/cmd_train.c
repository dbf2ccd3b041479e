/* cmd_train.c: `cnnlab train`: flags -> cnn_train_config, progress printing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cnnlab/cnnlab.h"
#include "commands.h"
#include "core/core.h"
#include "flags.h"

typedef struct progress {
    int tty;
    double last;
} progress;

static void on_info(void *user, const char *line) { printf("%s\n", line), fflush(stdout); }

/* In-epoch progress: a live line on a terminal, otherwise a line every 30 s. */
static void on_step(void *user, int epoch, int step, int steps, double loss)
{
    progress *p = user;
    double now = cnn_now();
    if (now - p->last < (p->tty ? 0.5 : 30.0) || step == steps)
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
    printf("epoch %3d  train loss %.4f acc %6.2f%%  val loss %.4f acc %6.2f%%  lr %.4g  "
           "%6.1f s  %7.0f img/s%s\n",
           s->epoch, s->train_loss, 100 * s->train_acc, s->val_loss, 100 * s->val_acc, s->lr,
           s->seconds, s->images_per_second, s->best ? "  *" : "");
    fflush(stdout);
}

int cnn_cmd_train(int argc, char **argv)
{
    cnn_train_config c;
    cnn_train_config_defaults(&c);
    const char *backend = "fast";
    const char *positional[1];
    int npos = 0;
    const cli_flag flags[] = {
        {"--model", CLI_STRING, &c.model, 0, 0, "NAME", "lenet5 (default), lenet5-classic or vgg16_bn", NULL},
        {"--epochs", CLI_INT, &c.epochs, 1, 100000, "N", "passes over the train split (default 10)", NULL},
        {"--batch-size", CLI_INT, &c.batch_size, 1, 65536, "N", "images per step (default 128)", NULL},
        {"--lr", CLI_FLOAT, &c.lr, 0, 1000, "F", "learning rate (default 0.05)", NULL},
        {"--momentum", CLI_FLOAT, &c.momentum, 0, 0.9999, "F", "SGD momentum (default 0.9)", NULL},
        {"--weight-decay", CLI_FLOAT, &c.weight_decay, 0, 1, "F", "SGD weight decay (default 5e-4)", NULL},
        {"--seed", CLI_U64, &c.seed, 0, 9.2e18, "N", "seed of the split, initialisation and shuffling (default 1)", NULL},
        {"--threads", CLI_INT, &c.threads, 1, 1024, "N", "OpenMP threads (default: all cores)", NULL},
        {"--val-fraction", CLI_DOUBLE, &c.val_fraction, 0, 0.9, "F", "share of the 50,000 training images held out for validation (default 0.1)", NULL},
        {"--subset", CLI_INT, &c.subset, 0, 50000, "N", "train on only N images of the train split (0 = all)", NULL},
        {"--data", CLI_STRING, &c.data_dir, 0, 0, "DIR", "the cifar-10-batches-bin folder (default data/cifar-10-batches-bin)", NULL},
        {"--out", CLI_STRING, &c.out_dir, 0, 0, "RUN_DIR", "run folder to create (default runs/MODEL-DATE-TIME)", NULL},
        {"--backend", CLI_CHOICE, &backend, 0, 0, "NAME", "fast (default) or reference (plain loops, slow)", "fast,reference"},
    };
    cli_command cmd = {"train", "cnnlab train --model NAME [options]",
                       "Trains a model on the train split, evaluating on the validation split after "
                       "each epoch. Writes RUN_DIR/config.txt, metrics.csv, best.weights and "
                       "last.weights. The test set is not touched: see `cnnlab test`.",
                       flags, (int)(sizeof flags / sizeof flags[0]), positional, 0, &npos};
    int r = cli_parse(&cmd, argc, argv);
    if (r >= 0)
        return r;
    if (!cnn_model_find(c.model)) {
        fprintf(stderr, "cnnlab train: --model: unknown model '%s'; expected one of", c.model);
        for (const cnn_model_desc *const *m = cnn_model_builtins(); *m; m++)
            fprintf(stderr, " %s", (*m)->name);
        fprintf(stderr, "\n");
        return CLI_EXIT_USAGE;
    }
    c.backend = strcmp(backend, "reference") == 0 ? CNN_BACKEND_REFERENCE : CNN_BACKEND_FAST;
    char out[4096];
    if (!c.out_dir) {
        char stamp[32];
        time_t t = time(NULL);
        strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", localtime(&t));
        snprintf(out, sizeof out, "runs/%s-%s", c.model, stamp);
        for (int i = 2; cnn_path_exists(out); i++)
            snprintf(out, sizeof out, "runs/%s-%s-%d", c.model, stamp, i);
        c.out_dir = out;
    }
    char *line = cli_join(argc + 1, argv - 1);
    c.command_line = line;
    progress p = {isatty(2), cnn_now()};
    cnn_train_hooks hooks = {on_info, on_step, on_epoch, &p};
    cnn_error err = {0};
    printf("run folder: %s\n", c.out_dir);
    cnn_status st = cnn_train(&c, &hooks, &err);
    free(line);
    if (st)
        return cnn_cli_report("train", &err);
    printf("done: %s (next: cnnlab test %s)\n", c.out_dir, c.out_dir);
    return CLI_EXIT_OK;
}
