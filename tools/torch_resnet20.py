"""torch_resnet20.py: He et al.'s CIFAR ResNet-20 in PyTorch, as models/resnet20.cnn
(option-A shortcuts: stride-2 subsampling and zero-padded channels), for the
scripts that compare cnnlab with PyTorch: tools/fixtures/make_resnet_fixtures.py
(one step) and tools/torch_train_resnet20.py (a training run). tensors() lists
the parameters in cnnlab's order, with their kind (w, g, b, bias).
"""
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.stride, self.cin, self.cout = stride, cin, cout

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.stride > 1 or self.cin != self.cout:
            b = (self.cout - self.cin) // 2
            short = F.pad(x[:, :, ::self.stride, ::self.stride],
                          (0, 0, 0, 0, b, self.cout - self.cin - b))
        else:
            short = x
        return F.relu(out + short)

    def tensors(self):
        return [(self.conv1.weight, "w"), (self.bn1.weight, "g"), (self.bn1.bias, "b"),
                (self.conv2.weight, "w"), (self.bn2.weight, "g"), (self.bn2.bias, "b")]


class CifarResNet(nn.Module):
    """The frame the CIFAR ResNets share: a 3x3 stem convolution with batch norm
    and ReLU, the blocks (each with a tensors() of its own), global average
    pooling and a linear layer."""

    def __init__(self, stem, blocks, features, classes):
        super().__init__()
        self.conv = nn.Conv2d(3, stem, 3, 1, 1, bias=False)
        self.bn = nn.BatchNorm2d(stem)
        self.blocks = nn.ModuleList(blocks)
        self.fc = nn.Linear(features, classes)

    def forward(self, x):
        x = F.relu(self.bn(self.conv(x)))
        for b in self.blocks:
            x = b(x)
        return self.fc(x.mean(dim=(2, 3)))

    def tensors(self):
        t = [(self.conv.weight, "w"), (self.bn.weight, "g"), (self.bn.bias, "b")]
        for b in self.blocks:
            t += b.tensors()
        return t + [(self.fc.weight, "w"), (self.fc.bias, "bias")]


class ResNet20(CifarResNet):
    def __init__(self, n=3):
        blocks, cin = [], 16
        for width in (16, 32, 64):
            for k in range(n):
                stride = 2 if k == 0 and width != 16 else 1
                blocks.append(Block(cin, width, stride))
                cin = width
        super().__init__(16, blocks, 64, 10)
