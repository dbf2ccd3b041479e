/* commands.h: the subcommands of the cnnlab tool. Each takes argv with argv[0]
 * the subcommand name and returns the process exit status. */
#ifndef CNN_CLI_COMMANDS_H
#define CNN_CLI_COMMANDS_H

#include "cnnlab/status.h"

int cnn_cmd_train(int argc, char **argv);

/* The training flags (shared by `train` and `study`): parses argv (argv[0] is
 * the command's name, used in messages) into a full configuration, checking
 * every value and that the model can take the options, without reading data.
 * Returns -1 when the configuration is good, else the exit status (the error
 * or --help has been printed). Strings in *out point into argv. out_dir and
 * command_line are left for the caller. */
#include "cnnlab/train.h"
int cnn_cli_train_config(const char *name, int argc, char **argv, cnn_train_config *out);
int cnn_cmd_test(int argc, char **argv);
int cnn_cmd_bench(int argc, char **argv);
int cnn_cmd_models(int argc, char **argv);
int cnn_cmd_recipes(int argc, char **argv);
int cnn_cmd_summary(int argc, char **argv);
int cnn_cmd_study(int argc, char **argv);
int cnn_cmd_select(int argc, char **argv);
int cnn_cmd_lab(int argc, char **argv);
int cnn_cmd_plot(int argc, char **argv);

/* Exit status for a library failure: 2 for bad input, 3 numeric, 1 otherwise. */
int cnn_cli_exit_for(cnn_status st);
/* Prints "cnnlab CMD: MESSAGE" for a library error and returns its exit status. */
int cnn_cli_report(const char *cmd, const cnn_error *err);

#endif
