"""Numeric types as hls4ml spells them, and the one parser of every precision option.

A type string means what it means in hls4ml 1.3.0 (``FPGABackend.convert_precision_string``):

- ``ap_fixed<W,I>`` / ``fixed<W,I>`` / ``ap_ufixed<W,I>`` / ``ufixed<W,I>``, optionally with rounding,
  overflow and saturation bits: ``fixed<16,6,RND_CONV,SAT>``, ``ap_fixed<8,3,AP_RND,AP_SAT>``.
  Unspecified modes are hls4ml's (and ap_fixed's) defaults: TRN and WRAP;
- ``ap_int<W>`` / ``int<W>`` / ``ap_uint<W>`` / ``uint<W>``: integers (W integer bits, TRN, WRAP);
  ``int8``, ``uint4`` are shorthands for them;
- ``float`` / ``float32`` / ``fp32`` / ``single``: IEEE single precision.

A precision option (``--precision`` of simulate, export and sweeps, ``precision:`` in YAML) is

- ``auto``: chosen for you (export: per layer from calibration ranges; an estimate without the
  model's values: hls4ml's default ``ap_fixed<16,6>``);
- one type for weights and results, e.g. ``fixed<16,6,RND_CONV,SAT>``;
- ``WEIGHT/RESULT``: two types, e.g. ``ap_fixed<8,3>/ap_fixed<16,6>`` (biases take the weight type);
- a bare width ``8`` (or ``8/16``): that many bits with the integer bits left to the automatic choice.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

from .errors import ConfigError

ROUNDING = ("TRN", "RND", "RND_CONV", "RND_ZERO", "RND_INF", "RND_MIN_INF", "TRN_ZERO")
OVERFLOW = ("WRAP", "SAT", "SAT_SYM", "SAT_ZERO")
DEFAULT_TYPE = "ap_fixed<16,6>"          # hls4ml's default precision (config_from_*_model)
FLOAT_NAMES = ("float", "float32", "fp32", "single")
MAX_WIDTH = 1024
_FIXED = re.compile(r"^(?:ap_)?(u?)fixed<(\d+),(-?\d+)(?:,([A-Za-z_]+))?(?:,([A-Za-z_]+))?(?:,(\d+))?>$")
_INT = re.compile(r"^(?:ap_)?(u?)int<(\d+)>$|^(u?)int(\d+)$")
_WIDTH = re.compile(r"^(\d+)$")
HELP = ("write e.g. ap_fixed<16,6>, fixed<16,6,RND_CONV,SAT>, ap_int<8>, int8, 8, float, auto, "
        "or WEIGHT/RESULT such as ap_fixed<8,3>/ap_fixed<16,6>")


@dataclass(frozen=True)
class FixedType:
    """ap_fixed<W,I,Q,O> (``signed``) or ap_ufixed; integers are I = W. Defaults are ap_fixed's: TRN, WRAP."""

    width: int
    integer: int              # integer bits, sign bit included when signed (as in ap_fixed)
    signed: bool = True
    rounding: str = "TRN"
    overflow: str = "WRAP"

    is_float = False

    @property
    def fractional(self) -> int:
        return self.width - self.integer

    def hls(self) -> str:
        """The hls4ml precision string, modes spelled out."""
        return f"{'' if self.signed else 'u'}fixed<{self.width},{self.integer},{self.rounding},{self.overflow}>"

    def short(self) -> str:
        return f"{'' if self.signed else 'u'}fixed<{self.width},{self.integer}>"

    @property
    def lowest(self) -> float:
        return -(2.0 ** (self.integer - 1)) if self.signed else 0.0

    @property
    def highest(self) -> float:
        top = self.integer - 1 if self.signed else self.integer
        return 2.0 ** top - 2.0 ** -self.fractional


@dataclass(frozen=True)
class FloatType:
    """IEEE floating point (hls4ml's ``float``)."""

    width: int = 32
    is_float = True

    def hls(self) -> str:
        return "float"

    short = hls


NumType = Union[FixedType, FloatType]


def parse_type(text: str, where: str = "precision") -> Optional[NumType]:
    """One type string (see the module doc) → FixedType / FloatType; 'auto' → None. A bare width is
    not a type (its integer bits are not given): :func:`parse_precision` reads it."""
    t = str(text).strip().replace(" ", "")
    low = t.lower()
    if low == "auto":
        return None
    if low in FLOAT_NAMES:
        return FloatType()
    m = _FIXED.match(low)
    if m:
        unsigned, width, integer, rounding, overflow, _sat_bits = m.groups()
        rounding = _mode(rounding or "TRN", ROUNDING, text, where)
        overflow = _mode(overflow or "WRAP", OVERFLOW, text, where)
        return FixedType(_width(width, text, where), int(integer), not unsigned, rounding, overflow)
    m = _INT.match(low)
    if m:
        unsigned = m.group(1) if m.group(2) else m.group(3)
        width = _width(m.group(2) or m.group(4), text, where)
        return FixedType(width, width, not unsigned)
    raise ConfigError(f"{where} '{text}' not understood; {HELP}")


