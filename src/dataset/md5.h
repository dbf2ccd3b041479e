/* md5.h: MD5 (RFC 1321), used only to verify the downloaded CIFAR-10 archive.
 * Not for anything that needs collision resistance. */
#ifndef CNN_DATA_MD5_H
#define CNN_DATA_MD5_H

#include <stddef.h>
#include <stdint.h>

#include "cnnlab/status.h"

typedef struct cnn_md5 {
    uint32_t state[4];   /* A, B, C, D */
    uint64_t length;     /* bytes hashed so far */
    uint8_t block[64];   /* the partial block not yet compressed */
} cnn_md5;

void cnn_md5_init(cnn_md5 *m);
void cnn_md5_update(cnn_md5 *m, const void *data, size_t size);
/* Pads, finishes and writes the 16-byte digest; m must be re-initialised before reuse. */
void cnn_md5_final(cnn_md5 *m, uint8_t digest[16]);

/* Digest as 32 lowercase hex digits plus the terminating zero. */
void cnn_md5_hex(const uint8_t digest[16], char hex[33]);
/* MD5 of a whole file, read in pieces, as hex. */
cnn_status cnn_md5_file(const char *path, char hex[33], cnn_error *err);

#endif
