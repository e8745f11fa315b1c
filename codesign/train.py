"""fit(): the single training loop.

Seeded and deterministic (data order and random streams are functions of (seed, epoch) only),
a checkpoint after every epoch written atomically, exact resume of a killed run, a history CSV,
and training-FLOP accounting by the model's *current* size (see codesign.flops). Grow/prune
methods plug in through the hooks of :class:`codesign.methods.base.Method`; they never own a loop.
"""
from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from . import atomic
from .checkpoint import CKPT_FORMAT, read, save_model
from .config import Recipe, recipe_to_dict
from .data import Splits, augment_batch, check_input_shape, load_dataset
from .errors import CodesignError
from .flops import TRAIN_FLOPS_PER_FORWARD, ModelCost, measure, output_positions
from .methods import build_method
from .methods.base import Method
from .optim import lr_at, make_optimizer, set_lr
from .units.engine import UnitEngine
from .units.resize import conform
from .zoo import create_model

Events = Callable[[str, Dict[str, Any]], None]


def _quiet(_kind: str, _payload: Dict[str, Any]) -> None:
    return None


def epoch_seed(seed: int, epoch: int) -> int:
    return (seed * 1_000_003 + epoch * 7_919 + 17) % (2 ** 63)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2 ** 32))
    torch.manual_seed(seed)


@dataclass
class TrainContext:
    """What hooks see: the live model and optimiser, data, progress and current cost."""

    recipe: Recipe
    model: nn.Module
    splits: Splits
    method: Method
    optimizer: torch.optim.Optimizer = None  # type: ignore[assignment]
    run_dir: Optional[Path] = None
    epoch: int = 0                 # current (0-based) epoch
    step: int = 0                  # global optimiser steps so far
    total_epochs: int = 1
    metrics: Dict[str, float] = field(default_factory=dict)   # last finished epoch's metrics
    positions: Dict[str, int] = field(default_factory=dict)
    cost: Optional[ModelCost] = None
    train_flops_dense: float = 0.0
    train_flops_sparse: float = 0.0
    events: Events = _quiet
    last_loss: Optional[torch.Tensor] = None
    batch: Optional[Tuple[torch.Tensor, torch.Tensor]] = None   # the step's (inputs, targets), set before forward
    epoch_metrics: Dict[str, float] = field(default_factory=dict)  # this epoch's train_loss/train_acc
    _units: Optional[UnitEngine] = field(default=None, repr=False)
    _cost_version: int = field(default=-1, repr=False)

    @property
    def in_shape(self) -> Tuple[int, ...]:
        return tuple(self.splits.in_shape)

    @property
    def units(self) -> UnitEngine:
        """The structural-plasticity engine over the live model (traced on first use): unit groups,
        masks, physical keep/extend with optimiser-state remapping. See codesign.units.engine."""
        if self._units is None:
            self._units = UnitEngine(self.model, self.in_shape, optimizer=lambda: self.optimizer)
        return self._units

    def structure_changed(self) -> bool:
        """True when the engine edited structure or masks since the cost was last measured."""
        return self._units is not None and self._units.version != self._cost_version

    def new_optimizer(self) -> torch.optim.Optimizer:
        """A fresh optimiser over the current parameters (no state) at the current LR."""
        lr = self.optimizer.param_groups[0]["lr"] if self.optimizer is not None else self.recipe.optim.lr
        self.optimizer = make_optimizer(self.model.parameters(), self.recipe.optim)
        set_lr(self.optimizer, lr)
        return self.optimizer

    def refresh_cost(self) -> ModelCost:
        if self._units is None:
            self.cost = measure(self.model, self.positions)
        else:
            self.cost = self._units.cost(self.positions)
            self._cost_version = self._units.version
        return self.cost

    def batches(self, split: str = "train", batch_size: Optional[int] = None, limit: Optional[int] = None
                ) -> Iterator[Tuple[torch.Tensor, torch.Tensor]]:
        """Unshuffled batches of a split (for scoring units, calibration, ...)."""
        x, y = getattr(self.splits, split) or self.splits.train
        n = len(y) if limit is None else min(limit, len(y))
        size = batch_size or self.recipe.train.eval_batch_size
        for start in range(0, n, size):
            yield x[start:min(n, start + size)], y[start:min(n, start + size)]

    def evaluate(self, split: str) -> Tuple[float, float]:
        return evaluate(self.model, self.batches(split))

    def say(self, text: str) -> None:
        self.events("message", {"text": text})


