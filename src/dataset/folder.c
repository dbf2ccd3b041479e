/* folder.c: image folders in torchvision's ImageFolder layout, decoded once
 * and cached as a packed file that later runs map.
 *
 * Layout: ROOT/train/CLASS/FILE and ROOT/test/CLASS/FILE; the classes are
 * the folders of ROOT/train in byte order of their names (torchvision's
 * order), label k the k-th. Files and folders whose names start with '.' are
 * not read. Without ROOT/test, a file of ROOT/train is in the test set when
 * the FNV-1a hash of its path under ROOT, modulo 10^6, is below
 * test_fraction * 10^6: the same files for every run, whatever the seed.
 * Each file is decoded by cnn_image_decode (image.c) to the source's C x H x W.
 *
 * The cache: one file per split and shape, named SPLIT-HxWxC-KEY.bin, in
 * ROOT/.cnnlab-cache/, or, when ROOT cannot be written (a system-installed
 * dataset), in the user's cache folder (cnn_cache_dir)/folders/ under a name
 * that starts with the hash of ROOT's absolute path. KEY is the FNV-1a of the
 * split's file list (paths, sizes, modification times), the shape, the
 * held-out fraction and --skip-bad: any change makes a new key. Its layout
 * (little-endian): "CNNLABD1", u32 version 1, u32 count, c, h, w, classes,
 * u32 0, u64 key, u64 labels_offset, u64 pixels_offset (64-byte aligned),
 * then the labels and the pixels (count, C, H, W). It is written atomically
 * (cnn_file_write_atomic) and read with mmap: the dataset is then the
 * mapping, held once. Invariant: a failed decode (a bad file without
 * --skip-bad) writes nothing. */
#define _XOPEN_SOURCE 700
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cnnlab/data.h"
#include "core/core.h"
#include "dataset/readers.h"

#define CACHE_MAGIC "CNNLABD1"
#define CACHE_VERSION 1u
#define HEADER_BYTES 64
#define CHUNK 512 /* files decoded between two progress notes */

typedef struct entry {
    char *rel;       /* "train/cat/0001.png", under ROOT */
    int label;
    long long size;
    long long mtime_ns;
} entry;

typedef struct listing {
    entry *e;
    int n, cap;
} listing;

static void listing_free(listing *l)
{
    for (int i = 0; i < l->n; i++)
        free(l->e[i].rel);
    free(l->e);
    *l = (listing){0};
}

/* note(src, fmt, ...): a line to the source's note hook, if any */
#define note(src, ...) cnn_notef((src)->note, (src)->note_user, __VA_ARGS__)

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in dir (no '.' names) that are folders (want_dirs) or regular
 * files, sorted; *names NULL and n 0 when dir cannot be opened. */
static cnn_status list_names(const char *dir, int want_dirs, char ***names, int *n,
                             cnn_error *err)
{
    *names = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return CNN_STATUS_OK;
    int cap = 0;
    cnn_status st = CNN_STATUS_OK;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        char path[PATH_MAX + 512];
        struct stat sb;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (stat(path, &sb) != 0 || (want_dirs ? !S_ISDIR(sb.st_mode) : S_ISDIR(sb.st_mode)))
            continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 64;
            char **grown = realloc(*names, (size_t)cap * sizeof *grown);
            if (!grown) {
                st = cnn_error_set(err, CNN_STATUS_NO_MEMORY, "%s: no memory for its list", dir);
                break;
            }
            *names = grown;
        }
        if (!((*names)[*n] = strdup(e->d_name))) {
            st = cnn_error_set(err, CNN_STATUS_NO_MEMORY, "%s: no memory for its list", dir);
            break;
        }
        (*n)++;
    }
    closedir(d);
    if (*n > 1)
        qsort(*names, (size_t)*n, sizeof **names, name_cmp);
    return st;
}

static void names_free(char **names, int n)
{
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

cnn_status cnn_folder_probe(const cnn_data_source *src, cnn_data_info *info, cnn_error *err)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/train", src->path);
    char **names;
    int n;
    cnn_status st = list_names(dir, 1, &names, &n, err);
    if (st)
        return st;
    names_free(names, n);
    if (n == 0)
        return cnn_error_set(err, CNN_STATUS_MISSING_DATA, "--data %s: expected an image folder "
                             "(%s/CLASS/IMAGE, one folder per class), found no class folders in "
                             "%s", src->path, dir, dir);
    if (n > CNN_DATA_MAX_CLASSES)
        return cnn_error_set(err, CNN_STATUS_FORMAT, "--data %s: %s holds %d class folders; "
                             "expected at most %d", src->path, dir, n, CNN_DATA_MAX_CLASSES);
    info->classes = n;
    info->c = src->channels ? src->channels : 3;
    info->h = src->image_h ? src->image_h : 32;
    info->w = src->image_w ? src->image_w : 32;
    return CNN_STATUS_OK;
}

