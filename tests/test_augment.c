/* test_augment.c: training-time augmentation (src/dataset/augment.c) on a
 * synthetic in-memory dataset whose pixels are pseudo-random bytes in 1..255,
 * so every shifted or mirrored image is told apart from every other.
 *
 * Each augmented image is compared, exactly, with candidates built from the
 * unaugmented batch (cnn_batch_fill): for crop and flip every (dy, dx, mirror)
 * is tried and exactly one must match; cutout must differ from the clean image
 * by one clipped square of zeros; noise is checked by its moments. Rates and
 * offset histograms are compared with their expected values in standard errors
 * or by chi-square. translate is matched the same way against reflect padding
 * written here as a plain rule, which is itself compared with PyTorch's
 * F.pad(mode='reflect') (tests/fixtures/views.txt); altflip against the
 * recipe's order of operations (mirror once per image, cut, mirror the set on
 * odd epochs) written out in plain loops; the evaluation views
 * (cnn_batch_fill_view) against the plain rule and PyTorch's TTA views. Also:
 * thread-count independence and cnn_augment_parse. */
#include <omp.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "cnnlab/data.h"
#include "core/core.h"
#include "fixture.h"

#define SIDE CNN_CIFAR_SIDE
#define PIX CNN_CIFAR_PIXELS
#define N_IMAGES 512
#define SEED 20261128u

static cnn_dataset data;
static float *clean; /* (N_IMAGES, 32, 32, 3): cnn_batch_fill of every image */
static float black[3]; /* what a black (0) pixel normalises to, per channel */
static const cnn_norm norm = {{0.4914f, 0.4822f, 0.4465f}, {0.2470f, 0.2435f, 0.2616f}};

static void setup(void)
{
    data = (cnn_dataset){.count = N_IMAGES, .c = 3, .h = 32, .w = 32, .classes = 10};
    data.pixels = cnn_alloc((size_t)N_IMAGES * PIX); /* cnn_dataset_free's allocator */
    data.labels = cnn_alloc(N_IMAGES);
    unsigned state = 12345;
    for (size_t k = 0; k < (size_t)N_IMAGES * PIX; k++) {
        state = state * 1664525u + 1013904223u;
        data.pixels[k] = (uint8_t)(1 + (state >> 16) % 255);
    }
    for (int i = 0; i < N_IMAGES; i++)
        data.labels[i] = (uint8_t)(i * 7 % 10);
    clean = malloc(sizeof(float) * N_IMAGES * PIX);
    cnn_batch_fill(&data, NULL, N_IMAGES, &norm, clean, NULL);

    cnn_dataset zero = {.count = 1, .pixels = cnn_alloc(PIX), .labels = cnn_alloc(1),
                     .c = 3, .h = 32, .w = 32, .classes = 10};
    float *x = malloc(sizeof(float) * PIX);
    cnn_batch_fill(&zero, NULL, 1, &norm, x, NULL);
    memcpy(black, x, sizeof black);
    free(x);
    cnn_dataset_free(&zero);
    int nonzero = 1;
    for (size_t k = 0; k < (size_t)N_IMAGES * PIX; k++)
        nonzero &= clean[k] != 0.0f;
    check(nonzero, "setup: no clean value is exactly 0 (cutout is recognised by zeros)");
}

/* Image indices for batch b of size n: a spread over the dataset. */
static void make_idx(int *idx, int n, int b)
{
    for (int i = 0; i < n; i++)
        idx[i] = (i * 37 + b * 101) % N_IMAGES;
}

/* torch's 'reflect' padding as a plain rule: index j of a padded row reads
 * -j left of the image and 62 - j right of it (the edge is not repeated). */
static int reflect_index(int j) { return j < 0 ? -j : j > SIDE - 1 ? 2 * (SIDE - 1) - j : j; }

/* 1 if x equals image img cut at (dy, dx) from the padded image (zero padding,
 * or reflect padding if reflect) and then mirrored if flip, exactly, zero
 * padded pixels equal to black[]. */
static int matches_geometry(const float *x, int img, int dy, int dx, int flip, int reflect)
{
    const float *c = clean + (size_t)img * PIX;
    for (int h = 0; h < SIDE; h++)
        for (int w = 0; w < SIDE; w++) {
            int sh = h + dy, sw = (flip ? SIDE - 1 - w : w) + dx;
            if (reflect) {
                sh = reflect_index(sh);
                sw = reflect_index(sw);
            }
            int inside = sh >= 0 && sh < SIDE && sw >= 0 && sw < SIDE;
            for (int ch = 0; ch < 3; ch++) {
                float want = inside ? c[(sh * SIDE + sw) * 3 + ch] : black[ch];
                if (x[(h * SIDE + w) * 3 + ch] != want)
                    return 0;
            }
        }
    return 1;
}

/* Chi-square statistic of counts against a uniform distribution. */
static double chi_square(const long *counts, int bins)
{
    long total = 0;
    for (int b = 0; b < bins; b++)
        total += counts[b];
    double expect = (double)total / bins, chi = 0;
    for (int b = 0; b < bins; b++)
        chi += ((double)counts[b] - expect) * ((double)counts[b] - expect) / expect;
    return chi;
}

/* Passes when chi-square with bins-1 degrees of freedom is within 5 of its
 * standard deviations above its mean (a loose bound: the draws are fixed). */
