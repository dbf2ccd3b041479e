/* report.c: statuses to exit statuses, and the one place an error is printed
 * (see report.h). */
#include <stdio.h>

#include "dist/dist.h"
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
    /* One of several ranks: a failure they all know of (it names its rank)
     * is printed by rank 0; one of this rank's own is printed naming it. */
    if (err->status != CNN_STATUS_OK && err->msg[0] && cnn_dist_size() > 1) {
        if (!cnn_dist_agreed()) {
            char host[128];
            cnn_dist_hostname(host, sizeof host);
            fprintf(stderr, "cnnlab %s: rank %d (%s) of %d: %s\n", cmd, cnn_dist_rank(), host,
                    cnn_dist_size(), err->msg);
        } else if (cnn_dist_rank() == 0) {
            fprintf(stderr, "cnnlab %s: %s\n", cmd, err->msg);
        }
    } else if (err->status != CNN_STATUS_OK && err->msg[0]) {
        fprintf(stderr, "cnnlab %s: %s\n", cmd, err->msg);
    }
    return cnn_cli_exit_for(err->status);
}
