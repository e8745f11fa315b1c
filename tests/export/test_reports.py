"""Multiplier accounting, weight origins, sample choice, the fpga-report assembly point and its agreement checks."""
from __future__ import annotations

import math

import pytest
import torch

from codesign.checkpoint import save_model
from codesign.errors import ConfigError
from codesign.export import HlsSettings, build_hls
from codesign.export.report import FpgaContext, assemble_fpga_report
from codesign.export.samples import choose_samples, default_counts
from codesign.export.sparsity import layer_multipliers
from codesign.export.weights import resolve_model, save_embedded_default
from codesign.registry import Registry
from codesign.zoo import create_model


@pytest.mark.parametrize("n_in,n_out,zeros,rf,strategy,expected", [
    (784, 300, 0, 1, "Latency", (235200, 235200, 0)),
    (784, 300, 100000, 1, "latency", (235200, 135200, 100000)),
    (784, 300, 100001, 4, "Latency", (58800, 58800 - 25000, 25000)),   # hls4ml: n_zeros / RF, integer
    (10, 3, 7, 4, "Latency", (8, 7, 1)),                                # ceil(30/4) = 8
    (784, 300, 100001, 4, "Resource", (58800, 58800, 0)),               # RF > 1: zeros keep their ROM slots
    # RF 1 under Resource: no ROM, the zero weights are constants HLS drops (nnet_dense_resource.h), as
    # hls4ml's own estimator counts (vivado_objectives.py) -- the rule of codesign.sim.hls_rules
    (784, 300, 100000, 1, "Resource", (235200, 135200, 100000)),
])
def test_multiplier_rule_is_hls4mls(n_in, n_out, zeros, rf, strategy, expected):
    got = layer_multipliers(n_in, n_out, zeros, rf, strategy)
    assert (got["dense_multipliers"], got["multipliers"], got["saved_by_zeros"]) == expected
    assert got["dense_multipliers"] == math.ceil(n_in * n_out / rf)


def pruned_mlp():
    torch.manual_seed(0)
    model = create_model("lenet300_100", width=0.05).eval()
    with torch.no_grad():
        model.fc1.weight[:, 1::2] = 0          # half of fc1's weights pruned
        model.fc2.weight[0] = 0
    return model


@pytest.mark.parametrize("strategy,reuse", [("Latency", 1), ("Latency", 2), ("Resource", 2)])
def test_pruned_zeros_reach_hls4ml_and_save_multipliers(tmp_path, strategy, reuse):
    model = pruned_mlp()
    project = build_hls(model, tmp_path / "hls", settings=HlsSettings(reuse_factor=reuse, strategy=strategy),
                        calibration=torch.randn(64, 1, 28, 28))
    rows = {r["layer"]: r for r in project.multipliers["layers"]}
    fc1 = rows["fc1"]
    assert fc1["pruned_zeros"] == model.fc1.weight.numel() // 2 and fc1["reuse_factor"] == reuse
    assert fc1["zeros"] >= fc1["pruned_zeros"]        # plus weights that round to zero at their precision
    expected = fc1["zeros"] // reuse if strategy == "Latency" else 0
    assert fc1["saved_by_zeros"] == expected
    assert project.multipliers["total"]["saved_by_zeros"] >= expected
    assert (project.path / "build_prj.tcl").exists() and (project.path / "firmware" / "myproject.cpp").exists()


