/* flags.c: the flag parser (see flags.h): one word at a time, each a flag of the
 * table, a positional word or, in pass-through mode, a word handed on. */
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

const cli_flag *cli_find_flag(const cli_command *cmd, const char *name)
{
    return find(cmd, name, strlen(name));
}

/* A usage error: the message, then where to read about the flags. */
static cnn_status fail(const cli_command *cmd, cnn_error *err, const char *fmt, const char *a,
                       const char *b)
{
    char msg[sizeof err->msg];
    snprintf(msg, sizeof msg, fmt, a, b);
    if (cmd->no_hint)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "%s", msg);
    return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "%s (see `cnnlab %s --help`)", msg,
                         cmd->name);
}

static cnn_status range_error(const cli_flag *f, const char *what, const char *v, cnn_error *err)
{
    return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "%s: expected %s from %g to %g, found '%s'",
                         f->name, what, f->min, f->max, v);
}

static cnn_status set_value(const cli_command *cmd, const cli_flag *f, const char *v, cnn_error *err)
{
    char *end;
    errno = 0;
    switch (f->type) {
    case CLI_INT:
    case CLI_U64: {
        long long x = strtoll(v, &end, 10);
        if (*v == 0 || *end != 0 || errno || (double)x < f->min || (double)x > f->max)
            return range_error(f, "an integer", v, err);
        if (f->type == CLI_INT)
            *(int *)f->target = (int)x;
        else
            *(uint64_t *)f->target = (uint64_t)x;
        return CNN_STATUS_OK;
    }
    case CLI_FLOAT:
    case CLI_DOUBLE: {
        double x = strtod(v, &end);
        if (*v == 0 || *end != 0 || errno || !isfinite(x) || x < f->min || x > f->max)
            return range_error(f, "a number", v, err);
        if (f->type == CLI_FLOAT)
            *(float *)f->target = (float)x;
        else
            *(double *)f->target = x;
        return CNN_STATUS_OK;
    }
    case CLI_STRING:
        if (*v == 0)
            return fail(cmd, err, "%s: expected a value, found an empty string%s", f->name, "");
        *(const char **)f->target = v;
        return CNN_STATUS_OK;
    case CLI_CHOICE: {
        size_t n = strlen(v);
        for (const char *c = f->choices; *c;) {
            const char *comma = strchr(c, ',');
            size_t len = comma ? (size_t)(comma - c) : strlen(c);
            if (len == n && strncmp(c, v, n) == 0) {
                *(const char **)f->target = v;
                return CNN_STATUS_OK;
            }
            c += len + (comma ? 1 : 0);
        }
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "%s: expected one of %s, found '%s'",
                             f->name, f->choices, v);
    }
    case CLI_BOOL:
        *(int *)f->target = 1;
        return CNN_STATUS_OK;
    case CLI_LIST: {
        cli_list *l = f->target;
        if (*v == 0)
            return fail(cmd, err, "%s: expected a value, found an empty string%s", f->name, "");
        if (l->count >= l->max)
            return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "%s: expected at most %d of "
                                 "them, found more", f->name, l->max);
        l->items[l->count++] = v;
        return CNN_STATUS_OK;
    }
    }
    return CNN_STATUS_OK;
}

/* A word that is not one of cmd's flags: passed through, or refused. */
static cnn_status other_word(const cli_command *cmd, const char *a, int is_flag, cnn_error *err)
{
    cli_list *l = cmd->rest;
    if (l) {
        if (l->count >= l->max)
            return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "too many %s (at most %d)",
                                 cmd->rest_what ? cmd->rest_what : "arguments", l->max);
        l->items[l->count++] = a;
        return CNN_STATUS_OK;
    }
    if (is_flag)
        return fail(cmd, err, "unknown flag '%s'%s", a, "");
    l = cmd->positional;
    if (!l || l->count >= l->max)
        return fail(cmd, err, "unexpected argument '%s'%s", a, "");
    l->items[l->count++] = a;
    return CNN_STATUS_OK;
}

cnn_status cli_parse(const cli_command *cmd, int argc, char **argv, int *help, cnn_error *err)
{
    if (cmd->positional)
        cmd->positional->count = 0;
    if (cmd->rest)
        cmd->rest->count = 0;
    if (help)
        *help = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (help && (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)) {
            cli_print_help(cmd);
            *help = 1;
            return CNN_STATUS_OK;
        }
        cnn_status st;
        if (a[0] != '-' || a[1] == 0) {
            if ((st = other_word(cmd, a, 0, err)))
                return st;
            continue;
        }
        const char *eq = strchr(a, '=');
        size_t len = eq ? (size_t)(eq - a) : strlen(a);
        const cli_flag *f = find(cmd, a, len);
        if (!f) {
            if ((st = other_word(cmd, a, 1, err)))
                return st;
            continue;
        }
        const char *v;
        if (f->type == CLI_BOOL) {
            if (eq)
                return fail(cmd, err, "%s takes no value, found '%s'", f->name, eq + 1);
            v = "1";
        } else if (eq) {
            v = eq + 1;
        } else {
            if (i + 1 >= argc)
                return fail(cmd, err, "%s: expected a value after it, found the end of the line%s",
                            f->name, "");
            v = argv[++i];
        }
        if ((st = set_value(cmd, f, v, err)))
            return st;
    }
    if (cmd->required && cmd->positional->count == 0)
        return fail(cmd, err, "expected %s, found none%s", cmd->required, "");
    return CNN_STATUS_OK;
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
    if (cmd->help_tail)
        cmd->help_tail(stdout);
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
