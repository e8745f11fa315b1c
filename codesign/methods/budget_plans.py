"""Ways to prune to a hardware budget, the one that loses least on data taken.

:func:`codesign.methods.budget.prune_to_budget` removes units by saliency per hardware price. Prices win where
the budget is tight (a filter that holds the latency back goes before a cheap neuron), but where the budget has
room for a network pruned by saliency alone (the resources of such a network: BENCHMARKS.md, the resource-matched
runs) they can spend it worse: on LeNet-5 within one ZCU102 design's DSPs and LUTs the priced removal kept
9/16/160 units of conv1/conv2/fc1 where that design's 8/19/258 fit. So, given a ``judge`` (the loss on a fixed
sample of the training data, :mod:`codesign.methods.sample_loss`), a second removal is planned by saliency
alone -- units ranked by their score over their group's mean, all groups together (as unbudgeted global
structured pruning ranks them; no group below its floor), the shortest prefix of that order that meets the
target, then what the design has room for given back -- and of the two, the one whose pruned model has the
lower loss is removed (the priced one on a tie). (Ranked by their share of their group's total instead, as the
priced removal counts saliency, the widest group's units always went first: LeNet-300-100's fc1 fell to 5
neurons at the tightest PYNQ-Z2 budget, 0.841 -> 0.804.)

A method that prunes in rounds moves towards that removal a share at a time (:func:`prune_toward_budget`), and
the widths its previous round planned are judged as a third removal (each group's units of lowest score past
them, :func:`width_removal`): a round replanning from half-way can cut what its predecessor kept (LeNet-5 at the
loosest PYNQ-Z2 budget: the first round planned 7/16/136, the second, from 12/28/261, 7/10/165; kept to the first,
0.9648 -> 0.9709, seed 0).

Only whole removals that each meet the budget are compared, so the choice cannot drift to an allocation that
neither ranking would make (an exchange of units judged move by move by the same loss took conv2 of LeNet-5
down to its floor at one tight budget and lost 7.6 points; BENCHMARKS.md).
"""
from __future__ import annotations

from typing import Callable, Dict, Optional, Sequence, Tuple

Judge = Callable[[object], float]       # model -> loss on the fixed sample (lower is better)


def saliency_order(scores: Dict[str, "object"], floors: Dict[str, int]) -> list:
    """[(group, unit index)] by ascending score over its group's mean (:func:`~codesign.methods.ranking.
    mean_normalised`), all groups together; each group's ``floors`` units of largest saliency are left out."""
    from .ranking import mean_normalised

    rows = []
    for name, s in scores.items():
        keep = max(1, floors.get(name, 1))
        order = s.argsort().tolist()[:max(0, len(s) - keep)]
        values = mean_normalised(s).tolist()
        rows += [(values[i], name, i) for i in order]
    return [(name, i) for _value, name, i in sorted(rows)]


def saliency_removal(units, budget, scores: Dict[str, "object"], target_load: float, at_least: int,
                     floors: Dict[str, int]) -> Optional[Tuple[list, object]]:
    """(the removal by saliency alone that meets ``target_load``, its check), or None when none does."""
    from .budget import give_back, shortest_prefix

    order = saliency_order(scores, floors)
    if len(order) < at_least:
        return None
    p, check = shortest_prefix(units, budget, order, target_load, at_least)
    if check.load > target_load:
        return None
    return give_back(units, budget, order[:p], target_load, at_least, check)


def width_removal(scores: Dict[str, "object"], widths: Dict[str, int]) -> list:
    """[(group, unit index)]: each group's units of lowest score past its ``widths`` (at least one kept)."""
    removal = []
    for name, s in scores.items():
        k = len(s) - min(len(s), max(1, widths.get(name, len(s))))
        removal += [(name, i) for i in s.argsort()[:k].tolist()]
    return removal


