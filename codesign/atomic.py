"""Atomic writes: every artifact is written to a temporary file in the same folder, flushed to
disk and renamed over the target, so a killed process never leaves a half-written file that a
later run would trust. A full disk or a missing permission becomes a one-line CodesignError.
The file gets the permissions of a plain ``open()`` (0666 less the umask), not the temporary
file's 0600.
"""
from __future__ import annotations

import contextlib
import csv
import errno
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator, Mapping, Optional, Sequence

from .errors import CodesignError, os_error


def _explain(err: OSError, path: Path) -> CodesignError:
    return os_error(err, path)


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "wb") -> Iterator[io.IOBase]:
    """Open a temporary file beside ``path``; on success it replaces ``path`` atomically."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as err:
        raise _explain(err, path) from err
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as err:
        _remove_quietly(tmp)
        raise _explain(err, path) from err
    except BaseException:
        _remove_quietly(tmp)
        raise


def _umask() -> int:
    """The process's umask (read once: os.umask can only be read by setting it)."""
    global _UMASK
    if _UMASK is None:
        _UMASK = os.umask(0o022)
        os.umask(_UMASK)
    return _UMASK


_UMASK = None


def _remove_quietly(tmp: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(tmp)


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_open(path, "wb") as f:
        _write_all(f, memoryview(data).cast("B"))


def _write_all(handle: Any, view: memoryview) -> None:
    """Write every byte: a file object may accept fewer than it was given (a disk filling up), and a write
    that makes no progress is a full disk, not a silently shorter file."""
    while len(view):
        written = handle.write(view)
        if written is None:              # a non-blocking raw file that would block: treat as full
            written = 0
        if written <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        view = view[written:]


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_open(path, "w") as f:
        f.write(text)


def write_json(path: str | os.PathLike, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def write_csv(path: str | os.PathLike, rows: Sequence[Mapping[str, Any]], fields: Sequence[str] | None = None) -> None:
    """Write all rows (the whole table, atomically). Columns: ``fields`` or the union of row keys."""
    if fields is None:
        fields = []
        for row in rows:
            fields.extend(k for k in row if k not in fields)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(fields), extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    write_text(path, buf.getvalue())


def torch_save(path: str | os.PathLike, obj: Any) -> None:
    """torch.save, atomically. The bytes are made in memory first: torch's own writer turns a write that a
    full disk cut short into 'unexpected pos' RuntimeErrors, while a plain write raises the OSError."""
    import torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    write_bytes(path, buf.getbuffer())


def check_output_dir(path: str | os.PathLike, force: bool, option: str = "--out", own: Sequence[str] = (),
                     replaces: Optional[Sequence[str]] = None) -> Path:
    """Refuse an output folder that exists and holds anything but the names in ``own`` (the command's own
    artifacts, which its --resume/--force logic handles) unless ``force``; refuse a file in its place.
    ``replaces``: the names a command's ``--force`` deletes; a folder holding anything else (a training
    run, someone's files) is refused even with ``force``. Temporary files and the folder's lock file
    (codesign.lock) do not count. Nothing is deleted here."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise CodesignError(f"{option} {path} is a file; choose a folder")
    above = next((p for p in path.absolute().parents if p.exists()), None)
    if above is not None and not above.is_dir():
        raise CodesignError(f"{option} {path}: {above} is a file, not a folder")
    if replaces is not None and path.is_dir():
        foreign = sorted(p.name for p in path.iterdir() if p.name not in replaces and p.name not in own
                         and not _temporary(p))
        if foreign:
            raise CodesignError(f"{option} {path} holds {', '.join(foreign[:4])}{', ...' if len(foreign) > 4 else ''}, "
                                f"which --force would not replace (it replaces only this command's own files); "
                                f"choose another folder")
    if not force and path.is_dir() and any(p.name not in own and not _temporary(p) for p in path.iterdir()):
        raise CodesignError(f"{option} {path} already exists and is not empty; pass --force to write over it "
                            f"or choose another folder")
    return path


def _temporary(path: Path) -> bool:
    from .lock import LOCK_NAME

    return path.name == LOCK_NAME or path.name.startswith(".") and path.name.endswith(".tmp")


def remove_artifacts(folder: str | os.PathLike, names: Optional[Sequence[str]] = None) -> None:
    """Delete ``folder``/NAME for each name (files or folders), so a fresh run never sits beside stale results;
    ``names=None``: everything in the folder but its lock file."""
    import shutil

    from .lock import LOCK_NAME

    if names is None:
        names = [p.name for p in Path(folder).iterdir() if p.name != LOCK_NAME] if Path(folder).is_dir() else []
    for name in names:
        path = Path(folder) / name
        try:
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink(missing_ok=True)
        except OSError as err:
            raise os_error(err, path, "remove") from err


def remove_stale_temporaries(folder: str | os.PathLike) -> int:
    """Delete the hidden ``.NAME.*.tmp`` files a killed writer left under ``folder`` (never trusted, only
    litter); call it before a resumed run starts writing. Returns how many were removed."""
    removed = 0
    for tmp in Path(folder).rglob(".*.tmp") if Path(folder).is_dir() else ():
        if tmp.is_file():
            _remove_quietly(str(tmp))
            removed += 1
    return removed
