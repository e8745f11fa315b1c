import itertools
from collections import OrderedDict

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from codesign.config import load_recipe
from codesign.errors import CodesignError
from codesign.methods import build_method
from codesign.methods.npn_gates import UnitGates
from codesign.train import fit
from codesign.units.engine import UnitEngine
from codesign.zoo import create_model

TINY = [("lenet300_100", 0.1, [1, 28, 28]), ("lenet5", 0.25, [1, 28, 28]), ("resnet20", 0.25, [3, 16, 16])]
IDS = [t[0] for t in TINY]
N_TRAIN = 128


def recipe(name, width, shape, params, epochs=4, val=0.0):
    return load_recipe(None, {"model.name": name, "model.width": width, "data.name": "synthetic",
                              "data.options": {"in_shape": shape, "n_train": N_TRAIN, "n_test": 32},
                              "data.val_fraction": val, "train.epochs": epochs, "train.batch_size": 32,
                              "optim.name": "adam", "optim.lr": 1e-3, "optim.weight_decay": 0.0,
                              "method.name": "npn", "method.params": params})


def tiny_mlp():
    torch.manual_seed(0)
    return nn.Sequential(OrderedDict(fc1=nn.Linear(3, 4), relu=nn.ReLU(), fc2=nn.Linear(4, 2)))


def head(model, hidden):
    """fc2 without its gate hook."""
    return F.linear(hidden, model.fc2.weight, model.fc2.bias)


def gated(model, example, phi, k):
    gates = UnitGates(UnitEngine(model, example))
    gates.phi = {name: torch.tensor(values, requires_grad=True) for name, values in phi.items()}
    gates.k = k
    gates.attach()
    return gates


def no_hooks(model):
    return all(not m._forward_pre_hooks for m in model.modules())


# ---------------------------------------------------------------------- the gates and the ARM estimator

def test_arm_gradient_is_an_unbiased_estimate_of_the_expected_loss_gradient():
    model = tiny_mlp()
    x, y = torch.randn(8, 3), torch.randint(0, 2, (8,))
    phi, k = [0.4, -0.3, 0.1, 0.8], 2.0
    gates = gated(model, (3,), {"fc1": phi}, k)
    # exact E_z[CE] over the 16 gate patterns, differentiated by autograd
    p = torch.sigmoid(k * torch.tensor(phi, requires_grad=True))
    hidden = torch.relu(model.fc1(x)).detach()
    expected = 0.0
    for bits in itertools.product([0.0, 1.0], repeat=4):
        z = torch.tensor(bits)
        prob = torch.prod(torch.where(z > 0, p, 1 - p))
        expected = expected + prob * F.cross_entropy(head(model, hidden * z), y).detach()
    exact, = torch.autograd.grad(expected, p)
    exact = exact * k * p.detach() * (1 - p.detach())       # dπ/dφ
    torch.manual_seed(1)
    model.train()
    samples = []
    for _ in range(3000):
        f2 = F.cross_entropy(model(x), y).item()
        with torch.no_grad(), gates.antithetic_pass():
            f1 = F.cross_entropy(model(x), y).item()
        samples.append(gates.arm_gradient(f1, f2)["fc1"])
    samples = torch.stack(samples)
    mean, se = samples.mean(0), samples.std(0) / len(samples) ** 0.5
    assert torch.all((mean - exact).abs() < 4 * se + 1e-4), (mean, exact, se)
    assert torch.equal(torch.sign(mean[exact.abs() > 4 * se]), torch.sign(exact[exact.abs() > 4 * se]))


def test_one_arm_sample_by_hand():
    model = tiny_mlp()
    x, y = torch.randn(5, 3), torch.randint(0, 2, (5,))
    gates = gated(model, (3,), {"fc1": [0.5, -0.5, 0.2, 0.0]}, 1.0)
    model.train()
    f2 = F.cross_entropy(model(x), y).item()
    u = gates.u["fc1"]
    pi = torch.sigmoid(torch.tensor([0.5, -0.5, 0.2, 0.0]))
    hidden = torch.relu(model.fc1(x)).detach()
    assert f2 == pytest.approx(F.cross_entropy(head(model, hidden * (u < pi).float()), y).item(), abs=1e-6)
    with torch.no_grad(), gates.antithetic_pass():
        f1 = F.cross_entropy(model(x), y).item()
    assert f1 == pytest.approx(F.cross_entropy(head(model, hidden * (u > 1 - pi).float()), y).item(), abs=1e-6)
    assert torch.allclose(gates.arm_gradient(f1, f2)["fc1"], (f1 - f2) * (u - 0.5))


