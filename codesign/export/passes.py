"""Graph clean-up passes for ONNX exported by torch.onnx: linear-time replacements for the parts of
qonnx's cleanup that hls4ml needs (constant inlining, Identity removal, one initializer per use,
Gemm → MatMul + bias Add, readable layer names). Each pass edits an :class:`OnnxGraph` in place
and returns whether it changed anything.

Why not qonnx's cleanup: its shape inference swaps every channels-last Conv for a Constant node
holding a random tensor of the full output size and keys a dict by the text form of each node, so
one shape inference costs time proportional to all activations, and its channels-last
conversion reruns shape inference after every moved Transpose (once per residual Add): quadratic
in depth (ResNet-110: about 16 minutes on one core). See benchmarks/export_resnet110.py.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import numpy as np
import onnx
from onnx import helper, numpy_helper

from ..errors import ExportError
from ..naming import op_names
from .graph import OnnxGraph, attribute, torch_scope


def constants_to_initializers(g: OnnxGraph) -> bool:
    """Constant nodes become initializers."""
    keep, changed = [], False
    for n in g.nodes:
        value = attribute(n, "value") if n.op_type == "Constant" else None
        if value is None:
            keep.append(n)
            continue
        g.inits[n.output[0]] = numpy_helper.to_array(value)
        g.shapes.pop(n.output[0], None)
        changed = True
    g.nodes[:] = keep
    return changed


def drop_identities(g: OnnxGraph) -> bool:
    """Identity and Dropout (inference) nodes are removed; their consumers read the source."""
    keep, alias = [], {}
    for n in g.nodes:
        if n.op_type in ("Identity", "Dropout"):
            alias[n.output[0]] = n.input[0]
        else:
            keep.append(n)
    if not alias:
        return False

    def resolve(name: str) -> str:
        while name in alias:
            name = alias[name]
        return name

    for n in keep:
        for k, name in enumerate(n.input):
            n.input[k] = resolve(name)
    for k, name in enumerate(g.outputs):
        source = resolve(name)
        if source != name:   # a graph output must stay produced by a node: keep the name
            if source in g.inits:
                g.inits[name] = g.inits[source]
            else:
                _rename_output(g, keep, source, name)
    g.nodes[:] = keep
    return True


def _rename_output(g: OnnxGraph, nodes: List[onnx.NodeProto], old: str, new: str) -> None:
    for n in nodes:
        for seq in (n.input, n.output):
            for k, t in enumerate(seq):
                if t == old:
                    seq[k] = new
    g.shapes[new] = g.shapes.pop(old, g.shapes.get(new))


def unique_parameters(g: OnnxGraph) -> bool:
    """Every initializer feeds exactly one node (hls4ml turns each into one layer's weights)."""
    seen, changed = set(), False
    for n in g.nodes:
        for k, name in enumerate(n.input):
            if name not in g.inits:
                continue
            if name in seen:
                n.input[k] = g.add_init(name, g.inits[name].copy())
                changed = True
            seen.add(n.input[k])
    return changed


def name_parameters(g: OnnxGraph) -> bool:
    """Initializers are named after the node that uses them ('fc1_param1'); names like
    'onnx::Conv_203' are not valid C++ identifiers."""
    changed = False
    for n in g.nodes:
        for k, old in enumerate(n.input):
            if old in g.inits and not old.startswith(f"{n.name}_param"):
                new = g.fresh(f"{n.name}_param{k}")
                g.inits[new] = g.inits.pop(old)
                n.input[k] = new
                changed = True
    return changed


def gemm_to_matmul(g: OnnxGraph, fused: Optional[Dict[str, str]] = None) -> bool:
    """Gemm(A, B, C) → MatMul(A, B') + Add(C) with B transposed to (in, out) and alpha/beta folded
    into the constants (hls4ml has no Gemm handler; MatMul with a constant, quantized or not,
    becomes a Dense layer, which absorbs the Add as its bias). ``fused`` collects
    {bias Add name: MatMul name}."""
    out, changed, producers = [], False, g.producers()
    for n in g.nodes:
        if n.op_type != "Gemm":
            out.append(n)
            continue
        weight = g.param_init(n.input[1], producers)
        quantized = weight != n.input[1]
        alpha, beta = attribute(n, "alpha", 1.0), attribute(n, "beta", 1.0)
        if attribute(n, "transA", 0) or weight is None or (quantized and (alpha != 1.0 or beta != 1.0)):
            raise ExportError(f"layer '{n.name}': Gemm with a transposed or non-constant input is not supported; "
                              f"use nn.Linear")
        value = g.inits[weight]
        value = (value.T if attribute(n, "transB", 0) else value) * (1.0 if quantized else alpha)
        if quantized:
            g.set_param(n.input[1], value.astype(np.float32), producers)
            w_name = n.input[1]
        else:
            w_name = g.add_init(f"{n.name}_weight", value.astype(np.float32))
        if len(n.input) > 2 and n.input[2]:
            mm_out = g.fresh(f"{n.output[0]}_matmul")
            g.shapes[mm_out] = g.shapes[n.output[0]]
            b_name = n.input[2]
            if b_name in g.inits:
                b_name = g.add_init(f"{n.name}_bias", np.broadcast_to(g.inits[b_name] * beta,
                                                                      value.shape[1:]).astype(np.float32))
            out.append(helper.make_node("MatMul", [n.input[0], w_name], [mm_out], name=n.name))
            out.append(helper.make_node("Add", [mm_out, b_name], [n.output[0]], name=f"{n.name}_bias"))
            if fused is not None:
                fused[f"{n.name}_bias"] = n.name
        else:
            out.append(helper.make_node("MatMul", [n.input[0], w_name], [n.output[0]], name=n.name))
        changed = True
    g.nodes[:] = out
    return changed


def flatten_graph_input(g: OnnxGraph) -> bool:
    """An input that only feeds a Flatten (an MLP), possibly through elementwise quantizers,
    becomes a flat input: hls4ml's Dense needs no reshape and the hardware sees a vector."""
    if len(g.inputs) != 1:
        return False
    consumers = g.consumers()
    chain, tensor = [g.inputs[0]], g.inputs[0]
    while len(consumers.get(tensor, [])) == 1 and consumers[tensor][0].op_type == "Quant":
        tensor = consumers[tensor][0].output[0]
        chain.append(tensor)
    users = consumers.get(tensor, [])
    if len(users) != 1 or users[0].op_type != "Flatten" or len(g.shapes[tensor]) <= 2:
        return False
    flat = users[0]
    g.nodes.remove(flat)
    flat_shape = g.shapes[flat.output[0]]
    g.rename_tensor(flat.output[0], tensor)
    for name in chain:
        g.shapes[name] = flat_shape
    return True


def _rename_io(g: OnnxGraph) -> None:
    """hls4ml reserves the layer name 'input'; the hardware ports are model_input/model_output."""
    for seq, base in ((g.inputs, "model_input"), (g.outputs, "model_output")):
        for k, old in enumerate(list(seq)):
            new = base if len(seq) == 1 else f"{base}_{k}"
            if old != new:
                g.rename_tensor(old, g.fresh(new))


def readable_names(g: OnnxGraph) -> Dict[str, str]:
    """Name every node after its PyTorch module, C-identifier safe, by :func:`codesign.naming.op_names`
    ('layers.0.0.conv1' → 'layers_0_0_conv1'; an op inside a container module gets the op appended:
    'layers_0_0_add'). Returns {new node name: PyTorch-style dotted name}."""
    dotted: Dict[str, str] = {}
    for n, (name, torch_name) in zip(g.nodes, op_names([(torch_scope(n), n.op_type) for n in g.nodes])):
        n.name = name
        dotted[name] = torch_name
    return dotted


@dataclass
class CleanGraph:
    """The export graph after clean-up, still NCHW (what the emulator runs), and how to feed it."""
    graph: OnnxGraph
    input_layout: str                    # 'flat' (MLPs), 'nchw' until channels-last conversion
    layer_names: Dict[str, str]          # C-safe node name → PyTorch-style dotted name
    fused_bias: Dict[str, str]           # bias Add node → the MatMul node whose Dense layer it joins


def normal_graph(model: onnx.ModelProto) -> OnnxGraph:
    """Any ONNX model in the forms :mod:`codesign.export.normalize` brings it to (no support check:
    the simulator reads it too, and maps more ops than hls4ml converts)."""
    from . import normalize

    if any(n.op_type == "Pad" for n in model.graph.node):   # nn.ZeroPad2d's pads come from a constant chain
        from ..sim.onnx_fold import fold_constants

        model = fold_constants(model)
    g = OnnxGraph.from_model(model)
    constants_to_initializers(g)
    drop_identities(g)
    if normalize.flatten_reshapes(g):
        g = g.reinferred()
    for normal_form in (normalize.explicit_defaults, normalize.constant_bounds, normalize.spatial_mean_to_global_pool,
                        normalize.whole_map_pools_to_global, normalize.zero_pads_into_convs, normalize.binary_concats,
                        normalize.grouped_conv_to_dense):
        normal_form(g)
    return g


def clean_graph(model: onnx.ModelProto, module_types: Optional[Dict[str, str]] = None) -> CleanGraph:
    """Raw torch.onnx export (or an ONNX file from elsewhere, brought to the same forms by
    :mod:`codesign.export.normalize`) → a checked, named graph of ops hls4ml takes (linear time).
    ``module_types`` ({PyTorch module path: class name}) improves unsupported-layer messages."""
    from .support import check_supported

    from . import normalize

    g = normal_graph(model)
    check_supported(g, module_types)
    g.require_shapes()
    names = readable_names(g)
    _rename_io(g)
    fused: Dict[str, str] = {}
    gemm_to_matmul(g, fused)
    unique_parameters(g)
    normalize.fold_batchnorm(g, fused)
    name_parameters(g)
    layout = "flat" if flatten_graph_input(g) else "nchw"
    for node in g.nodes:
        names.setdefault(node.name, names.get(fused.get(node.name, ""), node.name))
    return CleanGraph(g, layout, names, fused)


def hls_ready(clean: CleanGraph) -> Tuple[onnx.ModelProto, str]:
    """The channels-last graph hls4ml's ONNX frontend converts, and its input layout
    ('nhwc', 'flat' or 'nchw' for graphs without feature maps)."""
    from .layout import to_channels_last

    from .frontend_hls4ml import bounds_as_attributes

    g = copy.deepcopy(clean.graph)
    layout = "nhwc" if to_channels_last(g) else clean.input_layout
    bounds_as_attributes(g)
    return g.to_model(), layout
