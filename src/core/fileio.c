/* fileio.c: checked reads, atomic writes, directories. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core.h"

cnn_status cnn_file_open_read(const char *path, FILE **out, long long *size, cnn_error *err)
{
    *out = NULL;
    *size = 0;
    /* O_NONBLOCK: opening a FIFO must not wait for a writer; cleared below */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return cnn_error_set(err, CNN_STATUS_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return cnn_error_set(err, CNN_STATUS_IO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return cnn_error_set(err, CNN_STATUS_IO, "%s: expected a regular file, found %s", path,
                             S_ISDIR(st.st_mode) ? "a directory" : S_ISFIFO(st.st_mode) ? "a FIFO"
                             : S_ISSOCK(st.st_mode) ? "a socket" : "a device");
    }
    int flags = fcntl(fd, F_GETFL);
    FILE *f = flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0 ? NULL : fdopen(fd, "rb");
    if (!f) {
        int e = errno;
        close(fd);
        return cnn_error_set(err, CNN_STATUS_IO, "%s: cannot open: %s", path, strerror(e));
    }
    *out = f;
    *size = (long long)st.st_size;
    return CNN_STATUS_OK;
}

cnn_status cnn_file_read_all(const char *path, unsigned char **data, size_t *size, cnn_error *err)
{
    *data = NULL;
    *size = 0;
    FILE *f;
    long long n;
    cnn_status st = cnn_file_open_read(path, &f, &n, err);
    if (st)
        return st;
    if (n < 0 || (unsigned long long)n >= SIZE_MAX) {
        fclose(f);
        return cnn_error_set(err, CNN_STATUS_IO, "%s: expected a file size that fits in memory, "
                             "found %lld bytes", path, n);
    }
    unsigned char *buf = malloc((size_t)n + 1);
    if (!buf) {
        fclose(f);
        return cnn_error_set(err, CNN_STATUS_NO_MEMORY, "%s: no memory for %lld bytes", path, n);
    }
    size_t got = fread(buf, 1, (size_t)n, f);
    int more = got == (size_t)n && fgetc(f) != EOF; /* the file grew while being read */
    int bad = ferror(f);
    fclose(f);
    if (got != (size_t)n || more || bad) {
        free(buf);
        return cnn_error_set(err, CNN_STATUS_IO, "%s: read %zu of %lld bytes%s", path, got, n,
                             more ? " (the file changed while being read)" : "");
    }
    buf[n] = 0;
    *data = buf;
    *size = (size_t)n;
    return CNN_STATUS_OK;
}

cnn_status cnn_file_read_text(const char *path, char **text, size_t *size, cnn_error *err)
{
    unsigned char *data;
    cnn_status st = cnn_file_read_all(path, &data, size, err);
    *text = NULL;
    if (st)
        return st;
    const unsigned char *nul = memchr(data, 0, *size);
    if (nul) { /* it would end the text early, the rest unseen */
        int line = 1;
        for (const unsigned char *q = data; q < nul; q++)
            line += *q == '\n';
        free(data);
        *size = 0;
        return cnn_error_set(err, CNN_STATUS_FORMAT, "%s line %d: expected text, found a NUL "
                             "byte", path, line);
    }
    *text = (char *)data;
    return CNN_STATUS_OK;
}

char *cnn_file_text_or_null(const char *path)
{
    char *text;
    size_t size;
    cnn_error ignored;
    return cnn_file_read_text(path, &text, &size, &ignored) ? NULL : text;
}

/* fsync of the folder that holds path, so that a rename into it survives a crash. */
static int sync_parent(const char *path)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) : 0;
    if (n >= sizeof dir)
        return -1;
    if (!slash)
        memcpy(dir, ".", 2);
    else if (n == 0)
        memcpy(dir, "/", 2);
    else {
        memcpy(dir, path, n);
        dir[n] = 0;
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int r = fsync(fd);
    close(fd);
    return r;
}

/* What a failed write leaves: the file it would have replaced, or nothing. */
static const char *kept_text(const char *path)
{
    return cnn_path_exists(path) ? "the previous one is kept" : "it was not created";
}

