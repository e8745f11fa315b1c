"""Ctrl-C, SIGTERM, a full disk, a missing permission and internal errors: one line each, the documented
exit code (130 for an interruption, 2 for something the user can fix, 1 for a bug), finished work kept,
no temporary files left behind; --debug shows the traceback as well (with the same exit code)."""
from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import tempfile
import time

import pytest
import torch

import codesign.train

TINY = ["train", "--model", "jet_mlp", "--width", "0.25", "--dataset", "synthetic", "--set",
        "data.options={in_shape: [16], num_classes: 5, n_train: 256, n_test: 64}", "--epochs", "3",
        "--batch-size", "64"]


def one_line(result) -> str:
    """The error line: exactly one, the last line of stderr (progress lines of finished work may precede it)."""
    lines = result.err.strip().splitlines()
    errors = [line for line in lines if line.startswith("error: ")]
    assert errors == lines[-1:] and "Traceback" not in result.err, result.err
    return lines[-1]


def ckpt_epoch(run) -> int:
    return torch.load(run / "train" / "ckpt.pt", weights_only=False)["epoch"]


def test_ctrl_c_in_training_keeps_the_last_epoch_and_resumes(cli, tmp_path, monkeypatch):
    real = codesign.train._train_epoch

    def interrupted_in_epoch_2(ctx, steps):
        if ctx.epoch == 1:
            raise KeyboardInterrupt
        return real(ctx, steps)

    monkeypatch.setattr(codesign.train, "_train_epoch", interrupted_in_epoch_2)
    run = tmp_path / "run"
    r = cli(*TINY, "--out", run)
    assert r.code == 130 and "interrupted" in one_line(r) and "--resume" in one_line(r)
    assert ckpt_epoch(run) == 1 and not (run / "train" / "model.pt").exists()
    monkeypatch.setattr(codesign.train, "_train_epoch", real)
    assert cli(*TINY, "--out", run, "--resume").code == 0 and ckpt_epoch(run) == 3


def test_ctrl_c_in_export_says_to_rerun_with_force(cli, bad, tmp_path, monkeypatch):
    import codesign.export.pipeline as pipeline

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "build_hls", interrupted)
    r = cli("export", "--checkpoint", bad / "good.pt", "--target", "hls", "--out", tmp_path / "e")
    assert r.code == 130 and "--force" in one_line(r)


def test_disk_full_mid_training_is_one_line_and_leaves_no_partial_file(cli, tmp_path, monkeypatch):
    real_fsync, calls = os.fsync, []

    def fsync_fills_the_disk(fd):
        calls.append(fd)
        if len(calls) == 4:          # config.yaml, ckpt.pt, history.csv of epoch 1, then ckpt.pt of epoch 2
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync_fills_the_disk)
    run = tmp_path / "run"
    r = cli(*TINY, "--out", run)
    assert r.code == 2 and "disk full" in one_line(r) and "ckpt.pt" in one_line(r)
    assert not [p for p in run.rglob("*") if p.name.endswith(".tmp")]
    assert ckpt_epoch(run) == 1                              # the last good checkpoint is intact
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert cli(*TINY, "--out", run, "--resume").code == 0 and ckpt_epoch(run) == 3


def test_no_permission_is_one_line(cli, tmp_path, monkeypatch):
    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", denied)
    r = cli("simulate", "--model", "jet_mlp", "--device", "xc7z020", "--no-plot", "--out", tmp_path / "s")
    assert r.code == 2 and "no permission" in one_line(r)


@pytest.mark.parametrize("error, needle", [
    (OSError(errno.ENOSPC, "No space left on device", "results.jsonl"), "disk full"),
    (PermissionError(errno.EACCES, "Permission denied", "results.jsonl"), "no permission"),
    (NotADirectoryError(errno.ENOTDIR, "Not a directory", "x/y"), "not a folder"),
])
def test_any_os_error_outside_the_atomic_writer_is_one_line(cli, tmp_path, monkeypatch, error, needle):
    from codesign.sweep import results

    def fails(self, rows):
        raise error

    monkeypatch.setattr(results.Journal, "append", fails)
    spec = tmp_path / "s.yaml"
    spec.write_text("name: s\ntrain: {mode: none, weights: random}\ngrid: {model: [jet_mlp], device: [xc7z020]}\n")
    r = cli("sweep", spec, "--out", tmp_path / "w", "--no-report")
    assert r.code == 2 and needle in one_line(r)


def test_a_bug_is_one_line_with_exit_code_1_and_debug_shows_the_traceback(cli, tmp_path, monkeypatch):
    import codesign.sim.fitted

    def broken(*args, **kwargs):
        raise ValueError("boom\nsecond line")

    monkeypatch.setattr(codesign.sim.fitted, "fitted_estimate", broken)     # what simulate estimates with
    args = ["simulate", "--model", "jet_mlp", "--device", "xc7z020", "--out", tmp_path / "s"]
    r = cli(*args)
    assert r.code == 1 and "internal error (ValueError: boom second line)" in one_line(r)
    monkeypatch.setenv("CODESIGN_DEBUG", "0")               # restored after the test (--debug sets it)
    with pytest.raises(ValueError):
        cli("--debug", *args)


def test_debug_shows_the_traceback_of_a_user_error_and_keeps_exit_code_2(cli, tmp_path, monkeypatch):
    """--debug turned every user error into exit code 1, the code of a bug in codesign."""
    monkeypatch.setenv("CODESIGN_DEBUG", "0")               # restored after the test (--debug sets it)
    for args in (["simulate", "--model", "lenet5", "--device", "xc7z02"], ["train", tmp_path / "missing.yaml"]):
        r = cli("--debug", *args, "--out", tmp_path / "o")
        assert r.code == 2, r.err
        assert "Traceback (most recent call last)" in r.err and "ConfigError" in r.err
        assert r.err.strip().splitlines()[-1].startswith("error: ")
    r = cli("--debug", "simulate", "--model", "jet_mlp", "--device", "xc7z020", "--clock-mhz", "1e12")
    assert r.code == 2 and "Traceback" in r.err and "--clock-mhz: an FPGA clock" in r.err


@pytest.mark.skipif(not hasattr(signal, "SIGTERM"), reason="needs SIGTERM")
def test_sigterm_stops_like_ctrl_c(tmp_path):
    run = tmp_path / "run"
    args = [*TINY[:-4], "--epochs", "50", "--out", str(run)]
    args[args.index("--set") + 1] = "data.options={in_shape: [16], num_classes: 5, n_train: 4096, n_test: 64}"
    proc = subprocess.Popen([sys.executable, "-m", "codesign", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (run / "train" / "ckpt.pt").exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert proc.poll() is None, "finished before SIGTERM"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1].startswith("error: interrupted; rerun the same command with --resume")
    assert not [p for p in run.rglob("*") if p.name.endswith(".tmp")]
