"""Channels-last conversion in one linear pass (hls4ml's ONNX frontend needs NHWC tensors and
qonnx's channels-last op domain on Conv, pooling and BatchNormalization).

Instead of inserting Transpose pairs and moving them through the graph (qonnx's approach, which
leaves a Transpose in front of a ResNet's global average pool: hls4ml then reads the NCHW tensor
as NHWC and C simulation dies with SIGILL in ``global_pooling2d_cl``), every 4-D activation tensor
is declared NHWC at once, and the few places where the order of elements matters are fixed:

- Conv weights become (out, kH, kW, in), the layout hls4ml's channels-last Conv expects;
- the graph input becomes NHWC (csim feeds ``x.permute(0, 2, 3, 1)``);
- GlobalAveragePool/GlobalMaxPool stay global poolings (hls4ml's GlobalPooling1D/2D: one accumulator
  per channel; ``codesign.sim.hls_rules.is_global_pool``), in the channels-last op domain so that ONNX
  shape inference leaves their NHWC shapes alone; hls4ml's handler reads NCHW dimensions even on NHWC
  tensors, which :mod:`codesign.export.frontend_hls4ml` corrects;
- a Flatten of a feature map larger than 1×1 that feeds a MatMul has the MatMul's weight rows
  permuted from (c, h, w) to (h, w, c) order, so no Transpose is needed in hardware;
- constants broadcast against feature maps ((1, C, 1, 1) or (C, 1, 1)) are permuted to match;
- Concat on channels concatenates on the last axis.
"""
from __future__ import annotations

from typing import Dict, List

import numpy as np
import onnx

from ..errors import ExportError
from .graph import CHANNELS_LAST, OnnxGraph, set_attribute

LAYOUT_OPS = {"Conv", "MaxPool", "AveragePool", "BatchNormalization"}
GLOBAL_POOLS = {"GlobalAveragePool", "GlobalMaxPool"}
ELEMENTWISE = {"Relu", "LeakyRelu", "Sigmoid", "Tanh", "Add", "Sub", "Mul", "Clip", "Quant"}


def nchw_to_nhwc(shape):
    return (shape[0], *shape[2:], shape[1])


def feature_maps(g: OnnxGraph) -> set:
    """The 4-D (and 3-D) activation tensors: those channels-last conversion turns NHWC. A graph with any
    is built io_stream under io_type auto (:func:`codesign.export.hls.build_hls`)."""
    constant = g.constant_tensors()
    return {name for name, s in g.shapes.items() if len(s) in (3, 4) and name not in constant}


def to_channels_last(g: OnnxGraph) -> bool:
    """Convert every 4-D (and 3-D) activation tensor to channels-last; no-op for MLPs."""
    spatial = feature_maps(g)
    if not spatial:
        return False
    consumers, producers = g.consumers(), g.producers()
    out: List[onnx.NodeProto] = []
    for n in g.nodes:
        if not any(i in spatial for i in n.input):
            out.append(n)
            continue
        if n.op_type in LAYOUT_OPS or n.op_type in GLOBAL_POOLS:
            n.domain = CHANNELS_LAST
            if n.op_type == "Conv":      # channels-last Conv weights are (out, *kernel, in)
                weight = g.inits[g.param_init(n.input[1], producers)]
                g.set_param(n.input[1], np.moveaxis(weight, 1, -1), producers)
        elif n.op_type == "Flatten":
            _flatten_to_nhwc(g, n, consumers, producers)
        elif n.op_type in ELEMENTWISE:
            _permute_broadcast_constants(g, n, spatial)
        elif n.op_type == "Concat":      # on channels (support.py): the last axis in NHWC
            set_attribute(n, "axis", -1)
        else:
            raise ExportError(f"layer '{n.name}': {n.op_type} on a feature map is not supported by the "
                              f"channels-last conversion; replace it or export the layers before it")
        out.append(n)
    g.nodes[:] = out
    for name in spatial:
        g.shapes[name] = nchw_to_nhwc(g.shapes[name])
    return True


def _flatten_to_nhwc(g: OnnxGraph, flat: onnx.NodeProto, consumers: Dict[str, list], producers) -> None:
    nchw = g.shapes[flat.input[0]]
    if int(np.prod(nchw[2:])) == 1:
        return                                     # 1×1 maps flatten the same in both layouts
    users = consumers.get(flat.output[0], [])
    if not users or any(u.op_type != "MatMul" or g.param_init(u.input[1], producers) is None for u in users):
        raise ExportError(f"layer '{flat.name}': a flattened feature map must feed Linear layers only "
                          f"(found {', '.join(u.op_type for u in users) or 'a graph output'})")
    c, rest = nchw[1], nchw[2:]
    # row r of the NHWC-flattened vector holds element (h, w, c) = NCHW row c*H*W + h*W + w
    order = np.arange(int(np.prod(nchw[1:]))).reshape(c, *rest)
    order = np.moveaxis(order, 0, -1).reshape(-1)
    for u in users:
        g.set_param(u.input[1], g.inits[g.param_init(u.input[1], producers)][order], producers)


def _permute_broadcast_constants(g: OnnxGraph, n: onnx.NodeProto, spatial) -> None:
    rank = max(len(g.shapes[i]) for i in n.input if i in spatial)
    for i in n.input:
        value = g.inits.get(i)
        if value is None or value.ndim < 2:
            continue
        if value.ndim == rank:
            g.inits[i] = np.ascontiguousarray(np.moveaxis(value, 1, -1))
        elif value.ndim == rank - 1:
            g.inits[i] = np.ascontiguousarray(np.moveaxis(value, 0, -1))

