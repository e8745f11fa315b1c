"""Additions to hls4ml 1.3's ONNX frontend, through its extension API.

Pooling: hls4ml's ONNX handler for MaxPool/AveragePool reads a 1-D layer's width and channels
in channels-first order on the channels-last tensor and leaves ``pad_left``/``pad_right`` unset;
a wrapper around it sets them from the (N, W, C) shape and the node's pads. The handler also leaves
``count_pad`` at its default, false (a padded border window divided by the pixels it overlaps, PyTorch's
``count_include_pad=False``); the wrapper sets it from the node's ``count_include_pad``, so PyTorch's
default (True, divide by the window size) is built as PyTorch computes it (io_parallel; hls4ml's io_stream
pooling takes no padding).

Global pooling (GlobalAveragePool/GlobalMaxPool, ``codesign.sim.hls_rules.is_global_pool``): hls4ml's
handler (``converters/onnx/pooling.py::parse_global_pooling_layer``) reads channels, height and width
in channels-first order on the channels-last tensor; a wrapper reads them from the (N, H, W, C) or
(N, W, C) shape. hls4ml's precision inference (``InferPrecisionTypes``) sizes the accumulator of
Pooling1D/2D only -- for an average width + 2⌈log2 N⌉ bits, integer + ⌈log2 N⌉, for a max the input's
type -- and gives GlobalPooling's the model's default type, which an average over a feature map
overflows; :func:`set_global_pool_accumulators` applies Pooling's rule to them after conversion.

Clip (ReLU6, Hardtanh, torch.clamp), which the frontend does not convert (and whose relu6 has no
io_stream version): the graph handed to hls4ml carries each
Clip's constant bounds as attributes (:func:`bounds_as_attributes`; hls4ml would otherwise make
the bound tensors dangling Constant layers), an ONNX handler (``register_onnx_layer_handler``)
reads them into a ``Clip`` layer (``register_layer``) with config and function-call templates
(``backend.register_template``) and the kernel header ``hls_templates/nnet_clip.h`` copied into
every project (``backend.register_source``). The same extension API as the sparse kernel
(sparse_kernel_hls4ml.py).
"""
from __future__ import annotations

import math
from pathlib import Path

from onnx import helper

from .emulate import CLIP_BOUND, clip_bound
from .graph import OnnxGraph, attribute
from .normalize import clip_bounds

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "hls_templates"
HEADER = "nnet_clip.h"
LAYER_NAME = "Clip"
DOMAIN = "codesign"
_registered = False

CONFIG_TEMPLATE = """struct config{index} : nnet::clip_config {{
    typedef {bound} bound_t;
    static const unsigned n_in = {n_in};
    static const unsigned io_type = nnet::{iotype};
    static const unsigned reuse_factor = {reuse};
    static const bound_t lo;
    static const bound_t hi;
}};
const config{index}::bound_t config{index}::lo = {lo!r};
const config{index}::bound_t config{index}::hi = {hi!r};\n"""

FUNCTION_TEMPLATE = "nnet::clip<{input_t}, {output_t}, {config}>({input}, {output});"


def bounds_as_attributes(g: OnnxGraph) -> bool:
    """Clip(x, min, max) → Clip(x) in codesign's op domain with float attributes min and max."""
    changed = False
    for k, n in enumerate(g.nodes):
        if n.op_type == "Clip" and n.domain != DOMAIN:
            lo, hi = clip_bounds(g, n)
            g.nodes[k] = helper.make_node("Clip", [n.input[0]], list(n.output), name=n.name, domain=DOMAIN,
                                          min=clip_bound(lo), max=clip_bound(hi))
            changed = True
    return changed


def _parse_clip(node, input_names, input_shapes, graph):
    """hls4ml ONNX handler: the layer dict of a Clip node (see bounds_as_attributes)."""
    return {"name": node.name, "class_name": LAYER_NAME, "inputs": input_names[:1], "outputs": list(node.output),
            "lo": attribute(node, "min"), "hi": attribute(node, "max")}


def _layer_class():
    from hls4ml.model.attributes import Attribute
    from hls4ml.model.layers import Layer

    class Clip(Layer):
        """min(max(x, lo), hi) elementwise."""

        _expected_attributes = [Attribute("n_in"), Attribute("lo", value_type=float),
                                Attribute("hi", value_type=float)]

        def initialize(self):
            self.add_output_variable(self.get_input_variable().shape)
            if "n_in" not in self.attributes:
                self.set_attr("n_in", self.get_input_variable().size())

    return Clip


