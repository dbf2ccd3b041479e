/* test_data.c: the data module on files it writes itself into a fresh folder
 * under /tmp: the CIFAR-10 reader (contents, truncated files, bad labels,
 * missing files), locating the folder without downloading, unpacking an
 * archive (of its own, with tar) into a folder that lacks one file, the seeded split,
 * normalisation statistics, batch assembly into NHWC, and MD5 (RFC 1321
 * vectors). Never touches the real dataset or the network. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "cnnlab/data.h"
#include "core/core.h"
#include "dataset/locate.h"
#include "dataset/md5.h"

#define REC (1 + CNN_CIFAR_PIXELS) /* bytes per record */

static char tmpdir[256];

/* The pixel every synthetic file holds: image `img` of file `file`, channel c,
 * row h, column w. Varies with every argument so misplaced bytes show. */
static uint8_t pixel_of(int file, int img, int c, int h, int w)
{
    return (uint8_t)(file * 53 + img * 31 + c * 101 + h * 7 + w * 3);
}

static uint8_t label_of(int file, int img) { return (uint8_t)((file + img * 7) % 10); }

/* Writes `count` records of synthetic file `file` to path (nbytes < 0: all of
 * them, else only the first nbytes bytes). */
static void write_batch(const char *path, int file, int count, long nbytes)
{
    size_t total = (size_t)count * REC;
    uint8_t *buf = malloc(total + 1);
    for (int i = 0; i < count; i++) {
        uint8_t *rec = buf + (size_t)i * REC;
        rec[0] = label_of(file, i);
        for (int c = 0; c < 3; c++)
            for (int h = 0; h < 32; h++)
                for (int w = 0; w < 32; w++)
                    rec[1 + c * 1024 + h * 32 + w] = pixel_of(file, i, c, h, w);
    }
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        exit(2);
    }
    size_t n = nbytes < 0 ? total : (size_t)nbytes;
    if (fwrite(buf, 1, n, f) != n || fclose(f) != 0) {
        perror(path);
        exit(2);
    }
    free(buf);
}

/* Overwrites one byte of an existing file. */
static void poke(const char *path, long offset, uint8_t value)
{
    FILE *f = fopen(path, "r+b");
    if (!f || fseek(f, offset, SEEK_SET) != 0 || fputc(value, f) == EOF || fclose(f) != 0) {
        perror(path);
        exit(2);
    }
}

/* The path of name inside the test folder, in buf (512 bytes). */
static const char *in_tmp(char *buf, const char *name)
{
    snprintf(buf, 512, "%s/%s", tmpdir, name);
    return buf;
}

static int has(const char *msg, const char *part) { return strstr(msg, part) != NULL; }

