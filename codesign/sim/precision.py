"""Numeric precision of weights and activations, parsed from hls4ml-style type strings.

Accepted forms (case-insensitive): ``ap_fixed<16,6>``, ``fixed<8,3,RND_CONV,SAT>``, ``ap_ufixed<8,0>``,
``ap_int<8>``, ``int8``, ``uint4``, a bare bit width ``8``, ``float``/``float32``/``fp32``, and
``auto`` (hls4ml's default ``ap_fixed<16,6>``). ``WEIGHTS/ACTIVATIONS`` sets the two apart, e.g.
``ap_fixed<8,3>/ap_fixed<16,6>`` or ``8/16``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import ConfigError

DEFAULT_SPEC = "ap_fixed<16,6>"   # hls4ml's default precision
_FIXED = re.compile(r"^(?:ap_)?u?fixed<\s*(\d+)\s*(?:,[^>]*)?>$")
_INT = re.compile(r"^(?:ap_)?u?int<\s*(\d+)\s*>$|^u?int(\d+)$|^(\d+)$")
_FLOAT = {"float", "float32", "fp32", "single"}


@dataclass(frozen=True)
class Precision:
    """Bit widths of weights and activations; ``is_float`` for IEEE single precision."""

    weight_bits: int
    act_bits: int
    is_float: bool = False
    label: str = DEFAULT_SPEC

    @property
    def weight_bytes(self) -> float:
        return self.weight_bits / 8.0

    @property
    def act_bytes(self) -> float:
        return self.act_bits / 8.0

    @property
    def widest(self) -> int:
        return max(self.weight_bits, self.act_bits)


def _bits(text: str) -> tuple[int, bool]:
    t = text.strip().lower().replace(" ", "")
    if t in _FLOAT:
        return 32, True
    match = _FIXED.match(t) or _INT.match(t)
    if match:
        bits = int(next(g for g in match.groups() if g))
        if 1 <= bits <= 64:
            return bits, False
    raise ConfigError(f"precision '{text}' not understood; use e.g. ap_fixed<16,6>, ap_int<8>, 8, float32, "
                      f"or WEIGHTS/ACTIVATIONS such as ap_fixed<8,3>/ap_fixed<16,6>")


def parse_precision(spec: "str | int | Precision | None" = None) -> Precision:
    """A :class:`Precision` from a type string (see the module doc); None and 'auto' mean ap_fixed<16,6>."""
    if isinstance(spec, Precision):
        return spec
    text = DEFAULT_SPEC if spec is None or str(spec).strip().lower() in ("", "auto") else str(spec).strip()
    parts = text.split("/")
    if len(parts) > 2:
        raise ConfigError(f"precision '{text}': give one type, or two as WEIGHTS/ACTIVATIONS")
    w_bits, w_float = _bits(parts[0])
    a_bits, a_float = _bits(parts[-1])
    if w_float != a_float:
        raise ConfigError(f"precision '{text}': mixing float and fixed point is not modelled; use one kind")
    return Precision(w_bits, a_bits, w_float, text)
