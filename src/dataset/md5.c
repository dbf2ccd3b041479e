/* md5.c: MD5 message digest, written from the description in RFC 1321.
 *
 * The message is padded with one 1 bit, zeros up to 56 bytes mod 64, and its
 * length in bits as a 64-bit little-endian number; each 64-byte block is mixed
 * into the four 32-bit words A, B, C, D by four rounds of sixteen steps
 *   a = b + ((a + f(b, c, d) + X[k] + T[i]) <<< s)
 * with f = F, G, H, I in rounds 1-4. All words are little-endian.
 * Invariant: block holds length % 64 bytes not yet compressed. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/core.h"
#include "dataset/md5.h"

/* T[i] = floor(2^32 * |sin(i + 1)|), i = 0..63 (radians). */
static const uint32_t T[64] = {
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee,
    0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be,
    0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa,
    0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed,
    0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c,
    0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05,
    0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039,
    0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1,
    0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
};

/* Rotation amounts: four per round, repeated four times within the round. */
static const int S[4][4] = {{7, 12, 17, 22}, {5, 9, 14, 20}, {4, 11, 16, 23}, {6, 10, 15, 21}};

static uint32_t rotl32(uint32_t v, int s) { return (v << s) | (v >> (32 - s)); }

static uint32_t load_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void store_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* Mixes one 64-byte block into state. */
static void compress(uint32_t state[4], const uint8_t block[64])
{
    uint32_t x[16];
    for (int k = 0; k < 16; k++)
        x[k] = load_le32(block + 4 * k);
    uint32_t a = state[0], b = state[1], c = state[2], d = state[3];
    for (int i = 0; i < 64; i++) {
        int round = i / 16;
        uint32_t f;
        int k;
        switch (round) {
        case 0: f = (b & c) | (~b & d); k = i; break;
        case 1: f = (b & d) | (c & ~d); k = (5 * i + 1) % 16; break;
        case 2: f = b ^ c ^ d; k = (3 * i + 5) % 16; break;
        default: f = c ^ (b | ~d); k = (7 * i) % 16; break;
        }
        uint32_t t = b + rotl32(a + f + x[k] + T[i], S[round][i % 4]);
        /* (a, b, c, d) <- (d, new, b, c): the RFC's rotating argument order. */
        a = d;
        d = c;
        c = b;
        b = t;
    }
    state[0] += a;
    state[1] += b;
    state[2] += c;
    state[3] += d;
}

void cnn_md5_init(cnn_md5 *m)
{
    m->state[0] = 0x67452301u;
    m->state[1] = 0xefcdab89u;
    m->state[2] = 0x98badcfeu;
    m->state[3] = 0x10325476u;
    m->length = 0;
}

void cnn_md5_update(cnn_md5 *m, const void *data, size_t size)
{
    const uint8_t *p = data;
    size_t have = (size_t)(m->length % 64);
    m->length += size;
    if (have > 0) {
        size_t take = 64 - have < size ? 64 - have : size;
        memcpy(m->block + have, p, take);
        p += take;
        size -= take;
        if (have + take < 64)
            return;
        compress(m->state, m->block);
    }
    for (; size >= 64; p += 64, size -= 64)
        compress(m->state, p);
    memcpy(m->block, p, size);
}

void cnn_md5_final(cnn_md5 *m, uint8_t digest[16])
{
    uint64_t bits = m->length * 8;
    uint8_t pad[72] = {0x80};
    size_t have = (size_t)(m->length % 64);
    size_t npad = (have < 56 ? 56 : 120) - have; /* 1 to 64 bytes */
    uint8_t len[8];
    for (int i = 0; i < 8; i++)
        len[i] = (uint8_t)(bits >> (8 * i));
    cnn_md5_update(m, pad, npad);
    cnn_md5_update(m, len, 8);
    CNN_ASSERT(m->length % 64 == 0);
    for (int i = 0; i < 4; i++)
        store_le32(digest + 4 * i, m->state[i]);
}

void cnn_md5_hex(const uint8_t digest[16], char hex[33])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        hex[2 * i] = digits[digest[i] >> 4];
        hex[2 * i + 1] = digits[digest[i] & 15];
    }
    hex[32] = 0;
}

cnn_status cnn_md5_file(const char *path, char hex[33], cnn_error *err)
{
    hex[0] = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return cnn_error_set(err, CNN_STATUS_IO, "%s: cannot open: %s", path, strerror(errno));
    enum { PIECE = 1 << 20 };
    uint8_t *buf = malloc(PIECE);
    if (!buf) {
        fclose(f);
        return cnn_error_set(err, CNN_STATUS_NO_MEMORY, "%s: no memory to hash", path);
    }
    cnn_md5 m;
    cnn_md5_init(&m);
    size_t got;
    while ((got = fread(buf, 1, PIECE, f)) > 0)
        cnn_md5_update(&m, buf, got);
    int failed = ferror(f);
    free(buf);
    fclose(f);
    if (failed)
        return cnn_error_set(err, CNN_STATUS_IO, "%s: read failed while hashing", path);
    uint8_t digest[16];
    cnn_md5_final(&m, digest);
    cnn_md5_hex(digest, hex);
    return CNN_STATUS_OK;
}