def judged_removal(units, budget, removal: Sequence[Tuple[str, int]], check, scores: Dict[str, "object"],
                   target_load: float, at_least: int, floors: Dict[str, int], judge: Judge,
                   widths: Optional[Dict[str, int]] = None) -> Tuple[list, object]:
    """Of (``removal``, ``check``), the removal by saliency alone and, given ``widths``, the removal to those
    widths (:func:`width_removal`; where it meets ``target_load``), the one whose model ``judge`` scores lowest
    (the first on a tie)."""
    from .budget import _without

    candidates = [(list(removal), check, None)]          # (removal, its check, its model where built)
    other = saliency_removal(units, budget, scores, target_load, at_least, floors)
    if other is not None:
        candidates.append((*other, None))
    if widths:
        planned = width_removal(scores, widths)
        model = _without(units, budget, planned).model
        planned_check = budget.check(model)
        if planned_check.load <= target_load and len(planned) >= at_least:
            candidates.append((planned, planned_check, model))
    distinct, seen = [], []
    for candidate in candidates:
        key = sorted(candidate[0])
        if key not in seen:
            seen.append(key)
            distinct.append(candidate)
    if len(distinct) == 1:
        return distinct[0][:2]
    best = min(distinct, key=lambda c: judge(c[2] if c[2] is not None else _without(units, budget, c[0]).model))
    return best[:2]


def share_of_the_way(size: int, final: int, rounds_left: int) -> int:
    """The units a group keeps this round on its way from ``size`` to ``final`` in ``rounds_left`` rounds:
    ``size * (final / size) ** (1 / rounds_left)``, the same fraction of what is left of the way each round,
    ``final`` in the last."""
    if rounds_left <= 1 or size <= 0:
        return final
    return round(size * (final / size) ** (1.0 / rounds_left))


def prune_toward_budget(units, budget, scores_of, *, rounds_left: int, floors: Dict[str, int],
                        judge: Optional[Judge] = None,
                        planned: Optional[Dict[str, int]] = None) -> Tuple[object, int, Dict[str, int]]:
    """One round of a pruning schedule that ends at the budget: the removal that meets the budget now is
    planned on a copy (:func:`~codesign.methods.budget.prune_to_budget`, ``judge``d), and each group loses the
    share of its planned units (those of lowest ``scores_of(group name)`` first) that takes it from ``S`` units
    to ``S * (F / S) ** (1 / rounds_left)``, ``F`` being what the plan leaves it: every round removes the same
    fraction of what is left of the way, and the last (``rounds_left`` 1) removes the whole plan. ``planned``:
    the widths the previous round planned, judged as a third removal (the units of lowest score past them),
    so a round keeps to its predecessor's plan unless a new one loses less. Returns the check of the model as
    pruned, the number of units removed, and the widths of this round's plan.

    Each round thus moves towards the allocation that meets the budget from where the model is, not to an
    intermediate load, whose binding limit can differ from the budget's: on LeNet-5 within one ZCU102 design's
    DSPs and LUTs, a first round to the square root of the dense model's load (latency, of a folding forced to
    very high reuse factors by the utilisation) halved fc1 and left the convolutions whole, and the last round
    then had to cut conv2 below that design's (9/16/160 units of conv1/conv2/fc1 where its 8/19/258 fit)."""
    from .budget import _Tracked, prune_to_budget, twin_engine

    if rounds_left <= 1:
        check, removed = prune_to_budget(units, budget, lambda g: scores_of(g.name), floors=floors, judge=judge,
                                         widths=planned)
        return check, removed, units.sizes()
    twin = _Tracked(twin_engine(units, budget.in_shape))
    prune_to_budget(twin, budget, lambda g: scores_of(g.name), floors=floors, judge=judge, widths=planned)
    removed = 0
    for name, left in twin.left.items():
        size = units.size(name)
        gone = sorted(set(range(size)) - set(left))                    # the plan's removal from this group
        keep = share_of_the_way(size, len(left), rounds_left)
        drop = min(len(gone), size - keep)
        if drop <= 0:
            continue
        scores = scores_of(name)[gone]
        units.remove(name, sorted(gone[i] for i in scores.argsort()[:drop].tolist()))
        removed += drop
    return budget.check(units.model), removed, twin.sizes()
