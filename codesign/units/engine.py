"""The structural-plasticity engine over one live model: methods decide, the engine acts.

A method reaches it as ``ctx.units`` inside the training loop (or builds one with
``UnitEngine(model, in_shape, optimizer=opt)`` outside it) and works on *unit groups*, never on
module types:

    for g in ctx.units.groups():                      # prunable groups, input → output
        score = ctx.units.unit_norm(g, p=1)           # one number per unit
        ctx.units.keep(g, score.topk(k).indices)      # physical pruning
        new = ctx.units.extend(g, 4, GrowthInit("split", sources=[0, 1, 2, 3]))   # physical growth
        ctx.units.set_units(g, keep_bool)             # unit mask (removed later by compaction)
    for name in ctx.units.weight_names():             # Conv/Linear weights ("fc1.weight", ...)
        ctx.units.set_connections(name, keep_bool)    # connection mask (unstructured sparsity)
        ctx.units.activate(name, grow_bool, values)   # grow connections: new weights, fresh optimiser state
    ctx.units.reset_width(0.25)                       # restart as a fresh seed at 1/4 of the widths (setup)
    ctx.units.adds()                                  # residual Adds and the layers feeding them

Every edit remaps the optimiser state in place (same Parameter objects, so no rebuild is needed),
remaps the masks, zeroes the state of newly masked entries and bumps :attr:`version`; the loop
refreshes the cost accounting when the version changes and applies masks after every step.

Where things are: ``graph.layers`` (Conv/Linear names, input → output), ``graph.outputs[layer]``
(the group a layer writes), ``graph.input_layout(model, layer)`` (which input columns belong to
which group's units), ``axes(group)`` / ``unit_view(axis, start, count)`` (the rows/columns of
units, e.g. to write a grown unit's weights), ``param(name)`` (a parameter by state-dict name;
never keep Parameter references across edits), ``masks`` (:class:`~codesign.units.masks.Masks`).
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Union

import torch
import torch.nn as nn

from ..errors import CodesignError
from ..flops import ModelCost, measure
from . import resize, restart
from .adds import ResidualAdd, residual_adds
from .graph import Axis, UnitGraph, UnitGroup, _symbolic_trace, trace_units
from .masks import Masks
from .resize import GrowthInit

OptimizerRef = Union[torch.optim.Optimizer, Callable[[], Optional[torch.optim.Optimizer]], None]
GroupRef = Union[int, str, UnitGroup]
UnitValues = Callable[[Axis, torch.Tensor], Optional[torch.Tensor]]


class UnitEngine:
    def __init__(self, model: nn.Module, example: Any = None, *, graph: Optional[UnitGraph] = None,
                 optimizer: OptimizerRef = None):
        self.model = model
        self.graph = graph if graph is not None else trace_units(model, example)
        self.masks = Masks(model, self.graph)
        self._optimizer = optimizer
        self.version = 0
        self.units_added = 0
        self.units_removed = 0
        self._traced = None

    @property
    def optimizer(self) -> Optional[torch.optim.Optimizer]:
        ref = self._optimizer
        return ref() if callable(ref) and not isinstance(ref, torch.optim.Optimizer) else ref

    # ------------------------------------------------------------------ inspection
    def groups(self) -> List[UnitGroup]:
        """Prunable unit groups in execution order (input side first)."""
        return self.graph.prunable()

    def group(self, key: GroupRef) -> UnitGroup:
        return self.graph.group(key)

    def size(self, group: GroupRef) -> int:
        return self.graph.size(self.model, group)

    def sizes(self) -> Dict[str, int]:
        return {g.name: self.size(g) for g in self.groups()}

    def unmasked_layers(self) -> Dict[str, int]:
        """{module: weights} of the Conv/Linear layers connection masks do not cover (grouped and depthwise
        convolutions: the graph's layers are the ``groups=1`` ones)."""
        from ..layertypes import COMPUTE

        covered = set(self.graph.layers)
        return {name: m.weight.numel() for name, m in self.model.named_modules()
                if isinstance(m, COMPUTE) and name not in covered}

    def axes(self, group: GroupRef) -> List[Axis]:
        """Tensor dimensions indexed by the group's units (producer rows, BN entries, consumer columns)."""
        return self.graph.axes(self.model, group)

    def tensor(self, axis: Axis) -> torch.Tensor:
        return getattr(self.model.get_submodule(axis.module), axis.attr)

    def unit_view(self, axis: Axis, start: int, count: int) -> torch.Tensor:
        """View of ``count`` units from ``start`` along ``axis`` (write into it under no_grad)."""
        t = self.tensor(axis).data
        return t.narrow(axis.dim, axis.offset + start * axis.factor, count * axis.factor)

    @torch.no_grad()
    def unit_sum(self, group: GroupRef, values: UnitValues, roles: Sequence[str] = ("producer", "follower")
                 ) -> torch.Tensor:
        """Per unit, the sum of ``values(axis, parameter)`` over the unit's entries in the given roles.

        ``values`` returns a tensor shaped like the parameter (or None to skip it); buffers are
        never passed. E.g. ``lambda ax, p: p.abs()`` gives the L1 norm of the unit's weights."""
        n = self.size(group)
        total = torch.zeros(n, dtype=torch.float64)
        for axis in self.axes(group):
            t = self.tensor(axis)
            if axis.role not in roles or not isinstance(t, nn.Parameter):
                continue
            v = values(axis, t)
            if v is None:
                continue
            block = v.narrow(axis.dim, axis.offset, n * axis.factor).movedim(axis.dim, 0)
            total += block.reshape(n, -1).sum(1, dtype=torch.float64)
        return total

    def unit_norm(self, group: GroupRef, p: int = 1, roles: Sequence[str] = ("producer",)) -> torch.Tensor:
        """L1 (p=1) or L2 (p=2) norm of each unit's weights (incoming weights by default)."""
        s = self.unit_sum(group, lambda ax, t: t.detach().abs() if p == 1 else t.detach() ** 2, roles)
        return s if p == 1 else s.sqrt()

    def unit_taylor(self, group: GroupRef, roles: Sequence[str] = ("producer", "follower")) -> torch.Tensor:
        """|Σ w·∂L/∂w| over each unit's parameters (first-order Taylor; needs fresh gradients)."""
        return self.unit_sum(group, lambda ax, t: t.detach() * t.grad if t.grad is not None else None,
                             roles).abs()

    def traced(self):
        """The live model traced by torch.fx (made once; it calls the model's own modules)."""
        if self._traced is None:
            self._traced = _symbolic_trace(self.model)
        return self._traced

    def adds(self) -> Dict[str, List[ResidualAdd]]:
        """Residual Adds (see codesign.units.adds), keyed by the last layer feeding each."""
        return residual_adds(self.traced(), self.graph)

    def weight_names(self, include_output: bool = True) -> List[str]:
        """Connection-prunable weights (Conv/Linear), input layer first."""
        return self.masks.weight_names(include_output)

    def param(self, name: str) -> nn.Parameter:
        return self.masks.param(name)

    # ------------------------------------------------------------------ physical edits
    def keep(self, group: GroupRef, indices: Iterable[int] | torch.Tensor) -> None:
        """Remove every unit of ``group`` not in ``indices`` (tensors get smaller)."""
        before = self.size(group)
        resize.keep(self.model, self.graph, group, indices, optimizer=self.optimizer, masks=self.masks)
        self.units_removed += before - self.size(group)
        self._changed()

    def remove(self, group: GroupRef, indices: Iterable[int] | torch.Tensor) -> None:
        """Remove the units ``indices`` of ``group``."""
        drop = set(int(i) for i in torch.as_tensor(list(indices) if not torch.is_tensor(indices) else indices)
                   .flatten().tolist())
        self.keep(group, [i for i in range(self.size(group)) if i not in drop])

    def extend(self, group: GroupRef, n_new: int, init: GrowthInit | str = "kaiming") -> range:
        """Append ``n_new`` units to ``group`` (tensors get larger); returns their indices."""
        new = resize.extend(self.model, self.graph, group, n_new, init, optimizer=self.optimizer, masks=self.masks)
        self.units_added += n_new
        self.masks.apply()
        self._changed()
        return new

    def reset_width(self, fraction: float) -> None:
        """Restart from a freshly initialised model at ``fraction`` of the current widths (a seed):
        works on any traced module (see codesign.units.restart). Masks are cleared."""
        self.adopt(restart.fresh_at_width(self, fraction))

    def adopt(self, source: nn.Module) -> None:
        """Restart as ``source`` (same architecture, any widths): its tensors and values, no masks.
        Parameters are replaced, so call it before an optimiser exists (a method's ``setup``)."""
        if self.optimizer is not None:
            raise CodesignError("adopt/reset_width replace the parameters; call them before the optimiser is made "
                                "(in a method's setup)")
        restart.adopt(self.model, source)
        self.masks.clear()
        self._changed()

    # ------------------------------------------------------------------ masks
    def set_units(self, group: GroupRef, keep: torch.Tensor) -> None:
        """Unit mask of ``group`` (bool per unit; False = off, disconnected on both sides)."""
        self.masks.set_units(group, keep)
        self._masks_changed()

    def set_connections(self, name: str, keep: torch.Tensor) -> None:
        """Connection mask of weight ``name`` (bool, the weight's shape; False = held at zero)."""
        self.masks.set_connections(name, keep)
        self._masks_changed()

    @torch.no_grad()
    def activate(self, name: str, entries: torch.Tensor, values: Optional[torch.Tensor] = None) -> None:
        """Connections ``entries`` (bool, the weight's shape) of weight ``name`` become active, starting
        at ``values`` (the chosen entries' new weights, in order; default 0) with zero optimiser state."""
        entries = torch.as_tensor(entries, dtype=torch.bool)
        if not entries.any():
            return
        param = self.param(name)
        param.data[entries] = 0.0 if values is None else values
        self.set_connections(name, self.masks.connection_mask(name) | entries)
        optimizer = self.optimizer
        if optimizer is not None:
            for value in optimizer.state.get(param, {}).values():
                if torch.is_tensor(value) and value.shape == entries.shape:
                    value.masked_fill_(entries, 0.0)

    def apply_masks(self) -> None:
        if not self.masks.empty:
            self.masks.apply()

    def mask_gradients(self) -> None:
        if not self.masks.empty:
            self.masks.mask_gradients()

    def _masks_changed(self) -> None:
        self.masks.apply()
        self.masks.zero_optimizer_state(self.optimizer)
        self._changed()

    def _changed(self) -> None:
        self.version += 1

    # ------------------------------------------------------------------ accounting and state
    @property
    def pruned_anything(self) -> bool:
        return self.units_removed > 0 or not self.masks.empty

    def cost(self, positions: Dict[str, int]) -> ModelCost:
        return measure(self.model, positions) if not self.masks.units else self.masks.cost(positions)

    def state_dict(self) -> Dict[str, Any]:
        return {"masks": self.masks.state_dict(), "units_added": self.units_added,
                "units_removed": self.units_removed}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        self.masks.load_state_dict(state.get("masks", {}))
        self.units_added = int(state.get("units_added", 0))
        self.units_removed = int(state.get("units_removed", 0))
        self._changed()
