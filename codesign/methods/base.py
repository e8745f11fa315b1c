"""The Method protocol and the narrow context a method sees of the training run.

The loop (:func:`codesign.train.fit`) owns data, optimiser, schedule, checkpoints and cost
accounting; the unit engine (:class:`codesign.units.engine.UnitEngine`, ``ctx.units``) owns every
change of structure or masks. A method *decides*, through these hooks, in this order:

- ``setup(ctx)``: before the first epoch of a fresh run (e.g. shrink to a seed, set start masks);
- ``total_epochs(base)``: how many epochs its schedule needs;
- ``on_epoch_start(ctx)``: before each epoch's first step, also the first epoch of a resumed run;
- ``regulariser(ctx)``: a term added to the step's loss (e.g. an L0 gate cost), or None;
- ``after_backward(ctx)``: sees the dense gradients, before the loop masks them;
- ``after_step(ctx)``: after the optimiser step (and the masks); True when it changed structure;
- ``on_epoch_end(ctx)``: growth/pruning from the epoch's metrics; True when it changed anything;
- ``state_dict()`` / ``load_state_dict()``: everything needed to resume bit-identically;
- ``summary()``: method-specific numbers for the run report.

Each method also declares, for sweeps and one-shot pruning:

- ``density_knob``: the name of its ``Config`` field that sets the final density (fraction of
  weights or units kept), or None when it has none (a density sweep axis skips it);
- ``one_shot``: the ``Config`` values that make its pruning a single decision taken at once on a
  trained model (e.g. one round, no pretraining), or None when it cannot prune one-shot;
- ``trains_to_budget``: whether its decisions read a hardware budget (``ctx.budget``, ``codesign train
  --fit``); ``--fit`` with a method that does not is an error, not a budget silently ignored.

Structure and masks change only through the engine: ``keep``/``remove``/``extend`` resize tensors
for real and remap the optimiser state in place, ``set_units``/``set_connections``/``activate``
set masks, ``reset_width``/``adopt`` restart from a fresh model. Methods keep no Parameter
references across edits (look them up by name with ``ctx.units.param(name)``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Dict, Optional, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..config import Strict
from ..flops import ModelCost
from ..units.engine import UnitEngine

Batch = Tuple[torch.Tensor, torch.Tensor]


@dataclass
class Progress:
    """Where the run is; the loop advances it, methods read it through the context."""

    epoch: int = 0                 # current epoch, 0-based
    step: int = 0                  # optimiser steps so far, over the whole run
    total_epochs: int = 1
    steps_per_epoch: int = 1
    batch: Optional[Batch] = None  # this step's (inputs, targets)
    last_loss: Optional[torch.Tensor] = None        # this step's data loss (no regulariser), detached
    epoch_metrics: Dict[str, float] = field(default_factory=dict)   # this epoch's train_loss/train_acc


@dataclass
class Ledger:
    """Training work so far (FLOPs, both conventions of codesign.flops) and the current cost."""

    cost: Optional[ModelCost] = None
    flops_dense: float = 0.0
    flops_sparse: float = 0.0

    def charge(self, flops_dense: float, flops_sparse: float) -> None:
        self.flops_dense += flops_dense
        self.flops_sparse += flops_sparse


@dataclass
class RunData:
    """The data side of a run: training tensors, how to score a split, the loss."""

    train: Batch
    evaluate: Callable[[str], Tuple[float, float]]     # split → (mean loss, accuracy)
    splits: Tuple[str, ...] = ("train", "test")
    label_smoothing: float = 0.0
    eval_batch_size: int = 1000


class MethodContext:
    """What a method sees: the live model and its unit engine, progress, data and a few verbs.

    Built by the loop (or by one-shot pruning outside it, with no data); methods never write its
    fields."""

    def __init__(self, model: nn.Module, units: Union[UnitEngine, Callable[[], UnitEngine]], *, seed: int,
                 progress: Optional[Progress] = None,
                 ledger: Optional[Ledger] = None, data: Optional[RunData] = None,
                 say: Callable[[str], None] = lambda _text: None,
                 reset_optimizer: Callable[[], None] = lambda: None,
                 learning_rate: Callable[[], float] = lambda: 0.0,
                 reference: Optional[Callable[[], nn.Module]] = None,
                 positions: Optional[Dict[str, int]] = None, budget: Optional[Any] = None):
        self._model = model
        self._units = units
        self.seed = seed
        self.progress = progress or Progress()
        self.ledger = ledger or Ledger()
        self._data = data
        self._say = say
        self._reset_optimizer = reset_optimizer
        self._learning_rate = learning_rate
        self._reference = reference
        self._positions = positions
        self._budget = budget

    # ------------------------------------------------------------------ the run
    @property
    def model(self) -> nn.Module:
        return self._model

    @property
    def units(self) -> UnitEngine:
        """The unit engine over the live model: every change of structure or masks goes through it."""
        if not isinstance(self._units, UnitEngine):
            self._units = self._units()
        return self._units

    @property
    def epoch(self) -> int:
        return self.progress.epoch

    @property
    def step(self) -> int:
        return self.progress.step

    @property
    def total_epochs(self) -> int:
        return self.progress.total_epochs

    @property
    def steps_per_epoch(self) -> int:
        return self.progress.steps_per_epoch

    @property
    def batch(self) -> Batch:
        """This step's (inputs, targets), e.g. for an extra forward pass."""
        return self.progress.batch

    @property
    def last_loss(self) -> Optional[torch.Tensor]:
        return self.progress.last_loss

    @property
    def epoch_metrics(self) -> Dict[str, float]:
        return self.progress.epoch_metrics

    @property
    def lr(self) -> float:
        """The optimiser's current learning rate."""
        return self._learning_rate()

    @property
    def cost(self) -> Optional[ModelCost]:
        """Per-sample forward cost the loop charges steps with (refreshed after structure changes)."""
        return self.ledger.cost

    def measure(self) -> ModelCost:
        """Per-sample forward cost of the model as it is now (e.g. mid-growth)."""
        return self.units.cost(self._positions or {})

    @property
    def budget(self):
        """The run's hardware budget (:class:`codesign.methods.budget.HardwareBudget`), or None when
        the run does not train for a device (``--fit``)."""
        return self._budget

    # ------------------------------------------------------------------ data
    @property
    def data(self) -> RunData:
        if self._data is None:
            raise RuntimeError("this method needs training data, but it runs outside a training loop")
        return self._data

    @property
    def train_data(self) -> Batch:
        """All training (inputs, targets), unshuffled: sample them with :meth:`generator`."""
        return self.data.train

    @property
    def train_samples(self) -> int:
        return len(self.data.train[1]) if self._data is not None else 0

    @property
    def has_validation(self) -> bool:
        return self._data is not None and "val" in self._data.splits

    @property
    def eval_batch_size(self) -> int:
        return self.data.eval_batch_size

    def loss(self, out: torch.Tensor, targets: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
        """The run's data loss (cross-entropy with the recipe's label smoothing)."""
        smoothing = self._data.label_smoothing if self._data is not None else 0.0
        return F.cross_entropy(out, targets, reduction=reduction, label_smoothing=smoothing)

    def evaluate(self, split: str) -> Tuple[float, float]:
        """(mean loss, accuracy) of the live model on ``split`` ("val", "test", "train")."""
        return self.data.evaluate(split)

    def generator(self, salt: int = 0) -> torch.Generator:
        """A random stream that depends only on (run seed, epoch, salt): resumes replay it exactly."""
        return torch.Generator().manual_seed(epoch_seed(self.seed, self.epoch) + salt)

    # ------------------------------------------------------------------ verbs
    def charge(self, flops_dense: float, flops_sparse: float) -> None:
        """Add extra training work (growth passes, second forward passes) to the run's FLOPs."""
        self.ledger.charge(flops_dense, flops_sparse)

    def charge_forward(self, samples: int) -> None:
        """Charge one forward pass of ``samples`` samples at the loop's current cost."""
        cost = self.ledger.cost
        if cost is not None:
            self.charge(cost.flops_dense * samples, cost.flops_sparse * samples)

    def say(self, text: str) -> None:
        """A progress message (the CLI shows it; the library never prints)."""
        self._say(text)

    def reset_optimizer(self) -> None:
        """A fresh optimiser (no momentum or moments) over the current parameters at the current LR."""
        self._reset_optimizer()

    def reference_model(self) -> nn.Module:
        """The run's architecture at its configured size (freshly built), e.g. the size a density
        refers to when training starts from a smaller model; the live model when there is none."""
        return self._reference() if self._reference is not None else self.model


def epoch_seed(seed: int, epoch: int) -> int:
    """The seed of everything random in ``epoch`` of a run seeded ``seed`` (data order, augmentation)."""
    return (seed * 1_000_003 + epoch * 7_919 + 17) % (2 ** 63)


class Method:
    name = "base"
    density_knob: ClassVar[Optional[str]] = None
    one_shot: ClassVar[Optional[Dict[str, Any]]] = None
    trains_to_budget: ClassVar[bool] = False

    class Config(Strict):
        pass

    def __init__(self, cfg: "Method.Config"):
        self.cfg = cfg

    def setup(self, ctx: MethodContext) -> None:
        return None

    def total_epochs(self, base_epochs: int) -> int:
        return base_epochs

    def on_epoch_start(self, ctx: MethodContext) -> None:
        return None

    def regulariser(self, ctx: MethodContext) -> Optional[torch.Tensor]:
        return None

    def after_backward(self, ctx: MethodContext) -> None:
        return None

    def after_step(self, ctx: MethodContext) -> bool:
        return False

    def on_epoch_end(self, ctx: MethodContext) -> bool:
        return False

    def state_dict(self) -> Dict[str, Any]:
        return {}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        return None

    def summary(self) -> Dict[str, Any]:
        """Method-specific numbers for the run report (phase, density reached, ...)."""
        return {}
