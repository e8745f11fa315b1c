"""Limits and checks of values that come from outside, defined once.

Each kind of input has one validation layer, and they share the limits here:

- command-line numbers: ``codesign.cli`` (finite floats, integers within 64 bits);
- YAML files (recipes, sweep specs, device files, precision files): the ``Strict`` pydantic base of
  ``codesign.config`` (strict types: a string or a boolean is never a number; no inf or nan),
  with its annotated types (``Name``, ``Seed``, ``ReuseFactor``, ``Width``, ``Epochs``, ``ClockPeriodNs``)
  built on the limits and checks here (:func:`codesign.schema.limited`);
- model files: ``codesign.checkpoint``; datasets: ``codesign.data.checks``;
- library arguments: the checks below, called where a value enters (e.g. ``HlsSettings.checked``).
"""
from __future__ import annotations

import math
import re
from typing import Any, Optional

from .errors import ConfigError

INT_MAX = 2 ** 63 - 1                 # the largest integer any option takes (torch and numpy hold int64)
SEED_MAX = 2 ** 63 - 1                # seeds: 0 .. SEED_MAX (torch.manual_seed takes 64 bits)
REUSE_FACTOR_MAX = 2 ** 31 - 1        # hls4ml's C++ templates hold the reuse factor in an int
WIDTH_MAX = 64.0                      # a zoo model's width multiplier: 64x the paper's channels at most
NAME_PATTERN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+=-]{0,127}")
#: an FPGA's fabric clock: 1 MHz to 1 GHz (periods 1000 ns to 1 ns). Shipped designs run at 80-400 MHz and no
#: part's fabric or DSP slices close timing at 1 GHz; outside this range a clock is a typo (1e12 for 1e2, or ps
#: for ns), and every latency, throughput and energy figure derived from it would be nonsense.
CLOCK_MHZ_MIN, CLOCK_MHZ_MAX = 1.0, 1000.0
#: training epochs: a million epochs is days even for the smallest dataset at ten epochs a second; more is a typo
EPOCHS_MAX = 1_000_000


def finite(value: Any, what: str, *, low: Optional[float] = None, high: Optional[float] = None,
           low_open: bool = False) -> float:
    """``value`` as a finite float within [low, high] (``low_open``: > low), else a one-line ConfigError."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{what} must be a number, got {value!r}")
    x = float(value)
    bad = not math.isfinite(x) or (low is not None and (x <= low if low_open else x < low)) or \
        (high is not None and x > high)
    if bad:
        bounds = []
        if low is not None:
            bounds.append(f"{'>' if low_open else '>='} {low:g}")
        if high is not None:
            bounds.append(f"<= {high:g}")
        raise ConfigError(f"{what} must be a finite number" + (f" {' and '.join(bounds)}" if bounds else "")
                          + f", got {value!r}")
    return x


def integer(value: Any, what: str, *, low: int = 0, high: int = INT_MAX) -> int:
    """``value`` as an int within [low, high]; booleans, strings and fractions are errors, not coerced."""
    ok = isinstance(value, int) and not isinstance(value, bool) or isinstance(value, float) and value.is_integer()
    if not ok or not low <= value <= high:
        raise ConfigError(f"{what} must be an integer in {low}..{high}, got {value!r}")
    return int(value)


def clock_mhz(value: Any, what: str) -> float:
    """A clock frequency in MHz within [CLOCK_MHZ_MIN, CLOCK_MHZ_MAX], else a one-line ConfigError naming the range."""
    x = finite(value, what, low=0, low_open=True)
    if not CLOCK_MHZ_MIN <= x <= CLOCK_MHZ_MAX:
        raise ConfigError(f"{what}: an FPGA clock runs at {CLOCK_MHZ_MIN:g} to {CLOCK_MHZ_MAX:g} MHz, got {x:g}")
    return x


def clock_period_ns(value: Any, what: str) -> float:
    """A clock period in ns: the periods of :func:`clock_mhz`'s range (1 to 1000 ns), else a one-line ConfigError."""
    x = finite(value, what, low=0, low_open=True)
    low, high = 1000.0 / CLOCK_MHZ_MAX, 1000.0 / CLOCK_MHZ_MIN
    if not low <= x <= high:
        raise ConfigError(f"{what}: an FPGA clock period is {low:g} to {high:g} ns, got {x:g}")
    return x


def epochs(value: Any, what: str) -> int:
    """A number of training epochs: an integer in 1..EPOCHS_MAX."""
    if isinstance(value, int) and not isinstance(value, bool) and value > EPOCHS_MAX:
        raise ConfigError(f"{what}: at most {EPOCHS_MAX} epochs, got {value}")
    return integer(value, what, low=1, high=EPOCHS_MAX)


def seed(value: Any, what: str = "seed") -> int:
    return integer(value, what, low=0, high=SEED_MAX)


def name(value: Any, what: str) -> str:
    """A name that becomes a file or folder name: letters, digits and ``_ . + = -``, no path."""
    if not isinstance(value, str) or not NAME_PATTERN.fullmatch(value):
        raise ConfigError(f"{what} {value!r} is not a valid name: use letters, digits and _ . + = - "
                          f"(at most 128 characters, no '/' and not starting with '.' or '-')")
    return value


#: an AMD/Xilinx part number (the Vitis and Vivado backends build nothing else): xc7z020clg400-1,
#: xcu250-figd2104-2L-e, xck26-sfvc784-2LV-c; xa/xq: automotive and defence grades
PART_PATTERN = re.compile(r"x[acq][a-z0-9]+(?:-[a-z0-9]+)*", re.IGNORECASE)


def part(value: Any, what: str = "--part") -> str:
    """A well-formed AMD/Xilinx part number. Whether codesign models the part is another matter: the estimate
    says when it has no device model for it (see codesign.sim.export_section). ``what``: how the message names
    where the part came from."""
    if not isinstance(value, str) or not PART_PATTERN.fullmatch(value.strip()):
        raise ConfigError(f"{what} {value!r} is not an AMD/Xilinx part number (e.g. xc7z020clg400-1 or "
                          f"xcu250-figd2104-2L-e); the Vitis and Vivado backends build for those only")
    return value.strip()
