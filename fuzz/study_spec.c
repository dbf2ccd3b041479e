/* study_spec.c: a study folder's study.txt through cnn_study_spec_parse, and
 * a parsed spec back through cnn_study_spec_format. */
#include <stdlib.h>

#include "cnnlab/cnnlab.h"
#include "cnnlab/study.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = cnn_fuzz_text(data, size);
    cnn_study_spec *spec = malloc(sizeof *spec);
    char *back = malloc(65536);
    cnn_error err = {0};
    if (spec && back && cnn_study_spec_parse(text, spec, &err) == CNN_STATUS_OK)
        cnn_study_spec_format(spec, back, 65536);
    free(back);
    free(spec);
    free(text);
    return 0;
}
