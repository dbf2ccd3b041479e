/* flags.c: the flag parser (see flags.h). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flags.h"

static const cli_flag *find(const cli_command *cmd, const char *name, size_t len)
{
    for (int i = 0; i < cmd->flag_count; i++)
        if (strlen(cmd->flags[i].name) == len && strncmp(cmd->flags[i].name, name, len) == 0)
            return &cmd->flags[i];
    return NULL;
}

static int fail(const cli_command *cmd, const char *fmt, const char *a, const char *b)
{
    fprintf(stderr, "cnnlab %s: ", cmd->name);
    fprintf(stderr, fmt, a, b);
    fprintf(stderr, " (see `cnnlab %s --help`)\n", cmd->name);
    return CLI_EXIT_USAGE;
}

static int range_error(const cli_command *cmd, const cli_flag *f, const char *what, const char *v)
{
    fprintf(stderr, "cnnlab %s: %s: expected %s from %g to %g, found '%s'\n", cmd->name, f->name,
            what, f->min, f->max, v);
    return CLI_EXIT_USAGE;
}

static int set_value(const cli_command *cmd, const cli_flag *f, const char *v)
{
    char *end;
    errno = 0;
    switch (f->type) {
    case CLI_INT:
    case CLI_U64: {
        long long x = strtoll(v, &end, 10);
        if (*v == 0 || *end != 0 || errno || (double)x < f->min || (double)x > f->max)
            return range_error(cmd, f, "an integer", v);
        if (f->type == CLI_INT)
            *(int *)f->target = (int)x;
        else
            *(uint64_t *)f->target = (uint64_t)x;
        return -1;
    }
    case CLI_FLOAT:
    case CLI_DOUBLE: {
        double x = strtod(v, &end);
        if (*v == 0 || *end != 0 || errno || !isfinite(x) || x < f->min || x > f->max)
            return range_error(cmd, f, "a number", v);
        if (f->type == CLI_FLOAT)
            *(float *)f->target = (float)x;
        else
            *(double *)f->target = x;
        return -1;
    }
    case CLI_STRING:
        if (*v == 0)
            return fail(cmd, "%s: expected a value, found an empty string%s", f->name, "");
        *(const char **)f->target = v;
        return -1;
    case CLI_CHOICE: {
        size_t n = strlen(v);
        for (const char *c = f->choices; *c;) {
            const char *comma = strchr(c, ',');
            size_t len = comma ? (size_t)(comma - c) : strlen(c);
            if (len == n && strncmp(c, v, n) == 0) {
                *(const char **)f->target = v;
                return -1;
            }
            c += len + (comma ? 1 : 0);
        }
        fprintf(stderr, "cnnlab %s: %s: expected one of %s, found '%s'\n", cmd->name, f->name,
                f->choices, v);
        return CLI_EXIT_USAGE;
    }
    case CLI_BOOL:
        *(int *)f->target = 1;
        return -1;
    }
    return -1;
}

int cli_parse(const cli_command *cmd, int argc, char **argv)
{
    *cmd->positional_count = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            cli_print_help(cmd);
            return CLI_EXIT_OK;
        }
        if (a[0] != '-' || a[1] == 0) {
            if (*cmd->positional_count >= cmd->max_positional)
                return fail(cmd, "unexpected argument '%s'%s", a, "");
            cmd->positional[(*cmd->positional_count)++] = a;
            continue;
        }
        const char *eq = strchr(a, '=');
        size_t len = eq ? (size_t)(eq - a) : strlen(a);
        const cli_flag *f = find(cmd, a, len);
        if (!f)
            return fail(cmd, "unknown flag '%s'%s", a, "");
        const char *v;
        if (f->type == CLI_BOOL) {
            if (eq)
                return fail(cmd, "%s takes no value, found '%s'", f->name, eq + 1);
            v = "1";
        } else if (eq) {
            v = eq + 1;
        } else {
            if (i + 1 >= argc)
                return fail(cmd, "%s: expected a value after it, found the end of the line%s",
                            f->name, "");
            v = argv[++i];
        }
        int r = set_value(cmd, f, v);
        if (r >= 0)
            return r;
    }
    return -1;
}

void cli_print_help(const cli_command *cmd)
{
    printf("usage: %s\n\n%s\n\noptions:\n", cmd->usage, cmd->about);
    for (int i = 0; i < cmd->flag_count; i++) {
        const cli_flag *f = &cmd->flags[i];
        char left[64];
        snprintf(left, sizeof left, "%s%s%s", f->name, f->metavar ? " " : "",
                 f->metavar ? f->metavar : "");
        printf("  %-24s %s\n", left, f->help);
    }
    printf("  %-24s %s\n", "--help", "show this help");
}

char *cli_join(int argc, char **argv)
{
    size_t n = 1;
    for (int i = 0; i < argc; i++)
        n += strlen(argv[i]) * 4 + 3;
    char *s = malloc(n), *p = s;
    if (!s)
        return NULL;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        int plain = *a != 0 && strspn(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                         "0123456789-_=./,:+") == strlen(a);
        if (i)
            *p++ = ' ';
        if (plain) {
            p += sprintf(p, "%s", a);
        } else {
            *p++ = '\'';
            for (; *a; a++) {
                if (*a == '\'')
                    p += sprintf(p, "'\\''");
                else
                    *p++ = *a;
            }
            *p++ = '\'';
        }
    }
    *p = 0;
    return s;
}
