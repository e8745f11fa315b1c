"""Executing one run of `reproduce.py` through codesign's public API (the same code `codesign train`,
`codesign train --resume-from ... --compare run` and `codesign export --target fpga` call).

Every training run lives in ``runs/reproduce[_quick]/<run id>/`` and restarts from its last
epoch checkpoint if it was killed (``fit(resume=True)``); ``fresh`` starts it over.
"""
from __future__ import annotations

import json
import os
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Optional

from reproduce_plan import CSIM_SEED, QUICK_TEST_LIMIT, Experiment, by_name, quick_overrides


@dataclass(frozen=True)
class Options:
    quick: bool = False
    fresh: bool = False
    threads: int = 1
    csim_samples: int = 1000
    csim_jobs: int = 1
    runs_dir: Path = Path("runs/reproduce")


def say(text: str) -> None:
    print(text, flush=True)


def printer(run: str):
    def event(kind: str, payload: Dict[str, Any]) -> None:
        if kind == "epoch":
            acc = payload.get("test_acc")
            say(f"  [{run}] epoch {payload['epoch']}: test acc {acc:.4f}, nonzeros {payload.get('nonzeros', 0):,}, "
                f"{payload.get('seconds', 0):.0f} s")
        elif kind == "message":
            say(f"  [{run}] {payload['text']}")
    return event


def overrides_for(exp: Experiment, seed: int, opts: Options) -> Dict[str, Any]:
    """The experiment's recipe overrides for ``seed`` (quick mode: fewer epochs, a slice of the data)."""
    from codesign.config import load_recipe

    out = {**exp.overrides, "train.seed": seed}
    if exp.teacher:
        out["train.distill.teacher"] = str(opts.runs_dir / f"{exp.teacher}_s0")
    if opts.quick:
        recipe = load_recipe(exp.recipe, out)
        out.update(quick_overrides(exp, recipe.train.epochs, recipe.model.width))
    return out


def resolved(exp: Experiment, seed: int, opts: Options) -> Dict[str, Any]:
    """What decides a run's numbers (the cache key's content)."""
    from codesign.config import load_recipe, recipe_to_dict

    if exp.table == "resnet110":
        return {"experiment": exp.name, "code": "benchmarks/sim_validation.py::cgap"}
    if exp.table == "incremental":
        return {"incremental": incremental_settings(exp, seed, opts)}
    recipe = recipe_to_dict(load_recipe(exp.recipe, overrides_for(exp, seed, opts)))
    recipe["train"].pop("threads", None)
    recipe.pop("target", None)      # the hardware target decides no number here (csim_run exports with its own)
    if not recipe["model"].get("args"):
        recipe["model"].pop("args", None)   # no factory arguments (a field added later): older records keep their key
    if exp.teacher:                         # the teacher by what decides it, not by where it lies
        recipe["train"]["distill"]["teacher"] = {exp.teacher: resolved(by_name(exp.teacher), 0, opts)}
    csim = opts.csim_samples if (exp.csim and seed == CSIM_SEED) else 0
    return {"recipe": recipe, "csim_samples": csim}


def command_line(exp: Experiment, seed: int, opts: Options) -> str:
    sets = " ".join("--set " + shlex.quote(f"{k}={json.dumps(v) if isinstance(v, (list, dict)) else v}")
                    for k, v in overrides_for(exp, seed, opts).items() if k != "train.seed")
    return f"codesign train {exp.recipe} --seed {seed} --threads {opts.threads} {sets}".strip()


def reference_cost(cfg) -> Dict[str, float]:
    """Params and FLOPs of the recipe's dense architecture (what compression is measured against)."""
    from codesign import create_model
    from codesign.flops import model_cost

    in_shape = (1, 28, 28)
    model = create_model(cfg.model.name, width=cfg.model.width, in_shape=in_shape, num_classes=10)
    cost = model_cost(model, in_shape)
    return {"params": cost.params, "flops_dense": cost.flops_dense}


def fit_resumable(cfg, run_dir: Path, opts: Options, name: str):
    from codesign import fit
    from codesign.compaction import compact_run
    from codesign.errors import CodesignError

    try:
        result = fit(cfg, run_dir, resume=not opts.fresh, overwrite=opts.fresh, events=printer(name))
    except CodesignError as err:
        if "different" not in str(err) and "written with" not in str(err):
            raise
        say(f"  [{name}] checkpoint from other settings: starting over")
        result = fit(cfg, run_dir, overwrite=True, events=printer(name))
    result.summary.update(compact_run(run_dir, events=printer(name)))    # the compaction stage
    return result


def train_run(exp: Experiment, seed: int, opts: Options, run: str) -> Dict[str, Any]:
    from codesign.config import load_recipe

    cfg = load_recipe(exp.recipe, {**overrides_for(exp, seed, opts), "train.threads": opts.threads})
    run_dir = opts.runs_dir / run
    result = fit_resumable(cfg, run_dir, opts, run)
    record = {"summary": result.summary, "reference": reference_cost(cfg), "run_dir": str(run_dir),
              "command": command_line(exp, seed, opts) + f" --out {run_dir}"}
    if exp.csim and seed == CSIM_SEED and opts.csim_samples > 0:
        record["csim"] = csim_run(run_dir, opts, run)
    return record


