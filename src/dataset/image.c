/* image.c: one PNG or JPEG file to C x H x W planar bytes, as the image
 * folder reader and `cnnlab predict` read them.
 *
 * Steps: the file's first bytes say its format (PNG's 8-byte signature,
 * JPEG's FF D8 FF); libpng's simplified API decodes any PNG (grayscale, RGB,
 * palette, with alpha, 16-bit) to 8-bit RGBA, libjpeg(-turbo) any JPEG it
 * supports (baseline, progressive; grayscale or YCbCr) to RGB; alpha is
 * dropped, as PIL's convert("RGB") does; one channel is the luma
 * L = (19595 R + 38470 G + 7471 B + 2^15) >> 16, PIL's convert("L") in
 * integers; an image of another size is resized with stb_image_resize
 * (Debian's libstb: stbir_resize_uint8, its default filters), one of the
 * right size is copied as it is. An image over MAX_PIXELS is refused from its
 * header, before any decoding: a few kilobytes of PNG can claim a gigapixel
 * (a 1-bit image compresses 1000:1), which would take seconds and gigabytes
 * to decode only to be shrunk to 32x32. Invariant: on failure nothing is
 * written to out and the message names the file and what was wrong. */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <png.h>
#include <stb/stb_image_resize.h>

#include "cnnlab/data.h"
#include "core/core.h"

#define MAX_SIDE 32768          /* larger images are refused, not decoded, */
#define MAX_PIXELS (8192 * 8192) /* and so are those of more pixels */

/* Refuses a kind ("PNG", "JPEG") of image whose header says w x h when a
 * side is 0 or over MAX_SIDE, or there are over MAX_PIXELS pixels. */
static cnn_status check_size(const char *path, const char *kind, unsigned w, unsigned h,
                             cnn_error *err)
{
    if (w < 1 || h < 1 || w > MAX_SIDE || h > MAX_SIDE)
        return cnn_error_set(err, CNN_STATUS_FORMAT, "%s: %s of %ux%u pixels; expected sides of "
                             "1 to %d", path, kind, w, h, MAX_SIDE);
    if ((unsigned long long)w * h > MAX_PIXELS)
        return cnn_error_set(err, CNN_STATUS_FORMAT, "%s: %s of %ux%u pixels (%.1f megapixels); "
                             "expected at most %.1f megapixels (resize it first)", path, kind,
                             w, h, (double)w * h / 1e6, MAX_PIXELS / 1e6);
    return CNN_STATUS_OK;
}

/* A decoded image: w x h pixels of ch interleaved bytes (3 or 4). */
typedef struct decoded {
    uint8_t *px;
    int w, h, ch;
} decoded;

static cnn_status decode_png(const char *path, const uint8_t *data, size_t size, decoded *out,
                             cnn_error *err)
{
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&img, data, size))
        return cnn_error_set(err, CNN_STATUS_FORMAT, "%s: not a readable PNG image (%s)", path,
                             img.message);
    cnn_status st = check_size(path, "PNG", img.width, img.height, err);
    if (st) {
        png_image_free(&img);
        return st;
    }
    img.format = PNG_FORMAT_RGBA;
    out->px = malloc(PNG_IMAGE_SIZE(img));
    if (!out->px) {
        png_image_free(&img);
        return cnn_error_set(err, CNN_STATUS_NO_MEMORY, "%s: no memory for %ux%u pixels", path,
                             img.width, img.height);
    }
    if (!png_image_finish_read(&img, NULL, out->px, 0, NULL)) {
        free(out->px);
        out->px = NULL;
        return cnn_error_set(err, CNN_STATUS_FORMAT, "%s: damaged PNG image (%s)", path,
                             img.message);
    }
    out->w = (int)img.width;
    out->h = (int)img.height;
    out->ch = 4;
    return CNN_STATUS_OK;
}

/* libjpeg reports errors through a longjmp back into decode_jpeg. */
typedef struct jpeg_fail {
    struct jpeg_error_mgr mgr;
    jmp_buf back;
    char message[JMSG_LENGTH_MAX];
} jpeg_fail;

static void jpeg_on_error(j_common_ptr c)
{
    jpeg_fail *f = (jpeg_fail *)c->err;
    f->mgr.format_message(c, f->message);
    longjmp(f->back, 1);
}

static void jpeg_on_message(j_common_ptr c) { (void)c; } /* warnings: not printed */

