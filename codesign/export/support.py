"""What the export supports, checked on the ONNX graph right after torch.onnx (and the normal forms
of :mod:`codesign.export.normalize`), before any slow step: an unsupported op is one line naming
the PyTorch layer and what to do."""
from __future__ import annotations

from typing import List, Mapping, Optional

import onnx

from ..errors import ExportError
from .graph import OnnxGraph, attribute, torch_scope
from .quantizers import check_quantizer

# ONNX ops → the PyTorch modules users know them as (for the error message)
SUPPORTED = {
    "Conv": "Conv1d/Conv2d (also grouped, depthwise)", "Gemm": "Linear", "MatMul": "Linear", "Add": "+ (residual add)",
    "Sub": "-", "Mul": "* (by a tensor of the same shape)", "Max": "torch.maximum", "Min": "torch.minimum",
    "Relu": "ReLU", "LeakyRelu": "LeakyReLU", "Clip": "ReLU6/Hardtanh/clamp",
    "Concat": "torch.cat on channels", "Sigmoid": "Sigmoid", "Tanh": "Tanh", "Softmax": "Softmax",
    "MaxPool": "MaxPool1d/2d", "AveragePool": "AvgPool1d/2d", "GlobalAveragePool": "AdaptiveAvgPool2d(1)",
    "GlobalMaxPool": "AdaptiveMaxPool2d(1)", "Flatten": "Flatten", "BatchNormalization": "BatchNorm",
    "Identity": "Identity", "Dropout": "Dropout", "Constant": "(constants)",
    "ReduceMean": "mean over the spatial dimensions", "Reshape": "view/reshape to (batch, features)",
    "Quant": "brevitas quantizers (QONNX Quant, power-of-two scales)",
}


def layer_of(node: onnx.NodeProto, module_types: Optional[Mapping[str, str]] = None) -> str:
    """"layer 'fc1' (Gemm)", or with the PyTorch module type: "layer 'act' (GELU, ONNX Erf)"."""
    scope = torch_scope(node)
    kind = (module_types or {}).get(scope or "")
    what = f"{kind}, ONNX {node.op_type}" if kind and kind.lower() != node.op_type.lower() else node.op_type
    return f"layer '{scope}' ({what})" if scope else f"op {node.op_type} ('{node.name}')"


def check_supported(g: OnnxGraph, module_types: Optional[Mapping[str, str]] = None) -> None:
    """Raise ExportError for an op hls4ml's ONNX path cannot take (see :func:`_to_name`), else the first
    attribute it cannot take;
    ``module_types`` ({module path: class name}) lets the message name the PyTorch layer type."""
    if len(g.inputs) != 1 or len(g.outputs) != 1:
        raise ExportError(f"the model has {len(g.inputs)} inputs and {len(g.outputs)} outputs; the export "
                          f"supports one of each")
    bad = [node for node in g.nodes if node.op_type not in SUPPORTED]
    if bad:
        raise ExportError(f"{layer_of(_to_name(bad, module_types), module_types)} is not supported by the hls4ml "
                          f"export; use only {', '.join(sorted(set(SUPPORTED.values()) - {'(constants)'}))}, "
                          f"or replace it")
    for node in g.nodes:
        _check_attributes(g, node)


def check_io_stream(clean, io_type: str, module_types: Optional[Mapping[str, str]] = None) -> None:
    """Raise ExportError for a layer hls4ml's io_stream kernels cannot build, where the project of the
    cleaned graph ``clean`` (:class:`~codesign.export.passes.CleanGraph`) is io_stream (``io_type``
    io_stream, or auto on a graph with feature maps, as :func:`~codesign.export.hls.build_hls` chooses): a
    pooling :func:`~codesign.sim.hls_rules.stream_pooling_problem` refuses (hls4ml converts it, then the C
    simulation dies on an assertion)."""
    from ..sim.hls_rules import stream_pooling_problem
    from .layout import feature_maps

    g = clean.graph
    if io_type != "io_stream" and not (io_type == "auto" and feature_maps(g)):
        return
    for node in g.nodes:
        if node.op_type not in ("MaxPool", "AveragePool"):
            continue
        kernel = [int(k) for k in attribute(node, "kernel_shape")]
        stride = [int(s) for s in attribute(node, "strides", [1] * len(kernel))]
        padded = any(int(p) for p in attribute(node, "pads", []))     # auto_pad is explicit pads by now
        problem = stream_pooling_problem(kernel, stride, padded, len(kernel) == 1)
        if problem:
            name = clean.layer_names.get(node.name, node.name)
            kind = (module_types or {}).get(name)
            raise ExportError(f"layer '{name}' ({f'{kind}, ONNX ' if kind else ''}{node.op_type}): {problem}")


