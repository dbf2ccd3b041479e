/* cmd_plot.c: `cnnlab plot RUN_DIR...`: the curves of one or more run folders
 * as PNG and SVG pictures, drawn by gnuplot (see cnnlab/plot.h). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnnlab/cnnlab.h"
#include "cnnlab/plot.h"
#include "commands.h"
#include "flags.h"
#include "report.h"

enum { MAX_RUNS = 256 };

/* Splits "a,b,c" (in a copy) into at most max labels; returns the count. */
static int split_labels(char *s, const char **labels, int max)
{
    int n = 0;
    for (char *p = s;; n++) {
        char *comma = strchr(p, ',');
        if (n < max)
            labels[n] = p;
        if (!comma)
            return n + 1;
        *comma = 0;
        p = comma + 1;
    }
}

cnn_status cnn_cmd_plot(int argc, char **argv, cnn_error *err)
{
    const char *prefix = NULL, *labels_flag = NULL, *title = NULL;
    const char *positional[MAX_RUNS];
    cli_list words = {positional, MAX_RUNS, 0};
    const cli_flag flags[] = {
        {"-o", CLI_STRING, &prefix, 0, 0, "PREFIX",
         "write PREFIX-val_loss.png etc. (default: RUN_DIR/plot for one run, else ./plot)", NULL},
        {"--labels", CLI_STRING, &labels_flag, 0, 0, "A,B,...",
         "legend names, one per run (default: the folder names)", NULL},
        {"--title", CLI_STRING, &title, 0, 0, "TEXT", "heads every picture", NULL},
    };
    cli_command cmd = {
        .name = "plot",
        .usage = "cnnlab plot RUN_DIR... [-o PREFIX] [--labels A,B,...] [--title T]",
        .about = "Draws the validation loss and validation accuracy of the runs overlaid, "
                 "the learning rate per epoch, and for a single run training vs "
                 "validation loss and accuracy side by side, as PNG and SVG, with gnuplot "
                 "(Debian: apt-get install gnuplot-nox). Next to the pictures go their "
                 "gnuplot scripts (PREFIX-*.gp) and data (PREFIX-curves.dat), to edit and "
                 "re-draw with `gnuplot PREFIX-val_loss.gp` in that folder.",
        CLI_FLAGS(flags),
        .positional = &words,
        .required = "one or more run folders (RUN_DIR...)",
    };
    int help;
    cnn_status st = cli_parse(&cmd, argc, argv, &help, err);
    if (st || help)
        return st;
    const char *labels[MAX_RUNS];
    char *labels_copy = NULL;
    if (labels_flag) {
        labels_copy = strdup(labels_flag);
        int nl = labels_copy ? split_labels(labels_copy, labels, MAX_RUNS) : 0;
        if (nl != words.count) {
            free(labels_copy);
            return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "--labels: expected %d names "
                                 "(one per run folder), found %d in '%s'", words.count, nl, labels_flag);
        }
        for (int i = 0; i < nl; i++)
            if (!*labels[i])
                labels[i] = NULL; /* "a,,c": the folder's name for the second */
    }
    char default_prefix[4096];
    if (!prefix) {
        if (words.count == 1) {
            size_t n = strlen(positional[0]);
            while (n > 1 && positional[0][n - 1] == '/')
                n--;
            snprintf(default_prefix, sizeof default_prefix, "%.*s/plot", (int)n, positional[0]);
        } else {
            snprintf(default_prefix, sizeof default_prefix, "plot");
        }
        prefix = default_prefix;
    }
    char written[16384];
    st = cnn_plot_curves(positional, labels_flag ? labels : NULL, words.count, prefix, title, written,
                         sizeof written, err);
    free(labels_copy);
    if (st == CNN_STATUS_MISSING_DATA) /* no gnuplot: a missing tool, not bad input */
        return err->status = CNN_STATUS_UNAVAILABLE;
    if (st)
        return st;
    for (char *line = written; *line;) {
        char *end = strchr(line, '\n');
        if (end)
            *end = 0;
        printf("wrote %s (and .svg)\n", line);
        if (!end)
            break;
        line = end + 1;
    }
    printf("gnuplot scripts and data beside them: %s-*.gp, %s-curves.dat\n", prefix, prefix);
    return CNN_STATUS_OK;
}
