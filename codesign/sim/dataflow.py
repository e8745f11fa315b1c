"""Template ``dataflow``: what hls4ml generates (Vivado/Vitis backend rules, hls4ml 1.3.0).

One engine per layer, all weights on chip, no DRAM traffic. Per layer:

- multipliers = ceil(n_w / RF) - n_zeros // RF, zeros subtracted under the Latency strategy (the
  weights are constants HLS removes) and under Resource only at RF 1 (hls4ml's estimator); under
  Resource the RF is first moved to the closest valid one, as hls4ml does (:mod:`codesign.sim.hls_rules`);
- DSP = multipliers × DSPs per multiplier (0 below 9 weight bits: LUT multipliers);
- io_stream: a convolution reads one input pixel per RF cycles (H_in·W_in·RF + depth cycles); pooling
  and activations one pixel per cycle; layers run concurrently (DATAFLOW), so the network's interval
  is the slowest layer's and its latency follows the DAG (each layer ends ``depth`` cycles after its
  last input); every internal stream is one FIFO per channel, H·W deep (BRAM above a depth threshold);
- io_parallel: fully partitioned arrays; a convolution loops over output pixels at II = RF; the
  network is one pipeline (II = max RF) unless it has convolutions or Resource layers (then DATAFLOW),
  following hls4ml's pipeline-style pass.

``sparse_kernel`` (``auto``/``on``; default ``off``) maps Dense layers onto codesign's sparse kernel
(``hls_templates/nnet_dense_sparse.h``, chosen as ``codesign export --sparse-kernel`` does): in every
strategy multipliers = ceil(nonzeros / RF) at the RF given (no valid-RF rounding), II = RF. Up to
4096 nonzeros (or at RF 1) the kernel is unrolled: weights and indices are constants (no memory),
each shared multiplier gets RF-way operand multiplexers. Larger layers at RF > 1 use the ROM form:
the nonzeros with their input index and output offset in a memory RF words deep (block RAM by
hls4ml's 36-bit column rule), each multiplier an ``n_in``-way input multiplexer and a ``span``-way
accumulator select in LUTs (span: outputs a lane touches, ``sparse_kernel.estimated_span``). The LUT
terms are estimates (6-input LUT: a 4-way multiplexer per bit), not calibrated against synthesis.

Small pipeline-depth constants are calibration parameters in the device YAML, fitted to a published
hls4ml synthesis report (devices/_calibration.yaml).
"""
from __future__ import annotations

from typing import List, Tuple

import numpy as np

from . import hls_rules
from .costs import Costs
from .device import Device
from .layers import Network
from .mapping import Mapping

ELEMENTWISE = ("act", "bn", "add", "mul", "concat")     # element-wise: one lane per channel (io_stream)


def _sparse_layers(net: Network, m: Mapping) -> np.ndarray:
    """Dense layers on the sparse kernel (the export's per-layer choice, sparse_kernel.use_sparse)."""
    from ..export.sparse_kernel import use_sparse

    a = net.arrays
    dense = a.mask("dense") & (a.weights > 0)
    if m.sparse_kernel == "off":
        return np.zeros(len(net), dtype=bool)
    w, rf = m.precision.weight_bits, m.reuse_factor
    chosen = [bool(d) and use_sparse(m.sparse_kernel, int(i), int(o), int(nz), w, rf)
              for d, i, o, nz in zip(dense, a.n_in, a.n_out, a.nonzero)]
    return np.array(chosen, dtype=bool)


def _index_bits(n: np.ndarray) -> np.ndarray:
    return np.maximum(1, np.ceil(np.log2(np.maximum(n, 2))))


def _reuse_factors(net: Network, rf: int, strategy: str, sparse: np.ndarray) -> Tuple[np.ndarray, List[str]]:
    """hls4ml's Vivado backend moves the RF to the closest valid one under the Resource strategy only
    (vivado_backend.py init_dense/init_conv*); the Latency strategy uses it as given."""
    a = net.arrays
    used = np.ones(len(net), dtype=np.int64)
    changed = []
    for i in np.flatnonzero(a.mask("conv", "dense")):
        resource = strategy == "Resource" and not sparse[i]
        r = hls_rules.closest_reuse_factor(int(a.n_in[i]), int(a.n_out[i]), rf) if resource else rf
        used[i] = r
        if r != rf:
            changed.append(f"{net.layers[i].name}: {r}")
    bn = a.mask("bn")
    used[bn] = rf
    return used, changed


