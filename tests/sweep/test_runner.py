"""run_sweep end to end on tiny specs: results, caching, failures, kill and resume, executors."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from codesign.errors import CodesignError
from codesign.sweep import read_table, run_sweep
from codesign.sweep import models as sweep_models
from tests.device_files import device_file

METRICS = ("latency_s", "interval_s", "energy_j", "dsp", "lut", "util_max", "fits", "params", "nonzeros")


def journal_lines(run_dir: Path) -> list[str]:
    return (run_dir / "results.jsonl").read_text().splitlines()


def test_sim_only_sweep_writes_every_metric_and_never_recomputes(sim_spec, tmp_path):
    events = []
    result = run_sweep(sim_spec, tmp_path / "run", events=lambda kind, payload: events.append((kind, payload)))
    assert (result.total, result.failed, result.computed) == (8, 0, 8)
    rows = read_table(result.paths["csv"])
    assert len(rows) == 8 and all(r["error"] is None for r in rows)
    for column in METRICS + ("density_reached", "flops_dense", "energy_dram_j", "bram_util", "model_key"):
        assert all(r[column] is not None for r in rows), column
    by_density = {r["density"]: r for r in rows if r["reuse_factor"] == 1 and r["precision"] == "8"}
    assert by_density[0.5]["params"] < by_density[1.0]["params"]           # structured pruning shrank it
    assert sum(1 for kind, p in events if kind == "job" and p["kind"] == "model") == 2   # one model per density
    again = run_sweep(sim_spec, tmp_path / "run", resume=True, events=lambda kind, payload: events.append(kind))
    assert again.computed == 0 and "job" not in events[-3:] and len(journal_lines(tmp_path / "run")) == 8
    assert [r["point_id"] for r in again.rows] == [r["point_id"] for r in rows]


def test_sparse_kernel_axis_shows_the_saving_of_unstructured_zeros(sim_spec, tmp_path):
    sim_spec["grid"].update({"method": [{"name": "magnitude", "params": {"structure": "unstructured"}}],
                             "density": [0.1], "reuse_factor": [4], "precision": ["ap_fixed<16,6>"],
                             "strategy": ["Resource"], "sparse_kernel": ["off", "on"]})
    result = run_sweep(sim_spec, tmp_path / "run", report=False)
    rows = {r["sparse_kernel"]: r for r in read_table(result.paths["csv"])}
    assert set(rows) == {"off", "on"} and rows["on"]["model_key"] == rows["off"]["model_key"]
    assert rows["on"]["dsp"] < rows["off"]["dsp"] / 2                      # Resource keeps a slot per zero


def test_a_point_hls_refuses_carries_its_warning_and_stays_off_the_front(sim_spec, tmp_path):
    """LeNet-300-100 at width 0.25: fc1 has 58,800 weights, and the Latency strategy unrolls them all whatever the
    reuse factor, which HLS refuses (codesign.sim.hls_rules.refused). Such points do not fit, their rows say why
    (``warnings``, also in results.csv) and the Pareto front is taken without them; before, they fit, their rows
    carried no warning and they topped the front."""
    sim_spec["grid"] = {"model": ["lenet300_100"], "width": [0.25], "method": ["dense"], "device": ["xc7z020"],
                        "reuse_factor": [64, 784], "precision": ["ap_fixed<6,2>"], "strategy": ["Latency", "Resource"]}
    result = run_sweep(sim_spec, tmp_path / "run", report=False)
    rows = read_table(result.paths["csv"])
    assert len(rows) == 4 and all(r["error"] is None for r in rows)
    for row in rows:
        refused = row["strategy"] == "Latency"
        assert (row["fits"] is False) if refused else (row["refused"] is None), row
        assert ("HLS refuses" in (row["warnings"] or "")) is refused and (row["refused"] == "fc1") is refused
    from codesign.sweep.report import report_front

    front = report_front(rows)
    assert front and all(r["strategy"] == "Resource" and r["fits"] is True for r in front)


def test_existing_sweep_needs_resume_or_force(sim_spec, tmp_path):
    run_sweep(sim_spec, tmp_path / "run", report=False)
    with pytest.raises(CodesignError, match="already holds a sweep; pass --resume"):
        run_sweep(sim_spec, tmp_path / "run")
    forced = run_sweep(sim_spec, tmp_path / "run", force=True, report=False)
    assert forced.computed == 8 and len(journal_lines(tmp_path / "run")) == 8


def test_a_folder_with_a_sweeps_names_but_no_sweep_is_refused(sim_spec, tmp_path):
    """Someone's results.csv and models/ (no spec.yaml, no journal): a sweep wrote over them, even without --force."""
    mine = tmp_path / "mine"
    (mine / "models").mkdir(parents=True)
    (mine / "results.csv").write_text("a,b\n1,2\n")
    for force in (False, True):
        with pytest.raises(CodesignError, match="holds models, results.csv but no sweep"):
            run_sweep(sim_spec, mine, force=force, report=False)
    assert (mine / "results.csv").read_text() == "a,b\n1,2\n"


