/* optim.h: optimizers over a model's parameter block (one loop, one pass). */
#ifndef CNNLAB_OPTIM_H
#define CNNLAB_OPTIM_H

#include <stddef.h>

#include "cnnlab/status.h"

/* SGD with momentum and (coupled) weight decay, as torch.optim.SGD:
 *   g = grad + weight_decay * p
 *   v = momentum * v + g        (v starts at 0, so the first v is g)
 *   p = p - lr * v
 * Weight decay applies to every parameter, biases and norm weights included,
 * as PyTorch's does when given model.parameters(). */
typedef struct cnn_sgd {
    float lr, momentum, weight_decay;
    size_t count;
    float *velocity; /* (count), the momentum buffer */
} cnn_sgd;

cnn_status cnn_sgd_init(cnn_sgd *o, size_t count, float lr, float momentum, float weight_decay,
                        cnn_error *err);
void cnn_sgd_step(cnn_sgd *o, float *params, const float *grads);
void cnn_sgd_free(cnn_sgd *o);

#endif
