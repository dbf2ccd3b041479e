/* builtin.c: the built-in networks, as data. Parameter counts match the
 * PyTorch definitions in ../shared/bench/torch_reference.py (checked by
 * tests/test_models.c). A later model-file format will describe the same lists. */
#include <string.h>

#include "cnnlab/model.h"

#define CONV(oc, k, s, p, b) {CNN_LAYER_CONV, (oc), (k), (s), (p), (b), CNN_ACT_NONE}
#define LINEAR(o) {CNN_LAYER_LINEAR, (o), 0, 0, 0, 1, CNN_ACT_NONE}
#define ACT(a) {CNN_LAYER_ACT, 0, 0, 0, 0, 0, (a)}
#define MAXPOOL(k, s) {CNN_LAYER_MAXPOOL, 0, (k), (s), 0, 0, CNN_ACT_NONE}
#define AVGPOOL(k, s) {CNN_LAYER_AVGPOOL, 0, (k), (s), 0, 0, CNN_ACT_NONE}
#define BN {CNN_LAYER_BATCHNORM, 0, 0, 0, 0, 0, CNN_ACT_NONE}
#define FLATTEN {CNN_LAYER_FLATTEN, 0, 0, 0, 0, 0, CNN_ACT_NONE}
#define RELU ACT(CNN_ACT_RELU)
#define SIGMOID ACT(CNN_ACT_SIGMOID)
/* VGG's unit: 3x3 convolution without bias, batch norm, ReLU. */
#define VGG_BN(oc) CONV(oc, 3, 1, 1, 0), BN, RELU
#define M MAXPOOL(2, 2)

/* The course's LeNet-5 variant: 185,806 parameters. */
static const cnn_layer_desc lenet5_layers[] = {
    CONV(16, 5, 1, 0, 1), RELU, AVGPOOL(2, 2),
    CONV(36, 3, 1, 0, 1), RELU, AVGPOOL(2, 2),
    FLATTEN,
    LINEAR(128), RELU,
    LINEAR(96), RELU,
    LINEAR(10),
};

/* LeCun's original proportions with sigmoid activations: 62,006 parameters. */
static const cnn_layer_desc lenet5_classic_layers[] = {
    CONV(6, 5, 1, 0, 1), SIGMOID, AVGPOOL(2, 2),
    CONV(16, 5, 1, 0, 1), SIGMOID, AVGPOOL(2, 2),
    FLATTEN,
    LINEAR(120), SIGMOID,
    LINEAR(84), SIGMOID,
    LINEAR(10),
};

/* VGG-16 (configuration D) with batch norm, CIFAR head: 14,724,042 parameters. */
static const cnn_layer_desc vgg16_bn_layers[] = {
    VGG_BN(64), VGG_BN(64), M,
    VGG_BN(128), VGG_BN(128), M,
    VGG_BN(256), VGG_BN(256), VGG_BN(256), M,
    VGG_BN(512), VGG_BN(512), VGG_BN(512), M,
    VGG_BN(512), VGG_BN(512), VGG_BN(512), M,
    FLATTEN,
    LINEAR(10),
};

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))
#define CIFAR_MODEL(name, about, layers) {name, about, 32, 32, 3, 10, COUNT(layers), layers}

static const cnn_model_desc lenet5 = CIFAR_MODEL(
    "lenet5", "LeNet-5, the course's variant: 2 conv (16, 36) + 3 fc, ReLU, average pooling",
    lenet5_layers);
static const cnn_model_desc lenet5_classic = CIFAR_MODEL(
    "lenet5-classic", "LeNet-5 as LeCun drew it: 2 conv (6, 16) + 3 fc, sigmoid, average pooling",
    lenet5_classic_layers);
static const cnn_model_desc vgg16_bn = CIFAR_MODEL(
    "vgg16_bn", "VGG-16 with batch norm, CIFAR variant: 13 conv 3x3 + fc 512->10",
    vgg16_bn_layers);

static const cnn_model_desc *const builtins[] = {&lenet5, &lenet5_classic, &vgg16_bn, NULL};

const cnn_model_desc *const *cnn_model_builtins(void) { return builtins; }

const cnn_model_desc *cnn_model_find(const char *name)
{
    for (int i = 0; builtins[i]; i++)
        if (strcmp(builtins[i]->name, name) == 0)
            return builtins[i];
    return NULL;
}
