/* metrics.h: a run folder's metrics.csv and status.txt, read back: the one
 * reader of metrics.csv, for plots and study summaries. Columns are found by
 * name in the header, so the optional trailing l2_penalty (or any later
 * column) is ignored. */
#ifndef CNN_PLOT_METRICS_H
#define CNN_PLOT_METRICS_H

#include "cnnlab/status.h"

typedef struct cnn_metrics {
    int epochs; /* rows in metrics.csv */
    /* One value per row; accuracies as fractions (0..1); a value that is not
     * finite (nan, inf: a diverged or validation-less run) is kept as is. */
    double *epoch, *train_loss, *train_acc, *val_loss, *val_acc, *lr; /* (epochs) each */
    double *seconds, *images_per_second; /* (epochs) each; NaN where the column is absent */
    int diverged;   /* status.txt says "status = diverged" */
    int epochs_run; /* status.txt's epochs_run (0 without status.txt) */
} cnn_metrics;

/* Reads run_dir/metrics.csv (and run_dir/status.txt when present). A missing
 * or unreadable file is CNN_STATUS_IO; an empty file, a header without a
 * needed column, a header without rows or a bad field is CNN_STATUS_FORMAT,
 * with the file (and line) named. */
cnn_status cnn_metrics_read(const char *run_dir, cnn_metrics *m, cnn_error *err);
void cnn_metrics_free(cnn_metrics *m);

#endif
