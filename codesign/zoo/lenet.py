"""LeNet-5 in the Caffe variant used by the pruning literature: conv20-conv50-fc500-fc10."""
from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn as nn

from . import register_model, scaled


@register_model()
def lenet5(width=1.0, in_shape=(1, 28, 28), num_classes=10):
    """431,080 parameters on MNIST (conv 5×5 → ReLU → max-pool 2, twice; fc 800-500-10)."""
    c1, c2, f1 = scaled(20, width), scaled(50, width), scaled(500, width)
    features = nn.Sequential(OrderedDict(
        conv1=nn.Conv2d(in_shape[0], c1, 5), relu1=nn.ReLU(), pool1=nn.MaxPool2d(2),
        conv2=nn.Conv2d(c1, c2, 5), relu2=nn.ReLU(), pool2=nn.MaxPool2d(2),
    ))
    with torch.no_grad():
        flat = features(torch.zeros(1, *in_shape)).numel()
    return nn.Sequential(OrderedDict(
        **OrderedDict(features.named_children()),
        flatten=nn.Flatten(), fc1=nn.Linear(flat, f1), relu3=nn.ReLU(), fc2=nn.Linear(f1, num_classes),
    ))
