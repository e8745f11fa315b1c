"""From a spec to the work of a sweep: points, the models they need, the shared dense runs.

A *point* is one row of the results (training axes + hardware axes; a tiled point leaves the
dataflow-only ones blank, so each tiled design is one point). Its *model key* hashes what
decides the trained model (mode, model, width, method and parameters, density, recipe, training
settings), so points that differ only in hardware axes share one model and nothing retrains. The
dense run shared by a fine-tune sweep has its own *base key*. Keys are content hashes: a changed
spec recomputes exactly what changed, and a resumed sweep finds its finished work by key. A point on a
device file holds the file's content in its key (:func:`device_contents`), never only its path.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import math
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

from ..target import DATAFLOW_ONLY
from .spec import MethodChoice, Range, SweepSpec

TRAINING_AXES = ("model", "width", "method", "density")
HARDWARE_AXES = ("device", "template", "reuse_factor", "precision", "strategy", "io_type", "sparse_kernel")
AXES = TRAINING_AXES + HARDWARE_AXES


def content_key(obj: Any, length: int = 12) -> str:
    text = json.dumps(obj, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha1(text.encode()).hexdigest()[:length]


@dataclass(frozen=True)
class BaseTask:
    """The dense run a fine-tune sweep shares between densities."""
    key: str
    recipe: Dict[str, Any]
    out_dir: str


@dataclass(frozen=True)
class ModelTask:
    """Everything a worker needs to make (train/prune/compact) one model; picklable."""
    key: str
    mode: str
    model: str
    width: float
    method: str
    params: Dict[str, Any]
    density: Optional[float]
    recipe: Optional[Dict[str, Any]]            # training recipe (mode none: evaluation data only)
    out_dir: str
    base_key: Optional[str] = None              # finetune: the shared dense run
    start_from: Optional[str] = None            # finetune: a given model file instead of a base run
    weights: str = "auto"                       # none: where the starting weights come from
    seed: int = 0
    data_dir: Optional[str] = None
    label: str = ""                             # the method as the results name it

    def describe(self) -> str:
        density = "" if self.density is None else f" density {self.density:g}"
        return f"{self.model} {self.label or self.method}{density}"


@dataclass(frozen=True)
class CsimTask:
    key: str
    model_key: str
    precision: str
    samples: int
    jobs: int
    out_dir: str


@dataclass(frozen=True)
class EmulateTask:
    """The fixed-point accuracy of one model at one precision (bit-exact emulation, no g++)."""
    key: str
    model_key: str
    precision: str
    samples: int
    out_dir: str
    recipe: Optional[Dict[str, Any]] = None     # the data the model's float accuracy is measured on
    data_dir: Optional[str] = None


@dataclass(frozen=True)
class Point:
    point_id: str
    model_key: str
    axes: Dict[str, Any]
    csim_key: Optional[str] = None
    emulate_key: Optional[str] = None

    def needs(self) -> List[str]:
        """The keys of the accuracy jobs (C simulation, emulation) this point's row waits for."""
        return [k for k in (self.csim_key, self.emulate_key) if k]


@dataclass
class Plan:
    points: List[Point]
    models: Dict[str, ModelTask]
    bases: Dict[str, BaseTask]
    csims: Dict[str, CsimTask] = field(default_factory=dict)
    emulations: Dict[str, EmulateTask] = field(default_factory=dict)

    def restricted(self, points: Sequence[Point]) -> "Plan":
        """The plan of a subset of points (only the models, bases and simulations they need)."""
        models = {p.model_key: self.models[p.model_key] for p in points}
        bases = {m.base_key: self.bases[m.base_key] for m in models.values() if m.base_key}
        csims = {p.csim_key: self.csims[p.csim_key] for p in points if p.csim_key}
        emulations = {p.emulate_key: self.emulations[p.emulate_key] for p in points if p.emulate_key}
        return Plan(list(points), models, bases, csims, emulations)


# --------------------------------------------------------------------------- axis values

def _range_values(r: Range, integer: bool) -> List[float]:
    n = r.num or 1
    if n == 1:
        values = [r.low]
    elif r.log:
        values = [r.low * (r.high / r.low) ** (i / (n - 1)) for i in range(n)]
    else:
        values = [r.low + (r.high - r.low) * i / (n - 1) for i in range(n)]
    return _clean(values, integer)


def _clean(values, integer: bool) -> List[Any]:
    out: List[Any] = []
    for v in values:
        v = int(round(v)) if integer else float(f"{v:.6g}")
        if v not in out:
            out.append(v)
    return out


