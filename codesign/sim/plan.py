"""The per-layer hardware plan of a dataflow design: what hls4ml builds for each layer, as numpy arrays.

    plan = resolve_plan(network, mapping, device)

Everything downstream of the :class:`~codesign.sim.mapping.Mapping` (timing, resources, energy) reads
this plan, never the Mapping. Arrays are indexed like ``network.layers``:

- ``rf``: the reuse factor hls4ml uses: the layer's (or the network's) request, moved to the closest
  valid one for Conv/Dense layers under the Resource strategy (hls4ml's Vivado backend does so only
  there; the sparse kernel takes any RF); BatchNorm uses the request; other layers 1;
- ``resource``: the layer's strategy is Resource;
- ``w_bits``, ``w_int``, ``b_bits``: weight width and integer bits, bias width (-1 integer bits: a bare
  width, whose integer bits an automatic choice picks per layer);
- ``in_bits``: the width of the data the layer reads (its first producer's result; the network input:
  the input layer's result type where the Mapping names it, else the network-wide result type); ``out_bits``, ``out_int``: its result type;
- ``acc_bits``: the accumulator; ``auto`` is hls4ml's lossless inference
  (``InferPrecisionTypes._infer_common_precision``): weight + input + ceil(log2(n_ops)) bits, widened by the
  bias (one more integer bit, and the bias' fractional bits if more); layers without an accumulator:
  their result width;
- ``is_float``: floating-point arithmetic; ``sparse``: a Dense layer on codesign's sparse kernel
  (``--sparse-kernel``, or ``LayerSettings.sparse``; under ``auto`` where it costs less,
  :mod:`codesign.sim.sparse_choice`, the layers so decided being ``sparse_auto``); ``sparse_rom``: its ROM form (over
  ``UNROLL_LIMIT`` nonzeros at RF > 1, run as DATAFLOW by the export);
- ``fifo_depth``: words of the layer's output FIFO (io_stream), default hls4ml's: H·W of the output;
- ``io_stream``: the network-wide I/O type; ``backend``: hls4ml's backend (``Vitis`` or ``Vivado``: the HLS
  tool, which decides where weight ROMs go).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

import numpy as np

from ..fixed_point import FixedType, FloatType, parse_type
from ..memo import Memo
from . import hls_rules
from .layers import COMPUTE_OPS, Network
from .mapping import AUTO, Mapping

HLS_DEFAULT = parse_type("ap_fixed<16,6>")


@dataclass(frozen=True)
class LayerPlan:
    rf: np.ndarray
    resource: np.ndarray
    w_bits: np.ndarray
    w_int: np.ndarray
    b_bits: np.ndarray
    in_bits: np.ndarray
    out_bits: np.ndarray
    out_int: np.ndarray
    acc_bits: np.ndarray
    is_float: np.ndarray
    sparse: np.ndarray
    sparse_rom: np.ndarray
    sparse_auto: np.ndarray           # the layers whose kernel --sparse-kernel auto chooses by cost (sparse_choice)
    fifo_depth: np.ndarray
    io_stream: bool
    io_type: str
    rf_requested: np.ndarray          # the RF asked for (before hls4ml's rounding)
    backend: str = "Vitis"
    pipeline_style: str = "auto"      # hls4ml's PipelineStyle as configured (dataflow_timing.pipeline_style decides)


def _bits(t, fallback: int) -> int:
    return fallback if t is None or t == AUTO else int(t.width)


def _int_bits(t, fallback: int) -> int:
    if isinstance(t, FixedType):
        return t.integer
    if isinstance(t, FloatType):
        return 0
    return fallback


def _defaults(m: Mapping):
    """(weight width, weight integer bits, result width, result integer bits, float) of the network default."""
    p = m.precision
    if p.auto:
        return HLS_DEFAULT.width, HLS_DEFAULT.integer, HLS_DEFAULT.width, HLS_DEFAULT.integer, False
    return p.weight_bits, _int_bits(p.weight, -1), p.act_bits, _int_bits(p.result, -1), p.is_float


def lossless_accumulator(w_bits, w_int, in_bits, in_int, b_bits, b_int, n_ops):
    """hls4ml's accumulator for signed weights: (width, integer bits), for numbers or arrays; -1 integer
    bits: not known, the bias then adds one bit."""
    log = np.ceil(np.log2(np.maximum(n_ops, 1))).astype(np.int64)
    width = w_bits + in_bits + log
    integer = w_int + in_int + log
    widened = np.maximum(integer, b_int) + 1
    known = np.minimum(np.minimum(w_int, in_int), b_int) >= 0
    return (np.where(known, widened + np.maximum(width - integer, b_bits - b_int), width + 1),
            np.where(known, widened, -1))


def _sparse_candidates(net: Network, m: Mapping, w_bits: np.ndarray) -> np.ndarray:
    """Dense layers that may take the sparse kernel under the network-wide mode (hls_rules.sparse_candidate)."""
    if m.sparse_kernel == "off":
        return np.zeros(len(net), dtype=bool)
    a = net.arrays
    dense = a.mask("dense") & (a.weights > 0)
    return np.array([bool(d) and hls_rules.sparse_candidate(m.sparse_kernel, int(i), int(o), int(nz), int(w))
                     for d, i, o, nz, w in zip(dense, a.n_in, a.n_out, a.nonzero, w_bits)], dtype=bool)


def hls_reuse_factors(net: Network, requested: np.ndarray, resource: np.ndarray, sparse: np.ndarray) -> np.ndarray:
    """The reuse factor hls4ml uses per layer: the one ``requested``, moved to the closest valid one for Conv/Dense
    layers under the Resource strategy (hls4ml does so only there) that are not on the sparse kernel (it takes
    any)."""
    a = net.arrays
    rf = np.asarray(requested, dtype=np.int64).copy()
    for i in np.flatnonzero(a.mask(*COMPUTE_OPS) & resource & ~sparse).tolist():
        rf[i] = hls_rules.closest_reuse_factor(int(a.n_in[i]), int(a.n_out[i]), int(rf[i]))
    return rf


@dataclass(frozen=True)
class _LayerTypes:
    """What a Mapping's per-layer settings decide, the same at every reuse factor and strategy: the settings
    matched to the network's layers, and the types of weights, biases, data and accumulators."""
    settings: tuple
    w_bits: np.ndarray
    w_int: np.ndarray
    b_bits: np.ndarray
    b_int: np.ndarray
    is_float: np.ndarray
    depth: np.ndarray
    in_bits: np.ndarray
    out_bits: np.ndarray
    out_int: np.ndarray
    acc_bits: np.ndarray


