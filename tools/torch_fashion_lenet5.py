#!/usr/bin/python3
"""torch_fashion_lenet5.py: trains cnnlab's lenet5 (models/lenet5.cnn) in
PyTorch on the Fashion-MNIST IDX files with the recipe `cnnlab train --model
lenet5` uses by default, so the two can be run side by side (issue 16's
acceptance: within 1 point of each other). Run by hand, never by the tests:

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 \\
        tools/torch_fashion_lenet5.py --data /usr/share/datasets/fashion-mnist \\
        [--epochs 10] [--seed 1] [--threads 2] [--lr 0.05 --cosine]

and beside it
    build/cnnlab train --model lenet5 --data /usr/share/datasets/fashion-mnist \\
        --epochs 10 --seed 1 [--lr 0.05 --lr-schedule cosine] && build/cnnlab test RUN_DIR

The recipe, as cnnlab's defaults: a seeded 54,000 / 6,000 split of the 60,000
training images (not the same images as cnnlab's split: compare the two
statistically), normalisation by the train part's mean and std (one
channel), no augmentation, SGD lr 0.01 (--lr), momentum 0.9, weight decay
5e-4 on every parameter, a constant lr or (--cosine) PyTorch's
CosineAnnealingLR over the epochs, stepped per epoch as cnnlab's cosine, batch 128 with the last short batch kept, a fresh shuffle
each epoch, PyTorch's default initialisation (cnnlab's pytorch init). The
network: conv 16 k=5, ReLU, avgpool 2, conv 36 k=3, ReLU, avgpool 2, flatten,
linear 128, ReLU, linear 96, ReLU, linear 10. Prints one line per epoch and
the test accuracy on the t10k files.
"""
import argparse
import gzip
import struct

import numpy as np
import torch
import torch.nn as nn


def read_idx(path):
    with gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def lenet5(classes, side):
    s = ((side - 4) // 2 - 2) // 2
    return nn.Sequential(
        nn.Conv2d(1, 16, 5), nn.ReLU(), nn.AvgPool2d(2),
        nn.Conv2d(16, 36, 3), nn.ReLU(), nn.AvgPool2d(2),
        nn.Flatten(), nn.Linear(36 * s * s, 128), nn.ReLU(),
        nn.Linear(128, 96), nn.ReLU(), nn.Linear(96, classes))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--cosine", action="store_true")
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    rng = np.random.default_rng(a.seed)
    xtr = read_idx(f"{a.data}/train-images-idx3-ubyte.gz")
    ytr = read_idx(f"{a.data}/train-labels-idx1-ubyte.gz").astype(np.int64)
    xte = read_idx(f"{a.data}/t10k-images-idx3-ubyte.gz")
    yte = read_idx(f"{a.data}/t10k-labels-idx1-ubyte.gz").astype(np.int64)
    perm = rng.permutation(len(xtr))
    nval = round(len(xtr) * 0.1)
    val, tr = perm[:nval], perm[nval:]
    mean = xtr[tr].astype(np.float64).mean() / 255
    std = xtr[tr].astype(np.float64).std() / 255

    def tensor(x):
        return torch.from_numpy(((x.astype(np.float32) / 255 - mean) / std)[:, None])

    Xtr, Ytr = tensor(xtr[tr]), torch.from_numpy(ytr[tr])
    Xva, Yva = tensor(xtr[val]), torch.from_numpy(ytr[val])
    Xte, Yte = tensor(xte), torch.from_numpy(yte)
    net = lenet5(int(ytr.max()) + 1, xtr.shape[1])
    opt = torch.optim.SGD(net.parameters(), lr=a.lr, momentum=0.9, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, a.epochs) if a.cosine else None
    loss_fn = nn.CrossEntropyLoss()

    def accuracy(X, Y):
        net.eval()
        with torch.no_grad():
            return sum((net(X[i:i + 1000]).argmax(1) == Y[i:i + 1000]).sum().item()
                       for i in range(0, len(X), 1000)) / len(X)

    for epoch in range(1, a.epochs + 1):
        net.train()
        order = torch.from_numpy(rng.permutation(len(Xtr)))
        total = 0.0
        for i in range(0, len(order), 128):
            b = order[i:i + 128]
            opt.zero_grad()
            loss = loss_fn(net(Xtr[b]), Ytr[b])
            loss.backward()
            opt.step()
            total += loss.item() * len(b)
        if sched:
            sched.step()
        print(f"epoch {epoch:2d}  train loss {total / len(order):.4f}  "
              f"val acc {100 * accuracy(Xva, Yva):.2f}%", flush=True)
    print(f"test accuracy {100 * accuracy(Xte, Yte):.2f}% (seed {a.seed})")


if __name__ == "__main__":
    main()
