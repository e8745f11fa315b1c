"""What codesign wrote into a folder whose files it cannot name in advance (the hls4ml project of an export).

``--force`` replaces only what codesign wrote. For a folder of known names (``train/``, a report's ``sim/``) the
names say it (:func:`codesign.atomic.check_output_dir`); an hls4ml project's files depend on the model and the
hls4ml version, so the export records them: ``FOLDER/.codesign-written`` lists every path (files and folders)
codesign wrote there, written before the folder appears under its real name and extended before a later step
writes more (the C simulation's compiler output). A folder is replaceable when it has that record and holds
nothing it does not list; anything else there (a synthesis run's output, your own files) is refused and kept,
and so is a folder without the record (made by hand, or by an export from before records were kept).
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterable, List, Optional

from . import atomic
from .errors import CodesignError

MANIFEST = ".codesign-written"


def _paths(folder: Path) -> List[str]:
    """Every file and folder under ``folder`` (relative, '/'-separated), the record itself left out."""
    out = []
    for root, dirs, files in os.walk(folder):
        rel = Path(root).relative_to(folder)
        for name in dirs + files:
            path = (rel / name).as_posix()
            if path != MANIFEST:
                out.append(path)
    return sorted(out)


def record(folder: "str | Path", also: Iterable[str] = ()) -> None:
    """Record everything under ``folder`` now, and ``also`` the paths a later step will write there."""
    folder = Path(folder)
    atomic.write_text(folder / MANIFEST, json.dumps(sorted(set(_paths(folder)) | set(also)), indent=0) + "\n")


def add(folder: "str | Path", paths: Iterable[str]) -> None:
    """Extend ``folder``'s record by ``paths`` (written, or about to be: a kill in between leaves them listed)."""
    folder = Path(folder)
    listed = _listed(folder) or []
    atomic.write_text(folder / MANIFEST, json.dumps(sorted(set(listed) | set(paths)), indent=0) + "\n")


def _listed(folder: Path) -> Optional[List[str]]:
    try:
        data = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    return [str(p) for p in data] if isinstance(data, list) else None


def foreign(folder: "str | Path") -> Optional[List[str]]:
    """The paths under ``folder`` codesign did not write (a folder's own path stands for everything in it);
    None when the folder has no record of what codesign wrote."""
    folder = Path(folder)
    listed = _listed(folder)
    if listed is None:
        return None
    known = set(listed)
    out = []
    for path in _paths(folder):
        if path not in known and not _temporary(path) and not any(path.startswith(f"{f}/") for f in out):
            out.append(path)
    return out


def _temporary(path: str) -> bool:
    """A hidden temporary file a killed atomic writer left (codesign.atomic)."""
    name = path.rpartition("/")[2]
    return name.startswith(".") and name.endswith(".tmp")


def check_replaceable(folder: "str | Path", option: str = "--out") -> None:
    """A one-line CodesignError unless ``--force`` may delete ``folder``: it records what codesign wrote there
    and holds nothing else. Nothing is deleted here."""
    folder = Path(folder)
    if not folder.is_dir() or folder.is_symlink():
        return
    others = foreign(folder)
    where = f"{option} " if option else ""
    if others is None:
        raise CodesignError(f"{where}{folder} was not written by codesign (it has no {MANIFEST} record of "
                            f"its files: your own, or an export from before codesign kept one), and --force "
                            f"replaces only what codesign wrote; move it away, or choose another folder")
    if others:
        shown = ", ".join(others[:4]) + (", ..." if len(others) > 4 else "")
        raise CodesignError(f"{where}{folder} holds {shown}, which codesign did not write (--force replaces only "
                            f"what codesign wrote there); move {'it' if len(others) == 1 else 'them'} away, or choose "
                            f"another folder")
