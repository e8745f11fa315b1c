"""Iterative magnitude pruning (Han, Pool, Tran, Dally, NIPS 2015), unstructured or structured.

Train dense for ``pretrain_epochs``, then prune ``iterations`` times, retraining the survivors in
between (weights are kept, not re-initialised). Pruning round k (1..K) brings the density to
``target_density^(k/K)``, so every round removes the same fraction of what is left, and the last
round reaches the target exactly; the rounds are spread evenly over the epochs after pretraining,
and the epochs after the last round are fine-tuning.

- ``unstructured``: connection masks keep the largest |w| of every Conv/Linear weight (``scope:
  layer``, every layer at the same density, as Han et al.'s per-layer thresholds) or of all of
  them together (``scope: global``). Density = kept weights / all prunable weights. Dead units
  (no in- or out-connections) are removed when the run is compacted.
- ``structured``: whole units (filters/neurons) with the smallest L1/L2 norm of their incoming
  weights are removed physically, so the rest of the run trains the smaller network. Density =
  kept units / units at the start, per group (``layer``) or over all groups with scores
  normalised by each group's mean (``global``; every group keeps at least one unit).
The learning rate follows the recipe's schedule throughout (Han et al. retrain at 1/10 of the
original rate: a cosine or step schedule gives the late rounds a low rate).

With a hardware budget (``codesign train --fit DEVICE``, structured only) the rounds prune to the
budget instead of ``target_density``: each plans the removal that meets the budget now (on a copy: the
units with the smallest norm, as a share of their group's, per unit of hardware price across all groups,
or those of smallest norm over their group's mean alone where that loses less on a sample of the training
data, or to the widths the previous round planned where those lose less,
:mod:`codesign.methods.budget_plans`), and round k takes every group a geometric share of the way to what
that plan leaves it, so the last round meets the budget
(:func:`~codesign.methods.budget_plans.prune_toward_budget`).
"""
from __future__ import annotations

from typing import Any, Dict, List, Literal, Optional

import torch
from pydantic import Field

from ..config import Strict
from . import register_method
from .base import Method, MethodContext
from .budget import keep_floors
from .budget_plans import prune_toward_budget
from .ranking import global_top_masks, mean_normalised
from .sample_loss import sample_loss


