"""`codesign export` from the command line: targets, reports, and one-line errors."""
from __future__ import annotations

import json
import re

import pytest
import torch

from codesign.checkpoint import save_model
from codesign.zoo import create_model
from tests.device_files import device_file


def one_line_error(result):
    lines = [line for line in result.err.strip().splitlines()
             if line.strip() and not re.search(r": done in [0-9.]+ s \(total ", line)]   # progress of steps done
    return result.code == 2 and len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in result.err


def test_onnx_target_out_of_the_box(cli, tmp_path):
    r = cli("export", "--model", "lenet5", "--target", "onnx", "--out", tmp_path / "o")
    assert r.code == 0, r.err
    report = json.loads((tmp_path / "o" / "export.json").read_text())
    assert report["weights"]["kind"] == "embedded default" and "embedded default" in r.out
    assert report["onnx"]["opset"] >= 17 and report["onnx"]["max_abs_diff_vs_pytorch"] < 1e-4
    assert (tmp_path / "o" / "model.onnx").exists() and not (tmp_path / "o" / "hls").exists()


def test_hls_target_writes_a_project_for_vendor_synthesis(cli, tmp_path):
    r = cli("export", "--model", "resnet20", "--width", "0.125", "--target", "hls", "--backend", "Vivado",
            "--reuse-factor", "4", "--part", "xc7z020clg400-1", "--clock-period", "10", "--out", tmp_path / "o")
    assert r.code == 0, r.err
    report = json.loads((tmp_path / "o" / "export.json").read_text())
    settings = report["hls"]["settings"]
    assert settings == {"backend": "Vivado", "io_type": "io_stream", "part": "xc7z020clg400-1", "clock_period": 10.0,
                        "reuse_factor": 4, "strategy": "Latency", "project_name": "myproject", "sparse_kernel": "auto",
                        "layers": {}, "max_util": 0.8, "pipeline_style": "auto", "max_latency_us": None,
                        "device": None, "fifo_depths": {}}
    assert report["weights"]["kind"] == "random init" and "random init" in r.out
    assert (tmp_path / "o" / "hls" / "build_prj.tcl").exists()
    assert "per-layer types in export.json" in r.out and len(report["precision"]["layers"]) > 40


def test_hls_target_writes_the_auto_folding_into_the_project(cli, tmp_path):
    """Default --reuse-factor auto: every Conv/Dense layer's ReuseFactor and Strategy in hls4ml's config
    (and so in the C++ parameters), and the io_stream FIFO depths of the schedule in the pragmas."""
    import re

    import yaml

    r = cli("export", "--model", "resnet20", "--width", "0.125", "--target", "hls", "--part", "xc7z020clg400-1",
            "--out", tmp_path / "o")
    assert r.code == 0, r.err
    report = json.loads((tmp_path / "o" / "export.json").read_text())
    folding = report["hls"]["folding"]
    assert report["hls"]["settings"]["reuse_factor"] == "auto" and folding["device"] == "xc7z020"
    assert "reuse factors (auto" in r.out and "done in" in r.err
    config = yaml.safe_load((tmp_path / "o" / "hls" / "hls4ml_config.yml").read_text())["HLSConfig"]["LayerName"]
    assert len(folding["layers"]) == 22
    for name, chosen in folding["layers"].items():
        assert config[name]["ReuseFactor"] == chosen["reuse_factor"] and config[name]["Strategy"] == chosen["strategy"]
    cpp = (tmp_path / "o" / "hls" / "firmware" / "myproject.cpp").read_text()
    depths = [int(d) for d in re.findall(r"#pragma HLS STREAM variable=\w+ depth=(\d+)", cpp)]
    written = report["hls"]["fifo_depths_written"]
    assert written["unmatched"] == 0 and written["set"] == len(folding["fifo_streams"])
    assert len(depths) >= written["set"] and max(depths) <= max(folding["fifo_streams"].values()) < 32 * 32


