/* kv.c: lookups: "key = value" lines, the format of the run and study files
 * cnnlab writes (config.txt, status.txt, select.txt), and the name tables of
 * enums (optimizers, schedules, convolution algorithms). */
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

int cnn_name_find(const char *const *names, int count, const char *s)
{
    for (int i = 0; i < count; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return -1;
}

const char *cnn_name_of(const char *const *names, int count, int i)
{
    return i >= 0 && i < count ? names[i] : "?";
}
