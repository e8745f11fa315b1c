"""The folding under a latency bound: the least resources whose latency is within the bound (and within
``max_util`` of every resource) -- what a user with a trigger or latency budget wants, instead of the
fastest design that fits (:func:`codesign.sim.folding.choose_folding` without a bound).

    folding = choose_folding(network, device, mapping, max_util=0.8, max_latency_cycles=2_000)
    folding.meets_latency, folding.latency_cycles, folding.utilisation, folding.unbounded

"Resources" is one number: the sum over DSP, LUT, FF, BRAM and URAM of each one's share of the device
(:func:`resource_cost`). The search starts from the fastest folding (the unbounded search's choice). That
one minimises the interval first, then the latency, so it can miss a bound that a folding of a longer
interval meets (a LeNet-5 on the ZCU102 within 993 DSPs and 85 k LUTs: 11.2 us at its interval of 1,046
cycles, 8.4 us at 1,302). When it misses, only the relaxation bisected on the latency alone (below) starts
the search; when that finds nothing within ``max_util`` either, the fastest is returned as it is, with a
note of by how much it misses. On the unbounded search's cost table:

1. starting designs: the fastest search's other choices at its interval that meet the bound (its cheapest
   one, and those that spent the budget on latency otherwise); bisection on the target interval, from the fastest one up (the longest target
   whose cheapest design -- each layer's cheapest candidate that keeps up with it, as the unbounded
   search chooses -- still meets the bound in the full estimate); and the relaxation of the
   multiple-choice knapsack "least cost with the layers' times summing to at most the bound": each layer
   takes its candidate of least ``cost + lam * time``, ``lam`` bisected for the cheapest design that meets
   the bound in the full estimate, with a layer's time its first-output depth, or depth plus interval
   (io_stream latency also grows with the intervals); and the same relaxation with ``lam`` bisected on
   the latency bound alone (kept where its design is within ``max_util``);
2. from each, descent: each layer in turn moves to its cheapest candidate (by the table) that keeps
   the full estimate within the bound and ``max_util`` and lowers the resource cost; when no layer moves, an exchange (one layer to a cheaper, slower candidate, another to
   the cheapest one at least that much faster, less the latency left under the bound); until no move
   helps, or ``MAX_EVALUATIONS`` full-estimate checks are spent (then the best design found so far).

Every accepted design meets the bound and ``max_util`` of every resource in the full estimate (FIFOs and
all), and the descent only lowers the cost, so the result never costs more in all than the unbounded
choice; it may use more of one resource to save more of others (a user's LeNet-5 at width 0.25 on the
PYNQ-Z2 at 50 us, ``--max-util 0.8,LUT=0.3``: 25% of the DSPs and 11% of the LUTs, where holding every
resource to the fastest design's use kept 79% of the DSPs and 20% of the LUTs). The estimator prices every candidate (:mod:`codesign.sim.fold_table`); nothing here
knows how a cycle or a LUT is counted.
"""
from __future__ import annotations

import time
from dataclasses import replace
from typing import Dict, List, Optional, Tuple

import numpy as np

from .device import Device
from .fold_table import RESOURCES
from .folding import (LEAST_RESOURCES, Folding, SearchState, _Budget, _cheapest, _greedy_latency, _relaxed,
                      _stacked, device_budget, evaluate)
from .layers import Network
from .log_bisection import log_threshold
from .mapping import Mapping

DESCENT_PASSES = 6
MAX_EVALUATIONS = 400         # full-estimate checks per search (a deep io_stream network: ~0.1 s each)
LAMBDA_RANGE = (-12.0, 3.0)   # log10 of the price of a cycle, in device shares (the relaxation's bisection)
LAMBDA_STEPS = 30
EPS = 1e-9
HASTEN_TRIES = 2              # full estimates per layer and step of :meth:`_Bounded.hasten`
HASTEN_SLACK = 0.05           # how far over the budget the table's shares may put a candidate it tries


def resource_cost(util: Dict[str, float]) -> float:
    """The sum of every resource's share of the device (what "least resources" minimises)."""
    return float(sum(util.get(k, 0.0) for k in RESOURCES))


