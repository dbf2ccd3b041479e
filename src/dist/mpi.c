/* mpi.c: dist.h on MPI (Open MPI or MPICH; only MPI-3 calls).
 *
 * Invariant: MPI is initialised only in a process an MPI launcher started
 * as a rank; everything else sees a world of one and never touches MPI (an
 * Open MPI singleton would start its runtime for nothing). The world is
 * MPI_COMM_WORLD; MPI_THREAD_FUNNELED: only the thread that called
 * cnn_dist_init calls MPI (OpenMP threads never do). */
#define _POSIX_C_SOURCE 200809L
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"
#include "dist/dist.h"

/* MPI is process-wide state; so is this, its mirror. */
static int g_active, g_rank, g_size = 1, g_agreed;

static int launched_as_rank(void)
{
    if (getenv("CNNLAB_DIST_CHILD"))
        return 0;
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE") || getenv("PMIX_RANK") ||
           getenv("PMI_RANK");
}

cnn_status cnn_dist_init(cnn_error *err)
{
    if (!launched_as_rank())
        return CNN_STATUS_OK;
    int provided = 0;
    if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        return cnn_error_set(err, CNN_STATUS_UNAVAILABLE, "MPI_Init_thread failed: this process "
                             "was started by an MPI launcher but cannot join its world");
    g_active = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    /* An error in any rank is reported by cnnlab itself, then MPI_Abort. */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_ARE_FATAL);
    /* the processes this rank starts (a study's runs) are not ranks */
    setenv("CNNLAB_DIST_CHILD", "1", 1);
    return CNN_STATUS_OK;
}

void cnn_dist_finalize(void)
{
    if (g_active)
        MPI_Finalize();
    g_active = 0;
}

void cnn_dist_abort(int code)
{
    fflush(NULL);
    if (g_active && g_size > 1)
        MPI_Abort(MPI_COMM_WORLD, code);
    exit(code);
}

int cnn_dist_rank(void) { return g_rank; }
int cnn_dist_size(void) { return g_size; }

const char *cnn_dist_library(void)
{
    static char version[MPI_MAX_LIBRARY_VERSION_STRING];
    if (!version[0]) {
        int len = 0;
        MPI_Get_library_version(version, &len);
        version[strcspn(version, ",\n")] = 0; /* the first line, up to its details */
    }
    return version;
}

void cnn_dist_hostname(char *buf, size_t size)
{
    if (gethostname(buf, size) != 0 && size)
        snprintf(buf, size, "?");
    if (size)
        buf[size - 1] = 0;
}

void cnn_dist_barrier(void)
{
    if (g_size > 1)
        MPI_Barrier(MPI_COMM_WORLD);
}

/* A short sleep between checks of a wait that may last minutes: MPI's own
 * blocking calls spin, taking a core from the training beside them. */
static void nap(void)
{
    struct timespec ts = {0, 1000000}; /* 1 ms */
    nanosleep(&ts, NULL);
}

void cnn_dist_barrier_idle(void)
{
    if (g_size <= 1)
        return;
    MPI_Request req;
    MPI_Ibarrier(MPI_COMM_WORLD, &req);
    for (int done = 0;;) {
        MPI_Test(&req, &done, MPI_STATUS_IGNORE);
        if (done)
            return;
        nap();
    }
}

void cnn_dist_bcast(void *buf, size_t bytes, int root)
{
    if (g_size <= 1)
        return;
    /* in pieces below INT_MAX bytes */
    for (size_t done = 0; done < bytes;) {
        size_t part = bytes - done < (1u << 30) ? bytes - done : (1u << 30);
        MPI_Bcast((char *)buf + done, (int)part, MPI_BYTE, root, MPI_COMM_WORLD);
        done += part;
    }
}

static void sum(void *a, size_t n, MPI_Datatype t, size_t elem)
{
    for (size_t done = 0; done < n;) {
        size_t part = n - done < (1u << 28) ? n - done : (1u << 28);
        MPI_Allreduce(MPI_IN_PLACE, (char *)a + done * elem, (int)part, t, MPI_SUM,
                      MPI_COMM_WORLD);
        done += part;
    }
}

void cnn_dist_sum_float(float *a, size_t n)
{
    if (g_size > 1)
        sum(a, n, MPI_FLOAT, sizeof *a);
}

void cnn_dist_sum_double(double *a, size_t n)
{
    if (g_size > 1)
        sum(a, n, MPI_DOUBLE, sizeof *a);
}

/* the non-blocking sums in flight */
enum { MAX_REQ = 256 };
static MPI_Request g_req[MAX_REQ];
static int g_nreq;

