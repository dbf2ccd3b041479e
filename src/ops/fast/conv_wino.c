/* conv_wino.c: Winograd's minimal filtering for 3x3 stride-1 convolutions
 * (Lavin and Gray 2015), F(m x m, 3 x 3): an m x m tile of outputs from an
 * a x a tile of inputs (a = m + 2) with a*a multiplications per channel pair
 * instead of 9*m*m. With the transforms B (input), G (weights) and A (output),
 * for one tile d of one input channel and one kernel w:
 *
 *     Y = A^T [ (G w G^T) (.) (B^T d B) ] A          (.) element-wise
 *
 * Summed over input channels, each of the a*a element positions xi is a matrix
 * product over the channels: M[xi] (tiles x OC) = V[xi] (tiles x IC) *
 * U[xi] (IC x OC), with V the transformed input tiles and U the transformed
 * weights. The tiles are taken a chunk at a time per thread, so that V and M
 * stay in the core's caches or near them: transform the chunk's input tiles,
 * a*a sgemm calls, transform the output tiles back (adding the bias and
 * applying ReLU on the way).
 *
 * Backward-data is the same computation on dy, with each kernel flipped and
 * its channel roles swapped, and padding 2 - p. Backward-weights follows from
 * the formula, which is exact: with dM = A dY A^T (dY one output tile's
 * gradient, zero outside the map), dU[xi] (IC x OC) = sum over tiles of
 * V[xi]^T dM[xi], and dw = G^T dU G. Each thread accumulates its own dU; the
 * team adds them up at the end.
 *
 * Activations are NHWC, so a tile's channels are contiguous and the
 * transforms vectorise over channels, CB at a time. The form is F(4x4, 3x3)
 * (a = 6): 36 multiplications per 16 outputs against direct's 144, with the
 * transforms of Lavin and Gray's paper (points 0, +-1, +-2). */
#include <dnnl.h>
#include <omp.h>
#include <string.h>

#include "conv_wino.h"
#include "core/core.h"

#define M 4      /* output tile */
#define A 6      /* input tile: M + 2 */
#define A2 (A * A)
#define CB 64    /* channels a transform works on together */
/* A thread's chunk of tiles: V and M about CHUNK_BYTES, but at least
 * MIN_CHUNK tiles, as each sgemm reads its U[xi] (IC x OC) once per chunk:
 * with 512 channels U is 37 MiB, and chunks of 8 tiles (what 1 MiB holds)
 * ran resnet18's 4x4x512 layers 2.4x slower than chunks of 64 (measured on a
 * 2-core Zen 1; 128 was slower again on the smaller layers). */
#define CHUNK_BYTES (1 << 20)
#define MIN_CHUNK 64
#define MAX_CHUNK 256
/* Floats between the a*a planes of V and M beyond a chunk's rows: a chunk's
 * plane is a power of two bytes (64 tiles x 64 channels: 16 KiB), so without
 * it a tile's 36 stores would all fall in one set of the L1 cache. */
#define PLANE_PAD 16

/* The transforms. B^T (A x A), V = B^T d B, and A^T (M x A), Y = A^T M A,
 * have small integer entries and are written out in bt_1d, at_1d and a_1d:
 *
 *   B^T =  4  0 -5  0  1  0        A^T =  1  1  1  1  1  0
 *          0 -4 -4  1  1  0               0  1 -1  2 -2  0
 *          0  4 -4 -1  1  0               0  1  1  4  4  0
 *          0 -2 -1  2  1  0               0  1 -1  8 -8  1
 *          0  2 -1 -2  1  0
 *          0  4  0 -5  0  1
 *
 * G (A x 3): U = G w G^T, applied once per weight update, stays a table. */
static const float G[A][3] = {
    {1.0f / 4, 0, 0},
    {-1.0f / 6, -1.0f / 6, -1.0f / 6},
    {-1.0f / 6, 1.0f / 6, -1.0f / 6},
    {1.0f / 24, 1.0f / 12, 1.0f / 6},
    {1.0f / 24, -1.0f / 12, 1.0f / 6},
    {0, 0, 1},
};

/* One 3x3 stride-1 convolution as the tiles see it: the forward's, or
 * backward-data's (input dy, output dx). */
typedef struct pass {
    int n, ih, iw, ic, oc, ph, pw, oh, ow;
    int th, tw; /* tiles per image, down and across */
} pass;

