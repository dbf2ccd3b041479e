/* cmd_bench.c: `cnnlab bench`: images per second of full training steps
 * (forward, loss, backward, SGD) or of inference, on random data of the
 * model's shape (--input, --classes; CIFAR-10's by default), as the median
 * of timed windows after a warm-up; the same measurement as
 * ../shared/bench/torch_reference.py makes for PyTorch. Never asserts. */
#include <omp.h>
#include <stdio.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>

#include "cnnlab/cnnlab.h"
#include "commands.h"
#include "core/core.h"
#include "flags.h"
#include "report.h"
#include "text.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The command's settings, as the flags give them. */
typedef struct bench_args {
    const char *model, *vars, *precision, *activations, *mode, *backend, *conv, *input;
    int head, batch, threads, json, windows, verbose, profile, classes;
    double peak, seconds;
} bench_args;

/* What was measured. */
typedef struct bench_result {
    double median, gflops, peak_rss_mib;
    double peak, peak_fp32, peak_bf16; /* peak_fp32/bf16: measured here (0: not) */
    int peak_agreed;                    /* the measured peaks' windows agreed (core/peak.c) */
    const char *peak_from;
    double *rates; /* images/s of each window */
} bench_result;

static cnn_status parse_args(int argc, char **argv, bench_args *a, int *help, cnn_error *err)
{
    *a = (bench_args){.model = "lenet5", .precision = "fp32", .activations = "bf16",
                      .mode = "train", .backend = "fast",
                      .conv = "auto", .head = -1, .batch = 128, .threads = omp_get_num_procs(),
                      .windows = 5, .seconds = 3.0};
    const cli_flag flags[] = {
        {"--model", CLI_STRING, &a->model, 0, 0, "NAME", "model to time (default lenet5)", NULL},
        {"--head", CLI_INT, &a->head, 0, 1 << 20, "N", "set the model file's variable head (VGG: the course's classifier head, 4096)", NULL},
        {"--var", CLI_STRING, &a->vars, 0, 0, "'NAME=N ...'", "set variables the model file declares", NULL},
        {"--batch-size", CLI_INT, &a->batch, 1, 65536, "N", "images per step (default 128)", NULL},
        {"--precision", CLI_CHOICE, &a->precision, 0, 0, "P", "fp32 (default) or bf16 (convolutions and fully connected layers on bf16, fp32 accumulation)", "fp32,bf16"},
        {"--activations", CLI_CHOICE, &a->activations, 0, 0, "A", "with --precision bf16: bf16 (default: activations stored as bf16 between layers that can) or fp32 (all kept fp32)", "bf16,fp32"},
        {"--mode", CLI_CHOICE, &a->mode, 0, 0, "MODE", "train (default) or infer", "train,infer"},
        {"--threads", CLI_INT, &a->threads, 1, 1024, "N", "OpenMP threads (default: all cores)", NULL},
        {"--seconds", CLI_DOUBLE, &a->seconds, 0.01, 3600, "S", "length of one timed window (default 3)", NULL},
        {"--windows", CLI_INT, &a->windows, 1, 1000, "N", "timed windows; the median is reported (default 5)", NULL},
        {"--backend", CLI_CHOICE, &a->backend, 0, 0, "NAME", "fast (default) or reference", "fast,reference"},
        {"--conv", CLI_CHOICE, &a->conv, 0, 0, "ALGO", "convolutions: auto (default: timed per shape), direct, winograd (3x3 stride 1: oneDNN's where the CPU has it, else cnnlab's), dense (inputs of at most kernel size, e.g. 2x2 under 3x3), winograd-sgemm (cnnlab's Winograd on sgemm, any CPU) or winograd-bf16 (bf16: cnnlab's F(2x2, 3x3) on AVX512_BF16, 3x3 stride 1, channels in 8s)", "auto,direct,winograd,dense,winograd-sgemm,winograd-bf16"},
        {"--verbose", CLI_BOOL, &a->verbose, 0, 0, NULL, "print the plan: each layer and the kernel that runs it", NULL},
        {"--profile", CLI_BOOL, &a->profile, 0, 0, NULL, "time each layer's forward and backward against its FLOPs", NULL},
        {"--peak", CLI_DOUBLE, &a->peak, 0, 1e6, "GFLOPS", "the machine's peak for the % of peak (default: measured at start-up)", NULL},
        {"--json", CLI_BOOL, &a->json, 0, 0, NULL, "end with one JSON object holding the figures", NULL},
        {"--input", CLI_STRING, &a->input, 0, 0, "HxWxC", "the image shape, for a model that does not fix it (default 32x32x3)", NULL},
        {"--classes", CLI_INT, &a->classes, 1, CNN_DATA_MAX_CLASSES, "N", "the class count, for a model that does not fix it (default 10)", NULL},
    };
    cli_command cmd = {
        .name = "bench",
        .usage = "cnnlab bench --model NAME [options]",
        .about = "Times full training steps (or inference) on random data: median images/s "
                 "of several windows after a warm-up. Compare with "
                 "../shared/bench/torch_reference.py in the same sitting.",
        CLI_FLAGS(flags),
    };
    return cli_parse(&cmd, argc, argv, help, err);
}

