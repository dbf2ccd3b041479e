/* recipe.c: training recipes, named groups of `cnnlab train` flags.
 *
 * A recipe is a text file in recipes/ (compiled in, like the model files):
 *   # comments
 *   about ONE LINE          what the recipe is for (once)
 *   --flag value ...        any train flags, any number per line
 * A recipe sets defaults: the command line applies its flags first and the
 * user's after them, so an explicit flag wins (src/cli/cmd_train.c). The flags
 * are checked by train's own parser when used; tests/cli_recipes.sh checks
 * that every built-in recipe parses.
 */
#include <stdlib.h>
#include <string.h>

#include "cnnlab/train.h"
#include "core/core.h"
#include "models/embedded.h"

static cnn_recipe *recipes; /* parsed on first use; they live until the program ends */
static int recipe_count;

/* "recipes/quick.rcp" -> "quick" */
static char *name_of(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strcspn(base, ".");
    char *s = malloc(n + 1);
    CNN_ASSERT(s != NULL);
    memcpy(s, base, n);
    s[n] = 0;
    return s;
}

static void parse(const cnn_embedded_model *e, cnn_recipe *r)
{
    r->name = name_of(e->path);
    r->about = "";
    r->text = e->text;
    size_t len = strlen(e->text);
    char *buf = malloc(len + 1), *about = NULL;
    r->words = malloc((len / 2 + 1) * sizeof(char *));
    CNN_ASSERT(buf && r->words);
    memcpy(buf, e->text, len + 1);
    r->count = 0;
    for (char *line = buf; line && *line;) {
        char *next = strchr(line, '\n');
        if (next)
            *next++ = 0;
        char *hash = strchr(line, '#');
        if (hash)
            *hash = 0;
        line += strspn(line, " \t\r");
        if (strncmp(line, "about", 5) == 0 && (line[5] == ' ' || line[5] == '\t')) {
            about = line + 5 + strspn(line + 5, " \t");
            about[strcspn(about, "\r")] = 0;
        } else {
            for (char *w = strtok(line, " \t\r"); w; w = strtok(NULL, " \t\r"))
                r->words[r->count++] = w;
        }
        line = next;
    }
    if (about)
        r->about = about;
}

static void load(void)
{
    if (recipes)
        return;
    while (cnn_embedded_recipes[recipe_count].path)
        recipe_count++;
    recipes = calloc((size_t)recipe_count + 1, sizeof *recipes);
    CNN_ASSERT(recipes != NULL);
    for (int i = 0; i < recipe_count; i++)
        parse(&cnn_embedded_recipes[i], &recipes[i]);
}

const cnn_recipe *cnn_recipes(int *count)
{
    load();
    *count = recipe_count;
    return recipes;
}

const cnn_recipe *cnn_recipe_find(const char *name)
{
    load();
    for (int i = 0; i < recipe_count; i++)
        if (strcmp(recipes[i].name, name) == 0)
            return &recipes[i];
    return NULL;
}
