/* cnnlab.h: the whole public API of libcnnlab.
 *
 * A short tour, in the order data flows:
 *   data.h        CIFAR-10 files, the seeded train/validation split, normalisation
 *   model.h       networks as data (built-in descriptions) and their parameter blocks
 *   plan.h        running a model on a batch size: forward, backward, no allocation
 *   optim.h       optimizers over the parameter block
 *   checkpoint.h  weights on disk
 *   train.h       whole training runs, evaluation, the run folder
 *   plot.h        curves and confusion matrices as pictures, drawn by gnuplot
 *   status.h      how every function reports failure
 *
 * Activations are NHWC float32 throughout; weights keep PyTorch's layouts.
 */
#ifndef CNNLAB_H
#define CNNLAB_H

#define CNNLAB_VERSION "0.1.0"

#include "cnnlab/activation.h"
#include "cnnlab/checkpoint.h"
#include "cnnlab/data.h"
#include "cnnlab/model.h"
#include "cnnlab/optim.h"
#include "cnnlab/plan.h"
#include "cnnlab/plot.h"
#include "cnnlab/status.h"
#include "cnnlab/train.h"

#endif
