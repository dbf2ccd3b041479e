/* bench_dnnl.h: what the oneDNN kernel benchmarks (bench_bwd_data.c,
 * bench_bwd_weights.c) share: one engine and stream, a refusal that stops
 * the program with the step named, and the implementation a primitive chose.
 * Each benchmark is one file built by the line in its head; this header is
 * included by path, beside it. */
#ifndef CNN_BENCH_DNNL_H
#define CNN_BENCH_DNNL_H

#include <dnnl.h>
#include <stdio.h>
#include <stdlib.h>

#define RUNS 5 /* timed runs after a warm-up; the best is printed */

static dnnl_engine_t engine;
static dnnl_stream_t stream;
static const char *bench_name; /* for messages: set by main */

static void ok(dnnl_status_t s, const char *what)
{
    if (s != dnnl_success) {
        fprintf(stderr, "%s: oneDNN refused %s (status %d)\n", bench_name, what, (int)s);
        exit(1);
    }
}

static void bench_start(const char *name)
{
    bench_name = name;
    ok(dnnl_engine_create(&engine, dnnl_cpu, 0), "the engine");
    ok(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags), "the stream");
}

static void bench_end(void)
{
    dnnl_stream_destroy(stream);
    dnnl_engine_destroy(engine);
}

static const char *impl_of(const_dnnl_primitive_desc_t pd)
{
    const char *s = NULL;
    dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &s);
    return s ? s : "?";
}

#endif
