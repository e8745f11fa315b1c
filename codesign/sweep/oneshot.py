"""One-shot pruning: a pruning method's decision taken once, on a trained (or given) model.

A fine-tune sweep trains one dense model and derives every density from it: the method (e.g.
``magnitude`` with ``iterations: 1``) prunes the shared checkpoint to the point's density before
the first fine-tuning epoch, and the training loop then holds its masks (unstructured) or trains
the physically smaller model (structured). The decision is the method's own: its ``setup`` and
``on_epoch_end`` hooks run as at the end of the only epoch of a one-epoch schedule.
"""
from __future__ import annotations

from typing import Any, Dict

import torch.nn as nn

from ..methods.base import Method, MethodContext
from ..units.engine import UnitEngine


def prune_now(method: Method, ctx: MethodContext) -> None:
    """Let ``method`` (configured for a single round) take its pruning decision on ``ctx.units`` now."""
    p = ctx.progress
    saved = (p.epoch, p.total_epochs)
    p.epoch, p.total_epochs = 0, 1
    try:
        method.setup(ctx)
        method.on_epoch_end(ctx)
    finally:
        p.epoch, p.total_epochs = saved


def prune_model(model: nn.Module, in_shape, method: Method, seed: int = 0) -> UnitEngine:
    """Prune ``model`` in place outside a training loop; returns the engine holding its masks."""
    engine = UnitEngine(model, tuple(in_shape))
    prune_now(method, MethodContext(model, engine, seed=seed))
    engine.apply_masks()
    return engine


class OneShot(Method):
    """Wraps a pruning method: prune at ``setup`` (before the first epoch), then only fine-tune.
    Masks live in the engine, so the loop applies them every step and saves them in checkpoints."""

    name = "oneshot"

    def __init__(self, inner: Method):
        super().__init__(inner.cfg)
        self.inner = inner

    def setup(self, ctx: MethodContext) -> None:
        prune_now(self.inner, ctx)

    def state_dict(self) -> Dict[str, Any]:
        return self.inner.state_dict()

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        self.inner.load_state_dict(state)

    def summary(self) -> Dict[str, Any]:
        return self.inner.summary()
