"""Which output channels/neurons are tied together: ``trace_units(model, example) -> UnitGraph``.

The model is traced once with torch.fx. Every tensor's channel axis (dim 1) is described as a tuple
of :class:`Segment`\\ s, each naming a *channel space* and how many consecutive positions one
channel occupies there (1 on a channel axis, H·W after a Flatten of a spatial map). Two rules
couple spaces: a producer's outputs are its consumers' inputs, and channel-preserving ops
(BatchNorm, elementwise activations, pooling, Dropout, Identity, Flatten) keep in ≡ out; Add (and
other elementwise ops between two tensors) ties both operands. Tied spaces form one
:class:`UnitGroup`, so every conv writing into a ResNet stage's residual stream is one group.
Groups reaching the network input or output are not prunable (classes and input channels stay).

The graph holds module *names* only; sizes are always read from the live model, so one graph
stays valid while :mod:`codesign.units.resize` grows and shrinks the tensors.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

import torch
import torch.fx as fx
import torch.nn as nn
from torch.fx.passes.shape_prop import ShapeProp

from ..errors import CodesignError
from ..layertypes import COMPUTE, NORMS  # noqa: F401  (the one layer-type table; ops.py reads them here)

FOLLOWER_ATTRS = ("weight", "bias", "running_mean", "running_var")


@dataclass(frozen=True)
class Segment:
    """A run of channels of one group inside a tensor axis: ``factor`` positions per unit."""

    group: int
    factor: int = 1


@dataclass(frozen=True)
class Axis:
    """One tensor dimension indexed by a group's units: ``tensor.narrow(dim, offset, size*factor)``."""

    module: str
    attr: str          # "weight", "bias", "running_mean", ...
    dim: int           # 0 for producers and followers, 1 for consumers
    offset: int
    factor: int
    role: str          # "producer" | "follower" | "consumer"

    @property
    def name(self) -> str:
        return f"{self.module}.{self.attr}" if self.module else self.attr


@dataclass(frozen=True)
class UnitGroup:
    """Channels/neurons that are removed or added together.

    ``producers`` write the units (weight rows, bias entries), ``followers`` carry per-unit state
    (BatchNorm), ``consumers`` read them (weight columns; after a Flatten, ``factor`` consecutive
    columns per unit). ``zero_preserving``: every op between producers and consumers maps 0 to 0."""

    id: int
    name: str
    producers: Tuple[str, ...]
    followers: Tuple[str, ...]
    consumers: Tuple[str, ...]
    prunable: bool
    fixed_reason: str = ""         # why not prunable: "network input", "network output", ...
    zero_preserving: bool = True
    fixed_size: int = 0            # size of a group without producers (the network input)


