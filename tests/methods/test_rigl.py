import math

import pytest
import torch

from codesign.config import load_recipe
from codesign.data import load_dataset
from codesign.methods import build_method
from codesign.methods.rigl import layer_densities, random_mask
from codesign.train import fit, method_context
from codesign.zoo import create_model

TINY = [("lenet300_100", 0.1, [1, 28, 28]), ("lenet5", 0.25, [1, 28, 28]), ("resnet20", 0.25, [3, 16, 16])]
IDS = [t[0] for t in TINY]


def recipe(name, width, shape, params, epochs=2, optim="sgd"):
    return load_recipe(None, {"model.name": name, "model.width": width, "data.name": "synthetic",
                              "data.options": {"in_shape": shape, "n_train": 128, "n_test": 32},
                              "train.epochs": epochs, "train.batch_size": 16, "optim.name": optim,
                              "optim.lr": 0.01, "method.name": "rigl", "method.params": params})


# ---------------------------------------------------------------------- sparsity distribution

def test_erk_densities_match_a_hand_computation():
    d = layer_densities({"a": (10, 20), "b": (5, 10)}, 0.5)
    # raw = Σdims/Πdims: a 30/200 = 0.15, b 15/50 = 0.3; ε = (100 + 25) / (0.15·200 + 0.3·50) = 125/45
    assert d["a"] == pytest.approx(0.15 * 125 / 45) and d["b"] == pytest.approx(0.3 * 125 / 45)
    assert d["a"] * 200 + d["b"] * 50 == pytest.approx(125)


def test_erk_makes_a_layer_dense_when_its_density_would_exceed_one():
    d = layer_densities({"big": (100, 100), "small": (10, 2)}, 0.5)
    # first ε = 5010/212 gives small 0.6·ε ≫ 1 → small dense; ε = (5000 - 10)/200 for big
    assert d["small"] == 1.0 and d["big"] == pytest.approx(0.02 * 4990 / 200)
    assert d["big"] * 10_000 + 20 == pytest.approx(5010)


def test_erk_counts_conv_kernels_and_first_layer_dense_is_outside_the_budget():
    conv, fc = (8, 4, 3, 3), (10, 72)
    d = layer_densities({"conv": conv, "fc": fc}, 0.2)
    raw = {"conv": sum(conv) / math.prod(conv), "fc": sum(fc) / math.prod(fc)}
    eps = (288 - math.floor(0.8 * 288) + 720 - math.floor(0.8 * 720)) / (raw["conv"] * 288 + raw["fc"] * 720)
    assert d == pytest.approx({n: eps * r for n, r in raw.items()})
    dense_first = layer_densities({"conv": conv, "fc": fc}, 0.2, dense=["conv"])
    assert dense_first["conv"] == 1.0 and dense_first["fc"] == pytest.approx(0.2)
    assert layer_densities({"conv": conv, "fc": fc}, 0.2, "uniform") == {"conv": 0.2, "fc": 0.2}
    assert layer_densities({"conv": conv, "fc": fc}, 0.2, "uniform", dense=["conv"]) == {"conv": 1.0, "fc": 0.2}


def test_random_mask_has_the_exact_count():
    mask = random_mask((7, 13), 0.3, torch.Generator().manual_seed(0))
    assert int(mask.sum()) == 91 - math.floor(0.7 * 91)


# ---------------------------------------------------------------------- schedule

def test_drop_fraction_schedule_and_update_steps():
    method = build_method("rigl", {"drop_fraction": 0.4, "update_interval": 10})
    assert method.fraction_at(0, 100) == pytest.approx(0.4)
    assert method.fraction_at(50, 100) == pytest.approx(0.2)
    assert method.fraction_at(25, 100) == pytest.approx(0.2 * (1 + math.cos(math.pi / 4)))
    assert method.fraction_at(100, 100) == pytest.approx(0.0)
    assert [t for t in range(60) if method.is_update_step(t, 45.0)] == [0, 10, 20, 30, 40]
    constant = build_method("rigl", {"anneal": "constant", "drop_fraction": 0.4})
    assert constant.fraction_at(70, 100) == 0.4


# ---------------------------------------------------------------------- one update by hand

