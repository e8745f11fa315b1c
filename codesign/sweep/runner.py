"""``run_sweep(spec, run_dir)``: make every model once, simulate every point, keep what finished.

The work is a small dependency graph run by an executor (codesign.sweep.executors): shared dense
runs → models (train / prune / compact, one per model key) → accuracy jobs (the fixed-point
emulation per precision, on with a recipe; C simulations, optional) → hardware points (the
simulator's batch API, in chunks). A job is submitted as soon as what it needs is done, so points
finish (and the progress bar moves) while other models still train. Finished points go to the
journal at once; a failed job fails exactly the points that need it, with its
error, and the sweep goes on.

    RUN/spec.yaml  sweep.json  results.jsonl  results.csv  base/  models/  report/
"""
from __future__ import annotations

import math
import time
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

import yaml

from .. import atomic
from ..config import read_yaml
from ..errors import CodesignError
from ..events import Events, quiet
from ..lock import folder_lock
from .evaluate import run_csim, run_emulate, simulate_points
from .executors import Outcome, in_worker_start, make_executor
from .models import run_base, run_model
from .plan import HARDWARE_AXES, Plan, Point, make_plan
from .results import CSV, JOURNAL, Journal, write_table
from .device_files import changed_device_file, recorded_device_files
from .spec import SweepSpec, load_spec

ARTIFACTS = ("spec.yaml", "sweep.json", JOURNAL, CSV, "results.parquet", "base", "models", "report")
TABLE_EVERY_S = 2.0
MODEL_FIELDS_SKIPPED = ("model_file", "in_shape")


@dataclass
class SweepResult:
    run_dir: Path
    rows: List[Dict[str, Any]]          # finished points of the spec, in plan order
    total: int                          # points of the spec (after --limit)
    failed: int
    computed: int                       # points finished by this call
    seconds: float
    paths: Dict[str, Path] = field(default_factory=dict)


def run_sweep(spec: Union[SweepSpec, str, Path, Dict[str, Any]], run_dir: Union[str, Path, None] = None, *,
              workers: int = 1, executor: str = "local", resume: bool = False, force: bool = False,
              limit: Optional[int] = None, retry_failed: bool = False, report: bool = True,
              data_dir: Union[str, Path, None] = None, events: Optional[Events] = None) -> SweepResult:
    """Run (or continue) a sweep; results in ``run_dir``/results.csv and a report in ``run_dir``/report.
    The run folder is locked while the sweep runs (codesign.lock)."""
    start = time.perf_counter()
    if in_worker_start():           # a worker importing an unguarded script: stop quietly (executors.MAIN_GUARD)
        raise SystemExit(1)
    events = events or quiet
    spec = load_spec(spec)
    run_dir = Path(run_dir) if run_dir is not None else Path("runs") / "sweeps" / spec.name
    if limit is not None and limit < 1:
        raise CodesignError(f"--limit must be >= 1, got {limit}")
    if run_dir.exists() and not run_dir.is_dir():
        raise CodesignError(f"--out {run_dir} is a file; choose a folder")
    pool = make_executor(executor, workers)      # workers start (or fail to) before anything is written
    try:
        with folder_lock(run_dir, f"codesign sweep {spec.name}"):
            return _run_sweep(spec, run_dir, start, pool, executor, resume, force, limit, retry_failed, report,
                              data_dir, events)
    except BaseException:
        pool.shutdown(cancel=True)
        raise


