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
    assert "the fastest found misses it by" in " ".join(r.out.split())


@pytest.mark.parametrize("args, message", [
    (["--reuse-factor", "0"], "'auto' or an integer"),
    (["--max-util", "1.5"], "--max-util"),
    (["--strategy", "Fast"], "unknown strategy"),
    (["--max-latency-us", "0"], "--max-latency-us must be a positive number"),
    (["--max-latency-us", "1e308"], "--max-latency-us 1e+308 is too large to count in clock cycles"),  # (was: inf)
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


def _onnx(tmp_path, name, module, shape):
    import torch

    path = tmp_path / f"{name}.onnx"
    torch.onnx.export(module.eval(), (torch.zeros(1, *shape),), str(path), dynamo=False, opset_version=13)
    return path


class _TwoHeads:
    """Built inside the test (torch is imported lazily)."""

    @staticmethod
    def make():
        import torch.nn as nn

        class TwoHeads(nn.Module):
            def __init__(self):
                super().__init__()
                self.a, self.b = nn.Linear(16, 4), nn.Linear(16, 3)

            def forward(self, x):
                return self.a(x), self.b(x)

        return TwoHeads()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("case, io_type, message", [
    ("elu", None, "layer '1' (Elu) is not supported by the hls4ml export"),
    ("two_outputs", None, "the model has 1 inputs and 2 outputs"),
    ("dilation", None, "dilation [2, 2] is not supported"),          # io_stream: it said "stream ... carries"
    ("dilation", "io_parallel", "dilation [2, 2] is not supported"),
    ("ceil_mode", "io_parallel", "ceil_mode=True pooling is not supported"),
])
def test_simulate_onnx_refuses_what_the_export_refuses(cli, tmp_path, case, io_type, message):
    """simulate --onnx of a dataflow design runs the export's support check (codesign.export.support): before, it
    estimated ELU, two-output graphs, dilated convolutions and ceil_mode pooling that export refuses."""
    import torch.nn as nn

    from codesign.export.onnx_file import load_onnx
    from codesign.export.support import hls4ml_verdict

    modules = {"elu": (nn.Sequential(nn.Linear(16, 8), nn.ELU(), nn.Linear(8, 4)), (16,)),
               "two_outputs": (_TwoHeads.make(), (16,)),
               "dilation": (nn.Sequential(nn.Conv2d(1, 4, 3, dilation=2), nn.ReLU(), nn.Flatten(),
                                          nn.Linear(4 * 8 * 8, 4)), (1, 12, 12)),
               "ceil_mode": (nn.Sequential(nn.Conv2d(1, 4, 3), nn.MaxPool2d(2, ceil_mode=True), nn.Flatten(),
                                           nn.Linear(4 * 5 * 5, 4)), (1, 11, 11))}
    path = _onnx(tmp_path, case, *modules[case])
    r = cli("simulate", "--onnx", path, "--device", "xcu250", *(["--io-type", io_type] if io_type else []),
            "--no-plot", "--out", tmp_path / "s")
    assert r.code == 2 and r.err.count("error:") == 1 and message in r.err, r.err
    verdict = hls4ml_verdict(load_onnx(path)[0])                     # the export's own one-line refusal
    assert r.err.strip().splitlines()[-1][len("error: "):] == verdict[len("not supported: "):]
    if case == "elu":                   # the tiled template is no hls4ml design: it estimates any layer it maps
        r = cli("simulate", "--onnx", path, "--device", "xcu250", "--template", "tiled", "--no-plot",
                "--out", tmp_path / "t")
        assert r.code == 0, r.err


def _bn_mlp_files(tmp_path):
    """One Linear -> BatchNorm1d -> SiLU network as torch's legacy exporter writes it (Gemm, then
    BatchNormalization) and with the BatchNorm folded into the Linear (as the dynamo exporter writes it)."""
    import copy

    import torch

    from tests.user_models import build

    model, shape = build("batchnorm_mlp")
    folded = copy.deepcopy(model)
    linear, bn = folded.net[0], folded.net[1]
    with torch.no_grad():
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        linear.weight.mul_(scale[:, None])
        linear.bias.copy_((linear.bias - bn.running_mean) * scale + bn.bias)
    folded.net[1] = torch.nn.Identity()
    return _onnx(tmp_path, "legacy", model, shape), _onnx(tmp_path, "folded", folded, shape)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_simulate_onnx_prices_the_weights_hls4ml_builds(cli, tmp_path):
    """A Linear -> BatchNorm1d network gets one estimate whatever the exporter, and simulate --onnx FILE at a
    precision is the estimate of the export of FILE at that precision: the constants are counted on the weights
    hls4ml builds (BatchNorm folded into the Dense, cast to the types). Before: the Gemm's own weights before the
    BatchNorm, in float (the D7 report: DSP 36% vs the export's 41%, no zero weights counted)."""
    from codesign.export.hls import HlsSettings, build_hls

    legacy, folded = _bn_mlp_files(tmp_path)
    totals = []
    for path in (legacy, folded):
        out = tmp_path / path.stem
        r = cli("simulate", "--onnx", path, "--device", "xcu250", "--precision", "ap_fixed<10,3>", "--no-plot",
                "--out", out)
        assert r.code == 0, r.err
        totals.append(json.loads((out / "report.json").read_text()))
    keys = ("dsp", "lut", "ff", "bram", "nonzero_weights", "latency_cycles", "interval_cycles")
    assert [totals[0]["totals"][k] for k in keys] == [totals[1]["totals"][k] for k in keys]
    project = build_hls(legacy, tmp_path / "hls", precision="ap_fixed<10,3>",
                        settings=HlsSettings(reuse_factor="auto"))
    assert project.fold.device.name == "xcu250"
    exported = project.fold.folding.describe()
    ours = totals[0]["folding"]
    assert ours["utilisation"] == pytest.approx(exported["utilisation"], rel=1e-9)
    assert {k: (v["reuse_factor"], v["strategy"]) for k, v in ours["layers"].items()} == \
        {k: (v["reuse_factor"], v["strategy"]) for k, v in exported["layers"].items()}
    zeros = sum(r["weights"] - r["nonzero_weights"] for r in totals[0]["layers"])
    assert zeros == project.multipliers["total"]["zeros"] > 0


def test_simulate_hls_config_plans_like_the_export(cli, tmp_path):
    """With --hls-config, simulate counts zeros and shift-and-add constants on the weights cast to the file's
    types, as the export builds them (before: on the float weights), and so equals simulate --precision of the
    same types."""
    import yaml

    config = tmp_path / "cfg.yml"
    config.write_text(yaml.safe_dump({"IOType": "io_parallel", "HLSConfig": {
        "Model": {"Precision": "ap_fixed<6,1>", "ReuseFactor": 1, "Strategy": "Latency"}}}))
    r = cli("simulate", "--model", "jet_mlp", "--device", "xcku115", "--hls-config", config, "--no-plot",
            "--out", tmp_path / "a")
    assert r.code == 0, r.err
    r = cli("simulate", "--model", "jet_mlp", "--device", "xcku115", "--precision", "ap_fixed<6,1>",
            "--reuse-factor", "1", "--strategy", "Latency", "--io-type", "io_parallel", "--no-plot",
            "--out", tmp_path / "b")
    assert r.code == 0, r.err
    a, b = (json.loads((tmp_path / x / "report.json").read_text()) for x in "ab")
    for key in ("nonzero_weights", "dsp", "lut", "ff", "bram", "latency_cycles"):
        assert a["totals"][key] == b["totals"][key], key
    assert a["totals"]["nonzero_weights"] < sum(layer["weights"] for layer in a["layers"])


def test_simulate_refuses_an_overlapping_stream_pooling_before_calibrating(cli, tmp_path):
    """MaxPool2d(3, stride=2) under io_stream: hls4ml's nnet_pooling_stream.h asserts stride == window, so the
    export's C simulation died ("this is a bug", exit 2); simulate estimated it. Now both refuse it in one line,
    before the precision calibration, naming the layer and io_parallel, which builds it."""
    model = tmp_path / "pools.py"
    model.write_text("import torch.nn as nn\n\ndef net():\n    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), "
                     "nn.MaxPool2d(3, stride=2), nn.Flatten(), nn.Linear(4 * 6 * 6, 10))\n")
    args = ("simulate", "--model", f"{model}:net", "--input-shape", "1,16,16", "--device", "xcu250", "--no-plot")
    r = cli(*args, "--out", tmp_path / "a")
    assert r.code == 2 and r.err.strip().count("\n") == 0, r.err      # one line: nothing calibrated before it
    assert "layer '2' (MaxPool2d, ONNX MaxPool)" in r.err and "--io-type io_parallel" in r.err
    r = cli(*args, "--io-type", "io_parallel", "--precision", "ap_fixed<16,6>", "--out", tmp_path / "b")
    assert r.code == 0, r.err


def test_simulate_of_a_projects_own_config_is_the_design_it_built(cli, tmp_path):
    """simulate --hls-config PROJECT/hls4ml_config.yml prices the design the export built: its types, reuse
    factors and io_stream FIFO depths (the export writes them as FifoDepth). Before, the depths were lost (hls4ml's
    full-length defaults: BRAM 21 where the project has 0) and the zeros were counted on the float weights."""
    model = ("--model", "tests.user_models:functional_residual", "--precision", "ap_fixed<16,6>")
    r = cli("export", *model, "--target", "hls", "--out", tmp_path / "e")
    assert r.code == 0, r.err
    r = cli("simulate", *model, "--device", "xcu250", "--no-plot", "--out", tmp_path / "a")
    assert r.code == 0, r.err
    r = cli("simulate", "--model", "tests.user_models:functional_residual", "--hls-config",
            tmp_path / "e" / "hls" / "hls4ml_config.yml", "--device", "xcu250", "--no-plot", "--out", tmp_path / "b")
    assert r.code == 0, r.err
    a, b = (json.loads((tmp_path / x / "report.json").read_text()) for x in "ab")
    for key in ("dsp", "lut", "ff", "bram", "nonzero_weights", "latency_cycles", "interval_cycles"):
        assert a["totals"][key] == pytest.approx(b["totals"][key], rel=1e-9), key
    assert [layer["detail"].get("fifo_depth") for layer in a["layers"]] == \
        [layer["detail"].get("fifo_depth") for layer in b["layers"]]


@pytest.mark.skipif(not __import__("os").path.isdir("/proc/self"), reason="needs a /proc file system")
def test_simulate_checks_its_report_folder_before_the_estimate(cli):
    """A report folder that cannot be made is one line before any estimate (the whole report printed first)."""
    r = cli("simulate", "--model", "jet_mlp", "--device", "pynq-z2", "--precision", "ap_fixed<16,6>",
            "--out", "/proc/codesign-no-such-folder")
    assert r.code == 2 and r.err.startswith("error: cannot create /proc/codesign-no-such-folder") and r.out == ""


def test_simulate_force_never_writes_into_a_run_or_someones_folder(cli, tmp_path):
    """--force writes over a report, never into a training run's root or a folder holding other files."""
    (tmp_path / "run" / "train").mkdir(parents=True)
    (tmp_path / "run" / "config.yaml").write_text("model: {name: jet_mlp}\n")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("x")
    for folder, holds in ((tmp_path / "run", "holds config.yaml, train"), (tmp_path / "mine", "holds notes.txt")):
        r = cli("simulate", "--model", "jet_mlp", "--device", "pynq-z2", "--precision", "ap_fixed<16,6>",
                "--out", folder, "--force")
        assert r.code == 2 and holds in r.err and r.out == "", r.err
    assert sorted(p.name for p in (tmp_path / "mine").iterdir()) == ["notes.txt"]
    again = cli("simulate", "--model", "jet_mlp", "--device", "pynq-z2", "--precision", "ap_fixed<16,6>",
                "--no-plot", "--out", tmp_path / "sim")
    assert again.code == 0 and cli("simulate", "--model", "jet_mlp", "--device", "pynq-z2", "--precision",
                                   "ap_fixed<16,6>", "--no-plot", "--out", tmp_path / "sim", "--force").code == 0


SEQUENTIAL_CONVS = ("import torch.nn as nn\n\ndef net():\n    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), "
                    "nn.MaxPool2d(2), nn.Conv2d(4, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 7 * 7, 10))\n")


def test_a_sequentials_own_config_round_trips_its_padding_fifos(cli, tmp_path):
    """An nn.Sequential's padded convolutions: the project's config names the padding FIFOs zp2d_l_0 and simulate
    named the padding zp2d_0, so simulate --hls-config of the project left them at hls4ml's full length (BRAM 9
    where the project has 0; the tester read it as lost types, models D6)."""
    (tmp_path / "seq.py").write_text(SEQUENTIAL_CONVS)
    model = ("--model", f"{tmp_path / 'seq.py'}:net", "--input-shape", "1,14,14", "--precision", "ap_fixed<16,6>")
    assert cli("export", *model, "--target", "hls", "--out", tmp_path / "e").code == 0
    r = cli("simulate", *model, "--device", "xcu250", "--no-plot", "--out", tmp_path / "a")
    assert r.code == 0, r.err
    r = cli("simulate", "--model", f"{tmp_path / 'seq.py'}:net", "--input-shape", "1,14,14", "--hls-config",
            tmp_path / "e" / "hls" / "hls4ml_config.yml", "--device", "xcu250", "--no-plot", "--out", tmp_path / "b")
    assert r.code == 0, r.err
    a, b = (json.loads((tmp_path / x / "report.json").read_text()) for x in "ab")
    for key in ("dsp", "lut", "ff", "bram", "latency_cycles", "interval_cycles"):
        assert a["totals"][key] == pytest.approx(b["totals"][key], rel=1e-9), key
    pads = [(layer["hls_name"], layer["detail"].get("fifo_depth")) for layer in b["layers"] if layer["op"] == "pad"]
    assert pads == [(layer["hls_name"], layer["detail"].get("fifo_depth")) for layer in a["layers"]
                    if layer["op"] == "pad"] and [name for name, _ in pads] == ["zp2d_l_0", "zp2d_l_3"]


def test_one_edited_config_is_one_design_in_export_and_simulate(cli, tmp_path):
    """R6: the project's hls4ml_config.yml held two entries per layer (l_0 and hls4ml's Conv2D_l_0); an edit of
    one reached the export and hls4ml, of the other simulate. Now it holds one, the name hls4ml reads, and both
    commands build the edit; a second name for the layer that disagrees is refused in one line by both."""
    import yaml

    (tmp_path / "seq.py").write_text(SEQUENTIAL_CONVS)
    model = ("--model", f"{tmp_path / 'seq.py'}:net", "--input-shape", "1,14,14")
    assert cli("export", *model, "--precision", "ap_fixed<16,6>", "--target", "hls", "--out", tmp_path / "e").code == 0
    config = yaml.safe_load((tmp_path / "e" / "hls" / "hls4ml_config.yml").read_text())
    layers = config["HLSConfig"]["LayerName"]
    assert not [n for n in layers if n.startswith(("Conv2D_", "Dense_"))] and {"l_0", "l_3", "l_6"} <= set(layers)
    layers["l_0"]["ReuseFactor"] = 4
    edited = tmp_path / "edited.yml"
    edited.write_text(yaml.safe_dump(config))
    r = cli("export", *model, "--hls-config", edited, "--target", "hls", "--out", tmp_path / "x")
    assert r.code == 0, r.err
    built = json.loads((tmp_path / "x" / "export.json").read_text())["hls"]["settings"]["layers"]
    r = cli("simulate", *model, "--hls-config", edited, "--device", "xcu250", "--no-plot", "--out", tmp_path / "s")
    assert r.code == 0, r.err
    priced = {layer["hls_name"]: layer["detail"]["reuse_factor"]
              for layer in json.loads((tmp_path / "s" / "report.json").read_text())["layers"]}
    assert built["l_0"]["ReuseFactor"] == priced["l_0"] == 4
    layers["Conv2D_l_0"] = {**layers["l_0"], "ReuseFactor": 2}
    edited.write_text(yaml.safe_dump(config))
    for command in (("export", "--target", "hls", "--out", tmp_path / "y"),
                    ("simulate", "--device", "xcu250", "--no-plot", "--out", tmp_path / "t")):
        r = cli(command[0], *model, "--hls-config", edited, *command[1:])
        assert r.code == 2 and r.err.strip().count("\n") == 0, r.err
        assert "'Conv2D_l_0' and 'l_0' are one layer" in r.err and "ReuseFactor to 2 and 4" in r.err, r.err


def test_an_hls_configs_part_and_another_device_are_refused(cli, tmp_path):
    """R3: simulate --device xc7z020 --hls-config FILE whose Part is a ZCU102's priced the design on the PYNQ-Z2
    without a word. The device of that part (another package or speed grade of the die too) prices it."""
    import yaml

    config = tmp_path / "hls4ml_config.yml"
    config.write_text(yaml.safe_dump({"Part": "xczu9eg-ffvb1156-1-e", "IOType": "io_parallel",
                                      "HLSConfig": {"Model": {"Precision": "ap_fixed<16,6>", "ReuseFactor": 8}}}))
    args = ("simulate", "--model", "jet_mlp", "--hls-config", config, "--no-plot")
    r = cli(*args, "--device", "xc7z020", "--out", tmp_path / "a")
    assert r.code == 2 and r.err.strip().count("\n") == 0, r.err
    assert f"--device xc7z020 is part xc7z020clg400-1 and the Part of {config} is xczu9eg-ffvb1156-1-e" in r.err
    r = cli(*args, "--device", "zcu102", "--out", tmp_path / "b")
    assert r.code == 0, r.err
