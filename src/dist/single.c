/* single.c: dist.h for a cnnlab built without MPI: a world of one process.
 *
 * Invariant: the collectives leave their buffers as they are (the sum over
 * one rank is the rank's own value); a process an MPI launcher started is
 * refused, since it would otherwise run the whole job once per rank. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"
#include "dist/dist.h"

cnn_status cnn_dist_init(cnn_error *err)
{
    const char *n = getenv("OMPI_COMM_WORLD_SIZE");
    if (!n)
        n = getenv("PMI_SIZE");
    if (!getenv("CNNLAB_DIST_CHILD") && n && atoi(n) > 1)
        return cnn_error_set(err, CNN_STATUS_UNAVAILABLE, "started by an MPI launcher as one of "
                             "%s ranks, but this cnnlab was built without MPI: install MPI's "
                             "headers (scripts/deps.sh installs libopenmpi-dev) and rebuild", n);
    return CNN_STATUS_OK;
}

void cnn_dist_finalize(void) {}

void cnn_dist_abort(int code)
{
    fflush(NULL);
    exit(code);
}

int cnn_dist_rank(void) { return 0; }
int cnn_dist_size(void) { return 1; }
const char *cnn_dist_library(void) { return "none"; }

void cnn_dist_hostname(char *buf, size_t size)
{
    if (gethostname(buf, size) != 0 && size)
        snprintf(buf, size, "?");
    if (size)
        buf[size - 1] = 0;
}

void cnn_dist_barrier(void) {}
void cnn_dist_barrier_idle(void) {}
void cnn_dist_bcast(void *buf, size_t bytes, int root) {}
void cnn_dist_sum_float(float *a, size_t n) {}
void cnn_dist_sum_double(double *a, size_t n) {}
void cnn_dist_sum_float_buckets(float *a, size_t n, size_t bucket) {}
void cnn_dist_sum_float_start(float *a, size_t n) {}
void cnn_dist_sum_wait(void) {}
void cnn_dist_progress(void) {}
void cnn_dist_gather_double(const double *mine, size_t n, double *all)
{
    memmove(all, mine, n * sizeof *all);
}
int cnn_dist_min_int(int v) { return v; }
cnn_status cnn_dist_agree(cnn_status st, cnn_error *err) { return st; }
int cnn_dist_agreed(void) { return 0; }

void cnn_dist_send(int to, int tag, const void *buf, size_t bytes)
{
    CNN_ASSERT(!"cnn_dist_send in a world of one");
}

size_t cnn_dist_recv(int from, int tag, void *buf, size_t cap, int *src, int *got_tag)
{
    CNN_ASSERT(!"cnn_dist_recv in a world of one");
    return 0;
}

int cnn_dist_waiting(void) { return 0; }
