/* augment.c: training-time augmentation (random crop or reflect-padded
 * translation, horizontal or alternating flip, cutout) and Gaussian input
 * noise, fused into batch assembly; and the fixed evaluation views of
 * test-time augmentation.
 *
 * Per image, in order (the semantics of torchvision's RandomCrop(32,
 * padding=p) and RandomHorizontalFlip, airbench's translate and alternating
 * flip, then Cutout and noise; see data.h):
 *   geometry, in pixel space:  g[c, h, w] = src[c, P(h + dy), P(w' + dx)]
 *       with w' = flip ? W - 1 - w : w, and P the border rule: black (0)
 *       outside the image for crop, reflection (-j, 2 (W - 1) - j) for
 *       translate and views; one byte image in a per-image buffer (on the
 *       stack for images up to 4 KB, as CIFAR's 3 KB). altflip's mirror before the crop
 *       becomes this form by reflect/zero padding commuting with mirroring:
 *       mirror, shift by dx, mirror m times = shift by -dx, mirror m + 1 times;
 *   normalise:  x[h, w, c] = g[c, h, w] * scale[c] + offset[c], the same
 *       arithmetic as batch.c, so padded pixels come out as -mean/std exactly
 *       as torchvision's black padding does;
 *   cutout:     x[h, w, :] = 0 on one clipped square;
 *   noise:      x += sigma * z, z standard normal.
 *
 * Invariant: image i's output depends only on (seed, batch_id, epoch, i,
 * idx[i], its pixels, norm, a): it draws from its own stream
 * CNN_STREAM_AUGMENT, sub batch_id * 65536 + i, in a fixed order (crop or
 * translate word, flip word, cutout word, then the noise generator's seeds),
 * and altflip's choice from sub 2^63 + idx[i], whatever the thread count. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cnnlab/data.h"
#include "core/core.h"
#include "dataset/pixels.h"

#define MAX_BATCH 65536     /* images per batch that keep the streams apart */
#define STACK_WORDS 4096    /* scratch per image kept on the stack: 32 KB (CIFAR: 24 KB) */

void cnn_augment_defaults(cnn_augment *a)
{
    memset(a, 0, sizeof *a);
    a->crop_padding = 4;
    a->translate_padding = 2;
    a->cutout_size = 8;
}

int cnn_augment_active(const cnn_augment *a)
{
    return a->crop || a->translate || a->flip || a->altflip || a->cutout ||
           a->input_noise > 0.0f;
}

cnn_status cnn_augment_parse(const char *list, cnn_augment *a, cnn_error *err)
{
    static const char allowed[] =
        "expected none or a comma-separated list of crop, translate, flip, altflip, cutout";
    cnn_augment t = *a;
    t.crop = t.translate = t.flip = t.altflip = t.cutout = 0;
    if (!list)
        list = "";
    if (strcmp(list, "none") == 0) {
        *a = t;
        return CNN_STATUS_OK;
    }
    for (const char *p = list;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == 4 && strncmp(p, "crop", 4) == 0)
            t.crop = 1;
        else if (len == 9 && strncmp(p, "translate", 9) == 0)
            t.translate = 1;
        else if (len == 4 && strncmp(p, "flip", 4) == 0)
            t.flip = 1;
        else if (len == 7 && strncmp(p, "altflip", 7) == 0)
            t.altflip = 1;
        else if (len == 6 && strncmp(p, "cutout", 6) == 0)
            t.cutout = 1;
        else if (len == 0)
            return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                                 "--augment: empty item in '%s'; %s", list, allowed);
        else if (len == 4 && strncmp(p, "none", 4) == 0)
            return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                                 "--augment: 'none' must stand alone, found '%s'", list);
        else
            return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                                 "--augment: unknown item '%.*s' in '%s'; %s", (int)len, p, list,
                                 allowed);
        if (!comma)
            break;
        p = comma + 1;
    }
    if (t.crop && t.translate)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                             "--augment: crop and translate exclude each other (both cut the "
                             "window), found '%s'", list);
    if (t.flip && t.altflip)
        return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT,
                             "--augment: flip and altflip exclude each other, found '%s'", list);
    *a = t;
    return CNN_STATUS_OK;
}

