/* cmd_recipes.c: `cnnlab recipes [NAME]`: the built-in training recipes, one
 * line each with what it is for and the flags it sets; with a name, that
 * recipe's file as written. */
#include <stdio.h>
#include <string.h>

#include "cnnlab/cnnlab.h"
#include "commands.h"
#include "core/core.h"
#include "flags.h"
#include "report.h"

cnn_status cnn_cmd_recipes(int argc, char **argv, cnn_error *err)
{
    const char *positional[1];
    cli_list words = {positional, 1, 0};
    cli_command cmd = {
        .name = "recipes",
        .usage = "cnnlab recipes [NAME]",
        .about = "Lists the built-in training recipes: each is a named group of `cnnlab "
                 "train` flags (recipes/NAME.rcp), used as `cnnlab train --recipe NAME` "
                 "(and by study and lab as their base); flags given after it win. With "
                 "NAME, prints that recipe's file.",
        .flags = NULL,
        .flag_count = 0,
        .positional = &words,
    };
    int help;
    cnn_status st = cli_parse(&cmd, argc, argv, &help, err);
    if (st || help)
        return st;
    int n;
    const cnn_recipe *all = cnn_recipes(&n);
    if (words.count == 1) {
        const cnn_recipe *rc = cnn_recipe_find(positional[0]);
        if (!rc) {
            char names[1024];
            cnn_fixbuf b = {names, sizeof names, 0};
            names[0] = 0;
            for (int i = 0; i < n; i++)
                cnn_fixbuf_printf(&b, "%s %s", i ? "," : "", all[i].name);
            return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                                 "unknown recipe '%s'; expected one of%s", positional[0], names);
        }
        fputs(rc->text, stdout);
        return CNN_STATUS_OK;
    }
    for (int i = 0; i < n; i++) {
        printf("%-12s %s\n            ", all[i].name, all[i].about);
        int col = 12;
        for (int w = 0; w < all[i].count; w++) {
            const char *word = all[i].words[w];
            int len = (int)strlen(word);
            if (word[0] == '-' && col + len > 96) {
                printf("\n            ");
                col = 12;
            }
            printf(" %s", word);
            col += len + 1;
        }
        printf("\n\n");
    }
    return CNN_STATUS_OK;
}
