"""The residual Adds of a traced model and the layers feeding their operands.

An Add of two tensors whose operands come from Conv/Linear layers (through their BatchNorm or an
Identity) is where a residual branch meets its shortcut; an identity shortcut has no layer (its
producer is None). Methods that treat the two operands differently (NNrelief's residual rule)
read them from :meth:`codesign.units.engine.UnitEngine.adds`.
"""
from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

import torch
import torch.fx as fx
import torch.nn as nn

from .graph import UnitGraph

ADDS = {operator.add, operator.iadd, torch.add}


@dataclass(frozen=True)
class ResidualAdd:
    node: str                                        # fx node of the Add
    producers: Tuple[Optional[str], Optional[str]]   # layer feeding each operand (through BatchNorm), or None


def residual_adds(gm: fx.GraphModule, graph: UnitGraph) -> Dict[str, List[ResidualAdd]]:
    """Adds of two tensors fed by a layer (through its BatchNorm), keyed by the last such layer."""
    followers = {f for g in graph.groups for f in g.followers}
    order = {name: i for i, name in enumerate(graph.layers)}

    def producer(node: Any) -> Optional[str]:
        while isinstance(node, fx.Node) and node.op == "call_module":
            if node.target in order:
                return str(node.target)
            if node.target not in followers and not isinstance(gm.get_submodule(node.target), nn.Identity):
                return None
            node = node.args[0]
        return None

    out: Dict[str, List[ResidualAdd]] = {}
    for n in gm.graph.nodes:
        is_add = (n.op == "call_function" and n.target in ADDS) or (n.op == "call_method" and n.target == "add")
        if not is_add or len(n.args) < 2 or not all(isinstance(a, fx.Node) for a in n.args[:2]):
            continue
        feeds = (producer(n.args[0]), producer(n.args[1]))
        named = [p for p in feeds if p is not None]
        if named:
            out.setdefault(max(named, key=order.__getitem__), []).append(ResidualAdd(n.name, feeds))
    return out
