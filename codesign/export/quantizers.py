"""QONNX ``Quant`` nodes as hls4ml 1.3 builds them: a power-of-two quantizer is a fixed-point type, any
other is refused in one line (the rule and why: :func:`codesign.sim.hls_rules.quantizer_problem`)."""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np
import onnx

from ..errors import ExportError
from ..fixed_point import FixedType
from ..sim.hls_rules import QUANT_HINT, quantizer_problem, quantizer_type
from .graph import OnnxGraph, attribute


def _parameters(g: OnnxGraph, node: onnx.NodeProto) -> Optional[Tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(scale, zero point, bit width) of a Quant node, None where one is not a constant."""
    values = [g.inits.get(name) for name in list(node.input[1:4])]
    if len(values) < 3 or any(v is None for v in values):
        return None
    return tuple(np.asarray(v, dtype=np.float64) for v in values)


def _attributes(node: onnx.NodeProto) -> Tuple[str, bool, bool]:
    mode = attribute(node, "rounding_mode", "ROUND")
    mode = mode.decode() if isinstance(mode, bytes) else str(mode)
    return mode, bool(attribute(node, "signed", 1)), bool(attribute(node, "narrow", 0))


def _problem(g: OnnxGraph, node: onnx.NodeProto) -> Optional[str]:
    params = _parameters(g, node)
    if params is None:
        return "its scale, zero point or bit width is not a constant"
    return quantizer_problem(params[0], params[1], *_attributes(node))


def check_quantizer(g: OnnxGraph, node: onnx.NodeProto, where: str) -> None:
    """Refuse a Quant node hls4ml would rescale with ApplyAlpha layers, in one line naming it."""
    why = _problem(g, node)
    if why is not None:
        raise ExportError(f"{where}: {why}; hls4ml 1.3 builds such a QONNX quantizer from ApplyAlpha rescale layers "
                          f"whose types the export can neither choose nor emulate: {QUANT_HINT}")


def output_type(g: OnnxGraph, node: onnx.NodeProto) -> Optional[FixedType]:
    """The fixed-point type hls4ml gives a Quant node's output (None where it would not build one)."""
    if _problem(g, node) is not None:
        return None
    scale, _, bits = _parameters(g, node)
    return quantizer_type(scale, bits, *_attributes(node))