def _run_sweep(spec: SweepSpec, run_dir: Path, start: float, pool, executor: str, resume: bool,
               force: bool, limit: Optional[int], retry_failed: bool, report: bool,
               data_dir: Union[str, Path, None], events: Events) -> SweepResult:
    prepare_run_dir(run_dir, resume, force, spec)
    plan = make_plan(spec, run_dir, Path(data_dir) if data_dir else None)
    points = plan.points[:limit] if limit else plan.points
    journal = Journal(run_dir / JOURNAL)
    finished = journal.load()
    if retry_failed:
        finished = {k: r for k, r in finished.items() if not r.get("error")}
    todo = [p for p in points if p.point_id not in finished]
    record = {**spec.model_dump(mode="json"), "device_files": recorded_device_files(spec)}
    atomic.write_text(run_dir / "spec.yaml", yaml.safe_dump(record, sort_keys=False))
    runner = _Scheduler(plan.restricted(todo), pool, journal, finished, events,
                        lambda: write_table(run_dir, _ordered(points, finished)), str(data_dir) if data_dir else None)
    events("start", {"name": spec.name, "total": len(points), "done": len(points) - len(todo), "todo": len(todo),
                     "models": len(runner.plan.models), "bases": len(runner.plan.bases),
                     "csims": len(runner.plan.csims), "emulations": len(runner.plan.emulations),
                     "workers": runner.executor.workers, "executor": executor})
    runner.run()
    rows = _ordered(points, finished)
    paths = write_table(run_dir, rows)
    failed = sum(1 for r in rows if r.get("error"))
    seconds = time.perf_counter() - start
    atomic.write_json(run_dir / "sweep.json", {
        "name": spec.name, "description": spec.description, "spec": spec.source, "points": len(points),
        "finished": len(rows), "failed": failed, "computed": len(todo), "seconds": round(seconds, 3),
        "executor": executor, "workers": runner.executor.workers, "bases": runner.base_summaries})
    if report and rows:
        from .report import build_report
        paths["report"] = build_report(run_dir, rows)
    result = SweepResult(run_dir, rows, len(points), failed, len(todo), seconds, paths)
    events("end", {"total": len(points), "finished": len(rows), "failed": failed, "seconds": seconds,
                   "paths": {k: str(v) for k, v in paths.items()}})
    return result


def prepare_run_dir(run_dir: Path, resume: bool, force: bool, spec: Optional[SweepSpec] = None) -> None:
    if run_dir.exists() and not run_dir.is_dir():
        raise CodesignError(f"--out {run_dir} is a file; choose a folder")
    holds_sweep = (run_dir / JOURNAL).exists() or (run_dir / "spec.yaml").exists()
    if holds_sweep and force:
        check_replaceable(run_dir)
        atomic.remove_artifacts(run_dir, ARTIFACTS)
    elif holds_sweep and not resume:
        raise CodesignError(f"{run_dir} already holds a sweep; pass --resume to continue it (finished points are "
                            f"kept) or --force to start over")
    elif holds_sweep and spec is not None:
        check_same_spec(run_dir, spec)
    elif run_dir.is_dir():                 # a sweep's names that no sweep wrote (spec.yaml comes before any point)
        stray = sorted(p.name for p in run_dir.iterdir() if p.name in ARTIFACTS)
        if stray:
            raise CodesignError(f"--out {run_dir} holds {', '.join(stray)} but no sweep (no spec.yaml or {JOURNAL}); "
                                f"a sweep would write over them: choose another folder")
    run_dir.mkdir(parents=True, exist_ok=True)


def check_replaceable(run_dir: Path) -> None:
    """--force deletes a sweep's folders whole: refused (one line, nothing deleted) while ``models/`` or ``base/``
    holds anything but the folders of its content keys, or ``report/`` anything but its page and figures."""
    import re

    from .report import FIGURE_PREFIXES

    def ours(folder: str, path: Path) -> bool:
        if path.name.startswith(".") and path.name.endswith(".tmp"):       # a killed writer's temporary
            return True
        if folder == "report":
            return path.is_file() and (path.name == "index.html" or
                                       path.suffix == ".png" and path.name.startswith(FIGURE_PREFIXES))
        return path.is_dir() and not path.is_symlink() and re.fullmatch(r"[0-9a-f]{12}", path.name) is not None

    for folder in ("models", "base", "report"):
        if not (run_dir / folder).is_dir():
            continue
        others = sorted(p.name for p in (run_dir / folder).iterdir() if not ours(folder, p))
        if others:
            raise CodesignError(f"{run_dir / folder} holds {', '.join(others[:4])}{', ...' if len(others) > 4 else ''}"
                                f", which the sweep did not write (--force replaces only a sweep's own files); move "
                                f"{'it' if len(others) == 1 else 'them'} away, or choose another folder")


