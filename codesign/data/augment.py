"""Batch-level data augmentation on in-memory tensors (seeded, no DataLoader workers).

A dataset names its default (CIFAR: ``crop_flip``); a recipe's ``data.augment`` overrides it (``none`` turns
it off). Kinds:

- ``crop_flip``: pad 4 with zeros, random crop back to the image size and a horizontal flip half the time
  (the CIFAR standard).
- ``shift``: a random translation of up to 2 pixels in each direction, the border repeated (digits: the
  background stays the background; no flip, which would change what a digit is).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from . import AUGMENTATIONS


def _random_crop(x: torch.Tensor, pad: int, mode: str, generator: torch.Generator) -> torch.Tensor:
    """Each image padded by ``pad`` (F.pad ``mode``) and cropped back at a random offset."""
    n, _, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad), mode=mode)
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=generator)
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=generator)
    rows = dy[:, None] + torch.arange(h)[None, :]                  # (n, h)
    cols = dx[:, None] + torch.arange(w)[None, :]                  # (n, w)
    batch = torch.arange(n)[:, None, None, None]
    chan = torch.arange(x.shape[1])[None, :, None, None]
    return padded[batch, chan, rows[:, None, :, None], cols[:, None, None, :]]


def augment_batch(x: torch.Tensor, kind: str | None, generator: torch.Generator) -> torch.Tensor:
    """``x`` (N, C, H, W) augmented with ``kind`` (see the module doc); None or 'none' returns ``x``."""
    if kind in (None, "none"):
        return x
    if kind not in AUGMENTATIONS:
        raise ValueError(f"unknown augmentation '{kind}' (known: {', '.join(AUGMENTATIONS)})")
    if x.dim() != 4:
        raise ValueError(f"augmentation '{kind}' needs images (N, C, H, W), got a batch of shape {tuple(x.shape)}")
    if kind == "shift":
        return _random_crop(x, 2, "replicate", generator)
    out = _random_crop(x, 4, "constant", generator)
    flip = torch.rand(len(x), generator=generator) < 0.5
    out[flip] = out[flip].flip(-1)
    return out
