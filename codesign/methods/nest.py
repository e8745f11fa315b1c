"""NeST grow-and-prune (Dai, Yin, Jha, arXiv 1711.02017; incremental: arXiv 1905.10952).

Training starts from a *seed*: the recipe's architecture at ``seed_width`` of its widths with a
random ``seed_density`` fraction of its connections (connection masks; kept weights rescaled by
1/sqrt(density) so every layer's output variance matches a dense Kaiming init, and every unit
keeps at least one incoming and one outgoing connection). ``start: model`` instead adopts the
model handed to ``fit`` as it is (its zero weights become dormant connections): the incremental
update of an already compact network.

Growth phase — at the end of each of the first ``growth_epochs`` epochs (see nest_growth.py):
connection growth (the ``connection_growth`` α fraction of every layer's dormant connections with
the largest gradient), neuron growth for hidden fully-connected layers (a two-connection neuron
for each of the top ``neuron_pairs`` β fraction of (n, m) pairs ranked by |G_{m,n}|), feature-map
growth for convolutional groups (``fmap_candidates`` random candidates per kept map, ranked by the
gradient of their outgoing weights); neurons and maps are capped at ``unit_growth`` of a layer's
current size per step. New weights start at one gradient step, ``-η·∂L/∂w`` with η = the
current learning rate (``init_step`` sets it; ``init: zero`` starts grown connections at 0).
``birth_strength`` α (NeST's, docs/methods.md#nest) instead rescales a new neuron's fan-in and fan-out (and a
new map's outgoing weights) to α × the mean active magnitude of the layer they join, keeping their
relative sizes: the paper reports that α > 0.3 keeps new units from being pruned at once. Default
None (the one-gradient-step magnitudes, which are far smaller: sqrt(η·|G|)).

Pruning phase — ``prune_rounds`` rounds of magnitude pruning of active connections spread over
the remaining epochs with retraining in between; round k keeps n_T + (n₀ − n_T)(1 − k/K)³
connections (``prune_schedule: cubic``; ``geometric``: n₀·(n_T/n₀)^(k/K)), where n₀ is the number
active after growth and n_T = ``target_density`` × the Conv/Linear weights of the recipe's architecture
(``model.width``, not the seed), so the target means what it means for dense training and for
the ``magnitude`` method). ``scope: global`` ranks all layers together (it keeps more of the small
output layer), ``layer`` prunes every layer by the same fraction. After every round, units with
no incoming or no outgoing connections are removed physically (Han et al.; a removed unit's bias
is dropped, and retraining absorbs it). The epochs after the last round fine-tune
(``finetune_epochs`` fixes how many; by default the rounds are spread evenly to the end). With
BatchNorm, weights are ranked by the magnitude of the BN-folded weight |w·γ/σ| (``bn_fold``, as
NeST does; no effect on networks without BN).

With a hardware budget (``codesign train --fit DEVICE``, :mod:`codesign.methods.budget`) growth
is checked before it grows: each growth step is first tried on a copy of the model (the same
connection and neuron growth from the same gradients; feature maps as their count at the layers'
densities, with magnitudes spread over their layers' own), pruned on the copy as the pruning rounds will
prune it (to ``target_density``, dead units removed, then, unless ``budget_trim`` is ``units``, trimmed to
the budget by connections alone), at 1, 1/2, 1/4, ... of its rates, and the run grows at the largest rate
at which that projection meets the budget keeping at least the sum of active weight magnitudes that the
same projection of the model without the step keeps (none: the step is skipped). So growth that the
rounds trim back by connections is admitted where what it adds outweighs the smallest connections the
trim takes for it (a projection made right after growth, before retraining, is a poor judge of more:
whether it met the budget untrimmed hung on the valid reuse factors of its widths; a count of
connections refused every step the trim touched), and
growth that only removing units would bring back within the budget is not (cutting trained maps right
after growth set a LeNet-5 run back to 0.79). A seed whose projection does not meet it is first
trimmed; the first pruning round goes on past its schedule until the budget is met
(so the later rounds and epochs retrain at that size), and so does the last. Trimming
(``budget_trim``) removes the smallest-magnitude active connections in rounds (zero weights cost no
multipliers under the Latency strategy or the sparse kernel; the round that meets the budget is
bisected back to the most connections that meet it), then units by the budget's measured prices if that
is not enough (``connections``); or units only (``units``: under the Resource strategy a layer's zeros
cost as much as its other weights, so thinning the connections of the same units may save nothing);
``auto`` (default) trims a copy both ways and keeps the way that meets the budget with the larger sum
of active weight magnitudes. (On the LeNet-5 PYNQ-Z2 budgets of BENCHMARKS.md the connection trim cut
the seed to 652 connections and no growth step fitted after it, 0.83 accuracy; the unit trim kept
5,761 and growth was admitted, 0.89.)

Defaults where the papers are silent (docs/methods.md#nest marks them A): α 0.1 and β 0.01 are
at the low end of the starting ranges in docs/methods.md#nest (on MNIST LeNet-300-100, α 0.2 was no
more accurate than 0.1, 97.68% vs 97.81%, and cost 40% more training FLOPs);
the unit cap 0.1 keeps neuron growth from adding hundreds of neurons per step (β·pairs is 784
for LeNet-300-100's first layer); a seed at half the width and 10% of the connections, a third
of the run growing, four pruning rounds on the cubic schedule (on that benchmark cubic beat
geometric, 98.28% vs 98.16% at 3% density, one seed each), a growth pass over 1,024 samples
(about 2% of an MNIST epoch; its FLOPs are added to the run's training cost) and η = the
learning rate (one SGD step, the papers' "gradient-based initialisation").
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Dict, List, Literal, Optional

import torch
from pydantic import Field

from ..config import Strict
from . import register_method
from .base import Method, MethodContext
from .budget import PATIENCE, admitted_growth, prune_to_budget, reachable, round_fraction
from .nest_growth import (extend_like_feature_maps, fc_bridge, grow_connections, grow_feature_maps, grow_neurons,
                          growth_pass)
from .ranking import global_top_masks, top_mask

if TYPE_CHECKING:  # pragma: no cover
    from ..units.engine import UnitEngine

MAX_CLEANUP_PASSES = 10
TRIM_STEP, TRIM_ROUNDS = 0.05, 60   # a trim to the budget: rounds of at least this share, at most this many
TRIM_TOLERANCE = 0.002        # the connection trim keeps the most connections that meet a budget to within this share


@register_method(__name__)
class NeST(Method):
    name = "nest"
    trains_to_budget = True
    density_knob = "target_density"

    class Config(Strict):
        start: Literal["seed", "model"] = "seed"          # seed: sparse random seed; model: adopt the given model
        seed_width: float = Field(0.5, gt=0, le=1)        # seed widths = this fraction of the recipe's
        seed_density: float = Field(0.1, gt=0, le=1)      # fraction of the seed's connections that are active
        growth_epochs: Optional[int] = Field(None, ge=0)  # epochs ending with a growth step; default a third
        connection_growth: float = Field(0.1, ge=0, le=1)  # α: fraction of dormant connections grown per step
        neuron_pairs: float = Field(0.01, ge=0, le=1)     # β: top fraction of (n, m) pairs that get a neuron
        unit_growth: float = Field(0.1, ge=0)             # at most this fraction of a layer's units added per step
        fmap_candidates: float = Field(2.0, ge=1)         # conv: random candidate maps per map kept
        birth_strength: Optional[float] = Field(None, gt=0)  # α: new neurons'/maps' weights at α × the
                                                          # layer's mean active |w|; None: gradient step
        init: Literal["gradient", "zero"] = "gradient"    # grown connections: -η·gradient or 0
        init_step: Optional[float] = Field(None, gt=0)    # η; default: the current learning rate
        growth_samples: int = Field(1024, ge=1)           # training samples of each growth gradient pass
        target_density: float = Field(0.05, gt=0, le=1)   # active connections / recipe architecture's weights
        prune_rounds: int = Field(4, ge=1)
        prune_schedule: Literal["geometric", "cubic"] = "cubic"   # connections kept after each round
        scope: Literal["global", "layer"] = "global"
        finetune_epochs: Optional[int] = Field(None, ge=0)   # epochs after the last round; default: the
                                                          # rounds spread evenly up to the end
        bn_fold: bool = True                              # rank conv weights by |w·γ/σ| of the BN after them
        budget_trim: Literal["auto", "connections", "units"] = "auto"   # with a budget: how fitting it trims

    def __init__(self, cfg: "NeST.Config"):
        super().__init__(cfg)
        self.phase = "grow"
        self.reference_weights = 0
        self.prune_start = 0
        self.rounds_done = 0
        self.counts = {"grown_connections": 0, "grown_neurons": 0, "grown_maps": 0, "pruned_connections": 0,
                       "dead_units_removed": 0}
        self.growth_flops = 0.0

    # ------------------------------------------------------------------ start
    def setup(self, ctx: MethodContext) -> None:
        self.reference_weights = self._reference_weights(ctx)
        if self.cfg.start == "seed":
            self._make_seed(ctx)
        else:
            for name in ctx.units.weight_names():
                ctx.units.set_connections(name, ctx.units.param(name).detach() != 0)
        self.remove_dead_units(ctx.units)
        ctx.say(f"nest: {self.cfg.start} with {active_connections(ctx.units):,} active connections "
                f"({self.density(ctx.units):.4f} of {self.reference_weights:,}), units {ctx.units.sizes()}")

    def _reference_weights(self, ctx: MethodContext) -> int:
        """Conv/Linear weights of the run's architecture at its configured size (``start: model``
        may start from a smaller, compacted model: the density still refers to the full one)."""
        model = ctx.reference_model() if self.cfg.start == "model" else ctx.model
        return sum(model.get_parameter(name).numel() for name in ctx.units.weight_names())

    def _make_seed(self, ctx: MethodContext) -> None:
        units, d = ctx.units, self.cfg.seed_density
        if self.cfg.seed_width < 1:
            units.reset_width(self.cfg.seed_width)
        gen = torch.Generator().manual_seed(ctx.seed * 7919 + 4049)
        for name in units.weight_names():
            mask = seed_mask(units.param(name).shape, d, gen)
            with torch.no_grad():
                units.param(name).mul_(1.0 / math.sqrt(d))
            units.set_connections(name, mask)

    # ------------------------------------------------------------------ schedule
    def growth_epochs(self, total_epochs: int) -> int:
        wanted = self.cfg.growth_epochs if self.cfg.growth_epochs is not None else max(1, total_epochs // 3)
        return min(wanted, total_epochs - 1)

    def prune_epochs(self, total_epochs: int) -> List[int]:
        """The epoch (0-based) at whose end each pruning round k = 1..K runs: evenly spread over the
        epochs after growth, or, with ``finetune_epochs`` F, evenly up to F epochs before the end."""
        grow = self.growth_epochs(total_epochs)
        rest, k = total_epochs - grow, self.cfg.prune_rounds
        first = min(grow, total_epochs - 1)
        if self.cfg.finetune_epochs is not None:
            span = max(1, rest - self.cfg.finetune_epochs)
            return [min(total_epochs - 1, max(first, grow - 1 + round((i + 1) * span / k))) for i in range(k)]
        return [min(total_epochs - 1, max(first, grow - 1 + round((i + 1) * rest / (k + 1)))) for i in range(k)]

    def on_epoch_end(self, ctx: MethodContext) -> bool:
        changed = False
        if ctx.epoch < self.growth_epochs(ctx.total_epochs):
            self.grow(ctx)
            changed = True
        due = [i + 1 for i, e in enumerate(self.prune_epochs(ctx.total_epochs)) if e == ctx.epoch]
        if due and max(due) > self.rounds_done:
            self.prune(ctx, max(due))
            changed = True
        return changed

    # ------------------------------------------------------------------ growth
    def step_size(self, ctx: MethodContext) -> float:
        return self.cfg.init_step or ctx.lr

    def grow(self, ctx: MethodContext) -> None:
        units, step, budget = ctx.units, self.step_size(ctx), ctx.budget
        if budget is not None and not self._projected_fits(units, budget):
            self.fit_budget(ctx)                 # a seed (or an adopted model) the budget cannot take, before growing
        bridges = {g.name: b for g in units.groups() if (b := fc_bridge(units, g)) is not None}
        others = [g.name for g in units.groups() if g.name not in bridges]
        grad_pass = growth_pass(ctx, self.cfg.growth_samples, bridges if self.cfg.neuron_pairs > 0 else {}, salt=1)
        self._charge(ctx, grad_pass.flops_dense, grad_pass.flops_sparse)
        scale = 1.0
        if budget is not None:                   # what the budget admits, tried on a copy before growing
            from .budget import twin_engine

            def project(twin):                   # what the pruning rounds will leave of it
                self._prune_to(twin, self.kept_after(self.cfg.prune_rounds))
                self.remove_dead_units(twin, count=False)
                if self.cfg.budget_trim != "units":
                    self._trim_connections(twin, budget, TRIM_STEP, TRIM_ROUNDS, count=False)

            def trial(twin, s):
                self._grow_on(twin, grad_pass, bridges, step, s, others)
                project(twin)

            base = twin_engine(units, budget.in_shape)
            project(base)                                # what the pruning rounds leave when it does not grow
            scale = admitted_growth(units, budget, trial, accept=self._admits_against(base))
            self._count("budget_scaled_steps" if 0 < scale < 1 else "budget_refused_steps" if scale == 0 else "")
        if scale > 0:
            self._grow_on(units, grad_pass, bridges, step, scale)
            if self.cfg.unit_growth > 0 and others:
                kept, flops_dense, flops_sparse = grow_feature_maps(ctx, [units.group(n) for n in others],
                                                                    self.cfg.unit_growth * scale,
                                                                    self.cfg.fmap_candidates, self.cfg.growth_samples,
                                                                    self._conn_step(step), self.cfg.birth_strength)
                self.counts["grown_maps"] += kept
                self._charge(ctx, flops_dense, flops_sparse)
        ctx.say(f"nest: growth step {ctx.epoch + 1}" + (f" (scale {scale:g} of the budget's admission)"
                                                         if budget is not None else "")
                + f": {active_connections(units):,} active connections, units {units.sizes()}")

    def _admits_against(self, base: "UnitEngine"):
        """The admission of a growth step's projection ``twin`` (with its budget ``check``), given ``base``, the
        projection of not growing: it meets the budget and keeps at least the sum of active weight magnitudes
        (BN-folded, as pruning ranks them) that ``base`` keeps. Growth that the trim pays for with a few of
        the smallest connections is admitted where what it adds outweighs them; a count of connections
        would refuse any step the trim touches (a LeNet-5 step whose grown model met the budget after
        training was refused at 2.5% fewer connections)."""
        floor = self._magnitude_kept(base)
        return lambda twin, check: check.met and self._magnitude_kept(twin) >= floor

    def _projected_fits(self, units: "UnitEngine", budget) -> bool:
        """Whether the model, pruned as the schedule will prune it (to ``target_density``; on a copy), meets
        the budget: what a growth step is checked against (the pruning rounds remove what grows beyond)."""
        from .budget import twin_engine

        twin = twin_engine(units, budget.in_shape)
        self._prune_to(twin, self.kept_after(self.cfg.prune_rounds))
        self.remove_dead_units(twin, count=False)
        return budget.check(twin.model).met

    def _conn_step(self, step: float) -> float:
        return step if self.cfg.init == "gradient" else 0.0

    def _grow_on(self, units: "UnitEngine", grad_pass, bridges, step: float, scale: float,
                 maps_of: Optional[List[str]] = None) -> None:
        """Connection and neuron growth at ``scale`` of the configured rates on ``units`` (the run's engine,
        or a copy tried against the budget; there ``maps_of`` lists the groups whose feature-map growth
        is added in hardware terms, :func:`extend_like_feature_maps`)."""
        grown = grow_connections(units, grad_pass.grads, self.cfg.connection_growth * scale, self._conn_step(step))
        neurons = 0
        if self.cfg.unit_growth > 0 and self.cfg.neuron_pairs > 0:
            neurons = grow_neurons(units, bridges, grad_pass, self.cfg.neuron_pairs * scale,
                                   self.cfg.unit_growth * scale, step, self.cfg.birth_strength)
        if maps_of is not None:
            if self.cfg.unit_growth > 0 and maps_of:
                extend_like_feature_maps(units, maps_of, self.cfg.unit_growth * scale)
            return
        self.counts["grown_connections"] += grown
        self.counts["grown_neurons"] += neurons

    def _count(self, key: str) -> None:
        if key:
            self.counts[key] = self.counts.get(key, 0) + 1

    def _charge(self, ctx: MethodContext, flops_dense: float, flops_sparse: float) -> None:
        """Growth passes are training work: they count in the run's training FLOPs."""
        ctx.charge(flops_dense, flops_sparse)
        self.growth_flops += flops_sparse

    # ------------------------------------------------------------------ pruning
    def prune(self, ctx: MethodContext, round_number: int) -> None:
        units = ctx.units
        self.phase = "prune" if round_number < self.cfg.prune_rounds else "finetune"
        first = self.rounds_done == 0
        if first:
            self.prune_start = active_connections(units)
        self.rounds_done = round_number
        keep = self.kept_after(round_number)
        before = active_connections(units)
        if keep < before:
            self._prune_to(units, keep)
        self.counts["pruned_connections"] += before - active_connections(units)
        self.remove_dead_units(units)
        if ctx.budget is not None and (first or round_number == self.cfg.prune_rounds):
            self.fit_budget(ctx)             # met from the first round on: the rest retrains at that size
        ctx.say(f"nest: pruning round {round_number}/{self.cfg.prune_rounds}: {active_connections(units):,} "
                f"active connections (density {self.density(units):.4f}), units {units.sizes()}")

    def kept_after(self, round_number: int) -> int:
        """Active connections after pruning round k: geometric n₀·(n_T/n₀)^(k/K) (every round
        removes the same fraction) or cubic n_T + (n₀ − n_T)·(1 − k/K)³ (Zhu & Gupta 2017: large
        cuts while the network is big, small ones near the target)."""
        target = max(1, round(self.cfg.target_density * self.reference_weights))
        start, progress = max(self.prune_start, target), round_number / self.cfg.prune_rounds
        if self.cfg.prune_schedule == "cubic":
            return round(target + (start - target) * (1.0 - progress) ** 3)
        return round(start * (target / start) ** progress)

    def fit_budget(self, ctx: MethodContext, step: float = TRIM_STEP, max_rounds: int = TRIM_ROUNDS) -> None:
        """Trim the model until the budget is met (see the module doc and :meth:`_trim`): by connections
        or by units (``budget_trim``); under ``auto`` both are tried on copies and the run takes the one
        that meets the budget keeping the larger sum of active weight magnitudes (BN-folded)."""
        units, budget = ctx.units, ctx.budget
        mode, chosen = self.cfg.budget_trim, ""
        if mode == "auto":
            mode = "connections"
            if not budget.check(units.model).met:
                from .budget import twin_engine

                kept = {}
                for way in ("connections", "units"):
                    twin = twin_engine(units, budget.in_shape)
                    met = self._trim(twin, budget, way, step, max_rounds, count=False).met
                    kept[way] = (met, self._magnitude_kept(twin))
                mode = chosen = max(kept, key=kept.get)
                self._count(f"budget_trim_{mode}")
        check = self._trim(units, budget, mode, step, max_rounds)
        ctx.say(f"nest: {check.describe()}" + (f" (trimmed by {chosen}, the way that keeps more weight magnitude)"
                                               if chosen else ""))

    def _trim(self, units: "UnitEngine", budget, mode: str, step: float, max_rounds: int, count: bool = True):
        """``connections``: prune the smallest active connections (and the units left dead) until the budget
        is met or ``PATIENCE`` rounds in a row no longer lower its load, the last round bisected back to the
        most connections that meet it (:meth:`_connection_trim`); then, if it is still missed (a
        latency that the number of maps sets, not their connections), remove units by the budget's
        measured prices (:func:`~codesign.methods.budget.prune_to_budget`). ``units``: the latter only
        (whole filters and neurons: under hls4ml's Resource strategy a layer's zero weights cost as much as
        the others, so fewer connections in the same units may save nothing). Returns the last check."""
        check = (self._trim_connections(units, budget, step, max_rounds, count) if mode == "connections"
                 else budget.check(units.model))
        if not check.met:                        # (prune_to_budget removes nothing when no width meets it)
            check, removed = prune_to_budget(units, budget, lambda g: units.unit_norm(g))
            if count:
                self.counts["budget_pruned_units"] = self.counts.get("budget_pruned_units", 0) + removed
        return check

    def _trim_connections(self, units: "UnitEngine", budget, step: float, max_rounds: int, count: bool = True):
        """The connection trim alone (:meth:`_connection_trim`'s counts, dead units removed); its check."""
        check = budget.check(units.model)
        if check.met or not reachable(units, budget):       # no width meets it: reported missed, not pruned
            return check
        for keep in self._connection_trim(units, budget, step, max_rounds):
            active = active_connections(units)
            self._prune_to(units, keep)
            if count:
                self.counts["pruned_connections"] += active - active_connections(units)
            self.remove_dead_units(units, count=count)
        return budget.check(units.model)

    def _connection_trim(self, units: "UnitEngine", budget, step: float, max_rounds: int) -> List[int]:
        """The active connections each round of the connection trim prunes to, planned on a copy: rounds of
        :func:`~codesign.methods.budget.round_fraction` of them (smallest magnitudes first, dead units removed)
        until the budget is met or ``PATIENCE`` rounds in a row no longer lower its load; the round that meets
        it is then bisected between its count and the one before (the load falls in steps: a round may cut
        far past the step), so the trim keeps the most connections that meet the budget, to within
        ``TRIM_TOLERANCE`` of them."""
        from .budget import twin_engine

        twin = twin_engine(units, budget.in_shape)
        check = budget.check(twin.model)
        best, stalled, keeps, before = check.load, 0, [], twin
        for _ in range(max_rounds):
            if check.met or stalled >= PATIENCE:
                break
            before = twin_engine(twin, budget.in_shape)
            keeps.append(max(1, round(active_connections(twin) * (1 - round_fraction(check.load, 1.0, step)))))
            self._prune_to(twin, keeps[-1])
            self.remove_dead_units(twin, count=False)
            check = budget.check(twin.model)
            stalled = stalled + 1 if check.load >= best - 1e-9 else 0
            best = min(best, check.load)
        if check.met and keeps:
            lo, hi = keeps[-1], active_connections(before)         # lo meets the budget, hi does not
            while hi - lo > max(1, TRIM_TOLERANCE * hi):
                mid = (lo + hi) // 2
                trial = twin_engine(before, budget.in_shape)
                self._prune_to(trial, mid)
                self.remove_dead_units(trial, count=False)
                lo, hi = (mid, hi) if budget.check(trial.model).met else (lo, mid)
            keeps[-1] = lo
        return keeps

    def _magnitude_kept(self, units: "UnitEngine") -> float:
        """The sum of the active connections' magnitudes (BN-folded, as pruning ranks them)."""
        norms = norm_after(units.model) if self.cfg.bn_fold else {}
        magnitude = effective_magnitudes(units, norms)
        return float(sum((magnitude[n] * units.masks.connection_mask(n)).sum() for n in units.weight_names()))

    def _prune_to(self, units: "UnitEngine", keep: int) -> None:
        names = units.weight_names()
        masks = {n: units.masks.connection_mask(n) for n in names}
        norms = norm_after(units.model) if self.cfg.bn_fold else {}
        magnitude = effective_magnitudes(units, norms)
        scores = {n: torch.where(masks[n], magnitude[n], torch.tensor(-1.0)) for n in names}
        if self.cfg.scope == "layer":
            fraction = keep / max(1, sum(int(m.sum()) for m in masks.values()))
            kept = {n: top_mask(s, max(1, round(fraction * int(masks[n].sum())))) for n, s in scores.items()}
        else:
            kept = global_top_masks(scores, keep)
        for n in names:
            units.set_connections(n, kept[n] & masks[n])

    def remove_dead_units(self, units: "UnitEngine", count: bool = True) -> int:
        """Physically remove units with no active incoming or no active outgoing connection (``count``:
        in the run's counts; not for a copy tried against a budget)."""
        removed = 0
        for _ in range(MAX_CLEANUP_PASSES):
            changed = False
            for g in units.groups():
                dead = dead_units(units, g)
                if dead.all():                 # a layer keeps one unit (zero-width layers are not supported)
                    dead[0] = False
                if dead.any():
                    units.remove(g, dead.nonzero().flatten())
                    removed += int(dead.sum())
                    changed = True
            if not changed:
                break
        if count:
            self.counts["dead_units_removed"] += removed
        return removed

    # ------------------------------------------------------------------ reporting and state
    def density(self, units: "UnitEngine") -> float:
        return active_connections(units) / max(1, self.reference_weights)

    def summary(self) -> Dict[str, Any]:
        return {"phase": self.phase, "rounds": self.rounds_done, **self.counts,
                "growth_pass_flops": self.growth_flops}

    def state_dict(self) -> Dict[str, Any]:
        return {"phase": self.phase, "reference_weights": self.reference_weights, "prune_start": self.prune_start,
                "rounds_done": self.rounds_done, "counts": dict(self.counts), "growth_flops": self.growth_flops}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        for key, value in state.items():
            setattr(self, key, dict(value) if isinstance(value, dict) else value)


