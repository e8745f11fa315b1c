"""`codesign simulate` end to end (in-process)."""
import json
import shlex

import pytest


def test_simulate_zoo_model_dataflow(cli, tmp_path):
    out = tmp_path / "sim"
    r = cli("simulate", "--model", "jet_mlp", "--device", "xcku115", "--reuse-factor", "2", "--out", out)
    assert r.code == 0, r.err
    assert "jet_mlp on xcku115 (dataflow)" in r.out and "fits the device" in r.out
    data = json.loads((out / "report.json").read_text())
    assert data["template"]["reuse_factor"] == 2 and (out / "report.md").exists() and (out / "roofline.png").exists()


def test_simulate_tiled_width_and_options(cli, tmp_path):
    r = cli("simulate", "--model", "resnet20", "--width", "0.5", "--device", "zcu102", "--template", "tiled",
            "--precision", "8", "--unroll", "ma", "--dram-layout", "aligned", "--zero-skip", "--no-plot",
            "--all-layers", "--out", tmp_path / "t")
    assert r.code == 0, r.err
    data = json.loads((tmp_path / "t" / "report.json").read_text())
    assert data["template"]["design"]["family"] == "ma" and data["template"]["weight_bits"] == 8
    assert data["model"]["source"] == "zoo:resnet20@width=0.5" and not (tmp_path / "t" / "roofline.png").exists()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_simulate_onnx_and_checkpoint(cli, tmp_path):
    import torch

    from codesign.checkpoint import save_model
    from codesign.zoo import create_model

    model = create_model("lenet5", width=0.5, in_shape=(1, 28, 28))
    save_model(tmp_path / "model.pt", model, source="test")
    torch.onnx.export(model.eval(), (torch.zeros(1, 1, 28, 28),), str(tmp_path / "m.onnx"), dynamo=False)
    # one precision for both (with auto, the checkpoint gets the export's per-layer choice: see below)
    a = cli("simulate", "--checkpoint", tmp_path / "model.pt", "--device", "pynq-z2", "--out", tmp_path / "a",
            "--no-plot", "--precision", "ap_fixed<16,6>")
    b = cli("simulate", "--onnx", tmp_path / "m.onnx", "--device", "pynq-z2", "--out", tmp_path / "b", "--no-plot")
    assert a.code == 0 and b.code == 0, a.err + b.err
    ta = json.loads((tmp_path / "a" / "report.json").read_text())["totals"]
    tb = json.loads((tmp_path / "b" / "report.json").read_text())["totals"]
    assert ta["macs"] == tb["macs"] and ta["dsp"] == tb["dsp"]


def test_a_run_directory_stands_for_its_model_file(cli, tmp_path):
    """--checkpoint RUN (as `codesign train --out RUN` made it) reads RUN/compact/model.pt, else RUN/train/model.pt;
    a folder holding neither is a one-line error (it said "checkpoint not found" of a folder that exists)."""
    from codesign.checkpoint import save_model
    from codesign.zoo import create_model

    run = tmp_path / "run"
    (run / "train").mkdir(parents=True)
    save_model(run / "train" / "model.pt", create_model("lenet5", width=0.5, in_shape=(1, 28, 28)), source="test")
    by_run = cli("simulate", "--checkpoint", run, "--device", "pynq-z2", "--out", tmp_path / "a", "--no-plot",
                 "--precision", "ap_fixed<16,6>")
    by_file = cli("simulate", "--checkpoint", run / "train" / "model.pt", "--device", "pynq-z2", "--out",
                  tmp_path / "b", "--no-plot", "--precision", "ap_fixed<16,6>")
    assert by_run.code == 0 and by_file.code == 0, by_run.err + by_file.err
    ta = json.loads((tmp_path / "a" / "report.json").read_text())["totals"]
    assert ta == json.loads((tmp_path / "b" / "report.json").read_text())["totals"]
    (run / "compact").mkdir()
    save_model(run / "compact" / "model.pt", create_model("lenet5", width=0.25, in_shape=(1, 28, 28)), source="test")
    compact = cli("simulate", "--checkpoint", run, "--device", "pynq-z2", "--out", tmp_path / "c", "--no-plot",
                  "--precision", "ap_fixed<16,6>")
    assert compact.code == 0 and json.loads((tmp_path / "c" / "report.json").read_text())["totals"]["macs"] < ta["macs"]
    empty = cli("simulate", "--checkpoint", tmp_path / "b", "--device", "pynq-z2", "--out", tmp_path / "d")
    assert empty.code == 2 and "without compact/model.pt or train/model.pt" in empty.err
    assert empty.err.count("error:") == 1


