/* runner.c: running a study's runs, each as its own `cnnlab train` process.
 *
 * Invariant: a run folder with a final status.txt (finished, stopped early,
 * diverged) is never touched again; a run folder without one is a run that was
 * killed: with a resume.state it goes on after its last finished epoch
 * (`cnnlab train --resume`), otherwise it is removed and run again from
 * scratch. While a run is under way its output goes to runs/ID.log (train
 * refuses a non-empty run folder), which becomes runs/ID/train.log when the
 * process ends. Several processes may share a study's runs (exec->claim:
 * MPI ranks, Slurm array tasks): each starts only the runs it claimed. */
#define _XOPEN_SOURCE 700
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cnnlab/study.h"
#include "core/core.h"

/* ---- the study folder ---- */

cnn_status cnn_study_load(const char *dir, cnn_study_spec *spec, cnn_error *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/study.txt", dir);
    char *text;
    size_t size;
    if (!cnn_path_exists(path))
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                             "%s is not a study folder: it has no study.txt (see `cnnlab study`)",
                             dir);
    cnn_status st = cnn_file_read_text(path, &text, &size, err);
    if (st)
        return st;
    st = cnn_study_spec_parse(text, spec, err);
    free(text);
    return st;
}

cnn_status cnn_study_open(const char *dir, const cnn_study_spec *spec, const char *control_settings,
                          cnn_error *err)
{
    char path[4096], settings[4096];
    snprintf(path, sizeof path, "%s/study.txt", dir);
    snprintf(settings, sizeof settings, "%s/settings.txt", dir);
    cnn_status st;
    if (cnn_path_exists(path)) {
        cnn_study_spec *old = malloc(sizeof *old);
        if (!old)
            return cnn_error_set(err, CNN_STATUS_NO_MEMORY, "out of memory");
        if ((st = cnn_study_load(dir, old, err))) {
            free(old);
            return st;
        }
        char what[8192];
        int same = cnn_study_spec_same(old, spec, what, sizeof what);
        free(old);
        if (!same)
            return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                                 "--out %s holds a different study; nothing was changed. The "
                                 "folder's study: %.400s; choose another --out", dir, what);
        unsigned char *was;
        size_t size;
        if (control_settings && cnn_file_read_all(settings, &was, &size, NULL) == CNN_STATUS_OK) {
            char diff[512];
            cnn_study_settings_diff((const char *)was, control_settings, diff, sizeof diff);
            free(was);
            if (*diff)
                return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                                     "--out %s: the base flags now train differently than when "
                                     "this study started (train's defaults changed: %s); "
                                     "nothing was changed: finish it with the cnnlab that "
                                     "started it, or start again with another --out (flags "
                                     "given explicitly keep their values)", dir, diff);
        }
    } else if (cnn_dir_nonempty(dir)) {
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                             "--out %s exists and is not a study folder (no study.txt); choose "
                             "another --out, nothing in it was changed", dir);
    }
    char runs[4096];
    snprintf(runs, sizeof runs, "%s/runs", dir);
    if ((st = cnn_mkdir_p(runs, err)))
        return st;
    char *text = malloc(65536);
    if (!text)
        return cnn_error_set(err, CNN_STATUS_NO_MEMORY, "out of memory");
    cnn_study_spec_format(spec, text, 65536);
    st = cnn_file_write_atomic(path, text, strlen(text), err);
    free(text);
    if (st == CNN_STATUS_OK && control_settings && !cnn_path_exists(settings))
        st = cnn_file_write_atomic(settings, control_settings, strlen(control_settings), err);
    return st;
}

/* ---- one run's state ---- */

/* The "status = ..." value of run_dir/status.txt into buf ("" if none). */
static void read_status(const char *run_dir, char *buf, size_t size)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/status.txt", run_dir);
    buf[0] = 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "status = ", 9) == 0) {
            line[strcspn(line, "\n")] = 0;
            snprintf(buf, size, "%.*s", (int)(size - 1), line + 9);
            break;
        }
    fclose(f);
}

cnn_study_outcome cnn_study_run_state(const char *run_dir)
{
    char s[64];
    read_status(run_dir, s, sizeof s);
    if (strcmp(s, "finished") == 0 || strcmp(s, "stopped early") == 0)
        return CNN_STUDY_RUN_FINISHED;
    if (strcmp(s, "diverged") == 0)
        return CNN_STUDY_RUN_DIVERGED;
    return CNN_STUDY_RUN_MISSING;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(path);
}

