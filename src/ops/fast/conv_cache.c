/* conv_cache.c: CNN_CONV_AUTO's choices kept between processes.
 *
 * Timing every candidate algorithm of every convolution shape costs a plan a
 * few steps per layer: for airbench94 at batch 1024 about 40 seconds, each
 * time a run starts. The choice depends only on the machine and the shape, so
 * it is kept in a text file, one line per shape:
 *
 *   KEY <TAB> ALGO <TAB> RUN <TAB> WHY
 *
 * KEY names the machine (CPU model, oneDNN's ISA and version, OpenMP threads)
 * and the shape (geometry, bias, fused activation, training, bf16 asked for);
 * RUN is how a direct kernel runs (conv_dnnl.h's CNN_RUN_* bits: 1 bf16, 2 its
 * backward-data as a forward), WHY the timing that decided. The file is
 * $CNNLAB_CACHE_DIR/conv-auto.txt, by default $XDG_CACHE_HOME/cnnlab or
 * ~/.cache/cnnlab; an empty CNNLAB_CACHE_DIR turns the cache off. It is a cache: a line that does not
 * parse is ignored, a file that cannot be read or written only means timing
 * again, and two processes that add lines at once may lose one of them (each
 * rewrite is atomic). A second benefit: processes on one machine choose the
 * same kernels, so a resumed run computes as the uninterrupted one would.
 * A timing taken while other work keeps the CPUs busy can choose badly, and a
 * cache would keep that mistake: a choice is stored only when the machine's
 * load (the one-minute average of /proc/loadavg) is below this process's
 * threads + 1.
 */
#include <dnnl.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conv_cache.h"
#include "conv_dnnl.h"
#include "conv_wino.h"
#include "core/core.h"

#define CACHE_FILE "conv-auto.txt"
#define CACHE_MAX_LINES 4096 /* older lines go when a rewrite would pass this */

/* The CPU's model name from /proc/cpuinfo, blanks as '_' ("unknown" if none). */
static void cpu_model(char *out, size_t size)
{
    snprintf(out, size, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (strncmp(line, "model name", 10) != 0 || !colon)
            continue;
        char *s = colon + 1;
        while (*s == ' ' || *s == '\t')
            s++;
        size_t i = 0;
        for (; s[i] && s[i] != '\n' && i + 1 < size; i++)
            out[i] = (s[i] == ' ' || s[i] == '\t') ? '_' : s[i];
        out[i] = '\0';
        break;
    }
    fclose(f);
}

void cnn_conv_cache_key(const cnn_conv_geom *g, int has_bias, cnn_act act, int training,
                        int bf16, char *key, size_t size)
{
    static char cpu[128]; /* read once; same answer for every caller */
    if (!cpu[0])
        cpu_model(cpu, sizeof cpu);
    const dnnl_version_t *v = dnnl_version();
    int n = snprintf(key, size,
                     "cpu=%s isa=%x dnnl=%d.%d.%d threads=%d n=%d in=%dx%dx%d oc=%d k=%dx%d "
                     "s=%dx%d p=%dx%d bias=%d act=%d train=%d bf16=%d",
                     cpu, (unsigned)dnnl_get_effective_cpu_isa(), v->major, v->minor, v->patch,
                     omp_get_max_threads(), g->n, g->ih, g->iw, g->ic, g->oc, g->kh, g->kw, g->sh,
                     g->sw, g->ph, g->pw, has_bias, (int)act, training, bf16 & CNN_FAST_BF16);
    /* a plan that stores activations as bf16 times its bf16 kernels so */
    if ((bf16 & CNN_FAST_MAY_STORE) && n > 0 && (size_t)n < size)
        n += snprintf(key + n, size - (size_t)n, " store=1");
    /* a grouped convolution is another shape (ungrouped keys stay as they were) */
    if (g->groups > 1 && n > 0 && (size_t)n < size)
        n += snprintf(key + n, size - (size_t)n, " groups=%d", g->groups);
    /* the candidates grew, and choices timed without the new ones are timed
     * again: cand=2, training's direct with its backward-data as a forward;
     * cand=3, cnnlab's Winograd beside oneDNN's (3x3 stride-1 shapes);
     * cand=4, the same once its transforms were vectorised (1.2-1.4x faster) */
    int wino = g->groups <= 1 && cnn_wino_conv_applies(g);
    if ((training || wino) && n > 0 && (size_t)n < size)
        n += snprintf(key + n, size - (size_t)n, " cand=%d", wino ? 4 : 2);
    /* bf16 training's candidates grew by cnnlab's weight gradient (conv_bww.c) */
    if (training && (bf16 & CNN_FAST_BF16) && cnn_bww_applies(g) && n > 0 && (size_t)n < size)
        n += snprintf(key + n, size - (size_t)n, " bww=1");
    /* and on 3x3 stride-1 shapes by cnnlab's bf16 Winograd (conv_bwino.c;
     * bwino=3: with its weight gradient, timed both with its forward and with
     * the best direct form) */
    if ((bf16 & CNN_FAST_BF16) && cnn_bwino_auto_applies(g) && n > 0 && (size_t)n < size)
        snprintf(key + n, size - (size_t)n, " bwino=3");
}

