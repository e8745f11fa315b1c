"""Choosing the highest-scored weights: shared by the pruning steps of several methods."""
from __future__ import annotations

from typing import Callable, Dict

import torch

TopMask = Callable[[torch.Tensor, int], torch.Tensor]


def top_mask(scores: torch.Tensor, k: int) -> torch.Tensor:
    """Bool mask of the ``k`` largest entries; ties broken by position (deterministic)."""
    flat = scores.flatten()
    keep = torch.zeros(flat.numel(), dtype=torch.bool)
    if k > 0:
        keep[torch.argsort(flat, descending=True, stable=True)[:k]] = True
    return keep.view_as(scores)


def global_top_masks(scores: Dict[str, torch.Tensor], k: int, top: TopMask = top_mask) -> Dict[str, torch.Tensor]:
    """The ``k`` highest scores over all tensors together, as one mask per tensor; a tensor left with
    nothing keeps its single best entry (a layer is never cut off completely)."""
    chosen = top(torch.cat([s.flatten() for s in scores.values()]), k)
    masks, start = {}, 0
    for name, s in scores.items():
        masks[name] = chosen[start:start + s.numel()].view_as(s)
        start += s.numel()
        if not masks[name].any():
            masks[name] = top(s, 1)
    return masks


def mean_normalised(scores: torch.Tensor) -> torch.Tensor:
    """Each unit's score over its group's mean: a unit of average saliency counts 1 in every group, whatever
    the group's width or scale (global structured pruning's cross-layer ranking)."""
    s = scores.detach().float()
    return s / s.mean().clamp_min(1e-12)
