/* test_models.c: the built-in models' parameter counts match the PyTorch
 * definitions the issues give, shapes are checked, init follows PyTorch's
 * bounds and is reproducible from the seed. */
#include <math.h>
#include <string.h>

#include "check.h"
#include "cnnlab/cnnlab.h"

static void count_case(const char *name, size_t expect)
{
    cnn_model *m = NULL;
    cnn_error err;
    const cnn_model_desc *d = cnn_model_find(name);
    check(d != NULL, "model %s is built in", name);
    if (!d)
        return;
    if (cnn_model_create(d, &m, &err) != CNN_STATUS_OK) {
        check(0, "%s: %s", name, err.msg);
        return;
    }
    printf("  %-15s %10zu parameters (PyTorch: %zu)\n", name, m->param_count, expect);
    check(m->param_count == expect, "%s has %zu parameters, expected %zu", name, m->param_count,
          expect);
    cnn_model_destroy(m);
}

int main(void)
{
    printf("parameter counts against the PyTorch definitions:\n");
    count_case("lenet5", 185806);
    count_case("lenet5-classic", 62006);
    count_case("vgg16_bn", 14724042);
    check(cnn_model_find("resnet9000") == NULL, "unknown model names are not found");

    /* A shape error names the model, the layer and the shapes. */
    static const cnn_layer_desc bad_layers[] = {
        {CNN_LAYER_CONV, 8, 5, 1, 0, 1, CNN_ACT_NONE},
        {CNN_LAYER_MAXPOOL, 0, 2, 2, 0, 0, CNN_ACT_NONE},
        {CNN_LAYER_CONV, 8, 20, 1, 0, 1, CNN_ACT_NONE}, /* 20x20 kernel on 14x14 */
    };
    cnn_model_desc bad = {"bad", "", 32, 32, 3, 10, 3, bad_layers};
    cnn_model *m = NULL;
    cnn_error err = {0};
    cnn_status st = cnn_model_create(&bad, &m, &err);
    printf("  shape error: %s\n", err.msg);
    check(st == CNN_STATUS_INVALID_ARGUMENT && strstr(err.msg, "layer 3") &&
              strstr(err.msg, "14x14"), "a kernel larger than its input is refused, naming layer 3 and 14x14");

    /* Initialisation: bounds 1/sqrt(fan_in), reproducible, seed-dependent. */
    cnn_model *a, *b;
    cnn_model_create(cnn_model_find("lenet5"), &a, &err);
    cnn_model_create(cnn_model_find("lenet5"), &b, &err);
    cnn_model_init(a, 7);
    cnn_model_init(b, 7);
    check(memcmp(a->params, b->params, a->param_count * 4) == 0, "same seed, same weights");
    cnn_model_init(b, 8);
    check(memcmp(a->params, b->params, a->param_count * 4) != 0, "other seed, other weights");
    float bound = 1.0f / sqrtf(75.0f), maxabs = 0; /* first conv: fan_in 3*5*5 */
    double mean = 0;
    for (int i = 0; i < 16 * 75; i++) {
        maxabs = fmaxf(maxabs, fabsf(a->params[i]));
        mean += a->params[i];
    }
    mean /= 16 * 75;
    printf("  lenet5 conv1 init: max |w| %.4f (bound %.4f), mean %.4f\n", maxabs, bound, mean);
    check(maxabs <= bound && maxabs > 0.9f * bound && fabs(mean) < 0.02,
          "conv1 weights uniform in +-1/sqrt(fan_in)");
    cnn_model_destroy(a);
    cnn_model_destroy(b);
    return check_finish("test_models");
}
