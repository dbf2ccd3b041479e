/* test_readers.c: the readers of other data than CIFAR-10, on files this
 * test writes into a fresh folder under /tmp: IDX (raw and gzipped, the
 * EMNIST naming, refusals), CIFAR-100 (fine and coarse labels, names,
 * refusals), format detection, images (PNG gray/RGB/RGBA/palette, baseline
 * and progressive JPEG; conversion, resizing; empty, truncated and non-image
 * files, images of too many pixels), image folders (classes, split, held-out test share, bad files,
 * the cache: written, mapped, renewed when a file changes), normalisation
 * and batches of one channel, and models that take their shape from the
 * data (and refuse one they fix). No network, no real dataset. */
#define _POSIX_C_SOURCE 200809L
#include <stddef.h>
#include <stdio.h>
#include <jpeglib.h>
#include <png.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "check.h"
#include "cnnlab/cnnlab.h"
#include "core/core.h"

static char tmp[256];

static const char *in_tmp(const char *name)
{
    static char buf[8][512];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmp, name);
    return buf[k];
}

static void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n) {
        perror(path);
        exit(2);
    }
    fclose(f);
}

/* ---- IDX ---- */

static uint8_t idx_pixel(int i, int h, int w) { return (uint8_t)(i * 17 + h * 5 + w * 3); }

/* An IDX pair of n images h x w with labels i % classes (+ first); gz 1:
 * gzipped. extra > 0 appends bytes, cut > 0 drops that many from the images. */
static void write_idx(const char *images, const char *labels, int n, int h, int w, int classes,
                      int first, int gz, int extra, int cut)
{
    size_t isize = 16 + (size_t)n * h * w, lsize = 8 + (size_t)n;
    uint8_t *ib = calloc(isize + (size_t)extra, 1), *lb = calloc(lsize, 1);
    uint8_t ih[16] = {0, 0, 8, 3, (uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8),
                      (uint8_t)n, 0, 0, 0, (uint8_t)h, 0, 0, 0, (uint8_t)w};
    uint8_t lh[8] = {0, 0, 8, 1, (uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8),
                     (uint8_t)n};
    memcpy(ib, ih, 16);
    memcpy(lb, lh, 8);
    for (int i = 0; i < n; i++) {
        lb[8 + i] = (uint8_t)(first + i % classes);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                ib[16 + ((size_t)i * h + y) * w + x] = idx_pixel(i, y, x);
    }
    isize = isize + (size_t)extra - (size_t)cut;
    if (gz) {
        gzFile g = gzopen(images, "wb");
        gzwrite(g, ib, (unsigned)isize);
        gzclose(g);
        g = gzopen(labels, "wb");
        gzwrite(g, lb, (unsigned)lsize);
        gzclose(g);
    } else {
        write_file(images, ib, isize);
        write_file(labels, lb, lsize);
    }
    free(ib);
    free(lb);
}

