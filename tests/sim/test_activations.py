"""Layer.activation and the pad op, from both parsers."""
import pytest
import torch
import torch.nn as nn

from codesign.errors import CodesignError
from codesign.sim import Layer, network_from_model, network_from_onnx, references


class _Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.pad = nn.ZeroPad2d(1)
        self.conv = nn.Conv2d(1, 4, 3)
        self.act = nn.ELU()
        self.fc = nn.Linear(4 * 6 * 6, 8)
        self.soft = nn.Softmax(dim=1)

    def forward(self, x):
        x = self.act(self.conv(self.pad(x)))
        x = torch.sigmoid(self.fc(x.flatten(1)))
        return self.soft(torch.relu(x) + torch.tanh(x))


def _acts(net):
    return {l.name: (l.op, l.activation) for l in net.layers if l.op in ("act", "softmax", "pad")}


def test_torch_parser_names_activations_and_padding():
    net = network_from_model(_Net().eval(), (1, 6, 6))
    acts = _acts(net)
    assert acts["pad"] == ("pad", "") and net.layers[net.index["conv"]].in_shape == (1, 8, 8)
    assert acts["act"] == ("act", "elu") and acts["soft"] == ("softmax", "softmax")
    assert sorted(a for op, a in acts.values() if op == "act") == ["elu", "relu", "sigmoid", "tanh"]


def _padded_onnx(path):
    """Conv -> LeakyRelu -> Pad (pads as a constant input, opset 13) -> Conv -> Tanh -> Flatten -> Gemm -> LogSoftmax."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.standard_normal(s).astype(np.float32), n) for n, s in
             (("w1", (4, 1, 3, 3)), ("w2", (4, 4, 3, 3)), ("w3", (3, 64)))]
    inits.append(numpy_helper.from_array(np.array([0, 0, 1, 1, 0, 0, 1, 1], dtype=np.int64), "pads"))
    nodes = [helper.make_node("Conv", ["x", "w1"], ["c1"], "conv1"), helper.make_node("LeakyRelu", ["c1"], ["a1"], "lrelu"),
             helper.make_node("Pad", ["a1", "pads"], ["p1"], "pad"), helper.make_node("Conv", ["p1", "w2"], ["c2"], "conv2"),
             helper.make_node("Tanh", ["c2"], ["a2"], "tanh"), helper.make_node("Flatten", ["a2"], ["f"], "flatten"),
             helper.make_node("Gemm", ["f", "w3"], ["g"], "fc", transB=1),
             helper.make_node("LogSoftmax", ["g"], ["y"], "logsoftmax", axis=1)]
    graph = helper.make_graph(nodes, "padded", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 6, 6])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))


def test_onnx_parser_names_activations_and_padding(tmp_path):
    path = tmp_path / "m.onnx"
    _padded_onnx(path)
    net = network_from_onnx(path)
    assert [l.activation for l in net.layers if l.op in ("act", "softmax")] == ["leaky_relu", "tanh", "log_softmax"]
    pad = next(l for l in net.layers if l.op == "pad")
    assert pad.in_shape == (4, 4, 4) and pad.out_shape == (4, 6, 6)
    conv2 = net.layers[net.index[pad.name] + 1]
    assert conv2.op == "conv" and conv2.in_shape == (4, 6, 6) and conv2.out_shape == (4, 4, 4)


def test_references_and_validation():
    svhn = references.svhn_cnn()
    assert {l.activation for l in svhn.layers if l.op in ("act", "softmax")} == {"relu", "softmax"}
    with pytest.raises(CodesignError, match="unknown activation 'swishy'"):
        Layer("a", "act", (), (4, 1, 1), (4, 1, 1), activation="swishy")
