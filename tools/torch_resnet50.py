"""torch_resnet50.py: the CIFAR ResNet-50 in PyTorch, as models/resnet50.cnn (3x3
stem 64; bottleneck blocks [3, 4, 6, 3]: 1x1, 3x3 with the block's stride, 1x1
to four times the width, each followed by batch norm; a 1x1 convolution and
batch norm on the shortcut of each stage's first block; global average pooling;
the empty dropout slot, an identity; linear to 10), for
tools/fixtures/make_resnet_fixtures.py (one step). tensors() lists the
parameters in cnnlab's order, with their kind (w, g, b, bias): each block's body,
then its shortcut. 23,520,842 parameters.
"""
import torch.nn as nn
import torch.nn.functional as F

from torch_resnet20 import CifarResNet


class Bottleneck(nn.Module):
    def __init__(self, cin, width, stride, project):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, 4 * width, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(4 * width)
        self.project = project
        if project:
            self.conv_s = nn.Conv2d(cin, 4 * width, 1, stride, bias=False)
            self.bn_s = nn.BatchNorm2d(4 * width)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        short = self.bn_s(self.conv_s(x)) if self.project else x
        return F.relu(out + short)

    def tensors(self):
        t = [(self.conv1.weight, "w"), (self.bn1.weight, "g"), (self.bn1.bias, "b"),
             (self.conv2.weight, "w"), (self.bn2.weight, "g"), (self.bn2.bias, "b"),
             (self.conv3.weight, "w"), (self.bn3.weight, "g"), (self.bn3.bias, "b")]
        if self.project:
            t += [(self.conv_s.weight, "w"), (self.bn_s.weight, "g"), (self.bn_s.bias, "b")]
        return t


class ResNet50(CifarResNet):
    def __init__(self, blocks=(3, 4, 6, 3), classes=10):
        layers, cin = [], 64
        for s, (width, n) in enumerate(zip((64, 128, 256, 512), blocks)):
            for k in range(n):
                stride = 2 if k == 0 and s > 0 else 1
                layers.append(Bottleneck(cin, width, stride, project=k == 0))
                cin = 4 * width
        super().__init__(64, layers, cin, classes)
