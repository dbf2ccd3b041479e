/* folder.c: placeholder while the image-folder reader is written. */
#include "dataset/readers.h"
cnn_status cnn_folder_probe(const cnn_data_source *src, cnn_data_info *info, cnn_error *err)
{
    return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "folders: not yet");
}
cnn_status cnn_folder_load(const cnn_data_source *src, const cnn_data_info *info, int test,
                           cnn_dataset *out, cnn_error *err)
{
    return cnn_error_set(err, CNN_STATUS_INVALID_ARGUMENT, "folders: not yet");
}
