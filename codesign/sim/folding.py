"""``--reuse-factor auto``: the per-layer reuse factor and strategy (and io_stream FIFO depths) that give
the shortest pipeline interval, then the shortest latency, within a share of the device's resources.

    folding = choose_folding(network, device, mapping, max_util=0.8)
    folding.mapping(mapping)          # the Mapping with every Conv/Dense layer's ReuseFactor/Strategy
    folding.hls_layer_config()        # {layer: {ReuseFactor, Strategy}} for hls4ml's LayerName section

The search balances the dataflow the way FINN's SetFolding does for its own pipelines: a dataflow design
runs at the interval of its slowest layer, so a layer with less work needs less parallelism for the same
interval. For a target interval T every Conv/Dense layer takes the cheapest of its candidates (hls4ml's
valid reuse factors under each strategy, :mod:`codesign.sim.fold_table`) whose interval is at most T; T is
found by bisection over the candidates' intervals (the smallest T whose cheapest design fits the budget).
"Cheapest" over four resources is a weighted sum of each resource's share of its budget; the weights are
prices raised on the resources the choice overdraws (a few rounds per T). What budget is left then buys
latency, keeping T: the least summed first-output depth within the budget, by a Lagrangian relaxation of that
multiple-choice knapsack and greedy moves (best latency gain per budget share first); the full estimate picks
among the best few.

Every number comes from the estimator (the cost table calls its per-layer functions), so the search does
not change when the resource or timing models are recalibrated. Under io_stream the FIFO depths come from
the DATAFLOW schedule (:func:`codesign.sim.fifo_depths.fifo_depths`) of the chosen folding; the search is
repeated when the full estimate of the result (FIFOs and all) is over the budget, with that resource's
budget tightened by the overshoot. The largest folding that still does not fit is returned with
``fits=False`` (:mod:`codesign.sim.ways_out` then looks for a way out).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, fields, replace
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..errors import ConfigError
from . import hls_rules
from .device import Device, device_resources
from .fold_table import RESOURCES, CostTable, cost_table, refold
from .layers import Network
from .log_bisection import log_threshold
from .util_limit import UtilLimit
from ..target import STRATEGIES
from .mapping import LayerSettings, Mapping, match_layers
from .plan import LayerPlan, resolve_plan

FASTEST = "fastest"                          # shortest interval, then latency, within max_util
LEAST_RESOURCES = "least resources within the latency bound"
PRICE_ROUNDS = 8          # price updates per target interval
REFIT_ROUNDS = 3          # searches with a tightened budget when the full estimate is over
LATENCY_PASSES = 4        # greedy passes spending the left-over budget on latency
LATENCY_LAMBDA_RANGE = (-6.0, 6.0)   # log10 of a budget share's price in depths (the latency relaxation)
LATENCY_LAMBDA_STEPS = 30
LATENCY_CHECKS = 3        # choices for latency the full estimate compares (the table's best by summed depth)


def check_max_util(value) -> UtilLimit:
    """``--max-util`` (a share, or shares per resource: :mod:`codesign.sim.util_limit`)."""
    return UtilLimit.of(value)


def device_budget(device: Device, max_util) -> Dict[str, float]:
    """``max_util`` of each resource the device has."""
    return check_max_util(max_util).budget(device_resources(device))


@dataclass(frozen=True)
class Folding:
    """The chosen per-layer settings (Conv/Dense layers; ``names`` in network order) and why."""

    names: Tuple[str, ...]
    rf: Tuple[int, ...]
    strategy: Tuple[str, ...]
    reasons: Tuple[str, ...]
    fifo_depth: Dict[str, int]            # io_stream: depth per layer output (the largest of its streams)
    fifo_streams: Dict[str, int]          # io_stream: depth per hls4ml stream (clones and paddings included)
    target_interval: float                # the interval the layers were folded to, cycles
    limit: str                            # what keeps the interval from being shorter
    fits: bool                            # the full estimate fits ``max_util`` of every resource
    max_util: UtilLimit
    utilisation: Dict[str, float]         # of the full estimate, per resource (share of the device)
    interval_cycles: float
    latency_cycles: float
    seconds: float
    evaluations: int                      # estimator calls (cost-table columns and checks)
    rounds: int = 1
    notes: Tuple[str, ...] = field(default=())
    max_latency_cycles: Optional[float] = None    # the latency bound asked for (None: none)
    objective: str = FASTEST                      # FASTEST, or LEAST_RESOURCES (within the latency bound)
    fastest: Optional["Folding"] = field(default=None, compare=False, repr=False)   # the unbounded one it started from
    refused: Tuple[str, ...] = ()                 # layers HLS refuses (hls_rules.refused): then it does not fit

    @property
    def meets_latency(self) -> bool:
        """No bound, or the latency is within it."""
        return self.max_latency_cycles is None or self.latency_cycles <= self.max_latency_cycles + 1e-9

    @property
    def unbounded(self) -> "Folding":
        """The fastest folding within ``max_util`` (this one when no bound was given or none is met)."""
        return self.fastest if self.fastest is not None else self

    def layer_settings(self, base: Mapping, network: Network) -> Dict[str, LayerSettings]:
        """``base``'s per-layer settings (e.g. precision), keyed by the network's layer names, with this
        folding's RF, strategy and FIFO depth; entries that name no layer (the input's) are kept.
        ``network`` as given to the search (the padding layers io_stream adds are added here too)."""
        from .estimate import hardware_network

        network = hardware_network(network, base)
        names = [l.name for l in network.layers]
        given, _ = base.layer_settings(names, network.meta.get("input"))
        out: Dict[str, LayerSettings] = {k: v for k, v in base.layers.items()
                                         if not match_layers({k: v}, names, network.meta.get("input"))[0]}
        chosen = {n: (r, s) for n, r, s in zip(self.names, self.rf, self.strategy)}
        for layer, ls in zip(network.layers, given):
            changes = {}
            if layer.name in chosen:
                changes.update(reuse_factor=chosen[layer.name][0], strategy=chosen[layer.name][1])
            if layer.name in self.fifo_depth:
                changes["fifo_depth"] = self.fifo_depth[layer.name]
            if changes or any(getattr(ls, f.name) is not None for f in fields(ls)):
                out[layer.name] = replace(ls, **changes)
        return out

    def mapping(self, base: Mapping, network: Network) -> Mapping:
        style = base.pipeline_style if base.pipeline_style != "auto" else \
            hls_rules.pipeline_style_for(zip(self.rf, self.strategy))
        return base.with_(layers=self.layer_settings(base, network), pipeline_style=style)

    def hls_layer_config(self) -> Dict[str, Dict[str, object]]:
        """hls4ml's per-layer keys: ``{name: {ReuseFactor, Strategy}}`` (names as the network has them)."""
        return {n: {"ReuseFactor": int(r), "Strategy": s} for n, r, s in zip(self.names, self.rf, self.strategy)}

    def describe(self) -> Dict[str, object]:
        bound = {} if self.max_latency_cycles is None else {
            "max_latency_cycles": self.max_latency_cycles, "meets_latency": self.meets_latency}
        if self.fastest is not None:
            bound["fastest"] = {"interval_cycles": self.fastest.interval_cycles,
                                "latency_cycles": self.fastest.latency_cycles,
                                "utilisation": self.fastest.utilisation}
        return {"objective": self.objective, **bound, **({"notes": list(self.notes)} if self.notes else {}),
                "target_interval_cycles": self.target_interval, "interval_cycles": self.interval_cycles,
                "latency_cycles": self.latency_cycles, "limit": self.limit, "fits": self.fits,
                **({"refused": list(self.refused)} if self.refused else {}),
                "max_util": self.max_util.as_json(), "utilisation": self.utilisation, "search_seconds": self.seconds,
                "evaluations": self.evaluations, "rounds": self.rounds,
                "layers": {n: {"reuse_factor": int(r), "strategy": s, "why": w,
                               **({"fifo_depth": self.fifo_depth[n]} if n in self.fifo_depth else {})}
                           for n, r, s, w in zip(self.names, self.rf, self.strategy, self.reasons)},
                **({"fifo_streams": self.fifo_streams} if self.fifo_streams else {})}


