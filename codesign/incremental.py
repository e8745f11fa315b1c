"""Incremental learning with grow-and-prune (Dai, Yin, Jha, arXiv 1905.10952; docs/methods.md#incremental-learning).

A model trained on part of a dataset — the *old* data, training samples ``0 .. start-1`` — is
updated when new samples of the same task arrive (``start .. stop-1``): ``nest`` with ``start:
model`` adopts the previous (compact) model, grows connections and neurons on the new data plus
a replayed fraction of the old, then prunes back to its target density. :func:`update` runs this
through the ordinary training loop (checkpoints, exact resume, training-FLOP accounting at the
model's current size, growth passes included) and writes ``RUN/incremental.json`` comparing the
update's training FLOPs with

- ``scratch``: the recipe's dense architecture trained from a fresh initialisation on old + new
  data for the previous run's number of epochs;
- ``finetune``: that dense architecture, already trained on the old data, fine-tuned on the
  update's data (new + replay) for the update's epochs (the training on the old data is not
  charged);
- ``gp_scratch``: grow-and-prune from a fresh seed on old + new data with the previous run's
  recipe (only when the previous run was ``nest``).

``compare="estimate"`` computes them from measured per-sample costs: the loop charges 3 × the
forward FLOPs per sample, so a dense run costs exactly 3 · FLOPs · samples · epochs, and the
previous NeST run's measured cost is scaled by the ratio of training samples. ``compare="run"``
trains them (in ``RUN/compare/<name>``) and reports their measured cost and test accuracy.
"""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Optional

import torch.nn as nn

from . import atomic
from .checkpoint import load_model
from .config import Recipe, apply_overrides, load_recipe, read_yaml, recipe_to_dict, validate
from .data import load_dataset
from .data.subset import Subset
from .compaction import compact_run
from .yaml_paths import RECIPE_PATHS, rebase
from .errors import CodesignError
from .events import Events, quiet, say
from .flops import TRAIN_FLOPS_PER_FORWARD, model_cost
from .rundir import RunDir
from .train import FitResult, evaluate, fit
from .model_source import build_model

COMPARE_MODES = ("estimate", "run", "none")
CONVENTIONS = ("sparse", "dense")


@dataclass(frozen=True)
class NewData:
    """Training samples ``start .. stop-1`` (stop None: to the end) of ``dataset`` (None: the model's)."""

    start: int
    stop: Optional[int] = None
    dataset: Optional[str] = None


def parse_new_data(text: str) -> NewData:
    """'30000:60000', '30000:' or 'mnist:30000:60000' → NewData."""
    parts = text.strip().split(":")
    if len(parts) not in (2, 3):
        raise CodesignError(f"--new-data expects [DATASET:]START:STOP (e.g. 30000:60000 or mnist:30000:), got '{text}'")
    dataset = parts[0] if len(parts) == 3 else None
    try:
        start, stop = int(parts[-2] or 0), int(parts[-1]) if parts[-1] else None
    except ValueError:
        raise CodesignError(f"--new-data: START and STOP must be sample indices, got '{text}'") from None
    if start < 1 or (stop is not None and stop <= start):
        raise CodesignError(f"--new-data: need 1 <= START < STOP (the samples before START are the old data), "
                            f"got '{text}'")
    return NewData(start, stop, dataset or None)


@dataclass
class Previous:
    """The model to update and what is known about the run that trained it."""

    model: nn.Module
    model_file: Path
    recipe: Optional[Dict[str, Any]]
    cost: Optional[Dict[str, Any]]


