#!/usr/bin/python3
"""torch_train_resnet20.py: trains He et al.'s CIFAR ResNet-20 in PyTorch on the
same CIFAR-10 files and with the same recipe as `cnnlab train --model resnet20`,
so that a short run of each says whether cnnlab learns as well as PyTorch does
(the model zoo issue's resnet20 acceptance). Run by hand, never by the tests:

    /usr/bin/python3 tools/torch_train_resnet20.py --data data [--epochs 12]
        [--milestones 6,9] [--subset 10000] [--threads 2] [--seed 1]

and beside it
    build/cnnlab train --model resnet20 --lr 0.1 --momentum 0.9 --weight-decay 1e-4
        --augment crop,flip --lr-schedule multistep --init kaiming
        --epochs 12 --milestones 6,9 --subset 10000

The recipe, as cnnlab's: a seeded 45,000 / 5,000 split of the training files
(not the same images as cnnlab's split: compare the two statistically), the
first --subset images of the train part, per-channel normalisation from the
train part, random crop (zero padding 4, black) and horizontal flip, SGD lr 0.1,
momentum 0.9, weight decay 1e-4 on every parameter, lr / 10 at the
milestones (per epoch), batch 128 with the last short batch kept, kaiming
normal init (fan_in, ReLU gain) for conv and linear weights and zero biases
(cnnlab's --init kaiming). Prints one line per epoch.

With --same-as CNNLAB (the path of a cnnlab binary) the run takes what cnnlab
would draw for the same --seed instead of numpy's draws: the validation split,
the --subset images, the initial weights, every epoch's order and every
image's crop and flip, from a port of cnnlab's generator (src/core/rng.c) and of
the places that use it (src/dataset/split.c, src/train/trainer.c,
src/dataset/augment.c, src/layers/registry.c). Both sides then see the same
batches from the same weights, so their curves differ only by floating-point
rounding and its growth, not by the luck of the draw; one pair of runs is then
a comparison of the two implementations.

For a step-by-step comparison (tools/dynamics.c prints cnnlab's side):
--print-steps prints "step S loss L" for every step; --momentum,
--weight-decay, --lr and --augment (crop,flip or none) change the recipe as
cnnlab's flags of those names do, so that ingredients can be switched off on
both sides; --batch-size likewise.

--save-safetensors FILE (with --cnnlab CNNLAB, default build/cnnlab, whose
`summary resnet20 --json` gives the layer numbers) writes the trained weights
and running estimates under the names `cnnlab export` uses (layers.INDEX.NAME,
tools/torch_models.py) with the normalisation in the metadata, and prints the
model's accuracy on the 10,000 test images: `cnnlab import FILE --model
resnet20 --out DIR` then `cnnlab test DIR` must print the same accuracy
(docs/export.md).
"""
import argparse
import math
import os
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from torch_resnet20 import ResNet20


def make_model():
    """ResNet-20 with cnnlab's --init kaiming: kaiming normal (fan_in, ReLU gain)
    conv and linear weights, zero biases."""
    model = ResNet20()
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight, nonlinearity='relu')
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return model


# ---- a port of cnnlab's random numbers (src/core/rng.c) ----
M64 = (1 << 64) - 1
STREAM_INIT, STREAM_SPLIT, STREAM_SHUFFLE, STREAM_AUGMENT, STREAM_SUBSET = 1, 2, 3, 4, 7


def splitmix64(x):
    x = (x + 0x9e3779b97f4a7c15) & M64
    z = ((x ^ (x >> 30)) * 0xbf58476d1ce4e5b9) & M64
    z = ((z ^ (z >> 27)) * 0x94d049bb133111eb) & M64
    return x, z ^ (z >> 31)


def rotl(v, k):
    return ((v << k) | (v >> (64 - k))) & M64


class CnnRng:
    """xoshiro256** seeded as cnn_rng_init(seed, stream, sub)."""

    def __init__(self, seed, stream, sub):
        x, a = splitmix64(seed & M64)
        x, b = splitmix64(a ^ ((stream * 0xd1b54a32d192ed03) & M64))
        x = b ^ ((sub * 0xaef17502108ef2d9) & M64)
        self.s = []
        for _ in range(4):
            x, z = splitmix64(x)
            self.s.append(z)

    def next(self):
        s0, s1, s2, s3 = self.s
        result = (rotl((s1 * 5) & M64, 7) * 9) & M64
        t = (s1 << 17) & M64
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        self.s = [s0, s1, s2, rotl(s3, 45)]
        return result

    def below(self, n):
        """cnn_rng_below: Lemire's multiply-and-reject."""
        m = (self.next() & 0xffffffff) * n
        if (m & 0xffffffff) < n:
            threshold = ((1 << 32) - n) % n
            while (m & 0xffffffff) < threshold:
                m = (self.next() & 0xffffffff) * n
        return m >> 32

    def uniform(self):
        return (self.next() >> 11) * 2.0 ** -53

    def normal(self):
        u1, u2 = self.uniform(), self.uniform()
        return math.sqrt(-2.0 * math.log(max(u1, 1e-300))) * math.cos(6.283185307179586 * u2)

    def shuffle(self, a):
        for i in range(len(a) - 1, 0, -1):
            j = self.below(i + 1)
            a[i], a[j] = a[j], a[i]


