/* metrics.c: metrics.csv and status.txt of a run folder read back (see
 * metrics.h); metrics.csv through cnn_csv_read, by column name. */
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "metrics.h"

enum {
    COL_EPOCH, COL_TRAIN_LOSS, COL_TRAIN_ACC, COL_VAL_LOSS, COL_VAL_ACC, COL_LR,
    NEEDED, /* the columns before are needed; those after are read where present */
    COL_SECONDS = NEEDED, COL_IMAGES_PER_SECOND, NCOL
};
static const char *const col_names[NCOL] = {"epoch",   "train_loss", "train_acc", "val_loss",
                                            "val_acc", "lr",         "seconds",
                                            "images_per_second"};

/* status.txt (written by `cnnlab train`), when there is one. */
static void read_status(const char *run_dir, cnn_metrics *m)
{
    char path[4200], status[64], epochs[32];
    snprintf(path, sizeof path, "%s/status.txt", run_dir);
    char *text = cnn_path_exists(path) ? cnn_file_text_or_null(path) : NULL;
    if (!text)
        return;
    if (cnn_kv_get(text, "status", status, sizeof status, NULL))
        m->diverged = strcmp(status, "diverged") == 0;
    if (cnn_kv_get(text, "epochs_run", epochs, sizeof epochs, NULL))
        m->epochs_run = atoi(epochs);
    free(text);
}

cnn_status cnn_metrics_read(const char *run_dir, cnn_metrics *m, cnn_error *err)
{
    *m = (cnn_metrics){0};
    char path[4200];
    snprintf(path, sizeof path, "%s/metrics.csv", run_dir);
    if (!cnn_path_exists(path))
        return cnn_error_set(err, CNN_STATUS_IO, "%s: not found; expected a run folder written "
                             "by `cnnlab train`", path);
    static const cnn_csv_spec spec = {col_names, NCOL, NEEDED,
                                      "epoch,train_loss,train_acc,val_loss,val_acc,lr,...",
                                      "epoch"};
    double *v[NCOL];
    int n;
    cnn_status st = cnn_csv_read(path, &spec, v, &n, err);
    if (st)
        return st;
    if (n == 0) {
        free(v[0]);
        return cnn_error_set(err, CNN_STATUS_FORMAT, "%s: no epochs recorded (a header and no "
                             "rows): the run has not finished an epoch yet", path);
    }
    m->epochs = n;
    m->epoch = v[COL_EPOCH];
    m->train_loss = v[COL_TRAIN_LOSS];
    m->train_acc = v[COL_TRAIN_ACC];
    m->val_loss = v[COL_VAL_LOSS];
    m->val_acc = v[COL_VAL_ACC];
    m->lr = v[COL_LR];
    m->seconds = v[COL_SECONDS];
    m->images_per_second = v[COL_IMAGES_PER_SECOND];
    read_status(run_dir, m);
    return CNN_STATUS_OK;
}

void cnn_metrics_free(cnn_metrics *m)
{
    free(m->epoch); /* the start of the one block */
    *m = (cnn_metrics){0};
}
