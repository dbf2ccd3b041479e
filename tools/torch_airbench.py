#!/usr/bin/python3
"""torch_airbench.py: Keller Jordan's airbench94 network (legacy/airbench94.py of
KellerJordan/cifar10-airbench) in PyTorch, as models/airbench94.cnn, and the
fixture generator for tests/test_torch_airbench.c: one training step, the
eval-mode forward, airbench's test-time augmentation and ten steps of the
airbench94 recipe's update rule, on a reduced-width variant of the network.

Run by hand from the repository root with the Debian PyTorch (1.13):
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 \\
        tools/torch_airbench.py [--fp64]
It writes tests/fixtures/airbench.txt. Deterministic: no random numbers (every
value comes from a formula both sides compute), CPU, one thread, float32.
--fp64 writes nothing: it prints how far PyTorch's own float32 results are
from float64 ones in the test's measures, the noise floor the test's
tolerances must clear.

The network (widths w1, w2, w3; airbench94 has 64, 256, 256; the fixture uses
WIDTHS, cnnlab's `--var "w1=8 w2=16 w3=16"`):
    whiten  Conv2d(3, 24, 2, bias), weight frozen          32 -> 31
    GELU
    group1..3: conv1 Conv2d(c, w, 3, pad 1, no bias), MaxPool2d(2),
               norm1 BatchNorm2d(w, eps 1e-12, momentum 0.4, weight frozen), GELU,
               conv2 Conv2d(w, w, 3, pad 1, no bias), norm2 (as norm1), GELU
                                                           31 -> 15 -> 7 -> 3
    MaxPool2d(3), flatten, head Linear(w3, 10, no bias), x 1/9
State-dict names: whiten.weight, whiten.bias, group1.conv1.weight,
group1.norm1.weight, group1.norm1.bias, ..., head.weight. tensors() lists the
parameters in cnnlab's parameter-block order (the model file's layer order;
conv weight (OC, IC, KH, KW) then bias; batch norm gamma then beta; linear
weight (OUT, IN)), which is also named_parameters() order; norms() lists the
batch norms in cnnlab's state-block order (running mean, then running var).

The formulas (t counts parameter tensors from 0 in that order, i counts
elements, j images from 0):
    image j, channel c, row h, column w (uint8, planar as the CIFAR files):
        (7 j^2 + 31 j + 3 h^2 + 5 w^2 + (2 + j) h w + (11 + 3 j) h + (13 + 5 j) w
         + 41 c + 5 c h) mod 256
        normalised with airbench's mean/std as cnn_batch_fill (p / 255 - mean) / std
    label of image j:             (3 j + 1) mod 10
    conv weights:                 sin(1.7 i + 0.9 t + 0.013 i^2) / sqrt(fan_in)
    the linear (head) weight:     4 sin(1.7 i + 0.9 t + 0.013 i^2)
                                  (large enough for logits of order 1 after the 1/9)
    the whitening weight:         1.5 sin(1.7 i + 0.9 t + 0.013 i^2)
                                  (fixed values: the real one comes from
                                  eigenvectors whose signs are LAPACK's choice)
    the whitening bias:           0.1 sin(0.7 i + 1.3 t)
    batch-norm gamma (frozen):    1
    batch-norm beta:              0.1 sin(0.7 i + 1.3 t)
    running mean 0, running variance 1.

Records (one per line, "name count v1 ... v<count>"):
  config 4            w1 w2 w3 B (the batch)
  tensors 1           how many parameter tensors; sizes T: their element counts
  step.*  one training step (train mode) on images 0..B-1:
    step.loss 1        cross-entropy, label smoothing 0.2, reduction 'sum'
    step.logits 10B    (B, 10)
    step.grad<t>       tensor t's gradient of the summed loss, every element, in
                       cnnlab's layout. The frozen tensors (whitening weight,
                       batch-norm gammas) too: their gradient is computed with
                       requires_grad switched on for this pass only, which
                       changes nothing else.
    step.state S       every norm's running mean then var after the step, in
                       cnnlab's state order
    step.eval_logits   (B, 10): the same images in eval mode after the step (the
                       parameters unchanged, the running estimates updated)
  tta.*  airbench's TTA level 2, eval mode, on images 100..100+NT-1 (NT = 6):
    tta.state S        the running estimates it runs with: those after step.*
                       and ten more train-mode forwards of images 0..B-1 (no
                       gradients), near the batch statistics (0.6^10 of the
                       start left); the parameters are the formula's
    tta.logits 10NT    0.5 mirrored(x) + 0.25 mirrored(p[0:32, 0:32])
                       + 0.25 mirrored(p[2:34, 2:34]), p = x reflect-padded by 1,
                       mirrored(v) = 0.5 net(v) + 0.5 net(v.flip(-1))
    tta.pred NT        argmax of each row
    tta.loss NT        each image's cross-entropy of the averaged logits (no
                       smoothing); tta.mean_loss 1: their mean
  multi.*  STEPS steps of the airbench94 recipe's update from the formula
           parameters (batch B, step k on images 1000 + k B ..):
    multi.config 10    STEPS lr momentum weight_decay norm_bias_mult warmup_frac
                       start_factor end_factor lookahead_every lookahead_base
    multi.loss STEPS   each step's summed loss
    multi.params P     the parameter block after the last step (and the final
                       lookahead copy); multi.state S the state block then
  The lr is a tenth of the recipe's (0.00146484375 x 0.1) and STEPS is 5; the
  rest is the recipe's. Max pooling makes longer or faster trajectories
  chaotic: a window whose top two inputs lie within rounding of each other
  (over 5 steps, 110,000 windows; over 10, 8 of 220,000 are within 1e-5 of
  their tensor's largest value) sends its gradient to either, and the
  difference is amplified by the following steps (with average pooling in
  their place, nothing is). Measured with PyTorch alone, parameters scaled by
  1 + eps N(0,1), four to six draws, in the test's measures (loss; each
  tensor's change |d - d0| / (max |d0| + |d0|)):
      10 steps, full lr,  eps 1e-6:  loss 11 %, change 2.9 % (relative L2)
      10 steps, lr / 10,  eps 3e-6:  loss 1.7 %, change 7.1 %
       5 steps, lr / 10,  eps 1e-5:  loss 7.5e-5, change 2.9e-3
  so the test holds these 5 steps to 1e-3 (loss, running estimates) and 1e-2
  (parameter change): above what flipped windows do, far below what a wrong
  multiplier, weight decay, momentum, schedule or lookahead does (several
  percent to 100 %).
  The update, as /work/shared/bench/torch_airbench_cpu.py: SGD, Nesterov
  momentum 0.85, groups (batch-norm betas: lr x 64, weight_decay / 64; every
  other trainable tensor: lr, weight_decay; the whitening weight and the gammas
  frozen: in no group); LambdaLR with airbench's linear factor over N = STEPS
  steps (W = int(0.23 N)); lookahead: the shadow of the state_dict is taken
  with the whitening weight at its "random init" (the conv formula, fan_in 12),
  then the whitening formula is written in (as airbench whitens after taking
  its copy); after step k, k % 5 == 0: ema.lerp_(live, 1 - 0.95^5 (k/N)^3),
  live = ema; after step N also with decay 1 (live = ema). With N = 5
  both come after the last step.
"""
import argparse
import math
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(1)
FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures",
                       "airbench.txt")
