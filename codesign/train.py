"""fit(): the single training loop.

Seeded and deterministic (data order and random streams are functions of (seed, epoch) only),
a checkpoint after every epoch written atomically, exact resume of a killed run, a history CSV,
and training-FLOP accounting by the model's *current* size (see codesign.flops). Grow/prune
methods plug in through the hooks of :class:`codesign.methods.base.Method`; they never own a loop.
"""
from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from . import atomic
from .checkpoint import CKPT_FORMAT, read, save_model
from .config import Recipe, recipe_record, recipe_to_dict, with_recorded_device
from .distill import load_teacher
from .data import Splits, augment_batch, augment_kind, check_input_shape, load_dataset
from .errors import CodesignError, ConfigError
from .events import Events, quiet
from .flops import TRAIN_FLOPS_PER_FORWARD, ModelCost, measure, output_positions
from .methods import build_method
from .methods.budget import budget_from_target, check_trains_to_budget
from .methods.base import Ledger, Method, MethodContext, Progress, RunData, epoch_seed
from .optim import lr_at, make_optimizer, set_lr
from .rundir import RunDir
from .units.engine import UnitEngine
from .units.resize import conform
from .model_source import build_model, check_model_name, names_model, output_size, spec_of


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2 ** 32))
    torch.manual_seed(seed)


class _Run:
    """The loop's own state of one fit() call; methods see it through ``self.ctx`` only."""

    def __init__(self, recipe: Recipe, model: nn.Module, splits: Splits, method: Method,
                 run_dir: Optional[RunDir], events: Events):
        self.recipe, self.model, self.splits, self.method = recipe, model, splits, method
        self.run_dir, self.events = run_dir, events
        self.optimizer: Optional[torch.optim.Optimizer] = None
        self.progress, self.ledger = Progress(), Ledger()
        self.positions = output_positions(model, splits.in_shape)
        self.metrics: Dict[str, float] = {}           # last finished epoch's metrics
        self._units: Optional[UnitEngine] = None
        self._cost_version = -1
        self.augment = augment_kind(recipe.data.augment, splits.spec.augment)
        if self.augment is not None and len(splits.in_shape) != 3:
            raise ConfigError(f"data.augment {self.augment} needs images (channels, height, width); this data's "
                              f"samples have shape {tuple(splits.in_shape)}")
        self.teacher = load_teacher(recipe.train.distill, splits.in_shape, splits.num_classes) \
            if recipe.train.distill is not None else None
        data = RunData(train=splits.train, evaluate=self.evaluate,
                       splits=tuple(n for n in ("train", "val", "test") if getattr(splits, n) is not None),
                       label_smoothing=recipe.train.label_smoothing, eval_batch_size=recipe.train.eval_batch_size)
        if recipe.target.fit:
            check_trains_to_budget(recipe.method.name)
        self.ctx = MethodContext(model, lambda: self.units, seed=recipe.train.seed, progress=self.progress,
                                 ledger=self.ledger, data=data, say=self.say, reset_optimizer=self.new_optimizer,
                                 learning_rate=lambda: self.optimizer.param_groups[0]["lr"],
                                 reference=self.reference_model, positions=self.positions,
                                 budget=budget_from_target(recipe.target, splits.in_shape))
        if self.ctx.budget is not None:
            self.ctx.budget.check(model)      # a model the estimator cannot read fails here, before any epoch

    @property
    def epoch(self) -> int:
        return self.progress.epoch

    @property
    def units(self) -> UnitEngine:
        """The structural-plasticity engine over the live model, traced on first use."""
        if self._units is None:
            self._units = UnitEngine(self.model, tuple(self.splits.in_shape), optimizer=lambda: self.optimizer)
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
            self.ledger.cost = measure(self.model, self.positions)
        else:
            self.ledger.cost = self._units.cost(self.positions)
            self._cost_version = self._units.version
        return self.ledger.cost

    def evaluate(self, split: str) -> Tuple[float, float]:
        x, y = getattr(self.splits, split) or self.splits.train
        size = self.recipe.train.eval_batch_size
        return evaluate(self.model, ((x[i:i + size], y[i:i + size]) for i in range(0, len(y), size)))

    def say(self, text: str) -> None:
        self.events("message", {"text": text})

    def reference_model(self) -> nn.Module:
        """The recipe's architecture at its configured width (or arguments), when the live model is
        that zoo model or factory's model."""
        name = self.recipe.model.name
        if not names_model(name, getattr(self.model, "codesign_spec", None)):
            return self.model
        return build_model(name, self.recipe.model.args, self.splits.in_shape, self.splits.num_classes,
                           self.recipe.model.width)


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


