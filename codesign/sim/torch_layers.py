"""Layers of a PyTorch model, traced once with torch.fx and shaped by one forward pass of zeros.

Works on zoo models, loaded checkpoints (grown, pruned or compacted: shapes are read from the live
tensors) and any ``nn.Module`` built from the supported pieces. An op the simulator cannot map is
a one-line error naming it. Layers are named as ``codesign export`` names them (:mod:`codesign.naming`:
``block.c1``, ``block.relu``, ``block.relu_2``), so per-layer settings mean the same layer in both.
"""
from __future__ import annotations

import operator
from dataclasses import replace
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.fx as fx
import torch.nn as nn
import torch.nn.functional as F
from torch.fx.passes.shape_prop import ShapeProp

from ..errors import CodesignError
from ..naming import call_scope, op_names
from .hls_rules import is_global_pool, shift_add_counts
from .layers import Layer, Network

#: activation module → the function it computes (codesign.sim.layers.ACTIVATIONS)
ACTIVATIONS = {nn.ReLU: "relu", nn.ReLU6: "relu6", nn.LeakyReLU: "leaky_relu", nn.Sigmoid: "sigmoid", nn.Tanh: "tanh",
               nn.Hardtanh: "hard_tanh", nn.ELU: "elu", nn.SELU: "selu", nn.CELU: "celu", nn.GELU: "gelu",
               nn.SiLU: "silu", nn.Mish: "mish", nn.Hardswish: "hard_swish", nn.Hardsigmoid: "hard_sigmoid",
               nn.Softplus: "softplus", nn.Softsign: "softsign", nn.PReLU: "prelu"}
SOFTMAX = {nn.Softmax: "softmax", nn.LogSoftmax: "log_softmax"}
PASS_MODULES = (nn.Flatten, nn.Identity, nn.Dropout, nn.Dropout2d, nn.Unflatten)
PAD_MODULES = (nn.ZeroPad1d, nn.ZeroPad2d)
NORMS = (nn.BatchNorm1d, nn.BatchNorm2d)
POOLS = (nn.MaxPool1d, nn.MaxPool2d, nn.AvgPool1d, nn.AvgPool2d)
ADAPTIVE_POOLS = (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d, nn.AdaptiveAvgPool1d)
ACT_FUNCS = {F.relu: "relu", torch.relu: "relu", F.relu6: "relu6", torch.sigmoid: "sigmoid", F.sigmoid: "sigmoid",
             torch.tanh: "tanh", F.tanh: "tanh", F.leaky_relu: "leaky_relu", F.gelu: "gelu",
             F.hardtanh: "hard_tanh", F.elu: "elu"}
SOFTMAX_FUNCS = {F.softmax: "softmax", torch.softmax: "softmax", F.log_softmax: "log_softmax"}
PASS_FUNCS = {torch.flatten, torch.reshape, torch.squeeze, torch.unsqueeze, F.dropout}
ADD_FUNCS = {operator.add, operator.iadd, torch.add}
MUL_FUNCS = {operator.mul, operator.imul, torch.mul}
PASS_METHODS = {"view", "reshape", "flatten", "contiguous", "squeeze", "unsqueeze", "clone", "detach"}
ACT_METHODS = {"relu": "relu", "relu_": "relu", "sigmoid": "sigmoid", "tanh": "tanh"}
#: every module type _Tracer.module maps to a layer
MODULES = (nn.Conv1d, nn.Conv2d, nn.Linear, *ACTIVATIONS, *SOFTMAX, *PASS_MODULES, *PAD_MODULES, *NORMS, *POOLS,
           *ADAPTIVE_POOLS)
#: the ONNX op type torch.onnx writes for a function or tensor method (None: no op; see _onnx_ops)
ONNX_FUNCS = {**{f: "Relu" for f in (F.relu, torch.relu)}, F.relu6: "Clip", F.hardtanh: "Clip",
              torch.sigmoid: "Sigmoid", F.sigmoid: "Sigmoid", torch.tanh: "Tanh", F.tanh: "Tanh",
              F.leaky_relu: "LeakyRelu", F.gelu: "Gelu", F.elu: "Elu", F.softmax: "Softmax",
              torch.softmax: "Softmax", F.log_softmax: "LogSoftmax", torch.cat: "Concat", torch.flatten: "Flatten",
              torch.reshape: "Reshape", torch.squeeze: "Squeeze", torch.unsqueeze: "Unsqueeze", F.dropout: None,
              getattr: None, **{f: "Add" for f in ADD_FUNCS}, **{f: "Mul" for f in MUL_FUNCS}}
