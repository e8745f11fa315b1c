"""A sweep's starting model file, checked when the spec is loaded.

``train.weights`` (mode ``none``) and ``train.start_from`` (mode ``finetune``) name one model file that
every point starts from (either one under another mode would be ignored, so it is refused), so the file
must hold the sweep's model: the one ``grid.model`` (or the recipe) names, at the sweep's width, a
factory's with the sweep's ``model.args``, made for the recipe's data. Found only when a point runs, a
mismatch failed every point (``weights``) or fine-tuned another network under the spec's model name
(``start_from``); here it is one line naming the mismatch and what to change, before anything is trained
or written.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from ..errors import CodesignError, ConfigError
from ..memo import Memo

#: factory arguments the data decides (compared with the recipe's data, not with model.args)
DATA_ARGS = ("in_shape", "num_classes")
_LOADED = Memo(17)


def check_model_file(spec, key: str, recipe) -> None:
    """``spec.train.<key>`` names a model file: it exists, loads (its tensors fit the model it records)
    and holds the sweep's model for the recipe's data (``recipe``: the spec's loaded recipe, or None)."""
    value = getattr(spec.train, key)
    if not value or (key == "weights" and value in ("auto", "random")):
        return
    where = f"{spec.source}: train.{key}"
    if key == "weights" and spec.train.mode != "none":
        raise ConfigError(f"{where} applies to train.mode 'none' only (finetune starts from train.start_from)")
    if key == "start_from" and spec.train.mode != "finetune":
        instead = ("none starts from train.weights" if spec.train.mode == "none" else
                   "scratch trains each point from a random init")
        raise ConfigError(f"{where} applies to train.mode 'finetune' only, and train.mode is '{spec.train.mode}' "
                          f"({instead}); remove train.start_from, or set train.mode: finetune")
    if not Path(value).is_file():
        raise ConfigError(f"{where}: model file not found: {value}"
                          + ("; give auto, random or a model file" if key == "weights" else ""))
    held = _model_spec(value, where)
    fix = f"or give train.{key} another model file"
    _check_model(spec, held, f"{where}: {value}", fix, recipe)
    if recipe is not None:
        _check_data(held, f"{where}: {value}", fix, recipe)


def _model_spec(path: str, where: str) -> Dict[str, Any]:
    """The model_spec of a model file that loads: read, checked and rebuilt, so a tensor that does not fit
    the model it records is named now (cached by path, size and modification time)."""
    from ..checkpoint import load_model

    stat = Path(path).stat()
    key = (str(Path(path).resolve()), stat.st_mtime_ns, stat.st_size)

    def spec():
        try:
            return dict(load_model(path)[1]["model_spec"])
        except CodesignError as err:
            raise ConfigError(f"{where}: {err}") from None

    return _LOADED.get_or_make(key, spec)


def _sweep_models(spec, recipe) -> Tuple[List[str], str]:
    if spec.grid.model:
        return list(spec.grid.model), "grid.model"
    return [recipe.model.name], f"the recipe's model ({spec.recipe})"


def _check_model(spec, held: Dict[str, Any], where: str, fix: str, recipe) -> None:
    from ..model_source import is_factory, names_model

    models, given = _sweep_models(spec, recipe)
    if held.get("pickled") or "name" not in held:
        raise ConfigError(f"{where} holds a hand-built module ({held.get('name', 'pickled')}), which no grid.model "
                          f"can name; build it with a factory function (grid.model: FILE.py:FUNCTION) and save "
                          f"that model into the file, {fix}")
    name = _name(held)
    for model in models:
        if names_model(model, held):
            continue
        if len(models) > 1 and any(names_model(m, held) for m in models):
            raise ConfigError(f"{where} holds {name}, but grid.model also names {model}: every point starts from "
                              f"this one file, so a sweep with a model file has one model; split it into one spec "
                              f"per model (each with its model file)")
        raise ConfigError(f"{where} holds {name}, but {given} is {', '.join(models)}; set grid.model: [{name}] "
                          f"(the file's model; a recipe's own model is then not used), {fix}")
    if is_factory(models[0]):
        _check_args(spec, held, where, fix, recipe, models[0])
    else:
        _check_width(spec, held, where, fix, recipe)


def _name(held: Dict[str, Any]) -> str:
    from ..model_source import ModelFactory

    return ModelFactory(held["factory"]).name if "factory" in held else str(held["name"])


def _check_width(spec, held: Dict[str, Any], where: str, fix: str, recipe) -> None:
    width = float(held.get("width", 1.0))
    widths = list(spec.grid.width) or [recipe.model.width if recipe is not None else 1.0]
    wrong = [w for w in widths if float(w) != width]
    if not wrong:
        return
    given = "grid.width" if spec.grid.width else ("the recipe's model.width" if recipe is not None else "the default")
    raise ConfigError(f"{where} holds {held['name']} at width {width:g}, but the sweep's width is "
                      f"{', '.join(f'{float(w):g}' for w in wrong)} ({given}); set grid.width: [{width:g}] "
                      f"(the width the results name), {fix}")


def _check_args(spec, held: Dict[str, Any], where: str, fix: str, recipe, model: str) -> None:
    """A factory's arguments as the sweep gives them (the recipe's model.args, for the recipe's own model;
    else the factory's defaults) against the file's."""
    from ..model_source import ModelFactory

    own = recipe is not None and recipe.model.name == model
    sweep = ModelFactory.parse(model, dict(recipe.model.args) if own else {})
    saved = ModelFactory(sweep.ref, dict(held.get("kwargs") or {}))
    for arg in sorted((set(sweep.kwargs) | set(saved.kwargs)) - set(DATA_ARGS)):
        want, got = sweep.default(arg), saved.default(arg)
        if _plain(want) != _plain(got):
            raise ConfigError(f"{where} holds {_name(held)} made with {arg}={got!r}, but the sweep's model.args give "
                              f"{arg}={want!r}; set the recipe's model.args.{arg} to {got!r} (overrides: "
                              f"{{model.args.{arg}: {got!r}}}), {fix}")


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))        # (16,) and [16] are the same argument


def _check_data(held: Dict[str, Any], where: str, fix: str, recipe) -> None:
    shape, classes = _data_shape(recipe)
    held_shape, held_classes = held.get("in_shape"), held.get("num_classes")
    if shape is None or held_shape is None:
        return
    if [int(d) for d in held_shape] != list(shape) or (held_classes is not None and int(held_classes) != classes):
        raise ConfigError(f"{where} holds {_name(held)} made for inputs {_dims(held_shape)} with {held_classes} "
                          f"classes, but the recipe's data ({recipe.data.name}) has inputs {_dims(shape)} with "
                          f"{classes} classes; use a recipe (or overrides: {{data.name: ...}}) with the data the "
                          f"file was made for, {fix} made for {recipe.data.name}")


def _data_shape(recipe) -> Tuple[Optional[Tuple[int, ...]], Optional[int]]:
    from ..data import DATASETS

    try:
        dataset = DATASETS.get(recipe.data.name)
    except CodesignError:
        return None, None
    options = recipe.data.options or {}
    try:
        return (tuple(int(d) for d in options.get("in_shape", dataset.in_shape)),
                int(options.get("num_classes", dataset.num_classes)))
    except (TypeError, ValueError):
        return None, None              # the dataset reports its own bad option when it loads


def _dims(shape) -> str:
    return "x".join(str(int(d)) for d in shape)