static void check_uniform(const char *what, const long *counts, int bins)
{
    double chi = chi_square(counts, bins), dof = bins - 1, limit = dof + 5 * sqrt(2 * dof);
    int empty = 0;
    for (int b = 0; b < bins; b++)
        empty += counts[b] == 0;
    printf("%s: %d bins, chi-square %.1f (dof %.0f, limit %.1f), %d empty\n", what, bins, chi, dof,
           limit, empty);
    check(chi <= limit && empty == 0, "%s: chi-square %.1f > %.1f or %d empty bins", what, chi,
          limit, empty);
}

/* ---- no augmentation ---- */
static void test_identity(void)
{
    enum { B = 100 };
    int idx[B];
    make_idx(idx, B, 3);
    float *want = malloc(sizeof(float) * B * PIX), *got = malloc(sizeof(float) * B * PIX);
    uint8_t lw[B], lg[B];
    cnn_batch_fill(&data, idx, B, &norm, want, lw);
    cnn_augment a;
    cnn_augment_defaults(&a);
    check(!cnn_augment_active(&a), "defaults are inactive");
    check(a.crop_padding == 4 && a.cutout_size == 8 && a.input_noise == 0.0f,
          "defaults: padding %d, cutout %d, noise %g", a.crop_padding, a.cutout_size,
          (double)a.input_noise);
    memset(got, 0xff, sizeof(float) * B * PIX);
    cnn_batch_fill_augmented(&data, idx, B, &norm, &a, SEED, 0, 0, got, lg);
    check(memcmp(want, got, sizeof(float) * B * PIX) == 0 && memcmp(lw, lg, B) == 0,
          "no augmentation: identical to cnn_batch_fill (values and labels)");
    /* crop with padding 0 is active but moves nothing */
    a.crop = 1;
    a.crop_padding = 0;
    cnn_batch_fill_augmented(&data, idx, B, &norm, &a, SEED, 0, 0, got, lg);
    check(memcmp(want, got, sizeof(float) * B * PIX) == 0 && memcmp(lw, lg, B) == 0,
          "crop with padding 0: identical to cnn_batch_fill");
    printf("identity: %d images compared bit for bit with cnn_batch_fill\n", B);
    free(want);
    free(got);
}

/* ---- crop and flip ---- */
/* Runs `batches` batches of B with a; for every image finds the one (dy, dx,
 * flip) that reproduces it. Returns the number of images matching none or
 * more than one; fills the histograms. */
static int classify(const cnn_augment *a, int batches, long *dy_dx /* (2p+1)^2 */, long *flips,
                    int *offsets /* (batches * B * 3) or NULL */)
{
    enum { B = 128 };
    int idx[B], bad = 0;
    int p = a->crop ? a->crop_padding : a->translate ? a->translate_padding : 0;
    float *x = malloc(sizeof(float) * B * PIX);
    uint8_t labels[B];
    for (int b = 0; b < batches; b++) {
        make_idx(idx, B, b);
        cnn_batch_fill_augmented(&data, idx, B, &norm, a, SEED, (uint64_t)b, 0, x, labels);
        for (int i = 0; i < B; i++) {
            int found = 0, fy = 0, fx = 0, ff = 0;
            for (int dy = -p; dy <= p; dy++)
                for (int dx = -p; dx <= p; dx++)
                    for (int f = 0; f <= (a->flip ? 1 : 0); f++)
                        if (matches_geometry(x + (size_t)i * PIX, idx[i], dy, dx, f,
                                             a->translate)) {
                            found++;
                            fy = dy;
                            fx = dx;
                            ff = f;
                        }
            if (found != 1 || labels[i] != data.labels[idx[i]]) {
                bad++;
                continue;
            }
            dy_dx[(fy + p) * (2 * p + 1) + (fx + p)]++;
            *flips += ff;
            if (offsets) {
                int *o = offsets + ((size_t)b * B + (size_t)i) * 3;
                o[0] = fy;
                o[1] = fx;
                o[2] = ff;
            }
        }
    }
    free(x);
    return bad;
}

static void test_flip(void)
{
    cnn_augment a;
    cnn_augment_defaults(&a);
    a.flip = 1;
    long hist[1] = {0}, flips = 0;
    int batches = 32, n = batches * 128;
    int bad = classify(&a, batches, hist, &flips, NULL);
    check(bad == 0, "flip: %d of %d images are neither the original nor its mirror", bad, n);
    double rate = (double)flips / n, se = sqrt(0.25 / n);
    printf("flip: %d images, each the original or its exact mirror; flip rate %.4f "
           "(expected 0.5, tolerance 4 se = %.4f)\n", n, rate, 4 * se);
    check(fabs(rate - 0.5) <= 4 * se, "flip rate %.4f, expected 0.5 +- %.4f", rate, 4 * se);
}

