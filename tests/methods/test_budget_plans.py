"""Pruning to a budget: the priced removal or the one by saliency alone, judged by a loss
(codesign.methods.budget_plans)."""
from __future__ import annotations

import torch

from codesign.methods.budget import (BudgetSpec, HardwareBudget, _Tracked, _without, keep_floors, prune_to_budget,
                                    twin_engine)
from codesign.methods.budget_plans import (judged_removal, prune_toward_budget, saliency_order, saliency_removal,
                                          share_of_the_way, width_removal)
from codesign.units.engine import UnitEngine
from codesign.zoo import create_model

JET = (16,)


def _stepped():
    """The width-2 jet MLP (fc1 128, fc2 64, fc3 64) under a 2 us Latency budget on the xc7z020: halving fc1
    meets it, and so do 128/32/48 (tests/methods/test_budget.py, the stepped budget)."""
    torch.manual_seed(0)
    units = UnitEngine(create_model("jet_mlp", 2.0, JET, 5), JET)
    budget = HardwareBudget(BudgetSpec("xc7z020", max_latency_us=2.0, strategy="Latency"), JET)
    return units, budget, {g.name: units.unit_norm(g) for g in units.groups()}


def test_the_saliency_order_ranks_scores_over_their_groups_mean_and_keeps_the_floors():
    """Over the group's mean (a: 2.375, b: 5): a1 0.42, b0 0.6, a3 0.63 (a0 and a2 are a's floor); by shares
    of the group's total a's units would all go first (0.11, 0.16 against 0.3)."""
    scores = {"a": torch.tensor([4.0, 1.0, 3.0, 1.5]), "b": torch.tensor([3.0, 7.0])}
    assert saliency_order(scores, {"a": 2, "b": 1}) == [("a", 1), ("b", 0), ("a", 3)]


def test_the_removal_by_saliency_alone_meets_the_budget():
    units, budget, scores = _stepped()
    removal, check = saliency_removal(units, budget, scores, 1.0, 0, keep_floors(units.sizes()))
    assert check.met and check.load == budget.check(_without(units, budget, removal).model).load
    sizes = _without(units, budget, removal).sizes()
    assert all(sizes[name] >= floor for name, floor in keep_floors(units.sizes()).items())


def test_the_removal_whose_model_loses_less_is_taken():
    """A priced removal of 32 fc2 and 16 fc3 units against the saliency removal (which keeps more of fc2): a
    loss that prefers a wide fc2 takes the latter, one that prefers a wide fc1 (or cannot tell) keeps the priced
    one."""
    units, budget, scores = _stepped()
    priced = [("fc2", i) for i in range(32)] + [("fc3", i) for i in range(16)]
    check = budget.check(_without(units, budget, priced).model)
    assert check.met
    floors = keep_floors(units.sizes())

    def judged(judge):
        return judged_removal(units, budget, priced, check, scores, 1.0, 0, floors, judge)[0]

    taken = judged(lambda m: -float(m.fc2.out_features))
    assert taken != priced and _without(units, budget, taken).sizes()["fc2"] > 32
    assert judged(lambda m: -float(m.fc1.out_features)) == priced
    assert judged(lambda m: 0.0) == priced


def test_each_round_goes_the_same_fraction_of_what_is_left_of_the_way():
    assert share_of_the_way(100, 25, 2) == 50 and share_of_the_way(50, 25, 1) == 25
    assert share_of_the_way(64, 8, 3) == 32 and share_of_the_way(32, 8, 2) == 16
    assert share_of_the_way(10, 10, 3) == 10 and share_of_the_way(0, 0, 2) == 0


def test_a_width_removal_takes_each_groups_lowest_scores_past_its_width():
    scores = {"a": torch.tensor([4.0, 1.0, 3.0, 1.5]), "b": torch.tensor([3.0, 7.0])}
    assert sorted(width_removal(scores, {"a": 2, "b": 0})) == [("a", 1), ("a", 3), ("b", 0)]
    assert width_removal(scores, {}) == []


