/* shard.c: data-parallel training, one rank's share of each step
 * (`mpirun -np N cnnlab train`, docs/distributed.md).
 *
 * Synchronous SGD over a world of N ranks (src/dist/dist.h), every rank
 * holding the whole model:
 * - a global batch of R images (--batch-size, or the epoch's last, shorter
 *   batch) is cut into N contiguous shards, rank r taking rows
 *   [r*R/N, (r+1)*R/N); each shard is read with the augmentation one process
 *   would give those rows (the global batch is augmented, its shard kept:
 *   augmentation draws per global step and row);
 * - each rank's forward gives the mean loss L_r over its R_r rows and its
 *   backward the gradient g_r of L_r. The global batch's mean loss is
 *   L = sum_r (R_r / R) L_r, so its gradient is sum_r (R_r / R) g_r: each
 *   rank scales g_r by R_r / R and the gradients are summed over the ranks
 *   (allreduce, in buckets); the optimizer then takes the same step on every
 *   rank, and the weights stay the same everywhere;
 * - batch norm normalises with the shard's statistics (as PyTorch's
 *   DistributedDataParallel without SyncBatchNorm); the running estimates
 *   are averaged over the ranks at the end of each epoch, before validation,
 *   so every rank evaluates and saves the same model.
 * In a world of one every function here leaves its arguments as they are. */
#include <string.h>

#include "cnnlab/cnnlab.h"
#include "core/core.h"
#include "dist/dist.h"
#include "train/run.h"

/* Floats per allreduce bucket: 25 MiB, DistributedDataParallel's default. */
#define SHARD_BUCKET_FLOATS ((size_t)25 * 1024 * 1024 / sizeof(float))

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
    if (!cnn_augment_active(&c->augment)) {
        cnn_batch_fill(&r->data, idx + first, count, &r->norm, x, labels);
        return;
    }
    if (r->ranks == 1) {
        cnn_batch_fill_augmented(&r->data, idx, rows, &r->norm, &c->augment, c->seed,
                                 (uint64_t)step, epoch - 1, x, labels);
        return;
    }
    /* the global batch's augmentation, then this rank's rows of it */
    cnn_batch_fill_augmented(&r->data, idx, rows, &r->norm, &c->augment, c->seed, (uint64_t)step,
                             epoch - 1, r->global_x, r->global_labels);
    memcpy(x, r->global_x + (size_t)first * cnn_dataset_image_bytes(&r->data),
           (size_t)count * cnn_dataset_image_bytes(&r->data) * sizeof *x);
    memcpy(labels, r->global_labels + first, (size_t)count);
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

void cnn_shard_grads(run *r, int count, int rows)
{
    if (r->ranks == 1)
        return;
    double t0 = cnn_now();
    float *g = r->model->grads;
    const size_t n = r->model->param_count;
    const float f = (float)count / (float)rows;
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++)
        g[i] *= f;
    cnn_dist_sum_float_buckets(g, n, SHARD_BUCKET_FLOATS);
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