static void test_idx(void)
{
    cnn_error err;
    cnn_dataset d;
    for (int gz = 0; gz < 2; gz++) {
        const char *im = in_tmp(gz ? "g-images.gz" : "r-images"),
                   *lb = in_tmp(gz ? "g-labels.gz" : "r-labels");
        write_idx(im, lb, 7, 5, 6, 4, 0, gz, 0, 0);
        cnn_status st = cnn_idx_load(im, lb, &d, &err);
        check(st == CNN_STATUS_OK, "idx %s: loads (%s)", gz ? "gzipped" : "raw", err.msg);
        if (st)
            continue;
        int same = d.count == 7 && d.c == 1 && d.h == 5 && d.w == 6 && d.classes == 4;
        for (int i = 0; same && i < 7; i++) {
            same = d.labels[i] == i % 4;
            for (int y = 0; same && y < 5; y++)
                for (int x = 0; x < 6; x++)
                    same &= d.pixels[((size_t)i * 5 + y) * 6 + x] == idx_pixel(i, y, x);
        }
        check(same, "idx %s: 7 images of 1x5x6, 4 classes, every byte in place (count %d, "
              "%dx%dx%d, %d classes)", gz ? "gzipped" : "raw", d.count, d.c, d.h, d.w, d.classes);
        cnn_dataset_free(&d);
    }
    /* refusals: each names the file */
    const char *im = in_tmp("bad-images"), *lb = in_tmp("bad-labels");
    write_idx(im, lb, 3, 4, 4, 2, 0, 0, 0, 5);
    cnn_status st = cnn_idx_load(im, lb, &d, &err);
    check(st == CNN_STATUS_FORMAT && strstr(err.msg, "bad-images") && strstr(err.msg, "truncated"),
          "idx truncated: refused naming the file: %s", err.msg);
    check(d.count == 0 && !d.pixels, "idx refused: output left empty");
    write_idx(im, lb, 3, 4, 4, 2, 0, 0, 9, 0);
    st = cnn_idx_load(im, lb, &d, &err);
    check(st == CNN_STATUS_FORMAT && strstr(err.msg, "found more"),
          "idx trailing bytes: refused: %s", err.msg);
    write_idx(im, in_tmp("four-labels"), 4, 4, 4, 2, 0, 0, 0, 0);
    write_idx(im, lb, 3, 4, 4, 2, 0, 0, 0, 0);
    st = cnn_idx_load(im, in_tmp("four-labels"), &d, &err);
    check(st == CNN_STATUS_FORMAT && strstr(err.msg, "4 labels"),
          "idx counts that differ: refused: %s", err.msg);
    write_file(im, "\x00\x00\x09\x03\x00\x00\x00\x01", 8);
    st = cnn_idx_load(im, lb, &d, &err);
    check(st == CNN_STATUS_FORMAT && strstr(err.msg, "magic"), "idx bad magic: refused: %s",
          err.msg);
    write_file(im, "", 0);
    st = cnn_idx_load(im, lb, &d, &err);
    check(st == CNN_STATUS_FORMAT && strstr(err.msg, "bad-images"), "idx empty file: refused: %s",
          err.msg);
}

/* An EMNIST-style folder: the source detects it, probes it, reads both splits. */
static void test_idx_source(void)
{
    cnn_error err;
    mkdir(in_tmp("emnist"), 0755);
    write_idx(in_tmp("emnist/emnist-letters-train-images-idx3-ubyte.gz"),
              in_tmp("emnist/emnist-letters-train-labels-idx1-ubyte.gz"), 30, 8, 8, 26, 1, 1, 0,
              0);
    write_idx(in_tmp("emnist/emnist-letters-test-images-idx3-ubyte.gz"),
              in_tmp("emnist/emnist-letters-test-labels-idx1-ubyte.gz"), 10, 8, 8, 5, 1, 1, 0, 0);
    cnn_data_source src = {.path = in_tmp("emnist")};
    cnn_data_info info;
    cnn_status st = cnn_data_probe(&src, &info, &err);
    check(st == CNN_STATUS_OK && info.format == CNN_DATA_IDX && info.c == 1 && info.h == 8 &&
              info.w == 8 && info.classes == 27,
          "emnist folder: detected as IDX, 8x8x1, 27 classes (labels 1-26) (%s; %s %dx%dx%d %d)",
          err.msg, cnn_data_format_name(info.format), info.h, info.w, info.c, info.classes);
    cnn_dataset d;
    st = cnn_data_load(&src, &info, 1, &d, &err);
    check(st == CNN_STATUS_OK && d.count == 10 && d.classes == 27 && d.labels[0] == 1,
          "emnist test split: 10 images with the training set's 27 classes (%s)", err.msg);
    cnn_dataset_free(&d);
    /* a second training set in the folder: the choice is the user's */
    write_idx(in_tmp("emnist/emnist-digits-train-images-idx3-ubyte.gz"),
              in_tmp("emnist/emnist-digits-train-labels-idx1-ubyte.gz"), 5, 8, 8, 10, 0, 1, 0, 0);
    st = cnn_data_probe(&src, &info, &err);
    check(st == CNN_STATUS_INVALID_ARGUMENT && strstr(err.msg, "emnist-digits-train") &&
              strstr(err.msg, "emnist-letters-train"),
          "two IDX training sets: refused, both named: %s", err.msg);
    src.path = in_tmp("emnist/emnist-digits-train-images-idx3-ubyte.gz");
    st = cnn_data_probe(&src, &info, &err);
    check(st == CNN_STATUS_OK && info.classes == 5, "the file named as --data picks it: its 5 "
          "classes (%s)", st ? err.msg : "ok");
    st = cnn_data_load(&src, &info, 1, &d, &err);
    check(st == CNN_STATUS_MISSING_DATA && strstr(err.msg, "test"),
          "its missing test set: refused: %s", err.msg);
}