@pytest.mark.parametrize("args, message", [
    (["--device", "pynq-z2"], "exactly one of --model"),
    (["--model", "lenet5", "--onnx", "x.onnx", "--device", "pynq-z2"], "exactly one of --model"),
    (["--model", "lenet6", "--device", "pynq-z2"], "lenet5"),
    (["--model", "lenet5", "--device", "pynq"], "pynq-z2"),
    (["--model", "lenet5", "--device", "pynq-z2", "--template", "systolic"], "dataflow, tiled"),
    (["--model", "lenet5", "--device", "pynq-z2", "--precision", "ap_fixed<>"], "precision"),
])
def test_simulate_user_errors_are_one_line(cli, tmp_path, args, message):
    r = cli("simulate", *args, "--out", tmp_path / "x")
    assert r.code == 2 and message in r.err and r.err.count("error:") == 1


def test_simulate_auto_precision_is_the_exports_choice(cli, tmp_path):
    """simulate --precision auto of a model: the per-layer types `codesign export` would choose."""
    from codesign.export.estimate import plan_like_export
    from codesign.export.weights import resolve_model

    r = cli("simulate", "--model", "jet_mlp", "--device", "xcku115", "--no-plot", "--out", tmp_path / "s")
    assert r.code == 0, r.err
    data = json.loads((tmp_path / "s" / "report.json").read_text())
    assert data["template"]["precision"] == "auto (the export's choice per layer)"
    model, source = resolve_model("jet_mlp")
    planned = plan_like_export(model, source.meta)
    assert data["template"]["layers"]["fc1"]["weight"] == planned.layers["fc1"].weight.hls()
    assert data["template"]["weight_bits"] == max(planned.layers[f"fc{i}"].weight.width for i in range(1, 5)) < 16


@pytest.mark.parametrize("given, precision", [
    ("zoo", "ap_fixed<4,1>"),                      # half of fc1's weights round to zero at 3 fractional bits
    ("checkpoint", "ap_fixed<12,1>/ap_fixed<16,6>"),   # DSP weights, TRN: small positive weights become zeros
    ("zoo", "8"),                                  # a bare width: integer bits per layer from the calibration
])
def test_simulate_given_precision_is_the_exports_estimate(cli, tmp_path, given, precision):
    """simulate --precision TYPE of a model = the estimate of its export at TYPE: the weights cast as the export
    casts them (zeros, shift-and-add constants), the export's types per layer, the same totals (before: the float
    weights' nonzeros, 2x fc1's LUTs at ap_fixed<4,1>, and a zoo model's shapes without weight values)."""
    from codesign.checkpoint import save_model
    from codesign.export.estimate import export_mapping, export_network
    from codesign.export.hls import HlsSettings, build_hls
    from codesign.export.samples import choose_samples, default_counts, macs_per_sample
    from codesign.export.weights import resolve_model
    from codesign.sim import estimate

    model, source = resolve_model("lenet300_100", width=0.25)
    which = ["--model", "lenet300_100", "--width", "0.25"]
    if given == "checkpoint":
        save_model(tmp_path / "model.pt", model, source="test")
        which = ["--checkpoint", tmp_path / "model.pt"]
    r = cli("simulate", *which, "--device", "xcu250", "--precision", precision, "--reuse-factor", "1", "--strategy",
            "Latency", "--io-type", "io_parallel", "--no-plot", "--out", tmp_path / "s")
    assert r.code == 0, r.err
    data = json.loads((tmp_path / "s" / "report.json").read_text())
    counts = default_counts(macs_per_sample(model, (1, 28, 28)))
    samples = choose_samples(model, source.meta, None, n_calibration=counts["calibration"], n_csim=counts["csim"])
    hls = build_hls(model, tmp_path / "hls", calibration=samples.calibration, precision=precision,
                    settings=HlsSettings(reuse_factor=1, strategy="Latency", io_type="io_parallel"))
    network = export_network(hls)
    exported = estimate(network, "xcu250", export_mapping(hls, network))
    ours = {l["name"]: l for l in data["layers"] if l["op"] == "dense"}
    plan = exported.costs.plan
    for i, layer in enumerate(network.layers):
        if layer.op == "dense":
            row = ours[layer.name]
            assert row["nonzero_weights"] == layer.nonzero_weights, layer.name
            assert (row["detail"]["weight_bits"], row["detail"]["result_bits"]) == (plan.w_bits[i], plan.out_bits[i])
            for key in ("dsp", "lut", "ff"):
                assert row[key] == pytest.approx(float(getattr(exported.costs, key)[i]), rel=1e-6), (layer.name, key)
    assert sum(r["nonzero_weights"] for r in ours.values()) < sum(r["weights"] for r in ours.values())
    for key in ("dsp", "lut", "ff", "bram", "latency_cycles", "interval_cycles"):
        assert data["totals"][key] == pytest.approx(exported.totals[key], rel=1e-6), key


