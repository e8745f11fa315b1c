"""Layers of any ONNX file a user brings: standard NCHW graphs (torch export) and the channels-last
graphs qonnx produces for hls4ml (ops in a ``...channels_last`` domain, NHWC tensors).

Shapes come from ONNX shape inference after constant folding (:mod:`codesign.sim.onnx_fold`); weights
from initializers (also behind QONNX Quant nodes). Layout-only ops pass through, constant sub-graphs
(Shape → Gather → Reshape targets) are skipped, and an op the simulator cannot map is a one-line error
naming it. Never a silent estimate: a tensor whose shape stays unknown, a symbolic dimension other than
the batch, or a matrix product whose weights do not fit its input is a one-line error naming the node.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np

from ..errors import CodesignError
from .hls_rules import QUANT_HINT, is_global_pool, quantizer_problem, quantizer_type, shift_add_counts
from .layers import Layer, Network

#: ONNX activation op → the function it computes (codesign.sim.layers.ACTIVATIONS)
ACT_OPS = {"Relu": "relu", "LeakyRelu": "leaky_relu", "Sigmoid": "sigmoid", "Tanh": "tanh", "Clip": "clip",
           "Elu": "elu", "Selu": "selu", "HardSigmoid": "hard_sigmoid", "HardSwish": "hard_swish",
           "Softplus": "softplus", "Softsign": "softsign", "PRelu": "prelu", "Gelu": "gelu",
           "MultiThreshold": "threshold", "Celu": "celu", "Mish": "mish", "ThresholdedRelu": "thresholded_relu"}
SOFTMAX_OPS = {"Softmax": "softmax", "LogSoftmax": "log_softmax"}
#: qonnx quantizers on activations: hls4ml makes each a 'linear' Activation layer of the quantized type
#: (model/optimizer/passes/quant_opt.py, named '<node>_act')
QUANT_OPS = {"Quant", "BipolarQuant"}
PASS_OPS = {"Flatten", "Reshape", "Squeeze", "Unsqueeze", "Transpose", "Identity", "Dropout", "Cast",
            "Trunc", "QuantizeLinear", "DequantizeLinear", "Upsample"}
CONST_PASS = {"Quant", "BipolarQuant", "Trunc", "Identity", "Cast", "DequantizeLinear", "Transpose"}
POOL_OPS = {"MaxPool": "maxpool", "AveragePool": "avgpool"}
SUPPORTED = sorted({"Conv", "Gemm", "MatMul", "BatchNormalization", "MaxPool", "AveragePool", "GlobalAveragePool",
                    "GlobalMaxPool", "ReduceMean", "Add", "Sum", "Sub", "Mul", "Div", "Concat", "Pad"}
                   | set(SOFTMAX_OPS) | set(ACT_OPS) | PASS_OPS | QUANT_OPS)
Src = Tuple[Optional[str], Tuple[int, int, int]]


def _load(path: Path):
    import onnx

    if not path.exists():
        raise CodesignError(f"ONNX file not found: {path}")
    try:
        model = onnx.load(str(path))
    except Exception as err:  # protobuf raises DecodeError and friends
        raise CodesignError(f"{path} is not a readable ONNX file ({type(err).__name__}); re-export it") from None
    from .onnx_fold import infer_shapes

    return infer_shapes(model)


def _attrs(node) -> Dict[str, object]:
    import onnx

    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _dims(shape, symbols) -> str:
    return "(" + ", ".join(str(d) if d is not None else (s or "?") for d, s in
                           zip(shape, symbols or ("",) * len(shape))) + ")"


class _Parser:
    def __init__(self, model):
        from onnx import numpy_helper

        graph = model.graph
        self.graph = graph
        self.const: Dict[str, np.ndarray] = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
        self.shapes: Dict[str, Tuple[Optional[int], ...]] = {}     # None: not known (or symbolic)
        self.symbols: Dict[str, Tuple[str, ...]] = {}
        for vi in list(graph.input) + list(graph.value_info) + list(graph.output):
            dims = vi.type.tensor_type.shape.dim
            self.shapes[vi.name] = tuple(int(d.dim_value) if d.dim_value > 0 else None for d in dims)
            self.symbols[vi.name] = tuple(d.dim_param for d in dims)
        self.producer = {out: node for node in graph.node for out in node.output}
        self.nhwc = any(n.domain.endswith("channels_last") for n in graph.node)
        self.source: Dict[str, Src] = {}
        self.layers: List[Layer] = []
        self.by_name: Dict[str, Layer] = {}
        self.consumers: Dict[str, int] = {}
        self.const_types: Dict[str, str] = {}      # constant tensor -> its QONNX quantizer's hls4ml type
        self.layer_types: Dict[str, Dict[str, str]] = {}    # layer -> {weight, bias, result} from quantizers
        for node in graph.node:
            for name in node.input:
                self.consumers[name] = self.consumers.get(name, 0) + 1
        self.readable = _readable_names(graph.node)

    # ----------------------------------------------------------------------------- helpers
    def chw(self, tensor: str, nhwc: bool) -> Tuple[int, int, int]:
        shape = self.shapes.get(tensor)
        if shape is None or None in shape[1:]:
            node = self.producer.get(tensor)
            where = f"the output of node '{node.name}' ({node.op_type})" if node is not None else "a graph input"
            what = "has no shape" if shape is None else f"has unknown dimensions {_dims(shape, self.symbols.get(tensor))}"
            raise CodesignError(f"ONNX tensor '{tensor}', {where}, {what} after shape inference and constant "
                                f"folding; the estimate would be wrong: simplify the file (e.g. onnxruntime's basic graph "
                                f"optimisation) or export the model with a fixed input shape")
        dims = [int(d) for d in shape[1:]]
        if len(dims) == 1:
            return dims[0], 1, 1
        if len(dims) == 2:
            return (dims[1], 1, dims[0]) if nhwc else (dims[0], 1, dims[1])
        if len(dims) == 3:
            return (dims[2], dims[0], dims[1]) if nhwc else (dims[0], dims[1], dims[2])
        raise CodesignError(f"ONNX tensor '{tensor}' has rank {len(shape)}; the simulator maps rank 2-4 tensors")

    def weight(self, tensor: str) -> Optional[np.ndarray]:
        return self.const.get(tensor)

    def zero_padding(self, node) -> None:
        """hls4ml maps a Pad to ZeroPadding1D/2D only (converters/onnx/reshape.py parse_pad_layer): constant
        mode, value 0, no axes input; anything else is refused here, as hls4ml would refuse to convert it."""
        mode = _attrs(node).get("mode", b"constant")
        mode = mode.decode() if isinstance(mode, bytes) else str(mode)
        if mode != "constant":
            raise CodesignError(f"Pad node '{node.name}' uses mode '{mode}'; hls4ml converts only zero padding "
                                f"(ZeroPadding1D/2D): pad with zeros (nn.ZeroPad2d, F.pad(..., mode='constant'))")
        if len(node.input) > 2 and node.input[2]:
            value = self.const.get(node.input[2])
            if value is None or np.any(np.asarray(value) != 0):
                shown = "a computed value" if value is None else f"{np.asarray(value).ravel()[0]:g}"
                raise CodesignError(f"Pad node '{node.name}' pads with {shown}; hls4ml converts only zero padding "
                                    f"(ZeroPadding1D/2D)")
        if len(node.input) > 3 and node.input[3]:
            raise CodesignError(f"Pad node '{node.name}' has an axes input, which hls4ml's Pad converter does not parse; "
                                f"export the padding over all axes")

    def dynamic(self, node) -> List[str]:
        return [t for t in node.input if t in self.source]

    def add(self, layer: Layer, output: str) -> None:
        self.layers.append(layer)
        self.by_name[layer.name] = layer
        self.source[output] = (layer.name, layer.out_shape)

    def simple(self, node, op: str, out_shape=None, **kw) -> None:
        ins = self.dynamic(node)
        producers = tuple(dict.fromkeys(self.source[t][0] for t in ins if self.source[t][0]))
        in_shape = self.source[ins[0]][1]
        self.add(Layer(self.name(node), op, producers, in_shape, out_shape or in_shape, **kw), node.output[0])

    def name(self, node) -> str:
        base = self.readable.get(node.name) or node.name or f"{node.op_type}_{len(self.layers)}"
        return base if base not in self.by_name else f"{base}_{len(self.layers)}"

    # ----------------------------------------------------------------------------- ops
    def conv(self, node, nhwc: bool) -> None:
        x = self.dynamic(node)[0]
        w = self.weight(node.input[1])
        if w is None:
            raise CodesignError(f"Conv '{node.name}': weights are not a constant initializer")
        a = _attrs(node)
        kernel = [int(k) for k in a.get("kernel_shape", w.shape[2:])]
        strides = [int(s) for s in a.get("strides", [1] * len(kernel))]
        kernel, strides = ([1] + kernel, [1] + strides) if len(kernel) == 1 else (kernel, strides)
        producer, in_shape = self.source[x]
        groups = int(a.get("group", 1))
        # input channels the weights take: OIHW, or OHWI in qonnx's channels-last graphs
        takes = {int(w.shape[1]) * groups, int(w.shape[-1]) * groups if nhwc else 0} if w.ndim >= 3 else set()
        if in_shape[0] not in takes:
            raise CodesignError(f"Conv '{node.name}' is invalid: its weights {tuple(w.shape)} (group {groups}) do not "
                                f"take the {in_shape[0]} channels of its input '{x}'")
        bias = int(np.prod(self.const[node.input[2]].shape)) if len(node.input) > 2 and node.input[2] in self.const else 0
        self.add(Layer(self.name(node), "conv", (producer,) if producer else (), in_shape,
                       self.chw(node.output[0], nhwc), kernel=tuple(kernel), stride=tuple(strides),
                       groups=groups, weights=int(w.size), nonzero_weights=int(np.count_nonzero(w)),
                       bias=bias, shift_add=shift_add_counts(w)), node.output[0])
        self.quantized_parameters(node.input[1], node.input[2] if len(node.input) > 2 else "")

    def dense(self, node) -> None:
        ins = self.dynamic(node)
        if len(ins) != 1:
            raise CodesignError(f"{node.op_type} '{node.name}' multiplies two activations; only products with "
                                f"constant weights are supported")
        w = self.weight(node.input[1]) if node.input[0] == ins[0] else self.weight(node.input[0])
        if w is None or w.ndim != 2:
            raise CodesignError(f"{node.op_type} '{node.name}': weights are not a constant 2-D initializer")
        if node.op_type == "MatMul" and node.input[0] != ins[0]:
            raise CodesignError(f"MatMul '{node.name}': constant @ activation is not a layer the simulator maps; "
                                f"only activation @ weights")
        attrs = _attrs(node) if node.op_type == "Gemm" else {}
        if int(attrs.get("transA", 0)):
            raise CodesignError(f"Gemm '{node.name}': transA=1 is not a layer the simulator maps")
        trans_b = int(attrs.get("transB", 0))
        n_in, n_out = (w.shape[1], w.shape[0]) if trans_b else (w.shape[0], w.shape[1])
        producer, in_shape = self.source[ins[0]]
        features = in_shape[0] * in_shape[1] * in_shape[2]
        if features != n_in:
            raise CodesignError(f"{node.op_type} '{node.name}' is invalid: its weights take {n_in} inputs but it "
                                f"reads a tensor of {features} values per sample {in_shape}; only products over "
                                f"a flattened input are layers")
        bias = int(self.const[node.input[2]].size) if len(node.input) > 2 and node.input[2] in self.const else 0
        self.add(Layer(self.name(node), "dense", (producer,) if producer else (), in_shape, (int(n_out), 1, 1),
                       weights=int(w.size), nonzero_weights=int(np.count_nonzero(w)), bias=bias,
                       shift_add=shift_add_counts(w)), node.output[0])
        self.quantized_parameters(node.input[1] if node.input[0] == ins[0] else node.input[0],
                                  node.input[2] if len(node.input) > 2 else "")

    def quantized_parameters(self, weight: str, bias: str) -> None:
        """The last layer's weight/bias types where QONNX quantizers made them (hls4ml takes those types)."""
        types = {k: self.const_types[t] for k, t in (("weight", weight), ("bias", bias)) if t in self.const_types}
        if types:
            self.layer_types.setdefault(self.layers[-1].name, {}).update(types)

    def quantizer(self, node) -> Optional[Tuple[Optional[np.ndarray], str]]:
        """A QONNX Quant with constant scale, zero point and bit width: (its output when its input is constant,
        else None; the fixed-point type hls4ml gives it, :func:`codesign.sim.hls_rules.quantizer_type`). None
        when its parameters are not constants; a quantizer hls4ml would rescale with ApplyAlpha layers (a scale
        other than one power of two, a zero point) is refused, as the export refuses it."""
        consts = [self.const.get(t) for t in node.input[1:4]]
        if len(consts) < 3 or any(c is None for c in consts):
            return None
        scale, zero, bits = (np.asarray(c, dtype=np.float64) for c in consts)
        a = _attrs(node)
        signed, narrow = bool(a.get("signed", 1)), bool(a.get("narrow", 0))
        rounding = a.get("rounding_mode", b"ROUND")
        rounding = rounding.decode() if isinstance(rounding, bytes) else str(rounding)
        problem = quantizer_problem(scale, zero, rounding, signed, narrow)
        if problem is not None:
            raise CodesignError(f"ONNX node '{node.name}' (Quant): {problem}; hls4ml 1.3 builds such a QONNX quantizer "
                                f"from ApplyAlpha rescale layers the export refuses and the estimate does not model: "
                                f"{QUANT_HINT}")
        t = quantizer_type(scale, bits, rounding, signed, narrow)
        x = self.const.get(node.input[0])
        if x is None:
            return None, t.hls()
        width = t.width
        lo = -(2 ** (width - 1)) + (1 if narrow else 0) if signed else 0
        hi = 2 ** (width - 1) - 1 if signed else 2 ** width - 1
        step = np.floor if rounding.upper() == "FLOOR" else np.round
        q = np.clip(step(np.asarray(x, dtype=np.float64) / scale + zero), lo, hi)
        return ((q - zero) * scale).astype(np.float32), t.hls()

    def norm(self, node) -> None:
        x = self.dynamic(node)[0]
        producer = self.source[x][0]
        prev = self.by_name.get(producer) if producer else None
        if prev is not None and prev.op in ("conv", "dense") and self.consumers.get(x, 0) == 1:
            self.source[node.output[0]] = self.source[x]     # folded, as hls4ml does
        else:
            self.simple(node, "bn")

    def pool(self, node, nhwc: bool) -> None:
        a = _attrs(node)
        if any(int(d) != 1 for d in a.get("dilations", ())):
            raise CodesignError(f"{node.op_type} node '{node.name}' has dilations {list(a['dilations'])}; hls4ml's "
                                f"pooling kernels (nnet_pooling.h) have no dilation")
        kernel = [int(k) for k in a["kernel_shape"]]
        strides = [int(s) for s in a.get("strides", kernel)]
        kernel, strides = ([1] + kernel, [1] + strides) if len(kernel) == 1 else (kernel, strides)
        padded = list(a.get("pads", ())) + ["SAME" in str(a.get("auto_pad", ""))]     # SAME_*: padded
        if is_global_pool(self.source[self.dynamic(node)[0]][1][1:], kernel, padded):
            return self.global_pool(node)
        self.simple(node, POOL_OPS[node.op_type], self.chw(node.output[0], nhwc), kernel=tuple(kernel),
                    stride=tuple(strides))

    def global_pool(self, node) -> None:
        c, h, w = self.source[self.dynamic(node)[0]][1]
        self.simple(node, "globalpool", (c, 1, 1), kernel=(h, w), stride=(h, w))

    def elementwise(self, node) -> None:
        ins = self.dynamic(node)
        if len(ins) == 1:       # bias add, scaling by a constant: folded into the producer
            self.source[node.output[0]] = self.source[ins[0]]
        elif node.op_type in ("Add", "Sum", "Sub"):
            self.simple(node, "add")
        else:
            self.simple(node, "mul")

    def concat(self, node) -> None:
        """A Concat of k tensors as the export builds it: k - 1 concatenations of two, the first k - 2 named
        ``<node>_part<k>`` (:func:`codesign.export.normalize.binary_concats`)."""
        ins = self.dynamic(node)
        (producer, left), name = self.source[ins[0]], self.name(node)
        for k, tensor in enumerate(ins[1:], start=1):
            other, shape = self.source[tensor]
            joined = (left[0] + shape[0], *left[1:])
            last = k == len(ins) - 1
            part = name if last or len(ins) <= 2 else f"{name}_part{k}"
            self.add(Layer(part, "concat", tuple(dict.fromkeys(p for p in (producer, other) if p)), left, joined),
                     node.output[0])
            producer, left = part, joined
        if len(ins) == 1:
            self.simple(node, "concat")

    def node(self, node) -> None:
        op = node.op_type
        nhwc = self.nhwc or node.domain.endswith("channels_last")
        ins = self.dynamic(node)
        if not ins:                 # constant sub-graph (weights behind Quant, shape arithmetic)
            quant = self.quantizer(node) if op == "Quant" and node.input and node.input[0] in self.const else None
            if quant is not None:   # weights as hls4ml quantizes them (its zeros are the design's)
                self.const[node.output[0]], self.const_types[node.output[0]] = quant
            elif op in CONST_PASS and node.input and node.input[0] in self.const:
                self.const[node.output[0]] = self.const[node.input[0]]
            elif op == "Constant":
                from onnx import numpy_helper
                self.const[node.output[0]] = numpy_helper.to_array(_attrs(node)["value"])
            return
        if op in PASS_OPS:
            self.source[node.output[0]] = self.source[ins[0]]
        elif op == "Conv":
            self.conv(node, nhwc)
        elif op in ("Gemm", "MatMul"):
            self.dense(node)
        elif op == "BatchNormalization":
            self.norm(node)
        elif op in ACT_OPS:
            self.simple(node, "act", activation=ACT_OPS[op])
        elif op in QUANT_OPS:
            self.simple(node, "act", activation="linear")
            quant = self.quantizer(node) if op == "Quant" else None
            if quant is not None:
                self.layer_types[self.layers[-1].name] = {"result": quant[1]}
        elif op in SOFTMAX_OPS:
            self.simple(node, "softmax", activation=SOFTMAX_OPS[op])
        elif op == "Pad":
            self.zero_padding(node)
            self.simple(node, "pad", self.chw(node.output[0], nhwc))
        elif op in POOL_OPS:
            self.pool(node, nhwc)
        elif op in ("GlobalAveragePool", "GlobalMaxPool", "ReduceMean"):
            self.global_pool(node)
        elif op in ("Add", "Sum", "Sub", "Mul", "Div"):
            self.elementwise(node)
        elif op == "Concat":
            self.concat(node)
        else:
            raise CodesignError(f"ONNX op '{op}' (node '{node.name}') is not supported by the simulator; "
                                f"supported: {', '.join(SUPPORTED)}")

    def run(self) -> Tuple[List[Layer], Tuple[int, ...]]:
        inputs = [i for i in self.graph.input if i.name not in self.const]
        if len(inputs) != 1:
            raise CodesignError(f"the ONNX graph has {len(inputs)} inputs; the simulator maps single-input networks")
        name = inputs[0].name
        rank = len(self.shapes.get(name, ()))
        symbolic = [(axis, s or "?") for axis, (d, s) in
                    enumerate(zip(self.shapes.get(name, ()), self.symbols.get(name, ()))) if d is None and axis > 0]
        if symbolic:
            axis, symbol = symbolic[0]
            what = f"a symbolic dimension '{symbol}'" if symbol != "?" else "an unknown or zero-size dimension"
            raise CodesignError(f"ONNX input '{name}' has {what} (axis {axis}) "
                                f"{_dims(self.shapes[name], self.symbols[name])}; the estimator needs every "
                                f"dimension but the batch fixed: export the model with a fixed input shape")
        shape = self.chw(name, self.nhwc and rank >= 3)
        self.source[inputs[0].name] = (None, shape)
        self.input_name = inputs[0].name
        for node in self.graph.node:
            self.node(node)
        return self.layers, shape


