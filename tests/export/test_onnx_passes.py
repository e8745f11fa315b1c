"""ONNX export of every zoo model, our clean-up and channels-last passes, and the float emulator."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch
import torch.nn as nn

from codesign.errors import ExportError
from codesign.export import export_onnx
from codesign.export.emulate import Emulator
from codesign.export.graph import CHANNELS_LAST, torch_scope
from codesign.export.hls import as_graph_input
from codesign.export.onnx import module_types, to_onnx_proto
from codesign.export.passes import clean_graph, hls_ready
from codesign.export.weights import builder_default, set_batchnorm_statistics
from codesign.zoo import MODELS, create_model

TINY_WIDTH = {"resnet18": 0.0625, "vgg19": 0.0625}


def tiny(name: str, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    model = create_model(name, width=TINY_WIDTH.get(name, 0.125), in_shape=builder_default(name, "in_shape"),
                         num_classes=builder_default(name, "num_classes"))
    set_batchnorm_statistics(model, seed)      # non-trivial statistics, so BatchNorm folding is exercised
    return model.eval()


def inputs(model: nn.Module, n: int = 4) -> torch.Tensor:
    return torch.randn(n, *model.codesign_spec["in_shape"], generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("name", MODELS.names())
def test_every_zoo_model_exports_and_matches_onnxruntime(name, tmp_path):
    model = tiny(name)
    result = export_onnx(model, tmp_path / "m.onnx", samples=inputs(model))
    assert result.opset >= 17 and result.checked_samples == 4
    assert result.max_abs_diff < 1e-4 * max(1.0, result.max_abs_output)
    assert onnx.load(str(tmp_path / "m.onnx")).graph.node


@pytest.mark.parametrize("name", MODELS.names())
def test_cleaned_graph_computes_what_pytorch_computes(name):
    model = tiny(name)
    clean = clean_graph(to_onnx_proto(model, model.codesign_spec["in_shape"]))
    x = inputs(model)
    with torch.no_grad():
        got = Emulator(clean.graph, clean.fused_bias).run(as_graph_input(x, clean.input_layout))
        assert torch.allclose(got.float(), model(x), atol=1e-4)
    assert "Gemm" not in clean.graph.ops() and "Identity" not in clean.graph.ops()


@pytest.mark.parametrize("name", ["resnet20", "vgg19"])
def test_global_average_pool_stays_global_in_channels_last_without_transposes(name):
    model = tiny(name)
    proto, layout = hls_ready(clean_graph(to_onnx_proto(model, model.codesign_spec["in_shape"])))
    ops = [(n.op_type, n.domain) for n in proto.graph.node]
    assert layout == "nhwc"
    assert "Transpose" not in [op for op, _ in ops] and "AveragePool" not in [op for op, _ in ops]
    assert ("GlobalAveragePool", CHANNELS_LAST) in ops
    assert all(domain == CHANNELS_LAST for op, domain in ops if op in ("Conv", "MaxPool", "GlobalAveragePool"))
    dims = [d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim]
    assert dims[1:] == [32, 32, 3]


class WholeMapPools(nn.Module):
    """Poolings over the whole 6x6 map (average, max) beside a smaller and a padded window."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 4, 3)
        self.heads = nn.ModuleList([nn.AvgPool2d(6), nn.MaxPool2d(6), nn.AvgPool2d(2), nn.AvgPool2d(6, padding=1)])

    def forward(self, x):
        x = torch.relu(self.conv(x))
        return torch.cat([torch.flatten(h(x), 1) for h in self.heads], 1)