def active_connections(units: "UnitEngine") -> int:
    effective = units.masks.effective()
    return sum(int(effective[n].sum()) if n in effective else units.param(n).numel() for n in units.weight_names())


def norm_after(model: torch.nn.Module) -> Dict[str, str]:
    """Conv/Linear module → the BatchNorm module applied directly to its output (torch.fx trace)."""
    import torch.fx as fx

    graph = fx.symbolic_trace(model).graph
    kinds = dict(model.named_modules())
    out = {}
    for node in graph.nodes:
        if node.op != "call_module" or not isinstance(kinds.get(node.target), torch.nn.modules.batchnorm._BatchNorm):
            continue
        src = node.args[0] if node.args else None
        if isinstance(src, fx.Node) and src.op == "call_module" and len(src.users) == 1:
            out[str(src.target)] = str(node.target)
    return out


@torch.no_grad()
def effective_magnitudes(units: "UnitEngine", norms: Dict[str, str]) -> Dict[str, torch.Tensor]:
    """|w| of every Conv/Linear weight, times |γ|/sqrt(running_var + eps) of the BatchNorm applied
    directly to its output (``norms``, from :func:`norm_after`): the magnitudes of the BN-folded
    weights, which NeST prunes (unfolded, a layer before a BN with small γ keeps weights that barely
    matter, and one before a large γ loses weights that do)."""
    out = {}
    for name in units.weight_names():
        w = units.param(name).detach().abs()
        bn_name = norms.get(name.rsplit(".", 1)[0])
        if bn_name is not None:
            bn = units.model.get_submodule(bn_name)
            scale = 1.0 / torch.sqrt(bn.running_var + bn.eps)
            if bn.weight is not None:
                scale = scale * bn.weight.detach().abs()
            w = w * scale.view(-1, *([1] * (w.dim() - 1)))
        out[name] = w
    return out