def test_the_printout_names_a_layer_as_its_precision_table_does(cli, tmp_path):
    """An nn.Sequential's layers are '1', '5' in the precision table (and --hls-config) and 'l_1', 'l_5' in
    hls4ml: the reuse-factor lines and the interval's reason use the table's names (they used hls4ml's)."""
    (tmp_path / "seq.py").write_text("import torch.nn as nn\n\ndef seq():\n    return nn.Sequential(nn.Flatten(), "
                                     "nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 4))\n")
    r = cli("export", "--model", f"{tmp_path / 'seq.py'}:seq", "--input-shape", "16", "--target", "hls",
            "--out", tmp_path / "o")
    assert r.code == 0, r.err
    report = json.loads((tmp_path / "o" / "export.json").read_text())
    hls_names = {layer["hls_name"] for layer in report["precision"]["layers"] if layer["hls_name"] != layer["layer"]}
    assert hls_names and set(report["hls"]["folding"]["layers"]) <= hls_names | {"model_input"}
    text = " ".join(r.out.split())
    assert "Latency: 1, 3" in text and not any(re.search(rf"\b{n}\b", text) for n in hls_names)


def test_hls_target_with_a_latency_bound_writes_the_least_resources_within_it(cli, tmp_path):
    import yaml

    args = ("export", "--model", "lenet300_100", "--width", "0.1", "--target", "hls", "--io-type", "io_parallel",
            "--part", "xc7z020clg400-1", "--calibration-samples", "50")
    r = cli(*args, "--max-latency-us", "2", "--out", tmp_path / "o")
    assert r.code == 0, r.err
    report = json.loads((tmp_path / "o" / "export.json").read_text())
    folding = report["hls"]["folding"]
    assert report["hls"]["settings"]["max_latency_us"] == 2.0
    assert folding["objective"] == "least resources within the latency bound" and folding["meets_latency"]
    assert folding["latency_cycles"] <= 2e-6 * 200e6 and folding["fastest"]["latency_cycles"] < folding["latency_cycles"]
    assert all(folding["utilisation"][k] <= folding["fastest"]["utilisation"][k] for k in ("dsp", "lut", "ff", "bram"))
    config = yaml.safe_load((tmp_path / "o" / "hls" / "hls4ml_config.yml").read_text())["HLSConfig"]["LayerName"]
    for name, chosen in folding["layers"].items():
        assert config[name]["ReuseFactor"] == chosen["reuse_factor"]
    missed = cli(*args, "--max-latency-us", "0.001", "--out", tmp_path / "m")
    assert missed.code == 0, missed.err
    assert "the fastest found misses it by" in " ".join(missed.out.split())
    assert json.loads((tmp_path / "m" / "export.json").read_text())["hls"]["folding"]["meets_latency"] is False
    bad = cli(*args, "--max-latency-us", "-2", "--out", tmp_path / "b")
    assert one_line_error(bad) and "--max-latency-us must be a positive number" in bad.err