# ----------------------------------------------------------------------------- the search over one table

@dataclass
class _Budget:
    left: np.ndarray              # budget minus the fixed layers' use, per resource (RESOURCES order)
    used: np.ndarray              # resources the knob layers may use at all

    @classmethod
    def of(cls, table: CostTable, budget: Dict[str, float]) -> "_Budget":
        """What is left for the Conv/Dense layers; a resource the other layers already overdraw keeps a
        sliver (1e-3 of its budget) so that shares stay finite and any use of it counts as over."""
        full = np.array([budget[k] for k in RESOURCES])
        left = full - np.array([table.fixed_res[k] for k in RESOURCES])
        left = np.maximum(left, 1e-3 * np.maximum(full, 1.0))
        used = np.array([bool(np.any(table.res[k][table.valid] > 0)) for k in RESOURCES])
        return cls(left, used)

    def shares(self, amounts: np.ndarray) -> np.ndarray:
        """amounts (..., R) as shares of what is left."""
        return np.where(self.used, amounts / self.left, 0.0)


def _stacked(table: CostTable) -> np.ndarray:
    return np.stack([table.res[k] for k in RESOURCES], axis=-1)          # (m, K, R)


def _cheapest(table: CostTable, res: np.ndarray, budget: _Budget, target: float
              ) -> Optional[Tuple[np.ndarray, np.ndarray]]:
    """Per layer the cheapest candidate meeting ``target`` under price rounds: (choice, its shares), or None
    when some layer has no candidate that fast. The choice with the smallest largest share is returned."""
    ok = table.valid & (table.interval <= target)
    if not ok.any(axis=1).all():
        return None
    shares = budget.shares(res)                                         # (m, K, R)
    rows = np.arange(len(table.layers))
    depth = table.depth / max(float(table.depth.max()), 1.0)
    prices = np.ones(len(RESOURCES))
    best, best_total = None, None
    for _ in range(PRICE_ROUNDS):
        with np.errstate(invalid="ignore"):
            cost = np.where(ok, (shares * prices).sum(axis=-1) + 1e-9 * depth, np.inf)
        choice = np.argmin(cost, axis=1)
        total = shares[rows, choice].sum(axis=0)
        if best_total is None or total.max() < best_total.max():
            best, best_total = choice, total
        if total.max() <= 1.0:
            break
        prices = prices * np.clip(total, 0.05, None) ** 2
        prices = prices / prices.max()
    return best, best_total