/* ---- geometry (pixel space) ---- */

/* dst (C, H, W) = src (C, H, W) cut at offset (dy, dx) from the padded
 * image, then mirrored if flip: dst[c, h, w] = src[c, P(h + dy), P(w' + dx)]
 * with w' = flip ? W - 1 - w : w. Zero padding (reflect 0): P(j) = j inside
 * the image, black outside, |dy| <= H, |dx| <= W. Reflect padding (reflect 1):
 * P(j) = -j for j < 0, 2 (W - 1) - j for j > W - 1 (torch's 'reflect'; rows
 * alike with H), |dy| <= H - 1, |dx| <= W - 1.
 *
 * First every source row (reversed if flip) is laid out with a W-byte margin
 * on each side, black or holding the reflected row, so that the horizontal
 * shift is then one fixed-size W-byte copy at an offset; mirroring after the
 * crop reads column W - 1 - w + dx = rev[w - dx], with rev the reversed row
 * (both paddings commute with mirroring). The two passes are separate so that
 * no load reads a just-stored row at a different offset (that defeats store
 * forwarding and costs more than the copy). lines is scratch of 3 C H W
 * bytes. */
static inline int reflect(int j, int n) { return j < 0 ? -j : j > n - 1 ? 2 * (n - 1) - j : j; }

static inline __attribute__((always_inline)) void
geometry_inline(const uint8_t *restrict src, uint8_t *restrict dst, int C, int H, int W, int dy,
                int dx, int flip, int reflect_pad, uint8_t *restrict lines)
{
    const size_t pitch = 3 * (size_t)W; /* row pitch in the margin buffer: margin, row, margin */
    /* lines[pitch * r + W + j] = row r (of C H) at column j, j in [-W, 2W):
     * the row for j in [0, W), the margins black or reflected elsewhere */
    for (int r = 0; r < C * H; r++) {
        const uint8_t *row = src + (size_t)r * (size_t)W;
        uint8_t *line = lines + pitch * (size_t)r + W;
        if (flip)
            for (int w = 0; w < W; w++)
                line[w] = row[W - 1 - w];
        else
            memcpy(line, row, (size_t)W);
        if (reflect_pad) {
            line[-W] = line[2 * W - 1] = 0; /* j = -W and 2W - 1: never read */
            for (int j = 1; j < W; j++) {
                line[-j] = line[j];
                line[W - 1 + j] = line[W - 1 - j];
            }
        } else {
            memset(line - W, 0, (size_t)W);
            memset(line + W, 0, (size_t)W);
        }
    }
    const int shift = flip ? -dx : dx; /* within the margins */
    for (int c = 0; c < C; c++)
        for (int h = 0; h < H; h++) {
            uint8_t *out = dst + ((size_t)c * (size_t)H + (size_t)h) * (size_t)W;
            int sh = h + dy;
            if (reflect_pad)
                sh = reflect(sh, H);
            if (sh < 0 || sh >= H)
                memset(out, 0, (size_t)W);
            else
                memcpy(out, lines + pitch * (size_t)(c * H + sh) + W + shift, (size_t)W);
        }
}

/* geometry_inline, with CIFAR's shape made a constant where it is that shape
 * (the copies and the mirror loop then have fixed sizes: as fast as before
 * the shape became a variable). */
static void geometry(const uint8_t *restrict src, uint8_t *restrict dst, int C, int H, int W,
                     int dy, int dx, int flip, int reflect_pad, uint8_t *restrict lines)
{
    if (C == CNN_CIFAR_CHANNELS && H == CNN_CIFAR_SIDE && W == CNN_CIFAR_SIDE)
        geometry_inline(src, dst, CNN_CIFAR_CHANNELS, CNN_CIFAR_SIDE, CNN_CIFAR_SIDE, dy, dx,
                        flip, reflect_pad, lines);
    else
        geometry_inline(src, dst, C, H, W, dy, dx, flip, reflect_pad, lines);
}

