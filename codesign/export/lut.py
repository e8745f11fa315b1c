"""hls4ml's lookup-table activations -- Sigmoid, Tanh and Softmax -- emulated bit for bit, and the
hls4ml configuration the export writes for them, so that the two are one definition.

hls4ml 1.3 (Vivado/Vitis backends, ``nnet_activation.h`` and ``nnet_activation_stream.h``, the same
arithmetic in io_parallel and io_stream):

- **Sigmoid / Tanh**: a table of ``table_size`` entries of ``table_t`` filled in float
  (sigmoid: ``1.0 / (1 + std::exp(-x))`` on x in [-8, 8); tanh: ``tanh(x)`` on x in [-4, 4)); an
  input reads entry ``int(x * table_size / 16) + table_size / 2`` (tanh: ``/ 8``), the product and
  the conversion to int truncating towards zero, clamped to the table; the result is the entry cast
  to the layer's result type.
- **Softmax**, the ``stable`` implementation (hls4ml's default): ``d = max(x) - x`` cast to
  ``inp_norm_t``; the top ``log2(exp_table_size)`` bits of ``d`` address a table of ``exp(-d)``
  (``exp_table_t``), the entries are summed in ``accum_t`` by a balanced adder tree (``nnet::reduce``,
  every partial sum cast to ``accum_t``), the sum cast to ``inv_inp_t`` and its top
  ``log2(inv_table_size)`` bits address a table of ``1 / sum`` (``inv_table_t``); the result is
  ``exp * inverse`` cast to the layer's result type.

The tables are hls4ml's defaults (1024 entries, ``ap_fixed<18,8>``; Softmax's tables, sum and
inverse input ``ap_fixed<18,8,AP_RND,AP_SAT>``), written explicitly into every project. One choice
differs from hls4ml's: ``inp_norm_t``, which hls4ml derives from the input type as one bit
narrower than the difference needs (``ap_ufixed<W-1,I-1>`` for a signed ``ap_fixed<W,I>`` input,
which wraps a spread of the inputs over 2^(I-1) around to a large exponential), is ``ap_ufixed<W,I>``
here, which holds every difference exactly. The export also sets ``exp_table_size`` and
``inv_table_size``, which hls4ml would otherwise size from the input type before the export has
set the Dense result types.

Table entries are computed as the C++ does, in float32 (``expf`` taken as the float32 rounding of
the float64 ``exp``), and cast with :func:`codesign.export.fixed.quantize`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Dict, Optional

import numpy as np
import torch

from ..fixed_point import FixedType
from .fixed import quantize

TABLE_SIZE = 1024                                   # hls4ml's table_size default (Activation, Softmax)
TABLE_T = FixedType(18, 8)                          # hls4ml's table_t default: ap_fixed<18,8> (TRN, WRAP)
SOFTMAX_T = FixedType(18, 8, True, "RND", "SAT")    # Softmax's exp_table_t, inv_table_t, inv_inp_t, accum_t
SOFTMAX_IMPLEMENTATION = "stable"
LUT_OPS = ("Sigmoid", "Tanh", "Softmax")
#: input range covered by the table: [-RANGE, RANGE) (the C++'s 8 and 4)
_RANGE = {"Sigmoid": 8, "Tanh": 4}


@dataclass(frozen=True)
class SoftmaxTypes:
    """The types and table sizes of one Softmax layer (see the module doc)."""
    inp_norm: FixedType
    exp_table_size: int
    inv_table_size: int = TABLE_SIZE
    exp_table: FixedType = SOFTMAX_T
    inv_table: FixedType = SOFTMAX_T
    inv_inp: FixedType = SOFTMAX_T
    accum: FixedType = SOFTMAX_T


def softmax_types(input_t: FixedType) -> SoftmaxTypes:
    """A Softmax's types for inputs of ``input_t``: differences held exactly, the exponential table no
    larger than the differences have values (its address is their top bits)."""
    norm = FixedType(input_t.width, input_t.integer, False)
    return SoftmaxTypes(norm, min(TABLE_SIZE, 2 ** norm.width))


def hls_layer_config(op: str, input_t: Optional[FixedType]) -> Dict[str, object]:
    """The hls4ml LayerName entries of a Sigmoid, Tanh or Softmax layer (``input_t``: the type of its
    input, which a Softmax's types follow; None: hls4ml's own choice)."""
    if op != "Softmax":
        return {"TableSize": TABLE_SIZE, "Precision": {"table": TABLE_T.hls()}}
    out: Dict[str, object] = {"Implementation": SOFTMAX_IMPLEMENTATION, "TableSize": TABLE_SIZE,
                              "Precision": {k: SOFTMAX_T.hls() for k in ("exp_table", "inv_table", "inv_inp", "accum")}}
    if input_t is not None:
        t = softmax_types(input_t)
        out.update({"exp_table_size": t.exp_table_size, "inv_table_size": t.inv_table_size,
                    "inp_norm_t": t.inp_norm.hls()})
    return out


# ------------------------------------------------------------------ tables (float32, as the C++ fills them)

def _expf(x: np.ndarray) -> np.ndarray:
    return np.exp(x.astype(np.float64)).astype(np.float32)


def _cast(values: np.ndarray, t: FixedType) -> torch.Tensor:
    """float32 table values → fixed type ``t`` (ap_fixed's conversion from float; +inf: the largest value
    under saturation, else the wrapped-out 0)."""
    v = torch.from_numpy(values.astype(np.float64))
    finite = torch.isfinite(v)
    out = quantize(torch.where(finite, v, torch.zeros_like(v)), t)
    saturates = t.overflow != "WRAP"
    out[~finite & (v > 0)] = t.highest if saturates else 0.0
    out[~finite & (v < 0)] = t.lowest if saturates else 0.0
    return out


@lru_cache(maxsize=None)
def _activation_table(op: str, size: int, table_t: FixedType) -> torch.Tensor:
    span = _RANGE[op]
    x = (2.0 * span * (np.arange(size) - size / 2.0) / size).astype(np.float32)
    if op == "Sigmoid":
        y = (1.0 / (np.float32(1) + _expf(-x)).astype(np.float64)).astype(np.float32)
    else:
        y = np.tanh(x.astype(np.float64))            # ::tanh(double), as nnet::init_tanh_table calls it
    return _cast(y, table_t)


def _top_bits_value(t: FixedType, n_bits: int) -> np.ndarray:
    """The value of ``t`` whose top ``n_bits`` bits are i and the others 0, for every i (two's complement)."""
    raw = np.arange(2 ** n_bits, dtype=np.int64) << (t.width - n_bits)
    if t.signed:
        raw = np.where(raw >= 2 ** (t.width - 1), raw - 2 ** t.width, raw)
    return raw.astype(np.float64) * 2.0 ** -t.fractional


@lru_cache(maxsize=None)
def _exp_table(types: SoftmaxTypes) -> torch.Tensor:
    x = _top_bits_value(types.inp_norm, _address_bits(types.exp_table_size)).astype(np.float32)
    return _cast(_expf(-x), types.exp_table)


@lru_cache(maxsize=None)
def _inv_table(types: SoftmaxTypes) -> torch.Tensor:
    x = _top_bits_value(types.inv_inp, _address_bits(types.inv_table_size)).astype(np.float32)
    with np.errstate(divide="ignore"):
        return _cast(np.float32(1) / x, types.inv_table)


def _address_bits(size: int) -> int:
    return max(0, math.ceil(math.log2(size)))


def _top_bits(x: torch.Tensor, t: FixedType, n_bits: int) -> torch.Tensor:
    """The unsigned top ``n_bits`` of ``x``'s ``t`` bit pattern (``nnet::softmax_idx_from_real_val``)."""
    raw = torch.round(x * 2.0 ** t.fractional).long()
    raw = torch.remainder(raw, 2 ** t.width)         # two's complement bit pattern
    return torch.div(raw, 2 ** (t.width - n_bits), rounding_mode="floor")


# ------------------------------------------------------------------ the layers

def activation(op: str, x: torch.Tensor) -> torch.Tensor:
    """Sigmoid or Tanh of fixed-point ``x`` as hls4ml's table gives it (in TABLE_T; the caller casts to the
    layer's result type)."""
    size = TABLE_SIZE
    index = torch.trunc(x.double() * size / (2 * _RANGE[op])).long() + size // 2
    table = _activation_table(op, size, TABLE_T)
    return table[index.clamp(0, size - 1)].to(x.dtype)


def softmax(x: torch.Tensor, input_t: FixedType, axis: int) -> torch.Tensor:
    """hls4ml's stable Softmax of fixed-point ``x`` (of type ``input_t``) along ``axis``: exp * 1/sum
    before the cast to the layer's result type."""
    t = softmax_types(input_t)
    v = x.double().movedim(axis, -1)
    d = quantize(v.amax(-1, keepdim=True) - v, t.inp_norm)
    exps = quantize(_exp_table(t)[_top_bits(d, t.inp_norm, _address_bits(t.exp_table_size))], t.accum)
    total = quantize(_tree_sum(exps, 0, exps.shape[-1], t.accum), t.inv_inp)
    inverse = _inv_table(t)[_top_bits(total, t.inv_inp, _address_bits(t.inv_table_size))]
    return (exps * inverse.unsqueeze(-1)).movedim(-1, axis).to(x.dtype)


def _tree_sum(x: torch.Tensor, start: int, n: int, t: FixedType) -> torch.Tensor:
    """``nnet::reduce<T, N, Op_add<T>>`` over x[..., start:start+n]: a balanced tree, each sum cast to ``t``."""
    if n == 1:
        return x[..., start]
    if n == 2:
        return quantize(x[..., start] + x[..., start + 1], t)
    left = 2 ** int(math.floor(math.log2(n - 1)))
    return quantize(_tree_sum(x, start, left, t) + _tree_sum(x, start + left, n - left, t), t)
