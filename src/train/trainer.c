/* trainer.c: one training run, from the data folder to a filled run folder.
 *
 * Reproducibility: one seed drives the split (CNN_STREAM_SPLIT), the subset
 * (CNN_STREAM_SUBSET), initialisation (CNN_STREAM_INIT) and each epoch's
 * shuffle (CNN_STREAM_SHUFFLE, epoch); with the same thread count the metrics
 * are bit-identical.
 * The step allocates nothing: plans are made before the first epoch, one for
 * the batch size and one for the epoch's last, shorter batch when there is one.
 */
#include <math.h>
#include <omp.h>
#include <stdarg.h>
#include <string.h>

#include "cnnlab/cnnlab.h"
#include "core/core.h"

void cnn_train_config_defaults(cnn_train_config *c)
{
    memset(c, 0, sizeof *c);
    c->model = "lenet5";
    c->epochs = 10;
    c->batch_size = 128;
    c->lr = 0.05f;
    c->momentum = 0.9f;
    c->weight_decay = 5e-4f;
    c->seed = 1;
    c->threads = omp_get_num_procs();
    c->val_fraction = 0.1;
    c->subset = 0;
    c->backend = CNN_BACKEND_FAST;
}

static void info(const cnn_train_hooks *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void info(const cnn_train_hooks *h, const char *fmt, ...)
{
    if (!h || !h->on_info)
        return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    h->on_info(h->user, line);
}

static cnn_status write_text(const char *dir, const char *name, const char *text, cnn_error *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return cnn_file_write_atomic(path, text, strlen(text), err);
}

static cnn_status write_config(const cnn_train_config *c, const cnn_model *m, const cnn_norm *norm,
                               int n_train, int n_val, const char *data_dir, cnn_error *err)
{
    char text[16384];
    snprintf(text, sizeof text,
             "# cnnlab %s run configuration\n"
             "# reproduce with: %s\n"
             "model = %s\n"
             "parameters = %zu\n"
             "epochs = %d\n"
             "batch_size = %d\n"
             "lr = %.7g\n"
             "momentum = %.7g\n"
             "weight_decay = %.7g\n"
             "optimizer = sgd\n"
             "lr_schedule = none\n"
             "seed = %llu\n"
             "threads = %d\n"
             "val_fraction = %.9g\n"
             "subset = %d\n"
             "train_images = %d\n"
             "val_images = %d\n"
             "data = %s\n"
             "backend = %s\n"
             "precision = fp32\n"
             "norm_mean = %.6f %.6f %.6f\n"
             "norm_std = %.6f %.6f %.6f\n",
             CNNLAB_VERSION, c->command_line ? c->command_line : "(library call)", c->model,
             m->param_count, c->epochs, c->batch_size, (double)c->lr, (double)c->momentum,
             (double)c->weight_decay, (unsigned long long)c->seed, c->threads, c->val_fraction,
             c->subset, n_train, n_val, data_dir,
             c->backend == CNN_BACKEND_FAST ? "fast" : "reference", (double)norm->mean[0],
             (double)norm->mean[1], (double)norm->mean[2], (double)norm->std[0],
             (double)norm->std[1], (double)norm->std[2]);
    return write_text(c->out_dir, "config.txt", text, err);
}

typedef struct run {
    const cnn_train_config *cfg;
    cnn_dataset data;
    int *train_idx, *val_idx, n_train, n_val;
    cnn_norm norm;
    cnn_model *model;
    cnn_plan *plan, *tail; /* tail: the last, shorter batch of an epoch (or NULL) */
    cnn_sgd sgd;
    char *csv;
    size_t csv_len, csv_cap;
} run;

static void run_free(run *r)
{
    cnn_plan_destroy(r->plan);
    cnn_plan_destroy(r->tail);
    cnn_sgd_free(&r->sgd);
    cnn_model_destroy(r->model);
    cnn_dataset_free(&r->data);
    free(r->train_idx);
    free(r->val_idx);
    free(r->csv);
}

static cnn_status csv_append(run *r, const char *line, cnn_error *err)
{
    size_t n = strlen(line);
    if (r->csv_len + n + 1 > r->csv_cap) {
        size_t cap = (r->csv_cap + n + 1) * 2;
        char *p = realloc(r->csv, cap);
        if (!p)
            return cnn_error_set(err, CNN_STATUS_NO_MEMORY, "no memory for metrics");
        r->csv = p;
        r->csv_cap = cap;
    }
    memcpy(r->csv + r->csv_len, line, n + 1);
    r->csv_len += n;
    return write_text(r->cfg->out_dir, "metrics.csv", r->csv, err);
}

static cnn_status save_weights(run *r, const char *name, cnn_error *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", r->cfg->out_dir, name);
    return cnn_checkpoint_save(path, r->model, &r->norm, err);
}

static cnn_status prepare(run *r, const cnn_train_hooks *hooks, cnn_error *err)
{
    const cnn_train_config *c = r->cfg;
    cnn_status st;
    const cnn_model_desc *desc = cnn_model_find(c->model);
    if (!desc)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                             "--model: unknown model '%s' (see `cnnlab train --help`)", c->model);
    if (cnn_dir_nonempty(c->out_dir))
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                             "--out: run folder %s already exists and is not empty; choose "
                             "another, nothing in it was changed", c->out_dir);
    char data_dir[4096];
    if ((st = cnn_cifar_locate(c->data_dir, 1, data_dir, sizeof data_dir, err)) ||
        (st = cnn_cifar_load_train(data_dir, &r->data, err)) ||
        (st = cnn_split_make(r->data.count, c->val_fraction, c->seed, &r->train_idx, &r->n_train,
                             &r->val_idx, &r->n_val, err)))
        return st;
    if (c->subset > 0) {
        if (c->subset > r->n_train)
            return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                                 "--subset: expected at most the %d images of the train split, "
                                 "found %d", r->n_train, c->subset);
        cnn_rng rng;
        cnn_rng_init(&rng, c->seed, CNN_STREAM_SUBSET, 0);
        cnn_rng_shuffle(&rng, r->train_idx, r->n_train);
        r->n_train = c->subset;
    }
    cnn_norm_compute(&r->data, r->train_idx, r->n_train, &r->norm);

    if ((st = cnn_model_create(desc, &r->model, err)))
        return st;
    cnn_model_init(r->model, c->seed);
    int full = r->n_train / c->batch_size, rest = r->n_train % c->batch_size;
    if ((st = cnn_plan_create(r->model, full ? c->batch_size : rest, c->backend, 1, &r->plan, err)))
        return st;
    if (full && rest && (st = cnn_plan_create(r->model, rest, c->backend, 1, &r->tail, err)))
        return st;
    if ((st = cnn_sgd_init(&r->sgd, r->model->param_count, c->lr, c->momentum, c->weight_decay,
                           err)))
        return st;
    if ((st = cnn_mkdir_p(c->out_dir, err)) ||
        (st = write_config(c, r->model, &r->norm, r->n_train, r->n_val, data_dir, err)))
        return st;
    info(hooks, "model %s: %zu parameters, %.1f MMAC per image; %d train / %d validation images "
         "from %s; %d threads; plan memory %.1f MiB",
         desc->name, r->model->param_count, cnn_model_macs(r->model) / 1e6, r->n_train, r->n_val,
         data_dir, c->threads,
         (double)(cnn_plan_bytes(r->plan) + (r->tail ? cnn_plan_bytes(r->tail) : 0)) / 1048576.0);
    return CNN_STATUS_OK;
}

