"""Making the model of a training point: the shared dense run, then train / prune / compact.

Every function here runs in a worker (a local process or a Ray task) and writes its artifacts into
its own folder of the run directory; a finished one leaves ``result.json`` (written last,
atomically), so a resumed sweep never repeats it and a killed one continues its training from the
last epoch checkpoint (``fit(resume=True)``).

    RUN/base/<base key>/train/{ckpt.pt,model.pt,cost.json}     the dense run of a fine-tune sweep
    RUN/models/<model key>/train/…  compact/model.pt            a trained point (a run directory, codesign.rundir)
    RUN/models/<model key>/model.pt                             a pruned-only point (train.mode none)
    RUN/models/<model key>/result.json                          accuracy, size, FLOPs, training cost
"""
from __future__ import annotations

import contextlib
import copy
import json
import time
from pathlib import Path
from typing import Any, Dict, Iterator, Optional, Tuple

import torch
import torch.nn as nn

from .. import atomic
from ..checkpoint import load_model, save_model
from ..config import Recipe, validate
from ..data import Splits, check_input_shape, load_dataset
from ..flops import model_cost
from ..memo import Memo
from ..rundir import RunDir
from .oneshot import OneShot, prune_model
from .plan import BaseTask, ModelTask, content_key

_SPLITS = Memo(5)
_STARTS = Memo(5)


@contextlib.contextmanager
def torch_threads(threads: Optional[int]) -> Iterator[None]:
    """Run with ``threads`` torch threads (None: unchanged), then restore the process's setting.
    Small forward passes (pruning, compaction, layer extraction) use one: on a busy machine extra
    threads spin against each other and a ResNet-20 shape pass goes from ms to a second."""
    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(int(threads))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def load_splits(recipe: Recipe, data_dir: Optional[str]) -> Splits:
    """The recipe's dataset, loaded once per process."""
    d = recipe.data
    key = content_key({"data": d.model_dump(mode="json"), "seed": recipe.train.seed, "dir": data_dir})
    return _SPLITS.get_or_make(key, lambda: load_dataset(
        d.name, data_dir, val_fraction=d.val_fraction, train_limit=d.train_limit, test_limit=d.test_limit,
        split_seed=recipe.train.seed, **d.options))


def run_base(task: BaseTask, data_dir: Optional[str] = None, threads: Optional[int] = None) -> Dict[str, Any]:
    """Train (or resume, or find finished) the dense run a fine-tune sweep shares."""
    from ..train import fit

    run = RunDir(task.out_dir)
    model_file, cost_file = run.trained_model, run.cost
    if model_file.exists() and cost_file.exists():
        return {"model_file": str(model_file), **json.loads(cost_file.read_text())}
    recipe = validate(Recipe, task.recipe, f"base run {task.key}")
    with torch_threads(threads):
        result = fit(recipe, run.root, resume=True, splits=load_splits(recipe, data_dir))
    return {"model_file": str(model_file), **result.summary}


def run_model(task: ModelTask, base_file: Optional[str] = None, threads: Optional[int] = None) -> Dict[str, Any]:
    """Make the model of one training point; returns (and writes) its result.json."""
    out = Path(task.out_dir)
    result_file = out / "result.json"
    if result_file.exists():
        return json.loads(result_file.read_text())
    start = time.perf_counter()
    with torch_threads(1 if task.mode == "none" else threads):
        result = _pruned_only(task, out) if task.mode == "none" else _trained(task, out, base_file)
    result.update(model_key=task.key, make_seconds=round(time.perf_counter() - start, 3))
    atomic.write_json(result_file, result)
    return result


# --------------------------------------------------------------------------- train.mode none

def _starting_model(task: ModelTask) -> Tuple[nn.Module, str, int]:
    """(model, where its weights come from, its parameters) of a pruned-only point: made once per
    process, copied for each point."""
    key = (task.model, task.width, task.weights, task.seed)

    def start():
        model, weights = _make_starting_model(task)
        return model, weights, sum(p.numel() for p in model.parameters())

    model, weights, params = _STARTS.get_or_make(key, start)
    return copy.deepcopy(model), weights, params


