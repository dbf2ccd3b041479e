/* confusion.c: cnn_plot_confusion: a confusion matrix as a heat map.
 *
 * Rows are true classes (top to bottom), columns predicted classes. A cell's
 * colour is its share of the true class (so the diagonal reads as per-class
 * accuracy whatever the class sizes), its text the count. The true-class axis
 * labels carry each class's accuracy. Writes P.dat (x = predicted, y = true,
 * count, share; one block per true class) and P.gp, which draws P.png and
 * P.svg. */
#include <stdlib.h>
#include <string.h>

#include "cnnlab/plot.h"
#include "core/core.h"
#include "gnuplot.h"

static void class_name(const char *const *names, int i, char *buf, size_t size)
{
    if (names && names[i])
        snprintf(buf, size, "%s", names[i]);
    else
        snprintf(buf, size, "%d", i);
}

/* set xtics/ytics ('name' 0, 'name' 1, ...); with_accuracy adds each row's
 * accuracy to its name. */
static void put_tics(cnn_text *t, const char *axis, const int *cm, int k,
                     const char *const *names, int with_accuracy)
{
    cnn_text_printf(t, "set %stics (", axis);
    for (int i = 0; i < k; i++) {
        char name[300], label[340];
        class_name(names, i, name, sizeof name);
        if (with_accuracy) {
            long total = 0;
            for (int c = 0; c < k; c++)
                total += cm[(size_t)i * (size_t)k + (size_t)c];
            if (total)
                snprintf(label, sizeof label, "%s  %.1f%%", name,
                         100.0 * cm[(size_t)i * (size_t)k + (size_t)i] / (double)total);
            else
                snprintf(label, sizeof label, "%s  -", name);
        } else {
            snprintf(label, sizeof label, "%s", name);
        }
        /* Tic labels are formats to gnuplot: a literal % is written %%. */
        char escaped[700], *e = escaped;
        for (const char *p = label; *p; p++) {
            if (*p == '%')
                *e++ = '%';
            *e++ = *p;
        }
        *e = 0;
        cnn_text_printf(t, "%s", i ? ", " : "");
        cnn_gp_quote(t, escaped);
        cnn_text_printf(t, " %d", i);
    }
    cnn_text_printf(t, ")\n");
}

cnn_status cnn_plot_confusion(const int *confusion /* (k, k) row-major */, int k,
                              const char *const *class_names, const char *out_prefix,
                              const char *title, cnn_error *err)
{
    if (!confusion || k < 1 || k > 1000)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                             "plot confusion: expected a (k, k) matrix with k from 1 to 1000, "
                             "found k = %d%s", k, confusion ? "" : " and no matrix");
    long total = 0, correct = 0;
    for (int i = 0; i < k; i++)
        for (int c = 0; c < k; c++) {
            int x = confusion[(size_t)i * (size_t)k + (size_t)c];
            if (x < 0)
                return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                                     "plot confusion: count [%d][%d] is %d; expected >= 0", i, c,
                                     x);
            total += x;
            correct += i == c ? x : 0;
        }
    cnn_status st = cnn_gp_require(err);
    if (st)
        return st;
    cnn_gp_out o;
    if ((st = cnn_gp_out_init(&o, out_prefix, err)))
        return st;

    cnn_text data = {0}, t = {0};
    cnn_text_printf(&data, "# cnnlab confusion matrix: x = predicted class, y = true class, count, "
                           "share of the true class\n# classes:");
    for (int i = 0; i < k; i++) {
        char name[300];
        class_name(class_names, i, name, sizeof name);
        for (char *p = name; *p; p++)
            if ((unsigned char)*p < 0x20)
                *p = ' ';
        cnn_text_printf(&data, " %d=%s", i, name);
    }
    cnn_text_printf(&data, "\n");
    for (int i = 0; i < k; i++) {
        long row = 0;
        for (int c = 0; c < k; c++)
            row += confusion[(size_t)i * (size_t)k + (size_t)c];
        for (int c = 0; c < k; c++) {
            int x = confusion[(size_t)i * (size_t)k + (size_t)c];
            cnn_text_printf(&data, "%d %d %d %.6f\n", c, i, x, row ? (double)x / (double)row : 0.0);
        }
        cnn_text_printf(&data, "\n");
    }

    char dat[600], name[600];
    snprintf(dat, sizeof dat, "%s.dat", o.base);
    snprintf(name, sizeof name, "%s", o.base);
    int side = k <= 10 ? 640 : k <= 30 ? 820 : 1000;
    cnn_text_printf(&t, "# Confusion matrix; data in %s. Re-draw: gnuplot %s.gp\n", dat, name);
    cnn_gp_begin(&t, name, side + 220, side + 60);
    char head[1200];
    snprintf(head, sizeof head, "%s", title && *title ? title : "Confusion matrix");
    cnn_text_printf(&t, "set title ");
    cnn_gp_quote(&t, head);
    snprintf(head, sizeof head, "%ld images, accuracy %.2f%%", total,
             total ? 100.0 * (double)correct / (double)total : 0.0);
    cnn_text_printf(&t, " . \"\\n\" . ");
    cnn_gp_quote(&t, head);
    cnn_text_printf(&t, "\nunset grid\nunset key\nset size square\nset tics scale 0\n"
                        "set xrange [-0.5:%g]\nset yrange [%g:-0.5]\n"
                        "set xlabel 'predicted class'\nset ylabel 'true class (its accuracy)'\n"
                        "set xtics rotate by 40 right\n",
                  k - 0.5, k - 0.5);
    put_tics(&t, "x", confusion, k, class_names, 0);
    put_tics(&t, "y", confusion, k, class_names, 1);
    cnn_text_printf(&t, "set cbrange [0:1]\nset cblabel 'share of the true class'\n"
                        "set cbtics 0.2\n"
                        "set palette defined (0 '#ffffff', 0.1 '#c6dbef', 0.3 '#6baed6', "
                        "0.6 '#2171b5', 1 '#08306b')\n"
                        "plot ");
    cnn_gp_quote(&t, dat);
    /* Cells as filled boxes, not `with image`: crisp in SVG at any size. */
    cnn_text_printf(&t, " using 1:2:(0.5):(0.5):4 with boxxyerror fillstyle solid 1.0 noborder "
                        "linecolor palette");
    if (k <= 30) {
        /* Counts in the cells: white on dark cells, dark grey on light ones. */
        cnn_text_printf(&t, ", \\\n     ");
        cnn_gp_quote(&t, dat);
        cnn_text_printf(&t, " using 1:2:(sprintf('%%d', int($3))):($4 > 0.4 ? 0xffffff : 0x303030) "
                            "with labels textcolor rgb variable font ',%d'",
                      k <= 10 ? 10 : 8);
    }
    cnn_text_printf(&t, "\n");
    cnn_gp_end(&t);

    if (!(st = cnn_gp_save(&o, ".dat", &data, err)) && !(st = cnn_gp_save(&o, ".gp", &t, err)))
        st = cnn_gp_run(&o, ".gp", err);
    cnn_text_free(&data);
    cnn_text_free(&t);
    return st;
}
