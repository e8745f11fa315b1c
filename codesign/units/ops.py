"""The rules of :func:`codesign.units.graph.trace_units`: how each fx node maps channel spaces.

A node's value is a tuple of :class:`~codesign.units.graph.Segment` describing its channel axis
(dim 1), or None for values without channels (sizes, scalars). Anything not listed here is an
error that names the op and the node: silently guessing a coupling would corrupt pruning.
"""
from __future__ import annotations

import math
import operator
from typing import Any, Dict, Optional, Tuple

import torch
import torch.fx as fx
import torch.nn as nn
import torch.nn.functional as F
from torch.fx.passes.shape_prop import TensorMetadata

from ..errors import CodesignError

Space = Optional[Tuple[Any, ...]]

_POOLS = (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d,
          nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d, nn.AdaptiveMaxPool1d,
          nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d, nn.Upsample)
ZERO_MODULES = _POOLS + (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.CELU, nn.SELU, nn.GELU, nn.SiLU, nn.Mish,
                         nn.Tanh, nn.Hardtanh, nn.Hardswish, nn.Softsign, nn.Tanhshrink, nn.Identity,
                         nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout,
                         nn.ZeroPad1d, nn.ZeroPad2d, nn.ZeroPad3d)
NONZERO_MODULES = (nn.Sigmoid, nn.Softplus, nn.Hardsigmoid, nn.LogSigmoid)
SOFTMAX_MODULES = (nn.Softmax, nn.LogSoftmax)

ZERO_FUNCTIONS = {F.relu, torch.relu, F.relu6, F.leaky_relu, F.elu, F.celu, F.selu, F.gelu, F.silu, F.mish,
                  torch.tanh, F.tanh, F.hardtanh, F.hardswish, F.dropout, F.dropout1d, F.dropout2d, F.dropout3d,
                  F.max_pool1d, F.max_pool2d, F.max_pool3d, F.avg_pool1d, F.avg_pool2d, F.avg_pool3d,
                  F.adaptive_avg_pool1d, F.adaptive_avg_pool2d, F.adaptive_avg_pool3d, F.adaptive_max_pool1d,
                  F.adaptive_max_pool2d, F.adaptive_max_pool3d, F.interpolate}
NONZERO_FUNCTIONS = {torch.sigmoid, F.sigmoid, F.softplus, F.hardsigmoid, F.logsigmoid}
SOFTMAX_FUNCTIONS = {F.softmax, F.log_softmax, torch.softmax, torch.log_softmax}
ZERO_METHODS = {"relu", "relu_", "tanh", "contiguous", "clone", "float", "detach"}
NONZERO_METHODS = {"sigmoid"}
SOFTMAX_METHODS = {"softmax", "log_softmax"}
NON_TENSOR_METHODS = {"size", "dim", "numel"}
BINARY = {operator.add, operator.sub, operator.mul, operator.truediv, operator.iadd, operator.isub,
          operator.imul, torch.add, torch.sub, torch.mul, torch.div}
BINARY_METHODS = {"add", "sub", "mul", "div", "add_", "sub_", "mul_", "div_"}
ADDITIVE = {operator.add, operator.sub, operator.iadd, operator.isub, torch.add, torch.sub,
            "add", "sub", "add_", "sub_"}
REDUCTIONS = {torch.mean, torch.sum, torch.amax, "mean", "sum", "amax"}
CATS = {torch.cat, torch.concat}
RESHAPES = {"flatten", "view", "reshape", "squeeze", "unsqueeze", torch.flatten, torch.reshape, torch.squeeze,
            torch.unsqueeze}


def describe(node: fx.Node, module: nn.Module | None = None) -> str:
    if module is not None:
        return f"{type(module).__name__} '{node.target}'"
    if node.op == "call_method":
        return f"tensor method .{node.target}()"
    if node.op == "get_attr":
        return f"parameter/buffer '{node.target}' used directly in forward()"
    return f"function {getattr(node.target, '__module__', '') or ''}.{getattr(node.target, '__name__', node.target)}"


def unsupported(node: fx.Node, what: str) -> CodesignError:
    return CodesignError(
        f"trace_units cannot couple channels through {what} at node '{node.name}'; supported: Conv1d/2d "
        f"(grouped, depthwise), Linear, BatchNorm1d/2d, elementwise activations, pooling, zero padding, Dropout, "
        f"Flatten, Add/Mul, cat on channels")


def check_modules(gm: fx.GraphModule) -> None:
    """A module of a type no rule here takes is named before any tensor op around it (the LSTM, not the
    ``x.transpose()`` that feeds it)."""
    from .graph import COMPUTE, NORMS

    known = COMPUTE + NORMS + (nn.Flatten, nn.PReLU, nn.modules.padding._ConstantPadNd) + ZERO_MODULES + \
        NONZERO_MODULES + SOFTMAX_MODULES
    for node in gm.graph.nodes:
        if node.op == "call_module" and not isinstance(gm.get_submodule(node.target), known):
            raise unsupported(node, describe(node, gm.get_submodule(node.target)))