/* ---- MD5 ---- */
static void test_md5(void)
{
    /* RFC 1321, appendix A.5. */
    static const char *const vec[][2] = {
        {"", "d41d8cd98f00b204e9800998ecf8427e"},
        {"a", "0cc175b9c0f1b6a831c399e269772661"},
        {"abc", "900150983cd24fb0d6963f7d28e17f72"},
        {"message digest", "f96b697d7cb7938d525a2f31aaf161d0"},
        {"abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"},
        {"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
         "d174ab98d277d9f5a5611c2c9f419d9f"},
        {"1234567890123456789012345678901234567890123456789012345678901234567890123456789"
         "0",
         "57edf4a22be3c955ac49da2e2107b67a"},
    };
    for (size_t v = 0; v < sizeof vec / sizeof vec[0]; v++) {
        const char *msg = vec[v][0];
        uint8_t d[16];
        char hex[33];
        cnn_md5 m;
        cnn_md5_init(&m);
        cnn_md5_update(&m, msg, strlen(msg));
        cnn_md5_final(&m, d);
        cnn_md5_hex(d, hex);
        check(strcmp(hex, vec[v][1]) == 0, "md5(\"%s\") = %s, expected %s", msg, hex, vec[v][1]);
        /* The same message one byte at a time crosses every partial-block path. */
        cnn_md5_init(&m);
        for (size_t i = 0; i < strlen(msg); i++)
            cnn_md5_update(&m, msg + i, 1);
        cnn_md5_final(&m, d);
        cnn_md5_hex(d, hex);
        check(strcmp(hex, vec[v][1]) == 0, "md5(\"%s\") bytewise = %s, expected %s", msg, hex,
              vec[v][1]);
    }
    /* A file hashed in pieces matches the same bytes hashed at once; 55, 56, 63,
     * 64 and 65 bytes are the padding boundaries. */
    const size_t sizes[] = {55, 56, 63, 64, 65, 1000, 3 * 1048576 + 7};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t n = sizes[s];
        uint8_t *buf = malloc(n);
        for (size_t i = 0; i < n; i++)
            buf[i] = (uint8_t)(i * 131 + (i >> 9));
        char pbuf[512];
        const char *path = in_tmp(pbuf, "md5.bin");
        FILE *f = fopen(path, "wb");
        fwrite(buf, 1, n, f);
        fclose(f);
        cnn_md5 m;
        uint8_t d[16];
        char want[33], got[33];
        cnn_md5_init(&m);
        cnn_md5_update(&m, buf, n);
        cnn_md5_final(&m, d);
        cnn_md5_hex(d, want);
        cnn_error err = {0};
        cnn_status st = cnn_md5_file(path, got, &err);
        check(st == CNN_STATUS_OK && strcmp(got, want) == 0,
              "md5 of a %zu-byte file: %s, in memory %s (%s)", n, got, want, err.msg);
        unlink(path);
        free(buf);
    }
    {
        /* 'a' x 64 and x 56: known digests (md5sum) pin the length encoding. */
        char a64[65], a56[57];
        memset(a64, 'a', 64);
        a64[64] = 0;
        memset(a56, 'a', 56);
        a56[56] = 0;
        const char *want64 = "014842d480b571495a4a0363793f7367";
        const char *want56 = "3b0c8ac703f828b04c6c197006d17218";
        uint8_t d[16];
        char hex[33];
        cnn_md5 m;
        cnn_md5_init(&m);
        cnn_md5_update(&m, a64, 64);
        cnn_md5_final(&m, d);
        cnn_md5_hex(d, hex);
        check(strcmp(hex, want64) == 0, "md5('a' x 64) = %s, expected %s", hex, want64);
        cnn_md5_init(&m);
        cnn_md5_update(&m, a56, 56);
        cnn_md5_final(&m, d);
        cnn_md5_hex(d, hex);
        check(strcmp(hex, want56) == 0, "md5('a' x 56) = %s, expected %s", hex, want56);
    }
}