def network_from_onnx(path: str | Path, name: Optional[str] = None) -> Network:
    """The :class:`Network` of an ONNX file (any producer; NCHW or qonnx channels-last)."""
    path = Path(path)
    return _network(_load(path), name or path.stem, f"onnx:{path}")


def network_from_proto(model, name: str, source: str) -> Network:
    """The :class:`Network` of an ONNX ModelProto held in memory (as :func:`network_from_onnx` reads a file)."""
    from .onnx_fold import infer_shapes

    return _network(infer_shapes(model), name, source)


def _readable_names(nodes) -> Dict[str, str]:
    """{torch.onnx node name: the export's name of its layer} (``/fc1/Gemm`` → ``fc1``, by
    :func:`codesign.naming.op_names`, as the export renames the graph it builds), for a file whose every
    named node is torch.onnx's ``/scope/Op``; else {} (the nodes' own names: another producer's, or a graph
    the export named already)."""
    from ..export.graph import torch_scope
    from ..naming import op_names

    named = [n for n in nodes if n.name]
    if not named or not all(n.name.startswith("/") for n in named) or len({n.name for n in named}) < len(named):
        return {}
    return {n.name: c_name for n, (c_name, _) in zip(nodes, op_names([(torch_scope(n), n.op_type) for n in nodes]))
            if n.name}


def _network(model, name: str, source: str) -> Network:
    parser = _Parser(model)
    layers, in_shape = parser.run()
    meta = {"input": parser.input_name}
    if parser.layer_types:
        meta["quantizer_types"] = parser.layer_types
    return Network(name, tuple(layers), tuple(in_shape), source, meta)
