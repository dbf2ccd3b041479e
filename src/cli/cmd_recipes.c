/* cmd_recipes.c: `cnnlab recipes [NAME]`: the built-in training recipes, one
 * line each with what it is for and the flags it sets; with a name, that
 * recipe's file as written. */
#include <stdio.h>
#include <string.h>

#include "cnnlab/cnnlab.h"
#include "commands.h"
#include "flags.h"

int cnn_cmd_recipes(int argc, char **argv)
{
    const char *positional[1];
    int npos = 0;
    cli_command cmd = {"recipes", "cnnlab recipes [NAME]",
                       "Lists the built-in training recipes: each is a named group of `cnnlab "
                       "train` flags (recipes/NAME.rcp), used as `cnnlab train --recipe NAME` "
                       "(and by study and lab as their base); flags given after it win. With "
                       "NAME, prints that recipe's file.",
                       NULL, 0, positional, 1, &npos};
    int r = cli_parse(&cmd, argc, argv);
    if (r >= 0)
        return r;
    int n;
    const cnn_recipe *all = cnn_recipes(&n);
    if (npos == 1) {
        const cnn_recipe *rc = cnn_recipe_find(positional[0]);
        if (!rc) {
            fprintf(stderr, "cnnlab recipes: unknown recipe '%s'; expected one of", positional[0]);
            for (int i = 0; i < n; i++)
                fprintf(stderr, "%s %s", i ? "," : "", all[i].name);
            fprintf(stderr, "\n");
            return CLI_EXIT_USAGE;
        }
        fputs(rc->text, stdout);
        return CLI_EXIT_OK;
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
    return CLI_EXIT_OK;
}
