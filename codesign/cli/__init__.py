"""`codesign` command line. Each subcommand lives in its own module and is a thin call into the
library. Errors the user can fix are one line on stderr and exit code 2 (``--debug`` shows the
traceback); Ctrl-C stops cleanly with exit code 130 and keeps finished work."""
from __future__ import annotations

import os
import sys
from typing import List, Optional

import typer

from ..errors import CodesignError, os_error
from .console import err_console

app = typer.Typer(
    name="codesign", no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="Hardware/software co-design of sparse neural networks for FPGAs: train sparse "
         "(grow and prune), compact, export to hls4ml with C simulation, estimate latency/energy, sweep.",
)


@app.callback()
def _root(debug: bool = typer.Option(False, "--debug", help="Show full tracebacks for errors.")) -> None:
    if debug:
        os.environ["CODESIGN_DEBUG"] = "1"


def _register_commands() -> None:
    from . import data_cmd, list_cmd, train_cmd  # noqa: F401

    for module_name in ("compact_cmd", "export_cmd", "simulate_cmd", "sweep_cmd", "report_cmd", "bench_cmd"):
        try:
            __import__(f"{__name__}.{module_name}")
        except ModuleNotFoundError as err:
            if err.name != f"{__name__}.{module_name}":
                raise


def _fail(message: str, code: int = 2) -> int:
    message = " ".join(str(message).split())      # one line, always
    err_console.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
    return code


_RESUMABLE = {"train": "rerun the same command with --resume to continue from the last finished epoch",
              "sweep": "rerun the same command with --resume to continue (finished points are kept)"}


def _rerun_hint(args: List[str]) -> str:
    command = next((a for a in args if not a.startswith("-")), "")
    if command in _RESUMABLE:
        return _RESUMABLE[command]
    if command in ("export", "compact", "simulate"):
        return "no partial file was kept as finished; rerun the same command with --force to start over"
    return "nothing was changed"


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of the `codesign` console script."""
    _register_commands()
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args or os.environ.get("CODESIGN_DEBUG") == "1"
    try:
        code = app(args=args, prog_name="codesign", standalone_mode=False)
        if code == 130:       # typer turns KeyboardInterrupt into Exit(130) and, here, returns the code
            return _fail(f"interrupted; {_rerun_hint(args)}", 130)
        return code if isinstance(code, int) else 0
    except CodesignError as err:
        if debug:
            raise
        return _fail(str(err), err.exit_code)
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
        if debug:
            raise
        return _fail(str(os_error(err)), 2)
    except MemoryError:
        if debug:
            raise
        return _fail("out of memory; use a smaller batch size, model or sample count", 2)
    except Exception as err:  # a bug, not a user error: still one line unless --debug
        if debug:
            raise
        return _fail(f"internal error ({type(err).__name__}: {err}); this is a bug in codesign, "
                     f"rerun with --debug for the traceback and report it", 1)


def _terminate(signum, frame) -> None:
    raise KeyboardInterrupt  # SIGTERM stops like Ctrl-C: temporary files are removed, exit code 130


def run() -> None:  # pragma: no cover
    import signal

    signal.signal(signal.SIGTERM, _terminate)
    sys.exit(main())
