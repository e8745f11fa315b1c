"""Shared CLI helpers: turning options into recipe overrides, and result tables."""
from __future__ import annotations

from typing import Any, Dict, List, Optional

from .console import console


def build_overrides(assignments: List[str], flags: Dict[str, Any], method_params: Optional[List[str]] = None
                    ) -> Dict[str, Any]:
    """--set KEY=VALUE pairs, then explicit flags (which win), then --param into method.params."""
    from ..config import parse_assignment

    out: Dict[str, Any] = {}
    for text in assignments:
        keys, value = parse_assignment(text)
        out[".".join(keys)] = value
    out.update({k: v for k, v in flags.items() if v is not None})
    for text in method_params or []:
        keys, value = parse_assignment(text)
        out["method.params." + ".".join(keys)] = value
    return out


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value != 0 and (abs(value) >= 1e6 or abs(value) < 1e-3):
            return f"{value:.4g}"
        return f"{value:.4f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def show_summary(summary: Dict[str, Any], title: str) -> None:
    from rich.table import Table

    table = Table(title=title, show_header=False)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in summary.items():
        if value is not None:
            table.add_row(key, _fmt(value))
    console.print(table)
