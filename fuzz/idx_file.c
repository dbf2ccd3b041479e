/* idx_file.c: an IDX images file through cnn_idx_load (with a valid labels
 * file of one label when the bytes do not say more; gzipped or raw: zlib
 * passes raw bytes through), then the same bytes as the labels. */
#include "cnnlab/cnnlab.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t one_label[9] = {0, 0, 8, 1, 0, 0, 0, 1, 0};
    const char *images = cnn_fuzz_file("train-images-idx3-ubyte", data, size);
    const char *labels = cnn_fuzz_file("train-labels-idx1-ubyte", one_label, sizeof one_label);
    cnn_dataset d;
    cnn_error err = {0};
    if (cnn_idx_load(images, labels, &d, &err) == CNN_STATUS_OK)
        cnn_dataset_free(&d);
    labels = cnn_fuzz_file("train-labels-idx1-ubyte", data, size);
    if (cnn_idx_load(images, labels, &d, &err) == CNN_STATUS_OK)
        cnn_dataset_free(&d);
    return 0;
}