ONNX_METHODS = {"view": "Reshape", "reshape": "Reshape", "flatten": "Flatten", "squeeze": "Squeeze",
                "unsqueeze": "Unsqueeze", "contiguous": None, "clone": None, "detach": None, "size": None,
                "dim": None, "relu": "Relu", "relu_": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh",
                "mean": "GlobalAveragePool"}
SUPPORTED = ("Conv1d/Conv2d, Linear, BatchNorm, ReLU-family activations, MaxPool/AvgPool/AdaptiveAvgPool, "
             "ZeroPad1d/2d, Flatten/Identity/Dropout, Softmax, +, *, torch.cat")


def _chw(node: fx.Node) -> Tuple[int, int, int]:
    meta = node.meta.get("tensor_meta")
    if meta is None or not hasattr(meta, "shape"):
        raise CodesignError(f"cannot simulate node '{node.name}': its output is not a single tensor")
    dims = [int(d) for d in meta.shape[1:]]
    if len(dims) == 1:
        return dims[0], 1, 1
    if len(dims) == 2:
        return dims[0], 1, dims[1]
    if len(dims) == 3:
        return dims[0], dims[1], dims[2]
    raise CodesignError(f"cannot simulate node '{node.name}': {len(dims) + 1}-D tensors are not supported")