def _template_classes(layer_cls):
    from hls4ml.backends.template import FunctionCallTemplate, LayerConfigTemplate

    class ClipConfigTemplate(LayerConfigTemplate):
        def __init__(self):
            super().__init__(layer_cls)
            self.template = CONFIG_TEMPLATE

        def format(self, node):
            params = self._default_config_params(node)
            params["bound"] = f"ap_fixed<{CLIP_BOUND.width}, {CLIP_BOUND.integer}>"
            return self.template.format(**params)

    class ClipFunctionTemplate(FunctionCallTemplate):
        def __init__(self):
            super().__init__(layer_cls, include_header=[f"nnet_utils/{HEADER}"])
            self.template = FUNCTION_TEMPLATE

        def format(self, node):
            return self.template.format(**self._default_function_params(node))

    return ClipConfigTemplate, ClipFunctionTemplate


def _with_pool_fixes(handler):
    def parse_pool(node, input_names, input_shapes, graph):
        layer = handler(node, input_names, input_shapes, graph)
        if node.op_type == "AveragePool":      # divide a border window by what PyTorch divides it by
            layer["count_pad"] = bool(attribute(node, "count_include_pad", 0))
        if layer["class_name"].endswith("Pooling1D"):
            pads = [int(p) for p in (layer.get("pads") or [0, 0])]
            _, width, channels = input_shapes[0]
            span = (layer["pool_width"] - 1) * int(layer["dilations"][0]) + 1
            layer.update(n_in=int(width), n_filt=int(channels), pad_left=pads[0], pad_right=pads[-1],
                         n_out=(int(width) + pads[0] + pads[-1] - span) // layer["stride_width"] + 1)
        return layer

    return parse_pool


def _channels_last_global(handler):
    def parse_global_pool(node, input_names, input_shapes, graph):
        layer = handler(node, input_names, input_shapes, graph)
        shape = [int(d) for d in input_shapes[0]]
        if len(shape) == 3:
            layer.update(n_in=shape[1], n_filt=shape[2])
        else:
            layer.update(in_height=shape[1], in_width=shape[2], n_filt=shape[3])
        return layer

    return parse_global_pool


def set_global_pool_accumulators(hls_model) -> None:
    """Give every GlobalPooling layer the accumulator hls4ml infers for Pooling layers (see the module doc)."""
    from hls4ml.backends.fpga.fpga_types import APTypeConverter
    from hls4ml.model.layers import GlobalPooling1D, GlobalPooling2D
    from hls4ml.model.types import FixedPrecisionType, IntegerPrecisionType

    for layer in hls_model.get_layers():
        if not isinstance(layer, (GlobalPooling1D, GlobalPooling2D)) or "accum_t" not in layer.types:
            continue
        x = layer.get_input_variable().type.precision
        if not isinstance(x, (FixedPrecisionType, IntegerPrecisionType)):
            continue                      # hls4ml's rule: other types keep the default
        n = layer.get_attr("n_in") if isinstance(layer, GlobalPooling1D) else \
            layer.get_attr("in_height") * layer.get_attr("in_width")
        if layer.get_attr("pool_op") == "Average":
            extra = int(math.ceil(math.log2(n))) if n > 1 else 0
            x = FixedPrecisionType(width=x.width + 2 * extra, integer=x.integer + extra, signed=x.signed)
        accum = layer.types["accum_t"]
        accum.name, accum.precision = f"{layer.name}_accum_t", APTypeConverter().convert(x)


def register() -> None:
    """Register the handlers, layer, templates and header with hls4ml (once per process)."""
    global _registered
    if _registered:
        return
    from hls4ml.backends import get_backend
    from hls4ml.converters.onnx_to_hls import layer_handlers, register_onnx_layer_handler
    from hls4ml.model.layers import register_layer

    for op in ("MaxPool", "AveragePool"):
        layer_handlers[op] = _with_pool_fixes(layer_handlers[op])
    for op in ("GlobalMaxPool", "GlobalAveragePool"):
        layer_handlers[op] = _channels_last_global(layer_handlers[op])
    register_onnx_layer_handler("Clip", _parse_clip)
    layer_cls = _layer_class()
    register_layer(LAYER_NAME, layer_cls)
    vivado = get_backend("Vivado")
    for template in _template_classes(layer_cls):
        vivado.register_template(template)
    for backend in ("Vivado", "Vitis"):
        get_backend(backend).register_source(TEMPLATE_DIR / HEADER)
    _registered = True
