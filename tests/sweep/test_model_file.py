"""A sweep's starting model file (train.weights, train.start_from) is checked against the spec when the
spec is loaded: the file's model, width, factory arguments and data shape must be the sweep's, and a
mismatch is one line naming it and the fix, exit 2, before any point runs."""
from __future__ import annotations

import textwrap

import pytest
import torch

from codesign.checkpoint import save_model
from codesign.errors import ConfigError
from codesign.model_source import build_model
from codesign.sweep import load_spec

FACTORY = textwrap.dedent("""
    import torch.nn as nn

    def mlp(hidden=8, in_shape=(16,), num_classes=5):
        return nn.Sequential(nn.Flatten(), nn.Linear(in_shape[0], hidden), nn.ReLU(), nn.Linear(hidden, num_classes))
""")


@pytest.fixture
def model_file(tmp_path):
    """model_file(name, **build arguments) -> path of a model file of that model."""
    def make(model: str, file: str = "m.pt", args=None, **kwargs):
        torch.manual_seed(0)
        path = tmp_path / file
        save_model(path, build_model(model, args, **kwargs), source="test")
        return str(path)

    return make


def _mode_none(sim_spec, path, **grid):
    sim_spec["train"] = {"mode": "none", "weights": path}
    sim_spec["grid"].update(grid)
    return sim_spec


def _finetune(finetune_spec, path):
    finetune_spec["train"] = {"mode": "finetune", "start_from": path, "finetune_epochs": 1}
    return finetune_spec


def _error(data) -> str:
    with pytest.raises(ConfigError) as err:
        load_spec(data)
    text = str(err.value)
    assert "\n" not in text
    return text


def test_a_file_of_the_sweeps_model_passes(sim_spec, finetune_spec, model_file):
    load_spec(_mode_none(sim_spec, model_file("jet_mlp")))
    load_spec(_finetune(finetune_spec, model_file("lenet5", "l5.pt", width=0.25)))


def test_another_model_is_named_with_the_fix(sim_spec, model_file):
    text = _error(_mode_none(sim_spec, model_file("lenet300_100")))
    assert "train.weights" in text and "holds lenet300_100" in text and "grid.model is jet_mlp" in text
    assert "grid.model: [lenet300_100]" in text


def test_a_second_model_on_the_axis_cannot_share_one_file(sim_spec, model_file):
    text = _error(_mode_none(sim_spec, model_file("jet_mlp"), model=["jet_mlp", "lenet300_100"]))
    assert "holds jet_mlp" in text and "lenet300_100" in text and "one spec per model" in text


def test_another_width_is_named(sim_spec, model_file):
    text = _error(_mode_none(sim_spec, model_file("jet_mlp", width=0.5)))
    assert "width 0.5" in text and "width is 1" in text and "grid.width: [0.5]" in text
    load_spec(_mode_none(sim_spec, model_file("jet_mlp", width=0.5), width=[0.5]))


def test_a_file_made_for_other_data_is_named(sim_spec, model_file):
    sim_spec["recipe"] = "jet_mlp_synthetic"
    text = _error(_mode_none(sim_spec, model_file("jet_mlp", in_shape=[8])))
    assert "inputs 8" in text and "inputs 16" in text and "synthetic" in text
    text = _error(_mode_none(sim_spec, model_file("jet_mlp", "c.pt", num_classes=3)))
    assert "3 classes" in text and "5 classes" in text


def test_a_factorys_other_arguments_are_named(sim_spec, model_file, tmp_path):
    (tmp_path / "mine.py").write_text(FACTORY)
    factory = f"{tmp_path / 'mine.py'}:mlp"
    sim_spec.update(recipe="jet_mlp_synthetic", overrides={"model": {"name": factory, "args": {"hidden": 12}}})
    del sim_spec["grid"]["model"]
    text = _error(_mode_none(sim_spec, model_file(factory, args={"hidden": 8})))
    assert "hidden=8" in text and "hidden=12" in text and "model.args" in text
    load_spec(_mode_none(sim_spec, model_file(factory, "ok.pt", args={"hidden": 12})))


def test_a_hand_built_module_cannot_be_named_by_a_sweep(sim_spec, tmp_path):
    model = torch.nn.Sequential(torch.nn.Linear(16, 5))
    save_model(tmp_path / "hand.pt", model, source="test", in_shape=(16,))
    text = _error(_mode_none(sim_spec, str(tmp_path / "hand.pt")))
    assert "hand-built module" in text and "FILE.py:FUNCTION" in text


def test_finetune_start_from_is_checked_the_same_way(finetune_spec, model_file):
    text = _error(_finetune(finetune_spec, model_file("lenet300_100")))
    assert "train.start_from" in text and "holds lenet300_100" in text and "lenet5" in text
    text = _error(_finetune(finetune_spec, model_file("lenet5", "w.pt", width=1.0)))     # the recipe's is 0.25
    assert "width 1" in text and "width is 0.25" in text
    text = _error(_finetune(finetune_spec, model_file("lenet5", "c.pt", width=0.25, in_shape=[3, 32, 32])))
    assert "inputs 3x32x32" in text and "inputs 1x28x28" in text


def test_tensors_that_do_not_fit_the_recorded_model_name_the_tensor(sim_spec, model_file, tmp_path):
    path = model_file("jet_mlp")
    obj = torch.load(path, weights_only=False)
    obj["model_spec"]["name"] = "lenet300_100"
    obj["model_spec"]["in_shape"], obj["model_spec"]["num_classes"] = [1, 28, 28], 10
    torch.save(obj, tmp_path / "lie.pt")
    text = _error(_mode_none(sim_spec, str(tmp_path / "lie.pt"), model=["lenet300_100"]))
    assert "does not match model 'lenet300_100'" in text or "do not fit together" in text


def test_cli_refuses_it_before_any_work(cli, sim_spec, spec_file, model_file, tmp_path):
    result = cli("sweep", spec_file(_mode_none(sim_spec, model_file("lenet300_100"))), "--out", tmp_path / "run")
    lines = result.err.strip().splitlines()
    assert result.code == 2 and len(lines) == 1 and "holds lenet300_100" in lines[0], result.err
    assert "Traceback" not in result.err and not (tmp_path / "run").exists()


@pytest.mark.parametrize("mode", ["none", "scratch"])
def test_start_from_under_a_mode_that_ignores_it_is_refused(finetune_spec, model_file, mode):
    """train.start_from is finetune's starting model; under none or scratch it was loaded, checked and then
    ignored (the points started from train.weights or a random init)."""
    spec = _finetune(finetune_spec, model_file("lenet5", width=0.25))
    spec["train"]["mode"] = mode
    text = _error(spec)
    assert "train.start_from applies to train.mode 'finetune' only" in text and f"train.mode is '{mode}'" in text


def test_cli_refuses_start_from_under_mode_none(cli, sim_spec, spec_file, model_file, tmp_path):
    sim_spec["train"]["start_from"] = model_file("jet_mlp")
    result = cli("sweep", spec_file(sim_spec), "--out", tmp_path / "run")
    lines = result.err.strip().splitlines()
    assert result.code == 2 and len(lines) == 1 and "train.start_from" in lines[0] and "'none'" in lines[0], result.err
    assert not (tmp_path / "run").exists()


def test_base_epochs_beside_start_from_is_refused(finetune_spec, model_file):
    """With train.start_from no base run is trained, so base_epochs changed nothing."""
    spec = _finetune(finetune_spec, model_file("lenet5", width=0.25))
    spec["train"]["base_epochs"] = 3
    assert "train.base_epochs has no effect" in _error(spec) and "no base run is trained" in _error(spec)
