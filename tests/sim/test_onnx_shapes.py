"""ONNX input is never a silent estimate: constant-folded shapes, symbolic dimensions and invalid products."""
import numpy as np
import onnx
import pytest
import torch
import torch.nn as nn
from onnx import TensorProto, helper, numpy_helper

from codesign.errors import CodesignError
from codesign.sim import network_from_model, network_from_onnx


class PaddedResNet(nn.Module):
    """A residual block whose convolutions are padded by nn.ZeroPad2d (torch's legacy exporter writes a
    ConstantOfShape/Concat/Slice/Pad chain that ONNX shape inference cannot resolve)."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.ZeroPad2d(1), nn.Conv2d(3, 8, 3), nn.ReLU())
        self.block = nn.Sequential(nn.ZeroPad2d(1), nn.Conv2d(8, 8, 3), nn.ReLU(), nn.ZeroPad2d(1), nn.Conv2d(8, 8, 3))
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 10))

    def forward(self, x):
        x = self.stem(x)
        return self.head(torch.relu(x + self.block(x)))


def test_legacy_zeropad_chain_is_folded(tmp_path):
    model = PaddedResNet().eval()
    path = tmp_path / "resnet.onnx"
    torch.onnx.export(model, (torch.zeros(1, 3, 16, 16),), str(path), dynamo=False)
    assert "ConstantOfShape" in {n.op_type for n in onnx.load(str(path)).graph.node}
    from_onnx, from_torch = network_from_onnx(path), network_from_model(model, (3, 16, 16))
    assert from_onnx.macs == from_torch.macs == 16 * 16 * 8 * (27 + 72 + 72) + 80
    assert [l.op for l in from_onnx.layers if l.op in ("pad", "conv")] == ["pad", "conv"] * 3


def _save(path, nodes, inits, x_shape, y_shape, opsets=()):
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, y_shape)], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13), *opsets]), str(path))
    return path


def _array(name, shape, dtype=np.float32):
    return numpy_helper.from_array(np.random.default_rng(0).standard_normal(shape).astype(dtype), name)


def test_symbolic_dimensions_other_than_the_batch_are_refused(tmp_path):
    conv = helper.make_node("Conv", ["x", "w"], ["y"], "conv")
    batch = _save(tmp_path / "batch.onnx", [conv], [_array("w", (4, 3, 3, 3))], ["N", 3, 16, 16], ["N", 4, 14, 14])
    assert network_from_onnx(batch).layers[0].out_shape == (4, 14, 14)        # a symbolic batch is fine
    height = _save(tmp_path / "h.onnx", [conv], [_array("w", (4, 3, 3, 3))], ["N", 3, "H", 16], ["N", 4, "H2", 14])
    with pytest.raises(CodesignError, match=r"input 'x' has a symbolic dimension 'H' \(axis 2\)") as err:
        network_from_onnx(height)
    assert "\n" not in str(err.value)


def test_a_shape_nothing_can_resolve_names_its_node(tmp_path):
    nodes = [helper.make_node("Foo", ["c"], ["p"], "foo", domain="my.domain"),
             helper.make_node("Pad", ["x", "p"], ["px"], "pad"), helper.make_node("Conv", ["px", "w"], ["y"], "conv")]
    pads = numpy_helper.from_array(np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64), "c")
    path = _save(tmp_path / "custom.onnx", nodes, [pads, _array("w", (4, 3, 3, 3))], [1, 3, 8, 8], [1, 4, 8, 8],
                 [helper.make_opsetid("my.domain", 1)])
    with pytest.raises(CodesignError, match=r"'px', the output of node 'pad' \(Pad\), has unknown dimensions"):
        network_from_onnx(path)


@pytest.mark.parametrize("weight_shape, trans_b", [((5, 3), 0), ((3, 5), 1)])
def test_an_invalid_matmul_is_refused(tmp_path, weight_shape, trans_b):
    op = "Gemm" if trans_b else "MatMul"
    nodes = [helper.make_node("Flatten", ["x"], ["f"], "flat"),
             helper.make_node(op, ["f", "w"], ["y"], "mm", **({"transB": 1} if trans_b else {}))]
    path = _save(tmp_path / "mm.onnx", nodes, [_array("w", weight_shape)], [1, 2, 4], [1, 3])
    with pytest.raises(CodesignError, match=rf"{op} 'mm' is invalid: its weights take 5 inputs but it reads a tensor "
                                            r"of 8 values"):
        network_from_onnx(path)


def test_an_activation_quantizer_is_a_linear_activation_layer(tmp_path):
    """qonnx Quant on an activation: hls4ml makes it a 'linear' Activation of the quantized type."""
    consts = [numpy_helper.from_array(np.array(v, np.float32), n) for n, v in
              (("scale", 0.125), ("zeropt", 0.0), ("bits", 8.0))]
    nodes = [helper.make_node("Flatten", ["x"], ["f"], "flat"),
             helper.make_node("Quant", ["f", "scale", "zeropt", "bits"], ["q"], "in_quant",
                              domain="qonnx.custom_op.general", signed=1, narrow=0, rounding_mode="ROUND"),
             helper.make_node("MatMul", ["q", "w"], ["y"], "fc")]
    path = _save(tmp_path / "q.onnx", nodes, consts + [_array("w", (8, 3))], [1, 2, 4], [1, 3],
                 [helper.make_opsetid("qonnx.custom_op.general", 1)])
    layers = network_from_onnx(path).layers
    assert [(l.name, l.op, l.activation) for l in layers] == [("in_quant", "act", "linear"), ("fc", "dense", "")]
    assert layers[1].inputs == ("in_quant",)


def _qonnx_mlp(tmp_path, weight_scale=0.25):
    """Flatten -> Quant (8 bits, scale 1/8) -> MatMul with Quant'ed weights (4 bits, ``weight_scale``)."""
    consts = [numpy_helper.from_array(np.array(v, np.float32), n) for n, v in
              (("scale", 0.125), ("zeropt", 0.0), ("bits", 8.0), ("wscale", weight_scale), ("wbits", 4.0))]
    w = np.array([[0.1, -1.0, 0.6], [0.4, 0.0, -0.05], [1.3, 0.2, -0.4]] * 2 + [[0.9, 0.1, 0.0]] * 2, np.float32)
    q = dict(domain="qonnx.custom_op.general", signed=1, narrow=0, rounding_mode="ROUND")
    nodes = [helper.make_node("Flatten", ["x"], ["f"], "flat"),
             helper.make_node("Quant", ["f", "scale", "zeropt", "bits"], ["q"], "in_quant", **q),
             helper.make_node("Quant", ["w", "wscale", "zeropt", "wbits"], ["wq"], "w_quant", **q),
             helper.make_node("MatMul", ["q", "wq"], ["y"], "fc")]
    return _save(tmp_path / "q.onnx", nodes, consts + [numpy_helper.from_array(w, "w")], [1, 2, 4], [1, 3],
                 [helper.make_opsetid("qonnx.custom_op.general", 1)]), w


