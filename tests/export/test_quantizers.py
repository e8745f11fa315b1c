"""QONNX quantizers the export builds (one power-of-two scale, zero point 0) and those it refuses in one line
before any slow step: hls4ml 1.3 rebuilds any other as ApplyAlpha rescale layers whose types nobody chose
(before the fix, brevitas' default float-scale quantizers exported with exit 0, an emulated agreement of 1.0
and a C simulation agreeing on 0-25% of the samples)."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from codesign.errors import ExportError
from codesign.export.passes import clean_graph
from codesign.fixed_point import FixedType
from codesign.sim.hls_rules import quantizer_problem, quantizer_type

QONNX = "qonnx.custom_op.general"


def qonnx_linear(scale, zero_point=0.0) -> onnx.ModelProto:
    """x (1, 4) → MatMul by 8-bit quantized weights (QONNX Quant named 'fc_weight_quant') → y (1, 3)."""
    inits = [numpy_helper.from_array(np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3), "w"),
             numpy_helper.from_array(np.array(scale, dtype=np.float32), "scale"),
             numpy_helper.from_array(np.array(zero_point, dtype=np.float32), "zero"),
             numpy_helper.from_array(np.array(8.0, dtype=np.float32), "bits")]
    nodes = [helper.make_node("Quant", ["w", "scale", "zero", "bits"], ["wq"], name="fc_weight_quant", domain=QONNX,
                              signed=1, narrow=0, rounding_mode="ROUND"),
             helper.make_node("MatMul", ["x", "wq"], ["y"], name="fc")]
    graph = helper.make_graph(nodes, "qlinear", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid(QONNX, 1)])
    model.ir_version = 8
    return model


def test_the_rule_is_hls4mls():
    assert quantizer_problem(np.array(0.25), np.array(0.0), "ROUND", True, False) is None
    assert "not a power of two" in quantizer_problem(np.array(0.3), np.array(0.0), "ROUND", True, False)
    assert "zero point" in quantizer_problem(np.array(0.25), np.array(3.0), "ROUND", True, False)
    assert "per channel" in quantizer_problem(np.array([0.25, 0.5]), np.array(0.0), "ROUND", True, False)
    assert "rounding mode" in quantizer_problem(np.array(0.25), np.array(0.0), "CEIL", True, False)
    assert quantizer_type(np.array(0.25), np.array(8.0), "ROUND", True, False) == FixedType(8, 6, True, "RND_CONV", "SAT")
    assert quantizer_type(np.array(2.0), np.array(4.0), "FLOOR", False, False) == FixedType(4, 5, False, "TRN", "SAT")


def test_a_float_scale_quantizer_is_refused_naming_it():
    clean_graph(qonnx_linear(0.25))                                        # power of two: built
    with pytest.raises(ExportError, match=r"'fc_weight_quant'.*scale 0\.3 is not a power of two.*FixedPoint"):
        clean_graph(qonnx_linear(0.3))
    with pytest.raises(ExportError, match="zero point is 1, not 0"):
        clean_graph(qonnx_linear(0.25, 1.0))


def test_export_and_simulate_refuse_it_alike(cli, tmp_path):
    path = tmp_path / "q.onnx"
    onnx.save(qonnx_linear(0.3), str(path))
    r = cli("export", "--onnx", path, "--target", "hls", "--out", tmp_path / "ex")
    assert r.code == 2 and "not a power of two" in r.err and len(r.err.strip().splitlines()) == 1, r.err
    assert not (tmp_path / "ex" / "hls").exists()
    r = cli("simulate", "--onnx", path, "--device", "pynq-z2", "--out", tmp_path / "sim")
    assert r.code == 2 and "not a power of two" in r.err and "fc_weight_quant" in r.err, r.err