void cnn_dist_sum_wait(void)
{
    MPI_Status stat[MAX_REQ]; /* not MPI_STATUSES_IGNORE: MPICH's is a null array */
    if (g_nreq > 0)
        MPI_Waitall(g_nreq, g_req, stat);
    g_nreq = 0;
}

void cnn_dist_sum_float_start(float *a, size_t n)
{
    if (g_size <= 1)
        return;
    for (size_t done = 0; done < n;) {
        size_t part = n - done < (1u << 28) ? n - done : (1u << 28);
        if (g_nreq == MAX_REQ)
            cnn_dist_sum_wait();
        MPI_Iallreduce(MPI_IN_PLACE, a + done, (int)part, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD,
                       &g_req[g_nreq++]);
        done += part;
    }
}

void cnn_dist_progress(void)
{
    int flag;
    MPI_Status stat[MAX_REQ];
    if (g_nreq > 0)
        MPI_Testall(g_nreq, g_req, &flag, stat);
}

void cnn_dist_sum_float_buckets(float *a, size_t n, size_t bucket)
{
    if (g_size <= 1)
        return;
    if (bucket < 1)
        bucket = n;
    for (size_t done = 0; done < n; done += bucket)
        cnn_dist_sum_float_start(a + done, n - done < bucket ? n - done : bucket);
    cnn_dist_sum_wait();
}

void cnn_dist_gather_double(const double *mine, size_t n, double *all)
{
    if (g_size <= 1) {
        memmove(all, mine, n * sizeof *all);
        return;
    }
    CNN_ASSERT(n < (1u << 28));
    MPI_Allgather(mine, (int)n, MPI_DOUBLE, all, (int)n, MPI_DOUBLE, MPI_COMM_WORLD);
}

int cnn_dist_min_int(int v)
{
    if (g_size <= 1)
        return v;
    int m;
    MPI_Allreduce(&v, &m, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    return m;
}

cnn_status cnn_dist_agree(cnn_status st, cnn_error *err)
{
    if (g_size <= 1)
        return st;
    int first = cnn_dist_min_int(st != CNN_STATUS_OK ? g_rank : g_size);
    if (first == g_size)
        return CNN_STATUS_OK;
    /* the failing rank's status and message, to everyone */
    struct {
        int status;
        char msg[sizeof err->msg];
    } m = {0};
    if (g_rank == first) {
        char host[128];
        cnn_dist_hostname(host, sizeof host);
        m.status = st;
        const char *msg = err && err->msg[0] ? err->msg : cnn_status_to_string(st);
        if (strncmp(msg, "rank ", 5) == 0) /* it names its rank already */
            snprintf(m.msg, sizeof m.msg, "%s", msg);
        else
            snprintf(m.msg, sizeof m.msg, "rank %d (%.100s): %.900s", g_rank, host, msg);
    }
    cnn_dist_bcast(&m, sizeof m, first);
    g_agreed = 1;
    return cnn_error_set(err, (cnn_status)m.status, "%s", m.msg);
}

int cnn_dist_agreed(void) { return g_agreed; }

void cnn_dist_send(int to, int tag, const void *buf, size_t bytes)
{
    CNN_ASSERT(g_size > 1 && bytes <= 65536 && tag >= 0);
    MPI_Send(buf, (int)bytes, MPI_BYTE, to, tag, MPI_COMM_WORLD);
}

size_t cnn_dist_recv(int from, int tag, void *buf, size_t cap, int *src, int *got_tag)
{
    CNN_ASSERT(g_size > 1);
    MPI_Status s;
    for (int flag = 0;;) {
        MPI_Iprobe(from < 0 ? MPI_ANY_SOURCE : from, tag < 0 ? MPI_ANY_TAG : tag, MPI_COMM_WORLD,
                   &flag, &s);
        if (flag)
            break;
        nap();
    }
    int count = 0;
    MPI_Get_count(&s, MPI_BYTE, &count);
    char *tmp = malloc(count > 0 ? (size_t)count : 1);
    CNN_ASSERT(tmp);
    MPI_Recv(tmp, count, MPI_BYTE, s.MPI_SOURCE, s.MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    size_t n = (size_t)count < cap ? (size_t)count : cap;
    memcpy(buf, tmp, n);
    free(tmp);
    if (src)
        *src = s.MPI_SOURCE;
    if (got_tag)
        *got_tag = s.MPI_TAG;
    return n;
}

int cnn_dist_waiting(void)
{
    if (g_size <= 1)
        return 0;
    int flag = 0;
    MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, MPI_STATUS_IGNORE);
    return flag;
}
