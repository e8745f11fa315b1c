"""A hardware budget the grow/prune methods train within: a device, a latency bound and a largest
utilisation, priced by the estimator (:mod:`codesign.sim`) under the export's hardware settings.

    budget = HardwareBudget(BudgetSpec("xc7z020", max_latency_us=50, max_util=0.8), in_shape=(1, 28, 28))
    check = budget.check(model)          # the folding, its latency and utilisation, met or not
    check.met, check.load, check.describe()
    prices = budget.prices(units)        # {unit group: load one unit of it costs}

**Folding.** The budget folds the network exactly as ``codesign export`` / ``codesign simulate`` do with
``--reuse-factor auto --max-util F``: :func:`codesign.sim.folding.choose_folding` picks every Conv/Dense
layer's reuse factor (and, with strategy ``auto``, its strategy) for the shortest interval, then latency,
within ``max_util`` of every resource. Nothing here folds: a model meets its budget exactly when the
export's folding of it fits and is fast enough.

**Load.** ``load = max(latency / max_latency, largest utilisation / its max_util share)`` of that (fastest)
folding: the budget is met when the folding fits and ``load <= 1``; ``load - 1`` is by how much it is
missed. Where the fastest folding fits but misses the latency bound, the folding of a longer interval
that meets it, when the export's search finds one (:mod:`codesign.sim.folding_bound`), is the one the load
reads instead: a model meets its budget exactly when the export's folding under the bound
(``--max-latency-us``) meets it. The training decisions (growth admitted, pruning's prices and targets)
read the load.

**Design.** With a latency bound, the design the run reports (summary, ``RUN/sim/report.json``) is the
folding with the least resources that meets the bound (``--reuse-factor auto --max-latency-us N``,
:mod:`codesign.sim.folding_bound`; :attr:`BudgetCheck.design`), never more resources in all than the
fastest one when that meets the bound.

**Prices.** What one unit (filter, neuron) of each unit group, or one weight of each layer, costs:
:func:`codesign.sim.unit_costs.unit_costs` at the current folding (the estimator's per-layer finite
differences, reuse factors held, averaged over a tenth of each layer's units since multipliers are
whole), each resource as a share of the device weighted by how close it is
to its bound (the binding one counts fully), plus the first-output depth it adds against the latency
bound (:meth:`HardwareBudget.prices`; NPN's L0 cost reads :meth:`~HardwareBudget.weight_prices`). Pruning to the
budget (:func:`prune_to_budget`) prices by measurement instead (:func:`marginal_prices`: the load a
share of a group's lowest-scored units saves when removed on a copy and re-folded, at the best of
several shares), since the estimate falls in steps and is not monotone in a layer's width (valid reuse
factors, the Latency strategy's unroll limit, whole multipliers), removes only the shortest prefix
of its removal order that meets the budget (:func:`shortest_prefix`), and of that gives back every unit
the final design has room for (:func:`give_back`).
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Callable, Dict, Optional, Sequence, Tuple

import torch.nn as nn

from ..errors import ConfigError

PRICE_STEP = 0.1               # prices: the mean over a tenth of a layer's units (whole multipliers)
MIN_PRICE = 1e-9
PATIENCE = 3                   # pruning rounds without a lower load before a budget counts as unreachable
GROWTH_SCALES = (1.0, 0.5, 0.25, 0.125, 0.0625)   # growth steps tried on a copy, largest first
MARGINAL_STEPS = (0.1, 0.25, 0.5, 0.75, 0.9)   # share of a group removed on a copy to price it (larger where nothing moves)
MIN_KEEP_SHARE = 0.1       # pruning to a budget keeps this share of every group (less where the budget needs it)


@dataclass(frozen=True)
class BudgetSpec:
    """What to fit: a device (name or YAML), bounds, and the export's hardware settings (``strategy``:
    auto, the default: chosen per layer as ``codesign export --reuse-factor auto`` does; or Latency or
    Resource for every layer)."""
    device: str
    max_latency_us: Optional[float] = None
    max_util: object = 0.8          # one share of every resource, or shares per resource (codesign.sim.util_limit)
    strategy: str = "auto"
    io_type: str = "auto"
    precision: str = "ap_fixed<16,6>"
    sparse_kernel: str = "auto"
    clock_period_ns: Optional[float] = None          # None: the device's clock

    def __post_init__(self):
        from ..sim.util_limit import UtilLimit

        object.__setattr__(self, "max_util", UtilLimit.of(self.max_util))
        if self.max_latency_us is not None and self.max_latency_us <= 0:
            raise ConfigError(f"--max-latency-us must be > 0, got {self.max_latency_us}")
        from ..export.precision import precision_spec
        from ..fixed_point import parse_precision
        from ..sim import load_device
        from ..sim.device_record import label
        from ..target import io_type, sparse_kernel
        from ..validate import part

        # every mistake fails here, before any training: a wrong name or type, and a design the export would
        # refuse to build (float types, a part its Vitis/Vivado backends do not build: the export's own rules)
        parse_precision(self.precision), io_type(self.io_type), sparse_kernel(self.sparse_kernel)
        precision_spec(self.precision)
        try:
            device = load_device(self.device)
        except ConfigError as err:                      # named by its key, for a recipe's device too
            raise ConfigError(f"target.device (--fit): {err}") from None
        part(device.part, f"--fit {label(self.device)}: the device's part")
        self.max_util.check_device(device)              # a share of a resource it has none of
        self.strategies                                 # a wrong strategy
        clock_mhz = 1000.0 / self.clock_period_ns if self.clock_period_ns else device.clock_mhz
        if self.max_latency_us is not None:
            from ..target import latency_cycles
            latency_cycles(self.max_latency_us, clock_mhz)     # a bound that does not count as clock cycles

    @property
    def strategies(self) -> Tuple[str, ...]:
        from ..target import resolve_strategy

        return resolve_strategy(self.strategy, per_layer_folding=True)   # the budget always folds per layer


@dataclass(frozen=True)
class BudgetCheck:
    """The estimate of one model at the export's folding of it, against the budget."""
    folding: object                         # codesign.sim.folding.Folding
    latency_s: float
    util: Dict[str, float]                  # fraction of the device per resource
    max_latency_s: Optional[float]
    max_util: object                        # codesign.sim.util_limit.UtilLimit
    mapping: object = field(default=None, compare=False, repr=False)   # the folding's Mapping (for prices)
    network: object = field(default=None, compare=False, repr=False)
    design_of: Optional[Callable[[], object]] = field(default=None, compare=False, repr=False)
    clock_hz: float = field(default=0.0, compare=False, repr=False)

    @property
    def design(self):
        """The folding the run reports: under a latency bound the least resources that meet it (computed on
        first use), else the fastest folding (:attr:`folding`)."""
        if self.design_of is None:
            return self.folding
        if "_design" not in self.__dict__:
            object.__setattr__(self, "_design", self.design_of())
        return self.__dict__["_design"]

    @property
    def design_latency_s(self) -> float:
        return self.design.latency_cycles / self.clock_hz if self.design_of is not None else self.latency_s

    @property
    def design_util(self) -> Dict[str, float]:
        return {k: float(self.design.utilisation[k]) for k in self.util}

    @property
    def fits(self) -> bool:
        return bool(self.folding.fits)

    @property
    def reuse_factors(self) -> Dict[str, int]:
        return dict(zip(self.folding.names, self.folding.rf))

    @property
    def util_max(self) -> float:
        return max(self.util.values())

    @property
    def binding(self) -> str:
        """The resource nearest its limit (utilisation over its share)."""
        return _nearest_limit(self.util, self.max_util)

    @property
    def binding_of_design(self) -> str:
        """What holds the :attr:`design` back: ``latency`` when it is nearer its bound than any resource is to
        its share, else that resource."""
        util = self.design_util
        resource = _nearest_limit(util, self.max_util)
        if self.max_latency_s and self.design_latency_s / self.max_latency_s >= self.max_util.load(util):
            return "latency"
        return resource

    @property
    def load(self) -> float:
        lat = self.latency_s / self.max_latency_s if self.max_latency_s else 0.0
        return max(lat, self.max_util.load(self.util))

    @property
    def met(self) -> bool:
        return self.fits and self.load <= 1.0

    def folding_text(self, folding=None) -> str:
        """'conv1 RF 1, conv2 RF 4 Resource, ...': each Conv/Dense layer's reuse factor (strategy if not Latency;
        'RF' keeps an nn.Sequential's numbered layers readable: '0 RF 1, 2 RF 4', not '0 1, 2 4')."""
        folding = folding or self.folding
        return ", ".join(f"{n} RF {r}" + ("" if s == "Latency" else f" {s}")
                         for n, r, s in zip(folding.names, folding.rf, folding.strategy))

    def summary(self) -> Dict[str, object]:
        """The run summary's budget fields: met or missed, and by how much (``budget_margin`` < 0: missed);
        latency, utilisation and reuse factors of the :attr:`design`, and of the fastest folding beside it."""
        util = self.design_util
        out = {"budget": self.describe(), "budget_met": self.met, "budget_load": round(self.load, 4),
               "budget_margin": round(1 - self.load, 4), "budget_reuse_factors": self.folding_text(self.design),
               "budget_latency_us": _significant(self.design_latency_s * 1e6),
               "budget_util_max": round(max(util.values()), 4),
               "budget_binding": self.binding_of_design, "budget_max_util": self.max_util.as_json(),
               **{f"budget_{k}_util": round(v, 4) for k, v in util.items()},
               "budget_objective": self.design.objective}
        if self.max_latency_s:
            fastest = self.folding.fastest or self.folding
            out["budget_max_latency_us"] = _significant(self.max_latency_s * 1e6)
            out.update({"budget_fastest_latency_us": _significant(fastest.latency_cycles / self.clock_hz * 1e6),
                        "budget_fastest_util_max": round(max(fastest.utilisation.values()), 4),
                        "budget_fastest_reuse_factors": self.folding_text(fastest)})
        return out

    def describe(self) -> str:
        util = self.design_util
        lat = f"latency {self.design_latency_s * 1e6:.3g} us"
        if self.max_latency_s:
            lat += f" of {self.max_latency_s * 1e6:.3g} us"
        verdict = "met" if self.met else missed_by(self.load)
        if self.folding.refused:
            verdict = (f"{'missed' if self.load <= 1 else verdict}: HLS refuses {', '.join(self.folding.refused)} "
                       f"under the Latency strategy at every reuse factor (more weights than the unroll limit; allow "
                       f"--strategy Resource or auto)")
        elif not self.fits and self.load <= 1:
            verdict += " (the folding does not fit)"
        binding = _nearest_limit(util, self.max_util)
        how = ("least resources within the latency bound" if self.design is not self.folding and self.met
               else "--reuse-factor auto")
        of = f"{self.max_util[binding]:g}" if self.max_util.uniform else f"its {self.max_util[binding]:g}"
        return (f"budget {verdict}: {lat}, largest utilisation {util[binding]:.3f} ({binding}) of "
                f"{of}, reuse factors per layer ({how}): {self.folding_text(self.design)}")


