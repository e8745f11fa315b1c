"""One writer per output folder: an advisory lock file that names its owner.

Every command that writes a folder (``train``, ``sweep``, ``export``, ``compact``, ``simulate``,
``report``, ``data fetch``) holds ``FOLDER/.codesign.lock`` while it works. A second process that
wants the same folder stops at once with a one-line :class:`FolderBusy` naming the owner (pid,
command, start time) instead of silently overwriting the first one's work.

The lock is ``flock`` on that file, which the kernel releases when its owner dies, so a lock left
by a killed process (``kill -9``, a crash, a reboot) is stale by construction: the next run takes it
over and says nothing. Where ``fcntl`` is missing (Windows), the file is created exclusively and a
lock whose pid no longer runs is taken over. The file is removed when the lock is released, and a
folder that the lock created and that stayed empty is removed with it.

Locks are re-entrant within a process: the CLI takes the lock around a whole command, and the
library functions it calls (``fit``, ``run_sweep``, ``run_export``) take it again for callers that
use them directly.
"""
from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Dict, Iterator, Optional

from .errors import CodesignError, os_error

try:
    import fcntl
except ImportError:  # pragma: no cover  (Windows)
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = ".codesign.lock"
_HELD: Dict[str, int] = {}          # real path of a locked folder -> nesting depth in this process


class FolderBusy(CodesignError):
    """Another live process holds the folder's lock."""


@contextlib.contextmanager
def folder_lock(folder: "str | os.PathLike", command: Optional[str] = None) -> Iterator[Path]:
    """Hold ``folder``'s lock (creating the folder) for the duration of the ``with`` block."""
    folder = Path(folder)
    created = not folder.exists()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise os_error(err, folder, "create") from err
    key = os.path.realpath(folder)
    if key in _HELD:
        _HELD[key] += 1
        try:
            yield folder
        finally:
            _HELD[key] -= 1
        return
    fd = _acquire(folder / LOCK_NAME, folder, command)
    _HELD[key] = 1
    try:
        yield folder
    finally:
        del _HELD[key]
        _release(folder / LOCK_NAME, fd)
        if created:
            with contextlib.suppress(OSError):
                folder.rmdir()           # only succeeds when nothing was written into it


def is_locked(folder: "str | os.PathLike") -> bool:
    """True while a live process (this one included) holds ``folder``'s lock."""
    path = Path(folder) / LOCK_NAME
    if os.path.realpath(folder) in _HELD:
        return True
    if not path.exists():
        return False
    if fcntl is None:  # pragma: no cover
        return _alive(_owner(path).get("pid"))
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)
    return False


def _acquire(path: Path, folder: Path, command: Optional[str]) -> int:
    for _ in range(100):             # another process may replace the file between open and lock
        fd = _open(path, folder)
        if fd is None:
            continue
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                owner = _owner(path)
                os.close(fd)
                raise _busy(folder, owner) from None
            try:
                same = os.fstat(fd).st_ino == os.stat(path).st_ino
            except FileNotFoundError:
                same = False
            if not same:             # the previous owner removed it while we waited: take the new one
                os.close(fd)
                continue
        _write_owner(fd, path, command)
        return fd
    raise CodesignError(f"cannot lock {folder}: its lock file keeps changing; rerun")


def _open(path: Path, folder: Path) -> Optional[int]:
    try:
        if fcntl is not None:
            return os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o666)
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o666)  # pragma: no cover
    except FileExistsError:  # pragma: no cover  (no fcntl: an existing lock is live or stale)
        owner = _owner(path)
        if _alive(owner.get("pid")):
            raise _busy(folder, owner) from None
        with contextlib.suppress(OSError):
            path.unlink()
        return None
    except OSError as err:
        raise os_error(err, path, "lock") from err


def _write_owner(fd: int, path: Path, command: Optional[str]) -> None:
    owner = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%d %H:%M:%S"),
             "command": command or " ".join(["codesign", *sys.argv[1:]])[:300]}
    try:
        os.ftruncate(fd, 0)
        os.write(fd, (json.dumps(owner) + "\n").encode())
    except OSError as err:
        os.close(fd)
        raise os_error(err, path) from err


def _release(path: Path, fd: int) -> None:
    with contextlib.suppress(OSError):
        path.unlink()                # before unlocking: a waiter then sees a new file, never a reused one
    with contextlib.suppress(OSError):
        os.close(fd)


def _owner(path: Path) -> Dict[str, object]:
    try:
        data = json.loads(path.read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _alive(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _busy(folder: Path, owner: Dict[str, object]) -> FolderBusy:
    who = f"pid {owner.get('pid', '?')}"
    if owner.get("host") and owner.get("host") != socket.gethostname():
        who += f" on {owner['host']}"
    if owner.get("command"):
        who += f", `{owner['command']}`"
    if owner.get("started"):
        who += f", started {owner['started']}"
    return FolderBusy(f"{folder} is in use by another codesign process ({who}); wait for it to finish or stop it, "
                      f"or choose another folder")
