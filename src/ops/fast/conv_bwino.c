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
 * too). The weight gradient follows from the formula, which is exact: with
 * dM = A dY A^T per tile (dY its 2x2 output gradient, zero past the map),
 *
 *   dU[xi] (IC x OC) = sum over tiles of V[xi]^T dM[xi],   dw = G^T dU G
 *
 * a product whose sum runs over tiles, so V and dM interleave tiles t and t+1
 * value by value for VDPBF16PS (as conv_bww.c pairs rows), and each thread
 * sums into its own dU, one position at a time (256 KiB at 256 x 256
 * channels: the level-2 cache holds it while the chunk's pairs go by).
 *
 * Activations are NHWC. Channel counts are multiples of 8; the packed tiles
 * and weights hold them in 16s (cp, kp), zeros past the real ones, and only
 * the real ones are read and written. */
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

/* Channels as the packed tiles and weights hold them: a whole number of
 * 16-lane vectors, zeros past the real ones (24 channels take 32). */
static int pad16(int c) { return (c + 15) & ~15; }

/* One convolution as the kernel runs it: input map ih x iw x c, output map
 * oh x ow x k, padding pad on every side; tiles th x tw per image; cp and kp
 * the channel counts padded to 16s. */
typedef struct wgeom {
    int n, ih, iw, c, oh, ow, k, pad, th, tw, cp, kp;
} wgeom;

static wgeom wgeom_of(int n, int ih, int iw, int c, int oh, int ow, int k, int pad)
{
    return (wgeom){n, ih, iw, c, oh, ow, k, pad, (oh + 1) / 2, (ow + 1) / 2, pad16(c), pad16(k)};
}

static wgeom forward_of(const cnn_conv_geom *g)
{
    return wgeom_of(g->n, g->ih, g->iw, g->ic, g->oh, g->ow, g->oc, g->ph);
}

static wgeom backward_of(const cnn_conv_geom *g)
{
    return wgeom_of(g->n, g->oh, g->ow, g->oc, g->ih, g->iw, g->ic, 2 - g->ph);
}

/* Tiles a chunk: V (16 x cp bf16 a tile) and M (16 x KB floats a tile) near
 * CHUNK_BYTES, a multiple of the register tile's 6 rows. */
static int chunk_tiles(const wgeom *q)
{
    size_t t = CHUNK_BYTES / ((size_t)XI * (2 * q->cp + 4 * KB));
    t -= t % BF16_TILE_MR;
    return t < BF16_TILE_MR ? BF16_TILE_MR : t > 240 ? 240 : (int)t;
}

static size_t aligned(size_t bytes) { return (bytes + CNN_ALIGN - 1) & ~(size_t)(CNN_ALIGN - 1); }

/* A thread's scratch: V at offset 0, M at m_at; bytes in all. */
static size_t m_at(const wgeom *q) { return aligned((size_t)XI * chunk_tiles(q) * q->cp * 2); }
static size_t thread_bytes(const wgeom *q)
{
    return m_at(q) + aligned((size_t)XI * chunk_tiles(q) * KB * 4);
}

size_t cnn_bwino_weight_bytes(const cnn_conv_geom *g)
{
    return (size_t)XI * pad16(g->ic) * pad16(g->oc) * 2;
}

size_t cnn_bwino_scratch_bytes(const cnn_conv_geom *g, int threads, int training)
{
    wgeom f = forward_of(g), b = backward_of(g);
    size_t each = thread_bytes(&f);
    if (training && thread_bytes(&b) > each)
        each = thread_bytes(&b);
    return each * (size_t)(threads > 0 ? threads : 1);
}

/* Backward-weights: a thread's scratch, its dU copy (16 x IC x OC floats,
 * OC padded to 16s) at offset 0, then its db copy, V and D (byte offsets;
 * bytes: the whole); tiles a chunk, even. A chunk's V and D of one position
 * near BWW_SLICE, or half of one position's dU where that is larger: each
 * chunk reads and writes dU[xi] once per position, and at 512 x 512 channels
 * (1 MiB a position, resnet18's 4x4 layers) chunks of 64 tiles made that
 * traffic most of the weight gradient's time (12.2 -> 7.8 ms at batch 128,
 * with the first chunk overwriting dU instead of a zeroed copy). */
#define BWW_SLICE ((size_t)128 << 10)
typedef struct bww_layout {
    size_t db, v, d, bytes;
    int tiles;
} bww_layout;

static bww_layout bww_layout_of(const cnn_conv_geom *g)
{
    bww_layout l;
    const int icp = pad16(g->ic), ocp = pad16(g->oc);
    const size_t du = (size_t)icp * ocp * 4, slice = du > 2 * BWW_SLICE ? du / 2 : BWW_SLICE;
    size_t t = slice / ((size_t)(icp + ocp) * 2);
    l.tiles = (int)((t < 16 ? 16 : t > 512 ? 512 : t) & ~(size_t)1);
    l.db = aligned((size_t)XI * g->ic * ocp * 4);
    l.v = l.db + aligned((size_t)ocp * 4);
    l.d = l.v + aligned((size_t)XI * l.tiles * icp * 2);
    l.bytes = l.d + aligned((size_t)XI * l.tiles * ocp * 2);
    return l;
}

size_t cnn_bwino_bww_scratch_bytes(const cnn_conv_geom *g, int threads)
{
    return bww_layout_of(g).bytes * (size_t)(threads > 0 ? threads : 1);
}

void cnn_bwino_weights_ref(const cnn_conv_geom *g, const float *w, int flip, uint16_t *u)
{
    /* the convolution as run: c inputs, k outputs (cp, kp padded: zeros past them) */
    const int c = flip ? g->oc : g->ic, k = flip ? g->ic : g->oc, cp = pad16(c), kp = pad16(k);
    if (cp != c || kp != k)
        memset(u, 0, cnn_bwino_weight_bytes(g));
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
                    u[(((size_t)(y * 4 + x) * (cp / 2) + i / 2) * kp + o) * 2 + (i & 1)] =
                        cnn_bf16_from_float(uu[x]);
            }
        }
}

