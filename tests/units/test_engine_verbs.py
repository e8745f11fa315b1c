"""The engine verbs methods use instead of hand-rolled edits: reset_width, adopt, activate, adds."""
import pytest
import torch
import torch.nn as nn

from codesign.errors import CodesignError
from codesign.units.engine import UnitEngine
from codesign.zoo import create_model


class Net(nn.Module):
    """A user's model (no zoo name): conv → BN → residual Add → linear."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.branch = nn.Conv2d(8, 8, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(8)
        self.fc = nn.Linear(8 * 4 * 4, 3)

    def forward(self, x):
        x = torch.relu(self.bn(self.conv(x)))
        x = torch.relu(self.bn2(self.branch(x)) + x)
        return self.fc(x.flatten(1))


def test_reset_width_of_a_user_model_keeps_its_layers_at_the_fraction_with_a_fresh_init():
    torch.manual_seed(0)
    engine = UnitEngine(Net(), (2, 4, 4))
    engine.set_connections("fc.weight", torch.rand(3, 128) > 0.5)
    before = engine.model.conv.weight.detach().clone()
    version = engine.version
    engine.reset_width(0.25)
    assert engine.sizes() == {"conv": 2} and engine.model.fc.weight.shape == (3, 2 * 16)
    assert not torch.equal(engine.model.conv.weight.detach(), before[:2])           # re-initialised
    assert engine.masks.empty and engine.version > version
    assert engine.model(torch.randn(2, 2, 4, 4)).shape == (2, 3)


def test_reset_width_of_a_zoo_model_is_the_zoo_model_at_that_width():
    model = create_model("lenet5", width=0.5)
    engine = UnitEngine(model)
    torch.manual_seed(3)
    engine.reset_width(0.5)
    torch.manual_seed(3)
    expected = create_model("lenet5", width=0.25).state_dict()
    got = model.state_dict()
    assert got.keys() == expected.keys() and all(torch.equal(got[k], expected[k]) for k in got)


def test_adopt_takes_another_models_tensors_and_refuses_once_an_optimizer_exists():
    model = create_model("lenet300_100", width=0.2)
    small = create_model("lenet300_100", width=0.1)
    engine = UnitEngine(model, optimizer=lambda: None)
    engine.adopt(small)
    assert torch.equal(model.fc1.weight, small.fc1.weight) and model.fc2.in_features == 30
    with_optimizer = UnitEngine(model, optimizer=torch.optim.SGD(model.parameters(), lr=0.1))
    with pytest.raises(CodesignError, match="before the optimiser"):
        with_optimizer.adopt(small)


def test_activate_sets_the_new_weights_and_clears_their_optimizer_state():
    model = create_model("lenet300_100", width=0.1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    engine = UnitEngine(model, optimizer=optimizer)
    name = "fc3.weight"
    start = torch.zeros(10, 10, dtype=torch.bool)
    start[:, :5] = True
    engine.set_connections(name, start)
    optimizer.state[model.fc3.weight]["momentum_buffer"] = torch.ones(10, 10)
    grow = torch.zeros(10, 10, dtype=torch.bool)
    grow[0, 7] = grow[3, 9] = True
    engine.activate(name, grow, torch.tensor([0.5, -0.25]))
    assert torch.equal(engine.masks.connection_mask(name), start | grow)
    assert model.fc3.weight[0, 7] == 0.5 and model.fc3.weight[3, 9] == -0.25
    buffer = optimizer.state[model.fc3.weight]["momentum_buffer"]
    assert bool((buffer[grow] == 0).all()) and bool((buffer[start] == 1).all())


def test_adds_name_the_layers_feeding_each_operand():
    engine = UnitEngine(Net(), (2, 4, 4))
    adds = engine.adds()
    assert list(adds) == ["branch"]
    (add,) = adds["branch"]
    assert add.producers == ("branch", None)          # the shortcut passes a ReLU: no layer of its own
