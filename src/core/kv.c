/* kv.c: reading "key = value" lines, the format of the run and study files
 * cnnlab writes (config.txt, status.txt, select.txt). */
#include <stdio.h>
#include <string.h>

#include "core.h"

int cnn_kv_get(const char *text, const char *key, char *out, size_t size, const char *fallback)
{
    size_t n = strlen(key);
    for (const char *l = text; l && *l;) {
        const char *end = strchr(l, '\n');
        size_t len = end ? (size_t)(end - l) : strlen(l);
        if (len > n + 3 && strncmp(l, key, n) == 0 && strncmp(l + n, " = ", 3) == 0) {
            snprintf(out, size, "%.*s", (int)(len - n - 3), l + n + 3);
            return 1;
        }
        l = end ? end + 1 : l + len;
    }
    snprintf(out, size, "%s", fallback ? fallback : "");
    return 0;
}
