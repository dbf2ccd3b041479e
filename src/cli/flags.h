/* flags.h: command-line flags as a table: name, type, range, help. The one
 * flag parser of the tool: it refuses unknown flags, missing values,
 * non-numbers and out-of-range values with a message naming the flag, what
 * was expected and what was found, returned in a cnn_error (it prints only
 * --help). Commands that hand flags on to another parser (study and lab pass
 * train flags through) give it a `rest` list: the words that are not theirs
 * are kept there, in order, instead of refused. */
#ifndef CNN_CLI_FLAGS_H
#define CNN_CLI_FLAGS_H

#include <stdint.h>
#include <stdio.h>

#include "cnnlab/status.h"

typedef enum cli_flag_type {
    CLI_INT,    /* int */
    CLI_U64,    /* uint64_t */
    CLI_FLOAT,  /* float */
    CLI_DOUBLE, /* double */
    CLI_STRING, /* const char * */
    CLI_CHOICE, /* const char *, one of choices (comma-separated) */
    CLI_BOOL,   /* int set to 1 when the flag is present */
    CLI_LIST    /* cli_list: each value, in order (the flag may be repeated) */
} cli_flag_type;

typedef struct cli_list {
    const char **items;
    int max, count;
} cli_list;

typedef struct cli_flag {
    const char *name; /* "--epochs" */
    cli_flag_type type;
    void *target;
    double min, max; /* numeric range, inclusive */
    const char *metavar;
    const char *help;
    const char *choices; /* CLI_CHOICE: "train,infer" */
} cli_flag;

typedef struct cli_command {
    const char *name;     /* "train": names the command in messages */
    const char *usage;    /* "cnnlab train --model NAME [options]" */
    const char *about;    /* one paragraph */
    const cli_flag *flags;
    int flag_count;
    cli_list *positional; /* receives positional arguments (NULL: none taken) */
    const char *required; /* "a run folder (RUN_DIR)": at least one positional argument is
                           * needed, named so in the message (NULL: none needed) */
    /* Pass-through (NULL: none): words that are not this command's flags
     * (positional words among them) go to rest in order; rest_what names
     * them in the message when more than rest->max come. */
    cli_list *rest;
    const char *rest_what;
    void (*help_tail)(FILE *f); /* printed after the options by --help (NULL: nothing) */
    int no_hint; /* 1: messages do not end with "(see `cnnlab NAME --help`)" */
} cli_command;

/* .flags and .flag_count of a cli_command from an array of flags. */
#define CLI_FLAGS(array) .flags = (array), .flag_count = (int)(sizeof(array) / sizeof((array)[0]))

/* Exit statuses of the tool (src/cli/report.c maps statuses onto them). */
enum { CLI_EXIT_OK = 0, CLI_EXIT_FAILURE = 1, CLI_EXIT_USAGE = 2, CLI_EXIT_NUMERIC = 3 };

/* Parses argv[1..argc) (argv[0] is the subcommand). CNN_STATUS_OK: go on,
 * unless *help is 1: --help was asked for and printed (help may be NULL when
 * the caller never passes --help on). Else CNN_STATUS_INVALID_ARGUMENT with
 * the message in err. */
cnn_status cli_parse(const cli_command *cmd, int argc, char **argv, int *help, cnn_error *err);
void cli_print_help(const cli_command *cmd);
/* The flag of cmd named name ("--epochs"), or NULL. */
const cli_flag *cli_find_flag(const cli_command *cmd, const char *name);
/* The command line as one string (for config.txt); caller frees. */
char *cli_join(int argc, char **argv);

#endif
