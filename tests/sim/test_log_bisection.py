import math

from codesign.sim.log_bisection import log_threshold


def test_the_threshold_lies_between_the_bounds_it_returns():
    lo, hi = log_threshold(lambda lam: lam >= 0.037, -12.0, 3.0, steps=40)
    assert 10.0 ** lo < 0.037 <= 10.0 ** hi
    assert hi - lo < 1e-9


def test_stop_ends_the_bisection_early_with_the_feasible_side_kept():
    calls = []

    def feasible(lam):
        calls.append(lam)
        return lam >= 1e-3

    lo, hi = log_threshold(feasible, -12.0, 3.0, steps=30, stop=lambda: len(calls) >= 3)
    assert len(calls) == 3
    assert feasible(10.0 ** hi) and not math.isclose(hi, 3.0) and lo < hi
