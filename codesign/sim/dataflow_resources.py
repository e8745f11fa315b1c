"""FPGA resources of the dataflow template from the :class:`~codesign.sim.plan.LayerPlan`.

    res = layer_resources(network, plan, device)    # dict of per-layer arrays

Keys: ``dsp``, ``lut``, ``ff``, ``bram`` (device blocks: BRAM18 or M20K), ``uram``, plus ``multipliers``
(hls4ml's multiplier count), ``dsp_per_mult`` and ``onchip_bits`` (bits read/written in on-chip RAM per
inference, for the energy model).

- multipliers = ceil(n_w / RF) - n_zeros // RF, zeros subtracted under the Latency strategy (the
  weights are constants HLS removes) and under Resource only at RF 1 (hls4ml's estimator);
- DSP = multipliers × DSPs per multiplier (0 below 9 weight bits: LUT multipliers);
- BRAM: weights under Resource at RF > 1 (hls4ml's 36-bit column rule); io_stream FIFOs, one per
  channel, ``plan.fifo_depth`` words (block RAM above a depth threshold, else shift registers);
- the sparse kernel (``hls_templates/nnet_dense_sparse.h``): multipliers = ceil(nonzeros / RF). Up to
  4096 nonzeros (or at RF 1) the kernel is unrolled: weights and indices are constants (no memory),
  each shared multiplier gets RF-way operand multiplexers. Larger layers at RF > 1 use the ROM form:
  the nonzeros with their input index and output offset in a memory RF words deep (block RAM by
  hls4ml's 36-bit column rule), each multiplier an ``n_in``-way input multiplexer and a ``span``-way
  accumulator select in LUTs (span: outputs a lane touches, ``hls_rules.estimated_span``). The LUT
  terms are estimates (6-input LUT: a 4-way multiplexer per bit), not calibrated against synthesis.

LUT/FF constants are calibration parameters in the device YAML (devices/_calibration.yaml).
"""
from __future__ import annotations

from typing import Dict

import numpy as np

from . import hls_rules
from .dataflow_timing import ELEMENTWISE
from .device import Device
from .layers import Network
from .plan import LayerPlan


