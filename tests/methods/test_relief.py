import math

import pytest
import torch
import torch.nn as nn

from codesign.compaction import compact_run
from codesign.config import load_recipe
from codesign.data import load_dataset
from codesign.methods import build_method
from codesign.methods.relief import alpha_keep, backward_cleanup, relief_scores
from codesign.train import fit, method_context
from codesign.units.adds import residual_adds
from codesign.zoo import create_model

TINY = [("lenet300_100", 0.1, [1, 28, 28]), ("lenet5", 0.25, [1, 28, 28]), ("resnet20", 0.25, [3, 16, 16])]
IDS = [t[0] for t in TINY]


def recipe(name, width, shape, params, epochs=3):
    return load_recipe(None, {"model.name": name, "model.width": width, "data.name": "synthetic",
                              "data.options": {"in_shape": shape, "n_train": 128, "n_test": 32},
                              "train.epochs": epochs, "train.batch_size": 64, "method.name": "relief",
                              "method.params": params})


def context(name, width, shape, params):
    """The method context outside the loop: model, data, method set up, no optimiser steps."""
    torch.manual_seed(0)
    cfg = recipe(name, width, shape, params)
    splits = load_dataset("synthetic", in_shape=shape, num_classes=10, n_train=96, n_test=16)
    model = create_model(name, width=width, in_shape=shape)
    method = build_method("relief", params)
    return method_context(cfg, method, model, splits), method


# ---------------------------------------------------------------------- scores and the α rule

def test_fc_scores_match_a_hand_computation():
    w = torch.tensor([[1.0, -2.0], [0.5, 0.0]])
    b = torch.tensor([1.0, -1.0])
    x = torch.tensor([[1.0, 2.0], [-3.0, 0.0]])        # two samples: mean |x| = [2, 1]
    s = relief_scores(w, b, x.abs().mean(0))
    # neuron 0: |1·x1| → 2, |-2·x2| → 2, bias 1 → S = 5; neuron 1: 1, 0, 1 → S = 2
    assert torch.allclose(s, torch.tensor([[0.4, 0.4, 0.2], [0.5, 0.0, 0.5]], dtype=torch.float64))


def _hand_conv(x_mean, k, stride, pad):
    """|K| ∗ mean|x| by explicit loops (correlation, zero padding)."""
    h, w = x_mean.shape
    xp = [[0.0] * (w + 2 * pad) for _ in range(h + 2 * pad)]
    for i in range(h):
        for j in range(w):
            xp[i + pad][j + pad] = float(x_mean[i, j])
    kh, kw = k.shape
    out = []
    for i in range(0, h + 2 * pad - kh + 1, stride):
        for j in range(0, w + 2 * pad - kw + 1, stride):
            out.append(sum(abs(float(k[a, b])) * xp[i + a][j + b] for a in range(kh) for b in range(kw)))
    return out


@pytest.mark.parametrize("stride,pad", [(1, 0), (2, 1)])
@pytest.mark.parametrize("norm", ["frobenius", "l1"])
def test_conv_scores_match_a_hand_computation(stride, pad, norm):
    torch.manual_seed(1)
    conv = nn.Conv2d(2, 3, 2, stride=stride, padding=pad)
    x = torch.randn(4, 2, 3, 3)
    mean_x = x.abs().mean(0)
    s = relief_scores(conv.weight, conv.bias, mean_x, conv, norm)
    expected = []
    for j in range(3):
        row = []
        for i in range(2):
            out = _hand_conv(mean_x[i], conv.weight[j, i].detach(), stride, pad)
            row.append(math.sqrt(sum(v * v for v in out)) if norm == "frobenius" else sum(out))
        positions = len(out)
        bias = abs(float(conv.bias[j].detach())) * (math.sqrt(positions) if norm == "frobenius" else positions)
        total = sum(row) + bias
        expected.append([v / total for v in row] + [bias / total])
    assert torch.allclose(s, torch.tensor(expected, dtype=torch.float64), atol=1e-6)


