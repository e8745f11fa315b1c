"""Export reports: what each target writes as JSON, and the assembly point of the fpga report.

The fpga report (``DIR/csim.json``) is assembled from parts: the model and where its weights came
from, the ONNX check, the hls4ml settings, the precision plan, the multiplier count, the C
simulation, and then every registered section, each a function of the :class:`FpgaContext`
returning a JSON-able dict (``@register_fpga_section(name)``). The simulator's latency, energy and
resource estimate is one (:mod:`codesign.export.estimate`): the export calls the estimator, which
never imports the export.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Mapping, Optional

import torch.nn as nn

from ..registry import Registry

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


@register_fpga_section("estimate")
def _estimate(ctx: FpgaContext) -> Dict[str, Any]:
    from .estimate import estimate_export       # the simulator: imported when a report needs it
    return estimate_export(ctx)


def assemble_fpga_report(parts: Mapping[str, Any], context: Optional[FpgaContext] = None,
                         sections: Optional[Registry] = None) -> Dict[str, Any]:
    """Core parts in a fixed order, then every registered section computed from ``context``."""
    report = {key: parts[key] for key in CORE_ORDER if key in parts}
    report.update({k: v for k, v in parts.items() if k not in report})
    if context is not None:
        sections = FPGA_SECTIONS if sections is None else sections
        for name in sections.names():
            report[name] = sections.get(name)(context)
    return report
