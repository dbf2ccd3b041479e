/* conv_cache.h: CNN_CONV_AUTO's timed choices kept on disk between processes
 * (conv_cache.c says where, and how to turn it off). */
#ifndef CNN_OPS_FAST_CONV_CACHE_H
#define CNN_OPS_FAST_CONV_CACHE_H

#include <stddef.h>

#include "cnnlab/plan.h"
#include "ops/ops.h"

/* The key of one convolution on this machine (CPU, ISA, oneDNN, threads). */
void cnn_conv_cache_key(const cnn_conv_geom *g, int has_bias, cnn_act act, int training,
                        int bf16, char *key, size_t size);
/* 1 and the stored choice (algo, how a direct kernel runs: CNN_RUN_* bits,
 * the timing that decided) when key is in the cache; 0 otherwise (or with
 * the cache off). */
int cnn_conv_cache_find(const char *key, cnn_conv_algo *algo, int *run, char *why,
                        size_t why_size);
/* Adds or replaces key's line; silent on failure (a cache). Nothing is
 * stored while the machine is busy (see conv_cache.c), unless a test turned
 * that check off. */
void cnn_conv_cache_store(const char *key, cnn_conv_algo algo, int run, const char *why);
void cnn_conv_cache_set_load_check(int on);

#endif