def _spend_on_latency(table: CostTable, res: np.ndarray, budget: _Budget, target: float, choice: np.ndarray
                      ) -> List[np.ndarray]:
    """The left-over budget bought as latency: the choice (interval still <= ``target``, within the budget) with
    the least summed first-output depth of several -- the cheapest ``choice`` improved greedily, and the
    relaxations of the multiple-choice knapsack "least depth within the budget" (each layer's candidate of least
    ``depth + lam * priced shares``, ``lam`` bisected to the smallest that fits, under price rounds that raise
    the resources a choice overdraws; and the choice just below that ``lam``, made to fit by :func:`_repaired`),
    each improved greedily too. The greedy alone takes the best gain per
    share first and can spend the budget on small moves that leave no room for a large one (a 4-layer CNN on
    the PYNQ-Z2: 1,373 cycles where the relaxation finds 1,118 at the same interval). Returns the distinct
    choices, least summed depth first, at most ``LATENCY_CHECKS`` and always the cheapest choice's greedy one
    (the depths' sum is the table's measure; the full estimate decides among them, :func:`_fastest`)."""
    rows = np.arange(len(choice))
    ok = table.valid & (table.interval <= target)
    shares = budget.shares(res)
    starts = [choice] + _relaxed(table.depth, shares, ok)

    def rank(c: np.ndarray):
        return float(table.depth[rows, c].sum()), float(shares[rows, c].sum(axis=0).max())

    improved = [_greedy_latency(table, shares, ok, c) for c in starts]
    ranked: List[np.ndarray] = []
    for c in sorted(improved, key=rank):
        if not any(np.array_equal(c, r) for r in ranked):
            ranked.append(c)
    ranked = ranked[:LATENCY_CHECKS]
    if not any(np.array_equal(improved[0], r) for r in ranked):
        ranked.append(improved[0])
    return ranked


def _relaxed(depth: np.ndarray, shares: np.ndarray, ok: np.ndarray) -> List[np.ndarray]:
    """Per price round, the choice of least ``depth + lam * (shares . prices)`` with the smallest ``lam`` (log
    bisection) that keeps every resource's summed share within 1; rounds raise the prices of the resources
    the last choice used most (as :func:`_cheapest` does)."""
    rows = np.arange(len(depth))
    scale = max(float(np.where(ok, depth, 0.0).max()), 1.0)
    prices, found = np.ones(shares.shape[-1]), []
    for _ in range(PRICE_ROUNDS):
        weighted = (shares * prices).sum(axis=-1)

        def pick(lam: float) -> np.ndarray:
            with np.errstate(invalid="ignore"):
                return np.argmin(np.where(ok, depth / scale + lam * weighted + 1e-12 * weighted, np.inf), axis=1)

        lo, hi = LATENCY_LAMBDA_RANGE
        if shares[rows, pick(10.0 ** hi)].sum(axis=0).max() > 1.0:
            break                                          # not even the cheapest fits under these prices
        lo, hi = log_threshold(lambda lam: shares[rows, pick(lam)].sum(axis=0).max() <= 1.0, lo, hi,
                               LATENCY_LAMBDA_STEPS)
        choice = pick(10.0 ** hi)
        found.append(choice)
        over = _repaired(depth, shares, ok, pick(10.0 ** lo))    # the other side of the threshold, made to fit
        if over is not None:
            found.append(over)
        total = shares[rows, choice].sum(axis=0)
        prices = prices * np.clip(total, 0.05, None) ** 2
        prices = prices / prices.max()
    return found


