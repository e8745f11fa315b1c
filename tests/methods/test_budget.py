"""Training for a device: the hardware budget's folding and prices, and each method within it."""
from __future__ import annotations

import re

import pytest
import torch

from codesign.config import load_recipe
from codesign.errors import ConfigError
from codesign.methods.budget import BudgetSpec, HardwareBudget, prune_to_budget
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


def test_the_budget_folds_as_the_export_does():
    """One folding: the budget's check is codesign.sim.folding's per-layer choice (what export and simulate
    build with --reuse-factor auto), and its latency and utilisation are that design's estimate."""
    from codesign.sim.fitted import fitted_estimate
    from codesign.sim.folding import choose_folding

    torch.manual_seed(0)
    model = create_model("jet_mlp", 1.0, JET, 5)
    budget = _budget(latency_us=0.3)
    net = budget.network(model)
    check = budget.fold(net)
    folding = choose_folding(net, budget.device, budget.base, 0.8, budget.strategies)
    assert check.reuse_factors == dict(zip(folding.names, folding.rf)) and len(set(folding.rf)) > 1
    totals = fitted_estimate(net, budget.device, budget.base, "auto", budget.strategies, 0.8)[0].totals
    assert check.latency_s == pytest.approx(totals["latency_s"])
    assert check.util["dsp"] == pytest.approx(totals["dsp_util"]) and check.fits == totals["fits"]
    assert check.summary()["budget_margin"] == round(1 - check.load, 4)
    assert not check.met and check.latency_s > 0.3e-6     # the dense jet MLP is too slow within 0.8 of a Zynq-7020


def test_the_summary_says_what_binds_and_by_how_much():
    """A budget missed by latency says so (not the resource nearest its share), and a miss by a huge factor
    reads as a factor; a latency bound far under a microsecond keeps its digits."""
    from codesign.methods.budget import missed_by

    torch.manual_seed(0)
    model = create_model("jet_mlp", 1.0, JET, 5)
    slow = _budget(latency_us=1e-6).check(model)
    assert slow.summary()["budget_binding"] == "latency" and slow.summary()["budget_max_latency_us"] == 1e-6
    assert "missed by a factor of" in slow.describe() and slow.summary()["budget_margin"] < -100
    roomy = _budget(latency_us=1e6, util=0.8).check(model)
    assert roomy.met and roomy.summary()["budget_binding"] in ("dsp", "lut", "ff", "bram")
    assert missed_by(1.125) == "missed by 12.5%" and missed_by(2200.0) == "missed by a factor of 2.2e+03"


def test_the_designs_warnings_reach_the_runs_summary(tmp_path):
    """A design synthesis may refuse (Latency held on a layer of more than 4,096 weights) is said in the
    summary and the run's messages, not only inside RUN/sim/report.json."""
    recipe = load_recipe(None, {**_recipe("magnitude", {"structure": "structured", "iterations": 1}, latency_us=50.0,
                                           epochs=1).model_dump(), "model.width": 2.0, "target.strategy": "Latency"})
    said = []
    result = fit(recipe, tmp_path, events=lambda kind, p: said.append(p["text"]) if kind == "message" else None)
    assert any("4096" in w for w in result.summary["budget_warnings"])
    assert any(m.startswith("warning: ") and "4096" in m for m in said)


def test_a_design_hls_refuses_does_not_meet_the_budget():
    """--strategy Latency holds jet_mlp at width 2's 128 x 64 layer (8,192 weights) on the Latency strategy, whose
    kernel HLS refuses at any reuse factor (codesign.sim.hls_rules.refused): the budget is missed and says why;
    before, it was met with a warning. Under strategy auto the same model meets it (that layer goes Resource)."""
    torch.manual_seed(0)
    model = create_model("jet_mlp", 2.0, JET, 5)
    latency = HardwareBudget(BudgetSpec("xc7z020", max_latency_us=50.0, strategy="Latency"), JET).check(model)
    assert not latency.fits and not latency.met and "HLS refuses" in latency.describe()
    assert latency.summary()["budget_met"] is False
    assert HardwareBudget(BudgetSpec("xc7z020", max_latency_us=50.0), JET).check(model).met


