"""Passes that bring ONNX graphs from anywhere (our torch.onnx export, the dynamo exporter, other
tools) to the few op forms hls4ml's ONNX frontend takes. Each edits an :class:`OnnxGraph` in
place and returns whether it changed anything; all run in linear time.

- ``flatten_reshapes``: a Reshape to (batch, features), or a Squeeze of (batch, C, 1), → Flatten.
  ``x.view(x.size(0), -1)`` exports as Shape → Gather → Unsqueeze → Concat → Reshape, whose
  output shape ONNX shape inference cannot tell; that shape arithmetic is evaluated here (the
  batch size kept symbolic) and the graph's shapes are inferred again afterwards
  (:meth:`OnnxGraph.reinferred`);
- ``explicit_defaults``: Conv and pooling attributes hls4ml reads without a default (pads,
  strides, dilations) written out, and auto_pad (``padding='same'``) as explicit pads;
- ``constant_bounds``: Clip's min/max as constants (opset < 11 attributes, or computed inputs);
- ``spatial_mean_to_global_pool``: ReduceMean over every spatial axis → GlobalAveragePool (the
  dynamo exporter's AdaptiveAvgPool2d(1); hls4ml has no ReduceMean), then Flatten without
  keepdims (``x.mean([2, 3])``);
- ``whole_map_pools_to_global``: AveragePool/MaxPool whose window covers its whole unpadded input map →
  GlobalAveragePool/GlobalMaxPool (``codesign.sim.hls_rules.is_global_pool``: hls4ml then builds one
  accumulator per channel instead of a window as large as the map);
- ``fold_batchnorm``: BatchNormalization after a Conv or Linear (the only reader of its output)
  folded into that layer's weights and bias (BatchNorm1d after Linear, graphs exported in
  training mode); hls4ml would fold it again after our precision choice, off our type grid;
- ``zero_pads_into_convs``: a zero Pad on the spatial axes (``nn.ZeroPad1d/2d``, ``F.pad`` with zeros; torch's
  exporter computes its pads in a constant chain, folded first) whose every reader is a Conv → that padding
  added to each Conv's own (hls4ml's Conv takes asymmetric pads; its ONNX Pad converter builds a separate
  ZeroPadding layer that the channels-last conversion does not handle);
- ``binary_concats``: Concat of k activations → k−1 Concats of two (hls4ml's Concatenate takes two; a
  Concat of shape arithmetic, whose constants have no recorded shape, is left alone);
- ``grouped_conv_to_dense``: a grouped convolution that is not depthwise with one output per
  channel (hls4ml 1.3 converts only that kind: :mod:`codesign.sim.grouped_convs`, whose rule the
  estimator prices by too) → an ordinary convolution whose weights are block-diagonal: the same
  function, the off-group weights exact zeros (free under the Latency strategy; hls4ml's multiplier
  count and ours subtract them). The node's ``doc_string`` records its groups (:func:`groups_before_dense`), so
  reports do not count those zeros as pruned weights.
"""
from __future__ import annotations

import re
from typing import Dict, List, Optional

import numpy as np
import onnx
from onnx import helper

from ..errors import ExportError
from .graph import OnnxGraph, attribute, set_attribute


BATCH = -(2 ** 40)       # the symbolic batch size inside evaluated shape arithmetic
SHAPE_OPS = {"Shape", "Gather", "Unsqueeze", "Squeeze", "Concat", "Slice", "Cast", "Identity"}


def flatten_reshapes(g: OnnxGraph) -> bool:
    """Reshape(x, constant shape or one computed from x's shape) that flattens x to (batch,
    features) → Flatten; the shape arithmetic that nothing else reads is removed."""
    known: Dict[str, np.ndarray] = {}
    changed = False
    for k, n in enumerate(g.nodes):
        if n.op_type in SHAPE_OPS and n.op_type != "Reshape":
            value = _shape_value(g, n, known)
            if value is not None:
                known[n.output[0]] = value
            elif n.op_type == "Squeeze" and _squeezes_to_features(g, n):
                g.nodes[k] = helper.make_node("Flatten", [n.input[0]], list(n.output), name=n.name, axis=1)
                changed = True
        elif n.op_type == "Reshape" and n.input[0] in g.shapes and \
                _flattens(g.shapes[n.input[0]], known.get(n.input[1], g.inits.get(n.input[1]))):
            g.nodes[k] = helper.make_node("Flatten", [n.input[0]], list(n.output), name=n.name, axis=1)
            changed = True
    if changed:
        drop_unread(g)
    return changed


