"""codesign.atomic: a failed write keeps the old file, temporaries of killed writers are litter that the
output-folder check ignores and a resumed run removes."""
from __future__ import annotations

import errno
import os

import pytest

from codesign import atomic
from codesign.errors import CodesignError


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "report.json"
    atomic.write_json(target, {"good": 1})

    def disk_full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(CodesignError, match="disk full while writing .*report.json"):
        atomic.write_json(target, {"good": 2})
    assert target.read_text().strip() == '{\n  "good": 1\n}'
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_output_folder_check(tmp_path):
    run = tmp_path / "run"
    assert atomic.check_output_dir(run, force=False) == run                  # missing: fine
    run.mkdir()
    (run / ".ckpt.pt.abc123.tmp").write_bytes(b"half")                      # a killed writer's litter
    (run / "train").mkdir()
    atomic.check_output_dir(run, force=False, own=("train",))
    (run / "notes.txt").write_text("mine")
    with pytest.raises(CodesignError, match="not empty; pass --force"):
        atomic.check_output_dir(run, force=False, own=("train",))
    atomic.check_output_dir(run, force=True)
    with pytest.raises(CodesignError, match="is a file"):
        atomic.check_output_dir(run / "notes.txt", force=True)
    assert atomic.remove_stale_temporaries(run) == 1 and not list(run.rglob("*.tmp"))
    atomic.remove_artifacts(run, ["train", "notes.txt", "absent"])
    assert list(run.iterdir()) == []