def csim_run(run_dir: Path, opts: Options, run: str) -> Dict[str, Any]:
    from codesign.export.pipeline import ExportRequest, run_export

    model = run_dir / "compact" / "model.pt"
    model = model if model.exists() else run_dir / "train" / "model.pt"
    say(f"  [{run}] hls4ml export + C simulation of {opts.csim_samples} test samples ({model})")
    t0 = time.perf_counter()
    report = run_export(ExportRequest(out=run_dir / "export", target="fpga", checkpoint=model,
                                      csim_samples=opts.csim_samples, jobs=opts.csim_jobs, force=True))
    keep = ("samples", "top1_agreement", "accuracy_csim", "accuracy_pytorch", "compile_seconds", "predict_seconds")
    out = {k: report["csim"][k] for k in keep if k in report["csim"]}
    out["export_seconds"] = round(time.perf_counter() - t0, 1)
    out["command"] = (f"codesign export --checkpoint {model} --target fpga --csim-samples {opts.csim_samples} "
                      f"--out {run_dir / 'export'}")
    return out


# ------------------------------------------------------------------------------ incremental

def incremental_settings(exp: Experiment, seed: int, opts: Options) -> Dict[str, Any]:
    x = exp.extra
    old, update, (start, stop) = dict(x["old"]), dict(x["update"]), x["new_data"]
    if opts.quick:
        start, stop = 3000, 6000
        old.update({"train.epochs": 4, "method.params.growth_epochs": 1, "method.params.prune_rounds": 2,
                    "data.train_limit": start, "data.test_limit": QUICK_TEST_LIMIT})
        update.update({"train.epochs": 3, "method.params.growth_epochs": 1, "method.params.prune_rounds": 1})
    return {"recipe": exp.recipe, "old": {**old, "train.seed": seed}, "update": update,
            "new_data": [start, stop], "replay": x["replay"]}


def incremental_run(exp: Experiment, seed: int, opts: Options, run: str) -> Dict[str, Any]:
    from codesign.config import load_recipe
    from codesign.incremental import NewData, load_previous, update, update_recipe

    s = incremental_settings(exp, seed, opts)
    run_dir = opts.runs_dir / run
    old_cfg = load_recipe(s["recipe"], {**s["old"], "train.threads": opts.threads})
    fit_resumable(old_cfg, run_dir / "old", opts, run + "/old")
    previous = load_previous(run_dir / "old")
    cfg = update_recipe(previous, NewData(*s["new_data"]), s["replay"], None,
                        {**s["update"], "train.threads": opts.threads})
    say(f"  [{run}] update on samples {s['new_data'][0]}:{s['new_data'][1]} + comparators (trained)")
    res = update(cfg, previous, run_dir / "update", compare="run", resume=not opts.fresh, overwrite=opts.fresh,
                 events=printer(run + "/update"))
    report = add_walls(res.report, run_dir / "update")
    return {"report": report, "run_dir": str(run_dir), "old_summary": json.loads(
        (run_dir / "old" / "train" / "cost.json").read_text()), "command": incremental_commands(s, run_dir, opts)}


def add_walls(report: Dict[str, Any], update_dir: Path) -> Dict[str, Any]:
    """Training wall-clock and nonzeros of the update and of every trained comparator (from cost.json)."""
    def cost(path: Path) -> Dict[str, Any]:
        return json.loads((path / "train" / "cost.json").read_text())

    report = json.loads(json.dumps(report))
    report["update"]["wall_seconds"] = cost(update_dir)["wall_seconds"]
    for name, row in report["comparators"].items():
        c = cost(Path(row["run_dir"]))
        row.update({"wall_seconds": c["wall_seconds"], "nonzeros": c["nonzeros"]})
    dense_old = update_dir / "compare" / "dense_old"
    if (dense_old / "train" / "cost.json").exists():
        report["dense_old_wall_seconds"] = cost(dense_old)["wall_seconds"]
    report["wall_savings"] = {f"vs_{n}": 1 - report["update"]["wall_seconds"] / r["wall_seconds"]
                              for n, r in report["comparators"].items() if r.get("wall_seconds")}
    return report


def incremental_commands(s: Dict[str, Any], run_dir: Path, opts: Options) -> str:
    old = " ".join(f"--set {k}={v}" for k, v in s["old"].items())
    upd = " ".join(f"--set {k}={v}" for k, v in s["update"].items())
    start, stop = s["new_data"]
    return (f"codesign train {s['recipe']} {old} --threads {opts.threads} --out {run_dir}/old; "
            f"codesign train --resume-from {run_dir}/old --new-data {start}:{stop} --replay {s['replay']} {upd} "
            f"--threads {opts.threads} --compare run --out {run_dir}/update")


# ------------------------------------------------------------------------------- simulator

def resnet110_run(exp: Experiment, seed: int, opts: Options, run: str) -> Dict[str, Any]:
    import torch

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import sim_validation

    torch.set_num_threads(1)
    return {"sim": sim_validation.cgap(), "command": "python benchmarks/sim_validation.py (cgap())"}


EXECUTORS = {"mnist": train_run, "cnn": train_run, "incremental": incremental_run, "resnet110": resnet110_run}


def execute(exp: Experiment, seed: int, opts: Options, run: str) -> Dict[str, Any]:
    load0, t0 = os.getloadavg()[0], time.perf_counter()
    record = EXECUTORS[exp.table](exp, seed, opts, run)
    from common import machine

    record.update({"process_seconds": round(time.perf_counter() - t0, 1), "machine": machine(),
                   "load_average": [round(load0, 2), round(os.getloadavg()[0], 2)]})
    return record
