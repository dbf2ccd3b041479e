/* weights.c: a weights file through cnn_checkpoint_read and, when it reads,
 * cnn_checkpoint_model twice, as `cnnlab test` does: with the run's model.cnn
 * (the small model of the seed corpus in fuzz/corpus/weights) and without one
 * (a built-in by the stored name; the stored options and variables in both). */
#include "cnnlab/cnnlab.h"
#include "fuzz.h"

/* The model the seed weights were trained with (fuzz/README.md). */
static const char model_text[] = "name fuzz_tiny\nconv 4 k=3\ngap\nlinear 10\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = cnn_fuzz_file("best.weights", data, size);
    cnn_checkpoint ck;
    cnn_error err = {0};
    if (cnn_checkpoint_read(path, &ck, &err) == CNN_STATUS_OK) {
        static const char *model_file;
        if (!model_file)
            model_file = cnn_fuzz_file("model.cnn", (const uint8_t *)model_text,
                                       sizeof model_text - 1);
        cnn_model *m = NULL;
        if (cnn_checkpoint_model(&ck, model_file, path, &m, &err) == CNN_STATUS_OK)
            cnn_model_destroy(m);
        m = NULL;
        if (cnn_checkpoint_model(&ck, NULL, path, &m, &err) == CNN_STATUS_OK)
            cnn_model_destroy(m);
        cnn_checkpoint_free(&ck);
    }
    return 0;
}
