"""A torch emulation of casting to an hls4ml fixed-point type (:class:`codesign.fixed_point.FixedType`),
exact for the rounding and overflow modes listed there."""
from __future__ import annotations

import torch

from ..fixed_point import FixedType


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
