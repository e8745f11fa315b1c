"""`codesign` command line. Each subcommand lives in its own module and is a thin call into the
library. Errors the user can fix are one line on stderr and exit code 2 (``--debug`` shows the
traceback too, with the same exit code); Ctrl-C and SIGTERM stop cleanly with exit code 130 and keep finished work (signal
handling: codesign.entry). Every number given on the command line is checked once, here: floats
must be finite and integers fit in 64 bits (:func:`_check_numbers`), and an option given twice takes
one value (:func:`codesign.cli.repeated.refuse_repeats`); each command's library call checks what the
value means."""
from __future__ import annotations

import functools
import math
import os
import sys
import traceback
from typing import Any, List, Optional

import typer

from .. import entry
from ..errors import CodesignError, os_error
from ..validate import INT_MAX
from .console import err_console
from .repeated import refuse_repeats

app = typer.Typer(
    name="codesign", no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="Hardware/software co-design of sparse neural networks for FPGAs: train sparse "
         "(grow and prune), compact, export to hls4ml with C simulation, estimate latency/energy, sweep.",
)


@app.callback()
def _root(debug: bool = typer.Option(False, "--debug", help="Show full tracebacks for errors (the exit code stays 2 for an error of yours).")) -> None:
    if debug:
        os.environ["CODESIGN_DEBUG"] = "1"


COMMAND_MODULES = {"train": "train_cmd", "list": "list_cmd", "data": "data_cmd", "compact": "compact_cmd",
                   "export": "export_cmd", "simulate": "simulate_cmd", "sweep": "sweep_cmd", "report": "report_cmd",
                   "bench": "bench_cmd"}


def _register_commands(args: Optional[List[str]] = None) -> None:
    """Import the command modules (each registers its command): only the one named in ``args`` when there
    is one, which saves start-up time; all of them for help, completion and close-match suggestions."""
    command = _command(args or [])
    modules = [COMMAND_MODULES[command]] if command in COMMAND_MODULES else COMMAND_MODULES.values()
    for module_name in modules:
        try:
            __import__(f"{__name__}.{module_name}")
        except ModuleNotFoundError as err:
            if err.name != f"{__name__}.{module_name}":
                raise


def _command(args: List[str]) -> str:
    return next((a for a in args if not a.startswith("-")), "")


def _fail(message: str, code: int = 2, debug: bool = False) -> int:
    """The error line (and exit ``code``); with ``debug``, the traceback of the exception being handled first:
    --debug shows where an error came from and keeps its exit code (2 for the user's, 1 for a bug)."""
    if debug:
        err_console.file.write(traceback.format_exc())
    message = " ".join(str(message).split())      # one line, always
    err_console.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
    entry.reported()
    return code


def _check_numbers(command: Any) -> Any:
    """Wrap each (sub)command's callback so that the numbers it receives are finite floats and
    integers within 64 bits (inf, nan or 1e30 never reach the library); returns ``command``."""
    for sub in getattr(command, "commands", {}).values():
        _check_numbers(sub)
    if command.callback is not None and not getattr(command.callback, "_numbers_checked", False):
        real, params = command.callback, {p.name: p for p in command.params}

        @functools.wraps(real)
        def checked(*args: Any, **kwargs: Any) -> Any:
            for name, value in kwargs.items():
                for v in value if isinstance(value, (list, tuple)) else [value]:
                    _check_number(params.get(name), v)
            return real(*args, **kwargs)

        checked._numbers_checked = True  # type: ignore[attr-defined]
        command.callback = checked
    return command


def _check_number(param: Any, value: Any) -> None:
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, float) and not math.isfinite(value):
        raise typer.BadParameter(f"{value} is not a finite number", param=param)
    if isinstance(value, int) and abs(value) > INT_MAX:
        raise typer.BadParameter(f"{value} is out of range (at most {INT_MAX} in magnitude)", param=param)


_RESUMABLE = {"train": "rerun the same command with --resume to continue from the last finished epoch",
              "sweep": "rerun the same command with --resume to continue (finished points are kept)"}


def _rerun_hint(args: List[str]) -> str:
    command = _command(args)
    if command in _RESUMABLE:
        return _RESUMABLE[command]
    if command in ("export", "compact", "simulate"):
        return "no partial file was kept as finished; rerun the same command with --force to start over"
    return "nothing was changed"


def main(argv: Optional[List[str]] = None) -> int:
    """Run the command line ``argv`` (default: sys.argv[1:]); returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args or os.environ.get("CODESIGN_DEBUG") == "1"
    entry.set_hint(_rerun_hint(args))
    try:
        _register_commands(args)
        command = refuse_repeats(_check_numbers(typer.main.get_command(app)))
        code = command.main(args=args, prog_name="codesign", standalone_mode=False)
        if code == 130:       # typer turns KeyboardInterrupt into Exit(130) and, here, returns the code
            return _fail(f"interrupted; {_rerun_hint(args)}", 130)
        return code if isinstance(code, int) else 0
    except CodesignError as err:
        return _fail(str(err), err.exit_code, debug)
    except typer.Exit as err:
        return err.exit_code
    except (typer.Abort, KeyboardInterrupt):
        if debug:
            raise
        return _fail(f"interrupted; {_rerun_hint(args)}", 130)
    except typer.TyperException as err:  # click's usage errors (unknown option, bad value, ...)
        if type(err).__name__ == "NoArgsIsHelpError":
            err_console.print(err.format_message(), markup=False, highlight=False)
            return 2
        ctx = getattr(err, "ctx", None)
        hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
        return _fail(f"{err.format_message()}{hint}", getattr(err, "exit_code", 2) or 2)
    except OSError as err:  # disk full, no permission, a file where a folder should be ...
        return _fail(str(os_error(err)), 2, debug)
    except MemoryError:
        return _fail(OUT_OF_MEMORY, 2, debug)
    except RuntimeError as err:    # torch's allocator reports a failed allocation as a RuntimeError
        if "can't allocate memory" in str(err):
            return _fail(OUT_OF_MEMORY, 2, debug)
        if debug:
            raise
        return _internal(err)
    except Exception as err:  # a bug, not a user error: still one line unless --debug
        if debug:
            raise
        return _internal(err)


OUT_OF_MEMORY = "out of memory; use a smaller batch size, model (--width), sample count or fewer --workers"


def _internal(err: BaseException) -> int:
    return _fail(f"internal error ({type(err).__name__}: {err}); this is a bug in codesign, "
                 f"rerun with --debug for the traceback and report it", 1)


def run() -> None:  # pragma: no cover
    """The console script (kept for ``codesign.cli:run`` callers): see codesign.entry."""
    entry.run()
