"""Pre-synthesis simulator: latency, throughput, DRAM traffic, energy and FPGA resources of a network
on a device, for two hardware templates (``dataflow``: hls4ml; ``tiled``: a DRAM-streaming loop-tiled
accelerator after Zhang FPGA'15 / Ma FPGA'17).

    from codesign.sim import estimate, load_device, write_report
    report = estimate("resnet20", "pynq-z2", template="tiled", precision="ap_fixed<16,6>")
    report.totals["latency_s"], report.totals["energy_j"]
    write_report(report, "runs/x/sim")            # report.json, report.md, roofline.png

Batch evaluation for sweeps: :func:`evaluate_batch` over :class:`DesignPoint`\\ s.
"""
from .batch import DesignPoint, evaluate_batch, evaluate_point
from .device import Device, list_devices, load_device
from .estimate import estimate, load_network, template_costs, zoo_network
from .layers import Layer, Network
from .mapping import LayerSettings, Mapping
from .onnx_layers import network_from_onnx
from .plan import LayerPlan, resolve_plan
from ..fixed_point import Precision, parse_precision
from . import references
from .report import Report, summarize, write_report

__all__ = ["DesignPoint", "Device", "Layer", "LayerPlan", "LayerSettings", "Mapping", "Network", "Precision", "Report", "estimate",
           "evaluate_batch", "evaluate_point", "list_devices", "load_device", "load_network", "network_from_model",
           "network_from_onnx", "parse_precision", "resolve_plan", "summarize", "template_costs", "write_report", "zoo_network"]


def __getattr__(name: str):
    if name == "network_from_model":           # imports torch; keep `import codesign.sim` light
        from .torch_layers import network_from_model
        return network_from_model
    raise AttributeError(f"module 'codesign.sim' has no attribute '{name}'")
