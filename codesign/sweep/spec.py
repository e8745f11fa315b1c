"""Sweep specs: YAML → a validated, frozen :class:`SweepSpec`.

A spec names the axes of a design-space sweep and how each trained point is made::

    name: lenet5_density
    recipe: lenet5_mnist                 # model, data, optimiser (a shipped recipe or a YAML path)
    overrides: {data.test_limit: 5000}   # dotted recipe keys
    train:
      mode: finetune                     # none | scratch | finetune (see TrainPlan)
      base_epochs: 2
      finetune_epochs: 1
    grid:
      method: [{name: magnitude, params: {structure: unstructured, scope: global}}]
      density: [1.0, 0.5, 0.25]          # or {low: 0.05, high: 1.0, num: 8, log: true}
      device: [xc7z020, xcu250]
      reuse_factor: [1, 4, 16]
      precision: ["ap_fixed<16,6>", "ap_fixed<8,3>"]
    search: {kind: grid}                 # or {kind: random, samples: 50, seed: 0}

Training axes (model, width, method, density) decide which models are trained; hardware axes
(device, template, reuse_factor, precision, strategy, io_type, sparse_kernel) are only simulated, so they never
retrain anything. Unknown keys, wrong types and unknown names are one-line :class:`ConfigError`\\ s.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Dict, List, Literal, Optional, Union

from pydantic import Field, field_validator, model_validator

from .. import target
from ..config import TargetCfg
from ..schema import Epochs, Name, ReuseFactor, Seed, Strict, Width, read_yaml, validate
from ..errors import CodesignError, ConfigError
from ..validate import REUSE_FACTOR_MAX

TEMPLATES = Literal[target.TEMPLATES]
STRATEGIES = Literal[target.STRATEGIES]
IO_TYPES = Literal[target.IO_TYPES]
SPARSE_KERNELS = Literal[target.SPARSE_KERNEL_MODES]
#: hardware axes a grid may leave out: they come from the recipe's ``target:`` (codesign.config.TargetCfg),
#: whose defaults are codesign.target's
TARGET_AXES = ("device", "template", "reuse_factor", "precision", "strategy", "io_type", "sparse_kernel")


class Range(Strict):
    """A numeric axis given by its bounds: ``num`` grid values (linear or logarithmic spacing), or
    sampled uniformly (log-uniformly with ``log``) by a random search."""
    low: float = Field(gt=0)
    high: float = Field(gt=0)
    num: Optional[int] = Field(None, ge=1)
    log: bool = False

    @model_validator(mode="after")
    def _ordered(self) -> "Range":
        if self.high < self.low:
            raise ValueError(f"high ({self.high}) must be >= low ({self.low})")
        return self


class MethodChoice(Strict):
    name: str
    params: Dict[str, Any] = Field(default_factory=dict)
    label: Optional[str] = None        # column value in the results (default: the method name)

    @property
    def shown(self) -> str:
        return self.label or self.name


class Grid(Strict):
    model: List[str] = Field(default_factory=list)           # default: the recipe's model
    width: List[Width] = Field(default_factory=list)         # default: the recipe's width (or 1.0)
    method: List[Union[str, MethodChoice]] = Field(default_factory=lambda: ["dense"])
    density: Union[List[float], Range, None] = None          # into each method's density parameter (one must have it)
    # hardware axes; left out: the recipe's target (codesign.config.TargetCfg), else its defaults
    device: List[str] = Field(default_factory=list)
    template: List[TEMPLATES] = Field(default_factory=list)
    reuse_factor: Union[List[ReuseFactor], Range] = Field(default_factory=list)
    precision: List[str] = Field(default_factory=list)
    strategy: List[STRATEGIES] = Field(default_factory=list)
    io_type: List[IO_TYPES] = Field(default_factory=list)
    sparse_kernel: List[SPARSE_KERNELS] = Field(default_factory=list)   # codesign's sparse Dense kernel

    @field_validator("strategy", mode="before")
    @classmethod
    def _strategy_in_any_case(cls, value):
        """[latency] as train --strategy and a recipe's target take it (hls4ml's spelling kept: Latency)."""
        return [target.spelled(v, target.STRATEGIES) for v in value] if isinstance(value, list) else value

    def methods(self) -> List[MethodChoice]:
        return [MethodChoice(name=m) if isinstance(m, str) else m for m in self.method]

    def hardware(self, target_cfg: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        """Every hardware axis: the grid's values, else the recipe's target value (``target_cfg``, a
        recipe's ``target:`` section), else the vocabulary's default. A sweep point has one reuse factor,
        so the target's strategy ``auto`` is Latency there (:func:`codesign.target.resolve_strategy`)."""
        defaults = TargetCfg(**(target_cfg or {}))
        out = {axis: getattr(self, axis) or [getattr(defaults, axis)] for axis in TARGET_AXES}
        if not self.strategy:
            out["strategy"] = list(target.resolve_strategy(defaults.strategy, per_layer_folding=False))
        return out


class Search(Strict):
    kind: Literal["grid", "random"] = "grid"
    samples: Optional[int] = Field(None, ge=1)   # random: how many distinct points
    seed: Seed = 0


class TrainPlan(Strict):
    """How the model of each training point is made.

    - ``none``: no training; the starting weights (``weights``: ``auto`` = the embedded trained
      default where one ships, else a seeded random init; ``random``; or a model file) are pruned
      one-shot to the point's density (method ``magnitude``) and compacted. Simulation only.
    - ``scratch``: the recipe is trained from scratch with the point's method at its density.
    - ``finetune``: one dense run per model (``base_epochs``, or the model file ``start_from``) is
      shared by every density: ``magnitude`` prunes it one-shot to the density and fine-tunes
      ``finetune_epochs`` with the masks held; other methods run their own schedule for
      ``finetune_epochs`` starting from it.

    A model file (``weights``, ``start_from``) must hold the sweep's model, width and data shape
    (checked when the spec is loaded: :mod:`codesign.sweep.model_file`); each applies to its own mode
    only, and given under another is refused.
    """
    mode: Literal["none", "scratch", "finetune"] = "none"
    base_epochs: Epochs = 5
    finetune_epochs: Epochs = 1
    finetune_lr: Optional[float] = Field(None, gt=0)          # default: the recipe's lr / 10
    finetune_train_limit: Optional[int] = Field(None, ge=1)   # training samples of a fine-tune
    start_from: Optional[str] = None                           # finetune: a trained model file
    density_param: Optional[str] = None     # the method parameter the density axis sets; default: each method's own
    weights: str = "auto"                                      # none: auto | random | a model file
    seed: Seed = 0


class Csim(Strict):
    """Fixed-point accuracy of each trained point by hls4ml C simulation (needs g++; slow)."""
    enabled: bool = False
    samples: int = Field(200, ge=1)
    precision: str = "point"           # 'point': the point's precision; or auto | fixed<W,I,...>
    jobs: int = Field(1, ge=1)


class Emulate(Strict):
    """Fixed-point accuracy of each (model, precision) by the export's bit-exact emulation of hls4ml
    arithmetic (no g++; seconds per model): what the report ranks points by when C simulation is off.
    ``auto``: on when the sweep has a recipe (its test split labels the samples), off for
    simulation-only sweeps without one (no labels, so no accuracy to rank by)."""
    enabled: Union[bool, Literal["auto"]] = "auto"
    samples: int = Field(1000, ge=1)

    def on(self, spec: "SweepSpec") -> bool:
        return self.enabled is True or (self.enabled == "auto" and bool(spec.recipe))


class SweepSpec(Strict):
    name: Name                                 # the default run folder is runs/sweeps/<name>
    description: str = ""
    recipe: Optional[str] = None
    overrides: Dict[str, Any] = Field(default_factory=dict)
    train: TrainPlan = TrainPlan()
    grid: Grid = Grid()
    search: Search = Search()
    csim: Csim = Csim()
    emulate: Emulate = Emulate()
    device_files: Dict[str, Dict[str, Any]] = Field(default_factory=dict)   # recorded by the sweep in its spec.yaml:
    # what each device file of the grid held when it started (codesign.sim.device_record); it must hold it still
    source: str = Field("sweep spec", exclude=True)


def load_spec(path_or_spec: Union[str, Path, SweepSpec, Dict[str, Any]], check: bool = True) -> SweepSpec:
    """A spec from a YAML path, a shipped spec name (sweeps/NAME.yaml) or a dict; checked unless told not to."""
    if isinstance(path_or_spec, SweepSpec):
        spec = path_or_spec
    elif isinstance(path_or_spec, dict):
        spec = validate(SweepSpec, path_or_spec, "sweep spec")
    else:
        path = _find(path_or_spec)
        data = read_yaml(path)
        if path == Path(path_or_spec):          # a file named by its path, not a shipped spec named by its name
            data = _paths_beside(data, path)
        spec = validate(SweepSpec, data, str(path)).model_copy(update={"source": str(path)})
    if check:
        check_spec(spec)
    return spec


def _paths_beside(data: Any, path: Path) -> Any:
    """A spec file's relative paths (its recipe, model and device files, starting weights, and the recipe
    paths among its overrides) name files beside it (codesign.yaml_paths)."""
    from ..yaml_paths import SPEC_PATHS, rebase, rebase_overrides

    data = rebase(data, SPEC_PATHS, path)
    if isinstance(data, dict) and isinstance(data.get("overrides"), dict):
        data["overrides"] = rebase_overrides(data["overrides"], path)
    return data


def shipped_specs() -> Dict[str, Path]:
    """{name: path} of the sweep specs shipped with the package (``sweeps/``)."""
    from ..shipped import SWEEP_SPECS, shipped

    return shipped(SWEEP_SPECS)


def _find(path_or_name: Union[str, Path]) -> Path:
    path = Path(path_or_name)
    if path.exists() or path.suffix:
        return path
    specs = shipped_specs()
    if str(path_or_name) in specs:
        return specs[str(path_or_name)]
    from ..errors import close_matches
    raise ConfigError(f"sweep spec '{path_or_name}' is neither a file nor a shipped spec"
                      f"{close_matches(str(path_or_name), specs)}; shipped: {', '.join(sorted(specs))}")


def check_spec(spec: SweepSpec) -> None:
    """Names and combinations pydantic cannot check: models, methods and their parameters, devices,
    precisions, the recipe, and what each training mode needs. Raises a one-line ConfigError."""
    src = spec.source
    _check_names(spec, src)
    from .device_files import check_device_files
    check_device_files(spec, src)
    mode = spec.train.mode
    if mode != "none" and not spec.recipe:
        raise ConfigError(f"{src}: train.mode '{mode}' trains models and needs 'recipe' (a shipped recipe name or "
                          f"a recipe YAML: model, data, optimiser)")
    if spec.recipe and _recipe(spec).target.fit:
        raise ConfigError(f"{src}: recipe: target.fit: true trains one model to one device's budget, and a sweep "
                          "trains each point to its density and folds it at every hardware point: remove target.fit "
                          "(its hardware settings stay the sweep's defaults), or train each budget with codesign "
                          "train --fit")
    from .model_file import check_model_file

    for key in ("start_from", "weights"):
        check_model_file(spec, key, _recipe(spec) if spec.recipe else None)
    _check_mode_keys(spec.train, src)
    if spec.search.kind == "random" and spec.search.samples is None:
        raise ConfigError(f"{src}: search.kind 'random' needs search.samples (how many points to draw)")
    for axis in ("density", "reuse_factor"):
        value = getattr(spec.grid, axis)
        if isinstance(value, Range) and spec.search.kind == "grid" and value.num is None:
            raise ConfigError(f"{src}: grid.{axis}: a range in a grid search needs 'num' (how many values)")
    if spec.grid.density is not None and isinstance(spec.grid.density, list):
        bad = [d for d in spec.grid.density if not 0 < d <= 1]
        if bad:
            raise ConfigError(f"{src}: grid.density: densities are fractions in (0, 1], got {bad[0]}")
    if isinstance(spec.grid.density, Range) and spec.grid.density.high > 1:
        raise ConfigError(f"{src}: grid.density: densities are fractions in (0, 1], got high={spec.grid.density.high}")
    if isinstance(spec.grid.reuse_factor, Range) and spec.grid.reuse_factor.high > REUSE_FACTOR_MAX:
        raise ConfigError(f"{src}: grid.reuse_factor: reuse factors are integers in 1..{REUSE_FACTOR_MAX}, got "
                          f"high={spec.grid.reuse_factor.high:g}")
    _check_dataflow_axes(spec, src)
    _check_buildable(spec, src)
    _check_size(spec, src)
    for method in spec.grid.methods():
        _check_method(spec, method, src)
    _check_density_axis(spec, src)


#: the keys of ``train`` each mode reads (``weights`` and ``start_from`` are checked with their files)
MODE_KEYS = {"none": {"mode", "weights", "seed", "density_param"},
             "scratch": {"mode", "density_param"},
             "finetune": {"mode", "base_epochs", "finetune_epochs", "finetune_lr", "finetune_train_limit",
                          "start_from", "density_param"}}


def _check_mode_keys(plan: TrainPlan, src: str) -> None:
    """A key that only another training mode reads (``finetune_epochs: 3`` under ``mode: none``) would change
    nothing: refused where it is set to other than its default (a spec written out in full, every key at its
    default, stays valid)."""
    used = MODE_KEYS[plan.mode]
    ignored = [k for k in sorted(plan.model_fields_set - used)
               if getattr(plan, k) != TrainPlan.model_fields[k].get_default(call_default_factory=True)]
    if plan.mode == "finetune" and plan.start_from and "base_epochs" in plan.model_fields_set \
            and plan.base_epochs != TrainPlan.model_fields["base_epochs"].default:
        ignored.insert(0, "base_epochs")
    if ignored:
        readers = [m for m, keys in MODE_KEYS.items() if ignored[0] in keys]
        why = ("finetune starts from train.start_from, so no base run is trained" if ignored[0] == "base_epochs"
               and plan.mode == "finetune" else f"only train.mode {' or '.join(repr(m) for m in readers)} reads it")
        raise ConfigError(f"{src}: train.{ignored[0]} has no effect with train.mode '{plan.mode}' ({why}); "
                          f"remove it, or change train.mode")


#: the most points one sweep takes (about 1 kB of memory each while planned, one row each in results.csv)
MAX_POINTS = 100_000


def grid_points(spec: SweepSpec) -> int:
    """How many points the grid has, counted without expanding it (a range counts its ``num`` values)."""
    g = spec.grid

    def size(axis) -> int:
        if axis is None:
            return 1
        return (axis.num or 1) if isinstance(axis, Range) else max(1, len(axis))

    common = math.prod(size(a) for a in (g.model, g.width, g.method, g.density, g.device, g.precision))
    dataflow = math.prod(size(getattr(g, a)) for a in target.DATAFLOW_ONLY)
    # a tiled point takes no dataflow-only axis (codesign.sweep.plan.applicable); a template left out is counted
    # as dataflow, the larger
    return common * sum(1 if t == "tiled" else dataflow for t in (g.template or [None]))


def _check_dataflow_axes(spec: SweepSpec, src: str) -> None:
    """A dataflow-only axis (reuse factor, strategy, I/O type, sparse kernel) on a sweep without the dataflow
    template would vary nothing: the tiled accelerator reads none of them. (Beside dataflow, tiled points
    leave them blank: each tiled design is one point.)"""
    templates = spec.grid.hardware(_recipe(spec).target.model_dump() if spec.recipe else None)["template"]
    given = [a for a in target.DATAFLOW_ONLY if getattr(spec.grid, a)]
    if "dataflow" in templates or not given:
        return
    source = "grid.template" if spec.grid.template else "the recipe's target.template"
    raise ConfigError(f"{src}: grid.{given[0]} applies to the dataflow template only (hls4ml), and this sweep's "
                      f"template is {', '.join(templates)} ({source}), whose accelerator reads no "
                      f"{', '.join(target.DATAFLOW_ONLY).replace('_', ' ')}: every value would give the same "
                      f"design; remove grid.{given[0]}, or add dataflow to grid.template")


def _check_buildable(spec: SweepSpec, src: str) -> None:
    """A dataflow point is a design hls4ml builds, and its Vitis and Vivado backends build AMD/Xilinx parts only:
    dataflow on a device of another part (an Intel one) is refused, as ``train --fit`` and ``export`` refuse it
    (the tiled accelerator prices any device)."""
    from ..sim.device import load_device
    from ..validate import part

    hardware = spec.grid.hardware(_recipe(spec).target.model_dump() if spec.recipe else None)
    if "dataflow" not in hardware["template"]:
        return
    for name in hardware["device"]:
        device = load_device(name)
        try:
            part(device.part, "its part")
        except ConfigError:
            where = "grid.template" if spec.grid.template else "the template (the recipe's, or the default)"
            raise ConfigError(f"{src}: grid.device {name} ({device.part}, {device.vendor}) with the dataflow "
                              f"template ({where}): dataflow points are hls4ml designs, and its Vitis and Vivado "
                              f"backends build AMD/Xilinx parts only (train --fit and export refuse it too); sweep "
                              f"{name} in a spec of its own with grid.template: [tiled], or remove it") from None


def _check_size(spec: SweepSpec, src: str) -> None:
    if spec.search.kind == "random":
        if spec.search.samples > MAX_POINTS:
            raise ConfigError(f"{src}: search.samples is {spec.search.samples:,}, more than the {MAX_POINTS:,} points a "
                              f"sweep takes; draw fewer samples or split the sweep")
        return
    n = grid_points(spec)
    if n > MAX_POINTS:
        raise ConfigError(f"{src}: the grid has {n:,} points, more than the {MAX_POINTS:,} a sweep takes; use fewer "
                          f"values per axis, split it into several specs, or sample it with search: "
                          f"{{kind: random, samples: N}}")


def _check_names(spec: SweepSpec, src: str) -> None:
    from ..sim.device import load_device
    from ..fixed_point import parse_precision
    from ..model_source import check_model_name

    hardware = spec.grid.hardware(_recipe(spec).target.model_dump() if spec.recipe else None)
    checks = [("model", spec.grid.model, check_model_name), ("device", hardware["device"], load_device),
              ("precision", hardware["precision"], parse_precision)]
    for axis, values, check in checks:
        for value in values:
            try:
                check(value)
            except CodesignError as err:
                raise ConfigError(f"{src}: grid.{axis}: {err}") from None
    for axis in sorted(spec.grid.model_fields_set):    # an axis given as [] would vanish or fall back silently
        if getattr(spec.grid, axis) == []:
            raise ConfigError(f"{src}: grid.{axis} is empty; give at least one value, or leave the axis out "
                              f"(then the recipe's value, else the default, is its one value)")
    for axis in ("model", "method"):
        if not getattr(spec.grid, axis) and not (axis == "model" and spec.recipe):
            raise ConfigError(f"{src}: grid.{axis} is empty; give at least one value"
                              + (" (or a recipe whose model is used)" if axis == "model" else ""))
    if isinstance(spec.grid.reuse_factor, list) and any(r < 1 for r in spec.grid.reuse_factor):
        raise ConfigError(f"{src}: grid.reuse_factor: reuse factors are integers >= 1")


def devices_of(spec: SweepSpec) -> List[Any]:
    """The device axis: the grid's, else the recipe's target device."""
    return spec.grid.hardware(_recipe(spec).target.model_dump() if spec.recipe else None)["device"]


def _recipe(spec: SweepSpec):
    from ..config import load_recipe

    try:
        recipe = load_recipe(spec.recipe, {})
    except CodesignError as err:
        raise ConfigError(f"{spec.source}: recipe: {err}") from None
    if not spec.overrides:
        return recipe
    try:
        return load_recipe(spec.recipe, spec.overrides)
    except CodesignError as err:           # the recipe itself loads: the spec's overrides are what is wrong
        import re
        raise ConfigError(f"{spec.source}: overrides: {re.sub(r'^[^:]*[.]ya?ml: ', '', str(err))}") from None


def _check_method(spec: SweepSpec, method: MethodChoice, src: str) -> None:
    from ..methods import METHODS, build_method, density_knob, one_shot_methods

    try:
        cls = METHODS.get(method.name)
    except CodesignError as err:
        raise ConfigError(f"{src}: grid.method: {err}") from None
    params = dict(method.params)
    knob = density_knob(method.name, spec.train.density_param)
    if knob is not None and spec.grid.density is not None:
        params[knob] = 0.5
    mode = spec.train.mode
    if mode != "scratch" and cls.one_shot is not None:
        params.update(cls.one_shot)
    try:
        build_method(method.name, params)
    except CodesignError as err:
        raise ConfigError(f"{src}: grid.method: {err}") from None
    if mode == "none" and cls.one_shot is None and method.name != "dense":
        raise ConfigError(f"{src}: method '{method.name}' needs training; with train.mode 'none' only "
                          f"{', '.join(sorted(one_shot_methods()))} (one-shot pruning) and dense are possible; "
                          f"use train.mode scratch or finetune")


def _check_density_axis(spec: SweepSpec, src: str) -> None:
    """grid.density needs a method that prunes to a density: without one (``grid.method`` left out is
    ``dense``; a recipe's own method is not a sweep's) every density would make the same model and the
    axis would vanish from the results. A method without a density next to one with it is a baseline."""
    from ..methods import METHODS, density_knob

    if spec.grid.density is None:
        return
    methods = [m.name for m in spec.grid.methods()]
    if any(density_knob(name, spec.train.density_param) for name in methods):
        return
    pruners = [n for n in METHODS.names() if density_knob(n, spec.train.density_param)]
    knob = f" named train.density_param '{spec.train.density_param}'" if spec.train.density_param else ""
    if "method" in spec.grid.model_fields_set:
        given = f"grid.method ({', '.join(methods)}) has none"
    else:
        own = _recipe(spec).method.name if spec.recipe else "dense"
        given = "grid.method is not given, so it is dense" + (
            f" (the recipe's method '{own}' is not a sweep's: list it in grid.method)" if own != "dense" else "")
    raise ConfigError(f"{src}: grid.density needs a method that prunes to a density{knob}, and {given}: set "
                      f"grid.method: [{{name: magnitude, params: {{structure: unstructured, scope: global}}}}] (methods "
                      f"with a density: {', '.join(pruners) or 'none'}), or remove grid.density")

