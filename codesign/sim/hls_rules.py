"""hls4ml's own rules for multipliers, reuse factors, DSPs and BRAM, re-stated so they can be
evaluated quickly and tested against hls4ml itself (tests/sim/test_hls4ml_agreement.py).

Sources (hls4ml 1.3.0, the installed version):
- ``backends/vivado/passes/core_templates.py``: ``multiplier_limit = DIV_ROUNDUP(n_in*n_out, reuse_factor)
  - n_zeros / reuse_factor`` (conv: ``convolution_templates.py``, same expression);
- ``backends/fpga/fpga_backend.py::_validate_reuse_factor`` and ``get_closest_reuse_factor``;
- ``optimization/dsp_aware_pruning/objectives/vivado_objectives.py``: DSP = prod(weight shape) // RF when
  the weight precision is >= 9 bits, else 0; BRAM (Resource strategy, RF > 1) = ceil(n_w * bits / (RF * 36));
  unstructured zeros save DSPs under Resource only when RF == 1.

Zero weights (one rule for the export's multiplier report and the estimator): under the Latency strategy
the weights are constants of the unrolled multiply loop and the C++ template's ``multiplier_limit``
subtracts ``n_zeros / RF``. Under Resource, ``nnet_dense_resource.h`` puts the weights in a ROM
(``#pragma HLS RESOURCE ... ROM_nP_BRAM``) only when RF > 1, indexed by the reuse loop: every weight,
zero or not, takes a multiplier slot. At RF 1 there is no ROM: the weight array is completely
reshaped and ``function_instantiate``-d, so the zeros are constants HLS drops, as in Latency, which
is also what hls4ml's own estimator (``vivado_objectives.py``) counts.

Global pooling (one rule for the export and both estimator paths, :func:`is_global_pool`): a pooling
whose window covers its whole, unpadded input map -- GlobalAveragePool/GlobalMaxPool, AdaptiveAvg/MaxPool
to one output, AvgPool/MaxPool with a kernel the size of the map -- is built as hls4ml's GlobalPooling1D/2D
(the export emits it so) and priced as op ``globalpool``. Under io_stream hls4ml's ``global_pooling2d_cl``
(``nnet_pooling_stream.h``) keeps one accumulator per channel and adds one word per input pixel
(``compute_global_pool``), while ``pooling2d_cl`` with that window (Vitis: the line-buffer kernel) unrolls,
inside its per-pixel pipeline, a pool_h*pool_w-input reduction tree per channel over pool_h*pool_w*C
window registers. Under io_parallel both (``nnet_pooling.h``) unroll the H*W-input reduction per channel.

io_stream pooling (one rule for the export's early check and the estimator's stream network,
:func:`stream_pooling_problem`): ``nnet_pooling_stream.h`` asserts, in both backends' 2-D kernels
(``pooling2d_cl``: line buffer and encoded), no padding and a window equal to its stride; the 1-D
line-buffer kernel (``pooling1d_cl``, the implementation the export writes) asserts no padding only and
steps by its stride. hls4ml converts such a pooling without a word; the C simulation dies on the assertion.

The sparse kernel's rules (codesign's ``hls_templates/nnet_dense_sparse.h``, see
``codesign.export.sparse_kernel``): which Dense layers ``--sparse-kernel auto`` considers for it (which of
them take it is a cost choice, :mod:`codesign.sim.sparse_choice`), its unroll limit and the outputs one
multiplier lane touches.
"""
from __future__ import annotations

import bisect
import math
from functools import lru_cache
from typing import Optional, Sequence, Tuple

import numpy as np

from ..fixed_point import FixedType

HLS4ML_VERSION = "1.3.0"
DSP_MIN_WEIGHT_BITS = 9        # vivado_objectives.py: weight precision < 9 bits -> multiplications in LUTs
UNROLL_LIMIT = 4096            # the Vivado HLS unroll limit hls4ml documents; sparse kernel: unrolled form up to it


