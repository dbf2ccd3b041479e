/* commands.h: the subcommands of the cnnlab tool. Each takes argv with argv[0]
 * the subcommand's name and returns a status, its message in err (main prints
 * it and turns the status into the exit status: report.h). --help returns
 * CNN_STATUS_OK. The table in main.c lists them. */
#ifndef CNN_CLI_COMMANDS_H
#define CNN_CLI_COMMANDS_H

#include <stdio.h>

#include "cnnlab/status.h"
#include "cnnlab/train.h"

typedef cnn_status cnn_cli_run(int argc, char **argv, cnn_error *err);

cnn_cli_run cnn_cmd_train, cnn_cmd_test, cnn_cmd_predict, cnn_cmd_bench, cnn_cmd_models,
    cnn_cmd_recipes, cnn_cmd_summary, cnn_cmd_plot, cnn_cmd_study, cnn_cmd_select, cnn_cmd_lab,
    cnn_cmd_export, cnn_cmd_import, cnn_cmd_runs;

/* The training flags (shared by train, study and select): parses argv
 * (argv[0] is the command's name, used in messages; "train" adds the hint
 * to read `cnnlab train --help`) into a full configuration, its defaults
 * resolved by the library (cnn_train_config_resolve), checking every value
 * and that the model can take the options, without reading data. *help (may
 * be NULL: --help is then no flag) is set to 1 when --help was printed.
 * Warnings (a milestone that never fires) go to notes (NULL: dropped).
 * Strings in *out point into argv. out_dir and command_line are left for the
 * caller. */
cnn_status cnn_cli_train_config(const char *name, int argc, char **argv, cnn_train_config *out,
                                int *help, FILE *notes, cnn_error *err);

/* What `cnnlab train` makes of the flag NAME ("--dropout"): -1 not one of
 * its flags, 0 a switch without a value, 1 a flag that takes a value. */
int cnn_cli_train_flag_kind(const char *name);

#endif