def _repaired(depth: np.ndarray, shares: np.ndarray, ok: np.ndarray, choice: np.ndarray) -> Optional[np.ndarray]:
    """``choice`` (over the budget) brought within it by moving layers to cheaper candidates: a move that
    removes the whole overdraw at the least depth it adds where one does, else the least depth added per
    share of overdraw removed; None when nothing cheaper is left. (The relaxation's choices jump over
    combinations such as "one large move, no small one"; this reaches them from the fast side.)"""
    rows, choice = np.arange(len(choice)), choice.copy()
    for _ in range(depth.size):
        over = np.maximum(shares[rows, choice].sum(axis=0) - 1.0, 0.0)
        if not (over > 1e-12).any():
            return choice
        saved = np.maximum(shares[rows, choice][:, None, :] - shares, 0.0)          # (m, K, R)
        relief = np.minimum(saved, over).sum(axis=-1)
        added = depth - depth[rows, choice][:, None]
        movable = ok & (relief > 1e-12)
        if not movable.any():
            return None
        whole = movable & (relief >= over.sum() - 1e-12)
        with np.errstate(divide="ignore", invalid="ignore"):
            score = np.where(whole, added, np.inf) if whole.any() else np.where(movable, added / relief, np.inf)
        i, j = np.unravel_index(int(np.argmin(score)), score.shape)
        choice[i] = j
    return None


def _greedy_latency(table: CostTable, shares: np.ndarray, ok: np.ndarray, choice: np.ndarray) -> np.ndarray:
    """Move layers to faster-to-first-output candidates while the budget lasts, largest latency gain per
    budget share first."""
    choice = choice.copy()
    rows = np.arange(len(choice))
    for _ in range(LATENCY_PASSES):
        slack = 1.0 - shares[rows, choice].sum(axis=0)
        gain = table.depth[rows, choice][:, None] - table.depth               # (m, K)
        extra = shares - shares[rows, choice][:, None, :]                      # (m, K, R)
        fits = ok & (gain > 0) & np.all(extra <= slack + 1e-12, axis=-1)
        if not fits.any():
            break
        with np.errstate(divide="ignore", invalid="ignore"):
            score = np.where(fits, gain / np.maximum(extra.max(axis=-1), 1e-12), -np.inf)
        best = np.argmax(score, axis=1)
        changed = False
        for i in np.argsort(-score[rows, best]).tolist():
            j = int(best[i])
            if not np.isfinite(score[i, j]) or not np.all(extra[i, j] <= slack + 1e-12):
                continue
            slack = slack - extra[i, j]
            choice[i], changed = j, True
        if not changed:
            break
    return choice


@dataclass(frozen=True)
class _Search:
    choice: np.ndarray
    target: float
    feasible: bool
    moved: np.ndarray             # layers moved faster than the target needs (latency)
    limit: str
    cheapest: Optional[np.ndarray] = None               # the cheapest choice at the target (before latency)
    alternatives: Tuple[np.ndarray, ...] = ()           # other choices that spend the budget on latency, ranked

    def taking(self, choice: np.ndarray) -> "_Search":
        """The same search with ``choice`` (one of its alternatives) as its result."""
        return replace(self, choice=choice, moved=choice != self.cheapest)


