"""NNrelief (Dekhovich, Tax, Sluiter, Bessa; Machine Learning 113:2597, 2024; arXiv 2109.10795).

Connections are pruned by the share of a neuron's (filter's) input signal they carry, measured on
a *pruning set* of ``prune_set`` (1000) random training images (seeded, fixed for the run):

- fully connected: ``s_ij = mean_n |w_ij x_ni| / S_j``; conv: ``s_ij = || |K_ij| * mean_n|x_ni| ||_F / S_j``
  (the batch mean of |x| taken before the convolution, as the official VGG/ResNet code does); the
  bias is one more candidate, ``|b_j|`` (conv: ``|b_j|·sqrt(H_out·W_out)``, the Frobenius norm of
  the bias broadcast over the output map). ``S_j`` sums all candidates of unit j.
- per unit, the smallest set of incoming candidates whose scores reach the fraction ``alpha_fc``
  (0.95) or ``alpha_conv`` (0.9) of ``S_j`` is kept, exactly as the official code does it:
  ``pivot = #(cumsum < α·S) + 1`` (at most the last index), ``thresh = sorted[pivot]``, every
  candidate with ``s <= thresh`` is pruned (ties at the threshold are pruned too, and the smallest
  candidate always goes; a unit with a single candidate keeps it). A conv candidate is a whole
  kernel ``K_ij``.
- dead units: a unit whose output, as every consumer reads it (after its activation, pooling,
  flatten), is exactly 0 on the whole pruning set is switched off. For ReLU networks this is the
  official rule "mean post-activation exactly 0" (post-ReLU values are >= 0); it is safe for any
  activation. Switched-off units lose their incoming weights, bias and BatchNorm entries.
- layers are visited from input to output (conv then FC, i.e. execution order); before each layer
  the pruning-set statistics are recomputed with every earlier layer already pruned (the paper's
  description; the official loops reuse the activations computed just before the previous
  layer was pruned — a small difference, chosen deliberately).
- backward clean-up: units with no remaining outgoing connection lose all incoming ones; repeated
  until nothing changes, so it propagates back to the first layer. Units that are off are then
  removed physically (:meth:`UnitEngine.keep`), so retraining runs on the smaller network.

``conv_norm: l1`` reproduces the official LeNet-5 code instead (|x|·|K| summed over the output map
and the bias as ``|b_j|·H_out·W_out``); the default Frobenius norm is the paper's formula and the
official VGG/ResNet code, and the shipped LeNet-5 recipe selects ``l1`` to follow its code.

Residual networks (``residual_rule``): the official ResNet code compares, at every residual Add,
the branch ``BN(conv2)`` with the shortcut per channel c: conv2's filter c is pruned when
``||mean|branch_c| ||_F / ||mean|shortcut_c| ||_F < (1-α)/α`` and the shortcut channel when the
inverse ratio is. Here the channels of a residual stream are one unit group (removing a channel
from one block would break the Add), so both decisions are *connection* masks: all incoming
kernels of row c of the producer feeding that operand (conv2, or a projection shortcut's conv) are
pruned; an identity shortcut has no weights and is kept. A stream channel is removed as a unit only
when it is dead or unread everywhere. The rule for an Add is applied at the turn of the last layer
feeding it, from the statistics taken before that layer was pruned (as the official code does at
conv2's turn).

Schedule: ``pretrain_epochs`` (default ``total // (iterations + 1)``) of dense training, then
``iterations`` (5, the official argparse default) pruning rounds spread evenly over the rest, each
followed by retraining; the epochs after the last round fine-tune. ``rewind: true`` resets the
survivors to their initial values after every round (and starts a fresh optimiser), as the
official code does for LeNets (lottery-ticket style); off by default because the recipe's single
learning-rate schedule does not restart per round as the official per-round retraining does.
"""
from __future__ import annotations

import copy
import math
from typing import TYPE_CHECKING, Any, Dict, List, Literal, Optional, Tuple

import torch
import torch.fx as fx
import torch.nn as nn
import torch.nn.functional as F
from pydantic import Field

from ..config import Strict
from ..units.adds import ResidualAdd
from ..units.engine import UnitEngine
from . import register_method
from .base import Method, MethodContext

if TYPE_CHECKING:  # pragma: no cover
    from ..units.graph import UnitGroup

CONVS = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