def evaluate(model: nn.Module, batches) -> Tuple[float, float]:
    """(mean cross-entropy, accuracy) over the batches."""
    was = model.training
    model.eval()
    loss_sum, correct, count = 0.0, 0, 0
    with torch.no_grad():
        for x, y in batches:
            out = model(x)
            loss_sum += F.cross_entropy(out, y, reduction="sum").item()
            correct += int((out.argmax(1) == y).sum())
            count += len(y)
    model.train(was)
    return (loss_sum / max(count, 1), correct / max(count, 1))


@dataclass
class FitResult:
    model: nn.Module
    history: List[Dict[str, Any]]
    summary: Dict[str, Any]
    run_dir: Optional[Path]


def _build(recipe: Recipe, splits: Optional[Splits], data_dir) -> Tuple[nn.Module, Splits]:
    if splits is None:
        d = recipe.data
        splits = load_dataset(d.name, data_dir, val_fraction=d.val_fraction, train_limit=d.train_limit,
                              test_limit=d.test_limit, seed=recipe.train.seed, **d.options)
    model = create_model(recipe.model.name, width=recipe.model.width, in_shape=splits.in_shape,
                         num_classes=splits.num_classes)
    check_input_shape(splits.in_shape, splits, recipe.model.name)
    return model, splits


def _check_same_recipe(saved: Dict[str, Any], recipe: Recipe, ckpt: Path) -> None:
    now = recipe_to_dict(recipe)
    for section in ("model", "data", "optim", "schedule", "method"):
        if saved.get(section) != now.get(section):
            raise CodesignError(f"{ckpt} was written by a run with a different '{section}' setting; "
                                f"resume with the same recipe, or start over with --force / another --out")
    for key in ("batch_size", "seed", "label_smoothing"):
        if saved.get("train", {}).get(key) != now["train"].get(key):
            raise CodesignError(f"{ckpt} was written with train.{key}={saved['train'].get(key)}; resume with "
                                f"the same value, or start over with --force / another --out")


def _save_checkpoint(ctx: TrainContext, history: List[Dict[str, Any]], elapsed: float) -> None:
    if ctx.run_dir is None:
        return
    atomic.torch_save(ctx.run_dir / "train" / "ckpt.pt", {
        "format": CKPT_FORMAT, "recipe": recipe_to_dict(ctx.recipe), "model_spec": ctx.model.codesign_spec,
        "epoch": ctx.epoch + 1, "step": ctx.step, "model": ctx.model.state_dict(),
        "optimizer": ctx.optimizer.state_dict(), "method": ctx.method.state_dict(), "history": history,
        "train_flops": [ctx.train_flops_dense, ctx.train_flops_sparse], "elapsed": elapsed,
        "metrics": ctx.metrics, "units": ctx._units.state_dict() if ctx._units is not None else None,
    })
    atomic.write_csv(ctx.run_dir / "train" / "history.csv", history)


def _restore(ctx: TrainContext, ckpt: Dict[str, Any]) -> Tuple[int, List[Dict[str, Any]], float]:
    conform(ctx.model, ckpt["model"])
    ctx.model.load_state_dict(ckpt["model"])
    if ckpt.get("units") is not None:
        ctx.units.load_state_dict(ckpt["units"])
    ctx.method.load_state_dict(ckpt["method"])
    ctx.new_optimizer()
    ctx.optimizer.load_state_dict(ckpt["optimizer"])
    ctx.step = ckpt["step"]
    ctx.train_flops_dense, ctx.train_flops_sparse = ckpt["train_flops"]
    ctx.metrics = dict(ckpt.get("metrics", {}))
    return ckpt["epoch"], list(ckpt["history"]), float(ckpt["elapsed"])


