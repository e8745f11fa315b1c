"""The contract every registered method keeps, on models written here (not zoo models): it trains a
tiny MLP and a tiny ResNet through fit(), a run killed mid-epoch resumes bit-identically, its
registry key is its file stem, and its declarations (density knob, one-shot) hold."""
import pytest
import torch
import torch.nn as nn

from codesign.config import load_recipe
from codesign.methods import METHODS, build_method, list_methods
from codesign.sweep.oneshot import prune_model
from codesign.train import fit

from .conftest import Crash, without_time

# short schedules that make every method act (grow, prune, harden) within three epochs
ACTIVE = {"magnitude": {"iterations": 2, "pretrain_epochs": 1}, "rigl": {"update_interval": 2, "density": 0.3},
          "nest": {"growth_samples": 32, "prune_rounds": 2, "target_density": 0.2},
          "npn": {"stage1": 0.34, "stage2": 0.67}, "relief": {"prune_set": 32, "iterations": 2},
          "cgap": {"seed_width": 0.5}}


class TinyMLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(36, 12)
        self.mid = nn.Linear(12, 8)
        self.out = nn.Linear(8, 4)

    def forward(self, x):
        x = torch.relu(self.hidden(x.flatten(1)))
        return self.out(torch.relu(self.mid(x)))


class Block(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(y)) + x)


class TinyResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(8)
        self.block = Block(8)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        x = self.block(torch.relu(self.bn(self.stem(x))))
        return self.fc(self.pool(x).flatten(1))


MODELS = {"mlp": (TinyMLP, [1, 6, 6]), "resnet": (TinyResNet, [3, 6, 6])}


def recipe(method, shape):
    return load_recipe(None, {"data.name": "synthetic", "train.epochs": 3, "train.batch_size": 16,
                              "data.options": {"in_shape": shape, "num_classes": 4, "n_train": 48, "n_test": 16},
                              "method.name": method, "method.params": ACTIVE.get(method, {})})


def fresh(kind):
    torch.manual_seed(0)
    return MODELS[kind][0]()


def weights_equal(a, b):
    a, b = a.state_dict(), b.state_dict()
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("kind", sorted(MODELS))
@pytest.mark.parametrize("method", list_methods())
def test_a_killed_run_of_a_user_model_resumes_bit_identically(method, kind, tmp_path):
    cfg = recipe(method, MODELS[kind][1])
    reference = fit(cfg, tmp_path / "ref", model=fresh(kind))

    def kill(event, payload):
        if event == "step" and payload["epoch"] == 1 and payload["step"] == 2:
            raise Crash()

    with pytest.raises(Crash):
        fit(cfg, tmp_path / "run", model=fresh(kind), events=kill)
    resumed = fit(cfg, tmp_path / "run", model=fresh(kind), resume=True)
    assert weights_equal(reference.model, resumed.model)
    assert without_time(resumed.history) == without_time(reference.history)
    assert (tmp_path / "run" / "train" / "model.pt").exists()


@pytest.mark.parametrize("method", list_methods())
def test_key_is_the_file_stem_and_declarations_hold(method):
    cls = METHODS.get(method)
    assert cls.__module__.rsplit(".", 1)[-1] == method
    assert cls.density_knob is None or cls.density_knob in cls.Config.model_fields
    if cls.one_shot is not None:
        knob = {cls.density_knob: 0.25} if cls.density_knob else {}
        pruner = build_method(method, {**knob, **cls.one_shot})
        model = fresh("mlp")
        engine = prune_model(model, MODELS["mlp"][1], pruner)
        assert engine.masks.density() == pytest.approx(0.25, abs=0.02)


def test_the_density_knobs_of_the_pruning_methods():
    knobs = {name: METHODS.get(name).density_knob for name in list_methods()}
    assert knobs["magnitude"] == knobs["nest"] == "target_density" and knobs["rigl"] == "density"
    assert [n for n in list_methods() if METHODS.get(n).one_shot is not None] == ["magnitude"]