class HardwareBudget:
    """Checks and prices models against a :class:`BudgetSpec` (see the module doc)."""

    def __init__(self, spec: BudgetSpec, in_shape: Sequence[int]):
        from ..sim import Mapping, load_device

        self.spec, self.in_shape = spec, tuple(in_shape)
        self.device = load_device(spec.device)
        self.max_latency_s = spec.max_latency_us * 1e-6 if spec.max_latency_us else None
        self.strategies = spec.strategies
        clock = 1000.0 / spec.clock_period_ns if spec.clock_period_ns else None
        self.base = Mapping(template="dataflow", strategy=self.strategies[0], io_type=spec.io_type,
                            precision=spec.precision, sparse_kernel=spec.sparse_kernel, clock_mhz=clock)

    # ------------------------------------------------------------------ estimates
    def network(self, model: nn.Module):
        """The model's layers by shape only (hls4ml's multiplier count): prices of a model in training do
        not move with its weight values (a checkpoint's estimate may count shift-and-add constants too,
        :func:`~codesign.sim.torch_layers.network_from_model`'s ``weight_values``, and need no more)."""
        from ..sim.torch_layers import network_from_model

        return network_from_model(model, self.in_shape)

    def fold(self, network) -> BudgetCheck:
        """The export's folding of ``network`` (``--reuse-factor auto``) and its estimate."""
        from ..sim.folding import fold_fastest

        folding, within = fold_fastest(network, self.device, self.base, self.spec.max_util, self.strategies)
        clock = self.base.clock_hz(self.device)
        design_of = None
        if self.max_latency_s:
            bound = self.max_latency_s * clock
            design_of = lambda: within(bound)                        # noqa: E731
            if folding.fits and folding.latency_cycles > bound:     # a longer interval may still meet it
                design = within(bound)
                design_of = lambda: design                           # noqa: E731
                if design.meets_latency:
                    folding = design
        util = {k: float(v) for k, v in folding.utilisation.items() if k != "uram" or v > 0}
        latency = folding.latency_cycles / clock
        return BudgetCheck(folding, float(latency), util, self.max_latency_s, self.spec.max_util,
                           folding.mapping(self.base, network), network, design_of, clock)

    def check(self, model: nn.Module) -> BudgetCheck:
        return self.fold(self.network(model))

    def report(self, model: nn.Module):
        """What ``codesign simulate --reuse-factor auto`` reports for ``model`` under the budget's settings."""
        from ..sim.fitted import fitted_estimate

        clock = self.base.clock_hz(self.device)
        report, _folding = fitted_estimate(self.network(model), self.device, self.base, "auto", self.strategies,
                                           self.spec.max_util,
                                           max_latency_cycles=self.max_latency_s * clock if self.max_latency_s else None)
        return report

    def write_report(self, model: nn.Module, out_dir, sections: Optional[Dict[str, object]] = None
                     ) -> Tuple[BudgetCheck, list]:
        """The estimator's report of ``model`` at its folding on the device, with more ``sections`` (e.g. the
        run's ``fixed_point`` check): ``out_dir``/report.json, .md; (the check, the report's warnings: what
        synthesis refuses or the estimate cannot vouch for)."""
        from ..sim import write_report

        report = self.report(model).with_sections(**(sections or {}))
        write_report(report, out_dir)
        return self.check(model), list(report.costs.warnings)

    # ------------------------------------------------------------------ prices
    def _unit_costs(self, check: BudgetCheck):
        from ..sim.unit_costs import unit_costs

        return unit_costs(check.network, self.device, check.mapping, self.spec.max_util, PRICE_STEP)

    def _load_of(self, check: BudgetCheck, amounts: Dict[str, float]) -> float:
        """Load of resource amounts and first-output depth cycles (see the module doc)."""
        from ..sim.device import device_resources

        avail = device_resources(self.device)
        weights = _weights(check)
        limit = self.spec.max_util
        load = sum(w * amounts.get(r, 0.0) / (max(avail[r], 1) * limit[r]) for r, w in weights.items() if r in avail)
        if self.max_latency_s:
            load += amounts.get("depth", 0.0) / self.base.clock_hz(self.device) / self.max_latency_s
        return load

    def weight_prices(self, model: nn.Module) -> Dict[str, float]:
        """{Conv/Linear layer: load of one of its nonzero weights / the network's mean per weight} at
        the current folding (:attr:`UnitCosts.connection`): a weight of a layer whose multipliers and
        logic weigh more on the binding resource costs more than 1."""
        check = self.check(model)
        costs = self._unit_costs(check)
        rows = {}
        for layer in check.network.layers:
            if layer.weights and layer.name in costs.names:
                i = costs.index(layer.name)
                rows[layer.name] = (self._load_of(check, {k: float(v[i]) for k, v in costs.connection.items()}),
                                    layer.weights)
        mean = sum(c * n for c, n in rows.values()) / max(1, sum(n for _, n in rows.values()))
        return {name: max(c / mean, MIN_PRICE) if mean > 0 else 1.0 for name, (c, _n) in rows.items()}

    def unit_savings(self, units, check: Optional[BudgetCheck] = None) -> Dict[str, Dict[str, float]]:
        """{group name: what removing one of its units saves at the current folding}: DSP, LUT, FF, BRAM and
        first-output depth cycles (:meth:`UnitCosts.group_cost`); empty for a group the network lacks."""
        check = check or self.check(units.model)
        costs = self._unit_costs(check)
        out: Dict[str, Dict[str, float]] = {}
        for g in units.groups():
            out_layers, in_layers = group_layers(check.network, g)
            out[g.name] = costs.group_cost(out_layers, in_layers, remove=True) if out_layers or in_layers else {}
        return out

    def prices(self, units, check: Optional[BudgetCheck] = None) -> Dict[str, float]:
        """{group name: load saved per unit removed} at the current folding (see the module doc)."""
        check = check or self.check(units.model)
        return {name: max(self._load_of(check, saved), MIN_PRICE) if saved else MIN_PRICE
                for name, saved in self.unit_savings(units, check).items()}


