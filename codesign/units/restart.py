"""Restarting a live model from a fresh one: at a fraction of its widths, or as another module.

Both work on any module the unit tracer handles. :func:`fresh_at_width` builds the fresh model: a
zoo model (``codesign_spec``) is rebuilt by its builder at ``width × fraction`` (the zoo's own
initialisation and width rounding), any other module is copied, every prunable group keeps its
first ``max(1, round(size × fraction))`` units and every layer is re-initialised with its
``reset_parameters()`` in module order. :func:`adopt` then makes the live model that module
(tensors resized in place, values copied), so the model object, the unit graph and the
engine stay valid.
"""
from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Optional

import torch
import torch.nn as nn

from .resize import conform

if TYPE_CHECKING:  # pragma: no cover
    from .engine import UnitEngine


def _zoo_rebuild(model: nn.Module, fraction: float) -> Optional[nn.Module]:
    spec = getattr(model, "codesign_spec", None)
    if not spec or "name" not in spec or "factory" in spec or spec.get("pickled"):   # users' models: copied
        return None
    from ..zoo import MODELS, create_model

    if spec["name"] not in MODELS.names():
        return None
    return create_model(spec["name"], width=spec["width"] * fraction, in_shape=spec["in_shape"],
                        num_classes=spec["num_classes"])


def fresh_at_width(engine: "UnitEngine", fraction: float) -> nn.Module:
    """A freshly initialised copy of the engine's architecture at ``fraction`` of its widths."""
    rebuilt = _zoo_rebuild(engine.model, fraction)
    if rebuilt is not None:
        return rebuilt
    from .engine import UnitEngine

    twin = UnitEngine(copy.deepcopy(engine.model), graph=engine.graph)
    for g in twin.groups():
        twin.keep(g, range(max(1, round(twin.size(g) * fraction))))
    for module in twin.model.modules():
        reset = getattr(module, "reset_parameters", None)
        if callable(reset) and any(True for _ in module.parameters(recurse=False)):
            reset()
    return twin.model


@torch.no_grad()
def adopt(model: nn.Module, source: nn.Module) -> None:
    """Make ``model`` hold ``source``'s tensors (shapes may differ; same architecture)."""
    state = source.state_dict()
    conform(model, state)
    model.load_state_dict(state)
