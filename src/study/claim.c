/* claim.c: several processes sharing one study's runs (docs/distributed.md).
 *
 * Two ways, one question for the runner ("which run is mine next?",
 * cnn_study_exec.claim):
 * - workers (`cnnlab study --worker`, Slurm array tasks): no process is in
 *   charge. A run is claimed by creating STUDY/runs/ID.claim with O_EXCL,
 *   which exactly one process can do; a claimed run is left to its claimer.
 *   The plain `cnnlab study` (holding the folder's lock alone, so no worker
 *   is left) removes every claim and runs what is still missing: a worker
 *   that died loses only its run, which the plain command runs again.
 * - MPI ranks (`mpirun cnnlab study`): rank 0 owns the bookkeeping. It hands
 *   out the runs in order, one per request, answering requests between its
 *   own runs' output (the tick); each rank reports its end, and after every
 *   rank has ended rank 0 writes the summary. The first failure stops the
 *   hand-out, and every rank ends with it.
 * Invariant: a run is handed to at most one process at a time; which process
 * trains a run changes nothing in it (its seed and flags are the study's). */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cnnlab/study.h"
#include "core/core.h"
#include "dist/dist.h"

enum { TAG_CLAIM = 71, TAG_GRANT, TAG_DONE };

typedef struct done_msg {
    int status;
    char msg[1024];
} done_msg;

/* ---- workers: claims in the study folder ---- */

cnn_status cnn_study_claim_file(void *user, int from, int *index, cnn_error *err)
{
    cnn_study_share *s = user;
    *index = s->n;
    if (s->max_claims > 0 && s->claims >= s->max_claims)
        return CNN_STATUS_OK;
    for (int j = from; j < s->n; j++) {
        char dir[4096], path[4200];
        snprintf(dir, sizeof dir, "%s/runs/%s", s->dir, s->runs[j].id);
        if (cnn_study_run_state(dir) != CNN_STUDY_RUN_MISSING)
            continue; /* ended: nothing to claim (the runner says it was kept) */
        snprintf(path, sizeof path, "%s.claim", dir);
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0 && errno == EEXIST)
            continue;
        if (fd < 0)
            return cnn_error_set(err, CNN_STATUS_IO, "%s: cannot claim the run: %s", path,
                                 strerror(errno));
        char host[128], line[512];
        cnn_dist_hostname(host, sizeof host);
        int len = snprintf(line, sizeof line, "host = %s\npid = %ld\nworker = %s\ntime = %ld\n",
                           host, (long)getpid(), s->who, (long)time(NULL));
        ssize_t wrote = write(fd, line, (size_t)len);
        close(fd);
        if (wrote != len)
            return cnn_error_set(err, CNN_STATUS_IO, "%s: cannot write the claim", path);
        s->claims++;
        *index = j;
        return CNN_STATUS_OK;
    }
    return CNN_STATUS_OK;
}

int cnn_study_claims_clear(const char *dir)
{
    char runs[4096];
    snprintf(runs, sizeof runs, "%s/runs", dir);
    DIR *d = opendir(runs);
    if (!d)
        return 0;
    int removed = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len <= 6 || strcmp(e->d_name + len - 6, ".claim") != 0)
            continue;
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", runs, e->d_name);
        removed += unlink(path) == 0;
    }
    closedir(d);
    return removed;
}

/* ---- MPI: rank 0 hands out the runs ---- */

/* rank 0: the next run nobody has, or n when none is left (or after a
 * failure). */
static int hand_out(cnn_study_share *s)
{
    return s->failed || s->next >= s->n ? s->n : s->next++;
}

/* rank 0: one message from another rank. */
static void serve_one(cnn_study_share *s)
{
    done_msg m;
    int src, tag;
    size_t got = cnn_dist_recv(-1, -1, &m, sizeof m, &src, &tag);
    if (tag == TAG_CLAIM) {
        int j = hand_out(s);
        cnn_dist_send(src, TAG_GRANT, &j, sizeof j);
    } else if (tag == TAG_DONE && got >= sizeof m.status) {
        s->ended++;
        if (m.status != CNN_STATUS_OK && !s->failed) {
            s->failed = 1;
            s->failure.status = (cnn_status)m.status;
            m.msg[sizeof m.msg - 1] = 0;
            snprintf(s->failure.msg, sizeof s->failure.msg, "%s", m.msg);
        }
    }
}

void cnn_study_serve(void *user)
{
    cnn_study_share *s = user;
    while (cnn_dist_waiting())
        serve_one(s);
}

cnn_status cnn_study_claim_rank(void *user, int from, int *index, cnn_error *err)
{
    cnn_study_share *s = user;
    if (cnn_dist_rank() == 0) {
        cnn_study_serve(s);
        *index = hand_out(s);
        return CNN_STATUS_OK;
    }
    int j = s->n;
    cnn_dist_send(0, TAG_CLAIM, &from, sizeof from);
    cnn_dist_recv(0, TAG_GRANT, &j, sizeof j, NULL, NULL);
    *index = j < from ? s->n : j;
    return CNN_STATUS_OK;
}

cnn_status cnn_study_share_end(cnn_study_share *s, cnn_status st, cnn_error *err)
{
    char host[128];
    cnn_dist_hostname(host, sizeof host);
    if (cnn_dist_rank() != 0) {
        done_msg m = {.status = st};
        if (st)
            snprintf(m.msg, sizeof m.msg, "rank %d (%.100s): %.900s", cnn_dist_rank(), host,
                     err->msg);
        cnn_dist_send(0, TAG_DONE, &m, sizeof m);
        return CNN_STATUS_OK;
    }
    if (st && !s->failed) {
        s->failed = 1;
        s->failure.status = st;
        snprintf(s->failure.msg, sizeof s->failure.msg, "rank 0 (%.100s): %.900s", host, err->msg);
    }
    while (s->ended < cnn_dist_size() - 1)
        serve_one(s);
    if (s->failed)
        *err = s->failure;
    return s->failed ? s->failure.status : CNN_STATUS_OK;
}

cnn_status cnn_study_check_shared(const char *dir, cnn_error *err)
{
    if (cnn_dist_size() <= 1)
        return CNN_STATUS_OK;
    char path[4200], host[128];
    snprintf(path, sizeof path, "%s/shared-check.txt", dir);
    cnn_dist_hostname(host, sizeof host);
    /* rank 0 writes a text only it can know; every rank must read it back */
    char token[256] = "";
    cnn_status st = CNN_STATUS_OK;
    if (cnn_dist_rank() == 0) {
        snprintf(token, sizeof token, "written by rank 0 on %.100s, process %ld, at %ld.%09ld\n",
                 host, (long)getpid(), (long)time(NULL), (long)clock());
        st = cnn_file_write_atomic(path, token, strlen(token), err);
    }
    if ((st = cnn_dist_agree(st, err)))
        return st;
    cnn_dist_bcast(token, sizeof token, 0);
    if (cnn_dist_rank() != 0) {
        char *text = cnn_file_text_or_null(path);
        if (!text || strcmp(text, token) != 0)
            st = cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                               "--out %s: this rank does not see the study folder rank 0 "
                               "writes (%s %s): with MPI the study folder must be on a file "
                               "system every rank sees (NFS, Lustre, GPFS, ...); nothing was "
                               "run", dir, path, text ? "holds another text" : "is not there");
        free(text);
    }
    st = cnn_dist_agree(st, err);
    if (cnn_dist_rank() == 0)
        remove(path);
    return st;
}
