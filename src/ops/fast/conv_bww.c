/* conv_bww.c: a convolution's weight gradient on bf16 x and dy.
 *
 * With the output positions (n, oy, ox) numbered r = 0 .. N*OH*OW-1,
 *   dw[oc, ic, ky, kx] = sum over r of dy[r, oc] * x[src(r, ky, kx), ic]
 *   src(r, ky, kx) = (n, oy*SH - PH + ky, ox*SW - PW + kx)  (0 outside x)
 *   db[oc]         = sum over r of dy[r, oc]
 * a matrix product per tap whose sum runs over r. AVX512_BF16's VDPBF16PS
 * multiplies 16 pairs of bf16 values and adds both products of each pair to
 * one float lane, so the pairs must lie along that sum: rows r and r+1 are
 * interleaved, value by value, into
 *   D[j][oc][2] = dy[2j, oc], dy[2j+1, oc]              (once per chunk)
 *   P[j][ic][2] = x[src(2j), ic], x[src(2j+1), ic]      (per tap and chunk)
 * and the kernel holds a tile of MR input channels by NV*16 output channels
 * of the tap's dw in registers: per pair j, NV loads of D, MR broadcasts of
 * one P pair each, MR*NV dot products.
 *
 * The rows are split evenly between the threads, each summing into its own
 * float copy of dw (laid out [ky][kx][ic][oc]) a chunk of rows at a time
 * (chunks sized to stay in the level-2 cache with the packed pairs); the
 * copies are added into the caller's (OC,IC,KH,KW) at the end. An odd row
 * count pairs its last row with zeros. The sums are fp32 as oneDNN's are,
 * in another order (tests compare with the reference loops).
 */
#include <omp.h>
#include <string.h>
#ifdef __AVX512BF16__
#include <immintrin.h>
#endif

#include "bf16_tile.h"
#include "conv_bww.h"
#include "core/core.h"

#define MR BF16_TILE_MR /* input channels in a register tile */
#define NV BF16_TILE_NV /* 16-lane vectors of output channels in a register tile */
#define CHUNK_BYTES ((size_t)256 << 10)

/* Rows per chunk: D's and P's bytes near CHUNK_BYTES, even. */
static size_t chunk_rows(const cnn_conv_geom *g)
{
    size_t rows = CHUNK_BYTES / ((size_t)(g->ic + g->oc) * 2);
    rows = rows < 64 ? 64 : rows > 4096 ? 4096 : rows;
    return rows & ~(size_t)1;
}

static size_t taps_floats(const cnn_conv_geom *g)
{
    return (size_t)g->kh * g->kw * g->ic * g->oc;
}

static size_t aligned(size_t bytes) { return (bytes + CNN_ALIGN - 1) & ~(size_t)(CNN_ALIGN - 1); }

/* A thread's scratch: its dw copy at offset 0, then its db copy, D and P,
 * each 64-byte aligned (byte offsets; bytes: the whole, where the next
 * thread's begins). */
typedef struct thread_layout {
    size_t db, d, p, bytes;
} thread_layout;

static thread_layout layout_of(const cnn_conv_geom *g)
{
    const size_t rows = chunk_rows(g);
    thread_layout l;
    l.db = aligned(taps_floats(g) * 4);
    l.d = l.db + aligned((size_t)g->oc * 4);
    l.p = l.d + aligned(rows * g->oc * 2);
    l.bytes = l.p + aligned(rows * g->ic * 2);
    return l;
}

size_t cnn_bww_scratch_bytes(const cnn_conv_geom *g, int threads)
{
    return layout_of(g).bytes * (size_t)(threads > 0 ? threads : 1);
}

#ifdef __AVX512BF16__

int cnn_bww_applies(const cnn_conv_geom *g) { return g->groups <= 1 && g->oc % 16 == 0; }

/* Two rows' 16 values each, interleaved: a0 b0 a1 b1 ... (a NULL row reads 0). */
static inline __m512i interleave16(const uint16_t *a, const uint16_t *b, __mmask16 k)
{
    __m256i va = a ? _mm256_maskz_loadu_epi16(k, a) : _mm256_setzero_si256();
    __m256i vb = b ? _mm256_maskz_loadu_epi16(k, b) : _mm256_setzero_si256();
    return _mm512_or_si512(_mm512_cvtepu16_epi32(va),
                           _mm512_slli_epi32(_mm512_cvtepu16_epi32(vb), 16));
}

/* D for rows r0 .. r0 + 2*pairs - 1 (those at or past end read 0); adds each
 * row into db when db is not NULL. */
static void pack_dy(const cnn_conv_geom *g, const uint16_t *dy, size_t end, size_t r0, int pairs,
                    uint16_t *d, float *db)
{
    const int oc = g->oc;
    for (int j = 0; j < pairs; j++) {
        size_t ra = r0 + 2 * (size_t)j;
        const uint16_t *a = ra < end ? dy + ra * oc : NULL;
        const uint16_t *b = ra + 1 < end ? dy + (ra + 1) * oc : NULL;
        uint16_t *to = d + (size_t)j * oc * 2;
        for (int c = 0; c < oc; c += 16) {
            __m512i w = interleave16(a ? a + c : NULL, b ? b + c : NULL, 0xffff);
            _mm512_storeu_si512(to + 2 * c, w);
            if (db) { /* the pair's two halves as floats: low half shifted up, high half masked */
                __m512 lo = _mm512_castsi512_ps(_mm512_slli_epi32(w, 16));
                __m512 hi = _mm512_castsi512_ps(
                    _mm512_and_si512(w, _mm512_set1_epi32((int)0xffff0000u)));
                _mm512_storeu_ps(db + c, _mm512_add_ps(_mm512_loadu_ps(db + c),
                                                       _mm512_add_ps(lo, hi)));
            }
        }
    }
}

