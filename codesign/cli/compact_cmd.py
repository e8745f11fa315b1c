"""`codesign compact RUN_DIR|MODEL.pt`: a physically smaller dense model and its shapes manifest."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich.table import Table

from . import app
from .console import console


@app.command()
def compact(
    source: Path = typer.Argument(..., help="A run directory of `codesign train` (uses train/model.pt and its "
                                            "masks), a model file, a plain state_dict (with --model) or a "
                                            "pickled nn.Module."),
    out: Optional[Path] = typer.Option(None, help="Folder for model.pt and shapes.json (default: RUN_DIR/compact)."),
    samples: Optional[int] = typer.Option(None, min=1, help="Random inputs of the equivalence check (default 8)."),
    check: bool = typer.Option(True, "--check/--no-check", help="Check that the compact model's outputs equal the "
                                                                 "masked model's (on by default)."),
    force: bool = typer.Option(False, "--force", help="Write over the compact model in an existing output folder "
                                                    "(a folder holding other files is refused)."),
    model: Optional[str] = typer.Option(None, help="The architecture of a plain state_dict: a zoo name or "
                                                   "FILE.py:FUNCTION / package.module:FUNCTION."),
    model_arg: List[str] = typer.Option([], "--model-arg", help="Keyword argument of a model factory, KEY=VALUE "
                                                                "(repeatable)."),
    input_shape: Optional[str] = typer.Option(None, "--input-shape", help="One sample's shape (e.g. 3,32,32) for "
                                                                          "weights that do not record it."),
) -> None:
    """Remove pruned filters/neurons for real (zeros stay exact zeros) and check the outputs are unchanged."""
    from ..atomic import check_output_dir
    from ..compaction import compact_file, resolve_model_file, size_line
    from ..lock import folder_lock
    from ..model_source import parse_input_shape, parse_model_args
    from ..rundir import COMPACT_FILES

    if samples is not None and not check:
        from ..errors import ConfigError
        raise ConfigError("--samples sizes the equivalence check that --no-check turns off: drop one of them")
    samples = 8 if samples is None else samples
    folder = check_output_dir(out if out is not None else resolve_model_file(source)[1], force,
                              replaces=COMPACT_FILES)
    with folder_lock(folder, "codesign compact"):
        folder, manifest = compact_file(source, folder, check=check, samples=samples, model=model,
                                        model_args=parse_model_args(model_arg),
                                        in_shape=parse_input_shape(input_shape))
    table = Table(title=f"compact {manifest['model']}")
    for column in ("group", "units before", "units after"):
        table.add_column(column, justify="left" if column == "group" else "right")
    for g in manifest["groups"]:
        if g["prunable"]:
            table.add_row(g["name"], str(g["before"]), str(g["after"]))
    console.print(table)
    eq = manifest.get("equivalence")
    check_text = (f"equivalence: max |Δ| {eq['max_abs_diff']:.3g} on {eq['samples']} random inputs "
                  f"(tolerance {eq['tolerance']:.3g})") if eq else "equivalence: not checked (--no-check)"
    console.print(f"{size_line(manifest)}\n{check_text}\nwrote {folder}/model.pt, {folder}/shapes.json", markup=False)