/* ---- CIFAR-100 ---- */

static void test_cifar100(void)
{
    cnn_error err;
    cnn_dataset d;
    mkdir(in_tmp("c100"), 0755);
    const int n = 6;
    uint8_t rec[3074];
    FILE *f = fopen(in_tmp("c100/train.bin"), "wb");
    for (int i = 0; i < n; i++) {
        rec[0] = (uint8_t)(i * 3 % 20);
        rec[1] = (uint8_t)(i * 17 % 100);
        for (int k = 0; k < 3072; k++)
            rec[2 + k] = (uint8_t)(i + k);
        fwrite(rec, 1, sizeof rec, f);
    }
    fclose(f);
    write_file(in_tmp("c100/test.bin"), rec, sizeof rec);
    cnn_text names = {0};
    for (int k = 0; k < 100; k++)
        cnn_text_printf(&names, "fine%d\n", k);
    write_file(in_tmp("c100/fine_label_names.txt"), cnn_text_str(&names), names.len);
    cnn_text_free(&names);
    for (int coarse = 0; coarse < 2; coarse++) {
        cnn_status st = cnn_cifar100_load_file(in_tmp("c100/train.bin"), coarse, &d, &err);
        int ok = st == CNN_STATUS_OK && d.count == n && d.classes == (coarse ? 20 : 100) &&
                 d.c == 3 && d.h == 32 && d.w == 32;
        for (int i = 0; ok && i < n; i++)
            ok = d.labels[i] == (coarse ? i * 3 % 20 : i * 17 % 100) &&
                 d.pixels[(size_t)i * 3072 + 100] == (uint8_t)(i + 100);
        check(ok, "cifar-100 %s labels: %d records, labels and pixels in place (%s)",
              coarse ? "coarse" : "fine", d.count, err.msg);
        char num[16];
        const char *name = ok ? cnn_dataset_class_name(&d, 17, num, sizeof num) : "";
        check(!strcmp(name, coarse ? "17" : "fine17"),
              "cifar-100 %s: class 17 named '%s' (fine names from fine_label_names.txt; no "
              "coarse file: numbers)", coarse ? "coarse" : "fine", name);
        cnn_dataset_free(&d);
    }
    cnn_data_source src = {.path = in_tmp("c100"), .coarse = 1};
    cnn_data_info info;
    cnn_status st = cnn_data_probe(&src, &info, &err);
    check(st == CNN_STATUS_OK && info.format == CNN_DATA_CIFAR100 && info.classes == 20,
          "cifar-100 folder detected, coarse: 20 classes (%s)", info.name);
    rec[1] = 100;
    write_file(in_tmp("c100/bad.bin"), rec, sizeof rec);
    st = cnn_cifar100_load_file(in_tmp("c100/bad.bin"), 0, &d, &err);
    check(st == CNN_STATUS_FORMAT && strstr(err.msg, "bad.bin") && strstr(err.msg, "100"),
          "cifar-100 fine label 100: refused: %s", err.msg);
    write_file(in_tmp("c100/short.bin"), rec, 3000);
    st = cnn_cifar100_load_file(in_tmp("c100/short.bin"), 0, &d, &err);
    check(st == CNN_STATUS_FORMAT && strstr(err.msg, "short.bin"),
          "cifar-100 short file: refused: %s", err.msg);
}

/* ---- images ---- */

/* A w x h test picture: channel c of pixel (y, x). */
static uint8_t pic(int y, int x, int c) { return (uint8_t)(30 + 6 * y + 4 * x + 40 * c); }

