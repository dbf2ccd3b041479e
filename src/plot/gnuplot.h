/* gnuplot.h: the gnuplot driver the plot module draws with (internal).
 *
 * A picture is made in three steps: its data (.dat) and script (.gp) are built
 * in memory (cnn_text, src/core), saved next to where the pictures go, and
 * `gnuplot SCRIPT` runs in that folder. Scripts name their data and pictures
 * by file name only, so a user can edit one and re-run it there:
 *     cd DIR && gnuplot NAME.gp
 * Every script draws its picture twice, as PNG (pngcairo) and as SVG, in one
 * loop (cnn_gp_begin ... cnn_gp_end). Text in scripts is never interpreted:
 * strings are single-quoted and the terminals are `noenhanced`. */
#ifndef CNN_PLOT_GNUPLOT_H
#define CNN_PLOT_GNUPLOT_H

#include <stddef.h>

#include "cnnlab/status.h"
#include "core/core.h"

/* Appends s as a gnuplot single-quoted string ('' for ', control characters as spaces). */
void cnn_gp_quote(cnn_text *t, const char *s);
/* Appends x with %.9g, or NaN (gnuplot skips it) when x is not finite. */
void cnn_gp_number(cnn_text *t, double x);

/* Where the files of one call go: out_prefix "runs/x/plot" is dir "runs/x",
 * base "plot". */
typedef struct cnn_gp_out {
    char dir[4096];
    char base[512];
} cnn_gp_out;

/* Splits prefix (no control characters: names go into scripts) and creates
 * its folder (mkdir -p). */
cnn_status cnn_gp_out_init(cnn_gp_out *o, const char *prefix, cnn_error *err);
/* The path dir/base+suffix into path. */
void cnn_gp_path(const cnn_gp_out *o, const char *suffix, char *path, size_t size);
/* Writes t to dir/base+suffix (atomically). */
cnn_status cnn_gp_save(const cnn_gp_out *o, const char *suffix, const cnn_text *t,
                       cnn_error *err);

/* Opens the loop that draws picture `name` (a file name without extension) as
 * name.png and name.svg, width x height pixels, with the shared style: font,
 * grid, and line styles 1..10 (distinct colours and point types). */
void cnn_gp_begin(cnn_text *t, const char *name, int width, int height);
void cnn_gp_end(cnn_text *t);
/* Line style for the i-th series (0-based): colour and point type cycle over
 * ten, the dash pattern changes every ten. Appends "ls N dt D". */
void cnn_gp_series_style(cnn_text *t, int i);

/* CNN_STATUS_MISSING_DATA, with how to install gnuplot, unless gnuplot with
 * the pngcairo terminal can be run. */
cnn_status cnn_gp_require(cnn_error *err);
/* Runs `gnuplot base+script_suffix` in o->dir; on failure the error quotes
 * gnuplot's stderr. */
cnn_status cnn_gp_run(const cnn_gp_out *o, const char *script_suffix, cnn_error *err);

#endif