class _Tracer:
    def __init__(self, gm: fx.GraphModule, weight_values: bool = False):
        self.gm = gm
        self.weight_values = weight_values
        self.modules = dict(gm.named_modules())
        self.names = _layer_names(gm, self.modules)
        self.layers: List[Layer] = []
        self.by_name: Dict[str, Layer] = {}
        self.source: Dict[str, Tuple[Optional[str], Tuple[int, int, int]]] = {}  # node → (layer, shape seen)

    def add(self, layer: Layer, node: fx.Node) -> None:
        self.layers.append(layer)
        self.by_name[layer.name] = layer
        self.source[node.name] = (layer.name, layer.out_shape)

    def shift_add(self, weight: torch.Tensor) -> Tuple[int, ...]:
        return shift_add_counts(weight.detach().cpu().numpy()) if self.weight_values else ()

    def _fold_values(self, layer: Layer, bn) -> None:
        """The shift-and-add counts of ``layer`` after the BatchNorm ``bn`` is folded into its weights."""
        if not self.weight_values:
            return
        weight = getattr(self.modules.get(layer.name), "weight", None)
        if not isinstance(bn, nn.modules.batchnorm._BatchNorm) or weight is None or bn.running_var is None:
            folded = ()
        else:
            scale = (bn.weight if bn.affine else torch.ones_like(bn.running_var)) / torch.sqrt(bn.running_var + bn.eps)
            w = weight.detach() * scale.detach().reshape(-1, *([1] * (weight.dim() - 1)))
            folded = self.shift_add(w)
        new = replace(layer, shift_add=folded)
        self.layers[self.layers.index(layer)] = new
        self.by_name[layer.name] = new

    def alias(self, node: fx.Node, arg: fx.Node) -> None:
        self.source[node.name] = self.source[arg.name]

    def tensor_args(self, node: fx.Node) -> List[fx.Node]:
        flat = list(node.args) + list(node.kwargs.values())
        out = []
        for a in flat:
            items = a if isinstance(a, (list, tuple)) else [a]
            out += [x for x in items if isinstance(x, fx.Node) and x.name in self.source]
        return out

    def simple(self, node: fx.Node, op: str, name: str, **kw) -> None:
        args = self.tensor_args(node)
        producers = tuple(dict.fromkeys(self.source[a.name][0] for a in args if self.source[a.name][0]))
        in_shape = self.source[args[0].name][1] if args else _chw(node)
        self.add(Layer(name, op, producers, in_shape, _chw(node), **kw), node)

    # ----------------------------------------------------------------------------- modules
    def module(self, node: fx.Node) -> None:
        mod = self.modules[node.target]
        names = self.names.get(node.name, (node.name,))      # a module called again (one ReLU for every
        name, arg = names[0], self.tensor_args(node)[0]       # activation) is a layer again: 'act_1'
        if isinstance(mod, PASS_MODULES):
            return self.alias(node, arg)
        if isinstance(mod, nn.SiLU):
            return self.silu(node, names, arg)
        if isinstance(mod, (nn.Conv1d, nn.Conv2d)):
            return self.conv(node, mod, name, arg)
        if isinstance(mod, nn.Linear):
            return self.dense(node, mod, name, arg)
        if isinstance(mod, NORMS):
            return self.norm(node, name, arg)
        if isinstance(mod, tuple(ACTIVATIONS)):
            return self.simple(node, "act", name, activation=_lookup(ACTIVATIONS, mod))
        if isinstance(mod, tuple(SOFTMAX)):
            return self.simple(node, "softmax", name, activation=_lookup(SOFTMAX, mod))
        if isinstance(mod, PAD_MODULES):
            return self.simple(node, "pad", name)
        if isinstance(mod, POOLS):
            return self.pool(node, mod, name, arg)
        if isinstance(mod, ADAPTIVE_POOLS):
            return self.adaptive(node, name, arg)
        raise _unmapped(name, mod)

    def conv(self, node, mod, name, arg) -> None:
        one_d = isinstance(mod, nn.Conv1d)
        producer, in_shape = self.source[arg.name]
        w = mod.weight.detach()
        self.add(Layer(name, "conv", (producer,) if producer else (), in_shape, _chw(node),
                       kernel=_pair(mod.kernel_size, one_d), stride=_pair(mod.stride, one_d), groups=mod.groups,
                       weights=w.numel(), nonzero_weights=int(torch.count_nonzero(w)),
                       bias=0 if mod.bias is None else mod.bias.numel(), shift_add=self.shift_add(w)),
                 node)

    def dense(self, node, mod, name, arg) -> None:
        producer, in_shape = self.source[arg.name]
        if in_shape[0] * in_shape[1] * in_shape[2] != mod.in_features:
            raise CodesignError(f"cannot simulate '{name}': Linear applied along one axis of a "
                                f"{in_shape} tensor (only Linear on flattened inputs is supported)")
        w = mod.weight.detach()
        self.add(Layer(name, "dense", (producer,) if producer else (), in_shape, (mod.out_features, 1, 1),
                       weights=w.numel(), nonzero_weights=int(torch.count_nonzero(w)),
                       bias=0 if mod.bias is None else mod.bias.numel(), shift_add=self.shift_add(w)),
                 node)

    def norm(self, node, name, arg) -> None:
        producer, _ = self.source[arg.name]
        prev = self.by_name.get(producer) if producer else None
        if prev is not None and prev.op in ("conv", "dense") and len(arg.users) == 1 and arg.target == prev.name:
            self._fold_values(prev, self.modules.get(node.target))
            return self.alias(node, arg)      # folded into the convolution, as ONNX export and hls4ml do
        self.simple(node, "bn", name)

    def pool(self, node, mod, name, arg) -> None:
        one_d = isinstance(mod, (nn.MaxPool1d, nn.AvgPool1d))
        kernel, stride = _pair(mod.kernel_size, one_d), _pair(mod.stride or mod.kernel_size, one_d)
        in_hw = self.source[arg.name][1][1:]
        if is_global_pool(in_hw, kernel, _pair(mod.padding, one_d)):
            return self.simple(node, "globalpool", name, kernel=kernel, stride=kernel)
        op = "maxpool" if isinstance(mod, (nn.MaxPool1d, nn.MaxPool2d)) else "avgpool"
        self.simple(node, op, name, kernel=kernel, stride=stride)

    def adaptive(self, node, name, arg) -> None:
        c, h, w = self.source[arg.name][1]
        oc, oh, ow = _chw(node)
        if oh * ow == 1:
            return self.simple(node, "globalpool", name, kernel=(h, w), stride=(h, w))
        if h % oh or w % ow:
            raise CodesignError(f"cannot simulate '{name}': adaptive pooling {h}x{w} -> {oh}x{ow} is not a "
                                f"whole-window pooling")
        self.simple(node, "avgpool", name, kernel=(h // oh, w // ow), stride=(h // oh, w // ow))

    def silu(self, node: fx.Node, names: Tuple[str, ...], arg: fx.Node) -> None:
        """SiLU as torch.onnx writes it and hls4ml builds it (:func:`_onnx_ops`): a sigmoid, then the element-wise
        product of the input with it."""
        producer, shape = self.source[arg.name]
        sigmoid, product = names
        self.add(Layer(sigmoid, "act", (producer,) if producer else (), shape, shape, activation="sigmoid"), node)
        self.add(Layer(product, "mul", tuple(p for p in (producer, sigmoid) if p), shape, shape), node)

    def concat(self, node: fx.Node, names: Tuple[str, ...], args: List[fx.Node]) -> None:
        """torch.cat of k tensors as the export builds it: k - 1 concatenations of two (hls4ml's Concatenate
        takes two; codesign.export.normalize.binary_concats), each joining the last one's result and the next."""
        if len(args) < 2:
            return self.simple(node, "concat", names[0])
        (producer, left), out = self.source[args[0].name], _chw(node)
        for k, (name, arg) in enumerate(zip(names, args[1:]), start=1):
            other, shape = self.source[arg.name]
            joined = out if k == len(args) - 1 else (left[0] + shape[0], *left[1:])
            producers = tuple(dict.fromkeys(p for p in (producer, other) if p))
            self.add(Layer(name, "concat", producers, left, joined), node)
            producer, left = name, joined

    # ----------------------------------------------------------------------------- functions / methods
    def function(self, node: fx.Node) -> None:
        args, names = self.tensor_args(node), self.names.get(node.name, (node.name,))
        name = names[0]
        fn = node.target
        if fn in PASS_FUNCS or (fn in ADD_FUNCS | MUL_FUNCS and len(args) == 1):
            return self.alias(node, args[0])
        if fn in ADD_FUNCS:
            return self.simple(node, "add", name)
        if fn in MUL_FUNCS:
            return self.simple(node, "mul", name)
        if fn is F.silu:
            return self.silu(node, names, args[0])
        if fn in ACT_FUNCS:
            return self.simple(node, "act", name, activation=ACT_FUNCS[fn])
        if fn in SOFTMAX_FUNCS:
            return self.simple(node, "softmax", name, activation=SOFTMAX_FUNCS[fn])
        if fn is torch.cat:
            return self.concat(node, names, args)
        if fn in (F.adaptive_avg_pool2d, F.adaptive_max_pool2d):
            return self.adaptive(node, name, args[0])
        if fn is getattr and not args:
            return None
        raise CodesignError(f"cannot simulate function '{getattr(fn, '__name__', fn)}' (node '{node.name}'); "
                            f"supported: {SUPPORTED}")

    def method(self, node: fx.Node) -> None:
        args, name = self.tensor_args(node), self.names.get(node.name, (node.name,))[0]
        if node.target in PASS_METHODS:
            return self.alias(node, args[0])
        if node.target in ACT_METHODS:
            return self.simple(node, "act", name, activation=ACT_METHODS[node.target])
        if node.target in ("size", "dim"):
            return None
        if node.target == "mean" and _chw(node)[1:] == (1, 1):
            c, h, w = self.source[args[0].name][1]
            return self.simple(node, "globalpool", name, kernel=(h, w), stride=(h, w))
        raise CodesignError(f"cannot simulate tensor method '.{node.target}()' (node '{node.name}'); "
                            f"supported: {SUPPORTED}")

    def run(self) -> List[Layer]:
        for node in self.gm.graph.nodes:        # a module no layer maps is named before any tensor op around it
            if node.op == "call_module" and not isinstance(self.modules[node.target], MODULES):
                raise _unmapped(str(node.target), self.modules[node.target])
        for node in self.gm.graph.nodes:
            if node.op == "placeholder":
                self.source[node.name] = (None, _chw(node))
            elif node.op == "call_module":
                self.module(node)
            elif node.op == "call_function":
                self.function(node)
            elif node.op == "call_method":
                self.method(node)
            elif node.op == "get_attr":
                raise CodesignError(f"cannot simulate '{node.target}': parameters used outside a module")
        return self.layers


def _unmapped(name: str, mod: nn.Module) -> CodesignError:
    return CodesignError(f"cannot simulate module '{name}' ({type(mod).__name__}); supported: {SUPPORTED}")


def _onnx_ops(node: fx.Node, modules: Dict[str, nn.Module]) -> Tuple[str, ...]:
    """The ONNX op types torch.onnx writes for ``node``, in graph order, as the export leaves them (none: not an
    op). Most nodes are one op; SiLU is Sigmoid and Mul (ONNX has no SiLU before opset 20), and a torch.cat of k
    tensors k - 1 Concats of two (:func:`codesign.export.normalize.binary_concats`)."""
    if node.op == "call_module":
        mod = modules[node.target]
        if isinstance(mod, (nn.Identity, nn.Dropout, nn.Dropout2d)):
            return ()
        return ("Sigmoid", "Mul") if isinstance(mod, nn.SiLU) else (type(mod).__name__,)
    if node.op == "call_method":
        op = ONNX_METHODS.get(node.target, str(node.target))
        return (op,) if op else ()
    if node.op != "call_function":
        return ()
    if node.target in (F.adaptive_avg_pool2d, F.adaptive_max_pool2d):
        kind = "Average" if node.target is F.adaptive_avg_pool2d else "Max"
        return (f"Global{kind}Pool" if _chw(node)[1:] == (1, 1) else f"{kind}Pool",)
    if node.target is F.silu:
        return ("Sigmoid", "Mul")
    if node.target is torch.cat:
        tensors = [a for a in (node.args[0] if node.args else node.kwargs.get("tensors", ())) if isinstance(a, fx.Node)]
        return ("Concat",) * max(1, len(tensors) - 1)
    try:
        op = ONNX_FUNCS.get(node.target, getattr(node.target, "__name__", str(node.target)))
    except TypeError:                           # an unhashable target: named in the error that follows
        op = str(node.target)
    return (op,) if op else ()


def _scope(node: fx.Node) -> Optional[str]:
    """The module ``node`` runs in, as torch.onnx names its scope (a module's second call: 'act_1')."""
    stack = node.meta.get("nn_module_stack") or {}
    if not stack:
        return str(node.target) if node.op == "call_module" else None
    key = next(reversed(stack))                 # fx's key: 'block.c1', or 'block.c1@1' for its second call
    path, _, call = str(key).partition("@")
    return call_scope(stack[key][0] if isinstance(stack[key], tuple) else path, int(call or 0))


def _layer_names(gm: fx.GraphModule, modules: Dict[str, nn.Module]) -> Dict[str, Tuple[str, ...]]:
    """{fx node name: the names of the layers it makes} by the export's rule (:func:`codesign.naming.op_names`)."""
    ops = [(node, op) for node in gm.graph.nodes for op in _onnx_ops(node, modules)]
    names = op_names([(_scope(node), op) for node, op in ops])
    out: Dict[str, Tuple[str, ...]] = {}
    for (node, _), (_, dotted) in zip(ops, names):
        out[node.name] = out.get(node.name, ()) + (dotted,)
    return out


def _lookup(table, mod: nn.Module) -> str:
    """The table entry of ``mod``'s class (or the nearest base class in the table)."""
    return table.get(type(mod)) or next(v for cls, v in table.items() if isinstance(mod, cls))


def _pair(value, one_d: bool) -> Tuple[int, int]:
    if isinstance(value, (tuple, list)):
        return (1, int(value[0])) if one_d else (int(value[0]), int(value[-1]))
    return (1, int(value)) if one_d else (int(value), int(value))


def network_from_model(model: nn.Module, in_shape: Optional[Sequence[int]] = None, name: Optional[str] = None,
                       source: Optional[str] = None, weight_values: bool = False) -> "Network":
    """The :class:`Network` of a PyTorch model (``in_shape`` defaults to the zoo spec's). ``weight_values``:
    also read what the weight values decide (:func:`~codesign.sim.hls_rules.shift_add_counts`: trained
    weights of a checkpoint or a user's module); by default the shapes only (a zoo model's random initial
    weights, a model in training whose prices should not move with its values)."""
    spec = getattr(model, "codesign_spec", None) or {}
    in_shape = tuple(in_shape or spec.get("in_shape") or ())
    if not in_shape:
        raise CodesignError("network_from_model needs in_shape=(C, H, W) for a model that is not from the zoo")
    try:
        gm = fx.symbolic_trace(model)
    except Exception as err:  # fx raises many types for untraceable control flow
        raise CodesignError(f"cannot trace the model with torch.fx ({type(err).__name__}: "
                            f"{str(err).splitlines()[0]}); export it to ONNX and use --onnx") from None
    first = next(model.parameters(), None)
    dtype = first.dtype if first is not None else torch.float32
    was_training = model.training
    try:
        gm.eval()
        with torch.no_grad():
            ShapeProp(gm).propagate(torch.zeros(1, *in_shape, dtype=dtype))
    finally:
        model.train(was_training)
    layers = _Tracer(gm, weight_values).run()
    label = name or spec.get("name") or type(model).__name__
    meta = {"width": spec.get("width")} if spec else {}
    return Network(label, tuple(layers), in_shape, source or _source_of(spec), meta)


def _source_of(spec: dict) -> str:
    """'zoo:lenet5' for a zoo model, 'factory:nets.py:bn_mlp' for a user's factory, 'torch' otherwise."""
    from ..model_source import is_factory

    if not spec or not spec.get("name"):
        return "torch"
    return f"{'factory' if is_factory(spec['name']) else 'zoo'}:{spec['name']}"
