"""Child processes never outlive codesign.

Three kinds of children exist: process-pool workers (a sweep's jobs, C-simulation chunks), and
external commands (hls4ml's ``build_lib.sh`` running g++). The rules:

- A pool worker (:func:`worker_init`) ignores Ctrl-C, which the terminal sends to the whole
  process group: the parent alone decides how to stop. It dies with its parent: ``SIGTERM`` on the
  parent's death (Linux ``PR_SET_PDEATHSIG``) and a watchdog thread that notices a changed parent
  pid (every platform, and a parent killed with ``kill -9``). On ``SIGTERM`` it first stops its
  own children.
- An external command (:func:`run_command`) runs in its own process group, so the group (g++
  included) is killed when the caller is interrupted or fails, instead of compiling on.
- :func:`terminate_pool` stops a pool's workers now (a plain ``shutdown`` lets running jobs
  finish); :func:`stop_children` stops everything this process started.
"""
from __future__ import annotations

import contextlib
import io
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Iterable, Optional, Sequence, Set

_GROUPS: Set[int] = set()            # process groups of external commands started by this process
_PIDS: Set[int] = set()              # other children forked by this process (codesign.cli.plot_ahead)
WATCHDOG_S = 0.5
PR_SET_PDEATHSIG = 1


def worker_init(parent_pid: int) -> None:
    """Initializer of every pool worker (see the module doc)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _stop_and_exit)
    _die_with_parent(parent_pid)


def _die_with_parent(parent_pid: int) -> None:
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
    if os.getppid() != parent_pid:          # the parent died before the line above
        _stop_and_exit()

    def watch() -> None:
        while True:
            time.sleep(WATCHDOG_S)
            if os.getppid() != parent_pid:
                _stop_and_exit()

    threading.Thread(target=watch, name="codesign-parent-watchdog", daemon=True).start()


def _stop_and_exit(signum: Optional[int] = None, frame=None) -> None:
    stop_children()
    os._exit(128 + int(signum or signal.SIGTERM))


def pool(workers: int, context: str = "spawn") -> ProcessPoolExecutor:
    """A process pool whose workers follow the rules above."""
    if context != "fork":
        _quiet_resource_tracker()
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context(context),
                               initializer=worker_init, initargs=(os.getpid(),))


def _quiet_resource_tracker() -> None:
    """Start multiprocessing's resource tracker with /dev/null as its stderr: when an interrupted command exits
    at once, the tracker still removes the pool's semaphores, but without a 'leaked semaphore objects'
    warning after the command's one line. (The tracker inherits file descriptor 2, so that is what is
    swapped for the moment it starts.)"""
    from multiprocessing import resource_tracker

    tracker = resource_tracker._resource_tracker
    if getattr(tracker, "_pid", None) is not None:
        return
    try:
        sys.stderr.flush()
        saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    except (OSError, ValueError, AttributeError):
        return
    try:
        os.dup2(null, 2)
        tracker.ensure_running()
    except Exception:  # noqa: BLE001  (then it starts as usual, on the first pool)
        pass
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


def terminate_pool(executor: ProcessPoolExecutor, grace_s: float = 5.0) -> None:
    """Stop ``executor``'s workers now (SIGTERM, then SIGKILL after ``grace_s``) and shut it down."""
    processes = list((getattr(executor, "_processes", None) or {}).values())
    _terminate(processes, grace_s)
    with contextlib.suppress(Exception):
        executor.shutdown(wait=False, cancel_futures=True)


def _terminate(processes: Iterable[multiprocessing.Process], grace_s: float) -> None:
    processes = [p for p in processes if p.is_alive()]
    for p in processes:
        with contextlib.suppress(Exception):
            p.terminate()
    deadline = time.monotonic() + grace_s
    for p in processes:
        with contextlib.suppress(Exception):
            p.join(max(0.0, deadline - time.monotonic()))
            if p.is_alive():
                p.kill()
                p.join(1.0)


def stop_children(grace_s: float = 2.0) -> None:
    """Kill the external commands and stop the pool workers this process started."""
    for group in list(_GROUPS):
        with contextlib.suppress(OSError):
            os.killpg(group, signal.SIGKILL)
    for pid in list(_PIDS):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    _terminate(multiprocessing.active_children(), grace_s)


def run_command(args: Sequence[str], cwd: "str | os.PathLike", env: Optional[dict] = None
                ) -> subprocess.CompletedProcess:
    """Run an external command in its own process group, output captured (stdout and stderr
    together); the whole group is killed if this call is interrupted or fails."""
    proc = subprocess.Popen(list(args), cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, text=True, errors="replace", start_new_session=True)
    _GROUPS.add(proc.pid)
    try:
        out, _ = proc.communicate()
    except BaseException:
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    finally:
        _GROUPS.discard(proc.pid)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, None)


@contextlib.contextmanager
def silenced_output():
    """Silence stdout and stderr at the file-descriptor level, for libraries whose C++ prints past Python
    (onnxoptimizer's warning about every brevitas export; torch.onnx's IR dump of a graph it cannot
    export, printed once its exporter has switched its log on); Python exceptions still propagate."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with open(os.devnull, "w") as null:
        try:
            os.dup2(null.fileno(), 1)
            os.dup2(null.fileno(), 2)
            with contextlib.redirect_stdout(io.StringIO()):
                yield
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
