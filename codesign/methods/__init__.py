"""Grow/prune methods. One algorithm per file; the registry key is the file stem.

A method *decides*; the training loop (codesign.train) and the unit engine (codesign.units) *act*.
See :class:`codesign.methods.base.Method` for the hooks the loop calls.
"""
from __future__ import annotations

from typing import Any, Dict, Type

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


def _import_all() -> None:
    """Import every module of this package: each method file registers itself (key = file stem)."""
    import importlib
    import pkgutil

    for info in pkgutil.iter_modules(__path__):
        if info.name != "base":
            importlib.import_module(f"{__name__}.{info.name}")


_import_all()
