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


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_written_files_get_the_permissions_the_umask_allows(tmp_path, umask, mode):
    old = os.umask(umask)
    atomic._UMASK = None                      # read again under this test's umask
    try:
        atomic.write_text(tmp_path / "a.txt", "x")
        atomic.torch_save(tmp_path / "b.pt", {"x": 1})
    finally:
        os.umask(old)
        atomic._UMASK = None
    assert {oct(p.stat().st_mode & 0o777) for p in tmp_path.iterdir()} == {oct(mode)}


class FillingDisk:
    """A file that takes ``room`` bytes and then accepts no more (short writes, then ENOSPC), like a
    disk filling up under a buffered writer."""

    def __init__(self, real, room: int):
        self.real, self.room = real, room

    def write(self, data):
        n = min(len(data), self.room)
        if n == 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        self.room -= n
        return self.real.write(bytes(data[:n]))

    def __getattr__(self, name):
        return getattr(self.real, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return self.real.__exit__(*exc)


def test_a_disk_that_fills_up_mid_checkpoint_is_a_one_line_error_and_keeps_the_old_file(tmp_path, monkeypatch):
    """torch's own writer turns short writes into 'unexpected pos' RuntimeErrors (exit 1 'internal error');
    the checkpoint is made in memory and written with a loop that sees the full disk."""
    torch = pytest.importorskip("torch")
    target = tmp_path / "ckpt.pt"
    atomic.torch_save(target, {"w": torch.zeros(10)})
    real_fdopen = os.fdopen
    monkeypatch.setattr(atomic.os, "fdopen", lambda fd, mode: FillingDisk(real_fdopen(fd, mode), 1000))
    with pytest.raises(CodesignError, match="disk full while writing .*ckpt.pt"):
        atomic.torch_save(target, {"w": torch.zeros(100_000)})
    assert torch.load(target)["w"].shape == (10,)
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.pt"]