cnn_status cnn_study_remove_tree(const char *path, cnn_error *err)
{
    if (!cnn_path_exists(path))
        return CNN_STATUS_OK;
    if (nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        return cnn_error_set(err, CNN_STATUS_IO, "%s: cannot remove: %s", path, strerror(errno));
    return CNN_STATUS_OK;
}

cnn_status cnn_study_copy_run(const char *from, const char *to, cnn_error *err)
{
    cnn_status st = cnn_mkdir_p(to, err);
    if (st)
        return st;
    DIR *d = opendir(from);
    if (!d)
        return cnn_error_set(err, CNN_STATUS_IO, "%s: cannot open: %s", from, strerror(errno));
    struct dirent *e;
    while (st == CNN_STATUS_OK && (e = readdir(d))) {
        char src[4096], dst[4096];
        snprintf(src, sizeof src, "%.3900s/%.150s", from, e->d_name);
        snprintf(dst, sizeof dst, "%.3900s/%.150s", to, e->d_name);
        struct stat sb;
        if (stat(src, &sb) != 0 || !S_ISREG(sb.st_mode) || strstr(e->d_name, ".tmp"))
            continue;
        unsigned char *data;
        size_t size;
        if ((st = cnn_file_read_all(src, &data, &size, err)) == CNN_STATUS_OK) {
            st = cnn_file_write_atomic(dst, data, size, err);
            free(data);
        }
    }
    closedir(d);
    return st;
}

/* The control runs of exec->control_from, if that study has this one's base,
 * seed and repeats: run i's folder there, or "" when it cannot stand in. */
static void shared_control(const cnn_study_spec *spec, const cnn_study_run *r,
                           const cnn_study_exec *x, char *from, size_t size)
{
    from[0] = 0;
    if (!x->control_from || spec->grid || r->factor != -1)
        return;
    cnn_study_spec *other = malloc(sizeof *other);
    if (!other)
        return;
    int same = cnn_study_load(x->control_from, other, NULL) == CNN_STATUS_OK &&
               !other->grid && other->base_count == spec->base_count &&
               other->seed == spec->seed && other->repeats == spec->repeats;
    for (int i = 0; same && i < spec->base_count; i++)
        same = strcmp(other->base[i], spec->base[i]) == 0;
    free(other);
    if (!same)
        return;
    /* ... and was made by the same training settings (defaults included). */
    char a[4096], b[4096];
    snprintf(a, sizeof a, "%.4000s/settings.txt", x->control_from);
    snprintf(b, sizeof b, "%.4000s/settings.txt", x->dir);
    unsigned char *ta = NULL, *tb = NULL;
    size_t na = 0, nb = 0;
    same = cnn_file_read_all(a, &ta, &na, NULL) == CNN_STATUS_OK &&
           cnn_file_read_all(b, &tb, &nb, NULL) == CNN_STATUS_OK && na == nb &&
           memcmp(ta, tb, na) == 0;
    free(ta);
    free(tb);
    if (!same)
        return;
    snprintf(from, size, "%.3900s/runs/%.150s", x->control_from, r->id);
    if (cnn_study_run_state(from) != CNN_STUDY_RUN_FINISHED)
        from[0] = 0;
}

/* ---- running ---- */

typedef struct slot {
    int busy;       /* 0: free */
    cnn_proc proc;  /* the train process; proc.fd: its stdout+stderr */
    int index;      /* into runs */
    FILE *log;
    char line[4096];
    size_t len;
    char last[512]; /* the last error line ("cnnlab ..."), else the last line */
} slot;

static void run_paths(const cnn_study_exec *x, const cnn_study_run *r, char *dir, char *log)
{
    snprintf(dir, 4096, "%s/runs/%s", x->dir, r->id);
    snprintf(log, 4096, "%s/runs/%s.log", x->dir, r->id);
}

/* Starts run `index` as a `cnnlab train` process; resume: continues the killed
 * run in its folder (its flags are in its config.txt), its log appended to. */
static cnn_status start(const cnn_study_spec *spec, const cnn_study_run *runs, int index,
                        const cnn_study_exec *x, int resume, slot *s, cnn_error *err)
{
    const cnn_study_run *r = &runs[index];
    char dir[4096], log[4096], seed[32], threads[32];
    run_paths(x, r, dir, log);
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)r->seed);
    snprintf(threads, sizeof threads, "%d", x->threads);
    const char *argv[CNN_STUDY_MAX_ARGS + 2 * CNN_STUDY_MAX_FACTORS + 64];
    char scratch[2 * CNN_STUDY_MAX_FACTORS][CNN_STUDY_ARG_LEN];
    int n = 0;
    argv[n++] = "cnnlab";
    argv[n++] = "train";
    if (resume) {
        argv[n++] = "--resume";
        argv[n++] = dir;
    } else {
        n += cnn_study_config_args(spec, r->value, argv + n, scratch);
        argv[n++] = "--seed";
        argv[n++] = seed;
        argv[n++] = "--threads";
        argv[n++] = threads;
        argv[n++] = "--out";
        argv[n++] = dir;
        for (int i = 0; i < x->extra_count && i < 32; i++)
            argv[n++] = x->extra[i];
    }
    argv[n] = NULL;

    s->log = fopen(log, resume ? "a" : "w");
    if (!s->log)
        return cnn_error_set(err, CNN_STATUS_IO, "%s: cannot create: %s", log, strerror(errno));
    fcntl(fileno(s->log), F_SETFD, FD_CLOEXEC);
    cnn_proc_spec ps = {.argv = argv, .path = x->exe, .out = CNN_PROC_PIPE,
                        .err = CNN_PROC_PIPE};
    cnn_status st = cnn_proc_start(&ps, &s->proc, err);
    if (st) {
        fclose(s->log);
        return st;
    }
    /* The command line heads the log, as a shell would show it. */
    for (int i = 0; i < n; i++)
        fprintf(s->log, "%s%s", i ? " " : "$ ", argv[i]);
    fprintf(s->log, "\n");
    s->busy = 1;
    s->index = index;
    s->len = 0;
    s->last[0] = 0;
    return CNN_STATUS_OK;
}

