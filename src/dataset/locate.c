/* locate.c: finding the CIFAR-10 folder, and fetching it when allowed.
 *
 * A folder is usable when it holds all six official batch files. When it does
 * not, the caller allowed it and the folder is named cifar-10-batches-bin (the
 * name the official archive unpacks to), the archive is fetched with curl or
 * wget into the folder's parent as NAME.part, its MD5 checked, renamed, and
 * unpacked with tar into a fresh temporary folder beside it, from which only
 * the files the folder lacks are moved in. Helper programs are started with
 * cnn_proc_start and an argument vector: no shell ever sees a path. Invariants:
 * a failed or partial download never leaves a file named like the finished
 * archive; a file already in the folder is never replaced. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "cnnlab/data.h"
#include "core/core.h"
#include "dataset/locate.h"
#include "dataset/md5.h"

#define DEFAULT_DIR "data/cifar-10-batches-bin"
#define FOLDER_NAME "cifar-10-batches-bin"
#define ARCHIVE_NAME "cifar-10-binary.tar.gz"
#define ARCHIVE_URL "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
#define ARCHIVE_MD5 "c32a1d4ab5d03f1284b67883e8d87530"
#define NFILES 6
#define PATH_MAX_LEN 4096

static const char *const required[NFILES] = {
    "data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
    "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin",
};

/* Writes the names of the files folder lacks, comma-separated, into list;
 * returns how many are missing. */
static int list_missing(const char *folder, char *list, size_t size)
{
    int missing = 0;
    size_t used = 0;
    list[0] = 0;
    for (int i = 0; i < NFILES; i++) {
        char path[PATH_MAX_LEN + 32];
        snprintf(path, sizeof path, "%s/%s", folder, required[i]);
        if (cnn_path_exists(path))
            continue;
        int n = snprintf(list + used, size - used, "%s%s", missing ? ", " : "", required[i]);
        if (n > 0 && used + (size_t)n < size)
            used += (size_t)n;
        missing++;
    }
    return missing;
}

/* Full path of an executable found on $PATH into out; 0 when there is none. */
static int find_program(const char *name, char *out, size_t size)
{
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        size_t len = strcspn(path, ":"); /* an empty entry means the current folder */
        int n = len ? snprintf(out, size, "%.*s/%s", (int)len, path, name)
                    : snprintf(out, size, "./%s", name);
        if (n > 0 && (size_t)n < size && access(out, X_OK) == 0)
            return 1;
        path += len;
        if (*path == ':')
            path++;
    }
    return 0;
}

/* Runs argv (argv[0] a full path) with its standard output sent to standard
 * error, waits, and returns its exit status, or -1 if it could not be run or
 * was killed. */
static int run_program(char *const argv[])
{
    cnn_proc_spec spec = {.argv = (const char *const *)argv, .out = CNN_PROC_TO_STDERR};
    cnn_proc p;
    if (cnn_proc_start(&spec, &p, NULL))
        return -1;
    int rc = cnn_proc_wait(&p);
    return p.signal || rc == 127 ? -1 : rc;
}

