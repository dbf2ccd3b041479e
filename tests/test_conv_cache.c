/* test_conv_cache.c: --conv auto's choices kept on disk (conv_cache.c): a
 * second process (here: a second oneDNN context) takes the first one's
 * choice without timing; a damaged cache file is ignored and replaced; the
 * key holds the thread count; an empty CNNLAB_CACHE_DIR turns the cache off;
 * cnnlab's Winograd is among the candidates of a 3x3 stride-1 shape; a bf16
 * plan that stores activations times its bf16 kernels so, under its own key. */
#define _GNU_SOURCE
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "ops/fast/conv_cache.h"
#include "ops/fast/conv_dnnl.h"
#include "ops/fast/fast.h"

static char cache_file[4200];

/* The impl text of an auto convolution made in a fresh context (as a new
 * process would); "" on failure. */
static void make_auto(const cnn_conv_geom *g, char *impl, size_t size)
{
    cnn_dnnl *ctx = NULL;
    cnn_fast_conv *c = NULL;
    cnn_error err;
    impl[0] = '\0';
    if (cnn_dnnl_create(&ctx, &err) != CNN_STATUS_OK ||
        cnn_fast_conv_create(ctx, g, 1, CNN_ACT_NONE, 1, 0, CNN_CONV_AUTO, &c, &err)) {
        check(0, "conv create: %s", err.msg);
    } else {
        snprintf(impl, size, "%s", cnn_fast_conv_impl(c));
    }
    cnn_fast_conv_destroy(c);
    cnn_dnnl_destroy(ctx);
}

/* As make_auto, with make_auto's context kept for a second make of the same
 * shape, run as the plan's second pass runs it (storage bits added). */
static void make_auto_bf16(const cnn_conv_geom *g, int bf16, int again, char *impl, size_t size)
{
    cnn_dnnl *ctx = NULL;
    cnn_fast_conv *c = NULL;
    cnn_error err;
    impl[0] = '\0';
    if (cnn_dnnl_create(&ctx, &err) != CNN_STATUS_OK ||
        cnn_fast_conv_create(ctx, g, 0, CNN_ACT_NONE, 1, bf16, CNN_CONV_AUTO, &c, &err)) {
        check(0, "bf16 conv create: %s", err.msg);
    } else if (again && cnn_fast_conv_runs_bf16(c)) {
        cnn_fast_conv_destroy(c);
        c = NULL;
        if (cnn_fast_conv_create(ctx, g, 0, CNN_ACT_NONE, 1, bf16 | again, CNN_CONV_AUTO, &c,
                                 &err))
            check(0, "bf16 conv made again with storage: %s", err.msg);
    }
    if (c)
        snprintf(impl, size, "%s", cnn_fast_conv_impl(c));
    cnn_fast_conv_destroy(c);
    cnn_dnnl_destroy(ctx);
}

static int file_lines(void)
{
    FILE *f = fopen(cache_file, "r");
    int n = 0, ch;
    if (!f)
        return -1;
    while ((ch = fgetc(f)) != EOF)
        n += ch == '\n';
    fclose(f);
    return n;
}

static void write_file(const char *text, size_t n)
{
    FILE *f = fopen(cache_file, "wb");
    if (f) {
        fwrite(text, 1, n, f);
        fclose(f);
    }
}

