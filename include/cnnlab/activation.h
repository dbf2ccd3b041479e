/* activation.h: the elementwise activations a layer can apply. */
#ifndef CNNLAB_ACTIVATION_H
#define CNNLAB_ACTIVATION_H

typedef enum cnn_act {
    CNN_ACT_NONE = 0,
    CNN_ACT_RELU,    /* max(0, x) */
    CNN_ACT_SIGMOID, /* 1 / (1 + exp(-x)) */
    CNN_ACT_TANH,
    CNN_ACT_LEAKY_RELU, /* x > 0 ? x : 0.01 x (PyTorch's default slope) */
    CNN_ACT_GELU,       /* x * Phi(x), the exact (erf) form, PyTorch's default */
    CNN_ACT_ELU,        /* x > 0 ? x : exp(x) - 1 (alpha = 1) */
    CNN_ACT_COUNT
} cnn_act;

#endif
