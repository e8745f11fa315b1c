"""Fixed-point types as hls4ml writes them (``fixed<W,I,RND_CONV,SAT>``, ``ufixed<...>``) and a
torch emulation of casting to them, exact for the rounding and overflow modes listed here."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Optional

import torch

from ..errors import ConfigError

ROUNDING = ("TRN", "RND", "RND_CONV", "RND_ZERO", "RND_INF", "RND_MIN_INF", "TRN_ZERO")
OVERFLOW = ("WRAP", "SAT", "SAT_SYM", "SAT_ZERO")
_PATTERN = re.compile(r"^\s*(?:ap_)?(u?)fixed<\s*(\d+)\s*,\s*(-?\d+)\s*(?:,\s*(?:AP_)?([A-Z_]+)\s*)?"
                      r"(?:,\s*(?:AP_)?([A-Z_]+)\s*)?(?:,\s*\d+\s*)?>\s*$")


@dataclass(frozen=True)
class FixedType:
    width: int
    integer: int              # integer bits, sign bit included when signed (as in ap_fixed)
    signed: bool = True
    rounding: str = "RND_CONV"
    overflow: str = "SAT"

    @property
    def fractional(self) -> int:
        return self.width - self.integer

    def hls(self) -> str:
        """The hls4ml precision string."""
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


def parse_fixed(text: str, where: str = "precision") -> FixedType:
    """'fixed<16,6>' / 'ap_fixed<16,6,AP_RND_CONV,AP_SAT>' / 'ufixed<8,3,RND,SAT>' → FixedType.
    Unspecified modes are hls4ml's defaults (TRN, WRAP), as the string means in hls4ml."""
    m = _PATTERN.match(str(text))
    if not m:
        raise ConfigError(f"{where}: '{text}' is not a fixed-point type; write e.g. fixed<16,6,RND_CONV,SAT>")
    unsigned, width, integer, rounding, overflow = m.groups()
    rounding, overflow = rounding or "TRN", overflow or "WRAP"
    if rounding not in ROUNDING or overflow not in OVERFLOW:
        raise ConfigError(f"{where}: unknown rounding/overflow mode in '{text}' (rounding: {', '.join(ROUNDING)}; "
                          f"overflow: {', '.join(OVERFLOW)})")
    if int(width) < 1 or int(width) > 1024:
        raise ConfigError(f"{where}: width of '{text}' must be 1..1024 bits")
    return FixedType(int(width), int(integer), not unsigned, rounding, overflow)


def integer_bits(max_abs: float, signed: bool) -> int:
    """Fewest integer bits (sign included when signed) that hold magnitudes up to ``max_abs``;
    negative for small values (ap_fixed<8,-2> holds ±0.125 in steps of 2^-10)."""
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


def quantize(x: torch.Tensor, t: FixedType) -> torch.Tensor:
    """Cast ``x`` to ``t`` like ap_fixed does (values as float64 multiples of 2^-F)."""
    step = 2.0 ** -t.fractional
    y = x.double() / step
    if t.rounding == "RND_CONV":
        y = torch.round(y)                               # half to even
    elif t.rounding == "RND":
        y = torch.floor(y + 0.5)                         # half towards +inf
    elif t.rounding in ("TRN_ZERO", "RND_ZERO"):
        y = torch.trunc(y) if t.rounding == "TRN_ZERO" else torch.sign(y) * torch.ceil(y.abs() - 0.5)
    elif t.rounding == "RND_INF":
        y = torch.sign(y) * torch.floor(y.abs() + 0.5)
    elif t.rounding == "RND_MIN_INF":
        y = torch.ceil(y - 0.5)
    else:
        y = torch.floor(y)                               # TRN
    lo, hi = t.lowest / step, t.highest / step
    if t.overflow == "WRAP":
        span = 2.0 ** t.width
        y = torch.remainder(y - lo, span) + lo
    elif t.overflow == "SAT_SYM" and t.signed:
        y = y.clamp(-hi, hi)
    elif t.overflow == "SAT_ZERO":
        y = torch.where((y < lo) | (y > hi), torch.zeros_like(y), y)
    else:
        y = y.clamp(lo, hi)
    return (y * step).to(x.dtype)
