/* checkpoint.h: a trained model on disk.
 *
 * File layout (little-endian), written atomically:
 *   "CNNLABW1"                 8 bytes magic
 *   u32 version (3)
 *   char model[64]             the model's name, NUL-padded
 *   char options[192]          the model options (cnn_model_options_format), NUL-padded
 *   char vars[128]             the model-file variables ("head=4096"), NUL-padded
 *   f32 mean[3], std[3]        the input normalisation the model was trained with
 *   u64 param_count, state_count
 *   f32 params[param_count], state[state_count]
 *   u64 checksum               FNV-1a over everything before it
 */
#ifndef CNNLAB_CHECKPOINT_H
#define CNNLAB_CHECKPOINT_H

#include "cnnlab/data.h"
#include "cnnlab/model.h"
#include "cnnlab/status.h"

typedef struct cnn_checkpoint {
    char model[64];
    char options[192];
    char vars[128];
    cnn_norm norm;
    size_t param_count, state_count;
    float *params, *state; /* owned; free with cnn_checkpoint_free */
} cnn_checkpoint;

cnn_status cnn_checkpoint_save(const char *path, const cnn_model *m, const cnn_norm *norm,
                               cnn_error *err);
/* Reads and verifies a file; an error names the file and what is wrong. */
cnn_status cnn_checkpoint_read(const char *path, cnn_checkpoint *ck, cnn_error *err);
/* Creates the model the checkpoint holds, with its options, variables and
 * weights: from model_file (a run folder's model.cnn) when not NULL, else the
 * built-in of that name. path names the checkpoint in messages. */
cnn_status cnn_checkpoint_model(const cnn_checkpoint *ck, const char *model_file,
                                const char *path, cnn_model **out, cnn_error *err);
/* The same for a model trained on data of the given shape (a run's
 * config.txt says it: cnn_run_data_shape; NULL: CNN_DATA_SHAPE_DEFAULT). */
cnn_status cnn_checkpoint_model_shaped(const cnn_checkpoint *ck, const char *model_file,
                                       const cnn_data_shape *shape, const char *path,
                                       cnn_model **out, cnn_error *err);
/* Copies the weights into m, which must be the same model (counts must match). */
cnn_status cnn_checkpoint_apply(const cnn_checkpoint *ck, cnn_model *m, const char *path,
                                cnn_error *err);
void cnn_checkpoint_free(cnn_checkpoint *ck);

#endif
