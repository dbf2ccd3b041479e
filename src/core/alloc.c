/* alloc.c: aligned, zeroed allocations for tensors (64 bytes: one cache line,
 * one AVX-512 register).
 *
 * The block comes from calloc, which for a block above glibc's mmap threshold
 * maps fresh pages from the kernel and does not write them: a buffer that is
 * allocated but never used (a model's gradients in an inference plan) costs
 * no resident memory. (cnnlab's main pins that threshold at 256 KiB; glibc's
 * own moves up to 32 MiB after large blocks are freed, and below it calloc
 * clears recycled memory.) The pointer calloc gave is kept just below the
 * aligned one, for cnn_free. */
#define _DEFAULT_SOURCE /* madvise */
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core.h"

#define ALLOC_TAG ((uintptr_t)0x636e6e6c61623634u) /* "cnnlab64" */

/* Blocks this large are a plan's activations, gradients and workspaces:
 * streamed every step, and first touched all in the first one. */
#define HUGE_BLOCK ((size_t)4 << 20)
#define HUGE_PAGE ((uintptr_t)2 << 20)

/* Asks the kernel for 2 MiB pages over the 2 MiB-aligned part of a fresh
 * mapping: one fault and one TLB entry where 4 KiB pages need 512 of each.
 * (Where transparent huge pages are "madvise", as on Debian, only advised
 * ranges get them; under "never" the advice is refused and changes nothing.) */
static void advise_huge(void *p, size_t bytes)
{
    uintptr_t lo = ((uintptr_t)p + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
    uintptr_t hi = ((uintptr_t)p + bytes) & ~(HUGE_PAGE - 1);
    if (hi > lo)
        madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
}

void *cnn_alloc(size_t bytes)
{
    if (bytes > SIZE_MAX - 2 * CNN_ALIGN)
        return NULL;
    /* calloc's pointer is aligned to at least 16 bytes, so rounding
     * raw + CNN_ALIGN down to CNN_ALIGN leaves 16 to 64 bytes below the
     * result: room for the raw pointer and a tag that cnn_free checks */
    char *raw = calloc(1, bytes + CNN_ALIGN);
    if (!raw)
        return NULL;
    uintptr_t at = ((uintptr_t)raw + CNN_ALIGN) & ~(uintptr_t)(CNN_ALIGN - 1);
    void **p = (void **)at;
    if (bytes >= HUGE_BLOCK)
        advise_huge(raw, bytes + CNN_ALIGN);
    p[-1] = raw;
    p[-2] = (void *)(ALLOC_TAG ^ (uintptr_t)raw);
    return p;
}

void cnn_free(void *p)
{
    if (!p)
        return;
    void **q = p;
    /* a pointer cnn_alloc did not give (malloc's, say) stops here, not in glibc */
    CNN_ASSERT((uintptr_t)q[-2] == (ALLOC_TAG ^ (uintptr_t)q[-1]));
    q[-2] = NULL;
    free(q[-1]);
}

void cnn_release_pages(void *p, size_t bytes)
{
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t lo = ((uintptr_t)p + page - 1) & ~(page - 1);
    uintptr_t hi = ((uintptr_t)p + bytes) & ~(page - 1);
    if (hi > lo)
        madvise((void *)lo, hi - lo, MADV_DONTNEED); /* advice: a refusal changes nothing */
}
