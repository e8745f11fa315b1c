"""``--sparse-kernel auto``: each Dense layer the sparse kernel may take gets it where the estimate says it
costs less than the dense kernel at the same reuse factor and strategy.

    plan = choose_kernels(network, plan, device)     # plan.sparse_auto: the layers to decide

The layers to decide (``LayerPlan.sparse_auto``) are those whose compressed storage is smaller than the dense
weight array (:func:`~codesign.sim.hls_rules.sparse_candidate`) and that no layer setting fixes. Each is priced
both ways with the estimator's own per-layer resources
(:func:`~codesign.sim.dataflow_resources.layer_resources`): the cost of a kernel is the sum of its DSP, LUT, FF,
BRAM and URAM as shares of what the device has of each (any use of a resource the device lacks: infinite).
A dense kernel the HLS tool refuses (:func:`~codesign.sim.hls_rules.refused`, the one rule the estimate, the folding
search and the sweeps apply too: the Latency strategy unrolls more than the unroll limit of weights whatever the RF
and the zeros) costs infinitely much; the sparse kernel unrolls only its nonzeros. So a pruned layer that large
takes the sparse kernel under Latency, whatever it costs: the dense kernel is no design (with ``--sparse-kernel
off`` the estimate says HLS refuses it, as it says for the unpruned layer). Ties go to the sparse kernel: at RF 1
under Latency both are priced alike (HLS drops the dense kernel's zero constants), and the sparse kernel's loop of
nonzeros is the smaller one for HLS and g++ to compile. Intervals are not compared: both kernels take about RF
cycles.

So the ROM form's ``n_in``-way input multiplexers (one per multiplier) are taken only where they cost less than
the dense kernel's multipliers, memory and multiplexers, and never because a rule of thumb on the reuse factor
said so: a LeNet-5 at density 0.3 and RF 256 on a PYNQ-Z2 once got a 1.4 M-LUT sparse ``fc1`` beside a 160 k-LUT
Resource kernel. One function decides for the estimate (:func:`~codesign.sim.plan.resolve_plan`), the folding
search (:func:`~codesign.sim.fold_table.refold`) and the export (which reads the estimator's plan).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Dict, Tuple

import numpy as np

from . import hls_rules
from .device import Device, device_resources
from .layers import Network
from .plan import LayerPlan, hls_reuse_factors


def with_kernels(plan: LayerPlan, network: Network, sparse: np.ndarray) -> LayerPlan:
    """``plan`` with the sparse kernel exactly on ``sparse``, and the reuse factors hls4ml then uses
    (:func:`~codesign.sim.plan.hls_reuse_factors`) and the ROM form (:func:`~codesign.sim.hls_rules.sparse_rom`)."""
    rf = hls_reuse_factors(network, plan.rf_requested, plan.resource, sparse)
    return replace(plan, rf=rf, sparse=sparse, sparse_rom=hls_rules.sparse_rom(sparse, rf, network.arrays.nonzero))


def kernel_cost(network: Network, plan: LayerPlan, device: Device, resources=None) -> np.ndarray:
    """Per layer: its resources (``resources``: as :func:`layer_resources` gives them for ``plan``, else priced
    here) as the sum of their shares of the device (see the module doc)."""
    from .dataflow_resources import layer_resources

    res = resources if resources is not None else layer_resources(network, plan, device)
    cost = np.zeros(len(network))
    for k, avail in device_resources(device).items():
        used = np.asarray(res.get(k, 0.0), dtype=float) * np.ones(len(network))
        cost = cost + (used / avail if avail else np.where(used > 0, np.inf, 0.0))
    return cost


def choose_kernels(network: Network, plan: LayerPlan, device: Device) -> LayerPlan:
    """``plan`` with each of ``plan.sparse_auto`` on the cheaper kernel (see the module doc)."""
    return priced_kernels(network, plan, device)[0]


def priced_kernels(network: Network, plan: LayerPlan, device: Device) -> Tuple[LayerPlan, Dict[str, np.ndarray]]:
    """(:func:`choose_kernels`, its per-layer resources as :func:`layer_resources` gives them): a layer's resources
    depend on its own kernel only, so the choice's are taken from the two pricings, unless the choice changes
    how hls4ml builds the whole network (a ROM form makes an io_parallel pipeline DATAFLOW: priced again)."""
    from .dataflow_resources import layer_resources
    from .dataflow_timing import pipeline_style

    auto = plan.sparse_auto
    if not auto.any():
        return plan, layer_resources(network, plan, device)
    fixed = plan.sparse & ~auto
    on, off = with_kernels(plan, network, fixed | auto), with_kernels(plan, network, fixed)
    res_on, res_off = layer_resources(network, on, device), layer_resources(network, off, device)
    dense_cost = np.where(hls_rules.refused(network, off, device), np.inf, kernel_cost(network, off, device, res_off))
    cheaper = auto & (kernel_cost(network, on, device, res_on) <= dense_cost)
    final = with_kernels(plan, network, fixed | cheaper)
    style = pipeline_style(network, final)
    if style != pipeline_style(network, on) or style != pipeline_style(network, off):
        return final, layer_resources(network, final, device)     # a ROM form made the network DATAFLOW
    return final, {k: np.where(cheaper, res_on[k], res_off[k]) if np.ndim(res_on[k]) else res_on[k] for k in res_on}


