/* groupnorm.c: per-sample normalisations, all on the group-norm op (ops.h):
 *   layernorm     LayerNorm([C,H,W]): one group, elementwise affine (2*H*W*C parameters)
 *   instancenorm  InstanceNorm2d(C, affine=True): a group per channel (2*C)
 *   groupnorm     GroupNorm(G, C): G groups (2*C)
 * Training and evaluation compute the same thing. Workspace: the saved mean and
 * 1/std per (sample, group), then the fast path's scratch. */
#include "export/onnx_graph.h"
#include "layer.h"

#define NORM_EPS 1e-5f

static int groups_of(const cnn_layer_desc *d, cnn_shape in)
{
    switch (d->kind) {
    case CNN_LAYER_LAYERNORM: return 1;
    case CNN_LAYER_INSTANCENORM: return in.c;
    default: return d->groups;
    }
}

static cnn_status gn_infer(const cnn_layer_desc *d, const cnn_shape *ins, int n_in,
                           cnn_shape *out, size_t *params, size_t *state, cnn_error *err)
{
    cnn_shape in = ins[0];
    int g = groups_of(d, in);
    if (g < 1 || in.c % g != 0)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                             "--groups: %d groups do not divide the layer's %d channels", g, in.c);
    *out = in;
    *params = 2 * (d->kind == CNN_LAYER_LAYERNORM ? cnn_shape_size(in) : (size_t)in.c);
    *state = 0;
    return CNN_STATUS_OK;
}

static void gn_init(const cnn_model_layer *l, cnn_init_kind how, float *params, float *state,
                    cnn_rng *rng)
{
    size_t half = l->param_count / 2;
    for (size_t i = 0; i < half; i++) {
        params[i] = l->desc.gamma0 ? 0.0f : 1.0f; /* gamma */
        params[half + i] = 0.0f; /* beta */
    }
}

static cnn_gn_geom geom_of(const cnn_plan_layer *pl)
{
    cnn_shape s = pl->ml->in;
    return (cnn_gn_geom){.n = pl->n, .hw = s.h * s.w, .c = s.c,
                         .groups = groups_of(&pl->ml->desc, s),
                         .per_element = pl->ml->desc.kind == CNN_LAYER_LAYERNORM, .eps = NORM_EPS};
}

static cnn_status gn_plan(cnn_plan_layer *pl, cnn_error *err)
{
    cnn_gn_geom g = geom_of(pl);
    pl->ws_floats = 2 * (size_t)g.n * g.groups;
    if (pl->backend == CNN_BACKEND_FAST)
        pl->ws_floats += cnn_fast_groupnorm_scratch_floats(&g);
    return CNN_STATUS_OK;
}

static void gn_forward(cnn_plan_layer *pl)
{
    cnn_gn_geom g = geom_of(pl);
    size_t half = pl->ml->param_count / 2, ng = (size_t)g.n * g.groups;
    if (pl->backend == CNN_BACKEND_FAST)
        cnn_fast_groupnorm_forward(&g, pl->x, pl->w, pl->w + half, pl->y, pl->ws, pl->ws + ng);
    else
        cnn_ref_groupnorm_forward(&g, pl->x, pl->w, pl->w + half, pl->y, pl->ws, pl->ws + ng);
}

static void gn_backward(cnn_plan_layer *pl)
{
    cnn_gn_geom g = geom_of(pl);
    size_t half = pl->ml->param_count / 2, ng = (size_t)g.n * g.groups;
    if (pl->backend == CNN_BACKEND_FAST)
        cnn_fast_groupnorm_backward(&g, pl->x, pl->w, pl->ws, pl->ws + ng, pl->dy, pl->dx, pl->dw,
                                    pl->dw + half, pl->ws + 2 * ng);
    else
        cnn_ref_groupnorm_backward(&g, pl->x, pl->w, pl->ws, pl->ws + ng, pl->dy, pl->dx, pl->dw,
                                   pl->dw + half);
}

/* ---- the model-file words ---- */

enum { KEY_FROM, KEY_GAMMA, KEY_FREEZE, KEY_GROUPS };

static const cnn_layer_key norm_keys[] = {
    [KEY_FROM] = CNN_LAYER_KEY_FROM,
    [KEY_GAMMA] = CNN_LAYER_KEY_GAMMA,
    [KEY_FREEZE] = CNN_LAYER_KEY_FREEZE,
    CNN_LAYER_KEY_END,
};

/* groups= first, as the model-file reader has always listed it */
static const cnn_layer_key groupnorm_keys[] = {
    {"groups", CNN_LAYER_KEY_INT, 1, 65536, NULL}, CNN_LAYER_KEY_FROM, CNN_LAYER_KEY_GAMMA,
    CNN_LAYER_KEY_FREEZE, CNN_LAYER_KEY_END,
};

static const cnn_layer_word layernorm_words[] = {
    {"layernorm", CNN_LAYER_ARG_NONE, NULL, 0, 0, 0, 0, norm_keys, 0, CNN_ACT_NONE,
     "layernorm [gamma=0|1]"},
    {NULL},
};
static const cnn_layer_word instancenorm_words[] = {
    {"instancenorm", CNN_LAYER_ARG_NONE, NULL, 0, 0, 0, 0, norm_keys, 0, CNN_ACT_NONE,
     "instancenorm [gamma=0|1]"},
    {NULL},
};
static const cnn_layer_word groupnorm_words[] = {
    {"groupnorm", CNN_LAYER_ARG_NONE, NULL, 0, 0, 0, 0, groupnorm_keys, 0, CNN_ACT_NONE,
     "groupnorm [groups=G] [gamma=0|1]"},
    {NULL},
};