WIDTHS = (8, 16, 16)
BATCH = 8
TTA_IMAGES = 6
STEPS = 5
MEAN = (0.4914, 0.4822, 0.4465)
STD = (0.2470, 0.2435, 0.2616)
SMOOTHING = 0.2
# the recipe (recipes/airbench94.rcp): lr 11.5 and wd 0.0153 per 1024 examples,
# airbench's decoupled form
MOMENTUM = 0.85
LR = 11.5 / (1024 * (1 + 1 / (1 - MOMENTUM)))
WD = 0.0153 * 1024 / 11.5
# the multi-step check runs at a tenth of the recipe's lr (see the header)
LR_SCALE = 0.1
NORM_BIAS_MULT = 64.0
WARMUP_FRAC, START_FACTOR, END_FACTOR = 0.23, 0.2, 0.07
LOOKAHEAD_EVERY, LOOKAHEAD_BASE = 5, 0.95


class ConvGroup(nn.Module):
    """conv3x3 -> maxpool 2 -> batch norm -> GELU -> conv3x3 -> batch norm -> GELU."""

    def __init__(self, cin, cout):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
        self.norm1 = nn.BatchNorm2d(cout, eps=1e-12, momentum=0.4)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.norm2 = nn.BatchNorm2d(cout, eps=1e-12, momentum=0.4)
        self.norm1.weight.requires_grad_(False)
        self.norm2.weight.requires_grad_(False)

    def forward(self, x):
        x = F.gelu(self.norm1(F.max_pool2d(self.conv1(x), 2)))
        return F.gelu(self.norm2(self.conv2(x)))