def group_layers(network, group) -> Tuple[list, list]:
    """(the network's layers whose output channels are ``group``'s units, the layers that read them): its
    producers and every channel-preserving layer after them up to the next Conv/Dense layers (the
    consumers). Names are the modules' (what both the tracer of units and the estimator use)."""
    from ..sim.layers import COMPUTE_OPS

    names = {l.name: l for l in network.layers}
    followers: Dict[str, list] = {}
    for l in network.layers:
        for p in l.inputs:
            followers.setdefault(p, []).append(l)
    out, seen = [], set()
    todo = [p for p in group.producers if p in names]
    while todo:
        name = todo.pop(0)
        if name in seen:
            continue
        seen.add(name)
        out.append(name)
        todo += [f.name for f in followers.get(name, []) if f.op not in COMPUTE_OPS]
    return out, [c for c in group.consumers if c in names and names[c].op in COMPUTE_OPS]


def reachable(units, budget: HardwareBudget, target_load: float = 1.0) -> bool:
    """Whether the load can reach ``target_load`` at all: tried on a copy with one unit left in every group
    (a latency no width meets is reported missed, not pruned to nothing)."""
    twin = twin_engine(units, budget.in_shape)
    for g in twin.groups():
        if twin.size(g) > 1:
            twin.keep(g.name, [int(twin.unit_norm(g.name).argmax())])
    return budget.check(twin.model).load <= target_load


