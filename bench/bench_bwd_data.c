/* bench_bwd_data.c: backward-data of stride-1 convolutions on oneDNN, its
 * own backward-data primitive against a forward primitive on dy with the
 * flipped, transposed weights (what src/ops/fast/conv_dnnl.c runs, see
 * bwd_as_forward there), with the forward beside them for scale. Shapes:
 * airbench94's at batch 2000 and VGG/ResNet's CIFAR layers at batch 128, bf16
 * (bf16 in, fp32 out) and fp32, NHWC as cnnlab holds activations. Prints the
 * best of 5 runs after a warm-up, milliseconds and GFLOP/s. A benchmark: it
 * measures, it does not assert.
 *
 * Build and run (no Makefile rule; from the repository root):
 *   gcc -std=c11 -O2 -fopenmp bench/bench_bwd_data.c -ldnnl -o build/bench_bwd_data &&
 *       build/bench_bwd_data [fp32|bf16]
 */
#include <omp.h>
#include <string.h>

#include "bench_dnnl.h"

static dnnl_memory_t zeroed(const dnnl_memory_desc_t *md)
{
    dnnl_memory_t m;
    void *h;
    ok(dnnl_memory_create(&m, md, engine, DNNL_MEMORY_ALLOCATE), "memory");
    dnnl_memory_get_data_handle(m, &h);
    memset(h, 0, dnnl_memory_desc_get_size(md));
    return m;
}

/* Best of RUNS executions after one warm-up, in milliseconds. */
static double best_ms(const_dnnl_primitive_desc_t pd, int nargs, dnnl_exec_arg_t *args)
{
    dnnl_primitive_t p;
    ok(dnnl_primitive_create(&p, pd), "a primitive");
    double best = 1e30;
    for (int r = 0; r <= RUNS; r++) {
        double t = omp_get_wtime();
        ok(dnnl_primitive_execute(p, stream, nargs, args), "an execution");
        dnnl_stream_wait(stream);
        t = omp_get_wtime() - t;
        if (r > 0 && t < best)
            best = t;
    }
    dnnl_primitive_destroy(p);
    return best * 1e3;
}