static double test_share(const cnn_data_source *src)
{
    return src->test_fraction > 0 ? src->test_fraction : 0.2;
}

/* Without ROOT/test: 1 if the file at rel belongs to the held-out test set. */
static int held_out(const char *rel, double share)
{
    return cnn_fnv1a(rel, strlen(rel)) % 1000000u < (uint64_t)(share * 1e6 + 0.5);
}

/* The files of one split with their labels, sizes and times, in class then
 * name order. */
static cnn_status list_split(const cnn_data_source *src, int test, char **classes, int nclasses,
                             listing *out, cnn_error *err)
{
    *out = (listing){0};
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/test", src->path);
    struct stat sb;
    int has_test = stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode);
    const char *split = test && has_test ? "test" : "train";
    if (test && has_test) { /* its class folders must be the training set's */
        char **tn;
        int ntn;
        cnn_status st = list_names(dir, 1, &tn, &ntn, err);
        if (st)
            return st;
        for (int i = 0; i < ntn && !st; i++)
            if (!bsearch(&tn[i], classes, (size_t)nclasses, sizeof *classes, name_cmp))
                st = cnn_error_set(err, CNN_STATUS_FORMAT, "%s/%s: a class folder that %s/train "
                                   "does not have; expected the test classes to be training "
                                   "classes", dir, tn[i], src->path);
        names_free(tn, ntn);
        if (st)
            return st;
    }
    cnn_status st = CNN_STATUS_OK;
    for (int k = 0; k < nclasses && !st; k++) {
        char cdir[PATH_MAX];
        snprintf(cdir, sizeof cdir, "%s/%s/%s", src->path, split, classes[k]);
        char **files;
        int nf;
        if ((st = list_names(cdir, 0, &files, &nf, err)))
            break;
        for (int i = 0; i < nf && !st; i++) {
            char rel[PATH_MAX], path[PATH_MAX * 2];
            snprintf(rel, sizeof rel, "%s/%s/%s", split, classes[k], files[i]);
            if (!has_test && held_out(rel, test_share(src)) != test)
                continue;
            snprintf(path, sizeof path, "%s/%s", src->path, rel);
            if (stat(path, &sb) != 0)
                continue; /* gone since it was listed */
            if (out->n == out->cap) {
                out->cap = out->cap ? 2 * out->cap : 1024;
                entry *grown = realloc(out->e, (size_t)out->cap * sizeof *grown);
                if (!grown) {
                    st = cnn_error_set(err, CNN_STATUS_NO_MEMORY, "%s: no memory", cdir);
                    break;
                }
                out->e = grown;
            }
            entry *e = &out->e[out->n];
            *e = (entry){strdup(rel), k, (long long)sb.st_size,
                         (long long)sb.st_mtim.tv_sec * 1000000000LL + sb.st_mtim.tv_nsec};
            if (!e->rel)
                st = cnn_error_set(err, CNN_STATUS_NO_MEMORY, "%s: no memory", cdir);
            else
                out->n++;
        }
        names_free(files, nf);
    }
    if (!st && out->n == 0)
        st = cnn_error_set(err, CNN_STATUS_MISSING_DATA, "--data %s: found no %s images (%s/%s/"
                           "CLASS/...)%s", src->path, test ? "test" : "training", src->path, split,
                           has_test ? "" : " after holding out the test share");
    if (st)
        listing_free(out);
    return st;
}

/* The cache's key: the list, the shape, the held-out share and --skip-bad. */
static uint64_t cache_key(const cnn_data_source *src, const cnn_data_info *info, int test,
                          const listing *l)
{
    cnn_text t = {0};
    cnn_text_printf(&t, "cnnlab image folder v%u\n%dx%dx%d test=%d share=%.6f skip_bad=%d\n",
                    CACHE_VERSION, info->h, info->w, info->c, test, test_share(src),
                    src->skip_bad);
    for (int i = 0; i < l->n; i++)
        cnn_text_printf(&t, "%s\t%d\t%lld\t%lld\n", l->e[i].rel, l->e[i].label, l->e[i].size,
                        l->e[i].mtime_ns);
    const char *s = cnn_text_str(&t);
    uint64_t key = cnn_fnv1a(s, strlen(s));
    cnn_text_free(&t);
    return key;
}