def _multipliers(net: Network, m: Mapping, rf: np.ndarray, stream: bool, sparse: np.ndarray) -> np.ndarray:
    a = net.arrays
    zeros_free = (m.strategy == "Latency") | (rf == 1)
    zeros = a.weights - a.nonzero
    compute = -(-a.weights // rf) - np.where(zeros_free, zeros // rf, 0)
    compute = np.where(sparse, np.maximum(1, -(-a.nonzero // rf)), compute)
    lanes = a.cout if stream else a.out_elems              # elements handled per cycle
    bn = -(-lanes // rf)                                    # hls4ml BatchNormalization: DIV_ROUNDUP(n_in, RF)
    return np.select([a.mask("conv", "dense"), a.mask("bn"), a.mask("softmax"), a.mask("mul")],
                     [compute, bn, a.cout, lanes], 0)


def _layer_timing(net: Network, rf: np.ndarray, stream: bool, cal) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(cycles, first-output depth, interval) per layer."""
    a = net.arrays
    px_in = a.in_h * a.in_w
    px_out = a.out_h * a.out_w
    adder = np.ceil(np.log2(np.maximum(a.n_in, 2)) / cal["dataflow.adder_levels_per_cycle"])
    mult = cal["dataflow.mult_cycles"]
    conv_d, pool_d = cal["dataflow.conv_depth_cycles"], cal["dataflow.pool_depth_cycles"]
    elem_d = np.where(a.mask("add", "mul", "concat"), cal["dataflow.add_depth_cycles"], cal["dataflow.act_depth_cycles"])
    multi_px = px_in > 1
    dense_d = mult + adder + rf - 1
    if stream:
        cyc = np.select([a.mask("conv"), a.mask("dense"), a.mask("maxpool", "avgpool", "globalpool"),
                         a.mask(*ELEMENTWISE) & multi_px],
                        [px_in * rf + conv_d, px_in + dense_d, px_in + pool_d, px_in + elem_d], 0.0)
        depth = np.select([a.mask("conv"), a.mask("dense"), a.mask("maxpool", "avgpool", "globalpool"),
                           a.mask(*ELEMENTWISE) & multi_px], [conv_d, dense_d, pool_d, elem_d], 0.0)
        interval = np.where(cyc > 0, cyc + 1, 1.0)
        interval = np.where(a.mask("dense"), np.maximum(px_in, rf), interval)
    else:
        cyc = np.select([a.mask("conv"), a.mask("dense"), a.mask("maxpool", "avgpool"), a.mask("globalpool"),
                         a.mask(*ELEMENTWISE) & multi_px],
                        [px_out * rf + conv_d, dense_d + 1, pool_d, pool_d + adder, elem_d], 0.0)
        depth = cyc
        interval = np.select([a.mask("conv"), a.mask("dense")], [px_out * rf, rf], 1.0)
    soft = a.mask("softmax")
    cyc = np.where(soft, cal["dataflow.softmax_cycles"], cyc)
    depth = np.where(soft, cal["dataflow.softmax_cycles"], depth)
    return cyc.astype(float), depth.astype(float), interval.astype(float)


def _stream_latency(net: Network, cyc: np.ndarray, depth: np.ndarray) -> float:
    """Critical path of concurrently running engines: a layer ends when its own pass is done and
    ``depth`` cycles after its last input arrived."""
    cyc_l, depth_l = cyc.tolist(), depth.tolist()
    start, end = [0.0] * len(cyc_l), [0.0] * len(cyc_l)
    for i, preds in enumerate(net.arrays.preds):
        if preds:
            start[i] = max(start[p] + depth_l[p] for p in preds)
            end[i] = max(start[i] + cyc_l[i], max(end[p] for p in preds) + depth_l[i])
        else:
            end[i] = cyc_l[i]
    return max(end)


def _critical_path(net: Network, cyc: np.ndarray) -> float:
    cyc_l = cyc.tolist()
    total = [0.0] * len(cyc_l)
    for i, preds in enumerate(net.arrays.preds):
        total[i] = cyc_l[i] + (max(total[p] for p in preds) if preds else 0.0)
    return max(total)


def _sparse_storage(net: Network, m: Mapping, device: Device, mults: np.ndarray, rf: np.ndarray,
                    sparse: np.ndarray):
    """(bram, lut, onchip weight-read bits) of the sparse kernel's layers (zeros elsewhere)."""
    from ..export.sparse_kernel import UNROLL_LIMIT, estimated_span

    a, w, ab = net.arrays, m.precision.weight_bits, m.precision.act_bits
    span = np.array([estimated_span(int(o), int(nz), int(r)) for o, nz, r in zip(a.n_out, a.nonzero, rf)])
    triplet = w + _index_bits(a.n_in) + _index_bits(span)
    rom = sparse & (rf > 1) & (a.nonzero > UNROLL_LIMIT)
    shared = sparse & (rf > 1) & ~rom
    columns = np.ceil(mults * triplet / 36.0)
    bram = np.where(rom, columns * np.ceil(rf / max(1, device.bram_block_bits // 36)), 0.0)
    acc_bits = w + ab + _index_bits(a.n_in)
    lut = np.where(rom, mults * (ab * np.ceil(a.n_in / 4.0) + acc_bits * np.ceil(span / 4.0)), 0.0)
    lut = lut + np.where(shared, mults * (ab + w) * np.ceil(rf / 4.0), 0.0)
    onchip = np.where(rom, mults * rf * triplet, 0.0)
    return bram, lut, onchip


def _memory_and_logic(net: Network, m: Mapping, device: Device, mults: np.ndarray, dpm: float,
                      rf: np.ndarray, stream: bool, sparse: np.ndarray):
    """(bram, lut, ff, onchip_bits) per layer."""
    a, p, cal = net.arrays, m.precision, device.calibration
    w, ab = p.weight_bits, p.act_bits
    lut = mults * (cal["dataflow.lut_per_mult"] + (w * ab * cal["dataflow.lut_per_lut_mult_bit2"] if dpm == 0 else 0))
    ff = mults * cal["dataflow.ff_per_mult"]
    lanes = a.cout if stream else a.out_elems
    window = np.where(a.mask("maxpool", "avgpool"), a.kh * a.kw - 1, 1)
    window = np.where(a.mask("globalpool"), 1 if stream else a.in_h * a.in_w - 1, window)
    elem = a.mask(*ELEMENTWISE, "maxpool", "avgpool", "globalpool")
    lut = lut + np.where(elem, lanes * window * ab * cal["dataflow.lut_per_act_bit"], 0)
    ff = ff + np.where(elem, lanes * ab, 0)
    bram = hls_rules.weight_bram_blocks_array(a.weights, w, rf, m.strategy, device.bram_block_bits)
    weight_reads = np.where(bram > 0, a.weights * np.maximum(a.out_h * a.out_w, 1) * w, 0)
    sp_bram, sp_lut, sp_reads = _sparse_storage(net, m, device, mults, rf, sparse)
    bram, lut = np.where(sparse, sp_bram, bram), lut + sp_lut
    onchip = np.where(sparse, sp_reads, weight_reads).astype(float)
    if stream:
        lines = a.mask("conv", "maxpool", "avgpool") & (a.kh > 1)
        lut = lut + np.where(lines, (a.kh - 1) * a.cin * ab * np.ceil(a.in_w / 32.0), 0)
        depth = a.out_h * a.out_w
        fifos = a.consumers * a.cout
        per_fifo = hls_rules.fifo_bram_blocks_array(depth, ab, device.bram_block_bits,
                                                    cal["dataflow.fifo_srl_max_depth"])
        bram = bram + fifos * per_fifo
        srl = np.where(per_fifo == 0, ab * np.ceil(depth / 32.0), 0)
        lut = lut + fifos * (cal["dataflow.lut_per_fifo"] + srl)
        onchip = onchip + 2.0 * a.consumers * a.out_elems * ab
    bram = bram + np.where(a.mask("softmax"), cal["dataflow.softmax_bram18"], 0)
    return bram, lut.astype(float), ff.astype(float), onchip


def dataflow_costs(net: Network, device: Device, m: Mapping) -> Costs:
    a, p, cal = net.arrays, m.precision, device.calibration
    io = m.resolved_io_type(net)
    stream = io == "io_stream"
    sparse = _sparse_layers(net, m)
    rf, changed = _reuse_factors(net, m.reuse_factor, m.strategy, sparse)
    mults = _multipliers(net, m, rf, stream, sparse)
    dpm = hls_rules.dsp_per_mult(p.weight_bits, p.act_bits, p.is_float, device)
    bram, lut, ff, onchip = _memory_and_logic(net, m, device, mults, dpm, rf, stream, sparse)
    cyc, depth, interval = _layer_timing(net, rf, stream, cal)
    zeros_free = (m.strategy == "Latency") | (rf == 1) | sparse
    macs_exec = np.where(zeros_free & (a.weights > 0), a.macs * a.nonzero / np.maximum(a.weights, 1), a.macs)
    window = np.where(a.mask("maxpool", "avgpool", "globalpool"), a.kh * a.kw, 1)
    other = np.where(a.mask("conv", "dense"), 0, a.out_elems * window).astype(float)
    from ..export.sparse_kernel import UNROLL_LIMIT
    rom = sparse & (rf > 1) & (a.nonzero > UNROLL_LIMIT)      # the export runs these as DATAFLOW
    pipeline_style = (not stream) and m.strategy == "Latency" and not a.mask("conv").any() and not rom.any()
    if stream:
        latency, net_interval = _stream_latency(net, cyc, depth), float(interval.max())
    else:
        latency = _critical_path(net, cyc)
        net_interval = float(rf[a.mask("conv", "dense")].max(initial=1)) if pipeline_style else float(interval.max())
    f = m.clock_hz(device)
    warnings = []
    if changed:
        warnings.append(f"reuse factor {m.reuse_factor} is not valid for every layer under the Resource strategy; "
                        f"hls4ml uses the closest valid one: {', '.join(changed)}")
    limit = cal["dataflow.unroll_limit"]
    big = [l.name for l, nm in zip(net.layers, mults) if m.strategy == "Latency" and nm > limit]
    if big:
        warnings.append(f"Latency strategy unrolls more than {limit:.0f} multiplications in {', '.join(big)}; "
                        f"Vivado HLS may refuse: use --strategy Resource or a larger reuse factor")
    zero_note = ("unstructured zeros remove multipliers (hls4ml Latency strategy: zero weights are constants "
                 "HLS drops)" if m.strategy == "Latency" else
                 "unstructured zeros save nothing (hls4ml Resource strategy" +
                 (", except at reuse factor 1)" if (rf == 1).any() else ")"))
    notes = (f"dataflow template (hls4ml {hls_rules.HLS4ML_VERSION} Vivado/Vitis rules): one engine per layer, "
             f"weights on chip, {io}, {'pipeline' if pipeline_style else 'DATAFLOW'} top level; no DRAM traffic",
             zero_note, "structured pruning shrinks the tensors themselves (fewer multipliers and FIFOs)")
    if sparse.any():
        notes += (f"sparse kernel (only nonzeros stored and multiplied) on "
                  f"{', '.join(l.name for l, s in zip(net.layers, sparse) if s)}",)
    if device.vendor != "xilinx":
        warnings.append(f"{device.name} is an Intel device: the dataflow rules are hls4ml's Vivado/Vitis ones")
    return Costs(
        template="dataflow", clock_hz=f, cycles=cyc, interval=interval, dram_read=np.zeros(len(net)),
        dram_write=np.zeros(len(net)), macs_exec=macs_exec.astype(float), other_ops=other, onchip_bits=onchip,
        dsp=(mults * dpm).astype(float), bram=bram, lut=lut, ff=ff,
        bound=np.where(cyc > 0, "compute", "-"), latency_cycles=latency, interval_cycles=net_interval,
        peak_ops_per_s=2.0 * float(mults.sum()) * f, dram_bytes_per_s=0.0,
        detail={"io_type": io, "reuse_factor": rf, "multipliers": mults, "dsp_per_mult": dpm,
                "kernel": np.where(sparse, "sparse", np.where(a.mask("conv", "dense"), "dense", "-")),
                "pipeline_style": "pipeline" if pipeline_style else "dataflow"},
        notes=notes, warnings=tuple(warnings))
