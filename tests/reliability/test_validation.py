"""One validation layer per kind of input, each tried with several bad values: model files (missing keys,
wrong types, wrong shapes, NaN weights), numbers (command line, recipes, sweep specs), datasets (corrupt
headers, NaN images, labels out of range, splits of different shapes), device files (zero clock, zero
multipliers per DSP, NaN resources, zero bandwidth), sweep specs (names leaving runs/sweeps, coerced
reuse factors, unbounded grids, missing model files), results tables and FPGA part names. Every case is
exit code 2 and one line on stderr, before any work (no checkpoint, no run folder)."""
from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from codesign.checkpoint import save_model
from codesign.data.download import _idx_bytes
from codesign.sim.device import _package_dir
from codesign.zoo import create_model

from tests.cli_checks import assert_one_line_error

JET_DATA = "data.options={in_shape: [16], num_classes: 5, n_train: 64, n_test: 32}"
TINY_TRAIN = ["train", "--model", "jet_mlp", "--width", "0.25", "--dataset", "synthetic", "--set", JET_DATA,
              "--epochs", "1"]


def _checkpoints(folder: Path) -> None:
    torch.manual_seed(0)
    model = create_model("jet_mlp", width=0.25, in_shape=(16,), num_classes=5)
    save_model(folder / "good.pt", model, source="test")
    obj = torch.load(folder / "good.pt", weights_only=False)
    sd, spec = obj["state_dict"], obj["model_spec"]
    variants = {
        "no_spec": {k: v for k, v in obj.items() if k != "model_spec"},
        "no_weights": {k: v for k, v in obj.items() if k != "state_dict"},
        "spec_list": {**obj, "model_spec": [1, 2]},
        "spec_no_name": {**obj, "model_spec": {k: v for k, v in spec.items() if k != "name"}},
        "spec_shape_text": {**obj, "model_spec": {**spec, "in_shape": "abc"}},
        "spec_classes_text": {**obj, "model_spec": {**spec, "num_classes": "five"}},
        "spec_width_inf": {**obj, "model_spec": {**spec, "width": math.inf}},
        "weights_list": {**obj, "state_dict": [1, 2]},
        "weight_text": {**obj, "state_dict": {**sd, "fc1.weight": "hello"}},
        "weight_3d": {**obj, "state_dict": {**sd, "fc1.weight": torch.zeros(3, 3, 3)}},
        "weight_resized_alone": {**obj, "state_dict": {**sd, "fc1.weight": torch.zeros(7, 16)}},
        "weight_nan": {**obj, "state_dict": {**sd, "fc2.weight": torch.full_like(sd["fc2.weight"], math.nan)}},
        "weight_inf": {**obj, "state_dict": {**sd, "fc3.bias": torch.full_like(sd["fc3.bias"], math.inf)}},
        "weight_int": {**obj, "state_dict": {**sd, "fc1.weight": sd["fc1.weight"].to(torch.int64)}},
    }
    for name, content in variants.items():
        torch.save(content, folder / f"{name}.pt")


def _idx_folder(folder: Path, *, train_x=None, train_y=None, test_x=None, test_y=None, raw=None) -> Path:
    """A data folder with an IDX 'mnist' of 8 training and 4 test images (overrides replace parts)."""
    rng = np.random.default_rng(0)
    arrays = {"train-images-idx3-ubyte": rng.integers(0, 255, (8, 28, 28)) if train_x is None else train_x,
              "train-labels-idx1-ubyte": np.arange(8) % 10 if train_y is None else train_y,
              "t10k-images-idx3-ubyte": rng.integers(0, 255, (4, 28, 28)) if test_x is None else test_x,
              "t10k-labels-idx1-ubyte": np.arange(4) if test_y is None else test_y}
    target = folder / "mnist"
    target.mkdir(parents=True)
    for stem, arr in arrays.items():
        (target / stem).write_bytes(_idx_bytes(np.asarray(arr)))
    for stem, data in (raw or {}).items():
        (target / stem).write_bytes(data)
    return folder


