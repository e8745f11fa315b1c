"""User-facing errors.

Every error a user can cause (bad name, bad config, missing file, wrong shape ...) is raised as a
:class:`CodesignError` whose message is one line saying what is wrong and what to do. The CLI prints
that line and exits with code 2; library callers catch the class like any other exception. An
:class:`InternalError` is a bug that codesign reports in one line too, with exit code 1.
"""
from __future__ import annotations

import difflib
import errno
import os
from typing import Iterable, Optional


class CodesignError(Exception):
    """An error caused by the user's input; its message is one actionable line."""

    exit_code = 2

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))


class ConfigError(CodesignError):
    """A recipe, sweep spec, device file or CLI option is malformed or inconsistent."""


class DataError(CodesignError):
    """A dataset is missing, corrupt, or does not fit the model."""


class ExportError(CodesignError):
    """A model cannot be exported (unsupported layer or op, missing tool)."""


class InternalError(CodesignError):
    """Something codesign's own checks let through failed anyway (a C simulation that crashes, a generated
    project that computes another network): a bug in codesign, not the user's, so the CLI exits with code 1
    (as for any other bug), still with one line that says what happened and what to do meanwhile."""

    exit_code = 1


def close_matches(name: str, choices: Iterable[str], n: int = 3) -> str:
    """' (did you mean: a, b?)' for the choices closest to ``name``, or '' when none is close."""
    choices = list(choices)
    hits = difflib.get_close_matches(str(name), choices, n=n, cutoff=0.5)
    if not hits:
        lowered = str(name).lower()
        hits = [c for c in choices if lowered and (lowered in c.lower() or c.lower() in lowered)][:n]
    return f" (did you mean: {', '.join(hits)}?)" if hits else ""


def unknown_name(kind: str, name: str, choices: Iterable[str]) -> CodesignError:
    """The standard error for an unknown registry key."""
    choices = sorted(choices)
    return CodesignError(
        f"unknown {kind} '{name}'{close_matches(name, choices)}; choose one of: {', '.join(choices)}"
    )


def os_error(err: OSError, path: "str | os.PathLike | None" = None, action: str = "write") -> CodesignError:
    """One actionable line for an operating-system error (disk full, no permission, not a folder ...)."""
    where = path if path is not None else (err.filename or "a file")
    if err.errno == errno.ENOSPC:
        return CodesignError(f"disk full while writing {where}; free some space and rerun (finished work is kept)")
    if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return CodesignError(f"no permission to {action} {where}; choose another folder or fix its permissions")
    if err.errno == errno.ENOTDIR:
        return CodesignError(f"cannot {action} {where}: a part of the path is a file, not a folder")
    if err.errno == errno.ENOENT:
        return CodesignError(f"cannot {action} {where}: no such file or folder")
    return CodesignError(f"cannot {action} {where}: {err.strerror or err}")