class UnitGraph:
    """The coupled unit groups of one architecture (names only; sizes come from the live model)."""

    def __init__(self, groups: List[UnitGroup], inputs: Dict[str, Tuple[Segment, ...]],
                 outputs: Dict[str, int], layers: List[str], in_shape: Tuple[int, ...]):
        self.groups = groups
        self.inputs = inputs          # consumer or follower module → segments of its input channel axis
        self.outputs = outputs        # producer module → group id of its output channels
        self.layers = layers          # dense (groups=1) Conv/Linear modules, input → output; their weight
                                      # columns are ``inputs[layer]``'s units
        self.in_shape = in_shape
        self._by_name = {g.name: g for g in groups}

    def group(self, key: int | str | UnitGroup) -> UnitGroup:
        if isinstance(key, UnitGroup):
            return key
        if isinstance(key, int):
            return self.groups[key]
        if key not in self._by_name:
            raise CodesignError(f"no unit group named '{key}'; groups: {', '.join(self._by_name)}")
        return self._by_name[key]

    def prunable(self) -> List[UnitGroup]:
        return [g for g in self.groups if g.prunable]

    def size(self, model: nn.Module, group: int | str | UnitGroup) -> int:
        g = self.group(group)
        if not g.producers:
            return g.fixed_size
        return int(model.get_submodule(g.producers[0]).weight.shape[0])

    def output_layers(self) -> List[str]:
        """Compute layers whose outputs are network outputs (the classifier)."""
        return [m for m in self.layers if not self.groups[self.outputs[m]].prunable
                and self.groups[self.outputs[m]].fixed_reason == "network output"]

    def axes(self, model: nn.Module, group: int | str | UnitGroup) -> List[Axis]:
        """Every tensor dimension indexed by the group's units, with offsets at the current sizes."""
        g = self.group(group)
        out: List[Axis] = []
        for name in g.producers:
            module = model.get_submodule(name)
            for attr in ("weight", "bias"):
                if getattr(module, attr, None) is not None:
                    out.append(Axis(name, attr, 0, 0, 1, "producer"))
        for role, names, attrs, dim in (("follower", g.followers, FOLLOWER_ATTRS, 0),
                                        ("consumer", g.consumers, ("weight",), 1)):
            for name in names:
                module = model.get_submodule(name)
                offset = 0
                for seg in self.inputs[name]:
                    if seg.group == g.id:
                        out.extend(Axis(name, a, dim, offset, seg.factor, role) for a in attrs
                                   if getattr(module, a, None) is not None)
                    offset += self.size(model, seg.group) * seg.factor
        return out

    def input_layout(self, model: nn.Module, module: str) -> List[Tuple[int, int, int, int]]:
        """How a consumer's input columns map to units: (group id, first column, factor, units)."""
        out, offset = [], 0
        for seg in self.inputs[module]:
            n = self.size(model, seg.group)
            out.append((seg.group, offset, seg.factor, n))
            offset += n * seg.factor
        return out

    def describe(self, model: nn.Module) -> str:
        lines = []
        for g in self.groups:
            state = "prunable" if g.prunable else f"fixed ({g.fixed_reason})"
            lines.append(f"{g.id:3d} {g.name:32s} {self.size(model, g):6d} units  {state}; "
                         f"producers {list(g.producers)} consumers {list(g.consumers)}")
        return "\n".join(lines)


class _Tracer:
    """Walks the fx graph once, assigning channel spaces and uniting tied ones."""

    def __init__(self, model: nn.Module):
        self.model = model
        self.parent: List[int] = []
        self.fixed: Dict[int, str] = {}
        self.nonzero: set[int] = set()
        self.producers: Dict[int, List[str]] = {}
        self.outputs: Dict[str, int] = {}
        self.inputs: Dict[str, Tuple[Segment, ...]] = {}
        self.followers: List[str] = []
        self.layers: List[str] = []
        self.input_size = 0

    # ---- union-find over channel spaces
    def new_space(self) -> int:
        self.parent.append(len(self.parent))
        return len(self.parent) - 1

    def find(self, s: int) -> int:
        while self.parent[s] != s:
            self.parent[s] = self.parent[self.parent[s]]
            s = self.parent[s]
        return s

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)

    def unify(self, a: Tuple[Segment, ...], b: Tuple[Segment, ...], node: fx.Node) -> None:
        from . import ops

        if len(a) != len(b) or any(x.factor != y.factor for x, y in zip(a, b)):
            raise CodesignError(f"trace_units: node '{node.name}' ({ops.describe(node)}) combines tensors whose "
                                f"channels are laid out differently; this coupling is not supported")
        for x, y in zip(a, b):
            self.union(x.group, y.group)

    # ---- graph roles
    def produce(self, name: str, inp: Tuple[Segment, ...], node: fx.Node, layer: bool = True
                ) -> Tuple[Segment, ...]:
        """``name`` writes a new channel space; ``layer``: its weight columns are ``inp``'s units
        (a dense Conv/Linear, listed in :attr:`UnitGraph.layers`)."""
        if layer:
            self.consume(name, inp, node)
        if name in self.outputs:  # a module called twice: same output channels
            return (Segment(self.outputs[name]),)
        space = self.new_space()
        self.outputs[name] = space
        self.producers[space] = [name]
        if layer:
            self.layers.append(name)
        return (Segment(space),)

    def consume(self, name: str, inp: Tuple[Segment, ...], node: fx.Node) -> None:
        if name in self.inputs:
            self.unify(self.inputs[name], inp, node)
        else:
            self.inputs[name] = inp

    def fix(self, segs: Tuple[Segment, ...], reason: str) -> None:
        for seg in segs:
            self.fixed.setdefault(seg.group, reason)


