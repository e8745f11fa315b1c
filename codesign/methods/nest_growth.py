"""NeST growth (Dai, Yin, Jha): gradient-based connection, neuron and feature-map growth.

Every growth decision reads gradients from a *growth pass*: the mean training loss over a seeded
sample of training data, backpropagated through the masked model in eval mode (BatchNorm uses
its running statistics, so the pass changes nothing in the model). A dormant connection is a
masked weight held at exactly zero, so autograd's dense weight gradient at its position is the
gradient that connection would receive if it were active: NeST's growth signal.

- :func:`grow_connections`: per weight tensor, the ``ratio`` fraction of the dormant connections
  with the largest |∂L/∂w| become active, initialised to ``-step·∂L/∂w`` (one gradient step).
- :func:`grow_neurons` (hidden fully-connected layers): G[m, n] = Σ_batch ∂L/∂u_m^{l+1}·x_n^{l-1}
  (the mean-loss gradient a direct n → m connection would get); every selected pair (m, n) gets a
  new neuron k with exactly two connections, w[k←n] = s·a and w[m←k] = -sign(G)·s·a with
  a = sqrt(step·|G|) and s the sign of the mean of x_n (so k is active on typical inputs: s = +1
  after a ReLU); while k is active the path n → k → m acts like a direct connection of weight
  w[m←k]·w[k←n] = -step·G: one gradient step on the bridged pair.
- :func:`grow_feature_maps` (convolutional and other groups): candidate units with random
  (Kaiming) inputs and zero outputs are added, a growth pass scores them by the norm of the
  gradient of their outgoing weights (the first-order loss reduction they offer), the best are
  kept with outgoing weights ``-step·∂L/∂w`` and the rest removed. A kept map's incoming and
  outgoing connections are sparsified to the density of the layers they belong to.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Dict, List, Optional, Tuple

import torch

from ..units.resize import GrowthInit
from .ranking import top_mask

if TYPE_CHECKING:  # pragma: no cover
    from ..units.engine import UnitEngine
    from ..units.graph import Axis, UnitGroup
    from .base import MethodContext

CHUNK = 256          # samples per forward/backward of a growth pass (memory only; results are sums)

Bridge = Tuple[str, str]   # (producer layer, consumer layer) of a hidden fully-connected group


@dataclass
class GrowthPass:
    grads: Dict[str, torch.Tensor]      # dense mean-loss gradient of every Conv/Linear weight
    bridges: Dict[str, torch.Tensor]    # group name → G[m, n] (consumer outputs × producer inputs)
    input_means: Dict[str, torch.Tensor]  # group name → mean of each producer input x_n over the sample
    flops_dense: float                  # cost of the pass, dense-structural convention
    flops_sparse: float                 # cost of the pass, nonzero-weight convention


def fc_bridge(units: "UnitEngine", g: "UnitGroup") -> Optional[Bridge]:
    """(producer, consumer) when ``g`` is a hidden layer of a fully-connected chain, else None."""
    if len(g.producers) != 1 or len(g.consumers) != 1 or g.followers:
        return None
    producer, consumer = g.producers[0], g.consumers[0]
    if units.param(f"{producer}.weight").dim() != 2 or units.param(f"{consumer}.weight").dim() != 2:
        return None
    layout = units.graph.input_layout(units.model, consumer)
    if any(gid == g.id and factor != 1 for gid, _, factor, _ in layout):
        return None
    return producer, consumer


def _consumer_offset(units: "UnitEngine", g: "UnitGroup", consumer: str) -> int:
    return next(first for gid, first, _, _ in units.graph.input_layout(units.model, consumer) if gid == g.id)


def growth_pass(ctx: "MethodContext", samples: int, bridges: Dict[str, Bridge], salt: int) -> GrowthPass:
    """Dense gradients (and bridge matrices G) of the mean loss over a seeded training sample."""
    units, model = ctx.units, ctx.model
    x_all, y_all = ctx.train_data
    n = min(samples, len(y_all))
    gen = ctx.generator(salt)
    index = torch.randperm(len(y_all), generator=gen)[:n]
    seen: Dict[Tuple[str, str], torch.Tensor] = {}

    def keep_input(key):
        def hook(_module, inputs, _output) -> None:
            seen[key] = inputs[0].detach().flatten(1)
        return hook

    def keep_output_grad(key):
        def hook(_module, _inputs, output) -> None:
            output.register_hook(lambda grad: seen.__setitem__(key, grad))
        return hook

    hooks = []
    for gname, (producer, consumer) in bridges.items():
        hooks.append(model.get_submodule(producer).register_forward_hook(keep_input((gname, "x"))))
        hooks.append(model.get_submodule(consumer).register_forward_hook(keep_output_grad((gname, "d"))))
    sums = {g: torch.zeros(units.param(f"{c}.weight").shape[0], units.param(f"{p}.weight").shape[1])
            for g, (p, c) in bridges.items()}
    x_sums = {g: torch.zeros(units.param(f"{p}.weight").shape[1]) for g, (p, _) in bridges.items()}
    was_training = model.training
    model.eval()
    model.zero_grad(set_to_none=True)
    try:
        for start in range(0, n, CHUNK):
            idx = index[start:start + CHUNK]
            out = model(x_all[idx])
            loss = ctx.loss(out, y_all[idx], reduction="sum") / n
            loss.backward()
            for gname in bridges:
                sums[gname] += seen[(gname, "d")].T @ seen[(gname, "x")]
                x_sums[gname] += seen[(gname, "x")].sum(0)
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    grads = {name: units.param(name).grad.detach().clone() for name in units.weight_names()}
    model.zero_grad(set_to_none=True)
    cost = ctx.measure()
    extra = 2.0 * n * sum(G.numel() for G in sums.values())
    return GrowthPass(grads, sums, {g: t / n for g, t in x_sums.items()}, 3.0 * n * cost.flops_dense + extra,
                      n * (2.0 * cost.flops_sparse + cost.flops_dense) + extra)


# --------------------------------------------------------------------------- connections

@torch.no_grad()
def grow_connections(units: "UnitEngine", grads: Dict[str, torch.Tensor], ratio: float, step: float) -> int:
    """Activate the ``ratio`` fraction (rounded up) of each weight's dormant connections with the
    largest |gradient|; new weights start at ``-step·gradient``. Returns the number activated."""
    grown = 0
    for name in units.weight_names():
        dormant = ~units.masks.connection_mask(name)
        k = math.ceil(ratio * int(dormant.sum()))
        if k == 0:
            continue
        chosen = top_mask(torch.where(dormant, grads[name].abs(), torch.tensor(-1.0)), k)
        units.activate(name, chosen, -step * grads[name][chosen])
        grown += k
    return grown


# --------------------------------------------------------------------------- neurons

def mean_active_magnitude(units: "UnitEngine", name: str) -> float:
    """Mean |w| over the active (unmasked, nonzero) connections of weight ``name``."""
    w = units.param(name).detach()
    live = units.masks.connection_mask(name) & (w != 0)
    return float(w[live].abs().mean()) if live.any() else float(w.abs().mean())


def birth_scale(values: torch.Tensor, strength: Optional[float], reference: float) -> torch.Tensor:
    """NeST's birth strength α: ``values`` rescaled so that their mean magnitude is α × ``reference``
    (the layer's mean active magnitude), relative sizes kept; unchanged when α is None."""
    if strength is None or values.numel() == 0:
        return values
    mean = values.abs().mean()
    return values * (strength * reference / mean) if mean > 0 else values


@torch.no_grad()
def grow_neurons(units: "UnitEngine", bridges: Dict[str, Bridge], grad_pass: GrowthPass, pair_ratio: float,
                 cap: float, step: float, birth_strength: Optional[float] = None) -> int:
    """One new two-connection neuron per top pair (m, n) of each hidden FC layer (see module doc);
    with ``birth_strength`` α the new fan-in and fan-out weights are rescaled to α × the mean active
    magnitude of the producer's / consumer's weights (NeST: α > 0.3 keeps them from being pruned
    at once)."""
    added, G = 0, grad_pass.bridges
    for gname, (producer, consumer) in bridges.items():
        g = units.group(gname)
        scores = G[gname].abs().flatten()
        k = min(math.ceil(pair_ratio * scores.numel()), math.ceil(cap * units.size(g)), int((scores > 0).sum()))
        if k < 1:
            continue
        pick = torch.argsort(scores, descending=True, stable=True)[:k]
        n_in = G[gname].shape[1]
        m, n, value = pick // n_in, pick % n_in, G[gname].flatten()[pick]
        w_in, w_out = f"{producer}.weight", f"{consumer}.weight"
        reference = {w: mean_active_magnitude(units, w) for w in (w_in, w_out)}
        rows = torch.tensor(list(units.extend(g, k, GrowthInit("zeros"))))
        cols = rows + _consumer_offset(units, g, consumer)
        a = (step * value.abs()).sqrt()
        side = torch.where(grad_pass.input_means[gname][n] < 0, -1.0, 1.0)   # active on the typical x_n
        in_mask, out_mask = units.masks.connection_mask(w_in), units.masks.connection_mask(w_out)
        in_mask[rows] = False
        in_mask[rows, n] = True
        out_mask[:, cols] = False
        out_mask[m, cols] = True
        units.param(w_in).data[rows, n] = side * birth_scale(a, birth_strength, reference[w_in])
        units.param(w_out).data[m, cols] = -torch.sign(value) * side * birth_scale(a, birth_strength,
                                                                                  reference[w_out])
        units.set_connections(w_in, in_mask)
        units.set_connections(w_out, out_mask)
        added += k
    return added


# --------------------------------------------------------------------------- feature maps

def _density(units: "UnitEngine", name: str) -> float:
    return float(units.masks.connection_mask(name).float().mean())


def _block(t: torch.Tensor, axis: "Axis", first: int, count: int) -> torch.Tensor:
    return t.narrow(axis.dim, axis.offset + first * axis.factor, count * axis.factor)


@torch.no_grad()
def _sparsify_new_units(units: "UnitEngine", g: "UnitGroup", first: int, count: int, grads: Dict[str, torch.Tensor],
                        densities: Dict[str, float], step: float, birth: Optional[Dict[str, float]] = None) -> None:
    """New units keep a random subset of their (Kaiming) incoming weights at the producer's
    density, rescaled by 1/sqrt(density) like the seed; their outgoing weights start at
    ``-step·gradient`` on the entries with the largest |gradient|, at the consumer's density
    (``birth``: consumer weight → α × its mean active magnitude, the mean the kept entries get)."""
    for axis in units.axes(g):
        if axis.attr != "weight" or axis.role == "follower":
            continue
        d = densities.get(axis.name, 1.0)
        view = units.unit_view(axis, first, count)
        if axis.role == "consumer":
            view.copy_(-step * _block(grads[axis.name], axis, first, count))
            score = _block(grads[axis.name], axis, first, count).abs()
        else:
            view.mul_(1.0 / math.sqrt(d))
            score = torch.rand(view.shape)
        keep = top_mask(score, max(1, math.ceil(d * score.numel())))
        if axis.role == "consumer" and birth is not None and axis.name in birth:
            view[keep] = birth_scale(view[keep], 1.0, birth[axis.name])
        mask = units.masks.connection_mask(axis.name)
        _block(mask, axis, first, count).copy_(keep)
        units.set_connections(axis.name, mask)


def grow_feature_maps(ctx: "MethodContext", groups: List["UnitGroup"], cap: float, candidates: float, samples: int,
                      step: float, birth_strength: Optional[float] = None) -> Tuple[int, float, float]:
    """Add candidate units to every group, keep the ``cap`` fraction (of the group's size) whose
    outgoing weights have the largest gradient norm (``birth_strength`` α: their outgoing weights
    rescaled to α × the consumer's mean active magnitude). Returns (units kept, pass FLOPs dense,
    sparse)."""
    units = ctx.units
    densities = {name: _density(units, name) for name in units.weight_names()}
    birth = None if birth_strength is None else \
        {name: birth_strength * mean_active_magnitude(units, name) for name in units.weight_names()}
    plan: Dict[str, Tuple[int, int, int]] = {}
    for g in groups:
        size = units.size(g)
        keep = math.ceil(cap * size)
        n_cand = max(keep, math.ceil(candidates * keep))
        if keep > 0:
            plan[g.name] = (size, n_cand, keep)
            units.extend(g, n_cand, GrowthInit("kaiming"))
    if not plan:
        return 0, 0.0, 0.0
    grad_pass = growth_pass(ctx, samples, {}, salt=2)
    grads = grad_pass.grads
    scores = {name: units.unit_sum(name, lambda ax, t: grads[ax.name] ** 2 if ax.name in grads else None,
                                   roles=("consumer",))[first:first + n_cand]
              for name, (first, n_cand, _) in plan.items()}
    for name, (first, n_cand, _) in plan.items():      # writes only: every shape stays as the pass saw it
        _sparsify_new_units(units, units.group(name), first, n_cand, grads, densities, step, birth)
    for name, (first, _, keep) in plan.items():
        losers = first + torch.argsort(scores[name], descending=True, stable=True)[keep:]
        if len(losers):
            units.remove(name, losers)
    return sum(keep for _, _, keep in plan.values()), grad_pass.flops_dense, grad_pass.flops_sparse


@torch.no_grad()
def extend_like_feature_maps(units: "UnitEngine", groups: List[str], cap: float) -> None:
    """What :func:`grow_feature_maps` at ``cap`` adds, in hardware terms, without a growth pass: the
    ``cap`` fraction (rounded up) of every group's size as new units whose incoming and outgoing
    connections are at the densities of the layers they join. For trying a growth step against a
    hardware budget on a copy of the model, which is then pruned by magnitude as the rounds will prune
    it: so the new connections take magnitudes of the layer's own active weights
    (:func:`_take_peer_magnitudes`), as if trained like the rest of it. (Placeholder values of 1 outranked
    every trained weight, so the projection kept every new map's connections and cut the cheap
    fully-connected ones for them: a LeNet-5 step that met a loose budget after training was refused.)"""
    densities = {name: _density(units, name) for name in units.weight_names()}
    peers = {name: units.param(name).detach()[units.masks.connection_mask(name)].abs().clone()
             for name in units.weight_names()}
    plan: Dict[str, Tuple[int, int]] = {}
    for name in groups:
        size = units.size(name)
        keep = math.ceil(cap * size)
        if keep > 0:
            plan[name] = (size, keep)
            units.extend(name, keep, GrowthInit("kaiming"))
    ones = {name: torch.ones_like(units.param(name)) for name in units.weight_names()}
    for name, (first, keep) in plan.items():
        _sparsify_new_units(units, units.group(name), first, keep, ones, densities, 1.0)
    for name, (first, keep) in plan.items():
        _take_peer_magnitudes(units, units.group(name), first, keep, peers)


@torch.no_grad()
def _take_peer_magnitudes(units: "UnitEngine", g: "UnitGroup", first: int, count: int,
                          peers: Dict[str, torch.Tensor]) -> None:
    """The active weights of new units ``first..first+count`` of ``g`` set to magnitudes evenly spread over
    the quantiles of their layer's active weights before the growth (``peers``), in a fixed shuffled order
    (no draw from the run's random stream), signs kept."""
    for axis in units.axes(g):
        if axis.attr != "weight" or axis.role == "follower" or peers.get(axis.name) is None \
                or peers[axis.name].numel() == 0:
            continue
        view = units.unit_view(axis, first, count)
        active = _block(units.masks.connection_mask(axis.name), axis, first, count)
        n = int(active.sum())
        if n == 0:
            continue
        ranked = peers[axis.name].sort().values
        picks = ranked[((torch.arange(n, dtype=torch.float64) + 0.5) * ranked.numel() / n).long()]
        order = torch.randperm(n, generator=torch.Generator().manual_seed(n))
        view[active] = torch.where(view[active] < 0, -1.0, 1.0).to(view.dtype) * picks[order].to(view.dtype)
