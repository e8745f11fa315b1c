"""`codesign sweep SPEC`: a design-space sweep with a progress bar, a results table and a report."""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Dict, List, Optional

import typer
from rich.table import Table

from ..errors import CodesignError
from ..shipped import SWEEP_SPECS, shipped
from . import app
from .console import console, err_console
from .progress import BarProgress


class SweepProgress(BarProgress):
    """Context manager; pass ``self.event`` as the ``events`` callback of ``run_sweep``."""

    def say(self, text: str) -> None:
        self.progress.console.print(text, markup=False, highlight=False)

    def event(self, kind: str, payload: Dict[str, Any]) -> None:
        if kind == "start":
            self.task = self.progress.add_task(self.title, total=payload["total"], completed=payload["done"], info="")
            work = [f"{payload['total']} points ({payload['done']} already done)",
                    f"{payload['models']} models to make"]
            if payload["bases"]:
                work.append(f"{payload['bases']} shared dense run(s)")
            if payload["csims"]:
                work.append(f"{payload['csims']} C simulations")
            if payload.get("emulations"):
                work.append(f"{payload['emulations']} fixed-point emulations")
            self.say(f"sweep {payload['name']}: " + ", ".join(work) +
                     f"; {payload['workers']} worker(s), executor {payload['executor']}")
        elif kind == "points" and self.task is not None:
            self.progress.update(self.task, advance=payload["new"],
                                 info=f"failed {payload['failed']}" if payload["failed"] else "")
        elif kind == "job":
            self.say(_job_line(payload))


def _job_line(payload: Dict[str, Any]) -> str:
    if payload["error"]:
        return f"failed {payload['kind']} {payload['label']}: {payload['error']}"
    value = payload.get("value") or {}
    facts = []
    for key, fmt in (("accuracy", "acc {:.4f}"), ("test_acc", "acc {:.4f}"), ("csim_accuracy", "csim acc {:.4f}"),
                     ("fixed_accuracy", "fixed-point acc {:.4f}"),
                     ("params", "{:,} params"), ("nonzeros", "{:,} nonzeros")):
        if value.get(key) is not None:
            facts.append(fmt.format(value[key]))
    seconds = value.get("make_seconds", value.get("wall_seconds"))
    if seconds is not None:
        facts.append(f"{seconds:.1f} s")
    return f"done {payload['kind']} {payload['label']}" + (f" ({', '.join(facts)})" if facts else "")


#: what to do about failed points: --resume keeps the spec, so a fix in the spec starts a new sweep
RETRY = ("once the cause is fixed, rerun with --resume --retry-failed; a changed spec needs --force or another "
         "--out")
TEXT_AXES = ("model", "method", "device", "template", "precision", "strategy", "io_type")   # never cut
HEADERS = {"reuse_factor": "RF", "io_type": "io", "accuracy": "float acc", "fixed_accuracy": "fixed acc",
           "csim_accuracy": "csim acc", "latency_s": "latency", "energy_j": "energy", "util_max": "util max"}
UNITS = {"latency_s": "s", "energy_j": "J"}


def _front_table(rows: List[Dict[str, Any]]) -> Optional[Table]:
    """The first points of the report's Pareto front: the axes that vary (names and precisions in full: the
    numbers wrap first in a narrow terminal), then the accuracy it ranks by, latency, energy and the largest
    utilisation (report/index.html has every column)."""
    from ..sweep.report import ACCURACY_COLUMNS, main_objectives, report_front, varies

    good = [r for r in rows if not r.get("error") and r.get("fits") is True]
    objectives = main_objectives(good)
    front = report_front(good, objectives)[:15]
    if not front:
        return None
    axes = ["model", "width", "method", "density", "device", "template", "reuse_factor", "precision", "strategy",
            "io_type"]
    cols = [a for a in axes if varies(rows, a)]
    ranked = [c for c in objectives if c in ACCURACY_COLUMNS]          # the accuracy the front ranks by only
    cols += [c for c in (*ranked, "latency_s", "energy_j", "util_max") if any(r.get(c) is not None for r in front)]
    table = Table(title=f"Pareto front ({' vs '.join(HEADERS.get(o, o) for o in objectives)}; first {len(front)})",
                  header_style="bold", collapse_padding=True, pad_edge=False)
    cells = [[_fmt(r.get(c), UNITS.get(c, ""), c == "util_max") for c in cols] for r in front]
    for j, c in enumerate(cols):
        text, header = c in TEXT_AXES, HEADERS.get(c, c)
        words = [w for row in cells for w in ([row[j]] if text else row[j].split())]   # a number is never cut
        table.add_column(header, justify="left" if text else "right", no_wrap=text, overflow="fold",
                         min_width=max(map(len, words), default=1))
    for row in cells:
        table.add_row(*row)
    return table