def check_same_spec(run_dir: Path, spec: SweepSpec) -> None:
    """--resume continues the sweep of the same spec; another spec would replace spec.yaml and drop the old
    points from results.csv, so it is refused (as `train --resume` refuses another recipe)."""
    path = run_dir / "spec.yaml"
    if not path.exists():
        return
    try:
        saved = load_spec(read_yaml(path), check=False).model_dump(mode="json")
    except CodesignError:
        raise CodesignError(f"{path} is damaged, so --resume cannot tell which sweep {run_dir} holds; start over "
                            f"with --force or choose another --out") from None
    now = spec.model_dump(mode="json")
    changed = [k for k in now if k not in ("description", "device_files") and saved.get(k) != now.get(k)]
    if changed:
        key = changed[0]
        if isinstance(now.get(key), dict):
            key += "." + next((k for k in now[key] if saved.get(changed[0], {}).get(k) != now[key].get(k)), "")
        raise CodesignError(f"{run_dir} holds the sweep of another spec ('{key.rstrip('.')}' differs from its "
                            f"spec.yaml); resume with the same spec, or start over with --force / another --out")
    changed = changed_device_file(saved.get("device_files"), spec)
    if changed:
        raise CodesignError(f"{run_dir} holds a sweep priced on the device file {changed[0]}, which has changed since "
                            f"({changed[1]}); --resume would keep its rows priced on the old numbers: restore the "
                            f"file, or start over with --force / another --out")


def _ordered(points: List[Point], finished: Dict[str, Dict[str, Any]]) -> List[Dict[str, Any]]:
    return [finished[p.point_id] for p in points if p.point_id in finished]


