/* view.h: a study read back from its run folders, shared by summary.c
 * (summary.csv, the outputs), report.c (report.md) and results.c (one run);
 * internal to src/study. */
#ifndef CNN_STUDY_VIEW_H
#define CNN_STUDY_VIEW_H

#include <stddef.h>

#include "cnnlab/study.h"
#include "core/core.h"

typedef struct study_view {
    const char *dir;
    const cnn_study_spec *spec;
    const cnn_study_run *runs;
    int n, configs;
    cnn_study_result *res;                 /* per run */
    double *mean, *std;                    /* per configuration: best validation accuracy */
    int *count;                            /* per configuration: runs with a result */
    int *first;                            /* per configuration: its first run */
    const cnn_study_combination *combo;    /* `select --combine` chose it, or NULL */
} study_view;

/* dir/name as text, or NULL. */
char *cnn_study_read_text(const char *dir, const char *name);
/* "81.23 ± 0.40 % (3)" (repeats > 1), "81.23 %", or "–" without a result. */
void cnn_study_pct(char *buf, size_t size, double mean, double std, int n, int repeats);
/* report.md's text into md; note receives a line about the plots. */
void cnn_study_report(const study_view *v, cnn_fixbuf *md, char *note, size_t note_size);

#endif
