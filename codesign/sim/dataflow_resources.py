"""FPGA resources of the dataflow template from the :class:`~codesign.sim.plan.LayerPlan`.

    res = layer_resources(network, plan, device)    # dict of per-layer arrays

Keys: ``dsp``, ``lut``, ``ff``, ``bram`` (device blocks: BRAM18 or M20K), ``uram``, plus ``multipliers``
(hls4ml's multiplier count), ``dsp_per_mult``, and for the energy model ``onchip_bits`` (bits read or
written in on-chip RAM per inference) and ``io_bits`` (bits through the design's ports per inference).
The numbers are what Vivado synthesis reports for the hls4ml project.

Conv/Dense kernels come in two kinds, by where the weights live:

- **constant weights** (Latency strategy, or Resource at RF 1): hls4ml's multiplier count
  ``ceil(n_w / RF) - n_zeros // RF`` (zeros are constants HLS removes); DSP = multipliers × DSPs per
  multiplier (hls4ml's rule: none below 9 weight bits); LUT/FF per multiplier (operand registers, adder
  tree), fitted to the hls4ml tutorial's SVHN CNN.
- **weights in a ROM** (Resource at RF > 1, ``nnet_dense_resource.h``): ``block_factor = ceil(n_w / RF)``
  multipliers read one ROM word (block_factor weights) per cycle for RF cycles. Per kernel: the input
  array registers (``n_in · in_bits``) and the multiplexer that picks the input of the cycle (the
  RF > n_in kernel: one ``n_in``-way multiplexer shared by all multipliers, its ``in_index`` a counter, since
  hls4ml's valid reuse factors above n_in are multiples of it; ``in_bits · ceil((n_in - 1) / 3)`` LUT6, each a
  4:1 multiplexer); one accumulator and result per output (``n_out · (acc_bits + result bits)``);
  the multipliers: DSPs once both operands have ``dsp_min_bits_rom`` bits (Vitis maps 8x16-bit products to
  DSPs where hls4ml's rule says 0), else LUTs (``w_bits · in_bits`` each), and each multiplier's accumulating
  adder (``acc_bits`` LUT, structural: the fitting data cannot separate a per-multiplier constant from the
  other terms); the weight ROM (RF words of
  ``block_factor · w_bits``) and control. Where the ROM goes depends on the HLS tool (``plan.backend``, as
  the export's ``--backend``): hls4ml puts ``#pragma HLS RESOURCE core=ROM_nP_BRAM`` on it, which Vivado HLS
  honours (**Vivado**: block RAM at the best aspect ratio); after Vitis HLS 2023.2 and Vivado synthesis
  (**Vitis**, wa-hls4ml's data) the ROMs are LUTs (64-word cells per bit) unless 512-1024 words deep and wide
  (block RAM at a fitted cost per bit of width) or larger than any LUT ROM seen (block RAM at the best
  aspect ratio, assumed). The variant for RF > n_in with RF % n_in == 0 keeps an index table (``outidx``:
  RF words of ceil(log2(RF / n_in)) bits) in block RAM; the variant for RF <= n_in has ceil(n_in / RF)
  distinct RF-way input multiplexers (the multipliers share them cyclically) and adds its products. The LUT/FF constants are fitted to Vivado synthesis of
  wa-hls4ml's 2-layer designs (benchmarks/estimator_fit.py; devices/_calibration.yaml names the data); the
  multiplexers are structural, so the kernels of 512- and 2,048-input layers (outside the fitting data, at
  most 128 inputs) scale as multiplexers do.
- io_parallel DATAFLOW (convolutions or Resource layers): the array between two layers is a ping-pong
  buffer of registers (``elements · result bits``); the top function registers its input array.

Other layers: lookup-table activations (``TABLE_ACTIVATIONS``: sigmoid, tanh, ELU, softmax, ...) read a
1024-entry ``ap_fixed<18,8>`` table (one BRAM18) per element per cycle, two reads per block, so
``ceil(lanes / 2)`` copies (softmax: its exp table so, plus one inversion table); ReLU-like activations
(``SELECT_ACTIVATIONS``: the result is the input or a constant) and zero padding cost ``lut_per_select_bit`` per
lane and result bit; other element-wise ops and pooling cost ``lut_per_act_bit`` per lane and input bit (registers
only under io_stream:
io_parallel element-wise logic is combinational); io_stream FIFOs hold ``plan.fifo_depth`` words of one
channel each: shift registers up to ``fifo_srl_max_depth`` words, else block RAM.

The sparse kernel (``hls_templates/nnet_dense_sparse.h``): multipliers = ceil(nonzeros / RF). Up to 4096
nonzeros (or at RF 1) it is unrolled: weights and indices are constants, each shared multiplier gets
RF-way operand multiplexers. Larger layers at RF > 1 use the ROM form: nonzeros with their input index and
output offset in a memory RF words deep (block RAM by hls4ml's 36-bit column rule), each multiplier an
``n_in``-way input multiplexer and a ``span``-way accumulator select in LUTs (estimates, not fitted).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict

import numpy as np

from . import hls_rules
from .dataflow_timing import ELEMENTWISE, combinational_dense
from .device import Device
from .layers import TABLE_ACTIVATIONS, Network
from .plan import LayerPlan

TABLE_BITS = 1024 * 18          # nnet_activation.h: table_size 1024, table_t ap_fixed<18,8>
_TABLES = frozenset(TABLE_ACTIVATIONS)
#: activations whose result bit is the input bit or a constant (nnet_activation.h relu, relu6/clip, hard_tanh,
#: thresholded_relu): one LUT per result bit takes the bit and the condition, no arithmetic
SELECT_ACTIVATIONS = frozenset(("relu", "relu6", "clip", "hard_tanh", "thresholded_relu"))


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


RAM_WIDTHS = (1, 2, 4, 9, 18, 36)   # BRAM18 aspect ratios: 16K x 1 ... 512 x 36 (widths below 9 lose the parity bits)


def ram_blocks(depth: np.ndarray, width: np.ndarray, block_bits: int) -> np.ndarray:
    """Fewest RAM blocks holding ``depth`` words of ``width`` bits (one aspect ratio for all blocks)."""
    depth, width = np.asarray(depth, float), np.asarray(width, float)
    best = np.full(np.broadcast(depth, width).shape, np.inf)
    for w in RAM_WIDTHS:
        words = (block_bits * 8 // 9 if w < 9 else block_bits) // w
        best = np.minimum(best, np.ceil(depth / words) * np.ceil(width / w))
    return np.where((depth > 0) & (width > 0), best, 0.0)


def rom_weights(net: Network, plan: LayerPlan) -> np.ndarray:
    """Conv/Dense layers whose weights hls4ml keeps in a ROM read once per cycle (Resource, RF > 1)."""
    return net.arrays.mask("conv", "dense") & plan.resource & (plan.rf > 1) & ~plan.sparse & (net.arrays.weights > 0)


def dsp_per_mult(net: Network, plan: LayerPlan, device: Device, rom: "np.ndarray | None" = None) -> np.ndarray:
    """DSP blocks per multiplier: hls4ml's rule for constant weights (none below 9 weight bits) and, under
    Vivado HLS (``plan.backend`` Vivado), for weights read from a ROM too; after Vitis HLS, a ROM multiplier
    is a DSP once both operands reach ``dsp_min_bits_rom`` bits (fitted on wa-hls4ml's Vitis designs, where
    8-bit weights already get DSPs)."""
    rom = rom_weights(net, plan) if rom is None else rom
    if plan.backend == "Vivado":
        rom = np.zeros_like(rom)
    floor = device.cal("dataflow.dsp_min_bits_rom")
    keys = list(zip(plan.w_bits.tolist(), plan.in_bits.tolist(), plan.is_float.tolist(), rom.tolist()))
    values = {}
    for w, ab, flt, in_rom in set(keys):
        if in_rom and not flt:          # a Vitis ROM multiplier: hls4ml's width rule without its 9-bit floor
            values[(w, ab, flt, in_rom)] = (hls_rules.dsp_per_mult(max(w, hls_rules.DSP_MIN_WEIGHT_BITS), ab, flt,
                                                                   device) if min(w, ab) >= floor else 0.0)
        else:
            values[(w, ab, flt, in_rom)] = hls_rules.dsp_per_mult(w, ab, flt, device)
    return np.array([values[k] for k in keys], dtype=float)


def shift_add_share(net: Network, plan: LayerPlan) -> np.ndarray:
    """Per layer, the share of its nonzero constant weights that HLS multiplies with a shift and at most one
    adder in LUTs instead of a DSP (:func:`hls_rules.shift_add_counts` at the layer's fractional weight bits);
    0 where the weight values are unknown (a network built from shapes: hls4ml's rule, one DSP each)."""
    a = net.arrays
    frac = np.clip(plan.w_bits - plan.w_int, 0, a.shift_add.shape[1] - 1)
    counts = a.shift_add[np.arange(len(net)), frac]
    known = (counts >= 0) & (a.nonzero > 0) & (plan.w_int >= 0)       # a bare width has no fractional bits yet
    return np.where(known, np.maximum(counts, 0) / np.maximum(a.nonzero, 1), 0.0)


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


def parallel_channels(net: Network, plan: LayerPlan) -> np.ndarray:
    """io_parallel DATAFLOW: 1 for layers whose output array is a ping-pong buffer to another layer."""
    from .dataflow_timing import pipeline_style

    if plan.io_stream or pipeline_style(net, plan):
        return np.zeros(len(net))
    return (net.arrays.consumers > 0).astype(float)


@dataclass(frozen=True)
class RomKernels:
    """Where the ROM-weight kernels' parts go (boolean per layer)."""

    rom: np.ndarray           # weights in a ROM (Resource, RF > 1)
    bram_fit: np.ndarray      # the ROM is block RAM at the fitted cost per bit of width
    large: np.ndarray         # the ROM is block RAM at the best aspect ratio (larger than any LUT ROM seen)
    rem0: np.ndarray          # RF > n_in, RF % n_in == 0: the outidx table in block RAM
    narrow: np.ndarray        # RF <= n_in: RF-way input multiplexers and product adders


def rom_kernels(net: Network, plan: LayerPlan, mults: np.ndarray, cal) -> RomKernels:
    """Where the weight ROMs go. Vivado backend: block RAM (hls4ml's ``ROM_nP_BRAM``, which Vivado HLS
    honours). Vitis backend: block RAM when ``rom_bram_min_depth`` to ``rom_bram_max_depth`` words (RF) deep
    and at least ``rom_bram_min_width`` bits (block_factor x weight bits) wide, or larger than
    ``rom_lut_max_bits`` (the largest LUT ROM in the fitting data; an assumption beyond it); the others are
    LUT ROM."""
    a, rf = net.arrays, plan.rf
    rom = rom_weights(net, plan)
    width = mults * plan.w_bits
    if plan.backend == "Vivado":
        large = rom
    else:
        large = rom & (width * rf > cal["dataflow.rom_lut_max_bits"])
    bram_fit = (rom & ~large & (rf >= cal["dataflow.rom_bram_min_depth"]) & (rf <= cal["dataflow.rom_bram_max_depth"])
                & (width >= cal["dataflow.rom_bram_min_width"]))
    n_in = np.maximum(a.n_in, 1)
    return RomKernels(rom, bram_fit, large, rom & (rf > n_in) & (rf % n_in == 0), rom & (rf <= n_in))


def mux_luts(inputs: np.ndarray, bits: np.ndarray) -> np.ndarray:
    """LUT6s of ``bits`` multiplexers picking one of ``inputs`` values: a tree of 4:1 multiplexers (a LUT6
    each), ceil((inputs - 1) / 3) per bit."""
    return bits * np.ceil(np.maximum(inputs - 1, 0) / 3.0)


def index_table_blocks(net: Network, plan: LayerPlan, device: Device, kernels: RomKernels) -> np.ndarray:
    """dense_resource_rf_gt_nin_rem0's ``outidx[RF]`` table of accumulator offsets: RF words of
    ceil(log2(RF / n_in)) bits in block RAM."""
    out = np.zeros(len(net))
    i = np.flatnonzero(kernels.rem0)
    if i.size:
        rf = plan.rf[i]
        bits = np.ceil(np.log2(np.maximum(rf // np.maximum(net.arrays.n_in[i], 1), 2)))
        out[i] = ram_blocks(rf, bits, device.bram_block_bits)
    return out


def input_port_bits(net: Network, plan: LayerPlan) -> np.ndarray:
    """io_parallel: the top function registers its input array (one FF per bit, in the hls4ml baselines'
    reports FF = input elements x 16 + 2 for pooling-only designs); counted on the layers reading it."""
    if plan.io_stream:
        return np.zeros(len(net))
    a = net.arrays
    first = np.array([len(p) == 0 for p in a.preds])
    return np.where(first, a.in_elems * plan.in_bits, 0).astype(float)


def rom_features(net: Network, plan: LayerPlan, dpm: np.ndarray, mults: np.ndarray,
                 kernels: RomKernels) -> Dict[str, np.ndarray]:
    """The structural quantities of ROM-weight kernels and io_parallel channels that the fitted LUT/FF/BRAM
    constants multiply (benchmarks/estimator_fit.py fits them on exactly these; ``in_mux`` is structural)."""
    a, rom, w = net.arrays, kernels.rom, plan.w_bits
    chan = (parallel_channels(net, plan) * a.out_elems * plan.out_bits).astype(float)
    port = input_port_bits(net, plan)
    if not rom.any():
        zero = np.zeros(len(net))
        return {**{k: zero for k in ("in_bits", "in_mux", "out_bits", "mult_adder_bits", "lut_mult_bits", "rom_cells",
                                     "layers", "rom_width")}, "chan_bits": chan, "port_bits": port}
    z = lambda v: np.where(rom, v, 0.0).astype(float)  # noqa: E731
    lut_rom = ~(kernels.bram_fit | kernels.large)
    shared = rom & ~kernels.narrow                       # RF > n_in: one n_in-way input multiplexer
    return {"in_bits": z(a.n_in * plan.in_bits), "in_mux": np.where(shared, mux_luts(a.n_in, plan.in_bits), 0.0),
            "out_bits": z(a.n_out * (plan.acc_bits + plan.out_bits)),
            "mult_adder_bits": z(mults * plan.acc_bits), "lut_mult_bits": z(np.where(dpm == 0, mults * w * plan.in_bits, 0)),
            "rom_cells": z(np.where(lut_rom, mults * w * np.ceil(plan.rf / 64.0), 0)), "layers": z(1.0),
            "chan_bits": chan, "port_bits": port, "rom_width": np.where(kernels.bram_fit, mults * w, 0.0)}


ROM_LUT = {"out_bits": "lut_out_per_bit", "lut_mult_bits": "lut_per_rom_mult_bit2",
           "rom_cells": "lut_per_rom_cell", "layers": "lut_per_rom_layer", "chan_bits": "lut_chan_per_bit"}
# structural, not fitted: 1 LUT6 per 4:1 multiplexer stage and bit; each multiplier's accumulating adder, one LUT
# per accumulator bit (the fitting data cannot separate a per-multiplier constant from the LUT-multiplier and
# ROM terms: its kernels have 2-23 multipliers, so the adder is fixed by structure, not fitted)
ROM_LUT_FIXED = {"in_mux": "lut_per_mux4_bit", "mult_adder_bits": "lut_per_adder_bit"}
ROM_FF = {"in_bits": "ff_in_per_bit", "out_bits": "ff_out_per_bit", "layers": "ff_per_rom_layer",
          "chan_bits": "ff_chan_per_bit"}


def narrow_rf_logic(net: Network, plan: LayerPlan, mults: np.ndarray, kernels: RomKernels, cal) -> np.ndarray:
    """LUTs of the RF <= n_in kernel's input multiplexers (dense_resource_rf_leq_nin, no fitting data reaches
    it): in cycle ``ir`` multiplier ``im`` reads ``data[ir + (im mod k) * RF]`` (its ``in_index`` steps by RF
    and wraps to ``ir`` at n_in), so there are ``k = ceil(n_in / RF)`` distinct RF-way multiplexers whatever
    the multiplier count (:func:`mux_luts`, ``lut_per_mux4_bit`` per 4:1 stage and bit): at RF = n_in every
    multiplier reads the same input (MLPerf Tiny's RN08 conv at RF 512 = n_in with 32 multipliers was built
    on a PYNQ-Z2; 32 multiplexers would be 49k LUT). Its product adders (one per multiplier) are every ROM
    kernel's ``mult_adder_bits``; its accumulators are fixed per multiplier (no select)."""
    if not kernels.narrow.any():
        return np.zeros(len(mults))
    distinct = np.minimum(mults, np.ceil(np.maximum(net.arrays.n_in, 1) / np.maximum(plan.rf, 1)))
    return np.where(kernels.narrow, distinct * mux_luts(plan.rf, plan.in_bits) * cal["dataflow.lut_per_mux4_bit"],
                    0.0)


def _linear(features: Dict[str, np.ndarray], names: Dict[str, str], cal) -> np.ndarray:
    return sum(features[k] * cal[f"dataflow.{v}"] for k, v in names.items())


def table_activations(net: Network) -> np.ndarray:
    """Activation layers that read hls4ml's lookup table (sigmoid, tanh, ELU, ...; softmax is its own op)."""
    a = net.arrays
    return np.array([kind in _TABLES for kind in a.activation.tolist()], dtype=bool) & a.mask("act")


def table_bram(net: Network, plan: LayerPlan, device: Device) -> np.ndarray:
    """Block RAM of lookup-table activations: ceil(lanes / 2) table copies (two reads per block per cycle)."""
    a = net.arrays
    soft = a.mask("softmax")
    table = np.array([kind in _TABLES for kind in a.activation.tolist()]) & a.mask("act", "softmax")
    if not (table.any() or soft.any()):
        return np.zeros(len(net))
    lanes = a.cout if plan.io_stream else a.out_elems
    blocks = np.ceil(TABLE_BITS / device.bram_block_bits)
    copies = np.where(table, np.ceil(lanes / 2.0), 0.0) + np.where(soft, 1.0, 0.0)   # + softmax's inversion table
    return copies * blocks


def layer_resources(net: Network, plan: LayerPlan, device: Device) -> Dict[str, np.ndarray]:
    """Per-layer dsp, lut, ff, bram, uram (+ multipliers, dsp_per_mult, onchip_bits); see the module doc."""
    a, cal, rf, stream = net.arrays, device.calibration, plan.rf, plan.io_stream
    mults = multipliers(net, plan)
    kernels = rom_kernels(net, plan, mults, cal)
    rom = kernels.rom
    dpm = dsp_per_mult(net, plan, device, rom)
    w, ab, ob = plan.w_bits, plan.in_bits, plan.out_bits
    const = ~rom
    shifts = np.where(const & (dpm > 0), shift_add_share(net, plan), 0.0)
    lut = np.where(const, mults * (cal["dataflow.lut_per_mult"]
                                   + np.where(dpm == 0, w * ab * cal["dataflow.lut_per_lut_mult_bit2"], 0)
                                   + shifts * ab * cal["dataflow.lut_per_adder_bit"]), 0.0)
    # pipeline registers per multiplier, none where HLS schedules the layer combinationally
    ff = np.where(const & ~combinational_dense(net, plan), mults * cal["dataflow.ff_per_mult"], 0.0)
    feats = rom_features(net, plan, dpm, mults, kernels)
    lut = lut + _linear(feats, ROM_LUT, cal) + _linear(feats, ROM_LUT_FIXED, cal) + narrow_rf_logic(net, plan, mults,
                                                                                                  kernels, cal)
    ff = ff + _linear(feats, ROM_FF, cal)
    lanes = a.cout if stream else a.out_elems
    window = np.where(a.mask("maxpool", "avgpool"), a.kh * a.kw - 1, 1)
    window = np.where(a.mask("globalpool"), 1 if stream else a.in_h * a.in_w - 1, window)
    elem = a.mask(*ELEMENTWISE, "maxpool", "avgpool", "globalpool", "pad")
    select = (a.mask("act") & np.array([kind in SELECT_ACTIVATIONS for kind in a.activation.tolist()], dtype=bool)
              | a.mask("pad"))                       # zero padding: each result bit is an input bit or 0
    lut = lut + np.where(elem & ~select, lanes * window * ab * cal["dataflow.lut_per_act_bit"], 0)
    lut = lut + np.where(select, lanes * ob * cal["dataflow.lut_per_select_bit"], 0)
    if stream:                                              # io_parallel: element-wise logic is combinational,
        ff = ff + np.where(elem, lanes * ob, 0)
    else:                                                   # but a table read is a pipeline stage: its index
        ff = ff + np.where(table_activations(net), lanes * (ab + ob), 0)    # and result are registered
    ff = ff + feats["port_bits"]
    bram = feats["rom_width"] * cal["dataflow.bram_per_rom_width_bit"] + index_table_blocks(net, plan, device, kernels)
    if kernels.large.any():
        bram = bram + np.where(kernels.large, ram_blocks(rf, mults * w, device.bram_block_bits), 0.0)
    weight_reads = np.where(rom, a.weights * np.maximum(a.out_h * a.out_w, 1) * w, 0)
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
    tables = table_bram(net, plan, device)
    bram = bram + tables
    onchip = onchip + np.where(tables > 0, a.out_elems * 18.0, 0.0)
    on_dsps = np.rint(mults * (1.0 - shifts))      # whole multipliers: those not made shift-and-add
    return {"dsp": (on_dsps * dpm).astype(float), "lut": lut.astype(float), "ff": ff.astype(float),
            "bram": bram.astype(float), "uram": np.zeros(len(net)), "multipliers": mults, "dsp_per_mult": dpm,
            "onchip_bits": onchip, "io_bits": io_bits(net, plan)}


def io_bits(net: Network, plan: LayerPlan) -> np.ndarray:
    """Bits that cross the design's ports per inference: the network input (on the layers reading it) and
    the network outputs (layers nobody reads)."""
    a = net.arrays
    first = np.array([len(p) == 0 for p in a.preds])
    return (np.where(first, a.in_elems * plan.in_bits, 0) + np.where(a.consumers == 0, a.out_elems * plan.out_bits, 0)
            ).astype(float)