def _refused_count(rows: List[Dict[str, Any]]) -> str:
    """' (N of the points are designs HLS refuses: ...)', else ''."""
    refused = sum(1 for r in rows if r.get("refused"))
    return (f" ({refused} of the points are designs HLS refuses: the Latency strategy over the unroll limit, see "
            f"the refused and warnings columns)" if refused else "")


def _fmt(value: Any, unit: str = "", percent: bool = False) -> str:
    from ..sim.markdown import fmt

    if value is None:
        return ""
    if isinstance(value, float):
        return fmt(value, unit) if unit else f"{value:.0%}" if percent else f"{value:.4g}"
    return str(value)


@app.command()
def sweep(
    spec: str = typer.Argument(..., help="Sweep spec: a YAML path (e.g. sweeps/lenet5_density.yaml) or a shipped "
                                         f"spec name ({', '.join(sorted(shipped(SWEEP_SPECS)))})."),
    out: Optional[Path] = typer.Option(None, help="Run folder (default runs/sweeps/<spec name>)."),
    workers: int = typer.Option(1, min=1, help="Parallel jobs (local processes, or Ray CPUs)."),
    executor: str = typer.Option("local", help="local (this machine; a process pool when --workers > 1) or ray "
                                               "(a local Ray instance, or the cluster in $RAY_ADDRESS)."),
    resume: bool = typer.Option(False, "--resume", help="Continue the sweep in --out: finished points are kept, "
                                                         "unfinished training resumes from its last epoch."),
    force: bool = typer.Option(False, "--force", help="Delete the sweep in --out and start over (only its own "
                                                      "files: a folder holding anything else, also inside its "
                                                      "models/, base/ or report/, is refused and kept)."),
    limit: Optional[int] = typer.Option(None, min=1, help="Run only the first N points of the spec."),
    retry_failed: bool = typer.Option(False, "--retry-failed", help="With --resume: compute failed points again."),
    report: bool = typer.Option(True, "--report/--no-report", help="Write report/ (plots and index.html)."),
    data_dir: Optional[Path] = typer.Option(None, help="Data folder (default $CODESIGN_DATA or "
                                                       "~/.cache/codesign/data)."),
) -> None:
    """Sweep model × method × density × device × template × reuse factor × precision: train each model
    once, simulate every hardware point, write results.csv and a report with Pareto fronts."""
    from ..atomic import check_output_dir, remove_stale_temporaries
    from ..lock import folder_lock
    from ..sweep import load_spec, run_sweep
    from ..sweep.runner import ARTIFACTS

    if resume and force:
        raise CodesignError("--resume continues the sweep in --out and --force deletes it: give one of them")
    if retry_failed and not resume:
        raise CodesignError("--retry-failed computes a resumed sweep's failed points again: add --resume")
    cfg = load_spec(spec)
    if cfg.csim.enabled and shutil.which("g++") is None:
        raise CodesignError(f"sweep {cfg.name}: csim.enabled needs g++, which is not on PATH; install it "
                            f"(e.g. apt-get install g++) or set csim.enabled: false in the spec")
    out = check_output_dir(out or Path("runs") / "sweeps" / cfg.name, force, own=ARTIFACTS, replaces=ARTIFACTS)
    with folder_lock(out, f"codesign sweep {cfg.name}"):
        remove_stale_temporaries(out)                   # left by a killed run; never read, only litter
        with SweepProgress(f"sweep {cfg.name}") as progress:
            result = run_sweep(cfg, out, workers=workers, executor=executor, resume=resume, force=force,
                               limit=limit, retry_failed=retry_failed, report=report, data_dir=data_dir,
                               events=progress.event)
    table = _front_table(result.rows)
    if table is not None:
        console.print(table)
    elif any(not r.get("error") for r in result.rows):
        console.print(f"Pareto front: empty, no point fits its device{_refused_count(result.rows)}", markup=False,
                      highlight=False)
    console.print(f"{len(result.rows)} of {result.total} points finished ({result.computed} computed now) in "
                  f"{result.seconds:.1f} s; " + ", ".join(f"{k}: {v}" for k, v in result.paths.items()),
                  markup=False, highlight=False)
    if result.failed and result.failed == len(result.rows) == result.total:    # nothing to show: a cause to fix
        first = next(r["error"] for r in result.rows if r.get("error"))
        raise CodesignError(f"every point of sweep {cfg.name} failed; the first: {str(first).splitlines()[0]} "
                            f"(all in {result.paths['csv']}; {RETRY})")
    if result.failed:
        err_console.print(f"warning: {result.failed} point(s) failed; their error is in the 'error' column of "
                          f"{result.paths['csv']} ({RETRY})",
                          markup=False, highlight=False)
