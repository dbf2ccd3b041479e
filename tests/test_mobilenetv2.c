/* test_mobilenetv2.c: the built-in MobileNetV2 (models/mobilenetv2.cnn).
 *  - its parameter count equals torchvision's mobilenet_v2(num_classes=10),
 *    2,236,682, with its 17 inverted residual blocks: 17 depthwise 3x3
 *    convolutions (groups = channels) and 10 residual additions;
 *  - the fast plan (oneDNN's depthwise primitives) against the reference plan
 *    on one training step: loss, logits and every gradient.
 * (tests/cli_models.sh trains it one epoch on fake data.) */
#include <string.h>

#include "check.h"
#include "layers/layer.h"
#include "plan_compare.h"

int main(void)
{
    const cnn_model_desc *d;
    cnn_model *m;
    cnn_error err;
    if (cnn_model_load("mobilenetv2", NULL, &d, &err) || cnn_model_create(d, NULL, &m, &err)) {
        check(0, "mobilenetv2: %s", err.msg);
        return check_finish("test_mobilenetv2");
    }
    int depthwise = 0, adds = 0;
    for (int i = 0; i < m->count; i++) {
        const cnn_model_layer *l = &m->layers[i];
        depthwise += l->desc.kind == CNN_LAYER_CONV && l->desc.groups > 1 &&
                     l->desc.groups == l->in.c && l->desc.out == l->in.c && l->desc.k == 3;
        adds += l->desc.kind == CNN_LAYER_ADD;
    }
    printf("mobilenetv2: %zu parameters (torchvision's mobilenet_v2(num_classes=10): 2236682), "
           "%d depthwise convolutions, %d additions\n", m->param_count, depthwise, adds);
    check(m->param_count == 2236682, "mobilenetv2 has %zu parameters, expected 2236682",
          m->param_count);
    check(depthwise == 17 && adds == 10, "17 depthwise convolutions and 10 additions, found %d "
          "and %d", depthwise, adds);
    check(m->layers[m->count - 1].out.c == 10 && m->layers[0].out.h == 32,
          "10 classes; the stem keeps 32x32 (CIFAR strides)");
    cnn_model_destroy(m);
    /* The backends round differently, and across 150 layers a ReLU input near 0
     * lands on either side of its kink in one of them: the comparison runs the
     * same network with a smooth activation (ELU) in its activation slots. */
    const cnn_model_file *f = cnn_model_file_of(d);
    char *text = malloc(strlen(f->text) + 1);
    strcpy(text, f->text);
    char *act = strstr(text, "act=relu");
    check(act != NULL, "mobilenetv2.cnn sets its activation slots with act=relu");
    if (act) {
        memcpy(act, "act=elu ", 8);
        cnn_model_file *smooth;
        if (cnn_model_file_parse("mobilenetv2-elu.cnn", text, NULL, &smooth, &err)) {
            check(0, "mobilenetv2 with ELU: %s", err.msg);
        } else {
            compare_backends(&smooth->desc, 2, PLAN_COMPARE_LABELS);
            cnn_model_file_free(smooth);
        }
    }
    free(text);
    return check_finish("test_mobilenetv2");
}
