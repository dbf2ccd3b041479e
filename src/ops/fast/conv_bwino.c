/* conv_bwino.c: 3x3 stride-1 convolutions on bf16 activations by Winograd's
 * minimal filtering F(2x2, 3x3) (Lavin and Gray 2015): a 2x2 tile of outputs
 * from a 4x4 tile of inputs d with 16 multiplications per channel pair
 * instead of 36. With the transforms
 *
 *   B^T = 1  0 -1  0     G = 1    0    0      A^T = 1  1  1  0
 *         0  1  1  0         1/2  1/2  1/2          0  1 -1 -1
 *         0 -1  1  0         1/2 -1/2  1/2
 *         0  1  0 -1         0    0    1
 *
 * one tile of one kernel w is Y = A^T [ (G w G^T) (.) (B^T d B) ] A, (.)
 * element-wise. Summed over input channels, each of the 16 element positions
 * xi is a matrix product: M[xi] (tiles x K) = V[xi] (tiles x C) U[xi] (C x K),
 * V the transformed input tiles, U the transformed weights. VDPBF16PS takes
 * its sums in pairs, so V holds each tile's channels in order (a pair is two
 * neighbours) and U interleaves pairs of input channels: U[xi][c/2][k][2].
 * Both are rounded to bf16 (the transforms of F(2x2, 3x3) only add, subtract
 * and halve, so a transformed value is a sum of at most 4 inputs or 9 weights
 * rounded once: about twice the rounding of the direct kernel's operands);
 * the products are summed in floats, M and Y stay floats.
 *
 * The tiles (image, tile row, tile column) are taken a chunk at a time by
 * each thread: the chunk's V is transformed once, then for each block of 64
 * output channels the 16 products go into M (chunk x 64 floats each, with V
 * near the level-2 cache) and the output transform writes Y, adding the bias
 * and applying ReLU on the way. The register tile is bf16_tile.h's: 6 tiles
 * by 64 output channels.
 *
 * Backward-data is the same computation on dy with each kernel turned by 180
 * degrees, its channel roles swapped, and padding 2 - p (a stride-1
 * convolution's identity; conv_wino.c and conv_dnnl.c's bwd_as_forward use it
 * too). Activations are NHWC. */
#include <omp.h>
#include <string.h>
#ifdef __AVX512BF16__
#include <immintrin.h>
#endif

#include "bf16.h"
#include "bf16_tile.h"
#include "conv_bwino.h"
#include "core/core.h"

#define XI 16            /* element positions of a 4x4 tile */
#define KB 64            /* output channels of one pass over a chunk: a register tile's width */
#define CHUNK_BYTES ((size_t)768 << 10) /* a thread's V and M */

/* One convolution as the kernel runs it: input map ih x iw x c, output map
 * oh x ow x k, padding pad on every side; tiles th x tw per image. */
typedef struct wgeom {
    int n, ih, iw, c, oh, ow, k, pad, th, tw;
} wgeom;

static wgeom wgeom_of(int n, int ih, int iw, int c, int oh, int ow, int k, int pad)
{
    return (wgeom){n, ih, iw, c, oh, ow, k, pad, (oh + 1) / 2, (ow + 1) / 2};
}

static wgeom forward_of(const cnn_conv_geom *g)
{
    return wgeom_of(g->n, g->ih, g->iw, g->ic, g->oh, g->ow, g->oc, g->ph);
}

static wgeom backward_of(const cnn_conv_geom *g)
{
    return wgeom_of(g->n, g->oh, g->ow, g->oc, g->ih, g->iw, g->ic, 2 - g->ph);
}

/* Tiles a chunk: V (16 x c bf16 a tile) and M (16 x KB floats a tile) near
 * CHUNK_BYTES, a multiple of the register tile's 6 rows. */
static int chunk_tiles(const wgeom *q)
{
    size_t t = CHUNK_BYTES / ((size_t)XI * (2 * q->c + 4 * KB));
    t -= t % BF16_TILE_MR;
    return t < BF16_TILE_MR ? BF16_TILE_MR : t > 240 ? 240 : (int)t;
}

