"""How many multipliers pruned zeros save in the hls4ml design.

hls4ml's own rule (the ``multiplier_limit`` of every Dense and Conv config it writes, e.g.
``backends/vivado/passes/core_templates.py``):

    multiplier_limit = ceil(n_in * n_out / reuse_factor) - n_zeros / reuse_factor   (integer division)

where n_zeros counts the exact zeros of the layer's weights (a Conv's n_in is kernel × input
channels). The HLS tool drops multiplications by a constant zero: under the Latency strategy, and
under Resource at reuse factor 1 only (at RF > 1 the weights live in a ROM and every weight, zero
or not, takes its slot). The rule is :func:`codesign.sim.hls_rules.zeros_save_multipliers`, the
estimator's too. A Dense layer on the sparse kernel (``SparseDense``, see ``sparse_kernel.py``) has
ceil(n_nonzeros / reuse_factor) multipliers in every strategy and stores only the nonzeros with
their input and output indices.
"""
from __future__ import annotations

import math
from typing import Any, Dict, List, Mapping

from ..sim import hls_rules

COMPUTE_CLASSES = ("Dense", "Conv1D", "Conv2D", "PointwiseConv1D", "PointwiseConv2D", "SparseDense")


def layer_multipliers(n_in: int, n_out: int, n_zeros: int, reuse_factor: int, strategy: str) -> Dict[str, int]:
    dense = math.ceil(n_in * n_out / reuse_factor)
    zeros_free = hls_rules.zeros_save_multipliers(strategy, reuse_factor)
    limit = hls_rules.multiplier_limit(n_in * n_out, reuse_factor, n_zeros, zeros_free)
    return {"dense_multipliers": dense, "multipliers": limit, "saved_by_zeros": dense - limit}


def _fan(layer) -> tuple:
    if layer.class_name in ("Dense", "SparseDense"):
        return int(layer.get_attr("n_in")), int(layer.get_attr("n_out"))
    kernel = int(layer.get_attr("filt_height", 1)) * int(layer.get_attr("filt_width", 1))
    return kernel * int(layer.get_attr("n_chan")), int(layer.get_attr("n_filt"))


def multiplier_report(hls_model, layer_names: Mapping[str, str] | None = None,
                      pruned: Mapping[str, int] | None = None, off_group: Mapping[str, int] | None = None
                      ) -> Dict[str, Any]:
    """Per compute layer: weights, zeros in hls4ml's weights (``off_group``: how many of them are the off-group
    zeros of a grouped convolution written block-diagonal; ``pruned``: how many were other exact zeros in the
    model; the rest are weights that round to zero at the chosen precision), reuse factor, multipliers with and
    without the zeros."""
    layer_names, pruned, off_group = layer_names or {}, pruned or {}, off_group or {}
    rows: List[Dict[str, Any]] = []
    for layer in hls_model.get_layers():
        if layer.class_name not in COMPUTE_CLASSES:
            continue
        onnx_name = layer.name.split("_", 1)[1] if layer.name.startswith(("Dense_", "Conv")) else layer.name
        rows.append({"layer": layer_names.get(onnx_name, onnx_name), "hls_layer": layer.name,
                     "pruned_zeros": pruned.get(onnx_name), "off_group_zeros": off_group.get(onnx_name, 0),
                     **_layer_row(layer)})
    total = {k: sum(r[k] or 0 for r in rows) for k in ("weights", "zeros", "pruned_zeros", "off_group_zeros",
                                                       "dense_multipliers", "multipliers", "saved_by_zeros",
                                                       "storage_bits")}
    return {"rule": "multiplier_limit = ceil(n_in*n_out/RF) - n_zeros/RF (hls4ml; Latency strategy, and Resource "
                    "at RF 1 only); sparse kernel: ceil(n_nonzeros/RF) in every strategy",
            "total": total, "layers": rows}


def _layer_row(layer) -> Dict[str, Any]:
    """Kernel, weights, zeros, multipliers and weight storage of one compute layer."""
    from .sparse_kernel import sparse_layer_row

    weights = layer.get_weights("weight")
    n_in, n_out = _fan(layer)
    rf, strategy = int(layer.get_attr("reuse_factor")), str(layer.get_attr("strategy"))
    bits = int(weights.type.precision.width)
    row = {"n_in": n_in, "n_out": n_out, "weights": n_in * n_out, "reuse_factor": rf, "strategy": strategy,
           "weight_bits": bits}
    if layer.class_name == "SparseDense":
        nnz = int(layer.get_attr("n_nonzeros"))
        sparse = sparse_layer_row(n_in, n_out, nnz, rf, bits, int(layer.get_attr("out_span")))
        saved = sparse["dense_multipliers"] - sparse["multipliers"]
        return {**row, "zeros": n_in * n_out - nnz, "saved_by_zeros": saved,
                **sparse, "storage_bits": sparse["sparse_bits"]}
    return {**row, "weights": int(weights.data_length), "zeros": int(weights.nzeros), "kernel": "dense",
            "storage_bits": int(weights.data_length) * bits,
            **layer_multipliers(n_in, n_out, int(weights.nzeros), rf, strategy)}
