/* cmd_models.c: `cnnlab models`: the built-in models, one line each: name,
 * parameters under the default options, and the model file's about line. */
#include <stdio.h>

#include "cnnlab/cnnlab.h"
#include "commands.h"
#include "flags.h"

/* 14724042 -> "14,724,042" */
static const char *grouped(size_t v, char *buf, size_t size)
{
    char digits[32];
    int n = snprintf(digits, sizeof digits, "%zu", v), o = 0;
    for (int i = 0; i < n && (size_t)o + 2 < size; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = digits[i];
    }
    buf[o] = 0;
    return buf;
}

int cnn_cmd_models(int argc, char **argv)
{
    const char *positional[1];
    int npos = 0;
    cli_command cmd = {"models", "cnnlab models",
                       "Lists the built-in models: name, parameters (default options) and what "
                       "the model is. Each is a model file in models/; `cnnlab summary NAME` "
                       "shows its layers.",
                       NULL, 0, positional, 0, &npos};
    int r = cli_parse(&cmd, argc, argv);
    if (r >= 0)
        return r;
    for (const cnn_model_desc *const *d = cnn_model_builtins(); *d; d++) {
        cnn_error err;
        cnn_model *m;
        if (cnn_model_create(*d, NULL, &m, &err))
            return cnn_cli_report("models", &err);
        char params[32];
        printf("%-15s %11s  %s\n", (*d)->name, grouped(m->param_count, params, sizeof params),
               (*d)->about);
        cnn_model_destroy(m);
    }
    return CLI_EXIT_OK;
}