def _load_splits(recipe: Recipe, data_dir) -> Splits:
    d = recipe.data
    return load_dataset(d.name, data_dir, val_fraction=d.val_fraction, train_limit=d.train_limit,
                        test_limit=d.test_limit, split_seed=recipe.train.seed, **d.options)


def _model_for(recipe: Recipe, model: Optional[nn.Module], splits: Splits) -> nn.Module:
    """The model handed to fit (checked against the data when it records its input shape, and given the trial
    run of every model: :func:`codesign.model_source.output_size`), else the recipe's."""
    if model is None:
        return build_model(recipe.model.name, recipe.model.args, splits.in_shape, splits.num_classes,
                           recipe.model.width)
    spec = getattr(model, "codesign_spec", None)
    if spec is not None and spec.get("in_shape") is not None:
        check_input_shape(spec["in_shape"], splits, spec["name"])
    output_size(model, splits.in_shape)
    return model


def _check_same_recipe(saved: Dict[str, Any], recipe: Recipe, ckpt: Path, device_given: Any = None) -> None:
    now = recipe_to_dict(recipe)
    for section in ("model", "data", "optim", "schedule", "method"):
        if saved.get(section) != now.get(section):
            raise CodesignError(f"{ckpt} was written by a run with a different '{section}' setting; "
                                f"resume with the same recipe, or start over with --force / another --out")
    saved_target, target = saved.get("target") or {}, now.get("target") or {}
    if saved_target.get("fit") or target.get("fit"):
        if _but_device(saved_target) != _but_device(target):
            raise CodesignError(f"{ckpt} was written by a run with a different 'target' setting (the hardware budget "
                                f"it trains for: --fit and its bounds); resume with the same one, or start over with "
                                f"--force / another --out")
        _check_same_device(saved_target.get("device"), target.get("device"), device_given, ckpt)
    for key in ("batch_size", "seed", "label_smoothing", "distill"):
        if saved.get("train", {}).get(key) != now["train"].get(key):
            raise CodesignError(f"{ckpt} was written with train.{key}={saved['train'].get(key)}; resume with "
                                f"the same value, or start over with --force / another --out")


def _but_device(target: Dict[str, Any]) -> Dict[str, Any]:
    return {k: v for k, v in target.items() if k != "device"}


def _check_same_device(saved: Any, now: Any, given: Any, ckpt: Path) -> None:
    """The budget's device is the one the run trained for: a shipped device by any of its names, a device file
    by its content (:mod:`codesign.sim.device_record`; a run from before contents were recorded holds the
    file's path, read as it is now). A file changed since is named, with what changed."""
    from .sim import load_device
    from .sim.device_record import changes, identity, is_file, label

    if identity(saved) == identity(now):
        return
    given = now if given is None else given
    restart = "start over with --force / another --out"
    if is_file(saved) and is_file(now) and identity(saved)[0] == identity(now)[0] == "content":
        what = changes(load_device(saved).content, load_device(now).content)
        raise CodesignError(f"{ckpt} trained for another device than {label(given)} holds now: it has changed since "
                            f"({what}); --resume continues that run exactly: restore the file, or {restart}")
    raise CodesignError(f"{ckpt} was written by a run with a different 'target' setting (it trains for the device "
                        f"{label(saved)}, not {label(given)}); resume with the same --fit device, or {restart}")


def _save_checkpoint(run: _Run, history: List[Dict[str, Any]], elapsed: float) -> None:
    if run.run_dir is None:
        return
    p = run.progress
    atomic.torch_save(run.run_dir.checkpoint, {
        "format": CKPT_FORMAT, "recipe": recipe_to_dict(run.recipe),
        "model_spec": spec_of(run.model, run.splits.in_shape, run.splits.num_classes),
        "epoch": p.epoch + 1, "step": p.step, "model": run.model.state_dict(),
        "optimizer": run.optimizer.state_dict(), "method": run.method.state_dict(), "history": history,
        "train_flops": [run.ledger.flops_dense, run.ledger.flops_sparse], "elapsed": elapsed,
        "metrics": run.metrics, "units": run._units.state_dict() if run._units is not None else None,
        "cost": run.ledger.cost.as_dict(),
    })
    atomic.write_csv(run.run_dir.history, history)


