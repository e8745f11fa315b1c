"""Unit tracing, pruning, growth and compaction of models written here (tests/user_models.py), one
per layer kind users bring: depthwise and grouped convolutions, Concat, Flatten after a conv,
Dropout, ReLU6/Hardtanh/LeakyReLU/SiLU, Max/Avg/AdaptiveAvg pooling, BatchNorm1d, Conv1d."""
import copy

import pytest
import torch
import torch.nn as nn

from codesign.compaction import compact
from codesign.errors import CodesignError
from codesign.units.engine import UnitEngine
from codesign.units.graph import trace_units
from codesign.units.resize import GrowthInit
from tests.user_models import USER_MODELS, build

NAMES = sorted(USER_MODELS)


def outputs(model, shape, seed=1):
    with torch.no_grad():
        return model.eval()(torch.randn(6, *shape, generator=torch.Generator().manual_seed(seed)))


def train_step(model, shape):
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    model.train()
    x = torch.randn(8, *shape, generator=torch.Generator().manual_seed(2))
    out = model(x)
    torch.nn.functional.cross_entropy(out, torch.zeros(len(x), dtype=torch.long)).backward()
    opt.step()


def check_axes(model, graph):
    """Every tensor dimension a group indexes has room for its units at its offset."""
    for g in graph.groups:
        n = graph.size(model, g)
        for axis in graph.axes(model, g):
            t = getattr(model.get_submodule(axis.module), axis.attr)
            assert axis.offset + n * axis.factor <= t.shape[axis.dim], (g.name, axis)
    for layer in graph.layers:                     # dense layers: input columns add up to the weight's
        width = sum(graph.size(model, s.group) * s.factor for s in graph.inputs[layer])
        assert width == model.get_submodule(layer).weight.shape[1], layer


@pytest.mark.parametrize("name", NAMES)
def test_trace_is_consistent(name):
    model, shape = build(name)
    graph = trace_units(model, shape)
    check_axes(model, graph)
    assert graph.prunable(), name
    assert graph.groups[0].fixed_reason == "network input"


def test_depthwise_conv_follows_its_input_channels():
    model, shape = build("depthwise_separable")
    graph = trace_units(model, shape)
    stem = graph.group("stem")
    assert stem.prunable and stem.followers == ("bn0", "dw", "bn1") and stem.consumers == ("pw",)
    assert "dw" not in graph.layers


def test_depth_multiplier_unit_spans_its_output_channels():
    model, shape = build("depth_multiplier")
    graph = trace_units(model, shape)
    conv = graph.group("conv")
    assert conv.followers == ("dw", "bn") and conv.consumers == ("fc",)
    (seg,) = graph.inputs["fc"]
    assert seg.factor == 2 * 4 * 4                 # 2 channels per unit, 4x4 positions each
    assert conv.zero_preserving                     # SiLU and LeakyReLU keep zeros


def test_grouped_conv_keeps_its_channels_and_the_rest_stays_prunable():
    model, shape = build("grouped")
    graph = trace_units(model, shape)
    for name in ("conv1", "grouped"):
        g = graph.group(graph.outputs[name])
        assert not g.prunable and "groups=4" in g.fixed_reason
    assert [g.name for g in graph.prunable()] == ["conv2"]


def test_concat_places_branches_at_channel_offsets():
    model, shape = build("inception")
    graph = trace_units(model, shape)
    assert [graph.groups[s.group].name for s in graph.inputs["mix"]] == ["b1", "b3"]
    assert [f for _, _, f, _ in graph.input_layout(model, "mix")] == [1, 1]
    assert graph.input_layout(model, "fc")[0][2] == 4        # 2x2 positions per unit after Flatten


@pytest.mark.parametrize("name", NAMES)
def test_pruned_units_equal_masked_units(name):
    model, shape = build(name)
    masked = copy.deepcopy(model)
    engine, masked_engine = UnitEngine(model, shape), UnitEngine(masked, shape)
    gen = torch.Generator().manual_seed(0)
    for g in engine.groups():
        keep = torch.rand(engine.size(g), generator=gen) > 0.5
        keep[0] = True
        masked_engine.set_units(g.name, keep)
        engine.keep(g, keep.nonzero().flatten())
        assert engine.size(g) == int(keep.sum())
    check_axes(model, engine.graph)
    torch.testing.assert_close(outputs(model, shape), outputs(masked, shape), rtol=1e-5, atol=1e-6)
    train_step(model, shape)                                 # the pruned model still trains


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("init", ["kaiming", "split"])
def test_growth_keeps_the_function(name, init):
    model, shape = build(name)
    before = outputs(model, shape)
    engine = UnitEngine(model, shape)
    sizes = engine.sizes()
    for g in engine.groups():
        policy = GrowthInit("split", sources=[0, 1]) if init == "split" else init
        engine.extend(g, 2, policy)
    assert engine.sizes() == {k: v + 2 for k, v in sizes.items()}
    check_axes(model, engine.graph)
    torch.testing.assert_close(outputs(model, shape), before, rtol=1e-4, atol=1e-5)
    train_step(model, shape)


def test_grown_depthwise_kernels_are_initialised_like_incoming_weights():
    model, shape = build("depthwise_separable")
    engine = UnitEngine(model, shape)
    engine.extend("stem", 3)
    new = model.dw.weight[8:]
    assert model.dw.groups == model.dw.in_channels == model.dw.out_channels == 11
    assert new.abs().sum() > 0 and not torch.all(new == 1.0)     # random, not BatchNorm's constant 1
    assert torch.all(model.bn1.weight[8:] == 1.0)


@pytest.mark.parametrize("name", NAMES)
def test_compaction_is_smaller_and_equivalent(name):
    model, shape = build(name)
    engine = UnitEngine(model, shape)
    gen = torch.Generator().manual_seed(3)
    for g in engine.groups():
        keep = torch.rand(engine.size(g), generator=gen) > 0.4
        keep[0] = True
        engine.set_units(g, keep)
    for weight in engine.weight_names():
        engine.set_connections(weight, torch.rand(engine.param(weight).shape, generator=gen) > 0.2)
    small, manifest = compact(model, engine.masks, example=shape)
    assert manifest["params_after"] < manifest["params_before"]
    assert manifest["equivalence"]["max_abs_diff"] <= manifest["equivalence"]["tolerance"]
    torch.testing.assert_close(outputs(small, shape), outputs(model, shape), rtol=1e-4, atol=1e-5)
    trace_units(small, shape)                                # the compact model is a normal model again


def test_depthwise_conv_shrunk_to_one_channel_grows_again():
    model, shape = build("depthwise_separable")
    engine = UnitEngine(model, shape)
    engine.keep("stem", [2])
    assert model.dw.groups == model.dw.in_channels == 1
    before = outputs(model, shape)
    engine.extend("stem", 4)
    assert model.dw.groups == model.dw.in_channels == model.dw.out_channels == 5
    torch.testing.assert_close(outputs(model, shape), before, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", [nn.LSTM, nn.GRU, nn.RNN])
def test_a_recurrent_module_is_named_before_the_tensor_method_that_feeds_it(kind):
    from tests.user_models import TransposedRecurrent

    with pytest.raises(CodesignError, match=rf"through {kind.__name__} 'rnn'"):
        trace_units(TransposedRecurrent(kind).eval(), (2, 12))