def _shape_value(g: OnnxGraph, n: onnx.NodeProto, known: Dict[str, np.ndarray]) -> Optional[np.ndarray]:
    if n.op_type == "Shape":
        shape = g.shapes.get(n.input[0])
        return None if shape is None else np.array([BATCH, *shape[1:]], dtype=np.int64)
    args = []
    for name in n.input:
        value = known.get(name, g.inits.get(name) if name else None)
        if name and value is None:
            return None
        args.append(None if value is None else np.asarray(value))
    if n.op_type in ("Identity", "Cast"):
        return args[0]
    if n.op_type == "Gather":
        return np.take(args[0], args[1], axis=attribute(n, "axis", 0))
    if n.op_type in ("Unsqueeze", "Squeeze"):
        axes = attribute(n, "axes", args[1].tolist() if len(args) > 1 and args[1] is not None else None)
        if n.op_type == "Unsqueeze":
            return np.expand_dims(args[0], tuple(axes))
        return np.squeeze(args[0], tuple(axes) if axes is not None else None)
    if n.op_type == "Concat":
        return np.concatenate([np.atleast_1d(a) for a in args], axis=attribute(n, "axis", 0))
    if n.op_type == "Slice" and len(args) >= 3 and args[0].ndim == 1:
        step = int(args[4][0]) if len(args) > 4 and args[4] is not None else 1
        return args[0][int(args[1][0]):int(args[2][0]):step]
    return None


def _squeezes_to_features(g: OnnxGraph, n: onnx.NodeProto) -> bool:
    """Squeeze of an activation's size-1 dimensions after the channels: (batch, C, 1) → (batch, C)."""
    src, out = g.shapes.get(n.input[0]), g.shapes.get(n.output[0])
    return (src is not None and out is not None and len(src) > 2 and len(out) == 2
            and int(out[1]) == int(src[1]) and int(np.prod(src[1:])) == int(src[1]))


def _flattens(src, shape: Optional[np.ndarray]) -> bool:
    """Reshape of ``src`` (batch first) to ``shape`` is a flatten to (batch, features)."""
    shape = None if shape is None else np.asarray(shape)
    if shape is None or shape.ndim != 1 or len(shape) != 2:
        return False
    batch, rest = int(shape[0]), int(shape[1])
    keeps_batch = batch in (BATCH, 0, int(src[0]))
    if rest == -1:
        return keeps_batch
    return rest == int(np.prod(src[1:])) and (keeps_batch or batch == -1)


def drop_unread(g: OnnxGraph) -> bool:
    """Nodes whose outputs nothing reads (and that write no graph output) are removed, repeatedly."""
    removed = False
    while True:
        read = {i for n in g.nodes for i in n.input} | set(g.outputs)
        keep = [n for n in g.nodes if any(o in read for o in n.output)]
        if len(keep) == len(g.nodes):
            return removed
        g.nodes[:] = keep
        removed = True


def explicit_defaults(g: OnnxGraph) -> bool:
    changed = False
    for n in g.nodes:
        if n.op_type not in ("Conv", "MaxPool", "AveragePool") or n.input[0] not in g.shapes:
            continue
        rank = len(g.shapes[n.input[0]]) - 2
        changed |= _explicit_auto_pad(g, n, rank)
        for name, value in (("pads", [0] * (2 * rank)), ("strides", [1] * rank), ("dilations", [1] * rank)):
            if attribute(n, name) is None and not (name == "dilations" and n.op_type == "AveragePool"):
                set_attribute(n, name, value)
                changed = True
    return changed


