"""Where a sweep's jobs run: in this process, in a local process pool, or on a Ray cluster.

Every executor takes ``submit(fn, *args)`` and returns a ``concurrent.futures.Future`` whose
result is an :class:`Outcome`; ``wait_any(futures)`` returns those that are done. A job never
raises through the executor: its error becomes the outcome's message, so one failing point cannot
stop the sweep. ``fn`` must be a module-level function of an importable module (workers import it
by name).
"""
from __future__ import annotations

import multiprocessing
import os
import traceback
from concurrent.futures import FIRST_COMPLETED, Future, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, Callable, List, Optional, Tuple

from .. import procs
from ..errors import CodesignError, ConfigError

EXECUTORS = ("local", "ray")


@dataclass(frozen=True)
class Outcome:
    value: Any = None
    error: Optional[str] = None


def guarded(fn: Callable, *args: Any) -> Outcome:
    """Run a job; a failure becomes a one-line message (internal errors name where they happened)."""
    try:
        return Outcome(fn(*args))
    except CodesignError as err:
        return Outcome(error=str(err))
    except Exception as err:  # a bug or an unexpected library error: recorded, the sweep goes on
        frame = traceback.extract_tb(err.__traceback__)[-1]
        where = f"{os.path.basename(frame.filename)}:{frame.lineno}"
        return Outcome(error=" ".join(f"{type(err).__name__}: {err} (at {where})".split()))


def wait_any(futures: List[Future]) -> List[Future]:
    return list(wait(futures, return_when=FIRST_COMPLETED)[0])


class InlineExecutor:
    """Runs jobs one at a time in this process (``--workers 1``), newest first: the points of a model
    are simulated and saved right after the model is made, before the next model trains."""

    workers = 1

    def __init__(self) -> None:
        self._queue: List[Tuple[Future, Callable, Tuple[Any, ...]]] = []

    def threads_for(self, busy: int) -> Optional[int]:
        return None                        # torch keeps its own default

    def submit(self, fn: Callable, *args: Any) -> Future:
        future: Future = Future()
        self._queue.append((future, fn, args))
        return future

    def wait_any(self, futures: List[Future]) -> List[Future]:
        future, fn, args = self._queue.pop()
        future.set_result(guarded(fn, *args))
        return [future]

    def shutdown(self, cancel: bool = False) -> None:
        self._queue.clear()


class PoolExecutor:
    """A local process pool (spawned workers: safe with torch's thread pools). Workers ignore Ctrl-C, die
    with the parent and are stopped, not awaited, when the sweep is interrupted (codesign.procs)."""

    def __init__(self, workers: int):
        self.workers = workers
        self._pool = procs.pool(workers, "spawn")
        self._check_workers_start()

    def _check_workers_start(self) -> None:
        """Start the workers with a no-op job before any work: a script that calls run_sweep(workers > 1)
        without ``if __name__ == "__main__":`` makes every spawned worker run the script again, and the
        pool breaks; say so now instead of leaving a partial sweep."""
        try:
            for future in [self._pool.submit(_ready) for _ in range(self.workers)]:
                future.result()
        except BrokenProcessPool:
            procs.terminate_pool(self._pool)
            raise ConfigError(MAIN_GUARD) from None

    def threads_for(self, busy: int) -> int:
        """Torch threads for a job while ``busy`` jobs (this one included) run: the cores are shared
        among the running jobs (a lone shared dense run gets them all), never more than an
        OMP_NUM_THREADS the user set."""
        cores = (os.cpu_count() or 1) // max(1, min(self.workers, busy))
        cap = os.environ.get("OMP_NUM_THREADS", "")
        return max(1, min(cores, int(cap)) if cap.isdigit() and int(cap) > 0 else cores)

    def submit(self, fn: Callable, *args: Any) -> Future:
        return self._pool.submit(guarded, fn, *args)

    def wait_any(self, futures: List[Future]) -> List[Future]:
        return wait_any(futures)

    def shutdown(self, cancel: bool = False) -> None:
        if cancel:                          # interrupted or failed: running jobs are stopped, not awaited
            procs.terminate_pool(self._pool)
        else:
            self._pool.shutdown(wait=True)


MAIN_GUARD = ("worker processes could not start: run_sweep(..., workers > 1) was called from a script without "
              "`if __name__ == \"__main__\":` around it, and each spawned worker runs the script again; put the "
              "call under that guard, or use workers=1")


def _ready() -> bool:
    return True


def in_worker_start() -> bool:
    """True while this process is a spawned worker importing its parent's main script."""
    return bool(getattr(multiprocessing.current_process(), "_inheriting", False))


class RayExecutor:
    """Ray tasks: a local Ray instance with ``workers`` CPUs, or the cluster named by the
    ``RAY_ADDRESS`` environment variable (``ray start --head`` / a cluster's address)."""

    def __init__(self, workers: int):
        try:
            import ray
        except ImportError:
            raise ConfigError("--executor ray needs Ray: pip install 'codesign[ray]' (or pip install ray)") from None
        import logging

        self._ray = ray
        self._started = not ray.is_initialized()
        if self._started:
            options = {} if os.environ.get("RAY_ADDRESS") else {"num_cpus": workers, "include_dashboard": False}
            ray.init(logging_level=logging.WARNING, log_to_driver=False, **options)
        self.workers = max(1, int(ray.cluster_resources().get("CPU", workers)))
        self._remote = ray.remote(num_cpus=1, max_retries=0)(guarded)

    def threads_for(self, busy: int) -> int:
        return 1                           # one CPU per task

    def submit(self, fn: Callable, *args: Any) -> Future:
        return self._remote.remote(fn, *args).future()

    def wait_any(self, futures: List[Future]) -> List[Future]:
        return wait_any(futures)

    def shutdown(self, cancel: bool = False) -> None:
        if self._started:
            self._ray.shutdown()


def make_executor(kind: str, workers: int):
    if kind not in EXECUTORS:
        raise ConfigError(f"unknown executor '{kind}'; choose one of: {', '.join(EXECUTORS)}")
    if workers < 1:
        raise ConfigError(f"--workers must be >= 1, got {workers}")
    if kind == "ray":
        return RayExecutor(workers)
    return InlineExecutor() if workers == 1 else PoolExecutor(workers)
