"""Recipes: YAML → validated, frozen config objects.

A recipe names a model, a dataset, an optimiser and schedule, a training length, a method with its
parameters and a hardware target. Unknown keys, wrong types and unknown names are one-line
:class:`ConfigError`\\ s that point at the key and suggest close matches. CLI options override keys
with ``--set section.key=value``.
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Dict, List, Literal, Optional, Tuple, Union

import yaml
from pydantic import Field, field_validator, model_validator

from . import target
from .data import AUGMENTATIONS
from .errors import ConfigError, close_matches
from .schema import (ClockPeriodNs, Epochs, Loader, Name, ReuseFactor, Seed, Strict, UtilShares, Width,  # noqa: F401
                     describe_validation_error, read_yaml, validate)
from .yaml_paths import RECIPE_PATHS, rebase, relative_to


class ModelCfg(Strict):
    name: str = "lenet5"                    # a zoo name, or your own: FILE.py:FUNCTION / package.module:FUNCTION
    width: Width = 1.0                      # zoo models only
    args: Dict[str, Any] = Field(default_factory=dict)   # keyword arguments of a model factory


class DataCfg(Strict):
    name: str = "mnist"
    val_fraction: float = Field(0.0, ge=0, lt=1)
    train_limit: Optional[int] = Field(None, ge=1)
    test_limit: Optional[int] = Field(None, ge=1)
    options: Dict[str, Any] = Field(default_factory=dict)   # e.g. synthetic: in_shape, num_classes
    augment: Optional[Literal[AUGMENTATIONS]] = None        # default: the dataset's (codesign.data.augment)


class OptimCfg(Strict):
    name: Literal["sgd", "adam", "adamw"] = "sgd"
    lr: float = Field(0.05, gt=0)
    momentum: float = Field(0.9, ge=0, lt=1)
    weight_decay: float = Field(5e-4, ge=0)
    nesterov: bool = False


class ScheduleCfg(Strict):
    name: Literal["constant", "step", "multistep", "cosine"] = "cosine"
    milestones: List[int] = Field(default_factory=list)     # epochs (multistep)
    step_size: int = Field(30, ge=1)                          # epochs (step)
    gamma: float = Field(0.1, gt=0, le=1)
    warmup_epochs: int = Field(0, ge=0)
    min_lr: float = Field(0.0, ge=0)


class DistillCfg(Strict):
    """Knowledge distillation from a trained teacher (codesign.distill)."""
    teacher: str                                            # a run directory or model file
    temperature: float = Field(4.0, gt=0)
    weight: float = Field(0.9, ge=0, le=1)                  # share of the loss that is the teacher's


class TrainCfg(Strict):
    epochs: Epochs = 10                                    # 1 .. codesign.validate.EPOCHS_MAX
    batch_size: int = Field(128, ge=1)
    eval_batch_size: int = Field(1000, ge=1)
    seed: Seed = 0
    threads: Optional[int] = Field(None, ge=1)
    label_smoothing: float = Field(0.0, ge=0, lt=1)
    distill: Optional[DistillCfg] = None


class MethodCfg(Strict):
    name: str = "dense"
    params: Dict[str, Any] = Field(default_factory=dict)


class TargetCfg(Strict):
    """The hardware a recipe's model is meant for (codesign.target's vocabulary and defaults). A sweep
    over the recipe takes every hardware axis its grid leaves out from here."""
    device: Union[str, Dict[str, Any]] = "xc7z020"   # a shipped name, a device YAML, or a device file's content
    # (the mapping a run records of a file it trains for: codesign.sim.device_record)
    template: Literal[target.TEMPLATES] = target.DEFAULT_TEMPLATE
    reuse_factor: ReuseFactor = target.DEFAULT_REUSE_FACTOR
    precision: str = target.DEFAULT_SWEEP_PRECISION
    strategy: Literal[target.TARGET_STRATEGIES] = target.DEFAULT_TARGET_STRATEGY   # auto: per layer when fitting
    io_type: Literal[target.IO_TYPES] = target.DEFAULT_IO_TYPE
    sparse_kernel: Literal[target.SPARSE_KERNEL_MODES] = target.DEFAULT_SPARSE_KERNEL
    clock_period_ns: Optional[ClockPeriodNs] = None       # None: the device's clock (export: 5 ns)
    fit: bool = False                                     # train within the budget below (codesign train --fit)
    max_latency_us: Optional[float] = Field(None, gt=0)   # latency bound of the budget
    max_util: UtilShares = target.DEFAULT_MAX_UTIL        # largest fraction of each resource of the device
    # (one, or per resource: {all: 0.8, DSP: 0.25} or "0.8,DSP=0.25")

    @field_validator("strategy", mode="before")
    @classmethod
    def _strategy_in_any_case(cls, value):
        """'latency' as --strategy takes it (hls4ml's spelling kept: Latency)."""
        return target.spelled(value, target.TARGET_STRATEGIES)

    @model_validator(mode="after")
    def _budget_settings_are_read(self) -> "TargetCfg":
        """A budget setting the run would not read is an error, not silently dropped."""
        if not self.fit:
            if self.max_latency_us is not None or self.max_util != target.DEFAULT_MAX_UTIL:
                raise ValueError("max_latency_us and max_util bound the budget of fit: true (codesign train --fit "
                                 "DEVICE); set fit: true, or remove them")
            return self
        if self.template != "dataflow":
            raise ValueError(f"a budget folds the dataflow template (hls4ml's); template: {self.template} is not "
                             "trained for (remove it, or fit: false)")
        if self.reuse_factor != target.DEFAULT_REUSE_FACTOR:
            raise ValueError("a budget chooses every layer's reuse factor (as export --reuse-factor auto does); "
                             "remove reuse_factor, or fit: false")
        if self.precision == "auto":
            raise ValueError("a budget is priced in one type: give precision (e.g. ap_fixed<16,6>), not auto")
        return self


class Recipe(Strict):
    name: Name = "run"                   # the default run folder is runs/<name>
    model: ModelCfg = ModelCfg()
    data: DataCfg = DataCfg()
    optim: OptimCfg = OptimCfg()
    schedule: ScheduleCfg = ScheduleCfg()
    train: TrainCfg = TrainCfg()
    method: MethodCfg = MethodCfg()
    target: TargetCfg = TargetCfg()


def parse_assignment(text: str) -> Tuple[List[str], Any]:
    """'optim.lr=0.01' → (['optim', 'lr'], 0.01); the value is parsed as YAML."""
    if "=" not in text:
        raise ConfigError(f"--set expects KEY=VALUE (e.g. optim.lr=0.01), got '{text}'")
    key, raw = text.split("=", 1)
    parts = [p for p in key.strip().split(".") if p]
    if not parts:
        raise ConfigError(f"--set expects KEY=VALUE with a non-empty key, got '{text}'")
    try:
        value = yaml.load(raw, Loader=Loader) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    if raw.strip()[:1] == "{" and _colon_without_space(value):
        raise ConfigError(f"--set {key.strip()}={raw}: YAML needs a space after each ':' of a mapping, e.g. "
                          f"{{in_shape: [16], num_classes: 5}}")
    return parts, value


def _colon_without_space(value: Any) -> bool:
    """Whether YAML read a ``{a:1}`` as the key 'a:1' without a value, or could not read the mapping at all:
    what a mapping typed without spaces after its colons gives."""
    if isinstance(value, str):
        return ":" in value
    if isinstance(value, dict):
        return any(isinstance(k, str) and ":" in k and v is None for k, v in value.items())
    return False


def apply_overrides(data: Dict[str, Any], overrides: Dict[str, Any]) -> Dict[str, Any]:
    """Deep-set dotted keys ('optim.lr') into a copy of ``data``."""
    out = copy.deepcopy(data) if data else {}
    for dotted, value in overrides.items():
        parts = dotted.split(".")
        node = out
        for part in parts[:-1]:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            elif not isinstance(child, dict):
                raise ConfigError(f"cannot set '{dotted}': '{part}' is a value, not a section")
            node = child
        node[parts[-1]] = value
    return out


def shipped_recipes() -> Dict[str, Path]:
    """{name: path} of the recipes shipped with the package (``models/``)."""
    from .shipped import RECIPES, shipped

    return shipped(RECIPES)


def load_recipe(path_or_name: str | Path | None = None, overrides: Dict[str, Any] | None = None) -> Recipe:
    """A recipe from a YAML path, a shipped recipe name (models/NAME.yaml), or the defaults."""
    data: Dict[str, Any] = {}
    source = "recipe"
    if path_or_name:
        path = Path(path_or_name)
        recipes = shipped_recipes()
        if not path.exists() and path.suffix == "":
            if str(path_or_name) not in recipes:
                raise ConfigError(f"recipe '{path_or_name}' is neither a file nor a shipped recipe"
                                  f"{close_matches(str(path_or_name), recipes)}; shipped: {', '.join(sorted(recipes))}")
            path = recipes[str(path_or_name)]
        shipped = path.resolve() in {p.resolve() for p in recipes.values()}   # by name or by its path
        data = read_yaml(path)
        source = str(path)
        if data is not None and not isinstance(data, dict):
            raise ConfigError(f"{source}: expected a mapping of keys to values at the top level, got {type(data).__name__}")
        if not shipped:     # relative paths name files beside the recipe (codesign.yaml_paths); a shipped
            data = rebase(data, RECIPE_PATHS, path)   # recipe's name run folders the user makes (runs/...)
    data = apply_overrides(data or {}, overrides or {})
    return validate(Recipe, data, source)


# Fields added after records were first written, whose unset value keeps the old behaviour: left out of the
# dict while unset, so checkpoints, run records and cache keys written before them still match.
ADDED_LATER = (("data", "augment"), ("train", "distill"))


def with_recorded_device(recipe: Recipe) -> Recipe:
    """``recipe`` with the device file its budget trains for (``target.fit``) replaced by the file's content,
    what a run records (config.yaml, checkpoint, model file: :mod:`codesign.sim.device_record`); a shipped
    device and a recipe that trains for no device are returned as they are."""
    from .sim.device_record import is_file, recorded

    t = recipe.target
    if not t.fit or not is_file(t.device):
        return recipe
    try:
        device = recorded(t.device)
    except ConfigError as err:                      # named by its key, as the budget names it
        raise ConfigError(f"target.device (--fit): {err}") from None
    return recipe.model_copy(update={"target": t.model_copy(update={"device": device})})


def recipe_record(recipe: Recipe, folder: Path) -> Dict[str, Any]:
    """The recipe as a run's ``config.yaml`` in ``folder`` holds it: its relative paths (a model file, a device
    file, a teacher) written relative to ``folder``, so that :func:`load_recipe` of the file reads the same
    files from any folder (codesign.yaml_paths)."""
    return relative_to(recipe_to_dict(recipe), RECIPE_PATHS, folder)


def recipe_to_dict(recipe: Recipe) -> Dict[str, Any]:
    out = recipe.model_dump(mode="json")
    for section, key in ADDED_LATER:
        if out[section].get(key) is None:
            out[section].pop(key, None)
    return out