static pass pass_of(const cnn_conv_geom *g, int backward_data)
{
    pass p;
    p.n = g->n;
    if (backward_data) {
        p.ih = g->oh, p.iw = g->ow, p.ic = g->oc, p.oc = g->ic;
        p.ph = 2 - g->ph, p.pw = 2 - g->pw, p.oh = g->ih, p.ow = g->iw;
    } else {
        p.ih = g->ih, p.iw = g->iw, p.ic = g->ic, p.oc = g->oc;
        p.ph = g->ph, p.pw = g->pw, p.oh = g->oh, p.ow = g->ow;
    }
    p.th = (p.oh + M - 1) / M;
    p.tw = (p.ow + M - 1) / M;
    return p;
}

static long tiles_of(const pass *p) { return (long)p->n * p->th * p->tw; }

int cnn_wino_conv_applies(const cnn_conv_geom *g)
{
    return g->kh == 3 && g->kw == 3 && g->sh == 1 && g->sw == 1 && g->ph >= 0 && g->ph <= 2 &&
           g->pw >= 0 && g->pw <= 2;
}

cnn_status cnn_wino_conv_init(cnn_wino_conv *c, const cnn_conv_geom *g, int threads,
                              cnn_error *err)
{
    if (!cnn_wino_conv_applies(g))
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "cnnlab's Winograd needs a "
                             "3x3 kernel, stride 1 and padding 0 to 2; use --conv direct");
    c->g = *g;
    c->threads = threads > 0 ? threads : 1;
    long per_tile = (long)A2 * (g->ic + g->oc) * (long)sizeof(float);
    long chunk = CHUNK_BYTES / per_tile;
    c->chunk = (int)(chunk < MIN_CHUNK ? MIN_CHUNK : chunk > MAX_CHUNK ? MAX_CHUNK : chunk);
    return CNN_STATUS_OK;
}

size_t cnn_wino_conv_weight_floats(const cnn_wino_conv *c)
{
    return (size_t)A2 * c->g.ic * c->g.oc;
}

/* Per thread: a chunk's V and M; for backward-weights also dU and db. */
static size_t chunk_floats(const cnn_wino_conv *c)
{
    return (size_t)A2 * ((size_t)c->chunk * (c->g.ic + c->g.oc) + 2 * PLANE_PAD);
}

static size_t grad_floats(const cnn_wino_conv *c)
{
    return (size_t)A2 * c->g.ic * c->g.oc + (size_t)c->g.oc;
}

size_t cnn_wino_conv_scratch_floats(const cnn_wino_conv *c, int training)
{
    return (size_t)c->threads * (chunk_floats(c) + (training ? grad_floats(c) : 0));
}

/* Columns a weight transform works on together (vectorised across them). */
#define WB 16

void cnn_wino_conv_weights(const cnn_wino_conv *c, const float *w, int flip, float *u)
{
    const int ic = c->g.ic, oc = c->g.oc;
    /* the matrices' rows are the pass's input channels */
    const int rows = flip ? oc : ic, cols = flip ? ic : oc;
    const size_t plane = (size_t)rows * cols;
    /* WB columns of one row at a time, so that each of the 36 planes gets
     * WB consecutive floats (one at a time, the scattered stores cost more
     * than the arithmetic) */
#pragma omp parallel for num_threads(c->threads) schedule(static)
    for (int row = 0; row < rows; row++)
        for (int col0 = 0; col0 < cols; col0 += WB) {
            const int n = cols - col0 < WB ? cols - col0 : WB;
            float g3[3][3][WB], t[A][3][WB], o[WB];
            for (int l = 0; l < n; l++) {
                const int k = flip ? row : col0 + l, ch = flip ? col0 + l : row;
                const float *src = w + ((size_t)k * ic + ch) * 9;
                for (int r = 0; r < 3; r++)
                    for (int q = 0; q < 3; q++)
                        g3[r][q][l] = flip ? src[(2 - r) * 3 + (2 - q)] : src[r * 3 + q];
            }
            for (int i = 0; i < A; i++)
                for (int q = 0; q < 3; q++)
                    for (int l = 0; l < WB; l++)
                        t[i][q][l] = G[i][0] * g3[0][q][l] + G[i][1] * g3[1][q][l] +
                                     G[i][2] * g3[2][q][l];
            for (int i = 0; i < A; i++)
                for (int j = 0; j < A; j++) {
                    for (int l = 0; l < WB; l++)
                        o[l] = t[i][0][l] * G[j][0] + t[i][1][l] * G[j][1] + t[i][2][l] * G[j][2];
                    memcpy(u + (size_t)(i * A + j) * plane + (size_t)row * cols + col0, o,
                           (size_t)n * sizeof(float));
                }
        }
}