static cnn_status decode_jpeg(const char *path, const uint8_t *data, size_t size, decoded *out,
                              cnn_error *err)
{
    struct jpeg_decompress_struct d;
    jpeg_fail fail;
    uint8_t *volatile px = NULL;
    d.err = jpeg_std_error(&fail.mgr);
    fail.mgr.error_exit = jpeg_on_error;
    fail.mgr.output_message = jpeg_on_message;
    if (setjmp(fail.back)) {
        jpeg_destroy_decompress(&d);
        free(px);
        return cnn_error_set(err, CNN_STATUS_FORMAT, "%s: damaged JPEG image (%s)", path,
                             fail.message);
    }
    jpeg_create_decompress(&d);
    jpeg_mem_src(&d, data, (unsigned long)size);
    jpeg_read_header(&d, TRUE);
    if (d.jpeg_color_space == JCS_CMYK || d.jpeg_color_space == JCS_YCCK) {
        jpeg_destroy_decompress(&d);
        return cnn_error_set(err, CNN_STATUS_FORMAT, "%s: a CMYK JPEG; expected grayscale or "
                             "color (YCbCr, RGB)", path);
    }
    cnn_status st = check_size(path, "JPEG", d.image_width, d.image_height, err);
    if (st) {
        jpeg_destroy_decompress(&d);
        return st;
    }
    d.out_color_space = JCS_RGB;
    jpeg_start_decompress(&d);
    size_t row = (size_t)d.output_width * 3;
    px = malloc(row * d.output_height);
    if (!px) {
        jpeg_destroy_decompress(&d);
        return cnn_error_set(err, CNN_STATUS_NO_MEMORY, "%s: no memory for %ux%u pixels", path,
                             d.output_width, d.output_height);
    }
    while (d.output_scanline < d.output_height) {
        JSAMPROW r = px + row * d.output_scanline;
        jpeg_read_scanlines(&d, &r, 1);
    }
    jpeg_finish_decompress(&d);
    out->px = px;
    out->w = (int)d.output_width;
    out->h = (int)d.output_height;
    out->ch = 3;
    jpeg_destroy_decompress(&d);
    return CNN_STATUS_OK;
}

cnn_status cnn_image_decode(const char *path, const uint8_t *data, size_t size, int c, int h,
                            int w, uint8_t *out, cnn_error *err)
{
    CNN_ASSERT((c == 1 || c == 3) && h >= 1 && w >= 1);
    static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    decoded im = {0};
    cnn_status st;
    if (size == 0)
        return cnn_error_set(err, CNN_STATUS_FORMAT, "%s: empty file (0 bytes); expected a PNG "
                             "or JPEG image", path);
    if (size >= 8 && !memcmp(data, png_sig, 8))
        st = decode_png(path, data, size, &im, err);
    else if (size >= 3 && data[0] == 0xff && data[1] == 0xd8 && data[2] == 0xff)
        st = decode_jpeg(path, data, size, &im, err);
    else
        st = cnn_error_set(err, CNN_STATUS_FORMAT, "%s: not a PNG or JPEG image (it starts with "
                           "%02x %02x %02x %02x)", path, data[0], size > 1 ? data[1] : 0,
                           size > 2 ? data[2] : 0, size > 3 ? data[3] : 0);
    if (st)
        return st;
    /* the channels wanted, still interleaved: RGB (alpha dropped) or luma,
     * in place (pixel k moves down from k * im.ch to k * c, c <= im.ch) */
    size_t n = (size_t)im.w * (size_t)im.h;
    uint8_t *px = im.px, *sized = NULL;
    for (size_t k = 0; c != im.ch && k < n; k++) {
        const uint8_t *p = px + k * (size_t)im.ch;
        if (c == 3) {
            uint8_t r = p[0], g = p[1], b = p[2];
            px[3 * k] = r, px[3 * k + 1] = g, px[3 * k + 2] = b;
        } else {
            px[k] = (uint8_t)((19595u * p[0] + 38470u * p[1] + 7471u * p[2] + 0x8000u) >> 16);
        }
    }
    const uint8_t *src = px;
    if (im.w != w || im.h != h) {
        sized = malloc((size_t)w * (size_t)h * (size_t)c);
        if (!sized || !stbir_resize_uint8(px, im.w, im.h, 0, sized, w, h, 0, c)) {
            free(px);
            free(sized);
            return cnn_error_set(err, CNN_STATUS_NO_MEMORY, "%s: resizing %dx%d to %dx%d failed "
                                 "(no memory)", path, im.w, im.h, w, h);
        }
        src = sized;
    }
    /* interleaved to planar */
    size_t plane = (size_t)w * (size_t)h;
    for (int ch = 0; ch < c; ch++)
        for (size_t k = 0; k < plane; k++)
            out[(size_t)ch * plane + k] = src[k * (size_t)c + (size_t)ch];
    free(px);
    free(sized);
    return CNN_STATUS_OK;
}

cnn_status cnn_image_read(const char *path, int c, int h, int w, uint8_t *out, cnn_error *err)
{
    unsigned char *data;
    size_t size;
    cnn_status st = cnn_file_read_all(path, &data, &size, err);
    if (st)
        return st;
    st = cnn_image_decode(path, data, size, c, h, w, out, err);
    free(data);
    return st;
}
