"""A small editable view of an ONNX graph: nodes, initializers as numpy arrays, and the shape of
every activation tensor. Our export passes work on it in linear time and turn it back into a
``ModelProto`` whose ``value_info`` lists every tensor (hls4ml does no shape inference itself)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Tuple

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from ..errors import ExportError

CHANNELS_LAST = "qonnx.custom_op.channels_last"
Shape = Tuple[int, ...]


@dataclass
class OnnxGraph:
    nodes: List[onnx.NodeProto]
    inits: Dict[str, np.ndarray]
    shapes: Dict[str, Shape]                 # every activation tensor, batch dimension included
    inputs: List[str]
    outputs: List[str]
    opset: int
    _names: set = field(default_factory=set, repr=False)
    unknown: Dict[str, str] = field(default_factory=dict, repr=False)   # tensor -> its node, dims not inferred

    # ------------------------------------------------------------------ conversion
    @classmethod
    def from_model(cls, model: onnx.ModelProto) -> "OnnxGraph":
        inferred = onnx.shape_inference.infer_shapes(_shape_compatible(model))
        g = inferred.graph
        inits = {t.name: numpy_helper.to_array(t) for t in g.initializer}
        shapes: Dict[str, Shape] = {}
        unknown: List[str] = []
        for info in list(g.value_info) + list(g.input) + list(g.output):
            if info.name not in inits:
                dims = info.type.tensor_type.shape.dim
                shapes[info.name] = tuple(int(d.dim_value) if d.dim_value > 0 else 1 for d in dims)
                if len(dims) >= 2 and any(d.dim_value <= 0 for d in list(dims)[1:]):
                    unknown.append(info.name)       # the batch (axis 0) may stay symbolic
        opset = max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=13)
        graph = cls([_copy(n) for n in model.graph.node], inits, shapes, [i.name for i in g.input if i.name not in inits],
                    [o.name for o in g.output], opset)
        graph._names = set(shapes) | set(inits) | {n.name for n in g.node}
        producers = {o: n for n in graph.nodes for o in n.output}
        graph.unknown = {t: (f"{producers[t].name} ({producers[t].op_type})" if t in producers else "the graph input")
                         for t in unknown}
        missing = [o for n in graph.nodes for o in n.output if o and o not in shapes]
        if missing:
            raise ExportError(f"ONNX shape inference left tensor '{missing[0]}' without a shape; "
                              f"export with a fixed input shape")
        return graph

    def require_shapes(self) -> None:
        """One line naming the first tensor (and its node) whose dimensions shape inference left open: the
        export would size that layer wrongly."""
        live = {o for n in self.nodes for o in n.output} | set(self.inputs)
        for tensor, node in self.unknown.items():
            if tensor not in live:                  # a normal form replaced the node that made it
                continue
            raise ExportError(f"ONNX shape inference could not resolve the shape of '{tensor}', the output of "
                              f"{node}; export the model with a fixed input shape and without shape-dependent "
                              f"padding or reshapes")

    def to_model(self, name: str = "codesign") -> onnx.ModelProto:
        used = {i for n in self.nodes for i in n.input if i}
        initializers = [numpy_helper.from_array(np.asarray(v), k) for k, v in self.inits.items() if k in used]
        value_info = [_info(k, self.inits[k].dtype, self.inits[k].shape) for k in self.inits if k in used]
        value_info += [_info(k, np.float32, s) for k, s in self.shapes.items()
                       if k not in self.inputs and k not in self.outputs]
        graph = helper.make_graph(self.nodes, name, [_info(k, np.float32, self.shapes[k]) for k in self.inputs],
                                  [_info(k, np.float32, self.shapes[k]) for k in self.outputs],
                                  initializer=initializers, value_info=value_info)
        opsets = [helper.make_opsetid("", self.opset)]
        opsets += [helper.make_opsetid(d, 1) for d in sorted({n.domain for n in self.nodes} - {"", "ai.onnx"})]
        model = helper.make_model(graph, opset_imports=opsets, producer_name="codesign")
        model.ir_version = min(model.ir_version, 10)
        return model

    def reinferred(self) -> "OnnxGraph":
        """The same graph with every activation shape inferred again from the input shapes (after
        a pass that made shapes clear which ONNX shape inference could not tell before)."""
        saved = self.shapes
        self.shapes = {k: saved[k] for k in self.inputs + self.outputs}
        try:
            model = self.to_model()
        finally:
            self.shapes = saved
        return OnnxGraph.from_model(model)

    # ------------------------------------------------------------------ queries
    def shape_of(self, tensor: str) -> Optional[Shape]:
        """An activation's shape (batch included) or an initializer's; None for a tensor with no recorded
        shape (a Constant turned initializer, shape arithmetic): a pass that needs it leaves the node alone."""
        if tensor in self.shapes:
            return self.shapes[tensor]
        return tuple(np.shape(self.inits[tensor])) if tensor in self.inits else None

    def producers(self) -> Dict[str, onnx.NodeProto]:
        return {o: n for n in self.nodes for o in n.output}

    def consumers(self) -> Dict[str, List[onnx.NodeProto]]:
        out: Dict[str, List[onnx.NodeProto]] = {}
        for n in self.nodes:
            for i in n.input:
                out.setdefault(i, []).append(n)
        return out

    def fresh(self, base: str) -> str:
        """A tensor or node name not used yet, derived from ``base``."""
        name, k = base, 1
        while name in self._names:
            k += 1
            name = f"{base}_{k}"
        self._names.add(name)
        return name

    def add_init(self, base: str, value: np.ndarray) -> str:
        name = self.fresh(base)
        self.inits[name] = np.asarray(value)
        return name

    def rename_tensor(self, old: str, new: str) -> None:
        for n in self.nodes:
            for seq in (n.input, n.output):
                for k, t in enumerate(seq):
                    if t == old:
                        seq[k] = new
        for seq in (self.inputs, self.outputs):
            for k, t in enumerate(seq):
                if t == old:
                    seq[k] = new
        if old in self.shapes:
            self.shapes[new] = self.shapes.pop(old)

    def ops(self) -> List[str]:
        return [n.op_type for n in self.nodes]

    def param_init(self, tensor: str, producers: Dict[str, onnx.NodeProto]) -> Optional[str]:
        """The initializer holding a parameter's values: ``tensor`` itself, or the input of the
        QONNX quantizer (brevitas' weight and bias quantizers) that produces it."""
        if tensor in self.inits:
            return tensor
        node = producers.get(tensor)
        if node is not None and node.op_type in QUANT_OPS and node.input[0] in self.inits:
            return node.input[0]
        return None

    def set_param(self, tensor: str, value: np.ndarray, producers: Dict[str, onnx.NodeProto]) -> None:
        """Replace a parameter's values (through its quantizer, whose output shape follows)."""
        name = self.param_init(tensor, producers)
        self.inits[name] = np.ascontiguousarray(value)
        if name != tensor:
            self.shapes[tensor] = tuple(value.shape)

    def constant_tensors(self) -> set:
        """Tensors computed from initializers only (quantized weights and biases)."""
        const = set(self.inits)
        for n in self.nodes:
            if all(i in const for i in n.input if i):
                const.update(n.output)
        return const - set(self.inits)


QUANT_OPS = ("Quant", "Trunc", "BipolarQuant")
BREVITAS_INTERNALS = ("act_quant", "weight_quant", "bias_quant", "input_quant", "output_quant")


def _copy(node: onnx.NodeProto) -> onnx.NodeProto:
    out = onnx.NodeProto()
    out.CopyFrom(node)
    return out


def _shape_compatible(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy in which QONNX quantizers (elementwise: output shape = input shape) are Identity nodes,
    so that ONNX shape inference passes through them (qonnx's own swap costs a text dump of
    every node)."""
    if not any(n.op_type in QUANT_OPS and n.domain.startswith("qonnx") for n in model.graph.node):
        return model
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    for k, n in enumerate(copy.graph.node):
        if n.op_type in QUANT_OPS and n.domain.startswith("qonnx"):
            copy.graph.node[k].CopyFrom(helper.make_node("Identity", [n.input[0]], list(n.output), name=n.name))
    return copy


def attribute(node: onnx.NodeProto, name: str, default=None):
    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def set_attribute(node: onnx.NodeProto, name: str, value) -> None:
    for k, a in enumerate(node.attribute):
        if a.name == name:
            del node.attribute[k]
            break
    node.attribute.append(helper.make_attribute(name, value))


def _info(name: str, dtype, shape: Iterable[int]) -> onnx.ValueInfoProto:
    elem = helper.np_dtype_to_tensor_dtype(np.dtype(dtype)) if dtype is not np.float32 else TensorProto.FLOAT
    return helper.make_tensor_value_info(name, elem, list(shape))


def torch_scope(node: onnx.NodeProto) -> Optional[str]:
    """The PyTorch module path of a node exported by torch.onnx (see :func:`scope_of_name`)."""
    return scope_of_name(node.name, node.op_type)


def scope_of_name(name: str, op_type: str = "") -> Optional[str]:
    """The PyTorch module path in a torch.onnx node name, or None for a node outside any module
    ('/Add'). torch writes a child of a container as '<container>.<child>'
    ('/layers/layers.1/layers.1.0/shortcut/conv/Conv' → 'layers.1.0.shortcut.conv')."""
    parts = [p for p in name.split("/") if p][:-1]
    path: List[str] = []
    for part in parts:
        if part in BREVITAS_INTERNALS:             # brevitas' quantizer plumbing: keep the layer's name
            if op_type in QUANT_OPS and path:
                path[-1] += "_" + part.replace("act_quant", "quant")
            break
        if path and part.startswith(path[-1] + "."):
            path[-1] = part
        else:
            path.append(part)
    return ".".join(path) or None
