/* proc.c: the one way cnnlab starts another program (see core.h): fork and
 * exec, no shell between; the child's output inherited, discarded, sent to
 * standard error or read through a pipe; one wait loop that retries only
 * EINTR. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core.h"

/* In the child: where descriptor fd (1 or 2) goes. */
static void redirect(int fd, cnn_proc_output how, int null, int pipe_w)
{
    if (how == CNN_PROC_NULL && null >= 0)
        dup2(null, fd);
    else if (how == CNN_PROC_TO_STDERR)
        dup2(STDERR_FILENO, fd);
    else if (how == CNN_PROC_PIPE)
        dup2(pipe_w, fd);
}

cnn_status cnn_proc_start(const cnn_proc_spec *s, cnn_proc *p, cnn_error *err)
{
    p->pid = -1;
    p->fd = -1;
    p->signal = 0;
    const char *path = s->path ? s->path : s->argv[0];
    int fds[2] = {-1, -1};
    int piped = s->out == CNN_PROC_PIPE || s->err == CNN_PROC_PIPE;
    if (piped && pipe(fds) != 0)
        return cnn_error_set(err, CNN_STATUS_IO, "cannot make a pipe to run %s: %s", path,
                             strerror(errno));
    fflush(NULL); /* what this process wrote comes before what the child writes */
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        if (piped) {
            close(fds[0]);
            close(fds[1]);
        }
        return cnn_error_set(err, CNN_STATUS_IO, "cannot start %s: %s", path, strerror(e));
    }
    if (pid == 0) {
        int null = s->null_stdin || s->out == CNN_PROC_NULL || s->err == CNN_PROC_NULL
                       ? open("/dev/null", O_RDWR) : -1;
        if (s->null_stdin && null >= 0)
            dup2(null, STDIN_FILENO);
        redirect(STDOUT_FILENO, s->out, null, fds[1]);
        redirect(STDERR_FILENO, s->err, null, fds[1]);
        if (piped) {
            close(fds[0]);
            close(fds[1]);
        }
        if (s->dir && chdir(s->dir) != 0)
            _exit(126);
        if (s->search_path)
            execvp(path, (char *const *)s->argv);
        else
            execv(path, (char *const *)s->argv);
        dprintf(STDERR_FILENO, "cannot run %s: %s\n", path, strerror(errno));
        _exit(127);
    }
    if (piped) {
        close(fds[1]);
        fcntl(fds[0], F_SETFD, FD_CLOEXEC);
        p->fd = fds[0];
    }
    p->pid = (long)pid;
    return CNN_STATUS_OK;
}

int cnn_proc_wait(cnn_proc *p)
{
    if (p->fd >= 0) {
        close(p->fd);
        p->fd = -1;
    }
    if (p->pid <= 0)
        return -1;
    int status;
    pid_t r;
    while ((r = waitpid((pid_t)p->pid, &status, 0)) < 0 && errno == EINTR)
        ;
    p->pid = -1;
    if (r < 0)
        return -1;
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) {
        p->signal = WTERMSIG(status);
        return 128 + p->signal;
    }
    return -1;
}

int cnn_proc_run(const cnn_proc_spec *s, cnn_error *err)
{
    cnn_proc p;
    if (cnn_proc_start(s, &p, err))
        return -1;
    return cnn_proc_wait(&p);
}