def test_alpha_rule_keeps_the_smallest_set_reaching_alpha():
    s = torch.tensor([[1.0, 4.0, 2.0, 3.0]])
    assert alpha_keep(s, 0.65).tolist() == [[False, True, False, True]]     # 4 + 3 = 7 ≥ 6.5
    assert alpha_keep(s, 0.75).tolist() == [[False, True, True, True]]      # 9 ≥ 7.5
    assert alpha_keep(s, 1.0).tolist() == [[False, True, True, True]]       # the smallest always goes (code)
    ties = torch.tensor([[3.0, 2.0, 2.0, 1.0]])
    assert alpha_keep(ties, 0.5).tolist() == [[True, False, False, False]]  # ties at the pivot are pruned
    assert alpha_keep(torch.tensor([[0.7]]), 0.9).tolist() == [[True]]      # a single candidate stays
    gen = torch.Generator().manual_seed(0)
    rows = torch.rand(50, 9, generator=gen, dtype=torch.float64)
    keep = alpha_keep(rows, 0.8)
    for row, kept in zip(rows, keep):
        ordered = row.sort(descending=True).values
        p0 = int((ordered.cumsum(0) < 0.8 * row.sum()).sum()) + 1        # smallest p with Σ top-p ≥ α·S
        assert int(kept.sum()) == min(p0, 8)
        assert bool((row[kept].min() > row[~kept].max()))


def test_prune_schedule_spreads_rounds_over_the_run():
    assert build_method("relief", {"iterations": 4}).prune_epochs(20) == [3, 7, 11, 15]
    assert build_method("relief", {}).prune_epochs(12) == [1, 3, 5, 7, 9]
    assert build_method("relief", {"iterations": 2, "pretrain_epochs": 5}).prune_epochs(9) == [4, 6]


# ---------------------------------------------------------------------- dead units and clean-up

def test_dead_units_are_switched_off_and_removed_physically():
    ctx, method = context("lenet300_100", 0.1, [1, 28, 28], {"prune_set": 64, "backward_cleanup": False})
    with torch.no_grad():
        ctx.model.fc1.weight[:3] = 0.0
        ctx.model.fc1.bias[:3] = -1.0                      # ReLU output exactly 0 on every sample
        ctx.model.fc1.bias[3] = 0.0
        ctx.model.fc1.weight[3] = 0.0
        ctx.model.fc1.weight[3, 0] = 1.0                   # alive on one pixel only: not dead
    method.prune_round(ctx)
    assert ctx.units.size("fc1") == 27 and method.removed_units >= 3
    assert not bool((ctx.model.fc1.bias == -1.0).any())
    assert ctx.model.fc2.weight.shape[1] == 27 and ctx.model(torch.randn(2, 1, 28, 28)).shape == (2, 10)


def test_backward_cleanup_propagates_to_the_first_layer():
    ctx, _ = context("lenet300_100", 0.1, [1, 28, 28], {})
    units = ctx.units
    fc2 = torch.ones(10, 30, dtype=torch.bool)
    fc2[:, 5] = False                                       # fc1 unit 5 feeds nothing
    fc2[:, 7] = False
    fc2[4, 7] = True                                        # fc1 unit 7 feeds only fc2 unit 4 ...
    fc3 = torch.ones(10, 10, dtype=torch.bool)
    fc3[:, 4] = False                                       # ... which feeds nothing
    units.set_connections("fc2.weight", fc2)
    units.set_connections("fc3.weight", fc3)
    backward_cleanup(units)
    assert units.masks.unit_mask("fc2").logical_not().nonzero().flatten().tolist() == [4]
    assert units.masks.unit_mask("fc1").logical_not().nonzero().flatten().tolist() == [5, 7]
    assert bool((ctx.model.fc1.weight[[5, 7]] == 0).all()) and bool((ctx.model.fc1.bias[[5, 7]] == 0).all())


# ---------------------------------------------------------------------- residual networks

def test_residual_adds_are_found_with_their_producers():
    import torch.fx as fx

    model = create_model("resnet20", width=0.25, in_shape=(3, 16, 16))
    ctx, _ = context("resnet20", 0.25, [3, 16, 16], {})
    adds = residual_adds(fx.symbolic_trace(model), ctx.units.graph)
    found = sorted(a.producers for group in adds.values() for a in group)
    assert len(found) == 9
    assert ("layers.1.0.conv2", "layers.1.0.shortcut.conv") in found
    assert ("layers.0.1.conv2", None) in found                 # identity shortcut: nothing to prune there
    assert all(turn == max(p for p in a.producers if p) for turn, group in adds.items() for a in group)