class Airbench94(nn.Module):
    def __init__(self, widths=(64, 256, 256), classes=10):
        super().__init__()
        self.whiten = nn.Conv2d(3, 24, 2, bias=True)
        self.whiten.weight.requires_grad_(False)
        self.group1 = ConvGroup(24, widths[0])
        self.group2 = ConvGroup(widths[0], widths[1])
        self.group3 = ConvGroup(widths[1], widths[2])
        self.head = nn.Linear(widths[2], classes, bias=False)

    def forward(self, x):
        x = F.gelu(self.whiten(x))
        x = self.group3(self.group2(self.group1(x)))
        x = F.max_pool2d(x, 3).flatten(1)
        return self.head(x) / 9

    def tensors(self):
        """(name, tensor, kind) in cnnlab's parameter order; kind: w (conv or
        linear weight), white (the whitening weight), bias, gamma, beta."""
        kinds = {"whiten.weight": "white", "whiten.bias": "bias", "head.weight": "head"}
        out = []
        for name, p in self.named_parameters():
            kind = kinds.get(name) or ("gamma" if name.endswith("norm1.weight") or
                                       name.endswith("norm2.weight") else
                                       "beta" if ".norm" in name else "w")
            out.append((name, p, kind))
        return out

    def norms(self):
        return [m for m in self.modules() if isinstance(m, nn.BatchNorm2d)]