def keep_floors(sizes: Dict[str, int], share: float = MIN_KEEP_SHARE) -> Dict[str, int]:
    """{group: the units pruning to a budget leaves it}: ``share`` of its units, at least one (a group cut to
    one or two units is a bottleneck no retraining recovers: a 100-unit hidden layer cut to one neuron
    before a 10-class output; structured pruners cap the per-layer ratio the same way)."""
    return {name: max(1, math.ceil(share * size)) for name, size in sizes.items()}


def round_fraction(load: float, target: float, step: float) -> float:
    """The fraction of what is left one pruning round removes: ``step``, more while far over the
    target (half the gap, at most half), so a budget 40x away takes a dozen rounds, not seventy."""
    gap = 1.0 - target / load if load > target else 0.0
    return min(0.5, max(step, 0.5 * gap))


def twin_engine(units, in_shape: Sequence[int]):
    """A unit engine over a copy of ``units``' model with the same masks and no hooks or optimiser:
    growth or pruning tried there changes nothing in the run."""
    from ..units.engine import UnitEngine

    model = copy.deepcopy(units.model)
    for module in model.modules():          # a method's hooks (NPN's gates) belong to the run's model
        module._forward_pre_hooks.clear()
        module._forward_hooks.clear()
    twin = UnitEngine(model, tuple(in_shape))
    twin.masks.load_state_dict(units.masks.state_dict())
    return twin


