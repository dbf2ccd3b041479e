/* activation.h: the elementwise activations a layer can apply. */
#ifndef CNNLAB_ACTIVATION_H
#define CNNLAB_ACTIVATION_H

typedef enum cnn_act {
    CNN_ACT_NONE = 0,
    CNN_ACT_RELU,    /* max(0, x) */
    CNN_ACT_SIGMOID, /* 1 / (1 + exp(-x)) */
    CNN_ACT_TANH
} cnn_act;

#endif
