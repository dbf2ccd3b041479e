/* cmd_models.c: `cnnlab models`: the built-in models, one line each: name,
 * parameters under the default options, and the model file's about line. */
#include <stdio.h>

#include "cnnlab/cnnlab.h"
#include "commands.h"
#include "flags.h"
#include "report.h"
#include "text.h"

cnn_status cnn_cmd_models(int argc, char **argv, cnn_error *err)
{
    cli_command cmd = {
        .name = "models",
        .usage = "cnnlab models",
        .about = "Lists the built-in models: name, parameters (default options) and what "
                 "the model is. Each is a model file in models/; `cnnlab summary NAME` "
                 "shows its layers.",
        .flags = NULL,
        .flag_count = 0,
    };
    int help;
    cnn_status st = cli_parse(&cmd, argc, argv, &help, err);
    if (st || help)
        return st;
    for (const cnn_model_desc *const *d = cnn_model_builtins(); *d; d++) {
        cnn_model *m;
        if ((st = cnn_model_create(*d, NULL, &m, err)))
            return st;
        char params[32];
        printf("%-15s %11s  %s\n", (*d)->name, cnn_cli_grouped((double)m->param_count, params, sizeof params),
               (*d)->about);
        cnn_model_destroy(m);
    }
    return CNN_STATUS_OK;
}
