/* commands.h: the subcommands of the cnnlab tool. Each takes argv with argv[0]
 * the subcommand name and returns the process exit status. */
#ifndef CNN_CLI_COMMANDS_H
#define CNN_CLI_COMMANDS_H

#include "cnnlab/status.h"

int cnn_cmd_train(int argc, char **argv);
int cnn_cmd_test(int argc, char **argv);
int cnn_cmd_bench(int argc, char **argv);

/* Exit status for a library failure: 2 for bad input, 3 numeric, 1 otherwise. */
int cnn_cli_exit_for(cnn_status st);
/* Prints "cnnlab CMD: MESSAGE" for a library error and returns its exit status. */
int cnn_cli_report(const char *cmd, const cnn_error *err);

#endif
