/* fuzz.h: what the libFuzzer targets in fuzz/ share (fuzz/README.md). Each
 * target feeds one reader the bytes libFuzzer gives it, as a file where the
 * reader takes a path; a reader may refuse anything, but must never crash,
 * hang, leak or trip a sanitizer. */
#ifndef CNN_FUZZ_H
#define CNN_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The path of a file (named name, in a folder of this process's own) that now
 * holds exactly data; the same path on every call. Aborts on failure. */
const char *cnn_fuzz_file(const char *name, const uint8_t *data, size_t size);
/* The folder that holds those files. */
const char *cnn_fuzz_dir(void);
/* data as a fresh NUL-terminated string (free()); NUL bytes inside are kept. */
char *cnn_fuzz_text(const uint8_t *data, size_t size);

#endif
