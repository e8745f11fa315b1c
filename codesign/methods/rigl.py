"""RigL: Rigging the Lottery (Evci, Gale, Menick, Castro, Elsen; ICML 2020, arXiv 1911.11134).

Sparse from the first step to the last, at a constant number of connections:

- start: every Conv/Linear weight gets a random connection mask at its layer's density. ``erk``
  (Erdős–Rényi-Kernel, the paper's best): density_l = ε·(Σ dims / Π dims) of the weight's shape,
  ε solved so that the total equals ``density``; a layer whose density would exceed 1 is made
  dense and ε solved again over the rest (as ``sparse_utils.get_sparsities_erdos_renyi``).
  ``uniform``: every layer at ``density``. ``first_layer_dense`` keeps the first layer dense and
  leaves it out of the budget (the official ``custom_sparsity_map`` treatment, so the total is a
  little above ``density``).
- every ``update_interval`` (ΔT = 100) optimiser steps t until T_end = ``end_fraction`` (0.75) of
  the run's steps, per sparse layer: drop the n = floor(f(t)·active) active connections of
  smallest |w| (+ N(0, ``noise_std``²) to break ties), f(t) = α/2·(1 + cos(π t / T_end)) with
  α = ``drop_fraction`` 0.3 (``anneal: constant`` keeps f = α); then grow the n connections with the
  largest dense-gradient magnitude |∂L/∂w| among those not kept (just-dropped ones are eligible;
  a connection dropped and regrown at once keeps its value, as in RigL). Grown connections start
  at weight 0 with zero optimiser state (momentum / Adam moments).
- the dense gradient is the mini-batch gradient of the update step, read in ``after_backward``
  (before the loop masks it). Official RigL skips the weight update on a mask-update step; here
  the regular optimiser step happens first and the masks are updated right after it (the SET base
  class's order), so drop scores see this step's weights and grown connections are exactly 0.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Dict, Literal, Mapping, Optional, Sequence

import torch
from pydantic import Field

from ..config import Strict
from . import register_method
from .base import Method, MethodContext

if TYPE_CHECKING:  # pragma: no cover
    from ..units.engine import UnitEngine


@register_method(__name__)
class RigL(Method):
    name = "rigl"
    density_knob = "density"

    class Config(Strict):
        density: float = Field(0.1, gt=0, le=1)         # fraction of Conv/Linear weights active (90% sparse)
        distribution: Literal["erk", "uniform"] = "erk"
        erk_power_scale: float = Field(1.0, ge=0)       # <1 makes ERK softer (official flag, default 1)
        first_layer_dense: bool = False
        update_interval: int = Field(100, ge=1)         # ΔT, optimiser steps between mask updates
        end_fraction: float = Field(0.75, gt=0, le=1)   # T_end as a fraction of the run's steps
        drop_fraction: float = Field(0.3, ge=0, le=1)   # α
        anneal: Literal["cosine", "constant"] = "cosine"
        noise_std: float = Field(1e-5, ge=0)            # tie-breaking noise on |w| when dropping

    def __init__(self, cfg: "RigL.Config"):
        super().__init__(cfg)
        self.densities: Dict[str, float] = {}
        self.updates = 0
        self.moved = 0                 # connections dropped (= grown) over all updates
        self.last_fraction = 0.0
        self.seed = 0
        self._grads: Optional[Dict[str, torch.Tensor]] = None
        self._updated_this_epoch = False

    # ------------------------------------------------------------------ sparse start
    def setup(self, ctx: MethodContext) -> None:
        units = ctx.units
        self.seed = ctx.seed
        shapes = {n: tuple(units.param(n).shape) for n in units.weight_names()}
        dense = [next(iter(shapes))] if self.cfg.first_layer_dense else []
        self.densities = layer_densities(shapes, self.cfg.density, self.cfg.distribution,
                                         self.cfg.erk_power_scale, dense)
        gen = torch.Generator().manual_seed(self.seed)
        for name, shape in shapes.items():
            if self.densities[name] < 1.0:
                units.set_connections(name, random_mask(shape, self.densities[name], gen))
        ctx.say(f"rigl: {self.cfg.distribution} start at density {units.masks.density():.4f}")

    # ------------------------------------------------------------------ schedule
    def end_step(self, ctx: MethodContext) -> float:
        return self.cfg.end_fraction * ctx.total_epochs * ctx.steps_per_epoch

    def is_update_step(self, t: int, end: float) -> bool:
        return t % self.cfg.update_interval == 0 and t < end

    def fraction_at(self, t: int, end: float) -> float:
        """f(t): the share of each layer's active connections that one update moves."""
        if self.cfg.anneal == "constant":
            return self.cfg.drop_fraction
        return self.cfg.drop_fraction / 2 * (1 + math.cos(math.pi * min(t, end) / end))

    # ------------------------------------------------------------------ hooks
    def after_backward(self, ctx: MethodContext) -> None:
        if not self.is_update_step(ctx.step, self.end_step(ctx)):
            return
        self._grads = {}
        for name in self._sparse_layers(ctx.units):
            grad = ctx.units.param(name).grad
            if grad is not None:
                self._grads[name] = grad.detach().abs().clone()

    def after_step(self, ctx: MethodContext) -> bool:
        if self._grads is None:
            return False
        t = ctx.step - 1                      # the step whose gradient was stored
        fraction = self.fraction_at(t, self.end_step(ctx))
        for i, (name, grad) in enumerate(self._grads.items()):
            self.moved += self._update_layer(ctx, name, grad, fraction, t * 1_000 + i)
        self._grads = None
        self.updates += 1
        self.last_fraction = fraction
        self._updated_this_epoch = True
        return True

    def on_epoch_end(self, ctx: MethodContext) -> bool:
        """True after an epoch with updates: the loop then re-measures the cost, so the epoch's
        nonzeros count the connections grown at the last update once they have trained."""
        updated, self._updated_this_epoch = self._updated_this_epoch, False
        return updated

    def _sparse_layers(self, units: "UnitEngine") -> list:
        return [n for n in units.weight_names() if self.densities.get(n, 1.0) < 1.0]

    def _update_layer(self, ctx: MethodContext, name: str, grad: torch.Tensor, fraction: float, salt: int) -> int:
        units = ctx.units
        active = units.masks.connection_mask(name)
        n_active = int(active.sum())
        n_move = int(n_active * fraction)
        if n_move == 0 or bool(active.all()):
            return 0
        weight = units.param(name).detach()
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + salt)
        noise = torch.randn(weight.shape, generator=gen, dtype=weight.dtype) * self.cfg.noise_std
        drop_score = torch.where(active, weight.abs() + noise, torch.tensor(-math.inf, dtype=weight.dtype))
        kept = _top(drop_score, n_active - n_move)
        grow_score = torch.where(kept, torch.tensor(-math.inf, dtype=grad.dtype), grad)
        grown = _top(grow_score, n_move)
        units.set_connections(name, kept | (grown & active))   # dropped and regrown at once: value kept
        units.activate(name, grown & ~active)                  # newly activated: weight 0, optimiser state 0
        return n_move

    # ------------------------------------------------------------------ reporting and state
    def summary(self) -> Dict[str, Any]:
        return {"updates": self.updates, "moved": self.moved, "drop_fraction": round(self.last_fraction, 6),
                "target_density": self.cfg.density}

    def state_dict(self) -> Dict[str, Any]:
        return {"densities": dict(self.densities), "updates": self.updates, "moved": self.moved,
                "last_fraction": self.last_fraction, "seed": self.seed}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        self.densities = dict(state.get("densities", {}))
        self.updates = int(state.get("updates", 0))
        self.moved = int(state.get("moved", 0))
        self.last_fraction = float(state.get("last_fraction", 0.0))
        self.seed = int(state.get("seed", 0))


