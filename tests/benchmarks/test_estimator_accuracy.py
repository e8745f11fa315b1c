"""benchmarks/estimator_accuracy.py: the manifest, the rebuilt designs and the statistics (hls4ml's shipped
baselines only; wa-hls4ml's CSVs are not in the repository)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCH))

import estimator_accuracy as acc  # noqa: E402


def test_manifest_splits_are_disjoint_and_every_report_is_shipped():
    manifest = yaml.safe_load(acc.MANIFEST.read_text())
    ids = [d["id"] for d in manifest["designs"]]
    assert len(ids) == len(set(ids))
    assert {d["split"] for d in manifest["designs"]} == {"fit", "eval"}
    assert all((acc.BASELINES / d["report"]).exists() for d in manifest["designs"])
    families = {f["id"]: f["split"] for f in manifest["families"]}
    assert families == {"wa-hls4ml/2layer": "fit", "wa-hls4ml/3layer": "eval"}    # 3-layer is never fitted on


def test_designs_rebuild_with_their_reported_shapes():
    designs = {d.id: d for d in acc.baseline_designs(yaml.safe_load(acc.MANIFEST.read_text()))}
    conv = designs["conv2d-resource-parallel/vitis2024.1"].network.layers[0]
    assert conv.out_shape == (32, 7, 7) and conv.weights == 32 * 3 * 16 and conv.bias == 0
    pool = designs["maxpool2d-same/vitis2024.1"].network.layers[0]
    assert pool.in_shape == (3, 18, 15) and pool.out_shape == (3, 9, 8)
    assert designs["depthwise1d-stream/vitis2024.1"].network.layers[0].out_shape == (3, 1, 30)


def test_wa_hls4ml_rows_become_dense_chains(tmp_path):
    header = "model_string,prec,rf,strategy,BestLatency_hls,WorstLatency_hls,BRAM_18K_hls,DSP_hls,FF_hls,LUT_hls\n"
    (tmp_path / "concatenated_json_to_csv.sample.csv").write_text(header + "16-8-4,6,64,resource,1,2,1.5,0,10,20\n")
    manifest = yaml.safe_load(acc.MANIFEST.read_text())
    manifest["families"] = manifest["families"][:1]
    (d,) = acc.wa_designs(manifest, tmp_path, None)
    assert [l.n_in for l in d.network.layers] == [16, 8] and d.settings["reuse_factor"] == 64
    assert d.reported["bram"] == 3.0          # Vivado's Block RAM tiles (RAMB36) -> BRAM18
    assert d.settings["precision"] == "ap_fixed<6,1>/ap_fixed<16,6>" and d.split == "fit"


def test_percentage_error_and_table(capsys):
    assert acc.ape(3.0, 0.0) == 3.0 and acc.ape(90.0, 100.0) == 0.1
    designs = acc.baseline_designs(yaml.safe_load(acc.MANIFEST.read_text()))[:4]
    acc.run_estimator(designs)
    table = acc.print_table("t", designs, with_rule4ml=False)
    assert set(table) >= {"latency", "dsp", "lut", "ff", "bram", "fits_agree"}
    assert "median" in table["dsp"] and "t: 4 designs" in capsys.readouterr().out


@pytest.mark.parametrize("key, measured", [("rn07", ("27.33 ms", "44.19 mJ")), ("rn07_arty", ("33.18 ms", "73.17 mJ")),
                                           ("rn08", ("7.64 ms", "12.27 mJ"))])
def test_board_check_reports_each_run_against_its_measurements(capsys, key, measured):
    run = acc.board_runs()[key]
    out = acc.board_check(*run)
    text = capsys.readouterr().out
    assert run[0] in text and all(f"measured {m}" in text for m in measured)
    assert out["fits"] and out["latency_s"] > 0 and out["energy_at_estimated_latency_j"] > out["energy_j"] > 0


def test_ad08_is_rebuilt_as_published_and_its_verdict_printed(capsys):
    net = acc.ad08()
    assert [l.n_out for l in net.layers if l.op == "dense"] == [72, 72, 8, 72, 72, 64]
    out = acc.board_verdicts()
    assert "AD08" in capsys.readouterr().out and out["dsp"] > 0 and isinstance(out["fits"], bool)


def test_tutorial7a_is_rebuilt_as_published_and_its_pipeline_style_flagged(capsys):
    net = acc.tutorial7a()
    dense = [l for l in net.layers if l.op == "dense"]
    assert [l.n_out for l in dense] == [64, 32, 32, 5] and all(4 * l.nonzero_weights == l.weights for l in dense)
    out = acc.tutorial_check()
    assert "interval 15" in capsys.readouterr().out
    configured, unrolled = out["estimates"].values()
    assert configured["ii"] == 64 and any("one pipeline" in w for w in configured["warnings"])
    assert unrolled["ii"] == 1 and not unrolled["warnings"] and unrolled["lut"] > configured["lut"]
