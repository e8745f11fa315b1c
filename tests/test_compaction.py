import copy
import json

import pytest
import torch

from codesign.checkpoint import load_model
from codesign.compaction import check_equivalence, compact, compact_run, write_compact
from codesign.config import load_recipe
from codesign.errors import CodesignError
from codesign.flops import model_cost
from codesign.train import fit
from codesign.units.engine import UnitEngine
from codesign.zoo import create_model

TINY = [("lenet300_100", 0.1, (1, 28, 28)), ("lenet5", 0.25, (1, 28, 28)), ("resnet20", 0.25, (3, 16, 16))]
IDS = [t[0] for t in TINY]


def masked_engine(name, width, shape, connections=True):
    torch.manual_seed(0)
    model = create_model(name, width=width, in_shape=shape)
    with torch.no_grad():   # non-trivial BatchNorm statistics
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.bias.uniform_(-0.5, 0.5)
    engine = UnitEngine(model, shape)
    gen = torch.Generator().manual_seed(1)
    for g in engine.groups():
        keep = torch.rand(engine.size(g), generator=gen) > 0.5
        keep[0] = True
        engine.set_units(g, keep)
    if connections:
        for name_ in engine.weight_names():
            engine.set_connections(name_, torch.rand(engine.param(name_).shape, generator=gen) > 0.3)
    return engine


def run(model, shape):
    with torch.no_grad():
        return model.eval()(torch.randn(6, *shape, generator=torch.Generator().manual_seed(3)))


@pytest.mark.parametrize("name,width,shape", TINY, ids=IDS)
def test_compact_is_smaller_dense_and_equivalent(name, width, shape):
    engine = masked_engine(name, width, shape)
    model = engine.model
    sizes = engine.sizes()
    small, manifest = compact(model, engine.masks)
    assert engine.sizes() == sizes                        # the masked model itself is untouched
    for g in manifest["groups"]:
        if g["prunable"]:
            assert g["after"] <= int(engine.masks.unit_mask(g["name"]).sum())
        else:
            assert g["after"] == g["before"]
    assert manifest["params_after"] < manifest["params_before"]
    assert manifest["equivalence"]["max_abs_diff"] <= manifest["equivalence"]["tolerance"]
    torch.testing.assert_close(run(small, shape), run(model, shape), rtol=1e-4, atol=1e-5)
    zeros = sum(int((p == 0).sum()) for n, p in small.named_parameters() if n.endswith("weight") and p.dim() > 1)
    assert zeros > 0                                      # unstructured zeros stay exact zeros


def test_written_compact_model_loads_as_a_zoo_model(tmp_path):
    engine = masked_engine("resnet20", 0.25, (3, 16, 16), connections=False)
    manifest = write_compact(tmp_path, engine.model, engine.masks)
    loaded, meta = load_model(tmp_path / "model.pt")
    assert meta["source"] == "compact"
    assert json.loads((tmp_path / "shapes.json").read_text())["params_after"] == manifest["params_after"]
    assert sum(p.numel() for p in loaded.parameters()) == manifest["params_after"]
    torch.testing.assert_close(run(loaded, (3, 16, 16)), run(engine.model, (3, 16, 16)), rtol=1e-4, atol=1e-5)


def test_units_without_out_or_in_connections_are_removed():
    torch.manual_seed(0)
    model = create_model("lenet300_100", width=0.1)
    with torch.no_grad():
        model.fc2.weight[:, 3] = 0                 # fc1 unit 3: nothing reads it
        model.fc2.weight[5] = 0                    # fc2 unit 5: no inputs, no bias, ReLU → always 0
        model.fc2.bias[5] = 0
    small, manifest = compact(model)
    sizes = {g["name"]: (g["before"], g["after"]) for g in manifest["groups"]}
    assert sizes["fc1"] == (30, 29) and sizes["fc2"] == (10, 9)
    torch.testing.assert_close(run(small, (1, 28, 28)), run(model, (1, 28, 28)), rtol=1e-5, atol=1e-6)