cnn_status cnn_file_write_atomic(const char *path, const void *data, size_t size, cnn_error *err)
{
    /* A name no other writer uses: PATH.tmp.PID.N, created exclusively (two
     * threads, or a process that reuses a dead one's PID, take the next N). */
    char tmp[4096];
    int fd = -1;
    for (unsigned n = 0; fd < 0 && n < 1000; n++) {
        int len = snprintf(tmp, sizeof tmp, "%s.tmp.%ld.%u", path, (long)getpid(), n);
        if (len < 0 || (size_t)len >= sizeof tmp)
            return cnn_error_set(err, CNN_STATUS_IO, "%s: path too long", path);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0 && errno != EEXIST)
            return cnn_error_set(err, CNN_STATUS_IO, "%s: cannot create: %s", tmp, strerror(errno));
    }
    if (fd < 0)
        return cnn_error_set(err, CNN_STATUS_IO, "%s: cannot create a temporary file beside it: "
                             "1000 names taken", path);
    const unsigned char *p = data;
    size_t left = size;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            close(fd);
            unlink(tmp);
            return cnn_error_set(err, CNN_STATUS_IO, "%s: cannot write it (%s after %zu of %zu "
                                 "bytes); %s", path, strerror(e), size - left, size,
                                 kept_text(path));
        }
        p += w;
        left -= (size_t)w;
    }
    if (fsync(fd) != 0) {
        int e = errno;
        close(fd);
        unlink(tmp);
        return cnn_error_set(err, CNN_STATUS_IO, "%s: cannot flush it to disk (%s); %s", path,
                             strerror(e), kept_text(path));
    }
    if (close(fd) != 0) {
        int e = errno;
        unlink(tmp);
        return cnn_error_set(err, CNN_STATUS_IO, "%s: cannot flush it to disk (%s); %s", path,
                             strerror(e), kept_text(path));
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return cnn_error_set(err, CNN_STATUS_IO, "%s: cannot rename into place: %s", path, strerror(e));
    }
    if (sync_parent(path) != 0)
        return cnn_error_set(err, CNN_STATUS_IO, "%s: written, but its folder cannot be flushed "
                             "to disk: %s", path, strerror(errno));
    return CNN_STATUS_OK;
}

/* 1 if name is NAME.tmp.PID.N, the form cnn_file_write_atomic gives its
 * temporary files. */
static int is_temp_name(const char *name)
{
    const char *t = strstr(name, ".tmp.");
    if (!t || t == name)
        return 0;
    const char *p = t + 5;
    for (int part = 0; part < 2; part++) {
        if (*p < '0' || *p > '9')
            return 0;
        while (*p >= '0' && *p <= '9')
            p++;
        if (part == 0 && *p++ != '.')
            return 0;
    }
    return *p == 0;
}

int cnn_file_remove_temps(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int removed = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char path[4096];
        if (!is_temp_name(e->d_name) ||
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path)
            continue;
        struct stat st;
        if (lstat(path, &st) == 0 && S_ISREG(st.st_mode) && unlink(path) == 0)
            removed++;
    }
    closedir(d);
    return removed;
}

int cnn_path_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

int cnn_dir_nonempty(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return 0;
    struct dirent *e;
    int found = 0;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            found = 1;
            break;
        }
    }
    closedir(d);
    return found;
}

cnn_status cnn_mkdir_p(const char *path, cnn_error *err)
{
    char buf[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "bad directory path '%s'", path);
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] == '/' || buf[i] == 0) {
            char c = buf[i];
            buf[i] = 0;
            if (mkdir(buf, 0755) != 0 && errno != EEXIST)
                return cnn_error_set(err, CNN_STATUS_IO, "%s: cannot create directory: %s", buf,
                                     strerror(errno));
            buf[i] = c;
        }
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return cnn_error_set(err, CNN_STATUS_IO, "%s: exists and is not a directory", path);
    return CNN_STATUS_OK;
}

double cnn_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

uint64_t cnn_fnv1a(const void *data, size_t n)
{
    const unsigned char *p = data;
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

cnn_status cnn_file_write_summed(const char *path, unsigned char *data, size_t size,
                                 cnn_error *err)
{
    CNN_ASSERT(size >= 8);
    uint64_t sum = cnn_fnv1a(data, size - 8);
    memcpy(data + size - 8, &sum, 8);
    return cnn_file_write_atomic(path, data, size, err);
}

cnn_status cnn_file_read_versioned(const char *path, const char magic[8], const char *kind,
                                   uint32_t version, size_t header_bytes, unsigned char **buf,
                                   size_t *size, cnn_error *err)
{
    cnn_status st = cnn_file_read_all(path, buf, size, err);
    if (st)
        return st;
    uint32_t found;
    if (*size < header_bytes + 8 || memcmp(*buf, magic, 8) != 0)
        st = cnn_error_set(err, CNN_STATUS_FORMAT, "%s: not a cnnlab %s file (expected the %.8s "
                           "header)", path, kind, magic);
    else if (memcpy(&found, *buf + 8, 4), found != version)
        st = cnn_error_set(err, CNN_STATUS_FORMAT, "%s: %s format version %u, expected %u", path,
                           kind, found, version);
    if (st) {
        free(*buf);
        *buf = NULL;
    }
    return st;
}

int cnn_file_sum_ok(const unsigned char *data, size_t size)
{
    uint64_t sum;
    if (size < 8)
        return 0;
    memcpy(&sum, data + size - 8, 8);
    return sum == cnn_fnv1a(data, size - 8);
}

int cnn_cache_dir(char *out, size_t size)
{
    const char *dir = getenv("CNNLAB_CACHE_DIR");
    int n;
    if (dir)
        n = snprintf(out, size, "%s", dir);
    else if ((dir = getenv("XDG_CACHE_HOME")) && dir[0] == '/')
        n = snprintf(out, size, "%s/cnnlab", dir);
    else if ((dir = getenv("HOME")) && dir[0])
        n = snprintf(out, size, "%s/.cache/cnnlab", dir);
    else
        return 0;
    return n > 0 && (size_t)n < size;
}