def images(first, count, dtype):
    """Images first..first+count-1: uint8 (count, 3, 32, 32) and normalised."""
    j = torch.arange(first, first + count, dtype=torch.int64).view(-1, 1, 1, 1)
    c = torch.arange(3).view(1, 3, 1, 1)
    h = torch.arange(32).view(1, 1, 32, 1)
    w = torch.arange(32).view(1, 1, 1, 32)
    u8 = (7 * j * j + 31 * j + 3 * h * h + 5 * w * w + (2 + j) * h * w + (11 + 3 * j) * h +
          (13 + 5 * j) * w + 41 * c + 5 * c * h) % 256
    mean = torch.tensor(MEAN, dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.tensor(STD, dtype=torch.float32).view(1, 3, 1, 1)
    x = (u8.to(torch.float32) / 255 - mean) / std
    return u8, x.to(dtype)


def labels(first, count):
    return (3 * torch.arange(first, first + count) + 1) % 10


def weight_formula(n, t):
    i = torch.arange(n, dtype=torch.float64)
    return torch.sin(1.7 * i + 0.9 * t + 0.013 * i * i)


def small_formula(n, t):
    i = torch.arange(n, dtype=torch.float64)
    return 0.1 * torch.sin(0.7 * i + 1.3 * t)


def make_net(dtype, whitened=True):
    """The network with the formula parameters; whitened False puts the conv
    formula (fan_in 12) in the whitening weight instead of its fixed values."""
    net = Airbench94(WIDTHS).to(dtype)
    with torch.no_grad():
        for t, (_, p, kind) in enumerate(net.tensors()):
            if kind == "head":
                v = 4 * weight_formula(p.numel(), t)
            elif kind == "w" or (kind == "white" and not whitened):
                v = weight_formula(p.numel(), t) / math.sqrt(p[0].numel())
            elif kind == "white":
                v = 1.5 * weight_formula(p.numel(), t)
            elif kind == "gamma":
                v = torch.ones(p.numel(), dtype=torch.float64)
            else:
                v = small_formula(p.numel(), t)
            p.copy_(v.view_as(p))
    return net


def flat(t):
    return t.detach().to(torch.float64).flatten().tolist()


def state_block(net):
    out = []
    for m in net.norms():
        out += flat(m.running_mean) + flat(m.running_var)
    return out


def tta_logits(net, x):
    """airbench's TTA level 2 (its infer_mirror_translate)."""
    def mirrored(v):
        return 0.5 * net(v) + 0.5 * net(v.flip(-1))
    p = F.pad(x, (1, 1, 1, 1), mode="reflect")
    shifted = 0.5 * mirrored(p[:, :, 0:32, 0:32]) + 0.5 * mirrored(p[:, :, 2:34, 2:34])
    return 0.5 * mirrored(x) + 0.5 * shifted


def one_step(dtype):
    """step.* and tta.* records."""
    net = make_net(dtype)
    tensors = net.tensors()
    for _, p, _ in tensors:  # the frozen ones too, for this pass only
        p.requires_grad_(True)
    net.train()
    _, x = images(0, BATCH, dtype)
    y = labels(0, BATCH)
    logits = net(x)
    loss = F.cross_entropy(logits, y, label_smoothing=SMOOTHING, reduction="sum")
    loss.backward()
    rec = {"step.loss": [loss.item()], "step.logits": flat(logits)}
    for t, (_, p, _) in enumerate(tensors):
        rec["step.grad%d" % t] = flat(p.grad)
    rec["step.state"] = state_block(net)
    net.eval()
    with torch.no_grad():
        rec["step.eval_logits"] = flat(net(x))
        # running estimates close to the batch statistics: TTA of a network
        # whose eval mode is not far from what it was trained in
        net.train()
        for _ in range(10):
            net(x)
        net.eval()
        rec["tta.state"] = state_block(net)
        _, xt = images(100, TTA_IMAGES, dtype)
        yt = labels(100, TTA_IMAGES)
        z = tta_logits(net, xt)
        per = F.cross_entropy(z, yt, reduction="none")
        rec["tta.logits"] = flat(z)
        rec["tta.pred"] = [float(v) for v in z.argmax(1).tolist()]
        rec["tta.loss"] = flat(per)
        rec["tta.mean_loss"] = [per.mean().item()]
    return rec


def multi_steps(dtype):
    """multi.* records: STEPS steps of the recipe's update (see the header)."""
    net = make_net(dtype, whitened=False)
    shadow = {k: v.detach().clone() for k, v in net.state_dict().items()}
    white = make_net(dtype).whiten.weight.detach()
    with torch.no_grad():
        net.whiten.weight.copy_(white)
    betas = [p for n, p in net.named_parameters() if ".norm" in n and p.requires_grad]
    others = [p for n, p in net.named_parameters() if ".norm" not in n and p.requires_grad]
    lr = LR * LR_SCALE
    lr_bias = lr * NORM_BIAS_MULT
    opt = torch.optim.SGD([dict(params=betas, lr=lr_bias, weight_decay=WD * lr / lr_bias),
                           dict(params=others, lr=lr, weight_decay=WD)],
                          momentum=MOMENTUM, nesterov=True)
    total = STEPS
    warmup = int(total * WARMUP_FRAC)

    def factor(i):
        if i < warmup:
            f = i / warmup
            return START_FACTOR * (1 - f) + f
        f = (i - warmup) / (total - warmup)
        return (1 - f) + END_FACTOR * f
    sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
    alpha = LOOKAHEAD_BASE ** LOOKAHEAD_EVERY * (torch.arange(total + 1) / total) ** 3

    def lookahead(decay):
        with torch.no_grad():
            for k, live in net.state_dict().items():
                if live.dtype.is_floating_point:
                    shadow[k].lerp_(live, 1.0 - decay)
                    live.copy_(shadow[k])

    losses = []
    net.train()
    for k in range(total):
        _, x = images(1000 + k * BATCH, BATCH, dtype)
        y = labels(1000 + k * BATCH, BATCH)
        loss = F.cross_entropy(net(x), y, label_smoothing=SMOOTHING, reduction="sum")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
        step = k + 1
        if step % LOOKAHEAD_EVERY == 0:
            lookahead(alpha[step].item())
        if step >= total:
            lookahead(1.0)
    params = []
    for _, p, _ in net.tensors():
        params += flat(p)
    return {"multi.config": [STEPS, lr, MOMENTUM, WD, NORM_BIAS_MULT, WARMUP_FRAC,
                             START_FACTOR, END_FACTOR, LOOKAHEAD_EVERY, LOOKAHEAD_BASE],
            "multi.loss": losses, "multi.params": params, "multi.state": state_block(net)}


def compute(dtype):
    rec = {"config": list(WIDTHS) + [BATCH]}
    sizes = [p.numel() for _, p, _ in make_net(dtype).tensors()]
    rec["tensors"] = [len(sizes)]
    rec["sizes"] = sizes
    rec.update(one_step(dtype))
    rec.update(multi_steps(dtype))
    return rec


def fp64_report(a, b):
    """How far float32 (a) is from float64 (b), per record: the largest
    |a - b| over the record's largest |b|."""
    for name in b:
        x, y = torch.tensor(a[name], dtype=torch.float64), torch.tensor(b[name],
                                                                        dtype=torch.float64)
        if name == "multi.params":  # the test compares the change from the start
            y0 = torch.tensor([v for _, p, _ in make_net(torch.float64, whitened=True).tensors()
                               for v in flat(p)], dtype=torch.float64)
            x, y = x - y0, y - y0
        scale = y.abs().max().item()
        print("%-18s %6d values  max |f32 - f64| / max |f64| = %.2g" %
              (name, y.numel(), (x - y).abs().max().item() / (scale or 1)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fp64", action="store_true",
                    help="compare float32 with float64; write nothing")
    args = ap.parse_args()
    rec = compute(torch.float32)
    if args.fp64:
        fp64_report(rec, compute(torch.float64))
        return
    with open(FIXTURE, "w") as f:
        f.write("# written by tools/torch_airbench.py (PyTorch %s); see its header\n"
                % torch.__version__)
        for name, vals in rec.items():
            fmt = "%.9g"
            f.write("%s %d %s\n" % (name, len(vals), " ".join(fmt % v for v in vals)))
    print("wrote %s" % os.path.normpath(FIXTURE))


if __name__ == "__main__":
    main()
