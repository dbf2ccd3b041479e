/* model_file.c: a model file's text through the parser (cnn_model_file_parse)
 * and, when it parses, the builder (cnn_model_create: shapes, options,
 * parameter allocation). */
#include <stdlib.h>

#include "cnnlab/cnnlab.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = cnn_fuzz_text(data, size);
    cnn_model_file *f = NULL;
    cnn_error err = {0};
    if (cnn_model_file_parse("fuzz.cnn", text, NULL, &f, &err) == CNN_STATUS_OK) {
        cnn_model *m = NULL;
        if (cnn_model_create(&f->desc, NULL, &m, &err) == CNN_STATUS_OK)
            cnn_model_destroy(m);
        cnn_model_file_free(f);
    }
    free(text);
    return 0;
}