def _make_starting_model(task: ModelTask) -> Tuple[nn.Module, str]:
    from ..model_source import build_model, is_factory, names_model

    if task.weights not in ("auto", "random"):
        model, meta = load_model(task.weights)
        if not names_model(task.model, meta["model_spec"]):
            from ..errors import ConfigError
            raise ConfigError(f"train.weights {task.weights} holds a '{meta['model_spec']['name']}', "
                              f"not the point's model '{task.model}'")
        return model, f"model file {task.weights}"
    from ..export.weights import resolve_model

    recipe = task.recipe or {}
    args = (recipe.get("model") or {}).get("args") or {}
    dataset = (recipe.get("data") or {}).get("name") if task.recipe else None
    in_shape = ((recipe.get("data") or {}).get("options") or {}).get("in_shape")    # synthetic data's own shape
    if task.weights == "random" and not is_factory(task.model):    # a factory's model is always a random init
        torch.manual_seed(task.seed)
        model = build_model(task.model, None, width=task.width)
        return model.eval(), f"random init, seed {task.seed}"
    model, source = resolve_model(task.model, None, task.width, task.seed, model_args=args, dataset=dataset,
                                  in_shape=in_shape, data_dir=task.data_dir)
    return model, source.describe()


def _pruned_only(task: ModelTask, out: Path) -> Dict[str, Any]:
    from ..compaction import compact
    from ..methods import METHODS, build_method

    model, weights, original_params = _starting_model(task)
    in_shape = tuple(model.codesign_spec["in_shape"])
    masks = None
    if METHODS.get(task.method).one_shot is not None:
        masks = prune_model(model, in_shape, build_method(task.method, task.params)).masks
    small, manifest = compact(model, masks, example=None)
    model_file = out / "model.pt"
    save_model(model_file, small, source="sweep (pruned, not trained)", weights=weights)
    result = {"model_file": str(model_file), "in_shape": list(in_shape), "params": manifest["params_after"],
              "nonzeros": manifest["nonzeros"], "params_original": original_params,
              "density_reached": manifest["nonzeros"] / max(1, original_params),
              "flops_dense": manifest["flops_dense_after"], "flops_sparse": manifest["flops_sparse"]}
    result.update(weights_source=weights, train_seconds=0.0, train_flops=0.0)
    if task.recipe is not None:
        recipe = validate(Recipe, task.recipe, f"model {task.key}")
        result["accuracy"] = test_accuracy(small, load_splits(recipe, task.data_dir))
    return result


def test_accuracy(model: nn.Module, splits: Splits) -> float:
    from ..train import evaluate

    check_input_shape(model.codesign_spec["in_shape"], splits, model.codesign_spec["name"])
    x, y = splits.test
    return evaluate(model, ((x[i:i + 1000], y[i:i + 1000]) for i in range(0, len(y), 1000)))[1]


# --------------------------------------------------------------------------- scratch and finetune

def _trained(task: ModelTask, out: Path, base_file: Optional[str]) -> Dict[str, Any]:
    from ..compaction import compact_run
    from ..methods import METHODS, build_method
    from ..model_source import build_model
    from ..train import fit

    recipe = validate(Recipe, task.recipe, f"model {task.key}")
    splits = load_splits(recipe, task.data_dir)
    model = method = None
    if task.mode == "finetune":
        model, _meta = load_model(base_file or task.start_from)
        model.train()
        if METHODS.get(task.method).one_shot is not None:
            method = OneShot(build_method(task.method, task.params))
        original = model_cost(model, splits.in_shape).params
    else:
        original = model_cost(build_model(recipe.model.name, recipe.model.args, splits.in_shape, splits.num_classes,
                                          recipe.model.width), splits.in_shape).params
    fitted = fit(recipe, out, resume=True, splits=splits, model=model, method=method)
    fitted.summary.update(compact_run(out))
    model_file = RunDir(out).final_model()
    final, _meta = load_model(model_file)
    s = fitted.summary
    result = _describe(final, splits.in_shape, original, str(model_file))
    result.update(accuracy=s.get("test_acc"), val_accuracy=s.get("val_acc"), train_seconds=s.get("wall_seconds"),
                  train_flops=s.get("train_flops_dense"), epochs=s.get("epochs"),
                  **{k: v for k, v in s.items() if k.startswith("method_")})
    return result


def _describe(model: nn.Module, in_shape, original_params: int, model_file: str) -> Dict[str, Any]:
    cost = model_cost(model, in_shape)
    return {"model_file": model_file, "in_shape": list(in_shape), "params": cost.params, "nonzeros": cost.nonzeros,
            "params_original": original_params, "density_reached": cost.nonzeros / max(1, original_params),
            "flops_dense": cost.flops_dense, "flops_sparse": cost.flops_sparse}
