"""Pre-synthesis simulator: latency, throughput, DRAM traffic, energy and FPGA resources of a network
on a device, for two hardware templates (``dataflow``: hls4ml; ``tiled``: a DRAM-streaming loop-tiled
accelerator after Zhang FPGA'15 / Ma FPGA'17).

    from codesign.sim import estimate, load_device, write_report
    report = estimate("resnet20", "pynq-z2", template="tiled", precision="ap_fixed<16,6>")
    report.totals["latency_s"], report.totals["energy_j"]
    write_report(report, "runs/x/sim")            # report.json, report.md, roofline.png

Batch evaluation for sweeps: :func:`evaluate_batch` over :class:`DesignPoint`\\ s.
"""
import importlib
from typing import Any

from .device import Device, list_devices, load_device
from .estimate import estimate, load_network, template_costs, zoo_network
from .layers import Layer, Network
from .mapping import LayerSettings, Mapping
from .plan import LayerPlan, resolve_plan
from ..fixed_point import Precision, parse_precision
from .report import Report, summarize, write_report

#: imported on first use, so that `codesign simulate` loads only what it needs (network_from_model
#: imports torch, network_from_onnx onnx; the batch API is for sweeps)
_LAZY = {"DesignPoint": "batch", "evaluate_batch": "batch", "evaluate_point": "batch",
         "network_from_onnx": "onnx_layers", "network_from_model": "torch_layers"}

__all__ = ["DesignPoint", "Device", "Layer", "LayerPlan", "LayerSettings", "Mapping", "Network", "Precision", "Report", "estimate",
           "evaluate_batch", "evaluate_point", "list_devices", "load_device", "load_network", "network_from_model",
           "network_from_onnx", "parse_precision", "resolve_plan", "summarize", "template_costs", "write_report", "zoo_network"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'codesign.sim' has no attribute '{name}'")