/* Where tile t starts: image, first input row and column (may be negative). */
static void tile_origin(const pass *p, long t, int *img, int *y0, int *x0)
{
    int per_image = p->th * p->tw;
    *img = (int)(t / per_image);
    int r = (int)(t % per_image);
    *y0 = (r / p->tw) * M - p->ph;
    *x0 = (r % p->tw) * M - p->pw;
}

/* The three 1-D transforms, written out (the matrices above, their zeros
 * skipped: resnet18 trained 1.15x faster than with loops over the matrices),
 * each on n channels: element e of vector q is at in[q * is + e]; results go
 * to out[q * os + e]. */
static inline void bt_1d(const float *restrict in, size_t is, float *restrict out, size_t os,
                         int n)
{
#pragma omp simd
    for (int e = 0; e < n; e++) { /* B^T d */
        const float d0 = in[e], d1 = in[is + e], d2 = in[2 * is + e], d3 = in[3 * is + e],
                    d4 = in[4 * is + e], d5 = in[5 * is + e];
        out[e] = 4 * d0 - 5 * d2 + d4;
        out[os + e] = -4 * (d1 + d2) + d3 + d4;
        out[2 * os + e] = 4 * (d1 - d2) - d3 + d4;
        out[3 * os + e] = 2 * (d3 - d1) - d2 + d4;
        out[4 * os + e] = 2 * (d1 - d3) - d2 + d4;
        out[5 * os + e] = 4 * d1 - 5 * d3 + d5;
    }
}

static inline void at_1d(const float *restrict in, size_t is, float *restrict out, size_t os,
                         int n)
{
#pragma omp simd
    for (int e = 0; e < n; e++) { /* A^T m */
        const float m0 = in[e], m1 = in[is + e], m2 = in[2 * is + e], m3 = in[3 * is + e],
                    m4 = in[4 * is + e], m5 = in[5 * is + e];
        const float p12 = m1 + m2, d12 = m1 - m2, p34 = m3 + m4, d34 = m3 - m4;
        out[e] = m0 + p12 + p34;
        out[os + e] = d12 + 2 * d34;
        out[2 * os + e] = p12 + 4 * p34;
        out[3 * os + e] = d12 + 8 * d34 + m5;
    }
}

static inline void a_1d(const float *restrict in, size_t is, float *restrict out, size_t os,
                         int n)
{
#pragma omp simd
    for (int e = 0; e < n; e++) { /* A g: the transpose of A^T, 4 values to 6 */
        const float g0 = in[e], g1 = in[is + e], g2 = in[2 * is + e], g3 = in[3 * is + e];
        const float p02 = g0 + g2, p13 = g1 + g3, q02 = g0 + 4 * g2, q13 = 2 * g1 + 8 * g3;
        out[e] = g0;
        out[os + e] = p02 + p13;
        out[2 * os + e] = p02 - p13;
        out[3 * os + e] = q02 + q13;
        out[4 * os + e] = q02 - q13;
        out[5 * os + e] = g3;
    }
}

/* V's rows for tile t: v[xi * stride + c] = (B^T d B)[xi] for channel c. A
 * tile inside the map is read in place; one at an edge is gathered first,
 * with zeros for the padding. */
static void input_tile(const pass *p, const float *x, long t, float *v, size_t stride)
{
    int img, y0, x0;
    tile_origin(p, t, &img, &y0, &x0);
    const int inside = y0 >= 0 && x0 >= 0 && y0 + A <= p->ih && x0 + A <= p->iw;
    for (int c0 = 0; c0 < p->ic; c0 += CB) {
        const int cn = p->ic - c0 < CB ? p->ic - c0 : CB;
        float d[A][A][CB], t1[A][A][CB];
        const float *src;
        size_t row_stride, col_stride;
        if (inside) {
            src = x + (((size_t)img * p->ih + y0) * p->iw + x0) * p->ic + c0;
            row_stride = (size_t)p->iw * p->ic, col_stride = (size_t)p->ic;
        } else {
            for (int i = 0; i < A; i++)
                for (int j = 0; j < A; j++) {
                    int y = y0 + i, xx = x0 + j;
                    if (y >= 0 && y < p->ih && xx >= 0 && xx < p->iw)
                        memcpy(d[i][j],
                               x + (((size_t)img * p->ih + y) * p->iw + xx) * p->ic + c0,
                               (size_t)cn * sizeof(float));
                    else
                        memset(d[i][j], 0, (size_t)cn * sizeof(float));
                }
            src = &d[0][0][0];
            row_stride = A * CB, col_stride = CB;
        }
        for (int j = 0; j < A; j++) /* t1 = B^T d, column by column */
            bt_1d(src + j * col_stride, row_stride, &t1[0][j][0], A * CB, cn);
        for (int i = 0; i < A; i++) /* V = t1 B, row by row, into V's planes */
            bt_1d(&t1[i][0][0], CB, v + (size_t)i * A * stride + c0, stride, cn);
    }
}

