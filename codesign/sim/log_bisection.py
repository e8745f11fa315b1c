"""Bisection on a log scale for the smallest price at which a choice becomes feasible: the Lagrangian
relaxations of the folding searches (:func:`codesign.sim.folding._relaxed`,
:meth:`codesign.sim.folding_bound._Bounded.lagrangian`) each bisect the log10 of a multiplier.

    lo, hi = log_threshold(lambda lam: fits(pick(lam)), -12.0, 3.0, steps=30)
    pick(10.0 ** hi)       # feasible (when it was feasible at the upper end), pick(10.0 ** lo) is not
"""
from __future__ import annotations

from typing import Callable, Tuple


def log_threshold(feasible: Callable[[float], bool], lo: float, hi: float, steps: int,
                  stop: Callable[[], bool] = lambda: False) -> Tuple[float, float]:
    """(lo, hi) log10 bounds around the threshold of a predicate that holds above it: ``feasible(10 ** hi)``
    holds (assumed at the start), ``feasible(10 ** lo)`` does not; ``steps`` halvings, fewer once ``stop()``."""
    for _ in range(steps):
        if stop():
            break
        mid = 0.5 * (lo + hi)
        if feasible(10.0 ** mid):
            hi = mid
        else:
            lo = mid
    return lo, hi
