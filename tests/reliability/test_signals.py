"""Signals and child processes, on real processes: SIGTERM at start-up and after the work, a double Ctrl-C on a
parallel sweep, kill -9 of a sweep's parent, SIGTERM while g++ builds the C simulation, and run_sweep with
workers from a script without a main guard. Every path: one line, exit code 130 (or a clear refusal), and no
child process left running."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Set

import pytest
import yaml

pytestmark = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc (Linux)")

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
TINY = ["train", "--model", "jet_mlp", "--width", "0.25", "--dataset", "synthetic", "--set",
        "data.options={in_shape: [16], num_classes: 5, n_train: 256, n_test: 64}", "--epochs", "2"]
SWEEP = {"name": "busy", "recipe": "jet_mlp_synthetic",
         "overrides": {"train.threads": 1, "train.batch_size": 16,
                       "data": {"name": "synthetic", "options": {"in_shape": [16], "num_classes": 5,
                                                                 "n_train": 20000, "n_test": 64}}},
         "train": {"mode": "scratch"}, "grid": {"method": ["magnitude"], "density": [0.5, 0.25]}}


def start(args, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "codesign", *map(str, args)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, env=ENV, **kwargs)


def children_of(root: int) -> Set[int]:
    """Every live descendant of ``root`` (by parent pid, whatever its session)."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if fields[0] != "Z":
                parents[int(entry.name)] = int(fields[1])
    found, frontier = set(), {root}
    while frontier:
        frontier = {pid for pid, ppid in parents.items() if ppid in frontier and pid not in found}
        found |= frontier
    return found


def alive(pid: int) -> bool:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def wait_for(condition: Callable[[], bool], timeout: float, proc: subprocess.Popen = None) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        if proc is not None and proc.poll() is not None:
            return False
        time.sleep(0.02)
    return condition()


def handles(pid: int, sig: int) -> bool:
    """True once the process has a Python handler for ``sig`` (codesign.entry installs them first)."""
    try:
        for line in (Path("/proc") / str(pid) / "status").read_text().splitlines():
            if line.startswith("SigCgt:"):
                return bool(int(line.split()[1], 16) & (1 << (sig - 1)))
    except OSError:
        pass
    return False


def one_interrupt_line(err: str) -> None:
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert "Traceback" not in err and "Exception ignored" not in err, err
    assert [line for line in lines if line.startswith("error:")] == lines[-1:], err
    assert lines[-1].startswith("error: interrupted"), err


@pytest.mark.parametrize("delay", [0.0, 0.3, 1.0])
def test_sigterm_during_start_up_is_one_line_and_exit_130(tmp_path, delay):
    proc = start([*TINY, "--out", tmp_path / "run"])
    assert wait_for(lambda: handles(proc.pid, signal.SIGTERM), 60, proc)
    time.sleep(delay)                                   # somewhere in the imports of the CLI and torch
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    if proc.returncode == 0:                            # a fast machine finished the whole run first
        return
    assert proc.returncode == 130, (proc.returncode, err)
    one_interrupt_line(err)


def test_sigterm_at_any_moment_of_a_short_command(tmp_path):
    """From the handler's installation to the process's end (after the work included): exit 0 untouched or
    130 with one line; never -15 (killed silently) and never a traceback."""
    args = ["simulate", "--model", "jet_mlp", "--device", "xc7z020", "--no-plot", "--force", "--out", tmp_path / "s"]
    began = time.monotonic()
    proc = start(args)
    proc.communicate(timeout=120)
    length = time.monotonic() - began
    outcomes = set()
    for fraction in (0.3, 0.6, 0.8, 0.9, 0.95, 1.0, 1.05):
        proc = start(args)
        if not wait_for(lambda: handles(proc.pid, signal.SIGTERM), 60, proc):
            continue
        time.sleep(max(0.0, fraction * length - 0.2))
        try:
            proc.send_signal(signal.SIGTERM)
        except ProcessLookupError:
            pass
        _, err = proc.communicate(timeout=120)
        outcomes.add(proc.returncode)
        assert proc.returncode in (0, 130), (fraction, proc.returncode, err)
        if proc.returncode == 130:
            one_interrupt_line(err)
    assert 130 in outcomes


