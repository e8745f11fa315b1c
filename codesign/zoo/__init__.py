"""Model zoo. A model is one decorated function; its name is its registry key and its CLI name.

Every builder takes the same keywords: ``width`` (multiplier on every hidden layer's channels or
neurons, e.g. 0.125 for a CGaP seed), ``in_shape`` (C, H, W of one input sample) and
``num_classes``.
"""
from __future__ import annotations

from typing import Callable, Sequence, Tuple

import torch
import torch.nn as nn

from ..errors import CodesignError
from ..registry import Registry
from ..validate import WIDTH_MAX, finite, integer

MODELS: Registry[Callable[..., nn.Module]] = Registry("model")
register_model = MODELS.register


def scaled(channels: int, width: float) -> int:
    """Hidden width after the multiplier: at least one unit."""
    return max(1, int(round(channels * width)))


def create_model(name: str, width: float = 1.0, in_shape: Sequence[int] = (1, 28, 28),
                 num_classes: int = 10) -> nn.Module:
    builder = MODELS.get(name)
    width = finite(width, "width multiplier", low=0, low_open=True, high=WIDTH_MAX)
    num_classes = integer(num_classes, "num_classes", low=1, high=1 << 20)
    shape = tuple(int(d) for d in in_shape)
    try:
        model = builder(width=float(width), in_shape=shape, num_classes=int(num_classes))
        _trial_forward(model, shape)
    except RuntimeError as err:   # the architecture cannot take inputs of this shape
        first = (str(err).strip().splitlines() or [""])[0]
        raise CodesignError(f"model '{name}' does not fit its input of shape {tuple(in_shape)} ({first}); check "
                            f"that --model/--width/--checkpoint and the dataset's input shape "
                            f"(data.options.in_shape) belong together") from None
    model.codesign_spec = {"name": name, "width": float(width), "in_shape": list(in_shape),
                           "num_classes": int(num_classes)}
    return model


def _trial_forward(model: nn.Module, in_shape: Tuple[int, ...]) -> None:
    """One sample of zeros through the model in eval mode (no statistics updated, no randomness used)."""
    training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(1, *in_shape))
    finally:
        model.train(training)


def list_models() -> list[str]:
    return MODELS.names()


from . import lenet, mlp, resnet, vgg  # noqa: E402,F401  (registration side effects)