def test_simulate_hls_config(cli, tmp_path):
    import yaml

    config = tmp_path / "hls4ml_config.yml"
    config.write_text(yaml.safe_dump({"IOType": "io_parallel", "HLSConfig": {
        "Model": {"Precision": "ap_fixed<16,6>", "ReuseFactor": 2, "Strategy": "Latency"},
        "LayerName": {"fc2": {"ReuseFactor": 8, "Strategy": "Resource", "Precision": {"weight": "ap_fixed<6,2>"}},
                      "fc2_bias": {"Precision": {"result": "auto"}}}}}))
    r = cli("simulate", "--model", "jet_mlp", "--device", "xcku115", "--hls-config", config, "--no-plot",
            "--out", tmp_path / "a")
    assert r.code == 0, r.err
    layers = {l["name"]: l for l in json.loads((tmp_path / "a" / "report.json").read_text())["layers"]}
    assert layers["fc1"]["detail"]["reuse_factor"] == 2 and layers["fc2"]["detail"]["reuse_factor"] == 8
    assert layers["fc2"]["dsp"] == 0 and layers["fc1"]["dsp"] > 0          # 6-bit weights: LUT multipliers
    r = cli("simulate", "--model", "jet_mlp", "--device", "xcku115", "--hls-config", config, "--reuse-factor", "4",
            "--no-plot", "--out", tmp_path / "b")                          # the command line wins over Model
    layers = {l["name"]: l for l in json.loads((tmp_path / "b" / "report.json").read_text())["layers"]}
    assert layers["fc1"]["detail"]["reuse_factor"] == 4 and layers["fc2"]["detail"]["reuse_factor"] == 8
    config.write_text(yaml.safe_dump({"LayerName": {"fc9": {"ReuseFactor": 8}}}))
    r = cli("simulate", "--model", "jet_mlp", "--device", "xcku115", "--hls-config", config, "--out", tmp_path / "c")
    assert r.code == 2 and "unknown layer 'fc9'" in r.err and r.err.count("error:") == 1
    config.write_text(": : :\n")
    r = cli("simulate", "--model", "jet_mlp", "--device", "xcku115", "--hls-config", config, "--out", tmp_path / "d")
    assert r.code == 2 and "malformed YAML" in r.err and r.err.count(str(config)) == 1      # the file named once


def test_simulate_backend_decides_where_weight_roms_go(cli, tmp_path):
    import yaml

    def bram(*args):
        out = tmp_path / f"r{len(list(tmp_path.iterdir()))}"
        r = cli("simulate", "--model", "jet_mlp", "--device", "xcku115", "--strategy", "Resource", "--reuse-factor",
                "64", "--precision", "ap_fixed<16,6>", "--io-type", "io_parallel", "--no-plot", "--out", out, *args)
        assert r.code == 0, r.err
        data = json.loads((out / "report.json").read_text())
        return data["template"].get("backend"), data["totals"]["bram"]

    vitis, vivado = bram(), bram("--backend", "Vivado")
    assert vitis[0] == "Vitis" and vivado[0] == "Vivado" and vivado[1] > vitis[1]   # Vivado HLS: ROMs in BRAM
    config = tmp_path / "hls4ml_config.yml"
    config.write_text(yaml.safe_dump({"Backend": "VivadoAccelerator", "HLSConfig": {"Model": {"ReuseFactor": 64}}}))
    assert bram("--hls-config", config) == vivado                  # the file's Backend stands without --backend


