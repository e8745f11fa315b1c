"""`codesign train --resume-from ... --new-data ...`: the incremental grow-and-prune update."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Optional

from rich.table import Table

from .console import console
from .options import _fmt, show_summary


def train_update(recipe: Optional[str], overrides: Dict[str, Any], resume_from: Optional[Path],
                 new_data: Optional[str], replay: float, compare: str, out: Optional[Path], resume: bool,
                 force: bool, data_dir: Optional[Path]) -> None:
    from ..errors import CodesignError
    from ..incremental import load_previous, parse_new_data, update, update_recipe
    from ..lock import folder_lock
    from ..rundir import ARTIFACTS, RunDir
    from .progress import TrainProgress

    if resume_from is None or new_data is None:
        raise CodesignError("an incremental update needs both --resume-from (the trained model) and --new-data "
                            "(e.g. --new-data 30000:60000)")
    previous = load_previous(resume_from)
    cfg = update_recipe(previous, parse_new_data(new_data), replay, recipe, overrides)
    run = RunDir(out or Path("runs") / cfg.name)
    run.check(force, own=ARTIFACTS)                         # before the lock creates the folder
    with folder_lock(run.root, f"codesign train {cfg.name} (incremental update)"):
        if resume:                              # the same epochs as the update it continues, as train --resume
            from ..checkpoint import check_resumable
            check_resumable(run.checkpoint, cfg)
        run_dir = run.prepare(force, own=ARTIFACTS).root
        with TrainProgress(f"update {cfg.model.name}") as progress:
            result = update(cfg, previous, run_dir, compare=compare, resume=resume, overwrite=force,
                            events=progress.event, data_dir=data_dir)
    show_summary(result.fit.summary, f"{cfg.model.name} on {cfg.data.name} ({cfg.method.name}, incremental update)")
    show_costs(result.report)
    console.print(f"artifacts: {run_dir}/incremental.json, {run_dir}/train/{{ckpt.pt,model.pt,history.csv,cost.json}}",
                  markup=False)


def show_costs(report: Dict[str, Any]) -> None:
    data = report["data"]
    table = Table(title=f"training FLOPs of the update ({data['dataset']}: old 0:{data['old'][1]}, "
                        f"new {data['new'][0]}:{data['new'][1]}, replay {data['replay']:g})")
    for column in ("run", "epochs", "samples", "sparse", "dense", "test acc", "saved"):
        table.add_column(column, justify="left" if column == "run" else "right")
    rows = {"update": report["update"], **report["comparators"]}
    for name, row in rows.items():
        saving = report["savings"].get(f"vs_{name}", {}).get("sparse")
        acc = row.get("test_acc")
        table.add_row(name, _fmt(row["epochs"]), _fmt(row["samples"]), f"{row['train_flops_sparse']:.3g}",
                      f"{row['train_flops_dense']:.3g}", "-" if acc is None else f"{acc:.4f}",
                      "-" if saving is None else f"{100 * saving:.1f}%")
    console.print(table)
    if report["comparators"]:
        how = "estimated from measured per-sample costs" if report["compare"] == "estimate" else "trained"
        console.print(f"comparators {how}; 'saved' = 1 - update / comparator (sparse convention); "
                      f"definitions: codesign/incremental.py", markup=False)
    start = report["start_model"]
    console.print(f"start model: {start['nonzeros']:,} nonzeros, test acc {start['test_acc']:.4f} → "
                  f"{report['update']['test_acc']:.4f} after the update", markup=False)