static void write_png(const char *path, int w, int h, int format)
{
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    img.width = (png_uint_32)w;
    img.height = (png_uint_32)h;
    img.format = (png_uint_32)format;
    int ch = (int)PNG_IMAGE_PIXEL_CHANNELS(format);
    uint8_t *px = malloc((size_t)w * h * 4), colormap[256 * 3];
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < ch; c++)
                px[((size_t)y * w + x) * ch + c] = c == 3 ? 128 : pic(y, x, c);
    if (format & PNG_FORMAT_FLAG_COLORMAP) { /* one palette entry per pixel */
        img.colormap_entries = (png_uint_32)(w * h);
        for (int k = 0; k < w * h; k++) {
            for (int c = 0; c < 3; c++)
                colormap[3 * k + c] = pic(k / w, k % w, c);
            px[k] = (uint8_t)k;
        }
    }
    if (!png_image_write_to_file(&img, path, 0, px, 0,
                                 (format & PNG_FORMAT_FLAG_COLORMAP) ? colormap : NULL)) {
        fprintf(stderr, "test: writing %s: %s\n", path, img.message);
        exit(2);
    }
    free(px);
}

static void write_jpeg(const char *path, int w, int h, int gray, int progressive)
{
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr e;
    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    FILE *f = fopen(path, "wb");
    jpeg_stdio_dest(&c, f);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = gray ? 1 : 3;
    c.in_color_space = gray ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 95, TRUE);
    if (progressive)
        jpeg_simple_progression(&c);
    jpeg_start_compress(&c, TRUE);
    uint8_t *row = malloc((size_t)w * 3);
    while (c.next_scanline < c.image_height) {
        for (int x = 0; x < w; x++)
            for (int k = 0; k < (gray ? 1 : 3); k++)
                row[x * (gray ? 1 : 3) + k] = pic((int)c.next_scanline, x, k);
        JSAMPROW r = row;
        jpeg_write_scanlines(&c, &r, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    fclose(f);
    free(row);
}

/* max |out - pic| over a same-size read (c channels; gray: the luma) */
static int max_error(const uint8_t *out, int c, int h, int w, int gray_src)
{
    int worst = 0;
    for (int k = 0; k < c; k++)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                int want;
                if (gray_src)
                    want = pic(y, x, 0);
                else if (c == 1)
                    want = (int)((19595u * pic(y, x, 0) + 38470u * pic(y, x, 1) +
                                  7471u * pic(y, x, 2) + 0x8000u) >> 16);
                else
                    want = pic(y, x, k);
                int d = abs((int)out[((size_t)k * h + y) * w + x] - want);
                worst = d > worst ? d : worst;
            }
    return worst;
}

/* Images of too many pixels are refused from the header: a real 9000x8000
 * 1-bit PNG (9 MB of zero rows, ~9 KB compressed), and a JPEG whose frame
 * header is patched to say 9000x9000. */
