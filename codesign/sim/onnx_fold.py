"""Constant folding and shape inference for ONNX files whose shapes ONNX's own inference leaves open.

torch's legacy exporter writes ``nn.ZeroPad2d`` as a ConstantOfShape → Concat → Reshape → Slice →
Transpose → Reshape → Cast chain computing the Pad's ``pads``; ONNX shape inference does not evaluate
it (not even with data propagation), so every shape after the Pad is unknown. Folding evaluates each
node of the standard ONNX domain whose inputs are all constants (with ONNX's reference evaluator) and
turns its outputs into initializers; shape inference then resolves the rest. Nodes of other domains
(qonnx's Quant, channels-last ops) are left alone.
"""
from __future__ import annotations

from typing import Dict

import numpy as np

RANDOM_OPS = {"RandomNormal", "RandomNormalLike", "RandomUniform", "RandomUniformLike", "Multinomial", "Bernoulli"}
MAX_FOLDED_ELEMENTS = 1 << 24        # never materialise a huge constant (e.g. a ConstantOfShape of an activation)


def _foldable(node, values: Dict[str, np.ndarray]) -> bool:
    if node.domain not in ("", "ai.onnx") or node.op_type in RANDOM_OPS or node.op_type == "Constant":
        return node.op_type == "Constant" and node.domain in ("", "ai.onnx")
    inputs = [i for i in node.input if i]
    return bool(inputs) and all(i in values for i in inputs)


def fold_constants(model):
    """A copy of ``model`` with its constant sub-graphs evaluated into initializers (see the module doc)."""
    import onnx
    from onnx import numpy_helper
    from onnx.reference import ReferenceEvaluator

    model = onnx.ModelProto.FromString(model.SerializeToString())
    graph = model.graph
    values = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    outputs = {o.name for o in graph.output}
    keep, folded = [], []
    for node in graph.node:
        if not _foldable(node, values) or any(o in outputs for o in node.output):
            keep.append(node)
            continue
        try:
            results = ReferenceEvaluator(node).run(None, {i: values[i] for i in node.input if i})
        except Exception:  # an op the reference evaluator lacks: leave it for the parser to judge
            keep.append(node)
            continue
        if any(np.asarray(r).size > MAX_FOLDED_ELEMENTS for r in results):
            keep.append(node)
            continue
        for name, value in zip(node.output, results):
            values[name] = np.asarray(value)
            folded.append(numpy_helper.from_array(np.asarray(value), name))
    if folded:
        del graph.node[:]
        graph.node.extend(keep)
        graph.initializer.extend(folded)
        folded_names = {t.name for t in folded}
        kept_info = [vi for vi in graph.value_info if vi.name not in folded_names]
        del graph.value_info[:]
        graph.value_info.extend(kept_info)
    return model


def infer_shapes(model):
    """Fold constants, then ONNX shape inference with data propagation (custom domains may defeat it:
    the stored value_info is kept then)."""
    import onnx

    model = fold_constants(model)
    try:
        return onnx.shape_inference.infer_shapes(model, data_prop=True)
    except Exception:  # qonnx domains and friends
        return model
