"""A dataset archive is extracted beside its folder and renamed into place only when complete, so an
interrupted `codesign data fetch` never leaves a half-extracted dataset that a later run would load."""
from __future__ import annotations

import hashlib
import io
import tarfile

import pytest

from codesign.data import download


def archive() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name in ("cifar-10-batches-py/data_batch_1", "cifar-10-batches-py/test_batch"):
            info = tarfile.TarInfo(name)
            info.size = 4
            tar.addfile(info, io.BytesIO(b"data"))
    return buf.getvalue()


@pytest.fixture
def fake_cifar(monkeypatch):
    blob = archive()
    monkeypatch.setattr(download, "_download", lambda url, timeout=15.0: blob)
    monkeypatch.setitem(download.CIFAR, "cifar10", ("https://example.invalid/c.tar.gz", hashlib.md5(blob).hexdigest()))


def test_fetch_renames_the_complete_folder_into_place(fake_cifar, tmp_path):
    download.fetch_cifar("cifar10", tmp_path, None)
    folder = tmp_path / "cifar10"
    assert sorted(p.name for p in folder.iterdir()) == ["cifar-10-batches-py"]
    assert sorted(p.name for p in (folder / "cifar-10-batches-py").iterdir()) == ["data_batch_1", "test_batch"]


def test_interrupted_extraction_leaves_no_dataset_folder(fake_cifar, tmp_path, monkeypatch):
    real = tarfile.TarFile.extractall

    def interrupted(self, path, *args, **kwargs):
        real(self, path, *args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(tarfile.TarFile, "extractall", interrupted)
    with pytest.raises(KeyboardInterrupt):
        download.fetch_cifar("cifar10", tmp_path, None)
    assert list((tmp_path / "cifar10").iterdir()) == []
