/* test_models.c: the built-in models' parameter counts match the PyTorch
 * definitions the issues give, shapes are checked, init follows PyTorch's
 * bounds and is reproducible from the seed. */
#include <math.h>
#include <string.h>

#include "check.h"
#include "cnnlab/cnnlab.h"

static void count_case_with(const char *name, const char *options, size_t expect)
{
    cnn_model *m = NULL;
    cnn_error err;
    const cnn_model_desc *d = cnn_model_find(name);
    check(d != NULL, "model %s is built in", name);
    if (!d)
        return;
    cnn_model_options o;
    if (cnn_model_options_parse(options, &o, &err) != CNN_STATUS_OK ||
        cnn_model_create(d, &o, &m, &err) != CNN_STATUS_OK) {
        check(0, "%s %s: %s", name, options, err.msg);
        return;
    }
    printf("  %-15s %-26s %10zu parameters (expected %zu)\n", name, options, m->param_count, expect);
    check(m->param_count == expect, "%s %s has %zu parameters, expected %zu", name, options,
          m->param_count, expect);
    cnn_model_destroy(m);
}

static void count_case(const char *name, size_t expect) { count_case_with(name, "", expect); }

/* An option the model cannot take is refused with a message naming the flag. */
static void refuse_case(const char *name, const char *options, const char *expect)
{
    cnn_model *m = NULL;
    cnn_error err = {0};
    cnn_model_options o;
    cnn_model_options_parse(options, &o, &err);
    cnn_status st = cnn_model_create(cnn_model_find(name), &o, &m, &err);
    printf("  %s %s: %s\n", name, options, err.msg);
    check(st == CNN_STATUS_INVALID_ARGUMENT && strstr(err.msg, expect),
          "%s %s is refused naming '%s'", name, options, expect);
    cnn_model_destroy(m);
}

int main(void)
{
    printf("parameter counts against the PyTorch definitions:\n");
    count_case("lenet5", 185806);
    count_case("lenet5-classic", 62006);
    count_case("vgg16_bn", 14724042);
    printf("knobs (counts from the PyTorch definitions of the changed networks):\n");
    /* without norm, VGG-16's convs get their biases back: torchvision's vgg16 */
    count_case_with("vgg16_bn", "norm=none", 14719818);
    /* lenet5 + BatchNorm after convs and hidden fc: biases go, 2 params per channel come */
    count_case_with("lenet5", "norm=batch", 185806 - (16 + 36 + 128 + 96) + 2 * (16 + 36 + 128 + 96));
    count_case_with("lenet5", "kernel_size=3", 185038);
    /* instance norm after the convs only: the fc slots stay empty and keep their biases */
    count_case_with("lenet5", "norm=instance", 185806 - (16 + 36) + 2 * (16 + 36));
    count_case_with("lenet5", "norm=group groups=4", 185806 - 276 + 2 * 276);
    count_case_with("lenet5", "activation=gelu dropout=0.3 dropconnect=0.2", 185806);
    refuse_case("lenet5", "norm=group groups=5", "--groups");
    refuse_case("lenet5", "groups=4", "--groups");
    refuse_case("vgg16_bn", "dropout=1.5", "--dropout");
    check(cnn_model_find("resnet9000") == NULL, "unknown model names are not found");

    /* A shape error names the model, the layer and the shapes. */
    static const cnn_layer_desc bad_layers[] = {
        {.kind = CNN_LAYER_CONV, .out = 8, .k = 5, .stride = 1, .bias = 1},
        {.kind = CNN_LAYER_MAXPOOL, .k = 2, .stride = 2},
        {.kind = CNN_LAYER_CONV, .out = 8, .k = 20, .stride = 1, .bias = 1}, /* 20x20 on 14x14 */
    };
    cnn_model_desc bad = {"bad", "", 32, 32, 3, 10, 3, bad_layers, CNN_INIT_DEFAULT};
    cnn_model *m = NULL;
    cnn_error err = {0};
    cnn_status st = cnn_model_create(&bad, NULL, &m, &err);
    printf("  shape error: %s\n", err.msg);
    check(st == CNN_STATUS_INVALID_ARGUMENT && strstr(err.msg, "layer 3") &&
              strstr(err.msg, "14x14"), "a kernel larger than its input is refused, naming layer 3 and 14x14");

    /* Initialisation: bounds 1/sqrt(fan_in), reproducible, seed-dependent. */
    cnn_model *a, *b;
    cnn_model_create(cnn_model_find("lenet5"), NULL, &a, &err);
    cnn_model_create(cnn_model_find("lenet5"), NULL, &b, &err);
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