static void test_crop(void)
{
    cnn_augment a;
    cnn_augment_defaults(&a);
    a.crop = 1; /* padding 4: 81 offsets */
    enum { P = 4, BINS = (2 * P + 1) * (2 * P + 1), BATCHES = 64 };
    long hist[BINS] = {0}, flips = 0;
    int n = BATCHES * 128;
    int *crop_only = malloc(sizeof(int) * n * 3), *with_flip = malloc(sizeof(int) * n * 3);
    int bad = classify(&a, BATCHES, hist, &flips, crop_only);
    check(bad == 0, "crop: %d of %d images match no single shift", bad, n);
    printf("crop (padding %d): %d images, each exactly one shift of the original with padded "
           "pixels = (0 - mean)/std\n", P, n);
    check_uniform("crop offsets (dy, dx)", hist, BINS);
    long rows[2 * P + 1] = {0};
    for (int b = 0; b < BINS; b++)
        rows[b / (2 * P + 1)] += hist[b];
    check_uniform("crop dy", rows, 2 * P + 1);

    /* crop and flip together: each image exactly one (dy, dx, flip), and the
     * shifts are the ones crop alone chose (flip has its own draw) */
    a.flip = 1;
    long hist2[BINS] = {0};
    flips = 0;
    bad = classify(&a, BATCHES, hist2, &flips, with_flip);
    check(bad == 0, "crop+flip: %d of %d images match no single (dy, dx, flip)", bad, n);
    int same = 1;
    for (int k = 0; k < n; k++)
        same &= crop_only[3 * k] == with_flip[3 * k] && crop_only[3 * k + 1] == with_flip[3 * k + 1];
    check(same, "crop+flip: the shifts equal those of crop alone");
    long joint[2 * (2 * P + 1)] = {0}; /* (flip, dx): independent draws */
    for (int k = 0; k < n; k++)
        joint[with_flip[3 * k + 2] * (2 * P + 1) + with_flip[3 * k + 1] + P]++;
    check_uniform("crop+flip (flip, dx) jointly", joint, 2 * (2 * P + 1));
    double rate = (double)flips / n, se = sqrt(0.25 / n);
    check(fabs(rate - 0.5) <= 4 * se, "crop+flip: flip rate %.4f, expected 0.5 +- %.4f", rate,
          4 * se);
    printf("crop+flip: %d images, shifts identical to crop alone, flip rate %.4f\n", n, rate);

    /* padded pixels are (0 - mean)/std, not 0 */
    double worst = 0;
    for (int c = 0; c < 3; c++)
        worst = fmax(worst, fabs(black[c] - (0.0 - norm.mean[c]) / norm.std[c]));
    check(worst < 1e-6, "black pixel normalises to -mean/std: off by %.3g", worst);
    free(crop_only);
    free(with_flip);
}

/* ---- reflect padding: the plain rule against PyTorch ---- */
static fixture_file views; /* tests/fixtures/views.txt */

static void test_reflect_rule(void)
{
    static const int pads[] = {1, 2, 3, 31};
    for (int k = 0; k < 4; k++) {
        int r = pads[k], side = SIDE + 2 * r;
        char name[16];
        snprintf(name, sizeof name, "pad%d", r);
        const float *map = fixture_get(&views, name, (size_t)3 * side * side);
        if (!map)
            continue;
        long wrong = 0;
        for (int c = 0; c < 3; c++)
            for (int i = 0; i < side; i++)
                for (int j = 0; j < side; j++)
                    wrong += map[(c * side + i) * side + j] !=
                             (float)(c * SIDE * SIDE + reflect_index(i - r) * SIDE +
                                     reflect_index(j - r));
        check(wrong == 0, "reflect rule vs F.pad(mode='reflect') pad %d: %ld positions differ", r,
              wrong);
        printf("reflect rule: equals PyTorch's F.pad(x, (%d,)*4, mode='reflect') at all %d "
               "positions\n", r, 3 * side * side);
    }
}

/* ---- translate ---- */
static void test_translate(void)
{
    enum { P = 2, BINS = (2 * P + 1) * (2 * P + 1), BATCHES = 64 };
    cnn_augment a;
    cnn_augment_defaults(&a);
    a.translate = 1; /* padding 2 by default: 25 offsets */
    check(a.translate_padding == P, "translate_padding defaults to %d", P);
    long hist[BINS] = {0}, flips = 0;
    int n = BATCHES * 128;
    int *shifts = malloc(sizeof(int) * n * 3), *crop_shifts = malloc(sizeof(int) * n * 3);
    int bad = classify(&a, BATCHES, hist, &flips, shifts);
    check(bad == 0, "translate: %d of %d images match no single reflect-padded shift", bad, n);
    printf("translate (padding %d): %d images, each exactly one shift of the reflect-padded "
           "original\n", P, n);
    check_uniform("translate offsets (dy, dx)", hist, BINS);

    /* translate takes crop's draw: the same shifts as crop with the same padding */
    cnn_augment c;
    cnn_augment_defaults(&c);
    c.crop = 1;
    c.crop_padding = P;
    long hist_c[BINS] = {0};
    bad = classify(&c, BATCHES, hist_c, &flips, crop_shifts);
    int same = bad == 0;
    for (int k = 0; same && k < n; k++)
        same &= shifts[3 * k] == crop_shifts[3 * k] && shifts[3 * k + 1] == crop_shifts[3 * k + 1];
    check(same, "translate: the shifts equal those of crop with padding %d", P);

    /* with flip: exactly one (dy, dx, flip), shifts unchanged */
    a.flip = 1;
    long hist2[BINS] = {0};
    flips = 0;
    bad = classify(&a, BATCHES, hist2, &flips, crop_shifts);
    same = bad == 0;
    for (int k = 0; same && k < n; k++)
        same &= shifts[3 * k] == crop_shifts[3 * k] && shifts[3 * k + 1] == crop_shifts[3 * k + 1];
    double rate = (double)flips / n, se = sqrt(0.25 / n);
    check(same && fabs(rate - 0.5) <= 4 * se, "translate+flip: %d unmatched, shifts %s, flip "
          "rate %.4f", bad, same ? "kept" : "changed", rate);
    printf("translate: shifts identical to crop's (padding %d); translate+flip: flip rate %.4f\n",
           P, rate);

    /* a large padding, 30: the far offsets read reflected pixels correctly (at 31,
     * shifts +31 and -31 give the same image, P(h + 31) = P(h - 31) = 31 - h,
     * so an image would match two shifts) */
    enum { P30 = 30, BINS30 = (2 * P30 + 1) * (2 * P30 + 1) };
    cnn_augment_defaults(&a);
    a.translate = 1;
    a.translate_padding = P30;
    long *hist30 = calloc(BINS30, sizeof(long));
    bad = classify(&a, 2, hist30, &flips, NULL);
    check(bad == 0, "translate padding 30: %d of 256 images match no single shift", bad);
    printf("translate (padding 30): 256 images, each exactly one shift\n");
    free(hist30);

    /* padding 0 moves nothing */
    enum { B = 64 };
    int idx[B];
    make_idx(idx, B, 4);
    float *want = malloc(sizeof(float) * B * PIX), *got = malloc(sizeof(float) * B * PIX);
    a.translate_padding = 0;
    cnn_batch_fill(&data, idx, B, &norm, want, NULL);
    cnn_batch_fill_augmented(&data, idx, B, &norm, &a, SEED, 3, 0, got, NULL);
    check(memcmp(want, got, sizeof(float) * B * PIX) == 0,
          "translate with padding 0: identical to cnn_batch_fill");
    free(want);
    free(got);
    free(shifts);
    free(crop_shifts);
}

