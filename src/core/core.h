/* core.h: small services every module uses: aligned memory, the seeded
 * random number generator, checked and atomic file I/O, invariant checks.
 * Nothing here keeps global state. */
#ifndef CNN_CORE_H
#define CNN_CORE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnnlab/status.h"

/* CNN_ASSERT: a broken invariant is a bug in cnnlab, not bad input: abort loudly. */
#define CNN_ASSERT(cond)                                                              \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "cnnlab: internal error at %s:%d: %s\n", __FILE__,        \
                    __LINE__, #cond);                                                 \
            abort();                                                                  \
        }                                                                             \
    } while (0)

/* ---- memory ---- */
#define CNN_ALIGN 64
/* 64-byte aligned, zero-filled, exactly `bytes` usable; NULL on failure.
 * Free with cnn_free (never free()), and give cnn_free nothing else. */
void *cnn_alloc(size_t bytes);
void cnn_free(void *p);
/* Gives the whole pages inside [p, p + bytes) back to the kernel: the
 * allocation stays valid, and the range reads as zeros until written again.
 * For a buffer whose contents are no longer needed. */
void cnn_release_pages(void *p, size_t bytes);

/* A float's IEEE bits and back (no aliasing: memcpy, which compiles to a move). */
static inline uint32_t cnn_float_bits(float f)
{
    uint32_t b;
    memcpy(&b, &f, sizeof b);
    return b;
}

static inline float cnn_bits_float(uint32_t b)
{
    float f;
    memcpy(&f, &b, sizeof f);
    return f;
}

/* ---- random numbers ----
 * xoshiro256** seeded through splitmix64. One user seed drives everything:
 * each consumer asks for its own stream, cnn_rng_init(&r, seed, CNN_STREAM_x, k),
 * so that e.g. the shuffle of epoch 7 does not depend on how many numbers
 * initialisation drew. */
typedef struct cnn_rng {
    uint64_t s[4];
} cnn_rng;

enum cnn_stream {
    CNN_STREAM_INIT = 1,    /* parameter initialisation; sub = layer index */
    CNN_STREAM_SPLIT = 2,   /* train/validation split */
    CNN_STREAM_SHUFFLE = 3, /* per-epoch shuffle; sub = epoch */
    CNN_STREAM_AUGMENT = 4, /* sub = batch id * 65536 + image */
    CNN_STREAM_DROPOUT = 5, /* sub = step * 4096 + layer */
    CNN_STREAM_BENCH = 6,   /* random inputs for benchmarks */
    CNN_STREAM_SUBSET = 7   /* choice of the --subset images */
};

void cnn_rng_init(cnn_rng *r, uint64_t seed, uint64_t stream, uint64_t sub);
uint64_t cnn_rng_next(cnn_rng *r);
double cnn_rng_uniform(cnn_rng *r);        /* [0, 1) with 53 random bits */
uint32_t cnn_rng_below(cnn_rng *r, uint32_t n); /* uniform in [0, n), unbiased */
double cnn_rng_normal(cnn_rng *r);         /* standard normal (Box-Muller) */
void cnn_rng_shuffle(cnn_rng *r, int *a, int n); /* Fisher-Yates */

/* ---- files ---- */
/* Opens path for reading ("rb") when it is a regular file, with its size;
 * a directory, FIFO, socket or device is refused with a message naming the
 * path and what it is (a FIFO never blocks the open). */
cnn_status cnn_file_open_read(const char *path, FILE **f, long long *size, cnn_error *err);
/* Reads a whole regular file into a fresh buffer, NUL-terminated (caller
 * frees with free()); refuses what cnn_file_open_read refuses. */
cnn_status cnn_file_read_all(const char *path, unsigned char **data, size_t *size, cnn_error *err);
/* The same for a text file: a NUL byte anywhere (which would end the text
 * early, the rest unseen) is refused as "PATH line N: expected text, found a
 * NUL byte". */
cnn_status cnn_file_read_text(const char *path, char **text, size_t *size, cnn_error *err);
/* The text of a file as cnn_file_read_text reads it, or NULL when it cannot be
 * read (for files that may be missing: select.txt, report.md); free(). */
char *cnn_file_text_or_null(const char *path);
/* Writes path atomically: into a fresh path.tmp.PID.N beside it (created
 * exclusively, so concurrent writers never share one), fsync, rename, fsync of
 * the folder. A crash leaves either the old file or the new one, never a torn
 * one. Every file cnnlab writes goes through here (logs excepted). */
cnn_status cnn_file_write_atomic(const char *path, const void *data, size_t size, cnn_error *err);
/* ---- text (src/core/text.c) ----
 * cnn_text: a growable text buffer. Start from {0}; printf and append to it;
 * a failed allocation is remembered (failed = 1), the text stops growing and
 * cnn_text_write reports it; free with cnn_text_free. */