cnn_status cnn_train(const cnn_train_config *c, const cnn_train_hooks *hooks, cnn_error *err)
{
    if (c->epochs < 1 || c->batch_size < 1 || !(c->val_fraction >= 0 && c->val_fraction < 1))
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                             "bad training configuration (epochs %d, batch size %d, validation "
                             "fraction %g)", c->epochs, c->batch_size, c->val_fraction);
    omp_set_num_threads(c->threads);
    run r = {.cfg = c};
    cnn_status st = prepare(&r, hooks, err);
    if (st) {
        run_free(&r);
        return st;
    }
    if ((st = csv_append(&r, "epoch,train_loss,train_acc,val_loss,val_acc,lr,seconds,"
                             "images_per_second\n", err))) {
        run_free(&r);
        return st;
    }
    int batch = cnn_plan_batch(r.plan);
    int steps = r.n_train / batch + (r.tail ? 1 : 0);
    uint8_t *labels = malloc((size_t)batch);
    double best_acc = -1;
    long global_step = 0;
    for (int epoch = 1; epoch <= c->epochs && !st; epoch++) {
        double t0 = cnn_now();
        cnn_rng rng;
        cnn_rng_init(&rng, c->seed, CNN_STREAM_SHUFFLE, (uint64_t)epoch);
        cnn_rng_shuffle(&rng, r.train_idx, r.n_train);
        double loss_sum = 0;
        int correct = 0, seen = 0;
        for (int s = 0; s < steps; s++) {
            cnn_plan *p = (s * batch + batch <= r.n_train) ? r.plan : r.tail;
            int rows = cnn_plan_batch(p);
            cnn_batch_fill(&r.data, r.train_idx + s * batch, rows, &r.norm, cnn_plan_input(p),
                           labels);
            float loss = cnn_plan_forward(p, labels, rows, 1, &correct);
            global_step++;
            if (!isfinite(loss)) {
                char kept[4200];
                if (epoch > 1)
                    snprintf(kept, sizeof kept, "the weights of epoch %d stay in %s", epoch - 1,
                             c->out_dir);
                else
                    snprintf(kept, sizeof kept, "no epoch finished, so no weights were saved");
                st = cnn_error_set(err, CNN_STATUS_NUMERIC,
                                   "the training loss became %s at epoch %d, step %d of %d "
                                   "(step %ld overall); training stopped and %s; try a lower "
                                   "--lr (now %g) or gradient clipping",
                                   isnan(loss) ? "NaN" : "infinite", epoch, s + 1, steps,
                                   global_step, kept, (double)c->lr);
                break;
            }
            cnn_plan_backward(p);
            cnn_sgd_step(&r.sgd, r.model->params, r.model->grads);
            loss_sum += (double)loss * rows;
            seen += rows;
            if (hooks && hooks->on_step)
                hooks->on_step(hooks->user, epoch, s + 1, steps, loss);
        }
        if (st)
            break;
        double train_seconds = cnn_now() - t0;
        cnn_eval_result val = {0};
        if (r.n_val > 0)
            cnn_evaluate(r.plan, r.model, &r.data, r.val_idx, r.n_val, &r.norm, &val);
        cnn_epoch_stats es = {
            .epoch = epoch,
            .train_loss = loss_sum / seen,
            .train_acc = (double)correct / seen,
            .val_loss = r.n_val ? val.loss : NAN,
            .val_acc = r.n_val ? val.accuracy : NAN,
            .lr = c->lr,
            .seconds = cnn_now() - t0,
            .images_per_second = seen / train_seconds,
        };
        /* Without a validation split the last epoch counts as the best. */
        double score = r.n_val ? val.accuracy : epoch;
        es.best = score > best_acc;
        char line[512];
        snprintf(line, sizeof line, "%d,%.6f,%.6f,%.6f,%.6f,%.9g,%.3f,%.1f\n", es.epoch,
                 es.train_loss, es.train_acc, es.val_loss, es.val_acc, es.lr, es.seconds,
                 es.images_per_second);
        if ((st = csv_append(&r, line, err)) || (st = save_weights(&r, "last.weights", err)))
            break;
        if (es.best) {
            best_acc = score;
            if ((st = save_weights(&r, "best.weights", err)))
                break;
        }
        if (hooks && hooks->on_epoch)
            hooks->on_epoch(hooks->user, &es);
    }
    free(labels);
    run_free(&r);
    return st;
}
