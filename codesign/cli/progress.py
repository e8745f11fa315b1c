"""Rich progress display for the library's event callbacks (the library itself never prints)."""
from __future__ import annotations

from typing import Any, Dict

from .console import err_console


def progress_display(*columns: Any, transient: bool = False):
    """A rich Progress on stderr that, when stderr is not a terminal (a log, a pipe, a test), prints no empty
    line on stopping: rich's own printed one whatever it had shown, so an error that ended a command inside a
    progress display came out as two lines (an empty one, then `error: ...`). Every CLI progress display is
    made here."""
    from rich.progress import Progress

    class _Progress(Progress):
        def stop(self) -> None:
            if self.disable:
                return
            self.live.stop()
            shown = not self.live.transient and any(task.visible for task in self.tasks)
            if shown and not self.console.is_interactive and not self.console.is_jupyter:
                self.console.print()          # ends the bar's last state, which rich leaves open in a file

    return _Progress(*columns, console=err_console, transient=transient)


class BarProgress:
    """A rich progress bar on stderr as a context manager: description, bar, n/total, elapsed, and
    (``info``) a free text field and the remaining time; ``transient`` bars vanish when done."""

    def __init__(self, title: str = "", info: bool = True, transient: bool = False):
        from rich.progress import (BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn,
                                   TimeRemainingColumn)   # here: every command module imports this file

        self.title = title
        columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn()]
        columns += [TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TimeRemainingColumn()] if info \
            else [TimeElapsedColumn()]
        self.progress = progress_display(*columns, transient=transient)
        self.task = None

    def __enter__(self):
        self.progress.__enter__()
        return self

    def __exit__(self, *exc):
        return self.progress.__exit__(*exc)


class TrainProgress(BarProgress):
    """Context manager; pass ``self.event`` as the ``events`` callback of ``fit``."""

    def __init__(self, title: str = "train"):
        super().__init__(title)
        self.steps_per_epoch = 1

    def event(self, kind: str, payload: Dict[str, Any]) -> None:
        if kind == "start":
            self.steps_per_epoch = payload["steps_per_epoch"]
            total = payload["total_epochs"] * self.steps_per_epoch
            done = payload["start_epoch"] * self.steps_per_epoch
            self.task = self.progress.add_task(self.title, total=total, completed=done, info="")
            if payload.get("resumed"):
                self.progress.console.print(f"resumed after epoch {payload['start_epoch']}", markup=False)
        elif kind == "step" and self.task is not None:
            if payload["step"] % 10 == 0 or payload["step"] == self.steps_per_epoch:
                self.progress.update(self.task, completed=payload["epoch"] * self.steps_per_epoch + payload["step"],
                                     info=f"epoch {payload['epoch'] + 1} loss {payload['loss']:.4f} "
                                          f"acc {payload['acc']:.4f}")
        elif kind == "epoch":
            parts = [f"epoch {payload['epoch']}", f"train_loss {payload['train_loss']:.4f}"]
            for key in ("val_acc", "test_acc"):
                if payload.get(key) is not None:
                    parts.append(f"{key} {payload[key]:.4f}")
            parts.append(f"params {payload['params']:,} nonzeros {payload['nonzeros']:,}")
            for key, value in payload.items():
                if key.startswith("method_"):
                    parts.append(f"{key[7:]} {value}")
            self.progress.console.print("  ".join(parts), markup=False)
        elif kind == "message":
            self.progress.console.print(payload["text"], markup=False)
