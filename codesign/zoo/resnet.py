"""ResNets: the CIFAR family of He et al. 2016 (ResNet-20/32/56/110: 16-32-64 channels, 3 stages
of (depth-2)/6 basic blocks) and ResNet-18.

Shortcuts that change shape are 1×1 convolution + BatchNorm projections (He et al.'s option B)
rather than option A's strided slice + zero channel padding: projections keep every op one that
ONNX → hls4ml supports and make channel coupling between stages explicit for pruning. They add
2,752 parameters to ResNet-20 (0.272M instead of 0.270M) and to ResNet-110 (1.731M instead of 1.728M).
"""
from __future__ import annotations

from collections import OrderedDict

import torch.nn as nn

from . import register_model, scaled


class BasicBlock(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_ch)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_ch)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_ch != out_ch:
            self.shortcut = nn.Sequential(OrderedDict(conv=nn.Conv2d(in_ch, out_ch, 1, stride, bias=False),
                                               bn=nn.BatchNorm2d(out_ch)))
        self.relu2 = nn.ReLU()

    def forward(self, x):
        out = self.relu1(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu2(out + self.shortcut(x))


class ResNet(nn.Module):
    def __init__(self, stage_widths, blocks_per_stage, in_shape, num_classes, imagenet_stem: bool):
        super().__init__()
        first = stage_widths[0]
        if imagenet_stem:
            self.conv1 = nn.Conv2d(in_shape[0], first, 7, 2, 3, bias=False)
        else:
            self.conv1 = nn.Conv2d(in_shape[0], first, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(first)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(3, 2, 1) if imagenet_stem else nn.Identity()
        stages, prev = [], first
        for i, (width, n) in enumerate(zip(stage_widths, blocks_per_stage)):
            blocks = []
            for j in range(n):
                stride = 2 if (i > 0 and j == 0) else 1
                blocks.append(BasicBlock(prev, width, stride))
                prev = width
            stages.append(nn.Sequential(*blocks))
        self.layers = nn.Sequential(*stages)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(prev, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.fc(self.flatten(self.gap(self.layers(x))))


def cifar_resnet(depth: int, width: float, in_shape, num_classes) -> ResNet:
    n = (depth - 2) // 6
    widths = [scaled(c, width) for c in (16, 32, 64)]
    return ResNet(widths, [n, n, n], in_shape, num_classes, imagenet_stem=False)


@register_model()
def resnet20(width=1.0, in_shape=(3, 32, 32), num_classes=10):
    """CIFAR ResNet-20 (He et al. 2016): 3 stages × 3 basic blocks, 16-32-64 channels, 0.27M params."""
    return cifar_resnet(20, width, in_shape, num_classes)


@register_model()
def resnet32(width=1.0, in_shape=(3, 32, 32), num_classes=10):
    """CIFAR ResNet-32 (He et al. 2016): 3 stages × 5 basic blocks, 16-32-64 channels, 0.47M params."""
    return cifar_resnet(32, width, in_shape, num_classes)


@register_model()
def resnet56(width=1.0, in_shape=(3, 32, 32), num_classes=10):
    """CIFAR ResNet-56 (He et al. 2016): 3 stages × 9 basic blocks, 16-32-64 channels, 0.86M params."""
    return cifar_resnet(56, width, in_shape, num_classes)


@register_model()
def resnet110(width=1.0, in_shape=(3, 32, 32), num_classes=10):
    """CIFAR ResNet-110 (He et al. 2016): 3 stages × 18 basic blocks, 16-32-64 channels, 1.73M params."""
    return cifar_resnet(110, width, in_shape, num_classes)


@register_model()
def resnet18(width=1.0, in_shape=(3, 32, 32), num_classes=10):
    """ResNet-18: 4 stages × 2 basic blocks, 64-128-256-512 channels, 11.2M params (CIFAR stem).

    Inputs of at most 64×64 get the CIFAR stem (3×3 conv, no max-pool); larger inputs get the
    ImageNet stem (7×7/2 conv + 3×3/2 max-pool; 11.7M params with 1000 classes)."""
    widths = [scaled(c, width) for c in (64, 128, 256, 512)]
    return ResNet(widths, [2, 2, 2, 2], in_shape, num_classes, imagenet_stem=min(in_shape[1:]) > 64)