def test_a_pooling_window_over_the_whole_map_becomes_a_global_pooling():
    """codesign.sim.hls_rules.is_global_pool: what the estimator prices as globalpool is what the export emits."""
    model = WholeMapPools().eval()
    clean = clean_graph(to_onnx_proto(model, (2, 8, 8)))
    pools = [n.op_type for n in clean.graph.nodes if "Pool" in n.op_type]
    assert pools == ["GlobalAveragePool", "GlobalMaxPool", "AveragePool", "AveragePool"]
    x = torch.randn(3, 2, 8, 8, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        got = Emulator(clean.graph, clean.fused_bias).run(as_graph_input(x, clean.input_layout))
        torch.testing.assert_close(got.float(), model(x), rtol=1e-5, atol=1e-5)


class PaddedBranches(nn.Module):
    """nn.ZeroPad2d and an asymmetric F.pad before convolutions (one Pad read by two of them), 1-D too."""

    def __init__(self):
        super().__init__()
        self.pad = nn.ZeroPad2d((1, 2, 0, 1))
        self.a, self.b = nn.Conv2d(3, 4, 3, padding=1), nn.Conv2d(3, 4, 3, padding=1)
        self.c = nn.Conv2d(8, 2, 2, stride=2)

    def forward(self, x):
        y = self.pad(x)
        z = torch.cat([self.a(y), torch.relu(self.b(y))], 1)
        return self.c(nn.functional.pad(z, (0, 1, 1, 0)))


@pytest.mark.parametrize("model, shape", [(PaddedBranches(), (3, 9, 10)),
                                          (nn.Sequential(nn.ZeroPad1d((2, 1)), nn.Conv1d(2, 3, 3)), (2, 12))])
def test_zero_padding_joins_the_convolutions_it_feeds(model, shape):
    """hls4ml's Conv takes asymmetric pads: a zero Pad (its pads a folded constant chain) read only by Conv nodes
    becomes their padding, computing the same function."""
    model.eval()
    clean = clean_graph(to_onnx_proto(model, shape))
    assert "Pad" not in clean.graph.ops() and "ConstantOfShape" not in clean.graph.ops()
    x = torch.randn(3, *shape, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        got = Emulator(clean.graph, clean.fused_bias).run(as_graph_input(x, clean.input_layout))
        assert torch.allclose(got.float(), model(x), atol=1e-5)


def test_a_pad_hls4ml_cannot_take_is_still_refused():
    model = nn.Sequential(nn.ZeroPad2d(1), nn.MaxPool2d(2)).eval()      # a Pad before pooling: not a Conv's padding
    with pytest.raises(ExportError, match=r"ONNX Pad\) is not supported"):
        clean_graph(to_onnx_proto(model, (2, 8, 8)), module_types(model))


def test_mlp_gets_a_flat_input_and_lenet_gets_permuted_dense_weights():
    mlp = tiny("lenet300_100")
    clean = clean_graph(to_onnx_proto(mlp, (1, 28, 28)))
    assert clean.input_layout == "flat" and "Flatten" not in clean.graph.ops()
    lenet = tiny("lenet5")
    _, layout = hls_ready(clean_graph(to_onnx_proto(lenet, (1, 28, 28))))
    assert layout == "nhwc"


def test_layers_are_named_after_pytorch_modules():
    model = tiny("resnet20")
    clean = clean_graph(to_onnx_proto(model, (3, 32, 32)))
    dotted = set(clean.layer_names.values())
    assert {"conv1", "layers.1.0.shortcut.conv", "layers.2.2.add", "fc"} <= dotted
    assert clean.layer_names["fc_bias"] == "fc" and clean.fused_bias == {"fc_bias": "fc"}
    assert all(name.isidentifier() for name in clean.layer_names)


def test_torch_scope_reconstructs_module_paths():
    node = onnx.helper.make_node("Conv", [], [], name="/layers/layers.1/layers.1.0/shortcut/conv/Conv")
    assert torch_scope(node) == "layers.1.0.shortcut.conv"
    quant = onnx.helper.make_node("Quant", [], [], name="/relu1/act_quant/export_handler/Quant")
    assert torch_scope(quant) == "relu1_quant"
    assert torch_scope(onnx.helper.make_node("Add", [], [], name="/Add")) is None


class Upsampler(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)
        self.up = nn.Upsample(scale_factor=2)

    def forward(self, x):
        return self.up(self.conv(x))


class WidthCat(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3)

    def forward(self, x):
        y = self.conv(x)
        return torch.cat([y, y], dim=3)


@pytest.mark.parametrize("model,shape,needle", [
    (Upsampler(), (1, 8, 8), "layer 'up' (Upsample, ONNX Resize) is not supported"),
    (WidthCat(), (4, 8, 8), "concatenation along dimension 3 is not supported"),
    (nn.Sequential(nn.Linear(4, 4), nn.GELU()), (4,), "layer '1' (GELU, ONNX"),
    (nn.Sequential(nn.Conv2d(2, 2, 3, dilation=2)), (2, 12, 12), "layer '0' (Conv): dilation [2, 2] is not supported"),
    (nn.Sequential(nn.MaxPool2d(2, dilation=2)), (2, 12, 12), "dilation [2, 2] is not supported"),
])
def test_unsupported_layers_are_named_before_any_slow_step(model, shape, needle):
    with pytest.raises(ExportError) as err:
        clean_graph(to_onnx_proto(model.eval(), shape), module_types(model))
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_opset_below_17_is_refused():
    with pytest.raises(ExportError, match="opset"):
        to_onnx_proto(tiny("lenet300_100"), (1, 28, 28), opset=13)


def test_pruned_zeros_survive_the_passes():
    model = tiny("lenet300_100")
    with torch.no_grad():
        model.fc1.weight[:, ::2] = 0
    clean = clean_graph(to_onnx_proto(model, (1, 28, 28)))
    weight = next(clean.graph.inits[n.input[1]] for n in clean.graph.nodes if n.name == "fc1")
    assert int(np.sum(weight == 0)) >= model.fc1.weight.numel() // 2


def test_dimensions_shape_inference_leaves_open_are_refused_naming_the_node():
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32), "w")
    graph = helper.make_graph([helper.make_node("Conv", ["x", "w"], ["y"], "conv")], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, "H", 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    with pytest.raises(ExportError, match="could not resolve the shape of 'x', the output of the graph input"):
        clean_graph(model)
    fixed = helper.make_model(helper.make_graph(
        graph.node, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [w]), opset_imports=[helper.make_opsetid("", 17)])
    g = clean_graph(fixed).graph
    assert g.shapes[g.outputs[0]][1:] == (4, 6, 6)                              # a symbolic batch is fine