int cnn_bwino_auto_applies(const cnn_conv_geom *g)
{
    return cnn_bwino_applies(g) && g->ic % 16 == 0 && g->oc % 16 == 0;
}

#ifdef __AVX512BF16__

int cnn_bwino_applies(const cnn_conv_geom *g)
{
    return g->groups <= 1 && g->kh == 3 && g->kw == 3 && g->sh == 1 && g->sw == 1 &&
           g->ph == g->pw && g->ph >= 0 && g->ph <= 2 && g->ic % 8 == 0 && g->oc % 8 == 0;
}

/* Lane l's element offset l * stride, for gathers and scatters across 16
 * kernels stride floats apart. */
static inline __m512i lane_offsets(int stride)
{
    const __m512i l = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    return _mm512_mullo_epi32(l, _mm512_set1_epi32(stride));
}

/* u[xi] = (G f G^T)[xi] of 16 kernels at once, f[t] their taps in row-major
 * order: each lane the arithmetic of cnn_bwino_weights_ref, operation for
 * operation (so the same bits). */
static inline void weight_transform(const __m512 f[9], __m512 u[XI])
{
    const __m512 half = _mm512_set1_ps(0.5f);
    __m512 gw[4][3];
    for (int x = 0; x < 3; x++) { /* G w */
        gw[0][x] = f[x];
        gw[1][x] = _mm512_mul_ps(half, _mm512_add_ps(_mm512_add_ps(f[x], f[3 + x]), f[6 + x]));
        gw[2][x] = _mm512_mul_ps(half, _mm512_add_ps(_mm512_sub_ps(f[x], f[3 + x]), f[6 + x]));
        gw[3][x] = f[6 + x];
    }
    for (int y = 0; y < 4; y++) { /* (G w) G^T */
        u[y * 4 + 0] = gw[y][0];
        u[y * 4 + 1] =
            _mm512_mul_ps(half, _mm512_add_ps(_mm512_add_ps(gw[y][0], gw[y][1]), gw[y][2]));
        u[y * 4 + 2] =
            _mm512_mul_ps(half, _mm512_add_ps(_mm512_sub_ps(gw[y][0], gw[y][1]), gw[y][2]));
        u[y * 4 + 3] = gw[y][2];
    }
}