def cnnlab_split(total, seed, val_fraction=0.1):
    """src/dataset/split.c: (train, val) index lists, each ascending."""
    perm = list(range(total))
    CnnRng(seed, STREAM_SPLIT, 0).shuffle(perm)
    nv = int(math.floor(total * val_fraction + 0.5))
    val = set(perm[:nv])
    return [i for i in range(total) if i not in val], sorted(val)


def cnnlab_crops(seed, step, count):
    """src/dataset/augment.c: per image of batch `step`, (dy, dx, flip) with
    the crop offsets in [-4, 4]."""
    out = []
    for i in range(count):
        r = CnnRng(seed, STREAM_AUGMENT, step * 65536 + i)
        w_crop, w_flip = r.next(), r.next()
        dy = (((w_crop & 0xffffffff) * 9) >> 32) - 4
        dx = (((w_crop >> 32) * 9) >> 32) - 4
        out.append((dy, dx, w_flip >> 63))
    return out


def augment_as_cnnlab(x, crops):
    n = x.shape[0]
    padded = np.zeros((n, 3, 40, 40), dtype=np.uint8)
    padded[:, :, 4:36, 4:36] = x
    out = np.empty_like(x)
    for i, (dy, dx, flip) in enumerate(crops):
        img = padded[i, :, dy + 4:dy + 36, dx + 4:dx + 36]
        out[i] = img[:, :, ::-1] if flip else img
    return out


def init_as_cnnlab(model, binary, seed):
    """cnnlab's --init kaiming draws (src/models/model.c, src/layers/registry.c):
    model layer i draws from stream (seed, init, i), std sqrt(2 / fan_in) over
    the weight in (OUT, IN, KH, KW) order; biases zero. The layer indices of
    the convolutions and the linear layer come from `cnnlab summary`."""
    rows = subprocess.run([binary, 'summary', 'resnet20'], check=True, capture_output=True,
                          text=True).stdout.splitlines()
    layers = [int(r.split()[0]) - 1 for r in rows
              if r.strip()[:1].isdigit() and r.split()[2] in ('conv', 'linear')]
    weights = [p for p, kind in model.tensors() if kind == 'w']
    assert len(layers) == len(weights), (len(layers), len(weights))
    with torch.no_grad():
        for i, w in zip(layers, weights):
            r = CnnRng(seed, STREAM_INIT, i)
            std = math.sqrt(2.0 / w[0].numel())
            v = [std * r.normal() for _ in range(w.numel())]
            w.copy_(torch.tensor(v, dtype=torch.float64).reshape(w.shape).float())
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)) and m.bias is not None:
                m.bias.zero_()


def load(folder, names):
    xs, ys = [], []
    for name in names:
        raw = np.fromfile(os.path.join(folder, name), dtype=np.uint8).reshape(-1, 3073)
        ys.append(raw[:, 0].astype(np.int64))
        xs.append(raw[:, 1:].reshape(-1, 3, 32, 32))
    return np.concatenate(xs), np.concatenate(ys)


