/* text.h: small pieces of text the commands share. */
#ifndef CNN_CLI_TEXT_H
#define CNN_CLI_TEXT_H

#include <stddef.h>

#include "cnnlab/model.h"
#include "cnnlab/status.h"

/* 14724042 -> "14,724,042" (v a whole number); returns buf. */
const char *cnn_cli_grouped(double v, char *buf, size_t size);
/* The model-file variables of --var and --head: "VARS head=N" (head < 0:
 * none, vars NULL: none) into buf; returns buf ("" when neither). */
const char *cnn_cli_model_vars(const char *vars, int head, char *buf, size_t size);

/* The data shape of --input HxWxC (NULL: CIFAR-10's 32x32x3) and --classes N
 * (0: 10), for commands that build a model without data (summary, bench). */
cnn_status cnn_cli_data_shape(const char *input, int classes, cnn_data_shape *out,
                              cnn_error *err);

/* The findings of a study: the "- " lines of the section "## What the data
 * shows" of DIR/report.md, each after indent, appended to out (nothing when
 * there is no report). */
struct cnn_text;
void cnn_cli_study_findings(const char *dir, const char *indent, struct cnn_text *out);
/* Calls f(user, heading, line) for every line of DIR/report.md, heading being
 * the last "## " line seen (the line itself for a heading; "" before the
 * first). Returns 0 when there is no report. */
int cnn_cli_report_lines(const char *dir,
                         void (*f)(void *user, const char *heading, const char *line),
                         void *user);

/* The class names of a run's scores (classes of them, each strdup'd; NULL
 * without memory): RUN_DIR/classes.txt, else CIFAR-10's for a ten-class run
 * from before classes.txt, else the label numbers. */
char **cnn_cli_class_names(const char *run, int classes);
void cnn_cli_class_names_free(char **names, int classes);

#endif
