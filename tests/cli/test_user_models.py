"""Every command takes a user's model: a factory file (--model FILE.py:FUNCTION), a plain
state_dict or a pickled module (--checkpoint), an ONNX file (--onnx)."""
from __future__ import annotations

import json
import textwrap

import pytest
import torch

from codesign.model_source import ModelFactory
from tests.user_models import Inception

MODEL_FILE = textwrap.dedent("""
    import torch.nn as nn

    def net(channels=6, num_classes=10):
        return nn.Sequential(
            nn.Conv2d(1, channels, 3, padding=1), nn.BatchNorm2d(channels), nn.ReLU6(), nn.MaxPool2d(2),
            nn.Conv2d(channels, channels, 3, padding=1, groups=channels), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.1), nn.Linear(channels, num_classes))
""")
DATA = "data.options={in_shape: [1, 8, 8], num_classes: 3, n_train: 128, n_test: 32}"


def one_line_error(result):
    lines = result.err.rstrip("\n").split("\n")     # an empty line before the error is a second line
    return result.code == 2 and len(lines) == 1 and lines[0].startswith("error: ")


@pytest.fixture
def model_file(tmp_path):
    path = tmp_path / "mynet.py"
    path.write_text(MODEL_FILE)
    return path


def test_factory_trains_prunes_compacts_exports_and_simulates(cli, tmp_path, model_file):
    run = tmp_path / "run"
    r = cli("train", "--model", f"{model_file}:net", "--model-arg", "channels=8", "--dataset", "synthetic",
            "--set", DATA, "--epochs", "2", "--method", "magnitude", "--param", "structure=structured",
            "--param", "target_density=0.5", "--threads", "1", "--out", run)
    assert r.code == 0, r.err
    spec = torch.load(run / "train" / "model.pt", weights_only=False)["model_spec"]
    assert spec["factory"] == f"{model_file.resolve()}:net" and spec["kwargs"] == {"channels": 8, "num_classes": 3}
    shapes = json.loads((run / "compact" / "shapes.json").read_text())
    fresh = ModelFactory.parse(f"{model_file}:net", spec["kwargs"]).build()
    assert shapes["params_after"] < sum(p.numel() for p in fresh.parameters()) and shapes["model"] == "mynet.py:net"
    r = cli("train", "--model", f"{model_file}:net", "--model-arg", "channels=8", "--dataset", "synthetic",
            "--set", DATA, "--epochs", "2", "--method", "magnitude", "--param", "structure=structured",
            "--param", "target_density=0.5", "--threads", "1", "--out", run, "--resume")
    assert r.code == 0, r.err                                         # resumes from the file alone
    r = cli("compact", run, "--out", tmp_path / "again")
    assert r.code == 0 and "equivalence" in r.out, r.err
    r = cli("export", "--checkpoint", run / "compact" / "model.pt", "--target", "onnx", "--out", tmp_path / "exp")
    assert r.code == 0, r.err
    assert json.loads((tmp_path / "exp" / "export.json").read_text())["model"]["name"] == "mynet.py:net"
    r = cli("simulate", "--checkpoint", run / "compact" / "model.pt", "--device", "xc7z020", "--no-plot",
            "--out", tmp_path / "sim")
    assert r.code == 0 and "latency" in r.out, r.err
    r = cli("simulate", "--model", f"{model_file}:net", "--model-arg", "channels=4", "--input-shape", "1,8,8",
            "--device", "xc7z020", "--no-plot", "--out", tmp_path / "sim2")
    assert r.code == 0, r.err


def test_state_dict_and_pickled_module_checkpoints(cli, tmp_path, model_file):
    model = Inception().eval()
    torch.save({"state_dict": model.state_dict()}, tmp_path / "sd.pth")
    torch.save(model, tmp_path / "whole.pt")
    r = cli("export", "--checkpoint", tmp_path / "sd.pth", "--model", "tests.user_models:Inception",
            "--input-shape", "1,8,8", "--target", "onnx", "--out", tmp_path / "a")
    assert r.code == 0, r.err
    r = cli("simulate", "--checkpoint", tmp_path / "whole.pt", "--input-shape", "1,8,8", "--device", "xc7z020",
            "--no-plot", "--out", tmp_path / "b")
    assert r.code == 0, r.err
    r = cli("compact", tmp_path / "whole.pt", "--input-shape", "1,8,8", "--out", tmp_path / "c")
    assert r.code == 0, r.err
    r = cli("export", "--checkpoint", tmp_path / "sd.pth", "--target", "onnx", "--out", tmp_path / "d")
    assert one_line_error(r) and "name its architecture with --model" in r.err
    r = cli("simulate", "--checkpoint", tmp_path / "whole.pt", "--device", "xc7z020", "--out", tmp_path / "e")
    assert one_line_error(r) and "--input-shape" in r.err