/* Seconds per window of the peak measurement (core/peak.c): long enough that
 * two windows in a row agree on an idle machine. */
#define PEAK_WINDOW_S 0.25

/* Without --peak, the peak is measured: fp32 FMAs, and for bf16 the better
 * of those and bf16 dot products (a bf16 plan may run fp32 kernels). */
static void measure_peak(const bench_args *a, bench_result *res)
{
    res->peak = a->peak;
    res->peak_from = "--peak";
    if (a->peak > 0)
        return;
    int ok32, ok16 = 1;
    res->peak_fp32 = cnn_peak_gflops(a->threads, 0, PEAK_WINDOW_S, &ok32);
    if (strcmp(a->precision, "bf16") == 0)
        res->peak_bf16 = cnn_peak_gflops(a->threads, 1, PEAK_WINDOW_S, &ok16);
    res->peak_agreed = ok32 && ok16;
    res->peak = res->peak_fp32 > res->peak_bf16 ? res->peak_fp32 : res->peak_bf16;
    res->peak_from = "measured";
}

/* One step: forward, and for training backward and the optimizer's update. */
static void step(cnn_plan *p, cnn_model *m, cnn_optim *opt, float lr, const uint8_t *labels,
                 int batch, int train)
{
    cnn_plan_forward(p, labels, batch, train, NULL);
    if (train) {
        cnn_plan_backward(p);
        cnn_optim_step(opt, lr, m->params, m->grads);
    }
}

/* Times a->windows windows of steps on random inputs after a warm-up; fills
 * res->rates and res->median. */
static void time_windows(const bench_args *a, const cnn_model_desc *desc, cnn_plan *p,
                         cnn_model *m, cnn_optim *opt, float lr, int train, bench_result *res)
{
    cnn_rng rng;
    cnn_rng_init(&rng, 1, CNN_STREAM_BENCH, 0);
    float *x = cnn_plan_input(p);
    size_t nx = (size_t)a->batch * desc->in_h * desc->in_w * desc->in_c;
    for (size_t i = 0; i < nx; i++)
        x[i] = (float)cnn_rng_normal(&rng);
    uint8_t *labels = malloc((size_t)a->batch);
    for (int i = 0; i < a->batch; i++)
        labels[i] = (uint8_t)cnn_rng_below(&rng, (uint32_t)desc->classes);
    for (int i = 0; i < 3; i++) /* warm-up: first-touch pages, caches, JIT */
        step(p, m, opt, lr, labels, a->batch, train);
    cnn_plan_profile(p, a->profile);
    for (int w = 0; w < a->windows; w++) {
        long steps = 0;
        double t0 = cnn_now(), t;
        do {
            step(p, m, opt, lr, labels, a->batch, train);
            steps++;
        } while ((t = cnn_now() - t0) < a->seconds);
        res->rates[w] = (double)steps * a->batch / t;
    }
    free(labels);
    double *sorted = malloc(sizeof(double) * (size_t)a->windows);
    memcpy(sorted, res->rates, sizeof(double) * (size_t)a->windows);
    qsort(sorted, (size_t)a->windows, sizeof(double), cmp_double);
    int w = a->windows;
    res->median = w % 2 ? sorted[w / 2] : 0.5 * (sorted[w / 2 - 1] + sorted[w / 2]);
    free(sorted);
}

static void print_result(const bench_args *a, const cnn_model_desc *desc, cnn_plan *p,
                         const bench_result *res)
{
    /* how activations are stored between layers (--activations: bf16 plans only) */
    const char *acts = strcmp(a->precision, "bf16") == 0 ? a->activations : "fp32";
    printf("cnnlab %s %s %s %s activations %s conv %s batch %d threads %d: %.1f images/s (median "
           "of %d windows of %.1f s), %.1f GFLOP/s", CNNLAB_VERSION, desc->name, a->mode,
           a->precision, acts, a->conv, a->batch, a->threads, res->median, a->windows, a->seconds,
           res->gflops);
    if (res->peak > 0)
        printf(" (%.0f %% of a peak of %.0f, %s)", 100.0 * res->gflops / res->peak, res->peak,
               res->peak_from);
    printf(", plan memory %.1f MiB, peak resident %.1f MiB\n",
           (double)cnn_plan_bytes(p) / 1048576.0, res->peak_rss_mib);
    if (res->peak_fp32 > 0 || res->peak_bf16 > 0) {
        printf("  measured peak, %d threads: fp32 FMA %.0f GFLOP/s", a->threads, res->peak_fp32);
        if (res->peak_bf16 > 0)
            printf(", bf16 dot products %.0f GFLOP/s", res->peak_bf16);
        printf(res->peak_agreed ? " (the best two windows of %.2f s within 2 %%)\n"
                                : " (windows of %.2f s never agreed within 2 %%: the machine is "
                                  "busy, so these are lower bounds; --peak F gives a known one)\n",
               PEAK_WINDOW_S);
    }
    if (a->profile) {
        char report[16384];
        cnn_plan_profile_report(p, res->peak, report, sizeof report);
        fputs(report, stdout);
    }
    if (a->json) {
        printf("{\"model\": \"%s\", \"mode\": \"%s\", \"precision\": \"%s\", "
               "\"activations\": \"%s\", \"backend\": \"%s\", "
               "\"batch_size\": %d, \"threads\": %d, \"images_per_second\": %.2f, "
               "\"gflops\": %.2f, \"peak_gflops\": %.2f, \"peak_from\": \"%s\", "
               "\"peak_agreed\": %s, \"plan_bytes\": %zu, "
               "\"peak_rss_bytes\": %.0f, \"conv\": \"%s\", \"windows\": [",
               desc->name, a->mode, a->precision, acts, a->backend, a->batch, a->threads, res->median,
               res->gflops, res->peak, res->peak_from,
               res->peak_agreed || a->peak > 0 ? "true" : "false", cnn_plan_bytes(p),
               res->peak_rss_mib * 1048576.0, a->conv);
        for (int w = 0; w < a->windows; w++)
            printf("%s%.2f", w ? ", " : "", res->rates[w]);
        printf("]}\n");
    }
}

