"""Sweep speed, simulation only: 10,000 design points end to end through the CLI.

Target (issue 6): a simulation-only sweep of 10,000 points in <= 30 s end to end: `codesign sweep`
in a fresh process (Python start, imports, 20 models made by one-shot structured pruning and
compaction, 10,000 simulator evaluations, results.csv and the report with its plots).

The spec: 4 models (jet_mlp, lenet300_100, lenet5, resnet20; embedded trained weights where they
ship, else a seeded random init) x 5 densities x 5 devices x 10 reuse factors x 5 precisions x 2
strategies (hls4ml dataflow template). Each run starts from an empty folder (--force), so nothing
is cached between runs; the median of --repeats runs is reported for 1 worker and for --workers.

    python benchmarks/sweep_sim_speed.py [--repeats 3] [--workers 2]
"""
from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from common import median, save

SPEC = {
    "name": "sim_10k",
    "description": "simulation-only benchmark: 10,000 points",
    "train": {"mode": "none", "weights": "auto"},
    "grid": {
        "model": ["jet_mlp", "lenet300_100", "lenet5", "resnet20"],
        "method": [{"name": "magnitude", "params": {"structure": "structured", "scope": "layer"}}],
        "density": [1.0, 0.5, 0.25, 0.125, 0.0625],
        "device": ["xc7z020", "xczu9eg", "xcku115", "xcu250", "xc7vx485t"],
        "reuse_factor": [1, 2, 4, 8, 16, 32, 64, 128, 256, 512],
        "precision": ["4", "6", "8", "ap_fixed<12,4>", "ap_fixed<16,6>"],
        "strategy": ["Latency", "Resource"],
    },
}
TARGET_S = 30.0


def run_once(spec: Path, out: Path, workers: int) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "codesign", "sweep", str(spec), "--out", str(out), "--force",
                    "--workers", str(workers)], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    with open(out / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 10_000, len(rows)
    failed = sum(1 for r in rows if r["error"])
    assert failed == 0, f"{failed} points failed"
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "sim_10k.yaml"
        spec.write_text(yaml.safe_dump(SPEC, sort_keys=False))
        runs = {}
        for workers in sorted({1, args.workers}):
            runs[f"workers_{workers}_s"] = [run_once(spec, Path(tmp) / f"run{workers}", workers)
                                            for _ in range(args.repeats)]
            print(f"workers={workers}: median {median(runs[f'workers_{workers}_s']):.2f} s "
                  f"(runs {', '.join(f'{t:.2f}' for t in runs[f'workers_{workers}_s'])})", flush=True)
    payload = {"points": 10_000, "models": 20, "target_s": TARGET_S, "spec": SPEC,
               **{k: median(v) for k, v in runs.items()}, "runs": runs}
    print(f"saved {save('sweep_sim_speed', payload)}")


if __name__ == "__main__":
    main()
