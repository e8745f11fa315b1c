"""Grow/prune methods. One algorithm per file; the registry key is the file stem.

A method *decides*; the training loop (codesign.train) and the unit engine (codesign.units) *act*.
See :class:`codesign.methods.base.Method` for the hooks the loop calls.
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Type

from ..config import validate
from ..registry import Registry
from .base import Method

METHODS: Registry[Type[Method]] = Registry("method")


def register_method(module_name: str):
    """Register a Method class under the stem of the file that defines it."""
    return METHODS.register(module_name.rsplit(".", 1)[-1])


def build_method(name: str, params: Dict[str, Any] | None = None) -> Method:
    cls = METHODS.get(name)
    cfg = validate(cls.Config, params or {}, f"method '{name}' params")
    return cls(cfg)


def list_methods() -> list[str]:
    return METHODS.names()


def one_shot_methods() -> list[str]:
    """Methods whose pruning decision can be taken once, on a trained model (see Method.one_shot)."""
    return [name for name in METHODS.names() if METHODS.get(name).one_shot is not None]


def density_knob(name: str, override: Optional[str] = None) -> Optional[str]:
    """The Config field that sets method ``name``'s final density (``override`` if it has that field),
    or None when the method has none."""
    cls = METHODS.get(name)
    knob = override or cls.density_knob
    return knob if knob is not None and knob in cls.Config.model_fields else None


def _import_all() -> None:
    """Import every module of this package: each method file registers itself (key = file stem)."""
    import importlib
    import pkgutil

    for info in pkgutil.iter_modules(__path__):
        if info.name != "base":
            importlib.import_module(f"{__name__}.{info.name}")


_import_all()