def _meta(node: Any) -> Optional[TensorMetadata]:
    meta = node.meta.get("tensor_meta") if isinstance(node, fx.Node) else None
    return meta if isinstance(meta, TensorMetadata) else None


def _arg(node: fx.Node, index: int, key: str, default: Any = None) -> Any:
    if len(node.args) > index:
        return node.args[index]
    return node.kwargs.get(key, default)


def _flatten(tracer, segs: Space, source: fx.Node, node: fx.Node):
    meta = _meta(source)
    if segs is None or meta is None:
        raise unsupported(node, "a Flatten of a value without channels")
    spatial = int(math.prod(meta.shape[2:])) if len(meta.shape) > 2 else 1
    seg_type = type(segs[0])
    return tuple(seg_type(s.group, s.factor * spatial) for s in segs)


def visit(tracer, gm: fx.GraphModule, node: fx.Node, values: Dict[fx.Node, Space]) -> Space:
    """Channel space of ``node``'s value; registers producers, consumers, followers and ties."""
    from .graph import Segment

    if node.op == "placeholder":
        segs = (Segment(tracer.new_space()),)
        tracer.fix(segs, "network input")
        return segs
    if node.op == "output":
        for arg in _leaves(node.args):
            if values.get(arg):
                tracer.fix(values[arg], "network output")
        return None
    if node.op == "call_module":
        return _module(tracer, gm.get_submodule(node.target), node, values)
    meta = _meta(node)
    if node.op == "get_attr":
        if meta is None and not isinstance(getattr(gm, str(node.target), None), torch.Tensor):
            return None
        raise unsupported(node, describe(node))
    if meta is None or len(meta.shape) < 2:
        if node.op == "call_function" and node.target in CATS:
            raise unsupported(node, describe(node))
        return None
    return _function(tracer, node, values, meta)


def _leaves(args: Any):
    if isinstance(args, fx.Node):
        yield args
    elif isinstance(args, (tuple, list)):
        for a in args:
            yield from _leaves(a)
    elif isinstance(args, dict):
        for a in args.values():
            yield from _leaves(a)


def _module(tracer, module: nn.Module, node: fx.Node, values: Dict[fx.Node, Space]) -> Space:
    from .graph import COMPUTE, NORMS

    name = str(node.target)
    source = node.args[0] if node.args else None
    segs = values.get(source) if isinstance(source, fx.Node) else None
    if isinstance(module, COMPUTE):
        in_meta = _meta(source)
        if isinstance(module, nn.Linear) and (in_meta is None or len(in_meta.shape) != 2):
            raise unsupported(node, f"{describe(node, module)} applied to a tensor that is not (batch, features)")
        if segs is None:
            raise unsupported(node, f"{describe(node, module)} on a value without channels")
        if getattr(module, "groups", 1) != 1:
            return _grouped_conv(tracer, name, module, segs, node)
        return tracer.produce(name, segs, node)
    if isinstance(module, NORMS):
        if segs is None:
            raise unsupported(node, describe(node, module))
        if name not in tracer.followers:
            tracer.followers.append(name)
        tracer.consume(name, segs, node)
        return segs
    if isinstance(module, nn.Flatten):
        if module.start_dim != 1 or module.end_dim != -1:
            raise unsupported(node, f"{describe(node, module)} with start_dim={module.start_dim}")
        return _flatten(tracer, segs, source, node)
    if isinstance(module, nn.PReLU) and module.num_parameters == 1:
        return segs
    if isinstance(module, nn.Hardtanh) and not module.min_val <= 0 <= module.max_val:
        tracer.nonzero.update(s.group for s in segs or ())
        return segs
    if isinstance(module, nn.modules.padding._ConstantPadNd) and not isinstance(module, ZERO_MODULES):
        if module.value != 0:
            tracer.nonzero.update(s.group for s in segs or ())
        return segs
    if isinstance(module, ZERO_MODULES):
        return segs
    if isinstance(module, NONZERO_MODULES):
        tracer.nonzero.update(s.group for s in segs or ())
        return segs
    if isinstance(module, SOFTMAX_MODULES):
        tracer.fix(segs or (), "softmax over units")
        return segs
    raise unsupported(node, describe(node, module))


def _grouped_conv(tracer, name: str, module: nn.Module, segs, node: fx.Node) -> Space:
    """A convolution with groups > 1. Depthwise (one input channel per group, ``m`` = out/in
    output channels each): input channel c feeds output channels c·m .. c·m+m−1, so its units are
    the input's units, ``m`` times as wide, and its weight rows and biases are per-unit state like
    BatchNorm's (a follower). Other grouped convolutions keep their input and output channels
    (removing one channel would break the equal split into groups)."""
    if module.in_channels == module.groups:
        mult = module.out_channels // module.groups
        out = tuple(type(s)(s.group, s.factor * mult) for s in segs)
        if name not in tracer.followers:
            tracer.followers.append(name)
        tracer.consume(name, out, node)
        return out
    why = f"grouped convolution '{name}' (groups={module.groups})"
    tracer.fix(segs, why)
    out = tracer.produce(name, segs, node, layer=False)
    tracer.fix(out, why)
    return out


