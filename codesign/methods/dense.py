"""Plain dense training: the baseline every method is compared with."""
from __future__ import annotations

from . import register_method
from .base import Method


@register_method(__name__)
class Dense(Method):
    name = "dense"
