/* locate.h: the unpacking step of the CIFAR-10 download (locate.c), apart so
 * that tests can run it on an archive of their own, offline. */
#ifndef CNN_DATA_LOCATE_H
#define CNN_DATA_LOCATE_H

#include "cnnlab/status.h"

/* Unpacks archive (a .tar.gz holding cifar-10-batches-bin/, as the official
 * one does) with tar into a fresh temporary folder beside folder
 * (PARENT/.NAME.unpack.XXXXXX), moves into folder (created if needed) each
 * unpacked file that folder lacks, and removes the temporary folder with the
 * rest: a file folder already holds is never replaced. Errors name the
 * archive or the file. */
cnn_status cnn_cifar_unpack(const char *archive, const char *folder, cnn_error *err);

#endif
