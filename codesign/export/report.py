"""Export reports: what each target writes as JSON, and the assembly point of the fpga report.

The fpga report (``DIR/csim.json``) is assembled from parts: the model and where its weights came
from, the ONNX check, the hls4ml settings, the precision plan, the multiplier count, the C
simulation, and then any section a provider registers. A provider is a function of the
:class:`FpgaContext` returning a JSON-able dict, registered with ``@register_fpga_section(name)``
in a module listed in ``SECTION_PROVIDERS`` (imported if it exists), e.g. the simulator's
latency/energy estimate::

    # codesign/sim/export_section.py
    from codesign.export.report import FpgaContext, register_fpga_section

    @register_fpga_section("estimate")
    def estimate(ctx: FpgaContext) -> dict: ...
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Mapping, Optional

import torch.nn as nn

from ..registry import Registry

SECTION_PROVIDERS = ("codesign.sim.export_section",)
CORE_ORDER = ("model", "weights", "samples", "onnx", "hls", "precision", "multipliers", "csim")


@dataclass(frozen=True)
class FpgaContext:
    """Everything an fpga-report section may read."""
    model: nn.Module                      # the PyTorch model that was exported (eval mode)
    out_dir: Path
    project: Any                          # codesign.export.hls.HlsProject (hls_model, settings, precision)
    csim: Any                             # codesign.export.csim.CsimReport
    parts: Mapping[str, Any]              # the core sections, as in the JSON


FPGA_SECTIONS: Registry[Callable[[FpgaContext], Dict[str, Any]]] = Registry("fpga report section")
register_fpga_section = FPGA_SECTIONS.register


def load_section_providers() -> None:
    for module in SECTION_PROVIDERS:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as err:
            if err.name != module:
                raise


def assemble_fpga_report(parts: Mapping[str, Any], context: Optional[FpgaContext] = None,
                         sections: Optional[Registry] = None) -> Dict[str, Any]:
    """Core parts in a fixed order, then every registered section computed from ``context``."""
    report = {key: parts[key] for key in CORE_ORDER if key in parts}
    report.update({k: v for k, v in parts.items() if k not in report})
    if context is not None:
        if sections is None:
            load_section_providers()
            sections = FPGA_SECTIONS
        for name in sections.names():
            report[name] = sections.get(name)(context)
    return report
