"""The ``codesign`` console script: signal handling first, then the command line.

Ctrl-C and ``SIGTERM`` stop every command the same way, at any moment (start-up, work, shutdown):
one line on stderr, exit code 130, no child process left running.

- The first signal raises ``KeyboardInterrupt`` in the main thread, so the command unwinds: a
  temporary file is removed, a sweep stops its workers, g++ is killed, and the CLI prints one line
  saying how to continue (``codesign.cli.main``).
- Not while a module is being imported: an exception raised inside an import can cross a C++
  extension's initialisation (torch's), which then aborts the process (``terminate called after
  throwing pybind11::error_already_set``, exit -6). The signal is held and delivered again every
  ``RETRY_S`` until the import has finished, then raises as above.
- A second signal while that happens, or any signal once the command has returned, does not wait:
  children are killed, the line is printed unless it already was, and the process exits.

Once the command has finished, the process leaves with ``os._exit`` after flushing its output: the
interpreter's teardown (seconds with torch loaded) is skipped, and so is its window in which a
``SIGTERM`` would kill the process silently with -15.

This module imports nothing heavy, so the handlers are in place before the CLI's imports start.
"""
from __future__ import annotations

import _thread
import os
import signal
import sys
import threading

RETRY_S = 0.02         # a signal held during an import is delivered again after this long
_state = {"signals": 0, "reported": False, "finishing": False, "hint": "nothing was changed", "held": False}


def install() -> None:
    for sig in (signal.SIGINT, getattr(signal, "SIGTERM", None)):
        if sig is not None:
            signal.signal(sig, _on_signal)


def set_hint(hint: str) -> None:
    """What the interruption line tells the user to do (the CLI sets it per command)."""
    _state["hint"] = hint


def reported() -> None:
    """The CLI printed its error line; a late signal must not print a second one."""
    _state["reported"] = True


def _on_signal(signum, frame) -> None:
    if _state["held"]:                  # the held signal delivered again, not a new one
        _state["held"] = False
    else:
        _state["signals"] += 1
    if _state["signals"] == 1 and not _state["finishing"]:
        if _importing(frame):
            _hold(signum)
            return
        raise KeyboardInterrupt
    _hard_exit(130)


def _importing(frame) -> bool:
    """True when the interrupted code runs inside an import (importlib's frames are on its stack)."""
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


def _hold(signum: int) -> None:
    def deliver_again() -> None:
        _state["held"] = True
        _thread.interrupt_main(signum)

    timer = threading.Timer(RETRY_S, deliver_again)
    timer.daemon = True
    timer.start()


def _hard_exit(code: int) -> None:
    _state["finishing"] = True
    try:
        from .procs import stop_children

        stop_children(grace_s=1.0)
    except BaseException:  # noqa: BLE001  (stopping anyway)
        pass
    if not _state["reported"]:
        _state["reported"] = True
        _write_err(f"error: interrupted; {_state['hint']}\n")
    _exit(code)


def _write_err(text: str) -> None:
    try:
        sys.stderr.write(text)
        sys.stderr.flush()
    except BaseException:  # noqa: BLE001
        pass


def _exit(code: int) -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:  # noqa: BLE001
            pass
    os._exit(code)


def run() -> None:  # pragma: no cover  (exercised by the subprocess tests in tests/reliability)
    install()
    code = 130
    try:
        from .cli import main

        code = main()
        _state["finishing"] = True
    except KeyboardInterrupt:        # before the CLI's own handling was in place, or after it
        _hard_exit(130)
    except SystemExit as err:
        code = err.code if isinstance(err.code, int) else 1
        _state["finishing"] = True
    _exit(code)
