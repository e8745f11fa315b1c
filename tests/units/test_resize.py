import copy

import pytest
import torch

from codesign.checkpoint import model_from_state
from codesign.flops import model_cost
from codesign.units.engine import UnitEngine
from codesign.units.resize import GrowthInit
from codesign.zoo import create_model

TINY = [("lenet300_100", 0.1, (1, 28, 28)), ("lenet5", 0.25, (1, 28, 28)), ("resnet20", 0.25, (3, 16, 16))]
IDS = [t[0] for t in TINY]


def tiny(name, width, shape):
    torch.manual_seed(0)
    return create_model(name, width=width, in_shape=shape)


def step(model, opt, shape, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x, y = torch.randn(8, *shape, generator=gen), torch.randint(0, 10, (8,), generator=gen)
    model.train()
    opt.zero_grad()
    torch.nn.functional.cross_entropy(model(x), y).backward()
    opt.step()


def outputs(model, shape):
    with torch.no_grad():
        return model.eval()(torch.randn(5, *shape, generator=torch.Generator().manual_seed(1)))


@pytest.mark.parametrize("name,width,shape", TINY, ids=IDS)
@pytest.mark.parametrize("init", ["kaiming", "zeros"])
def test_growth_enlarges_tensors_and_keeps_old_outputs(name, width, shape, init):
    model = tiny(name, width, shape)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    step(model, opt, shape)
    before = outputs(model, shape)
    engine = UnitEngine(model, shape, optimizer=opt)
    sizes = engine.sizes()
    shapes = {k: v.shape for k, v in model.state_dict().items()}
    for g in engine.groups():
        assert list(engine.extend(g, 3, init)) == [sizes[g.name], sizes[g.name] + 1, sizes[g.name] + 2]
    assert engine.sizes() == {k: v + 3 for k, v in sizes.items()}
    grown = [k for k, v in model.state_dict().items() if v.shape != shapes[k]]
    assert grown and all(model.state_dict()[k].numel() > shapes[k].numel() for k in grown)
    torch.testing.assert_close(outputs(model, shape), before, rtol=1e-5, atol=1e-6)  # BLAS blocking only
    step(model, opt, shape, seed=1)                      # the grown network trains


@pytest.mark.parametrize("name,width,shape", TINY, ids=IDS)
def test_split_growth_preserves_the_function(name, width, shape):
    model = tiny(name, width, shape)
    before = outputs(model, shape)
    engine = UnitEngine(model, shape)
    for g in engine.groups():
        engine.extend(g, 2, GrowthInit("split", sources=[0, 0]))
    torch.testing.assert_close(outputs(model, shape), before, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_optimizer_state_is_remapped(optimizer):
    shape = (1, 28, 28)
    model = tiny("lenet300_100", 0.1, shape)
    opt = (torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9) if optimizer == "sgd"
           else torch.optim.Adam(model.parameters(), lr=1e-3))
    step(model, opt, shape)
    key = "momentum_buffer" if optimizer == "sgd" else "exp_avg"
    w1, w2 = model.fc1.weight, model.fc2.weight
    old1, old2 = opt.state[w1][key].clone(), opt.state[w2][key].clone()
    engine = UnitEngine(model, shape, optimizer=opt)
    engine.keep("fc1", [0, 2, 5])
    assert model.fc1.weight is w1 and w1.shape == (3, 784)            # same Parameter, smaller tensor
    torch.testing.assert_close(opt.state[w1][key], old1[[0, 2, 5]])
    torch.testing.assert_close(opt.state[w2][key], old2[:, [0, 2, 5]])
    engine.extend("fc1", 2)
    assert torch.equal(opt.state[w1][key][3:], torch.zeros(2, 784))   # new units start with clean state
    torch.testing.assert_close(opt.state[w1][key][:3], old1[[0, 2, 5]])
    torch.testing.assert_close(opt.state[w2][key][:, :3], old2[:, [0, 2, 5]])
    assert torch.equal(opt.state[w2][key][:, 3:], torch.zeros(10, 2))
    step(model, opt, shape, seed=2)


def test_resnet_stage_pruned_then_grown_keeps_add_shapes():
    shape = (3, 16, 16)
    model = tiny("resnet20", 0.25, shape)
    engine = UnitEngine(model, shape)
    stream = engine.group("layers.1.0.conv2")
    engine.keep(stream, [1, 3, 4])
    engine.extend(stream, 5)
    for name in stream.producers:
        assert model.get_submodule(name).weight.shape[0] == 8
    for name in stream.followers:
        assert model.get_submodule(name).running_mean.shape == (8,)
    for name in stream.consumers:
        assert model.get_submodule(name).weight.shape[1] == 8
    assert outputs(model, shape).shape == (5, 10)


def test_invalid_decisions_are_refused():
    shape = (1, 28, 28)
    engine = UnitEngine(tiny("lenet300_100", 0.1, shape), shape)
    with pytest.raises(ValueError, match="subset of 0..29"):
        engine.keep("fc1", [0, 30])
    with pytest.raises(ValueError, match="non-empty"):
        engine.keep("fc1", [])
    with pytest.raises(ValueError, match="fixed"):
        engine.extend("fc3", 1)                       # classes are not units
    with pytest.raises(ValueError, match="source units"):
        engine.extend("fc1", 2, GrowthInit("split", sources=[0, 99]))


def test_grown_network_costs_what_its_size_costs():
    shape = (1, 28, 28)
    small, big = tiny("lenet5", 0.25, shape), create_model("lenet5", width=0.5, in_shape=shape)
    engine = UnitEngine(small, shape)
    for g in engine.groups():
        engine.extend(g, big.get_submodule(g.name).weight.shape[0] - engine.size(g))
    assert {k: v.shape for k, v in small.state_dict().items()} == {k: v.shape for k, v in big.state_dict().items()}
    grown, full = model_cost(small, shape), model_cost(big, shape)
    assert (grown.params, grown.flops_dense) == (full.params, full.flops_dense)


def test_a_grown_checkpoint_loads_into_a_fresh_zoo_model():
    shape = (3, 16, 16)
    model = tiny("resnet20", 0.25, shape)
    engine = UnitEngine(model, shape)
    engine.extend("conv1", 3)
    engine.keep("layers.2.1.conv1", [0])
    loaded = model_from_state(model.codesign_spec, copy.deepcopy(model.state_dict()))
    torch.testing.assert_close(outputs(loaded, shape), outputs(model, shape))