/* G^T applied to one column of four (a row of G^T dU, or a column turned
 * back into 3 taps): a0 + (a1 + a2)/2, (a1 - a2)/2, (a1 + a2)/2 + a3 for 16
 * kernels, the scalar loop's operations in its order. */
static inline void gt_column(__m512 a0, __m512 a1, __m512 a2, __m512 a3, __m512 half,
                             __m512 *o0, __m512 *o1, __m512 *o2)
{
    *o0 = _mm512_add_ps(a0, _mm512_mul_ps(half, _mm512_add_ps(a1, a2)));
    *o1 = _mm512_mul_ps(half, _mm512_sub_ps(a1, a2));
    *o2 = _mm512_add_ps(_mm512_mul_ps(half, _mm512_add_ps(a1, a2)), a3);
}

/* cnn_bwino_weights_ref's result, 16 outputs o by an input pair (i, i + 1)
 * at a time: the taps gathered across the 16 kernels, the pair's two
 * transforms rounded and interleaved into one 64-byte row of U per position.
 * The reference's stores land 2 bytes at a time 2 * kp bytes apart, which
 * cost resnet18's 4x4x512 layers more per step than their forward. */
void cnn_bwino_weights(const cnn_conv_geom *g, const float *w, int flip, uint16_t *u)
{
    const int c = flip ? g->oc : g->ic, k = flip ? g->ic : g->oc, cp = pad16(c), kp = pad16(k);
    if (cp != c || kp != k)
        memset(u, 0, cnn_bwino_weight_bytes(g));
    /* kernel (o, i) at w + o * so + i * si, its taps turned with flip */
    const size_t so = flip ? 9 : (size_t)g->ic * 9, si = flip ? (size_t)g->ic * 9 : 9;
    const __m512i lane = lane_offsets((int)so);
    const int blocks = (k + 15) / 16;
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < blocks; b++)
        for (int i = 0; i < c; i += 2) { /* c is even (in 8s) */
            const int o0 = 16 * b;
            const __mmask16 real = k - o0 >= 16 ? 0xffff : (__mmask16)((1u << (k - o0)) - 1);
            __m512i r[2][XI];
            for (int h = 0; h < 2; h++) {
                const float *base = w + (size_t)o0 * so + (size_t)(i + h) * si;
                __m512 f[9], t[XI];
                for (int tap = 0; tap < 9; tap++)
                    f[tap] = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), real, lane,
                                                      base + (flip ? 8 - tap : tap), 4);
                weight_transform(f, t);
                for (int xi = 0; xi < XI; xi++)
                    r[h][xi] = cnn_bf16_round16(t[xi]);
            }
            for (int xi = 0; xi < XI; xi++)
                _mm512_mask_storeu_epi32(
                    u + (((size_t)xi * (cp / 2) + i / 2) * kp + o0) * 2, real,
                    _mm512_or_si512(r[0][xi], _mm512_slli_epi32(r[1][xi], 16)));
        }
}

/* The tile's image and top-left output position. */
static void tile_at(const wgeom *q, size_t tile, size_t *n, int *oy, int *ox)
{
    *ox = 2 * (int)(tile % q->tw);
    *oy = 2 * (int)(tile / q->tw % q->th);
    *n = tile / ((size_t)q->tw * q->th);
}

/* The size x size window at (y0, x0) of image n of an h x w x ch NHWC map:
 * src[y * size + x] the channels of each position, NULL outside the map. */
static void window(const uint16_t *t, size_t n, int h, int w, int ch, int y0, int x0, int size,
                   const uint16_t **src)
{
    for (int y = 0; y < size; y++)
        for (int x = 0; x < size; x++) {
            int iy = y0 + y, ix = x0 + x;
            src[y * size + x] = iy >= 0 && iy < h && ix >= 0 && ix < w
                                    ? t + ((n * h + iy) * w + ix) * ch
                                    : NULL;
        }
}

