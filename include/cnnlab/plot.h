/* plot.h: curves and tables as pictures, drawn by gnuplot (Debian's
 * gnuplot-nox, PNG through its cairo terminal, and SVG). The library writes a
 * gnuplot script and data next to the pictures and runs gnuplot; without
 * gnuplot, functions return CNN_STATUS_MISSING_DATA with a message saying how
 * to install it (callers treat that as "plots skipped", not as a failure). */
#ifndef CNNLAB_PLOT_H
#define CNNLAB_PLOT_H

#include <stddef.h>

#include "cnnlab/status.h"

/* 1 if gnuplot with the pngcairo terminal can be run. */
int cnn_plot_available(void);

/* Curves from the metrics.csv of n run folders, labelled labels[i] (NULL:
 * the folder's name). Writes, for out_prefix P:
 *   P-val_loss.png/.svg   validation loss per epoch, the runs overlaid
 *   P-val_acc.png/.svg    validation accuracy per epoch, overlaid
 *   P-lr.png/.svg         learning rate per epoch, overlaid
 *   P-train_val.png/.svg  for n == 1 only: train vs validation, loss and
 *                         accuracy side by side (two panels)
 * title heads each plot (may be NULL). written receives the PNG paths written,
 * one per line (may be NULL). */
cnn_status cnn_plot_curves(const char *const *run_dirs, const char *const *labels, int n,
                           const char *out_prefix, const char *title, char *written,
                           size_t written_size, cnn_error *err);

/* A confusion matrix heat map (rows: true class, columns: predicted; counts
 * written in the cells) as out_prefix.png and .svg. */
cnn_status cnn_plot_confusion(const int *confusion /* (k, k) row-major */, int k,
                              const char *const *class_names, const char *out_prefix,
                              const char *title, cnn_error *err);

/* The same matrix as CSV at path (needs no gnuplot): a header row
 * "true/predicted" then the predicted class names, then one row per true class
 * (its name, then the counts). class_names NULL: the class numbers. */
cnn_status cnn_plot_confusion_csv(const int *confusion /* (k, k) row-major */, int k,
                                  const char *const *class_names, const char *path,
                                  cnn_error *err);

#endif
