/* table.c: tables as CSV files (RFC 4180 quoting: a field with a comma, quote
 * or line break is quoted, its quotes doubled). */
#include <string.h>

#include "cnnlab/plot.h"
#include "core/core.h"
#include "gnuplot.h"

cnn_status cnn_plot_confusion_csv(const int *confusion /* (k, k) row-major */, int k,
                                  const char *const *class_names, const char *path,
                                  cnn_error *err)
{
    if (!confusion || k < 1 || !path || !*path)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                             "confusion csv: expected a (k, k) matrix with k >= 1 and a path, "
                             "found k = %d", k);
    cnn_text t = {0};
    char num[32];
    cnn_text_printf(&t, "true/predicted");
    for (int r = -1; r < k; r++) {
        if (r >= 0) {
            snprintf(num, sizeof num, "%d", r);
            cnn_csv_field(&t, class_names && class_names[r] ? class_names[r] : num);
        }
        for (int c = 0; c < k; c++) {
            cnn_text_printf(&t, ",");
            if (r < 0) {
                snprintf(num, sizeof num, "%d", c);
                cnn_csv_field(&t, class_names && class_names[c] ? class_names[c] : num);
            } else {
                cnn_text_printf(&t, "%d", confusion[(size_t)r * (size_t)k + (size_t)c]);
            }
        }
        cnn_text_printf(&t, "\n");
    }
    cnn_status st = t.failed ? cnn_error_set(err, CNN_STATUS_NO_MEMORY, "%s: no memory", path)
                             : cnn_file_write_atomic(path, t.buf, t.len, err);
    cnn_text_free(&t);
    return st;
}