/* Zeroes rows and columns [c - size/2, c - size/2 + size) clipped to the image. */
static void cutout(float *x, int C, int H, int W, int cy, int cx, int size)
{
    int y0 = cy - size / 2, x0 = cx - size / 2;
    int y1 = y0 + size, x1 = x0 + size;
    y0 = y0 < 0 ? 0 : y0;
    x0 = x0 < 0 ? 0 : x0;
    y1 = y1 > H ? H : y1;
    x1 = x1 > W ? W : x1;
    if (x1 <= x0)
        return;
    for (int h = y0; h < y1; h++)
        memset(x + ((size_t)h * (size_t)W + (size_t)x0) * (size_t)C, 0,
               (size_t)(x1 - x0) * (size_t)C * sizeof(float));
}

/* ---- Gaussian noise ----
 * LANES independent xoshiro256** generators stepped together (the loop over
 * lanes vectorises), each seeded by splitmix64 from one word of the image's
 * stream. Each 64-bit output gives one Box-Muller pair: the high 23 bits make
 * u in (0, 1), the low 26 bits the angle (2 bits of quadrant, 24 within it).
 * An image of n values takes ceil(n / 2) pairs, drawn in whole steps of the
 * lanes (CIFAR's 3072 values: 1536 pairs, 96 steps). */
#define LANES 16

typedef struct lanes {
    uint64_t s[4][LANES];
} lanes;

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* splitmix64's output is a bijection of its counter, so four consecutive
 * outputs are never all zero: every lane's state is valid. */
static void lanes_init(lanes *g, cnn_rng *r)
{
    for (int l = 0; l < LANES; l++) {
        uint64_t x = cnn_rng_next(r);
        for (int k = 0; k < 4; k++)
            g->s[k][l] = splitmix64(&x);
    }
}

static inline uint64_t rotl(uint64_t v, int k) { return (v << k) | (v >> (64 - k)); }

/* out[0..pairs) = pairs / LANES xoshiro256** steps of every lane (lane l of
 * step j at out[j + l]); pairs is a multiple of LANES. The state lives in
 * local arrays for the whole image so that it stays in vector registers. */
static void lanes_fill(lanes *restrict g, uint64_t *restrict out, size_t pairs)
{
    uint64_t s0[LANES], s1[LANES], s2[LANES], s3[LANES];
    memcpy(s0, g->s[0], sizeof s0);
    memcpy(s1, g->s[1], sizeof s1);
    memcpy(s2, g->s[2], sizeof s2);
    memcpy(s3, g->s[3], sizeof s3);
    for (size_t j = 0; j < pairs; j += LANES)
        for (int l = 0; l < LANES; l++) {
            out[j + l] = rotl(s1[l] * 5, 7) * 9;
            uint64_t t = s1[l] << 17;
            s2[l] ^= s0[l];
            s3[l] ^= s1[l];
            s1[l] ^= s2[l];
            s0[l] ^= s3[l];
            s2[l] ^= t;
            s3[l] = rotl(s3[l], 45);
        }
    memcpy(g->s[0], s0, sizeof s0);
    memcpy(g->s[1], s1, sizeof s1);
    memcpy(g->s[2], s2, sizeof s2);
    memcpy(g->s[3], s3, sizeof s3);
}

/* ln u for normal positive u: u = m 2^e with m in [sqrt(1/2), sqrt(2)), then
 * ln m = 2 atanh(t), t = (m - 1) / (m + 1), |t| < 0.172, series to t^9
 * (truncation error < 1e-9). Selections are done on the bits so that the
 * loop vectorises on any x86-64 (no blends needed). */
static inline float log_pos(float u)
{
    uint32_t b = cnn_float_bits(u);
    uint32_t frac = b & 0x7fffffu;
    uint32_t big = frac > 0x3504f3u; /* 1.frac > sqrt(2): halve m */
    int e = (int)(b >> 23) - 127 + (int)big;
    float m = cnn_bits_float(frac | (0x3f800000u - (big << 23)));
    float t = (m - 1.0f) / (m + 1.0f), t2 = t * t;
    float p = 1.0f + t2 * (1.0f / 3 + t2 * (1.0f / 5 + t2 * (1.0f / 7 + t2 * (1.0f / 9))));
    return (float)e * 0.693147181f + 2.0f * t * p;
}

