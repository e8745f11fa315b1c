"""Training for a device: the hardware budget's folding and prices, and each method within it."""
from __future__ import annotations

import pytest
import torch

from codesign.config import load_recipe
from codesign.errors import ConfigError
from codesign.methods.budget import BudgetSpec, HardwareBudget, REUSE_FACTORS
from codesign.train import fit
from codesign.units.engine import UnitEngine
from codesign.zoo import create_model

JET = (16,)


def _budget(latency_us=0.3, util=0.8) -> HardwareBudget:
    return HardwareBudget(BudgetSpec("xc7z020", max_latency_us=latency_us, max_util=util), JET)


def _recipe(method: str, params: dict, latency_us: float = 0.3, epochs: int = 4):
    return load_recipe("jet_mlp_synthetic", {
        "method.name": method, "method.params": params, "train.epochs": epochs, "train.batch_size": 64,
        "data.options": {"in_shape": [16], "num_classes": 5, "n_train": 256, "n_test": 128},
        "target.fit": True, "target.device": "xc7z020", "target.max_latency_us": latency_us})


def test_folding_takes_the_cheapest_reuse_factor_that_meets_the_latency():
    torch.manual_seed(0)
    model = create_model("jet_mlp", 1.0, JET, 5)
    budget = _budget(latency_us=0.3)
    net = budget.network(model)
    checks = {rf: budget.at(net, rf) for rf in REUSE_FACTORS}
    chosen = budget.fold(net)
    assert chosen.latency_s <= 0.3e-6
    assert all(c.util_max >= chosen.util_max for c in checks.values() if c.latency_s <= 0.3e-6)
    assert chosen.met == (chosen.util_max <= 0.8) and chosen.summary()["budget_margin"] == round(1 - chosen.load, 4)
    assert not budget.fold(net).met                 # the dense jet MLP needs more DSPs than 0.8 of a Zynq-7020


def test_prices_are_positive_and_larger_for_wider_fan_in():
    torch.manual_seed(0)
    model = create_model("jet_mlp", 1.0, JET, 5)
    units = UnitEngine(model, JET)
    prices = _budget(latency_us=1.0).prices(units)
    assert set(prices) == {g.name for g in units.groups()} and all(p > 0 for p in prices.values())


@pytest.mark.parametrize("method,params", [("magnitude", {"structure": "structured", "iterations": 2}),
                                           ("cgap", {}), ("nest", {"prune_rounds": 2}),
                                           ("npn", {})])
def test_each_method_ends_within_the_budget(method, params, tmp_path):
    result = fit(_recipe(method, params), tmp_path)
    s = result.summary
    assert s["budget_met"] is True and s["budget_util_max"] <= 0.8 and s["budget_latency_us"] <= 0.3
    assert (tmp_path / "sim" / "report.json").exists() and (tmp_path / "sim" / "report.md").exists()
    again = HardwareBudget(BudgetSpec("xc7z020", max_latency_us=0.3), JET).check(result.model)
    assert again.met and again.reuse_factor == s["budget_reuse_factor"]


def test_an_unmeetable_latency_is_reported_missed_without_destroying_the_model(tmp_path):
    result = fit(_recipe("magnitude", {"structure": "structured", "iterations": 1}, latency_us=0.05, epochs=2),
                 tmp_path)
    s = result.summary
    assert s["budget_met"] is False and s["budget_margin"] < 0 and s["budget_latency_us"] > 0.05
    assert s["params"] > 100                      # pruning stops when it no longer lowers the load


def test_unstructured_magnitude_cannot_fit_a_budget(tmp_path):
    with pytest.raises(ConfigError, match="structured"):
        fit(_recipe("magnitude", {"structure": "unstructured"}), tmp_path)


def test_npn_weighs_its_l0_cost_by_hardware_price():
    torch.manual_seed(0)
    model = create_model("jet_mlp", 1.0, JET, 5)
    prices = _budget(latency_us=1.0).weight_prices(model)
    net = _budget().network(model)
    weights = {l.name: l.weights for l in net.layers if l.weights}
    assert set(prices) == set(weights)
    mean = sum(prices[n] * weights[n] for n in weights) / sum(weights.values())
    assert mean == pytest.approx(1.0) and all(p > 0 for p in prices.values())


def test_budget_spec_checks_its_bounds():
    with pytest.raises(ConfigError, match="max-util"):
        BudgetSpec("xc7z020", max_util=1.5)


def test_cgap_under_a_slack_budget_is_the_unbudgeted_run(tmp_path):
    fitted = fit(_recipe("cgap", {}, latency_us=100.0), tmp_path / "a")
    plain_recipe = load_recipe("jet_mlp_synthetic", {
        "method.name": "cgap", "train.epochs": 4, "train.batch_size": 64,
        "data.options": {"in_shape": [16], "num_classes": 5, "n_train": 256, "n_test": 128}})
    plain = fit(plain_recipe, tmp_path / "b")
    assert fitted.summary["budget_met"] is True
    a, b = fitted.model.state_dict(), plain.model.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