def _draw(r: Range, rng: random.Random, integer: bool) -> Any:
    v = math.exp(rng.uniform(math.log(r.low), math.log(r.high))) if r.log else rng.uniform(r.low, r.high)
    return _clean([v], integer)[0]


def axis_values(spec: SweepSpec, recipe_model: Tuple[str, float],
                target_cfg: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """Each axis as a list of values, or a Range (random search draws from it); hardware axes the grid
    leaves out come from the recipe's target (``target_cfg``)."""
    g = spec.grid
    return {"model": g.model or [recipe_model[0]], "width": g.width or [recipe_model[1]],
            "method": g.methods(), "density": g.density if g.density is not None else [None],
            **g.hardware(target_cfg)}


def grid_combinations(values: Dict[str, Any]) -> Iterator[Dict[str, Any]]:
    lists = [_range_values(v, a == "reuse_factor") if isinstance(v, Range) else v
             for a, v in ((a, values[a]) for a in AXES)]
    for combo in itertools.product(*lists):
        yield dict(zip(AXES, combo))


def random_combinations(values: Dict[str, Any], samples: int, seed: int) -> Iterator[Dict[str, Any]]:
    """Up to ``samples`` independent draws (duplicates are removed later); the whole grid when it is
    finite and not larger than ``samples``."""
    finite = all(not isinstance(v, Range) for v in values.values())
    if finite and math.prod(len(v) for v in values.values()) <= samples:
        yield from grid_combinations(values)
        return
    rng = random.Random(seed)
    for _ in range(samples * 20):
        yield {a: _draw(v, rng, a == "reuse_factor") if isinstance(v, Range) else rng.choice(v)
               for a, v in values.items()}


# --------------------------------------------------------------------------- the plan

def make_plan(spec: SweepSpec, run_dir: Path, data_dir: Optional[Path] = None) -> Plan:
    recipe = _recipe_dict(spec)
    model_cfg = (recipe or {}).get("model", {})
    values = axis_values(spec, (model_cfg.get("name", "lenet5"), float(model_cfg.get("width", 1.0))),
                         (recipe or {}).get("target"))
    if spec.search.kind == "grid":
        combos, wanted = grid_combinations(values), None
    else:
        combos, wanted = random_combinations(values, spec.search.samples, spec.search.seed), spec.search.samples
    plan = Plan([], {}, {})
    seen = set()
    contents = device_contents(values["device"])
    for combo in combos:
        point = _add_point(plan, spec, recipe, combo, Path(run_dir), data_dir, contents)
        if point.point_id not in seen:
            seen.add(point.point_id)
            plan.points.append(point)
            if wanted is not None and len(plan.points) >= wanted:
                break
    return plan.restricted(plan.points)


def device_contents(devices: Sequence[Any]) -> Dict[str, str]:
    """{device file on the axis: the digest of what it holds now} (:mod:`codesign.sim.device_record`): a point
    priced on a file is identified by the file's content, a shipped device's point by its name as before."""
    from ..sim import load_device
    from ..sim.device_record import digest, is_file

    return {d: digest(load_device(d)) for d in devices if is_file(d)}


def _recipe_dict(spec: SweepSpec) -> Optional[Dict[str, Any]]:
    if not spec.recipe:
        return None
    from ..config import load_recipe, recipe_to_dict

    return recipe_to_dict(load_recipe(spec.recipe, spec.overrides))


def _method_params(spec: SweepSpec, method: MethodChoice, density: Optional[float]) -> Tuple[Dict, Optional[float]]:
    from ..methods import density_knob

    params = dict(method.params)
    knob = density_knob(method.name, spec.train.density_param)
    if density is None or knob is None:
        return params, None                       # this method has no density: the axis does not apply
    params[knob] = density
    return params, density


def applicable(combo: Dict[str, Any]) -> Dict[str, Any]:
    """The point's axes with those its template does not read set to None (blank in the results): a tiled
    point's reuse factor, strategy, I/O type and sparse kernel would only repeat one design."""
    if combo["template"] != "tiled":
        return combo
    return {**combo, **{a: None for a in DATAFLOW_ONLY}}


def _add_point(plan: Plan, spec: SweepSpec, recipe, combo: Dict[str, Any], run_dir: Path, data_dir,
               contents: Dict[str, str]) -> Point:
    combo = applicable(combo)
    method: MethodChoice = combo["method"]
    params, density = _method_params(spec, method, combo["density"])
    model_task = _model_task(plan, spec, recipe, combo["model"], float(combo["width"]), method, params, density,
                             run_dir, data_dir)
    axes = {**combo, "method": method.shown, "density": density}
    hardware = {a: combo[a] for a in HARDWARE_AXES}
    csim_key = None
    if spec.csim.enabled:
        precision = combo["precision"] if spec.csim.precision == "point" else spec.csim.precision
        csim_key = content_key({"model": model_task.key, "precision": precision, "samples": spec.csim.samples})
        plan.csims.setdefault(csim_key, CsimTask(csim_key, model_task.key, precision, spec.csim.samples,
                                                 spec.csim.jobs, str(run_dir / "models" / model_task.key / "csim")))
    emulate_key = None
    if spec.emulate.on(spec):
        emulate_key = content_key({"model": model_task.key, "precision": combo["precision"],
                                   "samples": spec.emulate.samples, "emulate": 1})
        plan.emulations.setdefault(emulate_key, EmulateTask(emulate_key, model_task.key, combo["precision"],
                                                            spec.emulate.samples,
                                                            str(run_dir / "models" / model_task.key / "emulate"),
                                                            model_task.recipe, model_task.data_dir))
    # the emulation is not part of the point's identity: a sweep journaled before it existed resumes; a device
    # file's content is (added only for a file: a shipped device's point keeps its key)
    content = {"device_content": contents[combo["device"]]} if combo["device"] in contents else {}
    point_id = content_key({"model": model_task.key, "method": method.shown, **hardware, "csim": csim_key,
                            **content}, 16)
    return Point(point_id, model_task.key, axes, csim_key, emulate_key)


def _model_task(plan: Plan, spec: SweepSpec, recipe, model: str, width: float, method: MethodChoice,
                params: Dict, density, run_dir: Path, data_dir) -> ModelTask:
    from ..methods import METHODS

    t = spec.train
    recipe = _with_model(recipe, model, width) if recipe else None
    one_shot = METHODS.get(method.name).one_shot
    if t.mode != "scratch" and one_shot is not None:
        params = {**params, **one_shot}
    base_key = None
    if t.mode == "finetune" and not t.start_from:
        base_recipe = _set(recipe, {"method": {"name": "dense", "params": {}},
                                    "train": {**recipe["train"], "epochs": t.base_epochs}})
        base_key = content_key({"base": _training_part(base_recipe)})
        plan.bases.setdefault(base_key, BaseTask(base_key, base_recipe, str(run_dir / "base" / base_key)))
    training = {"mode": t.mode, "model": model, "width": width, "method": method.name, "params": params,
                "recipe": _training_part(recipe) if recipe else None}
    if t.mode == "finetune":
        recipe = _finetune_recipe(recipe, spec, method.name, params)
        training.update(base=base_key or content_key({"file": str(t.start_from)}), recipe=_training_part(recipe),
                        one_shot=one_shot is not None)
    elif t.mode == "scratch":
        recipe = _set(recipe, {"method": {"name": method.name, "params": params}})
        training["recipe"] = _training_part(recipe)
    else:
        training.update(weights=t.weights, seed=t.seed)
    key = content_key(training)
    task = ModelTask(key, t.mode, model, width, method.name, params, density, recipe,
                     str(run_dir / "models" / key), base_key, t.start_from if t.mode == "finetune" else None,
                     t.weights, t.seed, str(data_dir) if data_dir else None, method.shown)
    plan.models.setdefault(key, task)
    return task


def _with_model(recipe: Dict, model: str, width: float) -> Dict:
    """The recipe for ``model``; a factory's arguments (model.args) stay when the axis names the
    recipe's own model."""
    own = recipe.get("model") or {}
    args = own.get("args") or {} if own.get("name") == model else {}
    return _set(recipe, {"model": {"name": model, "width": width, **({"args": args} if args else {})}})


def _set(recipe: Dict, changes: Dict) -> Dict:
    return {**recipe, **changes}


def _training_part(recipe: Dict) -> Dict:
    """What of a recipe decides the trained weights: not its name, nor its hardware target (a sweep's
    recipe never trains for its device: :func:`codesign.sweep.spec.check_spec` refuses ``target.fit``)."""
    return {k: v for k, v in recipe.items() if k not in ("name", "target")}


def _finetune_recipe(recipe: Dict, spec: SweepSpec, method: str, params: Dict) -> Dict:
    t = spec.train
    data = dict(recipe["data"])
    if t.finetune_train_limit:
        data["train_limit"] = t.finetune_train_limit
    optim = {**recipe["optim"], "lr": t.finetune_lr or recipe["optim"]["lr"] / 10}
    return _set(recipe, {"data": data, "optim": optim, "method": {"name": method, "params": params},
                         "train": {**recipe["train"], "epochs": t.finetune_epochs},
                         "schedule": {**recipe["schedule"], "warmup_epochs": 0}})