def test_k_zero_is_dropout_with_zero_gate_gradient():
    model = tiny_mlp()
    x, y = torch.randn(6, 3), torch.randint(0, 2, (6,))
    gates = gated(model, (3,), {"fc1": [2.0, -2.0, 0.3, -0.1]}, 0.0)
    hidden = torch.relu(model.fc1(x)).detach()
    model.train()
    draws = []
    for _ in range(2000):
        model(x)
        draws.append((gates.u["fc1"] < 0.5).float())
    assert abs(torch.stack(draws).mean() - 0.5) < 0.03               # Bernoulli(1/2) whatever φ is
    model.eval()                                                   # test time: the dropout scale 1/2
    assert torch.allclose(model(x), head(model, hidden * 0.5), atol=1e-6)
    model.train()
    f2 = F.cross_entropy(model(x), y).item()
    with torch.no_grad(), gates.antithetic_pass():
        f1 = F.cross_entropy(model(x), y).item()
    assert torch.count_nonzero(gates.arm_gradient(f1, f2)["fc1"]) == 0
    gates.expected_weights().backward()                            # the L0 cost has no gradient either
    assert torch.count_nonzero(gates.phi["fc1"].grad) == 0


def test_large_k_is_deterministic_plain_training():
    model = tiny_mlp()
    x = torch.randn(6, 3)
    plain = model(x).detach()
    gated(model, (3,), {"fc1": [3 / 7, 3 / 7, -40 / 7, 3 / 7]}, 5000.0)
    model.train()
    outs = [model(x).detach() for _ in range(20)]
    hidden = torch.relu(model.fc1(x)).detach() * torch.tensor([1.0, 1.0, 0.0, 1.0])
    assert all(torch.equal(o, outs[0]) for o in outs)
    assert torch.allclose(outs[0], head(model, hidden), atol=1e-6) and not torch.allclose(outs[0], plain)


def test_expected_weights_counts_both_sides_of_a_unit():
    model = tiny_mlp()
    gates = gated(model, (3,), {"fc1": [5.0, 5.0, 5.0, 5.0]}, 100.0)
    assert gates.expected_weights().item() == pytest.approx(3 * 4 + 4 * 2)
    gates.phi["fc1"].data[1] = -5.0                                # unit 1 off: 3 in + 2 out weights gone
    assert gates.expected_weights().item() == pytest.approx(3 * 3 + 3 * 2)


@pytest.mark.parametrize("name,width,shape", TINY, ids=IDS)
def test_hardening_gives_a_plain_smaller_model_with_the_gated_test_outputs(name, width, shape):
    torch.manual_seed(0)
    model = create_model(name, width=width, in_shape=shape)
    engine = UnitEngine(model, shape)
    gates = UnitGates(engine)
    sizes = engine.sizes()
    gates.phi = {g: torch.randn(n) * 0.5 + 0.2 for g, n in sizes.items()}
    gates.phi[next(iter(sizes))].data.fill_(-1.0)                  # one group entirely off
    gates.k = 3.0
    gates.attach()
    model.eval()
    x = torch.randn(4, *shape)
    on = {g: gates.active(g) for g in sizes}
    expected = model(x)
    kept = gates.harden(3.0)
    assert no_hooks(model) and not gates.phi
    assert {g: a for g, (a, _) in kept.items()} == {g: max(1, n) for g, n in on.items()}
    assert engine.sizes() == {g: max(1, n) for g, n in on.items()} != sizes
    assert torch.allclose(model(x), expected, atol=1e-5)


# ---------------------------------------------------------------------- the method in the training loop

def spy(method, record):
    end = method.on_epoch_end

    def on_epoch_end(ctx):
        phi = {n: p.detach().clone() for n, p in method.gates.phi.items()}
        record.append((method.stage, phi, dict(method.allocated)))
        return end(ctx)

    method.on_epoch_end = on_epoch_end
    return method