@register_method(__name__)
class Magnitude(Method):
    name = "magnitude"
    trains_to_budget = True
    density_knob = "target_density"
    one_shot = {"iterations": 1, "pretrain_epochs": None}     # a single round, pruning at once

    class Config(Strict):
        target_density: float = Field(0.1, gt=0, le=1)   # fraction of weights (or units) kept at the end
        structure: Literal["unstructured", "structured"] = "unstructured"
        scope: Literal["layer", "global"] = "layer"
        norm: Literal["l1", "l2"] = "l1"                  # structured: unit score
        iterations: int = Field(3, ge=1)                  # pruning rounds
        pretrain_epochs: Optional[int] = Field(None, ge=1)  # dense epochs first; default: a quarter of the run
        prune_output: bool = True                         # unstructured: prune the classifier's weights too

    def __init__(self, cfg: "Magnitude.Config"):
        super().__init__(cfg)
        self.rounds_done = 0
        self.density_reached = 1.0
        self.original_units: Dict[str, int] = {}
        self.budget: Dict[str, Any] = {}
        self.planned: Dict[str, int] = {}         # with a budget: the widths the last round planned

    def setup(self, ctx: MethodContext) -> None:
        from ..errors import ConfigError

        self.original_units = ctx.units.sizes()
        if ctx.budget is not None and self.cfg.structure != "structured":
            raise ConfigError("magnitude prunes to a hardware budget (--fit) with structure: structured only "
                              "(unstructured zeros save multipliers only under some strategies): add --param "
                              "structure=structured (method.params.structure in a recipe)")
        if ctx.budget is not None and "target_density" in self.cfg.model_fields_set:
            raise ConfigError(f"magnitude's target_density {self.cfg.target_density:g} and --fit disagree: with a "
                              "hardware budget the budget decides how far it prunes; give one of them")
        left = ctx.units.unmasked_layers() if self.cfg.structure == "unstructured" else {}
        if left:
            ctx.say(f"magnitude: {', '.join(left)} (grouped convolutions, {sum(left.values()):,} weights) are not "
                    f"pruned: the density counts the other Conv/Linear weights only")
        if self.cfg.structure == "structured" and not self.original_units:
            ctx.say("magnitude: no unit group of this model is prunable (a grouped or depthwise convolution, or "
                    "the classifier, ties every channel); structured pruning removes nothing")

    def prune_epochs(self, total_epochs: int) -> List[int]:
        """The epoch (0-based) at whose end each round k = 1..K prunes."""
        pre = self.cfg.pretrain_epochs or max(1, total_epochs // 4)
        pre = min(pre, total_epochs)
        rest = total_epochs - pre
        k = self.cfg.iterations
        return [min(total_epochs - 1, pre - 1 + (i * rest) // k) for i in range(k)]

    def density_after(self, round_number: int) -> float:
        return self.cfg.target_density ** (round_number / self.cfg.iterations)

    def on_epoch_end(self, ctx: MethodContext) -> bool:
        due = [i + 1 for i, e in enumerate(self.prune_epochs(ctx.total_epochs)) if e == ctx.epoch]
        if not due or max(due) <= self.rounds_done:
            return False
        self.rounds_done = max(due)
        density = self.density_after(self.rounds_done)
        if ctx.budget is not None:
            self._prune_to_budget(ctx)
        elif self.cfg.structure == "unstructured":
            self._prune_connections(ctx, density)
        else:
            self._prune_units(ctx, density)
        self.density_reached = self._measure_density(ctx)
        ctx.say(f"magnitude: round {self.rounds_done}/{self.cfg.iterations}, density {self.density_reached:.4f}")
        return True

    # ------------------------------------------------------------------ unstructured
    def _prune_connections(self, ctx: MethodContext, density: float) -> None:
        units = ctx.units
        names = units.weight_names(include_output=self.cfg.prune_output)
        scores = {n: torch.where(units.masks.connection_mask(n), units.param(n).detach().abs(),
                                 torch.tensor(-1.0)) for n in names}
        if self.cfg.scope == "layer":
            keep = {n: _top_mask(s, max(1, round(density * s.numel()))) for n, s in scores.items()}
        else:
            total = sum(s.numel() for s in scores.values())
            keep = global_top_masks(scores, max(1, round(density * total)), top=_top_mask)
        for n, mask in keep.items():
            units.set_connections(n, mask)

    # ------------------------------------------------------------------ structured
    def _prune_units(self, ctx: MethodContext, density: float) -> None:
        units = ctx.units
        p = 1 if self.cfg.norm == "l1" else 2
        scores = {g.name: units.unit_norm(g, p=p) for g in units.groups()}
        if self.cfg.scope == "layer":
            quota = {n: max(1, round(density * self.original_units[n])) for n in scores}
            keep = {n: s.topk(min(quota[n], len(s))).indices for n, s in scores.items()}
        else:
            keep = _global_keep(scores, max(1, round(density * sum(self.original_units.values()))))
        for name, idx in keep.items():
            if len(idx) < units.size(name):
                units.keep(name, idx)

    def _prune_to_budget(self, ctx: MethodContext) -> None:
        units, p = ctx.units, 1 if self.cfg.norm == "l1" else 2
        floors = {n: min(f, units.size(n)) for n, f in keep_floors(self.original_units).items()}   # of the start
        rounds_left = self.cfg.iterations - self.rounds_done + 1
        check, removed, self.planned = prune_toward_budget(units, ctx.budget, lambda name: units.unit_norm(name, p=p),
                                                           rounds_left=rounds_left, floors=floors,
                                                           judge=sample_loss(ctx), planned=self.planned)
        self.budget = check.summary()
        left = ", ".join(f"{name} {size}" for name, size in units.sizes().items())
        ctx.say(f"magnitude: removed {removed} units ({left} left); {check.describe()}")

    # ------------------------------------------------------------------ reporting and state
    def _measure_density(self, ctx: MethodContext) -> float:
        units = ctx.units
        if self.cfg.structure == "unstructured":
            return units.masks.density(include_output=self.cfg.prune_output)
        if not self.original_units:              # nothing prunable: all of it is kept (not density 0)
            return 1.0
        return sum(units.sizes().values()) / sum(self.original_units.values())

    def summary(self) -> Dict[str, Any]:
        return {"rounds": self.rounds_done, "density": round(self.density_reached, 6)}

    def state_dict(self) -> Dict[str, Any]:
        return {"rounds_done": self.rounds_done, "original_units": dict(self.original_units),
                "density_reached": self.density_reached, "budget": dict(self.budget),
                "planned": dict(self.planned)}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        self.rounds_done = int(state.get("rounds_done", 0))
        self.original_units = dict(state.get("original_units", {}))
        self.density_reached = float(state.get("density_reached", 1.0))
        self.budget = dict(state.get("budget") or {})
        self.planned = {name: int(n) for name, n in (state.get("planned") or {}).items()}


def _top_mask(scores: torch.Tensor, k: int) -> torch.Tensor:
    """Bool mask of the ``k`` largest entries (deterministic for the same scores)."""
    flat = scores.flatten()
    keep = torch.zeros(flat.numel(), dtype=torch.bool)
    keep[torch.topk(flat, min(k, flat.numel()), sorted=False).indices] = True
    return keep.view_as(scores)


def _global_keep(scores: Dict[str, torch.Tensor], total: int) -> Dict[str, torch.Tensor]:
    """Units kept when the normalised scores of all groups compete; each group keeps >= 1."""
    normalised = {n: mean_normalised(s) for n, s in scores.items()}
    flat = torch.cat(list(normalised.values()))
    chosen = _top_mask(flat, total)
    keep, start = {}, 0
    for n, s in normalised.items():
        mask = chosen[start:start + len(s)].clone()
        start += len(s)
        if not mask.any():
            mask[int(s.argmax())] = True
        keep[n] = mask.nonzero().flatten()
    return keep