/* sqrt(v) for v >= 0 as v / sqrt(v): the classic bit-level first guess of
 * 1/sqrt(v) (relative error < 3.5 %) and three Newton steps (< 1e-7), plain
 * arithmetic so that the loop vectorises (sqrtf may set errno, which keeps
 * GCC from vectorising it without -fno-math-errno). v = 0 gives 0. */
static inline float sqrt_newton(float v)
{
    float y = cnn_bits_float(0x5f3759dfu - (cnn_float_bits(v) >> 1));
    for (int k = 0; k < 3; k++)
        y = y * (1.5f - 0.5f * v * y * y);
    return v * y;
}

/* The normals of pair j: r cos and r sin of its angle, from one 64-bit draw. */
static inline void box_muller(uint64_t word, float *a, float *b)
{
    uint32_t hi = (uint32_t)(word >> 32), lo = (uint32_t)word;
    /* radius: u = (k + 1/2) 2^-23 in (0, 1), exact in float; r <= 5.77 */
    float u = ((float)(int32_t)(hi >> 9) + 0.5f) * 0x1p-23f;
    uint32_t lb = cnn_float_bits(-2.0f * log_pos(u));
    lb &= ~(uint32_t)((int32_t)lb >> 31); /* a rounding below 0 becomes 0 */
    float r = sqrt_newton(cnn_bits_float(lb));
    /* angle: phi in [-pi/4, pi/4) from 24 bits, plus quadrant q * pi/2 */
    float phi = ((float)(int32_t)((lo >> 2) & 0xffffffu) * 0x1p-24f - 0.5f) * 1.57079633f;
    uint32_t q = lo >> 30;
    float p2 = phi * phi;
    float cs = 1.0f + p2 * (-1.0f / 2 + p2 * (1.0f / 24 + p2 * (-1.0f / 720 + p2 * (1.0f / 40320))));
    float sn = phi * (1.0f + p2 * (-1.0f / 6 + p2 * (1.0f / 120 + p2 * (-1.0f / 5040 + p2 * (1.0f / 362880)))));
    /* rotate (cos, sin) by q quarter turns: (c,s) (-s,c) (-c,-s) (s,-c),
     * as a swap under a mask and sign-bit flips */
    uint32_t cb = cnn_float_bits(cs), sb = cnn_float_bits(sn), swap = 0u - (q & 1);
    uint32_t ab = (cb & ~swap) | (sb & swap), bb = (sb & ~swap) | (cb & swap);
    ab ^= ((q + 1) >> 1 & 1) << 31;
    bb ^= (q >> 1) << 31;
    *a = r * cnn_bits_float(ab);
    *b = r * cnn_bits_float(bb);
}

/* x[0..n) += sigma * z, z standard normal: one Box-Muller pair per 64-bit
 * draw, pair j's two normals going to x[j] and x[n/2 + j] (j < n/2; an odd n's
 * last value takes the first normal of pair n/2); one vectorised loop over
 * the image's pairs. words is scratch for the pairs rounded up to LANES. */
static inline __attribute__((always_inline)) void
add_noise_inline(float *restrict x, size_t n, float sigma, cnn_rng *rng, uint64_t *restrict words)
{
    const size_t half = n / 2, pairs = (n + 1) / 2;
    lanes g;
    lanes_init(&g, rng);
    lanes_fill(&g, words, (pairs + LANES - 1) / LANES * LANES);
    float *restrict x0 = x, *restrict x1 = x + half;
    for (size_t j = 0; j < half; j++) {
        float a, b;
        box_muller(words[j], &a, &b);
        x0[j] += sigma * a;
        x1[j] += sigma * b;
    }
    if (n & 1) {
        float a, b;
        box_muller(words[half], &a, &b);
        x[n - 1] += sigma * a;
    }
}

