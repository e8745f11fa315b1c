"""`codesign sweep` and `codesign report`: exit codes, one-line errors, the rebuilt report."""
from __future__ import annotations

from codesign.sweep import front_rows, read_table


def test_sweep_then_report_rebuilds_plots_and_html(cli, sim_spec, spec_file, tmp_path):
    sim_spec.update(recipe="jet_mlp_synthetic",                      # mode none evaluates accuracy on its data
                    overrides={"data.options": {"in_shape": [16], "num_classes": 5, "n_train": 64, "n_test": 200}})
    run_dir = tmp_path / "run"
    result = cli("sweep", spec_file(sim_spec), "--out", run_dir)
    assert result.code == 0, result.err
    assert "8 of 8 points finished (8 computed now)" in result.out and "Pareto front" in result.out
    report_dir = run_dir / "report"
    for path in report_dir.iterdir():
        path.unlink()
    rebuilt = cli("report", run_dir)
    assert rebuilt.code == 0, rebuilt.err
    figures = {p.name for p in report_dir.glob("*.png")}
    assert {"pareto_fixed_latency.png", "pareto_fixed_energy.png", "pareto_fixed_util.png",    # fixed-point accuracy
            "pareto_dsp_latency.png", "pareto_lut_latency.png", "density_latency.png", "density_fixed.png"} <= figures
    page = (report_dir / "index.html").read_text()
    assert page.count("data:image/png;base64,") == len(figures)
    rows = read_table(run_dir / "results.csv")
    front = front_rows([r for r in rows if r["fits"]], {"latency_s": "min", "fixed_accuracy": "max"})
    assert f"Pareto front ({len(front)} points)" in page
    front_section, all_section = page.split("<h2>")[1:]
    assert front_section.count("<tr") == 1 + len(front) and all_section.count("<tr") == 1 + len(rows)


def test_rerun_without_resume_is_an_error_and_resume_computes_nothing(cli, sim_spec, spec_file, tmp_path):
    path, run_dir = spec_file(sim_spec), tmp_path / "run"
    assert cli("sweep", path, "--out", run_dir, "--no-report").code == 0
    again = cli("sweep", path, "--out", run_dir)
    assert again.code == 2 and again.err.startswith("error: ") and "--resume" in again.err   # (was '\nerror: ...')
    assert len(again.err.strip().splitlines()) == 1
    resumed = cli("sweep", path, "--out", run_dir, "--resume", "--no-report")
    assert resumed.code == 0 and "(0 computed now)" in resumed.out
    both = cli("sweep", path, "--out", run_dir, "--resume", "--force")       # --force deleted the points, silently
    assert both.code == 2 and "give one of them" in both.err and len(both.err.strip().splitlines()) == 1
    retry = cli("sweep", path, "--out", tmp_path / "new", "--retry-failed")  # ignored, silently
    assert retry.code == 2 and "add --resume" in retry.err and not (tmp_path / "new").exists()
    assert (run_dir / "results.csv").exists()
    (run_dir / "notes.txt").write_text("mine")      # --force wrote the sweep beside them (a training run, too)
    foreign = cli("sweep", path, "--out", run_dir, "--force")
    assert foreign.code == 2 and "notes.txt" in foreign.err and (run_dir / "notes.txt").read_text() == "mine"


def test_bad_spec_is_one_line_and_exit_2(cli, sim_spec, spec_file):
    sim_spec["grid"]["device"] = ["zcu1O2"]
    result = cli("sweep", spec_file(sim_spec))
    assert result.code == 2
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and "grid.device: unknown device 'zcu1O2'" in lines[0]
    malformed = spec_file({"name": "x"}, "bad.yaml")
    malformed.write_text("name: [unclosed\n")
    result = cli("sweep", malformed)
    assert result.code == 2 and "malformed YAML" in result.err


