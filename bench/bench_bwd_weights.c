/* bench_bwd_weights.c: backward-weights of stride-1 convolutions in bf16,
 * oneDNN's primitive against cnnlab's kernel (src/ops/fast/conv_bww.c, what
 * --conv auto may choose in bf16 training). Shapes: airbench94's 3x3 layers
 * at its recipe's batch, then VGG/ResNet's CIFAR layers at batch 128, NHWC
 * as cnnlab holds activations, random values. Prints the best of 5 runs
 * after a warm-up, milliseconds and GFLOP/s, and the largest difference of
 * the two weight gradients relative to the largest value. A benchmark: it
 * measures, it does not assert.
 *
 * Build and run (no Makefile rule; from the repository root, after make):
 *   gcc -std=c11 -O2 -fopenmp -Isrc -Iinclude bench/bench_bwd_weights.c build/libcnnlab.a \
 *       -ldnnl -lm -o build/bench_bwd_weights && build/bench_bwd_weights
 */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <string.h>

#include "bench_dnnl.h"
#include "core/core.h"
#include "ops/fast/bf16.h"
#include "ops/fast/conv_bww.h"

static void *room(size_t bytes)
{
    void *p = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
    if (!p) {
        fprintf(stderr, "bench_bwd_weights: no memory for %zu bytes\n", bytes);
        exit(1);
    }
    return p;
}

/* n values in [-0.5, 0.5), rounded to bf16 */
static uint16_t *random_bf16(size_t n, cnn_rng *r)
{
    uint16_t *h = room(n * 2);
    for (size_t i = 0; i < n; i++)
        h[i] = cnn_bf16_from_float((float)cnn_rng_uniform(r) - 0.5f);
    return h;
}

