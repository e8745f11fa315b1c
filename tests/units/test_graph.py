import pytest
import torch
import torch.nn as nn

from codesign.errors import CodesignError
from codesign.units.graph import trace_units
from codesign.zoo import create_model, list_models


@pytest.mark.parametrize("name", list_models())
def test_every_zoo_model_traces_and_groups_are_consistent(name):
    shape = (16,) if name == "jet_mlp" else ((3, 16, 16) if name.startswith(("resnet", "vgg")) else (1, 28, 28))
    model = create_model(name, width=0.125, in_shape=shape)
    graph = trace_units(model, shape)
    produced = [p for g in graph.groups for p in g.producers]
    assert sorted(produced) == sorted(graph.layers)                  # every layer writes exactly one group
    for layer in graph.layers:                                       # inputs add up to the weight's columns
        width = sum(graph.size(model, s.group) * s.factor for s in graph.inputs[layer])
        assert width == model.get_submodule(layer).weight.shape[1], layer
    assert graph.groups[0].fixed_reason == "network input" and not graph.groups[0].prunable
    assert [g.fixed_reason for g in graph.groups if not g.prunable] == ["network input", "network output"]
    out = graph.group(graph.output_layers()[0])
    assert not out.prunable and out.consumers == ()


def test_resnet20_residual_streams_are_one_group_each():
    model = create_model("resnet20", width=0.25, in_shape=(3, 16, 16))
    graph = trace_units(model)
    stage1 = graph.group("conv1")
    assert set(stage1.producers) == {"conv1", "layers.0.0.conv2", "layers.0.1.conv2", "layers.0.2.conv2"}
    assert set(stage1.followers) == {"bn1", "layers.0.0.bn2", "layers.0.1.bn2", "layers.0.2.bn2"}
    assert set(stage1.consumers) == {"layers.0.0.conv1", "layers.0.1.conv1", "layers.0.2.conv1",
                                     "layers.1.0.conv1", "layers.1.0.shortcut.conv"}
    stage2 = graph.group(graph.outputs["layers.1.0.shortcut.conv"])
    assert set(stage2.producers) == {"layers.1.0.conv2", "layers.1.0.shortcut.conv", "layers.1.1.conv2",
                                     "layers.1.2.conv2"}
    assert "layers.1.0.shortcut.bn" in stage2.followers
    stage3 = graph.group(graph.outputs["layers.2.0.shortcut.conv"])
    assert "fc" in stage3.consumers and graph.inputs["fc"][0].factor == 1   # flatten after global pooling
    inner = graph.group("layers.0.0.conv1")                              # a block's inner channels: alone
    assert inner.producers == ("layers.0.0.conv1",) and inner.consumers == ("layers.0.0.conv2",)
    assert len(graph.prunable()) == 3 + 9                                 # 3 streams + 9 inner groups


def test_flatten_after_a_spatial_map_maps_one_channel_to_hw_inputs():
    model = create_model("lenet5", in_shape=(1, 28, 28))
    graph = trace_units(model)
    (seg,) = graph.inputs["fc1"]
    assert graph.groups[seg.group].name == "conv2" and seg.factor == 16


class CatSigmoid(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Conv2d(2, 3, 3, padding=1), nn.Conv2d(2, 4, 3, padding=1)
        self.fc = nn.Linear(7 * 4, 5)

    def forward(self, x):
        y = torch.cat([torch.relu(self.a(x)), torch.sigmoid(self.b(x))], dim=1)
        y = nn.functional.max_pool2d(y, 2)
        return self.fc(torch.flatten(y, 1))


def test_user_model_with_cat_and_functional_ops():
    model = CatSigmoid()
    graph = trace_units(model, (2, 4, 4))
    segs = graph.inputs["fc"]
    assert [graph.groups[s.group].name for s in segs] == ["a", "b"] and [s.factor for s in segs] == [4, 4]
    assert graph.group("a").zero_preserving and not graph.group("b").zero_preserving


@pytest.mark.parametrize("model,needle", [
    (nn.Sequential(nn.Conv2d(4, 4, 3), nn.GroupNorm(2, 4), nn.Flatten(), nn.Linear(16, 2)), "GroupNorm"),
    (nn.Sequential(nn.Flatten(), nn.Linear(64, 8), nn.LayerNorm(8), nn.Linear(8, 2)), "LayerNorm"),
])
def test_unsupported_ops_name_the_op_and_node(model, needle):
    with pytest.raises(CodesignError, match=needle) as err:
        trace_units(model, (4, 4, 4))
    assert "at node" in str(err.value)


class Transposing(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        return self.fc(x.transpose(1, 2).mean(2))


def test_unknown_tensor_method_is_named():
    with pytest.raises(CodesignError, match=r"\.transpose\(\)"):
        trace_units(Transposing(), (3, 4))


def test_untraceable_model_is_a_one_line_error():
    class Branchy(nn.Module):
        def forward(self, x):
            return x if x.sum() > 0 else -x

    with pytest.raises(CodesignError, match="not traceable by torch.fx"):
        trace_units(Branchy(), (3,))


def test_wrong_example_shape_is_a_one_line_error():
    with pytest.raises(CodesignError, match="could not run"):
        trace_units(create_model("lenet300_100"), (1, 20, 20))


def test_softmax_output_keeps_classes_fixed():
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 3), nn.Softmax(dim=1))
    graph = trace_units(model, (4,))
    assert [g.prunable for g in graph.groups] == [False, True, False]


def test_input_layout_maps_columns_to_units():
    model = CatSigmoid()
    graph = trace_units(model, (2, 4, 4))
    a, b = graph.group("a").id, graph.group("b").id
    assert graph.input_layout(model, "fc") == [(a, 0, 4, 3), (b, 12, 4, 4)]


class Padded(nn.Module):
    def __init__(self, value=0.0, pad=(1, 1, 1, 1)):
        super().__init__()
        self.value, self.pad = value, pad
        extra = sum(pad[4:6])                                 # channels added by padding dim 1
        self.conv1, self.conv2 = nn.Conv2d(2, 3, 3), nn.Conv2d(3 + extra, 2, 3)

    def forward(self, x):
        return self.conv2(nn.functional.pad(torch.relu(self.conv1(x)), self.pad, value=self.value)).flatten(1)


def test_spatial_padding_keeps_channels_and_a_nonzero_value_is_noted():
    assert trace_units(Padded(), (2, 6, 6)).group("conv1").zero_preserving
    assert not trace_units(Padded(value=1.0), (2, 6, 6)).group("conv1").zero_preserving
    with pytest.raises(CodesignError, match="channel dimension"):
        trace_units(Padded(pad=(0, 0, 0, 0, 1, 1)), (2, 6, 6))
