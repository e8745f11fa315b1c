"""Shared checks for the method tests."""
from __future__ import annotations

import pytest
import torch

from codesign.train import fit


class Crash(Exception):
    """Raised from the events callback to stop training as a kill would."""


def without_time(history):
    return [{k: v for k, v in row.items() if k != "seconds"} for row in history]


@pytest.fixture
def crash_resume():
    """``crash_resume(cfg, tmp_path, epoch, step=1)``: train once uninterrupted, once crashing at
    (epoch, step) and resuming; asserts bit-identical weights and histories; returns both results."""
    def run(cfg, tmp_path, epoch, step=1):
        reference = fit(cfg, tmp_path / "ref")

        def crash(kind, payload):
            if kind == "step" and payload["epoch"] == epoch and payload["step"] == step:
                raise Crash()

        with pytest.raises(Crash):
            fit(cfg, tmp_path / "run", events=crash)
        resumed = fit(cfg, tmp_path / "run", resume=True)
        a, b = reference.model.state_dict(), resumed.model.state_dict()
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
        assert without_time(resumed.history) == without_time(reference.history)
        return reference, resumed
    return run