/* The input tile of a tile: src[y][x] the channels of its 4x4 input
 * positions (NULL: padding). */
static void tile_sources(const wgeom *q, const uint16_t *in, size_t tile,
                         const uint16_t *src[4][4])
{
    size_t n;
    int oy, ox;
    tile_at(q, tile, &n, &oy, &ox);
    window(in, n, q->ih, q->iw, q->c, oy - q->pad, ox - q->pad, 4, &src[0][0]);
}

/* The first n of 16 channels at h as floats, zeros past them. */
static inline __m512 load_part(const uint16_t *h, int n)
{
    if (n >= 16)
        return cnn_bf16_load16(h);
    __m256i v = _mm256_maskz_loadu_epi16((__mmask16)((1u << n) - 1), h);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(v), 16));
}

/* v[xi] = (B^T d B)[xi] of channels c0 .. c0 + 15 (the first n of them real,
 * zeros past), rounded to bf16. */
static inline void input_transform(const uint16_t *const src[4][4], int c0, int n,
                                   __m256i v[XI])
{
    __m512 d[4][4], r[4][4];
    for (int y = 0; y < 4; y++)
        for (int x = 0; x < 4; x++)
            d[y][x] = src[y][x] ? load_part(src[y][x] + c0, n) : _mm512_setzero_ps();
    for (int x = 0; x < 4; x++) { /* B^T d */
        r[0][x] = _mm512_sub_ps(d[0][x], d[2][x]);
        r[1][x] = _mm512_add_ps(d[1][x], d[2][x]);
        r[2][x] = _mm512_sub_ps(d[2][x], d[1][x]);
        r[3][x] = _mm512_sub_ps(d[1][x], d[3][x]);
    }
    for (int y = 0; y < 4; y++) { /* (B^T d) B */
        const __m512 e[4] = {_mm512_sub_ps(r[y][0], r[y][2]), _mm512_add_ps(r[y][1], r[y][2]),
                             _mm512_sub_ps(r[y][2], r[y][1]), _mm512_sub_ps(r[y][1], r[y][3])};
        for (int x = 0; x < 4; x++)
            v[y * 4 + x] = (__m256i)_mm512_cvtneps_pbh(e[x]);
    }
}

