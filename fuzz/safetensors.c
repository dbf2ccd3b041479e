/* safetensors.c: a safetensors file through cnn_import_safetensors into a
 * small model (the seed corpus in fuzz/corpus/safetensors holds its export):
 * the header's size, JSON, dtypes, shapes and offsets, every tensor's name,
 * shape and values, and the normalisation in the metadata. */
#include <stdlib.h>

#include "cnnlab/cnnlab.h"
#include "cnnlab/export.h"
#include "fuzz.h"

static const char model_text[] =
    "name fuzz_export\nconv 4 k=3\nbatchnorm\nrelu\ngap\nlayernorm\nlinear 10\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static cnn_model_file *f; /* both live as long as the process */
    static cnn_model *m;
    cnn_error err = {0};
    if (!m && (cnn_model_file_parse("fuzz_export.cnn", model_text, NULL, &f, &err) ||
               cnn_model_create(&f->desc, NULL, &m, &err)))
        abort();
    const char *path = cnn_fuzz_file("model.safetensors", data, size);
    cnn_norm norm;
    int has_norm;
    cnn_import_safetensors(path, m, &norm, &has_norm, &err);
    return 0;
}
