"""The simulator's view of a network: a topologically ordered tuple of :class:`Layer`\\ s.

A layer is what a hardware template maps onto an engine: its input and output tensor shapes
(C, H, W), kernel, stride, groups and how many of its weights are zero. Shapes are those of the
*current* tensors, so a compacted (structurally pruned) model simply has smaller layers, while
unstructured zeros show up only in ``nonzero_weights``. Layout-only ops (Flatten, Reshape,
Identity, Dropout, Transpose) are dropped; a Dense layer keeps the (C, H, W) of the tensor that
was flattened into it, so io_stream knows how many stream words feed it. BatchNorm directly after
a Conv/Dense is folded into it, as torch's ONNX export and hls4ml both do.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Dict, Tuple

import numpy as np

from ..errors import CodesignError

#: op name → what it is. Compute ops carry weights; the others move or combine activations.
OPS = {
    "conv": "2-D convolution (1-D convolutions use H = 1)",
    "dense": "fully connected layer (Gemm / MatMul / Linear)",
    "maxpool": "max pooling", "avgpool": "average pooling",
    "globalpool": "global average/max pooling",
    "add": "element-wise sum of two or more tensors",
    "mul": "element-wise product of two tensors",
    "concat": "channel concatenation",
    "act": "element-wise activation (ReLU, sigmoid, tanh, ...)",
    "bn": "per-channel scale and shift (a BatchNorm not folded into a convolution)",
    "softmax": "softmax",
    "pad": "zero padding (hls4ml's ZeroPadding1D/2D)",
}
COMPUTE_OPS = ("conv", "dense")
#: what an ``act`` (or ``softmax``) layer computes, named as hls4ml's activation kernels
#: (templates/vivado/nnet_utils/nnet_activation.h); "" = not known (a hand-built layer).
ACTIVATIONS = ("relu", "relu6", "leaky_relu", "thresholded_relu", "prelu", "elu", "selu", "gelu", "silu", "mish",
               "celu", "sigmoid", "hard_sigmoid", "tanh", "hard_tanh", "hard_swish", "softplus", "softsign", "clip",
               "threshold", "linear", "softmax", "log_softmax")
#: activations hls4ml computes with lookup tables (ROM: block RAM or LUTs), nnet_activation.h's *_table
TABLE_ACTIVATIONS = ("elu", "selu", "sigmoid", "tanh", "softplus", "softsign", "softmax", "log_softmax")
Shape = Tuple[int, int, int]


@dataclass(frozen=True)
class Layer:
    name: str
    op: str
    inputs: Tuple[str, ...]            # producer layer names; () = the network input
    in_shape: Shape                    # (C, H, W) of the first input tensor
    out_shape: Shape                   # (C, H, W) of the output tensor
    kernel: Tuple[int, int] = (1, 1)   # conv kernel or pooling window
    stride: Tuple[int, int] = (1, 1)
    groups: int = 1
    weights: int = 0                   # weight elements (bias excluded)
    nonzero_weights: int = 0
    bias: int = 0
    activation: str = ""               # act/softmax: one of ACTIVATIONS; "" = not known
    shift_add: Tuple[int, ...] = ()    # conv/dense with known weight values: hls_rules.shift_add_counts; () = unknown

    def __post_init__(self):
        if self.op not in OPS:
            raise CodesignError(f"layer '{self.name}': unknown op '{self.op}'; known: {', '.join(OPS)}")
        if self.activation and self.activation not in ACTIVATIONS:
            raise CodesignError(f"layer '{self.name}': unknown activation '{self.activation}'; known: "
                                f"{', '.join(ACTIVATIONS)}")
        if min(self.in_shape) < 1 or min(self.out_shape) < 1:
            raise CodesignError(f"layer '{self.name}': empty tensor shape {self.in_shape} -> {self.out_shape}")
        if not 0 <= self.nonzero_weights <= self.weights:
            raise CodesignError(f"layer '{self.name}': nonzero_weights must be within 0..weights")

    @property
    def n_in(self) -> int:
        """Inputs of one multiply-accumulate tree (hls4ml's n_in): K·K·C/groups, or the flat input size."""
        if self.op == "conv":
            return self.kernel[0] * self.kernel[1] * self.in_shape[0] // self.groups
        if self.op == "dense":
            return self.in_shape[0] * self.in_shape[1] * self.in_shape[2]
        return self.in_shape[0]

    @property
    def n_out(self) -> int:
        return self.out_shape[0]

    @property
    def out_pixels(self) -> int:
        return self.out_shape[1] * self.out_shape[2]

    @property
    def in_pixels(self) -> int:
        return self.in_shape[1] * self.in_shape[2]

    @property
    def macs(self) -> int:
        """Multiply-accumulates of the dense structure (zeros included)."""
        if self.op == "conv":
            return self.out_pixels * self.n_out * self.n_in
        if self.op == "dense":
            return self.n_in * self.n_out
        return 0

    @property
    def density(self) -> float:
        return self.nonzero_weights / self.weights if self.weights else 1.0

    def with_weights(self, weights: int, nonzero: int, **changes) -> "Layer":
        """A copy with ``weights`` weights, ``nonzero`` of them nonzero (and the fields in ``changes``, e.g.
        shapes): an estimate of the same layer resized or pruned. Its shift-and-add counts keep their share of
        the nonzero weights (the weight values are unknown, their distribution is kept), so they never exceed
        the nonzeros a resized layer has."""
        nonzero = max(0, min(int(weights), int(nonzero)))
        shift_add = self.shift_add
        if shift_add:
            scale = nonzero / self.nonzero_weights if self.nonzero_weights else 0.0
            shift_add = tuple(min(nonzero, round(c * scale)) for c in shift_add)
        return replace(self, weights=int(weights), nonzero_weights=nonzero, shift_add=shift_add, **changes)

    @property
    def out_elements(self) -> int:
        c, h, w = self.out_shape
        return c * h * w

    @property
    def in_elements(self) -> int:
        c, h, w = self.in_shape
        return c * h * w


@dataclass(frozen=True)
class Network:
    """Layers in topological order plus where they came from (zoo name, checkpoint or ONNX file)."""

    name: str
    layers: Tuple[Layer, ...]
    input_shape: Tuple[int, ...]
    source: str = "manual"
    meta: Dict[str, object] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self):
        if not self.layers:
            raise CodesignError(f"network '{self.name}' has no layers the simulator can map")
        seen: set[str] = set()
        for layer in self.layers:
            if layer.name in seen:
                raise CodesignError(f"network '{self.name}': duplicate layer name '{layer.name}'")
            missing = [p for p in layer.inputs if p not in seen]
            if missing:
                raise CodesignError(f"network '{self.name}': layer '{layer.name}' reads '{missing[0]}', "
                                    f"which is not an earlier layer")
            seen.add(layer.name)

    def __len__(self) -> int:
        return len(self.layers)

    @cached_property
    def index(self) -> Dict[str, int]:
        return {layer.name: i for i, layer in enumerate(self.layers)}

    @cached_property
    def arrays(self) -> "LayerArrays":
        return LayerArrays.build(self)

    @cached_property
    def signature(self) -> str:
        """A digest of everything the cost models read (cache key for batch evaluation)."""
        text = repr(tuple((l.op, l.inputs, l.in_shape, l.out_shape, l.kernel, l.stride, l.groups, l.weights,
                           l.nonzero_weights, l.activation, l.shift_add) for l in self.layers))
        return hashlib.sha1(text.encode()).hexdigest()[:16]

    @cached_property
    def weights(self) -> int:
        return sum(l.weights for l in self.layers)

    @cached_property
    def nonzero_weights(self) -> int:
        return sum(l.nonzero_weights for l in self.layers)

    @cached_property
    def macs(self) -> int:
        return sum(l.macs for l in self.layers)


