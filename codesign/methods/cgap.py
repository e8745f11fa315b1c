"""CGaP: Continuous Growth and Pruning (Du, Li, Cao, arXiv 1905.11533; Du, Li, Ma, Cao, JETCAS 2019).

Training starts from a small *seed* of the recipe's architecture, grows it by reinforcing its most
salient filters/neurons, stops growing on a validation plateau or when the groups reach a size cap,
then prunes the secondary units (structured, physically) and fine-tunes. All growth is real
(:meth:`UnitEngine.extend`): a seed at 1/8 width trains at the cost of a 1/8-width network.

The papers' abstracts fix only the outline; every number below is an assumption (docs/methods.md#cgap
marks them A) chosen as follows:

- ``seed_width`` 0.125: the recipe's ``model.width`` is the *full* architecture; ``setup`` builds
  the seed as the same architecture at ``width × seed_width`` with a fresh initialisation
  (:meth:`UnitEngine.reset_width`: a zoo model is rebuilt by its builder, any other module keeps its
  first units and re-initialises), so the full width is also the natural growth cap (``cap`` =
  1.0 × the full size of each group).
- growth every epoch (``growth_interval`` 0; or every N optimiser steps) by ``growth_ratio`` 0.5
  of each group's current size: from 1/8 to full width in about five growth steps, so growth ends
  within the first half of a typical run (``growth_epochs``, default half the epochs, at least two: the
  growth phase's epochs, each ending in a growth step but the last, which ends in pruning).
- saliency ``taylor``: |Σ_unit w·∂L/∂w| over the unit's incoming weights and BatchNorm parameters,
  averaged over the steps since the last growth (first-order Taylor, Molchanov et al. 2017; the
  same group's PST code uses Σ|w|·|g|). Alternatives: ``grad_l2``, ``weight_l1``, ``weight_l2``,
  ``bn_gamma``.
- new units ``split`` (Net2Wider): a copy of a salient unit plus 1% noise, the two sharing the
  original outgoing weights, which reinforces exactly the units that matter and does not change
  the function at the moment of growth; ``kaiming`` adds random units with zero outgoing weights.
- stop rule: validation accuracy (training loss when the recipe holds out no validation data)
  without improvement for ``patience`` 2 epochs, every group at its cap, or the growth budget.
- pruning: the ``prune_ratio`` 0.4 least salient units of every group are removed; a network
  grown to the cap then keeps about 0.6² ≈ 36% of the full model's weights, the paper's ResNet-110
  figure (36.0% params). The remaining epochs fine-tune.

With a hardware budget (``codesign train --fit DEVICE``, :mod:`codesign.methods.budget`) a group
grows only by as many units as keep the model, after the usual ``prune_ratio`` pruning, within the
budget (tried on a copy; halved until it fits), growth stops ("hardware budget") when no group can grow, and after the usual
``prune_ratio`` of every group, pruning goes on while the budget is not met, ranking the units of
all groups together by saliency per unit of hardware price (what the budget asks beyond the
unbudgeted method is spent where hardware is saved cheapest in saliency).
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Dict, Literal, Optional

import torch
from pydantic import Field, model_validator

from ..config import Strict
from ..units.resize import GrowthInit
from . import register_method
from .base import Method, MethodContext
from .budget import growth_that_fits, prune_to_budget
from .sample_loss import sample_loss

if TYPE_CHECKING:  # pragma: no cover
    from ..units.engine import UnitEngine
    from ..units.graph import UnitGroup

ACCUMULATED = ("taylor", "grad_l2")


@register_method(__name__)
class CGaP(Method):
    name = "cgap"
    trains_to_budget = True

    class Config(Strict):
        seed_width: float = Field(0.125, gt=0, le=1)    # seed = this fraction of the recipe's widths
        cap: float = Field(1.0, gt=0)                   # a group stops growing at cap × its full size
        growth_ratio: float = Field(0.5, gt=0)          # each growth step adds ceil(ratio × size) units
        growth_interval: int = Field(0, ge=0)           # optimiser steps between growth steps; 0 = each epoch
        growth_epochs: Optional[int] = Field(None, ge=1)  # epochs of the growth phase (growth steps: one fewer)
        patience: int = Field(2, ge=1)                  # epochs without validation improvement → stop growing
        saliency: Literal["taylor", "grad_l2", "weight_l1", "weight_l2", "bn_gamma"] = "taylor"
        init: Literal["split", "kaiming"] = "split"     # new units: copies of salient ones, or random
        noise: float = Field(0.01, ge=0)                # split: relative noise on the copied weights
        prune_ratio: float = Field(0.4, ge=0, lt=1)     # fraction of each group's units pruned after growth

        @model_validator(mode="after")
        def _growth_epochs_grow(self) -> "CGaP.Config":
            if self.growth_epochs == 1 and self.growth_interval == 0:
                raise ValueError("growth_epochs 1 leaves no growth step: growth ends every epoch of the growth phase "
                                 "but its last, which ends in pruning; give growth_epochs 2 for one step (N for N - 1), "
                                 "or growth_interval S to grow every S optimiser steps")
            return self

    def __init__(self, cfg: "CGaP.Config"):
        super().__init__(cfg)
        self.phase = "grow"
        self.full_sizes: Dict[str, int] = {}
        self.scores: Dict[str, torch.Tensor] = {}
        self.score_steps = 0
        self.best = -math.inf
        self.bad_epochs = 0
        self.growth_steps = 0
        self.grown = 0
        self.pruned = 0
        self.stop_reason = ""
        self.last_added = -1

    # ------------------------------------------------------------------ seed
    def setup(self, ctx: MethodContext) -> None:
        self.full_sizes = ctx.units.sizes()
        ctx.units.reset_width(self.cfg.seed_width)
        ctx.say(f"cgap: seed {sum(ctx.units.sizes().values())} units "
                f"(full width {sum(self.full_sizes.values())})")

    def growth_budget(self, total_epochs: int) -> int:
        """The epochs of the growth phase: growth ends each of them but the last, which ends in pruning (so
        N epochs grow N - 1 times when ``growth_interval`` is 0). Default half the run, and at least two
        where the run leaves an epoch after them (a 3-epoch run grows once, where half of it grew never)."""
        budget = self.cfg.growth_epochs or max(2, total_epochs // 2)
        return max(1, min(budget, total_epochs - 1)) if total_epochs > 1 else 1

    # ------------------------------------------------------------------ saliency
    def after_backward(self, ctx: MethodContext) -> None:
        if self.phase != "grow" or self.cfg.saliency not in ACCUMULATED:
            return
        units = ctx.units
        for g in units.groups():
            if self.cfg.saliency == "taylor":
                step = units.unit_taylor(g)
            else:
                step = units.unit_sum(g, lambda ax, t: t.grad ** 2 if t.grad is not None else None).sqrt()
            acc = self.scores.get(g.name)
            self.scores[g.name] = step if acc is None or acc.shape != step.shape else acc + step
        self.score_steps += 1

    def saliency(self, ctx: MethodContext, g: "UnitGroup") -> torch.Tensor:
        units = ctx.units
        kind = self.cfg.saliency
        acc = self.scores.get(g.name)
        if kind in ACCUMULATED and acc is not None and len(acc) == units.size(g):
            return acc / max(1, self.score_steps)
        if kind == "bn_gamma" and g.followers:
            return units.unit_sum(g, lambda ax, t: t.detach().abs() if ax.attr == "weight" else None, ("follower",))
        return units.unit_norm(g, p=2 if kind == "weight_l2" else 1)

    def _reset_scores(self) -> None:
        self.scores, self.score_steps = {}, 0

    # ------------------------------------------------------------------ growth
    def after_step(self, ctx: MethodContext) -> bool:
        every = self.cfg.growth_interval
        if self.phase == "grow" and every and ctx.step % every == 0:
            return self.grow(ctx) > 0
        return False

    def grow(self, ctx: MethodContext) -> int:
        """One growth step: every group below its cap gets copies of its most salient units."""
        units, added = ctx.units, 0
        for g in units.groups():
            size = units.size(g)
            room = math.ceil(self.cfg.cap * self.full_sizes[g.name]) - size
            n = min(math.ceil(self.cfg.growth_ratio * size), room)
            if n > 0 and ctx.budget is not None:
                n = growth_that_fits(units, ctx.budget, g.name, n, project=self._after_pruning)
            if n <= 0:
                continue
            order = torch.argsort(self.saliency(ctx, g), descending=True, stable=True)
            sources = order.repeat(math.ceil(n / size))[:n].tolist()
            init = GrowthInit("split", noise=self.cfg.noise, sources=sources) if self.cfg.init == "split" \
                else GrowthInit("kaiming")
            units.extend(g, n, init)
            added += n
        self._reset_scores()
        self.grown += added
        self.growth_steps += added > 0
        self.last_added = added
        return added

    def _after_pruning(self, units: "UnitEngine") -> None:
        """Each group at the size the usual pruning leaves (``prune_ratio``; which units does not matter to
        the hardware): what a growth step is checked against with a budget."""
        for g in units.groups():
            size = units.size(g)
            keep = max(1, size - math.floor(self.cfg.prune_ratio * size))
            if keep < size:
                units.keep(g.name, range(keep))

    def _at_cap(self, ctx: MethodContext) -> bool:
        return all(ctx.units.size(g) >= math.ceil(self.cfg.cap * self.full_sizes[g.name])
                   for g in ctx.units.groups())

    def on_epoch_end(self, ctx: MethodContext) -> bool:
        if self.phase != "grow":
            return False
        metric = self._plateau_metric(ctx)
        if metric > self.best:
            self.best, self.bad_epochs = metric, 0
        else:
            self.bad_epochs += 1
        if self.bad_epochs >= self.cfg.patience:
            self.stop_reason = "plateau"
        elif self.last_added == 0 and ctx.budget is not None:
            self.stop_reason = "hardware budget"
        elif self._at_cap(ctx):
            self.stop_reason = "cap"
        elif ctx.epoch + 1 >= self.growth_budget(ctx.total_epochs):
            self.stop_reason = "growth epochs"
        if self.stop_reason:
            self.prune(ctx)
            return True
        if self.cfg.growth_interval == 0:
            self.grow(ctx)
        return True

    def _plateau_metric(self, ctx: MethodContext) -> float:
        if ctx.has_validation:
            return ctx.evaluate("val")[1]
        return -float(ctx.epoch_metrics.get("train_loss", 0.0))

    # ------------------------------------------------------------------ pruning
    def prune(self, ctx: MethodContext) -> None:
        """Remove the ``prune_ratio`` least salient units of every group; with a hardware budget, then
        the least salient units per hardware price of all groups until it is met (or by saliency alone,
        whichever loses less on a sample of the training data: :mod:`codesign.methods.budget_plans`).
        Fine-tuning follows."""
        units = ctx.units
        for g in units.groups():
            size = units.size(g)
            keep = max(1, size - math.floor(self.cfg.prune_ratio * size))
            if keep < size:
                units.keep(g, self.saliency(ctx, g).topk(keep).indices)
                self.pruned += size - keep
        if ctx.budget is not None:
            check, removed = prune_to_budget(units, ctx.budget, lambda g: self.saliency(ctx, g),
                                             judge=sample_loss(ctx))
            self.pruned += removed
            ctx.say(f"cgap: {check.describe()}")
        self.phase = "finetune"
        self._reset_scores()
        ctx.say(f"cgap: growth stopped ({self.stop_reason}) after {self.growth_steps} growth steps; "
                f"pruned {self.pruned} units, {sum(units.sizes().values())} left")

    # ------------------------------------------------------------------ reporting and state
    def summary(self) -> Dict[str, Any]:
        return {"phase": self.phase, "growth_steps": self.growth_steps, "grown_units": self.grown,
                "pruned_units": self.pruned, "stop": self.stop_reason or "-"}

    def state_dict(self) -> Dict[str, Any]:
        return {"phase": self.phase, "full_sizes": dict(self.full_sizes), "scores": dict(self.scores),
                "score_steps": self.score_steps, "best": self.best, "bad_epochs": self.bad_epochs,
                "growth_steps": self.growth_steps, "grown": self.grown, "pruned": self.pruned,
                "stop_reason": self.stop_reason, "last_added": self.last_added}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        for key, value in state.items():
            setattr(self, key, dict(value) if isinstance(value, dict) else value)
