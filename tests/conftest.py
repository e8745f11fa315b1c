"""Shared fixtures: tiny synthetic data and a CLI runner that runs `codesign` in-process."""
from __future__ import annotations

import io
import contextlib
from dataclasses import dataclass
from types import SimpleNamespace

import pytest
import torch

from codesign.data import load_dataset


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(monkeypatch):
    """Run `codesign ARGS...` in-process; returns exit code, stdout and stderr."""
    from codesign.cli import console as console_mod
    from codesign.cli import main

    def run(*args: str) -> CliResult:
        out, err = io.StringIO(), io.StringIO()
        monkeypatch.setattr(console_mod.console, "file", out)
        monkeypatch.setattr(console_mod.err_console, "file", err)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main([str(a) for a in args])
        return CliResult(code, out.getvalue(), err.getvalue())

    return run


@pytest.fixture(scope="session")
def _empty_data_home(tmp_path_factory):
    return tmp_path_factory.mktemp("codesign-data")


@pytest.fixture(autouse=True)
def _hermetic(_empty_data_home, monkeypatch):
    """No test reads the user's data cache or the network: $CODESIGN_DATA is an empty folder (also for
    the CLI subprocesses tests start), and downloading or `npm pack` fails unless a test fakes it."""
    from codesign.data import download

    def offline(*_args, **_kwargs):
        raise OSError("the tests run offline")

    monkeypatch.setenv("CODESIGN_DATA", str(_empty_data_home))
    monkeypatch.setattr(download, "_download", offline)
    monkeypatch.setattr(download, "subprocess", SimpleNamespace(run=offline))   # npm pack


@pytest.fixture(autouse=True)
def _single_thread():
    torch.set_num_threads(1)
    yield


@pytest.fixture
def tiny_mnist_like():
    return load_dataset("synthetic", in_shape=(1, 28, 28), num_classes=10, n_train=256, n_test=128)
