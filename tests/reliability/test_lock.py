"""The output-folder lock (codesign.lock): one writer per folder, for every command that writes one. A second
`train` into the same --out, or a second `sweep --resume`, stops at once with a line naming the owner; a lock
left by a killed process is taken over; the lock file never counts as content of the folder."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from codesign.errors import CodesignError
from codesign.lock import LOCK_NAME, FolderBusy, folder_lock, is_locked

HOLD = "import sys, time; from codesign.lock import folder_lock\nwith folder_lock(sys.argv[1], 'holder'):\n" \
       "    print('locked', flush=True); time.sleep(120)\n"
TINY = ["train", "--model", "jet_mlp", "--width", "0.5", "--dataset", "synthetic", "--threads", "1"]
TRAIN = [*TINY, "--set", "data.options={in_shape: [16], num_classes: 5, n_train: 4000, n_test: 64}",
         "--epochs", "30", "--batch-size", "16"]


def hold(folder: Path) -> subprocess.Popen:
    """Another process holding ``folder``'s lock until killed."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(folder)], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_lock_is_exclusive_reentrant_and_leaves_nothing(tmp_path):
    folder = tmp_path / "out"
    with folder_lock(folder, "first"):
        assert (folder / LOCK_NAME).exists() and is_locked(folder)
        with folder_lock(folder):                       # the same process again: fine (library under CLI)
            pass
        assert is_locked(folder)
    assert not folder.exists()                          # created by the lock and left empty: removed
    folder.mkdir()
    (folder / "result.txt").write_text("kept")
    with folder_lock(folder):
        pass
    assert [p.name for p in folder.iterdir()] == ["result.txt"] and not is_locked(folder)


def test_a_live_owner_is_named_and_a_dead_one_is_taken_over(tmp_path):
    folder = tmp_path / "out"
    owner = hold(folder)
    try:
        with pytest.raises(FolderBusy, match=rf"in use by another codesign process \(pid {owner.pid}, `holder`"):
            with folder_lock(folder):
                pass
        assert is_locked(folder)
    finally:
        owner.send_signal(signal.SIGKILL)
        owner.wait()
    assert (folder / LOCK_NAME).exists()                # a stale lock file: its owner died
    assert not is_locked(folder)
    with folder_lock(folder, "second"):
        assert is_locked(folder)


def test_a_second_train_into_the_same_folder_is_refused(cli, tmp_path):
    run = tmp_path / "run"
    first = subprocess.Popen([sys.executable, "-m", "codesign", *TRAIN, "--out", str(run)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                             env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        deadline = time.monotonic() + 180
        while not (run / "train" / "ckpt.pt").exists() and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert first.poll() is None and is_locked(run), first.stderr.read() if first.poll() is not None else ""
        for extra in ([], ["--force"], ["--resume"]):
            second = cli(*TRAIN, "--out", run, *extra)
            assert second.code == 2 and "is in use by another codesign process" in second.err, second.err
            assert f"pid {first.pid}" in second.err and len(second.err.strip().splitlines()) == 1
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    # the first run was killed, so its lock is stale: the next command takes the folder over (and gets as far
    # as comparing recipes, which a resume with another learning rate fails)
    taken = cli(*TRAIN, "--lr", "0.5", "--out", run, "--resume")
    assert taken.code == 2 and "different 'optim' setting" in taken.err, taken.err


def test_every_writing_command_takes_the_lock(cli, tmp_path):
    """A folder held by another process is refused by each command that writes one, before any work."""
    spec = tmp_path / "s.yaml"
    spec.write_text("name: s\ntrain: {mode: none, weights: random}\ngrid: {model: [jet_mlp]}\n")
    commands = {
        "train": [*TINY, "--epochs", "1", "--set", "data.options={in_shape: [16], num_classes: 5, n_train: 64, "
                  "n_test: 32}", "--out", "{dir}"],
        "sweep": ["sweep", spec, "--out", "{dir}", "--no-report"],
        "simulate": ["simulate", "--model", "jet_mlp", "--device", "xc7z020", "--no-plot", "--out", "{dir}"],
        "export": ["export", "--model", "jet_mlp", "--target", "onnx", "--out", "{dir}"],
        "report": ["report", "{dir}"],
    }
    for name, args in commands.items():
        folder = tmp_path / name
        owner = hold(folder)
        try:
            result = cli(*[str(a).replace("{dir}", str(folder)) for a in args])
            assert result.code == 2 and "in use by another codesign process" in result.err, (name, result.err)
        finally:
            owner.kill()
            owner.wait()
        assert [p.name for p in folder.iterdir()] == [LOCK_NAME], name    # nothing was written


def test_two_sweep_resumes_do_not_compute_twice(cli, tmp_path):
    from codesign.sweep import run_sweep

    spec = {"name": "s", "train": {"mode": "none", "weights": "random"},
            "grid": {"model": ["jet_mlp"], "reuse_factor": [1, 2]}}
    run = tmp_path / "run"
    owner = hold(run)
    try:
        with pytest.raises(CodesignError, match="in use"):
            run_sweep(spec, run, resume=True, report=False)
    finally:
        owner.kill()
        owner.wait()
    assert not (run / "results.jsonl").exists()
    run_sweep(spec, run, resume=True, report=False)
    assert len((run / "results.jsonl").read_text().splitlines()) == 2