def test_update_drops_smallest_weights_and_grows_largest_gradients():
    cfg = recipe("lenet300_100", 0.1, [1, 28, 28], {"density": 0.5, "distribution": "uniform",
                                                     "noise_std": 0.0})
    splits = load_dataset("synthetic", in_shape=(1, 28, 28), num_classes=10, n_train=32, n_test=8)
    method = build_method("rigl", dict(cfg.method.params))
    ctx = method_context(cfg, method, create_model("lenet300_100", width=0.1), splits)
    name = "fc3.weight"                                 # 10 × 10, 50 active
    active = ctx.units.masks.connection_mask(name)
    w = ctx.units.param(name)
    with torch.no_grad():
        w.copy_(torch.where(active, 1.0 + torch.arange(100.0).view(10, 10) / 100, torch.zeros(())))
        smallest = active.flatten().nonzero().flatten()[:5]            # 5 smallest |w| among active
        w.view(-1)[smallest] = 1e-3
    ctx.units.optimizer.state[w]["momentum_buffer"] = torch.ones_like(w)
    grad = torch.zeros(10, 10)
    inactive = (~active).flatten().nonzero().flatten()
    grad.view(-1)[inactive[-5:]] = 5.0                                  # 5 inactive with the largest |g|
    moved = method._update_layer(ctx, name, grad, 0.1, 0)              # floor(0.1 · 50) = 5
    new = ctx.units.masks.connection_mask(name)
    assert moved == 5 and int(new.sum()) == 50
    assert not new.view(-1)[smallest].any() and new.view(-1)[inactive[-5:]].all()
    grown = new & ~active
    assert bool((w.detach()[grown] == 0).all())
    assert bool((ctx.units.optimizer.state[w]["momentum_buffer"][grown] == 0).all())
    assert bool((ctx.units.optimizer.state[w]["momentum_buffer"][new & active] == 1).all())


# ---------------------------------------------------------------------- whole runs

def spy(method, record):
    original = method.after_step

    def after_step(ctx):
        before = {n: ctx.units.masks.connection_mask(n) for n in ctx.units.weight_names()}
        changed = original(ctx)
        if changed:
            after = {n: ctx.units.masks.connection_mask(n) for n in ctx.units.weight_names()}
            state = ctx.units.optimizer.state
            grown = {n: after[n] & ~before[n] for n in after}
            zero_w = all(bool((ctx.units.param(n).detach()[g] == 0).all()) for n, g in grown.items())
            zero_state = all(bool((v[g] == 0).all()) for n, g in grown.items()
                             for v in state.get(ctx.units.param(n), {}).values()
                             if torch.is_tensor(v) and v.shape == g.shape)
            record.append(({n: int(m.sum()) for n, m in after.items()}, sum(int(g.sum()) for g in grown.values()),
                           zero_w, zero_state))
        return changed

    method.after_step = after_step
    return method


@pytest.mark.parametrize("name,width,shape", TINY, ids=IDS)
def test_density_stays_constant_and_grown_connections_start_at_zero(name, width, shape):
    params = {"density": 0.2, "update_interval": 2, "end_fraction": 0.9}
    record = []
    method = spy(build_method("rigl", params), record)
    res = fit(recipe(name, width, shape, params), None, method=method)
    model = create_model(name, width=width, in_shape=shape)
    start = {n: model.get_parameter(n).numel() - math.floor((1 - d) * model.get_parameter(n).numel())
             for n, d in method.densities.items()}
    assert len(record) == method.updates == 8               # steps 0, 2, ..., 14 of 16 (T_end = 14.4)
    for counts, grown, zero_w, zero_state in record:
        assert counts == start                              # every layer keeps its count exactly
        assert zero_w and zero_state
    assert sum(r[1] for r in record) > 0
    assert method.last_fraction == pytest.approx(method.fraction_at(14, 0.9 * 16))   # f of the last update step
    assert res.summary["nonzeros"] < res.summary["params"]
    assert res.summary["nonzeros"] == sum(int(torch.count_nonzero(p)) for p in res.model.parameters())


def test_adam_moments_of_grown_connections_start_at_zero():
    params = {"density": 0.3, "update_interval": 3}
    record = []
    method = spy(build_method("rigl", params), record)
    fit(recipe("lenet300_100", 0.1, [1, 28, 28], params, optim="adam"), None, method=method)
    assert record and all(r[2] and r[3] for r in record) and sum(r[1] for r in record) > 0


def test_rigl_from_the_cli_on_mnist_mini(cli, tmp_path):
    r = cli("train", "--model", "lenet300_100", "--width", "0.25", "--dataset", "mnist_mini", "--train-limit",
            "512", "--test-limit", "256", "--epochs", "2", "--method", "rigl", "--param", "density=0.1",
            "--param", "update_interval=2", "--out", tmp_path)
    assert r.code == 0, r.err
    assert "method_updates" in r.out and (tmp_path / "compact" / "shapes.json").exists()



def test_crash_then_resume_is_bit_identical(crash_resume, tmp_path):
    cfg = recipe("lenet5", 0.25, [1, 28, 28], {"density": 0.2, "update_interval": 3}, epochs=3)
    reference, resumed = crash_resume(cfg, tmp_path, epoch=2, step=2)
    assert resumed.summary["method_moved"] == reference.summary["method_moved"] > 0