def test_simulate_chooses_the_folding_by_default(cli, tmp_path):
    r = cli("simulate", "--model", "jet_mlp", "--device", "pynq-z2", "--out", tmp_path / "s", "--no-plot")
    assert r.code == 0, r.err
    data = json.loads((tmp_path / "s" / "report.json").read_text())
    folding = data["folding"]
    assert set(folding["layers"]) == {"fc1", "fc2", "fc3", "fc4"} and folding["max_util"] == 0.8
    assert all(data["totals"][f"{k}_util"] <= 0.8 for k in ("dsp", "lut", "ff", "bram"))
    assert "reuse factors (auto" in r.out and "why this interval" in r.out
    md = (tmp_path / "s" / "report.md").read_text()
    assert "## Design" in md and "| layer | op | output | MACs | RF | strategy |" in md


def test_simulate_max_util_and_fixed_strategy(cli, tmp_path):
    r = cli("simulate", "--model", "jet_mlp", "--device", "zcu102", "--max-util", "0.3", "--strategy", "Resource",
            "--out", tmp_path / "s", "--no-plot")
    assert r.code == 0, r.err
    data = json.loads((tmp_path / "s" / "report.json").read_text())
    assert {v["strategy"] for v in data["folding"]["layers"].values()} == {"Resource"}
    assert max(data["totals"][f"{k}_util"] for k in ("dsp", "lut", "ff", "bram")) <= 0.3


def test_simulate_max_util_per_resource(cli, tmp_path):
    r = cli("simulate", "--model", "jet_mlp", "--device", "zcu102", "--max-util", "0.8,DSP=0.01", "--out",
            tmp_path / "s", "--no-plot")
    assert r.code == 0, r.err
    data = json.loads((tmp_path / "s" / "report.json").read_text())
    assert data["folding"]["max_util"] == {"all": 0.8, "DSP": 0.01} and data["totals"]["dsp_util"] <= 0.01
    assert "1% of the DSPs, 80% of the others" in (tmp_path / "s" / "report.md").read_text()
    bad = cli("simulate", "--model", "jet_mlp", "--device", "zcu102", "--max-util", "0.8,DSPS=0.1", "--out",
              tmp_path / "t", "--no-plot")
    assert bad.code == 2 and "unknown resource 'DSPS'" in bad.err and "Traceback" not in bad.err


def test_simulate_refuses_a_share_of_a_resource_the_device_lacks(cli, tmp_path):
    bad = cli("simulate", "--model", "jet_mlp", "--device", "xc7z020", "--max-util", "0.8,URAM=0.5", "--out",
              tmp_path / "t", "--no-plot")
    assert bad.code == 2 and len(bad.err.strip().splitlines()) == 1
    assert "xc7z020 (PYNQ-Z2) has no URAM: it has DSP 220" in bad.err and "drop URAM=0.5" in bad.err
    ok = cli("simulate", "--model", "jet_mlp", "--device", "xcu250", "--max-util", "0.8,URAM=0.5", "--out",
             tmp_path / "u", "--no-plot")
    assert ok.code == 0, ok.err


def test_simulate_prints_ways_out_when_nothing_fits(cli, tmp_path):
    r = cli("simulate", "--model", "lenet5", "--device", "pynq-z2", "--precision", "ap_fixed<16,6>",
            "--max-util", "0.5", "--out", tmp_path / "s", "--no-plot")
    assert r.code == 0, r.err
    data = json.loads((tmp_path / "s" / "report.json").read_text())
    if data["folding"]["fits"]:
        pytest.skip("the estimator now fits LeNet-5 at 16 bits in half a PYNQ-Z2")
    ways = data["ways_out"]
    assert ways and all("codesign simulate --model lenet5" in w["command"] for w in ways)
    assert "ways out (each estimated to fit)" in r.out and "--out" not in ways[0]["command"]