def _restore(run: _Run, ckpt: Dict[str, Any]) -> Tuple[int, List[Dict[str, Any]], float]:
    conform(run.model, ckpt["model"])
    run.model.load_state_dict(ckpt["model"])
    if ckpt.get("units") is not None:
        run.units.load_state_dict(ckpt["units"])
    run.method.load_state_dict(ckpt["method"])
    run.new_optimizer()
    run.optimizer.load_state_dict(ckpt["optimizer"])
    run.progress.step = ckpt["step"]
    run.ledger.flops_dense, run.ledger.flops_sparse = ckpt["train_flops"]
    run.metrics = dict(ckpt.get("metrics", {}))
    if ckpt.get("cost") is not None:      # the cost steps were charged with, as the killed run had it
        run.ledger.cost = ModelCost(**ckpt["cost"])
        run._cost_version = run._units.version if run._units is not None else -1
    return ckpt["epoch"], list(ckpt["history"]), float(ckpt["elapsed"])


def fit(recipe: Recipe, run_dir: str | Path | None = None, *, resume: bool = False, overwrite: bool = False,
        events: Events | None = None, splits: Splits | None = None, data_dir=None,
        model: nn.Module | None = None, method: Method | None = None) -> FitResult:
    """The training stage: train ``recipe`` (optionally starting from ``model``, any module the unit
    tracer handles); artifacts go to ``run_dir``/train (see codesign.rundir). Compaction is the next
    stage: :func:`codesign.compaction.compact_run`."""
    events = events or quiet
    rd = RunDir(run_dir) if run_dir is not None else None
    ckpt_path = rd.checkpoint if rd is not None else None
    if rd is not None and rd.holds_training() and not (resume or overwrite):
        raise CodesignError(f"{rd.root} already holds a training run; pass --resume to continue it "
                            f"or --force to start over")
    ckpt = read(ckpt_path, CKPT_FORMAT) if (ckpt_path and resume and ckpt_path.exists()) else None
    if model is None:
        check_model_name(recipe.model.name)    # names are checked before any data is loaded
        if ckpt is not None and (ckpt.get("model_spec") or {}).get("pickled"):
            raise CodesignError(f"{ckpt_path} trained a hand-built {ckpt['model_spec']['name']}; resume with "
                                f"fit(..., model=<a new {ckpt['model_spec']['name']}>), or build it with a factory "
                                f"(FILE.py:FUNCTION) so that the checkpoint alone rebuilds it")
    method = method or build_method(recipe.method.name, recipe.method.params)
    device_given = recipe.target.device
    recipe = with_recorded_device(recipe)    # trains for, and records, the content of a device file read once
    if recipe.train.threads:
        torch.set_num_threads(recipe.train.threads)
    seed_everything(recipe.train.seed)
    splits = splits if splits is not None else _load_splits(recipe, data_dir)
    run = _Run(recipe, _model_for(recipe, model, splits), splits, method, rd, events)
    start = measure(run.model, run.positions)   # the recipe's architecture (or the given model), before the method
    start_epoch, history, elapsed = 0, [], 0.0
    if ckpt is not None:
        _check_same_recipe(ckpt["recipe"], recipe, ckpt_path, device_given)
        start_epoch, history, elapsed = _restore(run, ckpt)
        atomic.write_csv(rd.history, history)   # a kill may have hit between the two
    else:
        method.setup(run.ctx)
        run.new_optimizer()
    if rd is not None:
        atomic.write_text(rd.config, _yaml(recipe_record(recipe, rd.root)))
    p = run.progress
    p.total_epochs = method.total_epochs(recipe.train.epochs)
    p.steps_per_epoch = -(-len(splits.train[1]) // recipe.train.batch_size)
    if run.ledger.cost is None:
        run.refresh_cost()
    events("start", {"start_epoch": start_epoch, "total_epochs": p.total_epochs,
                     "steps_per_epoch": p.steps_per_epoch, "resumed": ckpt is not None})
    for epoch in range(start_epoch, p.total_epochs):
        p.epoch = epoch
        t0 = time.perf_counter()
        method.on_epoch_start(run.ctx)
        row = _train_epoch(run, p.steps_per_epoch)
        _check_finite(row, epoch, recipe)
        p.epoch_metrics = {k: v for k, v in row.items() if isinstance(v, (int, float))}
        changed = method.on_epoch_end(run.ctx)
        if changed or run.structure_changed():
            run.refresh_cost()
        row.update(_epoch_metrics(run))
        elapsed += time.perf_counter() - t0
        row["seconds"] = round(elapsed, 3)
        run.metrics = {k: v for k, v in row.items() if isinstance(v, (int, float))}
        history.append(row)
        _save_checkpoint(run, history, elapsed)
        events("epoch", dict(row))
    summary = _summary(run, history, elapsed, start)
    if run.ctx.budget is not None:
        budget = run.ctx.budget
        fixed = _fixed_point(run, budget.spec.precision, summary)
        sections = {"fixed_point": fixed.section()} if fixed is not None else {}
        check, warnings = budget.write_report(run.model, rd.sim, sections) if rd is not None else \
            (budget.check(run.model), [])
        summary.update(check.summary())
        run.say(check.describe())
        if fixed is not None:            # how the design the budget priced answers, right after the verdict
            run.say(fixed.line())
        if warnings:                     # the design's own (e.g. a layer HLS refuses): not only in the report
            summary["budget_warnings"] = warnings
            for warning in warnings:
                run.say(f"warning: {warning}")
    if rd is not None:
        units = run._units
        save_model(rd.trained_model, run.model, source="trained", recipe=recipe_to_dict(recipe), metrics=summary,
                   masks=units.masks.state_dict() if units is not None else None, in_shape=list(splits.in_shape),
                   pruned=units is not None and units.pruned_anything)
        atomic.write_json(rd.cost, summary)
    events("end", summary)
    return FitResult(run.model, history, summary, rd.root if rd is not None else None)


def _fixed_point(run: _Run, precision: str, summary: Dict[str, Any]):
    """The end of a --fit run: the trained model at the budget's precision, emulated as the export computes it, on
    held-out test samples (:func:`~codesign.export.accuracy.held_out_check`); its fields go into ``summary``
    (``fixed_*`` as a sweep's columns, ``fixed_warning`` when clearly below the export's target agreement). A model
    the export cannot convert is a note (``fixed_error``), not a failed run. None when nothing was measured."""
    from .export.accuracy import held_out_check

    try:
        fixed = held_out_check(run.model, precision, run.splits)
    except CodesignError as err:
        summary["fixed_error"] = str(err)
        run.say(f"note: the fixed-point agreement at {precision} was not measured: {err}")
        return None
    summary.update(fixed.result.fields())
    if fixed.below:
        summary["fixed_warning"] = fixed.line().removeprefix("warning: ")
    return fixed


def _check_finite(row: Dict[str, Any], epoch: int, recipe: Recipe) -> None:
    """A training loss that is NaN or infinite ends the run before its checkpoint: nothing after it can be
    meaningful, and the last finite epoch stays what --resume continues from."""
    if not math.isfinite(row["train_loss"]):
        raise CodesignError(f"training diverged in epoch {epoch + 1}: the training loss is {row['train_loss']}; "
                            f"lower the learning rate (optim.lr is {recipe.optim.lr:g}) or check the data; "
                            f"nothing of this epoch was saved")


def method_context(recipe: Recipe, method: Method, model: nn.Module, splits: Splits) -> MethodContext:
    """The context fit() hands ``method`` before the first epoch of a fresh run (set up, optimiser
    made), for driving a method's hooks by hand (tests, tools); nothing is written."""
    run = _Run(recipe, model, splits, method, None, quiet)
    method.setup(run.ctx)
    run.new_optimizer()
    run.progress.total_epochs = method.total_epochs(recipe.train.epochs)
    run.progress.steps_per_epoch = -(-len(splits.train[1]) // recipe.train.batch_size)
    run.refresh_cost()
    return run.ctx


def _train_epoch(run: _Run, steps_per_epoch: int) -> Dict[str, Any]:
    recipe, model, method, p, ctx = run.recipe, run.model, run.method, run.progress, run.ctx
    seed = epoch_seed(recipe.train.seed, p.epoch)
    seed_everything(seed)
    gen = torch.Generator().manual_seed(seed)
    x_all, y_all = run.splits.train
    order = torch.randperm(len(y_all), generator=gen)
    bs = recipe.train.batch_size
    model.train()
    loss_sum, correct, seen = 0.0, 0, 0
    for i in range(steps_per_epoch):
        index = order[i * bs:(i + 1) * bs]
        x = augment_batch(x_all[index], run.augment, gen)
        y = y_all[index]
        lr = lr_at(p.epoch + i / steps_per_epoch, p.total_epochs, recipe.optim.lr, recipe.schedule)
        set_lr(run.optimizer, lr)
        run.optimizer.zero_grad(set_to_none=True)
        p.batch = (x, y)
        out = model(x)
        if p.step == 0 and not bool(torch.isfinite(out).all()):
            raise CodesignError("the model's outputs are NaN/inf on the first training batch, before any training "
                                "step: its forward or its initial weights make them, not the learning rate; check "
                                "the model (e.g. a division by zero or a log of a negative value)")
        loss = ctx.loss(out, y)
        total = run.teacher.loss(out, x, loss) if run.teacher is not None else loss
        reg = method.regulariser(ctx)
        total = total + reg if reg is not None else total
        p.last_loss = loss.detach()
        total.backward()
        method.after_backward(ctx)         # sees dense gradients (before masking)
        if run._units is not None:
            run._units.mask_gradients()
        run.optimizer.step()
        if run._units is not None:
            run._units.apply_masks()       # masked weights stay exactly zero
        p.step += 1
        run.ledger.charge(TRAIN_FLOPS_PER_FORWARD * run.ledger.cost.flops_dense * len(y),
                          TRAIN_FLOPS_PER_FORWARD * run.ledger.cost.flops_sparse * len(y))
        if run.teacher is not None:
            run.ledger.charge(run.teacher.flops_per_sample * len(y), run.teacher.flops_per_sample * len(y))
        if method.after_step(ctx) or run.structure_changed():
            run.refresh_cost()
        n = len(y)
        loss_sum += loss.item() * n
        correct += int((out.argmax(1) == y).sum())
        seen += n
        run.events("step", {"epoch": p.epoch, "step": i + 1, "loss": loss_sum / seen, "acc": correct / seen})
    return {"epoch": p.epoch + 1, "lr": run.optimizer.param_groups[0]["lr"],
            "train_loss": loss_sum / max(seen, 1), "train_acc": correct / max(seen, 1)}


def _epoch_metrics(run: _Run) -> Dict[str, Any]:
    row: Dict[str, Any] = {}
    if run.splits.val is not None:
        row["val_loss"], row["val_acc"] = run.evaluate("val")
    row["test_loss"], row["test_acc"] = run.evaluate("test")
    row.update(run.ledger.cost.as_dict())
    row["train_flops_dense"] = run.ledger.flops_dense
    row["train_flops_sparse"] = run.ledger.flops_sparse
    row.update({f"method_{k}": v for k, v in run.method.summary().items()})
    return row


def _summary(run: _Run, history: List[Dict[str, Any]], elapsed: float, start: ModelCost) -> Dict[str, Any]:
    """The run's cost.json; ``start``: the model's size as training began (``start_params``, ``start_flops_dense``:
    what a method that grows or prunes units changed, and what compaction reports the reduction from)."""
    last = history[-1] if history else {}
    cost, r = run.ledger.cost, run.recipe
    return {
        "model": (getattr(run.model, "codesign_spec", None) or {}).get("name") or type(run.model).__name__,
        "dataset": r.data.name, "method": r.method.name,
        "epochs": len(history), "test_acc": last.get("test_acc"), "test_loss": last.get("test_loss"),
        "val_acc": last.get("val_acc"), "start_params": start.params, "start_flops_dense": start.flops_dense,
        "params": cost.params, "nonzeros": cost.nonzeros,
        "flops_dense": cost.flops_dense, "flops_sparse": cost.flops_sparse,
        "train_flops_dense": run.ledger.flops_dense, "train_flops_sparse": run.ledger.flops_sparse,
        "wall_seconds": round(elapsed, 3), "flops_convention": "2 x MACs of Conv/Linear per sample; "
        "training = 3 x forward per sample",
        **{f"method_{k}": v for k, v in run.method.summary().items()},
    }


def _yaml(obj: Dict[str, Any]) -> str:
    import yaml

    return yaml.safe_dump(obj, sort_keys=False)