def test_a_model_trained_for_a_device_is_folded_as_its_budget_was(cli, tmp_path):
    """The export of a --fit run takes the budget's part, clock (the device's, not the export's 5 ns), precision
    and latency bound for what the command line leaves out, so it folds the design the training met; a flag
    given wins."""
    r = cli("train", "jet_mlp_synthetic", "--method", "magnitude", "--param", "structure=structured",
            "--param", "iterations=1", "--epochs", "1", "--train-limit", "128", "--test-limit", "64",
            "--fit", "xc7z020", "--max-latency-us", "0.3", "--out", tmp_path / "run")
    assert r.code == 0, r.err
    cost = json.loads((tmp_path / "run" / "train" / "cost.json").read_text())
    model = tmp_path / "run" / "train" / "model.pt"
    e = cli("export", "--checkpoint", model, "--target", "hls", "--calibration-samples", "50", "--out", tmp_path / "e")
    assert e.code == 0, e.err
    assert "folded as" in e.err and "--clock-period 10.0" in " ".join(e.err.split())
    hls = json.loads((tmp_path / "e" / "export.json").read_text())["hls"]
    assert (hls["settings"]["part"], hls["settings"]["clock_period"]) == ("xc7z020clg400-1", 10.0)
    assert hls["settings"]["max_latency_us"] == 0.3
    chosen = ", ".join(f"{n} RF {c['reuse_factor']}" + ("" if c["strategy"] == "Latency" else f" {c['strategy']}")
                       for n, c in hls["folding"]["layers"].items())
    assert chosen == cost["budget_reuse_factors"]
    own = cli("export", "--checkpoint", model, "--target", "hls", "--clock-period", "5", "--reuse-factor", "2",
              "--calibration-samples", "50", "--out", tmp_path / "o")
    assert own.code == 0, own.err
    settings = json.loads((tmp_path / "o" / "export.json").read_text())["hls"]["settings"]
    assert (settings["clock_period"], settings["reuse_factor"], settings["max_latency_us"]) == (5.0, 2, None)
    # a --device given decides the part, as a --part given decides the device (it built the run's xc7z020 part
    # and folded for the ZCU102)
    other = cli("export", "--checkpoint", model, "--target", "hls", "--device", "zcu102", "--calibration-samples",
                "50", "--out", tmp_path / "z")
    assert other.code == 0, other.err
    hls = json.loads((tmp_path / "z" / "export.json").read_text())["hls"]
    assert (hls["settings"]["part"], hls["folding"]["device"]) == ("xczu9eg-ffvb1156-2-e", "xczu9eg")
    # --target onnx folds nothing: the budget's precision is not the user's --precision (it was refused as one)
    onnx = cli("export", "--checkpoint", model, "--target", "onnx", "--out", tmp_path / "x")
    assert onnx.code == 0 and "folded as" not in onnx.err and (tmp_path / "x" / "model.onnx").exists(), onnx.err


def test_a_model_trained_for_a_device_file_is_folded_for_the_device_it_trained_for(cli, tmp_path):
    """The model file records the device file's content: the export folds for it after the file was edited or
    from a folder where its relative path names nothing, and says so in one readable line."""
    device = device_file(tmp_path / "mine.yaml", dsp=180)
    r = cli("train", "jet_mlp_synthetic", "--method", "magnitude", "--param", "structure=structured",
            "--param", "iterations=1", "--epochs", "1", "--train-limit", "128", "--test-limit", "64",
            "--fit", device, "--max-latency-us", "0.3", "--out", tmp_path / "run")
    assert r.code == 0, r.err
    device.unlink()
    e = cli("export", "--checkpoint", tmp_path / "run" / "train" / "model.pt", "--target", "hls",
            "--calibration-samples", "50", "--out", tmp_path / "e")
    assert e.code == 0, e.err
    assert "--device mine (as recorded by the run)" in " ".join(e.err.split()) and "'resources'" not in e.err
    settings = json.loads((tmp_path / "e" / "export.json").read_text())["hls"]["settings"]
    assert settings["device"]["name"] == "mine" and settings["device"]["resources"]["dsp"]["value"] == 180


def test_an_export_records_the_content_of_its_device_file(cli, tmp_path):
    """export --device FILE folds for, and records in export.json, what the file held (read once)."""
    device = device_file(tmp_path / "mine.yaml", dsp=150)
    r = cli("export", "--model", "jet_mlp", "--target", "hls", "--device", device, "--calibration-samples", "50",
            "--out", tmp_path / "e")
    assert r.code == 0, r.err
    hls = json.loads((tmp_path / "e" / "export.json").read_text())["hls"]
    assert hls["settings"]["device"]["resources"]["dsp"]["value"] == 150
    assert hls["folding"]["device"] == "mine" and "recorded" in hls["folding"]["device_match"]


