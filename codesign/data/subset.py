"""A slice of the training set, optionally mixed with replayed earlier samples.

Recipes select it with ``data.options.subset: {start, stop, replay}``: training samples
``start .. stop-1`` (indices after the validation hold-out) are the *new* data; ``replay`` adds
that fraction of the samples before ``start`` (the *old* data), drawn with the recipe's seed.
This makes the data-incremental protocol well defined: a model trained with ``stop: 30000`` (or
``--train-limit 30000``) saw the old part; an update with ``start: 30000`` sees the new part.
"""
from __future__ import annotations

from typing import Any, Optional

import torch
from pydantic import Field

from ..config import Strict, validate
from ..errors import DataError


class Subset(Strict):
    start: int = Field(0, ge=0)
    stop: Optional[int] = Field(None, ge=1)
    replay: float = Field(0.0, ge=0, le=1)


def select(train, subset: Any, seed: int):
    """(x, y) of the selected training samples: the new slice first, then the replayed old ones."""
    cfg = validate(Subset, subset, "data.options.subset")
    n = len(train[1])
    stop = n if cfg.stop is None else cfg.stop
    if not cfg.start < stop <= n:
        raise DataError(f"data.options.subset: need start < stop <= {n} (training samples after the validation "
                        f"hold-out), got start={cfg.start}, stop={cfg.stop}")
    index = torch.arange(cfg.start, stop)
    n_replay = round(cfg.replay * cfg.start)
    if n_replay:
        gen = torch.Generator().manual_seed(seed * 31 + 7)
        old = torch.randperm(cfg.start, generator=gen)[:n_replay].sort().values
        index = torch.cat([index, old])
    return train[0][index], train[1][index]
