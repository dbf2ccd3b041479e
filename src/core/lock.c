/* lock.c: one process at a time in a run or study folder.
 *
 * The lock is flock(2) on the folder itself: nothing is written into the
 * folder (a refused command leaves it as it was), and the kernel releases the
 * lock when its process ends, killed or not, so there is never a stale lock to
 * clean up. The holder's PID is read back from /proc/locks to name it. */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "core.h"

/* The PID holding an flock on the file of st (0: not found). A line of
 * /proc/locks reads "N: FLOCK  ADVISORY  WRITE PID MAJ:MIN:INODE 0 EOF",
 * MAJ and MIN in hex. */
static long lock_holder(const struct stat *st)
{
    FILE *f = fopen("/proc/locks", "r");
    if (!f)
        return 0;
    char line[512];
    long found = 0, by_inode = 0;
    while (fgets(line, sizeof line, f)) {
        char kind[32], mode[32], access[32];
        long pid;
        unsigned maj, mnr;
        unsigned long long ino;
        const char *p = strchr(line, ':');
        if (!p || sscanf(p + 1, "%31s %31s %31s %ld %x:%x:%llu", kind, mode, access, &pid, &maj,
                         &mnr, &ino) != 7 || strcmp(kind, "FLOCK") != 0 ||
            ino != (unsigned long long)st->st_ino || pid <= 0)
            continue;
        if (maj == major(st->st_dev) && mnr == minor(st->st_dev))
            found = pid;
        else
            by_inode = pid; /* an overlay may report another device */
    }
    fclose(f);
    return found ? found : by_inode;
}

static cnn_status lock_dir(const char *dir, int mode, const char *what, int *fd, cnn_error *err)
{
    *fd = -1;
    int d = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (d < 0)
        return cnn_error_set(err, CNN_STATUS_IO, "%s: cannot open the folder to lock it: %s", dir,
                             strerror(errno));
    while (flock(d, mode | LOCK_NB) != 0) {
        if (errno == EINTR)
            continue;
        int e = errno;
        struct stat st;
        long pid = e == EWOULDBLOCK && fstat(d, &st) == 0 ? lock_holder(&st) : 0;
        close(d);
        if (e != EWOULDBLOCK)
            return cnn_error_set(err, CNN_STATUS_IO, "%s: cannot lock the folder: %s", dir,
                                 strerror(e));
        if (pid > 0)
            return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                                 "%s %s is in use by process %ld (another cnnlab working in it); "
                                 "nothing was changed: wait for it to end, or stop it", what, dir,
                                 pid);
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                             "%s %s is in use by another process (another cnnlab working in "
                             "it); nothing was changed: wait for it to end, or stop it", what, dir);
    }
    *fd = d;
    return CNN_STATUS_OK;
}

cnn_status cnn_dir_lock(const char *dir, const char *what, int *fd, cnn_error *err)
{
    return lock_dir(dir, LOCK_EX, what, fd, err);
}

cnn_status cnn_dir_lock_shared(const char *dir, const char *what, int *fd, cnn_error *err)
{
    return lock_dir(dir, LOCK_SH, what, fd, err);
}

void cnn_dir_unlock(int fd)
{
    if (fd >= 0)
        close(fd); /* closing the only descriptor releases the flock */
}