static void test_too_many_pixels(void)
{
    uint8_t out[3 * 4 * 5], buf[4096];
    size_t n;
    cnn_error err = {0};
    cnn_status st;
    const unsigned pw = 9000, ph = 8000;
    uLong raw_n = (uLong)ph * (1 + (pw + 7) / 8), z_n = compressBound(raw_n);
    uint8_t *raw = calloc(raw_n, 1), *z = malloc(z_n);
    CNN_ASSERT(raw && z);
    compress2(z, &z_n, raw, raw_n, 9);
    uint8_t ihdr[17] = {'I', 'H', 'D', 'R', pw >> 24, pw >> 16 & 255, pw >> 8 & 255,
                        pw & 255, ph >> 24, ph >> 16 & 255, ph >> 8 & 255, ph & 255, 1, 0};
    FILE *g = fopen(in_tmp("bomb.png"), "wb");
    const struct {
        const uint8_t *type_data;
        size_t n;
    } chunk[] = {{ihdr, 13}, {NULL, z_n}, {(const uint8_t *)"IEND", 0}};
    fwrite("\x89PNG\r\n\x1a\n", 1, 8, g);
    for (int i = 0; i < 3; i++) {
        uint8_t *body = malloc(4 + chunk[i].n);
        memcpy(body, i == 1 ? (const uint8_t *)"IDAT" : chunk[i].type_data, 4);
        if (chunk[i].n)
            memcpy(body + 4, i == 1 ? z : chunk[i].type_data + 4, chunk[i].n);
        uLong crc = crc32(0, body, (uInt)(4 + chunk[i].n));
        uint8_t len[4] = {chunk[i].n >> 24, chunk[i].n >> 16 & 255, chunk[i].n >> 8 & 255,
                          chunk[i].n & 255};
        uint8_t tail[4] = {crc >> 24, crc >> 16 & 255, crc >> 8 & 255, crc & 255};
        fwrite(len, 1, 4, g);
        fwrite(body, 1, 4 + chunk[i].n, g);
        fwrite(tail, 1, 4, g);
        free(body);
    }
    fclose(g);
    free(raw);
    free(z);
    write_jpeg(in_tmp("bomb.jpg"), 16, 16, 0, 0);
    g = fopen(in_tmp("bomb.jpg"), "r+b");
    n = fread(buf, 1, sizeof buf, g);
    for (size_t k = 0; k + 8 < n; k++)
        if (buf[k] == 0xff && buf[k + 1] == 0xc0) { /* SOF0: length, precision, h, w */
            buf[k + 5] = buf[k + 7] = 9000 >> 8, buf[k + 6] = buf[k + 8] = 9000 & 255;
            break;
        }
    rewind(g);
    fwrite(buf, 1, n, g);
    fclose(g);
    const char *bombs[] = {"bomb.png", "bomb.jpg"};
    for (int i = 0; i < 2; i++) {
        memset(out, 0xab, sizeof out);
        st = cnn_image_read(in_tmp(bombs[i]), 3, 4, 5, out, &err);
        check(st == CNN_STATUS_FORMAT && strstr(err.msg, bombs[i]) &&
                  strstr(err.msg, "megapixels") && out[0] == 0xab,
              "%s (%s): refused before decoding, naming it (%s)", bombs[i],
              i ? "9000x9000" : "9000x8000", st ? err.msg : "decoded, not refused");
    }
}

