/* report.c: statuses to exit statuses, and the one place an error is printed
 * (see report.h). */
#include <stdio.h>

#include "flags.h"
#include "report.h"

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
    if (err->status != CNN_STATUS_OK && err->msg[0])
        fprintf(stderr, "cnnlab %s: %s\n", cmd, err->msg);
    return cnn_cli_exit_for(err->status);
}
