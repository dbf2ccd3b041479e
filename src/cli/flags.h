/* flags.h: command-line flags as a table: name, type, range, help. The parser
 * rejects unknown flags, missing values, non-numbers and out-of-range values
 * with one line naming the flag, what was expected and what was found. */
#ifndef CNN_CLI_FLAGS_H
#define CNN_CLI_FLAGS_H

#include <stdint.h>

typedef enum cli_flag_type {
    CLI_INT,    /* int */
    CLI_U64,    /* uint64_t */
    CLI_FLOAT,  /* float */
    CLI_DOUBLE, /* double */
    CLI_STRING, /* const char * */
    CLI_CHOICE, /* const char *, one of choices (comma-separated) */
    CLI_BOOL    /* int set to 1 when the flag is present */
} cli_flag_type;

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
    const char *name;     /* "train" */
    const char *usage;    /* "cnnlab train --model NAME [options]" */
    const char *about;    /* one paragraph */
    const cli_flag *flags;
    int flag_count;
    const char **positional; /* receives positional arguments */
    int max_positional;
    int *positional_count;
} cli_command;

/* Exit statuses of the tool. */
enum { CLI_EXIT_OK = 0, CLI_EXIT_FAILURE = 1, CLI_EXIT_USAGE = 2, CLI_EXIT_NUMERIC = 3 };

/* Parses argv[1..argc) (argv[0] is the subcommand). Returns -1 to go on, or an
 * exit status (0 after --help, 2 after an error, which it has printed). */
int cli_parse(const cli_command *cmd, int argc, char **argv);
void cli_print_help(const cli_command *cmd);
/* The command line as one string (for config.txt); caller frees. */
char *cli_join(int argc, char **argv);

#endif