def test_a_density_axis_without_a_pruning_method_is_exit_2_before_any_work(cli, sim_spec, spec_file, tmp_path):
    del sim_spec["grid"]["method"]
    result = cli("sweep", spec_file(sim_spec), "--out", tmp_path / "run")
    assert result.code == 2 and len(result.err.strip().splitlines()) == 1
    assert "grid.density needs a method that prunes" in result.err and "set grid.method" in result.err
    assert not (tmp_path / "run").exists()


def test_a_users_model_takes_the_recipes_input_shape_and_a_sweep_that_fails_everywhere_says_why(cli, spec_file,
                                                                                                    tmp_path):
    (tmp_path / "um.py").write_text("import torch.nn as nn\n\ndef mlp16(hidden=8):\n"
                                    "    return nn.Sequential(nn.Linear(16, hidden), nn.ReLU(), nn.Linear(hidden, 5))\n")
    spec = {"name": "mine", "recipe": "lenet300_100_mnist", "train": {"mode": "none"},
            "overrides": {"data.name": "synthetic",
                          "data.options": {"in_shape": [16], "num_classes": 5, "n_train": 32, "n_test": 32}},
            "grid": {"model": [f"{tmp_path / 'um.py'}:mlp16"], "device": ["xc7z020"], "reuse_factor": [1, 4]}}
    ok = cli("sweep", spec_file(spec), "--out", tmp_path / "a")
    assert ok.code == 0 and "failed" not in ok.err, ok.err            # 16 features, not MNIST's 1x28x28
    spec["overrides"]["data.options"]["in_shape"] = [3]
    bad = cli("sweep", spec_file(spec, "bad.yaml"), "--out", tmp_path / "b")
    assert bad.code == 2 and "every point of sweep mine failed" in bad.err and "Traceback" not in bad.err
    # the cause may be in the spec, which --resume refuses to change: the advice says how to start afresh
    assert "--resume --retry-failed" in bad.err and "a changed spec needs --force or another --out" in bad.err


def test_unknown_spec_name_and_missing_results(cli, tmp_path):
    result = cli("sweep", "lenet5_densty")
    assert result.code == 2 and "did you mean: lenet5_density" in result.err
    result = cli("report", tmp_path)
    assert result.code == 2 and "holds no results.csv" in result.err
    (tmp_path / "train").mkdir()                    # a training run: not told to sweep into it
    result = cli("report", tmp_path)
    assert result.code == 2 and "(it holds a training run)" in result.err and "reads a sweep's folder" in result.err


def test_bad_executor_and_workers(cli, sim_spec, spec_file, tmp_path):
    result = cli("sweep", spec_file(sim_spec), "--out", tmp_path / "r", "--executor", "slurm")
    assert result.code == 2 and "unknown executor 'slurm'" in result.err
    result = cli("sweep", spec_file(sim_spec), "--out", tmp_path / "r2", "--workers", "0")
    assert result.code == 2


def test_tiled_designs_appear_once_in_the_results_the_report_and_the_front_table(cli, sim_spec, spec_file, tmp_path):
    sim_spec["grid"].update(template=["dataflow", "tiled"], strategy=["Latency", "Resource"])
    run_dir = tmp_path / "run"
    result = cli("sweep", spec_file(sim_spec), "--out", run_dir)
    assert result.code == 0, result.err
    rows = read_table(run_dir / "results.csv")
    tiled = [r for r in rows if r["template"] == "tiled"]
    assert len(rows) == 2 * 2 * (2 * 2 + 1) and len(tiled) == 2 * 2        # density x precision x (RF x strategy + 1)
    assert all(r["reuse_factor"] is None and r["strategy"] is None for r in tiled)
    axes = ("density", "template", "reuse_factor", "precision", "strategy")
    assert len({tuple(r[a] for a in axes) for r in rows}) == len(rows)
    table = [line for line in result.out.splitlines() if line.startswith("│")]
    assert table and len(set(table)) == len(table)                         # no row of the front table repeated
    assert (run_dir / "report" / "density_latency.png").exists()
