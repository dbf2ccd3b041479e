/* cmd_bench.c: `cnnlab bench`: images per second of full training steps
 * (forward, loss, backward, SGD) or of inference, on random CIFAR-shaped data,
 * as the median of timed windows after a warm-up; the same measurement as
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

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int cnn_cmd_bench(int argc, char **argv)
{
    const char *model = "lenet5", *vars = NULL, *precision = "fp32", *mode = "train", *backend = "fast", *conv = "auto";
    int head = -1, batch = 128, threads = omp_get_num_procs(), json = 0, windows = 5, verbose = 0, profile = 0;
    double peak = 0;
    double seconds = 3.0;
    const char *positional[1];
    int npos = 0;
    const cli_flag flags[] = {
        {"--model", CLI_STRING, &model, 0, 0, "NAME", "model to time (default lenet5)", NULL},
        {"--head", CLI_INT, &head, 0, 1 << 20, "N", "set the model file's variable head (VGG: the course's classifier head, 4096)", NULL},
        {"--var", CLI_STRING, &vars, 0, 0, "'NAME=N ...'", "set variables the model file declares", NULL},
        {"--batch-size", CLI_INT, &batch, 1, 65536, "N", "images per step (default 128)", NULL},
        {"--precision", CLI_CHOICE, &precision, 0, 0, "P", "fp32 (default) or bf16 (convolutions and fully connected layers on bf16, fp32 accumulation)", "fp32,bf16"},
        {"--mode", CLI_CHOICE, &mode, 0, 0, "MODE", "train (default) or infer", "train,infer"},
        {"--threads", CLI_INT, &threads, 1, 1024, "N", "OpenMP threads (default: all cores)", NULL},
        {"--seconds", CLI_DOUBLE, &seconds, 0.01, 3600, "S", "length of one timed window (default 3)", NULL},
        {"--windows", CLI_INT, &windows, 1, 1000, "N", "timed windows; the median is reported (default 5)", NULL},
        {"--backend", CLI_CHOICE, &backend, 0, 0, "NAME", "fast (default) or reference", "fast,reference"},
        {"--conv", CLI_CHOICE, &conv, 0, 0, "ALGO", "convolutions: auto (default: timed per shape), direct, winograd (3x3 stride 1: oneDNN's where the CPU has it, else cnnlab's), dense (inputs of at most kernel size, e.g. 2x2 under 3x3) or winograd-sgemm (cnnlab's Winograd on sgemm, any CPU)", "auto,direct,winograd,dense,winograd-sgemm"},
        {"--verbose", CLI_BOOL, &verbose, 0, 0, NULL, "print the plan: each layer and the kernel that runs it", NULL},
        {"--profile", CLI_BOOL, &profile, 0, 0, NULL, "time each layer's forward and backward against its FLOPs", NULL},
        {"--peak", CLI_DOUBLE, &peak, 0, 1e6, "GFLOPS", "the machine's peak for the % of peak (default: measured at start-up)", NULL},
        {"--json", CLI_BOOL, &json, 0, 0, NULL, "end with one JSON object holding the figures", NULL},
    };
    cli_command cmd = {"bench", "cnnlab bench --model NAME [options]",
                       "Times full training steps (or inference) on random data: median images/s "
                       "of several windows after a warm-up. Compare with "
                       "../shared/bench/torch_reference.py in the same sitting.",
                       flags, (int)(sizeof flags / sizeof flags[0]), positional, 0, &npos};
    int r = cli_parse(&cmd, argc, argv);
    if (r >= 0)
        return r;
    char var_text[1024];
    snprintf(var_text, sizeof var_text, "%s", vars ? vars : "");
    if (head >= 0) {
        size_t n = strlen(var_text);
        snprintf(var_text + n, sizeof var_text - n, "%shead=%d", n ? " " : "", head);
    }
    const cnn_model_desc *desc;
    cnn_error lerr = {0};
    if (cnn_model_load(model, var_text[0] ? var_text : NULL, &desc, &lerr)) {
        fprintf(stderr, "cnnlab bench: --model: %s\n", lerr.msg);
        return CLI_EXIT_USAGE;
    }
    int train = strcmp(mode, "train") == 0;
    omp_set_num_threads(threads);
    /* Without --peak, the peak is measured: fp32 FMAs, and for bf16 the better
     * of those and bf16 dot products (a bf16 plan may run fp32 kernels). */
    const char *peak_from = "--peak";
    double peak_fp32 = 0, peak_bf16 = 0;
    if (peak <= 0) {
        peak_fp32 = cnn_peak_gflops(threads, 0, 0.05);
        if (strcmp(precision, "bf16") == 0)
            peak_bf16 = cnn_peak_gflops(threads, 1, 0.05);
        peak = peak_fp32 > peak_bf16 ? peak_fp32 : peak_bf16;
        peak_from = "measured";
    }
    cnn_error err = {0};
    cnn_model *m = NULL;
    cnn_plan *p = NULL;
    cnn_optim opt = {0};
    cnn_status st;
    if ((st = cnn_model_create(desc, NULL, &m, &err)))
        return cnn_cli_report("bench", &err);
    cnn_model_init(m, 1);
    /* the reference benchmark's optimizer: SGD, lr 0.01, momentum 0.9, weight decay 5e-4 */
    cnn_optim_config oc;
    cnn_optim_config_defaults(&oc, CNN_OPT_SGD);
    oc.lr = 0.01f;
    oc.momentum = 0.9f;
    oc.weight_decay = 5e-4f;
    cnn_backend be = strcmp(backend, "reference") == 0 ? CNN_BACKEND_REFERENCE : CNN_BACKEND_FAST;
    cnn_plan_config exec = {be, CNN_PRECISION_FP32, CNN_CONV_AUTO};
    cnn_precision_parse(precision, &exec.precision);
    cnn_conv_algo_parse(conv, &exec.conv);
    if ((st = cnn_plan_create(m, batch, &exec, train, &p, &err)) ||
        (st = cnn_optim_init(&opt, &oc, m->param_count, &err))) {
        cnn_model_destroy(m);
        return cnn_cli_report("bench", &err);
    }
    if (!train)
        cnn_plan_freeze(p); /* as cnnlab test: the weights are prepared once */
    if (verbose) {
        char desc_buf[8192];
        cnn_plan_describe(p, desc_buf, sizeof desc_buf);
        fputs(desc_buf, stdout);
    }
    cnn_rng rng;
    cnn_rng_init(&rng, 1, CNN_STREAM_BENCH, 0);
    float *x = cnn_plan_input(p);
    size_t nx = (size_t)batch * desc->in_h * desc->in_w * desc->in_c;
    for (size_t i = 0; i < nx; i++)
        x[i] = (float)cnn_rng_normal(&rng);
    uint8_t *labels = malloc((size_t)batch);
    for (int i = 0; i < batch; i++)
        labels[i] = (uint8_t)cnn_rng_below(&rng, (uint32_t)desc->classes);

    for (int i = 0; i < 3; i++) { /* warm-up: first-touch pages, caches, JIT */
        cnn_plan_forward(p, labels, batch, train, NULL);
        if (train) {
            cnn_plan_backward(p);
            cnn_optim_step(&opt, oc.lr, m->params, m->grads);
        }
    }
    cnn_plan_profile(p, profile);
    double *rates = malloc(sizeof(double) * (size_t)windows);
    for (int w = 0; w < windows; w++) {
        long steps = 0;
        double t0 = cnn_now(), t;
        do {
            cnn_plan_forward(p, labels, batch, train, NULL);
            if (train) {
                cnn_plan_backward(p);
                cnn_optim_step(&opt, oc.lr, m->params, m->grads);
            }
            steps++;
        } while ((t = cnn_now() - t0) < seconds);
        rates[w] = (double)steps * batch / t;
    }
    double *sorted = malloc(sizeof(double) * (size_t)windows);
    memcpy(sorted, rates, sizeof(double) * (size_t)windows);
    qsort(sorted, (size_t)windows, sizeof(double), cmp_double);
    double median = windows % 2 ? sorted[windows / 2]
                                : 0.5 * (sorted[windows / 2 - 1] + sorted[windows / 2]);
    /* Training does about three forward passes' worth of work (forward,
     * backward data, backward weights); a multiply-accumulate is 2 FLOPs. */
    double flop_per_image = 2.0 * cnn_model_macs(m) * (train ? 3.0 : 1.0);
    double gflops = median * flop_per_image / 1e9;
    /* peak resident memory of the whole process (ru_maxrss is in KiB on Linux) */
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double peak_rss_mib = (double)ru.ru_maxrss / 1024.0;
    printf("cnnlab %s %s %s %s conv %s batch %d threads %d: %.1f images/s (median of %d windows "
           "of %.1f s), %.1f GFLOP/s", CNNLAB_VERSION, desc->name, mode, precision, conv, batch,
           threads, median, windows, seconds, gflops);
    if (peak > 0)
        printf(" (%.0f %% of a peak of %.0f, %s)", 100.0 * gflops / peak, peak, peak_from);
    printf(", plan memory %.1f MiB, peak resident %.1f MiB\n",
           (double)cnn_plan_bytes(p) / 1048576.0, peak_rss_mib);
    if (peak_fp32 > 0 || peak_bf16 > 0) {
        printf("  measured peak, %d threads: fp32 FMA %.0f GFLOP/s", threads, peak_fp32);
        if (peak_bf16 > 0)
            printf(", bf16 dot products %.0f GFLOP/s", peak_bf16);
        printf("\n");
    }
    if (profile) {
        char report[16384];
        cnn_plan_profile_report(p, peak, report, sizeof report);
        fputs(report, stdout);
    }
    if (json) {
        printf("{\"model\": \"%s\", \"mode\": \"%s\", \"precision\": \"%s\", \"backend\": \"%s\", "
               "\"batch_size\": %d, \"threads\": %d, \"images_per_second\": %.2f, "
               "\"gflops\": %.2f, \"peak_gflops\": %.2f, \"plan_bytes\": %zu, "
               "\"peak_rss_bytes\": %.0f, \"conv\": \"%s\", \"windows\": [",
               desc->name, mode, precision, backend, batch, threads, median, gflops, peak,
               cnn_plan_bytes(p), peak_rss_mib * 1048576.0, conv);
        for (int w = 0; w < windows; w++)
            printf("%s%.2f", w ? ", " : "", rates[w]);
        printf("]}\n");
    }
    free(rates);
    free(sorted);
    free(labels);
    cnn_optim_free(&opt);
    cnn_plan_destroy(p);
    cnn_model_destroy(m);
    return CLI_EXIT_OK;
}
