/* augment.c: training-time augmentation (random crop or reflect-padded
 * translation, horizontal or alternating flip, cutout) and Gaussian input
 * noise, fused into batch assembly; and the fixed evaluation views of
 * test-time augmentation.
 *
 * Per image, in order (the semantics of torchvision's RandomCrop(32,
 * padding=p) and RandomHorizontalFlip, airbench's translate and alternating
 * flip, then Cutout and noise; see data.h):
 *   geometry, in pixel space:  g[c, h, w] = src[c, P(h + dy), P(w' + dx)]
 *       with w' = flip ? 31 - w : w, and P the border rule: black (0) outside
 *       the image for crop, reflection (-j, 62 - j) for translate and views;
 *       one 3 KB byte image on the stack. altflip's mirror before the crop
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
#include <string.h>

#include "cnnlab/data.h"
#include "core/core.h"
#include "dataset/pixels.h"

#define SIDE CNN_CIFAR_SIDE
#define PLANE (SIDE * SIDE) /* 1024 pixels per channel */
#define MAX_BATCH 65536     /* images per batch that keep the streams apart */

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

/* dst (3, 32, 32) = src (3, 32, 32) cut at offset (dy, dx) from the padded
 * image, then mirrored if flip: dst[c, h, w] = src[c, P(h + dy), P(w' + dx)]
 * with w' = flip ? 31 - w : w. Zero padding (reflect 0): P(j) = j inside the
 * image, black outside, |dy|, |dx| <= 32. Reflect padding (reflect 1):
 * P(j) = -j for j < 0, 62 - j for j > 31 (torch's 'reflect'), |dy|, |dx| <= 31.
 *
 * First every source row (reversed if flip) is laid out with a 32-byte margin
 * on each side, black or holding the reflected row, so that the horizontal
 * shift is then one fixed-size 32-byte copy at an offset; mirroring after the
 * crop reads column 31 - w + dx = rev[w - dx], with rev the reversed row (both
 * paddings commute with mirroring). The two passes are separate so that no
 * load reads a just-stored row at a different offset (that defeats store
 * forwarding and costs more than the copy). */
#define LINE (3 * SIDE) /* row pitch in the margin buffer: margin, row, margin */
static inline int reflect(int j) { return j < 0 ? -j : j > SIDE - 1 ? 2 * (SIDE - 1) - j : j; }

static void geometry(const uint8_t *restrict src, uint8_t *restrict dst, int dy, int dx, int flip,
                     int reflect_pad)
{
    /* lines[LINE * r + SIDE + j] = row r (of 96) at column j, j in [-32, 64):
     * the row for j in [0, 32), the margins black or reflected elsewhere */
    uint8_t lines[LINE * CNN_CIFAR_CHANNELS * SIDE];
    for (int r = 0; r < CNN_CIFAR_CHANNELS * SIDE; r++) {
        const uint8_t *row = src + r * SIDE;
        uint8_t *line = lines + LINE * r + SIDE;
        if (flip)
            for (int w = 0; w < SIDE; w++)
                line[w] = row[SIDE - 1 - w];
        else
            memcpy(line, row, SIDE);
        if (reflect_pad) {
            line[-SIDE] = line[2 * SIDE - 1] = 0; /* j = -32 and 63: never read */
            for (int j = 1; j < SIDE; j++) {
                line[-j] = line[j];
                line[SIDE - 1 + j] = line[SIDE - 1 - j];
            }
        } else {
            memset(line - SIDE, 0, SIDE);
            memset(line + SIDE, 0, SIDE);
        }
    }
    const int shift = flip ? -dx : dx; /* within the margins */
    for (int c = 0; c < CNN_CIFAR_CHANNELS; c++)
        for (int h = 0; h < SIDE; h++) {
            uint8_t *out = dst + c * PLANE + h * SIDE;
            int sh = h + dy;
            if (reflect_pad)
                sh = reflect(sh);
            if (sh < 0 || sh >= SIDE)
                memset(out, 0, SIDE);
            else
                memcpy(out, lines + LINE * (c * SIDE + sh) + SIDE + shift, SIDE);
        }
}

