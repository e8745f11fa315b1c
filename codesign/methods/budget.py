"""A hardware budget the grow/prune methods train within: a device, a latency bound and a largest
utilisation, priced by the estimator (:mod:`codesign.sim`) under the export's hardware settings.

    budget = HardwareBudget(BudgetSpec("xc7z020", max_latency_us=50, max_util=0.8), in_shape=(1, 28, 28))
    check = budget.check(model)          # the folding, its latency and utilisation, met or not
    check.met, check.load, check.describe()
    prices = budget.prices(units)        # {unit group: load one unit of it costs}

**Folding.** hls4ml's reuse factor trades latency for multipliers. The budget folds the network
with one network-wide reuse factor, searched over :data:`REUSE_FACTORS` (hls4ml rounds each layer
to a valid value): with a latency bound, the cheapest factor whose latency meets it; without one,
the fastest factor that fits ``max_util``. (Per-layer folding replaces this search where the
estimator offers it; the methods only see :meth:`check` and :meth:`prices`.)

**Load.** ``load = max(latency / max_latency, largest utilisation / max_util)`` at the chosen
folding: the budget is met when ``load <= 1``, and ``load - 1`` is by how much it is missed.

**Prices.** What one unit (filter, neuron) of each unit group costs, as a finite difference of the
estimator at the current folding: the group shrunk by about a tenth on a copy of the model, the
utilisation saved per unit removed, each resource weighted by how close it is to its bound (the
binding one counts fully). Methods rank units by saliency per price.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Dict, Optional, Sequence, Tuple

import torch.nn as nn

from ..errors import ConfigError

REUSE_FACTORS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096)
RESOURCES = ("dsp", "lut", "ff", "bram")
PRICE_STEP = 0.1               # fraction of a group removed for its finite-difference price
MIN_PRICE = 1e-9
PATIENCE = 3                   # pruning rounds without a lower load before a budget counts as unreachable


@dataclass(frozen=True)
class BudgetSpec:
    """What to fit: a device (name or YAML), bounds, and the export's hardware settings."""
    device: str
    max_latency_us: Optional[float] = None
    max_util: float = 0.8
    strategy: str = "Latency"
    io_type: str = "io_parallel"
    precision: str = "ap_fixed<16,6>"

    def __post_init__(self):
        if not 0 < self.max_util <= 1:
            raise ConfigError(f"--max-util must be in (0, 1], got {self.max_util}")
        if self.max_latency_us is not None and self.max_latency_us <= 0:
            raise ConfigError(f"--max-latency-us must be > 0, got {self.max_latency_us}")


@dataclass(frozen=True)
class BudgetCheck:
    """The estimate of one model at its folding, against the budget."""
    reuse_factor: int
    latency_s: float
    util: Dict[str, float]                  # fraction of the device per resource
    max_latency_s: Optional[float]
    max_util: float
    totals: Dict[str, float] = field(default_factory=dict)   # absolute dsp, lut, ff, bram

    @property
    def util_max(self) -> float:
        return max(self.util.values())

    @property
    def binding(self) -> str:
        return max(self.util, key=self.util.get)

    @property
    def load(self) -> float:
        lat = self.latency_s / self.max_latency_s if self.max_latency_s else 0.0
        return max(lat, self.util_max / self.max_util)

    @property
    def met(self) -> bool:
        return self.load <= 1.0

    def summary(self) -> Dict[str, object]:
        """The run summary's budget fields: met or missed, and by how much (``budget_margin`` < 0: missed)."""
        out = {"budget": self.describe(), "budget_met": self.met, "budget_load": round(self.load, 4), "budget_margin": round(1 - self.load, 4),
               "budget_reuse_factor": self.reuse_factor, "budget_latency_us": round(self.latency_s * 1e6, 4),
               "budget_util_max": round(self.util_max, 4), "budget_binding": self.binding,
               "budget_max_util": self.max_util}
        if self.max_latency_s:
            out["budget_max_latency_us"] = round(self.max_latency_s * 1e6, 4)
        return out

    def describe(self) -> str:
        lat = f"latency {self.latency_s * 1e6:.3g} us"
        if self.max_latency_s:
            lat += f" of {self.max_latency_s * 1e6:.3g} us"
        verdict = "met" if self.met else f"missed by {100 * (self.load - 1):.1f}%"
        return (f"budget {verdict}: {lat}, largest utilisation {self.util_max:.3f} ({self.binding}) of "
                f"{self.max_util:g}, reuse factor {self.reuse_factor}")


