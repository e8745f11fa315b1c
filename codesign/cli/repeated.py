"""An option given twice with two values is an error, for every command at once.

click keeps the last value of a single-valued option, so ``--device xc7z020 ... --device xcu250`` (a long
command line edited by hand, a script that appends a flag) used to run for the second device silently.
:func:`refuse_repeats` hooks the parser of every (sub)command: the same single-valued option given again
with another value (numbers compared as numbers: 200 and 200.0 are one clock), or a flag given
both ways (``--plot --no-plot``), is a one-line :class:`ConfigError` (exit 2) before the command starts.
The same value twice is fine. Repeatable ``KEY=VALUE`` options check their keys where they are read
(:func:`codesign.model_source.parse_model_args`, :func:`codesign.cli.options.build_overrides`).
"""
from __future__ import annotations

from typing import Any

from ..errors import ConfigError

_UNSET = object()


def refuse_repeats(command: Any) -> Any:
    """Hook ``command``'s parser and its subcommands' (once each); returns ``command``."""
    for sub in getattr(command, "commands", {}).values():
        refuse_repeats(sub)
    if getattr(command, "_repeats_refused", False):
        return command
    make_parser = command.make_parser

    def checked_parser(ctx: Any) -> Any:
        parser = make_parser(ctx)
        if not getattr(ctx, "resilient_parsing", False):
            options = {*getattr(parser, "_long_opt", {}).values(), *getattr(parser, "_short_opt", {}).values()}
            for option in options:
                if getattr(option, "action", None) in ("store", "store_const"):
                    option.process = _checked(option)
        return parser

    command.make_parser = checked_parser
    command._repeats_refused = True
    return command


def _checked(option: Any) -> Any:
    process = option.process

    def checked(value: Any, state: Any) -> None:
        new = option.const if option.action == "store_const" else value
        old = state.opts.get(option.dest, _UNSET)
        if old is not _UNSET and _read(old) != _read(new):
            param = option.obj
            if option.action == "store_const":
                names = "/".join([*param.opts, *getattr(param, "secondary_opts", [])])
                raise ConfigError(f"{names} given both ways; give one of them")
            raise ConfigError(f"{param.opts[0]} given twice ({_shown(old)} and {_shown(new)}); give it once")
        process(value, state)

    return checked


def _read(value: Any) -> Any:
    """``value`` as compared: a number as a number (200 and 200.0 are one clock), any other text exactly."""
    if isinstance(value, (tuple, list)):
        return tuple(_read(v) for v in value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return value


def _shown(value: Any) -> str:
    return " ".join(value) if isinstance(value, (tuple, list)) else str(value)
