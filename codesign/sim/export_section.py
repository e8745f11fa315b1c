"""The simulator's section of the ``codesign export --target fpga`` report.

After the C simulation, the exported model is estimated with the ``dataflow`` template (what hls4ml
generates) on the device whose part the project targets, with the project's reuse factor, strategy,
I/O type, clock, sparse-kernel choice and the widest weight/result types of its precision plan. The
full report (report.json, report.md, roofline.png) is written to ``DIR/sim/``; the section holds the
totals and, when the design does not fit, a hint with a reuse factor at which it would.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Optional

from ..errors import CodesignError
from ..export.report import FpgaContext, register_fpga_section
from .device import device_for_part, load_device
from .estimate import estimate, load_network
from .mapping import Mapping
from ..fixed_point import Precision
from .report import write_report

FALLBACK_DEVICE = "xcu250"
MAX_REUSE = 1 << 16
ONNX_FILES = ("model.onnx", "model_qonnx.onnx")     # what the float and the quantization-aware paths write
RESOURCES = ("dsp", "bram", "lut", "ff")


def plan_precision(plan) -> Optional[Precision]:
    """The widest weight and result types of an export precision plan (None: no typed layer)."""
    weights = [t.weight.width for t in plan.types.values() if t.weight is not None]
    results = [t.result.width for t in plan.types.values() if t.result is not None]
    if not weights or not results:
        return None
    label = f"widest of the export plan: {max(weights)}-bit weights / {max(results)}-bit results"
    return Precision(None, None, max(weights), max(results), label)


def project_part(project) -> str:
    part = project.settings.part
    if part:
        return part
    return str(project.hls_model.config.get_config_value("Part"))


def summary_totals(totals: Dict[str, Any]) -> Dict[str, Any]:
    """The totals a reader wants first, in readable units (the full set is in sim/report.json)."""
    out: Dict[str, Any] = {"latency_cycles": int(totals["latency_cycles"]), "latency_us": totals["latency_s"] * 1e6,
                           "interval_cycles": int(totals["interval_cycles"]),
                           "throughput_per_s": totals["throughput_per_s"], "energy_uj": totals["energy_j"] * 1e6}
    for kind in RESOURCES:
        out[kind] = int(round(totals[kind]))
        out[f"{kind}_percent"] = 100.0 * totals[f"{kind}_util"]
    out["fits"] = bool(totals["fits"])
    if totals.get("over"):
        out["over"] = ", ".join(totals["over"])
    return out


def fitting_hint(network, device, mapping: Mapping) -> str:
    """The smallest power-of-two reuse factor (Resource strategy) at which the estimate fits the device."""
    reuse, totals = max(2, mapping.reuse_factor), {}
    while reuse <= MAX_REUSE:
        trial = mapping.with_(strategy="Resource", reuse_factor=reuse)
        totals = estimate(network, device, trial).totals
        if totals["fits"]:
            return (f"estimated to fit at --strategy Resource --reuse-factor {reuse} (latency "
                    f"{totals['latency_s'] * 1e6:.4g} us); sweep reuse factors with `codesign sweep`")
        reuse *= 2
    return (f"over in {', '.join(totals.get('over', []))} even at --strategy Resource --reuse-factor {MAX_REUSE}: "
            f"prune or compact the model, lower the precision, or target a larger part")


def exported_network(ctx: FpgaContext):
    """The network from the PyTorch model, or from the exported ONNX file when the model does not trace
    (brevitas quantizers); returns (network, where it came from)."""
    try:
        return load_network(ctx.model), "PyTorch model"
    except CodesignError:
        onnx = [Path(ctx.out_dir) / name for name in ONNX_FILES if (Path(ctx.out_dir) / name).exists()]
        if not onnx:
            raise
        return load_network(onnx[0]), onnx[0].name


@register_fpga_section("estimate")
def estimate_section(ctx: FpgaContext) -> Dict[str, Any]:
    part = project_part(ctx.project)
    device, how = device_for_part(part)
    if device is None:
        device = load_device(FALLBACK_DEVICE)
        how += f"; resources are compared with the {device.board} ({device.name}); add a device YAML for yours"
    settings = ctx.project.settings
    precision = plan_precision(ctx.project.precision)
    mapping = Mapping(template="dataflow", reuse_factor=settings.reuse_factor, strategy=settings.strategy,
                      io_type=settings.io_type, clock_mhz=1000.0 / settings.clock_period,
                      sparse_kernel=settings.sparse_kernel,
                      **({"precision": precision} if precision is not None else {}))
    network, network_source = exported_network(ctx)
    report = estimate(network, device, mapping)
    paths = write_report(report, Path(ctx.out_dir) / "sim")
    section: Dict[str, Any] = {"device": device.name, "device_match": how, "network": network_source,
                               "template": "dataflow", "precision": mapping.precision.label}
    section.update(summary_totals(report.totals))
    if not section["fits"]:
        section["hint"] = fitting_hint(network, device, mapping)
    section["report"] = str(paths["json"])
    section["markdown"] = str(paths["markdown"])
    return section
