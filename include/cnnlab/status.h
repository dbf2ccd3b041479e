/* status.h: how libcnnlab reports failure.
 *
 * Every library function that can fail returns a cnn_status and, when given a
 * cnn_error, fills it with one line saying where (file, line, flag or layer),
 * what was expected and what was found. Only the command-line layer prints the
 * message and decides the exit status; the library never exits.
 */
#ifndef CNNLAB_STATUS_H
#define CNNLAB_STATUS_H

typedef enum cnn_status {
    CNN_STATUS_OK = 0,
    CNN_STATUS_INVALID_ARGUMENT, /* a flag, option or shape the caller gave is wrong */
    CNN_STATUS_IO,               /* a file could not be opened, read or written */
    CNN_STATUS_FORMAT,           /* a file's contents are not what its format says */
    CNN_STATUS_MISSING_DATA,     /* the dataset is not where it was looked for */
    CNN_STATUS_NO_MEMORY,
    CNN_STATUS_BACKEND,          /* oneDNN refused a primitive */
    CNN_STATUS_NUMERIC,          /* a loss or gradient became NaN or infinite */
    CNN_STATUS_UNAVAILABLE       /* a program cnnlab runs (gnuplot, a cnnlab process) is
                                  * missing or failed */
} cnn_status;

typedef struct cnn_error {
    cnn_status status;
    char msg[1024];
} cnn_error;

/* Records status and a printf-style message in err (err may be NULL); returns status. */
cnn_status cnn_error_set(cnn_error *err, cnn_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

const char *cnn_status_to_string(cnn_status status);

#endif
