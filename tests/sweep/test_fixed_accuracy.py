"""Sweeps rank hardware points by the accuracy the hardware would have: the emulated fixed-point
accuracy at each point's precision (or C simulation), not the float accuracy."""
from __future__ import annotations

from codesign.plots import series_styles
from codesign.sweep import front_rows, read_table, run_sweep
from codesign.sweep.report import accuracy_column, main_objectives, point_label, varying_axes


def _row(name, precision, latency, float_acc, fixed_acc, **extra):
    return {"point_id": name, "precision": precision, "reuse_factor": 1, "device": "xc7z020", "latency_s": latency,
            "accuracy": float_acc, "fixed_accuracy": fixed_acc, "fits": True, **extra}


def test_front_ranks_by_fixed_point_accuracy_not_float():
    rows = [_row("narrow", "ap_fixed<8,3>", 1e-6, 0.99, 0.10), _row("wide", "ap_fixed<16,6>", 2e-6, 0.98, 0.98)]
    by_float = front_rows(rows, {"latency_s": "min", "accuracy": "max"})
    assert [r["point_id"] for r in by_float] == ["narrow"]            # the issue: a chance-level point wins
    objectives = main_objectives(rows)
    assert objectives == {"latency_s": "min", "fixed_accuracy": "max"}
    front = front_rows(rows, objectives)
    assert [r["point_id"] for r in front] == ["narrow", "wide"]        # narrow is faster: still on it
    rows[0]["latency_s"] = 3e-6                                        # slower and wrong: off the front
    assert [r["point_id"] for r in front_rows(rows, main_objectives(rows))] == ["wide"]


def test_csim_is_preferred_only_at_each_points_own_precision():
    at_point = [_row("a", "ap_fixed<8,3>", 1e-6, 0.99, 0.10, csim_accuracy=0.11, csim_precision="ap_fixed<8,3>")]
    assert accuracy_column(at_point) == "csim_accuracy"
    one_precision = [_row("a", "ap_fixed<8,3>", 1e-6, 0.99, 0.10, csim_accuracy=0.99, csim_precision="auto")]
    assert accuracy_column(one_precision) == "fixed_accuracy"
    assert accuracy_column([{"accuracy": 0.9}]) == "accuracy" and accuracy_column([{"latency_s": 1}]) is None


def test_a_float_point_gets_a_note_not_an_error_about_precision(tmp_path):
    """Float arithmetic has nothing to emulate: the row says so (it is not a --precision mistake)."""
    from codesign.sweep.evaluate import run_emulate
    from codesign.sweep.plan import EmulateTask

    note = run_emulate(EmulateTask("k", "m", "float", 10, str(tmp_path), None, None), str(tmp_path / "absent.pt"))
    assert set(note) == {"fixed_error"} and "float arithmetic" in note["fixed_error"]
    assert "--precision" not in note["fixed_error"]


def test_front_points_are_labelled_by_the_axes_that_vary():
    rows = [_row("a", "ap_fixed<8,3>", 1e-6, 0.9, 0.9), _row("b", "ap_fixed<16,6>", 2e-6, 0.9, 0.9, reuse_factor=4)]
    axes = varying_axes(rows)
    assert axes == ["reuse_factor", "precision"]
    assert point_label(rows[1], axes) == "RF4 ap_fixed<16,6>"


def test_series_styles_never_repeat():
    for n in (3, 10, 14, 25):
        styles = series_styles(n)
        assert len({(tuple(c), m, d) for c, m, d in styles}) == n


def test_sweep_rows_carry_fixed_accuracy_once_per_precision(sim_spec, tmp_path):
    sim_spec.update(recipe="jet_mlp_synthetic",
                    overrides={"data.options": {"in_shape": [16], "num_classes": 5, "n_train": 64, "n_test": 200}})
    sim_spec["grid"].update(density=[1.0], precision=["fixed<16,6,RND_CONV,SAT>", "ap_fixed<4,1>"])
    result = run_sweep(sim_spec, tmp_path / "run")
    rows = read_table(result.paths["csv"])
    assert result.failed == 0 and len(rows) == 4
    by = {(r["precision"], r["reuse_factor"]): r for r in rows}
    wide, narrow = by[("fixed<16,6,RND_CONV,SAT>", 1)], by[("ap_fixed<4,1>", 1)]
    assert wide["fixed_samples"] == 200 and wide["fixed_float_accuracy"] == wide["accuracy"]
    assert narrow["fixed_agreement"] < wide["fixed_agreement"]
    assert by[("ap_fixed<4,1>", 4)]["fixed_accuracy"] == narrow["fixed_accuracy"]       # hardware axes share it
    assert len(list((tmp_path / "run" / "models").glob("*/emulate/*.json"))) == 2
    page = (tmp_path / "run" / "report" / "index.html").read_text()
    assert "highest fixed-point test accuracy" in page and (tmp_path / "run" / "report" / "pareto_dsp_latency.png").exists()


def test_emulation_is_auto_on_with_a_recipe_and_off_without(sim_spec, tmp_path):
    from codesign.sweep.plan import make_plan
    from codesign.sweep.spec import load_spec

    assert not make_plan(load_spec(sim_spec), tmp_path).emulations          # no recipe: no labels to rank by
    forced = load_spec({**sim_spec, "emulate": {"enabled": True}})
    assert len(make_plan(forced, tmp_path).emulations) == 2 * 2              # 2 models x 2 precisions
    with_recipe = load_spec({**sim_spec, "recipe": "jet_mlp_synthetic"})
    assert make_plan(with_recipe, tmp_path).emulations
