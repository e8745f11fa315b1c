"""Models a user might bring, written here (not in the zoo): one per layer kind the unit tracer,
compaction and export must take. Each entry: (builder, input shape)."""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class DepthwiseSeparable(nn.Module):
    """MobileNet-style: conv → depthwise → pointwise, ReLU6, global average pooling, Dropout."""

    def __init__(self, classes: int = 5):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn0 = nn.BatchNorm2d(8)
        self.dw = nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.pw = nn.Conv2d(8, 12, 1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.drop = nn.Dropout(0.2)
        self.fc = nn.Linear(12, classes)

    def forward(self, x):
        x = F.relu6(self.bn0(self.stem(x)))
        x = nn.functional.relu6(self.bn1(self.dw(x)))
        x = self.pool(torch.relu(self.pw(x)))
        return self.fc(self.drop(torch.flatten(x, 1)))


class DepthMultiplier(nn.Module):
    """A depthwise convolution with two output channels per input channel, then Flatten."""

    def __init__(self, classes: int = 4):
        super().__init__()
        self.conv = nn.Conv2d(2, 6, 3, padding=1)
        self.dw = nn.Conv2d(6, 12, 3, stride=2, padding=1, groups=6)
        self.bn = nn.BatchNorm2d(12)
        self.act = nn.SiLU()
        self.fc = nn.Linear(12 * 4 * 4, classes)

    def forward(self, x):
        return self.fc(self.act(self.bn(self.dw(F.leaky_relu(self.conv(x), 0.1)))).flatten(1))


class InvertedResidual(nn.Module):
    """MobileNetV2 block with a residual add: expand 1×1 → depthwise 3×3 → project 1×1 (+ x)."""

    def __init__(self, classes: int = 3):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1, bias=False), nn.BatchNorm2d(6), nn.ReLU6())
        self.expand = nn.Sequential(nn.Conv2d(6, 18, 1, bias=False), nn.BatchNorm2d(18), nn.ReLU6())
        self.depthwise = nn.Sequential(nn.Conv2d(18, 18, 3, padding=1, groups=18, bias=False),
                                       nn.BatchNorm2d(18), nn.ReLU6())
        self.project = nn.Sequential(nn.Conv2d(18, 6, 1, bias=False), nn.BatchNorm2d(6))
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(6, classes))

    def forward(self, x):
        x = self.stem(x)
        x = x + self.project(self.depthwise(self.expand(x)))
        return self.head(x)


class Grouped(nn.Module):
    """ResNeXt-style grouped convolution (2 input channels per group): its channels stay."""

    def __init__(self, classes: int = 3):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.grouped = nn.Conv2d(8, 8, 3, padding=1, groups=4)
        self.conv2 = nn.Conv2d(8, 10, 1)
        self.fc = nn.Linear(10, classes)

    def forward(self, x):
        x = F.relu(self.grouped(F.relu(self.conv1(x))))
        return self.fc(F.adaptive_avg_pool2d(F.relu(self.conv2(x)), 1).flatten(1))


class Inception(nn.Module):
    """Two branches concatenated on channels (channel offsets), max pooling, Flatten after a conv."""

    def __init__(self, classes: int = 4):
        super().__init__()
        self.stem = nn.Conv2d(1, 6, 3, padding=1)
        self.b1 = nn.Conv2d(6, 4, 1)
        self.b3 = nn.Conv2d(6, 5, 3, padding=1)
        self.mix = nn.Conv2d(9, 7, 3, padding=1)
        self.fc = nn.Linear(7 * 2 * 2, classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.stem(x)), 2)
        x = torch.cat([F.relu(self.b1(x)), F.hardtanh(self.b3(x))], dim=1)
        x = F.avg_pool2d(F.relu(self.mix(x)), 2)
        return self.fc(x.view(x.size(0), -1))


class Signal1d(nn.Module):
    """Conv1d + BatchNorm1d + MaxPool1d + Flatten, then Linear + BatchNorm1d + Dropout."""

    def __init__(self, classes: int = 3):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv1d(2, 6, 5, padding=2), nn.BatchNorm1d(6), nn.LeakyReLU(0.05), nn.MaxPool1d(2),
            nn.Conv1d(6, 8, 3, padding=1), nn.BatchNorm1d(8), nn.Hardtanh(-2.0, 2.0), nn.AvgPool1d(2))
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(8 * 4, 16), nn.BatchNorm1d(16), nn.ReLU(),
                                        nn.Dropout(0.1), nn.Linear(16, classes))

    def forward(self, x):
        return self.classifier(self.features(x))