/* Output tile t from M's rows (m[xi * stride + k]): Y = A^T M A, plus bias,
 * then ReLU; positions past the map's edge are not written. */
static void output_tile(const pass *p, const float *m, size_t stride, long t, const float *b,
                        int relu, float *y)
{
    int img, y0, x0;
    tile_origin(p, t, &img, &y0, &x0);
    y0 += p->ph, x0 += p->pw; /* output coordinates */
    for (int k0 = 0; k0 < p->oc; k0 += CB) {
        const int kn = p->oc - k0 < CB ? p->oc - k0 : CB;
        float t2[M][A][CB], yt[M][M][CB];
        for (int j = 0; j < A; j++) /* t2 = A^T M, column by column */
            at_1d(m + (size_t)j * stride + k0, A * stride, &t2[0][j][0], A * CB, kn);
        for (int r = 0; r < M; r++) /* Y = t2 A, row by row */
            at_1d(&t2[r][0][0], CB, &yt[r][0][0], CB, kn);
        for (int r = 0; r < M && y0 + r < p->oh; r++)
            for (int q = 0; q < M && x0 + q < p->ow; q++) {
                float *o = yt[r][q];
                if (b)
                    for (int k = 0; k < kn; k++)
                        o[k] += b[k0 + k];
                if (relu)
                    for (int k = 0; k < kn; k++)
                        o[k] = o[k] > 0 ? o[k] : 0.0f;
                memcpy(y + (((size_t)img * p->oh + y0 + r) * p->ow + x0 + q) * p->oc + k0, o,
                       (size_t)kn * sizeof(float));
            }
    }
}

/* dM's rows for tile t from dy: dM = A dY A^T, dY zero past the map's edge;
 * adds the tile's dy into db. */
static void grad_tile(const pass *p, const float *dy, long t, float *dm, size_t stride, float *db)
{
    int img, y0, x0;
    tile_origin(p, t, &img, &y0, &x0);
    y0 += p->ph, x0 += p->pw;
    for (int k0 = 0; k0 < p->oc; k0 += CB) {
        const int kn = p->oc - k0 < CB ? p->oc - k0 : CB;
        float d[M][M][CB], t3[A][M][CB];
        for (int r = 0; r < M; r++)
            for (int q = 0; q < M; q++) {
                if (y0 + r < p->oh && x0 + q < p->ow) {
                    const float *src =
                        dy + (((size_t)img * p->oh + y0 + r) * p->ow + x0 + q) * p->oc + k0;
                    memcpy(d[r][q], src, (size_t)kn * sizeof(float));
                    for (int k = 0; k < kn; k++)
                        db[k0 + k] += src[k];
                } else {
                    memset(d[r][q], 0, (size_t)kn * sizeof(float));
                }
            }
        for (int q = 0; q < M; q++) /* t3 = A dY, column by column */
            a_1d(&d[0][q][0], M * CB, &t3[0][q][0], M * CB, kn);
        for (int i = 0; i < A; i++) /* dM = t3 A^T, row by row, into dM's planes */
            a_1d(&t3[i][0][0], CB, dm + (size_t)i * A * stride + k0, stride, kn);
    }
}

static void sgemm(char ta, long m, long n, long k, const float *a, long lda, const float *b,
                  long ldb, float beta, float *c, long ldc)
{
    dnnl_status_t s = dnnl_sgemm(ta, 'N', m, n, k, 1.0f, a, lda, b, ldb, beta, c, ldc);
    CNN_ASSERT(s == dnnl_success);
}

/* The forward of pass p: x -> y through u. Inside the team each sgemm runs on
 * its thread alone (oneDNN runs nested calls sequentially). */
static void run(const cnn_wino_conv *c, const pass *p, const float *x, const float *u,
                const float *b, int relu, float *y, float *scratch)
{
    const long tiles = tiles_of(p), chunk = c->chunk;
    const long nchunks = (tiles + chunk - 1) / chunk;
    const size_t vs = (size_t)chunk * p->ic + PLANE_PAD, ms = (size_t)chunk * p->oc + PLANE_PAD;
#pragma omp parallel num_threads(c->threads)
    {
        float *v = scratch + (size_t)omp_get_thread_num() * chunk_floats(c);
        float *m = v + A2 * vs;
#pragma omp for schedule(static)
        for (long ch = 0; ch < nchunks; ch++) {
            const long t0 = ch * chunk, tn = tiles - t0 < chunk ? tiles - t0 : chunk;
            for (long i = 0; i < tn; i++)
                input_tile(p, x, t0 + i, v + (size_t)i * p->ic, vs);
            for (int xi = 0; xi < A2; xi++)
                sgemm('N', tn, p->oc, p->ic, v + xi * vs, p->ic,
                      u + (size_t)xi * p->ic * p->oc, p->oc, 0.0f, m + xi * ms, p->oc);
            for (long i = 0; i < tn; i++)
                output_tile(p, m + (size_t)i * p->oc, ms, t0 + i, b, relu, y);
        }
    }
}