def _to_name(bad: List[onnx.NodeProto], module_types: Optional[Mapping[str, str]]) -> onnx.NodeProto:
    """The unsupported node an error names: one inside a PyTorch module before a bare tensor op (the LSTM,
    not the ``x.transpose()`` that feeds it), and in that module the op of the module's own kind (ONNX
    LSTM, not the Shape of its initial state)."""
    scoped = [node for node in bad if torch_scope(node)]
    if not scoped:
        return bad[0]
    scope = torch_scope(scoped[0])
    kind = (module_types or {}).get(scope, "").lower()
    return next((n for n in scoped if torch_scope(n) == scope and n.op_type.lower() == kind), scoped[0])


def hls4ml_verdict(model: onnx.ModelProto, module_types: Optional[Mapping[str, str]] = None) -> str:
    """'supported', or why the hls and fpga targets refuse this ONNX model (the one-line error they give)."""
    from .passes import clean_graph

    try:
        clean_graph(model, dict(module_types or {}))
    except ExportError as err:
        return f"not supported: {err}"
    return "supported"


def _check_attributes(g: OnnxGraph, node: onnx.NodeProto) -> None:
    where = layer_of(node)
    if node.op_type == "Quant":
        check_quantizer(g, node, where)
    if node.op_type == "Conv":
        rank = len(g.shapes[node.input[0]]) - 2
        if rank not in (1, 2):
            raise ExportError(f"{where}: only 1-D and 2-D convolutions export to hls4ml")
        if attribute(node, "auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
            raise ExportError(f"{where}: padding='same' is not supported; give explicit padding")
    if node.op_type in ("Conv", "MaxPool", "AveragePool") and any(int(d) != 1 for d in attribute(node, "dilations", [])):
        raise ExportError(f"{where}: dilation {list(attribute(node, 'dilations'))} is not supported (hls4ml's ONNX "
                          f"converter sizes a dilated kernel as kernel x dilation and its stream kernels do not "
                          f"dilate); use dilation=1")
    if node.op_type in ("MaxPool", "AveragePool") and attribute(node, "ceil_mode", 0):
        raise ExportError(f"{where}: ceil_mode=True pooling is not supported; use ceil_mode=False")
    if node.op_type == "Flatten" and attribute(node, "axis", 1) != 1:
        raise ExportError(f"{where}: only Flatten(start_dim=1) is supported")
    if node.op_type in ("ReduceMean", "Reshape"):     # the forms normalize.py knows are gone by now
        what = "a mean over other than all spatial dimensions" if node.op_type == "ReduceMean" else \
            f"a reshape to {g.shapes.get(node.output[0])}"
        raise ExportError(f"{where}: {what} is not supported; only global average pooling and flattening to "
                          f"(batch, features) are")
    if node.op_type == "Concat":
        rank = len(g.shapes[node.output[0]])
        if attribute(node, "axis") % rank != 1:
            raise ExportError(f"{where}: concatenation along dimension {attribute(node, 'axis')} is not supported; "
                              f"concatenate on channels (dim=1)")
    if node.op_type in ("Mul", "Add", "Sub", "Max", "Min"):
        shapes = [g.shapes.get(i) for i in node.input if i not in g.inits]
        if len(shapes) == 2 and shapes[0] != shapes[1]:
            raise ExportError(f"{where}: broadcasting between tensors of shapes {shapes[0]} and {shapes[1]} "
                              f"is not supported")
