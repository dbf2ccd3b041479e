/* batchnorm.c: batch normalisation, BatchNorm2d on (H,W,C) inputs and
 * BatchNorm1d on flat (F) inputs: both normalise each channel over every other
 * dimension. Parameters: gamma (C), beta (C). State: running mean (C), running
 * variance (C). Workspace: the batch mean and 1/std saved for the backward, and
 * the fast path's reduction scratch. The fast path may absorb a ReLU or a GELU, and a
 * fast inference plan folds a batch norm after a convolution into it (conv.c). */
#include "export/onnx_graph.h"
#include "layer.h"

static cnn_status bn_infer(const cnn_layer_desc *d, const cnn_shape *ins, int n_in,
                           cnn_shape *out, size_t *params, size_t *state, cnn_error *err)
{
    cnn_shape in = ins[0];
    *out = in;
    *params = 2 * (size_t)in.c;
    *state = 2 * (size_t)in.c;
    return CNN_STATUS_OK;
}

static void bn_init(const cnn_model_layer *l, cnn_init_kind how, float *params, float *state,
                    cnn_rng *rng)
{
    int c = l->in.c;
    for (int i = 0; i < c; i++) {
        params[i] = l->desc.gamma0 ? 0.0f : 1.0f; /* gamma */
        params[c + i] = 0.0f; /* beta */
        state[i] = 0.0f;      /* running mean */
        state[c + i] = 1.0f;  /* running variance */
    }
}

/* GELU's backward needs its input z = bn(x), which this layer recomputes from
 * its own x (fast/batchnorm.c), so it needs no output of its own kept. */
static int bn_can_fuse(cnn_act act) { return act == CNN_ACT_RELU || act == CNN_ACT_GELU; }

static cnn_bn_geom geom_of(const cnn_plan_layer *pl)
{
    cnn_shape s = pl->ml->in;
    const cnn_layer_desc *d = &pl->ml->desc;
    return (cnn_bn_geom){.m = pl->n * s.h * s.w, .c = s.c,
                         .eps = d->eps > 0 ? d->eps : CNN_BN_EPS,
                         .momentum = d->momentum > 0 ? d->momentum : CNN_BN_MOMENTUM,
                         .sync = pl->training ? pl->bn_sync : NULL, .x_bf16 = pl->x_bf16,
                         .y_bf16 = pl->y_bf16, .dx_bf16 = pl->dx_bf16,
                         .y_copy = pl->y_copy};
}

/* dx too (for a convolution before it that reads its dy as bf16), but with a
 * fused GELU, whose backward keeps dy' in dx between its two passes */
static int bn_bf16_storage(const cnn_plan_layer *pl)
{
    if (pl->backend != CNN_BACKEND_FAST)
        return 0;
    return CNN_FAST_X_BF16 | CNN_FAST_Y_BF16 | (pl->fused == CNN_ACT_GELU ? 0 : CNN_FAST_DX_BF16) |
           (pl->training ? CNN_FAST_Y_COPY : 0);
}

static cnn_status bn_plan(cnn_plan_layer *pl, cnn_error *err)
{
    size_t c = (size_t)pl->ml->in.c;
    pl->ws_floats = 2 * c;
    if (pl->backend == CNN_BACKEND_FAST)
        pl->ws_floats += cnn_fast_batchnorm_scratch_floats((int)c);
    return CNN_STATUS_OK;
}

static void bn_forward(cnn_plan_layer *pl)
{
    cnn_bn_geom g = geom_of(pl);
    int c = g.c;
    const float *gamma = pl->w, *beta = pl->w + c;
    float *rmean = pl->state, *rvar = pl->state + c;
    float *save_mean = pl->ws, *save_invstd = pl->ws + c, *scratch = pl->ws + 2 * c;
    if (pl->backend == CNN_BACKEND_FAST) {
        if (pl->training)
            cnn_fast_batchnorm_forward_train(&g, pl->fused, pl->x, gamma, beta, pl->y, save_mean,
                                             save_invstd, rmean, rvar, scratch);
        else
            cnn_fast_batchnorm_forward_eval(&g, pl->fused, pl->x, gamma, beta, rmean, rvar, pl->y);
    } else {
        if (pl->training)
            cnn_ref_batchnorm_forward_train(&g, pl->x, gamma, beta, pl->y, save_mean, save_invstd,
                                            rmean, rvar);
        else
            cnn_ref_batchnorm_forward_eval(&g, pl->x, gamma, beta, rmean, rvar, pl->y);
    }
}

