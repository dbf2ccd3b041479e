/* resume_state.c: a resume.state file through cnn_resume_read. */
#include "cnnlab/cnnlab.h"
#include "train/resume.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = cnn_fuzz_file("resume.state", data, size);
    cnn_resume r;
    cnn_error err = {0};
    if (cnn_resume_read(path, &r, &err) == CNN_STATUS_OK)
        cnn_resume_free(&r);
    return 0;
}
