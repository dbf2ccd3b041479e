/* image_file.c: a PNG or JPEG file (or anything else) through
 * cnn_image_decode, as 3 channels at 16x16 (resized) and 1 channel at 5x7. */
#include <stdlib.h>

#include "cnnlab/cnnlab.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *out = malloc(3 * 16 * 16);
    cnn_error err = {0};
    if (out) {
        cnn_image_decode("fuzz.img", data, size, 3, 16, 16, out, &err);
        cnn_image_decode("fuzz.img", data, size, 1, 5, 7, out, &err);
    }
    free(out);
    return 0;
}
