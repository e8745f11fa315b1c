"""Every subcommand answers bad input with exit code 2 and exactly one line on stderr, never a traceback.

Placeholders: {bad} is the session folder of broken files (conftest.py), {tmp} this test's tmp_path.
"""
from __future__ import annotations

import pytest

from tests.cli_checks import assert_one_line_error

JET = ["--checkpoint", "{bad}/good.pt"]
TRAIN = ["train", "jet_mlp_synthetic", "--epochs", "1"]
SIM = ["simulate", "--model", "jet_mlp", "--device", "xc7z020", "--out", "{tmp}/sim", "--no-plot"]
EXPORT_HLS = ["export", *JET, "--target", "hls", "--out", "{tmp}/exp"]

CASES = {
    # unknown names, with close-match suggestions
    "train unknown model": (["train", "--model", "lenet55", "--dataset", "synthetic"], "did you mean: lenet5"),
    "train unknown method": ([*TRAIN, "--method", "magnitud"], "did you mean: magnitude"),
    "train unknown dataset": (["train", "--model", "jet_mlp", "--dataset", "mnistt"], "did you mean: mnist"),
    "train unknown recipe": (["train", "jet_mlp_synth"], "did you mean: jet_mlp_synthetic"),
    "train unknown optimizer": ([*TRAIN, "--optimizer", "adamm"], "optim.name"),
    "train unknown method param": ([*TRAIN, "--method", "magnitude", "--param", "densty=0.5"],
                                   "did you mean: target_density"),
    "export unknown model": (["export", "--model", "jet_mpl", "--target", "onnx", "--out", "{tmp}/e"],
                             "did you mean: jet_mlp"),
    "export unknown dataset": (["export", *JET, "--target", "onnx", "--dataset", "mnistt", "--out", "{tmp}/e"],
                               "did you mean: mnist"),
    "export unknown target": (["export", *JET, "--target", "bitstream", "--out", "{tmp}/e"], "unknown target"),
    "export unknown backend": ([*EXPORT_HLS, "--backend", "Quartus2"], "unknown backend"),
    "simulate unknown device": (["simulate", "--model", "jet_mlp", "--device", "xc7z02"], "did you mean: xc7z020"),
    "simulate unknown template": ([*SIM, "--template", "tiledd"], "did you mean: tiled"),
    "simulate unknown model": (["simulate", "--model", "jet_mpl", "--device", "xc7z020"], "did you mean: jet_mlp"),
    "sweep unknown spec": (["sweep", "jet_mlp_reus"], "did you mean: jet_mlp_reuse"),
    "sweep unknown device": (["sweep", "{bad}/sweep_device.yaml", "--out", "{tmp}/w"], "did you mean: xc7z020"),
    "sweep unknown template": (["sweep", "{bad}/sweep_template.yaml", "--out", "{tmp}/w"], "tiled"),
    "sweep unknown method": (["sweep", "{bad}/sweep_method.yaml", "--out", "{tmp}/w"], "did you mean: magnitude"),
    "sweep unknown recipe": (["sweep", "{bad}/sweep_recipe.yaml", "--out", "{tmp}/w"], "neither a file"),
    "data info unknown dataset": (["data", "info", "mnistt"], "did you mean: mnist"),
    "data fetch unknown dataset": (["data", "fetch", "mnistt"], "did you mean: mnist"),
    "list unknown kind": (["list", "modelz"], "is not one of"),
    "unknown command": (["trian"], "Did you mean 'train'"),
    "unknown option": (["train", "--bogus"], "No such option"),
    # malformed or wrong-typed YAML
    "recipe malformed": (["train", "{bad}/malformed.yaml"], "malformed YAML"),
    "recipe wrong type": (["train", "{bad}/wrong_type.yaml"], "model.width"),
    "recipe top-level list": (["train", "{bad}/top_list.yaml"], "expected a mapping"),
    "recipe unknown key": (["train", "{bad}/unknown_key.yaml"], "did you mean: model"),
    "recipe unknown model": (["train", "{bad}/unknown_model.yaml"], "did you mean: lenet5"),
    "recipe not utf-8": (["train", "{bad}/not_utf8.yaml"], "cannot read"),
    "recipe missing": (["train", "{bad}/nope.yaml"], "not found"),
    "recipe bad --set": ([*TRAIN, "--set", "optim.lrr=1"], "did you mean: lr"),
    "recipe --set without =": ([*TRAIN, "--set", "optim.lr"], "KEY=VALUE"),
    "recipe negative epochs": (["train", "jet_mlp_synthetic", "--epochs", "-1"], "train.epochs"),
    "recipe non-integer option": (["train", "jet_mlp_synthetic", "--epochs", "abc"], "--epochs"),
    "sweep malformed": (["sweep", "{bad}/malformed.yaml", "--out", "{tmp}/w"], "malformed YAML"),
    "sweep top-level list": (["sweep", "{bad}/top_list.yaml", "--out", "{tmp}/w"], "expected a mapping"),
    "sweep grid is a list": (["sweep", "{bad}/sweep_grid_list.yaml", "--out", "{tmp}/w"], "grid"),
    "device partial": ([*SIM[:3], "--device", "{bad}/device_partial.yaml"], "device_partial.yaml"),
    "device not a mapping": ([*SIM[:3], "--device", "{bad}/device_string.yaml"], "expected a mapping"),
    "device malformed": ([*SIM[:3], "--device", "{bad}/malformed.yaml"], "malformed YAML"),
    "precision yaml malformed": ([*EXPORT_HLS, "--precision", "{bad}/malformed.yaml"], "malformed YAML"),
    # missing, corrupt or mismatched checkpoints
    "compact missing checkpoint": (["compact", "{bad}/nope.pt"], "not found"),
    "compact truncated checkpoint": (["compact", "{bad}/truncated.pt", "--out", "{tmp}/c"], "corrupt"),
    "compact garbage checkpoint": (["compact", "{bad}/garbage.pt", "--out", "{tmp}/c"], "corrupt"),
    "compact plain state_dict": (["compact", "{bad}/plain_state_dict.pt", "--out", "{tmp}/c"], "not a codesign"),
    "compact mismatched checkpoint": (["compact", "{bad}/mismatch.pt", "--out", "{tmp}/c"], "does not match"),
    "compact checkpoint of unknown model": (["compact", "{bad}/unknown_model.pt", "--out", "{tmp}/c"],
                                            "did you mean: jet_mlp"),
    "compact folder without a run": (["compact", "{bad}/full"], "holds no train/model.pt"),
    "compact samples without a check": (["compact", "{bad}/good.pt", "--no-check", "--samples", "3", "--out",
                                         "{tmp}/c"], "--samples sizes the equivalence check"),
    "compact input shape against the file's": (["compact", "{bad}/good.pt", "--input-shape", "3,32,32", "--out",
                                                "{tmp}/c"], "differs from the input shape"),
    "export missing checkpoint": (["export", "--checkpoint", "{bad}/nope.pt", "--target", "onnx",
                                   "--out", "{tmp}/e"], "not found"),
    "export truncated checkpoint": (["export", "--checkpoint", "{bad}/truncated.pt", "--target", "onnx",
                                     "--out", "{tmp}/e"], "corrupt"),
    "export mismatched checkpoint": (["export", "--checkpoint", "{bad}/mismatch.pt", "--target", "onnx",
                                      "--out", "{tmp}/e"], "does not match"),
    "simulate corrupt checkpoint": (["simulate", "--checkpoint", "{bad}/truncated.pt", "--device", "xc7z020"],
                                    "corrupt"),
    "train unknown data option": (["train", "--model", "jet_mlp", "--dataset", "synthetic", "--set",
                                   "data.options={in_shap: [16]}", "--out", "{tmp}/r"], "did you mean: in_shape"),
    "train option of another dataset": (["train", "--model", "lenet5", "--dataset", "mnist_mini", "--set",
                                         "data.options.num_classes=5", "--out", "{tmp}/r"], "no option"),
    "train --resume-from missing": ([*TRAIN, "--resume-from", "{bad}/nope", "--new-data", "0:10"], "not found"),
    "train resume of another recipe": (None, "different"),   # built in the test below
    # ONNX
    "simulate truncated onnx": (["simulate", "--onnx", "{bad}/truncated.onnx", "--device", "xc7z020"],
                                "not a readable ONNX"),
    "simulate garbage onnx": (["simulate", "--onnx", "{bad}/garbage.onnx", "--device", "xc7z020"],
                              "not a readable ONNX"),
    "simulate unsupported onnx op": (["simulate", "--onnx", "{bad}/unsupported.onnx", "--device", "xc7z020"],
                                     "Einsum"),
    "simulate missing onnx": (["simulate", "--onnx", "{bad}/nope.onnx", "--device", "xc7z020"], "not found"),
    "simulate two sources": (["simulate", "--model", "jet_mlp", "--onnx", "{bad}/good.onnx", "--device",
                              "xc7z020"], "exactly one"),
    # input shape mismatch
    "train model does not fit the data": (["train", "--model", "lenet5", "--dataset", "synthetic", "--set",
                                           "data.options={in_shape: [16], n_train: 64, n_test: 32}",
                                           "--out", "{tmp}/r"], "does not fit its input"),
    "export dataset of another shape": ([*EXPORT_HLS, "--dataset", "mnist_mini"], "built for inputs (16,)"),
    # impossible configs
    "export reuse factor 0": ([*EXPORT_HLS, "--reuse-factor", "0"], "reuse factor"),
    "export negative clock": ([*EXPORT_HLS, "--clock-period", "-1"], "--clock-period must be a finite number > 0"),
    "export precision does not parse": ([*EXPORT_HLS, "--precision", "fixed<16"], "not understood"),
    "export precision nonsense": ([*EXPORT_HLS, "--precision", "banana"], "not understood"),
    "export unknown strategy": ([*EXPORT_HLS, "--strategy", "Fast"], "Latency or Resource"),
    "export unknown io type": ([*EXPORT_HLS, "--io-type", "io_x"], "io_type"),
    "export agreement above 1": ([*EXPORT_HLS, "--target-agreement", "2"], "--target-agreement"),
    "export zero csim samples": (["export", *JET, "--target", "fpga", "--csim-samples", "0", "--out", "{tmp}/e"],
                                 "--csim-samples"),
    "simulate reuse factor 0": ([*SIM, "--reuse-factor", "0"], "reuse factor"),
    "simulate precision does not parse": ([*SIM, "--precision", "ap_fixed<16"], "not understood"),
    "simulate width 0": ([*SIM, "--width", "0"], "width"),
    "simulate clock 0": ([*SIM, "--clock-mhz", "0"], "clock"),
    "simulate bad unroll": ([*SIM, "--template", "tiled", "--unroll", "1,2"], "unroll"),
    "train density above 1": ([*TRAIN, "--method", "magnitude", "--param", "target_density=1.5"],
                              "target_density"),
    "train density 0": ([*TRAIN, "--method", "magnitude", "--param", "target_density=0"], "target_density"),
    "sweep density above 1": (["sweep", "{bad}/sweep_density.yaml", "--out", "{tmp}/w"], "(0, 1]"),
    "sweep density 0": (["sweep", "{bad}/sweep_density0.yaml", "--out", "{tmp}/w"], "(0, 1]"),
    "sweep precision does not parse": (["sweep", "{bad}/sweep_precision.yaml", "--out", "{tmp}/w"],
                                       "not understood"),
    "sweep reuse factor 0": (["sweep", "{bad}/sweep_reuse.yaml", "--out", "{tmp}/w"], "reuse_factor"),
    "sweep unknown executor": (["sweep", "jet_mlp_reuse", "--executor", "slurm", "--out", "{tmp}/w"],
                               "unknown executor"),
    "sweep limit 0": (["sweep", "jet_mlp_reuse", "--limit", "0", "--out", "{tmp}/w"], "--limit"),
    # output folders: exist (refused unless --force), or a file in the way
    "train into a foreign folder": ([*TRAIN, "--out", "{bad}/full"], "--force"),
    "export into a foreign folder": (["export", *JET, "--target", "onnx", "--out", "{bad}/full"], "--force"),
    "compact into a foreign folder": (["compact", "{bad}/good.pt", "--out", "{bad}/full"], "--force"),
    "simulate into a foreign folder": ([*SIM[:-3], "--out", "{bad}/full"], "--force"),
    "sweep into a foreign folder": (["sweep", "jet_mlp_reuse", "--out", "{bad}/full"], "--force"),
    "train out is a file": ([*TRAIN, "--out", "{bad}/good.pt"], "is a file"),
    "export out below a file": (["export", *JET, "--target", "onnx", "--out", "{bad}/good.pt/sub"], "not a folder"),
    "simulate out below a file": ([*SIM[:-3], "--out", "{bad}/good.pt/sub"], "not a folder"),
    "sweep out below a file": (["sweep", "jet_mlp_reuse", "--out", "{bad}/good.pt/sub", "--limit", "1"],
                               "not a folder"),
    "report of a folder without results": (["report", "{bad}/full"], "results.csv"),
    "report of a missing folder": (["report", "{bad}/nope"], "results.csv"),
    "data info of a missing local dataset": (["data", "info", "cifar10", "--data-dir", "{tmp}"], "not found"),
}


