"""`codesign list models|datasets|methods|devices|recipes`."""
from __future__ import annotations

from enum import Enum

import typer
from rich.table import Table

from . import app
from .console import console


class What(str, Enum):
    models = "models"
    datasets = "datasets"
    methods = "methods"
    devices = "devices"
    recipes = "recipes"


def _rows(what: What):
    if what is What.models:
        from ..catalog import load

        cached = load()               # the shipped catalog answers without torch when it is current
        if cached is not None:
            for name, entry in sorted(cached.items()):
                yield name, f"{entry['params']:,} params", entry["doc"]
            return
        from ..zoo import MODELS, create_model
        for name in MODELS.names():
            doc = (MODELS.get(name).__doc__ or "").strip()
            model = create_model(name, in_shape=_default(name, "in_shape"), num_classes=_default(name, "num_classes"))
            params = sum(p.numel() for p in model.parameters())
            yield name, f"{params:,} params", doc.splitlines()[0] if doc else ""
    elif what is What.datasets:
        from ..data import DATASETS
        for name in DATASETS.names():
            spec = DATASETS.get(name)
            yield name, "×".join(map(str, spec.in_shape)) + f", {spec.num_classes} classes", spec.description
    elif what is What.methods:
        yield from _method_rows()
    elif what is What.recipes:
        from ..config import shipped_recipes
        for name, path in sorted(shipped_recipes().items()):
            comments = [line[1:].strip() for line in path.read_text().splitlines() if line.startswith("#")]
            yield name, path.name, comments[0] if comments else ""
    else:
        try:
            from ..sim.device import list_devices
        except ModuleNotFoundError:
            return
        for name, part, desc in list_devices():
            yield name, part, desc


def _method_rows():
    """(name, '', first docstring line) of every method module, read from the source files: importing the
    methods would import torch. A method module is one that calls register_method (key = file stem)."""
    import ast
    from pathlib import Path

    folder = Path(__file__).resolve().parent.parent / "methods"
    for path in sorted(folder.glob("*.py")):
        source = path.read_text()
        if "register_method(" not in source:
            continue
        tree = ast.parse(source)
        registers = any(isinstance(node, ast.Call) and getattr(node.func, "id", None) == "register_method"
                        for node in ast.walk(tree))
        if registers:
            doc = (ast.get_docstring(tree) or "").strip()
            yield path.stem, "", doc.splitlines()[0] if doc else ""


def _default(name: str, argument: str):
    """The builder's default for ``argument`` (each model's native input shape and classes)."""
    import inspect

    from ..zoo import MODELS
    return inspect.signature(MODELS.get(name)).parameters[argument].default


@app.command("list")
def list_(what: What = typer.Argument(..., help="What to list.")) -> None:
    """List the registered models, datasets, methods, devices or shipped recipes."""
    table = Table(show_header=True, header_style="bold")
    table.add_column(what.value[:-1])
    table.add_column({What.devices: "part", What.recipes: "file"}.get(what, "size"))
    table.add_column("description")
    for row in _rows(what):
        table.add_row(*row)
    console.print(table)
