"""Fixed-point accuracy without g++: the export graph run by the bit-exact emulation of hls4ml's
arithmetic (:mod:`codesign.export.emulate`) at a precision, on labelled samples.

This is what a sweep ranks hardware points by when C simulation is off: the precision a point
is built at decides its accuracy, and ``ap_fixed<8,3>`` on a model whose activations need more
integer bits shows here as the accuracy the hardware would have, not the float model's.

    fixed_point_accuracy(model, "ap_fixed<8,3>", test_x, test_y) -> FixedAccuracy
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Optional, Union

import torch
import torch.nn as nn

from .emulate import Emulator, batched
from .hls import as_graph_input, source_graph
from .precision import PrecisionSpec, agreement, choose_precision, precision_spec

CALIBRATION_MAX = 256          # samples the precision choice (ranges, 'auto' search) looks at


@dataclass(frozen=True)
class FixedAccuracy:
    precision: str
    samples: int
    accuracy: Optional[float]         # None without labels
    float_accuracy: Optional[float]   # the same graph in float64 on the same samples
    agreement: float                  # top-1 agreement of fixed point with float

    def fields(self, prefix: str = "fixed_") -> dict:
        """The sweep's columns: fixed_precision, fixed_samples, fixed_accuracy, ..."""
        return {prefix + k: v for k, v in asdict(self).items()}


def fixed_point_accuracy(model: nn.Module, precision: Union[str, PrecisionSpec], x: torch.Tensor,
                         y: Optional[torch.Tensor] = None,
                         calibration: Optional[torch.Tensor] = None) -> FixedAccuracy:
    """Top-1 accuracy of ``model`` built at ``precision`` (any export precision option) on NCHW
    samples ``x`` with labels ``y``; ``calibration`` (default: the first samples of ``x``) sets
    the layer ranges the precision choice reads, as the export does."""
    spec = precision_spec(precision)
    clean = source_graph(model)
    inputs = as_graph_input(x.float(), clean.input_layout)
    calib = inputs[:CALIBRATION_MAX] if calibration is None else as_graph_input(calibration.float(), clean.input_layout)
    plan = choose_precision(clean, calib, spec)
    emu = Emulator(clean.graph, clean.fused_bias)
    fixed = batched(lambda b: emu.run(b, plan.types), inputs)
    exact = batched(lambda b: emu.run(b), inputs)
    return FixedAccuracy(spec.source, len(x), _accuracy(fixed, y), _accuracy(exact, y), agreement(fixed, exact))


def _accuracy(out: torch.Tensor, y: Optional[torch.Tensor]) -> Optional[float]:
    if y is None or not len(out):
        return None
    return float((out.argmax(1) == y.to(out.device)).double().mean())
