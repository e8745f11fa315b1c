"""The console script's signal handling in-process (the subprocess tests are in tests/reliability)."""
from __future__ import annotations

import signal
import sys
import time

from codesign import entry

SLOW_MODULE = """
import os, signal, time
os.kill(os.getpid(), signal.SIGTERM)       # arrives while this module is being imported
for _ in range(25):
    time.sleep(0.004)
FINISHED = True
"""


def test_a_signal_during_an_import_is_held_until_the_import_has_finished(tmp_path, monkeypatch):
    """An exception raised inside an import can cross a C++ extension's initialisation, which aborts the
    process (torch: "terminate called after throwing pybind11::error_already_set", exit -6)."""
    monkeypatch.setattr(entry, "_state", dict(entry._state, signals=0, finishing=False, held=False))
    (tmp_path / "codesign_slow_module.py").write_text(SLOW_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "codesign_slow_module", raising=False)
    previous = signal.signal(signal.SIGTERM, entry._on_signal)
    imported, interrupted = False, False
    try:
        import codesign_slow_module  # noqa: F401
        imported = codesign_slow_module.FINISHED
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:        # the held signal is delivered here, after the import
            time.sleep(0.01)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        signal.signal(signal.SIGTERM, previous)
        sys.modules.pop("codesign_slow_module", None)
    assert imported and interrupted
    assert entry._state["signals"] == 1                  # held and delivered again: still one signal


def test_a_second_signal_while_one_is_held_does_not_wait(monkeypatch):
    exits = []
    monkeypatch.setattr(entry, "_state", dict(entry._state, signals=1, finishing=False, held=False))
    monkeypatch.setattr(entry, "_hard_exit", exits.append)
    entry._on_signal(signal.SIGTERM, None)
    assert exits == [130]