def misses_by(folding: Folding) -> str:
    """'misses the latency bound of N cycles by X% (latency M cycles at the fastest folding that fits)'."""
    over = folding.latency_cycles / folding.max_latency_cycles - 1.0
    return (f"no folding found within {folding.max_util.describe()} meets the latency bound of "
            f"{folding.max_latency_cycles:,.0f} cycles: the fastest found misses it by {100 * over:.1f}% "
            f"({folding.latency_cycles:,.0f} cycles)")


def least_resources(fastest: Folding, state: SearchState, network: Network, device: Device, base: Mapping,
                    bound: float, fifo: bool, t0: float) -> Folding:
    """The folding of the module doc, from the unbounded search's result ``fastest`` and its ``state``."""
    search = _Bounded(state, network, device, base, bound, fifo) if fastest.fits and len(state.table.layers) else None
    if search is not None and fastest.latency_cycles <= bound + EPS:
        starts = [search.bisect()] + [search.lagrangian(t) for t in ("depth", "depth+interval")] + \
            [c for c in state.others if search.check(c) is not None]
    else:                                   # the fastest misses: a longer interval may still meet the bound
        starts = search.quickest_within() if search is not None else []
    if not starts:
        out = replace(fastest, max_latency_cycles=bound)
        if not out.meets_latency:
            out = replace(out, notes=out.notes + (misses_by(out),))
        return replace(out, seconds=time.perf_counter() - t0)
    best = min((search.descend(c) for c in starts), key=lambda c: search.check(c)[0])
    chosen, plan, by_layer, streams, costs, util = search.result(best)
    table = state.table
    cheapest = np.argmin(np.where(table.valid, search.layer_cost, np.inf), axis=1)
    reasons = tuple("its cheapest folding (the bound leaves room)" if best[i] == cheapest[i]
                    else "faster than its cheapest: the latency bound needs it" for i in range(len(best)))
    saved = [f"{k.upper()} {fastest.utilisation[k]:.0%} -> {util[k]:.0%}" for k in ("dsp", "lut", "ff", "bram")
             if f"{util[k]:.0%}" != f"{fastest.utilisation[k]:.0%}"]
    fastest_text = (f"the fastest folding that fits takes {fastest.latency_cycles:,.0f} cycles"
                    if fastest.latency_cycles <= bound + EPS else
                    f"the folding of the shortest interval ({fastest.interval_cycles:,.0f} cycles) takes "
                    f"{fastest.latency_cycles:,.0f}, over the bound")
    limit = (f"least resources within the latency bound of {bound:,.0f} cycles (latency {costs.latency_cycles:,.0f}); "
             + fastest_text + (f" and {', '.join(saved)}" if saved else " and no more of any resource"))
    return Folding(
        names=fastest.names, rf=tuple(int(r) for r in chosen["rf"]),
        strategy=tuple("Resource" if r else "Latency" for r in chosen["resource"]), reasons=reasons,
        fifo_depth=by_layer, fifo_streams=streams, target_interval=float(np.max(chosen["interval"], initial=0.0)),
        limit=limit, fits=True, max_util=fastest.max_util, utilisation=util,
        interval_cycles=float(costs.interval_cycles), latency_cycles=float(costs.latency_cycles),
        seconds=time.perf_counter() - t0, evaluations=fastest.evaluations + search.evaluations,
        rounds=fastest.rounds, notes=fastest.notes, max_latency_cycles=bound, objective=LEAST_RESOURCES,
        fastest=fastest)