def search_table(table: CostTable, budget: Dict[str, float], names: Sequence[str]) -> _Search:
    """Bisection on the target interval over one cost table (see the module doc)."""
    over = [k for k in RESOURCES if table.fixed_res[k] > budget[k]]
    if not len(table.layers):                     # no Conv/Dense layer: nothing to fold
        return _Search(np.zeros(0, dtype=np.int64), float(table.fixed_interval), not over, np.zeros(0, dtype=bool),
                       "no layer has a reuse factor")
    res = _stacked(table)
    b = _Budget.of(table, budget)
    if over:
        choice = np.argmax(np.where(table.valid, table.rf, -1), axis=1)
        return _Search(choice, float(table.interval[np.arange(len(choice)), choice].max(initial=0.0)), False,
                       np.zeros(len(choice), dtype=bool),
                       "the layers without a reuse factor (activations, pooling, Add, their FIFOs) alone need "
                       + ", ".join(f"{table.fixed_res[k] / budget[k]:.0%} of the {k.upper()} budget" for k in over))
    intervals = np.unique(table.interval[table.valid])
    floor = max(table.fixed_interval, float(np.where(table.valid, table.interval, np.inf).min(axis=1).max()))
    targets = intervals[intervals >= floor]
    if not len(targets):
        targets = np.array([floor])
    best = _cheapest(table, res, b, float(targets[-1]))
    if best is None or best[1].max() > 1.0:                 # not even the largest folding fits
        choice = best[0] if best is not None else np.argmax(np.where(table.valid, table.rf, -1), axis=1)
        over = [k for k, s in zip(RESOURCES, best[1] if best is not None else []) if s > 1.0]
        return _Search(choice, float(targets[-1]), False, np.zeros(len(choice), dtype=bool),
                       f"does not fit even at the largest folding (over: {', '.join(over) or 'budget'})")
    lo, hi = 0, len(targets) - 1                            # targets[hi] fits
    found = best
    while lo < hi:
        mid = (lo + hi) // 2
        got = _cheapest(table, res, b, float(targets[mid]))
        if got is not None and got[1].max() <= 1.0:
            hi, found = mid, got
        else:
            lo = mid + 1
    target = float(targets[hi])
    ranked = _spend_on_latency(table, res, b, target, found[0])
    return _Search(ranked[0], target, True, ranked[0] != found[0], _limit(table, res, b, targets, hi, names),
                   found[0], tuple(ranked[1:]))


def _limit(table: CostTable, res: np.ndarray, b: _Budget, targets: np.ndarray, hi: int, names: Sequence[str]) -> str:
    target = float(targets[hi])
    if table.fixed_slowest >= 0 and table.fixed_interval >= target:
        return (f"the interval is set by {names[table.fixed_slowest]}, whose timing no reuse factor changes; "
                f"every Conv/Dense layer has the cheapest folding that keeps up with it")
    if hi == 0:
        return "every layer that sets the interval is at its fastest valid reuse factor"
    faster = _cheapest(table, res, b, float(targets[hi - 1]))
    if faster is None:
        return "no valid reuse factor is faster for the slowest layer"
    share = faster[1]
    k = int(np.argmax(share))
    return (f"{targets[hi - 1]:.0f} cycles would need {share[k] * 100:.0f}% of the {RESOURCES[k].upper()} "
            f"budget left for the Conv/Dense layers")


# ----------------------------------------------------------------------------- the whole search

def _with_fifo(plan: LayerPlan, network: Network, device: Device):
    """(plan with the schedule's FIFO depths, depth per layer, depth per stream) for io_stream plans."""
    if not plan.io_stream:
        return plan, {}, {}
    from .fifo_depths import fifo_depths

    fd = fifo_depths(network, plan, cal=device)
    per_layer = np.zeros(len(network), dtype=np.int64)
    for i in fd.graph.internal().tolist():
        f = fd.graph.fifos[i]
        if 0 <= f.layer < len(fd.graph.network) and fd.graph.network.layers[f.layer].name in network.index:
            j = network.index[fd.graph.network.layers[f.layer].name]
            per_layer[j] = max(per_layer[j], int(fd.depth[i]))
    depth = np.where(per_layer > 0, per_layer, plan.fifo_depth)
    by_layer = {network.layers[i].name: int(per_layer[i]) for i in np.flatnonzero(per_layer).tolist()}
    return replace(plan, fifo_depth=depth), by_layer, fd.by_name()


def choose_folding(network: Network, device: Device, mapping: Mapping, max_util=0.8,
                   strategies: Optional[Sequence[str]] = None, fifo: bool = True,
                   max_latency_cycles: Optional[float] = None) -> Folding:
    """The folding of ``network`` on ``device`` (see the module doc). ``mapping`` gives everything else
    (precision, per-layer types, I/O type, clock, sparse kernel); its reuse factor and strategy are not
    used. ``strategies``: the strategies a layer may take (default both). ``fifo``: size io_stream FIFOs
    from the schedule (else hls4ml's default depths). ``max_latency_cycles``: a latency bound; the folding
    is then the least resources that meet it (:mod:`codesign.sim.folding_bound`), or, when no folding within
    ``max_util`` meets it, the fastest one (``meets_latency`` False, a note says by how much it misses)."""
    if max_latency_cycles is not None:
        max_latency_cycles = check_max_latency(max_latency_cycles, "the latency bound (cycles)")
    fastest, within = fold_fastest(network, device, mapping, max_util, strategies, fifo)
    return fastest if max_latency_cycles is None else within(max_latency_cycles)