/* ---- reading one file ---- */
static void test_load_file(void)
{
    check(strcmp(cnn_cifar_class_names[0], "airplane") == 0 &&
              strcmp(cnn_cifar_class_names[3], "cat") == 0 &&
              strcmp(cnn_cifar_class_names[9], "truck") == 0,
          "class names: %s, %s, %s", cnn_cifar_class_names[0], cnn_cifar_class_names[3],
          cnn_cifar_class_names[9]);

    const int n = 7;
    char b1[512], b2[512], b3[512], b4[512], b5[512];
    const char *path = in_tmp(b1, "seven.bin");
    write_batch(path, 2, n, -1);
    cnn_dataset d;
    cnn_error err = {0};
    cnn_status st = cnn_cifar_load_file(path, -1, &d, &err);
    check(st == CNN_STATUS_OK, "load 7 records, any count: %s", err.msg);
    if (st == CNN_STATUS_OK) {
        check(d.count == n, "count %d, expected %d", d.count, n);
        int bad_label = 0, bad_pixel = 0;
        for (int i = 0; i < n; i++) {
            bad_label += d.labels[i] != label_of(2, i);
            for (int c = 0; c < 3; c++)
                for (int h = 0; h < 32; h++)
                    for (int w = 0; w < 32; w++)
                        bad_pixel += d.pixels[(size_t)i * 3072 + c * 1024 + h * 32 + w] !=
                                     pixel_of(2, i, c, h, w);
        }
        check(bad_label == 0, "labels read back: %d wrong", bad_label);
        check(bad_pixel == 0, "pixel planes (C, H, W) read back: %d wrong", bad_pixel);
        cnn_dataset_free(&d);
        check(d.pixels == NULL && d.labels == NULL && d.count == 0, "free empties the dataset");
    }
    st = cnn_cifar_load_file(path, n, &d, &err);
    check(st == CNN_STATUS_OK && d.count == n, "load 7 records, expecting 7: %s", err.msg);
    cnn_dataset_free(&d);

    /* Right multiple, wrong count. */
    st = cnn_cifar_load_file(path, 10, &d, &err);
    check(st == CNN_STATUS_FORMAT, "7 records when 10 expected: status %s",
          cnn_status_to_string(st));
    check(has(err.msg, "seven.bin") && has(err.msg, "expected 30730 bytes") &&
              has(err.msg, "found 21511"),
          "wrong-count message names file, expected and found sizes: %s", err.msg);
    check(d.pixels == NULL && d.count == 0, "a failed load leaves the dataset empty");
    st = cnn_cifar_load_file(path, 5, &d, &err);
    check(st == CNN_STATUS_FORMAT && has(err.msg, "seven.bin"),
          "7 records when 5 expected (too long): %s", err.msg);

    /* Not a multiple of the record size. */
    const char *cut = in_tmp(b2, "cut.bin");
    write_batch(cut, 1, 4, 4 * REC - 100);
    st = cnn_cifar_load_file(cut, -1, &d, &err);
    check(st == CNN_STATUS_FORMAT, "truncated file (any count): status %s",
          cnn_status_to_string(st));
    check(has(err.msg, "cut.bin") && has(err.msg, "3073") && has(err.msg, "12192"),
          "truncated-file message names file, record size and size found: %s", err.msg);
    st = cnn_cifar_load_file(cut, 4, &d, &err);
    check(st == CNN_STATUS_FORMAT && has(err.msg, "cut.bin") && has(err.msg, "truncated"),
          "truncated file (4 expected): %s", err.msg);

    /* Empty file. */
    const char *empty = in_tmp(b3, "empty.bin");
    write_batch(empty, 0, 1, 0);
    st = cnn_cifar_load_file(empty, -1, &d, &err);
    check(st == CNN_STATUS_FORMAT && has(err.msg, "empty.bin"), "empty file: %s", err.msg);

    /* A label outside 0-9 names the record. */
    const char *badl = in_tmp(b4, "badlabel.bin");
    write_batch(badl, 0, 6, -1);
    poke(badl, 4L * REC, 10);
    st = cnn_cifar_load_file(badl, -1, &d, &err);
    check(st == CNN_STATUS_FORMAT, "label 10: status %s", cnn_status_to_string(st));
    check(has(err.msg, "badlabel.bin") && has(err.msg, "record 4") && has(err.msg, "label 10"),
          "label message names file, record and label: %s", err.msg);
    check(d.pixels == NULL, "a bad label leaves the dataset empty");

    /* Missing file. */
    st = cnn_cifar_load_file(in_tmp(b5, "nothere.bin"), -1, &d, &err);
    check(st == CNN_STATUS_MISSING_DATA && has(err.msg, "nothere.bin"), "missing file: %s (%s)",
          err.msg, cnn_status_to_string(st));

    unlink(path);
    unlink(cut);
    unlink(empty);
    unlink(badl);
}

/* ---- the full folder: five training files, one test file, locate ---- */
static void write_folder(const char *dir)
{
    char path[600];
    for (int b = 1; b <= 5; b++) {
        snprintf(path, sizeof path, "%s/data_batch_%d.bin", dir, b);
        write_batch(path, b, 10000, -1);
    }
    snprintf(path, sizeof path, "%s/test_batch.bin", dir);
    write_batch(path, 6, 10000, -1);
}

