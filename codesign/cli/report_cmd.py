"""`codesign report RUN_DIR`: rebuild a sweep's plots and HTML report from its results.csv."""
from __future__ import annotations

from pathlib import Path

import typer

from . import app
from .console import console


@app.command()
def report(
    run_dir: Path = typer.Argument(..., help="A sweep's run folder (holding results.csv), e.g. runs/sweeps/NAME."),
) -> None:
    """Rebuild RUN_DIR/report/ (Pareto fronts, density-vs-latency plots, index.html) from RUN_DIR/results.csv."""
    from ..lock import folder_lock
    from ..sweep import build_report

    if not run_dir.is_dir():
        from ..errors import CodesignError
        raise CodesignError(f"{run_dir} is not a folder holding results.csv; give a sweep's run folder, e.g. "
                            f"runs/sweeps/NAME")
    with folder_lock(run_dir, "codesign report"):
        page = build_report(run_dir)
    figures = sorted(p.name for p in page.parent.glob("*.png"))
    console.print(f"report: {page}" + (f" ({', '.join(figures)})" if figures else ""), markup=False,
                  highlight=False)
