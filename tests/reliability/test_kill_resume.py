"""kill -9 in the middle of `train`, `sweep` and `export`, then rerun: training resumes bit-identically
(weights and history equal an unkilled run with the same seed), a sweep finishes every point exactly once
with the unkilled sweep's results, and an export folder left half-written is refused until --force, which
rebuilds it cleanly. The killed runs are subprocesses; the reference runs are in-process."""
from __future__ import annotations

import csv
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from codesign.checkpoint import load_model

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")

TRAIN = ["train", "--model", "jet_mlp", "--width", "0.5", "--dataset", "synthetic", "--set",
         "data.options={in_shape: [16], num_classes: 5, n_train: 6000, n_test: 256}", "--epochs", "3",
         "--batch-size", "16", "--seed", "3", "--threads", "1", "--optimizer", "adam", "--lr", "0.002"]
TIME_COLUMNS = {"seconds", "wall_seconds", "make_seconds", "train_seconds", "sim_seconds", "seconds_total",
                "finished_at", "started_at"}


def start(args, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "codesign", *map(str, args)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"}, **kwargs)


def kill_when(proc: subprocess.Popen, ready, timeout: float = 120.0, delay: float = 0.0) -> bool:
    """SIGKILL ``proc`` (and its children) once ``ready()`` holds; True when it was still running."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None and not ready():
        time.sleep(0.01)
    time.sleep(delay)
    running = proc.poll() is None
    if running:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    return running


def same_weights(a: Path, b: Path) -> None:
    wa, wb = load_model(a)[0].state_dict(), load_model(b)[0].state_dict()
    assert wa.keys() == wb.keys()
    for key in wa:
        assert torch.equal(wa[key], wb[key]), key


def table(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return [{k: v for k, v in row.items() if k not in TIME_COLUMNS} for row in csv.DictReader(f)]


def test_train_killed_after_the_first_epoch_resumes_bit_identically(cli, tmp_path):
    ref, run = tmp_path / "ref", tmp_path / "run"
    proc = start([*TRAIN, "--out", run])
    assert kill_when(proc, lambda: (run / "train" / "ckpt.pt").exists()), "finished before the kill"
    assert cli(*TRAIN, "--out", ref).code == 0
    assert not (run / "train" / "model.pt").exists()
    assert 1 <= torch.load(run / "train" / "ckpt.pt", weights_only=False)["epoch"] < 3
    resumed = cli(*TRAIN, "--out", run, "--resume")
    assert resumed.code == 0, resumed.err
    same_weights(ref / "train" / "model.pt", run / "train" / "model.pt")
    assert table(ref / "train" / "history.csv") == table(run / "train" / "history.csv")
    assert not list(run.rglob("*.tmp"))          # a killed writer's temporary file is cleaned up on resume


@pytest.mark.slow
def test_train_killed_at_random_moments_still_ends_bit_identical(cli, tmp_path):
    """Five kills at random points (data loading, mid-epoch, mid-checkpoint-write), each followed by
    --resume: the final weights equal an unkilled run's."""
    ref, run = tmp_path / "ref", tmp_path / "run"
    longer = [*TRAIN, "--epochs", "8"]
    assert cli(*longer, "--out", ref).code == 0
    rng = random.Random(0)
    kills = 0
    for _ in range(5):
        proc = start([*longer, "--out", run, "--resume"])
        kills += kill_when(proc, lambda: False, timeout=rng.uniform(1.5, 4.0))
    assert kills >= 3
    assert cli(*longer, "--out", run, "--resume").code == 0
    same_weights(ref / "train" / "model.pt", run / "train" / "model.pt")
    assert table(ref / "train" / "history.csv") == table(run / "train" / "history.csv")


SWEEP = {"name": "kill_sweep", "recipe": "jet_mlp_synthetic",
         "overrides": {"model.width": 0.5, "train.batch_size": 16, "train.threads": 1,
                       "data": {"name": "synthetic", "options": {"in_shape": [16], "num_classes": 5,
                                                                 "n_train": 5000, "n_test": 256}}},
         "train": {"mode": "finetune", "base_epochs": 3, "finetune_epochs": 1},
         "grid": {"method": [{"name": "magnitude", "params": {"structure": "unstructured", "scope": "layer"}}],
                  "density": [1.0, 0.5], "device": ["xc7z020"], "reuse_factor": [1, 4]}}


def test_sweep_killed_in_mid_training_resumes_to_the_same_results(cli, tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(SWEEP))
    ref, run = tmp_path / "ref", tmp_path / "run"
    proc = start(["sweep", spec, "--out", run, "--no-report"])
    assert kill_when(proc, lambda: any(run.glob("base/*/train/ckpt.pt"))), "finished before the kill"
    assert cli("sweep", spec, "--out", ref, "--no-report").code == 0
    assert not any(run.glob("base/*/train/model.pt"))        # killed inside the shared dense run
    refused = cli("sweep", spec, "--out", run, "--no-report")
    assert refused.code == 2 and "--resume" in refused.err
    resumed = cli("sweep", spec, "--out", run, "--no-report", "--resume")
    assert resumed.code == 0, resumed.err
    assert not list(run.rglob("*.tmp"))
    lines = (run / "results.jsonl").read_text().splitlines()
    assert len(lines) == len({json.loads(line)["point_id"] for line in lines}) == 4
    same_weights(next(ref.glob("base/*/train/model.pt")), next(run.glob("base/*/train/model.pt")))
    drop = {"model_file", "run_dir"}
    assert ([{k: v for k, v in r.items() if k not in drop} for r in table(ref / "results.csv")] ==
            [{k: v for k, v in r.items() if k not in drop} for r in table(run / "results.csv")])


def test_export_killed_midway_is_refused_then_rebuilt_with_force(cli, bad, tmp_path):
    args = ["export", "--checkpoint", bad / "good.pt", "--target", "hls", "--seed", "1"]
    ref, out = tmp_path / "ref", tmp_path / "out"
    proc = start([*args, "--out", out])
    killed = kill_when(proc, lambda: out.is_dir() and any(not p.name.startswith(".") for p in out.iterdir()))
    assert cli(*args, "--out", ref).code == 0
    if killed:
        assert not (out / "export.json").exists()          # the report is written last: unfinished
    refused = cli(*args, "--out", out)
    assert refused.code == 2 and "--force" in refused.err and len(refused.err.strip().splitlines()) == 1
    assert cli(*args, "--out", out, "--force").code == 0
    a, b = (json.loads((d / "export.json").read_text()) for d in (ref, out))
    for key in ("model", "weights", "precision", "multipliers"):
        assert a[key] == b[key], key
    assert sorted(p.relative_to(ref).as_posix() for p in ref.rglob("*") if p.is_file()) == \
        sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert not list(out.rglob("*.tmp"))


@pytest.mark.slow
def test_sweep_killed_at_random_moments_still_ends_with_the_same_results(cli, tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump({**SWEEP, "grid": {**SWEEP["grid"], "density": [1.0, 0.7, 0.5, 0.3]}}))
    ref, run = tmp_path / "ref", tmp_path / "run"
    assert cli("sweep", spec, "--out", ref, "--no-report").code == 0
    rng = random.Random(1)
    kills = 0
    for _ in range(5):
        proc = start(["sweep", spec, "--out", run, "--no-report", "--resume"])
        kills += kill_when(proc, lambda: False, timeout=rng.uniform(2.0, 5.0))
    assert kills >= 3
    assert cli("sweep", spec, "--out", run, "--no-report", "--resume").code == 0
    lines = (run / "results.jsonl").read_text().splitlines()
    assert len(lines) == len({json.loads(line)["point_id"] for line in lines}) == 8
    drop = {"model_file", "run_dir"}
    assert ([{k: v for k, v in r.items() if k not in drop} for r in table(ref / "results.csv")] ==
            [{k: v for k, v in r.items() if k not in drop} for r in table(run / "results.csv")])