static size_t aligned(size_t bytes) { return (bytes + CNN_ALIGN - 1) & ~(size_t)(CNN_ALIGN - 1); }

/* A thread's scratch: V at offset 0, M at m_at; bytes in all. */
static size_t m_at(const wgeom *q) { return aligned((size_t)XI * chunk_tiles(q) * q->c * 2); }
static size_t thread_bytes(const wgeom *q)
{
    return m_at(q) + aligned((size_t)XI * chunk_tiles(q) * KB * 4);
}

size_t cnn_bwino_weight_bytes(const cnn_conv_geom *g)
{
    return (size_t)XI * g->ic * g->oc * 2;
}

size_t cnn_bwino_scratch_bytes(const cnn_conv_geom *g, int threads, int training)
{
    wgeom f = forward_of(g), b = backward_of(g);
    size_t each = thread_bytes(&f);
    if (training && thread_bytes(&b) > each)
        each = thread_bytes(&b);
    return each * (size_t)(threads > 0 ? threads : 1);
}

void cnn_bwino_weights(const cnn_conv_geom *g, const float *w, int flip, uint16_t *u)
{
    /* the convolution as run: c inputs, k outputs */
    const int c = flip ? g->oc : g->ic, k = flip ? g->ic : g->oc;
#pragma omp parallel for schedule(static)
    for (int o = 0; o < k; o++)
        for (int i = 0; i < c; i++) {
            const float *src = w + ((size_t)(flip ? i : o) * g->ic + (flip ? o : i)) * 9;
            float f[3][3], gw[4][3];
            for (int y = 0; y < 3; y++)
                for (int x = 0; x < 3; x++)
                    f[y][x] = flip ? src[(2 - y) * 3 + 2 - x] : src[y * 3 + x];
            for (int x = 0; x < 3; x++) { /* G w */
                gw[0][x] = f[0][x];
                gw[1][x] = 0.5f * (f[0][x] + f[1][x] + f[2][x]);
                gw[2][x] = 0.5f * (f[0][x] - f[1][x] + f[2][x]);
                gw[3][x] = f[2][x];
            }
            for (int y = 0; y < 4; y++) { /* (G w) G^T */
                const float uu[4] = {gw[y][0], 0.5f * (gw[y][0] + gw[y][1] + gw[y][2]),
                                     0.5f * (gw[y][0] - gw[y][1] + gw[y][2]), gw[y][2]};
                for (int x = 0; x < 4; x++)
                    u[(((size_t)(y * 4 + x) * (c / 2) + i / 2) * k + o) * 2 + (i & 1)] =
                        cnn_bf16_from_float(uu[x]);
            }
        }
}

#ifdef __AVX512BF16__

int cnn_bwino_applies(const cnn_conv_geom *g)
{
    return g->groups <= 1 && g->kh == 3 && g->kw == 3 && g->sh == 1 && g->sw == 1 &&
           g->ph == g->pw && g->ph >= 0 && g->ph <= 2 && g->ic % 16 == 0 && g->oc % 16 == 0;
}

/* The tile's image and top-left output position. */
static void tile_at(const wgeom *q, size_t tile, size_t *n, int *oy, int *ox)
{
    *ox = 2 * (int)(tile % q->tw);
    *oy = 2 * (int)(tile / q->tw % q->th);
    *n = tile / ((size_t)q->tw * q->th);
}