/* P of tap (ky, kx) for rows r0 .. r0 + 2*pairs - 1. */
static void pack_x(const cnn_conv_geom *g, const uint16_t *x, size_t end, size_t r0, int pairs,
                   int ky, int kx, uint16_t *p)
{
    const int ic = g->ic;
    size_t r = r0;
    int ox = (int)(r % g->ow), oy = (int)(r / g->ow % g->oh);
    size_t n = r / ((size_t)g->ow * g->oh);
    for (int j = 0; j < pairs; j++) {
        const uint16_t *src[2];
        for (int h = 0; h < 2; h++, r++) {
            int iy = oy * g->sh - g->ph + ky, ix = ox * g->sw - g->pw + kx;
            src[h] = r < end && iy >= 0 && iy < g->ih && ix >= 0 && ix < g->iw
                         ? x + ((n * g->ih + iy) * g->iw + ix) * ic
                         : NULL;
            if (++ox == g->ow) {
                ox = 0;
                if (++oy == g->oh)
                    oy = 0, n++;
            }
        }
        uint16_t *to = p + (size_t)j * ic * 2;
        for (int c = 0; c < ic; c += 16) {
            __mmask16 k = ic - c >= 16 ? 0xffff : (__mmask16)((1u << (ic - c)) - 1);
            __m512i w = interleave16(src[0] ? src[0] + c : NULL, src[1] ? src[1] + c : NULL, k);
            _mm512_mask_storeu_epi32(to + 2 * c, k, w);
        }
    }
}

/* One thread's rows [lo, hi) into its dw copy (zeroed first) and db copy. */
static void rows_sum(const cnn_conv_geom *g, const uint16_t *x, const uint16_t *dy, size_t lo,
                     size_t hi, char *mine, int bias)
{
    const size_t rows = chunk_rows(g), taps = taps_floats(g);
    const thread_layout l = layout_of(g);
    float *dw = (float *)(void *)mine, *db = (float *)(void *)(mine + l.db);
    uint16_t *d = (uint16_t *)(void *)(mine + l.d), *p = (uint16_t *)(void *)(mine + l.p);
    memset(dw, 0, taps * 4);
    memset(db, 0, (size_t)g->oc * 4);
    for (size_t r0 = lo; r0 < hi; r0 += rows) {
        int pairs = (int)(((hi - r0 < rows ? hi - r0 : rows) + 1) / 2);
        pack_dy(g, dy, hi, r0, pairs, d, bias ? db : NULL);
        for (int ky = 0; ky < g->kh; ky++)
            for (int kx = 0; kx < g->kw; kx++) {
                pack_x(g, x, hi, r0, pairs, ky, kx, p);
                float *dwt = dw + ((size_t)ky * g->kw + kx) * g->ic * g->oc;
                for (int i0 = 0; i0 < g->ic; i0 += MR)
                    for (int o0 = 0; o0 < g->oc; o0 += 16 * NV) {
                        int m = g->ic - i0 < MR ? g->ic - i0 : MR;
                        int nv = (g->oc - o0) / 16 < NV ? (g->oc - o0) / 16 : NV;
                        cnn_bf16_tile(p + 2 * i0, 2, 2 * (size_t)g->ic, d + 2 * o0,
                                      2 * (size_t)g->oc, pairs, dwt + (size_t)i0 * g->oc + o0,
                                      (size_t)g->oc, 1, m, nv);
                    }
            }
    }
}

void cnn_bww_run(const cnn_conv_geom *g, const uint16_t *x, const uint16_t *dy, float *dw,
                 float *db, void *scratch, int threads)
{
    const thread_layout l = layout_of(g);
    const size_t total = (size_t)g->n * g->oh * g->ow, each = l.bytes;
    const int kk = g->kh * g->kw;
    char *base = scratch;
#pragma omp parallel num_threads(threads > 0 ? threads : 1)
    {
        int nt = omp_get_num_threads(), t = omp_get_thread_num();
        size_t per = ((total + 1) / 2 + (size_t)nt - 1) / (size_t)nt * 2; /* even: whole pairs */
        size_t lo = per * (size_t)t < total ? per * (size_t)t : total;
        size_t hi = lo + per < total ? lo + per : total;
        rows_sum(g, x, dy, lo, hi, base + each * (size_t)t, db != NULL);
#pragma omp barrier
#pragma omp for schedule(static)
        for (int o = 0; o < g->oc; o++) {
            for (int i = 0; i < g->ic; i++)
                for (int tap = 0; tap < kk; tap++) {
                    float s = 0;
                    for (int u = 0; u < nt; u++)
                        s += ((const float *)(base + each * (size_t)u))
                            [((size_t)tap * g->ic + i) * g->oc + o];
                    dw[((size_t)o * g->ic + i) * kk + tap] = s;
                }
            if (db) {
                float s = 0;
                for (int u = 0; u < nt; u++)
                    s += ((const float *)(void *)(base + each * (size_t)u + l.db))[o];
                db[o] = s;
            }
        }
    }
}

#else /* no AVX512_BF16 in this build: oneDNN's backward-weights serves */

int cnn_bww_applies(const cnn_conv_geom *g)
{
    (void)g;
    return 0;
}

void cnn_bww_run(const cnn_conv_geom *g, const uint16_t *x, const uint16_t *dy, float *dw,
                 float *db, void *scratch, int threads)
{
    (void)g, (void)x, (void)dy, (void)dw, (void)db, (void)scratch, (void)threads;
    CNN_ASSERT(0);
}

#endif
