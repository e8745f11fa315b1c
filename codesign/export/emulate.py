"""Run the cleaned (NCHW) export graph with torch, in float or with hls4ml's fixed-point casts.

The float run records every layer's output range on calibration data; the quantized run casts
the input, weights, biases and every layer result to the types of a precision plan, as hls4ml's
generated C++ does. Accumulators are hls4ml's lossless 'auto' width, and float64 holds their sums
exactly while they fit in its 53-bit mantissa (float32 would round the wide sums of deep ResNets
by an LSB now and then), so the result is bit-exact with the C simulation. It is what the automatic precision search evaluates, many
samples per second, before the slow C simulation checks the chosen types.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Dict, Iterable, Mapping, Optional

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import ExportError
from ..fixed_point import FixedType, fixed_for_range
from .fixed import quantize
from .graph import OnnxGraph, attribute


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


def _pool(x, node, kind: str):
    kernel = attribute(node, "kernel_shape")
    rank = len(kernel)
    strides = attribute(node, "strides", kernel)
    ceil = bool(attribute(node, "ceil_mode", 0))
    if kind == "max":
        x = _padded(x, node, rank, value=-np.inf)
        fn = F.max_pool2d if rank == 2 else F.max_pool1d
        return fn(x, kernel, strides, ceil_mode=ceil)
    if attribute(node, "count_include_pad", 0) or not any(_pads(node, rank)[0] + _pads(node, rank)[1]):
        x = _padded(x, node, rank)
        fn = F.avg_pool2d if rank == 2 else F.avg_pool1d
        return fn(x, kernel, strides, ceil_mode=ceil)
    raise ExportError(f"layer '{node.name}': average pooling with padding that excludes the pad is not supported")


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
    "Sigmoid": lambda x, n: torch.sigmoid(x),
    "Tanh": lambda x, n: torch.tanh(x),
    "Softmax": lambda x, n: torch.softmax(x, attribute(n, "axis", -1)),
    "MaxPool": lambda x, n: _pool(x, n, "max"),
    "AveragePool": lambda x, n: _pool(x, n, "avg"),
    "GlobalAveragePool": lambda x, n: x.mean(dim=tuple(range(2, x.dim())), keepdim=True),
    "GlobalMaxPool": lambda x, n: x.amax(dim=tuple(range(2, x.dim())), keepdim=True),
    "Flatten": lambda x, n: x.reshape(x.shape[0], -1),
}
CLIP_BOUND = FixedType(40, 20)      # the type the C++ clip kernel holds its bounds in (nnet_clip.h)


def clip_bound(value: float) -> float:
    """A Clip bound as the kernel holds it: within CLIP_BOUND's range (±inf: no bound)."""
    return min(max(float(value), CLIP_BOUND.lowest), CLIP_BOUND.highest)
BINARY: Dict[str, Callable] = {"Add": torch.add, "Sub": torch.sub, "Mul": torch.mul, "Max": torch.maximum,
                               "Min": torch.minimum}
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
        for node in self.g.nodes:
            types = plan.get(self.fused_bias.get(node.name, node.name), LayerTypes())
            y = self._node(node, values, types)
            layer = self.fused_bias.get(node.name, node.name)
            if node.op_type == "MatMul" and self._has_fused_bias(node):
                pass                                   # the accumulator: cast after the bias add
            elif types.result is not None:
                y = quantize(y, types.result)
            if ranges is not None and node.op_type != "Flatten":
                ranges.update(layer, y)
            values[node.output[0]] = y
        return values[self.g.outputs[0]]

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


def batched(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, batch: int = 256) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([fn(x[i:i + batch]) for i in range(0, len(x), batch)]) if len(x) else x


def layer_names(g: OnnxGraph, fused_bias: Mapping[str, str]) -> Iterable[str]:
    """Names of the hls4ml layers that carry a result type, in graph order (input first)."""
    yield g.inputs[0]
    for n in g.nodes:
        if n.name not in fused_bias and n.op_type != "Flatten":
            yield n.name