def multipliers(net: Network, plan: LayerPlan) -> np.ndarray:
    """hls4ml's multiplier count per layer (BatchNorm: DIV_ROUNDUP(n_in, RF); softmax: one per channel)."""
    a, rf = net.arrays, plan.rf
    zeros_free = ~plan.resource | (rf == 1)
    zeros = a.weights - a.nonzero
    compute = -(-a.weights // rf) - np.where(zeros_free, zeros // rf, 0)
    compute = np.where(plan.sparse, np.maximum(1, -(-a.nonzero // rf)), compute)
    lanes = a.cout if plan.io_stream else a.out_elems       # elements handled per cycle
    bn = -(-lanes // rf)
    return np.select([a.mask("conv", "dense"), a.mask("bn"), a.mask("softmax"), a.mask("mul")],
                     [compute, bn, a.cout, lanes], 0)


def dsp_per_mult(plan: LayerPlan, device: Device) -> np.ndarray:
    """:func:`hls_rules.dsp_per_mult` per layer (weights × the data the layer reads)."""
    keys = list(zip(plan.w_bits.tolist(), plan.in_bits.tolist(), plan.is_float.tolist()))
    values = {k: hls_rules.dsp_per_mult(k[0], k[1], k[2], device) for k in set(keys)}
    return np.array([values[k] for k in keys], dtype=float)


def _index_bits(n: np.ndarray) -> np.ndarray:
    return np.maximum(1, np.ceil(np.log2(np.maximum(n, 2))))


def _sparse_storage(net: Network, plan: LayerPlan, device: Device, mults: np.ndarray):
    """(bram, lut, onchip weight-read bits) of the sparse kernel's layers (zeros elsewhere)."""
    a, rf, sparse = net.arrays, plan.rf, plan.sparse
    if not sparse.any():
        zero = np.zeros(len(net))
        return zero, zero, zero
    w, ab = plan.w_bits, plan.in_bits
    span = np.array([hls_rules.estimated_span(int(o), int(nz), int(r)) for o, nz, r in zip(a.n_out, a.nonzero, rf)])
    triplet = w + _index_bits(a.n_in) + _index_bits(span)
    rom = plan.sparse_rom
    shared = sparse & (rf > 1) & ~rom
    columns = np.ceil(mults * triplet / 36.0)
    bram = np.where(rom, columns * np.ceil(rf / max(1, device.bram_block_bits // 36)), 0.0)
    acc_bits = w + ab + _index_bits(a.n_in)
    lut = np.where(rom, mults * (ab * np.ceil(a.n_in / 4.0) + acc_bits * np.ceil(span / 4.0)), 0.0)
    lut = lut + np.where(shared, mults * (ab + w) * np.ceil(rf / 4.0), 0.0)
    onchip = np.where(rom, mults * rf * triplet, 0.0)
    return bram, lut, onchip


def layer_resources(net: Network, plan: LayerPlan, device: Device) -> Dict[str, np.ndarray]:
    """Per-layer dsp, lut, ff, bram, uram (+ multipliers, dsp_per_mult, onchip_bits); see the module doc."""
    a, cal, rf, stream = net.arrays, device.calibration, plan.rf, plan.io_stream
    mults = multipliers(net, plan)
    dpm = dsp_per_mult(plan, device)
    w, ab, ob = plan.w_bits, plan.in_bits, plan.out_bits
    lut = mults * (cal["dataflow.lut_per_mult"] + np.where(dpm == 0, w * ab * cal["dataflow.lut_per_lut_mult_bit2"], 0))
    ff = mults * cal["dataflow.ff_per_mult"]
    lanes = a.cout if stream else a.out_elems
    window = np.where(a.mask("maxpool", "avgpool"), a.kh * a.kw - 1, 1)
    window = np.where(a.mask("globalpool"), 1 if stream else a.in_h * a.in_w - 1, window)
    elem = a.mask(*ELEMENTWISE, "maxpool", "avgpool", "globalpool")
    lut = lut + np.where(elem, lanes * window * ab * cal["dataflow.lut_per_act_bit"], 0)
    ff = ff + np.where(elem, lanes * ob, 0)
    bram = hls_rules.weight_bram_blocks_array(a.weights, w, rf, plan.resource, device.bram_block_bits)
    weight_reads = np.where(bram > 0, a.weights * np.maximum(a.out_h * a.out_w, 1) * w, 0)
    sp_bram, sp_lut, sp_reads = _sparse_storage(net, plan, device, mults)
    bram, lut = np.where(plan.sparse, sp_bram, bram), lut + sp_lut
    onchip = np.where(plan.sparse, sp_reads, weight_reads).astype(float)
    if stream:
        lines = a.mask("conv", "maxpool", "avgpool") & (a.kh > 1)
        lut = lut + np.where(lines, (a.kh - 1) * a.cin * ab * np.ceil(a.in_w / 32.0), 0)
        depth = plan.fifo_depth
        fifos = a.consumers * a.cout
        per_fifo = hls_rules.fifo_bram_blocks_array(depth, ob, device.bram_block_bits,
                                                    cal["dataflow.fifo_srl_max_depth"])
        bram = bram + fifos * per_fifo
        srl = np.where(per_fifo == 0, ob * np.ceil(depth / 32.0), 0)
        lut = lut + fifos * (cal["dataflow.lut_per_fifo"] + srl)
        onchip = onchip + 2.0 * a.consumers * a.out_elems * ob
    bram = bram + np.where(a.mask("softmax"), cal["dataflow.softmax_bram18"], 0)
    return {"dsp": (mults * dpm).astype(float), "lut": lut.astype(float), "ff": ff.astype(float),
            "bram": bram.astype(float), "uram": np.zeros(len(net)), "multipliers": mults, "dsp_per_mult": dpm,
            "onchip_bits": onchip}
