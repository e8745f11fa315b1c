"""The only code that reallocates parameters.

- ``keep(model, graph, group, indices)``: physical removal of a group's other units;
- ``extend(model, graph, group, n_new, init)``: physical growth, new units appended at the end
  (indices ``size .. size + n_new - 1``) and initialised by a :class:`GrowthInit` policy;
- ``conform(model, state_dict)``: reshape a freshly built model so a grown/pruned checkpoint loads.

Both edits touch every tensor the group indexes (producer rows and biases, BatchNorm weight/bias/
running statistics, consumer input columns, ``factor`` columns per unit after a Flatten) and keep
the same ``nn.Parameter`` objects (their storage is swapped with ``set_``), so an optimiser built before the
edit stays valid: its per-parameter state (momentum, Adam moments) is remapped here, kept entries
keep their state and new entries start at zero. Connection and unit masks are remapped too.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Mapping, Optional, Sequence

import torch
import torch.nn as nn

from ..errors import CodesignError
from ..layertypes import CONVS, RESIZABLE

if TYPE_CHECKING:  # pragma: no cover
    from .graph import Axis, UnitGraph, UnitGroup
    from .masks import Masks


def _sync_attributes(module: nn.Module, depthwise: Optional[bool] = None) -> None:
    """Module attributes from the tensors' shapes; a depthwise convolution (by default: groups ==
    in_channels > 1) keeps one group per channel, even after passing through a single channel."""
    if isinstance(module, CONVS):
        if depthwise if depthwise is not None else 1 < module.groups == module.in_channels:
            module.groups = module.weight.shape[0] // (module.out_channels // module.groups)
        module.out_channels = module.weight.shape[0]
        module.in_channels = module.weight.shape[1] * module.groups
    elif isinstance(module, nn.Linear):
        module.out_features, module.in_features = module.weight.shape
    elif isinstance(module, nn.modules.batchnorm._BatchNorm):
        module.num_features = module.weight.shape[0] if module.weight is not None else module.running_mean.shape[0]


def key_mismatch(model: nn.Module, state_dict: Mapping[str, torch.Tensor]) -> Optional[str]:
    """The tensors ``state_dict`` lacks or has beyond ``model``'s ('missing [...]'), else None."""
    expected = set(model.state_dict().keys())
    missing = sorted(expected - set(state_dict))
    unexpected = sorted(set(state_dict) - expected)
    if missing:
        return f"missing {missing[:3]}"
    return f"unexpected {unexpected[:3]}" if unexpected else None


def conform(model: nn.Module, state_dict: Mapping[str, torch.Tensor]) -> nn.Module:
    """Resize ``model``'s tensors in place to the shapes in ``state_dict`` (values not copied)."""
    modules = dict(model.named_modules())
    detail = key_mismatch(model, state_dict)
    if detail:
        raise CodesignError(f"checkpoint does not match the model ({detail}); check --model/--width")
    for key, saved in state_dict.items():
        mod_name, _, attr = key.rpartition(".")
        module = modules[mod_name]
        current = getattr(module, attr)
        if not isinstance(current, torch.Tensor) or current.shape == saved.shape:
            continue
        if not isinstance(module, RESIZABLE):
            raise CodesignError(f"checkpoint tensor '{key}' has shape {tuple(saved.shape)} but the model has "
                                f"{tuple(current.shape)}, and {type(module).__name__} cannot be resized")
        fresh = torch.empty(saved.shape, dtype=current.dtype)
        if isinstance(current, nn.Parameter):
            setattr(module, attr, nn.Parameter(fresh, requires_grad=current.requires_grad))
        else:
            module.register_buffer(attr, fresh)
        _sync_attributes(module)
    return model


# --------------------------------------------------------------------------- growth policies