@pytest.mark.parametrize("rf, style", [(4, "dataflow"), (1, None)])
def test_latency_reuse_makes_the_project_dataflow(cli, tmp_path, rf, style):
    """A dense-only io_parallel network at the Latency strategy is one pipeline in hls4ml, where HLS may ignore
    a reuse factor > 1: the export writes PipelineStyle dataflow then, and its estimate follows it."""
    import yaml

    r = cli("export", "--model", "lenet300_100", "--width", "0.1", "--target", "hls", "--strategy", "Latency",
            "--reuse-factor", str(rf), "--io-type", "io_parallel", "--calibration-samples", "50", "--out", tmp_path / "o")
    assert r.code == 0, r.err
    model = yaml.safe_load((tmp_path / "o" / "hls" / "hls4ml_config.yml").read_text())["HLSConfig"]["Model"]
    assert model.get("PipelineStyle") == style
    cpp = (tmp_path / "o" / "hls" / "firmware" / "myproject.cpp").read_text()
    assert ("#pragma HLS DATAFLOW" in cpp) == (style == "dataflow")
    assert "one pipeline" not in r.out


def test_sparse_checkpoint_reports_saved_multipliers(cli, tmp_path):
    torch.manual_seed(0)
    model = create_model("lenet300_100", width=0.1)
    with torch.no_grad():
        model.fc1.weight[:, ::4] = 0
    save_model(tmp_path / "run" / "train" / "model.pt", model, source="trained")
    r = cli("export", "--checkpoint", tmp_path / "run" / "train" / "model.pt", "--target", "hls",
            "--calibration-samples", "100", "--reuse-factor", "1")       # Latency at RF 1: every zero saves one
    assert r.code == 0, r.err
    report = json.loads((tmp_path / "run" / "export" / "export.json").read_text())
    zeros = model.fc1.weight.numel() // 4
    assert report["weights"]["kind"] == "trained checkpoint"
    assert report["multipliers"]["total"]["saved_by_zeros"] >= zeros
    assert f"saved {report['multipliers']['total']['saved_by_zeros']:,}" in r.out


@pytest.mark.csim
def test_fpga_target_reports_agreement_in_json_and_terminal(cli, tmp_path):
    r = cli("export", "--model", "lenet300_100", "--target", "fpga", "--csim-samples", "60", "--out", tmp_path / "o")
    assert r.code == 0, r.err
    report = json.loads((tmp_path / "o" / "csim.json").read_text())
    assert report["csim"]["samples"] == 60 and report["csim"]["top1_agreement"] >= 0.98
    assert report["samples"]["dataset"] in ("mnist", "mnist_mini")
    assert list(report)[:3] == ["model", "weights", "samples"]
    assert "top1_agreement" in r.out and "C simulation vs PyTorch" in r.out
    from codesign import written
    assert written.foreign(tmp_path / "o" / "hls") == []       # the compiled library too: --force may replace all


@pytest.mark.parametrize("args,needle", [
    (["--model", "lenet55"], "unknown model 'lenet55' (did you mean: lenet5"),
    (["--model", "lenet5", "--target", "bitstream"], "unknown target 'bitstream'"),
    (["--model", "lenet5", "--backend", "Quartus"], "unknown backend 'Quartus'"),
    (["--model", "lenet5", "--strategy", "Unrolled"], "unknown strategy 'Unrolled'"),
    (["--model", "lenet5", "--io-type", "io_serial"], "unknown io_type 'io_serial'"),
    (["--model", "lenet5", "--precision", "fixed<16>"], "--precision 'fixed<16>' not understood"),
    (["--model", "lenet5", "--precision", "missing.yaml"], "file not found: missing.yaml"),
    (["--model", "lenet5", "--precision", "float"], "the export builds fixed-point designs"),
    (["--model", "lenet5", "--target", "onnx", "--precision", "ap_fixed<8,3>"], "--target onnx writes the ONNX"),
    # options the target never reads (were silently ignored)
    (["--model", "lenet5", "--target", "onnx", "--reuse-factor", "4", "--strategy", "Resource"],
     "--reuse-factor, --strategy: settings of the hls4ml project"),
    (["--model", "lenet5", "--target", "onnx", "--csim-samples", "10"], "--target onnx writes the ONNX model only"),
    (["--model", "lenet5", "--target", "hls", "--csim-samples", "10", "--jobs", "2"],
     "--csim-samples, --jobs: settings of the C simulation; --target hls"),
    (["--model", "lenet5", "--hls-config", "missing.yml"], "file not found: missing.yml"),
    (["--model", "resnet20", "--qat-epochs", "1"], "'resnet20' (ResNet) is not an nn.Sequential"),
    (["--checkpoint", "nowhere/model.pt"], "checkpoint not found"),
    (["--model", "lenet5", "--reuse-factor", "4", "--max-util", "0.01"], "--max-util bounds the folding"),
    (["--model", "lenet5", "--width", "0.5", "--checkpoint", "x.pt"], "--width applies to models without"),
    ([], "give --model NAME"),
])
def test_bad_inputs_are_one_line_errors(cli, tmp_path, args, needle):
    r = cli("export", *args, "--target", "hls", "--out", tmp_path / "o") if "--target" not in args else \
        cli("export", *args, "--out", tmp_path / "o")
    assert one_line_error(r), (r.code, r.err)
    assert needle in r.err