def augment(x, rng):
    """x (N, 3, 32, 32) uint8 -> random crop with black padding 4, random flip."""
    n = x.shape[0]
    padded = np.zeros((n, 3, 40, 40), dtype=np.uint8)
    padded[:, :, 4:36, 4:36] = x
    dy, dx = rng.integers(0, 9, n), rng.integers(0, 9, n)
    flip = rng.integers(0, 2, n).astype(bool)
    out = np.empty_like(x)
    for i in range(n):
        img = padded[i, :, dy[i]:dy[i] + 32, dx[i]:dx[i] + 32]
        out[i] = img[:, :, ::-1] if flip[i] else img
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--data', default='data')
    ap.add_argument('--epochs', type=int, default=12)
    ap.add_argument('--milestones', default='6,9')
    ap.add_argument('--subset', type=int, default=0, help='train images (0: all 45,000)')
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--lr', type=float, default=0.1)
    ap.add_argument('--momentum', type=float, default=0.9)
    ap.add_argument('--weight-decay', type=float, default=1e-4)
    ap.add_argument('--augment', default='crop,flip', choices=['crop,flip', 'none'])
    ap.add_argument('--batch-size', type=int, default=128)
    ap.add_argument('--print-steps', action='store_true', help='print every step\'s loss')
    ap.add_argument('--same-as', metavar='CNNLAB', default=None,
                    help="a cnnlab binary: take cnnlab's split, subset, init, order and crops")
    ap.add_argument('--save-safetensors', metavar='FILE', default=None,
                    help='write the trained model for `cnnlab import` and print its test accuracy')
    ap.add_argument('--cnnlab', default='build/cnnlab',
                    help='the cnnlab binary whose layer numbers --save-safetensors uses')
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    folder = os.path.join(a.data, 'cifar-10-batches-bin')
    x, y = load(folder, [f'data_batch_{i}.bin' for i in range(1, 6)])
    if a.same_as:
        train, val = cnnlab_split(len(x), a.seed)
        if a.subset:
            CnnRng(a.seed, STREAM_SUBSET, 0).shuffle(train)
            train = train[:a.subset]
        train, val = np.array(train), np.array(val)
    else:
        order = rng.permutation(len(x))
        val, train = order[:5000], order[5000:]
        if a.subset:
            train = train[:a.subset]
    xt = x[train].astype(np.float32) / 255
    mean = xt.mean(axis=(0, 2, 3)).reshape(1, 3, 1, 1)
    std = xt.std(axis=(0, 2, 3)).reshape(1, 3, 1, 1)

    def tensor(u8):
        return torch.from_numpy(((u8.astype(np.float32) / 255 - mean) / std).astype(np.float32))

    xv, yv = tensor(x[val]), torch.from_numpy(y[val])
    model = make_model()
    if a.same_as:
        init_as_cnnlab(model, a.same_as, a.seed)
    order = list(train)  # cnnlab shuffles its list in place, epoch after epoch
    step = 0
    opt = torch.optim.SGD(model.parameters(), lr=a.lr, momentum=a.momentum,
                          weight_decay=a.weight_decay)
    sched = torch.optim.lr_scheduler.MultiStepLR(
        opt, [int(m) for m in a.milestones.split(',')], gamma=0.1)
    print(f'pytorch {torch.__version__} resnet20: {len(train)} train / {len(val)} validation '
          f'images, {a.threads} threads')
    for epoch in range(1, a.epochs + 1):
        t0 = time.perf_counter()
        model.train()
        if a.same_as:
            CnnRng(a.seed, STREAM_SHUFFLE, epoch).shuffle(order)
            perm = np.array(order)
        else:
            perm = rng.permutation(train)
        loss_sum, correct = 0.0, 0
        for s in range(0, len(perm), a.batch_size):
            idx = perm[s:s + a.batch_size]
            if a.augment == 'none':
                xa = x[idx]
            elif a.same_as:
                xa = augment_as_cnnlab(x[idx], cnnlab_crops(a.seed, step, len(idx)))
            else:
                xa = augment(x[idx], rng)
            step += 1
            xb, yb = tensor(xa), torch.from_numpy(y[idx])
            out = model(xb)
            loss = F.cross_entropy(out, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if a.print_steps:
                print(f'step {step} loss {loss.item():.6f}', flush=True)
            elif step == 1:
                print(f'  epoch 1: step 1, loss {loss.item():.4f}', flush=True)
            loss_sum += loss.item() * len(idx)
            correct += (out.argmax(1) == yb).sum().item()
        lr = opt.param_groups[0]['lr']
        sched.step()
        model.eval()
        with torch.no_grad():
            vl, vc = 0.0, 0
            for s in range(0, len(xv), 500):
                out = model(xv[s:s + 500])
                vl += F.cross_entropy(out, yv[s:s + 500], reduction='sum').item()
                vc += (out.argmax(1) == yv[s:s + 500]).sum().item()
        print(f'epoch {epoch:3d}  train loss {loss_sum / len(perm):.4f} acc '
              f'{100 * correct / len(perm):6.2f}%  val loss {vl / len(xv):.4f} acc '
              f'{100 * vc / len(xv):6.2f}%  lr {lr:g}  {time.perf_counter() - t0:6.1f} s',
              flush=True)
    if a.save_safetensors:
        save_for_cnnlab(model, a.cnnlab, a.save_safetensors, mean.ravel(), std.ravel())
        xs, ys = load(folder, ['test_batch.bin'])
        model.eval()
        with torch.no_grad():
            hits = sum((model(tensor(xs[s:s + 500])).argmax(1) == torch.from_numpy(ys[s:s + 500]))
                       .sum().item() for s in range(0, len(xs), 500))
        print(f'resnet20 on {len(xs)} test images: accuracy {100 * hits / len(xs):.2f}% '
              f'(PyTorch eval); wrote {a.save_safetensors}')


def save_for_cnnlab(model, binary, path, mean, std):
    """The model's tensors under cnnlab's names: its conv, batch-norm and
    linear modules in order are cnnlab's layers with tensors in order."""
    import json
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from torch_models import save_safetensors
    summary = json.loads(subprocess.run([binary, 'summary', 'resnet20', '--json'], check=True,
                                        capture_output=True, text=True).stdout)
    layers = [l['index'] - 1 for l in summary['layers']
              if l['kind'] in ('conv', 'batchnorm', 'linear')]
    mods = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.BatchNorm2d, nn.Linear))]
    assert len(layers) == len(mods), (len(layers), len(mods))
    tensors = {}
    for i, m in zip(layers, mods):
        for name, t in m.state_dict().items():
            tensors[f'layers.{i}.{name}'] = t
    save_safetensors(path, tensors, {'mean': json.dumps([float(v) for v in mean]),
                                     'std': json.dumps([float(v) for v in std])})


if __name__ == '__main__':
    main()