/* One N x H x H x IC -> OC convolution, kernel k, stride 1, padding k/2. */
static void shape(int n, int h, int ic, int oc, int k, cnn_rng *rng)
{
    cnn_conv_geom g = {.n = n, .ih = h, .iw = h, .ic = ic, .oc = oc, .kh = k, .kw = k,
                       .sh = 1, .sw = 1, .ph = k / 2, .pw = k / 2, .oh = h, .ow = h, .groups = 1};
    size_t nx = (size_t)n * h * h * ic, ny = (size_t)n * h * h * oc, nw = (size_t)oc * ic * k * k;
    uint16_t *x = random_bf16(nx, rng), *dy = random_bf16(ny, rng);
    float *dw = room(nw * 4), *mine = room(nw * 4), *db = room((size_t)oc * 4);
    int threads = omp_get_max_threads();
    void *scratch = room(cnn_bww_scratch_bytes(&g, threads));

    dnnl_dims_t src_dims = {n, ic, h, h}, dst_dims = {n, oc, h, h}, w_dims = {oc, ic, k, k};
    dnnl_dims_t strides = {1, 1}, pad = {k / 2, k / 2};
    dnnl_memory_desc_t src, dst, w_any, dw_any, dw_user, bias;
    dnnl_memory_desc_init_by_tag(&src, 4, src_dims, dnnl_bf16, dnnl_nhwc);
    dnnl_memory_desc_init_by_tag(&dst, 4, dst_dims, dnnl_bf16, dnnl_nhwc);
    dnnl_memory_desc_init_by_tag(&w_any, 4, w_dims, dnnl_bf16, dnnl_format_tag_any);
    dnnl_memory_desc_init_by_tag(&dw_any, 4, w_dims, dnnl_f32, dnnl_format_tag_any);
    dnnl_memory_desc_init_by_tag(&dw_user, 4, w_dims, dnnl_f32, dnnl_oihw);
    dnnl_memory_desc_init_by_tag(&bias, 1, (dnnl_dims_t){oc}, dnnl_f32, dnnl_a);
    dnnl_convolution_desc_t d;
    dnnl_primitive_desc_t fwd, bww, rpd;
    ok(dnnl_convolution_forward_desc_init(&d, dnnl_forward_training, dnnl_convolution_direct, &src,
                                          &w_any, NULL, &dst, strides, pad, pad),
       "the forward");
    ok(dnnl_primitive_desc_create(&fwd, &d, NULL, engine, NULL), "the forward");
    ok(dnnl_convolution_backward_weights_desc_init(&d, dnnl_convolution_direct, &src, &dw_any,
                                                   &bias, &dst, strides, pad, pad),
       "the backward-weights");
    ok(dnnl_primitive_desc_create(&bww, &d, NULL, engine, fwd), "the backward-weights");
    const dnnl_memory_desc_t *dw_k = dnnl_primitive_desc_query_md(bww, dnnl_query_diff_weights_md, 0);
    ok(dnnl_reorder_primitive_desc_create(&rpd, dw_k, engine, &dw_user, engine, NULL), "a reorder");
    dnnl_memory_t xm, dym, dwk, dwm, dbm;
    ok(dnnl_memory_create(&xm, &src, engine, x), "memory");
    ok(dnnl_memory_create(&dym, &dst, engine, dy), "memory");
    ok(dnnl_memory_create(&dwk, dw_k, engine, DNNL_MEMORY_ALLOCATE), "memory");
    ok(dnnl_memory_create(&dwm, &dw_user, engine, dw), "memory");
    ok(dnnl_memory_create(&dbm, &bias, engine, db), "memory");
    dnnl_primitive_t p, r;
    ok(dnnl_primitive_create(&p, bww), "a primitive");
    ok(dnnl_primitive_create(&r, rpd), "a reorder");
    dnnl_exec_arg_t args[] = {{DNNL_ARG_SRC, xm},
                              {DNNL_ARG_DIFF_DST, dym},
                              {DNNL_ARG_DIFF_WEIGHTS, dwk},
                              {DNNL_ARG_DIFF_BIAS, dbm}};
    dnnl_exec_arg_t rargs[] = {{DNNL_ARG_FROM, dwk}, {DNNL_ARG_TO, dwm}};
    /* alternating, each with its weight gradient in (OC, IC, KH, KW) */
    double t_dnnl = 1e30, t_own = 1e30;
    for (int i = 0; i <= RUNS; i++) {
        double t = omp_get_wtime();
        ok(dnnl_primitive_execute(p, stream, 4, args), "an execution");
        ok(dnnl_primitive_execute(r, stream, 2, rargs), "a reorder");
        dnnl_stream_wait(stream);
        t = omp_get_wtime() - t;
        if (i > 0 && t < t_dnnl)
            t_dnnl = t;
        t = omp_get_wtime();
        cnn_bww_run(&g, x, dy, mine, NULL, scratch, threads);
        t = omp_get_wtime() - t;
        if (i > 0 && t < t_own)
            t_own = t;
    }
    double most = 0, worst = 0;
    for (size_t i = 0; i < nw; i++) {
        most = fmax(most, fabs(dw[i]));
        worst = fmax(worst, fabs(dw[i] - mine[i]));
    }
    double gflop = 2.0 * n * h * h * (double)ic * oc * k * k / 1e9;
    printf("n %4d %2dx%-2d %3d -> %3d k%d | oneDNN %7.1f ms %4.0f GF/s %-24s | cnnlab %7.1f ms "
           "%4.0f GF/s | %.1fx | difference %.1e of %.1e\n",
           n, h, h, ic, oc, k, t_dnnl * 1e3, gflop / t_dnnl, impl_of(bww), t_own * 1e3,
           gflop / t_own, t_dnnl / t_own, worst, most);
    fflush(stdout);
    dnnl_primitive_destroy(p), dnnl_primitive_destroy(r);
    dnnl_memory_t mems[] = {xm, dym, dwk, dwm, dbm};
    for (int i = 0; i < 5; i++)
        dnnl_memory_destroy(mems[i]);
    dnnl_primitive_desc_destroy(fwd), dnnl_primitive_desc_destroy(bww);
    dnnl_primitive_desc_destroy(rpd);
    free(x), free(dy), free(dw), free(mine), free(db), free(scratch);
}

int main(void)
{
    cnn_conv_geom probe = {.n = 1, .ih = 3, .iw = 3, .ic = 16, .oc = 16, .kh = 3, .kw = 3,
                           .sh = 1, .sw = 1, .ph = 1, .pw = 1, .oh = 3, .ow = 3, .groups = 1};
    if (!cnn_bww_applies(&probe)) {
        fprintf(stderr, "bench_bwd_weights: this build has no AVX512_BF16 kernel\n");
        return 2;
    }
    bench_start("bench_bwd_weights");
    printf("# %d threads; best of %d runs, alternating\n", omp_get_max_threads(), RUNS);
    cnn_rng r;
    cnn_rng_init(&r, 7, 0, 0);
    static const int ab[][3] = {{31, 24, 64}, {15, 64, 64}, {15, 64, 256}, {7, 256, 256},
                                {3, 256, 256}};
    for (int i = 0; i < 5; i++)
        shape(2000, ab[i][0], ab[i][1], ab[i][2], 3, &r);
    static const int cifar[][3] = {{32, 64, 64}, {16, 128, 128}, {8, 256, 256}, {4, 512, 512}};
    for (int i = 0; i < 4; i++)
        shape(128, cifar[i][0], cifar[i][1], cifar[i][2], 3, &r);
    bench_end();
    return 0;
}