def test_a_unit_price_is_the_estimators_at_the_current_folding():
    """Prices follow the folding: under a tighter utilisation bound fc2 is folded more (larger reuse factor),
    so one of its neurons holds fewer multipliers: it saves fewer DSPs, about its weights / reuse factor."""
    torch.manual_seed(0)
    model = create_model("jet_mlp", 1.0, JET, 5)
    units = UnitEngine(model, JET)
    tight, loose = _budget(latency_us=None, util=0.2), _budget(latency_us=None, util=0.8)
    a, b = tight.check(model), loose.check(model)
    assert a.reuse_factors["fc2"] > b.reuse_factors["fc2"]
    sa, sb = tight.unit_savings(units, a), loose.unit_savings(units, b)
    assert 0 < sa["fc2"]["dsp"] < sb["fc2"]["dsp"]
    fan = {name: model.get_submodule(name).in_features for name in ("fc2", "fc3")}   # fc2's row, fc3's column x 32
    for s, check in ((sa, a), (sb, b)):
        per_unit = fan["fc2"] / check.reuse_factors["fc2"] + 32 / check.reuse_factors["fc3"]
        assert s["fc2"]["dsp"] == pytest.approx(per_unit, rel=0.35)
    prices = tight.prices(units, a)
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
    assert again.met and again.folding_text(again.design) == s["budget_reuse_factors"]
    assert again.folding_text() == s["budget_fastest_reuse_factors"]          # the fastest folding decides
    assert s["budget_objective"] == "least resources within the latency bound"
    assert all(s[f"budget_{k}_util"] <= round(again.util[k], 4) for k in again.util)   # never more of any
    _assert_the_export_fits(tmp_path, result.model, s, 0.3)


def _assert_the_export_fits(run, model, summary, latency_us):
    """A budget met after training is the export's fit: simulate's --reuse-factor auto --max-latency-us
    estimate of the trained model under the budget's settings fits and meets the bound by shape (hls4ml's
    multiplier count, what the budget prices; RUN/sim/report.json holds that folding: the least resources
    within the bound), and also when it counts the trained weights' shift-and-add constants (as simulate
    and export of a checkpoint do)."""
    import json

    from codesign.sim import load_device
    from codesign.sim.estimate import module_network
    from codesign.sim.fitted import fitted_estimate
    from codesign.sim.torch_layers import network_from_model

    written = json.loads((run / "sim" / "report.json").read_text())
    budget = HardwareBudget(BudgetSpec("xc7z020", max_latency_us=latency_us), JET)
    device = load_device("xc7z020")
    cycles = latency_us * 1e-6 * budget.base.clock_hz(device)
    report, folding = fitted_estimate(network_from_model(model, JET), device, budget.base, "auto", budget.strategies, 0.8,
                                      max_latency_cycles=cycles)
    assert report.totals["fits"] is True and written["totals"]["fits"] is True
    assert report.totals["latency_s"] * 1e6 == pytest.approx(summary["budget_latency_us"], abs=1e-4)
    assert {n: v["reuse_factor"] for n, v in written["folding"]["layers"].items()} == dict(zip(folding.names,
                                                                                              folding.rf))
    assert written["folding"]["objective"] == "least resources within the latency bound"
    valued, _ = fitted_estimate(module_network(model, JET), device, budget.base, "auto", budget.strategies, 0.8,
                                max_latency_cycles=cycles)
    assert valued.totals["fits"] is True and valued.totals["latency_s"] * 1e6 <= latency_us * (1 + 1e-9)


def test_an_unmeetable_latency_is_reported_missed_without_destroying_the_model(tmp_path):
    result = fit(_recipe("magnitude", {"structure": "structured", "iterations": 1}, latency_us=0.01, epochs=2),
                 tmp_path)
    s = result.summary
    assert s["budget_met"] is False and s["budget_margin"] < 0 and s["budget_latency_us"] > 0.01
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