/* V of tiles t0 .. t0 + nt - 1: V[xi][t][c], chunk-relative t, `tiles` per xi. */
static void transform_in(const wgeom *q, const uint16_t *in, size_t t0, int nt, int tiles,
                         uint16_t *v)
{
    const size_t plane = (size_t)tiles * q->c;
    for (int t = 0; t < nt; t++) {
        size_t n;
        int oy, ox;
        tile_at(q, t0 + t, &n, &oy, &ox);
        const uint16_t *src[4][4]; /* NULL: padding */
        for (int y = 0; y < 4; y++)
            for (int x = 0; x < 4; x++) {
                int iy = oy - q->pad + y, ix = ox - q->pad + x;
                src[y][x] = iy >= 0 && iy < q->ih && ix >= 0 && ix < q->iw
                                ? in + ((n * q->ih + iy) * q->iw + ix) * q->c
                                : NULL;
            }
        uint16_t *to = v + (size_t)t * q->c;
        for (int c0 = 0; c0 < q->c; c0 += 16) {
            __m512 d[4][4], r[4][4];
            for (int y = 0; y < 4; y++)
                for (int x = 0; x < 4; x++)
                    d[y][x] = src[y][x] ? cnn_bf16_load16(src[y][x] + c0) : _mm512_setzero_ps();
            for (int x = 0; x < 4; x++) { /* B^T d */
                r[0][x] = _mm512_sub_ps(d[0][x], d[2][x]);
                r[1][x] = _mm512_add_ps(d[1][x], d[2][x]);
                r[2][x] = _mm512_sub_ps(d[2][x], d[1][x]);
                r[3][x] = _mm512_sub_ps(d[1][x], d[3][x]);
            }
            for (int y = 0; y < 4; y++) { /* (B^T d) B */
                const __m512 e[4] = {_mm512_sub_ps(r[y][0], r[y][2]),
                                     _mm512_add_ps(r[y][1], r[y][2]),
                                     _mm512_sub_ps(r[y][2], r[y][1]),
                                     _mm512_sub_ps(r[y][1], r[y][3])};
                for (int x = 0; x < 4; x++)
                    _mm256_storeu_si256((__m256i *)(void *)(to + (y * 4 + x) * plane + c0),
                                        (__m256i)_mm512_cvtneps_pbh(e[x]));
            }
        }
    }
}

/* Y of tiles t0 .. t0 + nt - 1, output channels k0 .. k0 + nv*16 - 1, from
 * M[xi][t][KB]: written into out (floats, or bf16 with out_bf16) where the
 * tile lies within the map, with the bias added and ReLU applied. */
static void transform_out(const wgeom *q, const float *m, size_t t0, int nt, int tiles, int k0,
                          int nv, const float *bias, int relu, void *out, int out_bf16)
{
    const size_t plane = (size_t)tiles * KB;
    for (int t = 0; t < nt; t++) {
        size_t n;
        int oy, ox;
        tile_at(q, t0 + t, &n, &oy, &ox);
        const int rows = q->oh - oy < 2 ? 1 : 2, cols = q->ow - ox < 2 ? 1 : 2;
        for (int v = 0; v < nv; v++) {
            const float *from = m + (size_t)t * KB + v * 16;
            __m512 e[4][4], s[2][4];
            for (int xi = 0; xi < XI; xi++)
                e[xi / 4][xi % 4] = _mm512_loadu_ps(from + xi * plane);
            for (int x = 0; x < 4; x++) { /* A^T M */
                s[0][x] = _mm512_add_ps(_mm512_add_ps(e[0][x], e[1][x]), e[2][x]);
                s[1][x] = _mm512_sub_ps(_mm512_sub_ps(e[1][x], e[2][x]), e[3][x]);
            }
            const int k = k0 + v * 16;
            const __m512 b = bias ? _mm512_loadu_ps(bias + k) : _mm512_setzero_ps();
            for (int y = 0; y < rows; y++) {
                /* (A^T M) A */
                const __m512 yv[2] = {
                    _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(s[y][0], s[y][1]), s[y][2]), b),
                    _mm512_add_ps(_mm512_sub_ps(_mm512_sub_ps(s[y][1], s[y][2]), s[y][3]), b)};
                for (int x = 0; x < cols; x++) {
                    __m512 o = relu ? _mm512_max_ps(yv[x], _mm512_setzero_ps()) : yv[x];
                    size_t at = ((n * q->oh + oy + y) * q->ow + ox + x) * q->k + k;
                    if (out_bf16)
                        _mm256_storeu_si256((__m256i *)(void *)((uint16_t *)out + at),
                                            (__m256i)_mm512_cvtneps_pbh(o));
                    else
                        _mm512_storeu_ps((float *)out + at, o);
                }
            }
        }
    }
}