def parse_fixed(text: str, where: str = "precision") -> FixedType:
    """A fixed-point (or integer) type; 'auto', float and bare widths are errors naming ``where``."""
    t = parse_type(text, where)
    if not isinstance(t, FixedType):
        raise ConfigError(f"{where}: '{text}' is not a fixed-point type; write e.g. fixed<16,6,RND_CONV,SAT>")
    return t


def _mode(value: str, choices, text: str, where: str) -> str:
    mode = value.upper()
    mode = mode[3:] if mode.startswith(("AP_", "AC_")) else mode
    if mode not in choices:
        raise ConfigError(f"{where}: unknown rounding/overflow mode in '{text}' (rounding: {', '.join(ROUNDING)}; "
                          f"overflow: {', '.join(OVERFLOW)})")
    return mode


def _width(value: str, text: str, where: str) -> int:
    width = int(value)
    if not 1 <= width <= MAX_WIDTH:
        raise ConfigError(f"{where}: width of '{text}' must be 1..{MAX_WIDTH} bits")
    return width


@dataclass(frozen=True)
class Precision:
    """A parsed precision option: the weight and result types (None: left to the automatic choice),
    their widths, and the text it came from. ``auto`` is hls4ml's default ap_fixed<16,6> wherever no
    automatic choice runs."""

    weight: Optional[NumType]
    result: Optional[NumType]
    weight_bits: int
    act_bits: int
    label: str
    auto: bool = False

    @property
    def is_float(self) -> bool:
        return isinstance(self.weight, FloatType)

    @property
    def weight_bytes(self) -> float:
        return self.weight_bits / 8.0

    @property
    def act_bytes(self) -> float:
        return self.act_bits / 8.0

    @property
    def widest(self) -> int:
        return max(self.weight_bits, self.act_bits)


def _part(text: str, where: str):
    """(type or None, width) of one side of WEIGHT/RESULT."""
    if _WIDTH.match(text.strip()):
        return None, _width(text.strip(), text, where)
    t = parse_type(text, where)
    if t is None:
        raise ConfigError(f"{where}: 'auto' stands alone, not as one side of WEIGHT/RESULT; {HELP}")
    return t, t.width


def parse_precision(spec: "str | int | Precision | None" = None, where: str = "precision") -> Precision:
    """A :class:`Precision` from an option string (see the module doc); None and 'auto' are ``auto``."""
    if isinstance(spec, Precision):
        return spec
    text = "" if spec is None else str(spec).strip()
    if text.lower() in ("", "auto"):
        default = parse_type(DEFAULT_TYPE)
        return Precision(None, None, default.width, default.width, DEFAULT_TYPE, auto=True)
    if text.lower().endswith((".yaml", ".yml")) or Path(text).is_file():   # not WEIGHT/RESULT split at a '/'
        raise ConfigError(f"{where}: '{text}' is a precision file, which only `codesign export --precision FILE` "
                          f"reads; here give one type (e.g. ap_fixed<16,6>), WEIGHT/RESULT or a width")
    parts = text.split("/")
    if len(parts) > 2:
        raise ConfigError(f"{where}: '{text}': give one type, or two as WEIGHT/RESULT")
    weight, w_bits = _part(parts[0], where)
    result, a_bits = _part(parts[-1], where)
    if isinstance(weight, FloatType) != isinstance(result, FloatType):
        raise ConfigError(f"{where}: '{text}': mixing float and fixed point is not modelled; use one kind")
    return Precision(weight, result, w_bits, a_bits, text)


def integer_bits(max_abs: float, signed: bool) -> int:
    """Fewest integer bits (sign included when signed) that hold magnitudes up to ``max_abs``;
    negative for small values (ap_fixed<8,-2> holds ±0.125 in steps of 2^-10). Callers check ranges first:
    no type holds NaN/inf."""
    if not math.isfinite(max_abs):
        raise ValueError(f"integer_bits: the magnitude {max_abs} is not finite")
    magnitude = math.floor(math.log2(max_abs)) + 1 if max_abs > 0 else 0
    return magnitude + 1 if signed else magnitude


def fixed_for_range(max_abs: float, signed: bool, *, fractional: Optional[int] = None,
                    width: Optional[int] = None) -> FixedType:
    """RND_CONV + SAT type for values up to ``max_abs`` with a given fractional or total width."""
    integer = integer_bits(max_abs, signed)
    if width is None:
        width = integer + int(fractional)
    width = max(width, 2)
    if fractional is not None:
        integer = width - int(fractional)
    return FixedType(width, integer, signed, "RND_CONV", "SAT")
