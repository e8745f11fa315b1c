"""Layer extraction from torch models and from ONNX files."""
import inspect

import pytest
import torch
import torch.nn as nn

from codesign.errors import CodesignError
from codesign.flops import model_cost
from codesign.sim import Layer, Network, network_from_model, network_from_onnx
from codesign.zoo import MODELS, create_model


def _native(name):
    params = inspect.signature(MODELS.get(name)).parameters
    return params["in_shape"].default, params["num_classes"].default


@pytest.mark.parametrize("name", ["lenet300_100", "lenet5", "jet_mlp", "resnet20", "vgg19", "resnet18"])
def test_zoo_models_macs_match_flop_accounting(name):
    shape, classes = _native(name)
    width = 0.25 if name in ("vgg19", "resnet18") else 1.0
    model = create_model(name, width=width, in_shape=shape, num_classes=classes)
    net = network_from_model(model)
    cost = model_cost(model, shape)
    assert 2 * net.macs == cost.flops_dense
    assert net.weights == sum(m.weight.numel() for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear)))


def test_resnet_structure_bn_folded_and_residual_adds():
    net = network_from_model(create_model("resnet20", in_shape=(3, 32, 32)))
    ops = [l.op for l in net.layers]
    assert ops.count("conv") == 21 and ops.count("add") == 9 and ops.count("bn") == 0
    add = next(l for l in net.layers if l.op == "add")
    assert len(add.inputs) == 2
    dense = next(l for l in net.layers if l.op == "dense")
    assert dense.in_shape == (64, 1, 1) and dense.out_shape == (10, 1, 1)


def test_dense_keeps_the_flattened_map_shape_and_counts_zeros():
    model = create_model("lenet5", in_shape=(1, 28, 28))
    with torch.no_grad():
        model.fc1.weight[:, :100] = 0
    net = network_from_model(model)
    fc1 = next(l for l in net.layers if l.name == "fc1")
    assert fc1.in_shape == (50, 4, 4) and fc1.n_in == 800
    assert fc1.nonzero_weights == fc1.weights - 500 * 100


def test_compacted_model_has_smaller_layers():
    big = network_from_model(create_model("resnet20", in_shape=(3, 32, 32)))
    small = network_from_model(create_model("resnet20", width=0.5, in_shape=(3, 32, 32)))
    assert small.macs < big.macs / 3 and len(small) == len(big)


def test_a_module_called_twice_is_two_layers():
    """One ``self.relu`` for every activation (common PyTorch): each call is a layer of its own."""
    class Reuse(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc2, self.relu = nn.Linear(8, 8), nn.Linear(8, 4), nn.ReLU()

        def forward(self, x):
            return self.relu(self.fc2(self.relu(self.fc1(x))))

    net = network_from_model(Reuse(), (8,))
    acts = [l for l in net.layers if l.op == "act"]
    assert len(acts) == 2 and acts[0].name == "relu" and acts[1].name != "relu"
    assert acts[1].inputs == ("fc2",)


def test_unsupported_torch_module_names_it():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Upsample(scale_factor=2))
    with pytest.raises(CodesignError, match="Upsample"):
        network_from_model(model, in_shape=(1, 8, 8))