def test_equivalence_check_catches_a_different_model():
    a = create_model("lenet300_100", width=0.1)
    b = copy.deepcopy(a)
    with torch.no_grad():
        b.fc3.bias += 1
    with pytest.raises(CodesignError, match="compaction check failed"):
        check_equivalence(a, b, (1, 28, 28))


def test_compact_cli_on_a_trained_run(cli, tmp_path):
    r = cli("train", "--model", "lenet300_100", "--width", "0.1", "--dataset", "mnist_mini", "--train-limit", "256",
            "--test-limit", "128", "--epochs", "2", "--method", "magnitude", "--param", "target_density=0.2",
            "--out", tmp_path / "run")
    assert r.code == 0, r.err
    assert (tmp_path / "run" / "compact" / "model.pt").exists() and (tmp_path / "run" / "compact" / "shapes.json").exists()
    r = cli("compact", tmp_path / "run", "--out", tmp_path / "again")
    assert r.code == 0, r.err
    assert "equivalence: max" in r.out and (tmp_path / "again" / "shapes.json").exists()
    r = cli("compact", tmp_path / "nothing")
    assert r.code == 2 and "not found" in r.err


def test_compact_after_structured_training_shows_the_size_training_started_from(cli, tmp_path):
    """Structured magnitude removes units during training, so the trained model is already small: compact's
    before/after alone read "N → N params" and hid the reduction from the recipe's architecture."""
    r = cli("train", "--model", "lenet300_100", "--width", "0.1", "--dataset", "mnist_mini", "--train-limit", "256",
            "--test-limit", "128", "--epochs", "2", "--method", "magnitude", "--param", "structure=structured",
            "--param", "target_density=0.3", "--out", tmp_path / "run")
    assert r.code == 0, r.err
    full = model_cost(create_model("lenet300_100", width=0.1), (1, 28, 28))
    cost = json.loads((tmp_path / "run" / "train" / "cost.json").read_text())
    assert cost["start_params"] == full.params and cost["start_flops_dense"] == full.flops_dense
    assert cost["params"] < full.params
    r = cli("compact", tmp_path / "run", "--out", tmp_path / "again")
    assert r.code == 0, r.err
    manifest = json.loads((tmp_path / "again" / "shapes.json").read_text())
    assert manifest["params_start"] == full.params and manifest["flops_dense_start"] == full.flops_dense
    assert (f"params {full.params:,} at the start of training → {manifest['params_before']:,} trained → "
            f"{manifest['params_after']:,} compact") in r.out


def test_compaction_is_the_stage_after_training(tmp_path):
    base = {"model.name": "lenet300_100", "model.width": 0.1, "data.name": "synthetic", "train.batch_size": 64,
            "data.options": {"in_shape": [1, 28, 28], "n_train": 128, "n_test": 32}, "train.epochs": 2}
    cfg = load_recipe(None, {**base, "method.name": "magnitude", "method.params": {
        "structure": "structured", "target_density": 0.5, "iterations": 1, "pretrain_epochs": 1}})
    result = fit(cfg, tmp_path)
    assert not (tmp_path / "compact").exists() and "compact_params" not in result.summary
    added = compact_run(tmp_path)
    manifest = json.loads((tmp_path / "compact" / "shapes.json").read_text())
    assert added == {"compact_params": manifest["params_after"], "compact_flops_dense": manifest["flops_dense_after"]}
    full = model_cost(create_model("lenet300_100", width=0.1), (1, 28, 28)).params
    assert added["compact_params"] <= manifest["params_before"] == result.summary["params"] < full
    assert json.loads((tmp_path / "train" / "cost.json").read_text())["compact_params"] == added["compact_params"]
    dense = fit(load_recipe(None, base), tmp_path / "dense")
    assert compact_run(dense.run_dir) == {} and not (tmp_path / "dense" / "compact").exists()
