"""Pareto fronts: the points no other point beats on every objective at once.

A point *dominates* another when it is at least as good on every objective and strictly better on
one. Rows missing an objective (None, NaN, text) take no part and are never on the front; rows
with identical objective values are all kept (neither dominates the other).

    pareto_mask(rows, {"accuracy": "max", "latency_s": "min"}) -> [True, False, ...]
"""
from __future__ import annotations

from typing import Any, Dict, List, Mapping, Sequence

import numpy as np

from ..errors import CodesignError
from .results import number

SENSES = ("min", "max")


def objective_matrix(rows: Sequence[Mapping[str, Any]], objectives: Mapping[str, str]) -> np.ndarray:
    """Rows × objectives as floats to *minimise* (maximised ones negated); NaN where missing."""
    for name, sense in objectives.items():
        if sense not in SENSES:
            raise CodesignError(f"objective '{name}': sense must be 'min' or 'max', got '{sense}'")
    out = np.full((len(rows), len(objectives)), np.nan)
    for i, row in enumerate(rows):
        for j, (name, sense) in enumerate(objectives.items()):
            x = number(row.get(name))
            if x is not None:
                out[i, j] = -x if sense == "max" else x
    return out


def pareto_mask(rows: Sequence[Mapping[str, Any]], objectives: Mapping[str, str]) -> List[bool]:
    """True for the rows on the Pareto front of ``objectives`` (name → 'min' | 'max')."""
    if not objectives:
        raise CodesignError("a Pareto front needs at least one objective")
    values = objective_matrix(rows, objectives)
    valid = ~np.isnan(values).any(axis=1)
    mask = np.zeros(len(rows), dtype=bool)
    index = np.flatnonzero(valid)
    if len(index):
        mask[index] = _front_2d(values[index]) if values.shape[1] == 2 else _front(values[index])
    return mask.tolist()


def _front_2d(v: np.ndarray) -> np.ndarray:
    """O(n log n): sort by the first objective (ties: second), keep each row that improves the best
    second objective seen so far; rows equal to a kept row are kept too."""
    order = np.lexsort((v[:, 1], v[:, 0]))
    keep = np.zeros(len(v), dtype=bool)
    best = np.inf
    last = None
    for i in order:
        pair = (v[i, 0], v[i, 1])
        if v[i, 1] < best or pair == last:
            keep[i] = True
            best = min(best, v[i, 1])
            last = pair
    return keep


def _front(v: np.ndarray, block: int = 1024) -> np.ndarray:
    """Any number of objectives: a row is kept when no row dominates it (blockwise, vectorised)."""
    dominated = np.zeros(len(v), dtype=bool)
    for start in range(0, len(v), block):
        chunk = v[start:start + block]
        no_worse = (v[None, :, :] <= chunk[:, None, :]).all(axis=2)
        better = (v[None, :, :] < chunk[:, None, :]).any(axis=2)
        dominated[start:start + block] = (no_worse & better).any(axis=1)
    return ~dominated


def front_rows(rows: Sequence[Dict[str, Any]], objectives: Mapping[str, str]) -> List[Dict[str, Any]]:
    """The rows on the front, sorted by the first objective."""
    mask = pareto_mask(rows, objectives)
    first, sense = next(iter(objectives.items()))
    chosen = [r for r, m in zip(rows, mask) if m]
    return sorted(chosen, key=lambda r: number(r.get(first)) * (-1 if sense == "max" else 1))
