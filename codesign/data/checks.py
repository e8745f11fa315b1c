"""What every dataset must satisfy before any training starts, whatever loader produced it.

``load_dataset`` calls :func:`check_splits` last, so a corrupt or mismatched file is a one-line
:class:`DataError` at load time, never a NaN loss, an index error in epoch 3 or a shape error after
the first epoch: inputs are floating-point and finite, labels are integers in
``0 .. num_classes - 1``, every split has samples, as many labels as inputs, and the same sample
shape as the training split.
"""
from __future__ import annotations

from typing import Optional, Sequence, Tuple

import torch

from ..errors import DataError

Pair = Tuple[torch.Tensor, torch.Tensor]


def check_splits(name: str, splits: Sequence[Tuple[str, Optional[Pair]]], num_classes: int) -> None:
    """``splits``: (split name, (inputs, labels) or None) with the training split first."""
    shape = None
    for split, pair in splits:
        if pair is None:
            continue
        x, y = pair
        where = f"dataset '{name}', {split} split"
        if not isinstance(x, torch.Tensor) or not isinstance(y, torch.Tensor):
            raise DataError(f"{where}: the loader must return tensors, got {type(x).__name__}/{type(y).__name__}")
        if len(x) == 0 or x.dim() < 2:
            raise DataError(f"{where}: no samples (inputs of shape {tuple(x.shape)}); check the data files")
        if y.dim() != 1 or len(y) != len(x):
            raise DataError(f"{where}: {len(x)} inputs but labels of shape {tuple(y.shape)}; the image and label "
                            f"files do not belong together, fetch the dataset again")
        if shape is None:
            shape = tuple(x.shape[1:])
        elif tuple(x.shape[1:]) != shape:
            raise DataError(f"{where}: samples of shape {tuple(x.shape[1:])} but the training samples are "
                            f"{shape}; the splits come from different datasets, fetch the dataset again")
        _check_inputs(x, where)
        _check_labels(y, where, num_classes)


def _check_inputs(x: torch.Tensor, where: str) -> None:
    if not x.is_floating_point():
        raise DataError(f"{where}: inputs of type {x.dtype}, expected floating point")
    finite = torch.isfinite(x)
    if not bool(finite.all()):
        bad = int((~finite).flatten(1).any(1).nonzero()[0])
        raise DataError(f"{where}: sample {bad} holds NaN or infinite values; repair or remove it")


def _check_labels(y: torch.Tensor, where: str, num_classes: int) -> None:
    if y.is_floating_point() or y.dtype == torch.bool or y.is_complex():
        raise DataError(f"{where}: labels of type {y.dtype}, expected integer class indices")
    low, high = int(y.min()), int(y.max())
    if low < 0 or high >= num_classes:
        bad = int(((y < 0) | (y >= num_classes)).nonzero()[0])
        raise DataError(f"{where}: label {int(y[bad])} of sample {bad} is outside 0..{num_classes - 1} "
                        f"({num_classes} classes); the label file is corrupt or belongs to another dataset")
