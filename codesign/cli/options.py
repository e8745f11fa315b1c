"""Shared CLI helpers: the hardware options every command spells the same way, turning options into
recipe overrides, and result tables."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional

import typer

from .console import console

# The hardware settings of the export, as export, simulate and train --fit take them (one definition each;
# ``scope`` says where a command applies it, ``default`` what that command does without the option).
IO_TYPE_HELP = "io_parallel, io_stream or auto (io_stream for networks with convolutions or pooling, else io_parallel)"
STRATEGY_HELP = "Latency (pruned zeros save multipliers) or Resource"
PRECISION_HELP = ("a fixed-point type as hls4ml reads it (ap_fixed<8,3>, fixed<16,6,RND_CONV,SAT>; no modes: TRN, "
                  "WRAP as in hls4ml; ap_int<8>), a bare width (8), or WEIGHT/RESULT such as "
                  "ap_fixed<8,3>/ap_fixed<16,6>")
STRATEGY_AUTO = "auto (default: chosen per layer with --reuse-factor auto, else Latency)"


#: simulate's options of the dataflow template's hls4ml design and its folding: the tiled template takes none of them
DATAFLOW_ONLY_OPTIONS = ("--reuse-factor", "--io-type", "--strategy", "--backend", "--sparse-kernel", "--hls-config",
                         "--max-util", "--max-latency-us")
#: simulate's options of the tiled accelerator: the dataflow template takes none of them
TILED_ONLY_OPTIONS = ("--unroll", "--zero-skip", "--dram-layout")


def run_model_file(value: Optional[Path]) -> Optional[Path]:
    """``--checkpoint``: a model file as given; a ``codesign train`` run directory stands for the model the later
    stages use (``RunDir.final_model``: compact/model.pt, else train/model.pt)."""
    if value is None or not value.is_dir():
        return value
    from ..errors import CodesignError
    from ..rundir import RunDir

    found = RunDir(value).final_model()
    if found is None:
        raise CodesignError(f"--checkpoint {value} is a folder without compact/model.pt or train/model.pt; pass a "
                            f"`codesign train` run directory or a model file")
    return found


def io_type_option(scope: str = "", default: str = "auto") -> Any:
    """``--io-type``."""
    return typer.Option(None, "--io-type", help=f"{scope}{IO_TYPE_HELP}; default {default}.")


def strategy_option(scope: str = "", default: str = STRATEGY_AUTO) -> Any:
    """``--strategy``: ``default`` names what the command does without it (and whether it takes auto)."""
    return typer.Option(None, "--strategy", help=f"{scope}{default}, {STRATEGY_HELP}.")


def precision_option(scope: str = "", default: str = "", more: str = "") -> Any:
    """``--precision``: ``default`` is the command's auto/default, ``more`` the forms only it takes."""
    return typer.Option(None, "--precision", help=f"{scope}{default}{PRECISION_HELP}{more}.")


def build_overrides(assignments: List[str], flags: Dict[str, Any], method_params: Optional[List[str]] = None
                    ) -> Dict[str, Any]:
    """--set KEY=VALUE pairs, explicit flags and --param KEY=VALUE (into method.params) as one {dotted key:
    value}. ``flags``: {dotted key: (the flag as typed, value)}, None when not given. A flag or --param and a
    --set of the same key (or of a section holding it) that disagree are a one-line error naming both (the
    flag used to win silently), and so are two --set (or two --param) of one key; equal values are fine."""
    from ..config import parse_assignment
    from ..errors import ConfigError

    sets: Dict[str, Any] = {}
    shown: Dict[str, str] = {}
    for text in assignments:
        keys, value = parse_assignment(text)
        _refuse_twice("--set", ".".join(keys), value, text, sets, shown)
        sets[".".join(keys)] = value
        shown[".".join(keys)] = text
    given = {k: v for k, v in flags.items() if v[1] is not None}
    params: Dict[str, Any] = {}
    params_shown: Dict[str, str] = {}
    for text in method_params or []:
        keys, value = parse_assignment(text)
        _refuse_twice("--param", ".".join(keys), value, text, params, params_shown)
        params[".".join(keys)], params_shown[".".join(keys)] = value, text
        given["method.params." + ".".join(keys)] = (f"--param {text}", value)
    for key, (flag, value) in given.items():
        for set_key, set_value in sets.items():
            if not _agree(key, value, set_key, set_value):
                raise ConfigError(f"{flag} and --set {shown[set_key]} disagree; give one of them")
    return {**sets, **{k: v for k, (_, v) in given.items()}}


_MISSING = object()


def _refuse_twice(option: str, key: str, value: Any, text: str, earlier: Dict[str, Any], shown: Dict[str, str]) -> None:
    """One key of a repeatable KEY=VALUE ``option`` given twice with two values (also as a section and a key
    inside it: train={epochs: 3} and train.epochs=2) is an error; the same value twice is fine."""
    from ..errors import ConfigError

    for old_key, old_value in earlier.items():
        inner, outer = ((key, value), (old_key, old_value)) if len(key) >= len(old_key) else \
            ((old_key, old_value), (key, value))
        if not _agree(*inner, *outer):
            raise ConfigError(f"{option} {shown[old_key]} and {option} {text} disagree; give one of them")


def _agree(key: str, value: Any, set_key: str, set_value: Any) -> bool:
    """Whether a flag's ``key: value`` and a --set of ``set_key`` can both hold: other keys, or equal values."""
    if set_key.startswith(key + "."):             # --set target.max_util.DSP=0.25 beside --max-util
        return False
    if set_key != key and not key.startswith(set_key + "."):
        return True
    node = set_value                              # the flag's key inside a --set section (train={epochs: 2})
    for part in key[len(set_key):].split(".")[1:]:
        node = node.get(part, _MISSING) if isinstance(node, dict) else _MISSING
    return node is _MISSING or _same(value, node)


def _same(a: Any, b: Any) -> bool:
    """Equal as settings: 1 and 1.0, '0.8' and 0.8, 'latency' and 'Latency' (never true and 1)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    a_number, b_number = (isinstance(x, (int, float)) for x in (a, b))
    if a_number and b_number:
        return float(a) == float(b)
    if a_number and isinstance(b, str) or b_number and isinstance(a, str):
        try:
            return float(a) == float(b)
        except ValueError:
            return False
    if isinstance(a, str) and isinstance(b, str):
        return a.strip().lower() == b.strip().lower()
    return a == b


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value != 0 and (abs(value) >= 1e6 or abs(value) < 1e-3):
            return f"{value:.4g}"
        return f"{value:.4f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def show_summary(summary: Dict[str, Any], title: str) -> None:
    from rich.table import Table

    table = Table(title=title, show_header=False)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in summary.items():
        if value is not None:
            table.add_row(key, _fmt(value))
    console.print(table)
