"""hls4ml hook for the sparse dense kernel, through hls4ml's extension API: a ``SparseDense`` layer
(``register_layer``), its config and function-call templates (``backend.register_template``), the
kernel header copied into every project's ``firmware/nnet_utils`` (``backend.register_source``) and
an optimizer pass in the ``vivado:optimize`` flow that swaps a ``Dense`` layer for ``SparseDense``
when its layer config says ``SparseKernel: true`` (Vivado and Vitis backends; Vitis runs the Vivado
flows). The pass runs after precision inference, so the new layer keeps the Dense layer's resolved
accum, weight, bias and result types: the arithmetic is the same, bit for bit.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..sim.hls_rules import index_bits, unrolled
from .sparse_kernel import HEADER, offset_span, pack

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "hls_templates"
PASS_NAME = "codesign_sparse_dense"
LAYER_NAME = "SparseDense"
_registered = False

# {slots} are filled per layer by SparseDenseConfigTemplate.format (hls4ml's template convention)
CONFIG_TEMPLATE = """struct config{index} : nnet::dense_sparse_config {{
    static const unsigned n_in = {n_in};
    static const unsigned n_out = {n_out};
    static const unsigned n_nonzeros = {n_nonzeros};
    static const unsigned reuse_factor = {reuse};
    static const unsigned n_mult = {n_mult};
    static const unsigned multiplier_limit = {n_mult};
    static const unsigned io_type = nnet::{iotype};
    static const bool unrolled = {unrolled};
    typedef {accum_t.name} accum_t;
    typedef {bias_t.name} bias_t;
    typedef {weight_t.name} weight_t;
    typedef {in_index_t.name} in_index_t;
    typedef {out_index_t.name} out_index_t;
    typedef {lane_out_t.name} lane_out_t;
    template<class x_T, class y_T>
    using product = nnet::product::{product_type}<x_T, y_T>;
}};\n"""

FUNCTION_TEMPLATE = ("nnet::dense_sparse<{input_t}, {output_t}, {config}>"
                     "({input}, {output}, {w}, {win}, {wout}, {wlane}, {b});")


def _layer_class():
    from hls4ml.model.attributes import Attribute, TypeAttribute, WeightAttribute
    from hls4ml.model.layers import Layer

    class SparseDense(Layer):
        """A Dense layer whose weights are stored as nonzero (weight, input, output) triplets."""

        _expected_attributes = [
            Attribute("n_in"), Attribute("n_out"), Attribute("n_nonzeros"), Attribute("n_mult"),
            WeightAttribute("weight"), WeightAttribute("bias"), WeightAttribute("in_index"),
            WeightAttribute("out_index"), WeightAttribute("lane_out"), TypeAttribute("accum"),
            TypeAttribute("weight"), TypeAttribute("bias"), TypeAttribute("in_index"), TypeAttribute("out_index"),
            TypeAttribute("lane_out"),
        ]

        def initialize(self):
            from hls4ml.model.types import IntegerPrecisionType

            packed = pack(self.get_attr("dense_weight_data"), int(self.get_attr("reuse_factor")))
            self.set_attr("n_nonzeros", packed.n_nonzeros)
            self.set_attr("n_mult", packed.n_mult)
            self.set_attr("out_span", offset_span(packed))
            self.add_output_variable(list(self.get_attr("out_shape")), precision=self.get_attr("result_precision"))
            self.add_weights_variable(name="weight", var_name="w{index}", type_name="weight{index}_t",
                                      precision=self.get_attr("weight_precision"), data=packed.weights)
            self.add_weights_variable(name="bias", var_name="b{index}", type_name="bias{index}_t",
                                      precision=self.get_attr("bias_precision"), data=self.get_attr("bias_data"))
            sizes = {"in_index": ("inidx", self.get_attr("n_in")), "out_index": ("outoff", offset_span(packed)),
                     "lane_out": ("laneout", self.get_attr("n_out"))}
            for name, (var, n) in sizes.items():
                self.add_weights_variable(name=name, var_name=f"{var}{{index}}", type_name=f"{name}{{index}}_t",
                                          precision=IntegerPrecisionType(index_bits(n), signed=False),
                                          data=getattr(packed, name))

    return SparseDense


def _pass_class():
    from hls4ml.model.optimizer import OptimizerPass

    class SwapDenseForSparse(OptimizerPass):
        """Dense (1-D input, ``SparseKernel: true`` in its layer config) → SparseDense."""

        def match(self, node):
            return (node.class_name == "Dense" and bool(node.get_attr("sparse_kernel", False))
                    and len(node.get_input_variable().shape) == 1)

        def transform(self, model, node):
            weight, bias = node.get_weights("weight"), node.get_weights("bias")
            out = node.get_output_variable()
            attrs = {k: node.get_attr(k) for k in ("n_in", "n_out", "trace") if k in node.attributes}
            attrs["reuse_factor"] = model.config.get_reuse_factor(node)   # as asked: any RF suits the kernel
            matrix = np.asarray(weight.data, dtype=np.float64).reshape(attrs["n_in"], attrs["n_out"])
            attrs.update(dense_weight_data=matrix,
                         bias_data=np.asarray(bias.data, dtype=np.float64), out_shape=list(out.shape),
                         weight_precision=weight.type.precision, bias_precision=bias.type.precision,
                         result_precision=out.type.precision, accum_t=node.get_attr("accum_t"),
                         strategy="sparse", sparse_kernel=True, dense_strategy=node.get_attr("strategy"))
            new = model.make_node(LAYER_NAME, node.name, attrs, list(node.inputs), list(node.outputs))
            model.replace_node(node, new)
            if not unrolled(int(new.get_attr("n_nonzeros")), int(attrs["reuse_factor"])):
                # a top-level PIPELINE would unroll the ROM form's reuse loop: run the layers as DATAFLOW
                # (hls4ml's set_pipeline_style keeps a style that is already set)
                model.config.pipeline_style = "dataflow"
            return True

    return SwapDenseForSparse


def _template_classes(layer_cls):
    from hls4ml.backends.backend import get_backend
    from hls4ml.backends.template import FunctionCallTemplate, LayerConfigTemplate

    class SparseDenseConfigTemplate(LayerConfigTemplate):
        def __init__(self):
            super().__init__(layer_cls)
            self.template = CONFIG_TEMPLATE

        def format(self, node):
            params = self._default_config_params(node)
            form = unrolled(int(node.get_attr("n_nonzeros")), int(node.get_attr("reuse_factor")))
            params["unrolled"] = "true" if form else "false"
            params["product_type"] = get_backend("vivado").product_type(node.get_input_variable().type.precision,
                                                                        node.get_weights("weight").type.precision)
            return self.template.format(**params)

    class SparseDenseFunctionTemplate(FunctionCallTemplate):
        def __init__(self):
            super().__init__(layer_cls, include_header=[f"nnet_utils/{HEADER}"])
            self.template = FUNCTION_TEMPLATE

        def format(self, node):
            params = self._default_function_params(node)
            params.update(w=node.get_weights("weight").name, b=node.get_weights("bias").name,
                          win=node.get_weights("in_index").name, wout=node.get_weights("out_index").name,
                          wlane=node.get_weights("lane_out").name)
            return self.template.format(**params)

    return SparseDenseConfigTemplate, SparseDenseFunctionTemplate


def register() -> None:
    """Register the layer, templates, header and pass with hls4ml (once per process)."""
    global _registered
    if _registered:
        return
    from hls4ml.backends import get_backend
    from hls4ml.model.flow import update_flow
    from hls4ml.model.layers import register_layer
    from hls4ml.model.optimizer import register_pass

    layer_cls = _layer_class()
    register_layer(LAYER_NAME, layer_cls)
    vivado = get_backend("Vivado")
    for template in _template_classes(layer_cls):
        vivado.register_template(template)
    for backend in ("Vivado", "Vitis"):
        get_backend(backend).register_source(TEMPLATE_DIR / HEADER)
    register_pass(PASS_NAME, _pass_class(), backend="Vivado")
    update_flow("vivado:optimize", add_optimizers=[f"vivado:{PASS_NAME}"])
    _registered = True