def test_onnx_file_exports_to_an_hls_project(cli, tmp_path):
    path = tmp_path / "outside.onnx"
    torch.onnx.export(Inception().eval(), (torch.zeros(1, 1, 8, 8),), str(path), dynamo=False,
                      input_names=["image"], dynamic_axes={"image": {0: "n"}})
    r = cli("export", "--onnx", path, "--target", "hls", "--calibration-samples", "32", "--out", tmp_path / "hls")
    assert r.code == 0, r.err
    report = json.loads((tmp_path / "hls" / "export.json").read_text())
    assert report["model"]["in_shape"] == [1, 8, 8] and report["weights"]["kind"] == "ONNX file"
    assert report["onnx"]["max_abs_diff_vs_pytorch"] < 1e-4 and (tmp_path / "hls" / "hls" / "build_prj.tcl").exists()
    r = cli("export", "--onnx", path, "--model", "lenet5", "--out", tmp_path / "x")
    assert one_line_error(r) and "drop --model" in r.err
    r = cli("export", "--onnx", path, "--input-shape", "3,8,8", "--target", "onnx", "--out", tmp_path / "y")
    assert one_line_error(r) and "does not fit" in r.err


@pytest.mark.parametrize("args,needle", [
    (["--model", "nowhere.py:net"], "model file not found"),
    (["--model", "lenet5", "--model-arg", "x=1"], "--model-arg applies to model factories"),
    (["--model", "MODEL:nett"], "has no function 'nett'; it defines: net"),
    (["--model", "MODEL:net", "--model-arg", "chanels=3"], "unexpected keyword argument"),
])
def test_bad_model_sources_are_one_line_errors(cli, tmp_path, model_file, args, needle):
    args = [a.replace("MODEL", str(model_file)) for a in args]
    r = cli("export", *args, "--input-shape", "1,8,8", "--target", "onnx", "--out", tmp_path / "o")
    assert one_line_error(r), r.err
    assert needle in r.err


def test_qonnx_file_takes_its_types_from_its_quantizers(cli, tmp_path):
    from codesign.export.qat import export_qonnx, quantize_model

    from codesign.zoo import create_model

    torch.manual_seed(0)
    proto = export_qonnx(quantize_model(create_model("jet_mlp", width=0.25, in_shape=(16,), num_classes=5)),
                         torch.randn(4, 16))
    (tmp_path / "q.onnx").write_bytes(proto.SerializeToString())
    r = cli("export", "--onnx", tmp_path / "q.onnx", "--target", "hls", "--calibration-samples", "16",
            "--out", tmp_path / "out")
    assert r.code == 0, r.err
    report = json.loads((tmp_path / "out" / "export.json").read_text())
    assert report["onnx"]["format"] == "QONNX" and report["onnx"]["max_abs_diff_vs_pytorch"] == 0.0
    assert report["precision"]["source"] == "quantizers (q.onnx)"


def test_an_hls4ml_config_names_an_onnx_files_layers_as_the_export_does(cli, tmp_path):
    """simulate --onnx prices the graph the export builds, so its layers have the export's names too ('stem',
    not the file's '/stem/Conv')."""
    path = tmp_path / "outside.onnx"
    torch.onnx.export(Inception().eval(), (torch.zeros(1, 1, 8, 8),), str(path), dynamo=False)
    (tmp_path / "cfg.yml").write_text(textwrap.dedent("""
        HLSConfig:
          Model: {ReuseFactor: 2, Precision: 'ap_fixed<16,6>'}
          LayerName:
            stem: {ReuseFactor: 4}
            Dense_fc: {ReuseFactor: 8}
    """))
    r = cli("simulate", "--onnx", path, "--hls-config", tmp_path / "cfg.yml", "--device", "xc7z020", "--no-plot",
            "--out", tmp_path / "sim")
    assert r.code == 0, r.err
    layers = {l["name"]: l["detail"] for l in json.loads((tmp_path / "sim" / "report.json").read_text())["layers"]}
    assert layers["stem"]["reuse_factor"] == 4 and layers["fc"]["reuse_factor"] == 8
    assert layers["b1"]["reuse_factor"] == 2