class HardwareBudget:
    """Checks and prices models against a :class:`BudgetSpec` (see the module doc)."""

    def __init__(self, spec: BudgetSpec, in_shape: Sequence[int]):
        from ..sim import load_device

        self.spec, self.in_shape = spec, tuple(in_shape)
        self.device = load_device(spec.device)
        self.max_latency_s = spec.max_latency_us * 1e-6 if spec.max_latency_us else None

    # ------------------------------------------------------------------ estimates
    def mapping(self, reuse_factor: int):
        from ..sim import Mapping

        return Mapping(reuse_factor=int(reuse_factor), strategy=self.spec.strategy, io_type=self.spec.io_type,
                       precision=self.spec.precision)

    def network(self, model: nn.Module):
        from ..sim.torch_layers import network_from_model

        return network_from_model(model, self.in_shape)

    def at(self, network, reuse_factor: int) -> BudgetCheck:
        """The estimate of ``network`` at one network-wide reuse factor."""
        from ..sim import estimate

        t = estimate(network, self.device, self.mapping(reuse_factor)).totals
        return BudgetCheck(int(reuse_factor), float(t["latency_s"]), {k: float(t[f"{k}_util"]) for k in RESOURCES},
                           self.max_latency_s, self.spec.max_util, {k: float(t[k]) for k in RESOURCES})

    def fold(self, network) -> BudgetCheck:
        """The folding search of the module doc."""
        checks = [self.at(network, rf) for rf in REUSE_FACTORS]
        if self.max_latency_s:
            fast = [c for c in checks if c.latency_s <= self.max_latency_s]
            return min(fast, key=lambda c: (c.util_max, c.reuse_factor)) if fast else checks[0]
        fitting = [c for c in checks if c.util_max <= self.spec.max_util]
        return fitting[0] if fitting else min(checks, key=lambda c: c.util_max)

    def check(self, model: nn.Module) -> BudgetCheck:
        return self.fold(self.network(model))

    def write_report(self, model: nn.Module, out_dir, check: Optional[BudgetCheck] = None) -> BudgetCheck:
        """The estimator's report of ``model`` at its folding on the device: ``out_dir``/report.json, .md."""
        from ..sim import estimate, write_report

        network = self.network(model)
        check = check or self.fold(network)
        write_report(estimate(network, self.device, self.mapping(check.reuse_factor)), out_dir)
        return check

    # ------------------------------------------------------------------ prices
    def weight_prices(self, model: nn.Module) -> Dict[str, float]:
        """{Conv/Linear layer: hardware cost of one of its weights / the network's mean cost per
        weight} at the current folding (resources weighted as for :meth:`prices`): a weight of a
        layer whose multipliers and logic weigh more on the binding resource costs more than 1."""
        from ..sim import template_costs

        network = self.network(model)
        check = self.fold(network)
        costs = template_costs(network, self.device, self.mapping(check.reuse_factor))
        avail = {"dsp": self.device.dsp, "lut": self.device.lut, "ff": self.device.ff, "bram": self.device.bram}
        weights = _weights(check)
        per_layer = sum(w * getattr(costs, r) / max(avail[r], 1) for r, w in weights.items())
        rows = {l.name: (float(per_layer[i]), l.weights) for i, l in enumerate(network.layers) if l.weights}
        mean = sum(c for c, _ in rows.values()) / max(1, sum(n for _, n in rows.values()))
        return {name: (c / n) / mean if mean > 0 else 1.0 for name, (c, n) in rows.items()}

    def prices(self, units, check: Optional[BudgetCheck] = None) -> Dict[str, float]:
        """{group name: load saved per unit removed} at the current folding (see the module doc)."""
        from ..units.engine import UnitEngine

        check = check or self.check(units.model)
        weights = _weights(check)
        out: Dict[str, float] = {}
        for g in units.groups():
            size = units.size(g)
            k = min(size - 1, max(1, math.ceil(PRICE_STEP * size)))
            if k < 1:
                out[g.name] = MIN_PRICE
                continue
            twin = copy.deepcopy(units.model)
            engine = UnitEngine(twin, self.in_shape)
            engine.keep(g.name, engine.unit_norm(g.name).topk(size - k).indices.sort().values)
            after = self.at(self.network(twin), check.reuse_factor)
            saved = sum(w * (check.util[r] - after.util[r]) for r, w in weights.items())
            if self.max_latency_s:
                saved += (check.latency_s - after.latency_s) / self.max_latency_s
            out[g.name] = max(saved / self.spec.max_util / k, MIN_PRICE)
        return out


