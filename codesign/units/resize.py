"""The only code that reallocates parameters.

``conform(model, state_dict)`` reshapes a freshly built model so that a checkpoint of a grown or
pruned model loads into it: every Conv/Linear/BatchNorm whose saved tensors differ in size gets
new tensors of the saved size and its shape attributes updated.
"""
from __future__ import annotations

from typing import Mapping

import torch
import torch.nn as nn

from ..errors import CodesignError


def _sync_attributes(module: nn.Module) -> None:
    if isinstance(module, (nn.Conv1d, nn.Conv2d)):
        module.out_channels = module.weight.shape[0]
        module.in_channels = module.weight.shape[1] * module.groups
    elif isinstance(module, nn.Linear):
        module.out_features, module.in_features = module.weight.shape
    elif isinstance(module, nn.modules.batchnorm._BatchNorm):
        module.num_features = module.weight.shape[0] if module.weight is not None else module.running_mean.shape[0]


RESIZABLE = (nn.Conv1d, nn.Conv2d, nn.Linear, nn.modules.batchnorm._BatchNorm)


def conform(model: nn.Module, state_dict: Mapping[str, torch.Tensor]) -> nn.Module:
    """Resize ``model``'s tensors in place to the shapes in ``state_dict`` (values not copied)."""
    modules = dict(model.named_modules())
    expected = set(model.state_dict().keys())
    missing = sorted(expected - set(state_dict))
    unexpected = sorted(set(state_dict) - expected)
    if missing or unexpected:
        detail = f"missing {missing[:3]}" if missing else f"unexpected {unexpected[:3]}"
        raise CodesignError(f"checkpoint does not match the model ({detail}); check --model/--width")
    for key, saved in state_dict.items():
        mod_name, _, attr = key.rpartition(".")
        module = modules[mod_name]
        current = getattr(module, attr)
        if not isinstance(current, torch.Tensor) or current.shape == saved.shape:
            continue
        if not isinstance(module, RESIZABLE):
            raise CodesignError(f"checkpoint tensor '{key}' has shape {tuple(saved.shape)} but the model has "
                                f"{tuple(current.shape)}, and {type(module).__name__} cannot be resized")
        fresh = torch.empty(saved.shape, dtype=current.dtype)
        if isinstance(current, nn.Parameter):
            setattr(module, attr, nn.Parameter(fresh, requires_grad=current.requires_grad))
        else:
            module.register_buffer(attr, fresh)
        _sync_attributes(module)
    return model