class _Scheduler:
    """Submits each job when its inputs exist; turns outcomes into journal rows."""

    def __init__(self, plan: Plan, executor, journal: Journal, finished: Dict[str, Dict[str, Any]],
                 events: Events, write_table_now: Callable[[], Any], data_dir: Optional[str]):
        self.plan, self.executor, self.journal, self.finished = plan, executor, journal, finished
        self.events, self.write_table_now, self.data_dir = events, write_table_now, data_dir
        self.pending: Dict[Future, Tuple[str, Any]] = {}
        self.models: Dict[str, Dict[str, Any]] = {}
        self.accuracy: Dict[str, Outcome] = {}         # csim and emulate outcomes by key
        self.base_summaries: Dict[str, Dict[str, Any]] = {}
        self.points_of: Dict[str, List[Point]] = {}
        for p in plan.points:
            self.points_of.setdefault(p.model_key, []).append(p)
        self.failed = 0
        self.last_table = time.perf_counter()

    def run(self) -> None:
        try:
            for base in self.plan.bases.values():
                self._submit("base", base.key, run_base, base, self.data_dir)
            for task in self.plan.models.values():
                if not task.base_key:
                    self._submit("model", task.key, run_model, task, None)
            while self.pending:
                for future in self.executor.wait_any(list(self.pending)):
                    kind, key = self.pending.pop(future)
                    getattr(self, f"_on_{kind}")(key, future.result())
        except BrokenProcessPool:
            self.executor.shutdown(cancel=True)
            self.write_table_now()
            raise CodesignError("a worker process died (killed by the system, e.g. out of memory?); finished points "
                                "are kept: rerun with --resume, with fewer --workers if memory is short") from None
        except BaseException:
            self.executor.shutdown(cancel=True)
            self.write_table_now()
            raise
        self.executor.shutdown()

    def _submit(self, kind: str, key: Any, fn, *args) -> None:
        future = self.executor.submit(fn, *args, self.executor.threads_for(len(self.pending) + 1))
        self.pending[future] = (kind, key)

    # ------------------------------------------------------------------ outcomes
    def _on_base(self, key: str, outcome: Outcome) -> None:
        self._job_event("base", f"dense run {key}", outcome)
        if outcome.error is None:
            self.base_summaries[key] = {k: outcome.value.get(k) for k in ("test_acc", "epochs", "wall_seconds")}
        for task in self.plan.models.values():
            if task.base_key != key:
                continue
            if outcome.error is None:
                self._submit("model", task.key, run_model, task, outcome.value["model_file"])
            else:
                self._fail(self.points_of.get(task.key, []), f"the shared dense run failed: {outcome.error}")

    def _on_model(self, key: str, outcome: Outcome) -> None:
        self._job_event("model", self.plan.models[key].describe(), outcome)
        if outcome.error is not None:
            self._fail(self.points_of.get(key, []), outcome.error)
            return
        self.models[key] = outcome.value
        needed = {k for p in self.points_of.get(key, []) for k in p.needs()}
        for job_key in sorted(needed):
            kind, fn = (("csim", run_csim) if job_key in self.plan.csims else ("emulate", run_emulate))
            task = self.plan.csims.get(job_key) or self.plan.emulations[job_key]
            self._submit(kind, job_key, fn, task, outcome.value["model_file"], self.data_dir)
        if not needed:
            self._submit_points(key)

    def _on_csim(self, key: str, outcome: Outcome) -> None:
        task = self.plan.csims[key]
        self._job_event("csim", f"C simulation {task.precision} of model {task.model_key}", outcome)
        self._on_accuracy(task.model_key, key, outcome)

    def _on_emulate(self, key: str, outcome: Outcome) -> None:
        task = self.plan.emulations[key]
        self._job_event("emulate", f"fixed-point emulation {task.precision} of model {task.model_key}", outcome)
        self._on_accuracy(task.model_key, key, outcome)

    def _on_accuracy(self, model_key: str, key: str, outcome: Outcome) -> None:
        self.accuracy[key] = outcome
        wanted = {k for p in self.points_of.get(model_key, []) for k in p.needs()}
        if wanted <= set(self.accuracy):
            self._submit_points(model_key)

    def _submit_points(self, model_key: str) -> None:
        points = self.points_of.get(model_key, [])
        order = {v: i for i, v in enumerate(dict.fromkeys(p.axes["precision"] for p in points))}
        points = sorted(points, key=lambda p: order[p.axes["precision"]])    # a chunk holds few precisions: a worker
        # plans the network of each precision it prices (sweep.evaluate.planned_network)
        size = max(50, min(2000, math.ceil(len(self.plan.points) / (4 * self.executor.workers))))
        for i in range(0, len(points), size):
            chunk = points[i:i + size]
            items = [(p.point_id, {a: p.axes[a] for a in HARDWARE_AXES}) for p in chunk]
            self._submit("points", (model_key, chunk), simulate_points, self.models[model_key]["model_file"], items,
                         self.data_dir)

    def _on_points(self, key: Tuple[str, List[Point]], outcome: Outcome) -> None:
        model_key, chunk = key
        if outcome.error is not None:
            self._fail(chunk, f"simulation failed: {outcome.error}")
            return
        sims = {row["point_id"]: row for row in outcome.value}
        model = {k: v for k, v in self.models[model_key].items() if k not in MODEL_FIELDS_SKIPPED}
        rows = []
        for p in chunk:
            row = {"point_id": p.point_id, **p.axes, **model, **sims[p.point_id]}
            if p.csim_key:
                csim = self.accuracy[p.csim_key]
                row.update(csim.value or {})
                if csim.error and not row.get("error"):
                    row["error"] = f"C simulation failed: {csim.error}"
            if p.emulate_key:                 # hardware numbers stand without it: a note, not a failure
                emulated = self.accuracy[p.emulate_key]
                row.update(emulated.value or {"fixed_error": emulated.error})
            rows.append(row)
        self._record(rows)

    # ------------------------------------------------------------------ bookkeeping
    def _fail(self, points: List[Point], error: str) -> None:
        self._record([{"point_id": p.point_id, **p.axes, "model_key": p.model_key, "error": error} for p in points])

    def _record(self, rows: List[Dict[str, Any]]) -> None:
        if not rows:
            return
        self.journal.append(rows)
        for row in rows:
            self.finished[row["point_id"]] = row
        self.failed += sum(1 for r in rows if r.get("error"))
        self.events("points", {"new": len(rows), "failed": self.failed})
        if time.perf_counter() - self.last_table > TABLE_EVERY_S:
            self.write_table_now()
            self.last_table = time.perf_counter()

    def _job_event(self, kind: str, label: str, outcome: Outcome) -> None:
        self.events("job", {"kind": kind, "label": label, "error": outcome.error,
                            "value": outcome.value if isinstance(outcome.value, dict) else None})
