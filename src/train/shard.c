/* shard.c: data-parallel training, one rank's share of each step
 * (`mpirun -np N cnnlab train`, docs/distributed.md).
 *
 * Synchronous SGD over a world of N ranks (src/dist/dist.h), every rank
 * holding the whole model:
 * - a global batch of R images (--batch-size, or the epoch's last, shorter
 *   batch) is cut into N contiguous shards, rank r taking rows
 *   [r*R/N, (r+1)*R/N); each shard is read with the augmentation one process
 *   would give those rows (augmentation draws per global step and row, so a
 *   rank augments its own rows only);
 * - each rank's forward gives the mean loss L_r over its R_r rows and its
 *   backward the gradient g_r of L_r. The global batch's mean loss is
 *   L = sum_r (R_r / R) L_r, so its gradient is sum_r (R_r / R) g_r: each
 *   rank scales g_r by R_r / R and the gradients are summed over the ranks
 *   (allreduce, in buckets); the optimizer then takes the same step on every
 *   rank, and the weights stay the same everywhere;
 *   The sums start during the backward: once a bucket's worth of the last
 *   layers' gradients is final (the plan's grads_ready), it is weighed and
 *   sent while the earlier layers' backward runs; the step waits for them all
 *   before the optimizer;
 * - batch norm normalises with the shard's statistics (as PyTorch's
 *   DistributedDataParallel without SyncBatchNorm), or with --sync-bn with the
 *   global batch's (ops/bn_sync.c: its statistics and backward sums gathered
 *   from every rank inside each batch-norm layer, as one process on the
 *   global batch); the running estimates are averaged over the ranks at the
 *   end of each epoch, before validation, so every rank evaluates and saves
 *   the same model.
 * In a world of one every function here leaves its arguments as they are. */

#include <stdlib.h>

#include "cnnlab/cnnlab.h"
#include "core/core.h"
#include "dist/dist.h"
#include "train/run.h"

/* Gradient bytes per sum sent during the backward: 4 MiB (DistributedDataParallel
 * sends 1 MiB first, then 25 MiB); CNNLAB_BUCKET_KB sets it (tests/cli_dist.sh
 * makes it small so that a small model's backward sends several). */
#define SHARD_BUCKET_BYTES ((size_t)4 << 20)

void cnn_shard_rows(int rows, int rank, int ranks, int *first, int *count)
{
    int lo = (int)((long long)rows * rank / ranks);
    int hi = (int)((long long)rows * (rank + 1) / ranks);
    *first = lo;
    *count = hi - lo;
}

cnn_status cnn_shard_check(int batch, int rest, int ranks, cnn_error *err)
{
    if (ranks <= 1)
        return CNN_STATUS_OK;
    if (batch < ranks)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "--batch-size %d: a global batch "
                             "is split between the %d MPI ranks, so it needs at least one image "
                             "per rank", batch, ranks);
    if (rest > 0 && rest < ranks)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "the epoch's last batch holds %d "
                             "image%s, fewer than the %d MPI ranks it is split between; use "
                             "--drop-last, or a --batch-size or --subset that leaves a larger "
                             "last batch", rest, rest == 1 ? "" : "s", ranks);
    return CNN_STATUS_OK;
}

void cnn_shard_fill(const run *r, const int *idx, int rows, int step, int epoch, float *x,
                    uint8_t *labels)
{
    const cnn_train_config *c = r->cfg;
    int first, count;
    cnn_shard_rows(rows, r->rank, r->ranks, &first, &count);
    cnn_batch_fill_augmented_rows(&r->data, idx, first, count, &r->norm, &c->augment, c->seed,
                                  (uint64_t)step, epoch - 1, x, labels);
}

float cnn_shard_loss(run *r, float loss, int count, int rows, int *correct)
{
    if (r->ranks == 1)
        return loss;
    double t0 = cnn_now();
    double s[2] = {(double)loss * count, *correct};
    cnn_dist_sum_double(s, 2);
    r->sync_seconds += cnn_now() - t0;
    *correct = (int)s[1];
    return (float)(s[0] / rows);
}

/* Gradients [lo, grads_sent) weighed by the step's share and their sum over
 * the ranks started. */
static void send(run *r, size_t lo)
{
    float *g = r->model->grads + lo;
    const size_t n = r->grads_sent - lo;
    const float f = r->grad_share;
#pragma omp parallel for simd schedule(static) if (n >= 65536)
    for (size_t i = 0; i < n; i++)
        g[i] *= f;
    cnn_dist_sum_float_start(g, n);
    r->grads_sent = lo;
}

/* The plan's grads_ready: a bucket's worth ready is sent at once. */
static void grads_ready(void *ctx, size_t lo)
{
    run *r = ctx;
    double t0 = cnn_now();
    if (r->grads_sent - lo >= r->bucket_floats)
        send(r, lo);
    else
        cnn_dist_progress();
    r->sync_seconds += cnn_now() - t0;
}

/* every rank's n doubles, for --sync-bn */
static void gather(void *ctx, const double *mine, double *all, int n)
{
    run *r = ctx;
    double t0 = cnn_now();
    cnn_dist_gather_double(mine, (size_t)n, all);
    r->sync_seconds += cnn_now() - t0;
}

cnn_status cnn_shard_setup(run *r, cnn_error *err)
{
    if (r->ranks == 1)
        return CNN_STATUS_OK;
    const char *kb = getenv("CNNLAB_BUCKET_KB");
    long v = kb ? strtol(kb, NULL, 10) : 0;
    r->bucket_floats = v > 0 ? (size_t)v * 1024 / sizeof(float) : SHARD_BUCKET_BYTES / sizeof(float);
    cnn_plan_dist d = {.grads_ready = grads_ready, .ctx = r};
    if (r->cfg->sync_bn) {
        int widest = 0;
        for (int i = 0; i < r->model->count; i++)
            if (r->model->layers[i].desc.kind == CNN_LAYER_BATCHNORM &&
                r->model->layers[i].in.c > widest)
                widest = r->model->layers[i].in.c;
        r->bn_sync = (cnn_bn_sync){.ranks = r->ranks, .gather = gather, .ctx = r, .share = 1};
        if (widest > 0) {
            size_t n = (size_t)(r->ranks + 1) * (size_t)(1 + 2 * widest);
            if (!(r->bn_sync.buf = malloc(n * sizeof(double))))
                return cnn_error_set(err, CNN_STATUS_NO_MEMORY, "--sync-bn: no memory for "
                                     "%zu doubles", n);
            d.bn = &r->bn_sync;
        }
    }
    cnn_plan_set_dist(r->plan, &d);
    if (r->tail)
        cnn_plan_set_dist(r->tail, &d);
    return CNN_STATUS_OK;
}

void cnn_shard_begin(run *r, int count, int rows)
{
    r->grad_share = (float)count / (float)rows;
    r->bn_sync.share = (double)count / (double)rows;
    r->grads_sent = r->model->param_count;
}

void cnn_shard_grads(run *r, int count, int rows)
{
    if (r->ranks == 1)
        return;
    double t0 = cnn_now();
    if (r->grads_sent > 0)
        send(r, 0);
    cnn_dist_sum_wait();
    r->sync_seconds += cnn_now() - t0;
}

void cnn_shard_state(const run *r)
{
    if (r->ranks == 1 || r->model->state_count == 0)
        return;
    float *s = r->model->state;
    cnn_dist_sum_float(s, r->model->state_count);
    const float f = 1.0f / (float)r->ranks;
    for (size_t i = 0; i < r->model->state_count; i++)
        s[i] *= f;
}