static void emit_line(slot *s, const cnn_study_run *runs, int total, const cnn_study_hooks *h)
{
    s->line[s->len] = 0;
    fprintf(s->log, "%s\n", s->line);
    fflush(s->log);
    /* In-epoch progress on a terminal ends with \r; keep the last part. */
    char *text = strrchr(s->line, '\r');
    text = text ? text + 1 : s->line;
    if (*text) {
        if (strncmp(text, "cnnlab ", 7) == 0 || strncmp(s->last, "cnnlab ", 7) != 0)
            snprintf(s->last, sizeof s->last, "%.500s", text);
        if (h && h->on_line)
            h->on_line(h->user, s->index, total, &runs[s->index], text);
    }
    s->len = 0;
}

/* Reads what is there; returns 0 at the end of the output. */
static int drain(slot *s, const cnn_study_run *runs, int total, const cnn_study_hooks *h)
{
    char buf[4096];
    ssize_t got = read(s->proc.fd, buf, sizeof buf);
    if (got < 0 && errno == EINTR)
        return 1;
    if (got <= 0) {
        if (s->len)
            emit_line(s, runs, total, h);
        return 0;
    }
    for (ssize_t i = 0; i < got; i++) {
        if (buf[i] == '\n' || s->len + 1 >= sizeof s->line)
            emit_line(s, runs, total, h);
        if (buf[i] != '\n')
            s->line[s->len++] = buf[i];
    }
    return 1;
}

/* The process ended: how did the run end? Fills detail. */
static cnn_study_outcome finish(const cnn_study_exec *x, const cnn_study_run *r, slot *s,
                                char *detail, size_t size)
{
    int code = cnn_proc_wait(&s->proc); /* exit status, 128 + signal, -1 */
    fclose(s->log);
    s->busy = 0;
    char dir[4096], log[4096], final_log[4200];
    run_paths(x, r, dir, log);
    snprintf(final_log, sizeof final_log, "%s/train.log", dir);
    const char *log_at = log;
    struct stat sb;
    if (stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode) && rename(log, final_log) == 0)
        log_at = final_log;
    cnn_study_outcome state = cnn_study_run_state(dir);
    if (code == 0 && state == CNN_STUDY_RUN_FINISHED) {
        snprintf(detail, size, "log: %.900s", log_at);
        return CNN_STUDY_RUN_FINISHED;
    }
    if (state == CNN_STUDY_RUN_DIVERGED || code == 3) {
        if (state != CNN_STUDY_RUN_DIVERGED) {
            /* Record it, so that a rerun does not try again for ever. */
            char path[4200];
            snprintf(path, sizeof path, "%s/status.txt", dir);
            const char *text = "status = diverged\nepochs_run = 0\nbest_epoch = 0\n"
                               "best_val_acc = 0\ndetail = train exited with status 3\n";
            cnn_mkdir_p(dir, NULL);
            cnn_file_write_atomic(path, text, strlen(text), NULL);
        }
        snprintf(detail, size, "the loss became NaN or infinite (%.300s); log: %.600s", s->last, log_at);
        return CNN_STUDY_RUN_DIVERGED;
    }
    if (s->proc.signal)
        snprintf(detail, size, "train was killed by signal %d; log: %.900s", s->proc.signal,
                 log_at);
    else
        snprintf(detail, size, "train exited with status %d: %.400s (log: %.500s)", code, s->last,
                 log_at);
    return CNN_STUDY_RUN_FAILED;
}