_LAYER_TYPES = Memo(4096)


def _layer_types(net: Network, m: Mapping) -> _LayerTypes:
    """:class:`_LayerTypes` of a Mapping with per-layer settings; cached (a batch evaluates one network with
    the same settings at many reuse factors, strategies and devices). The arrays are read-only."""
    names = tuple(l.name for l in net.layers)
    key = (net.signature, names, net.meta.get("input"), m.precision, m.accum, tuple(m.layers.items()))
    return _LAYER_TYPES.get_or_make(key, lambda: _make_layer_types(net, m, names))


def _make_layer_types(net: Network, m: Mapping, names: Tuple[str, ...]) -> _LayerTypes:
    w_def, wi_def, _, _, float_def = _defaults(m)
    settings, given_input = m.layer_settings(list(names), net.meta.get("input"))
    w_bits = np.array([_bits(ls.weight, w_def) for ls in settings], dtype=np.int64)
    w_int = np.array([_int_bits(ls.weight, wi_def) for ls in settings], dtype=np.int64)
    b_bits = np.array([_bits(_bias(ls), w_def) for ls in settings], dtype=np.int64)
    b_int = np.array([_int_bits(_bias(ls), wi_def) for ls in settings], dtype=np.int64)
    is_float = np.array([isinstance(ls.weight, FloatType) if ls.weight not in (None, AUTO) else float_def
                         for ls in settings], dtype=bool)
    depth = np.array([ls.fifo_depth or 0 for ls in settings], dtype=np.int64)
    data = _data_types(net, m, settings, given_input, w_bits, w_int, b_bits, b_int)
    _product_operands(net, w_bits, w_int, data[1], data[2])
    arrays = (w_bits, w_int, b_bits, b_int, is_float, depth) + tuple(data)
    for array in arrays:
        array.flags.writeable = False
    return _LayerTypes(tuple(settings), *arrays)