@dataclass(frozen=True)
class GrowthInit:
    """How :func:`extend` initialises new units.

    - ``kaiming`` (default): new incoming weights (producer rows) ~ N(0, scale²·2/fan_in), biases 0,
      BatchNorm γ=1 β=0 with fresh statistics, new consumer columns 0. The network's outputs do
      not change, and the new units receive gradient through their (zero) outgoing weights.
    - ``zeros``: like kaiming but incoming weights 0 too (the method writes its own values into
      the new rows/columns afterwards, e.g. NeST's gradient-based neuron growth).
    - ``split``: Net2Wider — new unit ``i`` copies unit ``sources[i]`` (incoming weights, bias, BN
      parameters and statistics) and every copy and its source share the original outgoing weights
      (columns divided by the number of replicas), so the outputs do not change; ``noise`` adds
      N(0, (noise·std of the layer's weights)²) to the copied incoming weights to break symmetry.
    """

    kind: Literal["kaiming", "zeros", "split"] = "kaiming"
    scale: float = 1.0
    noise: float = 0.0
    sources: Optional[Sequence[int]] = None


def _as_init(init: GrowthInit | str) -> GrowthInit:
    if isinstance(init, GrowthInit):
        return init
    if init not in ("kaiming", "zeros", "split"):
        raise ValueError(f"unknown growth init '{init}': use kaiming, zeros or split")
    return GrowthInit(kind=init)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- the edit primitive

def _positions(length: int, axis: "Axis", n_old: int, unit_src: torch.Tensor) -> torch.Tensor:
    """Old index along the axis dimension of every new position (-1 where nothing is copied)."""
    cols = torch.arange(axis.factor)
    inner = torch.where((unit_src >= 0)[:, None], axis.offset + unit_src[:, None] * axis.factor + cols, -1)
    end = axis.offset + n_old * axis.factor
    return torch.cat([torch.arange(axis.offset), inner.reshape(-1), torch.arange(end, length)])


def gather(t: torch.Tensor, dim: int, src: torch.Tensor, fill: float | bool = 0) -> torch.Tensor:
    """``t`` re-indexed along ``dim`` by ``src`` (old indices); positions with -1 get ``fill``."""
    out = t.index_select(dim, src.clamp_min(0))
    fresh = (src < 0).nonzero().flatten()
    if len(fresh):
        out.index_fill_(dim, fresh, fill)
    return out


def _set_tensor(module: nn.Module, attr: str, value: torch.Tensor, dim: int, state_src: torch.Tensor,
                optimizer: Optional[torch.optim.Optimizer]) -> None:
    current = getattr(module, attr)
    if isinstance(current, nn.Parameter):
        old_shape = current.shape
        with torch.no_grad():  # same Parameter object (optimisers keep it); .data= would confuse autograd
            current.set_(value)
        current.grad = None
        state = optimizer.state.get(current) if optimizer is not None else None
        for key, entry in (state or {}).items():
            if torch.is_tensor(entry) and entry.shape == old_shape:
                state[key] = gather(entry, dim, state_src, 0)
    else:
        setattr(module, attr, value)


def _edit(model: nn.Module, graph: "UnitGraph", group: "UnitGroup", value_src: torch.Tensor,
          state_src: torch.Tensor, optimizer, masks, init: Optional[GrowthInit]) -> None:
    """Apply one unit re-indexing (``value_src[i]`` = old unit copied into new unit i, -1 = fresh)."""
    n_old = graph.size(model, group)
    # offsets at the old sizes; highest offset first so that two runs of the same group in one
    # tensor (cat([x, x])) do not shift each other
    axes = sorted(graph.axes(model, group), key=lambda a: -a.offset)
    touched = {}
    for axis in axes:
        module = model.get_submodule(axis.module)
        t = getattr(module, axis.attr)
        src = _positions(t.shape[axis.dim], axis, n_old, value_src)
        value = gather(t.data, axis.dim, src, 0)
        if init is not None:
            _initialise(value, axis, n_old, len(value_src) - n_old, init, value_src)
        st_src = _positions(t.shape[axis.dim], axis, n_old, state_src)
        _set_tensor(module, axis.attr, value, axis.dim, st_src, optimizer)
        if masks is not None and axis.role != "follower":
            masks.remap_connections(axis.name, axis.dim, src)
        touched[axis.module] = (module, touched.get(axis.module, (None, False))[1] or axis.role == "follower")
    for module, follower in touched.values():
        _sync_attributes(module, depthwise=follower if isinstance(module, CONVS) else None)
    if masks is not None:
        masks.remap_units(group.id, state_src)