/* ---- alternating flip ---- */
/* The recipe's order, written out: base = the image mirrored if pre; cut at
 * (dy, dx) from base reflect-padded; the cut mirrored if odd. 1 if x equals it. */
static int matches_recipe(const float *x, int img, int dy, int dx, int pre, int odd)
{
    const float *c = clean + (size_t)img * PIX;
    for (int h = 0; h < SIDE; h++)
        for (int w = 0; w < SIDE; w++) {
            int cw = odd ? SIDE - 1 - w : w;             /* column of the cut */
            int bh = reflect_index(h + dy), bw = reflect_index(cw + dx); /* of base */
            int sw = pre ? SIDE - 1 - bw : bw;           /* of the image */
            for (int ch = 0; ch < 3; ch++)
                if (x[(h * SIDE + w) * 3 + ch] != c[(bh * SIDE + sw) * 3 + ch])
                    return 0;
        }
    return 1;
}

static void test_altflip(void)
{
    enum { B = 128, EPOCHS = 4, PER_EPOCH = 4 };
    cnn_augment a;
    cnn_augment_defaults(&a);
    a.altflip = 1;
    check(cnn_augment_active(&a), "altflip alone is active");
    static int mirror[EPOCHS][N_IMAGES];
    memset(mirror, 0xff, sizeof mirror); /* -1: not seen */
    int idx[B], bad = 0, inconsistent = 0;
    float *x = malloc(sizeof(float) * B * PIX), *y = malloc(sizeof(float) * B * PIX);
    /* each epoch reads the images in other batches and positions */
    for (int e = 0; e < EPOCHS; e++)
        for (int b = 0; b < PER_EPOCH; b++) {
            make_idx(idx, B, b + 7 * e);
            cnn_batch_fill_augmented(&data, idx, B, &norm, &a, SEED, (uint64_t)(e * 100 + b), e,
                                     x, NULL);
            for (int i = 0; i < B; i++) {
                int m0 = matches_geometry(x + (size_t)i * PIX, idx[i], 0, 0, 0, 0);
                int m1 = matches_geometry(x + (size_t)i * PIX, idx[i], 0, 0, 1, 0);
                if (m0 + m1 != 1) {
                    bad++;
                    continue;
                }
                int *m = &mirror[e][idx[i]];
                inconsistent += *m >= 0 && *m != m1;
                *m = m1;
            }
        }
    check(bad == 0 && inconsistent == 0, "altflip: %d images neither original nor mirror, %d "
          "seen twice in an epoch with different choices", bad, inconsistent);
    long pairs = 0, alternate = 0, pre = 0, seen0 = 0;
    for (int img = 0; img < N_IMAGES; img++) {
        if (mirror[0][img] >= 0) {
            seen0++;
            pre += mirror[0][img];
        }
        for (int e = 1; e < EPOCHS; e++)
            if (mirror[0][img] >= 0 && mirror[e][img] >= 0) {
                pairs++;
                alternate += (mirror[0][img] ^ mirror[e][img]) == (e & 1);
            }
    }
    double rate = (double)pre / seen0, se = sqrt(0.25 / seen0);
    printf("altflip: %ld images in epoch 0, mirrored fraction %.4f (0.5 +- 4 se = %.4f); %ld of "
           "%ld (image, epoch) pairs mirrored iff the epoch is odd relative to epoch 0\n", seen0,
           rate, 4 * se, alternate, pairs);
    check(pairs > 0 && alternate == pairs, "altflip: %ld of %ld pairs do not alternate",
          pairs - alternate, pairs);
    check(fabs(rate - 0.5) <= 4 * se, "altflip: mirrored fraction %.4f", rate);

    /* another seed: other per-image choices, about half of them */
    long differ = 0, n1 = 0;
    make_idx(idx, B, 0);
    cnn_batch_fill_augmented(&data, idx, B, &norm, &a, SEED + 1, 0, 0, x, NULL);
    for (int i = 0; i < B; i++)
        if (mirror[0][idx[i]] >= 0) {
            n1++;
            differ += matches_geometry(x + (size_t)i * PIX, idx[i], 0, 0, 1, 0) != mirror[0][idx[i]];
        }
    printf("altflip: seed + 1 changes %ld of %ld per-image choices\n", differ, n1);
    check(n1 > 0 && fabs((double)differ / n1 - 0.5) <= 4 * sqrt(0.25 / n1),
          "altflip: seed + 1 changes %ld of %ld choices", differ, n1);

    /* translate + altflip against the recipe's order, with epoch 0's choice as
     * the per-image mirror; the shifts are translate's own */
    cnn_augment t;
    cnn_augment_defaults(&t);
    t.translate = 1;
    a.translate = 1;
    int matched = 0, total = 0, same_shift = 0;
    for (int e = 0; e < EPOCHS; e++)
        for (int b = 0; b < PER_EPOCH; b++) {
            make_idx(idx, B, b); /* epoch 0's batches: every choice known */
            uint64_t id = (uint64_t)(1000 + e * PER_EPOCH + b);
            cnn_batch_fill_augmented(&data, idx, B, &norm, &a, SEED, id, e, x, NULL);
            cnn_batch_fill_augmented(&data, idx, B, &norm, &t, SEED, id, e, y, NULL);
            for (int i = 0; i < B; i++) {
                int found = 0, fy = 0, fx = 0, pm = mirror[0][idx[i]];
                total++;
                for (int dy = -2; dy <= 2; dy++)
                    for (int dx = -2; dx <= 2; dx++)
                        if (matches_recipe(x + (size_t)i * PIX, idx[i], dy, dx, pm, e & 1)) {
                            found++;
                            fy = dy;
                            fx = dx;
                        }
                matched += found == 1;
                same_shift += found == 1 &&
                              matches_geometry(y + (size_t)i * PIX, idx[i], fy, fx, 0, 1);
            }
        }
    check(matched == total && same_shift == total, "translate+altflip: %d of %d images match "
          "the recipe's order, %d with translate's own shift", matched, total, same_shift);
    printf("translate+altflip: %d images over %d epochs, each exactly mirror-once, cut, mirror "
           "on odd epochs, with the shift translate alone draws\n", total, EPOCHS);
    free(x);
    free(y);
}

