"""benchmarks/reproduce.py: tables, caching and the BENCHMARKS.md block, with fake results (no training)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCH))

import reproduce  # noqa: E402
import reproduce_plan as plan  # noqa: E402
import reproduce_tables as tables  # noqa: E402
from reproduce_runs import Options  # noqa: E402

DENSE = plan.Experiment("t_dense", "mnist", "lenet300_100", "dense", "lenet300_100_mnist", seeds=(0, 1))
NEST = plan.Experiment("t_nest", "mnist", "lenet300_100", "nest", "lenet300_100_nest_mnist")


def fake_train(acc: float, nonzeros: int, wall: float = 10.0, csim=None) -> dict:
    summary = {"test_acc": acc, "nonzeros": nonzeros, "params": 266_610, "flops_sparse": 2.0 * nonzeros,
               "flops_dense": 532_000.0, "train_flops_sparse": 1e12, "train_flops_dense": 2e12, "wall_seconds": wall}
    return {"summary": summary, "reference": {"params": 266_610, "flops_dense": 532_000.0}, "csim": csim}


def test_multi_seed_row_shows_mean_and_std_and_missing_rows_say_not_run():
    records = {"t_dense_s0": fake_train(0.98, 266_610), "t_dense_s1": fake_train(0.982, 266_610)}
    lines = tables.mnist_table([DENSE, NEST], records)
    dense, nest = lines[2], lines[3]
    assert "| 2 | 1.90 ± 0.14 | 266,610 |" in dense   # errors 2.0 and 1.8 %: mean 1.9, std 0.141; equal params
    assert "1.64%" in dense                          # Han et al.'s reference error in the paper column
    assert "not run" in nest and "70.2×" in nest     # NeST's reported compression still shown


def test_target_cell_and_failed_row():
    records = {"t_nest_s0": fake_train(0.979, 3_741, csim={"accuracy_csim": 0.978, "samples": 1000,
                                                            "top1_agreement": 0.999, "accuracy_pytorch": 0.979})}
    row = tables.mnist_table([NEST], records)[2]
    assert "71.3×/70× ✓" in row and "2.10%/1.60% ✗ (+0.50 pp)" in row and row.count("missed") == 1
    assert "97.80% (PyTorch 97.90%, n=1000, agree 99.9%)" in row
    at_target = tables.mnist_table([NEST], {"t_nest_s0": fake_train(0.984, 3_000)})[2]
    assert "1.60%/1.60% ✓" in at_target                 # 1 - 0.984 is 0.016000000000000014
    failed = tables.mnist_table([NEST], {"t_nest_s0": {"error": "RuntimeError: boom"}})[2]
    assert "failed: RuntimeError: boom" in failed


def test_replace_block_keeps_everything_outside_the_markers():
    doc = "# Benchmarks\n\n## Other\ntext\n"
    once = tables.replace_block(doc, "table v1", "## Reproduce")
    assert once.startswith(doc.rstrip("\n")) and "table v1" in once and once.count(tables.BEGIN) == 1
    edited = once + "\n## Later section\nkept\n"
    twice = tables.replace_block(edited, "table v2", "## Reproduce")
    assert "table v1" not in twice and "table v2" in twice and twice.endswith("## Later section\nkept\n")
    assert twice.count("## Reproduce") == 1


def test_run_all_caches_by_key_and_skips_finished_runs(tmp_path, monkeypatch):
    calls = []

    def fake_execute(exp, seed, opts, run):
        calls.append(run)
        if run == "t_nest_s0" and len(calls) < 4:
            raise RuntimeError("killed")
        return fake_train(0.98, 5_000 if exp.method == "nest" else 266_610)

    monkeypatch.setattr(reproduce, "execute", fake_execute)
    opts = Options(runs_dir=tmp_path / "runs")
    reproduce.run_all([DENSE, NEST], opts, tmp_path, [], float("inf"))
    assert calls == ["t_dense_s0", "t_dense_s1", "t_nest_s0"]
    assert "error" in json.loads((tmp_path / "t_nest_s0.json").read_text())
    reproduce.run_all([DENSE, NEST], opts, tmp_path, [], float("inf"))   # finished runs skipped, failures retried
    assert calls[3:] == ["t_nest_s0"]
    records = reproduce.load_records(tmp_path, reproduce.plan_keys([DENSE, NEST], opts))
    assert sorted(records) == ["t_dense_s0", "t_dense_s1", "t_nest_s0"] and tables.not_run([DENSE, NEST], records) == []
    changed = plan.Experiment(**{**NEST.__dict__, "overrides": {"train.epochs": 3}})
    assert reproduce.load_records(tmp_path, reproduce.plan_keys([changed], opts)) == {}   # other recipe: stale
    reproduce.run_all([DENSE], Options(runs_dir=tmp_path / "runs", fresh=True), tmp_path, ["t_dense_s1"], 0.0)
    assert calls[4:] == []                                                 # budget spent before the first run


@pytest.mark.parametrize("quick", [False, True])
def test_plan_recipes_resolve(quick):
    opts = Options(quick=quick)
    keys = reproduce.plan_keys(plan.experiments(quick), opts)
    assert len(keys) == len(set(keys.values()))            # every run has its own key
    if quick:
        assert all(not k.endswith(("_s1", "_s2")) for k in keys)


def test_cnn_rows_list_each_row_once_with_every_seed_the_plan_runs():
    rows = plan.cnn_rows(False)
    assert [e.name for e in rows] == [e.name for e in plan.CNN] and len({e.name for e in rows}) == len(rows)
    scheduled = {tables.run_id(e, s) for e in plan.experiments(False) if e.table == "cnn" for s in e.seeds}
    assert {tables.run_id(e, s) for e in rows for s in e.seeds} == scheduled


def test_cache_key_ignores_the_recipe_hardware_target():
    from reproduce_runs import resolved

    exp = plan.Experiment("t", "mnist", "lenet5", "dense", "lenet5_mnist")
    moved = plan.Experiment("t", "mnist", "lenet5", "dense", "lenet5_mnist", {"target.reuse_factor": 4})
    assert "target" not in resolved(exp, 0, Options())["recipe"]
    assert reproduce.key_of(resolved(exp, 0, Options())) == reproduce.key_of(resolved(moved, 0, Options()))


def test_npn_rows_are_held_to_ten_times_within_a_third_of_a_point_of_the_dense_error():
    npn = plan.Experiment("t_npn", "mnist", "lenet300_100", "npn sparsify", "lenet300_100_mnist")
    records = {"t_dense_s0": fake_train(0.985, 266_610), "t_dense_s1": fake_train(0.985, 266_610),
               "t_npn_s0": fake_train(0.9825, 25_000)}
    row = tables.mnist_table([DENSE, npn], records)[3]
    assert "NPN **met** 10.7×/10× ✓, 1.75%/1.80% ✓" in row          # dense 1.50% + 0.3 pp
    records["t_npn_s0"] = fake_train(0.981, 30_000)
    assert "NPN missed: 8.9×/10× ✗, 1.90%/1.80% ✗ (+0.10 pp)" in tables.mnist_table([DENSE, npn], records)[3]
    assert "no dense row" in tables.mnist_table([npn], records)[2]


def test_state_of_the_art_line_says_how_far_nest_is():
    records = {"t_nest_s0": fake_train(0.979, 3_809)}
    line = tables.state_of_the_art_line([NEST], records)
    assert "LeNet-300-100: SparseVD 68× at 1.92%, NeST here 70.0× at 2.10% (1.03 of its compression, +0.18 pp" in line
    assert tables.state_of_the_art_line([NEST], {}) == ""


def test_cnn_table_compares_cgap_with_pruning_only_over_the_seeds():
    def rec(acc, params, flops, wall, train=1e12):
        return {"summary": {"test_acc": acc, "params": params, "flops_dense": flops, "wall_seconds": wall,
                            "train_flops_dense": train}}
    exps = [plan.Experiment(f"c_{m}", "cnn", "resnet20", m, "resnet20_fashion_mnist", seeds=(0, 1), csim=False)
            for m in ("dense", "cgap", "magnitude (structured)")]
    records = {"c_dense_s0": rec(0.9, 1000, 100.0, 100.0, 4e12), "c_dense_s1": rec(0.91, 1000, 100.0, 100.0, 4e12),
               "c_cgap_s0": rec(0.898, 250, 50.0, 50.0), "c_cgap_s1": rec(0.892, 250, 50.0, 60.0),
               "c_magnitude (structured)_s0": rec(0.89, 250, 50.0, 80.0, 2e12),
               "c_magnitude (structured)_s1": rec(0.894, 250, 50.0, 80.0, 2e12)}
    cgap_row = tables.cnn_table(exps, records)[3]
    assert "| cgap | 2 | 89.50 ± 0.42% | 250 | 50 | 75.0% | 50.0% | -1.00 pp | 1e+12 | 55 (0.55×) |" in cgap_row
    assert "**met**: acc +0.30 pp ✓, params 250 vs 250 ✓, training FLOPs 0.50× ✓" in cgap_row
    records["c_cgap_s1"] = rec(0.88, 250, 50.0, 60.0, 3e12)
    assert "missed: acc -0.30 pp ✗, params 250 vs 250 ✓, training FLOPs 1.00× ✓" in tables.cnn_table(exps, records)[3]
    assert "not run" in tables.cnn_table(exps, {"c_cgap_s0": records["c_cgap_s0"]})[2]


def test_cached_records_name_paths_relative_to_the_repository():
    root = reproduce.ROOT
    record = {"run_dir": f"{root}/runs/reproduce/x_s0", "n": 3,
              "csim": {"command": f"codesign export --out {root}/runs/reproduce/x_s0/export"},
              "list": [f"{root}/a", "elsewhere/b"]}
    assert reproduce.repo_relative(record) == {
        "run_dir": "runs/reproduce/x_s0", "n": 3,
        "csim": {"command": "codesign export --out runs/reproduce/x_s0/export"}, "list": ["a", "elsewhere/b"]}


def test_a_distilled_npn_row_is_bounded_by_the_dense_row_trained_the_same_way():
    taught = plan.Experiment("t_dkd", "mnist", "lenet300_100", "dense (shift, distilled)", "lenet300_100_mnist")
    npn = plan.Experiment("t_npn", "mnist", "lenet300_100", "npn sparsify (shift, distilled)", "lenet300_100_mnist",
                          dense_row="t_dkd")
    records = {"t_dense_s0": fake_train(0.985, 266_610), "t_dense_s1": fake_train(0.985, 266_610),
               "t_dkd_s0": fake_train(0.988, 266_610), "t_npn_s0": fake_train(0.9825, 25_000)}
    table = tables.mnist_table([DENSE, taught, npn], records)
    assert table[3].endswith("| – |")                                 # a dense row has no target
    assert "NPN missed: 10.7×/10× ✓, 1.75%/1.50% ✗ (+0.25 pp)" in table[4]   # 1.20% + 0.3 pp, not 1.50% + 0.3


def test_a_teacher_runs_before_its_first_pupil_once_and_is_named_by_content():
    from codesign.config import load_recipe
    from reproduce_runs import Options, overrides_for, resolved

    todo = plan.with_teachers([(plan.by_name("l300_nest_kd"), 1), (plan.by_name("l300_dense_kd"), 0),
                               (plan.by_name(plan.TEACHER), 0)])
    assert [(e.name, s) for e, s in todo] == [(plan.TEACHER, 0), ("l300_nest_kd", 1), ("l300_dense_kd", 0)]
    a, b = Options(runs_dir=Path("x")), Options(runs_dir=Path("y"))
    exp = plan.by_name("l300_nest_kd")
    assert overrides_for(exp, 2, a)["train.distill.teacher"] == str(Path("x") / f"{plan.TEACHER}_s0")
    for row in ("l300_nest_kd", "l300_dense_kd"):          # the recipe's or the row's distill settings stay
        distill = load_recipe(plan.by_name(row).recipe, overrides_for(plan.by_name(row), 0, a)).train.distill
        assert (distill.teacher, distill.temperature, distill.weight) == (str(Path("x") / "l5_teacher_s0"), 4.0, 0.9)
    assert reproduce.key_of(resolved(exp, 2, a)) == reproduce.key_of(resolved(exp, 2, b))   # not by path
    assert plan.TEACHER not in [e.name for e in plan.experiments(False) if 1 in e.seeds]  # seed 0 only