class _Bounded:
    """Full-estimate checks of choices on one cost table, cached (see the module doc)."""

    def __init__(self, state: SearchState, network: Network, device: Device, base: Mapping, bound: float,
                 fifo: bool):
        self.state, self.network, self.device, self.base = state, network, device, base
        self.bound, self.fifo = bound, fifo
        self.ceiling = {k: state.max_util[k] for k in RESOURCES}
        table = state.table
        avail = np.array([max(float(getattr(device, k)), 1.0) for k in RESOURCES])
        self.layer_cost = (_stacked(table) / avail).sum(axis=-1)               # (m, K) the table's share sum
        self.cache: Dict[Tuple[int, ...], tuple] = {}
        self.evaluations = 0

    @property
    def exhausted(self) -> bool:
        """The full-estimate checks are spent (``MAX_EVALUATIONS``): the search keeps what it has."""
        return self.evaluations >= MAX_EVALUATIONS

    def _evaluated(self, choice: np.ndarray) -> tuple:
        """(resource cost, full evaluation, meets the latency bound, within the ceiling), cached."""
        key = tuple(int(c) for c in choice)
        if key not in self.cache:
            self.evaluations += 1
            got = evaluate(self.state, self.network, self.device, self.base, np.asarray(key), self.fifo)
            costs, util = got[4], got[5]
            self.cache[key] = (resource_cost(util), got, costs.latency_cycles <= self.bound + EPS,
                               not costs.refused and all(util[k] <= self.ceiling[k] + 1e-9 for k in RESOURCES))
        return self.cache[key]

    def check(self, choice: np.ndarray) -> Optional[tuple]:
        """(resource cost, full evaluation) when ``choice`` meets the bound within the ceiling, else None."""
        cost, got, fast, within = self._evaluated(choice)
        return (cost, got) if fast and within else None

    def result(self, choice: np.ndarray):
        return self.check(choice)[1]

    def bisect(self) -> np.ndarray:
        """The cheapest design of the longest target interval that still meets the bound (else the fastest)."""
        table, base_choice = self.state.table, self.state.choice
        budget = device_budget(self.device, self.state.max_util)
        b = _Budget.of(table, budget)
        res = _stacked(table)
        start = float(np.max(table.interval[np.arange(len(base_choice)), base_choice], initial=0.0))
        targets = np.unique(table.interval[table.valid])
        targets = targets[targets >= start]
        lo, hi, best = -1, len(targets), base_choice          # targets[lo] meets (-1: the fastest), targets[hi] not
        while hi - lo > 1 and not self.exhausted:
            mid = (lo + hi) // 2
            got = _cheapest(table, res, b, float(targets[mid]))
            if got is not None and self.check(got[0]) is not None:
                lo, best = mid, got[0]
            else:
                hi = mid
        if self.check(best) is None:                          # (the fastest always meets it)
            best = base_choice
        return np.asarray(best)

    def lagrangian(self, time: str) -> np.ndarray:
        """Each layer's candidate of least ``cost + lam * time`` (time: the table's first-output depth, or
        depth plus interval, cycles), for the smallest ``lam`` (bisected on a log scale) whose design meets
        the bound in the full estimate: the multiple-choice knapsack's relaxation (else the fastest)."""
        table = self.state.table
        t = table.depth + (table.interval if time == "depth+interval" else 0.0)
        def pick(lam: float) -> np.ndarray:
            return np.argmin(np.where(table.valid, self.layer_cost + lam * t, np.inf), axis=1)

        lo, hi = LAMBDA_RANGE
        if self.check(pick(10.0 ** lo)) is not None:
            return pick(10.0 ** lo)
        if self.check(pick(10.0 ** hi)) is None:
            return self.state.choice
        lo, hi = log_threshold(lambda lam: self.check(pick(lam)) is not None, lo, hi, LAMBDA_STEPS,
                               stop=lambda: self.exhausted)
        return np.asarray(pick(10.0 ** hi))

    def quickest_within(self) -> List[np.ndarray]:
        """Designs of least latency within ``max_util`` whatever their interval, those that meet the bound:
        the fastest search's latency relaxation (:func:`~codesign.sim.folding._relaxed`: least summed depth,
        or depth plus interval, within the budget, under price rounds; and the choice just over the budget
        made to fit) over every candidate, as they are and improved greedily by the table, and the fastest
        search's choice, each hastened (:meth:`hasten`) to the bound. They reach designs the fastest search
        does not: that one minimises the interval first, and a longer interval can have the shorter latency
        (a LeNet-5 on the ZCU102 within 993 DSPs and 85 k LUTs: 11.2 us at its interval of 1,046 cycles,
        where folding for an interval of 1,302 meets 8.44 us)."""
        table = self.state.table
        shares = _Budget.of(table, device_budget(self.device, self.state.max_util)).shares(_stacked(table))
        found: List[np.ndarray] = []
        relaxed = [c for t in (table.depth, table.depth + table.interval) for c in _relaxed(t, shares, table.valid)]
        starts: List[np.ndarray] = []
        for c in [self.state.choice] + relaxed + [_greedy_latency(table, shares, table.valid, c) for c in relaxed]:
            if not any(np.array_equal(c, d) for d in starts):
                starts.append(c)
        for choice in starts:
            choice = self.hasten(choice, shares)
            if choice is not None and not any(np.array_equal(choice, c) for c in found):
                found.append(choice)
        return found

    def hasten(self, choice: np.ndarray, shares: np.ndarray) -> Optional[np.ndarray]:
        """A design within the ceiling moved, one layer at a time, to faster candidates until it meets the
        bound: each step tries, for every layer, its fastest candidates (by the table's depth) that the
        table's ``shares`` of the budget keep within it (within ``HASTEN_SLACK``), at most
        ``HASTEN_TRIES`` full estimates each, the first within the ceiling counting; and takes the move
        that cuts the latency most per resource share it adds. None where the design is over the ceiling
        or no move cuts the latency any more."""
        table = self.state.table
        rows = np.arange(len(choice))
        choice = np.asarray(choice).copy()
        cost, got, fast, within = self._evaluated(choice)
        while within and not fast and not self.exhausted:
            latency, best = got[4].latency_cycles, None
            used = shares[rows, choice].sum(axis=0)
            for i in range(len(choice)):
                room = used - shares[i, choice[i]]
                faster = [j for j in np.argsort(table.depth[i]).tolist()
                          if table.valid[i, j] and table.depth[i, j] < table.depth[i, choice[i]]
                          and np.all(room + shares[i, j] <= 1.0 + HASTEN_SLACK)]
                for j in faster[:HASTEN_TRIES]:           # fastest first: the first within the ceiling
                    if self.exhausted:
                        break
                    trial = choice.copy()
                    trial[i] = j
                    t_cost, t_got, _, t_within = self._evaluated(trial)
                    if t_within:
                        cut = latency - t_got[4].latency_cycles
                        gain = cut / max(t_cost - cost, 1e-6)
                        if cut > 0 and (best is None or gain > best[0]):
                            best = (gain, trial)
                        break
            if best is None:
                return None
            choice = best[1]
            cost, got, fast, within = self._evaluated(choice)
        return choice if within and fast else None

    def descend(self, choice: np.ndarray) -> np.ndarray:
        """Layer by layer, the cheapest candidate (by the table) that keeps the design within the bound and
        lowers its resource cost; repeated until no layer moves, then exchanges."""
        table = self.state.table
        choice = np.asarray(choice).copy()
        current = self.check(choice)[0]
        for _ in range(DESCENT_PASSES):
            moved = False
            for i in range(len(choice)):
                here = self.layer_cost[i, choice[i]]
                options: List[int] = [j for j in np.argsort(self.layer_cost[i]).tolist()
                                      if table.valid[i, j] and self.layer_cost[i, j] < here - 1e-12]
                for j in options:                        # cheapest first: the first that meets the bound
                    if self.exhausted:
                        break
                    trial = choice.copy()
                    trial[i] = j
                    got = self.check(trial)
                    if got is not None and got[0] < current - 1e-12:
                        choice, current, moved = trial, got[0], True
                        break
            if not moved and not self.exhausted:
                got = self._exchange(choice, current)
                if got is not None:
                    choice, current = got
                    moved = True
            if not moved or self.exhausted:
                break
        return choice

    def _exchange(self, choice: np.ndarray, current: float):
        """One exchange: layer i to a cheaper (slower) candidate, layer j to the cheapest candidate at least
        as much faster (by the table's depth) as i got slower, less the latency left under the bound; the first that lowers the cost within the
        bound: (choice, cost), or None."""
        table = self.state.table
        slack = self.bound - self.check(choice)[1][4].latency_cycles
        for i in range(len(choice)):
            for a in np.argsort(self.layer_cost[i]).tolist():
                if not table.valid[i, a] or self.layer_cost[i, a] >= self.layer_cost[i, choice[i]] - 1e-12:
                    continue
                slower = table.depth[i, a] - table.depth[i, choice[i]] - slack
                for j in range(len(choice)):
                    if j == i:
                        continue
                    ok = table.valid[j] & (table.depth[j] <= table.depth[j, choice[j]] - slower)
                    if not ok.any():
                        continue
                    b = int(np.argmin(np.where(ok, self.layer_cost[j], np.inf)))
                    if self.layer_cost[i, a] + self.layer_cost[j, b] >= \
                            self.layer_cost[i, choice[i]] + self.layer_cost[j, choice[j]] - 1e-12:
                        continue
                    if self.exhausted:
                        return None
                    trial = choice.copy()
                    trial[i], trial[j] = a, b
                    got = self.check(trial)
                    if got is not None and got[0] < current - 1e-12:
                        return trial, got[0]
        return None