static void test_folder(void)
{
    char dir[512], resolved[600], path[600];
    snprintf(dir, sizeof dir, "%s/cifar-10-batches-bin", tmpdir);
    cnn_error err = {0};
    cnn_status st;

    /* A folder that does not exist. */
    st = cnn_cifar_locate(dir, 0, resolved, sizeof resolved, &err);
    check(st == CNN_STATUS_MISSING_DATA && has(err.msg, dir) && has(err.msg, "no such folder"),
          "locate in a missing folder: %s", err.msg);

    /* Downloading is allowed but never tried for a folder the archive does not
     * unpack to (so this stays offline). */
    char other[600];
    snprintf(other, sizeof other, "%s/mycifar", tmpdir);
    st = cnn_cifar_locate(other, 1, resolved, sizeof resolved, &err);
    check(st == CNN_STATUS_MISSING_DATA && has(err.msg, "mycifar") &&
              !has(err.msg, "download from") && !cnn_path_exists(other),
          "locate in a missing folder of another name, download allowed: %s", err.msg);

    cnn_mkdir_p(dir, &err);
    write_folder(dir);

    st = cnn_cifar_locate(dir, 0, resolved, sizeof resolved, &err);
    check(st == CNN_STATUS_OK && strcmp(resolved, dir) == 0, "locate a complete folder: %s (%s)",
          resolved, err.msg);
    char slashed[600];
    snprintf(slashed, sizeof slashed, "%s//", dir);
    st = cnn_cifar_locate(slashed, 0, resolved, sizeof resolved, &err);
    check(st == CNN_STATUS_OK && strcmp(resolved, dir) == 0,
          "locate drops trailing slashes: %s", resolved);
    char tiny[8];
    st = cnn_cifar_locate(dir, 0, tiny, sizeof tiny, &err);
    check(st == CNN_STATUS_INVALID_ARGUMENT, "locate into a too-small buffer: %s", err.msg);

    cnn_dataset d;
    st = cnn_cifar_load_train(dir, &d, &err);
    check(st == CNN_STATUS_OK && d.count == 50000, "load_train: count %d (%s)", d.count,
          err.msg);
    if (st == CNN_STATUS_OK) {
        /* Images 0, 9999 | 10000, 29999 | 30000, 49999: the files' order is kept. */
        const int probe[] = {0, 1, 9999, 10000, 10001, 29999, 30000, 45678, 49999};
        int bad = 0;
        for (size_t p = 0; p < sizeof probe / sizeof probe[0]; p++) {
            int i = probe[p], file = 1 + i / 10000, rec = i % 10000;
            bad += d.labels[i] != label_of(file, rec);
            for (int c = 0; c < 3; c++)
                for (int k = 0; k < 1024; k++)
                    bad += d.pixels[(size_t)i * 3072 + c * 1024 + k] !=
                           pixel_of(file, rec, c, k / 32, k % 32);
        }
        check(bad == 0, "load_train keeps file and record order (%d wrong bytes)", bad);
        cnn_dataset_free(&d);
    }
    st = cnn_cifar_load_test(dir, &d, &err);
    check(st == CNN_STATUS_OK && d.count == 10000 && d.labels[1234] == label_of(6, 1234) &&
              d.pixels[1234 * 3072 + 2048 + 33] == pixel_of(6, 1234, 2, 1, 1),
          "load_test: count %d (%s)", d.count, err.msg);
    cnn_dataset_free(&d);

    /* A bad label deep in the second file. */
    snprintf(path, sizeof path, "%s/data_batch_2.bin", dir);
    poke(path, 517L * REC, 12);
    st = cnn_cifar_load_train(dir, &d, &err);
    check(st == CNN_STATUS_FORMAT && has(err.msg, "data_batch_2.bin") &&
              has(err.msg, "record 517") && has(err.msg, "label 12") && d.pixels == NULL,
          "load_train with a bad label: %s", err.msg);
    poke(path, 517L * REC, label_of(2, 517));

    /* A truncated third file. */
    snprintf(path, sizeof path, "%s/data_batch_3.bin", dir);
    if (truncate(path, 1234567) != 0)
        perror(path);
    st = cnn_cifar_load_train(dir, &d, &err);
    check(st == CNN_STATUS_FORMAT && has(err.msg, "data_batch_3.bin") &&
              has(err.msg, "expected 30730000 bytes") && has(err.msg, "found 1234567"),
          "load_train with a truncated file: %s", err.msg);
    check(d.pixels == NULL, "a failed load_train leaves the dataset empty");
    unlink(path);

    /* Missing files: the third (just removed) and the test file. */
    snprintf(path, sizeof path, "%s/test_batch.bin", dir);
    unlink(path);
    st = cnn_cifar_load_train(dir, &d, &err);
    check(st == CNN_STATUS_MISSING_DATA && has(err.msg, "data_batch_3.bin"),
          "load_train with a file missing: %s", err.msg);
    st = cnn_cifar_load_test(dir, &d, &err);
    check(st == CNN_STATUS_MISSING_DATA && has(err.msg, "test_batch.bin"),
          "load_test with its file missing: %s", err.msg);
    st = cnn_cifar_locate(dir, 0, resolved, sizeof resolved, &err);
    check(st == CNN_STATUS_MISSING_DATA, "locate with files missing: status %s",
          cnn_status_to_string(st));
    check(has(err.msg, dir) && has(err.msg, "data_batch_3.bin") &&
              has(err.msg, "test_batch.bin") && !has(err.msg, "missing data_batch_1.bin") &&
              has(err.msg, "cifar-10-binary.tar.gz"),
          "locate names the missing files and where to get them: %s", err.msg);

    for (int b = 1; b <= 5; b++) {
        snprintf(path, sizeof path, "%s/data_batch_%d.bin", dir, b);
        unlink(path);
    }

    /* No dir: ./data/cifar-10-batches-bin, looked up from an empty folder. */
    char cwd[4096];
    if (getcwd(cwd, sizeof cwd) && chdir(tmpdir) == 0) {
        st = cnn_cifar_locate(NULL, 0, resolved, sizeof resolved, &err);
        check(st == CNN_STATUS_MISSING_DATA && has(err.msg, "data/cifar-10-batches-bin"),
              "locate with no folder given looks in data/cifar-10-batches-bin: %s", err.msg);
        if (chdir(cwd) != 0)
            perror(cwd);
    }
    rmdir(dir);
}

