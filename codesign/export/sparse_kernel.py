"""The sparse dense kernel (``hls_templates/nnet_dense_sparse.h``): weight packing, per-layer choice
and its resource accounting. No hls4ml import here (see ``sparse_kernel_hls4ml.py`` for the hook).

Storage: only the nonzero weights, each with its input index (``ceil(log2 n_in)`` bits) and an
output offset. The nonzeros, ordered by output then input, are dealt to ``n_mult = ceil(nnz / RF)``
multiplier lanes in blocks of ``RF`` (lane ``m`` gets nonzeros ``m*RF .. m*RF+RF-1``, so a lane walks
along few output rows); each lane has one constant, its first output (``lane_out``), and each
nonzero stores its output as the offset from it (``ceil(log2 span)`` bits, span = the most outputs
a lane touches: about ``RF / (nonzeros per output) + 1``). The triplets are stored slot-major,
``[RF][n_mult]``: clock cycle ``r`` of the reuse loop reads one memory word with every lane's
triplet. Padding entries (``n_mult*RF - nnz`` of them) have weight 0.

Two hardware forms of the same arithmetic: ``unrolled`` (up to ``UNROLL_LIMIT`` nonzeros, the
Vivado HLS unroll limit hls4ml documents, or at RF 1): the triplets are constants HLS folds into
wiring, the nonzero multiply-accumulates share ``n_mult`` multipliers at II = RF, the weights live in
logic as in hls4ml's Latency strategy; ``rom`` (larger layers at RF > 1): the triplets live in a
memory of RF words (block RAM), each multiplier selects its input through an ``n_in``-way multiplexer.
One rule, :func:`~codesign.sim.hls_rules.unrolled`, picks the form for the export and the estimator.

The sizes every stage needs (``sparse_candidate``, ``UNROLL_LIMIT``, ``estimated_span``) are hls rules,
defined once in :mod:`codesign.sim.hls_rules` for the export and the estimator.
``--sparse-kernel auto`` considers the sparse kernel for a Dense layer whose compressed storage (weight +
two indices per nonzero) is smaller than the dense weight array, i.e. the density is below
``weight_bits / (weight_bits + in_index_bits + out_index_bits)`` (about 0.3 for LeNet-300-100's first
layer at 8-bit weights), and takes it where the estimate prices it lower than the dense kernel at the same
reuse factor and strategy (:mod:`codesign.sim.sparse_choice`; the export reads that choice from the
estimator's plan of the hls-ready graph, :func:`codesign.export.fold.sparse_kernel_layers`): the ROM form's
``n_in``-way input multiplexers (one per multiplier) may cost more than the dense kernel saves. The sparse
kernel needs ``density`` times the multipliers and weight bits of the Resource strategy (which gives zeros
a multiplier slot and a memory word), and g++ builds it as fast as hls4ml's dense kernels, unlike
``resource_unrolled`` (measured in ``benchmarks/sparse_kernels.py``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Dict

import numpy as np

from ..sim.hls_rules import estimated_span, index_bits, unrolled

HEADER = "nnet_dense_sparse.h"


@dataclass(frozen=True)
class PackedWeights:
    weights: np.ndarray        # (n_mult * RF,) slot-major, padded with zeros
    in_index: np.ndarray       # (n_mult * RF,) int64
    out_index: np.ndarray      # (n_mult * RF,) int64: output - lane_out[lane]
    lane_out: np.ndarray       # (n_mult,) int64: each lane's first output
    n_nonzeros: int
    n_mult: int                # multipliers = ceil(nnz / RF), at least 1
    reuse_factor: int


def pack(weight: np.ndarray, reuse_factor: int) -> PackedWeights:
    """hls4ml's Dense weight matrix ``(n_in, n_out)`` → slot-major COO triplets."""
    w = np.asarray(weight, dtype=np.float64)
    if w.ndim != 2 or reuse_factor < 1:
        raise ValueError(f"pack needs an (n_in, n_out) matrix and a reuse factor >= 1, got {w.shape}, {reuse_factor}")
    outs, ins = np.nonzero(w.T)                       # ordered by output, then input
    nnz = len(outs)
    n_mult = max(1, math.ceil(nnz / reuse_factor))
    slots = n_mult * reuse_factor
    k = np.arange(nnz)
    position = (k % reuse_factor) * n_mult + k // reuse_factor   # lane k // RF, cycle k % RF
    lane_out = np.zeros(n_mult, np.int64)
    lane_out[: -(-nnz // reuse_factor)] = outs[::reuse_factor]      # first nonzero of every used lane
    values, in_index, out_index = np.zeros(slots), np.zeros(slots, np.int64), np.zeros(slots, np.int64)
    values[position], in_index[position] = w[ins, outs], ins
    out_index[position] = outs - lane_out[k // reuse_factor]
    return PackedWeights(values, in_index, out_index, lane_out, nnz, n_mult, reuse_factor)


def offset_span(packed: PackedWeights) -> int:
    """Values the output offsets take (the most outputs one lane touches)."""
    return int(packed.out_index.max()) + 1 if len(packed.out_index) else 1


def storage_bits(n_in: int, n_out: int, nnz: int, reuse_factor: int, weight_bits: int,
                 span: int = 0) -> Dict[str, int]:
    """Bits of weight storage: the sparse kernel's weights, input indices, output offsets and lane
    constants versus a dense weight array (``span``: offset values, 0 = estimated)."""
    n_mult = max(1, math.ceil(nnz / reuse_factor))
    slots = n_mult * reuse_factor
    ib, ob = index_bits(n_in), index_bits(span or estimated_span(n_out, nnz, reuse_factor))
    index = slots * (ib + ob) + n_mult * index_bits(n_out)
    return {"sparse_weight_bits": slots * weight_bits, "sparse_index_bits": index,
            "sparse_bits": slots * weight_bits + index, "dense_bits": n_in * n_out * weight_bits,
            "in_index_bits": ib, "out_offset_bits": ob}


def sparse_layer_row(n_in: int, n_out: int, nnz: int, reuse_factor: int, weight_bits: int,
                     span: int = 0) -> Dict[str, Any]:
    """Report fields of one layer on the sparse kernel (multipliers and storage)."""
    mult = max(1, math.ceil(nnz / reuse_factor))
    return {"kernel": "sparse", "form": "unrolled" if unrolled(nnz, reuse_factor) else "rom", "multipliers": mult,
            "dense_multipliers": math.ceil(n_in * n_out / reuse_factor),
            "initiation_interval": reuse_factor, **storage_bits(n_in, n_out, nnz, reuse_factor, weight_bits, span)}