def test_existing_output_needs_force(cli, tmp_path):
    assert cli("export", "--model", "lenet300_100", "--target", "onnx", "--out", tmp_path / "o").code == 0
    r = cli("export", "--model", "lenet300_100", "--target", "onnx", "--out", tmp_path / "o")
    assert one_line_error(r) and "--force" in r.err
    assert cli("export", "--model", "lenet300_100", "--target", "onnx", "--out", tmp_path / "o", "--force").code == 0
    (tmp_path / "o" / "keep.txt").write_text("x")          # not an export's: kept, and said
    r = cli("export", "--model", "lenet300_100", "--target", "onnx", "--out", tmp_path / "o", "--force")
    assert one_line_error(r) and "keep.txt" in r.err and (tmp_path / "o" / "keep.txt").exists()


def test_missing_gxx_is_one_line_before_any_work(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    r = cli("export", "--model", "lenet5", "--target", "fpga", "--out", tmp_path / "o")
    assert one_line_error(r) and "needs g++" in r.err and not (tmp_path / "o").exists()


def test_force_replaces_an_export_never_a_run_beside_it(cli, tmp_path):
    """--force deletes only what an export writes: a folder holding a training run (or anyone's files) is
    refused, everything in it kept."""
    run = tmp_path / "run"
    (run / "train").mkdir(parents=True)
    (run / "config.yaml").write_text("name: run\n")
    (run / "train" / "model.pt").write_bytes(b"weights")
    r = cli("export", "--model", "jet_mlp", "--target", "onnx", "--out", run, "--force")
    assert one_line_error(r) and "config.yaml, train" in r.err and "--force would not replace" in r.err
    assert (run / "train" / "model.pt").read_bytes() == b"weights" and (run / "config.yaml").exists()
    out = tmp_path / "o"
    assert cli("export", "--model", "jet_mlp", "--target", "onnx", "--out", out).code == 0
    again = cli("export", "--model", "jet_mlp", "--target", "onnx", "--out", out, "--force")
    assert again.code == 0, again.err
    assert sorted(p.name for p in out.iterdir() if p.name != "codesign.lock") == ["export.json", "model.onnx"]


def test_force_never_deletes_hls_or_sim_folders_codesign_did_not_write(cli, tmp_path):
    """A folder's own sim/ (notes) and hls/ (an hls4ml project made by hand) carry an export's names, but
    codesign did not write them: --force refuses, naming them, and deletes nothing."""
    mine = tmp_path / "mine"
    (mine / "sim").mkdir(parents=True)
    (mine / "sim" / "notes.md").write_text("my notes")
    args = ("export", "--model", "jet_mlp", "--target", "hls", "--calibration-samples", "50", "--out", mine)
    r = cli(*args, "--force")
    assert one_line_error(r) and "sim" in r.err and "notes.md" in r.err, r.err
    (mine / "sim" / "notes.md").unlink()
    (mine / "sim" / "report.md").write_text("my own report")      # an export's name, in a folder it did not write
    (mine / "hls").mkdir()
    (mine / "hls" / "build_prj.tcl").write_text("my project")
    r = cli(*args, "--force")
    assert one_line_error(r) and "hls" in r.err and "not written by codesign" in r.err, r.err
    assert (mine / "hls" / "build_prj.tcl").read_text() == "my project"
    assert (mine / "sim" / "report.md").read_text() == "my own report"


def test_force_replaces_an_export_but_not_what_was_added_to_its_project(cli, tmp_path):
    """An export's hls/ records the files codesign wrote: --force replaces them, and refuses while the project
    holds anything else (a synthesis run's output, a file of yours), which is kept."""
    out = tmp_path / "o"
    args = ("export", "--model", "jet_mlp", "--target", "hls", "--calibration-samples", "50", "--out", out)
    assert cli(*args).code == 0
    (out / "hls" / "myproject_prj").mkdir()
    (out / "hls" / "myproject_prj" / "solution1.log").write_text("hours of synthesis")
    (out / "hls" / "vivado_hls.log").write_text("log")
    r = cli(*args, "--force")
    assert one_line_error(r) and "myproject_prj" in r.err and "vivado_hls.log" in r.err, r.err
    assert (out / "hls" / "myproject_prj" / "solution1.log").read_text() == "hours of synthesis"
    (out / "hls" / "vivado_hls.log").unlink()
    import shutil
    shutil.rmtree(out / "hls" / "myproject_prj")
    again = cli(*args, "--force")
    assert again.code == 0, again.err


def test_a_part_without_a_device_model_is_said_not_judged(cli, tmp_path):
    r = cli("export", "--model", "jet_mlp", "--target", "hls", "--part", "xc7z999foo-1", "--calibration-samples", "50",
            "--out", tmp_path / "o")
    assert r.code == 0, r.err
    text = " ".join(r.out.split())
    assert "no shipped device models part xc7z999foo-1" in text and "estimate: on the stand-in xcu250" in text


def test_unknown_layer_in_precision_yaml(cli, tmp_path):
    spec = tmp_path / "p.yaml"
    spec.write_text("layers:\n  fc9: {result: 'fixed<8,3>'}\n")
    r = cli("export", "--model", "lenet300_100", "--width", "0.1", "--target", "hls", "--precision", spec,
            "--calibration-samples", "50", "--out", tmp_path / "o")
    assert one_line_error(r) and "unknown layer 'fc9'" in r.err


def test_help_lists_the_options(cli):
    r = cli("export", "--help")
    assert r.code == 0
    for option in ("--target", "--precision", "--reuse-factor", "--qat-epochs", "--csim-samples", "--force"):
        assert option in r.out


def test_hls_target_folds_within_a_share_per_resource(cli, tmp_path):
    """--max-util per resource: the project's folding keeps DSPs within their own share, the settings and the
    terminal say so."""
    r = cli("export", "--model", "jet_mlp", "--target", "hls", "--part", "xczu9eg-ffvb1156-2-e",
            "--max-util", "0.8,DSP=0.02", "--out", tmp_path / "o")
    assert r.code == 0, r.err
    report = json.loads((tmp_path / "o" / "export.json").read_text())
    assert report["hls"]["settings"]["max_util"] == {"all": 0.8, "DSP": 0.02}
    assert report["hls"]["folding"]["utilisation"]["dsp"] <= 0.02
    assert "2% of the DSPs, 80% of the others" in " ".join(r.out.split())
    bad = cli("export", "--model", "jet_mlp", "--target", "hls", "--max-util", "0.8,DSP=1.5", "--out", tmp_path / "b")
    assert bad.code == 2 and "DSP must be in (0, 1]" in bad.err and "Traceback" not in bad.err
    bad = cli("export", "--model", "jet_mlp", "--target", "hls", "--part", "xczu9eg-ffvb1156-2-e", "--max-util",
              "0.8,URAM=0.5", "--out", tmp_path / "c")
    assert bad.code == 2 and len(bad.err.strip().splitlines()) == 1 and not (tmp_path / "c").exists()
    assert "xczu9eg (ZCU102) has no URAM" in bad.err


def test_the_hls_targets_verdict_says_which_limit_it_judges(cli, tmp_path):
    """--target hls judges the folding against --max-util and said "does NOT fit" where --target fpga's estimate
    of the same design said "fits" (the whole part): it names the margin."""
    r = cli("export", "--model", "jet_mlp", "--target", "hls", "--max-util", "0.001", "--out", tmp_path / "e")
    assert r.code == 0, r.err
    assert "estimate: over --max-util, within the part" in " ".join(r.out.split())


def test_a_device_file_is_what_the_design_is_folded_for(cli, tmp_path):
    """--device names the board (a device YAML of a part's smaller sibling here): the export folds and estimates
    for it, and its part is the project's. A model trained with --fit on such a file inherits it; before, the
    export folded for the shipped device of the same part, and said "fits" at 4x the board's DSPs."""
    import yaml

    from codesign.sim.device import load_device

    data = yaml.safe_load(open(load_device("xc7z020").path).read())
    data["name"] = "small_board"
    data["resources"]["dsp"]["value"] = 10
    device = tmp_path / "small.yaml"
    device.write_text(yaml.safe_dump(data))
    folded = {}
    for name, extra in (("shipped", []), ("mine", ["--device", device])):
        r = cli("export", "--model", "jet_mlp", "--target", "hls", "--part", "xc7z020clg400-1", *extra,
                "--out", tmp_path / name)
        assert r.code == 0, r.err
        folded[name] = json.loads((tmp_path / name / "export.json").read_text())["hls"]["folding"]
    assert folded["shipped"]["device"] == "xc7z020" and folded["mine"]["device"] == "small_board"
    assert folded["mine"]["utilisation"]["dsp"] <= 0.8
    assert folded["mine"]["interval_cycles"] > folded["shipped"]["interval_cycles"]


def test_an_overlapping_stream_pooling_is_refused_before_any_slow_step(cli, tmp_path):
    """MaxPool2d(3, stride=2) under io_stream passed every check, compiled, then hls4ml's nnet_pooling_stream.h
    assertion killed the C simulation (no export.json). Now: one line naming the layer and io_parallel, before
    the precision choice (no hls4ml project is written); under io_parallel it exports."""
    model = tmp_path / "pools.py"
    model.write_text("import torch.nn as nn\n\ndef net():\n    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), "
                     "nn.MaxPool2d(3, stride=2), nn.Flatten(), nn.Linear(4 * 6 * 6, 10))\n")
    args = ("export", "--model", f"{model}:net", "--input-shape", "1,16,16", "--target", "hls")
    r = cli(*args, "--out", tmp_path / "o")
    assert r.code == 2 and r.err.count("error:") == 1 and "precision" not in r.err, r.err
    assert "layer '2' (MaxPool2d, ONNX MaxPool): hls4ml's io_stream 2-D pooling needs a stride equal" in r.err
    assert "--io-type io_parallel" in r.err and not (tmp_path / "o" / "hls").exists()
    r = cli(*args, "--io-type", "io_parallel", "--precision", "ap_fixed<16,6>", "--out", tmp_path / "p")
    assert r.code == 0, r.err


def _abort(*args):
    """A C-simulation worker that dies on a signal, as on a failed assertion of the generated C++."""
    import os

    os.abort()


def test_a_crashing_c_simulation_is_a_bug_with_exit_code_1(cli, tmp_path, monkeypatch):
    """A C simulation that dies on a signal passed codesign's checks: a bug in codesign (exit code 1, one line
    that says so and what to do meanwhile), not bad input (it said "this is a bug" with exit code 2)."""
    import importlib

    csim = importlib.import_module("codesign.export.csim")
    monkeypatch.setattr(csim, "compile_project", lambda project: tmp_path / "lib.so")
    monkeypatch.setattr(csim, "_run_chunk", _abort)
    r = cli("export", "--model", "jet_mlp", "--target", "fpga", "--csim-samples", "4", "--reuse-factor", "1",
            "--precision", "ap_fixed<16,6>", "--out", tmp_path / "o")
    assert r.code == 1 and r.err.count("error:") == 1, (r.code, r.err)
    assert "crashed" in r.err and "a bug in codesign" in r.err and "--target hls" in r.err


def test_a_device_and_a_part_of_different_chips_are_refused(cli, tmp_path):
    """R3: --device xc7z020 --part xcu250-... built a U250 project folded and judged for a PYNQ-Z2, without a word
    (so did a device YAML, and an --hls-config Part). Another package or speed grade of the device's die is the
    same chip, and accepted."""
    import yaml

    from codesign.export.hls import HlsSettings

    board = device_file(tmp_path / "myboard.yaml", name="myboard", part="xc7z020clg400-1")
    config = tmp_path / "hls.yml"
    config.write_text(yaml.safe_dump({"Part": "xcu250-figd2104-2L-e", "HLSConfig": {"Model": {"ReuseFactor": 1}}}))
    for given, device in ((("--device", "xc7z020", "--part", "xcu250-figd2104-2L-e"), "--device xc7z020"),
                          (("--device", board, "--part", "xcu250-figd2104-2L-e"), f"--device {board}"),
                          (("--device", "pynq-z2", "--hls-config", config), "--device pynq-z2")):
        r = cli("export", "--model", "lenet300_100", "--width", "0.25", "--target", "hls", *given,
                "--out", tmp_path / "o")
        assert one_line_error(r), r.err
        assert f"{device} is part xc7z020clg400-1 and the project's part" in r.err and "two different chips" in r.err
    assert HlsSettings(part="xc7z020clg484-1", device="pynq-z2").checked().part == "xc7z020clg484-1"
    assert HlsSettings(part="xcvu13p-flga2577-2-e", device="xcu250").checked().part == "xcvu13p-flga2577-2-e"


def test_a_device_files_bad_part_names_the_device_file(cli, tmp_path):
    """R10: a device YAML's malformed part was reported as a bad --part, which the user never gave."""
    path = device_file(tmp_path / "injected.yaml", name="injected", part="xc7z020clg400-1; exec rm -rf ~")
    r = cli("export", "--model", "lenet300_100", "--width", "0.25", "--target", "hls", "--device", path,
            "--out", tmp_path / "o")
    assert one_line_error(r) and f"--device {path}: the device's part 'xc7z020clg400-1; exec" in r.err, r.err
    assert "--part" not in r.err


@pytest.mark.csim
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_an_onnx_files_c_simulation_names_its_reference_the_onnx_file(cli, tmp_path):
    """R10: export --onnx --target fpga labelled the ONNX file's accuracy (onnxruntime's) accuracy_pytorch, in
    csim.json and the printed table."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(16, 8), torch.nn.ReLU(), torch.nn.Linear(8, 4)).eval()
    torch.onnx.export(net, (torch.zeros(1, 16),), str(tmp_path / "m.onnx"), dynamo=False)
    r = cli("export", "--onnx", tmp_path / "m.onnx", "--target", "fpga", "--csim-samples", "10",
            "--calibration-samples", "32", "--precision", "ap_fixed<16,6>", "--out", tmp_path / "o")
    assert r.code == 0, r.err
    summary = json.loads((tmp_path / "o" / "csim.json").read_text())["csim"]
    assert "accuracy_onnx" in summary and "accuracy_pytorch" not in summary     # (None here: no labels)
def test_the_summary_tells_off_group_zeros_from_pruned_ones(cli, tmp_path):
    r = cli("export", "--model", "tests.user_models:Grouped", "--input-shape", "3,6,6", "--target", "hls",
            "--reuse-factor", "1", "--strategy", "Latency", "--out", tmp_path / "o")
    assert r.code == 0, r.err
    line = " ".join(r.out[r.out.index("multipliers:"):].split())
    assert re.search(r"zero weights \([0-9,]+ off-group in grouped convolutions, 0 pruned, the rest rounded to "
                     r"zero\), saved", line), line