/* V of tiles t0 .. t0 + nt - 1: V[xi][t][cp], chunk-relative t, `tiles` per xi. */
static void transform_in(const wgeom *q, const uint16_t *in, size_t t0, int nt, int tiles,
                         uint16_t *v)
{
    const size_t plane = (size_t)tiles * q->cp;
    for (int t = 0; t < nt; t++) {
        const uint16_t *src[4][4];
        tile_sources(q, in, t0 + t, src);
        uint16_t *to = v + (size_t)t * q->cp;
        for (int c0 = 0; c0 < q->c; c0 += 16) {
            __m256i e[XI];
            input_transform(src, c0, q->c - c0, e);
            for (int xi = 0; xi < XI; xi++)
                _mm256_storeu_si256((__m256i *)(void *)(to + xi * plane + c0), e[xi]);
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
            const int k = k0 + v * 16; /* (k < q->k: kp pads at most 8) */
            const __mmask16 real = q->k - k >= 16 ? 0xffff : (__mmask16)((1u << (q->k - k)) - 1);
            const __m512 b = bias ? _mm512_maskz_loadu_ps(real, bias + k) : _mm512_setzero_ps();
            for (int y = 0; y < rows; y++) {
                /* (A^T M) A */
                const __m512 yv[2] = {
                    _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(s[y][0], s[y][1]), s[y][2]), b),
                    _mm512_add_ps(_mm512_sub_ps(_mm512_sub_ps(s[y][1], s[y][2]), s[y][3]), b)};
                for (int x = 0; x < cols; x++) {
                    __m512 o = relu ? _mm512_max_ps(yv[x], _mm512_setzero_ps()) : yv[x];
                    size_t at = ((n * q->oh + oy + y) * q->ow + ox + x) * q->k + k;
                    if (out_bf16)
                        _mm256_mask_storeu_epi16((uint16_t *)out + at, real,
                                                 (__m256i)_mm512_cvtneps_pbh(o));
                    else
                        _mm512_mask_storeu_ps((float *)out + at, real, o);
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
    const size_t vplane = (size_t)tiles * q->cp, mplane = (size_t)tiles * KB;
    const size_t uplane = (size_t)q->cp / 2 * q->kp * 2;
    /* Each thread its share of the tiles (in register-tile rows), a chunk at
     * a time: whole chunks dealt out left resnet18's 4x4x512 layers (15
     * chunks) one thread 288 tiles and the other 224. */
    const size_t rows = (total + BF16_TILE_MR - 1) / BF16_TILE_MR;
#pragma omp parallel num_threads(threads > 0 ? threads : 1)
    {
        const int me = omp_get_thread_num(), team = omp_get_num_threads();
        char *mine = scratch + each * (size_t)me;
        uint16_t *v = (uint16_t *)(void *)mine;
        float *m = (float *)(void *)(mine + mo);
        size_t lo = rows * me / team * BF16_TILE_MR, hi = rows * (me + 1) / team * BF16_TILE_MR;
        hi = hi < total ? hi : total;
        for (size_t t0 = lo; t0 < hi; t0 += (size_t)tiles) {
            const int nt = hi - t0 < (size_t)tiles ? (int)(hi - t0) : tiles;
            transform_in(q, in, t0, nt, tiles, v);
            for (int k0 = 0; k0 < q->kp; k0 += KB) {
                const int nv = (q->kp - k0) / 16 < KB / 16 ? (q->kp - k0) / 16 : KB / 16;
                for (int xi = 0; xi < XI; xi++)
                    for (int i0 = 0; i0 < nt; i0 += BF16_TILE_MR)
                        cnn_bf16_tile(v + xi * vplane + (size_t)i0 * q->cp, (size_t)q->cp, 2,
                                      u + xi * uplane + 2 * (size_t)k0, 2 * (size_t)q->kp,
                                      q->cp / 2, m + xi * mplane + (size_t)i0 * KB, KB, 0,
                                      nt - i0 < BF16_TILE_MR ? nt - i0 : BF16_TILE_MR, nv);
                transform_out(q, m, t0, nt, tiles, k0, nv, bias, relu, out, out_bf16);
            }
        }
    }
}

/* Two tiles' 16 values each, interleaved value by value: a0 b0 a1 b1 ... */
static inline __m512i interleave(__m256i a, __m256i b)
{
    return _mm512_or_si512(_mm512_cvtepu16_epi32(a),
                           _mm512_slli_epi32(_mm512_cvtepu16_epi32(b), 16));
}

/* The output gradient of a tile: src[y][x] the channels of its 2x2 output
 * positions (NULL: past the map's edge). */
static void grad_sources(const wgeom *q, const uint16_t *dy, size_t tile,
                         const uint16_t *src[2][2])
{
    size_t n;
    int oy, ox;
    tile_at(q, tile, &n, &oy, &ox);
    window(dy, n, q->oh, q->ow, q->k, oy, ox, 2, &src[0][0]);
}

/* m[xi] = (A dY A^T)[xi] of channels k0 .. k0 + 15 (the first n of them
 * real, zeros past), rounded to bf16; the tile's dY added into db (16 floats). */
static inline void grad_transform(const uint16_t *const src[2][2], int k0, int n, __m256i m[XI],
                                  float *db)
{
    const __m512 zero = _mm512_setzero_ps();
    __m512 d[2][2], r[4][2], sum = zero;
    for (int y = 0; y < 2; y++)
        for (int x = 0; x < 2; x++) {
            d[y][x] = src[y][x] ? load_part(src[y][x] + k0, n) : zero;
            sum = _mm512_add_ps(sum, d[y][x]);
        }
    _mm512_storeu_ps(db, _mm512_add_ps(_mm512_loadu_ps(db), sum));
    for (int x = 0; x < 2; x++) { /* A dY */
        r[0][x] = d[0][x];
        r[1][x] = _mm512_add_ps(d[0][x], d[1][x]);
        r[2][x] = _mm512_sub_ps(d[0][x], d[1][x]);
        r[3][x] = _mm512_sub_ps(zero, d[1][x]);
    }
    for (int y = 0; y < 4; y++) { /* (A dY) A^T */
        const __m512 e[4] = {r[y][0], _mm512_add_ps(r[y][0], r[y][1]),
                             _mm512_sub_ps(r[y][0], r[y][1]), _mm512_sub_ps(zero, r[y][1])};
        for (int x = 0; x < 4; x++)
            m[y * 4 + x] = (__m256i)_mm512_cvtneps_pbh(e[x]);
    }
}

/* One thread's tiles [lo, hi) into its dU and db copies (overwritten): per
 * chunk, V of x and D of dy with tiles t and t+1 interleaved (V[xi][t/2][c][2],
 * D[xi][t/2][k][2], channels padded to 16s with zeros; an odd last tile pairs
 * with zeros), then per position xi dU[xi] (IC x OCp) += V[xi]^T D[xi], the
 * sum running over the tile pairs. */
static void bww_tiles(const cnn_conv_geom *g, const uint16_t *x, const uint16_t *dy, size_t lo,
                      size_t hi, char *mine)
{
    const wgeom q = forward_of(g);
    const bww_layout l = bww_layout_of(g);
    const int ic = g->ic, oc = g->oc, icp = pad16(ic), ocp = pad16(oc);
    float *du = (float *)(void *)mine, *db = (float *)(void *)(mine + l.db);
    uint16_t *v = (uint16_t *)(void *)(mine + l.v), *d = (uint16_t *)(void *)(mine + l.d);
    if (lo >= hi) /* otherwise the first chunk's sums overwrite it */
        memset(du, 0, (size_t)XI * ic * ocp * 4);
    memset(db, 0, (size_t)ocp * 4);
    for (size_t t0 = lo; t0 < hi; t0 += (size_t)l.tiles) {
        const int nt = hi - t0 < (size_t)l.tiles ? (int)(hi - t0) : l.tiles;
        const int pairs = (nt + 1) / 2;
        const size_t vplane = (size_t)pairs * icp * 2, dplane = (size_t)pairs * ocp * 2;
        for (int j = 0; j < pairs; j++) {
            const size_t ta = t0 + 2 * (size_t)j;
            const int has_b = 2 * j + 1 < nt;
            const uint16_t *xa[4][4], *xb[4][4], *ga[2][2], *gb[2][2];
            tile_sources(&q, x, ta, xa);
            grad_sources(&q, dy, ta, ga);
            if (has_b) {
                tile_sources(&q, x, ta + 1, xb);
                grad_sources(&q, dy, ta + 1, gb);
            }
            for (int c0 = 0; c0 < ic; c0 += 16) {
                __m256i ea[XI], eb[XI];
                input_transform(xa, c0, ic - c0, ea);
                if (has_b)
                    input_transform(xb, c0, ic - c0, eb);
                for (int xi = 0; xi < XI; xi++)
                    _mm512_storeu_si512(v + xi * vplane + ((size_t)j * icp + c0) * 2,
                                        interleave(ea[xi], has_b ? eb[xi]
                                                                 : _mm256_setzero_si256()));
            }
            for (int k0 = 0; k0 < oc; k0 += 16) {
                __m256i ma[XI], mb[XI];
                grad_transform(ga, k0, oc - k0, ma, db + k0);
                if (has_b)
                    grad_transform(gb, k0, oc - k0, mb, db + k0);
                for (int xi = 0; xi < XI; xi++)
                    _mm512_storeu_si512(d + xi * dplane + ((size_t)j * ocp + k0) * 2,
                                        interleave(ma[xi], has_b ? mb[xi]
                                                                 : _mm256_setzero_si256()));
            }
        }
        for (int xi = 0; xi < XI; xi++)
            for (int c0 = 0; c0 < ic; c0 += BF16_TILE_MR)
                for (int k0 = 0; k0 < ocp; k0 += 16 * BF16_TILE_NV) {
                    const int m = ic - c0 < BF16_TILE_MR ? ic - c0 : BF16_TILE_MR;
                    const int nv = (ocp - k0) / 16 < BF16_TILE_NV ? (ocp - k0) / 16 : BF16_TILE_NV;
                    cnn_bf16_tile(v + xi * vplane + 2 * (size_t)c0, 2, 2 * (size_t)icp,
                                  d + xi * dplane + 2 * (size_t)k0, 2 * (size_t)ocp, pairs,
                                  du + ((size_t)xi * ic + c0) * ocp + k0, (size_t)ocp,
                                  t0 > lo, m, nv);
                }
    }
}

void cnn_bwino_backward_weights(const cnn_conv_geom *g, const uint16_t *x, const uint16_t *dy,
                                float *dw, float *db, void *scratch, int threads)
{
    const bww_layout l = bww_layout_of(g);
    const size_t total = (size_t)g->n * ((g->oh + 1) / 2) * ((g->ow + 1) / 2), each = l.bytes;
    const int ic = g->ic, oc = g->oc, ocp = pad16(oc);
    char *base = scratch;
#pragma omp parallel num_threads(threads > 0 ? threads : 1)
    {
        const int nt = omp_get_num_threads(), t = omp_get_thread_num();
        const size_t per = ((total + 1) / 2 + (size_t)nt - 1) / (size_t)nt * 2; /* whole pairs */
        const size_t lo = per * (size_t)t < total ? per * (size_t)t : total;
        const size_t hi = lo + per < total ? lo + per : total;
        bww_tiles(g, x, dy, lo, hi, base + each * (size_t)t);
#pragma omp barrier
        /* dw = G^T dU G, dU summed over the threads' copies: 16 outputs k a
         * vector, each lane the arithmetic of one kernel as written for one */
        const __m512 half = _mm512_set1_ps(0.5f);
        const __m512i lane = lane_offsets(ic * 9);
#pragma omp for schedule(static)
        for (int c = 0; c < ic; c++)
            for (int k0 = 0; k0 < oc; k0 += 16) { /* (dU's rows are ocp long) */
                const __mmask16 real =
                    oc - k0 >= 16 ? 0xffff : (__mmask16)((1u << (oc - k0)) - 1);
                __m512 u[4][4], r[3][4], o[9];
                for (int xi = 0; xi < XI; xi++) {
                    __m512 sum = _mm512_setzero_ps();
                    const size_t at = (((size_t)xi * ic + c) * ocp + k0) * 4;
                    for (int h = 0; h < nt; h++)
                        sum = _mm512_add_ps(sum, _mm512_loadu_ps(base + each * (size_t)h + at));
                    u[xi / 4][xi % 4] = sum;
                }
                for (int j = 0; j < 4; j++) /* G^T dU */
                    gt_column(u[0][j], u[1][j], u[2][j], u[3][j], half, &r[0][j], &r[1][j],
                              &r[2][j]);
                for (int y = 0; y < 3; y++) /* (G^T dU) G */
                    gt_column(r[y][0], r[y][1], r[y][2], r[y][3], half, &o[y * 3],
                              &o[y * 3 + 1], &o[y * 3 + 2]);
                float *to = dw + ((size_t)k0 * ic + c) * 9; /* kernel k at to + (k - k0) ic 9 */
                for (int j = 0; j < 9; j++)
                    _mm512_mask_i32scatter_ps(to + j, real, lane, o[j], 4);
            }
        if (db) {
#pragma omp for schedule(static)
            for (int k = 0; k < oc; k++) {
                float sum = 0;
                for (int h = 0; h < nt; h++)
                    sum += ((const float *)(const void *)(base + each * (size_t)h + l.db))[k];
                db[k] = sum;
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

void cnn_bwino_weights(const cnn_conv_geom *g, const float *w, int flip, uint16_t *u)
{
    cnn_bwino_weights_ref(g, w, flip, u);
}

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

void cnn_bwino_backward_weights(const cnn_conv_geom *g, const uint16_t *x, const uint16_t *dy,
                                float *dw, float *db, void *scratch, int threads)
{
    (void)g, (void)x, (void)dy, (void)dw, (void)db, (void)scratch, (void)threads;
    CNN_ASSERT(0);
}

#endif