def test_resume_refuses_a_device_file_changed_since(sim_spec, tmp_path):
    """A device file of the grid edited after the sweep priced points on it: --resume would keep rows priced on
    the old content (utilisation of the old LUT count); refused, naming the file and what changed, and the
    sweep stays as it was."""
    device = device_file(tmp_path / "mine.yaml", lut=20000)
    sim_spec["grid"]["device"] = ["xc7z020", str(device)]
    run_sweep(sim_spec, tmp_path / "run", report=False)
    before = journal_lines(tmp_path / "run")
    device_file(device, lut=200000)
    with pytest.raises(CodesignError, match=r"mine\.yaml.*changed since.*resources\.lut 20000 → 200000"):
        run_sweep(sim_spec, tmp_path / "run", resume=True, report=False)
    assert journal_lines(tmp_path / "run") == before
    device_file(device, lut=20000)                               # restored: resumes, nothing to compute
    assert run_sweep(sim_spec, tmp_path / "run", resume=True, report=False).computed == 0


def test_a_sweep_from_before_device_files_were_recorded_resumes(sim_spec, tmp_path):
    """A spec.yaml without device_files (written before they were recorded) resumes."""
    import yaml

    device = device_file(tmp_path / "mine.yaml", lut=20000)
    sim_spec["grid"]["device"] = ["xc7z020", str(device)]
    first = run_sweep(sim_spec, tmp_path / "run", report=False)
    spec_yaml = tmp_path / "run" / "spec.yaml"
    saved = yaml.safe_load(spec_yaml.read_text())
    saved.pop("device_files")
    spec_yaml.write_text(yaml.safe_dump(saved, sort_keys=False))
    again = run_sweep(sim_spec, tmp_path / "run", resume=True, report=False)
    assert again.computed == 0 and [r["lut_util"] for r in again.rows] == [r["lut_util"] for r in first.rows]


def test_a_device_file_edited_between_two_sweeps_in_one_process_is_read_again(sim_spec, tmp_path):
    """The simulator's per-process caches key a device file by its content, not its path."""
    device = device_file(tmp_path / "mine.yaml", lut=20000)
    sim_spec["grid"]["device"] = [str(device)]
    small = run_sweep(sim_spec, tmp_path / "a", report=False)
    device_file(device, lut=200000)
    large = run_sweep(sim_spec, tmp_path / "b", report=False)
    assert [r["lut_util"] for r in large.rows] == pytest.approx([r["lut_util"] / 10 for r in small.rows])


@pytest.mark.parametrize("where", ["report/notes.md", "models/notes.md", "base/draft"])
def test_force_refuses_a_sweeps_folder_holding_what_the_sweep_did_not_write(sim_spec, tmp_path, where):
    """--force starts the sweep over in its own folders: a file someone put into report/, models/ or base/ is
    refused (named) and kept, as a stray file at the top is."""
    run_sweep(sim_spec, tmp_path / "run")
    added = tmp_path / "run" / where
    added.parent.mkdir(exist_ok=True)
    added.write_text("precious")
    with pytest.raises(CodesignError, match=where.split("/")[1]):
        run_sweep(sim_spec, tmp_path / "run", force=True, report=False)
    assert added.read_text() == "precious" and len(journal_lines(tmp_path / "run")) == 8


def test_a_failing_point_is_recorded_and_the_sweep_goes_on(sim_spec, tmp_path, monkeypatch):
    real = sweep_models._pruned_only

    def flaky(task, out):
        if task.density == 0.5:
            raise RuntimeError("injected failure")
        return real(task, out)

    monkeypatch.setattr(sweep_models, "_pruned_only", flaky)
    result = run_sweep(sim_spec, tmp_path / "run", limit=None)
    assert (result.total, result.failed) == (8, 4)
    failed = [r for r in result.rows if r.get("error")]
    assert {r["density"] for r in failed} == {0.5}
    assert all("RuntimeError: injected failure" in r["error"] for r in failed)
    assert all(r["latency_s"] > 0 for r in result.rows if not r.get("error"))
    assert (tmp_path / "run" / "report" / "index.html").exists()
    monkeypatch.setattr(sweep_models, "_pruned_only", real)
    kept = run_sweep(sim_spec, tmp_path / "run", resume=True, report=False)
    assert kept.failed == 4 and kept.computed == 0                         # a recorded failure is finished
    retried = run_sweep(sim_spec, tmp_path / "run", resume=True, retry_failed=True, report=False)
    assert retried.failed == 0 and retried.computed == 4