/* ---- evaluation views ---- */
static void test_views(void)
{
    enum { B = 32 };
    int idx[B];
    make_idx(idx, B, 2);
    float *x = malloc(sizeof(float) * B * PIX), *want = malloc(sizeof(float) * B * PIX);
    uint8_t labels[B];
    cnn_batch_fill(&data, idx, B, &norm, want, NULL);
    cnn_batch_fill_view(&data, idx, B, &norm, 0, 0, 0, x, labels);
    check(memcmp(x, want, sizeof(float) * B * PIX) == 0, "view (0, 0, 0) is cnn_batch_fill");

    /* every shift in [-3, 3]^2 and the four extreme ones, plain and mirrored,
     * against the plain rule */
    int cases = 0, wrong = 0;
    for (int flip = 0; flip <= 1; flip++)
        for (int k = 0; k < 49 + 4; k++) {
            static const int far[4][2] = {{31, 31}, {-31, -31}, {31, -31}, {-31, 31}};
            int dy = k < 49 ? k / 7 - 3 : far[k - 49][0], dx = k < 49 ? k % 7 - 3 : far[k - 49][1];
            cnn_batch_fill_view(&data, idx, B, &norm, flip, dy, dx, x, labels);
            for (int i = 0; i < B; i++) {
                cases++;
                wrong += !matches_geometry(x + (size_t)i * PIX, idx[i], dy, dx, flip, 1) ||
                         labels[i] != data.labels[idx[i]];
            }
        }
    check(wrong == 0, "views: %d of %d (image, view) pairs differ from the plain rule", wrong,
          cases);
    printf("views: %d (image, view) pairs (flip 0/1, shifts in [-3,3]^2 and +-31) equal the "
           "plain reflect rule exactly\n", cases);

    /* airbench's six TTA views against PyTorch's index maps */
    static const int tta[3][2] = {{0, 0}, {-1, -1}, {1, 1}};
    for (int flip = 0; flip <= 1; flip++)
        for (int v = 0; v < 3; v++) {
            char name[32];
            snprintf(name, sizeof name, "view.%d.%d.%d", flip, tta[v][0], tta[v][1]);
            const float *map = fixture_get(&views, name, PIX);
            if (!map)
                continue;
            cnn_batch_fill_view(&data, idx, B, &norm, flip, tta[v][0], tta[v][1], x, NULL);
            long diff = 0;
            for (int i = 0; i < B; i++)
                for (int k = 0; k < PIX; k++) {
                    int src = (int)map[k], c = src / (SIDE * SIDE), hw = src % (SIDE * SIDE);
                    diff += c != k % 3 ||
                            x[(size_t)i * PIX + k] != clean[(size_t)idx[i] * PIX + hw * 3 + c];
                }
            check(diff == 0, "view %s: %ld values differ from PyTorch's", name, diff);
            printf("view %s (flip, dy, dx): %d images equal PyTorch's TTA view exactly\n", name, B);
        }
    free(x);
    free(want);
}

