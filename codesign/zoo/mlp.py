"""Multi-layer perceptrons: LeNet-300-100 (LeCun et al. 1998) and the hls4ml jet-tagging MLP."""
from __future__ import annotations

import math
from typing import Sequence

from collections import OrderedDict

import torch.nn as nn

from . import register_model, scaled


def mlp(in_features: int, hidden: Sequence[int], num_classes: int) -> nn.Sequential:
    """Flatten → (Linear → ReLU)* → Linear; layers named fc1, relu1, ..., fcN."""
    layers: list[tuple[str, nn.Module]] = [("flatten", nn.Flatten())]
    prev = in_features
    for i, width in enumerate(hidden, start=1):
        layers += [(f"fc{i}", nn.Linear(prev, width)), (f"relu{i}", nn.ReLU())]
        prev = width
    layers.append((f"fc{len(hidden) + 1}", nn.Linear(prev, num_classes)))
    return nn.Sequential(OrderedDict(layers))


@register_model()
def lenet300_100(width=1.0, in_shape=(1, 28, 28), num_classes=10):
    """784-300-100-10: 266,610 parameters on MNIST."""
    return mlp(math.prod(in_shape), [scaled(300, width), scaled(100, width)], num_classes)


@register_model()
def jet_mlp(width=1.0, in_shape=(16,), num_classes=5):
    """16-64-32-32-5, the hls4ml jet-tagging benchmark (Duarte et al. 2018): 4,389 parameters."""
    return mlp(math.prod(in_shape), [scaled(64, width), scaled(32, width), scaled(32, width)], num_classes)
