"""Stochastic binary unit gates for NPN (:mod:`codesign.methods.npn`): one gate per unit of every
prunable unit group, keep-probability π = σ(k·φ), the ARM gradient, the expected-size (L0) cost,
and hardening into a plain model.

Where a gate acts: on the *inputs of the group's consumers*. A forward pre-hook on every Conv/Linear
that reads a gated group multiplies the unit's input channel (or its H·W columns after a Flatten)
by z. That is the official placement for FC layers (``ARMDense`` gates input features) and, for a
conv's output channel, the official gate moved past what follows the conv: ReLU and max/avg pooling
commute with a non-negative per-channel factor, so LeNet-style networks compute exactly the same,
and in a BatchNorm network the gate sits after BN, as in the official ResNet code
(``ARMConv2dBn`` multiplies after ``bn``). Gating at the consumers makes a gate a real unit switch
even for a ResNet residual-stream channel: every path from the channel to the output passes through
one of the group's consumers, so z = 0 is exactly the network without that unit (what hardening
removes), and the test-time gate z = π folds exactly into the consumers' weight columns.

*Column gates* (optional, ``init_phi(..., columns=True)``): the official ``ARMDense`` gates every
input feature of a fully-connected layer, also where a feature is not a unit of a prunable group:
the network's input pixels (an MLP's first layer) and the H·W positions of a flattened conv map
(LeNet-5's fc1 reads 50 channels × 16 positions). Such a layer gets one gate per input column,
``phi[f"{layer}:in"]``, multiplied with the unit gates of the same columns. A column gate that is
off at hardening cannot remove a unit (a pixel or a map position is not one): its column becomes a
connection mask held at zero, and a unit whose outgoing columns are all off is removed.

The gates live outside the model (``phi``: group name or ``<layer>:in`` → tensor), so the model
stays a plain zoo model that checkpoints, compacts and exports as usual; the hooks are attached
while gates are live.
"""
from __future__ import annotations

from contextlib import contextmanager
from functools import partial
from typing import Callable, Dict, Iterator, List, Optional, Tuple

import torch

from ..units.engine import UnitEngine

Gate = Callable[[str], torch.Tensor]
COLUMNS = ":in"        # phi key suffix of a layer's input-column gates


def column_gated_layers(engine: UnitEngine) -> Dict[str, int]:
    """Fully-connected layers whose input columns are not one-to-one units of a prunable group
    (the network input, a flattened conv map): layer → number of input columns."""
    prunable = {g.id for g in engine.groups()}
    out: Dict[str, int] = {}
    for layer in engine.graph.layers:
        weight = engine.model.get_submodule(layer).weight
        if weight.dim() == 2 and any(gid not in prunable or factor != 1
                                     for gid, _, factor, _ in engine.graph.input_layout(engine.model, layer)):
            out[layer] = int(weight.shape[1])
    return out


