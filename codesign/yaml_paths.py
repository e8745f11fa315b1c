"""Relative paths inside YAML files: one rule for recipes, sweep specs and a run's ``config.yaml``.

A relative path that a YAML file holds names a file beside that file (in its folder), whatever folder
codesign runs in: a recipe, its model file, its device file and a sweep spec kept together in one folder
run from anywhere. A path given on the command line (``--model``, ``--fit``, ``--set``) stays relative to
the current folder, and so do those of a shipped recipe or spec named by its name (the package's files: the
paths they hold name run folders the user makes, ``teacher: runs/lenet5_shift``). There is no fallback to the current folder: a file found only from there is refused
in one line that says how to write it.

The keys that hold paths are listed once here (:data:`RECIPE_PATHS`, :data:`SPEC_PATHS`); each has a
kind saying which of its values are paths (a zoo name, a shipped device or recipe name, ``auto`` are not).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

from .errors import ConfigError

YAML_SUFFIXES = (".yaml", ".yml")

#: path-valued keys of a recipe (codesign.config.Recipe): dotted key → kind
RECIPE_PATHS: Dict[str, str] = {"model.name": "factory", "target.device": "device", "train.distill.teacher": "path"}
#: path-valued keys of a sweep spec (codesign.sweep.spec.SweepSpec); ``[]`` marks each item of a list; a recipe
#: key in ``overrides`` is a path of the spec too
SPEC_PATHS: Dict[str, str] = {"recipe": "recipe", "grid.model[]": "factory", "grid.device[]": "device",
                              "train.start_from": "path", "train.weights": "weights"}


def _path_part(value: Any, kind: str, folder: Path) -> Optional[Tuple[str, str]]:
    """(path, suffix kept after it) when ``value`` of a key of ``kind`` names a file by a relative path, else
    None (a name, an absolute path, a mapping)."""
    if not isinstance(value, str) or not value:
        return None
    path, rest = value, ""
    if kind == "factory":
        from .model_source import is_factory

        where, _, fn = value.rpartition(":")
        if not (is_factory(value) and where.endswith(".py")):
            return None                                     # a zoo name or package.module:FUNCTION
        path, rest = where, f":{fn}"
    elif kind == "device" and Path(value).suffix not in YAML_SUFFIXES:
        return None                                         # a shipped device name
    elif kind == "weights" and value in ("auto", "random"):
        return None
    elif kind == "recipe" and Path(value).suffix not in YAML_SUFFIXES and "/" not in value \
            and not (folder / value).exists():
        return None                                         # a shipped recipe name
    if Path(path).expanduser().is_absolute() or path.startswith("~"):
        return None
    return path, rest


def _items(data: Dict[str, Any], dotted: str):
    """(parent container, index or key, shown key) of every value at ``dotted`` in ``data``."""
    *sections, last = dotted.split(".")
    node: Any = data
    for part in sections:
        node = node.get(part) if isinstance(node, dict) else None
    many = last.endswith("[]")
    last = last.removesuffix("[]")
    if not isinstance(node, dict) or last not in node:
        return
    if not many:
        yield node, last, dotted
    elif isinstance(node[last], list):
        for i in range(len(node[last])):
            yield node[last], i, dotted.replace("[]", "")


def rebase(data: Any, keys: Dict[str, str], source: Path, check: bool = True, prefix: str = "") -> Any:
    """``data`` (a YAML file's content) with each relative path of ``keys`` made to name the file beside
    ``source`` (the YAML file): ``folder/path`` as the current folder reaches it. With ``check``, a file that is
    not there is a one-line ConfigError naming the file, the key and the path."""
    if not isinstance(data, dict):
        return data
    import copy

    out = copy.deepcopy(data)
    for dotted, kind in keys.items():
        for parent, index, shown in list(_items(out, dotted)):
            parent[index] = _beside(parent[index], kind, Path(source), prefix + shown, check)
    return out


def rebase_overrides(overrides: Dict[str, Any], source: Path, check: bool = True) -> Dict[str, Any]:
    """A sweep spec's ``overrides`` (recipe keys, dotted or as sections) with their recipe paths read beside
    the spec."""
    out = {}
    for key, value in overrides.items():
        if not isinstance(key, str):            # not a recipe key: the spec's validation names it
            out[key] = value
            continue
        if key in RECIPE_PATHS:
            value = _beside(value, RECIPE_PATHS[key], Path(source), f"overrides: {key}", check)
        else:
            inner = {k[len(key) + 1:]: kind for k, kind in RECIPE_PATHS.items() if k.startswith(key + ".")}
            if inner and isinstance(value, dict):
                value = rebase(value, inner, source, check, prefix=f"overrides: {key}.")
        out[key] = value
    return out


def _beside(value: Any, kind: str, source: Path, shown: str, check: bool) -> Any:
    folder = source.parent
    part = _path_part(value, kind, folder)
    if part is None:
        return value
    path, rest = part
    beside = os.path.normpath(folder / path)
    if check and not Path(beside).exists():
        raise ConfigError(f"{source}: {shown}: file not found: {beside}{_hint(path, folder)}")
    return beside + rest


def _hint(path: str, folder: Path) -> str:
    if not Path(path).exists() or folder == Path("."):
        return ""
    return (f" (a relative path in a YAML file is read from the file's folder; {path} is found from the current "
            f"folder: write {os.path.relpath(path, folder)}, or an absolute path)")


def relative_to(data: Dict[str, Any], keys: Dict[str, str], folder: Path) -> Dict[str, Any]:
    """``data`` (a config as the current folder reads it) with each relative path of ``keys`` written relative
    to ``folder``, where it is saved: :func:`rebase` of the saved file gives the same paths back, from any
    folder."""
    import copy

    out = copy.deepcopy(data)
    for dotted, kind in keys.items():
        for parent, index, _ in list(_items(out, dotted)):
            part = _path_part(parent[index], kind, Path("."))
            if part is not None:
                parent[index] = os.path.relpath(part[0], folder) + part[1]
    return out