cnn_status cnn_cifar_unpack(const char *archive, const char *folder, cnn_error *err)
{
    char prog[PATH_MAX_LEN], tmp[PATH_MAX_LEN], inner[PATH_MAX_LEN + 32];
    const char *base = strrchr(folder, '/');
    size_t parent_len = base ? (size_t)(base - folder) : 0;
    int n = snprintf(tmp, sizeof tmp, "%.*s%s.%s.unpack.XXXXXX", (int)parent_len, folder,
                     base ? "/" : "", base ? base + 1 : folder);
    if (n < 0 || (size_t)n >= sizeof tmp)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "%s: path too long", folder);
    if (!find_program("tar", prog, sizeof prog))
        return cnn_error_set(err, CNN_STATUS_MISSING_DATA, "tar is not installed to unpack %s",
                             archive);
    cnn_status st = cnn_mkdir_p(folder, err);
    if (st)
        return st;
    if (!mkdtemp(tmp))
        return cnn_error_set(err, CNN_STATUS_IO, "%s: cannot create a temporary folder to "
                             "unpack %s into: %s", tmp, archive, strerror(errno));
    fprintf(stderr, "cnnlab: unpacking %s into %s/\n", archive, tmp);
    char *argv[] = {prog, "-xzf", (char *)archive, "-C", tmp, NULL};
    int rc = run_program(argv);
    snprintf(inner, sizeof inner, "%s/" FOLDER_NAME, tmp);
    DIR *d = opendir(inner);
    if (rc != 0)
        st = cnn_error_set(err, CNN_STATUS_MISSING_DATA, "unpacking %s failed (tar status %d)",
                           archive, rc);
    else if (!d)
        st = cnn_error_set(err, CNN_STATUS_MISSING_DATA, "%s: expected the folder " FOLDER_NAME
                           " in it, found none", archive);
    /* Each unpacked file goes into folder unless folder has it already;
     * whatever is left is removed with the temporary folder. */
    int moved = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char from[PATH_MAX_LEN + 320], to[PATH_MAX_LEN + 320];
        snprintf(from, sizeof from, "%s/%s", inner, e->d_name);
        snprintf(to, sizeof to, "%s/%s", folder, e->d_name);
        /* link(2) refuses a name that exists, whatever it is; rename where
         * the file system has no hard links. */
        if (st == CNN_STATUS_OK && link(from, to) == 0) {
            moved++;
        } else if (st == CNN_STATUS_OK && errno != EEXIST) {
            if (!cnn_path_exists(to) && rename(from, to) == 0) {
                moved++;
                continue;
            }
            st = cnn_error_set(err, CNN_STATUS_IO, "%s: cannot move it into %s/: %s", from,
                               folder, strerror(errno));
        }
        unlink(from);
    }
    if (d)
        closedir(d);
    if ((d && rmdir(inner) != 0) || rmdir(tmp) != 0) {
        if (st == CNN_STATUS_OK)
            st = cnn_error_set(err, CNN_STATUS_IO, "%s: unpacked, but this temporary folder "
                               "could not be removed: %s", tmp, strerror(errno));
    }
    if (st == CNN_STATUS_OK)
        fprintf(stderr, "cnnlab: moved %d unpacked file%s into %s/\n", moved,
                moved == 1 ? "" : "s", folder);
    return st;
}

/* Fetches and checks the archive into parent, then unpacks what folder lacks.
 * On failure returns non-zero with a short reason in why. */
static int download(const char *parent, const char *folder, char *why, size_t why_size)
{
    char archive[PATH_MAX_LEN + 64], part[PATH_MAX_LEN + 64], prog[PATH_MAX_LEN];
    snprintf(archive, sizeof archive, "%s/%s", parent, ARCHIVE_NAME);
    snprintf(part, sizeof part, "%s/%s.part", parent, ARCHIVE_NAME);
    cnn_error e;
    if (cnn_mkdir_p(parent, &e) != CNN_STATUS_OK) {
        snprintf(why, why_size, "%s", e.msg);
        return 1;
    }

    char hex[33] = "";
    /* An archive left by an earlier run whose unpacking failed is reused if intact. */
    int have_archive = cnn_path_exists(archive) &&
                       cnn_md5_file(archive, hex, &e) == CNN_STATUS_OK &&
                       strcmp(hex, ARCHIVE_MD5) == 0;
    if (!have_archive) {
        int curl = find_program("curl", prog, sizeof prog);
        if (!curl && !find_program("wget", prog, sizeof prog)) {
            snprintf(why, why_size, "neither curl nor wget is installed");
            return 1;
        }
        fprintf(stderr, "cnnlab: downloading CIFAR-10 (162 MiB) from %s into %s/\n",
                ARCHIVE_URL, parent);
        char *curl_argv[] = {prog, "-fL", "--connect-timeout", "10", "-o", part, ARCHIVE_URL,
                             NULL};
        char *wget_argv[] = {prog, "--connect-timeout=10", "--tries=2", "-O", part, ARCHIVE_URL,
                             NULL};
        int rc = run_program(curl ? curl_argv : wget_argv);
        if (rc != 0) {
            unlink(part);
            if (rc < 0)
                snprintf(why, why_size, "%s could not be run", prog);
            else
                snprintf(why, why_size, "%s exited with status %d; offline?", prog, rc);
            return 1;
        }
        fprintf(stderr, "cnnlab: checking the MD5 of %s\n", part);
        if (cnn_md5_file(part, hex, &e) != CNN_STATUS_OK) {
            unlink(part);
            snprintf(why, why_size, "%s", e.msg);
            return 1;
        }
        if (strcmp(hex, ARCHIVE_MD5) != 0) {
            unlink(part);
            snprintf(why, why_size, "the archive's MD5 is %s, expected %s; a proxy page?", hex,
                     ARCHIVE_MD5);
            return 1;
        }
        if (rename(part, archive) != 0) {
            snprintf(why, why_size, "cannot rename %s into place: %s", part, strerror(errno));
            unlink(part);
            return 1;
        }
    }

    if (cnn_cifar_unpack(archive, folder, &e) != CNN_STATUS_OK) {
        snprintf(why, why_size, "%s", e.msg);
        return 1;
    }
    unlink(archive);
    return 0;
}

