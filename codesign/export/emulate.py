"""Run the cleaned (NCHW) export graph with torch, in float or with hls4ml's fixed-point casts.

The float run records every layer's output range on calibration data; the quantized run casts
the input, weights, biases and every layer result to the types of a precision plan, as hls4ml's
generated C++ does. Accumulators are hls4ml's lossless 'auto' width, and float64 holds their sums
exactly while they fit in its 53-bit mantissa (float32 would round the wide sums of deep ResNets
by an LSB now and then), so the result is bit-exact with the C simulation. It is what the automatic precision search evaluates, many
samples per second, before the slow C simulation checks the chosen types.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterable, Mapping, Optional

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import ExportError
from ..fixed_point import FixedType, fixed_for_range
from . import lut
from .fixed import quantize
from .graph import OnnxGraph, attribute
from .lut import LUT_OPS
from .quantizers import output_type as quantizer_output_type


@dataclass(frozen=True)
class LayerTypes:
    """Fixed-point types of one hls4ml layer (None: not quantized / hls4ml's default)."""
    result: Optional[FixedType] = None
    weight: Optional[FixedType] = None
    bias: Optional[FixedType] = None


@dataclass
class Ranges:
    """Observed extremes per layer output (and per layer weights) on calibration data."""
    out_max: Dict[str, float] = field(default_factory=dict)
    out_min: Dict[str, float] = field(default_factory=dict)

    def update(self, name: str, y: torch.Tensor) -> None:
        hi, lo = float(y.max()), float(y.min())
        if not (np.isfinite(hi) and np.isfinite(lo)):        # no fixed-point type holds NaN/inf
            raise ExportError(f"layer '{name}' outputs NaN/inf on the calibration inputs, so no fixed-point type "
                              f"can be chosen for it; check the model's forward() and its weights")
        self.out_max[name] = max(self.out_max.get(name, -np.inf), hi)
        self.out_min[name] = min(self.out_min.get(name, np.inf), lo)


def _pads(node, rank: int):
    pads = list(attribute(node, "pads", [0] * (2 * rank)))
    begin, end = pads[:rank], pads[rank:]
    return begin, end


def _padded(x: torch.Tensor, node, rank: int, value: float = 0.0) -> torch.Tensor:
    begin, end = _pads(node, rank)
    if not any(begin) and not any(end):
        return x
    torch_pads = []
    for b, e in zip(reversed(begin), reversed(end)):
        torch_pads += [b, e]
    return F.pad(x, torch_pads, value=value)


def _conv(x, w, b, node):
    rank = w.dim() - 2
    x = _padded(x, node, rank)
    conv = F.conv2d if rank == 2 else F.conv1d
    return conv(x, w, b, stride=attribute(node, "strides", [1] * rank),
                dilation=attribute(node, "dilations", [1] * rank), groups=attribute(node, "group", 1))


def _pool(x, node, kind: str, input_t: Optional[FixedType] = None):
    """Max or average pooling; an average of fixed-point inputs (``input_t``) as hls4ml computes it
    (:func:`_average`)."""
    kernel = attribute(node, "kernel_shape")
    rank = len(kernel)
    strides = attribute(node, "strides", kernel)
    ceil = bool(attribute(node, "ceil_mode", 0))
    if kind == "max":
        x = _padded(x, node, rank, value=-np.inf)
        fn = F.max_pool2d if rank == 2 else F.max_pool1d
        return fn(x, kernel, strides, ceil_mode=ceil)
    window_sum = lambda t: _window_sum(_padded(t, node, rank), kernel, strides, ceil)     # noqa: E731
    count = window_sum(torch.ones_like(x[:1, :1])) if not attribute(node, "count_include_pad", 0) else \
        torch.tensor(float(np.prod(kernel)), dtype=x.dtype)
    return _average(window_sum(x), count, int(np.prod(kernel)), input_t)


def _window_sum(x: torch.Tensor, kernel, strides, ceil: bool) -> torch.Tensor:
    """The sum of every pooling window (1-D pools as 2-D ones of height 1)."""
    if len(kernel) == 1:
        return _window_sum(x.unsqueeze(2), [1] + list(kernel), [1] + list(strides), ceil).squeeze(2)
    return F.avg_pool2d(x, kernel, strides, ceil_mode=ceil, divisor_override=1)


def _global_average(x: torch.Tensor, input_t: Optional[FixedType] = None) -> torch.Tensor:
    dims = tuple(range(2, x.dim()))
    n = int(np.prod(x.shape[2:]))
    return _average(x.sum(dim=dims, keepdim=True), torch.tensor(float(n), dtype=x.dtype), n, input_t)


def _average(window_sum: torch.Tensor, count: torch.Tensor, window: int, input_t: Optional[FixedType]):
    """``window_sum / count``; for fixed-point inputs as hls4ml's pooling divides (nnet_pooling.h ``avg``,
    nnet_pooling_stream.h ``reduce_pool``): the sum in the accumulator hls4ml infers for a window of
    ``window`` pixels (the input's fractional bits + ceil(log2 window)), divided by ``count`` truncating
    towards zero at those bits. ``count``: the window size, or the pixels each window overlaps (hls4ml's
    count_pad false)."""
    if input_t is None:
        return window_sum / count
    scale = 2.0 ** (input_t.fractional + math.ceil(math.log2(window)) if window > 1 else input_t.fractional)
    return torch.div(window_sum.double() * scale, count.double(), rounding_mode="trunc").to(window_sum.dtype) / scale


def _batchnorm(x, scale, bias, mean, var, node):
    shape = (1, -1) + (1,) * (x.dim() - 2)
    eps = attribute(node, "epsilon", 1e-5)
    return (x - mean.view(shape)) / torch.sqrt(var.view(shape) + eps) * scale.view(shape) + bias.view(shape)


ROUNDING = {"ROUND": torch.round, "FLOOR": torch.floor, "CEIL": torch.ceil, "ROUND_TO_ZERO": torch.trunc}


def _quant(x, scale, zeropt, bitwidth, node):
    """QONNX Quant (brevitas' integer quantizer): scale, shift, clamp, round, undo the scale."""
    bits = int(bitwidth.reshape(-1)[0])
    signed, narrow = attribute(node, "signed", 1), attribute(node, "narrow", 0)
    mode = attribute(node, "rounding_mode", "ROUND")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    if mode not in ROUNDING:
        raise ExportError(f"layer '{node.name}': Quant rounding mode {mode} is not supported")
    lo = -(2 ** (bits - 1)) + narrow if signed else 0
    hi = 2 ** (bits - 1) - 1 if signed else 2 ** bits - 1 - narrow
    y = (x / scale + zeropt).clamp(lo, hi)
    return (ROUNDING[mode](y) - zeropt) * scale


def leaky_alpha_type(alpha: float) -> FixedType:
    """The type the hls4ml project holds a LeakyReLU slope in (the export sets it per layer)."""
    return fixed_for_range(abs(alpha), True, width=18)


def _leaky_relu(x: torch.Tensor, node) -> torch.Tensor:
    alpha = float(attribute(node, "alpha", 0.01))
    slope = quantize(torch.tensor(alpha, dtype=torch.float64), leaky_alpha_type(alpha)).to(x.dtype)
    return torch.where(x > 0, x, slope * x)


UNARY: Dict[str, Callable] = {
    "Relu": lambda x, n: torch.relu(x),
    "LeakyRelu": _leaky_relu,
    "Sigmoid": lambda x, n: torch.sigmoid(x),        # float; fixed-point inputs read hls4ml's tables (lut.py)
    "Tanh": lambda x, n: torch.tanh(x),
    "Softmax": lambda x, n: torch.softmax(x, attribute(n, "axis", -1)),
    "MaxPool": lambda x, n: _pool(x, n, "max"),
    "AveragePool": lambda x, n: _pool(x, n, "avg"),
    "GlobalAveragePool": lambda x, n: _global_average(x),
    "GlobalMaxPool": lambda x, n: x.amax(dim=tuple(range(2, x.dim())), keepdim=True),
    "Flatten": lambda x, n: x.reshape(x.shape[0], -1),
}
CLIP_BOUND = FixedType(40, 20)      # the type the C++ clip kernel holds its bounds in (nnet_clip.h)


def clip_bound(value: float) -> float:
    """A Clip bound as the kernel holds it: within CLIP_BOUND's range (±inf: no bound)."""
    return min(max(float(value), CLIP_BOUND.lowest), CLIP_BOUND.highest)
BINARY: Dict[str, Callable] = {"Add": torch.add, "Sub": torch.sub, "Mul": torch.mul, "Max": torch.maximum,
                               "Min": torch.minimum}
TYPED_OPS = set(LUT_OPS) | {"AveragePool", "GlobalAveragePool"}
EMULATED_OPS = set(UNARY) | set(BINARY) | {"Conv", "MatMul", "BatchNormalization", "Quant", "Clip", "Concat"}


class Emulator:
    """Evaluates an :class:`OnnxGraph` (NCHW, after the clean-up passes) batch by batch."""

    def __init__(self, g: OnnxGraph, fused_bias: Mapping[str, str], dtype: torch.dtype = torch.float64):
        self.g, self.dtype = g, dtype
        self.fused_bias = dict(fused_bias)           # bias Add node → the MatMul whose layer it joins
        self._biased = set(self.fused_bias.values())
        self.consts = {k: torch.from_numpy(np.array(v)).to(dtype) for k, v in g.inits.items()}
        unknown = sorted({n.op_type for n in g.nodes} - EMULATED_OPS)
        if unknown:
            raise ExportError(f"cannot emulate op {unknown[0]} for precision selection; it is not supported for export")

    def run(self, x: torch.Tensor, plan: Optional[Mapping[str, LayerTypes]] = None,
            ranges: Optional[Ranges] = None) -> torch.Tensor:
        plan = plan or {}
        x = x.to(self.dtype)
        name = self.g.inputs[0]
        if name in plan and plan[name].result is not None:
            x = quantize(x, plan[name].result)
        if ranges is not None:
            ranges.update(name, x)
        values: Dict[str, torch.Tensor] = {name: x}
        typed = tensor_types(self.g, self.fused_bias, plan) if plan else {}
        for node in self.g.nodes:
            types = plan.get(self.fused_bias.get(node.name, node.name), LayerTypes())
            input_t = typed.get(node.input[0]) if node.op_type in TYPED_OPS else None
            y = self._typed(node, values[node.input[0]], input_t) if input_t is not None else \
                self._node(node, values, types)
            layer = self.fused_bias.get(node.name, node.name)
            if node.op_type == "MatMul" and self._has_fused_bias(node):
                pass                                   # the accumulator: cast after the bias add
            elif types.result is not None:
                y = quantize(y, types.result)
            if ranges is not None and node.op_type != "Flatten":
                ranges.update(layer, y)
            values[node.output[0]] = y
        return values[self.g.outputs[0]]

    @staticmethod
    def _typed(node, x: torch.Tensor, input_t: FixedType) -> torch.Tensor:
        """An op whose hls4ml arithmetic depends on its input's fixed-point type: Sigmoid, Tanh and Softmax
        (lookup tables, lut.py) and average pooling (its accumulator)."""
        if node.op_type == "Softmax":
            return lut.softmax(x, input_t, attribute(node, "axis", -1))
        if node.op_type == "AveragePool":
            return _pool(x, node, "avg", input_t)
        if node.op_type == "GlobalAveragePool":
            return _global_average(x, input_t)
        return lut.activation(node.op_type, x)

    def _has_fused_bias(self, node) -> bool:
        return node.name in self._biased

    def _arg(self, name: str, values, cast: Optional[FixedType] = None) -> torch.Tensor:
        if name in values:
            return values[name]
        t = self.consts[name]
        return quantize(t, cast) if cast is not None else t

    def _node(self, node, values, types: LayerTypes) -> torch.Tensor:
        op, ins = node.op_type, list(node.input)
        if op == "Conv":
            bias = self._arg(ins[2], values, types.bias) if len(ins) > 2 and ins[2] else None
            return _conv(values[ins[0]], self._arg(ins[1], values, types.weight), bias, node)
        if op == "MatMul":
            return values[ins[0]] @ self._arg(ins[1], values, types.weight)
        if op == "Quant":
            return _quant(*(self._arg(i, values) for i in ins[:4]), node)
        if op == "BatchNormalization":
            return _batchnorm(values[ins[0]], *(self._arg(i, values) for i in ins[1:5]), node)
        if op == "Clip":
            lo, hi = (quantize(torch.tensor(clip_bound(self.consts[i].reshape(-1)[0]), dtype=self.dtype), CLIP_BOUND)
                      for i in ins[1:3])
            return torch.minimum(torch.maximum(values[ins[0]], lo), hi)
        if op == "Concat":
            return torch.cat([self._arg(i, values) for i in ins], dim=attribute(node, "axis"))
        if op in BINARY:
            cast = types.bias if node.name in self.fused_bias else None
            return BINARY[op](self._arg(ins[0], values, cast), self._arg(ins[1], values, cast))
        return UNARY[op](values[ins[0]], node)


def tensor_types(g: OnnxGraph, fused_bias: Mapping[str, str], plan: Mapping[str, LayerTypes]) -> Dict[str, FixedType]:
    """The fixed-point type each tensor holds under ``plan`` (the input's, every layer result's, a QONNX
    quantizer's own; a Flatten passes its input's on): what the input of a layer whose arithmetic depends on
    it is (:data:`TYPED_OPS`)."""
    def result(name: str) -> Optional[FixedType]:
        t = plan[name].result if name in plan else None
        return t if isinstance(t, FixedType) else None

    typed = {g.inputs[0]: result(g.inputs[0])}
    biased = set(fused_bias.values())
    for node in g.nodes:
        if node.op_type == "MatMul" and node.name in biased:
            continue                                   # its bias Add carries the layer's result
        typed[node.output[0]] = result(fused_bias.get(node.name, node.name))
        if node.op_type == "Flatten":
            typed[node.output[0]] = typed.get(node.input[0])
        elif node.op_type == "Quant" and typed[node.output[0]] is None:
            typed[node.output[0]] = quantizer_output_type(g, node)
    return {k: v for k, v in typed.items() if v is not None}


def inexact_layers(g: OnnxGraph, fused_bias: Mapping[str, str], plan: Mapping[str, LayerTypes],
                   names: Optional[Mapping[str, str]] = None) -> Iterable[str]:
    """Layers whose hls4ml arithmetic the emulation does not reproduce bit for bit under ``plan``, each with
    why: a type-dependent op (:data:`TYPED_OPS`) whose input type is unknown, and a BatchNormalization not
    folded into a Conv or Linear layer (hls4ml stores its scale and bias in its default type, which the
    emulation does not apply)."""
    typed = tensor_types(g, fused_bias, plan)
    names = names or {}
    for node in g.nodes:
        what = f"'{names.get(node.name, node.name)}' ({node.op_type})"
        if node.op_type in TYPED_OPS and node.input[0] not in typed:
            yield f"{what}: its input has no fixed-point type"
        elif node.op_type == "BatchNormalization":
            yield f"{what}: hls4ml stores its scale and bias in its default type, which the emulation does not apply"


def batched(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, batch: int = 256) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([fn(x[i:i + batch]) for i in range(0, len(x), batch)]) if len(x) else x


def layer_names(g: OnnxGraph, fused_bias: Mapping[str, str]) -> Iterable[str]:
    """Names of the hls4ml layers that carry a result type, in graph order (input first)."""
    yield g.inputs[0]
    for n in g.nodes:
        if n.name not in fused_bias and n.op_type != "Flatten":
            yield n.name
