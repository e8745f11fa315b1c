"""The YAML files shipped inside the package, by name: recipes (``models/``) and sweep specs (``sweeps/``).
Standard library only, so a ``--help`` text can list them without importing the library."""
from __future__ import annotations

from pathlib import Path
from typing import Dict

RECIPES = "recipes"             # codesign/recipes -> models/
SWEEP_SPECS = "sweep_specs"     # codesign/sweep_specs -> sweeps/


def shipped(folder: str) -> Dict[str, Path]:
    """{name (file stem): path} of the YAML files in the package folder ``folder``."""
    from importlib import resources

    files = resources.files("codesign").joinpath(folder)
    return {Path(str(p)).stem: Path(str(p)) for p in files.iterdir() if str(p).endswith(".yaml")}