cnn_status cnn_cifar_locate(const char *dir, int allow_download, char *resolved,
                            size_t resolved_size, cnn_error *err)
{
    if (resolved && resolved_size > 0)
        resolved[0] = 0;
    const char *given = dir && *dir ? dir : DEFAULT_DIR;
    char folder[PATH_MAX_LEN];
    size_t len = strlen(given);
    while (len > 1 && given[len - 1] == '/')
        len--;
    if (!resolved || len >= sizeof folder || len >= resolved_size)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                             "%s: data folder path too long (%zu bytes; room for %zu)", given,
                             len, resolved && resolved_size ? resolved_size - 1 : 0);
    memcpy(folder, given, len);
    folder[len] = 0;

    char missing[160], what[192];
    if (list_missing(folder, missing, sizeof missing) == 0) {
        memcpy(resolved, folder, len + 1);
        return CNN_STATUS_OK;
    }

    const char *base = strrchr(folder, '/');
    base = base ? base + 1 : folder;
    char parent[PATH_MAX_LEN];
    if (base == folder)
        snprintf(parent, sizeof parent, ".");
    else if (base == folder + 1)
        snprintf(parent, sizeof parent, "/");
    else
        snprintf(parent, sizeof parent, "%.*s", (int)(base - folder - 1), folder);

    if (cnn_path_exists(folder))
        snprintf(what, sizeof what, "missing %s", missing);
    else
        snprintf(what, sizeof what, "no such folder");
    const char *put = "Put the official binary files (data_batch_1.bin ... data_batch_5.bin, "
                      "test_batch.bin, from " ARCHIVE_URL ")";
    if (!allow_download || strcmp(base, FOLDER_NAME) != 0)
        return cnn_error_set(err, CNN_STATUS_MISSING_DATA,
                             "CIFAR-10 not found in %s (%s). %s in %s/, or point --data "
                             "at the folder that holds them.",
                             folder, what, put, folder);

    char why[PATH_MAX_LEN + 256] = "";
    int had_parent = cnn_path_exists(parent);
    if (download(parent, folder, why, sizeof why) != 0) {
        if (!had_parent)
            rmdir(parent); /* only if still empty: leave no trace of a failed attempt */
        return cnn_error_set(err, CNN_STATUS_MISSING_DATA,
                             "CIFAR-10 not found in %s (%s) and the download from %s "
                             "failed (%s). %s in %s/, or point --data at the folder that holds "
                             "them.",
                             folder, what, ARCHIVE_URL, why, put, folder);
    }
    if (list_missing(folder, missing, sizeof missing) != 0)
        return cnn_error_set(err, CNN_STATUS_MISSING_DATA,
                             "%s: still missing %s after unpacking the official archive",
                             folder, missing);
    memcpy(resolved, folder, len + 1);
    return CNN_STATUS_OK;
}