def _divisors(n: int) -> list[int]:
    small, large = [], []
    for d in range(1, math.isqrt(n) + 1):
        if n % d == 0:
            small.append(d)
            if d != n // d:
                large.append(n // d)
    return small + large[::-1]


def is_valid_reuse_factor(n_in: int, n_out: int, rf: int) -> bool:
    """hls4ml's FPGABackend._validate_reuse_factor."""
    mult_factor = min(n_in, rf)
    mult_limit = int(math.ceil((n_in * n_out) / float(mult_factor)))
    ok = (mult_limit % n_out == 0) or (rf >= n_in)
    ok = ok and ((rf % n_in == 0) or (rf < n_in))
    return ok and (n_in * n_out) % rf == 0


@lru_cache(maxsize=65536)
def valid_reuse_factors(n_in: int, n_out: int) -> Tuple[int, ...]:
    """All valid reuse factors, ascending (they divide n_in*n_out, so only divisors are checked)."""
    return tuple(rf for rf in _divisors(n_in * n_out) if is_valid_reuse_factor(n_in, n_out, rf))


@lru_cache(maxsize=65536)
def closest_reuse_factor(n_in: int, n_out: int, rf: int) -> int:
    """The reuse factor hls4ml actually uses: ``rf`` if valid, else the closest valid one (ties: smaller)."""
    valid = valid_reuse_factors(n_in, n_out)
    pos = bisect.bisect_left(valid, rf)
    if pos < len(valid) and valid[pos] == rf:
        return rf
    if pos == 0:
        return valid[0]
    if pos == len(valid):
        return valid[-1]
    before, after = valid[pos - 1], valid[pos]
    return after if after - rf < rf - before else before


def zeros_save_multipliers(strategy: str, rf: int) -> bool:
    """Latency strategy: zero weights are constants HLS removes. Resource: only at RF 1 (see the module doc)."""
    return strategy.lower() == "latency" or rf == 1


SHIFT_ADD_MAX_DIGITS = 2       # a constant with at most this many nonzero signed digits is a shift (and one add)
SHIFT_ADD_FRACTIONS = 25       # fractional-bit counts 0..24 summarised by shift_add_counts


def shift_add_counts(values: np.ndarray) -> Tuple[int, ...]:
    """For f = 0 .. SHIFT_ADD_FRACTIONS - 1: how many of ``values`` are nonzero constants at f fractional bits
    (ap_fixed's default TRN: floor) with at most ``SHIFT_ADD_MAX_DIGITS`` nonzero digits in canonical signed
    digit form (popcount(n XOR 3n)). HLS multiplies a variable by such a constant with a shift or one adder in
    LUTs, not a DSP: hls4ml's Conv2D baseline (N(0, 0.05) weights at ap_fixed<16,6>) reports 740 (Vivado HLS
    2020.1) and 792 (Vitis HLS 2024.1) DSPs for 1,536 multiplications; 47% of such weights have at most 2
    digits, which leaves 813."""
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[v != 0]
    out = []
    for f in range(SHIFT_ADD_FRACTIONS):
        q = np.abs(np.floor(v * 2.0 ** f)).astype(np.int64)
        digits = _popcount(q ^ (3 * q))
        out.append(int(((q > 0) & (digits <= SHIFT_ADD_MAX_DIGITS)).sum()))
    return tuple(out)


def _popcount(x: np.ndarray) -> np.ndarray:
    if hasattr(np, "bitwise_count"):                    # numpy >= 2.0
        return np.bitwise_count(x)
    x = x.astype(np.uint64)
    return np.unpackbits(x.view(np.uint8).reshape(-1, 8), axis=1).sum(axis=1) if len(x) else x


def latency_too_large(network, sparse, limit: float):
    """Conv/Dense layers (a boolean array) too large for the Latency strategy whatever the reuse factor: its
    kernel (``nnet_dense_latency.h``, PIPELINE II=RF) unrolls the whole n_in x n_out product loop, zero weights
    included (HLS drops their constants only after unrolling; the ALLOCATION pragma only limits the
    multipliers), and Vivado HLS stops beyond ``limit`` ("ERROR: [XFORM 203-504] Stop unrolling loop
    'Product1'", pre-synthesis failed: hls4ml issues 1013 and 252; hls4ml's FAQ: pruning does not help, use the
    Resource strategy). The sparse kernel unrolls its nonzeros only and has its own rule. ``sparse``: the kernel
    each layer has at the reuse factor in question (under ``--sparse-kernel auto`` it depends on the RF:
    :func:`codesign.sim.sparse_choice.choose_kernels`)."""
    a = network.arrays
    return a.mask("conv", "dense") & ~sparse & (a.weights > limit)


def latency_over_limit(network, plan, limit: float):
    """The layers ``plan`` (a LayerPlan) runs under the Latency strategy although they are too large for it
    (:func:`latency_too_large`, with the plan's own kernels)."""
    return latency_too_large(network, plan.sparse, limit) & ~plan.resource


def refused(network, plan, device):
    """The one rule for a design HLS refuses to build: the layers (a boolean array) of ``plan`` on the dense kernel
    under the Latency strategy with more weights than the device's ``dataflow.unroll_limit``
    (:func:`latency_over_limit`), dense or pruned alike. Every path applies it: the estimate (such a design does
    not fit, ``totals['refused']`` names the layers, a warning says why), the sparse-kernel choice (a refused
    dense kernel costs infinitely much, :mod:`codesign.sim.sparse_choice`), the folding search (never offers such
    a candidate; with the Latency strategy only, the folding does not fit) and so the budget and the sweeps."""
    return latency_over_limit(network, plan, float(device.calibration["dataflow.unroll_limit"]))


def refused_warning(names: str, limit: float) -> str:
    """The estimate's warning for the layers :func:`refused` names (``names``: already listed in words)."""
    return (f"HLS refuses {names}: the Latency strategy unrolls the product loop of its more than {limit:.0f} "
            f"weights whatever the reuse factor and the zeros (Vivado HLS stops with XFORM 203-504, hls4ml issue "
            f"1013), so the design does not fit: use --strategy Resource (or auto), or the sparse kernel of a "
            f"pruned layer")


def pipeline_style_for(layers) -> str:
    """hls4ml's ``PipelineStyle`` codesign's export writes for ``layers`` ((reuse factor, strategy) pairs):
    ``dataflow`` when one runs the Latency strategy at RF > 1 -- in the one pipeline hls4ml would otherwise
    build, HLS may ignore that reuse factor (:func:`codesign.sim.dataflow_timing.shares_in_one_pipeline`) --
    else ``auto`` (hls4ml's choice)."""
    return "dataflow" if any(int(rf) > 1 and str(s).lower() == "latency" for rf, s in layers) else "auto"


def is_global_pool(in_hw: Sequence[int], kernel: Sequence[int], pads: Sequence[int] = ()) -> bool:
    """Whether a pooling of window ``kernel`` ((height, width); 1-D: (1, width)) over an ``in_hw`` map with
    ``pads`` is a global pooling: the window covers the whole unpadded map (see the module doc)."""
    return not any(int(p) for p in pads) and tuple(int(k) for k in kernel) == tuple(int(d) for d in in_hw)


def stream_pooling_problem(kernel: Sequence[int], stride: Sequence[int], padded: bool, one_d: bool) -> str:
    """Why hls4ml's io_stream pooling kernels cannot build a (non-global) pooling of window ``kernel`` and
    ``stride`` ((height, width); 1-D: (1, width), ``one_d``), padded or not, and what to do; '' when they can
    (see the module doc)."""
    if padded:
        return ("hls4ml's io_stream pooling takes no padding (nnet_pooling_stream.h asserts it; only convolutions "
                "get a ZeroPadding layer); use --io-type io_parallel, which builds it as PyTorch computes it "
                "(count_include_pad either way), or an unpadded pooling")
    if not one_d and tuple(int(k) for k in kernel) != tuple(int(s) for s in stride):
        return (f"hls4ml's io_stream 2-D pooling needs a stride equal to its window (nnet_pooling_stream.h asserts "
                f"it), here window {'x'.join(map(str, kernel))} and stride {'x'.join(map(str, stride))}; use "
                f"--io-type io_parallel or a pooling whose stride is its window")
    return ""


QUANT_HINT = ("quantize with one power-of-two scale and zero point 0 (brevitas' *FixedPoint quantizers, e.g. "
              "Int8WeightPerTensorFixedPoint, Int8ActPerTensorFixedPoint, Uint8ActPerTensorFixedPoint)")


def quantizer_problem(scale: np.ndarray, zero: np.ndarray, rounding: str, signed: bool, narrow: bool) -> Optional[str]:
    """Why hls4ml 1.3 does not build a QONNX Quant node as a fixed-point type, or None
    (``model/optimizer/passes/quant_opt.py``): it does so for one positive power-of-two scale and zero point 0,
    rounding ROUND or FLOOR, narrow only when signed. Any other scale or zero point becomes ApplyAlpha layers that
    divide by the scale before a quantizing activation and multiply by it after (both with the Quant node's one
    precision configuration), and the ``move_scales`` passes move that rescale below the next Dense, Conv or
    Add, whose results then hold unscaled values; codesign neither chooses those types nor emulates them, so
    the export and the estimator refuse such a quantizer."""
    scale, zero = np.asarray(scale, dtype=np.float64).reshape(-1), np.asarray(zero, dtype=np.float64).reshape(-1)
    if scale.size > 1 and not np.all(scale == scale[0]):
        return f"it has one scale per channel ({scale.size})"
    if not scale.size or scale[0] <= 0 or np.frexp(scale[0])[0] != 0.5:
        return f"its scale {float(scale[0]) if scale.size else float('nan'):.6g} is not a power of two"
    if np.any(zero != 0):
        return f"its zero point is {float(zero[0]):g}, not 0"
    if rounding.upper() not in ("ROUND", "FLOOR"):
        return f"its rounding mode is {rounding} (hls4ml takes ROUND and FLOOR)"
    if narrow and not signed:
        return "it is narrow and unsigned (hls4ml takes narrow ranges for signed quantizers only)"
    return None


def quantizer_type(scale: np.ndarray, bits: np.ndarray, rounding: str, signed: bool, narrow: bool) -> FixedType:
    """The fixed-point type hls4ml gives a power-of-two Quant node's output (see :func:`quantizer_problem`):
    ``bits`` wide, ``bits + log2(scale)`` integer bits, RND_CONV for ROUND and TRN for FLOOR, SAT_SYM when
    narrow, else SAT."""
    width = int(np.ceil(float(np.asarray(bits).reshape(-1)[0])))
    integer = width + int(np.frexp(float(np.asarray(scale).reshape(-1)[0]))[1]) - 1
    return FixedType(width, integer, bool(signed), "TRN" if rounding.upper() == "FLOOR" else "RND_CONV",
                     "SAT_SYM" if narrow else "SAT")


def multiplier_limit(n_weights: int, rf: int, n_zeros: int, zeros_free: bool) -> int:
    """DIV_ROUNDUP(n_in*n_out, RF) - n_zeros / RF (integer division, as in the C++ template)."""
    return -(-n_weights // rf) - (n_zeros // rf if zeros_free else 0)


def dsp_per_mult(w_bits: int, a_bits: int, is_float: bool, device) -> float:
    """DSP blocks per multiplier: 0 below 9 weight bits (hls4ml's rule), 1 up to the DSP's native width."""
    if is_float:
        return device.fp32_dsp_per_mac
    if w_bits < DSP_MIN_WEIGHT_BITS:
        return 0.0
    wide, narrow = max(w_bits, a_bits), min(w_bits, a_bits)
    a, b = device.mult_width
    blocks = math.ceil(wide / a) * math.ceil(narrow / b)
    return blocks / device.fixed_mults_per_dsp if blocks == 1 else float(blocks)


def weight_bram_columns(n_weights: int, w_bits: int, rf: int, strategy: str) -> int:
    """hls4ml's BRAM estimate for weights: 36-bit wide columns, ceil(n_w * bits / (RF * 36)) (Resource, RF > 1)."""
    if strategy != "Resource" or rf <= 1:
        return 0
    return math.ceil(n_weights * w_bits / (rf * 36))


def weight_bram_blocks(n_weights: int, w_bits: int, rf: int, strategy: str, block_bits: int) -> int:
    """Device blocks holding the weight columns: each column is RF words deep (RF <= 512 fits one 18 Kb block)."""
    columns = weight_bram_columns(n_weights, w_bits, rf, strategy)
    if columns == 0:
        return 0
    depth_per_block = max(1, block_bits // 36)          # 512 words of 36 bits in an 18 Kb block
    return columns * math.ceil(rf / depth_per_block)


def fifo_bram_blocks(depth: int, width_bits: int, block_bits: int, srl_max_depth: float) -> int:
    """Blocks for one stream FIFO: shift registers up to ``srl_max_depth`` words, else block RAM."""
    if depth <= srl_max_depth:
        return 0
    return max(1, math.ceil(depth * width_bits / block_bits))


def weight_bram_blocks_array(n_weights: np.ndarray, w_bits: np.ndarray, rf: np.ndarray, resource: np.ndarray,
                             block_bits: int) -> np.ndarray:
    """:func:`weight_bram_blocks` for arrays of layers (``resource``: the layer's strategy is Resource)."""
    columns = np.where(resource & (rf > 1), np.ceil(n_weights * w_bits / (rf * 36.0)), 0.0)
    return columns * np.ceil(rf / max(1, block_bits // 36))


def fifo_bram_blocks_array(depth: np.ndarray, width_bits: int, block_bits: int, srl_max_depth: float) -> np.ndarray:
    """:func:`fifo_bram_blocks` for arrays of FIFO depths."""
    return np.where(depth <= srl_max_depth, 0.0, np.maximum(1.0, np.ceil(depth * width_bits / block_bits)))


# ----------------------------------------------------------------------------- the sparse kernel

def index_bits(n: int) -> int:
    return max(1, math.ceil(math.log2(n))) if n > 1 else 1


def estimated_span(n_out: int, nnz: int, reuse_factor: int) -> int:
    """Outputs a lane of RF consecutive nonzeros touches, at a uniform nnz / n_out per output."""
    per_output = max(1.0, nnz / max(1, n_out))
    return min(n_out, math.ceil((reuse_factor - 1) / per_output) + 1)


def break_even_density(n_in: int, n_out: int, weight_bits: int) -> float:
    """Density below which the compressed storage is smaller than the dense array (counting a
    full output index per nonzero: the offsets are never wider)."""
    return weight_bits / (weight_bits + index_bits(n_in) + index_bits(n_out))


def unrolled(nnz, reuse_factor):
    """The sparse kernel's form, the one rule the export (``CONFIG_T::unrolled``) and the estimator share
    (elementwise over arrays): unrolled up to ``UNROLL_LIMIT`` nonzeros or at RF 1 (where the ROM form's
    one-word memory would unroll all its multipliers anyway, behind ``n_in``-way input multiplexers),
    the ROM form otherwise."""
    return (np.asarray(nnz) <= UNROLL_LIMIT) | (np.asarray(reuse_factor) == 1)


def sparse_rom(sparse, reuse_factor, nnz):
    """The sparse kernel's ROM form (elementwise): where the kernel is taken and not :func:`unrolled`."""
    return np.asarray(sparse) & ~unrolled(nnz, reuse_factor)


@lru_cache(maxsize=65536)
def sparse_candidate(mode: str, n_in: int, n_out: int, nnz: int, weight_bits: int) -> bool:
    """May a Dense layer take the sparse kernel under ``mode``: on, off, or auto (its compressed storage is
    smaller than the dense array; :func:`codesign.sim.sparse_choice.choose_kernels` then takes it where the
    estimate says it costs less than the dense kernel)."""
    if mode == "on":
        return True
    if mode == "off":
        return False
    return nnz / max(1, n_in * n_out) < break_even_density(n_in, n_out, weight_bits)