@pytest.mark.parametrize("rule", [True, False])
def test_residual_rule_prunes_a_weak_branch_channel(rule):
    ctx, method = context("resnet20", 0.25, [3, 16, 16], {"prune_set": 32, "residual_rule": rule,
                                                           "dead_units": False, "backward_cleanup": False})
    with torch.no_grad():
        ctx.model.layers[0][1].conv2.weight[0] *= 1e-6       # branch channel 0 ≪ its shortcut
    method.prune_round(ctx)
    row = ctx.units.masks.connection_mask("layers.0.1.conv2.weight")[0]
    assert bool(row.any()) != rule


def test_resnet_prunes_consistently_and_compacts(tmp_path):
    res = fit(recipe("resnet20", 0.25, [3, 16, 16], {"iterations": 2, "prune_set": 64}), tmp_path)
    compact_run(tmp_path)
    assert res.summary["method_kept"] < 1.0 and res.summary["nonzeros"] < res.summary["params"]
    x = torch.randn(2, 3, 16, 16)
    assert res.model.eval()(x).shape == (2, 10)
    manifest = (tmp_path / "compact" / "shapes.json").read_text()
    assert '"max_abs_diff"' in manifest


# ---------------------------------------------------------------------- whole runs

@pytest.mark.parametrize("name,width,shape", TINY[:2], ids=IDS[:2])
def test_rounds_only_prune_further(name, width, shape):
    record = []
    method = build_method("relief", {"iterations": 2, "prune_set": 64})
    original = method.prune_round

    def spy(ctx):
        original(ctx)
        record.append((method.kept, ctx.cost.nonzeros if ctx.cost else None, dict(ctx.units.sizes())))

    method.prune_round = spy
    res = fit(recipe(name, width, shape, {"iterations": 2, "prune_set": 64}), None, method=method)
    assert len(record) == 2 and 1.0 > record[0][0] > record[1][0]
    assert all(record[1][2][k] <= record[0][2][k] for k in record[0][2])
    assert res.summary["method_kept"] == pytest.approx(record[1][0])


def test_rewind_resets_survivors_to_their_initial_values():
    ctx, method = context("lenet300_100", 0.1, [1, 28, 28], {"prune_set": 64, "rewind": True})
    init = {k: v.clone() for k, v in ctx.model.state_dict().items()}
    with torch.no_grad():
        for p in ctx.model.parameters():
            p.add_(0.01)                                    # "training" moved every weight
        ctx.model.fc1.weight[:2] = 0.0
        ctx.model.fc1.bias[:2] = -1.0                       # two dead units: removed physically
    method.prune_round(ctx)
    assert ctx.units.sizes() == {"fc1": 28, "fc2": 10}
    masks = ctx.units.masks
    expected = {"fc1.weight": init["fc1.weight"][2:], "fc1.bias": init["fc1.bias"][2:],
                "fc2.weight": init["fc2.weight"][:, 2:], "fc3.weight": init["fc3.weight"]}
    for name, value in expected.items():
        assert torch.equal(ctx.units.param(name).detach(), value * masks.connection_mask(name))
    assert torch.equal(method.init_state["fc2.weight"], init["fc2.weight"][:, 2:])


def test_relief_from_the_cli_on_mnist_mini(cli, tmp_path):
    r = cli("train", "--model", "lenet5", "--width", "0.25", "--dataset", "mnist_mini", "--train-limit", "512",
            "--test-limit", "256", "--epochs", "2", "--method", "relief", "--param", "iterations=1",
            "--param", "prune_set=128", "--param", "conv_norm=l1", "--out", tmp_path)
    assert r.code == 0, r.err
    assert "method_kept" in r.out and (tmp_path / "compact" / "shapes.json").exists()



def test_crash_then_resume_is_bit_identical(crash_resume, tmp_path):
    cfg = recipe("lenet300_100", 0.1, [1, 28, 28], {"iterations": 2, "prune_set": 64, "rewind": True}, epochs=4)
    reference, resumed = crash_resume(cfg, tmp_path, epoch=3, step=1)
    assert resumed.summary["method_kept"] == reference.summary["method_kept"] < 1.0