@pytest.mark.parametrize("name,width,shape", TINY, ids=IDS)
def test_sparsify_switches_gates_off_under_the_l0_cost(name, width, shape):
    params = {"lam": 1.0, "gate_lr": 0.1}
    record = []
    method = spy(build_method("npn", params), record)
    res = fit(recipe(name, width, shape, params), None, method=method)
    stages = [s for s, _, _ in record]
    assert stages == [1, 2, 2, 3]
    on = [sum(int((p >= 0).sum()) for p in phi.values()) for _, phi, _ in record[:3]]
    assert on[0] == method.units_total and on[2] < on[1] <= on[0]
    assert res.summary["method_units_on"] == method.units_kept < method.units_total
    full = sum(p.numel() for p in create_model(name, width=width, in_shape=shape).parameters())
    assert res.summary["params"] < full
    assert no_hooks(res.model)


def test_k_zero_leaves_the_gates_where_they_are():
    params = {"k": 0.0, "gate_lr": 0.1, "lam": 1.0}
    record = []
    method = spy(build_method("npn", params), record)
    fit(recipe("lenet300_100", 0.1, [1, 28, 28], params), None, method=method)
    assert all(torch.equal(record[0][1][n], record[2][1][n]) for n in record[0][1])


@pytest.mark.parametrize("objectives,fill,growth", [
    ([5.0, 4.0], 3.0, [0, 0, 1, 2]),      # improving: expand after stage-2 epochs 2 and 3, not the last (4)
    ([1.0, 2.0], 3.0, [0, 0, 1, 1]),      # the first stage-2 epoch improves on +inf, then never again
    ([5.0, 4.0], -3.0, [0, 0, 1, 1]),     # the switched-on gate is off (φ = fill/k < 0): no further growth
], ids=["improving", "worsening", "new-gate-off"])
def test_expand_switches_gates_on_while_the_validation_objective_improves(objectives, fill, growth):
    params = {"mode": "expand", "init_size": 2, "fill": fill, "lam": 0.0, "gate_lr": 1e-6,
              "stage1": 0.2, "stage2": 0.8}
    record = []
    method = spy(build_method("npn", params), record)
    values = iter(objectives)
    method._objective = lambda ctx: next(values)
    res = fit(recipe("lenet5", 0.25, [1, 28, 28], params, epochs=5, val=0.25), None, method=method)
    groups = len(record[0][2])
    assert [sum(a.values()) for _, _, a in record[:4]] == [(2 + g) * groups for g in growth]
    assert res.summary["method_units_on"] == (2 + growth[-1] if fill > 0 else 2) * groups


def test_the_second_arm_pass_leaves_batchnorm_statistics_alone():
    torch.manual_seed(0)
    model = create_model("resnet20", width=0.25, in_shape=(3, 16, 16))
    gates = UnitGates(UnitEngine(model, (3, 16, 16)))
    gates.init_phi({})
    gates.k = 7.0
    gates.attach()
    model.train()
    x = torch.randn(4, 3, 16, 16)
    model(x)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad(), gates.antithetic_pass():
        model(x)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    model(x)
    assert not all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_training_flops_count_the_second_arm_pass():
    params = {"lam": 0.0, "weight_decay": 0.0}
    res = fit(recipe("lenet5", 0.25, [1, 28, 28], params), None)
    cost = [row["flops_dense"] for row in res.history]
    start = [cost[0]] + cost[:-1]            # no structural change before hardening: epoch 1 = epoch 0
    passes = [3, 4, 4, 3]                    # stage 2 adds one forward pass per sample
    assert res.summary["train_flops_dense"] == pytest.approx(sum(p * c * N_TRAIN for p, c in zip(passes, start)))


def test_config_is_validated():
    with pytest.raises(CodesignError, match="stage1"):
        build_method("npn", {"stage1": 0.8, "stage2": 0.5})
    with pytest.raises(CodesignError, match="no layer named 'conv'"):
        fit(recipe("lenet5", 0.25, [1, 28, 28], {"layer_lam": {"conv": 1.0}}, epochs=1), None)



@pytest.mark.parametrize("crash_epoch", [2, 3])
def test_crash_then_resume_is_bit_identical(crash_resume, tmp_path, crash_epoch):
    params = {"mode": "expand", "init_size": 2, "gate_lr": 0.05, "expand_by": 2}
    cfg = recipe("lenet5", 0.25, [1, 28, 28], params, epochs=4, val=0.25)
    reference, resumed = crash_resume(cfg, tmp_path, epoch=crash_epoch, step=1)
    assert resumed.summary["params"] == reference.summary["params"]