/* Zeroes rows and columns [c - size/2, c - size/2 + size) clipped to the image. */
static void cutout(float *x, int cy, int cx, int size)
{
    int y0 = cy - size / 2, x0 = cx - size / 2;
    int y1 = y0 + size, x1 = x0 + size;
    y0 = y0 < 0 ? 0 : y0;
    x0 = x0 < 0 ? 0 : x0;
    y1 = y1 > SIDE ? SIDE : y1;
    x1 = x1 > SIDE ? SIDE : x1;
    if (x1 <= x0)
        return;
    for (int h = y0; h < y1; h++)
        memset(x + ((size_t)h * SIDE + (size_t)x0) * CNN_CIFAR_CHANNELS, 0,
               (size_t)(x1 - x0) * CNN_CIFAR_CHANNELS * sizeof(float));
}

/* ---- Gaussian noise ----
 * LANES independent xoshiro256** generators stepped together (the loop over
 * lanes vectorises), each seeded by splitmix64 from one word of the image's
 * stream. Each 64-bit output gives one Box-Muller pair: the high 23 bits make
 * u in (0, 1), the low 26 bits the angle (2 bits of quadrant, 24 within it). */
#define LANES 16
#define PAIRS (CNN_CIFAR_PIXELS / 2) /* Box-Muller pairs per image: 1536 */
_Static_assert(PAIRS % LANES == 0, "the lanes must tile an image's draws");

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

/* out[0..PAIRS) = PAIRS / LANES xoshiro256** steps of every lane (lane l of
 * step j at out[j + l]). The state lives in local arrays for the whole image
 * so that it stays in vector registers. */