def fold_fastest(network: Network, device: Device, mapping: Mapping, max_util=0.8,
                 strategies: Optional[Sequence[str]] = None,
                 fifo: bool = True) -> Tuple[Folding, Callable[[float], Folding]]:
    """(the fastest folding, ``within(max_latency_cycles)``: :func:`choose_folding` under that bound, searched on
    from the same fastest folding instead of choosing it again): for a caller that needs the fastest folding
    and, only where it misses a bound, the folding under the bound (the training budget's check)."""
    from .estimate import hardware_network
    from .folding_bound import least_resources

    t0 = time.perf_counter()
    max_util = check_max_util(max_util)
    strategies = tuple(strategies or STRATEGIES)
    base = mapping.with_(template="dataflow", layers={n: replace(ls, reuse_factor=None, strategy=None)
                                                       for n, ls in mapping.layers.items()})
    network = hardware_network(network, base)      # what the estimate and hls4ml build (io_stream padding)
    fastest, search = _fastest(network, device, base, max_util, strategies, fifo, t0)

    def within(bound: float) -> Folding:            # its seconds: the fastest search's and its own
        return least_resources(fastest, search, network, device, base,
                               check_max_latency(bound, "the latency bound (cycles)"), fifo,
                               time.perf_counter() - fastest.seconds)

    return fastest, within