typedef struct cnn_text {
    char *buf; /* NUL-terminated once anything was added (NULL before) */
    size_t len, cap;
    int failed;
} cnn_text;
void cnn_text_printf(cnn_text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cnn_text_append(cnn_text *t, const char *s, size_t n);
const char *cnn_text_str(const cnn_text *t); /* the text, "" when empty or failed */
void cnn_text_free(cnn_text *t);
/* Writes the text to path with cnn_file_write_atomic (CNN_STATUS_NO_MEMORY
 * when composing it failed). */
cnn_status cnn_text_write(const cnn_text *t, const char *path, cnn_error *err);
/* The same text behind a stdio stream, for code that composes with fprintf:
 * cnn_text_file t; FILE *f = cnn_text_file_open(&t); fprintf(f, ...);
 * st = cnn_text_file_commit(&t, path, err);  open returns NULL when out of
 * memory (commit then reports it); commit always frees. */
typedef struct cnn_text_file {
    FILE *f;
    cnn_text text;
} cnn_text_file;
FILE *cnn_text_file_open(cnn_text_file *t);
cnn_status cnn_text_file_commit(cnn_text_file *t, const char *path, cnn_error *err);
/* One CSV field (RFC 4180): as it is, or quoted, its quotes doubled, when it
 * holds a comma, a quote or a line break. */
void cnn_csv_field(cnn_text *t, const char *s);
/* s as a JSON string: quoted, with quotes, backslashes and control
 * characters escaped. */
void cnn_json_string(cnn_text *t, const char *s);
/* ---- CSV tables of numbers, read by header (src/core/csv.c) ----
 * The columns wanted are found by name in the header line (other and later
 * columns are ignored); blank lines are skipped, '\r' dropped, fields
 * trimmed. */
#define CNN_CSV_MAX_COLUMNS 16
typedef struct cnn_csv_spec {
    const char *const *names; /* the columns wanted */
    int count;                /* at most CNN_CSV_MAX_COLUMNS */
    int needed;               /* names[0..needed) must be there; the others are read where
                               * the header and the row have them (NaN otherwise) */
    const char *header;       /* the header expected, for messages: "epoch,train_loss,..." */
    const char *row;          /* what a row is, for messages: "epoch" */
} cnn_csv_spec;
/* Reads path: columns[c][0..*rows) for names[c] (one block: free(columns[0]),
 * unless *rows is 0 after a failure). CNN_STATUS_IO when it cannot be read;
 * CNN_STATUS_FORMAT, naming the file and line, for a NUL byte, an empty file,
 * a header without a needed column, a row too short or a field that is not
 * a number. A header without rows is not an error (*rows = 0). */
cnn_status cnn_csv_read(const char *path, const cnn_csv_spec *spec, double **columns, int *rows,
                        cnn_error *err);
/* Removes the temporary files (NAME.tmp.PID.N) that writers killed while
 * writing left in dir; returns how many, or -1 if dir cannot be read. Only
 * for a folder this process has locked (cnn_dir_lock): no live writer then
 * works in it. */
int cnn_file_remove_temps(const char *dir);
/* Text appended to a caller's fixed buffer (reports, sentences): what does not
 * fit is cut, and buf stays NUL-terminated. */
typedef struct cnn_fixbuf {
    char *buf;
    size_t size, used;
} cnn_fixbuf;
void cnn_fixbuf_printf(cnn_fixbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* One formatted line (at most 1023 characters) passed to a caller's hook
 * f(user, line), as the trainer's on_info and a data source's note take
 * them; nothing when f is NULL. */
void cnn_notef(void (*f)(void *user, const char *line), void *user, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- other programs (src/core/proc.c) ----
 * A child process, started with fork and exec (no shell): its standard
 * output and error each inherited, sent to /dev/null, sent to this
 * process's standard error, or (both PIPE: the same pipe) read from fd. */
typedef enum cnn_proc_output {
    CNN_PROC_INHERIT = 0,
    CNN_PROC_NULL,
    CNN_PROC_TO_STDERR,
    CNN_PROC_PIPE
} cnn_proc_output;

typedef struct cnn_proc_spec {
    const char *const *argv; /* NULL-terminated */
    const char *path;        /* the program (NULL: argv[0]): a path, or a name on PATH */
    int search_path;         /* 1: look a name without '/' up on PATH */
    const char *dir;         /* the child's working folder (NULL: this one) */
    int null_stdin;          /* 1: standard input from /dev/null */
    cnn_proc_output out, err;
} cnn_proc_spec;

typedef struct cnn_proc {
    long pid;   /* -1 when none */
    int fd;     /* the pipe's read end (close-on-exec), or -1 */
    int signal; /* after cnn_proc_wait: the signal that killed it, else 0 */
} cnn_proc;

/* Starts the program (buffered output of this process is flushed first). A
 * program that cannot be run ends with status 127 (126: dir cannot be
 * entered), saying why on its standard error. */
cnn_status cnn_proc_start(const cnn_proc_spec *s, cnn_proc *p, cnn_error *err);
/* Closes the pipe, waits for the end (retrying EINTR only) and returns the
 * exit status, 128 + signal when a signal killed it (p->signal says which),
 * -1 when it could not be waited for. */
int cnn_proc_wait(cnn_proc *p);
/* Start and wait; -1 when it could not be started (err says why). */
int cnn_proc_run(const cnn_proc_spec *s, cnn_error *err);

/* ---- folder locks ----
 * One process at a time works in a run or study folder: flock(2) on the
 * folder itself, so no file is added to it and a process that dies (however)
 * releases its lock: a stale lock cannot exist, so a dead owner's folder is
 * taken over at once. Refused (CNN_STATUS_INVALID_ARGUMENT) while another
 * process holds it, naming its PID (from /proc/locks; "another process" where
 * that cannot be read): "WHAT DIR is in use by process N ...". *fd: the lock's descriptor (close-on-exec: commands
 * the holder starts do not inherit it); release with cnn_dir_unlock. */
cnn_status cnn_dir_lock(const char *dir, const char *what, int *fd, cnn_error *err);
/* The same, shared: any number of holders of a shared lock (the workers of
 * one study), refused while one holds it exclusively, and the other way. */
cnn_status cnn_dir_lock_shared(const char *dir, const char *what, int *fd, cnn_error *err);
void cnn_dir_unlock(int fd); /* -1: nothing */
/* The user's cache folder into out: $CNNLAB_CACHE_DIR, else
 * $XDG_CACHE_HOME/cnnlab, else ~/.cache/cnnlab; 0 when the cache is off (an
 * empty CNNLAB_CACHE_DIR) or no folder is known. */
int cnn_cache_dir(char *out, size_t size);
/* 1 if path exists (any kind of file). */
int cnn_path_exists(const char *path);
/* 1 if path is a directory holding at least one entry other than . and .. */
int cnn_dir_nonempty(const char *path);
/* mkdir -p */
cnn_status cnn_mkdir_p(const char *path, cnn_error *err);

/* FNV-1a (64-bit) of n bytes: the checksum of the weights and resume files. */
uint64_t cnn_fnv1a(const void *data, size_t n);
/* Checksummed files end with the FNV-1a of everything before it (8 bytes).
 * write: fills data's last 8 of size bytes with it, then writes atomically;
 * sum_ok: 1 if data (size >= 8) ends with it. */
cnn_status cnn_file_write_summed(const char *path, unsigned char *data, size_t size,
                                 cnn_error *err);
int cnn_file_sum_ok(const unsigned char *data, size_t size);
/* Reads a whole file that starts with an 8-byte magic and a 4-byte version
 * (the weights and resume files): one of at least header_bytes + 8 bytes
 * whose magic and version are the ones given, else CNN_STATUS_FORMAT naming
 * the file and what it is not ("not a cnnlab KIND file (expected the MAGIC
 * header)", "KIND format version V, expected W"). *buf (free()) holds the
 * file; its checksum is left to the caller, after its own size checks. */
cnn_status cnn_file_read_versioned(const char *path, const char magic[8], const char *kind,
                                   uint32_t version, size_t header_bytes, unsigned char **buf,
                                   size_t *size, cnn_error *err);

/* Finds a "key = value" line in text (NULL: none) and copies the value into
 * out; returns 1, or writes fallback (NULL: "") and returns 0. */
int cnn_kv_get(const char *text, const char *key, char *out, size_t size, const char *fallback);

/* An enum's name table (names[i] the name of value i): the index of s, or -1;
 * the name of i, or "?" out of range. */
int cnn_name_find(const char *const *names, int count, const char *s);
const char *cnn_name_of(const char *const *names, int count, int i);

/* Wall clock in seconds (monotonic). */
double cnn_now(void);

/* The machine's arithmetic peak in GFLOP/s on `threads` threads: chains of
 * fp32 FMAs as wide as the CPU has (512 or 256 bits), or (bf16 = 1) of
 * AVX512_BF16 dot products. Chosen at run time, in any build; 0 where the CPU
 * has no such instructions. Timed in windows of about `seconds` each, after a
 * calibration long enough to wake the cores, until the best two windows agree
 * within 2 % (at least 3 windows, at most 12); returns the best window's rate.
 * *agreed (may be NULL) is 1 when two windows agreed, 0 when the 12 did not
 * (a busy machine: the figure is then a lower bound). */
double cnn_peak_gflops(int threads, int bf16, double seconds, int *agreed);

#endif