def test_npn_from_the_cli_on_mnist_mini(cli, tmp_path):
    r = cli("train", "--model", "lenet5", "--width", "0.25", "--dataset", "mnist_mini", "--train-limit", "512",
            "--test-limit", "256", "--epochs", "3", "--optimizer", "adam", "--lr", "0.001", "--method", "npn",
            "--param", "mode=expand", "--param", "gate_lr=0.01", "--out", tmp_path)
    assert r.code == 0, r.err
    assert "method_units_on" in r.out and "npn: hardened" in r.err
    assert (tmp_path / "compact" / "model.pt").exists()


# ---------------------------------------------------------------------- column (input-feature) gates

@pytest.mark.parametrize("name,width,shape", TINY[:2], ids=IDS[:2])
def test_column_gates_harden_into_connection_masks_with_the_gated_test_outputs(name, width, shape):
    torch.manual_seed(0)
    model = create_model(name, width=width, in_shape=shape)
    engine = UnitEngine(model, shape)
    gates = UnitGates(engine)
    gates.init_phi(engine.sizes(), columns=True)
    assert set(gates.phi) == set(engine.sizes()) | {"fc1:in"}     # only fc1's columns are not units
    n_cols = model.fc1.weight.shape[1]
    assert n_cols == (784 if name == "lenet300_100" else 16 * engine.size("conv2"))
    gates.phi["fc1:in"].data[: n_cols // 2 + 1] = -1.0             # the first half of the columns (and one) off
    gates.k = 3.0
    gates.attach()
    model.eval()
    x = torch.randn(4, *shape)
    expected = model(x)
    before = engine.sizes()
    gates.harden(3.0)
    assert no_hooks(model) and torch.allclose(model(x), expected, atol=1e-5)
    if name == "lenet300_100":        # pixels cannot be removed: their columns are masked at zero
        off = slice(0, n_cols // 2 + 1)
        assert model.fc1.weight.shape[1] == 784 and not model.fc1.weight[:, off].any()
        assert not engine.masks.connection_mask("fc1.weight")[:, off].any()
        assert engine.masks.connection_mask("fc1.weight")[:, off.stop:].all()
    else:                             # conv2 channels whose 16 columns are all off are removed
        assert engine.size("conv2") == before["conv2"] - (n_cols // 2 + 1) // 16
        mask = engine.masks.connection_mask("fc1.weight")
        assert mask.shape[1] == 16 * engine.size("conv2") and not mask[:, 0].any() and mask[:, -1].all()


def test_sparsify_with_feature_gates_switches_input_pixels_off():
    params = {"lam": 1.0, "gate_lr": 0.1, "feature_gates": True}
    res = fit(recipe("lenet300_100", 0.1, [1, 28, 28], params), None)
    fc1 = res.model.fc1.weight
    dead_pixels = int((fc1 == 0).all(0).sum())
    assert 0 < dead_pixels < 784 and no_hooks(res.model)
    assert res.summary["nonzeros"] < sum(p.numel() for p in res.model.parameters())


def test_feature_charge_stays_when_the_layers_units_switch_off():
    torch.manual_seed(0)
    model = create_model("lenet300_100", width=0.1, in_shape=[1, 28, 28])
    engine = UnitEngine(model, [1, 28, 28])
    gates = UnitGates(engine)
    gates.init_phi(engine.sizes(), columns=True)
    ones = lambda name: torch.ones(len(gates.phi[name]))  # noqa: E731
    full = float(gates.column_weights(ones))
    assert full == 784 * model.fc1.weight.shape[0]
    gates.phi["fc1"].data[:] = -10.0          # every fc1 unit off: the expected count's pixel charge vanishes
    pixels = gates.phi["fc1:in"]
    expected_grad = torch.autograd.grad(gates.expected_weights(), pixels)[0]
    column_grad = torch.autograd.grad(gates.column_weights(), pixels)[0]
    assert expected_grad.abs().max() < 1e-3 * column_grad.abs().min()


def test_feature_lam_needs_the_feature_gates():
    with pytest.raises(CodesignError, match="feature_gates"):
        build_method("npn", {"feature_lam": 1.0})
