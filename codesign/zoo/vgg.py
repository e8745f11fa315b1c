"""VGG-19 for CIFAR with BatchNorm, in the Network Slimming configuration (Liu et al. 2017):
16 conv layers without bias, a global average pool and one Linear(512, classes); ~20.0M params."""
from __future__ import annotations

from collections import OrderedDict

import torch.nn as nn

from . import register_model, scaled

VGG19_CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
             512, 512, 512, 512]


def vgg(cfg, width, in_shape, num_classes) -> nn.Sequential:
    layers: dict[str, nn.Module] = {}
    prev, conv_i, pool_i = in_shape[0], 0, 0
    for item in cfg:
        if item == "M":
            pool_i += 1
            layers[f"pool{pool_i}"] = nn.MaxPool2d(2)
            continue
        conv_i += 1
        out = scaled(item, width)
        layers[f"conv{conv_i}"] = nn.Conv2d(prev, out, 3, padding=1, bias=False)
        layers[f"bn{conv_i}"] = nn.BatchNorm2d(out)
        layers[f"relu{conv_i}"] = nn.ReLU()
        prev = out
    layers["gap"] = nn.AdaptiveAvgPool2d(1)
    layers["flatten"] = nn.Flatten()
    layers["fc"] = nn.Linear(prev, num_classes)
    return nn.Sequential(OrderedDict(layers))


@register_model()
def vgg19(width=1.0, in_shape=(3, 32, 32), num_classes=10):
    """CIFAR VGG-19 with BatchNorm (Network Slimming configuration): 20.0M params."""
    return vgg(VGG19_CFG, width, in_shape, num_classes)