def admitted_growth(units, budget: HardwareBudget, grow: Callable[[object, float], None],
                    scales: Sequence[float] = GROWTH_SCALES,
                    accept: Optional[Callable[[object, BudgetCheck], bool]] = None) -> float:
    """The largest of ``scales`` at which ``grow(engine, scale)``, tried on a :func:`twin_engine` without
    touching the run's random stream, leaves the model within the budget (``accept(engine, check)``, by
    default ``check.met``); 0.0 when none does."""
    import torch

    for scale in scales:
        twin = twin_engine(units, budget.in_shape)
        with torch.random.fork_rng(devices=[]):        # the trial draws no numbers from the run's stream
            grow(twin, scale)
        check = budget.check(twin.model)
        if accept(twin, check) if accept is not None else check.met:
            return scale
    return 0.0


def growth_that_fits(units, budget: HardwareBudget, group: str, n: int,
                     project: Optional[Callable[[object], None]] = None) -> int:
    """The most units (``n``, halved until it fits, else 0) ``group`` can grow by within the budget,
    tried on a copy of the model (growth itself may change the live model's weights) without
    touching the run's random stream: where the budget never binds, the run is the unbudgeted one.
    ``project(engine)``: what the method will still remove from the grown copy before the budget counts."""
    def grow(twin, _scale):
        twin.extend(group, n, "kaiming")
        if project is not None:
            project(twin)

    while n > 0:
        if admitted_growth(units, budget, grow, (1.0,)) > 0:
            return n
        n //= 2
    return 0


def _weights(check: BudgetCheck) -> Dict[str, float]:
    """Each resource weighted by its utilisation over its share relative to the binding one (which counts 1)."""
    near = {r: u / check.max_util[r] for r, u in check.util.items()}
    top = max(max(near.values()), 1e-12)
    return {r: v / top for r, v in near.items()}


def _significant(x: float) -> float:
    """``x`` to 4 decimals, or 4 significant digits where that would show 0 (a bound of 1e-6 us)."""
    return round(x, 4) if abs(x) >= 1e-3 or x == 0 else float(f"{x:.4g}")


def missed_by(load: float) -> str:
    """'missed by 12.5%' (the load over 1), or 'missed by a factor of 2.2e+03' when that is over 100x."""
    if load > 100:
        return f"missed by a factor of {load:.3g}"
    return f"missed by {100 * max(load - 1, 0.0):.1f}%"


def _nearest_limit(util: Dict[str, float], limit) -> str:
    """The resource of ``util`` with the largest utilisation over its share of ``limit``."""
    return max(util, key=lambda r: util[r] / limit[r])


def spec_from_target(target) -> Optional[BudgetSpec]:
    """The budget of a recipe's ``target:`` section when it asks to train for the device, else None
    (checked: a wrong device, precision or strategy is a one-line error before anything trains)."""
    if not getattr(target, "fit", False):
        return None
    precision = target.precision if target.precision != "auto" else "ap_fixed<16,6>"
    return BudgetSpec(target.device, target.max_latency_us, target.max_util, target.strategy, target.io_type,
                      precision, target.sparse_kernel, target.clock_period_ns)


def check_trains_to_budget(method: str) -> None:
    """A one-line error when a recipe asks to train for a device with a method whose decisions read no budget."""
    from . import METHODS

    if not METHODS.get(method).trains_to_budget:
        able = ", ".join(name for name in METHODS.names() if METHODS.get(name).trains_to_budget)
        raise ConfigError(f"method '{method}' does not train to a hardware budget (--fit / target.fit); these do: "
                          f"{able}. Train without --fit and fold the result with codesign export --reuse-factor auto "
                          "[--max-latency-us N]")


def budget_from_target(target, in_shape: Sequence[int]) -> Optional[HardwareBudget]:
    spec = spec_from_target(target)
    return HardwareBudget(spec, in_shape) if spec is not None else None


def group_shares(scores: "torch.Tensor") -> "torch.Tensor":
    """Each unit's score as a share of its group's total: every group is worth the same, whatever its width.
    (Normalised by the group's mean instead, a group was worth its unit count, so under hardware prices the
    few costly filters of a narrow layer were always the cheapest to lose: magnitude pruning to the PYNQ-Z2
    budgets of BENCHMARKS.md cut LeNet-5's conv1 to 2 of 20 filters in every seed, 0.888-0.966.)"""
    s = scores.detach().float()
    return s / s.sum().clamp_min(1e-12)


def global_order(scores: Dict[str, "object"], prices: Dict[str, float]):
    """[(value, group, unit index)] ascending: each unit's score as a share of its group's
    (:func:`group_shares`) per unit of hardware price; the first entries are the cheapest to lose per
    load saved."""
    rows = []
    for name, s in scores.items():
        norm = group_shares(s)
        price = prices.get(name, MIN_PRICE)
        rows += [(float(v) / price, name, i) for i, v in enumerate(norm.tolist())]
    return sorted(rows)