def test_the_widths_of_a_previous_plan_are_judged_with_the_other_removals():
    """Given widths that meet the budget (64/64/64 here, where the priced removal leaves 128/32/48 and the one by
    saliency alone 78/51/58), the removal to them is taken where it loses least, and ignored where they miss
    the budget (128/64/64)."""
    units, budget, scores = _stepped()
    priced = [("fc2", i) for i in range(32)] + [("fc3", i) for i in range(16)]
    check = budget.check(_without(units, budget, priced).model)
    floors = keep_floors(units.sizes())

    def judged(widths, judge):
        return judged_removal(units, budget, priced, check, scores, 1.0, 0, floors, judge, widths=widths)[0]

    wide_late = lambda m: -float(m.fc2.out_features) - float(m.fc3.out_features)   # noqa: E731
    assert _without(units, budget, judged(None, wide_late)).sizes() == {"fc1": 78, "fc2": 51, "fc3": 58}
    taken = judged({"fc1": 64, "fc2": 64, "fc3": 64}, wide_late)
    assert _without(units, budget, taken).sizes() == {"fc1": 64, "fc2": 64, "fc3": 64}
    assert judged({"fc1": 128, "fc2": 64, "fc3": 64}, wide_late) == judged(None, wide_late)


def test_a_round_of_the_schedule_moves_each_group_a_share_of_the_way_to_the_removal_that_meets_the_budget():
    """With 2 rounds left, each group goes from S to round(S * sqrt(F / S)) units, F being what the removal that
    meets the budget now leaves it, losing its planned units of lowest score; the last round meets the budget."""
    units, budget, scores = _stepped()
    floors = keep_floors(units.sizes())
    plan = _Tracked(twin_engine(units, budget.in_shape))
    prune_to_budget(plan, budget, lambda g: scores[g.name], floors=floors)
    before = units.sizes()
    final = {name: len(left) for name, left in plan.left.items()}
    assert final != before                                  # the plan prunes more than one group below its size
    score_of = {name: units.unit_norm(name) for name in before}
    units = _Tracked(units)                                 # to see which units are left
    check, removed, widths = prune_toward_budget(units, budget, units.unit_norm, rounds_left=2, floors=floors)
    after = units.sizes()
    assert widths == final
    assert after == {name: round(before[name] * (final[name] / before[name]) ** 0.5) for name in before}
    assert removed == sum(before.values()) - sum(after.values()) and not check.met
    for name in before:                                     # each group's planned units of lowest score went
        planned = sorted(set(range(before[name])) - set(plan.left[name]), key=lambda i: float(score_of[name][i]))
        assert set(range(before[name])) - set(units.left[name]) == set(planned[:before[name] - after[name]])
    check, _removed, widths = prune_toward_budget(units, budget, units.unit_norm, rounds_left=1, floors=floors)
    assert check.met and widths == units.sizes()


def test_a_killed_run_that_prunes_to_a_budget_resumes_bit_identically(crash_resume, tmp_path):
    """Killed between magnitude's two rounds: the resumed run judges its second removal on the same sample
    (drawn from the run's seed and epoch) and ends with the same weights."""
    from codesign.config import load_recipe

    cfg = load_recipe("jet_mlp_synthetic", {
        "method.name": "magnitude", "method.params": {"structure": "structured", "iterations": 2},
        "train.epochs": 4, "train.batch_size": 64,
        "data.options": {"in_shape": [16], "num_classes": 5, "n_train": 256, "n_test": 128},
        "target.fit": True, "target.device": "xc7z020", "target.max_latency_us": 0.3})
    reference, resumed = crash_resume(cfg, tmp_path, epoch=1, step=1)
    assert resumed.summary["budget_met"] and resumed.summary["params"] == reference.summary["params"]
