"""The one progress protocol: library code reports what it does to an ``events(kind, payload)``
callback and never prints; the CLI turns events into progress bars and lines (codesign.cli.progress).

Kinds and their payloads (dicts of plain values):

- ``start``: a long job begins (training: ``start_epoch``, ``total_epochs``, ``steps_per_epoch``,
  ``resumed``; a sweep: ``name``, ``total``, ``done``, ``todo``);
- ``step`` / ``epoch``: training progress (``epoch``, ``step``, ``loss``, ``acc`` / a history row);
- ``stage``: a named phase of a pipeline begins (``stage``, optional details such as ``samples``);
- ``csim`` / ``points`` / ``job``: counts of finished work (C-simulation samples, sweep points, jobs);
- ``message``: a line for the user (``text``);
- ``end``: the job's summary.

A callback may raise to stop the job (the tests do, to simulate a kill); the job then leaves only
complete, atomically written artifacts behind.
"""
from __future__ import annotations

from typing import Any, Callable, Dict

Events = Callable[[str, Dict[str, Any]], None]


def quiet(_kind: str, _payload: Dict[str, Any]) -> None:
    """The callback of a caller who wants no progress."""
    return None


def say(events: Events, text: str) -> None:
    """Report a line of text."""
    events("message", {"text": text})
