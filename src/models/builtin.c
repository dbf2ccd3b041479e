/* builtin.c: the built-in networks, as data. Parameter counts match the
 * PyTorch definitions in the issues (checked by tests/test_models.c).
 * Slots mark where the study knobs reach (model.h: CNN_SLOT_*): a norm slot
 * after each convolution (and LeNet's hidden fc layers), an activation slot for
 * every activation, a kernel-size slot on each convolution, dropout slots on
 * the classifier, DropConnect on the fully connected layers. */
#include <string.h>

#include "cnnlab/model.h"

#define CONV(oc, k_, s, p_)                                                                  \
    {.kind = CNN_LAYER_CONV, .out = (oc), .k = (k_), .stride = (s), .pad = (p_),            \
     .bias = CNN_BIAS_AUTO, .slots = CNN_SLOT_KERNEL}
#define LINEAR(o)                                                                            \
    {.kind = CNN_LAYER_LINEAR, .out = (o), .bias = CNN_BIAS_YES, .slots = CNN_SLOT_DROPCONNECT}
#define LINEAR_AUTO(o)                                                                       \
    {.kind = CNN_LAYER_LINEAR, .out = (o), .bias = CNN_BIAS_AUTO, .slots = CNN_SLOT_DROPCONNECT}
#define ACT(a) {.kind = CNN_LAYER_ACT, .act = (a), .slots = CNN_SLOT_ACT}
#define MAXPOOL(k_, s) {.kind = CNN_LAYER_MAXPOOL, .k = (k_), .stride = (s)}
#define AVGPOOL(k_, s) {.kind = CNN_LAYER_AVGPOOL, .k = (k_), .stride = (s)}
#define NORM(kind_) {.kind = (kind_), .slots = CNN_SLOT_NORM}
#define DROPOUT {.kind = CNN_LAYER_IDENTITY, .slots = CNN_SLOT_DROPOUT}
#define FLATTEN {.kind = CNN_LAYER_FLATTEN}
#define RELU ACT(CNN_ACT_RELU)
#define SIGMOID ACT(CNN_ACT_SIGMOID)
/* LeNet's units: no norm by default (--norm adds one), then the activation. */
#define LENET_CONV(oc, k, act) CONV(oc, k, 1, 0), NORM(CNN_LAYER_IDENTITY), ACT(act)
#define LENET_FC(o, act) LINEAR_AUTO(o), NORM(CNN_LAYER_IDENTITY), ACT(act), DROPOUT
/* VGG's unit: 3x3 convolution (bias only without a norm), batch norm, ReLU. */
#define VGG_BN(oc) CONV(oc, 3, 1, 1), NORM(CNN_LAYER_BATCHNORM), RELU
#define M MAXPOOL(2, 2)

/* The course's LeNet-5 variant: 185,806 parameters. */
static const cnn_layer_desc lenet5_layers[] = {
    LENET_CONV(16, 5, CNN_ACT_RELU), AVGPOOL(2, 2),
    LENET_CONV(36, 3, CNN_ACT_RELU), AVGPOOL(2, 2),
    FLATTEN,
    LENET_FC(128, CNN_ACT_RELU),
    LENET_FC(96, CNN_ACT_RELU),
    LINEAR(10),
};

/* LeCun's original proportions with sigmoid activations: 62,006 parameters. */
static const cnn_layer_desc lenet5_classic_layers[] = {
    LENET_CONV(6, 5, CNN_ACT_SIGMOID), AVGPOOL(2, 2),
    LENET_CONV(16, 5, CNN_ACT_SIGMOID), AVGPOOL(2, 2),
    FLATTEN,
    LENET_FC(120, CNN_ACT_SIGMOID),
    LENET_FC(84, CNN_ACT_SIGMOID),
    LINEAR(10),
};

/* VGG-16 (configuration D) with batch norm, CIFAR head: 14,724,042 parameters. */
static const cnn_layer_desc vgg16_bn_layers[] = {
    VGG_BN(64), VGG_BN(64), M,
    VGG_BN(128), VGG_BN(128), M,
    VGG_BN(256), VGG_BN(256), VGG_BN(256), M,
    VGG_BN(512), VGG_BN(512), VGG_BN(512), M,
    VGG_BN(512), VGG_BN(512), VGG_BN(512), M,
    FLATTEN, DROPOUT,
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