def test_npn_gates_a_share_of_the_budgets_plan_off_each_round(tmp_path, monkeypatch):
    """8 epochs: stage 2 is epochs 3-6, so gates go off after epochs 3, 4 and 5, each time a geometric share
    of the gating that meets the budget (share_of_the_way with 3, 2 and 1 rounds left), the whole of it in
    the last; the run ends within the budget."""
    import codesign.methods.npn as npn
    from codesign.methods.budget_plans import share_of_the_way

    calls = []

    def recorded(size, final, rounds_left):
        calls.append((size, final, rounds_left, share_of_the_way(size, final, rounds_left)))
        return calls[-1][-1]

    monkeypatch.setattr(npn, "share_of_the_way", recorded)
    said = []
    result = fit(_recipe("npn", {}, epochs=8), tmp_path,
                 events=lambda kind, p: said.append(p["text"]) if kind == "message" else None)
    rounds = [t for t in said if "more units off for the budget" in t]
    assert [re.search(r"round (\d) of (\d)", t).groups() for t in rounds] == [("1", "3"), ("2", "3"), ("3", "3")]
    assert sorted({c[2] for c in calls}) == [1, 2, 3]
    assert all(keep == final for size, final, left, keep in calls if left == 1)
    assert any(final < keep < size for size, final, left, keep in calls if left > 1)   # a share, not all of it
    assert result.summary["budget_met"] is True


def test_budget_spec_checks_its_bounds():
    with pytest.raises(ConfigError, match="max-util"):
        BudgetSpec("xc7z020", max_util=1.5)


@pytest.mark.parametrize("device, precision, message", [
    ("arria10", "ap_fixed<16,6>", "--fit arria10: the device's part '10AX115N2F40E2LG' is not an AMD/Xilinx part"),
    ("xc7z020", "float", "'float': the export builds fixed-point designs"),
])
def test_a_budget_the_export_would_refuse_is_refused_before_training(device, precision, message):
    """The export builds Xilinx parts in fixed point only: a budget priced otherwise trained for nothing."""
    with pytest.raises(ConfigError, match=re.escape(message)):
        BudgetSpec(device, max_latency_us=2.0, precision=precision)


def test_cgap_under_a_slack_budget_is_the_unbudgeted_run(tmp_path):
    fitted = fit(_recipe("cgap", {}, latency_us=100.0), tmp_path / "a")
    plain_recipe = load_recipe("jet_mlp_synthetic", {
        "method.name": "cgap", "train.epochs": 4, "train.batch_size": 64,
        "data.options": {"in_shape": [16], "num_classes": 5, "n_train": 256, "n_test": 128}})
    plain = fit(plain_recipe, tmp_path / "b")
    assert fitted.summary["budget_met"] is True
    a, b = fitted.model.state_dict(), plain.model.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_nest_grows_what_its_pruning_trims_back_to_the_budget(tmp_path):
    """A growth step is judged by what the pruning rounds will leave of it (pruned to target_density, then
    trimmed to the budget): at 0.13 us the grown model breaks the budget, and its trimmed projection keeps at
    least the weight magnitude of not growing, so it grows at the full rate and the first round trims it back."""
    slack = fit(_recipe("nest", {"prune_rounds": 2}, latency_us=100.0), tmp_path / "a").summary
    tight = fit(_recipe("nest", {"prune_rounds": 2}, latency_us=0.13), tmp_path / "b").summary
    assert "method_budget_scaled_steps" not in tight and "method_budget_refused_steps" not in tight
    assert tight["method_grown_connections"] == slack["method_grown_connections"]
    assert tight["method_budget_trim_connections"] >= 1 and "method_budget_trim_connections" not in slack
    assert tight["budget_met"] is True and tight["nonzeros"] < slack["nonzeros"]