/* ---- cutout ---- */
/* Finds the zeroed square of x against the clean image; returns 0 if the
 * difference is not exactly one all-zero rectangle. */
static int find_square(const float *x, const float *c, int *y0, int *y1, int *x0, int *x1)
{
    *y0 = *x0 = SIDE;
    *y1 = *x1 = 0;
    for (int h = 0; h < SIDE; h++)
        for (int w = 0; w < SIDE; w++)
            for (int ch = 0; ch < 3; ch++) {
                size_t k = ((size_t)h * SIDE + (size_t)w) * 3 + (size_t)ch;
                if (x[k] != c[k]) {
                    *y0 = h < *y0 ? h : *y0;
                    *y1 = h + 1 > *y1 ? h + 1 : *y1;
                    *x0 = w < *x0 ? w : *x0;
                    *x1 = w + 1 > *x1 ? w + 1 : *x1;
                }
            }
    if (*y1 <= *y0)
        return 0;
    for (int h = 0; h < SIDE; h++)
        for (int w = 0; w < SIDE; w++) {
            int in = h >= *y0 && h < *y1 && w >= *x0 && w < *x1;
            for (int ch = 0; ch < 3; ch++) {
                size_t k = ((size_t)h * SIDE + (size_t)w) * 3 + (size_t)ch;
                if (in ? x[k] != 0.0f : x[k] != c[k])
                    return 0;
            }
        }
    return 1;
}

/* The centre of a square of side s that covers [lo, hi) after clipping, or -1
 * if [lo, hi) is not such a clipped square. */
static int centre_of(int lo, int hi, int s)
{
    int c;
    if (lo > 0 && hi < SIDE)
        c = hi - lo == s ? lo + s / 2 : -1;
    else if (lo == 0 && hi < SIDE)
        c = hi - (s - s / 2);
    else if (hi == SIDE && lo > 0)
        c = lo + s / 2;
    else
        c = -1;
    if (c < 0 || c >= SIDE)
        return -1;
    int a = c - s / 2, b = a + s;
    return (a < 0 ? 0 : a) == lo && (b > SIDE ? SIDE : b) == hi ? c : -1;
}

static void run_cutout(int size, int batches, long *cy_hist, long *cx_hist, int *unclipped)
{
    enum { B = 128 };
    cnn_augment a;
    cnn_augment_defaults(&a);
    a.cutout = 1;
    a.cutout_size = size;
    int idx[B], bad = 0, n = batches * B;
    float *x = malloc(sizeof(float) * B * PIX);
    *unclipped = 0;
    for (int b = 0; b < batches; b++) {
        make_idx(idx, B, b);
        cnn_batch_fill_augmented(&data, idx, B, &norm, &a, SEED, (uint64_t)b, 0, x, NULL);
        for (int i = 0; i < B; i++) {
            int y0, y1, x0, x1;
            if (!find_square(x + (size_t)i * PIX, clean + (size_t)idx[i] * PIX, &y0, &y1, &x0,
                             &x1)) {
                bad++;
                continue;
            }
            int cy = centre_of(y0, y1, size), cx = centre_of(x0, x1, size);
            if (cy < 0 || cx < 0) {
                bad++;
                continue;
            }
            cy_hist[cy]++;
            cx_hist[cx]++;
            *unclipped += y1 - y0 == size && x1 - x0 == size;
        }
    }
    check(bad == 0, "cutout %d: %d of %d images are not the clean image with one clipped "
          "%dx%d square of zeros", size, bad, n, size, size);
    printf("cutout %d: %d images, each the clean image except one zeroed square of side %d "
           "(clipped at the borders); %d unclipped\n", size, n, size, *unclipped);
    free(x);
}

static void test_cutout(void)
{
    long cy[SIDE] = {0}, cx[SIDE] = {0};
    int unclipped, batches = 64, n = batches * 128;
    run_cutout(8, batches, cy, cx, &unclipped);
    check_uniform("cutout 8 centre rows", cy, SIDE);
    check_uniform("cutout 8 centre columns", cx, SIDE);
    /* a side-8 square is unclipped for centres 4..28 in both directions: (25/32)^2 */
    double p = (25.0 / 32) * (25.0 / 32), se = sqrt(p * (1 - p) / n);
    check(fabs((double)unclipped / n - p) <= 5 * se, "cutout 8: unclipped fraction %.4f, "
          "expected %.4f +- %.4f", (double)unclipped / n, p, 5 * se);
    long cy5[SIDE] = {0}, cx5[SIDE] = {0};
    run_cutout(5, 8, cy5, cx5, &unclipped);
    check(unclipped > 0, "cutout 5: some squares are unclipped 5x5");
}