def _product_operands(net: Network, w_bits: np.ndarray, w_int: np.ndarray, out_bits: np.ndarray,
                      out_int: np.ndarray) -> None:
    """A product of two tensors (op ``mul``) has no weights: the operand in the place of a weight is its last
    input, whose result type is its width (in place; not the network's weight type, which an exported design
    does not use there)."""
    a = net.arrays
    for i in np.flatnonzero(a.mask("mul")).tolist():
        if a.preds[i]:
            w_bits[i], w_int[i] = out_bits[a.preds[i][-1]], out_int[a.preds[i][-1]]


def resolve_plan(network: Network, mapping: Mapping, device=None) -> LayerPlan:
    """The :class:`LayerPlan` of ``network`` under ``mapping`` on ``device`` (needed where ``--sparse-kernel auto``
    has a layer to decide: :mod:`codesign.sim.sparse_choice`)."""
    net, m, a = network, mapping, network.arrays
    n = len(net)
    w_def, wi_def, _, _, float_def = _defaults(m)
    types = None
    if m.layers:
        types = _layer_types(net, m)
        settings = types.settings
        rf_req = np.array([ls.reuse_factor or m.reuse_factor for ls in settings], dtype=np.int64)
        resource = np.array([(ls.strategy or m.strategy) == "Resource" for ls in settings], dtype=bool)
        w_bits, w_int, b_bits, b_int = types.w_bits, types.w_int, types.b_bits, types.b_int
        is_float, depth = types.is_float, types.depth
    else:
        settings = None
        rf_req = np.full(n, m.reuse_factor, dtype=np.int64)
        resource = np.full(n, m.strategy == "Resource", dtype=bool)
        w_bits, b_bits = np.full(n, w_def, dtype=np.int64), np.full(n, w_def, dtype=np.int64)
        w_int, b_int = np.full(n, wi_def, dtype=np.int64), np.full(n, wi_def, dtype=np.int64)
        is_float, depth = np.full(n, float_def, dtype=bool), np.zeros(n, dtype=np.int64)
        _, _, r_def, ri_def, _ = _defaults(m)
        _product_operands(net, w_bits, w_int, np.full(n, r_def), np.full(n, ri_def))
    compute, bn = a.mask(*COMPUTE_OPS), a.mask("bn")
    sparse = _sparse_candidates(net, m, w_bits)
    auto = sparse & (m.sparse_kernel == "auto")
    if settings is not None:
        chosen = [ls.sparse for ls in settings]
        sparse = np.array([s if c is None else c and d for s, c, d in zip(sparse, chosen, a.mask("dense"))], dtype=bool)
        auto &= np.array([c is None for c in chosen], dtype=bool)
    rf = hls_reuse_factors(net, np.where(compute | bn, rf_req, 1), resource, sparse)
    if types is None:
        in_bits, out_bits, out_int, acc_bits = _uniform_types(net, m, w_bits, w_int, b_bits, b_int)
    else:
        in_bits, out_bits, out_int, acc_bits = types.in_bits, types.out_bits, types.out_int, types.acc_bits
    sparse_rom = hls_rules.sparse_rom(sparse, rf, a.nonzero)
    io = m.resolved_io_type(net)
    plan = LayerPlan(rf=rf, resource=resource, w_bits=w_bits, w_int=w_int, b_bits=b_bits, in_bits=in_bits,
                     out_bits=out_bits, out_int=out_int, acc_bits=acc_bits, is_float=is_float, sparse=sparse,
                     sparse_rom=sparse_rom, fifo_depth=np.where(depth > 0, depth, a.out_h * a.out_w),
                     io_stream=io == "io_stream", io_type=io, rf_requested=np.where(compute | bn, rf_req, 1),
                     backend=m.backend, pipeline_style=m.pipeline_style, sparse_auto=auto)
    if auto.any():
        if device is None:
            raise ValueError("internal: --sparse-kernel auto prices the sparse kernel on a device; none was given")
        from .sparse_choice import choose_kernels

        plan = choose_kernels(net, plan, device)
    return plan