def _busy_sweep(tmp_path: Path, workers: int = 2):
    spec = tmp_path / "busy.yaml"
    spec.write_text(yaml.safe_dump(SWEEP))
    run = tmp_path / "run"
    proc = start(["sweep", spec, "--out", run, "--workers", workers, "--no-report"], start_new_session=True)
    training = lambda: len(list(run.glob("models/*/config.yaml"))) >= 2          # noqa: E731
    assert wait_for(training, 240, proc), proc.stderr.read() if proc.poll() is not None else "slow start"
    return proc, run


@pytest.mark.parametrize("presses", [1, 2])
def test_ctrl_c_on_a_parallel_sweep_is_one_line_and_stops_the_workers(tmp_path, presses):
    proc, _ = _busy_sweep(tmp_path)
    workers = children_of(proc.pid)
    assert workers
    for _ in range(presses):                            # the terminal signals the whole process group
        os.killpg(proc.pid, signal.SIGINT)
        time.sleep(0.3)
    try:
        _, err = proc.communicate(timeout=90)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        raise AssertionError("the sweep hangs after Ctrl-C")
    assert proc.returncode == 130, err
    one_interrupt_line(err)
    assert wait_for(lambda: not any(alive(p) for p in workers), 10), [p for p in workers if alive(p)]


def test_killing_a_sweeps_parent_leaves_no_live_children(tmp_path):
    proc, run = _busy_sweep(tmp_path)
    workers = children_of(proc.pid)
    assert workers
    os.kill(proc.pid, signal.SIGKILL)                   # only the parent: nothing can clean up after it
    proc.wait()
    assert wait_for(lambda: not any(alive(p) for p in workers), 15), [p for p in workers if alive(p)]
    checkpoints = {p: p.stat().st_mtime_ns for p in run.glob("models/*/train/*")}
    time.sleep(1.0)
    assert checkpoints == {p: p.stat().st_mtime_ns for p in run.glob("models/*/train/*")}   # nobody writes


@pytest.mark.csim
def test_sigterm_while_gxx_builds_stops_the_compiler(tmp_path):
    import shutil

    if shutil.which("g++") is None:
        pytest.skip("needs g++")
    proc = start(["export", "--model", "jet_mlp", "--target", "fpga", "--csim-samples", "2", "--out", tmp_path / "e"])

    def compiling() -> bool:
        return any(_name(p) in ("cc1plus", "g++", "build_lib.sh") for p in children_of(proc.pid))

    assert wait_for(compiling, 300, proc), "never reached the g++ build"
    compilers = children_of(proc.pid)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    one_interrupt_line(err)
    assert wait_for(lambda: not any(alive(p) for p in compilers), 10), [_name(p) for p in compilers if alive(p)]


def _name(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "comm").read_text().strip()
    except OSError:
        return ""


SCRIPT = """from codesign.sweep import run_sweep
spec = {{"name": "s", "train": {{"mode": "none", "weights": "random"}}, "grid": {{"model": ["jet_mlp"],
        "reuse_factor": [1, 2]}}}}
{guard}run_sweep(spec, {out!r}, workers=2, report=False)
{guard}print("done")
"""


@pytest.mark.parametrize("guarded", [False, True])
def test_run_sweep_with_workers_from_a_script(tmp_path, guarded):
    """Without `if __name__ == "__main__":` every spawned worker runs the script again: refused with one clear
    error before any work (no BrokenProcessPool, no partial sweep); with the guard it simply works."""
    out = tmp_path / "run"
    script = tmp_path / "script.py"
    guard = 'if __name__ == "__main__":  ' if guarded else ""
    script.write_text(SCRIPT.format(guard=guard, out=str(out)))
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=ENV, capture_output=True, text=True,
                          timeout=300)
    if guarded:
        assert done.returncode == 0 and done.stdout.strip() == "done", done.stderr
        assert len((out / "results.jsonl").read_text().splitlines()) == 2
    else:
        assert done.returncode != 0 and "BrokenProcessPool" not in done.stderr, done.stderr
        assert 'if __name__ == "__main__":' in done.stderr.strip().splitlines()[-1], done.stderr
        assert done.stderr.count("Traceback") == 1, done.stderr      # the caller's, none from the workers
        assert not out.exists()