/* One N x H x H x IC -> OC convolution, kernel k, stride 1, padding k/2. */
static void shape(int n, int h, int ic, int oc, int k, int bf16)
{
    dnnl_data_type_t lo = bf16 ? dnnl_bf16 : dnnl_f32;
    dnnl_dims_t src_dims = {n, ic, h, h}, dst_dims = {n, oc, h, h};
    dnnl_dims_t w_dims = {oc, ic, k, k}, wt_dims = {ic, oc, k, k};
    dnnl_dims_t strides = {1, 1}, pad = {k / 2, k / 2}, tpad = {k - 1 - k / 2, k - 1 - k / 2};
    dnnl_memory_desc_t src, dst, ddst, dsrc, w_any, wt_any;
    dnnl_memory_desc_init_by_tag(&src, 4, src_dims, lo, dnnl_nhwc);
    dnnl_memory_desc_init_by_tag(&dst, 4, dst_dims, dnnl_f32, dnnl_nhwc);
    dnnl_memory_desc_init_by_tag(&ddst, 4, dst_dims, lo, dnnl_nhwc);
    dnnl_memory_desc_init_by_tag(&dsrc, 4, src_dims, dnnl_f32, dnnl_nhwc);
    dnnl_memory_desc_init_by_tag(&w_any, 4, w_dims, lo, dnnl_format_tag_any);
    dnnl_memory_desc_init_by_tag(&wt_any, 4, wt_dims, lo, dnnl_format_tag_any);
    dnnl_convolution_desc_t d;
    dnnl_primitive_desc_t fwd, bwd, as_fwd;
    ok(dnnl_convolution_forward_desc_init(&d, dnnl_forward_training, dnnl_convolution_direct, &src,
                                          &w_any, NULL, &dst, strides, pad, pad),
       "the forward");
    ok(dnnl_primitive_desc_create(&fwd, &d, NULL, engine, NULL), "the forward");
    ok(dnnl_convolution_backward_data_desc_init(&d, dnnl_convolution_direct, &dsrc, &w_any, &ddst,
                                                strides, pad, pad),
       "the backward-data");
    ok(dnnl_primitive_desc_create(&bwd, &d, NULL, engine, fwd), "the backward-data");
    ok(dnnl_convolution_forward_desc_init(&d, dnnl_forward_inference, dnnl_convolution_direct,
                                          &ddst, &wt_any, NULL, &dsrc, strides, tpad, tpad),
       "the forward on dy");
    ok(dnnl_primitive_desc_create(&as_fwd, &d, NULL, engine, NULL), "the forward on dy");
    dnnl_memory_t x = zeroed(&src), y = zeroed(&dst), dy = zeroed(&ddst), dx = zeroed(&dsrc);
    dnnl_memory_t w = zeroed(dnnl_primitive_desc_query_md(fwd, dnnl_query_weights_md, 0));
    dnnl_memory_t wb = zeroed(dnnl_primitive_desc_query_md(bwd, dnnl_query_weights_md, 0));
    dnnl_memory_t wt = zeroed(dnnl_primitive_desc_query_md(as_fwd, dnnl_query_weights_md, 0));
    double t_fwd = best_ms(fwd, 3, (dnnl_exec_arg_t[]){{DNNL_ARG_SRC, x}, {DNNL_ARG_WEIGHTS, w},
                                                      {DNNL_ARG_DST, y}});
    double t_bwd = best_ms(bwd, 3, (dnnl_exec_arg_t[]){{DNNL_ARG_DIFF_DST, dy},
                                                      {DNNL_ARG_WEIGHTS, wb},
                                                      {DNNL_ARG_DIFF_SRC, dx}});
    double t_as = best_ms(as_fwd, 3, (dnnl_exec_arg_t[]){{DNNL_ARG_SRC, dy},
                                                        {DNNL_ARG_WEIGHTS, wt},
                                                        {DNNL_ARG_DST, dx}});
    double gflop = 2.0 * n * h * h * (double)ic * oc * k * k / 1e9;
    printf("%-4s n %4d %2dx%-2d %3d -> %3d k%d | forward %7.1f ms %4.0f GF/s %-26s | "
           "backward-data %7.1f ms %4.0f GF/s %-26s | as a forward %7.1f ms %4.0f GF/s %s\n",
           bf16 ? "bf16" : "fp32", n, h, h, ic, oc, k, t_fwd, gflop / t_fwd * 1e3, impl_of(fwd),
           t_bwd, gflop / t_bwd * 1e3, impl_of(bwd), t_as, gflop / t_as * 1e3, impl_of(as_fwd));
    fflush(stdout);
    dnnl_memory_t mems[] = {x, y, dy, dx, w, wb, wt};
    for (size_t i = 0; i < sizeof mems / sizeof mems[0]; i++)
        dnnl_memory_destroy(mems[i]);
    dnnl_primitive_desc_destroy(fwd);
    dnnl_primitive_desc_destroy(bwd);
    dnnl_primitive_desc_destroy(as_fwd);
}

int main(int argc, char **argv)
{
    int only = argc > 1 ? (strcmp(argv[1], "bf16") == 0 ? 1 : strcmp(argv[1], "fp32") == 0 ? 0 : -2)
                        : -1;
    if (only == -2) {
        fprintf(stderr, "usage: bench_bwd_data [fp32|bf16]\n");
        return 2;
    }
    bench_start("bench_bwd_data");
    printf("# %d threads; best of %d runs, ms\n", omp_get_max_threads(), RUNS);
    static const int cifar[][3] = {{32, 64, 64}, {16, 128, 128}, {8, 256, 256}, {4, 512, 512}};
    for (int bf16 = 1; bf16 >= 0; bf16--) {
        if (only >= 0 && only != bf16)
            continue;
        if (bf16) { /* airbench94's 3x3 layers at its recipe's batch */
            static const int ab[][3] = {{31, 24, 64}, {15, 64, 64}, {15, 64, 256}, {7, 256, 256},
                                        {3, 256, 256}};
            for (int i = 0; i < 5; i++)
                shape(2000, ab[i][0], ab[i][1], ab[i][2], 3, 1);
        }
        for (int i = 0; i < 4; i++)
            shape(128, cifar[i][0], cifar[i][1], cifar[i][2], 3, bf16);
    }
    bench_end();
    return 0;
}