void cnn_wino_conv_forward(const cnn_wino_conv *c, const float *x, const float *u,
                           const float *b, int relu, float *y, float *scratch)
{
    pass p = pass_of(&c->g, 0);
    run(c, &p, x, u, b, relu, y, scratch);
}

void cnn_wino_conv_backward_data(const cnn_wino_conv *c, const float *dy, const float *u,
                                 float *dx, float *scratch)
{
    pass p = pass_of(&c->g, 1);
    run(c, &p, dy, u, NULL, 0, dx, scratch);
}

void cnn_wino_conv_backward_weights(const cnn_wino_conv *c, const float *x, const float *dy,
                                    float *dw, float *db, float *scratch)
{
    const pass p = pass_of(&c->g, 0);
    const long tiles = tiles_of(&p), chunk = c->chunk;
    const long nchunks = (tiles + chunk - 1) / chunk;
    const int ic = p.ic, oc = p.oc, nt = c->threads;
    const size_t vs = (size_t)chunk * ic + PLANE_PAD, ms = (size_t)chunk * oc + PLANE_PAD;
    const size_t us = (size_t)ic * oc;
    float *grads = scratch + (size_t)nt * chunk_floats(c); /* per thread: dU, then db */
    const size_t gs = grad_floats(c);
#pragma omp parallel num_threads(nt)
    {
        const int tid = omp_get_thread_num();
        float *v = scratch + (size_t)tid * chunk_floats(c), *dm = v + A2 * vs;
        float *du = grads + (size_t)tid * gs, *dbt = du + A2 * us;
        memset(dbt, 0, (size_t)oc * sizeof(float));
        float beta = 0.0f; /* the first chunk's products overwrite dU: no pass to zero it */
#pragma omp for schedule(static)
        for (long ch = 0; ch < nchunks; ch++) {
            const long t0 = ch * chunk, tn = tiles - t0 < chunk ? tiles - t0 : chunk;
            for (long i = 0; i < tn; i++) {
                input_tile(&p, x, t0 + i, v + (size_t)i * ic, vs);
                grad_tile(&p, dy, t0 + i, dm + (size_t)i * oc, ms, dbt);
            }
            for (int xi = 0; xi < A2; xi++)
                sgemm('T', ic, oc, tn, v + xi * vs, ic, dm + xi * ms, oc, beta, du + xi * us, oc);
            beta = 1.0f;
        }
        if (beta == 0.0f) /* a thread that got no chunk adds zeros */
            memset(du, 0, A2 * us * sizeof(float));
        /* the implied barrier: every thread's sums are complete. dw = G^T dU G,
         * dU the threads' sum; the bias gradients summed likewise. */
        const int team = omp_get_num_threads();
#pragma omp for schedule(static)
        for (int k = 0; k < oc; k++)
            for (int q = 1; q < team; q++)
                grads[A2 * us + k] += grads[(size_t)q * gs + A2 * us + k];
#pragma omp for schedule(static)
        for (int chn = 0; chn < ic; chn++)
            for (int k = 0; k < oc; k++) {
                float s[A][A], t[3][A];
                for (int xi = 0; xi < A2; xi++) {
                    const float *e = grads + xi * us + (size_t)chn * oc + k;
                    float sum = e[0];
                    for (int q = 1; q < team; q++)
                        sum += e[(size_t)q * gs];
                    s[xi / A][xi % A] = sum;
                }
                for (int r = 0; r < 3; r++)
                    for (int j = 0; j < A; j++) {
                        float acc = 0;
                        for (int i = 0; i < A; i++)
                            acc += G[i][r] * s[i][j];
                        t[r][j] = acc;
                    }
                float *o = dw + ((size_t)k * ic + chn) * 9;
                for (int r = 0; r < 3; r++)
                    for (int q = 0; q < 3; q++) {
                        float acc = 0;
                        for (int j = 0; j < A; j++)
                            acc += t[r][j] * G[j][q];
                        o[r * 3 + q] = acc;
                    }
            }
    }
    if (db)
        memcpy(db, grads + A2 * us, (size_t)oc * sizeof(float));
}