/* The cache file's text (NULL: none or unreadable), NUL-terminated. */
static char *cache_read(char *path, size_t size)
{
    char dir[4096];
    if (!cnn_cache_dir(dir, sizeof dir) || !dir[0])
        return NULL;
    if (snprintf(path, size, "%s/%s", dir, CACHE_FILE) >= (int)size)
        return NULL;
    unsigned char *data = NULL;
    size_t n;
    cnn_error err;
    if (!cnn_path_exists(path) || cnn_file_read_all(path, &data, &n, &err) != CNN_STATUS_OK)
        return NULL;
    if (memchr(data, '\0', n)) { /* not text: ignored, and replaced on the next store */
        free(data);
        return NULL;
    }
    return (char *)data;
}

/* The line after key's tab when line (up to its newline) starts with key + TAB. */
static const char *line_value(const char *line, const char *key)
{
    size_t k = strlen(key);
    return strncmp(line, key, k) == 0 && line[k] == '\t' ? line + k + 1 : NULL;
}

_Static_assert((CNN_RUN_CHOICE & CNN_RUN_STORAGE) == 0, "a cached choice never holds storage");

int cnn_conv_cache_find(const char *key, cnn_conv_algo *algo, int *run, char *why,
                        size_t why_size)
{
    char path[4200];
    char *text = cache_read(path, sizeof path);
    int found = 0;
    for (const char *line = text; line && *line && !found;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        char one[1024], name[32];
        int bf, used = 0;
        if (len < sizeof one) { /* parsed as its own string: nothing read past its end */
            memcpy(one, line, len);
            one[len] = '\0';
            const char *v = line_value(one, key);
            if (v && sscanf(v, "%31[^\t]\t%d\t%n", name, &bf, &used) == 2 && used > 0 &&
                cnn_conv_algo_parse(name, algo) && *algo != CNN_CONV_AUTO &&
                !(bf & ~CNN_RUN_CHOICE)) { /* never a storage bit */
                *run = bf;
                snprintf(why, why_size, "%s", v + used);
                found = 1;
            }
        }
        line = end ? end + 1 : NULL;
    }
    free(text);
    return found;
}

static int load_check = 1;
void cnn_conv_cache_set_load_check(int on) { load_check = on; }

/* 1 when the CPUs seem to be ours: the load average below our threads + 1. */
static int machine_quiet(void)
{
    double load = 0;
    if (!load_check)
        return 1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (!f)
        return 1;
    int ok = fscanf(f, "%lf", &load) == 1;
    fclose(f);
    return !ok || load < omp_get_max_threads() + 1.0;
}

void cnn_conv_cache_store(const char *key, cnn_conv_algo algo, int run, const char *why)
{
    if (!machine_quiet())
        return;
    char path[4200], dir[4096];
    cnn_error err;
    if (!cnn_cache_dir(dir, sizeof dir) || !dir[0] || cnn_mkdir_p(dir, &err) != CNN_STATUS_OK)
        return;
    char *old = cache_read(path, sizeof path);
    if (!old && snprintf(path, sizeof path, "%s/%s", dir, CACHE_FILE) >= (int)sizeof path)
        return;
    /* the lines kept: all but key's own, the newest CACHE_MAX_LINES - 1 */
    int lines = 0;
    for (const char *s = old; s && (s = strchr(s, '\n')); s++)
        lines++;
    cnn_text_file t;
    FILE *f = cnn_text_file_open(&t);
    if (!f) {
        free(old);
        return;
    }
    int skip = lines - (CACHE_MAX_LINES - 1);
    for (const char *line = old; line && *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        if (skip-- <= 0 && !line_value(line, key))
            fprintf(f, "%.*s\n", (int)len, line);
        line = end ? end + 1 : NULL;
    }
    fprintf(f, "%s\t%s\t%d\t%s\n", key, cnn_conv_algo_name(algo), run, why);
    free(old);
    cnn_text_file_commit(&t, path, &err); /* a cache: failing to write only costs time */
}
