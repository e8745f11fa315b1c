import pytest
import torch

from codesign.flops import output_positions
from codesign.units.engine import UnitEngine
from codesign.zoo import create_model

SHAPE = (3, 16, 16)


def engine_for(name="resnet20", shape=SHAPE, optimizer=None):
    torch.manual_seed(0)
    model = create_model(name, width=0.25, in_shape=shape)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4) if optimizer else None
    return UnitEngine(model, shape, optimizer=opt), opt


def train_steps(engine, opt, shape=SHAPE, n=3):
    gen = torch.Generator().manual_seed(0)
    for _ in range(n):
        x, y = torch.randn(8, *shape, generator=gen), torch.randint(0, 10, (8,), generator=gen)
        opt.zero_grad()
        torch.nn.functional.cross_entropy(engine.model.train()(x), y).backward()
        engine.mask_gradients()
        opt.step()
        engine.apply_masks()


def test_unit_mask_disconnects_the_unit_on_both_sides():
    engine, _ = engine_for()
    g = engine.group("layers.1.0.conv2")                 # a residual stream
    keep = torch.ones(engine.size(g), dtype=torch.bool)
    keep[[1, 5]] = False
    engine.set_units(g, keep)
    model = engine.model
    for name in g.producers:
        assert model.get_submodule(name).weight[[1, 5]].abs().sum() == 0
    for name in g.followers:
        bn = model.get_submodule(name)
        assert bn.weight[[1, 5]].abs().sum() == 0 and bn.bias[[1, 5]].abs().sum() == 0
    for name in g.consumers:
        assert model.get_submodule(name).weight[:, [1, 5]].abs().sum() == 0
    assert engine.masks.unit_mask(g).tolist() == keep.tolist()


def test_masked_weights_stay_zero_under_momentum_and_weight_decay():
    engine, opt = engine_for(optimizer=True)
    train_steps(engine, opt, n=2)                        # momentum buffers are nonzero now
    w = engine.param("layers.0.0.conv1.weight")
    keep = torch.rand(w.shape, generator=torch.Generator().manual_seed(0)) > 0.5
    engine.set_connections("layers.0.0.conv1.weight", keep)
    assert opt.state[w]["momentum_buffer"][~keep].abs().sum() == 0   # masked entries lose their state
    train_steps(engine, opt, n=3)
    assert w[~keep].abs().sum() == 0 and w[keep].abs().sum() > 0


def test_density_state_dict_and_masked_cost():
    engine, _ = engine_for("lenet300_100", (1, 28, 28))
    names = engine.weight_names()
    assert names == ["fc1.weight", "fc2.weight", "fc3.weight"]
    assert engine.weight_names(include_output=False) == names[:2]
    w = engine.param("fc1.weight")
    engine.set_connections("fc1.weight", torch.arange(w.numel()).view_as(w) % 4 == 0)
    total = sum(engine.param(n).numel() for n in names)
    assert engine.masks.density() == pytest.approx((total - 0.75 * w.numel()) / total)
    keep = torch.ones(engine.size("fc2"), dtype=torch.bool)
    keep[0] = False
    engine.set_units("fc2", keep)
    positions = output_positions(engine.model, (1, 28, 28))
    cost = engine.cost(positions)
    fc1, fc2 = engine.size("fc1"), engine.size("fc2")
    assert cost.flops_dense == 2 * (784 * fc1 + fc1 * (fc2 - 1) + (fc2 - 1) * 10)
    other, _ = engine_for("lenet300_100", (1, 28, 28))
    other.masks.load_state_dict(engine.masks.state_dict())
    assert other.masks.unit_mask("fc2").tolist() == keep.tolist()
    assert torch.equal(other.masks.connection_mask("fc1.weight"), engine.masks.connection_mask("fc1.weight"))


def test_masks_follow_physical_edits():
    engine, _ = engine_for("lenet300_100", (1, 28, 28))
    keep = torch.ones(engine.size("fc1"), dtype=torch.bool)
    keep[2] = False
    engine.set_units("fc1", keep)
    engine.keep("fc1", [0, 1, 2, 3])
    assert engine.masks.unit_mask("fc1").tolist() == [True, True, False, True]
    engine.extend("fc1", 2)
    assert engine.masks.unit_mask("fc1").tolist() == [True, True, False, True, True, True]
    assert engine.param("fc2.weight")[:, 2].abs().sum() == 0


def test_bad_masks_are_refused():
    engine, _ = engine_for("lenet300_100", (1, 28, 28))
    with pytest.raises(ValueError, match="at least one True"):
        engine.set_units("fc1", torch.zeros(engine.size("fc1"), dtype=torch.bool))
    with pytest.raises(ValueError, match="shape"):
        engine.set_connections("fc1.weight", torch.ones(3, 3, dtype=torch.bool))
