"""One-shot pruning: a pruning method's decision taken once, on a trained (or given) model.

A fine-tune sweep trains one dense model and derives every density from it: the method (e.g.
``magnitude`` with ``iterations: 1``) prunes the shared checkpoint to the point's density before
the first fine-tuning epoch, and the training loop then holds its masks (unstructured) or trains
the physically smaller model (structured). The decision is the method's own: its ``setup`` and
``on_epoch_end`` hooks run as at the end of the only epoch of a one-epoch schedule.
"""
from __future__ import annotations

from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, Dict

import torch.nn as nn

from ..methods.base import Method
from ..units.engine import UnitEngine

if TYPE_CHECKING:  # pragma: no cover
    from ..train import TrainContext


def prune_now(method: Method, ctx: Any) -> None:
    """Let ``method`` (configured for a single round) take its pruning decision on ``ctx.units`` now."""
    saved = (ctx.epoch, ctx.total_epochs)
    ctx.epoch, ctx.total_epochs = 0, 1
    try:
        method.setup(ctx)
        method.on_epoch_end(ctx)
    finally:
        ctx.epoch, ctx.total_epochs = saved


def prune_model(model: nn.Module, in_shape, method: Method) -> UnitEngine:
    """Prune ``model`` in place outside a training loop; returns the engine holding its masks."""
    engine = UnitEngine(model, tuple(in_shape))
    ctx = SimpleNamespace(units=engine, epoch=0, total_epochs=1, say=lambda _text: None)
    prune_now(method, ctx)
    engine.apply_masks()
    return engine


class OneShot(Method):
    """Wraps a pruning method: prune at ``setup`` (before the first epoch), then only fine-tune.
    Masks live in the engine, so the loop applies them every step and saves them in checkpoints."""

    name = "oneshot"

    def __init__(self, inner: Method):
        super().__init__(inner.cfg)
        self.inner = inner

    def setup(self, ctx: "TrainContext") -> None:
        prune_now(self.inner, ctx)

    def state_dict(self) -> Dict[str, Any]:
        return self.inner.state_dict()

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        self.inner.load_state_dict(state)

    def summary(self) -> Dict[str, Any]:
        return self.inner.summary()