# ---------------------------------------------------------------------- helpers

def layer_densities(shapes: Mapping[str, Sequence[int]], density: float, distribution: str = "erk",
                    power: float = 1.0, dense: Sequence[str] = ()) -> Dict[str, float]:
    """Per-layer densities: ``uniform`` or Erdős–Rényi-Kernel (``erk``) at total ``density``.

    Layers in ``dense`` stay dense outside the budget; ERK layers that would exceed density 1 are
    made dense inside it (their weights count towards the total) and ε is solved again."""
    if distribution == "uniform" or density >= 1.0:
        return {n: 1.0 if n in dense else min(1.0, density) for n in shapes}
    forced: set = set()
    while True:
        rhs, divisor, raw = 0.0, 0.0, {}
        for name, shape in shapes.items():
            size = math.prod(shape)
            zeros = math.floor((1.0 - density) * size)
            if name in dense:
                continue
            if name in forced:
                rhs -= zeros
            else:
                rhs += size - zeros
                raw[name] = (sum(shape) / size) ** power
                divisor += raw[name] * size
        if not raw:
            break
        eps = rhs / divisor
        top = max(raw.values())
        if top * eps <= 1.0:
            break
        forced |= {n for n, p in raw.items() if p == top}
    return {n: 1.0 if (n in dense or n in forced) else eps * raw[n] for n in shapes}


def random_mask(shape: Sequence[int], density: float, gen: torch.Generator) -> torch.Tensor:
    """Exactly size - floor((1 - density)·size) entries on, at random."""
    size = math.prod(shape)
    n_on = size - math.floor((1.0 - density) * size)
    mask = torch.zeros(size, dtype=torch.bool)
    mask[torch.randperm(size, generator=gen)[:n_on]] = True
    return mask.view(*shape)


def _top(scores: torch.Tensor, k: int) -> torch.Tensor:
    flat = scores.flatten()
    keep = torch.zeros(flat.numel(), dtype=torch.bool)
    if k > 0:
        keep[torch.topk(flat, k, sorted=False).indices] = True
    return keep.view_as(scores)

