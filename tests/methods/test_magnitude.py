import pytest
import torch

from codesign.config import load_recipe
from codesign.methods import build_method
from codesign.train import fit
from codesign.zoo import create_model

TINY = [("lenet300_100", 0.1, [1, 28, 28]), ("lenet5", 0.25, [1, 28, 28]), ("resnet20", 0.25, [3, 16, 16])]
IDS = [t[0] for t in TINY]


def recipe(name, width, shape, params, epochs=4):
    return load_recipe(None, {"model.name": name, "model.width": width, "data.name": "synthetic",
                              "data.options": {"in_shape": shape, "n_train": 128, "n_test": 32},
                              "train.epochs": epochs, "train.batch_size": 64, "method.name": "magnitude",
                              "method.params": params})


def spy(method, record):
    original = method.on_epoch_end

    def on_epoch_end(ctx):
        changed = original(ctx)
        record.append(({n: ctx.units.masks.connection_mask(n) for n in ctx.units.weight_names()},
                       ctx.units.sizes()))
        return changed

    method.on_epoch_end = on_epoch_end
    return method


def weight_density(model):
    ws = [m.weight for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    return sum(int(torch.count_nonzero(w)) for w in ws) / sum(w.numel() for w in ws)


@pytest.mark.parametrize("name,width,shape", TINY, ids=IDS)
@pytest.mark.parametrize("scope", ["layer", "global"])
def test_unstructured_reaches_target_density_and_only_prunes_further(name, width, shape, scope):
    params = {"target_density": 0.2, "scope": scope, "iterations": 2}
    record = []
    method = spy(build_method("magnitude", params), record)
    res = fit(recipe(name, width, shape, params), None, method=method)
    assert res.summary["method_density"] == pytest.approx(0.2, abs=0.01)
    assert weight_density(res.model) <= 0.2 + 0.01
    assert res.summary["nonzeros"] < res.summary["params"]
    for (before, _), (after, _) in zip(record, record[1:]):   # a pruned weight never comes back
        assert all(bool((after[n] & ~before[n]).sum() == 0) for n in before)


@pytest.mark.parametrize("name,width,shape", TINY, ids=IDS)
def test_structured_removes_units_physically(name, width, shape):
    params = {"target_density": 0.5, "structure": "structured", "iterations": 2}
    record = []
    method = spy(build_method("magnitude", params), record)
    res = fit(recipe(name, width, shape, params), None, method=method)
    full = dict(method.original_units)
    assert record[0][1] != full                                 # round 1 already removed units
    assert record[-1][1] == {k: max(1, round(0.5 * v)) for k, v in full.items()}
    for (_, before), (_, after) in zip(record, record[1:]):    # units only ever disappear
        assert all(after[k] <= before[k] for k in before)
    full_params = sum(p.numel() for p in create_model(name, width=width, in_shape=shape).parameters())
    assert res.summary["params"] < full_params


def test_prune_schedule_spreads_rounds_and_leaves_fine_tuning():
    method = build_method("magnitude", {"iterations": 3})
    assert method.prune_epochs(12) == [2, 5, 8]
    assert method.prune_epochs(1) == [0, 0, 0]
    assert method.density_after(3) == pytest.approx(0.1)


def test_magnitude_from_the_cli_on_mnist_mini(cli, tmp_path):
    r = cli("train", "--model", "lenet5", "--width", "0.25", "--dataset", "mnist_mini", "--train-limit", "512",
            "--test-limit", "256", "--epochs", "2", "--method", "magnitude", "--param", "structure=structured",
            "--param", "target_density=0.5", "--out", tmp_path)
    assert r.code == 0, r.err
    assert "method_density" in r.out and (tmp_path / "compact" / "shapes.json").exists()



def test_crash_then_resume_keeps_masks_and_is_bit_identical(crash_resume, tmp_path):
    cfg = recipe("lenet5", 0.25, [1, 28, 28], {"target_density": 0.3, "iterations": 2})
    reference, resumed = crash_resume(cfg, tmp_path, epoch=2, step=1)
    assert resumed.summary["nonzeros"] == reference.summary["nonzeros"] < reference.summary["params"]


def test_structured_pruning_of_a_model_with_nothing_prunable_reports_density_one():
    """Every group tied by grouped convolutions: nothing can go, so the density is 1.0 (it said 0.0000) and a
    message says why."""
    from torch import nn

    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(4, 8, 3, padding=1, groups=4), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(8, 8, 3, padding=1, groups=2), nn.ReLU(),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 10))
    params = {"target_density": 0.5, "structure": "structured", "iterations": 1}
    said = []
    res = fit(recipe("lenet5", 1.0, [1, 8, 8], params, epochs=1), None, model=model,
              events=lambda kind, payload: said.append(payload["text"]) if kind == "message" else None)
    assert res.summary["method_density"] == 1.0
    assert any("no unit group of this model is prunable" in text for text in said), said


def test_unstructured_pruning_says_which_grouped_convolutions_it_leaves_dense():
    """Connection masks cover the groups=1 layers only: the density (0.30) was reported with 84% of a user's
    depthwise model's weights left dense and nothing said."""
    from torch import nn

    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 8, 3, padding=1, groups=4),
                          nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 10))
    said = []
    fit(recipe("lenet5", 1.0, [1, 8, 8], {"target_density": 0.5, "iterations": 1}, epochs=1), None, model=model,
        events=lambda kind, payload: said.append(payload["text"]) if kind == "message" else None)
    assert any("2 (grouped convolutions, 72 weights) are not pruned" in text for text in said), said


@pytest.mark.parametrize("params, message", [
    ({}, "add --param structure=structured"),
    ({"structure": "structured", "target_density": 0.3}, "target_density 0.3 and --fit disagree"),
])
def test_a_budget_refuses_what_it_would_ignore_or_cannot_do(params, message):
    from codesign.errors import ConfigError

    cfg = load_recipe(None, {"model.name": "jet_mlp", "model.width": 0.25, "data.name": "synthetic",
                             "data.options": {"in_shape": [16], "num_classes": 5, "n_train": 64, "n_test": 32},
                             "train.epochs": 1, "method.name": "magnitude", "method.params": params,
                             "target.fit": True, "target.device": "xc7z020", "target.max_latency_us": 1.0})
    with pytest.raises(ConfigError, match=message):
        fit(cfg, None)
