/* plan_impl.h: what a plan holds, shared by plan.c (making and destroying
 * it) and plan_run.c (forward, backward, profiling); internal to src/net. */
#ifndef CNN_NET_PLAN_IMPL_H
#define CNN_NET_PLAN_IMPL_H

#include "layers/layer.h"

struct cnn_plan {
    cnn_model *m;
    int batch;
    cnn_backend backend;
    int training;
    cnn_dnnl *dnnl;
    cnn_plan_layer *layers;
    int last;          /* index of the last executed layer: its output is the logits */
    float *input;      /* (batch, H, W, C) */
    float *acts;       /* every executed layer's output */
    float *grads;      /* gradient buffers */
    float *temps;      /* temporaries for gradients that add into another */
    float *ws;         /* every layer's workspace */
    /* per layer and input slot: the gradient buffer a temporary adds into, or NULL */
    float *(*add_into)[CNN_MAX_INPUTS];
    /* training plans: each executed layer's inputs as executed layers (-1: the
     * model input), the input gradients as laid out (dxs, before any
     * cnn_plan_set_wanted_grads), and which layers run their backward */
    int (*in)[CNN_MAX_INPUTS];
    float *(*all_dxs)[CNN_MAX_INPUTS];
    unsigned char *run_bwd;
    size_t bytes;
    uint64_t seed, step;
    float label_smoothing;
    cnn_plan_dist dist; /* data-parallel hooks (cnn_plan_set_dist) */
    int profiling;     /* time each layer's forward and backward */
    double *fwd_s, *bwd_s, loss_s;
    long fwd_calls, bwd_calls;
};

#endif