def test_the_off_group_zeros_of_a_grouped_convolution_are_not_called_pruned(tmp_path):
    """A grouped convolution is written block-diagonal: its off-group weights are exact zeros that nobody pruned
    ('437 zero weights, 432 of them pruned' for a model of random weights)."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3), torch.nn.ReLU(), torch.nn.Conv2d(8, 8, 3, groups=4),
                                torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(8 * 4 * 4, 5)).eval()
    with torch.no_grad():
        model[2].weight[0, 0] = 0                      # one 3x3 kernel (9 weights) pruned inside a group
    project = build_hls(model, tmp_path / "hls", settings=HlsSettings(reuse_factor=1, strategy="Latency"),
                        calibration=torch.randn(64, 1, 8, 8), in_shape=(1, 8, 8))
    grouped = {r["layer"]: r for r in project.multipliers["layers"]}["2"]
    assert grouped["weights"] == 8 * 8 * 9 and grouped["off_group_zeros"] == 8 * 8 * 9 * 3 // 4
    assert grouped["pruned_zeros"] == 9
    assert grouped["zeros"] >= grouped["off_group_zeros"] + grouped["pruned_zeros"]
    total = project.multipliers["total"]
    assert total["off_group_zeros"] == grouped["off_group_zeros"] and total["pruned_zeros"] == 9


def test_weight_origins(tmp_path):
    _, embedded = resolve_model("lenet5")
    assert embedded.kind == "embedded default" and embedded.summary()["test_acc_at_training"] > 0.99
    model, random = resolve_model("resnet20", width=0.125, seed=3)
    assert random.kind == "random init" and "seed 3" in random.detail
    save_model(tmp_path / "m.pt", model, source="trained")
    _, trained = resolve_model(None, tmp_path / "m.pt")
    assert trained.kind == "trained checkpoint" and str(tmp_path / "m.pt") in trained.detail
    with pytest.raises(ConfigError, match="does not match the checkpoint"):
        resolve_model("lenet5", tmp_path / "m.pt")
    with pytest.raises(ConfigError, match="--model NAME"):
        resolve_model(None)


def test_embedded_default_files_are_half_precision_and_load(tmp_path):
    model, _ = resolve_model("lenet300_100", width=0.05)
    save_model(tmp_path / "full.pt", model, source="trained", metrics={"test_acc": 0.5})
    save_embedded_default(tmp_path / "full.pt", tmp_path / "half.pt")
    assert (tmp_path / "half.pt").stat().st_size < 0.6 * (tmp_path / "full.pt").stat().st_size
    loaded, source = resolve_model(None, tmp_path / "half.pt")
    assert torch.allclose(loaded.fc1.weight, model.fc1.weight, atol=1e-3)
    assert source.summary()["test_acc_at_training"] == 0.5


def test_samples_real_digits_for_mnist_shapes_else_synthetic(tmp_path):
    lenet, meta = create_model("lenet5", width=0.1), {}
    digits = choose_samples(lenet, meta, None, n_calibration=20, n_csim=10, data_dir=tmp_path)
    assert digits.dataset == "mnist_mini" and digits.test_y is not None and len(digits.test_x) == 10
    resnet = create_model("resnet20", width=0.1, in_shape=(3, 32, 32))
    noise = choose_samples(resnet, meta, None, n_calibration=20, n_csim=10, data_dir=tmp_path)
    assert noise.dataset == "synthetic" and noise.test_y is None and noise.calibration.shape == (20, 3, 32, 32)
    assert default_counts(2.3e6) == {"calibration": 1000, "csim": 869}
    assert default_counts(2.5e8) == {"calibration": 32, "csim": 10}


def test_fpga_report_assembles_core_parts_then_registered_sections():
    sections = Registry("section")
    sections.register("estimate")(lambda ctx: {"latency_cycles": ctx.parts["csim"]["samples"] * 2})
    parts = {"csim": {"samples": 5}, "model": {"name": "m"}, "weights": {"kind": "random init"}, "extra": 1}
    context = FpgaContext(model=None, out_dir=None, project=None, csim=None, parts=parts)
    report = assemble_fpga_report(parts, context, sections)
    assert list(report) == ["model", "weights", "csim", "extra", "estimate"]
    assert report["estimate"] == {"latency_cycles": 10}


def test_agreement_warnings_allow_for_sampling():
    """A shortfall is flagged when sampling cannot explain it (3 binomial standard deviations and one sample)."""
    import numpy as np

    from codesign.export.csim import CsimReport, agreement_warnings, clearly_below

    assert not clearly_below(0.98, 0.999, 100) and clearly_below(0.97, 0.999, 100)
    assert not clearly_below(0.99, 1.0, 100) and clearly_below(0.98, 1.0, 100)
    report = CsimReport(100, 0.13, 0.8, 0.2, None, None, 1.0, 1.0, 100.0, 1, np.zeros((100, 2)), 0.999, 0)
    assert agreement_warnings(report, 1.0) == [
        "C simulation top-1 agreement 0.1300 on 100 samples is below --target-agreement 0.999 and the emulated "
        "agreement 1.0000"]
    mismatched = CsimReport(2, 1.0, 0.0, 0.0, None, None, 1.0, 1.0, 2.0, 1, np.array([[1.0, 0.0], [0.5, 0.5]]), None, 1)
    assert agreement_warnings(mismatched, None, np.array([[1.0, 0.0], [0.5, 0.25]]))[0].startswith(
        "the C simulation differs from the emulation of the chosen types on 1 of 2 samples (max |difference| 0.25)")