def test_the_tiled_way_out_runs_without_the_dataflow_options(cli, tmp_path):
    """The tiled template's way out drops what only the dataflow template takes (--max-util, --io-type,
    --strategy): its ready-to-run line would be a one-line error with them."""
    r = cli("simulate", "--model", "resnet20", "--device", "pynq-z2", "--precision", "ap_fixed<16,6>", "--max-util",
            "0.7", "--io-type", "io_stream", "--strategy", "Resource", "--out", tmp_path / "s", "--no-plot")
    assert r.code == 0, r.err
    tiled = [w["command"] for w in json.loads((tmp_path / "s" / "report.json").read_text())["ways_out"]
             if "--template tiled" in (w["command"] or "")]
    assert tiled and not any(flag in tiled[0] for flag in ("--max-util", "--io-type", "--strategy"))
    again = cli(*shlex.split(tiled[0])[1:], "--out", tmp_path / "t")
    assert again.code == 0, again.err


def test_simulate_max_latency_folds_for_the_least_resources_within_it(cli, tmp_path):
    fast = cli("simulate", "--model", "jet_mlp", "--device", "zcu102", "--precision", "ap_fixed<16,6>",
               "--out", tmp_path / "fast", "--no-plot")
    assert fast.code == 0, fast.err
    fastest = json.loads((tmp_path / "fast" / "report.json").read_text())["totals"]
    bound_us = 4 * fastest["latency_s"] * 1e6
    r = cli("simulate", "--model", "jet_mlp", "--device", "zcu102", "--precision", "ap_fixed<16,6>",
            "--max-latency-us", str(bound_us), "--out", tmp_path / "s", "--no-plot")
    assert r.code == 0, r.err
    data = json.loads((tmp_path / "s" / "report.json").read_text())
    assert data["folding"]["objective"] == "least resources within the latency bound"
    assert data["totals"]["latency_s"] * 1e6 <= bound_us * (1 + 1e-9)
    assert all(data["totals"][f"{k}_util"] <= fastest[f"{k}_util"] + 1e-12 for k in ("dsp", "lut", "ff", "bram"))
    assert data["totals"]["dsp_util"] < fastest["dsp_util"]
    assert "why this folding: least resources within the latency bound" in " ".join(r.out.split())


def test_simulate_an_unmeetable_latency_says_by_how_much(cli, tmp_path):
    r = cli("simulate", "--model", "jet_mlp", "--device", "pynq-z2", "--max-latency-us", "0.001",
            "--out", tmp_path / "s", "--no-plot")
    assert r.code == 0, r.err
    data = json.loads((tmp_path / "s" / "report.json").read_text())
    assert data["folding"]["meets_latency"] is False and data["folding"]["objective"] == "fastest"
    assert "the fastest misses it by" in " ".join(r.out.split())


@pytest.mark.parametrize("args, message", [
    (["--reuse-factor", "0"], "'auto' or an integer"),
    (["--max-util", "1.5"], "--max-util"),
    (["--strategy", "Fast"], "unknown strategy"),
    (["--max-latency-us", "0"], "--max-latency-us must be a positive number"),
    (["--max-latency-us", "2", "--reuse-factor", "4"], "--max-latency-us needs"),
    # options the command would ignore (it judged a fixed folding against the whole device, silently)
    (["--max-util", "0.01", "--reuse-factor", "1"], "--max-util bounds the folding"),
    (["--max-util", "0.5", "--template", "tiled"], "--max-util bounds the folding"),
    (["--template", "tiled", "--io-type", "io_stream"], "--io-type: hls4ml settings of the dataflow template"),
    (["--template", "tiled", "--strategy", "Resource", "--backend", "Vitis"], "--strategy, --backend: hls4ml"),
    (["--template", "tiled", "--reuse-factor", "4"], "--reuse-factor: hls4ml settings of the dataflow template"),
    (["--template", "tiled", "--sparse-kernel", "on"], "--sparse-kernel: hls4ml settings"),
    (["--zero-skip", "--unroll", "ma"], "--unroll, --zero-skip: settings of the tiled template"),
    (["--dram-layout", "aligned"], "--dram-layout: settings of the tiled template"),
    (["--template", "systolic", "--reuse-factor", "2"], "unknown template 'systolic'"),
])
def test_simulate_folding_option_errors(cli, tmp_path, args, message):
    r = cli("simulate", "--model", "jet_mlp", "--device", "pynq-z2", *args, "--out", tmp_path / "x")
    assert r.code == 2 and message in r.err and r.err.count("error:") == 1