def check_max_latency(value, what: str = "--max-latency-us") -> float:
    """A latency bound: a positive finite number (else a one-line ConfigError naming ``what``)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if not 0 < number < float("inf"):
        raise ConfigError(f"{what} must be a positive number, got {value}")
    return number


@dataclass(frozen=True)
class SearchState:
    """What the fastest folding was chosen from, for searches that start from it: the last cost table, the
    plan its candidates are applied to (:func:`evaluate`), the choice (a candidate index per table row)."""
    table: CostTable
    plan: LayerPlan
    choice: np.ndarray
    max_util: UtilLimit
    others: Tuple[np.ndarray, ...] = ()      # the other choices it compared (the cheapest at its interval first)


def evaluate(state: SearchState, network: Network, device: Device, base: Mapping, choice: np.ndarray, fifo: bool):
    """The full estimate of one choice of ``state.table``: (chosen rows, plan, FIFO depths per layer, per stream,
    costs, utilisation)."""
    from .dataflow import dataflow_costs

    table = state.table
    chosen = table.pick(choice)
    rf, res = state.plan.rf.copy(), state.plan.resource.copy()
    rf[table.layers], res[table.layers] = chosen["rf"], chosen["resource"]
    plan = _styled(refold(state.plan, network, rf, res, device), network, base)
    by_layer, streams = {}, {}
    if fifo:
        plan, by_layer, streams = _with_fifo(plan, network, device)
    costs = dataflow_costs(network, device, base, plan)
    return chosen, plan, by_layer, streams, costs, _utilisation(costs, device)


def _fastest(network: Network, device: Device, base: Mapping, max_util: UtilLimit, strategies: Tuple[str, ...],
             fifo: bool, t0: float) -> Tuple[Folding, SearchState]:
    """The shortest interval, then latency, within ``max_util`` (the module doc), and its search state."""
    names = [l.name for l in network.layers]
    plan = _first_candidates(resolve_plan(network, base.with_(reuse_factor=1, strategy=strategies[0]), device),
                             network, device, strategies, base)
    by_layer, streams = {}, {}
    if fifo:
        plan, by_layer, streams = _with_fifo(plan, network, device)
    plan0 = table_plan = plan
    budget = device_budget(device, max_util)
    limits = {k: 1.0 for k in RESOURCES}
    evaluations, rounds, first = 0, 0, None
    while True:
        rounds += 1
        table = cost_table(network, device, table_plan, strategies)
        evaluations += table.evaluations
        found = search_table(table, {k: budget[k] * limits[k] for k in RESOURCES}, names)
        first = first or (table, table_plan, found)
        found, (chosen, plan, by_layer, streams, costs, util), checked = _checked(
            found, SearchState(table, table_plan, found.choice, max_util), network, device, base, fifo)
        table_plan = plan
        evaluations += checked
        over = max_util.over(util)
        if not over or not found.feasible or rounds >= REFIT_ROUNDS:
            break
        for k, ratio in over.items():
            limits[k] /= ratio * 1.01
    fits = found.feasible and not over
    if not fits and first[2].feasible:      # the FIFOs the table holds fixed moved: the full estimate decides
        rescued = _full_estimate_bisection(*first, network, device, base, budget, max_util, names, fifo)
        if rescued is not None:
            evaluations += rescued[-1]
            table, found, chosen, plan, by_layer, streams, costs, util, _ = rescued
            over, fits = {}, True
    reasons = _reasons(table, found, chosen, costs.interval_cycles)
    limit = found.limit if not over or not found.feasible else \
        f"{found.limit}; the full estimate is still over in {', '.join(over)}"
    if costs.refused:          # the Latency strategy only, on a layer no reuse factor makes buildable
        fits = False
        limit = (f"HLS refuses {', '.join(costs.refused)} under the Latency strategy at every reuse factor (its kernel "
                 f"unrolls all of its weights, more than the unroll limit): allow --strategy Resource (or auto)")
    folding = Folding(
        names=tuple(names[i] for i in table.layers.tolist()), rf=tuple(int(r) for r in chosen["rf"]),
        strategy=tuple("Resource" if r else "Latency" for r in chosen["resource"]), reasons=reasons,
        fifo_depth=by_layer, fifo_streams=streams, target_interval=found.target, limit=limit, fits=fits,
        max_util=max_util, utilisation=util, interval_cycles=float(costs.interval_cycles),
        latency_cycles=float(costs.latency_cycles), seconds=time.perf_counter() - t0, evaluations=evaluations,
        rounds=rounds, refused=tuple(costs.refused))
    others = tuple(c for c in ((found.cheapest,) if found.cheapest is not None else ()) + found.alternatives
                   if not np.array_equal(c, found.choice))
    return folding, SearchState(table, plan0, np.asarray(found.choice), max_util, others)


def _checked(found: "_Search", state: SearchState, network: Network, device: Device, base: Mapping, fifo: bool):
    """The search's choice, or the alternative for latency (:func:`_spend_on_latency`) that the full estimate finds
    within ``max_util`` with the shortest interval, then latency (the table ranks them by summed depth, which
    the schedule does not always follow). Returns (search with that choice, :func:`evaluate`'s tuple,
    evaluations)."""
    results = [(found, evaluate(state, network, device, base, found.choice, fifo))]
    results += [(found.taking(c), evaluate(state, network, device, base, c, fifo)) for c in found.alternatives]
    within = [r for r in results if not state.max_util.over(r[1][5])]
    if within:
        best = min(within, key=lambda r: (r[1][4].interval_cycles, r[1][4].latency_cycles))
    else:
        best = results[0]
    return best[0], best[1], len(results)


def _full_estimate_bisection(table: CostTable, plan: LayerPlan, found: "_Search", network: Network, device: Device,
                             base: Mapping, budget: Dict[str, float], max_util: UtilLimit, names: Sequence[str],
                             fifo: bool):
    """The shortest target interval (from the first table's search on) whose cheapest choice fits ``max_util``
    in the full estimate, FIFOs sized from that choice's own schedule -- for when the depths the table held
    fixed grow with the folding (a fast producer before a slow Resource convolution) and the refits ran out.
    Returns (table, search, chosen, plan, fifo depths, fifo streams, costs, utilisation, evaluations) or None."""
    from .dataflow import dataflow_costs

    res, b = _stacked(table), _Budget.of(table, budget)
    targets = np.unique(table.interval[table.valid])
    targets = targets[targets >= found.target]
    tried: Dict[int, object] = {}

    def trial(i: int):
        if i not in tried:
            got = _cheapest(table, res, b, float(targets[i]))
            if got is None:
                tried[i] = None
                return None
            chosen = table.pick(got[0])
            rf, resource = plan.rf.copy(), plan.resource.copy()
            rf[table.layers], resource[table.layers] = chosen["rf"], chosen["resource"]
            p = _styled(refold(plan, network, rf, resource, device), network, base)
            by, streams = {}, {}
            if fifo:
                p, by, streams = _with_fifo(p, network, device)
            costs = dataflow_costs(network, device, base, p)
            util = _utilisation(costs, device)
            ok = not max_util.over(util)
            tried[i] = (ok, got[0], chosen, p, by, streams, costs, util)
        return tried[i]

    lo, hi = 0, len(targets) - 1
    if not len(targets) or trial(hi) is None or not trial(hi)[0]:
        return None
    while lo < hi:
        mid = (lo + hi) // 2
        got = trial(mid)
        if got is not None and got[0]:
            hi = mid
        else:
            lo = mid + 1
    _, choice, chosen, p, by, streams, costs, util = trial(hi)
    faster = trial(hi - 1) if hi > 0 else None
    over_at = list(max_util.over(faster[7])) if faster is not None else []
    limit = (f"{float(targets[hi - 1]):,.0f} cycles would need more than {max_util.shares_of(over_at)} "
             "in the full estimate (FIFOs sized from the schedule)"
             if hi > 0 else "every layer at its fastest candidate")
    search = _Search(choice, float(targets[hi]), True, np.zeros(len(choice), dtype=bool), limit)
    return table, search, chosen, p, by, streams, costs, util, len(tried)


def _first_candidates(plan: LayerPlan, network: Network, device: Device, strategies: Sequence[str],
                      base: Mapping) -> LayerPlan:
    """The starting plan (RF 1, the first strategy) with the Resource strategy where the Latency one is no
    candidate (a layer above the unroll limit, :func:`~codesign.sim.fold_table.candidate_reuse_factors`), so
    the FIFO depths and fixed costs the search starts from belong to a design it may choose."""
    if "Resource" not in strategies or plan.resource.all():
        return plan
    big = hls_rules.refused(network, plan, device)
    if not big.any():
        return plan
    return refold(plan, network, plan.rf, plan.resource | big, device)


def _styled(plan: LayerPlan, network: Network, base: Mapping) -> LayerPlan:
    """``plan`` with the PipelineStyle the export writes for its folding (:func:`hls_rules.pipeline_style_for`)."""
    if base.pipeline_style != "auto":
        return plan
    knobs = network.arrays.mask("conv", "dense")
    pairs = zip(plan.rf[knobs].tolist(), np.where(plan.resource[knobs], "Resource", "Latency").tolist())
    return replace(plan, pipeline_style=hls_rules.pipeline_style_for(pairs))


def _utilisation(costs, device: Device) -> Dict[str, float]:
    avail = device_resources(device)
    out = {}
    for k in RESOURCES:
        used = costs.total(k) if hasattr(costs, k) else float(np.sum(costs.detail.get(k, 0.0)))
        out[k] = used / avail[k] if avail[k] else (0.0 if used == 0 else float("inf"))
    return out


def _reasons(table: CostTable, found: _Search, chosen: Dict[str, np.ndarray], interval: float) -> Tuple[str, ...]:
    fastest = np.where(table.valid, table.interval, np.inf).min(axis=1)
    out: List[str] = []
    for i in range(len(table.layers)):
        if not found.feasible:
            out.append("largest folding (nothing fits)")
        elif chosen["interval"][i] >= interval and chosen["interval"][i] <= fastest[i]:
            out.append("sets the interval at its fastest")
        elif chosen["interval"][i] >= interval:
            out.append("sets the interval")
        elif found.moved[i]:
            out.append("faster than needed: spare budget spent on latency")
        else:
            out.append("cheapest folding that keeps the interval")
    return tuple(out)


# ----------------------------------------------------------------------------- the commands' options

AUTO = "auto"


def parse_reuse_factor(value) -> "int | str":
    """``--reuse-factor``: 'auto' (per-layer folding) or one reuse factor >= 1 for every layer."""
    text = str(value).strip().lower()
    if text == AUTO:
        return AUTO
    from .mapping import REUSE_FACTOR_MAX

    try:
        rf = int(text)
    except ValueError:
        rf = 0
    if not 1 <= rf <= REUSE_FACTOR_MAX:
        raise ConfigError(f"reuse factor (--reuse-factor) must be 'auto' or an integer from 1 to {REUSE_FACTOR_MAX} "
                          f"(hls4ml's templates hold it in an int), got '{value}'")
    return rf


def parse_strategy(value: str, reuse_factor: "int | str") -> Tuple[str, ...]:
    """``--strategy``: 'auto' (the search picks per layer; with a fixed reuse factor: Latency, hls4ml's
    default), Latency or Resource. Returns the strategies a layer may take (:func:`codesign.target.resolve_strategy`)."""
    from ..target import resolve_strategy

    return resolve_strategy(value, reuse_factor == AUTO)