static cnn_status gn_build(const cnn_layer_args *a, cnn_layer_desc *d, cnn_error *err)
{
    const cnn_layer_value *v = a->keys;
    int grouped = a->word->keys == groupnorm_keys;
    const cnn_layer_value *gamma = &v[grouped ? KEY_GAMMA + 1 : KEY_GAMMA];
    const cnn_layer_value *freeze = &v[grouped ? KEY_FREEZE + 1 : KEY_FREEZE];
    cnn_layer_norm_keys(d, gamma, freeze, NULL, NULL);
    if (grouped && v[0].given)
        d->groups = (int)v[0].i;
    return CNN_STATUS_OK;
}

/* "layernorm", "groupnorm 8 gamma 0" */
static void gn_describe(const cnn_layer_desc *d, char *buf, size_t size)
{
    size_t u = 0;
    cnn_layer_text_add(buf, size, &u, "%s", cnn_layer_class_of(d->kind)->name);
    if (d->kind == CNN_LAYER_GROUPNORM)
        cnn_layer_text_add(buf, size, &u, " %d", d->groups);
    if (d->gamma0)
        cnn_layer_text_add(buf, size, &u, " gamma 0");
}

/* PyTorch's LayerNorm([C, H, W]) (weight, bias (C, H, W)), InstanceNorm2d(C,
 * affine=True) and GroupNorm(G, C) (weight, bias (C)) */
static int gn_tensors(const cnn_model_layer *l, cnn_layer_tensor *t)
{
    cnn_shape s = l->in;
    if (l->desc.kind == CNN_LAYER_LAYERNORM) {
        t[0] = (cnn_layer_tensor){"weight", CNN_LAYER_TENSOR_PARAM, 0, 3, {s.c, s.h, s.w}, 1};
        t[1] = (cnn_layer_tensor){"bias", CNN_LAYER_TENSOR_PARAM, cnn_shape_size(s), 3,
                                  {s.c, s.h, s.w}, 1};
    } else {
        t[0] = (cnn_layer_tensor){"weight", CNN_LAYER_TENSOR_PARAM, 0, 1, {s.c}, 0};
        t[1] = (cnn_layer_tensor){"bias", CNN_LAYER_TENSOR_PARAM, (size_t)s.c, 1, {s.c}, 0};
    }
    return 2;
}

/* All three as ONNX reads them alike (OpenCV 4.6 included, whose
 * InstanceNormalization of a 4-D batch is wrong): the map reshaped to
 * (N, G, C/G*H*W), normalised as G instances without an affine, reshaped
 * back to (N, C, H, W), then times gamma plus beta. */
static cnn_status gn_onnx(cnn_onnx_graph *g, const cnn_model_layer *l, const float *params,
                          const float *state, const cnn_onnx_value *in, int n_in,
                          cnn_onnx_value *out, cnn_error *err)
{
    cnn_shape s = l->in;
    int groups = groups_of(&l->desc, s), layer = l->desc.kind == CNN_LAYER_LAYERNORM;
    int64_t chw[3] = {s.c, s.h, s.w}, c11[3] = {s.c, 1, 1};
    int64_t split[3] = {0, groups, -1}, back[4] = {0, s.c, s.h, s.w}, gn = groups;
    float *ones = malloc(sizeof(float) * 2 * (size_t)groups);
    if (!ones)
        return cnn_error_set(err, CNN_STATUS_NO_MEMORY, "no memory");
    for (int i = 0; i < groups; i++)
        ones[i] = 1.0f, ones[groups + i] = 0.0f;
    const char *a[3] = {cnn_onnx_op2(g, "Reshape", cnn_onnx_as_map(g, in[0]),
                                     cnn_onnx_ints(g, "groups", split, 3)),
                        cnn_onnx_const(g, "ones", ones, 1, &gn),
                        cnn_onnx_const(g, "zeros", ones + groups, 1, &gn)};
    free(ones);
    cnn_onnx_attr eps = CNN_ONNX_FLOAT("epsilon", NORM_EPS);
    const char *y = cnn_onnx_node(g, "InstanceNormalization", a, 3, &eps, 1);
    y = cnn_onnx_op2(g, "Reshape", y, cnn_onnx_ints(g, "shape", back, 4));
    const char *gamma = layer ? cnn_onnx_const_chw(g, "weight", params, chw)
                              : cnn_onnx_const(g, "weight", params, 3, c11);
    const char *beta = layer ? cnn_onnx_const_chw(g, "bias", params + cnn_shape_size(s), chw)
                             : cnn_onnx_const(g, "bias", params + s.c, 3, c11);
    y = cnn_onnx_op2(g, "Add", cnn_onnx_op2(g, "Mul", y, gamma), beta);
    cnn_onnx_value v = {y, 4, s.c};
    *out = (cnn_onnx_value){in[0].rank == 4 ? y : cnn_onnx_as_vector(g, v), in[0].rank, l->out.c};
    return CNN_STATUS_OK;
}

#define GN_CLASS(var, label, word_list)                                                            \
    const cnn_layer_class var = {                                                                 \
        .name = label,                                                                             \
        .words = word_list,                                                                        \
        .norm = 1,                                                                                 \
        .build = gn_build,                                                                         \
        .describe = gn_describe,                                                                   \
        .infer = gn_infer,                                                                         \
        .init = gn_init,                                                                           \
        .plan = gn_plan,                                                                           \
        .forward = gn_forward,                                                                     \
        .backward = gn_backward,                                                                   \
        .tensors = gn_tensors,                                                                     \
        .onnx = gn_onnx,                                                                           \
    }

GN_CLASS(cnn_layer_layernorm, "layernorm", layernorm_words);
GN_CLASS(cnn_layer_instancenorm, "instancenorm", instancenorm_words);
GN_CLASS(cnn_layer_groupnorm, "groupnorm", groupnorm_words);
