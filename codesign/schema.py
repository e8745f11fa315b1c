"""The YAML layer shared by recipes, sweep specs, device files and precision files: the YAML loader, the
``Strict`` pydantic base every file model derives from, the field types with codesign's limits, and the
one-line error a malformed file becomes. (Kept apart from the recipe models in ``codesign.config`` so that
reading a device file does not build them.)
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Callable, Dict, Tuple, Type, TypeVar, Union

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from .errors import ConfigError, close_matches
from . import validate as checks
from .validate import NAME_PATTERN, REUSE_FACTOR_MAX, SEED_MAX, WIDTH_MAX

M = TypeVar("M", bound=BaseModel)


def _name(value: str) -> str:
    if not NAME_PATTERN.fullmatch(value):
        raise ValueError("a name takes letters, digits and _ . + = - (at most 128 characters, no '/' and not "
                         "starting with '.' or '-')")
    return value


def _util_limit(value):
    """A ``max_util``: one share, shares per resource or their text form; kept as a number when uniform."""
    from .sim.util_limit import UtilLimit

    try:
        return UtilLimit.of(value, flag="the limit").as_json()
    except ConfigError as err:
        raise ValueError(str(err)) from None


def in_limits(check: Callable[[Any, str], Any], value: Any) -> Any:
    """``check(value, '')`` of :mod:`codesign.validate` inside a pydantic validator: its ConfigError becomes the
    ValueError pydantic reports, the check's own words (the range it allows) after the field's name."""
    try:
        check(value, "")
    except ConfigError as err:
        raise ValueError(str(err).lstrip(": ")) from None
    return value


def limited(check: Callable[[Any, str], Any]) -> AfterValidator:
    """A field validator from a :mod:`codesign.validate` check (see :func:`in_limits`)."""
    return AfterValidator(lambda value: in_limits(check, value))


#: field types with the limits of codesign.validate
Name = Annotated[str, AfterValidator(_name)]       # becomes a file or folder name
Seed = Annotated[int, Field(ge=0, le=SEED_MAX)]
ReuseFactor = Annotated[int, Field(ge=1, le=REUSE_FACTOR_MAX)]
Width = Annotated[float, Field(gt=0, le=WIDTH_MAX)]
Epochs = Annotated[int, Field(ge=1), limited(checks.epochs)]
ClockPeriodNs = Annotated[float, Field(gt=0), limited(checks.clock_period_ns)]
UtilShares = Annotated[Union[float, Dict[str, float], str], AfterValidator(_util_limit)]   # codesign.sim.util_limit


class Strict(BaseModel):
    """Base of every YAML-backed model: unknown keys are errors, values are never coerced from another
    type (a string or boolean is not a number, a float is not an integer) and inf/nan are refused."""
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


def _field_names(cls: Type[BaseModel], loc: Tuple[Any, ...]) -> list[str]:
    """Field names allowed at ``loc`` (the parent path of an unknown key)."""
    for key in loc:
        field = cls.model_fields.get(key) if isinstance(key, str) else None
        ann = getattr(field, "annotation", None) if field else None
        if not (isinstance(ann, type) and issubclass(ann, BaseModel)):
            return []
        cls = ann
    return list(cls.model_fields)


def _type_tag(part: Any) -> bool:
    """Whether a pydantic error location part names a union member's type ('float', 'list[constrained-int]',
    'function-after[...]'), not a key the user wrote."""
    return isinstance(part, str) and (part in ("float", "int", "str", "bool", "dict", "list", "none")
                                      or "[" in part or part.startswith(("constrained-", "function-")))


def _user_loc(error: Dict[str, Any]) -> Tuple[Any, ...]:
    """An error's location as the user wrote it: without the union members' type tags."""
    return tuple(p for p in error["loc"] if not _type_tag(p))


def _value_loc(error: Dict[str, Any]) -> Tuple[Any, ...]:
    """The value an error is about: its location up to a union member's type tag (every member's error about
    one value shares it), else the whole location."""
    loc = error["loc"]
    tag = next((i for i, p in enumerate(loc) if _type_tag(p)), len(loc))
    return tuple(p for p in loc[:tag])


def describe_validation_error(err: ValidationError, cls: Type[BaseModel], source: str) -> str:
    """The first problem of a pydantic error as one readable line. A value that no member of a union takes
    fails once per member: the member it was written for (the one whose problem is not the kind of input, as
    a mapping for a range is not a list) says what is wrong, and the others are not more problems."""
    errors = err.errors()
    key = _value_loc(errors[0])
    alternatives = [e for e in errors if _value_loc(e) == key]
    first = next((e for e in alternatives if not e["type"].endswith("_type")), alternatives[0])
    problems = len({_value_loc(e) for e in errors})
    loc = _user_loc(first)
    if first["type"] == "extra_forbidden":      # the last part is the key the user wrote, whatever it spells ('float')
        loc = _user_loc({"loc": first["loc"][:-1]}) + tuple(first["loc"][-1:])
    where = ".".join(str(p) for p in loc) or "(top level)"
    if first["type"] == "extra_forbidden":
        allowed = _field_names(cls, loc[:-1])
        return (f"{source}: unknown key '{where}'{close_matches(str(loc[-1]), allowed)}"
                + (f"; allowed: {', '.join(allowed)}" if allowed else ""))
    got = first.get("input")
    shown = f" (got {got!r})" if got is not None and not isinstance(got, dict) and "got " not in first["msg"] else ""
    more = f" [and {problems - 1} more problem(s)]" if problems > 1 else ""
    msg = first["msg"].removeprefix("Value error, ")
    return f"{source}: {where}: {msg}{shown}{more}"


def validate(cls: Type[M], data: Any, source: str) -> M:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping of keys to values at the top level, got {type(data).__name__}")
    try:
        return cls.model_validate(data)
    except ValidationError as err:
        raise ConfigError(describe_validation_error(err, cls, source)) from None


class Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """PyYAML's safe loader (libyaml's parser where installed: ten times faster) with YAML 1.2 numbers:
    ``1e-3`` and ``2E5`` are floats (YAML 1.1, and so PyYAML, reads them as strings, which the strict
    models would then refuse)."""


Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."))


def read_yaml(path: str | Path) -> Any:
    """The YAML document in ``path``; a missing, unreadable, malformed or empty file is a one-line ConfigError."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(f"file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"cannot read {path}: {err}") from None
    try:
        data = yaml.load(text, Loader=Loader)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ConfigError(f"{path}:{where}: malformed YAML ({problem})") from None
    if data is None:        # nothing, or only comments: read as every default, it trained a recipe no one wrote
        raise ConfigError(f"{path} is empty (it holds no YAML, only blank lines or comments); give its settings")
    return data
