/* metrics_csv.c: a run folder's metrics.csv through cnn_metrics_read (the
 * reader behind `cnnlab plot`). */
#include "cnnlab/cnnlab.h"
#include "plot/metrics.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cnn_fuzz_file("metrics.csv", data, size);
    cnn_metrics m;
    cnn_error err = {0};
    if (cnn_metrics_read(cnn_fuzz_dir(), &m, &err) == CNN_STATUS_OK)
        cnn_metrics_free(&m);
    return 0;
}
