"""Training-time masks: a bool vector per unit group (unit masks) and a bool tensor per prunable
weight (connection masks).

A unit that is off is disconnected on both sides: its producer rows and biases, its BatchNorm
weight and bias, and its consumers' input columns are held at zero. So a masked model computes
exactly what its compaction computes, whatever activation sits between the layers. Connection
masks hold single weights at zero (unstructured sparsity). Absent masks mean "all on", so a
method that never masks pays nothing.

The loop calls :meth:`Masks.mask_gradients` after backward (methods read dense gradients in
``after_backward`` first) and :meth:`Masks.apply` after every optimiser step, so masked weights
stay exactly zero under momentum, weight decay and Adam.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional

import torch
import torch.nn as nn

from ..flops import ModelCost
from ..layertypes import COMPUTE as COMPUTE_LAYERS
from .graph import UnitGraph


class Masks:
    def __init__(self, model: nn.Module, graph: UnitGraph):
        self.model = model
        self.graph = graph
        self.units: Dict[int, torch.Tensor] = {}          # group id → bool [size]
        self.connections: Dict[str, torch.Tensor] = {}    # weight name → bool, same shape
        self._effective: Optional[Dict[str, torch.Tensor]] = None
        self._structural: Optional[Dict[str, torch.Tensor]] = None
        self._params: Optional[Dict[str, nn.Parameter]] = None

    # ------------------------------------------------------------------ reading
    @property
    def empty(self) -> bool:
        return not self.units and not self.connections

    def weight_names(self, include_output: bool = True) -> List[str]:
        """Connection-prunable weights: every Conv/Linear weight, in execution order."""
        skip = set() if include_output else set(self.graph.output_layers())
        return [f"{m}.weight" for m in self.graph.layers if m not in skip]

    def params(self) -> Dict[str, nn.Parameter]:
        if self._params is None:
            self._params = dict(self.model.named_parameters())
        return self._params

    def param(self, name: str) -> nn.Parameter:
        return self.params()[name]

    def unit_mask(self, group) -> torch.Tensor:
        g = self.graph.group(group)
        mask = self.units.get(g.id)
        return mask.clone() if mask is not None else torch.ones(self.graph.size(self.model, g), dtype=torch.bool)

    def connection_mask(self, name: str) -> torch.Tensor:
        mask = self.connections.get(name)
        return mask.clone() if mask is not None else torch.ones_like(self.param(name), dtype=torch.bool)

    # ------------------------------------------------------------------ writing
    def set_units(self, group, keep: torch.Tensor) -> None:
        g = self.graph.group(group)
        keep = torch.as_tensor(keep, dtype=torch.bool).flatten()
        size = self.graph.size(self.model, g)
        if not g.prunable:
            raise ValueError(f"unit group '{g.name}' is fixed ({g.fixed_reason}); it cannot be masked")
        if keep.numel() != size or not keep.any():
            raise ValueError(f"unit mask for '{g.name}' must have {size} entries with at least one True")
        self._store(self.units, g.id, keep)

    def set_connections(self, name: str, keep: torch.Tensor) -> None:
        keep = torch.as_tensor(keep, dtype=torch.bool)
        if keep.shape != self.param(name).shape:
            raise ValueError(f"connection mask for '{name}' must have shape {tuple(self.param(name).shape)}")
        self._store(self.connections, name, keep)

    def _store(self, table: Dict, key, keep: torch.Tensor) -> None:
        if bool(keep.all()):
            table.pop(key, None)
        else:
            table[key] = keep.clone()
        self.invalidate()

    def clear(self) -> None:
        self.units.clear()
        self.connections.clear()
        self.invalidate()

    def invalidate(self) -> None:
        self._effective = self._structural = self._params = None

    # ------------------------------------------------------------------ resize bookkeeping
    def remap_units(self, gid: int, src: torch.Tensor) -> None:
        """Called by resize: unit ``i`` of the new group was unit ``src[i]`` (-1: new, on)."""
        if gid in self.units:
            from .resize import gather

            self._store(self.units, gid, gather(self.units[gid], 0, src, True))
        self.invalidate()

    def remap_connections(self, name: str, dim: int, src: torch.Tensor) -> None:
        if name in self.connections:
            from .resize import gather

            self._store(self.connections, name, gather(self.connections[name], dim, src, True))
        self.invalidate()

    # ------------------------------------------------------------------ effect on the model
    def structural(self) -> Dict[str, torch.Tensor]:
        """Per parameter: entries not removed by unit masks (what compaction keeps)."""
        if self._structural is None:
            out: Dict[str, torch.Tensor] = {}
            params = self.params()
            for gid, keep in self.units.items():
                for axis in self.graph.axes(self.model, gid):
                    if axis.name not in params:      # BatchNorm running statistics: buffers
                        continue
                    p = params[axis.name]
                    line = torch.ones(p.shape[axis.dim], dtype=torch.bool)
                    line[axis.offset:axis.offset + len(keep) * axis.factor] = keep.repeat_interleave(axis.factor)
                    shape = [1] * p.dim()
                    shape[axis.dim] = -1
                    mask = out.get(axis.name, torch.ones_like(p, dtype=torch.bool))
                    out[axis.name] = mask & line.view(shape)
            self._structural = out
        return self._structural

    def effective(self) -> Dict[str, torch.Tensor]:
        """Per masked parameter: the entries that may be nonzero (unit ∧ connection masks)."""
        if self._effective is None:
            out = dict(self.structural())
            for name, keep in self.connections.items():
                out[name] = out[name] & keep if name in out else keep
            self._effective = out
        return self._effective

    @torch.no_grad()
    def apply(self) -> None:
        """Zero every masked entry of the model's parameters."""
        for name, keep in self.effective().items():
            self.param(name).mul_(keep)

    @torch.no_grad()
    def mask_gradients(self) -> None:
        for name, keep in self.effective().items():
            grad = self.param(name).grad
            if grad is not None:
                grad.mul_(keep)

    @torch.no_grad()
    def zero_optimizer_state(self, optimizer: Optional[torch.optim.Optimizer]) -> None:
        """Masked entries lose their momentum/moments, so a later regrowth starts clean."""
        if optimizer is None:
            return
        for name, keep in self.effective().items():
            state = optimizer.state.get(self.param(name), {})
            for entry in state.values():
                if torch.is_tensor(entry) and entry.shape == keep.shape:
                    entry.mul_(keep)

    # ------------------------------------------------------------------ accounting
    def density(self, include_output: bool = True) -> float:
        """Fraction of connection-prunable weights (current tensors) that masks leave on."""
        total = alive = 0
        effective = self.effective()
        for name in self.weight_names(include_output):
            total += self.param(name).numel()
            alive += int(effective[name].sum()) if name in effective else self.param(name).numel()
        return alive / max(total, 1)

    def cost(self, positions: Dict[str, int]) -> ModelCost:
        """Like :func:`codesign.flops.measure`, but units that are off count as removed."""
        structural = self.structural()
        params = nonzeros = 0
        for name, p in self.params().items():
            params += int(structural[name].sum()) if name in structural else p.numel()
            nonzeros += int(torch.count_nonzero(p.detach()))
        dense = sparse = 0.0
        for name, module in self.model.named_modules():
            if isinstance(module, COMPUTE_LAYERS) and name in positions:
                w = module.weight.detach()
                alive = structural.get(f"{name}.weight")
                dense += 2.0 * positions[name] * (int(alive.sum()) if alive is not None else w.numel())
                sparse += 2.0 * positions[name] * int(torch.count_nonzero(w))
        return ModelCost(params, nonzeros, dense, sparse)

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> Dict[str, Any]:
        return {"units": {self.graph.groups[g].name: m.clone() for g, m in self.units.items()},
                "connections": {n: m.clone() for n, m in self.connections.items()}}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        self.clear()
        for name, mask in state.get("units", {}).items():
            self.set_units(name, mask)
        for name, mask in state.get("connections", {}).items():
            self.set_connections(name, mask)