def test_qonnx_quantizers_give_hls4mls_types_and_zeros(tmp_path):
    """hls4ml's QONNX passes (quant_opt.py): width = bitwidth, integer bits = bitwidth + log2(scale) for a
    power-of-two scale; the weights are quantized before hls4ml counts their zeros."""
    scale = 0.25
    path, w = _qonnx_mlp(tmp_path, scale)
    net = network_from_onnx(path)
    assert net.meta["quantizer_types"] == {"in_quant": {"result": "fixed<8,5,RND_CONV,SAT>"},
                                           "fc": {"weight": "fixed<4,2,RND_CONV,SAT>"}}
    zeros = int(np.sum(np.clip(np.round(w / scale), -8, 7) == 0))
    assert net.layers[1].nonzero_weights == w.size - zeros and zeros > int(np.sum(w == 0))


def test_a_quantizer_hls4ml_rescales_is_refused_as_the_export_refuses_it(tmp_path):
    """A scale other than a power of two becomes hls4ml ApplyAlpha rescale layers, which the export refuses; the
    estimate refuses the file too (before the fix it priced the weights as fixed<4,4> and a design the export
    would not build)."""
    path, _ = _qonnx_mlp(tmp_path, 0.3)
    with pytest.raises(CodesignError, match=r"'w_quant' \(Quant\): its scale 0\.3 is not a power of two"):
        network_from_onnx(path)


