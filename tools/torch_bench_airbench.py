#!/usr/bin/python3
"""torch_bench_airbench.py: PyTorch's training (or inference) images/s on the
airbench94 network (tools/torch_airbench.py's definition), measured the way
the project's reference benchmark measures its models, so that
bench/compare.sh can set cnnlab's airbench94 beside it:

    bench/compare.sh --torch tools/torch_bench_airbench.py --models airbench94 \\
        --batch-size 1024 [--precision bf16] [--torch-env tuned]

A training step is SGD (lr 0.01, momentum 0.9, weight decay 5e-4) on the
cross-entropy of a random batch, as the reference benchmark's; the frozen
whitening weight and batch-norm scales take no update, as in the recipe.
Run by hand with Debian's PyTorch (/usr/bin/python3), never by the tests.
"""
import argparse
import os
import statistics
import sys
import time

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_airbench import Airbench94  # noqa: E402


def measure(step, batch, seconds, windows):
    for _ in range(2):  # warm-up
        step()
    rates = []
    for _ in range(windows):
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            step()
            n += 1
        rates.append(batch * n / (time.perf_counter() - t0))
    return statistics.median(rates)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--model', default='airbench94', choices=['airbench94'])
    ap.add_argument('--batch-size', type=int, default=1024)
    ap.add_argument('--precision', choices=['fp32', 'bf16'], default='fp32')
    ap.add_argument('--mode', choices=['train', 'infer'], default='train')
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--channels-last', action='store_true')
    ap.add_argument('--seconds', type=float, default=3.0)
    ap.add_argument('--windows', type=int, default=5)
    ap.add_argument('--quiet', action='store_true')
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = Airbench94()
    x = torch.randn(a.batch_size, 3, 32, 32)
    if a.channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (a.batch_size,))
    autocast = torch.cpu.amp.autocast(enabled=a.precision == 'bf16', dtype=torch.bfloat16)
    if a.mode == 'train':
        model.train()
        params = [p for p in model.parameters() if p.requires_grad]
        opt = torch.optim.SGD(params, lr=0.01, momentum=0.9, weight_decay=5e-4)
        loss_fn = nn.CrossEntropyLoss()

        def step():
            opt.zero_grad(set_to_none=True)
            with autocast:
                loss = loss_fn(model(x).float(), y)
            loss.backward()
            opt.step()
    else:
        model.eval()

        def step():
            with torch.no_grad(), autocast:
                model(x)
    ips = measure(step, a.batch_size, a.seconds, a.windows)
    if a.quiet:
        print(f'{ips:.1f}')
    else:
        layout = 'channels_last' if a.channels_last else 'nchw'
        print(f'pytorch {torch.__version__} {a.model} {a.mode} {a.precision} {layout} '
              f'batch {a.batch_size} threads {a.threads}: {ips:.1f} images/s')


if __name__ == '__main__':
    main()
