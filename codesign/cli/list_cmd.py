"""`codesign list models|datasets|methods|devices|recipes|sweeps`."""
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
    sweeps = "sweeps"


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
    elif what in (What.recipes, What.sweeps):
        for name, path in sorted(_shipped(what).items()):
            yield name, _description(path)
    else:
        try:
            from ..sim.device import list_devices, load_device
        except ModuleNotFoundError:
            return
        for name, part, desc in list_devices():      # the aliases: what README and docs/devices.md say to type
            yield name, part, ", ".join(load_device(name).aliases), desc


def _shipped(what: What):
    from ..shipped import RECIPES, SWEEP_SPECS, shipped

    return shipped(RECIPES if what is What.recipes else SWEEP_SPECS)


#: a description longer than this ends at its first colon or semicolon outside brackets
SUMMARY_CHARS = 120


def _description(path) -> str:
    """A shipped YAML file in one line: its ``description:`` (sweep specs), else the first sentence of the
    comment it starts with (recipes), cut at its first top-level ':' or ';' when long."""
    import re

    import yaml

    text = path.read_text()
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("description"), str) and data["description"].strip():
        return " ".join(data["description"].split())
    comment = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        comment.append(line[1:].strip())
    sentence = re.split(r"(?<=[.!?])\s+(?=[^\d\s])", " ".join(comment).strip())[0]
    if len(sentence) <= SUMMARY_CHARS:
        return sentence
    depth = 0
    for i, c in enumerate(sentence):
        depth += (c in "([{") - (c in ")]}")
        if depth == 0 and c in ":;" and sentence[i + 1:i + 2] == " ":
            return sentence[:i]
    return sentence


def _method_rows():
    """(name, first docstring line) of every method module, read from the source files: importing the
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
            yield path.stem, doc.splitlines()[0] if doc else ""


def _default(name: str, argument: str):
    """The builder's default for ``argument`` (each model's native input shape and classes)."""
    import inspect

    from ..zoo import MODELS
    return inspect.signature(MODELS.get(name)).parameters[argument].default


HEADERS = {What.devices: ("device", "part", "aliases"), What.methods: ("method",), What.recipes: ("recipe",),
           What.sweeps: ("sweep spec",)}
#: columns that wrap between their comma-separated entries (the others keep every name whole on one line)
LISTS = ("aliases",)


@app.command("list")
def list_(what: What = typer.Argument(..., help="What to list: sweeps are the shipped sweep specs "
                                               "(`codesign sweep NAME` runs one), recipes the shipped "
                                               "training recipes (`codesign train NAME`).")) -> None:
    """List the registered models, datasets, methods, devices, or the shipped recipes and sweep specs."""
    rows = list(_rows(what))
    headers = HEADERS.get(what, (what.value[:-1], "size"))
    table = Table(show_header=True, header_style="bold")
    if what in (What.recipes, What.sweeps):
        table.caption = f"YAML files in {_folder(what)}; copy one to change it"
    for j, header in enumerate(headers):            # names (and parts) whole: the description wraps instead
        cells = [str(r[j]).split(", ") if header in LISTS else [str(r[j])] for r in rows]
        width = max([len(header)] + [len(c) for cell in cells for c in cell])
        table.add_column(header, no_wrap=header not in LISTS, min_width=width)
    table.add_column("description", overflow="fold")
    for row in rows:
        table.add_row(*row)
    console.print(table)


def _folder(what: What) -> str:
    paths = list(_shipped(what).values())
    return str(paths[0].resolve().parent) if paths else ""