def _export(model, shape, path):
    torch.onnx.export(model.eval(), (torch.zeros(1, *shape),), str(path), dynamo=False)
    return path


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("name", ["lenet5", "resnet20", "jet_mlp"])
def test_onnx_matches_torch(tmp_path, name):
    shape, classes = _native(name)
    model = create_model(name, width=0.5, in_shape=shape, num_classes=classes)
    a = network_from_model(model)
    b = network_from_onnx(_export(model, shape, tmp_path / f"{name}.onnx"))
    assert [l.op for l in a.layers] == [l.op for l in b.layers]
    assert [l.out_shape for l in a.layers] == [l.out_shape for l in b.layers]
    assert a.macs == b.macs and a.weights == b.weights and b.source.startswith("onnx:")


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore:The GemmToMatMul:UserWarning")
def test_qonnx_channels_last_graph_matches_torch(tmp_path):
    """The hls4ml-ready ONNX the exporter writes: qonnx cleanup, channels-last ops, Gemm -> MatMul."""
    qonnx = pytest.importorskip("qonnx")
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.channels_last import ConvertToChannelsLastAndClean
    from qonnx.transformation.gemm_to_matmul import GemmToMatMul
    from qonnx.util.cleanup import cleanup_model

    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 8, 3), nn.ReLU(),
                          nn.Flatten(), nn.Linear(8 * 3 * 3, 10)).eval()
    wrapper = cleanup_model(ModelWrapper(str(_export(model, (1, 12, 12), tmp_path / "m.onnx"))))
    wrapper = wrapper.transform(ConvertToChannelsLastAndClean(make_input_channels_last=True))
    cleanup_model(wrapper.transform(GemmToMatMul())).save(str(tmp_path / "cl.onnx"))
    a, b = network_from_model(model, in_shape=(1, 12, 12)), network_from_onnx(tmp_path / "cl.onnx")
    assert [l.out_shape for l in a.layers] == [l.out_shape for l in b.layers] and a.macs == b.macs
    assert next(l for l in b.layers if l.op == "dense").in_shape == (8, 3, 3)


class PoolHeads(nn.Module):
    """Pooling windows over the whole 6x6 map (global, hls4ml's GlobalPooling2D), a smaller window, a padded one."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 4, 3)
        self.whole_avg, self.whole_max = nn.AvgPool2d(6), nn.MaxPool2d((6, 6), stride=1)
        self.adaptive, self.small, self.padded = nn.AdaptiveMaxPool2d(1), nn.AvgPool2d(2), nn.AvgPool2d(6, padding=1)

    def forward(self, x):
        x = torch.relu(self.conv(x))
        heads = (self.whole_avg, self.whole_max, self.adaptive, self.small, self.padded)
        return torch.cat([torch.flatten(h(x), 1) for h in heads], 1)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_a_pooling_window_over_the_whole_map_is_a_global_pool_in_both_paths(tmp_path):
    """One rule (hls_rules.is_global_pool), whichever path built the network: the export emits these as
    hls4ml's GlobalPooling2D, so the estimator must not price a 6x6 window tree per channel."""
    model = PoolHeads().eval()
    for net in (network_from_model(model, in_shape=(2, 8, 8)), network_from_onnx(_export(model, (2, 8, 8),
                                                                                         tmp_path / "p.onnx"))):
        pools = [(l.op, l.kernel, l.out_shape[1:]) for l in net.layers if "pool" in l.op]
        assert pools == [("globalpool", (6, 6), (1, 1))] * 3 + [("avgpool", (2, 2), (3, 3)), ("avgpool", (6, 6), (1, 1))]


def test_onnx_unsupported_op_is_one_line_error(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    graph = helper.make_graph([helper.make_node("Hardmax", ["x"], ["y"], name="odd")], "g", [x], [y])
    path = tmp_path / "odd.onnx"
    onnx.save(helper.make_model(graph), str(path))
    with pytest.raises(CodesignError) as err:
        network_from_onnx(path)
    assert "'Hardmax'" in str(err.value) and "odd" in str(err.value) and "\n" not in str(err.value)


def test_onnx_bad_files(tmp_path):
    with pytest.raises(CodesignError, match="not found"):
        network_from_onnx(tmp_path / "none.onnx")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x00garbage")
    with pytest.raises(CodesignError, match="not a readable ONNX"):
        network_from_onnx(junk)


def test_network_validates_topology():
    a = Layer("a", "act", (), (1, 2, 2), (1, 2, 2))
    with pytest.raises(CodesignError, match="duplicate"):
        Network("n", (a, a), (1, 2, 2))
    b = Layer("b", "act", ("zzz",), (1, 2, 2), (1, 2, 2))
    with pytest.raises(CodesignError, match="zzz"):
        Network("n", (a, b), (1, 2, 2))
    with pytest.raises(CodesignError, match="unknown op"):
        Layer("c", "lstm", (), (1, 1, 1), (1, 1, 1))