def fit(recipe: Recipe, run_dir: str | Path | None = None, *, resume: bool = False, overwrite: bool = False,
        events: Events | None = None, splits: Splits | None = None, data_dir=None,
        model: nn.Module | None = None, method: Method | None = None) -> FitResult:
    """Train ``recipe`` (optionally starting from ``model``); artifacts go to ``run_dir``/train."""
    events = events or _quiet
    run_dir = Path(run_dir) if run_dir is not None else None
    ckpt_path = run_dir / "train" / "ckpt.pt" if run_dir else None
    if ckpt_path and ckpt_path.exists() and not (resume or overwrite):
        raise CodesignError(f"{run_dir} already holds a training run; pass --resume to continue it "
                            f"or --force to start over")
    if recipe.train.threads:
        torch.set_num_threads(recipe.train.threads)
    seed_everything(recipe.train.seed)
    built, splits = _build(recipe, splits, data_dir)
    model = model if model is not None else built
    ctx = TrainContext(recipe=recipe, model=model, splits=splits,
                       method=method or build_method(recipe.method.name, recipe.method.params),
                       run_dir=run_dir, events=events)
    ctx.positions = output_positions(model, splits.in_shape)
    ckpt = read(ckpt_path, CKPT_FORMAT) if (ckpt_path and resume and ckpt_path.exists()) else None
    start_epoch, history, elapsed = 0, [], 0.0
    if ckpt is not None:
        _check_same_recipe(ckpt["recipe"], recipe, ckpt_path)
        start_epoch, history, elapsed = _restore(ctx, ckpt)
        atomic.write_csv(run_dir / "train" / "history.csv", history)   # a kill may have hit between the two
    else:
        ctx.method.setup(ctx)
        ctx.new_optimizer()
    if run_dir is not None:
        atomic.write_text(run_dir / "config.yaml", _yaml(recipe_to_dict(recipe)))
    ctx.total_epochs = ctx.method.total_epochs(recipe.train.epochs)
    ctx.refresh_cost()
    steps_per_epoch = -(-len(splits.train[1]) // recipe.train.batch_size)
    events("start", {"start_epoch": start_epoch, "total_epochs": ctx.total_epochs,
                     "steps_per_epoch": steps_per_epoch, "resumed": ckpt is not None})
    for epoch in range(start_epoch, ctx.total_epochs):
        ctx.epoch = epoch
        t0 = time.perf_counter()
        ctx.method.on_epoch_start(ctx)
        row = _train_epoch(ctx, steps_per_epoch)
        ctx.epoch_metrics = {k: v for k, v in row.items() if isinstance(v, (int, float))}
        changed = ctx.method.on_epoch_end(ctx)
        if changed or ctx.structure_changed():
            ctx.refresh_cost()
        row.update(_epoch_metrics(ctx))
        elapsed += time.perf_counter() - t0
        row["seconds"] = round(elapsed, 3)
        ctx.metrics = {k: v for k, v in row.items() if isinstance(v, (int, float))}
        history.append(row)
        _save_checkpoint(ctx, history, elapsed)
        events("epoch", dict(row))
    summary = _summary(ctx, history, elapsed)
    if run_dir is not None:
        masks = ctx._units.masks.state_dict() if ctx._units is not None else None
        save_model(run_dir / "train" / "model.pt", ctx.model, source="trained",
                   recipe=recipe_to_dict(recipe), metrics=summary, masks=masks)
        if ctx._units is not None and ctx._units.pruned_anything:
            summary.update(_compact_run(ctx, run_dir))
        atomic.write_json(run_dir / "train" / "cost.json", summary)
    events("end", summary)
    return FitResult(ctx.model, history, summary, run_dir)


def _train_epoch(ctx: TrainContext, steps_per_epoch: int) -> Dict[str, Any]:
    recipe, model = ctx.recipe, ctx.model
    seed = epoch_seed(recipe.train.seed, ctx.epoch)
    seed_everything(seed)
    gen = torch.Generator().manual_seed(seed)
    x_all, y_all = ctx.splits.train
    order = torch.randperm(len(y_all), generator=gen)
    bs = recipe.train.batch_size
    model.train()
    loss_sum, correct, seen = 0.0, 0, 0
    for i in range(steps_per_epoch):
        index = order[i * bs:(i + 1) * bs]
        x = augment_batch(x_all[index], ctx.splits.spec.augment, gen)
        y = y_all[index]
        lr = lr_at(ctx.epoch + i / steps_per_epoch, ctx.total_epochs, recipe.optim.lr, recipe.schedule)
        set_lr(ctx.optimizer, lr)
        ctx.optimizer.zero_grad(set_to_none=True)
        ctx.batch = (x, y)
        out = model(x)
        loss = F.cross_entropy(out, y, label_smoothing=recipe.train.label_smoothing)
        reg = ctx.method.regulariser(ctx)
        total = loss + reg if reg is not None else loss
        ctx.last_loss = loss.detach()
        total.backward()
        ctx.method.after_backward(ctx)     # sees dense gradients (before masking)
        if ctx._units is not None:
            ctx._units.mask_gradients()
        ctx.optimizer.step()
        if ctx._units is not None:
            ctx._units.apply_masks()       # masked weights stay exactly zero
        ctx.step += 1
        ctx.train_flops_dense += TRAIN_FLOPS_PER_FORWARD * ctx.cost.flops_dense * len(y)
        ctx.train_flops_sparse += TRAIN_FLOPS_PER_FORWARD * ctx.cost.flops_sparse * len(y)
        if ctx.method.after_step(ctx) or ctx.structure_changed():
            ctx.refresh_cost()
        n = len(y)
        loss_sum += loss.item() * n
        correct += int((out.argmax(1) == y).sum())
        seen += n
        ctx.events("step", {"epoch": ctx.epoch, "step": i + 1, "loss": loss_sum / seen, "acc": correct / seen})
    return {"epoch": ctx.epoch + 1, "lr": ctx.optimizer.param_groups[0]["lr"],
            "train_loss": loss_sum / max(seen, 1), "train_acc": correct / max(seen, 1)}


def _epoch_metrics(ctx: TrainContext) -> Dict[str, Any]:
    row: Dict[str, Any] = {}
    if ctx.splits.val is not None:
        row["val_loss"], row["val_acc"] = ctx.evaluate("val")
    row["test_loss"], row["test_acc"] = ctx.evaluate("test")
    row.update(ctx.cost.as_dict())
    row["train_flops_dense"] = ctx.train_flops_dense
    row["train_flops_sparse"] = ctx.train_flops_sparse
    row.update({f"method_{k}": v for k, v in ctx.method.summary().items()})
    return row


def _summary(ctx: TrainContext, history: List[Dict[str, Any]], elapsed: float) -> Dict[str, Any]:
    last = history[-1] if history else {}
    cost = ctx.cost
    return {
        "model": ctx.recipe.model.name, "dataset": ctx.recipe.data.name, "method": ctx.recipe.method.name,
        "epochs": len(history), "test_acc": last.get("test_acc"), "test_loss": last.get("test_loss"),
        "val_acc": last.get("val_acc"), "params": cost.params, "nonzeros": cost.nonzeros,
        "flops_dense": cost.flops_dense, "flops_sparse": cost.flops_sparse,
        "train_flops_dense": ctx.train_flops_dense, "train_flops_sparse": ctx.train_flops_sparse,
        "wall_seconds": round(elapsed, 3), "flops_convention": "2 x MACs of Conv/Linear per sample; "
        "training = 3 x forward per sample",
        **{f"method_{k}": v for k, v in ctx.method.summary().items()},
    }


def _compact_run(ctx: TrainContext, run_dir: Path) -> Dict[str, Any]:
    """Write run_dir/compact/{model.pt,shapes.json} for a run that pruned something."""
    from .compact import write_compact

    manifest = write_compact(run_dir / "compact", ctx.model, ctx._units.masks, recipe=recipe_to_dict(ctx.recipe))
    ctx.events("message", {"text": f"compacted: {manifest['params_before']:,} → {manifest['params_after']:,} "
                                   f"params ({run_dir / 'compact'})"})
    return {"compact_params": manifest["params_after"], "compact_flops_dense": manifest["flops_dense_after"]}


def _yaml(obj: Dict[str, Any]) -> str:
    import yaml

    return yaml.safe_dump(obj, sort_keys=False)