/* add_noise_inline, CIFAR's 3072 values a constant (see geometry). */
static void add_noise(float *restrict x, size_t n, float sigma, cnn_rng *rng,
                      uint64_t *restrict words)
{
    if (n == CNN_CIFAR_PIXELS)
        add_noise_inline(x, CNN_CIFAR_PIXELS, sigma, rng, words);
    else
        add_noise_inline(x, n, sigma, rng, words);
}

/* ---- the batch ---- */

/* A 32-bit draw mapped onto [0, n) by multiply-and-shift (bias below 2^-32). */
static int draw_below(uint32_t bits, uint32_t n) { return (int)(((uint64_t)bits * n) >> 32); }

/* altflip's fixed choice for dataset image img: 1 = mirrored before the crop. */
static int altflip_premirror(uint64_t seed, int img)
{
    cnn_rng r;
    cnn_rng_init(&r, seed, CNN_STREAM_AUGMENT, (UINT64_C(1) << 63) + (uint64_t)img);
    return (int)(cnn_rng_next(&r) >> 63);
}

/* Scratch for one image: the cut image (bytes), the margin lines (3 bytes)
 * and the noise's words; on the stack when it fits (CIFAR: 24 KB). */
typedef struct scratch {
    uint64_t stack[STACK_WORDS];
    uint8_t *image, *lines;
    uint64_t *words;
    void *heap;
} scratch;

static void scratch_init(scratch *s, size_t bytes)
{
    size_t words = ((bytes + 1) / 2 + LANES - 1) / LANES * LANES;
    size_t need8 = (4 * bytes + 7) / 8 + words;
    uint64_t *base = s->stack;
    s->heap = NULL;
    if (need8 > STACK_WORDS) {
        s->heap = malloc(need8 * 8);
        CNN_ASSERT(s->heap); /* an image's worth of scratch */
        base = s->heap;
    }
    s->words = base;
    s->image = (uint8_t *)(base + words);
    s->lines = s->image + bytes;
}

void cnn_batch_fill_augmented(const cnn_dataset *d, const int *idx, int count,
                              const cnn_norm *norm, const cnn_augment *a, uint64_t seed,
                              uint64_t batch_id, int epoch, float *x, uint8_t *labels)
{
    cnn_batch_fill_augmented_rows(d, idx, 0, count, norm, a, seed, batch_id, epoch, x, labels);
}

