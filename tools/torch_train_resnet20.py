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
"""
import argparse
import os
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
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    folder = os.path.join(a.data, 'cifar-10-batches-bin')
    x, y = load(folder, [f'data_batch_{i}.bin' for i in range(1, 6)])
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
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.MultiStepLR(
        opt, [int(m) for m in a.milestones.split(',')], gamma=0.1)
    print(f'pytorch {torch.__version__} resnet20: {len(train)} train / {len(val)} validation '
          f'images, {a.threads} threads')
    for epoch in range(1, a.epochs + 1):
        t0 = time.perf_counter()
        model.train()
        perm = rng.permutation(train)
        loss_sum, correct = 0.0, 0
        for s in range(0, len(perm), 128):
            idx = perm[s:s + 128]
            xb, yb = tensor(augment(x[idx], rng)), torch.from_numpy(y[idx])
            out = model(xb)
            loss = F.cross_entropy(out, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
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


if __name__ == '__main__':
    main()