def dead_units(units: "UnitEngine", g) -> torch.Tensor:
    """Units of ``g`` with no active incoming or no active outgoing connection."""
    def active(ax, t):
        return units.masks.connection_mask(ax.name).to(torch.float64) if ax.attr == "weight" else None

    incoming = units.unit_sum(g, active, roles=("producer",))
    outgoing = units.unit_sum(g, active, roles=("consumer",))
    return (incoming == 0) | (outgoing == 0)


def seed_mask(shape: torch.Size, density: float, gen: torch.Generator) -> torch.Tensor:
    """Random connections at ``density``; every row (output unit) and every column (input unit)
    keeps at least one, so the seed has no dead units."""
    score = torch.rand(shape, generator=gen)
    mask = score < density
    n_out, n_in = shape[0], shape[1]
    per_pair = score.reshape(n_out, n_in, -1)          # [out, in, kernel positions]
    rest = per_pair.shape[2]
    flat = mask.view(n_out, n_in, rest)
    row_pick = per_pair.reshape(n_out, -1).argmin(1)
    flat[torch.arange(n_out), row_pick // rest, row_pick % rest] = True
    col_pick = per_pair.transpose(0, 1).reshape(n_in, -1).argmin(1)
    flat[col_pick // rest, torch.arange(n_in), col_pick % rest] = True
    return mask