static void lanes_fill(lanes *restrict g, uint64_t *restrict out)
{
    uint64_t s0[LANES], s1[LANES], s2[LANES], s3[LANES];
    memcpy(s0, g->s[0], sizeof s0);
    memcpy(s1, g->s[1], sizeof s1);
    memcpy(s2, g->s[2], sizeof s2);
    memcpy(s3, g->s[3], sizeof s3);
    for (int j = 0; j < PAIRS; j += LANES)
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

static inline float bits_to_float(uint32_t b)
{
    float f;
    memcpy(&f, &b, sizeof f);
    return f;
}

static inline uint32_t float_to_bits(float f)
{
    uint32_t b;
    memcpy(&b, &f, sizeof b);
    return b;
}

/* ln u for normal positive u: u = m 2^e with m in [sqrt(1/2), sqrt(2)), then
 * ln m = 2 atanh(t), t = (m - 1) / (m + 1), |t| < 0.172, series to t^9
 * (truncation error < 1e-9). Selections are done on the bits so that the
 * loop vectorises on any x86-64 (no blends needed). */
static inline float log_pos(float u)
{
    uint32_t b = float_to_bits(u);
    uint32_t frac = b & 0x7fffffu;
    uint32_t big = frac > 0x3504f3u; /* 1.frac > sqrt(2): halve m */
    int e = (int)(b >> 23) - 127 + (int)big;
    float m = bits_to_float(frac | (0x3f800000u - (big << 23)));
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
    float y = bits_to_float(0x5f3759dfu - (float_to_bits(v) >> 1));
    for (int k = 0; k < 3; k++)
        y = y * (1.5f - 0.5f * v * y * y);
    return v * y;
}

/* x[0..3072) += sigma * z, z standard normal: one Box-Muller pair per 64-bit
 * draw, its two normals going to x[j] and x[PAIRS + j]; one vectorised loop
 * over the image's 1536 pairs. */
static void add_noise(float *restrict x, float sigma, cnn_rng *rng)
{
    lanes g;
    lanes_init(&g, rng);
    uint64_t w[PAIRS];
    lanes_fill(&g, w);
    float *restrict x0 = x, *restrict x1 = x + PAIRS;
    for (int j = 0; j < PAIRS; j++) {
        uint32_t hi = (uint32_t)(w[j] >> 32), lo = (uint32_t)w[j];
        /* radius: u = (k + 1/2) 2^-23 in (0, 1), exact in float; r <= 5.77 */
        float u = ((float)(int32_t)(hi >> 9) + 0.5f) * 0x1p-23f;
        uint32_t lb = float_to_bits(-2.0f * log_pos(u));
        lb &= ~(uint32_t)((int32_t)lb >> 31); /* a rounding below 0 becomes 0 */
        float r = sqrt_newton(bits_to_float(lb));
        /* angle: phi in [-pi/4, pi/4) from 24 bits, plus quadrant q * pi/2 */
        float phi = ((float)(int32_t)((lo >> 2) & 0xffffffu) * 0x1p-24f - 0.5f) * 1.57079633f;
        uint32_t q = lo >> 30;
        float p2 = phi * phi;
        float cs = 1.0f + p2 * (-1.0f / 2 + p2 * (1.0f / 24 + p2 * (-1.0f / 720 + p2 * (1.0f / 40320))));
        float sn = phi * (1.0f + p2 * (-1.0f / 6 + p2 * (1.0f / 120 + p2 * (-1.0f / 5040 + p2 * (1.0f / 362880)))));
        /* rotate (cos, sin) by q quarter turns: (c,s) (-s,c) (-c,-s) (s,-c),
         * as a swap under a mask and sign-bit flips */
        uint32_t cb = float_to_bits(cs), sb = float_to_bits(sn), swap = 0u - (q & 1);
        uint32_t ab = (cb & ~swap) | (sb & swap), bb = (sb & ~swap) | (cb & swap);
        ab ^= ((q + 1) >> 1 & 1) << 31;
        bb ^= (q >> 1) << 31;
        x0[j] += sigma * (r * bits_to_float(ab));
        x1[j] += sigma * (r * bits_to_float(bb));
    }
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

void cnn_batch_fill_augmented(const cnn_dataset *d, const int *idx, int count,
                              const cnn_norm *norm, const cnn_augment *a, uint64_t seed,
                              uint64_t batch_id, int epoch, float *x, uint8_t *labels)
{
    if (!cnn_augment_active(a)) {
        cnn_batch_fill(d, idx, count, norm, x, labels);
        return;
    }
    CNN_ASSERT(count >= 0 && count <= MAX_BATCH && epoch >= 0);
    CNN_ASSERT(a->crop_padding >= 0 && a->crop_padding <= SIDE && a->cutout_size >= 0);
    CNN_ASSERT(a->translate_padding >= 0 && a->translate_padding < SIDE);
    CNN_ASSERT(!(a->crop && a->translate) && !(a->flip && a->altflip));
    CNN_ASSERT(isfinite(a->input_noise) && a->input_noise >= 0.0f);
    float scale[3], offset[3];
    cnn_norm_coefficients(norm, scale, offset);
    const int pad = a->crop ? a->crop_padding : a->translate ? a->translate_padding : 0;
    const int geom = a->crop || a->translate || a->flip || a->altflip;
    const int odd_epoch = epoch & 1;
#pragma omp parallel for if (count >= 16) schedule(static)
    for (int i = 0; i < count; i++) {
        int img = idx ? idx[i] : i;
        CNN_ASSERT(img >= 0 && img < d->count);
        const uint8_t *src = d->pixels + (size_t)img * CNN_CIFAR_PIXELS;
        float *dst = x + (size_t)i * CNN_CIFAR_PIXELS;
        cnn_rng r;
        cnn_rng_init(&r, seed, CNN_STREAM_AUGMENT, batch_id * MAX_BATCH + (uint64_t)i);
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
            uint8_t tmp[CNN_CIFAR_PIXELS];
            geometry(src, tmp, dy, dx, mirror, a->translate);
            cnn_image_normalise(tmp, dst, scale, offset);
        } else {
            cnn_image_normalise(src, dst, scale, offset);
        }
        if (a->cutout)
            cutout(dst, draw_below((uint32_t)w_cut, SIDE), draw_below((uint32_t)(w_cut >> 32), SIDE),
                   a->cutout_size);
        if (a->input_noise > 0.0f)
            add_noise(dst, a->input_noise, &r);
        if (labels)
            labels[i] = d->labels[img];
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
    CNN_ASSERT(count >= 0 && (flip == 0 || flip == 1));
    CNN_ASSERT(dy >= -(SIDE - 1) && dy <= SIDE - 1 && dx >= -(SIDE - 1) && dx <= SIDE - 1);
    float scale[3], offset[3];
    cnn_norm_coefficients(norm, scale, offset);
#pragma omp parallel for if (count >= 16) schedule(static)
    for (int i = 0; i < count; i++) {
        int img = idx ? idx[i] : i;
        CNN_ASSERT(img >= 0 && img < d->count);
        uint8_t tmp[CNN_CIFAR_PIXELS];
        geometry(d->pixels + (size_t)img * CNN_CIFAR_PIXELS, tmp, dy, dx, flip, 1);
        cnn_image_normalise(tmp, x + (size_t)i * CNN_CIFAR_PIXELS, scale, offset);
        if (labels)
            labels[i] = d->labels[img];
    }
}
