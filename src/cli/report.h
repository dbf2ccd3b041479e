/* report.h: how the command-line layer ends a command: a status becomes an
 * exit status, and an error's message is printed once, as
 * "cnnlab COMMAND: MESSAGE". The library and the commands return errors; only
 * main (and a command that runs another in-process and goes on) reports. */
#ifndef CNN_CLI_REPORT_H
#define CNN_CLI_REPORT_H

#include "cnnlab/status.h"

/* Exit status for a status: 0 ok, 2 bad input (a flag, a file, missing data),
 * 3 numeric (a loss became NaN), 1 otherwise. */
int cnn_cli_exit_for(cnn_status st);
/* Prints "cnnlab CMD: MESSAGE" for a failure and returns its exit status. An
 * error with an empty message was printed where it happened (a command run
 * in-process by another, which reported it and went on): nothing more is
 * printed. */
int cnn_cli_report(const char *cmd, const cnn_error *err);

#endif