def _float_idx(arr: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x0D, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    return header + arr.astype(">f4").tobytes()


def _datasets(folder: Path) -> None:
    images = np.zeros((8, 28, 28))
    _idx_folder(folder / "labels_high", train_y=np.array([0, 1, 2, 3, 4, 5, 6, 12]))
    _idx_folder(folder / "test_other_shape", test_x=np.zeros((4, 32, 32)))
    _idx_folder(folder / "header_dims", raw={"train-images-idx3-ubyte": bytes([0, 0, 8, 200]) + b"\0" * 16})
    _idx_folder(folder / "header_cut", raw={"t10k-labels-idx1-ubyte": bytes([0, 0, 8, 3, 0, 0])})
    _idx_folder(folder / "header_size", raw={"train-labels-idx1-ubyte": bytes([0, 0, 8, 1, 255, 255, 255, 255])})
    _idx_folder(folder / "labels_as_images", raw={"train-images-idx3-ubyte": _idx_bytes(np.arange(8))})
    nan = images.copy()
    nan[5, 3, 3] = math.nan
    _idx_folder(folder / "nan_image", raw={"train-images-idx3-ubyte": _float_idx(nan)})
    gz = _idx_folder(folder / "bad_gzip")
    (gz / "mnist" / "train-images-idx3-ubyte").unlink()
    (gz / "mnist" / "train-images-idx3-ubyte.gz").write_bytes(b"not gzip at all")


def _devices(folder: Path) -> None:
    base = yaml.safe_load((_package_dir() / "xc7z020.yaml").read_text())
    changes = {"clock_zero": ("clock", "default", 0), "mults_zero": ("dsp", "fixed_mults_per_dsp", 0),
               "lut_nan": ("resources", "lut", math.nan), "bandwidth_zero": ("dram", "peak_bandwidth", 0),
               "dsp_text": ("resources", "dsp", "many"), "efficiency_high": ("dram", "efficiency", 1.5),
               "energy_inf": ("energy", "mac_16x16", math.inf), "clock_1thz": ("clock", "default", 1e6),
               "clock_1khz": ("clock", "default", 0.001)}
    for name, (section, key, value) in changes.items():
        data = copy.deepcopy(base)
        data["name"] = name
        data[section][key]["value"] = value
        (folder / f"{name}.yaml").write_text(yaml.safe_dump(data))
    escaping = copy.deepcopy(base)
    escaping["name"] = "../../escaped"
    (folder / "name_escapes.yaml").write_text(yaml.safe_dump(escaping))


def _onnx(folder: Path) -> None:
    """Graphs ONNX's checker accepts but the simulator cannot map as they are."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    def save(name, node, x, y, weight):
        graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("X", TensorProto.FLOAT, x)],
                                  [helper.make_tensor_value_info("Y", TensorProto.FLOAT, y)],
                                  [numpy_helper.from_array(np.ones(weight, np.float32), "W")])
        onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), folder / f"{name}.onnx")

    conv = helper.make_node("Conv", ["X", "W"], ["Y"], kernel_shape=[3, 3], name="c")
    save("conv_batch_open", conv, ["N", 3, 32, 32], ["N", 8, 30, 30], (8, 3, 3, 3))
    save("conv_symbolic", conv, ["N", 3, "H", "W"], ["N", 8, "H2", "W2"], (8, 3, 3, 3))
    save("conv_channels", conv, [1, 3, 32, 32], [1, 8, 30, 30], (8, 5, 3, 3))
    save("dense_unknown", helper.make_node("MatMul", ["X", "W"], ["Y"], name="m"), [1, 0], [1, 4], (16, 4))
    save("dense_inner", helper.make_node("MatMul", ["X", "W"], ["Y"], name="m"), [1, 16], [1, 4], (7, 4))
    save("gemm_inner", helper.make_node("Gemm", ["X", "W"], ["Y"], transB=1, name="g"), [1, 16], [1, 4], (4, 7))


SPEC = "recipe: jet_mlp_synthetic\n"
SPECS = {
    "name_up": "name: ../../x\n" + SPEC,
    "name_absolute": "name: /tmp/x\n" + SPEC,
    "name_dot": "name: .hidden\n" + SPEC,
    "reuse_text": "name: s\n" + SPEC + "grid: {reuse_factor: ['4']}\n",
    "reuse_bool": "name: s\n" + SPEC + "grid: {reuse_factor: [true]}\n",
    "reuse_huge": "name: s\n" + SPEC + "grid: {reuse_factor: [1e30]}\n",
    "reuse_fraction": "name: s\n" + SPEC + "grid: {reuse_factor: [2.5]}\n",
    "reuse_range_huge": "name: s\n" + SPEC + "grid: {reuse_factor: {low: 1, high: 1e30, num: 4}}\n",
    "density_nan": "name: s\n" + SPEC + "grid: {density: [.nan]}\n",
    "width_inf": "name: s\n" + SPEC + "grid: {width: [.inf]}\n",
    "seed_huge": "name: s\n" + SPEC + "train: {seed: 100000000000000000000000}\n",
    "grid_1e9": "name: s\ngrid: {model: [jet_mlp], density: {low: 0.01, high: 1, num: 1000000000}, "
                "reuse_factor: [1, 2], method: [magnitude]}\n",
    "grid_product": "name: s\ngrid: {model: [jet_mlp], reuse_factor: {low: 1, high: 64, num: 60}, method: [magnitude], "
                    "density: {low: 0.1, high: 1, num: 60}, precision: [" +
                    ", ".join(f"'ap_fixed<{w},6>'" for w in range(8, 38)) + "]}\n",
    "random_samples": "name: s\ngrid: {model: [jet_mlp]}\nsearch: {kind: random, samples: 100000000}\n",
    "weights_missing": "name: s\ntrain: {mode: none, weights: /nonexistent/model.pt}\ngrid: {model: [jet_mlp]}\n",
    "weights_garbage": "name: s\ntrain: {mode: none, weights: '{bad}/garbage.bin'}\ngrid: {model: [jet_mlp]}\n",
}
RECIPES = {
    "lr_inf": "model: {name: jet_mlp}\ndata: {name: synthetic}\noptim: {lr: .inf}\n",
    "seed_huge": "model: {name: jet_mlp}\ndata: {name: synthetic}\ntrain: {seed: 100000000000000000000000}\n",
    "epochs_text": "model: {name: jet_mlp}\ndata: {name: synthetic}\ntrain: {epochs: '5'}\n",
    "name_escapes": "name: ../../x\nmodel: {name: jet_mlp}\ndata: {name: synthetic}\n",
    "width_nan": "model: {name: jet_mlp, width: .nan}\ndata: {name: synthetic}\n",
    "clock_period_tiny": "model: {name: jet_mlp}\ndata: {name: synthetic}\ntarget: {clock_period_ns: 1.0e-9}\n",
}


@pytest.fixture(scope="module")
def bad(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("validation")
    _checkpoints(folder)
    _datasets(folder / "data")
    _devices(folder)
    _onnx(folder)
    (folder / "garbage.bin").write_bytes(b"not a model")
    for name, text in SPECS.items():
        (folder / f"spec_{name}.yaml").write_text(text.replace("{bad}", str(folder)))
    for name, text in RECIPES.items():
        (folder / f"recipe_{name}.yaml").write_text(text)
    return folder


CHECKPOINTS = {
    "no_spec": "lacks 'model_spec'", "no_weights": "lacks 'state_dict'", "spec_list": "model_spec is a list",
    "spec_no_name": "model_spec.name", "spec_shape_text": "model_spec.in_shape", "spec_classes_text":
    "model_spec.num_classes", "spec_width_inf": "model_spec.width", "weights_list": "not a mapping of tensors",
    "weight_text": "'fc1.weight' is a str", "weight_3d": "3 dimensions", "weight_resized_alone":
    "do not fit together", "weight_nan": "'fc2.weight' holds NaN", "weight_inf": "'fc3.bias' holds NaN or infinite",
    "weight_int": "expected floating point",
}


@pytest.mark.parametrize("command", ["simulate", "export", "compact"])
@pytest.mark.parametrize("name", sorted(CHECKPOINTS))
def test_damaged_model_files(cli, bad, tmp_path, capfd, command, name):
    path = bad / f"{name}.pt"
    args = {"simulate": ["simulate", "--checkpoint", path, "--device", "xc7z020", "--no-plot", "--out", tmp_path / "o"],
            "export": ["export", "--checkpoint", path, "--target", "onnx", "--out", tmp_path / "o"],
            "compact": ["compact", path, "--out", tmp_path / "o"]}[command]
    assert_one_line_error(cli(*args), CHECKPOINTS[name])
    assert "Traceback" not in capfd.readouterr().err        # nothing printed behind the CLI's back (torch.fx)
    assert not (tmp_path / "o").exists()


NUMBERS = {
    "seed beyond 64 bits": ([*TINY_TRAIN, "--seed", str(10 ** 25)], "--seed"),
    "width inf": ([*TINY_TRAIN, "--width", "inf"], "--width"),
    "lr inf": ([*TINY_TRAIN, "--lr", "inf"], "--lr"),
    "lr nan": ([*TINY_TRAIN, "--lr", "nan"], "--lr"),
    "simulate width 1e300": (["simulate", "--model", "jet_mlp", "--width", "1e300", "--device", "xc7z020"], "width"),
    "simulate reuse 1e30": (["simulate", "--model", "jet_mlp", "--reuse-factor", str(10 ** 30), "--device",
                             "xc7z020"], "--reuse-factor"),
    "simulate clock nan": (["simulate", "--model", "jet_mlp", "--clock-mhz", "nan", "--device", "xc7z020"],
                           "--clock-mhz"),
    "export clock nan": (["export", "--model", "jet_mlp", "--target", "hls", "--clock-period", "nan"],
                         "--clock-period"),
    "export clock inf": (["export", "--model", "jet_mlp", "--target", "hls", "--clock-period", "inf"],
                         "--clock-period"),
    "export reuse 2**40": (["export", "--model", "jet_mlp", "--target", "hls", "--reuse-factor", str(2 ** 40)],
                           "reuse factor"),
    "export seed beyond 64 bits": (["export", "--model", "jet_mlp", "--target", "onnx", "--seed", str(2 ** 64)],
                                   "--seed"),
    "synthetic size text": (["train", "--model", "jet_mlp", "--dataset", "synthetic", "--set",
                             "data.options={in_shape: [16], n_train: many}"], "n_train"),
    "synthetic shape 0": (["train", "--model", "jet_mlp", "--dataset", "synthetic", "--set",
                           "data.options={in_shape: [0]}"], "in_shape"),
    "--set lr 1e999": ([*TINY_TRAIN, "--set", "optim.lr=1e999"], "optim.lr"),
    "--set reuse factor true": ([*TINY_TRAIN, "--set", "target.reuse_factor=true"], "target.reuse_factor"),
    "--set seed text": ([*TINY_TRAIN, "--set", "train.seed='3'"], "train.seed"),
    "simulate clock 1 THz": (["simulate", "--model", "jet_mlp", "--clock-mhz", "1e12", "--device", "xc7z020"],
                             "--clock-mhz: an FPGA clock runs at 1 to 1000 MHz, got 1e+12"),
    "simulate clock 1 kHz": (["simulate", "--model", "jet_mlp", "--clock-mhz", "0.001", "--device", "xc7z020"],
                             "--clock-mhz: an FPGA clock runs at 1 to 1000 MHz, got 0.001"),
    "export clock period 1 fs": (["export", "--model", "jet_mlp", "--target", "hls", "--clock-period", "1e-9"],
                                 "--clock-period: an FPGA clock period is 1 to 1000 ns, got 1e-09"),
    "export clock period 1 ms": (["export", "--model", "jet_mlp", "--target", "hls", "--clock-period", "1e6"],
                                 "--clock-period: an FPGA clock period is 1 to 1000 ns, got 1e+06"),
    "train --fit clock 1 fs": ([*TINY_TRAIN, "--method", "nest", "--fit", "xc7z020", "--set",
                                "target.clock_period_ns=1e-9"], "an FPGA clock period is 1 to 1000 ns, got 1e-09"),
}


@pytest.mark.parametrize("case", sorted(NUMBERS))
def test_numbers_out_of_range(cli, tmp_path, case):
    args, needle = NUMBERS[case]
    assert_one_line_error(cli(*args, "--out", tmp_path / "o"), needle)
    assert not (tmp_path / "o").exists()


def test_training_that_diverges_stops_before_saving_a_nan_model(cli, tmp_path):
    """A finite but absurd learning rate: the first non-finite training loss ends the run (exit 2, one line)
    before that epoch's checkpoint, and no model.pt is written."""
    run = tmp_path / "run"
    result = cli(*TINY_TRAIN[:-1], "3", "--lr", "1e30", "--out", run)
    assert result.code == 2 and "Traceback" not in result.err, result.err
    last = result.err.strip().splitlines()[-1]                 # after the epoch lines training prints
    assert last.startswith("error: training diverged in epoch") and "optim.lr is 1e+30" in last, last
    assert (run / "train" / "ckpt.pt").exists() and not (run / "train" / "model.pt").exists()


@pytest.mark.parametrize("name, needle", sorted({
    "lr_inf": "optim.lr", "seed_huge": "train.seed", "epochs_text": "train.epochs",
    "name_escapes": "name", "width_nan": "model.width",
    "clock_period_tiny": "target.clock_period_ns: an FPGA clock period is 1 to 1000 ns, got 1e-09"}.items()))
def test_recipe_values(cli, bad, tmp_path, name, needle):
    assert_one_line_error(cli("train", bad / f"recipe_{name}.yaml", "--out", tmp_path / "o"), needle)


def test_absurd_epochs_are_refused_when_a_recipe_or_spec_loads(tmp_path):
    """10^11 epochs trained on (a cosine schedule spanning them); checked on loading, so that a regression fails
    here instead of training for ever."""
    from codesign.config import load_recipe
    from codesign.errors import ConfigError
    from codesign.sweep.spec import load_spec

    needle = "train.epochs: at most 1000000 epochs, got 100000000000"
    with pytest.raises(ConfigError, match=needle):
        load_recipe(None, {"model.name": "jet_mlp", "data.name": "synthetic", "train.epochs": 10 ** 11})
    (tmp_path / "r.yaml").write_text("model: {name: jet_mlp}\ndata: {name: synthetic}\ntrain: {epochs: 100000000000}\n")
    with pytest.raises(ConfigError, match=needle):
        load_recipe(tmp_path / "r.yaml")
    assert load_recipe(None, {"train.epochs": 10 ** 6}).train.epochs == 10 ** 6
    (tmp_path / "s.yaml").write_text("name: s\nrecipe: jet_mlp_synthetic\ntrain: {mode: scratch, base_epochs: 10000000}\n")
    with pytest.raises(ConfigError, match="train.base_epochs: at most 1000000 epochs, got 10000000"):
        load_spec(tmp_path / "s.yaml")


def test_yaml_exponents_are_numbers(tmp_path):
    """YAML 1.1 reads 1e-3 as a string; recipes read it as the number everyone means."""
    from codesign.config import load_recipe, parse_assignment

    (tmp_path / "r.yaml").write_text("optim: {lr: 1e-3, weight_decay: 5E-4}\n")
    assert load_recipe(tmp_path / "r.yaml").optim.lr == 0.001
    assert parse_assignment("optim.lr=2e-2") == (["optim", "lr"], 0.02)


DATASETS = {
    "labels_high": "label 12 of sample 7 is outside 0..9", "test_other_shape": "(1, 32, 32)",
    "header_dims": "not an IDX file", "header_cut": "truncated inside its header", "header_size": "is truncated",
    "labels_as_images": "expected 3", "nan_image": "sample 5 holds NaN", "bad_gzip": "cannot be read",
}


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_corrupt_datasets_fail_before_training(cli, bad, tmp_path, name):
    run = tmp_path / "run"
    result = cli("train", "--model", "lenet300_100", "--width", "0.1", "--dataset", "mnist", "--epochs", "1",
                 "--data-dir", bad / "data" / name, "--out", run)
    assert_one_line_error(result, DATASETS[name])
    assert not (run / "train" / "ckpt.pt").exists()


def test_data_checks_cover_every_loader():
    """The checks run on what any loader returns (here: one registered on the fly)."""
    from codesign.data import DATASETS as REGISTRY, DatasetSpec, load_dataset
    from codesign.errors import DataError

    def loader(_dir):
        x = torch.zeros(4, 3)
        return (x, torch.tensor([0, 1, 2, -1])), (x, torch.tensor([0, 1, 1, 0]))

    REGISTRY.register("negative_labels")(DatasetSpec("negative_labels", (3,), 3, "test", loader))
    try:
        with pytest.raises(DataError, match="label -1 of sample 3"):
            load_dataset("negative_labels")
    finally:
        REGISTRY._items.pop("negative_labels")


DEVICES = {"clock_zero": "clock.default", "mults_zero": "dsp.fixed_mults_per_dsp", "lut_nan": "resources.lut",
           "bandwidth_zero": "dram.peak_bandwidth", "dsp_text": "resources.dsp", "efficiency_high":
           "dram.efficiency", "energy_inf": "energy.mac_16x16", "name_escapes": "name",
           "clock_1thz": "clock.default: an FPGA clock runs at 1 to 1000 MHz, got 1e+06",
           "clock_1khz": "clock.default: an FPGA clock runs at 1 to 1000 MHz, got 0.001"}


@pytest.mark.parametrize("name", sorted(DEVICES))
def test_device_files(cli, bad, tmp_path, name):
    result = cli("simulate", "--model", "jet_mlp", "--device", bad / f"{name}.yaml", "--no-plot",
                 "--out", tmp_path / "o")
    assert_one_line_error(result, DEVICES[name])


ONNX = {"conv_symbolic": "symbolic dimension 'H' (axis 2)", "conv_channels": "do not take the 3 channels",
        "dense_unknown": "unknown or zero-size dimension (axis 1)", "dense_inner": "weights take 7 inputs but it reads a tensor "
        "of 16 values", "gemm_inner": "weights take 7 inputs"}


@pytest.mark.parametrize("name", sorted(ONNX))
def test_onnx_graphs_the_simulator_cannot_map(cli, bad, tmp_path, name):
    result = cli("simulate", "--onnx", bad / f"{name}.onnx", "--device", "xc7z020", "--no-plot", "--out", tmp_path / "o")
    assert_one_line_error(result, ONNX[name])
    assert not (tmp_path / "o").exists()


def test_an_open_batch_size_is_fine(bad):
    from codesign.sim import network_from_onnx

    layer, = network_from_onnx(bad / "conv_batch_open.onnx").layers
    assert (layer.in_shape, layer.out_shape) == ((3, 32, 32), (8, 30, 30))


SPEC_CASES = {
    "name_up": "name", "name_absolute": "name", "name_dot": "name", "reuse_text": "grid.reuse_factor",
    "reuse_bool": "grid.reuse_factor", "reuse_huge": "grid.reuse_factor", "reuse_fraction": "grid.reuse_factor",
    "reuse_range_huge": "grid.reuse_factor", "density_nan": "grid.density", "width_inf": "grid.width",
    "seed_huge": "train.seed", "grid_1e9": "2,000,000,000 points", "grid_product": "108,000 points",
    "random_samples": "search.samples", "weights_missing": "model file not found",
    "weights_garbage": "corrupt or not a codesign file",
}


@pytest.mark.parametrize("name", sorted(SPEC_CASES))
def test_sweep_specs(cli, bad, tmp_path, name):
    result = cli("sweep", bad / f"spec_{name}.yaml", "--out", tmp_path / "w")
    assert_one_line_error(result, SPEC_CASES[name])
    assert not (tmp_path / "w").exists()


def test_default_sweep_folder_stays_under_runs_sweeps(cli, bad, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert_one_line_error(cli("sweep", bad / "spec_name_up.yaml"), "a name takes letters")
    assert list(tmp_path.iterdir()) == []


@pytest.fixture(scope="module")
def finished_sweep(tmp_path_factory) -> Path:
    from codesign.sweep import run_sweep

    run = tmp_path_factory.mktemp("sweep") / "run"
    run_sweep({"name": "s", "train": {"mode": "none", "weights": "random"},
               "grid": {"model": ["jet_mlp"], "reuse_factor": [1, 2, 4]}}, run, report=False)
    return run


@pytest.mark.parametrize("damage, needle", [
    (lambda text: text[:-7], "truncated"), (lambda text: "", "is empty"),
    (lambda text: text.splitlines()[0] + "\n", "no finished points"),
    (lambda text: "\n".join(line + (",x" if i == 1 else "") for i, line in enumerate(text.split("\n"))),
     "damaged: line 2"),
    (lambda text: "a,b\n1,2\n", "no point_id column"),
])
def test_report_refuses_a_damaged_results_table(cli, finished_sweep, tmp_path, damage, needle):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(finished_sweep, run)
    (run / "results.csv").write_text(damage((run / "results.csv").read_text()))
    assert_one_line_error(cli("report", run), needle)
    assert not (run / "report").exists()


def test_sweep_resume_with_another_spec_is_refused(cli, finished_sweep, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(finished_sweep, run)
    rows = (run / "results.csv").read_text()
    spec = tmp_path / "other.yaml"
    spec.write_text("name: s\ntrain: {mode: none, weights: random}\ngrid: {model: [jet_mlp], reuse_factor: [8]}\n")
    assert_one_line_error(cli("sweep", spec, "--out", run, "--resume", "--no-report"), "'grid.reuse_factor' differs")
    assert (run / "results.csv").read_text() == rows
    same = tmp_path / "same.yaml"
    same.write_text("name: s\ndescription: a new description\ntrain: {mode: none, weights: random}\n"
                    "grid: {model: [jet_mlp], reuse_factor: [1, 2, 4]}\n")
    assert cli("sweep", same, "--out", run, "--resume", "--no-report").code == 0


@pytest.mark.parametrize("part, needle", [("banana", "not an AMD/Xilinx part"), ("xc7z020; exec rm -rf /", "not an"),
                                          ("", "not an AMD/Xilinx part"), ("10AX115N2F40E2LG", "Vitis and Vivado")])
def test_malformed_part_is_refused(cli, bad, tmp_path, part, needle):
    result = cli("export", "--checkpoint", bad / "good.pt", "--target", "hls", "--part", part,
                 "--out", tmp_path / "o")
    assert_one_line_error(result, needle)


def test_well_formed_unknown_part_says_it_has_no_device_model(tmp_path):
    """A part hls4ml can build for but codesign does not model: accepted (Vivado knows thousands of parts and
    a demanding user must not be blocked), and the estimate says it has no device model instead of
    measuring the design against another device."""
    from codesign.export.hls import HlsSettings
    from codesign.sim import Mapping, load_network
    from codesign.sim.export_section import estimate_section

    settings = HlsSettings(part="xcvu19p-fsva3824-2-e").checked()
    section = estimate_section(load_network("jet_mlp"), Mapping(), settings.part, tmp_path, "test")
    assert section["device"] is None and "no device model" in section["device_match"]
    assert "fits" not in section and not any(k.endswith("_percent") for k in section)
    assert section["latency_cycles"] > 0


def test_resume_of_a_finished_run_with_more_epochs_is_refused(cli, tmp_path):
    run = tmp_path / "run"
    assert cli(*TINY_TRAIN, "--out", run).code == 0
    before = (run / "train" / "model.pt").read_bytes()
    assert_one_line_error(cli(*TINY_TRAIN[:-1], "12", "--out", run, "--resume"),
                          "belongs to a run of 1 epoch(s) (finished)")
    assert (run / "train" / "model.pt").read_bytes() == before
    assert cli(*TINY_TRAIN, "--out", run, "--resume").code == 0      # the same length: nothing to add


@pytest.mark.parametrize("name, archive", [("cifar10", "cifar-10-python.tar.gz"),
                                           ("cifar100", "cifar-100-python.tar.gz")])
def test_cifar_errors_name_the_real_archive(tmp_path, name, archive):
    from codesign.data import load_dataset
    from codesign.errors import DataError

    with pytest.raises(DataError, match=f"extract {archive} there"):
        load_dataset(name, tmp_path)


def test_a_cifar_pickle_that_runs_code_is_refused(tmp_path):
    """A pickle can name any callable; the CIFAR reader only builds arrays, lists and dicts."""
    import os
    import pickle

    from codesign.data import load_dataset
    from codesign.errors import DataError

    class Payload:
        def __reduce__(self):
            return os.system, (f"touch {tmp_path / 'owned'}",)

    folder = tmp_path / "cifar10" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for stem in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (folder / stem).write_bytes(pickle.dumps({"data": Payload(), "labels": [0]}))
    with pytest.raises(DataError, match="refusing to load"):
        load_dataset("cifar10", tmp_path)
    assert not (tmp_path / "owned").exists()