void cnn_batch_fill_augmented_rows(const cnn_dataset *d, const int *idx, int first, int count,
                                   const cnn_norm *norm, const cnn_augment *a, uint64_t seed,
                                   uint64_t batch_id, int epoch, float *x, uint8_t *labels)
{
    CNN_ASSERT(first >= 0 && count >= 0 && first + count <= MAX_BATCH);
    if (!cnn_augment_active(a)) {
        if (idx) {
            cnn_batch_fill(d, idx + first, count, norm, x, labels);
        } else {
            int *rows = malloc(sizeof *rows * (size_t)(count > 0 ? count : 1));
            CNN_ASSERT(rows); /* a batch's worth of indices */
            for (int i = 0; i < count; i++)
                rows[i] = first + i;
            cnn_batch_fill(d, rows, count, norm, x, labels);
            free(rows);
        }
        return;
    }
    const int C = d->c, H = d->h, W = d->w;
    const size_t bytes = cnn_dataset_image_bytes(d), plane = (size_t)H * (size_t)W;
    CNN_ASSERT(count >= 0 && count <= MAX_BATCH && epoch >= 0);
    CNN_ASSERT(a->crop_padding >= 0 && a->crop_padding <= H && a->crop_padding <= W &&
               a->cutout_size >= 0);
    CNN_ASSERT(a->translate_padding >= 0 && a->translate_padding < H && a->translate_padding < W);
    CNN_ASSERT(!(a->crop && a->translate) && !(a->flip && a->altflip));
    CNN_ASSERT(isfinite(a->input_noise) && a->input_noise >= 0.0f);
    float scale[CNN_DATA_MAX_CHANNELS], offset[CNN_DATA_MAX_CHANNELS];
    cnn_norm_coefficients(norm, scale, offset);
    const int pad = a->crop ? a->crop_padding : a->translate ? a->translate_padding : 0;
    const int geom = a->crop || a->translate || a->flip || a->altflip;
    const int odd_epoch = epoch & 1;
#pragma omp parallel for if (count >= 16) schedule(static)
    for (int i = 0; i < count; i++) {
        const int row = first + i; /* the row of the whole batch: its draws */
        int img = idx ? idx[row] : row;
        CNN_ASSERT(img >= 0 && img < d->count);
        const uint8_t *src = d->pixels + (size_t)img * bytes;
        float *dst = x + (size_t)i * bytes;
        scratch sc;
        scratch_init(&sc, bytes);
        cnn_rng r;
        cnn_rng_init(&r, seed, CNN_STREAM_AUGMENT, batch_id * MAX_BATCH + (uint64_t)row);
        uint64_t w_crop = cnn_rng_next(&r), w_flip = cnn_rng_next(&r), w_cut = cnn_rng_next(&r);
        if (geom) {
            int dy = 0, dx = 0, mirror = a->flip && (w_flip >> 63);
            if (a->crop || a->translate) {
                dy = draw_below((uint32_t)w_crop, (uint32_t)(2 * pad + 1)) - pad;
                dx = draw_below((uint32_t)(w_crop >> 32), (uint32_t)(2 * pad + 1)) - pad;
            }
            if (a->altflip) { /* mirror, shift by dx, mirror if odd = shift by -dx, mirror if even */
                int pre = altflip_premirror(seed, img);
                dx = pre ? -dx : dx;
                mirror = pre ^ odd_epoch;
            }
            geometry(src, sc.image, C, H, W, dy, dx, mirror, a->translate, sc.lines);
            cnn_image_normalise(sc.image, dst, C, plane, scale, offset);
        } else {
            cnn_image_normalise(src, dst, C, plane, scale, offset);
        }
        if (a->cutout)
            cutout(dst, C, H, W, draw_below((uint32_t)w_cut, (uint32_t)H),
                   draw_below((uint32_t)(w_cut >> 32), (uint32_t)W), a->cutout_size);
        if (a->input_noise > 0.0f)
            add_noise(dst, bytes, a->input_noise, &r, sc.words);
        if (labels)
            labels[i] = d->labels[img];
        free(sc.heap);
    }
}

/* ---- evaluation views ---- */

void cnn_batch_fill_view(const cnn_dataset *d, const int *idx, int count, const cnn_norm *norm,
                         int flip, int dy, int dx, float *x, uint8_t *labels)
{
    if (!flip && dy == 0 && dx == 0) {
        cnn_batch_fill(d, idx, count, norm, x, labels);
        return;
    }
    const int C = d->c, H = d->h, W = d->w;
    const size_t bytes = cnn_dataset_image_bytes(d), plane = (size_t)H * (size_t)W;
    CNN_ASSERT(count >= 0 && (flip == 0 || flip == 1));
    CNN_ASSERT(dy >= -(H - 1) && dy <= H - 1 && dx >= -(W - 1) && dx <= W - 1);
    float scale[CNN_DATA_MAX_CHANNELS], offset[CNN_DATA_MAX_CHANNELS];
    cnn_norm_coefficients(norm, scale, offset);
#pragma omp parallel for if (count >= 16) schedule(static)
    for (int i = 0; i < count; i++) {
        int img = idx ? idx[i] : i;
        CNN_ASSERT(img >= 0 && img < d->count);
        scratch sc;
        scratch_init(&sc, bytes);
        geometry(d->pixels + (size_t)img * bytes, sc.image, C, H, W, dy, dx, flip, 1, sc.lines);
        cnn_image_normalise(sc.image, x + (size_t)i * bytes, C, plane, scale, offset);
        if (labels)
            labels[i] = d->labels[img];
        free(sc.heap);
    }
}
