/* geom.c: output sizes of windowed operations (floor mode, as PyTorch). */
#include "ops.h"

static int out_size(int in, int k, int s, int p) { return (in + 2 * p - k) / s + 1; }

int cnn_conv_geom_finish(cnn_conv_geom *g)
{
    if (g->groups == 0)
        g->groups = 1;
    if (g->groups < 1 || g->ic % g->groups || g->oc % g->groups)
        return 0;
    if (g->n < 1 || g->ic < 1 || g->oc < 1 || g->kh < 1 || g->kw < 1 || g->sh < 1 ||
        g->sw < 1 || g->ph < 0 || g->pw < 0 || g->ih + 2 * g->ph < g->kh ||
        g->iw + 2 * g->pw < g->kw)
        return 0;
    g->oh = out_size(g->ih, g->kh, g->sh, g->ph);
    g->ow = out_size(g->iw, g->kw, g->sw, g->pw);
    return g->oh > 0 && g->ow > 0;
}

int cnn_pool_geom_finish(cnn_pool_geom *g)
{
    if (g->n < 1 || g->c < 1 || g->kh < 1 || g->kw < 1 || g->sh < 1 || g->sw < 1 ||
        g->ph < 0 || g->pw < 0 || 2 * g->ph > g->kh || 2 * g->pw > g->kw ||
        g->ih + 2 * g->ph < g->kh || g->iw + 2 * g->pw < g->kw)
        return 0;
    g->oh = out_size(g->ih, g->kh, g->sh, g->ph);
    g->ow = out_size(g->iw, g->kw, g->sw, g->pw);
    return g->oh > 0 && g->ow > 0;
}