cnn_status cnn_cmd_bench(int argc, char **argv, cnn_error *err)
{
    bench_args a;
    int help;
    cnn_status st = parse_args(argc, argv, &a, &help, err);
    if (st || help)
        return st;
    char var_text[1024];
    cnn_cli_model_vars(a.vars, a.head, var_text, sizeof var_text);
    const cnn_model_desc *desc;
    cnn_error lerr = {0};
    cnn_data_shape shape;
    if ((st = cnn_cli_data_shape(a.input, a.classes, &shape, err)))
        return st;
    if (cnn_model_load_shaped(a.model, var_text[0] ? var_text : NULL, &shape, &desc, &lerr))
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "--model: %s", lerr.msg);
    int train = strcmp(a.mode, "train") == 0;
    omp_set_num_threads(a.threads);
    bench_result res = {0};
    measure_peak(&a, &res);
    cnn_model *m = NULL;
    cnn_plan *p = NULL;
    cnn_optim opt = {0};
    if ((st = cnn_model_create(desc, NULL, &m, err)))
        return st;
    cnn_model_init(m, 1);
    /* the reference benchmark's optimizer: SGD, lr 0.01, momentum 0.9, weight decay 5e-4 */
    cnn_optim_config oc;
    cnn_optim_config_defaults(&oc, CNN_OPT_SGD);
    oc.lr = 0.01f;
    oc.momentum = 0.9f;
    oc.weight_decay = 5e-4f;
    cnn_backend be = strcmp(a.backend, "reference") == 0 ? CNN_BACKEND_REFERENCE : CNN_BACKEND_FAST;
    cnn_plan_config exec = {.backend = be, .precision = CNN_PRECISION_FP32,
                            .conv = CNN_CONV_AUTO,
                            .fp32_activations = strcmp(a.activations, "fp32") == 0};
    cnn_precision_parse(a.precision, &exec.precision);
    cnn_conv_algo_parse(a.conv, &exec.conv);
    if ((st = cnn_plan_create(m, a.batch, &exec, train, &p, err)) ||
        (train && (st = cnn_optim_init(&opt, &oc, m->param_count, err)))) {
        cnn_plan_destroy(p);
        cnn_model_destroy(m);
        return st;
    }
    if (!train)
        cnn_plan_freeze(p); /* as cnnlab test: the weights are prepared once */
    if (a.verbose) { /* (a fixed 8 KiB cut resnet18's at layer 49) */
        size_t need = cnn_plan_describe(p, NULL, 0) + 1;
        char *desc_buf = malloc(need);
        if (desc_buf) {
            cnn_plan_describe(p, desc_buf, need);
            fputs(desc_buf, stdout);
            free(desc_buf);
        } else {
            fprintf(stderr, "cnnlab bench: --verbose: no memory for the plan's description "
                            "(%zu bytes); the timing goes on without it\n", need);
        }
    }
    res.rates = malloc(sizeof(double) * (size_t)a.windows);
    time_windows(&a, desc, p, m, &opt, oc.lr, train, &res);
    /* Training does about three forward passes' worth of work (forward,
     * backward data, backward weights); a multiply-accumulate is 2 FLOPs. */
    double flop_per_image = 2.0 * cnn_model_macs(m) * (train ? 3.0 : 1.0);
    res.gflops = res.median * flop_per_image / 1e9;
    /* peak resident memory of the whole process (ru_maxrss is in KiB on Linux) */
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    res.peak_rss_mib = (double)ru.ru_maxrss / 1024.0;
    print_result(&a, desc, p, &res);
    free(res.rates);
    cnn_optim_free(&opt);
    cnn_plan_destroy(p);
    cnn_model_destroy(m);
    return CNN_STATUS_OK;
}
