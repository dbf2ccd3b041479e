/* evaluate.c: loss, accuracy and confusion matrix of a model on a set of images. */
#include <string.h>

#include "cnnlab/train.h"
#include "core/core.h"

void cnn_evaluate(cnn_plan *p, const cnn_model *m, const cnn_dataset *d, const int *idx,
                  int count, const cnn_norm *norm, cnn_eval_result *out)
{
    memset(out, 0, sizeof *out);
    int batch = cnn_plan_batch(p), classes = m->desc->classes;
    uint8_t labels[batch];
    double loss_sum = 0;
    int correct = 0;
    for (int off = 0; off < count; off += batch) {
        int rows = count - off < batch ? count - off : batch;
        float *x = cnn_plan_input(p);
        cnn_batch_fill(d, idx + off, rows, norm, x, labels);
        if (rows < batch) /* padding: any finite values will do in eval mode */
            memset(x + (size_t)rows * CNN_CIFAR_PIXELS, 0,
                   (size_t)(batch - rows) * CNN_CIFAR_PIXELS * sizeof(float));
        loss_sum += (double)cnn_plan_forward(p, labels, rows, 0, &correct) * rows;
        const float *logits = cnn_plan_logits(p);
        for (int i = 0; i < rows; i++) {
            const float *row = logits + (size_t)i * classes;
            int best = 0;
            for (int k = 1; k < classes; k++)
                if (row[k] > row[best])
                    best = k;
            if (labels[i] < CNN_CIFAR_CLASSES && best < CNN_CIFAR_CLASSES)
                out->confusion[labels[i]][best]++;
        }
    }
    out->count = count;
    out->loss = count ? loss_sum / count : 0;
    out->accuracy = count ? (double)correct / count : 0;
}