def _bias(ls):
    """A layer's bias type: its own, else its weight type (hls4ml's default follows the same precision)."""
    return ls.bias if ls.bias is not None else ls.weight


def _uniform_types(net: Network, m: Mapping, w_bits, w_int, b_bits, b_int):
    """(in, out, out integer, accumulator) bits when no layer has its own settings (vectorised)."""
    a, n = net.arrays, len(net)
    _, _, r_def, ri_def, _ = _defaults(m)
    in_bits, out_bits, out_int = (np.full(n, v, dtype=np.int64) for v in (r_def, r_def, ri_def))
    acc_bits = out_bits.copy()
    compute = a.mask(*COMPUTE_OPS)
    if m.accum != AUTO:
        acc_bits[compute] = m.accum.width
    elif compute.any():
        acc_bits[compute] = lossless_accumulator(w_bits[compute], w_int[compute], r_def, ri_def, b_bits[compute],
                                                 b_int[compute], a.n_in[compute])[0]
    return in_bits, out_bits, out_int, acc_bits


def _data_types(net: Network, m: Mapping, settings, given_input, w_bits, w_int, b_bits, b_int):
    """(in, out, out integer, accumulator) bits layer by layer: each reads its producer's result, the
    first layers the input layer's."""
    a, n = net.arrays, len(net)
    _, _, r_def, ri_def, _ = _defaults(m)
    in_def = _type_width(given_input.result, None) or (r_def, ri_def)
    compute, pad = a.mask(*COMPUTE_OPS), a.mask("pad")
    out_bits, out_int, in_bits, acc_bits = (np.zeros(n, dtype=np.int64) for _ in range(4))
    for i, (ls, preds) in enumerate(zip(settings, a.preds)):
        in_bits[i], in_int = (out_bits[preds[0]], int(out_int[preds[0]])) if preds else in_def
        acc = _type_width(ls.accum if ls.accum is not None else m.accum, None)
        if compute[i] and acc is None:
            acc = tuple(int(v) for v in lossless_accumulator(int(w_bits[i]), int(w_int[i]), int(in_bits[i]), in_int,
                                                              int(b_bits[i]), int(b_int[i]), int(a.n_in[i])))
        result = ls.result
        if result == AUTO and compute[i]:
            out_bits[i], out_int[i] = acc
        elif result is None and pad[i]:     # hls4ml's inserted ZeroPadding keeps its input's type (also the
            out_bits[i], out_int[i] = in_bits[i], in_int    # network input's, for a padded first convolution)
        else:
            out_bits[i], out_int[i] = _type_width(result, None) or (r_def, ri_def)
        acc_bits[i] = acc[0] if acc is not None else out_bits[i]
    return in_bits, out_bits, out_int, acc_bits


def _type_width(t, default):
    """(width, integer bits) of an explicit type; ``default`` for None and 'auto'."""
    if t is None or t == AUTO:
        return default
    return int(t.width), _int_bits(t, -1)