def keep(model: nn.Module, graph: "UnitGraph", group, indices: Sequence[int] | torch.Tensor, *,
         optimizer: Optional[torch.optim.Optimizer] = None, masks: Optional["Masks"] = None) -> None:
    """Physically keep only ``indices`` (existing units, in increasing order) of ``group``."""
    g = graph.group(group)
    n_old = graph.size(model, g)
    idx = torch.as_tensor(list(indices) if not torch.is_tensor(indices) else indices, dtype=torch.long).flatten()
    idx = torch.unique(idx)  # sorted
    if not g.prunable:
        raise ValueError(f"unit group '{g.name}' is fixed ({g.fixed_reason}); it cannot be pruned")
    if len(idx) == 0 or idx[0] < 0 or idx[-1] >= n_old:
        raise ValueError(f"keep({g.name}): indices must be a non-empty subset of 0..{n_old - 1}")
    if len(idx) == n_old:
        return
    _edit(model, graph, g, idx, idx, optimizer, masks, None)


def extend(model: nn.Module, graph: "UnitGraph", group, n_new: int, init: GrowthInit | str = "kaiming", *,
           optimizer: Optional[torch.optim.Optimizer] = None, masks: Optional["Masks"] = None) -> range:
    """Physically append ``n_new`` units to ``group``; returns their indices."""
    g = graph.group(group)
    policy = _as_init(init)
    n_old = graph.size(model, g)
    if not g.prunable:
        raise ValueError(f"unit group '{g.name}' is fixed ({g.fixed_reason}); it cannot grow")
    if n_new < 1:
        raise ValueError(f"extend({g.name}): n_new must be >= 1, got {n_new}")
    fresh = torch.full((n_new,), -1, dtype=torch.long)
    value_new = fresh
    if policy.kind == "split":
        sources = torch.as_tensor(list(policy.sources or []), dtype=torch.long)
        if len(sources) != n_new or (len(sources) and (sources.min() < 0 or sources.max() >= n_old)):
            raise ValueError(f"extend({g.name}, split): need {n_new} source units in 0..{n_old - 1}")
        value_new = sources
    old = torch.arange(n_old)
    _edit(model, graph, g, torch.cat([old, value_new]), torch.cat([old, fresh]), optimizer, masks, policy)
    return range(n_old, n_old + n_new)


def _initialise(value: torch.Tensor, axis: "Axis", n_old: int, n_new: int, init: GrowthInit,
                value_src: torch.Tensor) -> None:
    """Fill the new units' slice of one tensor (``value`` is already re-indexed) per ``init``."""
    if n_new <= 0:
        return
    new = value.narrow(axis.dim, axis.offset + n_old * axis.factor, n_new * axis.factor)
    if axis.role == "follower" and not (axis.attr == "weight" and value.dim() > 1):
        if init.kind != "split":
            new.fill_(1.0 if axis.attr in ("weight", "running_var") else 0.0)
        return
    if axis.role == "consumer":
        if init.kind == "split":
            _share_outgoing(value, axis, n_old, value_src)
        else:
            new.zero_()
        return
    # producer rows, and a depthwise convolution's (follower) kernels: the unit's incoming weights
    if axis.attr != "weight":      # producer bias: copied (split) or zero
        if init.kind != "split":
            new.zero_()
        return
    fan_in = max(1, math.prod(value.shape[1:]))
    if init.kind == "kaiming":
        new.normal_(0.0, init.scale * math.sqrt(2.0 / fan_in))
    elif init.kind == "zeros":
        new.zero_()
    elif init.noise > 0:
        std = float(value.narrow(0, 0, n_old).std()) if n_old * fan_in > 1 else 1.0
        new.add_(torch.randn_like(new) * init.noise * std)


def _share_outgoing(value: torch.Tensor, axis: "Axis", n_old: int, value_src: torch.Tensor) -> None:
    """Net2Wider: divide the outgoing columns of every source unit and its copies by the copy count."""
    counts = torch.bincount(value_src, minlength=n_old).to(value.dtype)   # 1 + number of copies
    per_unit = counts[value_src]                                           # divisor for each new unit
    divisor = per_unit.repeat_interleave(axis.factor)
    block = value.narrow(axis.dim, axis.offset, len(value_src) * axis.factor)
    shape = [1] * value.dim()
    shape[axis.dim] = -1
    block.div_(divisor.view(shape))
