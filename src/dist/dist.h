/* dist.h: cnnlab across processes: MPI behind a small interface.
 *
 * A cnnlab started by an MPI launcher (mpirun, mpiexec, srun) is one rank of
 * a world of `size` processes; started any other way it is a world of one,
 * and every function below is then a no-op that returns at once (a plain
 * cnnlab behaves exactly as it did before MPI existed). The build picks one
 * of two implementations of this header: src/dist/mpi.c where MPI's headers
 * are installed (Open MPI or MPICH), src/dist/single.c (a world of one)
 * where they are not. No other file of cnnlab names MPI.
 *
 * Who uses it: src/train/shard.c (data-parallel training: gradient
 * sums, batch-norm statistics), src/study/claim.c (rank 0 hands out a
 * study's runs), and src/cli/main.c (start, stop, and errors that stop every
 * rank). Collectives must be called by every rank in the same order. */
#ifndef CNN_DIST_H
#define CNN_DIST_H

#include <stddef.h>

#include "cnnlab/status.h"

/* Starts MPI when this process was launched as a rank (the launcher's
 * environment says so: OMPI_COMM_WORLD_SIZE, PMI_SIZE, PMIX_RANK), unless
 * CNNLAB_DIST_CHILD is set: it is set here for the processes a rank starts
 * (a study's `cnnlab train` runs), which run alone. Returns CNN_STATUS_OK or
 * CNN_STATUS_UNAVAILABLE with a message when MPI was wanted and failed (or
 * this cnnlab was built without MPI). */
cnn_status cnn_dist_init(cnn_error *err);
/* Ends MPI (every rank must call it); nothing in a world of one. */
void cnn_dist_finalize(void);
/* Stops every rank at once (MPI_Abort) with exit status code; in a world of
 * one, exits with it. */
void cnn_dist_abort(int code) __attribute__((noreturn));

int cnn_dist_rank(void); /* 0 .. size-1 */
int cnn_dist_size(void); /* 1 without MPI */
/* "mpi" (the implementation's version, e.g. "Open MPI v4.1.4") or "none". */
const char *cnn_dist_library(void);
/* This rank's host name. */
void cnn_dist_hostname(char *buf, size_t size);

/* ---- collectives (every rank calls them, in the same order) ---- */
void cnn_dist_barrier(void);
/* The same for a wait that may be long (a rank waiting for another's
 * training): it sleeps between checks instead of spinning on a core. */
void cnn_dist_barrier_idle(void);
/* root's bytes into every rank's buf. */
void cnn_dist_bcast(void *buf, size_t bytes, int root);
/* a[0..n) summed over the ranks, in place; every rank gets the same sums. */
void cnn_dist_sum_float(float *a, size_t n);
void cnn_dist_sum_double(double *a, size_t n);
/* The same for a large block, cut into buckets of at most bucket floats
 * that are all in flight at once (non-blocking allreduce), then waited for. */
void cnn_dist_sum_float_buckets(float *a, size_t n, size_t bucket);
/* Non-blocking sums: cnn_dist_sum_float_start starts summing a[0..n) over
 * the ranks in place (every rank starts the same blocks in the same order; a
 * must stay untouched until the wait); cnn_dist_progress lets the sums in
 * flight move on (MPI progresses them only inside its calls); cnn_dist_sum_wait
 * returns once every started sum has arrived. */
void cnn_dist_sum_float_start(float *a, size_t n);
void cnn_dist_progress(void);
void cnn_dist_sum_wait(void);
/* Every rank's mine[0..n) into all (size * n): rank r's at r * n. */
void cnn_dist_gather_double(const double *mine, size_t n, double *all);
/* The smallest of the ranks' values. */
int cnn_dist_min_int(int v);
/* Every rank's status together: when some rank failed (st != OK), every rank
 * returns the failure of the lowest such rank, its message prefixed with
 * "rank R (HOST): " in a world of more than one, and cnn_dist_agreed()
 * becomes 1 (each rank knows of the failure, so none needs to be aborted and
 * one message is enough: rank 0 prints it). In a world of one: st. */
cnn_status cnn_dist_agree(cnn_status st, cnn_error *err);
int cnn_dist_agreed(void);

/* ---- messages between two ranks ---- */
/* Sends bytes (at most 64 KiB) to rank `to` with a tag >= 0. */
void cnn_dist_send(int to, int tag, const void *buf, size_t bytes);
/* Waits for a message, sleeping between checks (from: a rank or -1 for any; tag: >= 0 or -1 for
 * any) into buf (cap bytes; a longer one is cut); returns its length and
 * fills *src and *got_tag (may be NULL). */
size_t cnn_dist_recv(int from, int tag, void *buf, size_t cap, int *src, int *got_tag);
/* 1 when a message (from any rank, any tag) is waiting, 0 otherwise. */
int cnn_dist_waiting(void);

#endif