def load_previous(source: str | Path) -> Previous:
    """A run directory (its compact/model.pt, else train/model.pt) or a model file."""
    path = Path(source)
    if path.is_dir():
        run: Optional[RunDir] = RunDir(path)
        model_file = run.final_model() or (path / "model.pt" if (path / "model.pt").exists() else None)
        if model_file is None:
            raise CodesignError(f"{path} holds no compact/model.pt or train/model.pt; pass a run directory of "
                                f"`codesign train` or a model file")
    elif path.exists():
        model_file = path
        run = RunDir(path.parent.parent) if path.parent.name in ("train", "compact") else None
    else:
        raise CodesignError(f"--resume-from: not found: {path}; pass a run directory or a model file")
    model, meta = load_model(model_file)
    recipe = meta.get("recipe")
    if recipe is None and run is not None and run.config.exists():
        recipe = rebase(read_yaml(run.config), RECIPE_PATHS, run.config, check=False)   # its paths: beside it
    cost = json.loads(run.cost.read_text()) if run is not None and run.cost.exists() else None
    return Previous(model, model_file, recipe, cost)


def update_recipe(previous: Previous, new: NewData, replay: float, recipe: str | None = None,
                  overrides: Optional[Dict[str, Any]] = None) -> Recipe:
    """The update's recipe: the previous run's (or ``recipe``), method ``nest`` with ``start: model``
    (unless ``overrides`` name another method) and its default growth phase (a third of the
    update's epochs), trained on the new slice plus ``replay``; then ``overrides``."""
    if recipe is not None:
        base = recipe_to_dict(load_recipe(recipe))
    elif previous.recipe is not None:
        base = recipe_to_dict(validate(Recipe, previous.recipe, f"recipe of {previous.model_file}"))
    else:
        raise CodesignError(f"{previous.model_file} does not say which recipe trained it; name one "
                            f"(codesign train RECIPE --resume-from ...)")
    prev_data = (previous.recipe or base)["data"]
    dataset = new.dataset or prev_data["name"]
    if dataset != prev_data["name"]:
        raise CodesignError(f"--new-data: the model was trained on '{prev_data['name']}'; an incremental update "
                            f"takes new samples of the same dataset, not '{dataset}'")
    if previous.recipe is not None:
        _check_old_before_new(previous.recipe["data"], new)
    if base["method"]["name"] != "nest":
        base["method"] = {"name": "nest", "params": {}}
    # the growth phase of the first training says nothing about an update: a third of its epochs
    base["method"]["params"] = {k: v for k, v in base["method"]["params"].items() if k != "growth_epochs"}
    base["name"] = base["name"] if base["name"].endswith("_update") else f"{base['name']}_update"
    options = {**base["data"].get("options", {}), "subset": {"start": new.start, "stop": new.stop, "replay": replay}}
    base["data"] = {**base["data"], "name": dataset, "train_limit": None, "options": options}
    data = apply_overrides(base, overrides or {})
    if data["method"]["name"] == "nest":
        data["method"]["params"] = {**(data["method"].get("params") or {}), "start": "model"}
    return validate(Recipe, data, "update recipe")


def _check_old_before_new(prev_data: Dict[str, Any], new: NewData) -> None:
    """The previous run must have trained only on samples before ``new.start``."""
    subset = (prev_data.get("options") or {}).get("subset")
    first, end = (0, None) if subset is None else (subset.get("start", 0), subset.get("stop"))
    if prev_data.get("train_limit"):
        end = min(end, first + prev_data["train_limit"]) if end is not None else first + prev_data["train_limit"]
    if end is None or end > new.start:
        seen = f"0:{end}" if end is not None else "all of them"
        raise CodesignError(f"--new-data {new.start}:{new.stop or ''} overlaps the training samples the model was "
                            f"trained on ({seen}); train the first model on the old part only (e.g. --train-limit "
                            f"{new.start}) or start the new data after them")


def selection_size(data: Dict[str, Any], n_total: int) -> int:
    """Training samples a recipe's data section selects out of ``n_total``."""
    n = n_total
    subset = (data.get("options") or {}).get("subset")
    if subset is not None:
        s = Subset(**subset)
        n = (s.stop or n_total) - s.start + round(s.replay * s.start)
    if data.get("train_limit"):
        n = min(n, data["train_limit"])
    return n


# --------------------------------------------------------------------------- the update

@dataclass
class UpdateResult:
    fit: FitResult
    report: Dict[str, Any]


