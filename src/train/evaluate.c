/* evaluate.c: loss, accuracy and confusion matrix of a model on a set of
 * images, optionally with test-time augmentation (TTA).
 *
 * TTA averages the logits of several views of each image with fixed weights,
 * as airbench's evaluation does (level 2 is its default):
 *   level 0   the image                                          weight 1
 *   level 1   the image and its mirror                           1/2 each
 *   level 2   level 1's pair (1/4 each), and the pairs of the image translated
 *             by one pixel up-left and down-right, with reflect padding
 *             (1/8 each of the four)
 * The loss is the cross-entropy of the averaged logits; the accuracy counts
 * their argmax. The last partial batch is padded (eval mode is per sample).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cnnlab/train.h"
#include "core/core.h"

typedef struct view {
    int flip, dy, dx;
    float weight;
} view;

static const view views_level0[] = {{0, 0, 0, 1.0f}};
static const view views_level1[] = {{0, 0, 0, 0.5f}, {1, 0, 0, 0.5f}};
static const view views_level2[] = {{0, 0, 0, 0.25f},   {1, 0, 0, 0.25f},   {0, -1, -1, 0.125f},
                                    {1, -1, -1, 0.125f}, {0, 1, 1, 0.125f}, {1, 1, 1, 0.125f}};

int cnn_tta_views(int level) { return level <= 0 ? 1 : level == 1 ? 2 : 6; }

/* sum (rows, classes) = the views' weighted logits of images idx[0..rows)
 * (rows <= the plan's batch), their labels into labels (may be NULL). */
static void averaged_logits(cnn_plan *p, const cnn_model *m, const cnn_dataset *d, const int *idx,
                            int rows, const cnn_norm *norm, int tta, float *sum, uint8_t *labels)
{
    const view *views = tta <= 0 ? views_level0 : tta == 1 ? views_level1 : views_level2;
    int nviews = cnn_tta_views(tta);
    int batch = cnn_plan_batch(p), classes = m->desc->classes;
    size_t pixels = cnn_shape_size((cnn_shape){m->desc->in_h, m->desc->in_w, m->desc->in_c});
    float *x = cnn_plan_input(p);
    memset(sum, 0, (size_t)rows * (size_t)classes * sizeof(float));
    for (int v = 0; v < nviews; v++) {
        if (nviews == 1)
            cnn_batch_fill(d, idx, rows, norm, x, labels);
        else
            cnn_batch_fill_view(d, idx, rows, norm, views[v].flip, views[v].dy, views[v].dx, x,
                                labels);
        if (rows < batch) /* padding: any finite values will do in eval mode */
            memset(x + (size_t)rows * pixels, 0, (size_t)(batch - rows) * pixels * sizeof(float));
        cnn_plan_forward(p, NULL, rows, 0, NULL);
        const float *logits = cnn_plan_logits(p);
        for (size_t i = 0; i < (size_t)rows * (size_t)classes; i++)
            sum[i] += views[v].weight * logits[i];
    }
}

void cnn_predict_logits(cnn_plan *p, const cnn_model *m, const cnn_dataset *d, const int *idx,
                        int count, const cnn_norm *norm, int tta, float *out)
{
    int batch = cnn_plan_batch(p), classes = m->desc->classes;
    for (int off = 0; off < count; off += batch) {
        int rows = count - off < batch ? count - off : batch;
        averaged_logits(p, m, d, idx ? idx + off : NULL, rows, norm, tta,
                        out + (size_t)off * (size_t)classes, NULL);
    }
}

void cnn_evaluate_tta(cnn_plan *p, const cnn_model *m, const cnn_dataset *d, const int *idx,
                      int count, const cnn_norm *norm, int tta, cnn_eval_result *out)
{
    memset(out, 0, sizeof *out);
    int batch = cnn_plan_batch(p), classes = m->desc->classes;
    uint8_t *labels = malloc((size_t)batch);
    float *sum = malloc((size_t)batch * (size_t)classes * sizeof(float)); /* (batch, classes) */
    CNN_ASSERT(labels && sum); /* a few kilobytes */
    double loss_sum = 0;
    int correct = 0;
    for (int off = 0; off < count; off += batch) {
        int rows = count - off < batch ? count - off : batch;
        averaged_logits(p, m, d, idx + off, rows, norm, tta, sum, labels);
        for (int i = 0; i < rows; i++) {
            const float *row = sum + (size_t)i * classes;
            int best = 0;
            for (int k = 1; k < classes; k++)
                if (row[k] > row[best])
                    best = k;
            double mx = row[best], z = 0;
            for (int k = 0; k < classes; k++)
                z += exp((double)row[k] - mx);
            int label = labels[i];
            if (label < classes)
                loss_sum += mx + log(z) - row[label];
            correct += best == label;
            if (label < classes && classes <= CNN_DATA_MAX_CLASSES)
                out->confusion[label][best]++;
        }
    }
    free(labels);
    free(sum);
    out->count = count;
    out->classes = classes;
    out->loss = count ? loss_sum / count : 0;
    out->accuracy = count ? (double)correct / count : 0;
}

void cnn_evaluate(cnn_plan *p, const cnn_model *m, const cnn_dataset *d, const int *idx,
                  int count, const cnn_norm *norm, cnn_eval_result *out)
{
    cnn_evaluate_tta(p, m, d, idx, count, norm, 0, out);
}
