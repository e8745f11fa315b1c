"""Batch-level data augmentation on in-memory tensors (seeded, no DataLoader workers)."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def augment_batch(x: torch.Tensor, kind: str | None, generator: torch.Generator) -> torch.Tensor:
    """'crop_flip': pad 4, random 32×32 crop and horizontal flip (the CIFAR standard)."""
    if kind is None:
        return x
    if kind != "crop_flip":
        raise ValueError(f"unknown augmentation '{kind}'")
    n, _, h, w = x.shape
    padded = F.pad(x, (4, 4, 4, 4))
    dx = torch.randint(0, 9, (n,), generator=generator)
    dy = torch.randint(0, 9, (n,), generator=generator)
    rows = (dy[:, None] + torch.arange(h)[None, :])                # (n, h)
    cols = (dx[:, None] + torch.arange(w)[None, :])                # (n, w)
    batch = torch.arange(n)[:, None, None, None]
    chan = torch.arange(x.shape[1])[None, :, None, None]
    out = padded[batch, chan, rows[:, None, :, None], cols[:, None, None, :]]
    flip = torch.rand(n, generator=generator) < 0.5
    out[flip] = out[flip].flip(-1)
    return out
