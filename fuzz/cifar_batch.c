/* cifar_batch.c: a CIFAR-10 binary batch file through cnn_cifar_load_file
 * (any whole number of 3,073-byte records). */
#include "cnnlab/cnnlab.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = cnn_fuzz_file("data_batch_1.bin", data, size);
    cnn_dataset d;
    cnn_error err = {0};
    if (cnn_cifar_load_file(path, -1, &d, &err) == CNN_STATUS_OK)
        cnn_dataset_free(&d);
    return 0;
}