/* ---- noise ---- */
static void test_noise(void)
{
    enum { B = 256 };
    const float sigma = 0.1f;
    cnn_augment a;
    cnn_augment_defaults(&a);
    a.input_noise = sigma;
    int idx[B];
    make_idx(idx, B, 5);
    float *x = malloc(sizeof(float) * B * PIX);
    cnn_batch_fill_augmented(&data, idx, B, &norm, &a, SEED, 9, 0, x, NULL);
    size_t n = (size_t)B * PIX;
    double s1 = 0, s2 = 0, s4 = 0, lag1 = 0, pair = 0;
    long in1 = 0, in2 = 0;
    float *z = malloc(sizeof(float) * n);
    for (int i = 0; i < B; i++)
        for (int k = 0; k < PIX; k++)
            z[(size_t)i * PIX + k] =
                (x[(size_t)i * PIX + k] - clean[(size_t)idx[i] * PIX + k]) / sigma;
    for (size_t k = 0; k < n; k++) {
        double v = z[k];
        s1 += v;
        s2 += v * v;
        s4 += v * v * v * v;
        in1 += fabs(v) < 1;
        in2 += fabs(v) < 2;
        if (k + 1 < n)
            lag1 += v * z[k + 1];
        if (k % PIX < PIX / 2) /* the Box-Muller partner of k */
            pair += v * z[k + PIX / 2];
    }
    double mean = s1 / n, sd = sqrt(s2 / n - mean * mean), kurt = s4 / n / (sd * sd * sd * sd);
    double p1 = (double)in1 / n, p2 = (double)in2 / n;
    double r1 = lag1 / (n - 1), rp = pair / (n / 2);
    double se = 1 / sqrt((double)n);
    printf("noise sigma %g over %zu values, in units of sigma: mean %.5f (tol %.5f), std %.5f "
           "(tol 0.005), kurtosis %.4f (3 +- 0.03), P(|z|<1) %.5f (0.68269 +- 0.003), "
           "P(|z|<2) %.5f (0.95450 +- 0.002), lag-1 corr %.5f, pair corr %.5f (tol %.5f)\n",
           (double)sigma, n, mean, 5 * se, sd, kurt, p1, p2, r1, rp, 6 * se);
    check(fabs(mean) <= 5 * se, "noise mean %.5f sigma", mean);
    check(fabs(sd - 1) <= 0.005, "noise std %.5f sigma", sd);
    check(fabs(kurt - 3) <= 0.03, "noise kurtosis %.4f", kurt);
    check(fabs(p1 - 0.682689) <= 0.003, "noise P(|z|<1) %.5f", p1);
    check(fabs(p2 - 0.954500) <= 0.002, "noise P(|z|<2) %.5f", p2);
    check(fabs(r1) <= 6 * se && fabs(rp) <= 6 * sqrt(2.0) * se,
          "noise correlations: lag 1 %.5f, pair %.5f", r1, rp);

    /* order: noise after cutout, and the cutout square is the one chosen
     * without noise (noise draws after the geometry) */
    a.cutout = 1;
    float *y = malloc(sizeof(float) * B * PIX);
    cnn_augment c;
    cnn_augment_defaults(&c);
    c.cutout = 1;
    cnn_batch_fill_augmented(&data, idx, B, &norm, &a, SEED, 9, 0, x, NULL);
    cnn_batch_fill_augmented(&data, idx, B, &norm, &c, SEED, 9, 0, y, NULL);
    double q2 = 0;
    long in_square = 0, zeros = 0;
    for (size_t k = 0; k < n; k++)
        if (y[k] == 0.0f) {
            in_square++;
            zeros += x[k] == 0.0f;
            q2 += (double)x[k] * x[k];
        }
    double sq_sd = sqrt(q2 / (double)in_square) / sigma;
    printf("cutout+noise: %ld values in the squares, std there %.4f sigma, %ld exact zeros\n",
           in_square, sq_sd, zeros);
    check(in_square > 0 && zeros == 0 && fabs(sq_sd - 1) < 0.02,
          "cutout+noise: the square carries noise (std %.4f sigma, %ld zeros)", sq_sd, zeros);
    free(x);
    free(y);
    free(z);
}

/* ---- determinism ---- */
static void determinism_of(const cnn_augment *a, const char *what)
{
    enum { B = 128 };
    int idx[B];
    make_idx(idx, B, 1);
    size_t bytes = sizeof(float) * B * PIX;
    float *x1 = malloc(bytes), *x2 = malloc(bytes), *x3 = malloc(bytes), *x4 = malloc(bytes);
    int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    cnn_batch_fill_augmented(&data, idx, B, &norm, a, SEED, 77, 0, x1, NULL);
    omp_set_num_threads(2);
    cnn_batch_fill_augmented(&data, idx, B, &norm, a, SEED, 77, 0, x2, NULL);
    cnn_batch_fill_augmented(&data, idx, B, &norm, a, SEED, 78, 0, x3, NULL);
    cnn_batch_fill_augmented(&data, idx, B, &norm, a, SEED + 1, 77, 0, x4, NULL);
    omp_set_num_threads(threads);
    check(memcmp(x1, x2, bytes) == 0, "%s: same (seed, batch_id): 1 and 2 threads differ", what);
    int differ3 = 0, differ4 = 0;
    for (int i = 0; i < B; i++) { /* every image, not only the batch as a whole */
        differ3 += memcmp(x1 + (size_t)i * PIX, x3 + (size_t)i * PIX, sizeof(float) * PIX) != 0;
        differ4 += memcmp(x1 + (size_t)i * PIX, x4 + (size_t)i * PIX, sizeof(float) * PIX) != 0;
    }
    /* an MPI rank's shard, augmented alone: the same rows of the whole batch */
    int shards[][2] = {{0, 37}, {37, 54}, {91, 37}, {127, 1}};
    for (size_t k = 0; k < sizeof shards / sizeof shards[0]; k++) {
        int first = shards[k][0], count = shards[k][1];
        uint8_t lab[B];
        cnn_batch_fill_augmented_rows(&data, idx, first, count, &norm, a, SEED, 77, 0, x3, lab);
        check(memcmp(x3, x1 + (size_t)first * PIX, sizeof(float) * PIX * (size_t)count) == 0,
              "%s: rows %d..%d filled alone differ from the whole batch's", what, first,
              first + count - 1);
        check(lab[0] == data.labels[idx[first]], "%s: rows %d..: labels", what, first);
    }
    check(differ3 == B, "%s: another batch_id: only %d of %d images differ", what, differ3, B);
    check(differ4 == B, "%s: another seed: only %d of %d images differ", what, differ4, B);
    printf("determinism: %s batch of %d bit-identical on 1 and 2 threads; "
           "%d/%d images differ with batch_id + 1, %d/%d with seed + 1\n", what, B, differ3, B,
           differ4, B);
    free(x1);
    free(x2);
    free(x3);
    free(x4);
}

