/* status.c: error records: a cnn_error holds a failure's status and message. */
#include <stdarg.h>
#include <stdio.h>

#include "cnnlab/status.h"

cnn_status cnn_error_set(cnn_error *err, cnn_status status, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->status = status;
    }
    return status;
}

const char *cnn_status_to_string(cnn_status status)
{
    switch (status) {
    case CNN_STATUS_OK: return "ok";
    case CNN_STATUS_INVALID_ARGUMENT: return "invalid argument";
    case CNN_STATUS_IO: return "input/output error";
    case CNN_STATUS_FORMAT: return "bad file format";
    case CNN_STATUS_MISSING_DATA: return "missing data";
    case CNN_STATUS_NO_MEMORY: return "out of memory";
    case CNN_STATUS_BACKEND: return "backend error";
    case CNN_STATUS_NUMERIC: return "numeric error";
    case CNN_STATUS_UNAVAILABLE: return "a program is unavailable";
    }
    return "unknown status";
}