/* The cache file's path: beside the data when ROOT can be written, else in
 * the user's cache folder; 0 when neither. */
static int cache_path(const cnn_data_source *src, const cnn_data_info *info, int test,
                      uint64_t key, char *out, size_t size, char *dir, size_t dir_size)
{
    char name[128];
    snprintf(name, sizeof name, "%s-%dx%dx%d-%016llx.bin", test ? "test" : "train", info->h,
             info->w, info->c, (unsigned long long)key);
    if (access(src->path, W_OK) == 0) {
        snprintf(dir, dir_size, "%s/.cnnlab-cache", src->path);
        return snprintf(out, size, "%s/%s", dir, name) < (int)size;
    }
    char user[PATH_MAX - 64], abs[PATH_MAX];
    if (!cnn_cache_dir(user, sizeof user) || !user[0] || !realpath(src->path, abs))
        return 0;
    snprintf(dir, dir_size, "%s/folders", user);
    return snprintf(out, size, "%s/%016llx-%s", dir,
                    (unsigned long long)cnn_fnv1a(abs, strlen(abs)), name) < (int)size;
}

static uint64_t align64(uint64_t v) { return (v + 63) & ~(uint64_t)63; }

/* Maps path when it is a cache of exactly this split; 0 if not (absent,
 * another version, damaged: it is then decoded and written anew). */
static int map_cache(const char *path, const cnn_data_info *info, uint64_t key, cnn_dataset *d)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    struct stat sb;
    void *m = MAP_FAILED;
    if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size >= HEADER_BYTES)
        m = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (m == MAP_FAILED)
        return 0;
    const uint8_t *p = m;
    uint32_t u[7];
    uint64_t k, lo, po;
    memcpy(u, p + 8, sizeof u);
    memcpy(&k, p + 36, 8);
    memcpy(&lo, p + 44, 8);
    memcpy(&po, p + 52, 8);
    size_t bytes = (size_t)info->c * (size_t)info->h * (size_t)info->w;
    int ok = !memcmp(p, CACHE_MAGIC, 8) && u[0] == CACHE_VERSION && u[1] >= 1 &&
             (int)u[2] == info->c && (int)u[3] == info->h && (int)u[4] == info->w &&
             (int)u[5] == info->classes && k == key && lo == HEADER_BYTES && po >= lo + u[1] &&
             po % 64 == 0 && po + (uint64_t)u[1] * bytes == (uint64_t)sb.st_size;
    for (uint32_t i = 0; ok && i < u[1]; i++)
        ok = p[lo + i] < info->classes;
    if (!ok) {
        munmap(m, (size_t)sb.st_size);
        return 0;
    }
    d->count = (int)u[1];
    d->labels = (uint8_t *)p + lo;
    d->pixels = (uint8_t *)p + po;
    d->map = m;
    d->map_bytes = (size_t)sb.st_size;
    return 1;
}

/* Decodes every file of l into a block laid out as the cache file; bad files
 * are listed (notes) and refused, or left out with --skip-bad. */