def test_nest_refuses_growth_that_costs_connections(tmp_path, monkeypatch):
    """Growth whose projection keeps less weight magnitude than not growing is refused: here every grown copy
    also loses half of fc1's connections (as a growth the budget's trim cuts past the seed would)."""
    from codesign.methods.nest import NeST

    real = NeST._grow_on

    def costly(self, units, grad_pass, bridges, step, scale, maps_of=None):
        real(self, units, grad_pass, bridges, step, scale, maps_of)
        if maps_of is not None:                        # a copy tried against the budget
            mask = units.masks.connection_mask("fc1.weight")
            active = mask.nonzero()
            mask[tuple(active[: len(active) // 2].T)] = False
            units.set_connections("fc1.weight", mask)

    monkeypatch.setattr(NeST, "_grow_on", costly)
    run = fit(_recipe("nest", {"prune_rounds": 2}, latency_us=100.0), tmp_path / "a").summary
    assert run["method_budget_refused_steps"] >= 1 and run["method_grown_connections"] == 0
    assert run["budget_met"] is True


def test_pruning_to_a_stepped_budget_removes_only_what_crosses_the_step():
    """Under the Latency strategy a layer over the unroll limit (4,096 weights) is fully serial, so the
    latency of the width-2 jet MLP (fc2 128x64) falls in one step once fc1 or fc2 is halved, and fc3 does
    not move it. Pruning prices each group by the load its removal saves after re-folding (fc3: nothing,
    its units stay) and gives back what the last round removed past the step: the result keeps at least
    0.7 of the weights of the best hand-made fit, fc1 halved (9,536, which it finds; the per-unit
    averages at the held folding kept 4,352, fc3 halved)."""
    import torch.nn as nn

    torch.manual_seed(0)
    model = create_model("jet_mlp", 2.0, JET, 5)
    units = UnitEngine(model, JET)
    budget = HardwareBudget(BudgetSpec("xc7z020", max_latency_us=2.0, strategy="Latency"), JET)
    assert budget.check(model).load > 10

    def weights(a, b, c):
        return 16 * a + a * b + b * c + 5 * c

    def met(a, b, c):
        return budget.check(nn.Sequential(nn.Linear(16, a), nn.ReLU(), nn.Linear(a, b), nn.ReLU(), nn.Linear(b, c),
                                          nn.ReLU(), nn.Linear(c, 5))).met

    assert met(64, 64, 64) and met(128, 32, 48) and not met(128, 64, 64)
    check, removed = prune_to_budget(units, budget, lambda g: units.unit_norm(g))
    sizes = units.sizes()
    assert check.met and removed == 256 - sum(sizes.values())
    assert sizes["fc3"] == 64
    assert weights(sizes["fc1"], sizes["fc2"], sizes["fc3"]) >= 0.7 * weights(64, 64, 64)


def test_a_removal_past_the_budget_gives_back_what_the_design_has_room_for():
    """The stepped jet MLP above: removing 100 of fc1's 128 units and half of fc3 meets the budget with room
    to spare. fc3 does not move the latency, so all of its units come back; fc1 gets back units as long as
    the load stays within the budget (bisection: 48, short of 64, where the load is not monotone). With
    ``at_least`` all of it the removal stands."""
    from codesign.methods.budget import _without, give_back

    torch.manual_seed(0)
    units = UnitEngine(create_model("jet_mlp", 2.0, JET, 5), JET)
    budget = HardwareBudget(BudgetSpec("xc7z020", max_latency_us=2.0, strategy="Latency"), JET)
    removal = [("fc1", i) for i in range(100)] + [("fc3", i) for i in range(32)]
    assert budget.check(_without(units, budget, removal).model).met
    kept, check = give_back(units, budget, removal, 1.0)
    assert set(kept) < set(removal) and all(name == "fc1" for name, _ in kept)
    assert 28 < 128 - len(kept) <= 64 and check.met
    assert check.load == budget.check(_without(units, budget, kept).model).load
    assert give_back(units, budget, removal, 1.0, at_least=len(removal))[0] == removal


def test_pruning_crosses_a_step_a_few_units_do_not_reach():
    """784-60-20-10 on the xc7z020 at 1 us (strategy auto; 8.16 us before the RF <= n_in kernel's shared input
    multiplexers made fc1's fast foldings cheap): fc1 meets it only at 10 units or fewer (9 before the
    folding under the bound looked past the fastest folding's interval), and the load is not monotone in
    between (a few units have few valid reuse factors and a higher load). A tenth of fc1 saves nearly
    nothing, so the group is priced at the best rate of larger shares and that measured share is removed
    (fc2 20, all of it; the held-folding averages: fc1 7, fc2 16)."""
    import torch.nn as nn

    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 60), nn.ReLU(), nn.Linear(60, 20), nn.ReLU(), nn.Linear(20, 10))
    units = UnitEngine(model, (1, 28, 28))
    budget = HardwareBudget(BudgetSpec("xc7z020", max_latency_us=1.0, io_type="io_parallel"), (1, 28, 28))
    start = budget.check(model).load
    check, removed = prune_to_budget(units, budget, lambda g: units.unit_norm(g))
    assert start > 2 and check.met and removed == 80 - sum(units.sizes().values())
    assert units.sizes()["1"] <= 10 and units.sizes()["3"] >= 5    # fc1 crossed its step, fc2 kept units


def test_pruning_a_hair_over_the_budget_removes_one_measured_share():
    """LeNet-5 with 8, 9 and 133 units on the ZCU102 at 4.31 us (io_stream, strategy auto) is 0.5% over:
    a round of 5% of the units from every group (1 conv1 map, 1 conv2 map, 6 fc1 neurons) raises the load
    to 1.18 (a folding with fewer valid reuse factors; the held-folding averages removed 26 units, conv1
    8 -> 4, conv2 9 -> 5). A measured removal of at most half a group that meets the budget ends it, the
    one losing the least share of its group's saliency: the weakest of fc1's 133 neurons, at a folding of a
    longer interval than the fastest one (which takes 4.32 us; 12 neurons before the budget looked past the
    fastest folding, 14 before the folding search bought latency by its relaxation), not one of conv2's 9
    maps (a ninth of that layer; the choice while saliency was normalised by the group's mean)."""
    torch.manual_seed(0)
    model = create_model("lenet5", 1.0, (1, 28, 28), 10)
    units = UnitEngine(model, (1, 28, 28))
    for name, n in (("conv1", 8), ("conv2", 9), ("fc1", 133)):
        units.keep(name, list(range(n)))
    budget = HardwareBudget(BudgetSpec("xczu9eg", max_latency_us=4.3102, io_type="io_stream"), (1, 28, 28))
    assert 1 < budget.check(model).load < 1.01
    check, removed = prune_to_budget(units, budget, lambda g: units.unit_norm(g))
    assert check.met and removed == 1 and units.sizes() == {"conv1": 8, "conv2": 9, "fc1": 132}


def test_nest_removes_units_where_pruning_connections_no_longer_lowers_the_load(tmp_path):
    """Under the Resource strategy zero weights save nothing, so at 0.1 us NeST's connection pruning stalls
    at 0.12 us (missed); it then removes units by the budget's measured prices and meets it."""
    cfg = load_recipe("jet_mlp_synthetic", {
        "method.name": "nest", "method.params": {"prune_rounds": 2}, "train.epochs": 4, "train.batch_size": 64,
        "data.options": {"in_shape": [16], "num_classes": 5, "n_train": 256, "n_test": 128},
        "target.fit": True, "target.device": "xc7z020", "target.max_latency_us": 0.1, "target.strategy": "Resource"})
    s = fit(cfg, tmp_path).summary
    assert s["budget_met"] is True and s["budget_latency_us"] <= 0.1 and s["method_budget_pruned_units"] > 0


def _trimmed(trim: str):
    """A dense jet MLP over a 10% utilisation budget, trimmed by NeST's fit_budget: (units, nest, messages,
    whether it meets the budget after)."""
    import types

    from codesign.methods.nest import NeST

    torch.manual_seed(0)
    units = UnitEngine(create_model("jet_mlp", 1.0, JET, 5), JET)
    budget = _budget(latency_us=None, util=0.1)
    assert not budget.check(units.model).met
    nest, said = NeST(NeST.Config(budget_trim=trim)), []
    nest.fit_budget(types.SimpleNamespace(units=units, budget=budget, say=said.append))
    return units, nest, said, budget.check(units.model).met


def test_nest_trims_a_model_over_the_budget_by_connections_or_units():
    """NeST's trim to a budget: by connections (then units), by units only, or (auto) both tried on copies and
    the way that meets the budget keeping the larger sum of active weight magnitudes taken."""
    by_connections, c, _, c_met = _trimmed("connections")
    by_units, u, _, u_met = _trimmed("units")
    assert c.counts["pruned_connections"] > 0 and u.counts["pruned_connections"] == 0
    assert u.counts["budget_pruned_units"] > 0
    auto, a, said, met = _trimmed("auto")
    way = "connections" if "budget_trim_connections" in a.counts else "units"
    assert f"trimmed by {way}" in said[-1] and auto.sizes() == (by_connections if way == "connections" else
                                                                by_units).sizes()
    rank = {"connections": (c_met, a._magnitude_kept(by_connections)), "units": (u_met, a._magnitude_kept(by_units))}
    assert rank[way] == max(rank.values()) and met == rank[way][0] and (c_met or u_met) == met


def test_the_connection_trim_keeps_the_most_connections_that_meet_the_budget(monkeypatch):
    """The jet MLP at 0.2 us: the trim's rounds of the smallest connections (to 2,537, 1,665, 1,179, 710)
    meet the budget far past the step (710 leaves units with no inputs; with the dead ones removed, 23
    connections and one neuron in fc1 and fc2 are left); the last round bisected back prunes to 912
    instead (593 left, fc1 32, fc2 24), and the run's model is trimmed to the planned counts."""
    import types

    import codesign.methods.nest as nest_module
    from codesign.methods.nest import NeST, active_connections

    def trimmed(tolerance):
        torch.manual_seed(0)
        units = UnitEngine(create_model("jet_mlp", 1.0, JET, 5), JET)
        budget, nest = _budget(latency_us=0.2), NeST(NeST.Config(budget_trim="connections"))
        with monkeypatch.context() as m:
            m.setattr(nest_module, "TRIM_TOLERANCE", tolerance)
            keeps = nest._connection_trim(units, budget, 0.05, 60)
            nest.fit_budget(types.SimpleNamespace(units=units, budget=budget, say=lambda _t: None))
        return keeps, active_connections(units), budget.check(units.model).met

    keeps, kept, met = trimmed(nest_module.TRIM_TOLERANCE)
    rounds, kept_by_rounds, met_by_rounds = trimmed(10.0)          # no bisection: the rounds alone
    assert keeps[:-1] == rounds[:-1] and keeps[-1] > rounds[-1]
    assert met and met_by_rounds and kept > kept_by_rounds


def test_a_dsp_share_binds_the_budget():
    """``max_util`` per resource: the folding keeps DSP within its own share and the load reads each resource
    against its share, so a small DSP share binds and a latency that needs more DSPs is missed."""
    torch.manual_seed(0)
    model = create_model("jet_mlp", 1.0, JET, 5)
    loose = _budget(latency_us=5.0).check(model)
    dsp = loose.util["dsp"]
    tight = HardwareBudget(BudgetSpec("xc7z020", max_latency_us=5.0, max_util={"dsp": dsp / 2}), JET).check(model)
    assert tight.binding == "dsp" and tight.fits and tight.folding.utilisation["dsp"] <= dsp / 2 + 1e-9
    assert tight.latency_s > loose.latency_s                 # fewer multipliers: a slower folding
    assert tight.load == pytest.approx(max(tight.latency_s / 5e-6, tight.util["dsp"] / (dsp / 2)))
    faster = HardwareBudget(BudgetSpec("xc7z020", max_latency_us=loose.latency_s * 1e6, max_util={"dsp": dsp / 2}),
                            JET).check(model)
    assert not faster.met and faster.load > 1.0                # the loose design's speed needs more DSPs
    assert tight.summary()["budget_max_util"] == {"all": 0.8, "DSP": dsp / 2}
    assert "of its" in tight.describe()


def test_training_within_a_dsp_share_meets_it(tmp_path):
    """The whole loop with a share per resource: NeST grows within a DSP share a third of what an unbudgeted
    fit of the same model takes, and the run's report and summary hold that share."""
    import json

    torch.manual_seed(0)
    dsp = _budget(latency_us=5.0).check(create_model("jet_mlp", 1.0, JET, 5)).util["dsp"]
    recipe = load_recipe("jet_mlp_synthetic", {
        "method.name": "nest", "train.epochs": 3, "train.batch_size": 64,
        "data.options": {"in_shape": [16], "num_classes": 5, "n_train": 256, "n_test": 128},
        "target.fit": True, "target.device": "xc7z020", "target.max_latency_us": 5.0,
        "target.max_util": f"0.8,DSP={dsp / 3:.4f}"})
    assert recipe.target.max_util == {"all": 0.8, "DSP": round(dsp / 3, 4)}
    result = fit(recipe, tmp_path / "run")
    assert result.summary["budget_met"] is True
    assert result.summary["budget_dsp_util"] <= round(dsp / 3, 4) + 1e-4
    report = json.loads((tmp_path / "run" / "sim" / "report.json").read_text())
    assert report["folding"]["max_util"] == {"all": 0.8, "DSP": round(dsp / 3, 4)}


def test_pruning_to_a_budget_keeps_a_tenth_of_every_group_while_it_can():
    """Saliency per price alone cuts the cheapest-to-lose group to one or two units (a bottleneck no
    retraining recovers); pruning to a budget keeps ``keep_floors`` of every group when the budget can be
    met so, and halves the floors where it cannot (down to one unit per group)."""
    import copy

    from codesign.methods.budget import keep_floors

    torch.manual_seed(0)
    model = create_model("jet_mlp", 1.0, JET, 5)
    floors = keep_floors(UnitEngine(model, (1, 16)).sizes())
    assert floors == {"fc1": 7, "fc2": 4, "fc3": 4}

    def pruned(latency_us, **kw):
        units = UnitEngine(copy.deepcopy(model), (1, 16))
        check, _ = prune_to_budget(units, _budget(latency_us), lambda g: units.unit_norm(g), **kw)
        return units.sizes(), check

    sizes, check = pruned(0.22)
    assert check.met and all(sizes[g] >= floors[g] for g in floors)
    bare, bare_check = pruned(0.22, floors={})          # one unit each: the same budget cuts fc3 to 1
    assert bare_check.met and any(bare[g] < floors[g] for g in floors)
    tight, tight_check = pruned(0.1)                      # met only below the floors: they give way
    assert tight_check.met and any(tight[g] < floors[g] for g in floors)


def test_floors_a_budget_cannot_take_are_halved_not_dropped():
    """LeNet-300-100 on the PYNQ-Z2 at 2.11 us: fc1 30 / fc2 10 (a tenth) folds to 2.18 us, so the floor of
    the group whose unit costs the most (fc1: 784 inputs) is halved, and fc2 keeps its 10 neurons (without
    floors saliency per price leaves it one)."""
    torch.manual_seed(0)
    units = UnitEngine(create_model("lenet300_100", 1.0, (1, 28, 28), 10), (1, 1, 28, 28))
    budget = HardwareBudget(BudgetSpec("xc7z020", 2.1105, 0.8, "auto", "io_parallel", "ap_fixed<16,6>"), (1, 28, 28))
    assert budget.prices(units)["fc1"] > budget.prices(units)["fc2"]
    check, _ = prune_to_budget(units, budget, lambda g: units.unit_norm(g))
    sizes = units.sizes()
    assert check.met and sizes["fc2"] >= 10 and 15 <= sizes["fc1"] < 30


def test_a_budget_the_fastest_folding_misses_is_met_by_a_longer_interval():
    """met is what the export's folding under the bound says: a LeNet-5 (9/16/160) within 993 DSPs and 85 k
    LUTs of the ZCU102 at 8.44 us is met at an interval of 1,302 cycles, though the fastest folding (interval
    1,046) takes 11.2 us; its summary reports that design and the fastest beside it."""
    from collections import OrderedDict

    import torch.nn as nn

    model = nn.Sequential(OrderedDict(
        conv1=nn.Conv2d(1, 9, 5), relu1=nn.ReLU(), pool1=nn.MaxPool2d(2), conv2=nn.Conv2d(9, 16, 5),
        relu2=nn.ReLU(), pool2=nn.MaxPool2d(2), flatten=nn.Flatten(), fc1=nn.Linear(256, 160), relu3=nn.ReLU(),
        fc2=nn.Linear(160, 10)))
    spec = BudgetSpec("xczu9eg", 8.442, "0.8,DSP=0.394047619048,LUT=0.311559340339", "auto", "io_stream",
                      "ap_fixed<16,6>")
    check = HardwareBudget(spec, (1, 28, 28)).check(model)
    assert check.met and check.load <= 1.0 and check.latency_s * 1e6 <= 8.442
    summary = check.summary()
    assert summary["budget_met"] and summary["budget_fastest_latency_us"] > 11
    assert summary["budget_latency_us"] <= 8.442