static void bn_backward(cnn_plan_layer *pl)
{
    cnn_bn_geom g = geom_of(pl);
    int c = g.c;
    const float *gamma = pl->w, *beta = pl->w + c;
    const float *save_mean = pl->ws, *save_invstd = pl->ws + c;
    if (pl->backend == CNN_BACKEND_FAST)
        cnn_fast_batchnorm_backward(&g, pl->fused, pl->x, gamma, beta, save_mean,
                                    save_invstd, pl->dy, pl->dx, pl->dw, pl->dw + c,
                                    pl->ws + 2 * c);
    else
        cnn_ref_batchnorm_backward(&g, pl->x, gamma, save_mean, save_invstd, pl->dy, pl->dx,
                                   pl->dw, pl->dw + c);
}

/* ---- the model-file word ---- */

enum { KEY_FROM, KEY_GAMMA, KEY_EPS, KEY_MOMENTUM, KEY_FREEZE };

static const cnn_layer_key bn_keys[] = {
    [KEY_FROM] = CNN_LAYER_KEY_FROM,
    [KEY_GAMMA] = CNN_LAYER_KEY_GAMMA,
    [KEY_EPS] = CNN_LAYER_KEY_EPS,
    [KEY_MOMENTUM] = CNN_LAYER_KEY_MOMENTUM,
    [KEY_FREEZE] = CNN_LAYER_KEY_FREEZE,
    CNN_LAYER_KEY_END,
};

static const cnn_layer_word bn_words[] = {
    {"batchnorm", CNN_LAYER_ARG_NONE, NULL, 0, 0, 0, 0, bn_keys, 0, CNN_ACT_NONE,
     "batchnorm [gamma=0|1] [freeze=weight] [eps=F] [momentum=F]"},
    {NULL},
};

static cnn_status bn_build(const cnn_layer_args *a, cnn_layer_desc *d, cnn_error *err)
{
    const cnn_layer_value *v = a->keys;
    cnn_layer_norm_keys(d, &v[KEY_GAMMA], &v[KEY_FREEZE], &v[KEY_EPS], &v[KEY_MOMENTUM]);
    return CNN_STATUS_OK;
}

static void bn_describe(const cnn_layer_desc *d, char *buf, size_t size)
{
    snprintf(buf, size, "batchnorm%s", d->gamma0 ? " gamma 0" : "");
}

/* PyTorch's BatchNorm2d (BatchNorm1d on vectors): weight, bias (C), running_mean,
 * running_var (C), num_batches_tracked */
static int bn_tensors(const cnn_model_layer *l, cnn_layer_tensor *t)
{
    int64_t c = l->in.c;
    t[0] = (cnn_layer_tensor){"weight", CNN_LAYER_TENSOR_PARAM, 0, 1, {c}, 0};
    t[1] = (cnn_layer_tensor){"bias", CNN_LAYER_TENSOR_PARAM, (size_t)c, 1, {c}, 0};
    t[2] = (cnn_layer_tensor){"running_mean", CNN_LAYER_TENSOR_STATE, 0, 1, {c}, 0};
    t[3] = (cnn_layer_tensor){"running_var", CNN_LAYER_TENSOR_STATE, (size_t)c, 1, {c}, 0};
    t[4] = (cnn_layer_tensor){"num_batches_tracked", CNN_LAYER_TENSOR_COUNTER, 0, 0, {0}, 0};
    return 5;
}

/* the evaluation form: (x - running mean) / sqrt(running var + eps) * gamma + beta */
static cnn_status bn_onnx(cnn_onnx_graph *g, const cnn_model_layer *l, const float *params,
                          const float *state, const cnn_onnx_value *in, int n_in,
                          cnn_onnx_value *out, cnn_error *err)
{
    int64_t c = l->in.c;
    const char *x[5] = {in[0].name, cnn_onnx_const(g, "weight", params, 1, &c),
                        cnn_onnx_const(g, "bias", params + c, 1, &c),
                        cnn_onnx_const(g, "running_mean", state, 1, &c),
                        cnn_onnx_const(g, "running_var", state + c, 1, &c)};
    float eps = l->desc.eps > 0 ? l->desc.eps : CNN_BN_EPS;
    cnn_onnx_attr a = CNN_ONNX_FLOAT("epsilon", eps);
    *out = (cnn_onnx_value){cnn_onnx_node(g, "BatchNormalization", x, 5, &a, 1), in[0].rank, l->out.c};
    return CNN_STATUS_OK;
}

const cnn_layer_class cnn_layer_batchnorm = {
    .name = "batchnorm",
    .words = bn_words,
    .norm = 1,
    .build = bn_build,
    .describe = bn_describe,
    .infer = bn_infer,
    .init = bn_init,
    .can_fuse = bn_can_fuse,
    .plan = bn_plan,
    .bf16_storage = bn_bf16_storage,
    .forward = bn_forward,
    .backward = bn_backward,
    .tensors = bn_tensors,
    .onnx = bn_onnx,
};