static cnn_status decode_all(const cnn_data_source *src, const cnn_data_info *info,
                             const listing *l, uint64_t key, uint8_t **block_out,
                             size_t *size_out, int *count_out, cnn_error *err)
{
    const size_t bytes = (size_t)info->c * (size_t)info->h * (size_t)info->w;
    const uint64_t lo = HEADER_BYTES, po = align64(lo + (uint64_t)l->n);
    uint8_t *block = cnn_alloc(po + (size_t)l->n * bytes);
    char **why = calloc((size_t)l->n, sizeof *why); /* a bad file's message */
    if (!block || !why) {
        cnn_free(block);
        free(why);
        return cnn_error_set(err, CNN_STATUS_NO_MEMORY, "%s: no memory for %d images of "
                             "%dx%dx%d", src->path, l->n, info->h, info->w, info->c);
    }
    for (int first = 0; first < l->n; first += CHUNK) {
        int end = first + CHUNK < l->n ? first + CHUNK : l->n;
#pragma omp parallel for schedule(dynamic, 8)
        for (int i = first; i < end; i++) {
            char path[PATH_MAX * 2];
            cnn_error e = {0};
            snprintf(path, sizeof path, "%s/%s", src->path, l->e[i].rel);
            if (cnn_image_read(path, info->c, info->h, info->w, block + po + (size_t)i * bytes,
                               &e))
                why[i] = strdup(e.msg[0] ? e.msg : path);
            block[lo + i] = (uint8_t)l->e[i].label;
        }
        if (src->progress)
            note(src, "decoding %s: %d of %d images", src->path, end, l->n);
    }
    int bad = 0, kept = 0;
    char first_bad[3][600];
    for (int i = 0; i < l->n; i++) {
        if (why[i]) {
            note(src, "unreadable image: %s", why[i]);
            if (bad < 3)
                snprintf(first_bad[bad], sizeof first_bad[bad], "%s", why[i]);
            bad++;
            continue;
        }
        if (kept != i) {
            block[lo + kept] = block[lo + i];
            memmove(block + po + (size_t)kept * bytes, block + po + (size_t)i * bytes, bytes);
        }
        kept++;
    }
    for (int i = 0; i < l->n; i++)
        free(why[i]);
    free(why);
    cnn_status st = CNN_STATUS_OK;
    if (bad && !src->skip_bad)
        st = cnn_error_set(err, CNN_STATUS_FORMAT, "%d of %d images in %s cannot be read "
                           "(--skip-bad leaves them out): %s%s%s%s%s%s", bad, l->n, src->path,
                           first_bad[0], bad > 1 ? "; " : "", bad > 1 ? first_bad[1] : "",
                           bad > 2 ? "; " : "", bad > 2 ? first_bad[2] : "",
                           bad > 3 ? "; ..." : "");
    else if (bad)
        note(src, "skipped %d unreadable image%s of %d in %s (--skip-bad)", bad,
             bad > 1 ? "s" : "", l->n, src->path);
    if (!st && kept == 0)
        st = cnn_error_set(err, CNN_STATUS_FORMAT, "%s: none of its %d images can be read",
                           src->path, l->n);
    if (st) {
        cnn_free(block);
        return st;
    }
    uint32_t u[7] = {CACHE_VERSION, (uint32_t)kept, (uint32_t)info->c, (uint32_t)info->h,
                     (uint32_t)info->w, (uint32_t)info->classes, 0};
    memcpy(block, CACHE_MAGIC, 8);
    memcpy(block + 8, u, sizeof u);
    memcpy(block + 36, &key, 8);
    memcpy(block + 44, &lo, 8);
    memcpy(block + 52, &po, 8);
    memset(block + 60, 0, 4);
    *block_out = block;
    *size_out = po + (size_t)kept * bytes;
    *count_out = kept;
    return CNN_STATUS_OK;
}

cnn_status cnn_folder_load(const cnn_data_source *src, const cnn_data_info *info, int test,
                           cnn_dataset *out, cnn_error *err)
{
    *out = (cnn_dataset){0};
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/train", src->path);
    char **classes;
    int nclasses;
    listing l = {0};
    cnn_status st = list_names(dir, 1, &classes, &nclasses, err);
    if (st)
        return st;
    if (nclasses != info->classes) {
        st = cnn_error_set(err, CNN_STATUS_FORMAT, "%s: holds %d class folders now, %d when it "
                           "was first looked at", dir, nclasses, info->classes);
        goto done;
    }
    if ((st = list_split(src, test, classes, nclasses, &l, err)))
        goto done;
    uint64_t key = cache_key(src, info, test, &l);
    char path[PATH_MAX * 2], cdir[PATH_MAX + 64];
    int cached = cache_path(src, info, test, key, path, sizeof path, cdir, sizeof cdir);
    if (!(cached && map_cache(path, info, key, out))) {
        uint8_t *block = NULL;
        size_t size = 0;
        int count = 0;
        if ((st = decode_all(src, info, &l, key, &block, &size, &count, err)))
            goto done;
        out->count = count;
        out->map = block; /* map_bytes 0: an allocated block */
        out->labels = block + HEADER_BYTES;
        uint64_t po;
        memcpy(&po, block + 52, 8);
        out->pixels = block + po;
        cnn_error werr = {0};
        if (cached && (cnn_mkdir_p(cdir, &werr) || cnn_file_write_atomic(path, block, size, &werr)))
            note(src, "note: the decoded images were not cached (%s); the next run decodes "
                 "them again", werr.msg);
        else if (cached)
            note(src, "cached the decoded %s images in %s", test ? "test" : "training", path);
    }
    const char **names = (const char **)classes;
    st = cnn_dataset_set_shape(out, info->c, info->h, info->w, info->classes, names, err);
done:
    names_free(classes, nclasses);
    listing_free(&l);
    if (st)
        cnn_dataset_free(out);
    return st;
}