def test_limit_runs_the_first_points(sim_spec, tmp_path):
    result = run_sweep(sim_spec, tmp_path / "run", limit=3, report=False)
    assert result.total == 3 and len(result.rows) == 3


def test_finetune_sweep_trains_the_dense_model_once(finetune_spec, tmp_path):
    events = []
    result = run_sweep(finetune_spec, tmp_path / "run", events=lambda kind, payload: events.append((kind, payload)))
    jobs = [p["kind"] for kind, p in events if kind == "job"]
    assert jobs.count("base") == 1 and jobs.count("model") == 3 and result.failed == 0
    rows = {(r["density"], r["reuse_factor"]): r for r in result.rows}
    assert rows[(0.25, 1)]["nonzeros"] < rows[(0.5, 1)]["nonzeros"] < rows[(1.0, 1)]["nonzeros"]
    assert rows[(0.25, 1)]["accuracy"] == rows[(0.25, 16)]["accuracy"]      # hardware axes share the model
    assert all(0 <= r["accuracy"] <= 1 and r["train_seconds"] > 0 for r in result.rows)
    assert len(list((tmp_path / "run" / "base").iterdir())) == 1


def test_killed_sweep_resumes_without_recomputing(finetune_spec, spec_file, tmp_path):
    finetune_spec["grid"]["density"] = [1.0, 0.8, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1]   # 16 points, 8 models
    finetune_spec["overrides"]["data"]["options"]["n_train"] = 2048                # ~0.3 s per model
    path, run_dir = spec_file(finetune_spec), tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "codesign", "sweep", str(path), "--out", str(run_dir),
                             "--no-report"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if (run_dir / "results.jsonl").exists() and len(journal_lines(run_dir)) >= 2:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the sweep finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = journal_lines(run_dir)
    assert 2 <= len(before) < 16
    done_models = {p.parent.name for p in (run_dir / "models").glob("*/result.json")}
    stamps = {m: (run_dir / "models" / m / "result.json").stat().st_mtime_ns for m in done_models}
    events = []
    result = run_sweep(path, run_dir, resume=True, events=lambda kind, payload: events.append((kind, payload)))
    start = next(p for kind, p in events if kind == "start")
    assert start["done"] == len(before) and result.computed == 16 - len(before) and result.failed == 0
    after = journal_lines(run_dir)
    assert after[:len(before)] == before and len(after) == 16               # every point exactly once
    assert all((run_dir / "models" / m / "result.json").stat().st_mtime_ns == stamps[m] for m in done_models)
    assert json.loads(after[0])["point_id"] in {r["point_id"] for r in result.rows}


def _metrics(rows):
    return {r["point_id"]: tuple(r[m] for m in METRICS) for r in rows}


def test_process_pool_gives_the_same_results(sim_spec, tmp_path):
    inline = run_sweep(sim_spec, tmp_path / "one", report=False)
    pooled = run_sweep(sim_spec, tmp_path / "two", workers=2, report=False)
    assert _metrics(pooled.rows) == _metrics(inline.rows)


def test_ray_executor_with_a_local_instance(sim_spec, tmp_path):
    pytest.importorskip("ray", reason="Ray is an optional extra: pip install 'codesign[ray]'")
    inline = run_sweep(sim_spec, tmp_path / "one", report=False)
    on_ray = run_sweep(sim_spec, tmp_path / "ray", executor="ray", workers=2, report=False)
    assert _metrics(on_ray.rows) == _metrics(inline.rows)
    assert json.loads((tmp_path / "ray" / "sweep.json").read_text())["executor"] == "ray"


@pytest.mark.slow
@pytest.mark.csim
def test_csim_adds_fixed_point_accuracy(sim_spec, tmp_path):
    sim_spec.update(recipe="jet_mlp_synthetic", csim={"enabled": True, "samples": 50},
                    overrides={"data.options": {"in_shape": [16], "num_classes": 5, "n_train": 64, "n_test": 100}})
    sim_spec["grid"].update(density=[0.5], reuse_factor=[1], precision=["ap_fixed<16,6>", "ap_fixed<6,2>"])
    result = run_sweep(sim_spec, tmp_path / "run", report=False)
    assert result.failed == 0 and len(result.rows) == 2
    by_precision = {r["precision"]: r for r in result.rows}
    wide, narrow = by_precision["ap_fixed<16,6>"], by_precision["ap_fixed<6,2>"]
    assert wide["csim_samples"] == 50 and wide["csim_agreement"] >= 0.9
    assert narrow["csim_max_abs_error"] > wide["csim_max_abs_error"]
    assert len(list((tmp_path / "run" / "models").glob("*/csim/*.json"))) == 2
