/* gate.h: the channel-wise gate of squeeze-and-excitation (Hu et al. 2018), as
 * torchvision's SqueezeExcitation applies it: a feature map x (N, HW, C) times
 * the sigmoid of per-sample, per-channel logits s (N, C) that a small branch
 * computed from x,
 *
 *   y[n,q,c]  = x[n,q,c] * g[n,c],        g = sigmoid(s) = 1 / (1 + exp(-s))
 *   dx[n,q,c] = dy[n,q,c] * g[n,c]
 *   ds[n,c]   = g[n,c] (1 - g[n,c]) * sum_q dy[n,q,c] x[n,q,c]
 *
 * (PyTorch: y = x * torch.sigmoid(s)[:, :, None, None] in NCHW.) The
 * reference is ref/gate.c, its fast twin fast/gate.c; NHWC, as every op
 * (ops.h). y may alias x; dx may alias dy; dx
 * or ds may be NULL when nobody needs it. */
#ifndef CNN_OPS_GATE_H
#define CNN_OPS_GATE_H

/* x (N,HW,C), s (N,C) -> y (N,HW,C) */
void cnn_ref_gate_forward(int n, int hw, int c, const float *x, const float *s, float *y);
/* x (N,HW,C), s (N,C), dy (N,HW,C) -> dx (N,HW,C), ds (N,C) */
void cnn_ref_gate_backward(int n, int hw, int c, const float *x, const float *s,
                           const float *dy, float *dx, float *ds);

/* The same with g (N,C): scratch the gates are made in (the op allocates nothing). */
void cnn_fast_gate_forward(int n, int hw, int c, const float *x, const float *s, float *g,
                           float *y);
void cnn_fast_gate_backward(int n, int hw, int c, const float *x, const float *s,
                            const float *dy, float *g, float *dx, float *ds);

#endif
