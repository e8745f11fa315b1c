"""Users' models: factories named FILE.py:FUNCTION or package.module:FUNCTION, their typed
arguments, and weights from codesign files, plain state_dicts and pickled modules."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import torch

from codesign.checkpoint import load_model, save_model
from codesign.errors import ConfigError
from codesign.model_source import (ModelFactory, build_model, is_factory, load_any, parse_input_shape,
                                   parse_model_args)
from codesign.units.engine import UnitEngine
from tests.user_models import DepthwiseSeparable

FACTORY = textwrap.dedent("""
    import torch.nn as nn

    def tiny_cnn(channels=4, num_classes=10, in_shape=(1, 8, 8)):
        c, h, w = in_shape
        return nn.Sequential(nn.Conv2d(c, channels, 3, padding=1), nn.BatchNorm2d(channels), nn.ReLU6(),
                             nn.Flatten(), nn.Linear(channels * h * w, num_classes))

    def not_a_model():
        return 42
""")


@pytest.fixture
def model_file(tmp_path):
    path = tmp_path / "my_factories.py"
    path.write_text(FACTORY)
    return path


def test_factory_references_and_typed_arguments():
    assert is_factory("nets.py:build") and is_factory("package.module:make_net") and is_factory("a/b/c.py:f")
    assert not is_factory("lenet5") and not is_factory("C:/x") and not is_factory(None)
    assert parse_model_args(["channels=16", "rate=0.5", "bn=true", "in_shape=[3, 32, 32]", "name=abc"]) == \
        {"channels": 16, "rate": 0.5, "bn": True, "in_shape": [3, 32, 32], "name": "abc"}
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_model_args(["channels"])
    for text in ("3,32,32", "3x32x32", "[3, 32, 32]"):
        assert parse_input_shape(text) == (3, 32, 32)
    with pytest.raises(ConfigError, match="--input-shape"):
        parse_input_shape("3,-1")


def test_file_factory_builds_with_the_dataset_shape_and_records_how(model_file):
    model = build_model(f"{model_file}:tiny_cnn", {"channels": 6}, in_shape=(2, 5, 5), num_classes=3)
    spec = model.codesign_spec
    assert spec["factory"] == f"{model_file.resolve()}:tiny_cnn" and spec["name"] == "my_factories.py:tiny_cnn"
    assert spec["kwargs"] == {"channels": 6, "in_shape": [2, 5, 5], "num_classes": 3}
    assert spec["in_shape"] == [2, 5, 5] and spec["num_classes"] == 3
    assert model(torch.zeros(2, 2, 5, 5)).shape == (2, 3)


def test_module_factory_and_one_line_errors(model_file, monkeypatch):
    monkeypatch.syspath_prepend(str(model_file.parent))
    model = ModelFactory.parse("my_factories:tiny_cnn").build()
    assert model.codesign_spec["in_shape"] == [1, 8, 8]               # the factory's own default
    for ref, needle in ((f"{model_file}:missing", "has no function 'missing'; it defines: not_a_model, tiny_cnn"),
                        (f"{model_file}:not_a_model", "returned a int, not a torch.nn.Module"),
                        ("no_such_module_xyz:f", "cannot import no_such_module_xyz"),
                        ("nowhere/x.py:f", "model file not found")):
        with pytest.raises(ConfigError, match=needle) as err:
            ModelFactory.parse(ref).build()
        assert "\n" not in str(err.value)
    with pytest.raises(ConfigError, match="unexpected keyword"):
        build_model(f"{model_file}:tiny_cnn", {"chanels": 3})
    with pytest.raises(ConfigError, match=r"tiny_cnn\(channels=-4\) failed: RuntimeError: .*negative") as err:
        build_model(f"{model_file}:tiny_cnn", {"channels": -4})      # the factory's own error, not an internal one
    assert "\n" not in str(err.value)


def test_a_grown_and_pruned_factory_model_rebuilds_from_its_file(model_file, tmp_path):
    model = build_model(f"{model_file}:tiny_cnn", {"channels": 4})
    engine = UnitEngine(model)
    engine.extend(engine.groups()[0], 3)
    engine.keep(engine.groups()[0], [0, 2, 5, 6])
    save_model(tmp_path / "m.pt", model, source="test")
    loaded, meta = load_model(tmp_path / "m.pt")
    assert loaded[0].weight.shape[0] == 4 and meta["model_spec"]["factory"].endswith("my_factories.py:tiny_cnn")
    x = torch.randn(3, 1, 8, 8)
    torch.testing.assert_close(loaded(x), model.eval()(x))


def test_state_dicts_pickled_modules_and_codesign_files(model_file, tmp_path):
    ref = f"{model_file}:tiny_cnn"
    model = build_model(ref, {"channels": 5}).eval()
    x = torch.randn(2, 1, 8, 8)
    torch.save({"epoch": 3, "state_dict": {f"module.{k}": v for k, v in model.state_dict().items()}},
               tmp_path / "trainer.pth")
    loaded, meta = load_any(tmp_path / "trainer.pth", ref)            # nested, DataParallel prefix
    assert meta["source"] == "state_dict" and loaded[0].weight.shape[0] == 5   # conformed to the file
    torch.testing.assert_close(loaded(x), model(x))
    with pytest.raises(ConfigError, match="plain state_dict; name its architecture with --model"):
        load_any(tmp_path / "trainer.pth")
    torch.save(model.state_dict(), tmp_path / "sd.pt")
    with pytest.raises(ConfigError, match="does not fit lenet5") as err:
        load_any(tmp_path / "sd.pt", "lenet5")
    assert "\n" not in str(err.value)

    dws = DepthwiseSeparable().eval()
    torch.save(dws, tmp_path / "whole.pt")
    loaded, meta = load_any(tmp_path / "whole.pt", in_shape=(3, 8, 8))
    assert meta["source"] == "pickled module" and loaded.codesign_spec["num_classes"] == 5
    save_model(tmp_path / "pickled_model.pt", loaded, source="test")
    again, meta = load_any(tmp_path / "pickled_model.pt")
    assert meta["model_spec"]["pickled"] and isinstance(again, DepthwiseSeparable)
    with pytest.raises(ConfigError, match="does not match"):
        load_any(tmp_path / "pickled_model.pt", "lenet5")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ConfigError, match="is corrupt or not a model file"):
        load_any(tmp_path / "junk.pt")


def test_nan_weights_are_one_line_errors_from_every_model_source(tmp_path):
    """One rule wherever a model comes from: a factory, a pickled module, a plain state_dict, a module
    passed to export_model (model files: checkpoint.check_contents)."""
    from codesign.export import export_model
    from tests.user_models import nan_weights

    with pytest.raises(ConfigError, match=r"^user_models\.py:nan_weights: the model's weights are NaN/inf in "
                                          r"0\.weight; check the factory$"):
        build_model(f"{Path(__file__).parent}/user_models.py:nan_weights", {"in_features": 16}, (16,))
    torch.save(nan_weights(), tmp_path / "whole.pt")
    with pytest.raises(ConfigError, match=r"NaN/inf in 0\.weight; check the module pickled in the file"):
        load_any(tmp_path / "whole.pt", in_shape=(16,))
    torch.save(nan_weights().state_dict(), tmp_path / "sd.pth")
    with pytest.raises(ConfigError, match=r"NaN/inf in 0\.weight; check the state_dict"):
        load_any(tmp_path / "sd.pth", "tests.user_models:nan_weights", in_shape=(16,))
    with pytest.raises(ConfigError, match=r"NaN/inf in 0\.weight; check the Sequential passed to export_model"):
        export_model(nan_weights(), tmp_path / "e", in_shape=(16,), target="onnx")


def test_a_pickled_model_whose_code_is_missing_says_so(tmp_path, monkeypatch):
    """Not 'corrupt or not a model file': the class's module is not importable (PYTHONPATH lacks its folder)."""
    import importlib
    import sys

    code = tmp_path / "code"
    code.mkdir()
    (code / "usernet_pickled.py").write_text("import torch.nn as nn\n\nclass Net(nn.Sequential):\n"
                                             "    def __init__(self):\n        super().__init__(nn.Linear(4, 2))\n")
    monkeypatch.syspath_prepend(str(code))
    module = importlib.import_module("usernet_pickled")
    torch.save(module.Net(), tmp_path / "net.pt")
    monkeypatch.delitem(sys.modules, "usernet_pickled")
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p != str(code)])
    with pytest.raises(ConfigError) as err:
        load_any(tmp_path / "net.pt")
    text = str(err.value)
    assert "cannot be imported here" in text and "No module named 'usernet_pickled'" in text and "corrupt" not in text