def marginal_prices(units, budget: HardwareBudget, check: BudgetCheck, scores_of,
                    floors: Optional[Dict[str, int]] = None) -> Tuple[Dict[str, float], Dict[str, int], list]:
    """({group: load saved per unit removed}, {group: how many units that was measured with}, every
    measurement [(group, k, load)]): the ``k`` lowest-scored units of each group alone removed on a copy
    and the copy re-folded (the export's folding, reuse factors and strategies chosen again), for ``k`` a
    tenth of the group up to nine tenths (``MARGINAL_STEPS``); the price is the best rate over them. Where
    the estimate falls in steps (a layer's valid reuse factors, Latency's unroll limit in weights, block
    RAMs) removing a few units of a group saves nothing and a larger share may cross the step; a group
    that saves nothing at any share is priced ``MIN_PRICE`` (its units are kept). ``scores_of(group name)
    -> tensor``."""
    prices: Dict[str, float] = {}
    ks: Dict[str, int] = {}
    measured = []
    for name, size in units.sizes().items():
        prices[name], ks[name] = MIN_PRICE, 1
        order = None
        most = size - max(1, (floors or {}).get(name, 1))             # what the group may lose
        for k in sorted({min(most, max(1, math.ceil(f * size))) for f in MARGINAL_STEPS}):
            if k < 1:
                continue
            if order is None:
                order = scores_of(name).argsort().tolist()
            twin = twin_engine(units, budget.in_shape)
            twin.remove(name, order[:k])
            load = budget.check(twin.model).load
            measured.append((name, k, load))
            if (check.load - load) / k > prices[name]:
                prices[name], ks[name] = (check.load - load) / k, k
    return prices, ks, measured


def _lost(scores, name: str, k: int) -> float:
    """The saliency (:func:`group_shares`) of a group's ``k`` lowest-scored units."""
    return float(group_shares(scores[name]).sort().values[:k].sum())