static void test_determinism(void)
{
    cnn_augment a;
    cnn_augment_defaults(&a);
    a.crop = a.flip = a.cutout = 1;
    a.input_noise = 0.05f;
    determinism_of(&a, "crop,flip,cutout,noise");
    cnn_augment_defaults(&a);
    a.translate = a.altflip = a.cutout = 1;
    a.input_noise = 0.05f;
    determinism_of(&a, "translate,altflip,cutout,noise");
}

/* ---- parsing ---- */
static void test_parse(void)
{
    cnn_augment a;
    cnn_error err;
    cnn_augment_defaults(&a);
    check(a.translate_padding == 2 && !a.translate && !a.altflip,
          "defaults: translate off, translate_padding 2, altflip off");
    a.crop_padding = 2;
    a.translate_padding = 3;
    a.cutout_size = 12;
    a.input_noise = 0.25f;
    cnn_status st = cnn_augment_parse("crop,flip", &a, &err);
    check(st == CNN_STATUS_OK && a.crop && a.flip && !a.cutout && !a.translate && !a.altflip,
          "parse crop,flip");
    check(a.crop_padding == 2 && a.translate_padding == 3 && a.cutout_size == 12 &&
              a.input_noise == 0.25f,
          "parse keeps sizes and noise");
    st = cnn_augment_parse("flip,cutout,crop", &a, &err);
    check(st == CNN_STATUS_OK && a.crop && a.flip && a.cutout, "parse flip,cutout,crop");
    st = cnn_augment_parse("cutout", &a, &err);
    check(st == CNN_STATUS_OK && !a.crop && !a.flip && a.cutout, "parse cutout switches the others off");
    st = cnn_augment_parse("altflip,translate", &a, &err);
    check(st == CNN_STATUS_OK && a.translate && a.altflip && !a.crop && !a.flip && !a.cutout,
          "parse altflip,translate");
    check(cnn_augment_active(&a), "translate,altflip is active");
    st = cnn_augment_parse("none", &a, &err);
    check(st == CNN_STATUS_OK && !a.crop && !a.flip && !a.cutout && !a.translate && !a.altflip &&
              a.input_noise == 0.25f,
          "parse none");

    static const struct {
        const char *list, *must[3];
    } bad[] = {
        {"crop,spin", {"--augment", "'spin'", "crop, translate, flip, altflip, cutout"}},
        {"", {"--augment", "empty item", "crop, translate, flip, altflip, cutout"}},
        {"crop,,flip", {"--augment", "empty item", "'crop,,flip'"}},
        {"Flip", {"--augment", "'Flip'", "none"}},
        {"none,crop", {"--augment", "none", "'none,crop'"}},
        {"translate,crop", {"--augment", "crop and translate exclude", "'translate,crop'"}},
        {"flip,altflip", {"--augment", "flip and altflip exclude", "'flip,altflip'"}},
    };
    for (size_t t = 0; t < sizeof bad / sizeof bad[0]; t++) {
        cnn_augment before = a, b = a;
        b.crop = 1;
        before.crop = 1;
        memset(&err, 0, sizeof err);
        st = cnn_augment_parse(bad[t].list, &b, &err);
        int ok = st == CNN_STATUS_INVALID_ARGUMENT && memcmp(&b, &before, sizeof b) == 0;
        for (int m = 0; m < 3; m++)
            ok &= strstr(err.msg, bad[t].must[m]) != NULL;
        check(ok, "parse '%s': status %d, message \"%s\", a unchanged: %d", bad[t].list, (int)st,
              err.msg, memcmp(&b, &before, sizeof b) == 0);
        printf("parse '%s' -> %s\n", bad[t].list, err.msg);
    }
}

int main(void)
{
    setup();
    if (!fixture_load(&views, "tests/fixtures/views.txt", "tools/fixtures/make_view_fixtures.py"))
        check(0, "views fixture missing");
    test_identity();
    test_flip();
    test_crop();
    test_reflect_rule();
    test_translate();
    test_altflip();
    test_views();
    test_cutout();
    test_noise();
    test_determinism();
    test_parse();
    cnn_dataset_free(&data);
    free(clean);
    fixture_free(&views);
    return check_finish("test_augment");
}
