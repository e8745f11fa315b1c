"""Export of models written here (tests/user_models.py) and of ONNX graphs in the forms other
exporters write: depthwise and grouped convolutions, Concat, Clip (ReLU6, Hardtanh), SiLU,
pooling, Flatten after a conv, BatchNorm1d, Conv1d."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch
import torch.nn as nn
from onnx import TensorProto, helper, numpy_helper

from codesign.export import build_hls, csim, export_onnx
from codesign.export.emulate import Emulator
from codesign.export.hls import as_graph_input, source_graph
from codesign.export.onnx import module_types, run_onnxruntime, to_onnx_proto
from codesign.export.passes import clean_graph, hls_ready
from tests.user_models import USER_MODELS, build


def emulate(clean, x, plan=None):
    with torch.no_grad():
        return Emulator(clean.graph, clean.fused_bias).run(as_graph_input(x, clean.input_layout), plan)


@pytest.mark.parametrize("name", sorted(USER_MODELS))
def test_cleaned_graph_computes_what_pytorch_computes(name):
    model, shape = build(name)
    clean = clean_graph(to_onnx_proto(model, shape), module_types(model))
    x = torch.randn(5, *shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(emulate(clean, x).float(), model(x), rtol=1e-4, atol=1e-5)
    proto, layout = hls_ready(clean)
    assert layout == ("nchw" if len(shape) == 1 else "nhwc")      # a vector input needs no reordering
    ops = {n.op_type for n in proto.graph.node}
    assert not ops & {"Shape", "Gather", "Reshape", "BatchNormalization", "Identity", "Dropout", "Gemm"}


def test_grouped_convolutions_hls4ml_lacks_become_block_diagonal_dense_ones():
    model, shape = build("mosaic")
    clean = source_graph(model, shape)
    groups = {n.name: next((a.i for a in n.attribute if a.name == "group"), 1)
              for n in clean.graph.nodes if n.op_type == "Conv"}
    assert groups["dw"] == 6                              # depthwise, one output per channel: hls4ml's own
    assert groups["branch_b"] == 1 and groups["widen"] == 1
    weight = next(clean.graph.inits[n.input[1]] for n in clean.graph.nodes if n.name == "branch_b")
    assert weight.shape == (6, 6, 3, 3) and np.all(weight[:2, 2:] == 0) and np.all(weight[2:4, :2] == 0)


def test_linear_batchnorm1d_is_folded_into_the_dense_layer():
    model, shape = build("batchnorm_mlp")
    clean = source_graph(model, shape)
    assert "BatchNormalization" not in clean.graph.ops()


def test_python_api_takes_the_input_shape_from_samples_or_in_shape(tmp_path):
    model, shape = build("inception")
    x = torch.randn(4, *shape)
    assert export_onnx(model, samples=x).max_abs_diff < 1e-4
    assert export_onnx(model, tmp_path / "m.onnx", in_shape=shape).path.is_file()
    with pytest.raises(Exception, match="input shape of Inception is unknown"):
        export_onnx(model)


# ------------------------------------------------------------------ graphs from other exporters

def _model(nodes, inits, in_shape, out_shape, opset=18):
    graph = helper.make_graph(nodes, "foreign", [helper.make_tensor_value_info("x", TensorProto.FLOAT, in_shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)],
                              initializer=[numpy_helper.from_array(np.asarray(v), k) for k, v in inits.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def test_dynamo_style_mean_and_reshape_become_pool_and_flatten():
    rng = np.random.default_rng(0)
    w, b = rng.normal(size=(4, 3, 3, 3)).astype(np.float32), rng.normal(size=(4,)).astype(np.float32)
    fc = rng.normal(size=(5, 4)).astype(np.float32)
    proto = _model([
        helper.make_node("Conv", ["x", "w", "b"], ["c"], name="node_conv", pads=[1, 1, 1, 1]),
        helper.make_node("Clip", ["c", "lo", "hi"], ["r"], name="node_relu6"),
        helper.make_node("ReduceMean", ["r", "axes"], ["m"], name="node_mean", keepdims=1),
        helper.make_node("Reshape", ["m", "shape"], ["f"], name="node_view"),
        helper.make_node("Gemm", ["f", "fc"], ["y"], name="node_fc", transB=1),
    ], {"w": w, "b": b, "lo": np.float32(0), "hi": np.float32(6), "axes": np.array([2, 3]),
        "shape": np.array([1, 4]), "fc": fc}, [1, 3, 6, 6], [1, 5])
    clean = clean_graph(proto)
    assert clean.graph.ops() == ["Conv", "Clip", "GlobalAveragePool", "Flatten", "MatMul"]
    x = torch.randn(1, 3, 6, 6)
    np.testing.assert_allclose(emulate(clean, x).numpy(), run_onnxruntime(proto, x.numpy()), rtol=1e-5, atol=1e-5)


def test_computed_flatten_shape_and_three_way_concat():
    model, shape = build("inception")
    proto = to_onnx_proto(model, shape)
    assert "Shape" in {n.op_type for n in proto.graph.node}     # x.view(x.size(0), -1)
    concat = helper.make_node("Concat", ["x", "x", "x"], ["y"], axis=1, name="cat3")
    three = clean_graph(_model([concat], {}, [1, 2, 3, 3], [1, 6, 3, 3]))
    assert three.graph.ops() == ["Concat", "Concat"]
    x = torch.randn(2, 2, 3, 3)
    torch.testing.assert_close(emulate(three, x).float(), torch.cat([x, x, x], 1))


def test_weights_behind_identity_nodes_and_unfolded_batchnorm():
    """What a legacy export of torchvision models looks like: weights fed through Identity nodes,
    and a BatchNorm after a convolution left unfolded by other tools."""
    rng = np.random.default_rng(1)
    w = rng.normal(size=(3, 2, 1, 1)).astype(np.float32)
    bn = {k: rng.uniform(0.5, 1.5, size=3).astype(np.float32) for k in ("g", "beta", "mean", "var")}
    proto = _model([
        helper.make_node("Identity", ["w0"], ["w"], name="Identity_0"),
        helper.make_node("Conv", ["x", "w"], ["c"], name="/conv/Conv"),
        helper.make_node("BatchNormalization", ["c", "g", "beta", "mean", "var"], ["y"], name="/bn/BN"),
    ], {"w0": w, **bn}, [1, 2, 4, 4], [1, 3, 4, 4])
    clean = clean_graph(proto)
    assert clean.graph.ops() == ["Conv"]
    x = torch.randn(1, 2, 4, 4)
    np.testing.assert_allclose(emulate(clean, x).numpy(), run_onnxruntime(proto, x.numpy()), rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------------ C simulation

@pytest.mark.csim
@pytest.mark.parametrize("name", ["mosaic", "signal1d"])
def test_user_layers_simulate_bit_exactly(tmp_path, name):
    model, shape = build(name)
    x = torch.randn(12, *shape, generator=torch.Generator().manual_seed(1))
    calibration = torch.randn(64, *shape, generator=torch.Generator().manual_seed(2))
    project = build_hls(model, tmp_path / "hls", calibration=calibration)   # the shape from the samples
    report = csim(project, x, model=model)
    assert project.settings.io_type == "io_stream" and report.top1_agreement >= 0.9
    expected = emulate(source_graph(model, shape), x, project.precision.types).double().numpy()
    np.testing.assert_array_equal(report.outputs, expected)


# ------------------------------------------------------------------ recurrent layers

@pytest.mark.parametrize("kind", [nn.LSTM, nn.GRU, nn.RNN])
def test_a_recurrent_layer_is_named_not_the_transpose_before_it(kind):
    from codesign.errors import ExportError
    from tests.user_models import TransposedRecurrent

    model = TransposedRecurrent(kind).eval()
    with pytest.raises(ExportError) as err:
        clean_graph(to_onnx_proto(model, (2, 12)), module_types(model))
    assert f"layer 'rnn' ({kind.__name__})" in str(err.value) and "Transpose" not in str(err.value)


def test_normal_forms_leave_shape_arithmetic_on_constants_alone():
    """torch's LSTM export builds its initial state's shape with a Concat of Constants (which have no
    recorded shape once they are initializers): no normal form may fail on it."""
    from codesign.export.passes import normal_graph

    concat = helper.make_node("Concat", ["c0", "n", "c1"], ["s"], axis=0, name="/lstm/Concat")
    shape = helper.make_node("Shape", ["x"], ["n"], name="/lstm/Shape", start=0, end=1)
    const = [helper.make_node("Constant", [], [c], value=numpy_helper.from_array(np.array([k], np.int64)))
             for k, c in ((1, "c0"), (8, "c1"))]
    fill = helper.make_node("ConstantOfShape", ["s"], ["z"], name="/lstm/ConstantOfShape")
    add = helper.make_node("Add", ["x", "x"], ["y"], name="/add")
    graph = helper.make_graph([shape, *const, concat, fill, add], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4]),
                               helper.make_tensor_value_info("z", TensorProto.FLOAT, None)])
    g = normal_graph(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))
    assert any(n.op_type == "Concat" and n.output[0] == "s" for n in g.nodes)
    assert g.shape_of("c0") == (1,) and g.shape_of("nowhere") is None


def test_target_onnx_writes_a_recurrent_model_and_says_hls4ml_refuses_it(cli, tmp_path):
    import json

    from tests.user_models import TransposedRecurrent

    model = TransposedRecurrent().eval()
    path = tmp_path / "rnn.pt"
    torch.save(model, path)
    r = cli("export", "--checkpoint", path, "--input-shape", "2,12", "--target", "onnx", "--out", tmp_path / "o")
    assert r.code == 0, r.err
    report = json.loads((tmp_path / "o" / "export.json").read_text())
    assert report["onnx"]["max_abs_diff_vs_pytorch"] < 1e-5
    assert report["onnx"]["hls4ml"].startswith("not supported: layer 'rnn' (LSTM)")
    assert "--target hls and fpga refuse this model" in r.out
    r = cli("export", "--checkpoint", path, "--input-shape", "2,12", "--target", "hls", "--out", tmp_path / "h")
    lines = [line for line in r.err.splitlines() if line.startswith("error")]
    assert r.code == 2 and len(lines) == 1 and "layer 'rnn' (LSTM)" in lines[0]


def test_an_operator_onnx_lacks_is_one_line_without_torchs_graph_dump(capfd):
    """torch.onnx prints its IR graph past Python (C++, once its exporter has switched its log on) before it
    raises; the user sees only the one-line error naming the operator."""
    from codesign.errors import ExportError

    class Spectrum(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(8, 4)

        def forward(self, x):
            return torch.fft.fft(self.fc(x)).real

    for _ in range(2):                         # the second export runs with torch's log already on
        with pytest.raises(ExportError, match=r"could not trace the model test_user_layers\.py:Spectrum \(.*fft"):
            to_onnx_proto(Spectrum(), (8,))
    out, err = capfd.readouterr()
    assert "Torch IR graph" not in out + err and "aten::" not in out + err