static void run(const wgeom *q, const uint16_t *in, const uint16_t *u, const float *bias,
                int relu, void *out, int out_bf16, char *scratch, int threads)
{
    const int tiles = chunk_tiles(q);
    const size_t total = (size_t)q->n * q->th * q->tw, each = thread_bytes(q), mo = m_at(q);
    const long chunks = (long)((total + (size_t)tiles - 1) / (size_t)tiles);
    const size_t vplane = (size_t)tiles * q->c, mplane = (size_t)tiles * KB;
    const size_t uplane = (size_t)q->c / 2 * q->k * 2;
#pragma omp parallel num_threads(threads > 0 ? threads : 1)
    {
        char *mine = scratch + each * (size_t)omp_get_thread_num();
        uint16_t *v = (uint16_t *)(void *)mine;
        float *m = (float *)(void *)(mine + mo);
#pragma omp for schedule(static)
        for (long ch = 0; ch < chunks; ch++) {
            const size_t t0 = (size_t)ch * tiles;
            const int nt = total - t0 < (size_t)tiles ? (int)(total - t0) : tiles;
            transform_in(q, in, t0, nt, tiles, v);
            for (int k0 = 0; k0 < q->k; k0 += KB) {
                const int nv = (q->k - k0) / 16 < KB / 16 ? (q->k - k0) / 16 : KB / 16;
                for (int xi = 0; xi < XI; xi++)
                    for (int i0 = 0; i0 < nt; i0 += BF16_TILE_MR)
                        cnn_bf16_tile(v + xi * vplane + (size_t)i0 * q->c, (size_t)q->c, 2,
                                      u + xi * uplane + 2 * (size_t)k0, 2 * (size_t)q->k,
                                      q->c / 2, m + xi * mplane + (size_t)i0 * KB, KB, 0,
                                      nt - i0 < BF16_TILE_MR ? nt - i0 : BF16_TILE_MR, nv);
                transform_out(q, m, t0, nt, tiles, k0, nv, bias, relu, out, out_bf16);
            }
        }
    }
}

void cnn_bwino_forward(const cnn_conv_geom *g, const uint16_t *x, const uint16_t *u,
                       const float *b, int relu, void *y, int y_bf16, void *scratch,
                       int threads)
{
    const wgeom q = forward_of(g);
    run(&q, x, u, b, relu, y, y_bf16, scratch, threads);
}

void cnn_bwino_backward_data(const cnn_conv_geom *g, const uint16_t *dy, const uint16_t *u,
                             float *dx, void *scratch, int threads)
{
    const wgeom q = backward_of(g);
    run(&q, dy, u, NULL, 0, dx, 0, scratch, threads);
}

#else /* no AVX512_BF16 in this build: the direct kernels serve */

int cnn_bwino_applies(const cnn_conv_geom *g)
{
    (void)g;
    return 0;
}

void cnn_bwino_forward(const cnn_conv_geom *g, const uint16_t *x, const uint16_t *u,
                       const float *b, int relu, void *y, int y_bf16, void *scratch,
                       int threads)
{
    (void)g, (void)x, (void)u, (void)b, (void)relu, (void)y, (void)y_bf16, (void)scratch;
    (void)threads;
    CNN_ASSERT(0);
}

void cnn_bwino_backward_data(const cnn_conv_geom *g, const uint16_t *dy, const uint16_t *u,
                             float *dx, void *scratch, int threads)
{
    (void)g, (void)dy, (void)u, (void)dx, (void)scratch, (void)threads;
    CNN_ASSERT(0);
}

#endif