@register_method(__name__)
class Relief(Method):
    name = "relief"

    class Config(Strict):
        alpha_conv: float = Field(0.9, gt=0, le=1)      # importance share kept per filter (official LeNet default)
        alpha_fc: float = Field(0.95, gt=0, le=1)       # importance share kept per neuron
        iterations: int = Field(5, ge=1)                # pruning rounds (official argparse default)
        pretrain_epochs: Optional[int] = Field(None, ge=1)  # dense epochs first; default total // (iterations+1)
        prune_set: int = Field(1000, ge=1)              # random training images that score connections
        prune_seed: Optional[int] = None                # default: the recipe's train.seed
        conv_norm: Literal["frobenius", "l1"] = "frobenius"   # l1 = the official LeNet-5 code
        residual_rule: bool = True                      # ResNet branch/shortcut ratio rule at every Add
        dead_units: bool = True                         # switch off units that are exactly 0 on the pruning set
        backward_cleanup: bool = True                   # units without outgoing connections lose their inputs
        rewind: bool = False                            # survivors back to their initial values after each round

    def __init__(self, cfg: "Relief.Config"):
        super().__init__(cfg)
        self.rounds_done = 0
        self.original_params = 0
        self.kept = 1.0
        self.removed_units = 0
        self.init_state: Optional[Dict[str, torch.Tensor]] = None

    def setup(self, ctx: MethodContext) -> None:
        self.original_params = count_kept(ctx.units)
        if self.cfg.rewind:
            self.init_state = {k: v.detach().clone() for k, v in ctx.model.state_dict().items()}

    def prune_epochs(self, total_epochs: int) -> List[int]:
        """The epoch (0-based) at whose end each round k = 1..K prunes."""
        k = self.cfg.iterations
        pre = min(self.cfg.pretrain_epochs or max(1, total_epochs // (k + 1)), total_epochs)
        rest = total_epochs - pre
        return [min(total_epochs - 1, pre - 1 + (i * rest) // k) for i in range(k)]

    def on_epoch_end(self, ctx: MethodContext) -> bool:
        due = [i + 1 for i, e in enumerate(self.prune_epochs(ctx.total_epochs)) if e == ctx.epoch]
        if not due or max(due) <= self.rounds_done:
            return False
        self.rounds_done = max(due)
        self.prune_round(ctx)
        ctx.say(f"relief: round {self.rounds_done}/{self.cfg.iterations}, {self.kept:.2%} of weights+biases "
                f"kept ({1 / max(self.kept, 1e-12):.1f}x), {self.removed_units} units removed so far")
        return True

    # ------------------------------------------------------------------ one pruning round
    def prune_round(self, ctx: MethodContext) -> None:
        """Score and prune every layer input → output, clean up backwards, remove dead units."""
        units, model = ctx.units, ctx.model
        x = self.pruning_set(ctx)
        gm = units.traced()
        adds = units.adds() if self.cfg.residual_rule else {}
        was_training = model.training
        model.eval()
        try:
            for layer in units.graph.layers:
                stats = probe(gm, units.graph.layers, [a.node for a in adds.get(layer, [])], x,
                              ctx.eval_batch_size)
                group = units.graph.group(units.graph.outputs[layer])
                if self.cfg.dead_units and group.prunable:
                    switch_off(units, group, unit_reads(units, group, stats) == 0)
                self._prune_layer(units, model, layer, stats[(layer, 0)])
                for add in adds.get(layer, []):
                    self._residual_rule(units, add, stats)
        finally:
            model.train(was_training)
        if self.cfg.backward_cleanup:
            backward_cleanup(units)
        self._remove_off_units(ctx)
        if self.cfg.rewind:
            self._rewind(ctx)
        self.kept = count_kept(units) / max(1, self.original_params)

    def pruning_set(self, ctx: MethodContext) -> torch.Tensor:
        x = ctx.train_data[0]
        seed = self.cfg.prune_seed if self.cfg.prune_seed is not None else ctx.seed
        order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
        return x[order[:min(self.cfg.prune_set, len(x))]]

    def _prune_layer(self, units: UnitEngine, model: nn.Module, layer: str, mean_abs_x: torch.Tensor) -> None:
        weight = units.param(f"{layer}.weight").detach()
        bias_name = f"{layer}.bias"
        has_bias = getattr(model.get_submodule(layer), "bias", None) is not None
        bias = units.param(bias_name).detach() if has_bias else None
        scores = relief_scores(weight, bias, mean_abs_x, model.get_submodule(layer), self.cfg.conv_norm)
        keep = alpha_keep(scores, self.cfg.alpha_conv if weight.dim() > 2 else self.cfg.alpha_fc)
        n_in = weight.shape[1]
        shape = (weight.shape[0], n_in) + (1,) * (weight.dim() - 2)
        w_keep = keep[:, :n_in].reshape(shape).expand_as(weight)
        _restrict(units, f"{layer}.weight", w_keep)
        if has_bias:
            _restrict(units, bias_name, keep[:, n_in])

    def _residual_rule(self, units: UnitEngine, add: ResidualAdd, stats: Dict) -> None:
        if (add.node, 0) not in stats:
            return
        a, b = stats[(add.node, 0)], stats[(add.node, 1)]
        limit = (1.0 - self.cfg.alpha_conv) / self.cfg.alpha_conv
        for own, other, producer in ((a, b, add.producers[0]), (b, a, add.producers[1])):
            if producer is None:
                continue
            rows = own < limit * other          # own/other < (1-α)/α, without dividing by zero
            if rows.any():
                _drop_rows(units, producer, rows)

    # ------------------------------------------------------------------ removal and rewinding
    def _remove_off_units(self, ctx: MethodContext) -> None:
        units = ctx.units
        shadow = None
        if self.init_state is not None:
            model = copy.deepcopy(ctx.model)
            model.load_state_dict(self.init_state)
            shadow = UnitEngine(model, graph=units.graph)
        for g in units.groups():
            on = units.masks.unit_mask(g)
            if on.all():
                continue
            kept = on.nonzero().flatten()
            self.removed_units += len(on) - len(kept)
            units.keep(g, kept)
            if shadow is not None:
                shadow.keep(g, kept)
        if shadow is not None:
            self.init_state = {k: v.detach().clone() for k, v in shadow.model.state_dict().items()}

    def _rewind(self, ctx: MethodContext) -> None:
        with torch.no_grad():
            ctx.model.load_state_dict(self.init_state)
        ctx.units.apply_masks()
        ctx.reset_optimizer()

    # ------------------------------------------------------------------ reporting and state
    def summary(self) -> Dict[str, Any]:
        return {"rounds": self.rounds_done, "kept": round(self.kept, 6),
                "compression": round(1.0 / max(self.kept, 1e-12), 3), "removed_units": self.removed_units}

    def state_dict(self) -> Dict[str, Any]:
        return {"rounds_done": self.rounds_done, "original_params": self.original_params, "kept": self.kept,
                "removed_units": self.removed_units, "init_state": self.init_state}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        self.rounds_done = int(state.get("rounds_done", 0))
        self.original_params = int(state.get("original_params", 0))
        self.kept = float(state.get("kept", 1.0))
        self.removed_units = int(state.get("removed_units", 0))
        self.init_state = state.get("init_state")


# ---------------------------------------------------------------------- scores and the α rule

def relief_scores(weight: torch.Tensor, bias: Optional[torch.Tensor], mean_abs_x: torch.Tensor,
                  module: Optional[nn.Module] = None, conv_norm: str = "frobenius") -> torch.Tensor:
    """Normalised importances ``[out, in (+1 for the bias)]``: row j holds s_ij and s_bias,j, summing to 1.

    ``mean_abs_x`` is mean_n |x_n| of the layer's input without the batch axis ((in,) for a
    Linear layer, (C_in, *spatial) for a convolution, whose ``module`` gives stride/padding/dilation)."""
    w = weight.detach().abs().double()
    x = mean_abs_x.double()
    if w.dim() == 2:
        scores, positions = w * x.reshape(1, -1), 1
    else:
        scores, positions = _conv_scores(w, x, module, conv_norm)
    if bias is not None:
        scale = math.sqrt(positions) if conv_norm == "frobenius" else float(positions)
        scores = torch.cat([scores, bias.detach().abs().double().reshape(-1, 1) * scale], dim=1)
    total = scores.sum(1, keepdim=True)
    return torch.where(total > 0, scores / total.clamp_min(1e-300), scores)


def _conv_scores(w: torch.Tensor, x: torch.Tensor, module: nn.Module, norm: str) -> Tuple[torch.Tensor, int]:
    """Per (filter j, input channel i): the Frobenius norm (or sum) of |K_ij| convolved with x_i."""
    out_c, in_c = w.shape[:2]
    kernels = w.transpose(0, 1).reshape(in_c * out_c, 1, *w.shape[2:])   # group i holds |K_:i|
    maps = CONVS[w.dim() - 2](x.unsqueeze(0), kernels, stride=module.stride, padding=module.padding,
                              dilation=module.dilation, groups=in_c)
    maps = maps.reshape(in_c, out_c, -1)
    per_pair = maps.norm(dim=2) if norm == "frobenius" else maps.sum(2)
    return per_pair.t(), maps.shape[2]


def alpha_keep(scores: torch.Tensor, alpha: float) -> torch.Tensor:
    """Per row, the candidates NNrelief keeps: the smallest set whose scores reach ``alpha`` of the
    row's total, with the official code's pivot and ties (``s <= sorted[pivot]`` is pruned)."""
    n = scores.shape[1]
    if n == 1:
        return scores > 0
    ordered, _ = scores.sort(dim=1, descending=True)
    below = ordered.cumsum(1) < alpha * scores.sum(1, keepdim=True)
    pivot = (below.sum(1) + 1).clamp(max=n - 1)
    return scores > ordered.gather(1, pivot.unsqueeze(1))


# ---------------------------------------------------------------------- pruning-set statistics

class _Probe(fx.Interpreter):
    """Runs the traced model and sums |x| over the batch at the watched nodes' inputs."""

    def __init__(self, gm: fx.GraphModule, layers: List[str], adds: List[str]):
        super().__init__(gm)
        self.layers, self.adds = set(layers), set(adds)
        self.sums: Dict[Tuple[str, int], torch.Tensor] = {}

    def run_node(self, n: fx.Node) -> Any:
        watched = (n.op == "call_module" and n.target in self.layers) or n.name in self.adds
        if watched:
            args, _ = self.fetch_args_kwargs_from_env(n)
            key = n.target if n.op == "call_module" else n.name
            tensors = list(args[:1] if n.op == "call_module" else args[:2])
            if n.op == "call_module" or (all(torch.is_tensor(t) for t in tensors)
                                         and tensors[0].shape == tensors[1].shape):
                for i, t in enumerate(tensors):
                    s = t.detach().abs().sum(0, dtype=torch.float64)
                    self.sums[(key, i)] = s if (key, i) not in self.sums else self.sums[(key, i)] + s
        return super().run_node(n)


@torch.no_grad()
def probe(gm: fx.GraphModule, layers: List[str], adds: List[str], x: torch.Tensor, batch_size: int
          ) -> Dict[Tuple[str, int], torch.Tensor]:
    """mean_n |input| of every layer (key (layer, 0)); per channel ||mean_n |operand| ||_F of each
    watched Add's two operands (keys (node, 0) and (node, 1))."""
    runner = _Probe(gm, layers, adds)
    for start in range(0, len(x), batch_size):
        runner.run(x[start:start + batch_size])
    out = {key: s / len(x) for key, s in runner.sums.items()}
    for key in [k for k in out if k[0] in runner.adds]:
        t = out[key]
        out[key] = t.reshape(t.shape[0], -1).norm(dim=1)
    return out


def unit_reads(units: UnitEngine, group: "UnitGroup", stats: Dict) -> torch.Tensor:
    """Per unit of ``group``: Σ over its consumers' input columns of mean_n |x| (0 = never nonzero)."""
    total = torch.zeros(units.size(group), dtype=torch.float64)
    for consumer in group.consumers:
        if (consumer, 0) not in stats:
            continue
        stat = stats[(consumer, 0)]
        per_column = stat.reshape(stat.shape[0], -1).sum(1)
        for gid, first, factor, n in units.graph.input_layout(units.model, consumer):
            if gid == group.id:
                total += per_column[first:first + n * factor].reshape(n, factor).sum(1)
    return total


# ---------------------------------------------------------------------- mask edits

def _restrict(units: UnitEngine, name: str, keep: torch.Tensor) -> None:
    """Connection mask of ``name`` ∧ ``keep`` (only ever prunes further)."""
    old = units.masks.connection_mask(name)
    new = old & keep
    if not torch.equal(new, old):
        units.set_connections(name, new)


def _drop_rows(units: UnitEngine, layer: str, rows: torch.Tensor) -> None:
    for attr in ("weight", "bias"):
        name = f"{layer}.{attr}"
        if name not in units.masks.params():
            continue
        shape = (-1,) + (1,) * (units.param(name).dim() - 1)
        _restrict(units, name, (~rows).reshape(shape).expand_as(units.param(name)))


def switch_off(units: UnitEngine, group: "UnitGroup", off: torch.Tensor) -> bool:
    """Unit mask of ``group`` minus ``off``; a group keeps at least one unit. True when changed."""
    old = units.masks.unit_mask(group)
    new = old & ~off
    if not new.any():
        new[int(old.float().argmax())] = True
    if torch.equal(new, old):
        return False
    units.set_units(group, new)
    return True


def backward_cleanup(units: UnitEngine) -> None:
    """Units without any outgoing connection lose their incoming ones, until nothing changes."""
    changed = True
    while changed:
        changed = False
        for g in reversed(units.groups()):
            effective = units.masks.effective()
            alive = units.unit_sum(g, lambda ax, t: effective[ax.name].double() if ax.name in effective
                                   else torch.ones_like(t, dtype=torch.float64), roles=("consumer",))
            changed |= switch_off(units, g, alive == 0)


def count_kept(units: UnitEngine) -> int:
    """Weights and biases of the Conv/Linear layers that the masks leave on (NNrelief's count)."""
    effective = units.masks.effective()
    total = 0
    for layer in units.graph.layers:
        for attr in ("weight", "bias"):
            name = f"{layer}.{attr}"
            if name in units.masks.params():
                total += int(effective[name].sum()) if name in effective else units.param(name).numel()
    return total
