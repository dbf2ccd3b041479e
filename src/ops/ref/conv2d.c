/* conv2d.c: reference 2-D convolution, the definition the fast path is checked
 * against. Matches PyTorch's nn.Conv2d (cross-correlation, zero padding,
 * dilation 1, groups G), with activations stored NHWC. With ICG = IC/G input
 * and OCG = OC/G output channels per group, output channel oc belongs to group
 * g(oc) = oc / OCG and reads input channels g(oc)*ICG + j, j < ICG:
 *
 *   y[n,oy,ox,oc] = b[oc] + sum_{j,ky,kx} w[oc,j,ky,kx] * x[n, oy*SH+ky-PH, ox*SW+kx-PW, g(oc)*ICG+j]
 *
 * where x outside the image is 0 (G = 1: every output reads every input; G =
 * IC = OC: depthwise). The backward follows from the same sum:
 *
 *   dw[oc,j,ky,kx] = sum_{n,oy,ox} dy[n,oy,ox,oc] * x[n, oy*SH+ky-PH, ox*SW+kx-PW, g(oc)*ICG+j]
 *   db[oc]         = sum_{n,oy,ox} dy[n,oy,ox,oc]
 *   dx[n,iy,ix,ic] = sum over oc of ic's group and (ky,kx) with iy = oy*SH+ky-PH,
 *                    ix = ox*SW+kx-PW of dy[n,oy,ox,oc] * w[oc, ic - g*ICG, ky, kx]
 *
 * Every output element is one sum, accumulated in double and written once, so
 * the gradients are overwritten, never accumulated into. */
#include "ops/ops.h"

/* x (N,IH,IW,IC), w (OC,IC/G,KH,KW), b (OC) or NULL, y (N,OH,OW,OC) */
void cnn_ref_conv2d_forward(const cnn_conv_geom *g, const float *x, const float *w,
                            const float *b, float *y)
{
    int icg = cnn_conv_group_ic(g), ocg = g->oc / (g->ic / icg);
    for (int n = 0; n < g->n; n++)
        for (int oy = 0; oy < g->oh; oy++)
            for (int ox = 0; ox < g->ow; ox++)
                for (int oc = 0; oc < g->oc; oc++) {
                    int ic0 = oc / ocg * icg; /* the group's first input channel */
                    double s = b ? b[oc] : 0.0;
                    for (int ky = 0; ky < g->kh; ky++) {
                        int iy = oy * g->sh + ky - g->ph;
                        if (iy < 0 || iy >= g->ih)
                            continue;
                        for (int kx = 0; kx < g->kw; kx++) {
                            int ix = ox * g->sw + kx - g->pw;
                            if (ix < 0 || ix >= g->iw)
                                continue;
                            const float *xp =
                                x + (((size_t)n * g->ih + iy) * g->iw + ix) * g->ic + ic0;
                            const float *wp = w + ((size_t)oc * icg * g->kh + ky) * g->kw + kx;
                            for (int j = 0; j < icg; j++)
                                s += (double)xp[j] * wp[(size_t)j * g->kh * g->kw];
                        }
                    }
                    y[(((size_t)n * g->oh + oy) * g->ow + ox) * g->oc + oc] = (float)s;
                }
}

/* x (N,IH,IW,IC), w (OC,IC/G,KH,KW), dy (N,OH,OW,OC)
 * -> dx (N,IH,IW,IC), dw (OC,IC/G,KH,KW), db (OC); each may be NULL. */
void cnn_ref_conv2d_backward(const cnn_conv_geom *g, const float *x, const float *w,
                             const float *dy, float *dx, float *dw, float *db)
{
    int icg = cnn_conv_group_ic(g), ocg = g->oc / (g->ic / icg);
    if (db) {
        for (int oc = 0; oc < g->oc; oc++) {
            double s = 0;
            for (size_t p = 0; p < (size_t)g->n * g->oh * g->ow; p++)
                s += dy[p * g->oc + oc];
            db[oc] = (float)s;
        }
    }
    if (dw) {
        for (int oc = 0; oc < g->oc; oc++)
            for (int j = 0; j < icg; j++)
                for (int ky = 0; ky < g->kh; ky++)
                    for (int kx = 0; kx < g->kw; kx++) {
                        int ic = oc / ocg * icg + j;
                        double s = 0;
                        for (int n = 0; n < g->n; n++)
                            for (int oy = 0; oy < g->oh; oy++) {
                                int iy = oy * g->sh + ky - g->ph;
                                if (iy < 0 || iy >= g->ih)
                                    continue;
                                for (int ox = 0; ox < g->ow; ox++) {
                                    int ix = ox * g->sw + kx - g->pw;
                                    if (ix < 0 || ix >= g->iw)
                                        continue;
                                    s += (double)dy[(((size_t)n * g->oh + oy) * g->ow + ox) * g->oc + oc] *
                                         x[(((size_t)n * g->ih + iy) * g->iw + ix) * g->ic + ic];
                                }
                            }
                        dw[(((size_t)oc * icg + j) * g->kh + ky) * g->kw + kx] = (float)s;
                    }
    }
    if (dx) {
        /* Gather form: each input position collects from the outputs of its
         * group whose window covers it, oy = (iy + PH - ky) / SH when that
         * divides exactly. */
        for (int n = 0; n < g->n; n++)
            for (int iy = 0; iy < g->ih; iy++)
                for (int ix = 0; ix < g->iw; ix++)
                    for (int ic = 0; ic < g->ic; ic++) {
                        int oc0 = ic / icg * ocg, j = ic % icg;
                        double s = 0;
                        for (int ky = 0; ky < g->kh; ky++) {
                            int ty = iy + g->ph - ky;
                            if (ty < 0 || ty % g->sh != 0 || ty / g->sh >= g->oh)
                                continue;
                            int oy = ty / g->sh;
                            for (int kx = 0; kx < g->kw; kx++) {
                                int tx = ix + g->pw - kx;
                                if (tx < 0 || tx % g->sw != 0 || tx / g->sw >= g->ow)
                                    continue;
                                int ox = tx / g->sw;
                                const float *dyp = dy + (((size_t)n * g->oh + oy) * g->ow + ox) * g->oc;
                                const float *wp = w + ((size_t)j * g->kh + ky) * g->kw + kx;
                                for (int oc = oc0; oc < oc0 + ocg; oc++)
                                    s += (double)dyp[oc] * wp[(size_t)oc * icg * g->kh * g->kw];
                            }
                        }
                        dx[(((size_t)n * g->ih + iy) * g->iw + ix) * g->ic + ic] = (float)s;
                    }
    }
}
