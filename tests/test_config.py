from pathlib import Path

import pytest

from codesign.config import load_recipe, parse_assignment, shipped_recipes
from codesign.errors import ConfigError


def test_shipped_recipes_validate():
    recipes = shipped_recipes()
    assert "lenet5_mnist" in recipes
    for name in recipes:
        assert load_recipe(name).name == name


def test_a_targets_strategy_is_read_in_any_case_as_the_flag_is():
    assert load_recipe(None, {"target.strategy": "resource"}).target.strategy == "Resource"
    assert load_recipe(None, {"target.strategy": "AUTO"}).target.strategy == "auto"
    with pytest.raises(ConfigError, match="target.strategy"):
        load_recipe(None, {"target.strategy": "fast"})


def test_overrides_win_and_are_typed():
    r = load_recipe("lenet5_mnist", {"optim.lr": 0.2, "train.epochs": 3})
    assert r.optim.lr == 0.2 and r.train.epochs == 3 and r.model.name == "lenet5"


@pytest.mark.parametrize("overrides,message", [
    ({"optm.lr": 1}, r"unknown key 'optm' \(did you mean: optim\?\)"),
    ({"optim.lrr": 1}, r"unknown key 'optim.lrr' \(did you mean: lr\?\)"),
    ({"optim.lr": "fast"}, r"optim.lr: Input should be a valid number"),
    ({"optim.lr": -1}, r"optim.lr: Input should be greater than 0"),
    ({"optim.name": "sgdd"}, r"optim.name: Input should be 'sgd', 'adam' or 'adamw'"),
    ({"train.epochs": 0}, r"train.epochs"),
    ({"target.max_util": [0.5]}, r"^recipe: target.max_util: Input should be a valid number"),   # no type tags
    ({"target.max_util": 0}, r"must be in \(0, 1\], got 0.0$"),                                  # 'got' once
    # a budget setting nothing reads is an error, not silently dropped
    ({"target.max_latency_us": 1.0}, r"target: max_latency_us and max_util bound the budget of fit: true"),
    ({"target.max_util": 0.5}, r"target: max_latency_us and max_util bound the budget of fit: true"),
    ({"target.fit": True, "target.template": "tiled"}, r"a budget folds the dataflow template"),
    ({"target.fit": True, "target.reuse_factor": 4}, r"a budget chooses every layer's reuse factor"),
    ({"target.fit": True, "target.precision": "auto"}, r"a budget is priced in one type"),
])
def test_bad_values_are_one_line_errors(overrides, message):
    with pytest.raises(ConfigError, match=message) as info:
        load_recipe(None, overrides)
    assert "\n" not in str(info.value)


def test_malformed_yaml_names_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("model:\n  name: [lenet5\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: line \d+.*malformed YAML"):
        load_recipe(path)


def test_non_mapping_yaml(tmp_path):
    path = tmp_path / "list.yaml"
    path.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_recipe(path)


def test_unknown_recipe_name():
    with pytest.raises(ConfigError, match=r"did you mean: lenet5_mnist"):
        load_recipe("lenet5_mnsit")


def test_parse_assignment():
    assert parse_assignment("optim.lr=0.01") == (["optim", "lr"], 0.01)
    assert parse_assignment("data.options.in_shape=[3, 8, 8]") == (["data", "options", "in_shape"], [3, 8, 8])
    with pytest.raises(ConfigError):
        parse_assignment("nokey")


def test_a_mapping_without_spaces_after_its_colons_says_so():
    """YAML reads ``{in_shape:[16],num_classes:5}`` as keys without values (or not at all); --set says to add
    the spaces instead of a schema error about a dictionary."""
    for text in ("data.options={in_shape:[16],num_classes:5}", "model.args={hidden:4}"):
        with pytest.raises(ConfigError, match="space after each ':'"):
            parse_assignment(text)
    assert parse_assignment("data.options={in_shape: [16], num_classes: 5}")[1] == {"in_shape": [16], "num_classes": 5}
    assert parse_assignment("x=[\"http://a\"]")[1] == ["http://a"]


def test_a_recipes_device_file_is_the_one_beside_it(tmp_path, monkeypatch):
    """target.device: small.yaml in sub/rec.yaml names sub/small.yaml wherever codesign runs (it was looked
    for in the current folder: 'file not found: small.yaml')."""
    import shutil

    from codesign.methods.budget import spec_from_target
    from codesign.sim.device import _package_dir

    (tmp_path / "sub").mkdir()
    shutil.copy(_package_dir() / "xc7z020.yaml", tmp_path / "sub" / "small.yaml")
    (tmp_path / "sub" / "rec.yaml").write_text("method: {name: nest}\n"
                                               "target: {device: small.yaml, fit: true, max_latency_us: 2}\n")
    monkeypatch.chdir(tmp_path)
    cfg = load_recipe("sub/rec.yaml")
    assert cfg.target.device == str(Path("sub") / "small.yaml") and spec_from_target(cfg.target) is not None
    (tmp_path / "sub" / "small.yaml").unlink()          # named by the recipe and its key (codesign.yaml_paths)
    with pytest.raises(ConfigError, match="^sub/rec.yaml: target.device: file not found: sub/small.yaml$"):
        load_recipe("sub/rec.yaml")