def _args(template, bad, tmp):
    return [a.replace("{bad}", str(bad)).replace("{tmp}", str(tmp)) for a in template]


@pytest.mark.parametrize("case", [c for c, (args, _) in CASES.items() if args is not None])
def test_bad_input_is_one_line_and_exit_code_2(cli, bad, tmp_path, case):
    template, needle = CASES[case]
    assert_one_line_error(cli(*_args(template, bad, tmp_path)), needle)


def test_resume_with_another_recipe_is_one_line(cli, tmp_path):
    tiny = ["train", "--model", "jet_mlp", "--width", "0.25", "--dataset", "synthetic", "--set",
            "data.options={in_shape: [16], num_classes: 5, n_train: 64, n_test: 32}", "--epochs", "1",
            "--out", str(tmp_path / "run")]
    assert cli(*tiny).code == 0
    assert_one_line_error(cli(*tiny, "--lr", "0.5", "--resume"), CASES["train resume of another recipe"][1])
    assert_one_line_error(cli(*tiny), "--resume")           # a finished run is not overwritten silently


def test_force_writes_over_an_existing_folder(cli, bad, tmp_path):
    out = tmp_path / "sim"
    args = ["simulate", "--model", "jet_mlp", "--device", "xc7z020", "--no-plot", "--out", str(out)]
    assert cli(*args).code == 0
    assert_one_line_error(cli(*args), "--force")
    assert cli(*args, "--force").code == 0
    compact = ["compact", str(bad / "good.pt"), "--out", str(tmp_path / "c"), "--samples", "2"]
    assert cli(*compact).code == 0 and cli(*compact).code == 2 and cli(*compact, "--force").code == 0