cnn_status cnn_study_run_all(const cnn_study_spec *spec, const cnn_study_run *runs, int n,
                             const cnn_study_exec *x, const cnn_study_hooks *h, cnn_error *err)
{
    int jobs = x->jobs < 1 ? 1 : x->jobs > 64 ? 64 : x->jobs;
    slot slots[64];
    memset(slots, 0, sizeof slots);
    cnn_status st = CNN_STATUS_OK;
    char failure[1024] = "";
    int next = 0, active = 0;
    /* If the study itself is killed, its runs die with it: they write into a
     * pipe nobody reads (SIGPIPE), and a killed process group takes them all. */
    for (;;) {
        while (active < jobs && next < n && !*failure && st == CNN_STATUS_OK) {
            if (x->claim && ((st = x->claim(x->share, next, &next, err)) || next >= n))
                break;
            const cnn_study_run *r = &runs[next];
            char dir[4096], log[4096];
            run_paths(x, r, dir, log);
            cnn_study_outcome state = cnn_study_run_state(dir);
            if (state == CNN_STUDY_RUN_FINISHED || state == CNN_STUDY_RUN_DIVERGED) {
                if (h && h->on_start)
                    h->on_start(h->user, next, n, r,
                                state == CNN_STUDY_RUN_FINISHED ? "finished earlier, kept"
                                                                : "diverged earlier, kept");
                next++;
                continue;
            }
            /* A folder without a final status is a run that was killed: it goes
             * on from its last finished epoch if it has one, else from scratch. */
            char state_path[4200];
            snprintf(state_path, sizeof state_path, "%s/resume.state", dir);
            int resume = cnn_path_exists(state_path);
            if (!resume && (st = cnn_study_remove_tree(dir, err)))
                break;
            char from[4096] = "";
            if (!resume)
                shared_control(spec, r, x, from, sizeof from);
            if (*from) {
                if ((st = cnn_study_copy_run(from, dir, err)))
                    break;
                char copied[4200];
                snprintf(copied, sizeof copied, "copied from %.4000s (the same configuration and "
                         "seed)", from);
                if (h && h->on_start)
                    h->on_start(h->user, next, n, r, copied);
                next++;
                continue;
            }
            int k = 0;
            while (slots[k].busy)
                k++;
            if (h && h->on_start)
                h->on_start(h->user, next, n, r,
                            resume ? "resuming after its last finished epoch"
                            : cnn_path_exists(log) ? "running again" : "running");
            if ((st = start(spec, runs, next, x, resume, &slots[k], err)))
                break;
            active++;
            next++;
        }
        if (active == 0)
            break;
        struct pollfd fds[64];
        int map[64], nf = 0;
        for (int k = 0; k < jobs; k++)
            if (slots[k].busy) {
                fds[nf] = (struct pollfd){.fd = slots[k].proc.fd, .events = POLLIN};
                map[nf++] = k;
            }
        if (x->tick)
            x->tick(x->share);
        if (poll(fds, (nfds_t)nf, x->tick ? 50 : -1) < 0) {
            if (errno == EINTR)
                continue;
            st = cnn_error_set(err, CNN_STATUS_IO, "poll: %s", strerror(errno));
            break;
        }
        for (int i = 0; i < nf; i++) {
            if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            slot *s = &slots[map[i]];
            if (drain(s, runs, n, h))
                continue;
            char detail[1024];
            int index = s->index;
            cnn_study_outcome o = finish(x, &runs[index], s, detail, sizeof detail);
            active--;
            if (h && h->on_end)
                h->on_end(h->user, index, n, &runs[index], o, detail);
            if (o == CNN_STUDY_RUN_FAILED && !*failure)
                snprintf(failure, sizeof failure, "run %.150s failed: %.850s", runs[index].id, detail);
        }
    }
    /* After an error of our own, wait for the runs under way (they keep going). */
    for (int k = 0; k < jobs; k++)
        if (slots[k].busy) {
            while (drain(&slots[k], runs, n, h))
                ;
            char detail[1024];
            finish(x, &runs[slots[k].index], &slots[k], detail, sizeof detail);
        }
    if (st)
        return st;
    if (*failure)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                             "%s; the study stopped there (finished runs are kept; fix the "
                             "cause and run the same command again to continue)", failure);
    return CNN_STATUS_OK;
}
