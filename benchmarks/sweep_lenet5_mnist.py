"""The shipped 20-point LeNet-5 density sweep on real MNIST, and its parallel speed-up.

`codesign sweep lenet5_density` (sweeps/lenet5_density.yaml: one dense run of 2 epochs on 60,000
digits, then 20 densities from 1.0 to 0.01, each pruned one-shot by global weight magnitude and
fine-tuned 1 epoch on 10,000 digits, test accuracy on all 10,000 test digits; 480 hardware points)
is run end to end in a fresh process from an empty folder with 1 worker and with --workers 2, one
torch thread per job in both (OMP_NUM_THREADS=1: on a machine shared with other jobs, two torch
threads per process spin against each other and an epoch takes minutes instead of seconds), in
that order and then again in reverse order, so that a change of machine load during the benchmark
shows up as a difference between the rounds. The shared dense run's own time is read from its
cost.json, so the fine-tune phase (what the workers parallelise) is reported separately.

    python benchmarks/sweep_lenet5_mnist.py [--rounds 2] [--tag busy]   # needs `codesign data fetch mnist`

Results go to benchmarks/results/sweep_lenet5_mnist[_TAG].json.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from codesign.sweep.spec import grid_points, load_spec

from common import median, save

CONFIGS = {"workers_1": (1, {"OMP_NUM_THREADS": "1"}), "workers_2": (2, {"OMP_NUM_THREADS": "1"})}
POINTS = grid_points(load_spec("lenet5_density"))      # hardware points of the shipped spec


def load() -> float:
    return os.getloadavg()[0]


def run(name: str, out: Path) -> dict:
    workers, env = CONFIGS[name]
    before = load()
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "codesign", "sweep", "lenet5_density", "--out", str(out), "--force",
                    "--workers", str(workers)], check=True, env={**os.environ, **env},
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    base = json.loads(next((out / "base").glob("*/train/cost.json")).read_text())
    with open(out / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == POINTS and not any(r["error"] for r in rows)
    accuracy = {float(r["density"]): float(r["accuracy"]) for r in rows}
    return {"seconds": seconds, "base_seconds": base["wall_seconds"], "base_test_acc": base["test_acc"],
            "finetune_phase_seconds": seconds - base["wall_seconds"], "load_before": before, "load_after": load(),
            "accuracy_by_density": dict(sorted(accuracy.items(), reverse=True))}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--tag", default="", help="suffix of the result file (e.g. the machine's state)")
    args = parser.parse_args()
    runs = {name: [] for name in CONFIGS}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            order = list(CONFIGS) if r % 2 == 0 else list(reversed(CONFIGS))
            for name in order:
                runs[name].append(run(name, Path(tmp) / name))
                last = runs[name][-1]
                print(f"round {r + 1} {name}: {last['seconds']:.1f} s (dense run {last['base_seconds']:.1f} s, "
                      f"fine-tunes {last['finetune_phase_seconds']:.1f} s), load {last['load_before']:.1f} -> "
                      f"{last['load_after']:.1f}", flush=True)
    summary = {name: {"seconds": median([x["seconds"] for x in v]),
                      "finetune_phase_seconds": median([x["finetune_phase_seconds"] for x in v])}
               for name, v in runs.items()}
    summary["speedup_2_workers"] = summary["workers_1"]["seconds"] / summary["workers_2"]["seconds"]
    summary["speedup_2_workers_finetune_phase"] = (summary["workers_1"]["finetune_phase_seconds"]
                                                   / summary["workers_2"]["finetune_phase_seconds"])
    print(json.dumps(summary, indent=2))
    print(f"saved {save('sweep_lenet5_mnist' + (f'_{args.tag}' if args.tag else ''), {'summary': summary, 'runs': runs})}")


if __name__ == "__main__":
    main()
