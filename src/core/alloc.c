/* alloc.c: aligned, zeroed allocations for tensors (64 bytes: one cache line,
 * one AVX-512 register). */
#include <string.h>

#include "core.h"

void *cnn_alloc(size_t bytes)
{
    if (bytes == 0)
        bytes = CNN_ALIGN;
    size_t rounded = (bytes + CNN_ALIGN - 1) / CNN_ALIGN * CNN_ALIGN;
    void *p = aligned_alloc(CNN_ALIGN, rounded);
    if (p)
        memset(p, 0, rounded);
    return p;
}

void cnn_free(void *p) { free(p); }