def round_fraction(load: float, target: float, step: float) -> float:
    """The fraction of what is left one pruning round removes: ``step``, more while far over the
    target (half the gap, at most half), so a budget 40x away takes a dozen rounds, not seventy."""
    gap = 1.0 - target / load if load > target else 0.0
    return min(0.5, max(step, 0.5 * gap))


def growth_that_fits(units, budget: HardwareBudget, group: str, n: int) -> int:
    """The most units (``n``, halved until it fits, else 0) ``group`` can grow by within the budget,
    tried on a copy of the model (growth itself may change the live model's weights) without
    touching the run's random stream: where the budget never binds, the run is the unbudgeted one."""
    from ..units.engine import UnitEngine

    import torch

    while n > 0:
        twin = copy.deepcopy(units.model)
        with torch.random.fork_rng(devices=[]):        # the trial draws no numbers from the run's stream
            UnitEngine(twin, budget.in_shape).extend(group, n, "kaiming")
        if budget.check(twin).met:
            return n
        n //= 2
    return 0


def _weights(check: BudgetCheck) -> Dict[str, float]:
    """Each resource weighted by its utilisation relative to the binding one (which counts 1)."""
    top = max(check.util_max, 1e-12)
    return {r: u / top for r, u in check.util.items()}


def budget_from_target(target, in_shape: Sequence[int]) -> Optional[HardwareBudget]:
    """The budget of a recipe's ``target:`` section when it asks to train for the device, else None."""
    if not getattr(target, "fit", False):
        return None
    io_type = target.io_type if target.io_type != "auto" else ("io_stream" if len(in_shape) > 1 else "io_parallel")
    precision = target.precision if target.precision != "auto" else "ap_fixed<16,6>"
    return HardwareBudget(BudgetSpec(target.device, target.max_latency_us, target.max_util, target.strategy,
                                     io_type, precision), in_shape)


def global_order(scores: Dict[str, "object"], prices: Dict[str, float]):
    """[(value, group, unit index)] ascending: each unit's score (normalised by its group's mean)
    per unit of hardware price; the first entries are the cheapest to lose per load saved."""
    rows = []
    for name, s in scores.items():
        s = s.detach().float()
        norm = s / s.mean().clamp_min(1e-12)
        price = prices.get(name, MIN_PRICE)
        rows += [(float(v) / price, name, i) for i, v in enumerate(norm.tolist())]
    return sorted(rows)


def prune_to_budget(units, budget: HardwareBudget, scores_of, *, step: float = 0.05, max_rounds: int = 60,
                    at_least: int = 0, target_load: float = 1.0) -> Tuple[BudgetCheck, int]:
    """Remove the units with the lowest saliency per price (``scores_of(group) -> tensor``), about
    ``step`` of all units per round (and at least ``at_least`` in total), re-pricing and re-checking
    after each round, until the load is at most ``target_load`` (1: the budget is met) or every
    group is down to one unit, or ``PATIENCE`` rounds in a row lower the load no more (a latency
    bound the folding cannot meet at any width; the estimate moves in whole multipliers and block
    RAMs, so one round may not show). Returns the last check and the number of units removed."""
    removed, check = 0, budget.check(units.model)
    best, stalled = check.load, 0
    for _ in range(max_rounds):
        if check.load <= target_load and removed >= at_least:
            break
        sizes = units.sizes()
        total = sum(sizes.values())
        n = max(1, math.ceil(round_fraction(check.load, target_load, step) * total),
                at_least - removed if removed < at_least else 0)
        order = global_order({g.name: scores_of(g) for g in units.groups()}, budget.prices(units, check))
        drop: Dict[str, list] = {}
        for _value, name, i in order:
            if len(drop.get(name, [])) < sizes[name] - 1:
                drop.setdefault(name, []).append(i)
                if sum(len(v) for v in drop.values()) >= n:
                    break
        if not drop:
            break
        for name, idx in drop.items():
            units.remove(name, idx)
            removed += len(idx)
        check = budget.check(units.model)
        stalled = stalled + 1 if check.load >= best - 1e-9 else 0
        best = min(best, check.load)
        if removed >= at_least and stalled >= PATIENCE:
            break
    return check, removed