class SqueezeHead(nn.Module):
    """Conv1d, global average pooling and ``.squeeze(-1)`` instead of Flatten (a common 1-D head)."""

    def __init__(self, classes: int = 3):
        super().__init__()
        self.conv = nn.Conv1d(2, 6, 3, padding=1)
        self.bn = nn.BatchNorm1d(6)
        self.conv2 = nn.Conv1d(6, 8, 3)
        self.pool = nn.AdaptiveAvgPool1d(1)
        self.fc = nn.Linear(8, classes)

    def forward(self, x):
        x = F.relu(self.bn(self.conv(x)))
        return self.fc(self.pool(F.relu(self.conv2(x))).squeeze(-1))


class SamePadding(nn.Module):
    """Keras-style: padding='same' (odd and even kernels), a strided conv, ``x.mean([2, 3])`` as
    the global pooling, Softmax at the end."""

    def __init__(self, classes: int = 4):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3, padding="same"), nn.BatchNorm2d(8), nn.ReLU(),
                                      nn.Conv2d(8, 6, 2, padding="same"), nn.ReLU(),
                                      nn.Conv2d(6, 8, 3, stride=2, padding=1), nn.ReLU())
        self.fc = nn.Linear(8, classes)

    def forward(self, x):
        return torch.softmax(self.fc(self.features(x).mean([2, 3])), dim=1)


class BatchNormMLP(nn.Module):
    """Fully connected with BatchNorm1d, SiLU and Dropout."""

    def __init__(self, classes: int = 4):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(10, 20), nn.BatchNorm1d(20), nn.SiLU(), nn.Dropout(0.3),
                                 nn.Linear(20, 12), nn.ReLU6(), nn.Linear(12, classes))

    def forward(self, x):
        return self.net(x)


class Mosaic(nn.Module):
    """Every 2-D layer kind in one small network (for the C simulation tests): depthwise (one and
    two outputs per channel) and grouped convolutions, Concat, ReLU6/Hardtanh/LeakyReLU, max,
    average and adaptive average pooling, a residual add, Dropout and Flatten after a conv."""

    def __init__(self, classes: int = 4):
        super().__init__()
        self.stem = nn.Conv2d(3, 6, 3, padding=1)
        self.dw = nn.Conv2d(6, 6, 3, padding=1, groups=6)
        self.bn = nn.BatchNorm2d(6)
        self.branch_a = nn.Conv2d(6, 4, 1)
        self.branch_b = nn.Conv2d(6, 6, 3, padding=1, groups=3)
        self.pool = nn.MaxPool2d(2)
        self.widen = nn.Conv2d(10, 20, 3, padding=1, groups=10)
        self.mix = nn.Conv2d(20, 10, 1)
        self.avg = nn.AvgPool2d(2)
        self.adaptive = nn.AdaptiveAvgPool2d(2)
        self.drop = nn.Dropout(0.25)
        self.fc = nn.Linear(10 * 2 * 2, classes)

    def forward(self, x):
        x = F.relu6(self.stem(x))
        x = x + F.relu6(self.bn(self.dw(x)))
        x = torch.cat([F.leaky_relu(self.branch_a(x), 0.1), F.hardtanh(self.branch_b(x), -1.5, 2.0)], dim=1)
        x = self.pool(x)
        x = self.avg(torch.relu(self.mix(torch.relu(self.widen(x)))))
        return self.fc(self.drop(torch.flatten(self.adaptive(x), 1)))


# ---- models no stage takes: each must be a one-line error naming what is wrong (not in USER_MODELS)

class TransposedRecurrent(nn.Module):
    """An RNN over a (channels, time) signal: the recurrent module comes after a tensor method
    (``x.transpose``) that is unsupported too, but the module is what the user must be told about."""

    def __init__(self, kind: type = nn.LSTM):
        super().__init__()
        self.rnn = kind(2, 8, batch_first=True)
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        y, _ = self.rnn(x.transpose(1, 2))
        return self.fc(y[:, -1])