class UnitGates:
    def __init__(self, engine: UnitEngine):
        self.engine = engine
        self.model = engine.model
        self.graph = engine.graph
        self.phi: Dict[str, torch.Tensor] = {}     # group name (or <layer>:in) → φ (leaf tensors, one per gate)
        self.u: Dict[str, torch.Tensor] = {}       # the mini-batch's uniforms (local_rep: one per gate)
        self.k = 1.0
        self.antithetic = False                    # True during the second ARM forward pass
        self._z: Dict[str, torch.Tensor] = {}      # phi name → this forward pass's gates
        self._handles: List[torch.utils.hooks.RemovableHandle] = []

    # ------------------------------------------------------------------ parameters
    def init_phi(self, active: Dict[str, int], k0: float = 7.0, on: float = 3.0, off: float = -40.0,
                 std: float = 0.01, columns: bool = False) -> None:
        """The first ``active[name]`` gates of every group on (φ ~ N(on/k0, std)), the rest
        hibernating (φ ~ N(off/k0, std)): the official initialisation with k0 = 7. ``columns``:
        also a gate per input column of every :func:`column_gated_layers` layer, all on."""
        for g in self.engine.groups():
            n = self.engine.size(g)
            a = min(active.get(g.name, n), n)
            phi = torch.empty(n)
            phi[:a].normal_(on / k0, std)
            phi[a:].normal_(off / k0, std)
            self.phi[g.name] = phi.requires_grad_()
        if columns:
            for layer, n in column_gated_layers(self.engine).items():
                self.phi[layer + COLUMNS] = torch.empty(n).normal_(on / k0, std).requires_grad_()

    def unit_gates(self) -> List[str]:
        """Names of the unit-group gates (not the column gates)."""
        return [name for name in self.phi if not name.endswith(COLUMNS)]

    def pi(self, name: str, k: Optional[float] = None) -> torch.Tensor:
        """Keep-probability σ(k·φ) (differentiable in φ)."""
        return torch.sigmoid((self.k if k is None else k) * self.phi[name])

    @torch.no_grad()
    def test_gate(self, name: str, k: Optional[float] = None) -> torch.Tensor:
        """Test-time gate: π where π ≥ 0.5, else 0."""
        p = self.pi(name, k)
        return torch.where(p >= 0.5, p, torch.zeros_like(p))

    def active(self, name: str) -> int:
        """Units whose test-time gate is on."""
        return int((self.test_gate(name) > 0).sum())

    # ------------------------------------------------------------------ forward hooks
    def attach(self) -> None:
        """Hook the gates into the model (idempotent)."""
        self.detach()
        self._handles.append(self.model.register_forward_pre_hook(self._draw))
        for layer in self.graph.layers:
            segments = [(self.graph.groups[gid].name, factor, n)
                        for gid, _, factor, n in self.graph.input_layout(self.model, layer)]
            if layer + COLUMNS in self.phi or any(name in self.phi for name, _, _ in segments):
                hook = partial(self._gate_input, layer, segments)
                self._handles.append(self.model.get_submodule(layer).register_forward_pre_hook(hook))

    def detach(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []
        self._z = {}

    @torch.no_grad()
    def _draw(self, module: torch.nn.Module, args) -> None:
        """Once per forward pass: z = 1[u < π] with fresh u (training), z = 1[u > σ(−kφ)] with the
        same u (ARM's second pass), or the test-time gate (eval)."""
        z: Dict[str, torch.Tensor] = {}
        for name in self.phi:
            if not module.training:
                z[name] = self.test_gate(name)
            elif self.antithetic:
                z[name] = (self.u[name] > torch.sigmoid(-self.k * self.phi[name])).float()
            else:
                self.u[name] = torch.rand(len(self.phi[name]))
                z[name] = (self.u[name] < self.pi(name)).float()
        self._z = z

    def _gate_input(self, layer: str, segments: List[Tuple[str, int, int]], module: torch.nn.Module, args):
        x = args[0]
        parts = [(self._z[name] if name in self._z else torch.ones(n)).repeat_interleave(factor)
                 for name, factor, n in segments]
        gate = torch.cat(parts)
        if layer + COLUMNS in self._z:
            gate = gate * self._z[layer + COLUMNS]
        shape = [1, -1] + [1] * (x.dim() - 2)
        return (x * gate.to(x.dtype).view(shape),) + tuple(args[1:])

    @contextmanager
    def antithetic_pass(self) -> Iterator[None]:
        """Run the second ARM forward pass: gates 1[u > σ(−kφ)] with the current u; the model's
        buffers (BatchNorm running statistics) are restored afterwards, so the pass leaves no trace."""
        saved = [(buf, buf.clone()) for buf in self.model.buffers()]
        self.antithetic = True
        try:
            yield
        finally:
            self.antithetic = False
            with torch.no_grad():
                for buf, old in saved:
                    buf.copy_(old)

    def arm_gradient(self, f1: float, f2: float) -> Dict[str, torch.Tensor]:
        """ARM estimate of ∂E[loss]/∂φ: k·(f1 − f2)·(u − ½) per gate (local_rep: one u per gate)."""
        return {name: self.k * (f1 - f2) * (self.u[name] - 0.5) for name in self.phi}

    # ------------------------------------------------------------------ costs
    def _gate_or_ones(self, gate: Gate, gid: int, n: int) -> torch.Tensor:
        name = self.graph.groups[gid].name
        return gate(name) if name in self.phi else torch.ones(n)

    def _layer_gates(self, layer: str, gate: Gate) -> Tuple[torch.Tensor, torch.Tensor]:
        """(gates of the layer's output units, gates of its input columns)."""
        weight = self.model.get_submodule(layer).weight
        out = self._gate_or_ones(gate, self.graph.outputs[layer], weight.shape[0])
        cols = torch.cat([self._gate_or_ones(gate, gid, n).repeat_interleave(factor)
                          for gid, _, factor, n in self.graph.input_layout(self.model, layer)])
        if layer + COLUMNS in self.phi:
            cols = cols * gate(layer + COLUMNS)
        return out, cols

    def expected_weights(self, gate: Optional[Gate] = None, scale: Callable[[str], float] = lambda layer: 1.0
                         ) -> torch.Tensor:
        """Σ over Conv/Linear layers of scale(layer) · E[#weights between units that are on]
        = Σ_o π_o · Σ_i π_i · (kernel size), with π = 1 for ungated units (input channels, classes).
        ``gate`` defaults to π (differentiable); pass an indicator to count the weights that are on."""
        gate = gate or self.pi
        total = torch.zeros(())
        for layer in self.graph.layers:
            weight = self.model.get_submodule(layer).weight
            out, cols = self._layer_gates(layer, gate)
            total = total + scale(layer) * out.sum() * cols.sum() * weight[0, 0].numel()
        return total

    def column_weights(self, gate: Optional[Gate] = None) -> torch.Tensor:
        """Σ over column-gated layers of Σ_j π_j · (the layer's output width at the start): each input
        feature charged for its whole row of weights however many of the layer's units are on, as the
        official ``ARMDense`` charges its input gates (``feature_lam`` of :mod:`codesign.methods.npn`)."""
        gate = gate or self.pi
        total = torch.zeros(())
        for name in self.phi:
            if name.endswith(COLUMNS):
                weight = self.model.get_submodule(name[:-len(COLUMNS)]).weight
                total = total + gate(name).sum() * weight.shape[0]
        return total

    def weight_decay(self) -> torch.Tensor:
        """½ Σ π_o·π_i·‖W_oi‖² + ½ Σ π_o·b_o² over Conv/Linear layers (π detached): the expected L2
        of the gated weights (the official π-weighted weight decay)."""
        total = torch.zeros(())
        detached: Gate = lambda name: self.pi(name).detach()  # noqa: E731
        for layer in self.graph.layers:
            module = self.model.get_submodule(layer)
            out, cols = self._layer_gates(layer, detached)
            squares = module.weight.pow(2)
            squares = squares.flatten(2).sum(2) if squares.dim() > 2 else squares
            total = total + (out[:, None] * squares * cols[None, :]).sum()
            if module.bias is not None:
                total = total + (out * module.bias.pow(2)).sum()
        return 0.5 * total

    # ------------------------------------------------------------------ hardening
    @torch.no_grad()
    def harden(self, k: float) -> Dict[str, Tuple[int, int]]:
        """Fold the test-time gates at ``k`` into the consumers' weight columns, remove the units
        whose gate is off (physically, through the engine) and unhook: the model is plain again and
        computes what the gated model computed at test time. Column gates fold into their layer's
        weight columns and the columns that are off become connection masks; units left without any
        outgoing connection are removed. Returns {group: (kept, before)}."""
        gates = {name: self.test_gate(name, k) for name in self.phi}
        self.detach()
        for name in [n for n in gates if n.endswith(COLUMNS)]:
            self._harden_columns(name[:-len(COLUMNS)], gates.pop(name))
        kept: Dict[str, Tuple[int, int]] = {}
        for name, gate in gates.items():
            for axis in self.engine.axes(name):
                if axis.role == "consumer":
                    view = self.engine.unit_view(axis, 0, len(gate))
                    shape = [1] * view.dim()
                    shape[axis.dim] = -1
                    view.mul_(gate.repeat_interleave(axis.factor).view(shape))
            on = (gate > 0).nonzero().flatten()
            if len(on) == 0:        # all off: keep one unit; its outgoing columns are already zero
                on = self.pi(name, k).argmax().view(1)
            if len(on) < len(gate):
                self.engine.keep(name, on)
            kept[name] = (len(on), len(gate))
        self.phi, self.u = {}, {}
        self._remove_unread_units(kept)
        return kept

    def _harden_columns(self, layer: str, gate: torch.Tensor) -> None:
        name = f"{layer}.weight"
        self.engine.param(name).data.mul_(gate[None, :])
        mask = self.engine.masks.connection_mask(name) & (gate > 0)[None, :]
        self.engine.set_connections(name, mask)

    def _remove_unread_units(self, kept: Dict[str, Tuple[int, int]]) -> None:
        """Units of gated groups whose outgoing connections are all masked off (after column
        hardening) compute nothing the network reads: remove them, keeping one per group."""
        masks = self.engine.masks
        if masks.empty:
            return
        for name in list(kept):
            def active(axis, _t):
                return masks.connection_mask(axis.name).to(torch.float64) if axis.attr == "weight" else None

            read = self.engine.unit_sum(name, active, roles=("consumer",)) > 0
            if not read.all():
                on = read.nonzero().flatten() if read.any() else torch.zeros(1, dtype=torch.long)
                self.engine.keep(name, on)
                kept[name] = (len(on), kept[name][1])