/* ---- unpacking the archive into a folder that lacks a file ---- */
static int file_is_batch(const char *path, int file)
{
    cnn_dataset d;
    cnn_error err = {0};
    if (cnn_cifar_load_file(path, -1, &d, &err) != CNN_STATUS_OK)
        return 0;
    int ok = d.count == 10 && d.labels[3] == label_of(file, 3) &&
             d.pixels[3 * CNN_CIFAR_PIXELS + 5] == pixel_of(file, 3, 0, 0, 5);
    cnn_dataset_free(&d);
    return ok;
}

static void test_unpack(void)
{
    char src[512], dir[512], archive[600], path[700], cmd[2048];
    snprintf(src, sizeof src, "%s/src/cifar-10-batches-bin", tmpdir);
    snprintf(dir, sizeof dir, "%s/data/cifar-10-batches-bin", tmpdir);
    snprintf(archive, sizeof archive, "%s/archive.tar.gz", tmpdir);
    cnn_error err = {0};
    cnn_mkdir_p(src, &err);
    cnn_mkdir_p(dir, &err);
    /* The archive: files 1-6 of the generator (test_batch.bin is file 6) and
     * a readme; the folder: files 11-15 of it, test_batch.bin missing. */
    for (int b = 1; b <= 6; b++) {
        snprintf(path, sizeof path, b < 6 ? "%s/data_batch_%d.bin" : "%s/test_batch.bin", src, b);
        write_batch(path, b, 10, -1);
        snprintf(path, sizeof path, "%s/data_batch_%d.bin", dir, b);
        if (b < 6)
            write_batch(path, 10 + b, 10, -1);
    }
    snprintf(path, sizeof path, "%s/readme.html", src);
    FILE *f = fopen(path, "w");
    if (f) {
        fputs("readme\n", f);
        fclose(f);
    }
    snprintf(cmd, sizeof cmd, "tar -czf '%s' -C '%s/src' cifar-10-batches-bin", archive, tmpdir);
    if (system(cmd) != 0) {
        printf("note: unpack skipped: tar cannot make a test archive\n");
        return;
    }
    cnn_status st = cnn_cifar_unpack(archive, dir, &err);
    check(st == CNN_STATUS_OK, "unpack into a folder that lacks test_batch.bin: %s", err.msg);
    int kept = 1;
    for (int b = 1; b <= 5; b++) {
        snprintf(path, sizeof path, "%s/data_batch_%d.bin", dir, b);
        kept &= file_is_batch(path, 10 + b);
    }
    check(kept, "unpack leaves the folder's own data_batch_1..5.bin as they were");
    snprintf(path, sizeof path, "%s/test_batch.bin", dir);
    check(file_is_batch(path, 6), "unpack moves in the missing test_batch.bin from the archive");
    snprintf(path, sizeof path, "%s/readme.html", dir);
    check(cnn_path_exists(path), "unpack moves in the other files the folder lacks (readme.html)");
    snprintf(path, sizeof path, "%s/data", tmpdir);
    DIR *d = opendir(path);
    int entries = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        entries += e->d_name[0] != '.' || (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."));
    if (d)
        closedir(d);
    check(entries == 1, "unpack leaves no temporary folder beside the folder (%d entries)",
          entries);

    /* An archive that is not a gzip'd tar: an error naming it, nothing changed. */
    snprintf(path, sizeof path, "%s/data_batch_1.bin", src);
    st = cnn_cifar_unpack(path, dir, &err);
    check(st != CNN_STATUS_OK && has(err.msg, path), "unpack of a file that is not an archive: %s",
          err.msg);
    snprintf(path, sizeof path, "%s/data_batch_1.bin", dir);
    check(file_is_batch(path, 11), "a failed unpack leaves the folder's files as they were");

    snprintf(cmd, sizeof cmd, "rm -rf '%s/src' '%s/data' '%s'", tmpdir, tmpdir, archive);
    if (system(cmd) != 0)
        printf("note: %s not cleaned\n", tmpdir);
}

/* ---- split ---- */
static int sorted_strictly(const int *a, int n)
{
    for (int i = 1; i < n; i++)
        if (a[i] <= a[i - 1])
            return 0;
    return 1;
}

/* Sizes, order, disjointness and coverage of one split. */
static void check_split(int total, double frac, uint64_t seed, int want_val)
{
    int *tr, *va, nt, nv;
    cnn_error err = {0};
    cnn_status st = cnn_split_make(total, frac, seed, &tr, &nt, &va, &nv, &err);
    check(st == CNN_STATUS_OK, "split %d at %g: %s", total, frac, err.msg);
    if (st != CNN_STATUS_OK)
        return;
    check(nv == want_val && nt == total - want_val, "split %d at %g: %d train + %d val, "
          "expected %d + %d", total, frac, nt, nv, total - want_val, want_val);
    check(sorted_strictly(tr, nt) && sorted_strictly(va, nv), "split %d at %g: lists sorted",
          total, frac);
    unsigned char *seen = calloc((size_t)total + 1, 1);
    int bad = 0;
    for (int i = 0; i < nt; i++)
        bad += tr[i] < 0 || tr[i] >= total || seen[tr[i]]++;
    for (int i = 0; i < nv; i++)
        bad += va[i] < 0 || va[i] >= total || seen[va[i]]++;
    for (int i = 0; i < total; i++)
        bad += seen[i] != 1;
    check(bad == 0, "split %d at %g: disjoint and covering (%d faults)", total, frac, bad);
    free(seen);
    free(tr);
    free(va);
}

static void test_split(void)
{
    check_split(50000, 0.1, 1, 5000);
    check_split(50000, 0.0, 1, 0);
    check_split(50000, 0.5, 7, 25000);
    check_split(50000, 1.0, 7, 50000);
    check_split(7, 0.5, 3, 4); /* round(3.5) = 4 */
    check_split(10, 0.14, 3, 1);
    check_split(0, 0.1, 3, 0);

    int *a, *b, *c, *va, *vb, *vc, na, nb, nc, nva, nvb, nvc;
    cnn_error err = {0};
    cnn_split_make(50000, 0.1, 42, &a, &na, &va, &nva, &err);
    cnn_split_make(50000, 0.1, 42, &b, &nb, &vb, &nvb, &err);
    cnn_split_make(50000, 0.1, 43, &c, &nc, &vc, &nvc, &err);
    check(nva == nvb && memcmp(va, vb, (size_t)nva * sizeof *va) == 0 &&
              memcmp(a, b, (size_t)na * sizeof *a) == 0,
          "split: the same seed gives the same lists");
    int same = 0;
    for (int i = 0; i < nva; i++)
        same += va[i] == vc[i];
    check(nvc == nva && same < nva / 10, "split: another seed gives other lists (%d of %d "
          "positions equal)", same, nva);
    /* The validation set is spread over the whole range, not a block. */
    check(va[0] < 100 && va[nva - 1] > 49900, "split: validation spans 0..49999 (%d..%d)",
          va[0], va[nva - 1]);
    free(a), free(b), free(c), free(va), free(vb), free(vc);

    const double bad[] = {-0.1, 1.5, NAN};
    for (int i = 0; i < 3; i++) {
        cnn_status st = cnn_split_make(100, bad[i], 1, &a, &na, &va, &nva, &err);
        check(st == CNN_STATUS_INVALID_ARGUMENT && a == NULL && va == NULL,
              "split rejects fraction %g: %s", bad[i], err.msg);
    }
    cnn_status st = cnn_split_make(-1, 0.1, 1, &a, &na, &va, &nva, &err);
    check(st == CNN_STATUS_INVALID_ARGUMENT, "split rejects total -1: %s", err.msg);
}

/* ---- normalisation and batches ---- */
static cnn_dataset make_dataset(int count)
{
    cnn_dataset d = {.count = count, .pixels = cnn_alloc((size_t)count * 3072),
                     .labels = cnn_alloc((size_t)count), .c = 3, .h = 32, .w = 32, .classes = 10};
    for (int i = 0; i < count; i++) {
        d.labels[i] = label_of(9, i);
        for (int c = 0; c < 3; c++)
            for (int k = 0; k < 1024; k++)
                d.pixels[(size_t)i * 3072 + c * 1024 + k] = pixel_of(9, i, c, k / 32, k % 32);
    }
    return d;
}

/* Mean and population std by the definition, in double, two passes. */
static void norm_reference(const cnn_dataset *d, const int *idx, int count, double mean[3],
                           double sd[3])
{
    for (int c = 0; c < 3; c++) {
        double s = 0, q = 0;
        for (int i = 0; i < count; i++)
            for (int k = 0; k < 1024; k++)
                s += d->pixels[(size_t)idx[i] * 3072 + c * 1024 + k] / 255.0;
        mean[c] = s / (count * 1024.0);
        for (int i = 0; i < count; i++)
            for (int k = 0; k < 1024; k++) {
                double v = d->pixels[(size_t)idx[i] * 3072 + c * 1024 + k] / 255.0 - mean[c];
                q += v * v;
            }
        sd[c] = sqrt(q / (count * 1024.0));
    }
}

static void test_norm(void)
{
    /* Known values: red half 0 and half 255 (mean 0.5, std 0.5); green all 51
     * (mean 0.2, std 0); blue k % 256, each value 4 times per image (mean 0.5,
     * std sqrt((256^2 - 1) / 12) / 255). */
    cnn_dataset d = {.count = 4, .pixels = cnn_alloc(4 * 3072), .labels = cnn_alloc(4),
                     .c = 3, .h = 32, .w = 32, .classes = 10};
    for (int i = 0; i < 4; i++)
        for (int k = 0; k < 1024; k++) {
            d.pixels[i * 3072 + k] = (uint8_t)((k + i) % 2 ? 255 : 0);
            d.pixels[i * 3072 + 1024 + k] = 51;
            d.pixels[i * 3072 + 2048 + k] = (uint8_t)(k % 256);
        }
    cnn_norm n;
    cnn_norm_compute(&d, NULL, 4, &n);
    float got[6] = {n.mean[0], n.mean[1], n.mean[2], n.std[0], n.std[1], n.std[2]};
    float want[6] = {0.5f, 0.2f, 0.5f, 0.5f, 0.0f, (float)(sqrt(65535.0 / 12.0) / 255.0)};
    check_close("norm of a constructed set (mean r g b, std r g b)", got, want, 6, 1e-6, 1e-7);

    /* A constant channel must not turn a batch into infinities. */
    float x[4 * 3072];
    cnn_batch_fill(&d, NULL, 4, &n, x, NULL);
    int finite = 1;
    for (int i = 0; i < 4 * 3072; i++)
        finite &= isfinite(x[i]) != 0;
    check(finite, "batch with a zero-std channel stays finite");
    cnn_dataset_free(&d);

    /* A subset of a varied set against the two-pass definition. */
    cnn_dataset v = make_dataset(300);
    int idx[200];
    for (int i = 0; i < 200; i++)
        idx[i] = (i * 37 + 11) % 300;
    cnn_norm_compute(&v, idx, 200, &n);
    double m[3], s[3];
    norm_reference(&v, idx, 200, m, s);
    float g2[6] = {n.mean[0], n.mean[1], n.mean[2], n.std[0], n.std[1], n.std[2]};
    float w2[6] = {(float)m[0], (float)m[1], (float)m[2], (float)s[0], (float)s[1], (float)s[2]};
    check_close("norm of 200 of 300 images vs two-pass definition", g2, w2, 6, 1e-6, 1e-7);
    cnn_norm_compute(&v, idx, 0, &n);
    check(n.mean[0] == 0.0f && n.std[2] == 1.0f, "norm of no images: mean 0, std 1");
    cnn_dataset_free(&v);
}

static void test_batch(void)
{
    cnn_dataset d = make_dataset(150);
    cnn_norm n;
    unsigned state = 12345;
    check_fill(n.mean, 3, &state, 0.3f, 0.6f);
    check_fill(n.std, 3, &state, 0.1f, 0.3f);
    /* 3 images (serial path) and 100 (the threaded one), out of order. */
    const int counts[2] = {3, 100};
    for (int t = 0; t < 2; t++) {
        int count = counts[t];
        int *idx = malloc((size_t)count * sizeof *idx);
        for (int i = 0; i < count; i++)
            idx[i] = (149 - i * 13 % 150 + 150) % 150;
        float *x = malloc((size_t)count * 3072 * sizeof *x);
        float *want = malloc((size_t)count * 3072 * sizeof *want);
        uint8_t *labels = malloc((size_t)count);
        cnn_batch_fill(&d, idx, count, &n, x, labels);
        int bad_labels = 0;
        for (int i = 0; i < count; i++) {
            bad_labels += labels[i] != d.labels[idx[i]];
            for (int h = 0; h < 32; h++)
                for (int w = 0; w < 32; w++)
                    for (int c = 0; c < 3; c++) {
                        double p = d.pixels[(size_t)idx[i] * 3072 + c * 1024 + h * 32 + w];
                        want[(((size_t)i * 32 + h) * 32 + w) * 3 + c] =
                            (float)((p / 255.0 - n.mean[c]) / n.std[c]);
                    }
        }
        char what[96];
        snprintf(what, sizeof what, "batch of %d: NHWC values vs (p/255 - mean)/std", count);
        check_close(what, x, want, (size_t)count * 3072, 1e-5, 1e-6);
        check(bad_labels == 0, "batch of %d: labels follow idx (%d wrong)", count, bad_labels);
        free(idx);
        free(x);
        free(want);
        free(labels);
    }
    /* One hand-checked value: image 5, row 2, column 3, green. */
    int one = 5;
    float x1[3072];
    cnn_batch_fill(&d, &one, 1, &n, x1, NULL);
    float got = x1[(2 * 32 + 3) * 3 + 1];
    float want = (float)((pixel_of(9, 5, 1, 2, 3) / 255.0 - n.mean[1]) / n.std[1]);
    check_close("batch element (h 2, w 3, c 1)", &got, &want, 1, 1e-5, 1e-6);
    cnn_dataset_free(&d);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/cnnlab_test_data_XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 2;
    }
    test_md5();
    test_load_file();
    test_folder();
    test_unpack();
    test_split();
    test_norm();
    test_batch();
    if (rmdir(tmpdir) != 0)
        printf("note: %s not empty after the tests\n", tmpdir);
    return check_finish("test_data");
}