def nan_weights(in_features: int = 16) -> nn.Module:
    """A factory whose weights are NaN before any training."""
    m = nn.Linear(in_features, 5)
    with torch.no_grad():
        m.weight[0, 0] = float("nan")
    return nn.Sequential(m)


class NaNOutput(nn.Module):
    """Finite weights, NaN outputs."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(16, 5)

    def forward(self, x):
        return self.fc(x) * float("nan")


class BatchOfOne(nn.Module):
    """A common user bug: x.view(1, -1) flattens a whole batch into one row, so it runs on one sample only."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(16, 5)

    def forward(self, x):
        return self.fc(x.view(1, -1))


def float64_layer(in_features: int = 16) -> nn.Module:
    """One layer built in float64 (dtype=torch.float64), the rest float32."""
    return nn.Sequential(nn.Linear(in_features, 8), nn.ReLU(), nn.Linear(8, 5, dtype=torch.float64))


class _ResidualBlock(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.c1, self.b1 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
        self.c2, self.b2 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)

    def forward(self, x):
        y = F.relu(self.b1(self.c1(x)))
        return F.relu(x + self.b2(self.c2(y)))


class FunctionalResidual(nn.Module):
    """F.relu and a residual add inside a submodule, and F.relu called twice at the top level: the export names
    them block_relu, block_add, block_relu_2 and relu, relu_2 (simulate said relu_1, add, relu_2 and relu_1)."""

    def __init__(self):
        super().__init__()
        self.stem, self.pool, self.block = nn.Conv2d(1, 8, 3, padding=1), nn.MaxPool2d(4), _ResidualBlock(8)
        self.mix, self.gap, self.fc = nn.Conv2d(8, 8, 1), nn.AdaptiveAvgPool2d(1), nn.Linear(8, 10)

    def forward(self, x):
        x = self.block(self.pool(F.relu(self.stem(x))))
        return self.fc(self.gap(F.relu(self.mix(x))).flatten(1))


def functional_residual(in_shape=(1, 28, 28), num_classes=10) -> nn.Module:
    return FunctionalResidual()


class SiluConcat(nn.Module):
    """SiLU as a module and as F.silu, and a torch.cat of three branches: the export builds a sigmoid and a product
    for each SiLU and two concatenations of two, named act.sigmoid, act.mul, sigmoid, mul, concat, concat_2
    (simulate said act, silu and one concat)."""

    def __init__(self):
        super().__init__()
        self.stem, self.act, self.pool = nn.Conv2d(1, 4, 3, padding=1), nn.SiLU(), nn.MaxPool2d(4)
        self.a, self.b, self.c = nn.Conv2d(4, 4, 1), nn.Conv2d(4, 2, 1), nn.Conv2d(4, 6, 1)
        self.gap, self.fc = nn.AdaptiveAvgPool2d(1), nn.Linear(12, 10)

    def forward(self, x):
        x = self.pool(self.act(self.stem(x)))
        y = torch.cat([self.a(x), F.silu(self.b(x)), self.c(x)], dim=1)
        return self.fc(self.gap(y).flatten(1))


USER_MODELS = {
    "mosaic": (Mosaic, (3, 16, 16)),
    "depthwise_separable": (DepthwiseSeparable, (3, 8, 8)),
    "depth_multiplier": (DepthMultiplier, (2, 8, 8)),
    "inverted_residual": (InvertedResidual, (3, 8, 8)),
    "grouped": (Grouped, (3, 6, 6)),
    "inception": (Inception, (1, 8, 8)),
    "silu_concat": (SiluConcat, (1, 8, 8)),
    "signal1d": (Signal1d, (2, 16)),
    "batchnorm_mlp": (BatchNormMLP, (10,)),
    "squeeze_head": (SqueezeHead, (2, 12)),
    "same_padding": (SamePadding, (3, 8, 8)),
}


def build(name: str, seed: int = 0) -> tuple[nn.Module, tuple]:
    """The model with non-trivial BatchNorm statistics and affine parameters, and its input shape."""
    cls, shape = USER_MODELS[name]
    torch.manual_seed(seed)
    model = cls()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
    return model.eval(), shape