def _function(tracer, node: fx.Node, values: Dict[fx.Node, Space], meta: TensorMetadata) -> Space:
    target = node.target
    method = node.op == "call_method"
    source = node.args[0] if node.args else None
    segs = values.get(source) if isinstance(source, fx.Node) else None
    if (target in ZERO_METHODS if method else target in ZERO_FUNCTIONS):
        return segs
    if (target in NONZERO_METHODS if method else target in NONZERO_FUNCTIONS):
        tracer.nonzero.update(s.group for s in segs or ())
        return segs
    if (target in SOFTMAX_METHODS if method else target in SOFTMAX_FUNCTIONS):
        tracer.fix(segs or (), "softmax over units")
        return segs
    if method and target in NON_TENSOR_METHODS:
        return None
    if (target in BINARY_METHODS if method else target in BINARY):
        return _binary(tracer, node, values)
    if target in RESHAPES:
        return _reshape(tracer, node, segs, source, meta)
    if target in REDUCTIONS:
        return _reduce(node, segs, source)
    if not method and target in CATS:
        return _cat(tracer, node, values, meta)
    if target is F.pad:
        return _pad(tracer, node, segs, meta)
    raise unsupported(node, describe(node))


def _pad(tracer, node: fx.Node, segs: Space, meta: TensorMetadata) -> Space:
    pad, mode, value = _arg(node, 1, "pad"), _arg(node, 2, "mode", "constant"), _arg(node, 3, "value", None)
    if not isinstance(pad, (tuple, list)) or len(pad) // 2 >= len(meta.shape) - 1:
        raise unsupported(node, f"{describe(node)} of the channel dimension")
    if mode != "constant" or value not in (None, 0, 0.0):
        tracer.nonzero.update(s.group for s in segs or ())
    return segs


def _binary(tracer, node: fx.Node, values: Dict[fx.Node, Space]) -> Space:
    operands = [a for a in node.args[:2] if isinstance(a, fx.Node) and values.get(a)]
    additive = node.target in ADDITIVE
    if len(operands) == 1:
        if additive:
            tracer.nonzero.update(s.group for s in values[operands[0]])
        return values[operands[0]]
    if not operands:
        return None
    a, b = operands
    ca, cb = _meta(a).shape[1], _meta(b).shape[1]
    if ca == cb:
        tracer.unify(values[a], values[b], node)
        return values[a]
    if 1 in (ca, cb):  # one operand broadcast over channels: its single channel cannot change
        narrow, wide = (a, b) if ca == 1 else (b, a)
        tracer.fix(values[narrow], "broadcast over channels")
        return values[wide]
    raise unsupported(node, f"{describe(node)} of tensors with {ca} and {cb} channels")


def _reshape(tracer, node: fx.Node, segs: Space, source: Any, meta: TensorMetadata) -> Space:
    src = _meta(source)
    if src is None:
        raise unsupported(node, describe(node))
    if tuple(meta.shape) == tuple(src.shape):
        return segs
    if (len(meta.shape) > 2 and tuple(meta.shape[:2]) == tuple(src.shape[:2])
            and math.prod(meta.shape[2:]) == math.prod(src.shape[2:])):
        return segs                                # channels stay; only size-1 or spatial dims change
    flat = len(meta.shape) == 2 and meta.shape[0] == src.shape[0] and meta.shape[1] == math.prod(src.shape[1:])
    start = _arg(node, 1, "start_dim", 0 if node.target is torch.flatten else None)
    if node.target in ("flatten",) or node.target is torch.flatten:
        flat = flat and start == 1
    if not flat:
        raise unsupported(node, f"{describe(node)} to shape {tuple(meta.shape)} (only flattening to (batch, -1), "
                                f"or changes of the dimensions after the channels)")
    return _flatten(tracer, segs, source, node)


def _reduce(node: fx.Node, segs: Space, source: Any) -> Space:
    src = _meta(source)
    dims = _arg(node, 1, "dim")
    if src is None or dims is None:
        raise unsupported(node, f"{describe(node)} over all dimensions")
    dims = {int(d) % len(src.shape) for d in (dims if isinstance(dims, (tuple, list)) else [dims])}
    if dims & {0, 1}:
        raise unsupported(node, f"{describe(node)} over the batch or channel dimension")
    return segs


def _cat(tracer, node: fx.Node, values: Dict[fx.Node, Space], meta: TensorMetadata) -> Space:
    tensors = _arg(node, 0, "tensors")
    dim = int(_arg(node, 1, "dim", 0)) % len(meta.shape)
    if dim != 1 or not all(isinstance(t, fx.Node) and values.get(t) for t in tensors):
        raise unsupported(node, f"{describe(node)} along dim {dim}")
    return tuple(seg for t in tensors for seg in values[t])