PROTOCOL = ("data-incremental: the same task and classes; old = training samples before data.start, new = "
            "data.start..data.stop; training FLOPs = 3 x forward FLOPs per sample at the model's current size "
            "(sparse: nonzero weights; dense: dense-structural), growth passes included")


def update(recipe: Recipe, previous: Previous, run_dir: str | Path, *, compare: str = "estimate",
           resume: bool = False, overwrite: bool = False, events: Events = quiet, data_dir=None) -> UpdateResult:
    """Grow-and-prune update of ``previous`` on the recipe's new data; writes RUN/incremental.json."""
    events = events or quiet
    if compare not in COMPARE_MODES:
        raise CodesignError(f"--compare must be one of {', '.join(COMPARE_MODES)}, got '{compare}'")
    run_dir = Path(run_dir)
    d = recipe.data
    full = load_dataset(d.name, data_dir, val_fraction=d.val_fraction, test_limit=d.test_limit,
                        split_seed=recipe.train.seed, **{k: v for k, v in d.options.items() if k != "subset"})
    n_total = len(full.train[1])
    subset = Subset(**d.options["subset"])
    n_all = subset.stop or n_total
    n_update = selection_size(recipe_to_dict(recipe)["data"], n_total)
    start_cost = model_cost(previous.model, full.in_shape)
    before = evaluate(previous.model, _chunks(full.test, recipe.train.eval_batch_size))[1]
    result = fit(recipe, run_dir, resume=resume, overwrite=overwrite, events=events, data_dir=data_dir,
                 model=previous.model)
    result.summary.update(compact_run(run_dir, events))
    s = result.summary
    report: Dict[str, Any] = {
        "protocol": PROTOCOL,
        "start_model": {"file": str(previous.model_file), "params": start_cost.params,
                        "nonzeros": start_cost.nonzeros, "test_acc": before},
        "data": {"dataset": d.name, "old": [0, subset.start], "new": [subset.start, n_all], "replay": subset.replay,
                 "replayed_samples": round(subset.replay * subset.start), "update_samples": n_update,
                 "old_plus_new_samples": n_all},
        "update": {"how": "ran", "run_dir": str(run_dir), "epochs": s["epochs"], "samples": n_update,
                   "train_flops_sparse": s["train_flops_sparse"], "train_flops_dense": s["train_flops_dense"],
                   "test_acc": s["test_acc"], "params": s.get("compact_params", s["params"]),
                   "nonzeros": s["nonzeros"], "flops_sparse": s["flops_sparse"]},
        "compare": compare, "comparators": {},
    }
    if compare == "estimate":
        report["comparators"] = estimate_comparators(recipe, previous, n_all, n_update, n_total, full)
    elif compare == "run":
        report["comparators"] = run_comparators(recipe, previous, run_dir, n_all, n_update,
                                                events=events, data_dir=data_dir, overwrite=overwrite)
    report["savings"] = savings(report["update"], report["comparators"])
    atomic.write_json(RunDir(run_dir).incremental, report)
    return UpdateResult(result, report)


def savings(update_row: Dict[str, Any], comparators: Dict[str, Dict[str, Any]]) -> Dict[str, Dict[str, float]]:
    """1 - update / comparator training FLOPs, per comparator and convention."""
    return {f"vs_{name}": {c: 1.0 - update_row[f"train_flops_{c}"] / row[f"train_flops_{c}"]
                           for c in CONVENTIONS if row.get(f"train_flops_{c}")}
            for name, row in comparators.items()}


def _chunks(pair, size: int):
    x, y = pair
    for start in range(0, len(y), size):
        yield x[start:start + size], y[start:start + size]


def _previous_epochs(recipe: Recipe, previous: Previous) -> int:
    return int(previous.recipe["train"]["epochs"]) if previous.recipe else recipe.train.epochs


