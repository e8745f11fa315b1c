"""A sweep point's hardware estimate is `codesign simulate` of its model at its precision."""
from __future__ import annotations

import json

import pytest

from codesign.sweep import read_table, run_sweep

TOTALS = ("dsp", "lut", "ff", "bram", "latency_cycles", "interval_cycles", "nonzero_weights")


def test_sweep_rows_are_simulate_of_the_model_at_their_precision(sim_spec, tmp_path, cli):
    """Each dataflow row at a fixed-point precision prices the weights the export writes at that precision
    (cast to its types: at ap_fixed<4,1> most of jet_mlp's weights round to zero; a bare width takes its
    integer bits per layer from the export's calibration), as `codesign simulate --checkpoint` of the
    row's model file does; float keeps the float weights, as simulate does. Before, every precision
    was priced on the float weights' nonzeros and shift-and-add counts."""
    sim_spec["train"]["weights"] = "auto"
    sim_spec["grid"].update({"method": ["dense"], "device": ["xcu250"], "reuse_factor": [1, 4],
                             "precision": ["ap_fixed<4,1>", "8", "ap_fixed<16,6>", "float"],
                             "strategy": ["Latency"], "io_type": ["io_parallel"], "sparse_kernel": ["off"]})
    del sim_spec["grid"]["density"]
    result = run_sweep(sim_spec, tmp_path / "run", report=False)
    rows = read_table(result.paths["csv"])
    assert len(rows) == 8 and all(r["error"] is None for r in rows)
    model_file = tmp_path / "run" / "models" / rows[0]["model_key"] / "model.pt"
    for row in rows:
        out = tmp_path / f"sim-{row['point_id']}"
        r = cli("simulate", "--checkpoint", model_file, "--device", "xcu250", "--precision", row["precision"],
                "--reuse-factor", row["reuse_factor"], "--strategy", "Latency", "--io-type", "io_parallel",
                "--sparse-kernel", "off", "--no-plot", "--out", out)
        assert r.code == 0, r.err
        totals = json.loads((out / "report.json").read_text())["totals"]
        for key in TOTALS:
            assert row[key] == pytest.approx(totals[key], rel=1e-9), (row["precision"], row["reuse_factor"], key)
    at = {r["precision"]: r for r in rows if r["reuse_factor"] == 1}
    assert at["ap_fixed<4,1>"]["nonzero_weights"] < at["float"]["nonzero_weights"]    # rounded to zero
    assert at["ap_fixed<4,1>"]["lut"] < at["ap_fixed<16,6>"]["lut"]


def test_a_precision_the_export_cannot_plan_fails_its_points_only(sim_spec, tmp_path, monkeypatch):
    from codesign.errors import ExportError
    from codesign.sweep import evaluate

    real = evaluate.planned_network

    def planned(model_file, precision, data_dir=None):
        if precision == "8":
            raise ExportError("injected: no types for this model")
        return real(model_file, precision, data_dir)

    monkeypatch.setattr(evaluate, "planned_network", planned)
    result = run_sweep(sim_spec, tmp_path / "run", report=False)
    failed = [r for r in result.rows if r.get("error")]
    assert {r["precision"] for r in failed} == {"8"} and len(failed) == 4
    assert all("precision plan at 8 failed: injected" in r["error"] for r in failed)
    assert all(r["lut"] > 0 for r in result.rows if r["precision"] != "8")
