"""Pareto fronts on known tables, and the fast 2-objective path against the general one."""
from __future__ import annotations

import numpy as np
import pytest

from codesign.errors import CodesignError
from codesign.sweep import front_rows, pareto_mask
from codesign.sweep.pareto import _front, _front_2d

TABLE = [
    {"id": "a", "lat": 1.0, "acc": 0.90, "dsp": 50},
    {"id": "b", "lat": 2.0, "acc": 0.95, "dsp": 10},
    {"id": "c", "lat": 3.0, "acc": 0.94, "dsp": 5},     # slower and worse than b, but fewer DSPs
    {"id": "d", "lat": 4.0, "acc": 0.99, "dsp": 80},
    {"id": "e", "lat": 2.0, "acc": 0.95, "dsp": 10},    # identical to b: kept with it
    {"id": "f", "lat": None, "acc": 1.00, "dsp": 1},    # missing latency: never on a front
    {"id": "g", "lat": 5.0, "acc": 0.99, "dsp": 90},    # dominated by d
    {"id": "h", "lat": float("nan"), "acc": 0.99, "dsp": 1},
    {"id": "i", "lat": 1.5, "acc": 0.80, "dsp": 60},    # dominated by a
]


def ids(rows, objectives):
    return {r["id"] for r, keep in zip(rows, pareto_mask(rows, objectives)) if keep}


def test_two_objectives_known_front():
    assert ids(TABLE, {"lat": "min", "acc": "max"}) == {"a", "b", "d", "e"}


def test_three_objectives_known_front():
    assert ids(TABLE, {"lat": "min", "acc": "max", "dsp": "min"}) == {"a", "b", "c", "d", "e"}


def test_single_objective_keeps_all_ties_of_the_best():
    assert ids(TABLE, {"acc": "max"}) == {"f"}
    assert ids(TABLE, {"lat": "min"}) == {"a"}


def test_front_rows_sorted_by_first_objective():
    assert [r["id"] for r in front_rows(TABLE, {"lat": "min", "acc": "max"})] == ["a", "b", "e", "d"]
    assert [r["id"] for r in front_rows(TABLE, {"acc": "max", "lat": "min"})] == ["d", "b", "e", "a"]


def test_bad_sense_and_no_objective_are_errors():
    with pytest.raises(CodesignError, match="sense"):
        pareto_mask(TABLE, {"lat": "smallest"})
    with pytest.raises(CodesignError, match="at least one"):
        pareto_mask(TABLE, {})


@pytest.mark.parametrize("seed", range(5))
def test_fast_two_objective_front_equals_the_general_one(seed):
    values = np.random.default_rng(seed).integers(0, 6, size=(200, 2)).astype(float)   # many ties
    assert (_front_2d(values) == _front(values, block=37)).all()