MLP_FILE = textwrap.dedent("""
    import torch.nn as nn

    def mlp(hidden=1024, num_classes=10):
        return nn.Sequential(nn.Flatten(), nn.Linear(784, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                             nn.Linear(hidden, num_classes))
""")


def test_ways_out_of_a_factory_model_give_only_commands_that_run(cli, tmp_path):
    """--width is refused for a model factory: its narrower model is a hint in words (with --model-arg), and
    every command printed keeps the factory's --model-arg values, one option each."""
    path = tmp_path / "mlps.py"
    path.write_text(MLP_FILE)
    r = cli("simulate", "--model", f"{path}:mlp", "--model-arg", "hidden=256", "--input-shape", "1,28,28",
            "--device", "pynq-z2", "--precision", "ap_fixed<16,6>", "--no-plot", "--out", tmp_path / "s")
    assert r.code == 0, r.err
    data = json.loads((tmp_path / "s" / "report.json").read_text())
    if data["folding"]["fits"]:
        pytest.skip("the estimator now fits this MLP in a PYNQ-Z2")
    ways = data["ways_out"]
    narrower = [w for w in ways if w["way"].startswith("width")]
    assert narrower and narrower[0]["command"] is None and "--model-arg" in narrower[0]["hint"]
    commands = [w["command"] for w in ways if w["command"]]
    assert commands and all("--width" not in c and "--model-arg hidden=256 " in c for c in commands)
    assert all(v >= 0 for w in ways for v in w["utilisation"].values())
    assert narrower[0]["hint"].split()[0] in r.out and "--width 0." not in r.out


NAN_DATA = "data.options={in_shape: [16], num_classes: 5, n_train: 64, n_test: 16}"


@pytest.mark.parametrize("command", [
    ["simulate", "--input-shape", "16", "--device", "xcu250", "--no-plot"],
    ["simulate", "--input-shape", "16", "--device", "xcu250", "--no-plot", "--precision", "ap_fixed<16,6>"],
    ["export", "--input-shape", "16", "--target", "hls"],
    ["train", "--dataset", "synthetic", "--set", NAN_DATA, "--epochs", "1"],
])
def test_nan_weights_are_named_by_every_command(cli, tmp_path, command):
    r = cli(*command[:1], "--model", "tests.user_models:nan_weights", *command[1:], "--out", tmp_path / "o")
    assert one_line_error(r), r.err
    assert "the model's weights are NaN/inf in 0.weight; check the factory" in r.err


@pytest.mark.parametrize("command", [
    ["simulate", "--input-shape", "16", "--device", "xc7z020", "--no-plot"],
    ["export", "--input-shape", "16", "--target", "hls"],
    ["train", "--dataset", "synthetic", "--set", NAN_DATA, "--epochs", "1"],
])
@pytest.mark.parametrize("model, needle", [
    ("BatchOfOne", "BatchOfOne runs on one input but not on a batch of 2 inputs of shape (16,)"),
    ("float64_layer", "float64_layer: layer '2' (Linear) is float64; codesign trains and exports float32 models: "
                      "call model.float()"),
])
def test_a_model_that_cannot_run_on_a_batch_is_one_rule_in_every_command(cli, tmp_path, command, model, needle):
    """train and export said 'internal error ... a bug in codesign' (exit 1), simulate estimated the model."""
    r = cli(*command[:1], "--model", f"tests.user_models:{model}", *command[1:], "--out", tmp_path / "o")
    assert one_line_error(r), r.err
    assert needle in r.err
    assert not list((tmp_path / "o").glob("**/*.yaml"))      # nothing written for a model that cannot run


def test_outputs_that_turn_nan_with_finite_weights_are_named(cli, tmp_path):
    def error(r):                       # one error line, after progress and the precision auto note
        errors = [line for line in r.err.splitlines() if line.startswith("error")]
        return r.code == 2 and len(errors) == 1 and errors[0]

    r = cli("simulate", "--model", "tests.user_models:NaNOutput", "--input-shape", "16", "--device", "xcu250",
            "--no-plot", "--out", tmp_path / "s")
    assert "outputs NaN/inf on the calibration inputs" in (error(r) or ""), r.err
    r = cli("export", "--model", "tests.user_models:NaNOutput", "--input-shape", "16", "--target", "onnx",
            "--out", tmp_path / "o")
    assert "the model outputs NaN/inf" in (error(r) or ""), r.err
    r = cli("train", "--model", "tests.user_models:NaNOutput", "--dataset", "synthetic", "--set", NAN_DATA,
            "--epochs", "1", "--out", tmp_path / "t")   # it said "training diverged ... lower the learning rate"
    assert "outputs are NaN/inf on the first training batch, before any training step" in (error(r) or ""), r.err