int main(void)
{
    char dir[] = "/tmp/cnnlab-conv-cache-XXXXXX";
    if (!mkdtemp(dir)) {
        printf("FAIL mkdtemp\n");
        return 1;
    }
    setenv("CNNLAB_CACHE_DIR", dir, 1);
    cnn_conv_cache_set_load_check(0); /* stores even while make test keeps the CPUs busy */
    snprintf(cache_file, sizeof cache_file, "%s/conv-auto.txt", dir);
    cnn_conv_geom g = {.n = 4, .ih = 12, .iw = 12, .ic = 16, .oc = 16, .kh = 3, .kw = 3,
                       .sh = 1, .sw = 1, .ph = 1, .pw = 1};
    cnn_conv_geom_finish(&g);
    char first[320], second[320], key[512];

    make_auto(&g, first, sizeof first);
    check(strstr(first, "(timed:") != NULL, "first process times: %s", first);
    /* a 3x3 stride-1 shape: cnnlab's Winograd is a candidate on every CPU,
     * beside oneDNN's where the CPU has it */
    check(strstr(first, "fp32 winograd-sgemm") != NULL, "cnnlab's Winograd timed: %s", first);
    check(file_lines() == 1, "one cache line written (%d)", file_lines());
    make_auto(&g, second, sizeof second);
    check(strstr(second, "(cached timed:") != NULL, "second process reads the cache: %s", second);
    check(strncmp(first, second, strcspn(first, " ")) == 0, "same kernel: %s / %s", first, second);
    check(file_lines() == 1, "nothing added by a hit (%d lines)", file_lines());

    /* a grouped convolution of the same sizes has a key of its own */
    char grouped[512];
    cnn_conv_geom gg = g;
    gg.groups = g.ic;
    cnn_conv_cache_key(&g, 1, CNN_ACT_NONE, 1, 0, key, sizeof key);
    cnn_conv_cache_key(&gg, 1, CNN_ACT_NONE, 1, 0, grouped, sizeof grouped);
    check(strcmp(key, grouped) != 0 && strstr(grouped, "groups=") && !strstr(key, "groups="),
          "groups=%d makes another key: %s", gg.groups, grouped);

    /* a choice written by hand is what the next process runs */
    cnn_conv_cache_key(&g, 1, CNN_ACT_NONE, 1, 0, key, sizeof key);
    char line[800];
    int n = snprintf(line, sizeof line, "garbage without a tab\n%s\tdirect\t0\t(timed: by hand)\n",
                     key);
    write_file(line, (size_t)n);
    make_auto(&g, second, sizeof second);
    check(strstr(second, "(cached timed: by hand)") != NULL, "hand-written choice taken: %s",
          second);
    /* run 2: direct with its backward-data as a forward (this training shape has stride 1) */
    n = snprintf(line, sizeof line, "%s\tdirect\t2\t(timed: by hand)\n", key);
    write_file(line, (size_t)n);
    make_auto(&g, second, sizeof second);
    check(strstr(second, "backward-data as a forward (cached timed: by hand)") != NULL,
          "hand-written choice of backward-data as a forward taken: %s", second);

    /* damaged lines: an unknown or auto algorithm, bf16 on an fp32 shape, a
     * NUL byte: ignored, timed again, the file replaced by a valid one */
    static const char *const bad[] = {"%s\tnonsense\t0\t(x)\n", "%s\tauto\t0\t(x)\n",
                                      "%s\tdirect\t1\t(x)\n", "%s\tdirect\t7\t(x)\n",
                                      "%s\n", "%s\tdirect", "%s\tdirect\t\n1\t(x)\n"};
    for (int i = 0; i < (int)(sizeof bad / sizeof bad[0]); i++) {
        n = snprintf(line, sizeof line, bad[i], key);
        write_file(line, (size_t)n);
        make_auto(&g, second, sizeof second);
        check(strstr(second, "(timed:") != NULL, "bad line %d ignored: %s", i, second);
    }
    /* a last line without a reason, and no newline: taken, nothing read past the end */
    n = snprintf(line, sizeof line, "%s\tdirect\t0", key);
    write_file(line, (size_t)n);
    make_auto(&g, second, sizeof second);
    check(strstr(second, "(cached ") != NULL, "a line without a reason is taken: %s", second);
    n = snprintf(line, sizeof line, "%s\tdirect\t0\t(x)\n", key);
    line[3] = '\0';
    write_file(line, (size_t)n);
    make_auto(&g, second, sizeof second);
    check(strstr(second, "(timed:") != NULL, "a file with a NUL is ignored: %s", second);
    check(file_lines() == 1, "and replaced by one valid line (%d)", file_lines());

    /* a bf16 plan that stores activations times its bf16 kernels reading and
     * writing storage, under a key of its own; the plan's second make with
     * the storage bits takes the remembered choice (CPUs with bf16 kernels) */
    char plain[512];
    cnn_conv_cache_key(&g, 0, CNN_ACT_NONE, 1, CNN_FAST_BF16, plain, sizeof plain);
    cnn_conv_cache_key(&g, 0, CNN_ACT_NONE, 1, CNN_FAST_BF16 | CNN_FAST_MAY_STORE, key,
                       sizeof key);
    check(strstr(key, " store=1") && !strstr(plain, "store=") &&
              strncmp(key, plain, strlen(plain) - strlen(strstr(plain, " cand="))) == 0,
          "storage gets a key of its own: %s", key);
    if (check_cpu_avx512_core()) {
        make_auto_bf16(&g, CNN_FAST_BF16, 0, second, sizeof second);
        check(strstr(second, "(timed: bf16 direct") != NULL, "bf16 without storage: %s", second);
        int lines = file_lines();
        make_auto_bf16(&g, CNN_FAST_BF16 | CNN_FAST_MAY_STORE,
                       CNN_FAST_X_BF16 | CNN_FAST_Y_BF16, second, sizeof second);
        check(strstr(second, "(timed with bf16 storage: bf16 direct") != NULL,
              "bf16 timed on storage: %s", second);
        check(file_lines() == lines + 1, "storage adds its line (%d, %d)", lines, file_lines());
        make_auto_bf16(&g, CNN_FAST_BF16 | CNN_FAST_MAY_STORE, 0, second, sizeof second);
        check(strstr(second, "(cached timed with bf16 storage:") != NULL,
              "storage's choice cached: %s", second);
        /* a choice of cnnlab's weight gradient (CNN_RUN_OWN_BWW) is taken
         * from the cache as any other: a line written so is made so */
        cnn_conv_geom gw = g;
        gw.n = 2;
        cnn_conv_cache_key(&gw, 0, CNN_ACT_NONE, 1, CNN_FAST_BF16, key, sizeof key);
        char bww_line[1024];
        int len = snprintf(bww_line, sizeof bww_line, "%s\tdirect\t%d\t(timed: bf16 direct 2.0 ms, bf16 "
                         "direct+own-bww 1.0 ms)\n", key, CNN_RUN_BF16 | CNN_RUN_OWN_BWW);
        if (cnn_bww_applies(&gw)) {
            check(strstr(key, " bww=1") != NULL, "bf16 training's key says bww=1: %s", key);
            write_file(bww_line, (size_t)len);
            make_auto_bf16(&gw, CNN_FAST_BF16, 0, second, sizeof second);
            check(strstr(second, "(cached timed:") && strstr(second, "cnnlab's bf16 kernel"),
                  "cnnlab's weight gradient taken from the cache: %s", second);
            /* and so is a choice of cnnlab's Winograd (CNN_RUN_OWN_WINO) */
            gw.n = 3; /* (3x3, stride 1, 16 channels each side) */
            cnn_conv_cache_key(&gw, 0, CNN_ACT_NONE, 1, CNN_FAST_BF16, key, sizeof key);
            check(strstr(key, " bwino=3") != NULL, "a bf16 3x3 key says bwino=3: %s", key);
            cnn_conv_geom g24 = gw; /* auto does not offer it at 24 channels */
            g24.ic = 24;
            cnn_conv_cache_key(&g24, 0, CNN_ACT_NONE, 1, CNN_FAST_BF16, plain, sizeof plain);
            check(!strstr(plain, "bwino"), "no bwino at 24 input channels: %s", plain);
            len = snprintf(bww_line, sizeof bww_line, "%s\tdirect\t%d\t(timed: bf16 direct 2.0 "
                           "ms, bf16 winograd+own-bww 1.0 ms)\n", key,
                           CNN_RUN_BF16 | CNN_RUN_OWN_BWW | CNN_RUN_OWN_WINO);
            write_file(bww_line, (size_t)len);
            make_auto_bf16(&gw, CNN_FAST_BF16, 0, second, sizeof second);
            check(strstr(second, "(cached timed:") && strstr(second, "winograd:bf16"),
                  "cnnlab's Winograd taken from the cache: %s", second);
        } else {
            printf("skip the cached weight gradient: no AVX512_BF16 in this build\n");
        }
    } else {
        printf("skip the bf16 storage timing: no AVX-512 for oneDNN's bf16 kernels\n");
    }

    /* the thread count is part of the key */
    int threads = omp_get_max_threads(), lines = file_lines();
    omp_set_num_threads(threads == 1 ? 2 : 1);
    make_auto(&g, second, sizeof second);
    check(strstr(second, "(timed:") != NULL, "another thread count times again: %s", second);
    check(file_lines() == lines + 1, "and adds its line (%d)", file_lines());
    omp_set_num_threads(threads);

    /* off */
    setenv("CNNLAB_CACHE_DIR", "", 1);
    make_auto(&g, second, sizeof second);
    check(strstr(second, "(timed:") != NULL, "an empty CNNLAB_CACHE_DIR: no cache: %s", second);

    unlink(cache_file);
    rmdir(dir);
    return check_finish("conv cache");
}
