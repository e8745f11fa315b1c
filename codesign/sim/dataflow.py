"""Template ``dataflow``: what hls4ml generates (Vivado/Vitis backend rules, hls4ml 1.3.0).

One engine per layer, all weights on chip, no DRAM traffic. The Mapping is resolved once into a
per-layer :class:`~codesign.sim.plan.LayerPlan` (reuse factors after hls4ml's rounding, strategies,
bit widths, sparse-kernel choice, FIFO depths); timing (:mod:`codesign.sim.dataflow_timing`,
:mod:`codesign.sim.stream_timing`) and resources (:mod:`codesign.sim.dataflow_resources`) read only
that plan. This module puts them together with the notes and warnings of the report.

``sparse_kernel`` (``auto``/``on``/``off``; default ``auto``) maps Dense layers onto codesign's sparse kernel
(``hls_templates/nnet_dense_sparse.h``, chosen as ``codesign export --sparse-kernel`` does, under ``auto`` by
cost: :mod:`codesign.sim.sparse_choice`): in every
strategy multipliers = ceil(nonzeros / RF) at the RF given (no valid-RF rounding), II = RF.
"""
from __future__ import annotations

from typing import Tuple

import numpy as np

from . import hls_rules
from .costs import Costs
from .dataflow_resources import layer_resources
from .dataflow_timing import layer_timing, network_timing, pipeline_style, shares_in_one_pipeline
from .device import Device
from .layers import Network
from .mapping import Mapping
from .markdown import compact_names
from .plan import LayerPlan, resolve_plan


def dataflow_costs(net: Network, device: Device, m: Mapping, plan: "LayerPlan | None" = None) -> Costs:
    a = net.arrays
    plan = plan if plan is not None else resolve_plan(net, m, device)
    res = layer_resources(net, plan, device)
    cyc, depth, interval = layer_timing(net, plan, device)
    latency, net_interval = network_timing(net, plan, cyc, depth, interval, device)
    rf, sparse = plan.rf, plan.sparse
    zeros_free = ~plan.resource | (rf == 1) | sparse
    macs_exec = np.where(zeros_free & (a.weights > 0), a.macs * a.nonzero / np.maximum(a.weights, 1), a.macs)
    window = np.where(a.mask("maxpool", "avgpool", "globalpool"), a.kh * a.kw, 1)
    other = np.where(a.mask("conv", "dense"), 0, a.out_elems * window).astype(float)
    f = m.clock_hz(device)
    style = "pipeline" if pipeline_style(net, plan) else "dataflow"
    notes, warnings = _notes(net, plan, style), _warnings(net, plan, device)
    dpm = res["dsp_per_mult"]
    return Costs(
        template="dataflow", clock_hz=f, cycles=cyc, interval=interval, dram_read=np.zeros(len(net)),
        dram_write=np.zeros(len(net)), macs_exec=macs_exec.astype(float), other_ops=other,
        onchip_bits=res["onchip_bits"], dsp=res["dsp"], bram=res["bram"], lut=res["lut"], ff=res["ff"],
        bound=np.where(cyc > 0, "compute", "-"), latency_cycles=latency, interval_cycles=net_interval,
        peak_ops_per_s=2.0 * float(res["multipliers"].sum()) * f, dram_bytes_per_s=0.0,
        detail={"io_type": plan.io_type, "reuse_factor": rf, "multipliers": res["multipliers"],
                "dsp_per_mult": float(dpm[0]) if len(set(dpm.tolist())) == 1 else dpm.tolist(), "uram": res["uram"],
                "io_bits": res["io_bits"],
                "kernel": np.where(sparse, "sparse", np.where(a.mask("conv", "dense"), "dense", "-")),
                "pipeline_style": style},
        notes=notes, warnings=warnings, plan=plan, refused=refused_layers(net, plan, device))


def refused_layers(net: Network, plan: LayerPlan, device: Device) -> Tuple[str, ...]:
    """The names of the layers HLS refuses to build (:func:`~codesign.sim.hls_rules.refused`)."""
    return tuple(l.name for l, b in zip(net.layers, hls_rules.refused(net, plan, device)) if b)


def _notes(net: Network, plan: LayerPlan, style: str) -> Tuple[str, ...]:
    latency_note = ("unstructured zeros remove multipliers (hls4ml Latency strategy: zero weights are constants "
                    "HLS drops)")
    resource_note = ("unstructured zeros save nothing (hls4ml Resource strategy" +
                     (", except at reuse factor 1)" if (plan.rf == 1).any() else ")"))
    if plan.resource.all():
        zero_note = resource_note
    elif not plan.resource.any():
        zero_note = latency_note
    else:
        zero_note = f"{latency_note}; {resource_note} in the Resource layers"
    notes = (f"dataflow template (hls4ml {hls_rules.HLS4ML_VERSION} Vivado/Vitis rules): one engine per layer, "
             f"weights on chip, {plan.io_type}, {'pipeline' if style == 'pipeline' else 'DATAFLOW'} top level; "
             f"no DRAM traffic", zero_note,
             "structured pruning shrinks the tensors themselves (fewer multipliers and FIFOs)")
    if plan.sparse.any():
        notes += (f"sparse kernel (only nonzeros stored and multiplied) on "
                  f"{', '.join(l.name for l, s in zip(net.layers, plan.sparse) if s)}",)
    return notes


def _warnings(net: Network, plan: LayerPlan, device: Device) -> Tuple[str, ...]:
    warnings = []
    moved = np.flatnonzero(plan.rf != plan.rf_requested).tolist()
    if moved:
        changed = compact_names([f"{net.layers[i].name}: {int(plan.rf[i])}" for i in moved])
        asked = sorted({int(plan.rf_requested[i]) for i in moved})
        warnings.append(f"reuse factor {', '.join(map(str, asked))} is not valid for every layer under the Resource "
                        f"strategy; hls4ml uses the closest valid one: {changed}")
    big = refused_layers(net, plan, device)
    if big:
        warnings.append(hls_rules.refused_warning(compact_names(big), device.calibration["dataflow.unroll_limit"]))
    shared = [l.name for l, s in zip(net.layers, shares_in_one_pipeline(net, plan)) if s]
    if shared:
        warnings.append(f"reuse factor > 1 ({compact_names(shared)}) in a network hls4ml builds as one pipeline: "
                        f"HLS may not share the multipliers as the estimate assumes (hls4ml's tutorial 7a at RF 64 "
                        f"reports interval 15 and 41.6k LUT in C synthesis); PipelineStyle dataflow (codesign's "
                        f"export writes it) or --strategy Resource keeps the reuse factor")
    if device.vendor != "xilinx":
        warnings.append(f"{device.name} is an Intel device: the dataflow rules are hls4ml's Vivado/Vitis ones")
    return tuple(warnings)
