"""The Method protocol: the hooks the single training loop calls.

The loop owns data, optimiser, schedule, checkpoints and cost accounting. A method may:
- ``setup(ctx)``: prepare the model before the first epoch of a fresh run (e.g. shrink to a seed);
- ``total_epochs(base)``: say how many epochs its schedule needs (e.g. grow + prune + fine-tune);
- ``on_epoch_start(ctx)``: before each epoch's first step, also the first epoch of a resumed run
  (e.g. set a stage's parameters, attach forward hooks);
- ``regulariser(ctx)``: add a term to the loss (e.g. an L0 gate cost);
- ``after_backward(ctx)`` / ``after_step(ctx)``: see gradients / weights each step (mask them,
  score units, grow connections; ``ctx.batch`` is the step's (inputs, targets), e.g. for an extra
  forward pass); ``after_step`` returns True when it changed structure or masks;
- ``on_epoch_end(ctx)``: decide growth/pruning from the epoch's metrics; True when it changed;
- ``state_dict()`` / ``load_state_dict()``: everything needed to resume exactly.

Structure and masks are changed only through the engine ``ctx.units``
(:class:`codesign.units.engine.UnitEngine`): ``keep``/``remove``/``extend`` resize tensors for
real and remap the optimiser state in place (no optimiser rebuild), ``set_units`` /
``set_connections`` set masks, which the loop applies to gradients after ``after_backward`` and to
weights after every optimiser step. The loop re-measures cost whenever the engine changed
anything, saves the engine's masks in every checkpoint and compacts the final model of a run that
pruned something into ``run_dir/compact``. Methods keep no Parameter references across edits
(look them up by name with ``ctx.units.param(name)``).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, Optional

import torch

from ..config import Strict

if TYPE_CHECKING:  # pragma: no cover
    from ..train import TrainContext


class Method:
    name = "base"

    class Config(Strict):
        pass

    def __init__(self, cfg: "Method.Config"):
        self.cfg = cfg

    def setup(self, ctx: "TrainContext") -> None:
        return None

    def total_epochs(self, base_epochs: int) -> int:
        return base_epochs

    def on_epoch_start(self, ctx: "TrainContext") -> None:
        return None

    def regulariser(self, ctx: "TrainContext") -> Optional[torch.Tensor]:
        return None

    def after_backward(self, ctx: "TrainContext") -> None:
        return None

    def after_step(self, ctx: "TrainContext") -> bool:
        return False

    def on_epoch_end(self, ctx: "TrainContext") -> bool:
        return False

    def state_dict(self) -> Dict[str, Any]:
        return {}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        return None

    def summary(self) -> Dict[str, Any]:
        """Method-specific numbers for the run report (phase, density reached, ...)."""
        return {}