def estimate_comparators(recipe: Recipe, previous: Previous, n_all: int, n_update: int, n_total: int,
                         splits) -> Dict[str, Dict[str, Any]]:
    """Comparator costs from measured per-sample costs (see the module doc)."""
    dense_model = build_model(recipe.model.name, recipe.model.args, splits.in_shape, splits.num_classes,
                              recipe.model.width)
    per_sample = TRAIN_FLOPS_PER_FORWARD * model_cost(dense_model, splits.in_shape).flops_dense
    prev_epochs = _previous_epochs(recipe, previous)
    out = {}
    for name, samples, epochs in (("scratch", n_all, prev_epochs), ("finetune", n_update, recipe.train.epochs)):
        flops = per_sample * samples * epochs
        out[name] = {"how": "estimated: 3 x dense forward FLOPs x samples x epochs", "epochs": epochs,
                     "samples": samples, "train_flops_sparse": flops, "train_flops_dense": flops}
    prev = previous.recipe
    if prev is not None and prev["method"]["name"] == "nest" and previous.cost is not None:
        prev_samples = selection_size(prev["data"], n_total)
        scale = n_all / prev_samples
        out["gp_scratch"] = {"how": f"estimated: the previous run's measured cost x {n_all}/{prev_samples} samples",
                             "epochs": prev_epochs, "samples": n_all,
                             **{f"train_flops_{c}": previous.cost[f"train_flops_{c}"] * scale for c in CONVENTIONS}}
    return out


def run_comparators(recipe: Recipe, previous: Previous, run_dir: Path, n_all: int, n_update: int, *,
                    events: Events = quiet, data_dir=None, overwrite: bool = False) -> Dict[str, Dict[str, Any]]:
    """Train the comparators in RUN/compare/<name> and report their measured cost and accuracy."""
    events = events or quiet
    base = recipe_to_dict(recipe)
    subset = dict(base["data"]["options"]["subset"])
    prev_epochs = _previous_epochs(recipe, previous)
    everything = {"start": 0, "stop": n_all}

    def variant(name: str, method: Dict[str, Any], data_subset: Dict[str, Any], epochs: int, start=None) -> Recipe:
        d = copy.deepcopy(start or base)
        d["name"] = f"{base['name']}_{name}"
        d["method"] = method
        options = {**d["data"].get("options", {}), "subset": data_subset}
        d["data"] = {**d["data"], "train_limit": None, "options": options}
        d["train"] = {**d["train"], "epochs": epochs}
        return validate(Recipe, d, f"comparator '{name}'")

    def train(name: str, cfg: Recipe, model=None) -> FitResult:
        say(events, f"compare: training {name} ({cfg.method.name}, {cfg.train.epochs} epochs)")
        where = RunDir(run_dir).comparator(name).root
        result = fit(cfg, where, resume=not overwrite, overwrite=overwrite, events=events, data_dir=data_dir,
                     model=model)
        result.summary.update(compact_run(where, events))
        return result

    dense = {"name": "dense", "params": {}}
    plan = {"scratch": (train("scratch", variant("scratch", dense, everything, prev_epochs)), n_all)}
    old = train("dense_old", variant("dense_old", dense, {"start": 0, "stop": subset["start"]}, prev_epochs))
    plan["finetune"] = (train("finetune", variant("finetune", dense, subset, recipe.train.epochs), old.model), n_update)
    if previous.recipe is not None and previous.recipe["method"]["name"] == "nest":
        prev = recipe_to_dict(validate(Recipe, previous.recipe, f"recipe of {previous.model_file}"))
        gp = variant("gp_scratch", prev["method"], everything, prev_epochs, start=prev)
        plan["gp_scratch"] = (train("gp_scratch", gp), n_all)
    return {name: {"how": "ran", "run_dir": str(res.run_dir), "epochs": res.summary["epochs"], "samples": samples,
                   "train_flops_sparse": res.summary["train_flops_sparse"],
                   "train_flops_dense": res.summary["train_flops_dense"], "test_acc": res.summary["test_acc"]}
            for name, (res, samples) in plan.items()}