def test_simulate_takes_a_qonnx_files_quantizers(cli, tmp_path):
    """precision auto on a QONNX file: 4-bit weights are LUT products (0 DSPs), not hls4ml's 16-bit default."""
    import json

    path, _ = _qonnx_mlp(tmp_path)
    r = cli("simulate", "--onnx", path, "--device", "xc7z020", "--no-plot", "--out", tmp_path / "a")
    assert r.code == 0, r.err
    fc = {l["name"]: l for l in json.loads((tmp_path / "a" / "report.json").read_text())["layers"]}["fc"]
    assert fc["detail"]["weight_bits"] == 4 and fc["dsp"] == 0
    r = cli("simulate", "--onnx", path, "--device", "xc7z020", "--precision", "ap_fixed<16,6>", "--no-plot",
            "--out", tmp_path / "b")                                       # a given precision wins
    fc = {l["name"]: l for l in json.loads((tmp_path / "b" / "report.json").read_text())["layers"]}["fc"]
    assert fc["detail"]["weight_bits"] == 16


@pytest.mark.parametrize("attrs, extra, message", [
    ({"mode": "reflect"}, [], r"Pad node 'pad' uses mode 'reflect'; hls4ml converts only zero padding"),
    ({"mode": "edge"}, [], r"uses mode 'edge'"),
    ({}, [np.array(1.0, np.float32)], r"Pad node 'pad' pads with 1; hls4ml converts only zero padding"),
])
def test_padding_hls4ml_cannot_convert_is_refused(tmp_path, attrs, extra, message):
    """hls4ml's ONNX Pad converter builds ZeroPadding only (converters/onnx/reshape.py): a reflect/edge or
    nonzero constant padding would be estimated as a design hls4ml never builds."""
    pads = numpy_helper.from_array(np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64), "p")
    inits = [pads, _array("w", (4, 3, 3, 3))] + [numpy_helper.from_array(v, "v") for v in extra]
    nodes = [helper.make_node("Pad", ["x", "p"] + (["v"] if extra else []), ["px"], "pad", **attrs),
             helper.make_node("Conv", ["px", "w"], ["y"], "conv")]
    path = _save(tmp_path / "pad.onnx", nodes, inits, [1, 3, 8, 8], [1, 4, 8, 8])
    with pytest.raises(CodesignError, match=message) as err:
        network_from_onnx(path)
    assert "\n" not in str(err.value)
    zero = _save(tmp_path / "zero.onnx", [helper.make_node("Pad", ["x", "p", "v"], ["px"], "pad"), nodes[1]],
                 [pads, inits[1], numpy_helper.from_array(np.array(0.0, np.float32), "v")], [1, 3, 8, 8], [1, 4, 8, 8])
    assert [l.op for l in network_from_onnx(zero).layers] == ["pad", "conv"]          # zeros are hls4ml's ZeroPadding


def test_dilated_pooling_is_refused(tmp_path):
    path = _save(tmp_path / "pool.onnx", [helper.make_node("MaxPool", ["x"], ["y"], "pool", kernel_shape=[2, 2],
                                                           dilations=[2, 2])], [], [1, 3, 8, 8], None)
    with pytest.raises(CodesignError, match=r"MaxPool node 'pool' has dilations \[2, 2\]; hls4ml's pooling kernels"):
        network_from_onnx(path)


class _Named(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU())
        self.fc1, self.fc2 = nn.Linear(2 * 6 * 6, 8), nn.Linear(8, 4)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(self.body(x).flatten(1))))


def test_a_torch_onnx_files_layers_take_the_exports_names(tmp_path):
    """torch.onnx's node names ('/body/body.0/Conv', '/Relu') become the export's layer names ('body_0',
    'relu'), also without the export's planning (--precision float); other files keep their node names."""
    path = tmp_path / "named.onnx"
    torch.onnx.export(_Named().eval(), (torch.zeros(1, 1, 8, 8),), str(path), dynamo=False)
    assert [l.name for l in network_from_onnx(path).layers if l.op != "flatten"] == \
        ["body_0", "body_1", "fc1", "relu", "fc2"]
    proto = onnx.load(str(path))
    for k, node in enumerate(proto.graph.node):
        node.name = f"n{k}"
    other = tmp_path / "other.onnx"
    onnx.save(proto, str(other))
    assert all(l.name.startswith("n") for l in network_from_onnx(other).layers)