def _explicit_auto_pad(g: OnnxGraph, n: onnx.NodeProto, rank: int) -> bool:
    """auto_pad (PyTorch's padding='same', 'valid') → explicit pads, as ONNX defines them: SAME_UPPER
    puts an odd padding's extra element at the end, SAME_LOWER at the beginning."""
    mode = attribute(n, "auto_pad", b"NOTSET")
    mode = mode.decode() if isinstance(mode, bytes) else str(mode)
    if mode == "NOTSET":
        return False
    size = [int(d) for d in g.shapes[n.input[0]][2:]]
    kernel = attribute(n, "kernel_shape") or list(g.inits[n.input[1]].shape[2:])
    strides, dilations = attribute(n, "strides") or [1] * rank, attribute(n, "dilations") or [1] * rank
    begin, end = [0] * rank, [0] * rank
    if mode in ("SAME_UPPER", "SAME_LOWER"):
        for d in range(rank):
            out = -(-size[d] // strides[d])
            total = max(0, (out - 1) * strides[d] + (kernel[d] - 1) * dilations[d] + 1 - size[d])
            small, large = total // 2, total - total // 2
            begin[d], end[d] = (small, large) if mode == "SAME_UPPER" else (large, small)
    kept = [a for a in n.attribute if a.name not in ("auto_pad", "pads")]
    del n.attribute[:]
    n.attribute.extend(kept)
    set_attribute(n, "pads", begin + end)
    return True


def zero_pads_into_convs(g: OnnxGraph) -> bool:
    """A zero Pad whose every reader is a Conv → its spatial padding added to each Conv's ``pads`` (see the module
    doc). Other Pads are left for the support check to name."""
    consumers, outputs = g.consumers(), set(g.outputs)
    dropped = set()
    for n in g.nodes:
        pads = _zero_spatial_pads(g, n)
        readers = consumers.get(n.output[0], []) if pads is not None else []
        if (not readers or n.output[0] in outputs
                or any(r.op_type != "Conv" or r.domain not in ("", "ai.onnx") for r in readers)):
            continue                                  # (a channels-last Conv's pads would be read as NHWC)
        k = len(pads) // 2 - 2                        # spatial axes
        for r in readers:
            own = [int(p) for p in attribute(r, "pads") or [0] * (2 * k)]
            set_attribute(r, "pads", [own[i] + pads[2 + i] for i in range(k)]
                          + [own[k + i] + pads[len(pads) // 2 + 2 + i] for i in range(k)])
            r.input[0] = n.input[0]
        dropped.add(n.name)
    g.nodes[:] = [n for n in g.nodes if n.name not in dropped]
    return bool(dropped)


def _zero_spatial_pads(g: OnnxGraph, n: onnx.NodeProto) -> Optional[List[int]]:
    """A Pad's pads (begin..., end...) when it pads with zeros on spatial axes only, else None."""
    if n.op_type != "Pad":
        return None
    mode = attribute(n, "mode", b"constant")
    if (mode.decode() if isinstance(mode, bytes) else str(mode)) != "constant":
        return None
    pads = g.inits.get(n.input[1]) if len(n.input) > 1 and n.input[1] else attribute(n, "pads")
    value = g.inits.get(n.input[2], None) if len(n.input) > 2 and n.input[2] else attribute(n, "value", 0.0)
    if pads is None or value is None or np.any(np.asarray(value) != 0) or (len(n.input) > 3 and n.input[3]):
        return None
    pads = [int(p) for p in np.asarray(pads).ravel()]
    half = len(pads) // 2
    if half < 3 or any(pads[:2]) or any(pads[half:half + 2]) or min(pads) < 0:
        return None                                   # batch/channel padding or cropping
    return pads


def constant_bounds(g: OnnxGraph) -> bool:
    """Clip(x[, min[, max]]) with min/max as initializers (±inf where absent)."""
    changed = False
    for n in g.nodes:
        if n.op_type != "Clip":
            continue
        lo, hi = clip_bounds(g, n)
        has_attrs = any(a.name in ("min", "max") for a in n.attribute)
        if has_attrs or len(n.input) != 3 or not all(i in g.inits for i in n.input[1:]):
            new = helper.make_node("Clip", [n.input[0], g.add_init(f"{n.name}_min", np.float32(lo)),
                                            g.add_init(f"{n.name}_max", np.float32(hi))], list(n.output), name=n.name)
            n.CopyFrom(new)
            changed = True
    return changed


def clip_bounds(g: OnnxGraph, n: onnx.NodeProto) -> tuple:
    """(min, max) of a Clip node, ±inf when absent; an error when they are not constants."""
    bounds = [attribute(n, "min", -np.inf), attribute(n, "max", np.inf)]
    for k in (1, 2):
        if len(n.input) > k and n.input[k]:
            if n.input[k] not in g.inits:
                raise ExportError(f"layer '{n.name}': Clip bounds must be constants")
            bounds[k - 1] = float(np.asarray(g.inits[n.input[k]]).reshape(-1)[0])
    return float(bounds[0]), float(bounds[1])


def spatial_mean_to_global_pool(g: OnnxGraph) -> bool:
    """ReduceMean over every spatial axis → GlobalAveragePool (then Flatten without keepdims:
    ``x.mean([2, 3])``)."""
    nodes: List[onnx.NodeProto] = []
    changed = False
    for n in g.nodes:
        rank = len(g.shapes[n.input[0]]) if n.input and n.input[0] in g.shapes else 0
        axes = attribute(n, "axes") if n.op_type == "ReduceMean" else None
        if n.op_type == "ReduceMean" and axes is None and len(n.input) > 1 and n.input[1] in g.inits:
            axes = np.asarray(g.inits[n.input[1]]).reshape(-1).tolist()
        if rank <= 2 or axes is None or sorted(a % rank for a in axes) != list(range(2, rank)):
            nodes.append(n)
            continue
        if attribute(n, "keepdims", 1):
            nodes.append(helper.make_node("GlobalAveragePool", [n.input[0]], list(n.output), name=n.name))
        else:
            pooled = g.fresh(f"{n.output[0]}_pooled")
            g.shapes[pooled] = (*g.shapes[n.input[0]][:2], *[1] * (rank - 2))
            nodes.append(helper.make_node("GlobalAveragePool", [n.input[0]], [pooled], name=n.name))
            nodes.append(helper.make_node("Flatten", [pooled], list(n.output), name=g.fresh(f"{n.name}_flatten"),
                                          axis=1))
        changed = True
    g.nodes[:] = nodes
    return changed


GLOBAL_POOLS = {"AveragePool": "GlobalAveragePool", "MaxPool": "GlobalMaxPool"}


def whole_map_pools_to_global(g: OnnxGraph) -> bool:
    """AveragePool/MaxPool (pads written out) whose window is its whole unpadded input map → the global
    pooling of the same function (``codesign.sim.hls_rules.is_global_pool``, the rule the estimator prices)."""
    from ..sim.hls_rules import is_global_pool

    changed = False
    for k, n in enumerate(g.nodes):
        if n.op_type not in GLOBAL_POOLS or len(n.output) > 1 or n.input[0] not in g.shapes:
            continue
        if is_global_pool(g.shapes[n.input[0]][2:], attribute(n, "kernel_shape"), attribute(n, "pads", [])):
            g.nodes[k] = helper.make_node(GLOBAL_POOLS[n.op_type], [n.input[0]], list(n.output), name=n.name)
            changed = True
    return changed


def fold_batchnorm(g: OnnxGraph, fused: Dict[str, str]) -> bool:
    """BatchNormalization whose input is written by a Conv or a (bias-added) MatMul with constant
    weights, read by nothing else, is folded into that layer. ``fused``: {bias Add: MatMul}."""
    producers, consumers = g.producers(), g.consumers()
    drop = []
    for bn in g.nodes:
        if bn.op_type != "BatchNormalization" or not all(i in g.inits for i in bn.input[1:5]):
            continue
        if len(consumers.get(bn.input[0], [])) != 1 or bn.input[0] in g.outputs:
            continue
        target = _fold_target(g, producers.get(bn.input[0]), fused)
        if target is None:
            continue
        scale, beta, mean, var = (np.asarray(g.inits[i], dtype=np.float64).reshape(-1) for i in bn.input[1:5])
        s = scale / np.sqrt(var + attribute(bn, "epsilon", 1e-5))
        _fold_into(g, *target, s, beta - mean * s)
        if bn.output[0] in g.outputs:
            g.rename_tensor(bn.input[0], bn.output[0])
        else:
            g.rename_tensor(bn.output[0], bn.input[0])
        drop.append(bn)
    g.nodes[:] = [n for n in g.nodes if all(n is not d for d in drop)]
    return bool(drop)


def _fold_target(g: OnnxGraph, src: Optional[onnx.NodeProto], fused: Dict[str, str]):
    """(layer, output axis of its weight, bias tensor) a BatchNorm after ``src`` folds into."""
    if src is None:
        return None
    if src.op_type == "Conv" and src.input[1] in g.inits:
        if len(src.input) < 3 or not src.input[2]:
            while len(src.input) < 3:
                src.input.append("")
            src.input[2] = g.add_init(f"{src.name}_bias", np.zeros(g.inits[src.input[1]].shape[0], np.float32))
        return src, 0, src.input[2]
    if src.name in fused:                              # the bias Add of a Linear layer
        matmul = next(n for n in g.nodes if n.name == fused[src.name])
        bias = next((i for i in src.input if i in g.inits), None)
        return (matmul, 1, bias) if matmul.input[1] in g.inits and bias is not None else None
    if src.op_type == "MatMul" and src.input[1] in g.inits:
        return src, 1, _add_zero_bias(g, src, fused)
    return None


def _fold_into(g: OnnxGraph, layer: onnx.NodeProto, axis: int, bias: str, s: np.ndarray, shift: np.ndarray) -> None:
    """weight ·= s along the output axis; bias = bias·s + shift."""
    w = np.asarray(g.inits[layer.input[1]], dtype=np.float64)
    shape = [1] * w.ndim
    shape[axis] = -1
    g.inits[layer.input[1]] = (w * s.reshape(shape)).astype(np.float32)
    b = np.asarray(g.inits[bias], dtype=np.float64)
    g.inits[bias] = (b.reshape(-1) * s + shift).astype(np.float32).reshape(b.shape)


def _add_zero_bias(g: OnnxGraph, matmul: onnx.NodeProto, fused: Dict[str, str]) -> str:
    """Give a bias-less MatMul a zero bias Add (hls4ml folds it into the Dense layer); its name."""
    n_out = int(np.shape(g.inits[matmul.input[1]])[-1])
    mm_out = g.fresh(f"{matmul.output[0]}_matmul")
    g.shapes[mm_out] = g.shapes[matmul.output[0]]
    bias = g.add_init(f"{matmul.name}_bias", np.zeros(n_out, np.float32))
    add = helper.make_node("Add", [mm_out, bias], [matmul.output[0]], name=g.fresh(f"{matmul.name}_bias"))
    matmul.output[0] = mm_out
    g.nodes.insert(next(k for k, n in enumerate(g.nodes) if n is matmul) + 1, add)
    fused[add.name] = matmul.name
    return bias


def binary_concats(g: OnnxGraph) -> bool:
    out: List[onnx.NodeProto] = []
    changed = False
    for n in g.nodes:
        if n.op_type != "Concat" or len(n.input) <= 2:
            out.append(n)
            continue
        shapes = [g.shape_of(t) for t in n.input]
        if g.shape_of(n.output[0]) is None or any(s is None or len(s) == 0 for s in shapes):
            out.append(n)                              # shape arithmetic on constants: not a layer, left alone
            continue
        axis = attribute(n, "axis")
        rank = len(g.shapes[n.output[0]])
        left, shape = n.input[0], list(shapes[0])
        for k, right in enumerate(n.input[1:], start=1):
            last = k == len(n.input) - 1
            name = n.output[0] if last else g.fresh(f"{n.output[0]}_part{k}")
            if not last:
                shape[axis % rank] += shapes[k][axis % rank]
                g.shapes[name] = tuple(shape)
            out.append(helper.make_node("Concat", [left, right], [name], axis=axis,
                                        name=n.name if last else g.fresh(f"{n.name}_part{k}")))
            left = name
        changed = True
    g.nodes[:] = out
    return changed


GROUPED_NOTE = "codesign: a grouped convolution of {} groups, written block-diagonal"
_GROUPED = re.compile(re.escape(GROUPED_NOTE).replace(r"\{\}", r"(\d+)"))


def groups_before_dense(node: onnx.NodeProto) -> int:
    """The groups of a convolution :func:`grouped_conv_to_dense` wrote block-diagonal (its ``doc_string`` says),
    else 1: of its weights, a share 1 − 1/groups are off-group zeros, not pruned ones."""
    found = _GROUPED.fullmatch(node.doc_string or "")
    return int(found.group(1)) if found else 1


def grouped_conv_to_dense(g: OnnxGraph) -> bool:
    from ..sim.grouped_convs import hls4ml_keeps_groups      # the estimator prices what this pass leaves

    changed = False
    for n in g.nodes:
        group = attribute(n, "group", 1)
        if n.op_type != "Conv" or group == 1 or n.input[0] not in g.shapes or \
                hls4ml_keeps_groups(group, g.shapes[n.input[0]][1], g.shapes[n.output[0]][1]):
            continue
        if n.input[1] not in g.inits:
            raise ExportError(f"layer '{n.name}': a grouped convolution needs constant weights")
        w = np.asarray(g.inits[n.input[1]])
        c_out, per_group = w.shape[0], w.shape[1]
        dense = np.zeros((c_out, per_group * group) + w.shape[2:], dtype=w.dtype)
        outs = c_out // group
        for k in range(group):
            dense[k * outs:(k + 1) * outs, k * per_group:(k + 1) * per_group] = w[k * outs:(k + 1) * outs]
        g.inits[n.input[1]] = dense
        set_attribute(n, "group", 1)
        n.doc_string = GROUPED_NOTE.format(group)
        changed = True
    return changed