def test_a_model_that_runs_on_one_sample_only_is_refused_by_every_source(tmp_path):
    """x.view(1, -1) passed the trial run on one sample, then failed in training and export as 'a bug in
    codesign'; the trial run now takes a batch of 2, as training and export do, and says how to fix it."""
    from tests.user_models import BatchOfOne

    fix = r"runs on one input but not on a batch of 2 inputs of shape \(16,\) .*x\.flatten\(1\)"
    with pytest.raises(ConfigError, match=r"^user_models\.py:BatchOfOne " + fix) as err:
        build_model(f"{Path(__file__).parent}/user_models.py:BatchOfOne", in_shape=(16,))
    assert "\n" not in str(err.value)
    torch.save(BatchOfOne(), tmp_path / "whole.pt")
    with pytest.raises(ConfigError, match=r"^BatchOfOne " + fix):
        load_any(tmp_path / "whole.pt", in_shape=(16,))
    torch.save(BatchOfOne().state_dict(), tmp_path / "sd.pt")
    with pytest.raises(ConfigError, match=fix):
        load_any(tmp_path / "sd.pt", "tests.user_models:BatchOfOne", in_shape=(16,))


def test_a_model_whose_output_loses_the_batch_is_refused():
    from codesign.model_source import output_size

    class Summed(torch.nn.Linear):
        def forward(self, x):
            return super().forward(x).sum(0)            # runs on any batch, one row out

    with pytest.raises(ConfigError, match=r"returns shape \(5,\) for a batch of 2 inputs; its output must keep the "
                                          r"batch as the first dimension"):
        output_size(Summed(16, 5), (16,))


def test_a_float64_layer_is_refused_by_every_source(tmp_path):
    from tests.user_models import float64_layer

    fix = r"layer '2' \(Linear\) is float64; codesign trains and exports float32 models: call model\.float\(\)"
    with pytest.raises(ConfigError, match=r"^user_models\.py:float64_layer: " + fix):
        build_model(f"{Path(__file__).parent}/user_models.py:float64_layer", in_shape=(16,))
    torch.save(float64_layer().double(), tmp_path / "whole.pt")      # all of it float64: the same rule
    with pytest.raises(ConfigError, match=r"^Sequential: layer '0' \(Linear\) is float64"):
        load_any(tmp_path / "whole.pt", in_shape=(16,))
