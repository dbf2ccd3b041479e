/* sgd.c: SGD with momentum and weight decay, one fused pass over the block. */
#include "cnnlab/optim.h"
#include "core/core.h"

cnn_status cnn_sgd_init(cnn_sgd *o, size_t count, float lr, float momentum, float weight_decay,
                        cnn_error *err)
{
    o->lr = lr;
    o->momentum = momentum;
    o->weight_decay = weight_decay;
    o->count = count;
    o->velocity = cnn_alloc(count * sizeof(float));
    if (!o->velocity)
        return cnn_error_set(err, CNN_STATUS_NO_MEMORY, "no memory for %zu momentum values", count);
    return CNN_STATUS_OK;
}

void cnn_sgd_step(cnn_sgd *o, float *params, const float *grads)
{
    const float lr = o->lr, mom = o->momentum, wd = o->weight_decay;
    float *v = o->velocity;
    const long n = (long)o->count;
#pragma omp parallel for simd schedule(static) if (n >= 32768)
    for (long i = 0; i < n; i++) {
        float g = grads[i] + wd * params[i];
        float vi = mom * v[i] + g;
        v[i] = vi;
        params[i] -= lr * vi;
    }
}

void cnn_sgd_free(cnn_sgd *o)
{
    cnn_free(o->velocity);
    o->velocity = NULL;
}
