"""One rule for relative paths inside YAML files (codesign.yaml_paths): a recipe's, a sweep spec's and a run's
config.yaml name files beside themselves, whatever folder codesign runs in (tester R1: a recipe's model file
and a spec's recipe and devices were read from the current folder, its device file beside the recipe)."""
from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest
import yaml

from codesign.config import load_recipe
from codesign.errors import ConfigError
from codesign.sweep import load_spec

MODEL = textwrap.dedent("""
    import torch.nn as nn

    def mlp(hidden=8, in_shape=(6,), num_classes=3):
        return nn.Sequential(nn.Flatten(), nn.Linear(in_shape[0], hidden), nn.ReLU(), nn.Linear(hidden, num_classes))
""")
DATA = {"name": "synthetic", "options": {"in_shape": [6], "num_classes": 3, "n_train": 64, "n_test": 32}}


@pytest.fixture
def together(tmp_path, monkeypatch):
    """cfg/ holds a recipe, its model file, its device file and a sweep spec naming them by bare names; the
    current folder is another one (tmp_path/elsewhere)."""
    from codesign.sim.device import _package_dir

    cfg = tmp_path / "cfg"
    cfg.mkdir()
    (cfg / "mine.py").write_text(MODEL)
    shutil.copy(_package_dir() / "xc7z020.yaml", cfg / "board.yaml")
    (cfg / "rec.yaml").write_text(yaml.safe_dump({
        "name": "r", "model": {"name": "mine.py:mlp"}, "data": DATA, "train": {"epochs": 1, "batch_size": 32},
        "target": {"device": "board.yaml"}}))
    (cfg / "sweep.yaml").write_text(yaml.safe_dump({
        "name": "s", "recipe": "rec.yaml", "overrides": {"target.device": "board.yaml"},
        "grid": {"model": ["mine.py:mlp"], "device": ["xc7z020", "board.yaml"], "reuse_factor": [1]}}))
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    return cfg


def test_a_recipes_model_and_device_files_are_read_beside_it(together):
    cfg = load_recipe(together / "rec.yaml")
    assert cfg.model.name == f"{together / 'mine.py'}:mlp"
    assert cfg.target.device == str(together / "board.yaml")


def test_a_relative_recipe_path_reads_its_files_beside_it(together, monkeypatch):
    monkeypatch.chdir(together.parent)
    cfg = load_recipe("cfg/rec.yaml")
    assert (cfg.model.name, cfg.target.device) == ("cfg/mine.py:mlp", "cfg/board.yaml")


def test_a_missing_model_file_names_the_recipe_and_key_not_a_flag(together, monkeypatch):
    monkeypatch.chdir(together.parent)
    (together / "mine.py").unlink()
    with pytest.raises(ConfigError) as err:
        load_recipe("cfg/rec.yaml")
    assert str(err.value) == "cfg/rec.yaml: model.name: file not found: cfg/mine.py"


def test_a_file_found_only_from_the_current_folder_is_refused_saying_how_to_write_it(together, monkeypatch):
    """One rule, no fallback: the message says where the file was looked for and how to name it."""
    monkeypatch.chdir(together.parent)
    (together / "mine.py").rename(together.parent / "mine.py")
    with pytest.raises(ConfigError) as err:
        load_recipe("cfg/rec.yaml")
    text = str(err.value)
    assert text.startswith("cfg/rec.yaml: model.name: file not found: cfg/mine.py (") and "write ../mine.py" in text


def test_a_sweep_specs_recipe_models_and_devices_are_read_beside_it(together):
    spec = load_spec(together / "sweep.yaml")
    assert spec.recipe == str(together / "rec.yaml")
    assert spec.grid.model == [f"{together / 'mine.py'}:mlp"]
    assert spec.grid.device == ["xc7z020", str(together / "board.yaml")]
    assert spec.overrides == {"target.device": str(together / "board.yaml")}
    # a shipped recipe, model or device is a name, not a path
    data = {"name": "s", "recipe": "jet_mlp_synthetic", "grid": {"model": ["jet_mlp"], "device": ["pynq-z2"]}}
    (together / "names.yaml").write_text(yaml.safe_dump(data))
    spec = load_spec(together / "names.yaml")
    assert (spec.recipe, spec.grid.model, spec.grid.device) == ("jet_mlp_synthetic", ["jet_mlp"], ["pynq-z2"])


def test_a_sweep_specs_missing_device_names_the_spec_and_key(together, monkeypatch):
    monkeypatch.chdir(together.parent)
    data = yaml.safe_load((together / "sweep.yaml").read_text())
    data["grid"]["device"] = ["gone.yaml"]
    (together / "sweep.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match=r"^cfg/sweep\.yaml: grid\.device: file not found: cfg/gone\.yaml$"):
        load_spec("cfg/sweep.yaml")


def test_a_runs_config_yaml_names_the_same_files_from_anywhere(together, monkeypatch):
    """train writes config.yaml with its paths relative to the run folder, so the recipe it records reads the
    same model and device files from any folder (as the recipe read them)."""
    from codesign.train import fit

    monkeypatch.chdir(together.parent)
    fit(load_recipe("cfg/rec.yaml"), "runs/r")
    saved = yaml.safe_load(Path("runs/r/config.yaml").read_text())
    assert saved["model"]["name"] == "../../cfg/mine.py:mlp" and saved["target"]["device"] == "../../cfg/board.yaml"
    monkeypatch.chdir(together)
    again = load_recipe("../runs/r/config.yaml")
    assert Path(again.model.name.removesuffix(":mlp")).resolve() == (together / "mine.py").resolve()
    assert Path(again.target.device).resolve() == (together / "board.yaml").resolve()