def _example(model: nn.Module, example: Any) -> torch.Tensor:
    if isinstance(example, torch.Tensor):
        return example[:1] if example.dim() > 1 else example.unsqueeze(0)   # 1-D: one unbatched sample
    if example is None:
        spec = getattr(model, "codesign_spec", None)
        if spec is None:
            raise CodesignError("trace_units needs an example input or in_shape for a model not built by "
                                "codesign.create_model")
        example = spec["in_shape"]
    first = next(model.parameters(), None)
    return torch.zeros(1, *[int(d) for d in example], dtype=first.dtype if first is not None else torch.float32)


def _symbolic_trace(model: nn.Module) -> fx.GraphModule:
    try:
        return fx.symbolic_trace(model)
    except Exception as err:  # fx raises many types for untraceable Python
        raise CodesignError(f"trace_units: the model is not traceable by torch.fx "
                            f"({type(err).__name__}: {str(err).splitlines()[0][:160]}); avoid data-dependent "
                            f"control flow in forward()") from None


def trace_units(model: nn.Module, example: Any = None) -> UnitGraph:
    """Trace ``model`` and group its output channels/neurons.

    ``example`` is an input tensor, an input shape without the batch dimension, or None for a zoo
    model (its ``codesign_spec['in_shape']``). Raises :class:`CodesignError` naming the op and node
    for anything the tracer cannot couple (grouped convolutions, LayerNorm, raw parameters, ...)."""
    from . import ops

    x = _example(model, example)
    gm = _symbolic_trace(model)
    ops.check_modules(gm)
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            ShapeProp(gm).propagate(x)
    except (RuntimeError, ValueError, TypeError) as err:
        raise CodesignError(f"trace_units could not run the model on an input of shape {tuple(x.shape[1:])} "
                            f"({str(err).splitlines()[0][:160]}); pass the right example input or in_shape") from None
    finally:
        model.train(was_training)
    tracer = _Tracer(model)
    tracer.input_size = int(x.shape[1]) if x.dim() > 1 else 1
    values: Dict[fx.Node, Optional[Tuple[Segment, ...]]] = {}
    for node in gm.graph.nodes:
        values[node] = ops.visit(tracer, gm, node, values)
    return _finish(tracer, gm, tuple(x.shape[1:]))


def _finish(tracer: _Tracer, gm: fx.GraphModule, in_shape: Tuple[int, ...]) -> UnitGraph:
    roots: Dict[int, int] = {}
    order: List[int] = []
    for space in range(len(tracer.parent)):
        root = tracer.find(space)
        if root not in roots:
            roots[root] = len(order)
            order.append(root)
    members: Dict[int, List[int]] = {r: [] for r in order}
    for space in range(len(tracer.parent)):
        members[tracer.find(space)].append(space)

    def gid(space: int) -> int:
        return roots[tracer.find(space)]

    outputs = {name: gid(s) for name, s in tracer.outputs.items()}
    inputs = {name: tuple(Segment(gid(s.group), s.factor) for s in segs) for name, segs in tracer.inputs.items()}
    groups = []
    for i, root in enumerate(order):
        spaces = members[root]
        producers = tuple(p for s in spaces for p in tracer.producers.get(s, []))
        consumers = tuple(n for n in tracer.layers if any(seg.group == i for seg in inputs[n]))
        followers = tuple(n for n in tracer.followers if any(seg.group == i for seg in inputs[n]))
        reasons = [tracer.fixed[s] for s in spaces if s in tracer.fixed]
        if not producers and not reasons:
            reasons = ["no producing layer"]
        name = producers[0] if producers else ("input" if "network input" in reasons else f"group{i}")
        groups.append(UnitGroup(
            id=i, name=name, producers=producers, followers=followers, consumers=consumers,
            prunable=not reasons, fixed_reason=reasons[0] if reasons else "",
            zero_preserving=not any(s in tracer.nonzero for s in spaces),
            fixed_size=0 if producers else tracer.input_size))
    return UnitGraph(groups, inputs, outputs, list(tracer.layers), in_shape)
