"""One layer-naming rule for the export's ONNX nodes and simulate's torch.fx nodes (codesign.naming)."""
from __future__ import annotations

import torch.nn as nn
import torch.nn.functional as F

from codesign.naming import op_names
from codesign.sim import network_from_model


def test_op_names_follow_the_module_an_op_runs_in():
    ops = [("stem", "Conv"), (None, "Relu"), ("block.c1", "Conv"), ("block", "Relu"), ("block", "Add"),
           ("block", "Relu"), (None, "Relu"), ("act", "Relu"), ("act_1", "Relu"), ("sw", "Sigmoid"), ("sw", "Mul"),
           ("0", "Gemm")]
    assert op_names(ops) == [("stem", "stem"), ("relu", "relu"), ("block_c1", "block.c1"),
                             ("block_relu", "block.relu"), ("block_add", "block.add"),
                             ("block_relu_2", "block.relu_2"), ("relu_2", "relu_2"), ("act", "act"),
                             ("act_1", "act_1"), ("sw_sigmoid", "sw.sigmoid"), ("sw_mul", "sw.mul"), ("l_0", "0")]


class _Swish(nn.Module):
    def forward(self, x):
        return x * F.sigmoid(x)


class _Net(nn.Module):
    """A module called twice, a module of two functional ops, and a module named like a functional op."""

    def __init__(self):
        super().__init__()
        self.fc1, self.act, self.sw, self.relu, self.fc2 = nn.Linear(8, 8), nn.ReLU(), _Swish(), nn.ReLU(), nn.Linear(8, 3)

    def forward(self, x):
        x = self.sw(self.act(self.act(self.fc1(x))))
        return self.fc2(F.relu(self.relu(x)) + x)


def test_simulate_names_layers_as_the_export_does():
    from codesign.export.hls import source_graph

    model = _Net().eval()
    clean = source_graph(model, (8,))
    exported = [n.name for n in clean.graph.nodes if n.name not in clean.fused_bias]
    simulated = [l.name for l in network_from_model(model, (8,)).layers]
    assert simulated == ["fc1", "act", "act_1", "sw.sigmoid", "sw.mul", "relu", "relu_2", "add", "fc2"]
    assert [n.replace(".", "_") for n in simulated] == exported