def test_incremental_update_into_a_foreign_folder_and_from_a_training_checkpoint(cli, bad, tmp_path):
    run = tmp_path / "run"
    tiny = ["--model", "jet_mlp", "--width", "0.25", "--dataset", "synthetic", "--set",
            "data.options={in_shape: [16], num_classes: 5, n_train: 256, n_test: 32}", "--epochs", "1"]
    assert cli("train", *tiny, "--train-limit", "100", "--out", run).code == 0
    update = ["train", *tiny, "--resume-from", run, "--new-data", "100:200", "--compare", "none"]
    assert_one_line_error(cli(*update, "--out", bad / "full"), "--force")
    assert_one_line_error(cli("compact", run / "train" / "ckpt.pt", "--out", tmp_path / "c"), "model.pt")


@pytest.mark.parametrize("command", [
    ["export", "--checkpoint", "{bad}/good.pt", "--target", "fpga", "--out", "{tmp}/e"],
    ["sweep", "{tmp}/csim.yaml", "--out", "{tmp}/w"],
])
def test_csim_without_gxx_is_one_line_before_any_work(cli, bad, tmp_path, monkeypatch, command):
    import shutil

    (tmp_path / "csim.yaml").write_text("name: c\ntrain: {mode: none, weights: random}\n"
                                        "grid: {model: [jet_mlp]}\ncsim: {enabled: true}\n")
    real = shutil.which
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None if name == "g++" else real(name, *a, **k))
    assert_one_line_error(cli(*_args(command, bad, tmp_path)), "needs g++")
    assert not (tmp_path / "e").exists() and not (tmp_path / "w").exists()