static void test_images(void)
{
    cnn_error err;
    uint8_t out[3 * 16 * 16];
    const struct {
        const char *name;
        int format;
        int gray;
    } pngs[] = {{"gray.png", PNG_FORMAT_GRAY, 1},
                {"rgb.png", PNG_FORMAT_RGB, 0},
                {"rgba.png", PNG_FORMAT_RGBA, 0},
                {"palette.png", PNG_FORMAT_RGB_COLORMAP, 0}};
    for (size_t i = 0; i < sizeof pngs / sizeof pngs[0]; i++) {
        write_png(in_tmp(pngs[i].name), 5, 4, pngs[i].format);
        for (int c = 1; c <= 3; c += 2) {
            cnn_status st = cnn_image_read(in_tmp(pngs[i].name), c, 4, 5, out, &err);
            int worst = st ? -1 : max_error(out, c, 4, 5, pngs[i].gray);
            check(st == CNN_STATUS_OK && worst == 0, "%s read as %d channel%s at its size: every "
                  "byte exact (max error %d; %s)", pngs[i].name, c, c > 1 ? "s" : "", worst,
                  st ? err.msg : "ok");
        }
    }
    for (int prog = 0; prog < 2; prog++) {
        write_jpeg(in_tmp(prog ? "prog.jpg" : "base.jpg"), 16, 12, 0, prog);
        cnn_status st = cnn_image_read(in_tmp(prog ? "prog.jpg" : "base.jpg"), 3, 12, 16, out,
                                       &err);
        int worst = st ? -1 : max_error(out, 3, 12, 16, 0);
        check(st == CNN_STATUS_OK && worst <= 12, "%s JPEG at its size: within 12 of the "
              "picture (quality 95; max error %d)", prog ? "progressive" : "baseline", worst);
    }
    write_jpeg(in_tmp("gray.jpg"), 8, 8, 1, 0);
    cnn_status st = cnn_image_read(in_tmp("gray.jpg"), 3, 8, 8, out, &err);
    check(st == CNN_STATUS_OK && !memcmp(out, out + 64, 64) && !memcmp(out, out + 128, 64),
          "grayscale JPEG as RGB: three equal planes (%s)", st ? err.msg : "ok");
    /* resizing: a flat picture stays flat; the shape is the one asked for */
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    img.width = 40, img.height = 30, img.format = PNG_FORMAT_RGB;
    uint8_t *flat = malloc(40 * 30 * 3);
    for (int k = 0; k < 40 * 30; k++)
        flat[3 * k] = 200, flat[3 * k + 1] = 100, flat[3 * k + 2] = 7;
    png_image_write_to_file(&img, in_tmp("flat.png"), 0, flat, 0, NULL);
    free(flat);
    st = cnn_image_read(in_tmp("flat.png"), 3, 7, 9, out, &err);
    int ok = st == CNN_STATUS_OK;
    for (int k = 0; ok && k < 63; k++)
        ok = out[k] == 200 && out[63 + k] == 100 && out[126 + k] == 7;
    check(ok, "a 40x30 flat PNG resized to 9x7 (stb_image_resize): still (200, 100, 7) everywhere");
    /* bad files: the message names the file and says what is wrong */
    write_file(in_tmp("empty.png"), "", 0);
    write_file(in_tmp("text.jpg"), "hello, world\n", 13);
    FILE *f = fopen(in_tmp("rgb.png"), "rb");
    uint8_t buf[4096];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    write_file(in_tmp("cut.png"), buf, n / 2);
    f = fopen(in_tmp("base.jpg"), "rb");
    n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    write_file(in_tmp("cut.jpg"), buf, n / 3);
    const struct {
        const char *file, *says;
    } bad[] = {{"empty.png", "empty file"},
               {"text.jpg", "not a PNG or JPEG"},
               {"cut.png", "PNG"},
               {"cut.jpg", "JPEG"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(out, 0xab, sizeof out);
        st = cnn_image_read(in_tmp(bad[i].file), 3, 4, 5, out, &err);
        check(st == CNN_STATUS_FORMAT && strstr(err.msg, bad[i].file) &&
                  strstr(err.msg, bad[i].says),
              "%s: refused, naming it (%s)", bad[i].file, err.msg);
    }
    st = cnn_image_read(in_tmp("nothere.png"), 3, 4, 5, out, &err);
    check(st != CNN_STATUS_OK && strstr(err.msg, "nothere.png"), "a missing file: refused: %s",
          err.msg);
}

/* ---- image folders ---- */

static int notes;
static void count_note(void *user, const char *line)
{
    (void)user;
    (void)line;
    notes++;
}

static void make_folder(const char *root, int with_test)
{
    const char *classes[3] = {"cat", "dog", "emu"};
    char path[600];
    mkdir(root, 0755);
    for (int split = 0; split < 1 + with_test; split++) {
        snprintf(path, sizeof path, "%s/%s", root, split ? "test" : "train");
        mkdir(path, 0755);
        for (int k = 0; k < 3; k++) {
            snprintf(path, sizeof path, "%s/%s/%s", root, split ? "test" : "train", classes[k]);
            mkdir(path, 0755);
            for (int i = 0; i < (split ? 2 : 6); i++) {
                snprintf(path, sizeof path, "%s/%s/%s/%d.%s", root, split ? "test" : "train",
                         classes[k], i, i % 2 ? "jpg" : "png");
                if (i % 2)
                    write_jpeg(path, 10 + i, 12, k == 2, i == 3);
                else
                    write_png(path, 9, 7 + i, k == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGBA);
            }
        }
    }
}

static void test_folder(void)
{
    cnn_error err;
    cnn_dataset a, b;
    const char *root = in_tmp("imgs");
    make_folder(root, 1);
    cnn_data_source src = {.path = root, .image_h = 8, .image_w = 6, .note = count_note};
    cnn_data_info info;
    cnn_status st = cnn_data_probe(&src, &info, &err);
    check(st == CNN_STATUS_OK && info.format == CNN_DATA_FOLDER && info.classes == 3 &&
              info.h == 8 && info.w == 6 && info.c == 3,
          "image folder detected: 3 classes, 8x6x3 as asked (%s)", err.msg);
    st = cnn_data_load(&src, &info, 0, &a, &err);
    char num[16];
    check(st == CNN_STATUS_OK && a.count == 18 && a.labels[0] == 0 && a.labels[17] == 2 &&
              !strcmp(cnn_dataset_class_name(&a, 1, num, sizeof num), "dog") && !a.map_bytes,
          "first load: 18 training images decoded, labels in class order, names from the "
          "folders (%s)", err.msg);
    struct stat sb;
    char cache[600];
    snprintf(cache, sizeof cache, "%s/.cnnlab-cache", root);
    check(stat(cache, &sb) == 0 && S_ISDIR(sb.st_mode), "the decoded images were cached in %s",
          cache);
    st = cnn_data_load(&src, &info, 0, &b, &err);
    check(st == CNN_STATUS_OK && b.map_bytes > 0 && b.count == a.count &&
              !memcmp(a.pixels, b.pixels, (size_t)a.count * 144) &&
              !memcmp(a.labels, b.labels, (size_t)a.count),
          "second load: mapped from the cache, the same bytes and labels");
    cnn_dataset_free(&b);
    cnn_dataset t;
    st = cnn_data_load(&src, &info, 1, &t, &err);
    check(st == CNN_STATUS_OK && t.count == 6, "test split: test/'s 6 images (%s)", err.msg);
    cnn_dataset_free(&t);
    /* a changed file makes a new key: decoded again, and the new pixels seen */
    char path[600];
    snprintf(path, sizeof path, "%s/train/cat/0.png", root);
    write_png(path, 9, 7, PNG_FORMAT_GRAY);
    st = cnn_data_load(&src, &info, 0, &b, &err);
    check(st == CNN_STATUS_OK && !b.map_bytes && memcmp(a.pixels, b.pixels, 144) != 0 &&
              !memcmp(b.pixels, b.pixels + 48, 48),
          "after a file changed: decoded again, its new (gray) pixels read");
    cnn_dataset_free(&b);
    cnn_dataset_free(&a);
    /* one channel */
    src.channels = 1;
    cnn_data_probe(&src, &info, &err);
    st = cnn_data_load(&src, &info, 0, &a, &err);
    check(st == CNN_STATUS_OK && a.c == 1 && info.c == 1, "--channels 1: one plane (%s)", err.msg);
    cnn_norm norm;
    cnn_norm_compute(&a, NULL, a.count, &norm);
    float *x = malloc(sizeof(float) * 48 * (size_t)a.count);
    cnn_batch_fill(&a, NULL, a.count, &norm, x, NULL);
    double s = 0, q = 0;
    for (int k = 0; k < 48 * a.count; k++)
        s += x[k], q += (double)x[k] * x[k];
    double mean = s / (48.0 * a.count), var = q / (48.0 * a.count) - mean * mean;
    check(fabs(mean) < 1e-4 && fabs(var - 1) < 1e-3 && norm.std[1] == 1 && norm.mean[1] == 0,
          "one channel: normalised batch has mean %.2g, variance %.6f; unused channels mean 0 "
          "std 1", mean, var);
    cnn_augment aug;
    cnn_augment_defaults(&aug);
    aug.crop = aug.flip = aug.cutout = 1;
    aug.crop_padding = 2, aug.cutout_size = 3, aug.input_noise = 0.1f;
    cnn_batch_fill_augmented(&a, NULL, a.count, &norm, &aug, 1, 0, 0, x, NULL);
    int finite = 1;
    for (int k = 0; k < 48 * a.count; k++)
        finite &= isfinite(x[k]);
    check(finite, "one channel, 8x6: crop, flip, cutout and noise give finite values");
    free(x);
    cnn_dataset_free(&a);
    src.channels = 0;
    /* a bad file: refused, naming it, and nothing cached; --skip-bad leaves it out */
    snprintf(path, sizeof path, "%s/train/dog/2.png", root);
    write_file(path, "GIF89a", 6);
    notes = 0;
    st = cnn_data_load(&src, &info, 0, &a, &err);
    check(st == CNN_STATUS_FORMAT && strstr(err.msg, "dog/2.png") && strstr(err.msg, "1 of 18") &&
              notes == 1,
          "a non-image in the folder: refused naming it, one note (%s)", err.msg);
    src.skip_bad = 1;
    notes = 0;
    st = cnn_data_load(&src, &info, 0, &a, &err);
    check(st == CNN_STATUS_OK && a.count == 17 && notes >= 2,
          "--skip-bad: 17 images, the bad one listed and counted (%d notes)", notes);
    cnn_dataset_free(&a);
    /* without test/: a share held out by each path's hash, the same every time */
    const char *flat = in_tmp("notest");
    make_folder(flat, 0);
    cnn_data_source fs = {.path = flat, .test_fraction = 0.3};
    cnn_dataset tr, te, te2;
    st = cnn_data_probe(&fs, &info, &err);
    if (!st)
        st = cnn_data_load(&fs, &info, 0, &tr, &err);
    if (!st)
        st = cnn_data_load(&fs, &info, 1, &te, &err);
    if (!st)
        st = cnn_data_load(&fs, &info, 1, &te2, &err);
    check(st == CNN_STATUS_OK && tr.count + te.count == 18 && te.count > 0 && tr.count > 0 &&
              te2.count == te.count && !memcmp(te.pixels, te2.pixels, (size_t)te.count * 3072),
          "no test/: %d training and %d held-out images, 18 in all; the same held out again "
          "(%s)", st ? 0 : tr.count, st ? 0 : te.count, err.msg);
    if (!st) {
        cnn_dataset_free(&tr);
        cnn_dataset_free(&te);
        cnn_dataset_free(&te2);
    }
}

/* ---- models take their shape from the data ---- */

static void test_model_shape(void)
{
    cnn_error err;
    const cnn_model_desc *d;
    cnn_data_shape mnist = {28, 28, 1, 10};
    cnn_status st = cnn_model_load_shaped("lenet5", NULL, &mnist, &d, &err);
    cnn_model *m = NULL;
    if (!st)
        st = cnn_model_create(d, NULL, &m, &err);
    check(st == CNN_STATUS_OK && d->in_h == 28 && d->in_c == 1 && d->classes == 10 &&
              m->layers[0].in.c == 1,
          "lenet5 on 28x28x1: takes the data's shape (%s)", err.msg);
    cnn_model_destroy(m);
    const cnn_model_desc *cifar;
    cnn_model_load("lenet5", NULL, &cifar, &err);
    check(cifar->in_h == 32 && cifar->in_c == 3 && d != cifar,
          "lenet5 without a shape: CIFAR-10's, a description of its own");
    cnn_data_shape c100 = {32, 32, 3, 100};
    st = cnn_model_load_shaped("resnet20", NULL, &c100, &d, &err);
    check(st == CNN_STATUS_OK && d->classes == 100, "resnet20 on CIFAR-100: 100 classes");
    write_file(in_tmp("fixed.cnn"), "input 32 32 3\nclasses 10\nconv 8 k=3\ngap\nlinear $classes\n",
               56);
    st = cnn_model_load_shaped(in_tmp("fixed.cnn"), NULL, &mnist, &d, &err);
    if (!st)
        st = cnn_model_check_data(d, 28, 28, 1, 10, "IDX", &err);
    check(st == CNN_STATUS_INVALID_ARGUMENT && strstr(err.msg, "32x32x3") &&
              strstr(err.msg, "28x28x1") && strstr(err.msg, "IDX"),
          "a model that fixes its input: refused, both shapes named: %s", err.msg);
    st = cnn_model_load_shaped("vgg11", NULL, &mnist, &d, &err);
    if (!st)
        st = cnn_model_create(d, NULL, &m, &err);
    check(st != CNN_STATUS_OK && strstr(err.msg, "layer"),
          "vgg11 on 28x28: refused, naming the layer that cannot take it: %s", err.msg);
}

int main(void)
{
    snprintf(tmp, sizeof tmp, "/tmp/cnnlab-test-readers.XXXXXX");
    if (!mkdtemp(tmp)) {
        perror("mkdtemp");
        return 2;
    }
    test_idx();
    test_idx_source();
    test_cifar100();
    test_images();
    test_too_many_pixels();
    test_folder();
    test_model_shape();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0)
        printf("note: could not remove %s\n", tmp);
    return check_finish("test_readers");
}