def test_an_onnx_file_with_nan_weights_is_named(cli, tmp_path):
    from tests.user_models import nan_weights

    path = tmp_path / "nan.onnx"
    torch.onnx.export(nan_weights().eval(), (torch.zeros(1, 16),), str(path), dynamo=False)
    r = cli("export", "--onnx", path, "--target", "hls", "--out", tmp_path / "o")
    assert one_line_error(r) and "the model's weights are NaN/inf in" in r.err and "check the file" in r.err, r.err


def test_an_hls4ml_config_names_functional_ops_as_the_export_does(cli, tmp_path):
    """LayerName entries use the export's names of F.relu and + inside a submodule (block_relu, block_relu_2,
    block_add); simulate applied nothing for them before, and took its own names (relu_1) that the export
    refuses: a name that matches no layer is now an error in both."""
    from codesign.errors import ConfigError
    from codesign.export.hls import source_graph
    from codesign.export.precision import layer_targets
    from codesign.model_source import build_model

    model = "tests.user_models:functional_residual"
    config = tmp_path / "cfg.yml"
    config.write_text(textwrap.dedent("""
        Model: {ReuseFactor: 2, Precision: 'ap_fixed<16,6>'}
        LayerName:
          block.c1: {ReuseFactor: 8}
          block_relu_2: {Precision: {result: 'ap_fixed<8,3>'}}
          block.add: {Precision: {result: 'ap_fixed<10,4>'}}
    """))
    r = cli("simulate", "--model", model, "--hls-config", config, "--device", "pynq-z2", "--no-plot",
            "--out", tmp_path / "sim")
    assert r.code == 0, r.err
    layers = {l["name"]: l["detail"] for l in json.loads((tmp_path / "sim" / "report.json").read_text())["layers"]}
    assert [layers[n]["result_bits"] for n in ("block.relu", "block.add", "block.relu_2", "relu", "relu_2")] == \
        [16, 10, 8, 16, 16]
    assert layers["block.c1"]["reuse_factor"] == 8
    clean = source_graph(build_model(model).eval(), (1, 28, 28))
    assert layer_targets(["block_relu_2", "block.add", "block.relu", "relu_2"], clean, "settings") == \
        {"block_relu_2": "block_relu_2", "block.add": "block_add", "block.relu": "block_relu", "relu_2": "relu_2"}
    config.write_text("LayerName:\n  relu_1: {Precision: {result: 'ap_fixed<8,3>'}}\n")
    r = cli("simulate", "--model", model, "--hls-config", config, "--device", "pynq-z2", "--no-plot",
            "--out", tmp_path / "sim2")
    assert one_line_error(r) and "unknown layer 'relu_1'" in r.err
    with pytest.raises(ConfigError, match="unknown layer 'relu_1'"):
        layer_targets(["relu_1"], clean, "precision override")


SIGNAL_FILE = textwrap.dedent("""
    import torch.nn as nn

    def signal(num_classes=5):
        return nn.Sequential(nn.Conv1d(4, 8, 3), nn.ReLU(), nn.AdaptiveAvgPool1d(1), nn.Flatten(),
                             nn.Linear(8, num_classes))
""")


def test_an_unknown_input_shape_is_one_message_in_every_command(cli, tmp_path):
    """simulate said 'takes no in_shape argument', export 'is unknown', both asked a Conv1d model for C,H,W."""
    path = tmp_path / "signal.py"
    path.write_text(SIGNAL_FILE)
    expected = "the input shape of signal.py:signal is unknown; give --input-shape C,L (channels, length)"
    sim = cli("simulate", "--model", f"{path}:signal", "--device", "xcu250", "--out", tmp_path / "s")
    export = cli("export", "--model", f"{path}:signal", "--target", "hls", "--out", tmp_path / "e")
    for r in (sim, export):
        assert one_line_error(r) and expected in r.err, r.err
