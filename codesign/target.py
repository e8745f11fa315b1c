"""The hardware-target vocabulary, defined once: what a design point, a recipe's ``target:``, a sweep
spec, the simulator's Mapping, the export's HlsSettings and the command line call the same things.

Defaults are the same everywhere, and the estimate models what the export builds: in particular
``sparse_kernel`` is ``auto`` for both (Dense layers below the storage break-even density take
codesign's sparse kernel where the estimate prices it lower, chosen once, :mod:`codesign.sim.sparse_choice`).
"""
from __future__ import annotations

from typing import Iterable

from .errors import ConfigError, close_matches

TEMPLATES = ("dataflow", "tiled")
STRATEGIES = ("Latency", "Resource")
AUTO_STRATEGY = "auto"             # per layer with the per-layer folding (reuse factor auto), else Latency
TARGET_STRATEGIES = (AUTO_STRATEGY,) + STRATEGIES   # what a recipe's target, train --fit, export, simulate take
IO_TYPES = ("auto", "io_parallel", "io_stream")
SPARSE_KERNEL_MODES = ("auto", "on", "off")
BACKENDS = ("Vitis", "Vivado")

#: the options of a design point only one template reads: hls4ml's dataflow design folds each layer by its
#: reuse factor, strategy, I/O type and Dense kernel; the tiled accelerator chooses its own unroll factors
DATAFLOW_ONLY = ("reuse_factor", "strategy", "io_type", "sparse_kernel")
TILED_ONLY = ("zero_skip", "unroll", "dram_layout")

DEFAULT_TEMPLATE = "dataflow"
DEFAULT_REUSE_FACTOR = 1
DEFAULT_STRATEGY = "Latency"       # one layer's strategy, a Mapping's, a sweep point's (hls4ml's default)
DEFAULT_TARGET_STRATEGY = AUTO_STRATEGY   # a recipe's target: with fit, chosen per layer as the export does
DEFAULT_IO_TYPE = "auto"           # io_stream for networks with convolutions or pooling, else io_parallel
DEFAULT_PRECISION = "auto"         # simulate, export: per layer, as the export chooses
DEFAULT_SWEEP_PRECISION = "ap_fixed<16,6>"   # sweeps and recipes' targets: hls4ml's default type
DEFAULT_SPARSE_KERNEL = "auto"
DEFAULT_MAX_UTIL = 0.8            # the largest share of every resource a folding may use (export, simulate, --fit)
DEFAULT_BACKEND = "Vitis"
DEFAULT_CLOCK_PERIOD_NS = 5.0      # the export's (hls4ml's) default; an estimate without one uses the device's clock
#: the top-1 agreement with the float model the export aims at (``--target-agreement``'s default): the automatic
#: precision searches for it; given types, and a training run's budget precision, clearly below it are flagged
DEFAULT_TARGET_AGREEMENT = 0.999


def choice(kind: str, value, choices: Iterable[str], advice: str = "") -> str:
    """``value`` spelled as in ``choices`` (case-insensitive), else a one-line error naming them (or
    giving ``advice`` instead of the bare list)."""
    choices = tuple(choices)
    for c in choices:
        if str(value).lower() == c.lower():
            return c
    raise ConfigError(f"unknown {kind} '{value}'{close_matches(str(value), choices)}; "
                      f"{advice or 'choose one of: ' + ', '.join(choices)}")


def spelled(value, choices: Iterable[str]):
    """``value`` spelled as in ``choices`` when it is one of them in another case ('latency': 'Latency'),
    else unchanged (for a schema to refuse with its own message)."""
    if isinstance(value, str):
        return next((c for c in choices if c.lower() == value.lower()), value)
    return value


def template(value: str) -> str:
    return choice("template", value, TEMPLATES)


def strategy(value: str) -> str:
    return choice("strategy", value, STRATEGIES,
                  "choose Latency or Resource (Latency: zero weights cost no multipliers)")


def target_strategy(value: str) -> str:
    """A strategy where ``auto`` is allowed (a recipe's target, ``--strategy`` of train --fit, export,
    simulate): auto lets the per-layer folding (``--reuse-factor auto``) choose Latency or Resource for
    each layer; with one fixed reuse factor it means Latency, hls4ml's default (:func:`resolve_strategy`)."""
    return choice("strategy", value, TARGET_STRATEGIES,
                  "choose auto, Latency or Resource (auto: per layer with the per-layer folding)")


def resolve_strategy(value: str, per_layer_folding: bool) -> tuple:
    """The strategies a layer may take under ``value`` (:func:`target_strategy`): both under auto with
    the per-layer folding, else the one named (auto with a fixed reuse factor: Latency)."""
    value = target_strategy(value)
    if value == AUTO_STRATEGY:
        return STRATEGIES if per_layer_folding else (DEFAULT_STRATEGY,)
    return (value,)


def io_type(value: str) -> str:
    return choice("io_type", value, IO_TYPES)


#: hls4ml's ``PipelineStyle`` (Model section): auto lets hls4ml choose (one pipeline for io_parallel networks of
#: Latency-strategy Dense layers, else DATAFLOW)
PIPELINE_STYLES = ("auto", "pipeline", "dataflow")


def pipeline_style(value: str) -> str:
    return choice("pipeline style", value, PIPELINE_STYLES)


def sparse_kernel(value: str) -> str:
    return choice("sparse kernel mode", value, SPARSE_KERNEL_MODES)


def backend(value: str) -> str:
    return choice("backend", value, BACKENDS)


def hls_tool(value: str) -> str:
    """The HLS tool an hls4ml backend runs, 'Vitis' or 'Vivado' (what decides where weight ROMs go): the
    accelerator variants (VivadoAccelerator, VitisAcceleratorIPFlow) run their base backend's tool."""
    for b in BACKENDS:
        if str(value).lower().startswith(b.lower()):
            return b
    return choice("backend", value, BACKENDS)


def latency_cycles(max_latency_us: float, clock_mhz: float, what: str = "--max-latency-us") -> float:
    """A latency bound in clock cycles at ``clock_mhz``: the microseconds a user gives must count as cycles, a
    finite number above zero (1e308 us overflowed to inf and 1e-320 to 0, reported as 'not finite' or as a
    bound of inf or 0 cycles the user never typed)."""
    cycles = max_latency_us * clock_mhz
    if not 0 < max_latency_us < float("inf"):
        raise ConfigError(f"{what} must be a positive number of microseconds, got {max_latency_us:g}")
    if cycles == float("inf"):
        raise ConfigError(f"{what} {max_latency_us:g} is too large to count in clock cycles at {clock_mhz:g} MHz; "
                          f"give at most {1e300 / clock_mhz:g}")
    if cycles == 0:
        raise ConfigError(f"{what} {max_latency_us:g} is too small to count in clock cycles at {clock_mhz:g} MHz "
                          f"(one cycle is {1 / clock_mhz:g} us)")
    return cycles
