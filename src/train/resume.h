/* resume.h: what a training run needs to continue where it stopped, on disk
 * as RUN_DIR/resume.state, rewritten atomically after every epoch.
 *
 * File layout (little-endian):
 *   "CNNLABR1"                       8 bytes magic
 *   u32 version (1)
 *   i32 epoch                        epochs finished
 *   i32 best_epoch, since_best       early-stop bookkeeping
 *   i32 bad_epochs                   plateau schedule
 *   i32 n_train                      length of the order below
 *   i64 global_step, opt_steps       steps taken; the optimizer's step count
 *   f64 best_score, plateau_lr, plateau_best
 *   u64 param_count, state_count, m_count, v_count
 *   i32 order[n_train]               the train split as the last shuffle left it
 *   f32 params, state, m, v          the model and the optimizer's buffers
 *   u64 checksum                     FNV-1a over everything before it
 *
 * Everything else a run draws (augmentation, dropout masks, the next
 * shuffle) derives from the seed and the step or epoch numbers, so with the
 * same configuration and thread count a resumed run continues bit-identically. */
#ifndef CNN_TRAIN_RESUME_H
#define CNN_TRAIN_RESUME_H

#include <stddef.h>

#include "cnnlab/status.h"

typedef struct cnn_resume {
    int epoch, best_epoch, since_best, bad_epochs, n_train;
    long global_step, opt_steps;
    double best_score, plateau_lr, plateau_best;
    size_t param_count, state_count, m_count, v_count;
    /* save: the caller's arrays; read: views into the file's buffer */
    const int *order;
    const float *params, *state, *m, *v;
    unsigned char *buf; /* read: owned; free with cnn_resume_free */
} cnn_resume;

cnn_status cnn_resume_save(const char *path, const cnn_resume *r, cnn_error *err);
/* Reads and verifies a file; errors name the file and what is wrong. */
cnn_status cnn_resume_read(const char *path, cnn_resume *r, cnn_error *err);
void cnn_resume_free(cnn_resume *r);

#endif
