"""Timing of the dataflow template from the :class:`~codesign.sim.plan.LayerPlan`: per-layer cycles,
first-output depth and interval, and the network's latency and interval.

io_parallel: fully partitioned arrays; a convolution loops over output pixels at II = RF; a Dense with one
input at RF 1 and 2-D/1-D max/average pooling are combinational (0 cycles), a lookup-table activation takes
its table read; the network
is one pipeline (II = max RF) unless it has convolutions, Resource layers or sparse-kernel ROM layers
(then DATAFLOW), following hls4ml's pipeline-style pass.

io_stream: :mod:`codesign.sim.stream_timing` (hls4ml's stream kernels: line buffers that compute only
where a kernel window ends, padding layers, clones) and the DATAFLOW schedule of
:mod:`codesign.sim.stream_schedule`.

Small pipeline-depth constants are calibration parameters in the device YAML.
"""
from __future__ import annotations

from typing import Tuple

import numpy as np

from .device import Device
from .layers import TABLE_ACTIVATIONS, Network
from .plan import LayerPlan
from .stream_timing import ELEMENTWISE, stream_layer_timing, stream_network_timing


def layer_timing(net: Network, plan: LayerPlan, device: Device) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(cycles, first-output depth, interval) per layer."""
    a, rf, cal = net.arrays, plan.rf, device.calibration
    adder = np.ceil(np.log2(np.maximum(a.n_in, 2)) / cal["dataflow.adder_levels_per_cycle"])
    if plan.io_stream:
        cyc, depth, interval = stream_layer_timing(net, plan, cal, adder)
    else:
        px_out = a.out_h * a.out_w
        conv_d, pool_d = cal["dataflow.conv_depth_cycles"], cal["dataflow.pool_depth_cycles"]
        elem_d = np.where(a.mask("add", "mul", "concat"), cal["dataflow.add_depth_cycles"],
                          cal["dataflow.act_depth_cycles"])
        dense_d = cal["dataflow.mult_cycles"] + adder + rf - 1
        # combinational in hls4ml's io_parallel baselines (0 cycles at 5 ns): a Dense with one input at RF 1
        # (a product by a constant, no adder tree) and 2x2 max/average pooling; a lookup-table activation
        # reads its table (io_parallel_table_cycles)
        single = combinational_dense(net, plan)
        table = a.mask("act") & np.isin(a.activation, TABLE_ACTIVATIONS)
        cyc = np.select([a.mask("conv"), single, a.mask("dense"), a.mask("maxpool", "avgpool"), a.mask("globalpool"),
                         table, a.mask(*ELEMENTWISE) & (a.in_h * a.in_w > 1)],
                        [px_out * rf + conv_d, 0.0, dense_d + 1, 0.0, pool_d + adder,
                         cal["dataflow.io_parallel_table_cycles"], elem_d], 0.0)
        depth = cyc
        interval = np.select([a.mask("conv"), a.mask("dense")], [px_out * rf, rf], 1.0)
    soft = a.mask("softmax")
    cyc = np.where(soft, cal["dataflow.softmax_cycles"], cyc)
    depth = np.where(soft, cal["dataflow.softmax_cycles"], depth)
    return cyc.astype(float), depth.astype(float), interval.astype(float)


def combinational_dense(net: Network, plan: LayerPlan) -> np.ndarray:
    """io_parallel Dense layers HLS schedules combinationally (0 cycles, no pipeline registers): one input at
    RF 1, a product by a constant without an adder tree (hls4ml's Dense(1->64) baselines)."""
    a = net.arrays
    return a.mask("dense") & (a.n_in <= 1) & (plan.rf == 1) & (not plan.io_stream)


def pipeline_style(net: Network, plan: LayerPlan) -> bool:
    """Whether hls4ml builds the io_parallel network as one pipeline: as configured (``plan.pipeline_style``
    pipeline/dataflow), else hls4ml's own choice (``set_pipeline_style``): one pipeline for Latency-only
    networks without convolutions (and without the sparse kernel's ROM form, which the export runs as
    DATAFLOW). io_stream is always DATAFLOW."""
    if plan.io_stream or plan.pipeline_style != "auto":
        return not plan.io_stream and plan.pipeline_style == "pipeline"
    return not plan.resource.any() and not net.arrays.mask("conv").any() and not plan.sparse_rom.any()


def shares_in_one_pipeline(net: Network, plan: LayerPlan) -> np.ndarray:
    """Conv/Dense layers at a reuse factor > 1 in a network built as one pipeline: HLS may ignore their reuse
    factor (hls4ml's tutorial 7a, Latency at RF 64 in pipeline style: interval 15 and 41.6k LUT in C
    synthesis, as if unrolled); codesign's export writes ``PipelineStyle: dataflow`` for them."""
    layers = net.arrays.mask("conv", "dense") & (plan.rf > 1)
    return layers & pipeline_style(net, plan) if layers.any() else layers


def network_timing(net: Network, plan: LayerPlan, cyc: np.ndarray, depth: np.ndarray,
                   interval: np.ndarray, device: Device) -> Tuple[float, float]:
    """(latency, interval) of the network, cycles."""
    if plan.io_stream:
        return stream_network_timing(net, plan, cyc, depth, interval, cal=device.calibration)
    total = [0.0] * len(cyc)
    cyc_l = cyc.tolist()
    for i, preds in enumerate(net.arrays.preds):
        total[i] = cyc_l[i] + (max(total[p] for p in preds) if preds else 0.0)
    latency = max(total)
    if pipeline_style(net, plan):
        return latency, float(plan.rf[net.arrays.mask("conv", "dense")].max(initial=1))
    return latency, float(interval.max())