def _shift_add(layers) -> np.ndarray:
    from .hls_rules import SHIFT_ADD_FRACTIONS

    out = np.full((len(layers), SHIFT_ADD_FRACTIONS), -1, dtype=np.int64)
    for i, l in enumerate(layers):
        if len(l.shift_add) == SHIFT_ADD_FRACTIONS:
            out[i] = l.shift_add
    return out


@dataclass(frozen=True)
class LayerArrays:
    """The per-layer numbers of a network as numpy arrays (the cost models are vectorised)."""

    op: np.ndarray            # str
    cin: np.ndarray
    cout: np.ndarray
    in_h: np.ndarray
    in_w: np.ndarray
    out_h: np.ndarray
    out_w: np.ndarray
    kh: np.ndarray
    kw: np.ndarray
    stride: np.ndarray
    groups: np.ndarray
    activation: np.ndarray    # str
    weights: np.ndarray
    nonzero: np.ndarray
    macs: np.ndarray
    n_in: np.ndarray
    n_out: np.ndarray
    in_elems: np.ndarray      # summed over all inputs (Add reads two tensors)
    out_elems: np.ndarray
    preds: Tuple[Tuple[int, ...], ...]
    consumers: np.ndarray     # how many layers read each layer's output
    shift_add: np.ndarray     # (layers, fractions): Layer.shift_add, -1 where the weight values are unknown
    _masks: Dict[Tuple[str, ...], np.ndarray] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def build(cls, net: Network) -> "LayerArrays":
        ls = net.layers
        ints = lambda f: np.array([f(l) for l in ls], dtype=np.int64)  # noqa: E731
        index = net.index
        sizes = {l.name: l.out_elements for l in ls}
        in_elems = np.array([sum(sizes[p] for p in l.inputs) if l.inputs else l.in_elements for l in ls],
                            dtype=np.int64)
        preds = tuple(tuple(index[p] for p in l.inputs) for l in ls)
        consumers = np.zeros(len(ls), dtype=np.int64)
        for ps in preds:
            for p in ps:
                consumers[p] += 1
        return cls(op=np.array([l.op for l in ls]), cin=ints(lambda l: l.in_shape[0]),
                   cout=ints(lambda l: l.out_shape[0]), in_h=ints(lambda l: l.in_shape[1]),
                   in_w=ints(lambda l: l.in_shape[2]), out_h=ints(lambda l: l.out_shape[1]),
                   out_w=ints(lambda l: l.out_shape[2]), kh=ints(lambda l: l.kernel[0]),
                   kw=ints(lambda l: l.kernel[1]), stride=ints(lambda l: l.stride[0]),
                   groups=ints(lambda l: l.groups), activation=np.array([l.activation for l in ls]),
                   weights=ints(lambda l: l.weights),
                   nonzero=ints(lambda l: l.nonzero_weights), macs=ints(lambda l: l.macs),
                   n_in=ints(lambda l: l.n_in), n_out=ints(lambda l: l.n_out), in_elems=in_elems,
                   out_elems=ints(lambda l: l.out_elements),
                   preds=preds, consumers=consumers, shift_add=_shift_add(ls))

    def mask(self, *ops: str) -> np.ndarray:
        """Boolean array: which layers have one of ``ops`` (cached; treat as read-only)."""
        found = self._masks.get(ops)
        if found is None:
            found = self._masks[ops] = np.isin(self.op, ops)
        return found