def _removal_sequence(twin, budget: HardwareBudget, scores_of, *, step: float, max_rounds: int, at_least: int,
                      target_load: float, floors: Dict[str, int]) -> list:
    """Pruning rounds on ``twin`` (a :class:`_Tracked` copy; see :func:`prune_to_budget`): the units removed,
    [(group, original index)] in the order they went; no group below its floor."""
    seq: list = []
    check = budget.check(twin.model)
    best, stalled = check.load, 0
    twin.boundaries = [(0, check.load)]             # (units removed, load) after each round
    for _ in range(max_rounds):
        if check.load <= target_load and len(seq) >= at_least:
            break
        sizes = twin.sizes()
        fraction = round_fraction(check.load, target_load, step)
        scores = {name: scores_of(name, twin.left[name]) for name in sizes}
        prices, ks, measured = marginal_prices(twin, budget, check, lambda name: scores[name], floors)
        spare = {name: sizes[name] - max(1, floors.get(name, 1)) for name in sizes}     # what each may lose
        paying = [name for name in sizes if prices[name] > MIN_PRICE and spare[name] > 0]
        cap = {name: min(spare[name], max(1, math.ceil(min(0.5, 2 * fraction) * sizes[name]))) for name in sizes}
        n = max(1, math.ceil(fraction * sum(sizes.values())), at_least - len(seq))
        drop: Dict[str, list] = {}
        finishing = [(_lost(scores, name, k), name, k) for name, k, load in measured
                     if load <= target_load and len(seq) + k >= at_least and k <= min(sizes[name] // 2, spare[name])]
        if finishing:    # removing at most half of one group meets the target: the least saliency of those
            _lost_, name, k = min(finishing)
            drop = {name: scores[name].argsort()[:k].tolist()}
        else:
            if paying and all(ks[name] > cap[name] for name in paying):
                # only a share larger than a round's was measured to lower the load (a step ahead): remove
                # that measured share of the best-priced group; what is past the step is given back later
                best_group = max(paying, key=prices.get)
                paying, cap, n = [best_group], {best_group: ks[best_group]}, ks[best_group]
            elif not paying:
                paying = [name for name in sizes if spare[name] > 0]
            n = min(n, sum(cap[name] for name in paying))
            for _value, name, i in global_order({name: scores[name] for name in paying}, prices):
                if len(drop.get(name, [])) < cap[name]:
                    drop.setdefault(name, []).append(i)
                    if sum(len(v) for v in drop.values()) >= n:
                        break
            top = max((name for name in sizes if prices[name] > MIN_PRICE and spare[name] >= ks[name]),
                      key=prices.get, default=None)
            if len(drop) > 1 and top is not None and len(seq) + ks[top] >= at_least:
                trial = twin_engine(twin, budget.in_shape)      # the load is not monotone: a mix of groups may
                for name, idx in drop.items():                  # not lower it where each measured share does
                    trial.remove(name, sorted(idx))
                if budget.check(trial.model).load >= check.load:
                    drop = {top: scores[top].argsort()[:ks[top]].tolist()}
        if not drop:
            break
        for name, idx in drop.items():
            seq += [(name, twin.left[name][i]) for i in idx]
        for name, idx in drop.items():
            twin.remove(name, idx)
        check = budget.check(twin.model)
        twin.boundaries.append((len(seq), check.load))
        stalled = stalled + 1 if check.load >= best - 1e-9 else 0
        best = min(best, check.load)
        if len(seq) >= at_least and stalled >= PATIENCE:
            break
    return seq


def _remove_all(units, removal: Sequence[Tuple[str, int]]) -> None:
    """Remove the units of ``removal`` ([(group, index in ``units``)]) from ``units``, group by group."""
    by_group: Dict[str, list] = {}
    for name, i in removal:
        by_group.setdefault(name, []).append(i)
    for name, idx in by_group.items():
        units.remove(name, sorted(idx))


def _without(units, budget: HardwareBudget, removal: Sequence[Tuple[str, int]]):
    """A :func:`twin_engine` of ``units`` without the units of ``removal`` (original indices)."""
    twin = twin_engine(units, budget.in_shape)
    _remove_all(twin, removal)
    return twin


def shortest_prefix(units, budget: HardwareBudget, seq: Sequence[Tuple[str, int]], target_load: float,
                    at_least: int = 0, boundaries: Sequence[Tuple[int, float]] = ()) -> Tuple[int, BudgetCheck]:
    """The fewest of ``seq``'s first removals (at least ``at_least``) that bring the load to ``target_load``,
    by bisection on copies (pruning rounds remove a share at a time and a load that falls in steps drops
    at once: the units after the step are given back). When no round reached it (``boundaries``: the
    (removed, load) after each round), the round with the lowest load (the load is not monotone in the
    units: a prime unit count has few valid reuse factors), so a budget no pruning meets is not pruned
    past its best."""
    checks: Dict[int, BudgetCheck] = {}

    def check_of(p: int) -> BudgetCheck:
        if p not in checks:
            checks[p] = budget.check(_without(units, budget, seq[:p]).model)
        return checks[p]

    lo, hi = min(at_least, len(seq)), len(seq)
    met = [p for p, load in boundaries if p >= lo and load <= target_load]
    if met:
        hi = min(met)
    elif check_of(hi).load > target_load:
        done = [(load, p) for p, load in boundaries if p >= lo]
        p = min(done)[1] if done else hi
        return p, check_of(p)
    while lo < hi:                                   # check_of(hi) meets the target
        mid = (lo + hi) // 2
        if check_of(mid).load <= target_load:
            hi = mid
        else:
            lo = mid + 1
    return hi, check_of(hi)


def prune_to_budget(units, budget: HardwareBudget, scores_of, *, step: float = 0.05, max_rounds: int = 60,
                    at_least: int = 0, target_load: float = 1.0,
                    floors: Optional[Dict[str, int]] = None,
                    judge: Optional[Callable[[nn.Module], float]] = None,
                    widths: Optional[Dict[str, int]] = None) -> Tuple[BudgetCheck, int]:
    """Remove the units with the lowest saliency per price (``scores_of(group) -> tensor``, read once on
    the model as it is) until the load is at most ``target_load`` (1: the budget is met): rounds of about
    ``step`` of all units (more while far over; at least ``at_least`` in total; no group loses more than
    twice the round's fraction of its units, at most half) on a copy, each re-priced by
    :func:`marginal_prices` (only groups whose removal lowers the load are pruned) and re-checked, until
    the target is met, every group is down to its floor, or ``PATIENCE`` rounds in a row lower the load no
    more; then only the shortest prefix of that removal order that meets the target
    (:func:`shortest_prefix`), less what :func:`give_back` returns of it, is removed from ``units``. Floors: ``floors`` ({group: units it keeps}), by
    default :func:`keep_floors` of the groups' sizes; when the removal planned with them does not meet the
    target, it is planned again with the floor of the group whose unit costs the most load
    (:func:`_relax_order`) halved, that group's down to one unit before the next one's (the load
    is not monotone in the widths, so it is the plan that decides, not a trial at the floors); with
    ``at_least`` (the method's own schedule) one unit each. Nothing is
    removed when even one unit per group would not reach ``target_load`` (:func:`reachable`). With a
    ``judge`` (``model -> loss``, :func:`~codesign.methods.sample_loss.sample_loss`), that removal or the one by
    saliency alone, whichever model loses less (:mod:`codesign.methods.budget_plans`), and also, given
    ``widths`` ({group: units}, e.g. the plan of a method's previous round), the removal to those widths
    where it meets the target. Returns the last check and the number removed."""
    check = budget.check(units.model)
    if check.load <= target_load and at_least == 0:
        return check, 0
    if at_least == 0 and not reachable(units, budget, target_load):
        return check, 0
    if floors is None:
        floors = keep_floors(units.sizes()) if at_least == 0 else {}
    scores = {g.name: scores_of(g) for g in units.groups()}
    relax = None                                     # priced only when the floors are too tight
    while True:
        removal, check = _plan_removal(units, budget, scores, step=step, max_rounds=max_rounds, at_least=at_least,
                                       target_load=target_load, floors=floors)
        if check.load <= target_load or not any(f > 1 for f in floors.values()):
            break
        relax = relax or _relax_order(units, budget, floors)
        dearest = next(name for name in relax if floors[name] > 1)
        floors = {**floors, dearest: floors[dearest] // 2}     # too tight: halve the dearest unit's floor
    if judge is not None and check.load <= target_load:
        from .budget_plans import judged_removal

        removal, check = judged_removal(units, budget, removal, check, scores, target_load, at_least, floors, judge,
                                        widths=widths)
    _remove_all(units, removal)
    return check, len(removal)          # the check of a copy with exactly these units removed


def _relax_order(units, budget: HardwareBudget, floors: Dict[str, int]) -> list:
    """The groups with a floor, the one whose unit costs the most load first, priced (:meth:`HardwareBudget.
    prices`) on a copy with every group at its floor (its units of largest norm): near the design the
    floors allow, not at the folding of the model as it is (far over the budget, folded to fit at any speed)."""
    twin = twin_engine(units, budget.in_shape)
    for g in twin.groups():
        keep = floors.get(g.name, 0)
        if 0 < keep < twin.size(g):
            twin.keep(g.name, twin.unit_norm(g.name).argsort(descending=True)[:keep].sort().values.tolist())
    prices = budget.prices(twin)
    return sorted(floors, key=lambda name: prices.get(name, 0.0), reverse=True)


def _plan_removal(units, budget: HardwareBudget, scores: Dict[str, "object"], **rounds):
    """(the removal :func:`prune_to_budget` makes, [(group, index in ``units``)], and its check)."""
    twin = _Tracked(twin_engine(units, budget.in_shape))
    seq = _removal_sequence(twin, budget, lambda name, left: scores[name][left], **rounds)
    p, check = shortest_prefix(units, budget, seq, rounds["target_load"], rounds["at_least"], twin.boundaries)
    if check.load <= rounds["target_load"]:
        return give_back(units, budget, seq[:p], rounds["target_load"], rounds["at_least"], check)
    return seq[:p], check


def give_back(units, budget: HardwareBudget, removal: Sequence[Tuple[str, int]], target_load: float,
              at_least: int = 0, check: Optional[BudgetCheck] = None) -> Tuple[list, BudgetCheck]:
    """(``removal`` less the units it need not remove, the check of that): rounds remove a share at a time
    by prices measured where the model was, so a removal that meets the target may hold units the design
    that meets it has room for (a layer whose reuse factor changed, a resource no longer binding). Each group,
    the one whose last unit went latest (the most valuable in the removal order) first, gets back the most of
    its removed units, the last removed first, with which the load stays at most ``target_load`` (bisection
    on copies); at least ``at_least`` units stay removed."""
    removal = list(removal)
    last = {name: i for i, (name, _unit) in enumerate(removal)}
    for name in sorted(last, key=last.get, reverse=True):
        mine = [r for r in reversed(removal) if r[0] == name]            # the last removed first
        most = min(len(mine), len(removal) - at_least)
        lo, hi = 0, most
        while lo < hi:                                   # the most of ``mine`` given back that still meets it
            mid = (lo + hi + 1) // 2
            back = set(mine[:mid])
            trial = budget.check(_without(units, budget, [r for r in removal if r not in back]).model)
            if trial.load <= target_load:
                lo, check = mid, trial
            else:
                hi = mid - 1
        if lo:
            back = set(mine[:lo])
            removal = [r for r in removal if r not in back]
    return removal, check if check is not None else budget.check(_without(units, budget, removal).model)


class _Tracked:
    """A unit engine that remembers which of its original units are left (for :func:`units_over_budget`)."""

    def __init__(self, engine):
        self.engine = engine
        self.left = {g.name: list(range(engine.size(g))) for g in engine.groups()}

    def __getattr__(self, name):
        return getattr(self.engine, name)

    def remove(self, group, indices) -> None:
        name = group if isinstance(group, str) else group.name
        drop = {int(i) for i in indices}
        self.left[name] = [u for i, u in enumerate(self.left[name]) if i not in drop]
        self.engine.remove(name, sorted(drop))


def units_over_budget(units, budget: HardwareBudget, scores_of, target_load: float = 1.0,
                      gone: Optional[Dict[str, Sequence[int]]] = None) -> Tuple[Dict[str, list], BudgetCheck]:
    """The units :func:`prune_to_budget` would remove to bring the load to ``target_load``, found on a copy
    of the model (the run's model is unchanged): ``({group: original unit indices}, the copy's check)``.
    ``gone``: units already switched off (removed from the copy first); ``scores_of(group, left)`` scores
    the copy's units, ``left`` being their original indices."""
    twin = _Tracked(twin_engine(units, budget.in_shape))
    for name, idx in (gone or {}).items():
        idx = [int(i) for i in idx]
        if idx and len(idx) < twin.size(name):
            twin.remove(name, idx)
    sizes = {g.name: units.size(g) for g in units.groups()}
    floors = {name: min(f, twin.size(name)) for name, f in keep_floors(sizes).items()}   # of the groups as built
    check, _removed = prune_to_budget(twin, budget, lambda g: scores_of(g.name, twin.left[g.name]),
                                      target_load=target_load, floors=floors)
    return {name: sorted(set(range(sizes[name])) - set(left)) for name, left in twin.left.items()}, check
