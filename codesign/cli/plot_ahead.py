"""The roofline plot off the critical path of ``codesign simulate``.

matplotlib takes longer to import and draw than the whole estimate takes. :class:`PlotAhead` forks a
child when the command starts; the child imports matplotlib while the parent imports the simulator,
computes the estimate and prints it, then draws the figure from the report the parent hands over.
The command still ends only when ``roofline.png`` is written (no race with a script that reads it
next), but the two halves overlap. The child ignores Ctrl-C, dies with the parent and is killed when
the command fails; without ``os.fork``, or with other threads running, the figure is drawn in-process.
"""
from __future__ import annotations

import os
import pickle
import signal
import threading
from pathlib import Path
from typing import Any, Dict, Optional

from .. import procs
from ..errors import CodesignError


class PlotAhead:
    """Context manager: ``draw(report_dict, path)`` writes the roofline PNG (see the module doc)."""

    def __init__(self, enabled: bool = True):
        self.pid: Optional[int] = None
        if enabled and hasattr(os, "fork") and threading.active_count() == 1:
            self._fork()

    def _fork(self) -> None:
        to_child, from_parent = os.pipe()[::-1]
        from_child, to_parent = os.pipe()
        pid = os.fork()
        if pid == 0:                                      # the child never returns from here
            os.close(to_child)
            os.close(from_child)
            _child(from_parent, to_parent, os.getppid())
        os.close(from_parent)
        os.close(to_parent)
        self.pid, self._to_child, self._from_child = pid, to_child, from_child
        procs._PIDS.add(pid)

    def draw(self, data: Dict[str, Any], path: Path) -> Path:
        if self.pid is None:
            from ..plots import roofline_plot
            return roofline_plot(data, path)
        with os.fdopen(self._to_child, "wb") as pipe:
            pickle.dump({"data": data, "path": str(path)}, pipe)
        with os.fdopen(self._from_child, "rb") as pipe:
            answer = pipe.read().decode(errors="replace")
        self._reap()
        if answer != "ok":
            raise CodesignError(answer or "the roofline plot was not drawn (its process died); rerun with --no-plot")
        return Path(path)

    def _reap(self) -> None:
        if self.pid is not None:
            try:
                os.waitpid(self.pid, 0)
            except ChildProcessError:
                pass
            procs._PIDS.discard(self.pid)
            self.pid = None

    def __enter__(self) -> "PlotAhead":
        return self

    def __exit__(self, *exc) -> None:
        if self.pid is not None:                          # the command failed before drawing
            try:
                os.kill(self.pid, signal.SIGKILL)
            except OSError:
                pass
            for fd in (self._to_child, self._from_child):
                try:
                    os.close(fd)
                except OSError:
                    pass
            self._reap()


def _child(from_parent: int, to_parent: int, parent: int) -> None:  # pragma: no cover  (a forked process)
    answer = "ok"
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        procs._die_with_parent(parent)
        from ..plots import _figure, roofline_plot

        _figure()                                         # matplotlib loaded while the parent computes
        with os.fdopen(from_parent, "rb") as pipe:
            job = pickle.load(pipe)
        roofline_plot(job["data"], Path(job["path"]))
    except EOFError:                                      # the parent went away without a report
        os._exit(0)
    except CodesignError as err:
        answer = str(err)
    except BaseException as err:  # noqa: BLE001  (reported by the parent as one line)
        answer = f"the roofline plot failed ({type(err).__name__}: {err}); rerun with --no-plot"
    try:
        os.write(to_parent, answer.encode())
    finally:
        os._exit(0)
