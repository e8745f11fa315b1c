"""C simulation (g++): MLP, CNN and ResNet projects compile, agree with PyTorch, and reproduce the
fixed-point emulation bit for bit; the quantization-aware path reproduces brevitas bit for bit."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from codesign.data import load_dataset
from codesign.export import build_hls, csim
from codesign.export.emulate import Emulator
from codesign.export.hls import as_graph_input, source_graph
from codesign.export.weights import resolve_model, set_batchnorm_statistics
from codesign.zoo import create_model

pytestmark = pytest.mark.csim


def emulated(model, project, x):
    clean = source_graph(model)
    with torch.no_grad():
        return Emulator(clean.graph, clean.fused_bias).run(as_graph_input(x, clean.input_layout),
                                                           project.precision.types).double().numpy()


def check_bit_exact_and_agreement(model, tmp_path, x, calibration, labels=None, min_agreement=0.95):
    project = build_hls(model, tmp_path / "hls", calibration=calibration)
    report = csim(project, x, model=model, labels=labels)
    assert report.samples == len(x) and report.top1_agreement >= min_agreement
    np.testing.assert_array_equal(report.outputs, emulated(model, project, x))
    return project, report


def test_trained_mlp_on_real_digits(tmp_path):
    model, _ = resolve_model("lenet300_100")
    digits = load_dataset("mnist_mini")
    project, report = check_bit_exact_and_agreement(model, tmp_path, digits.test[0][:100], digits.train[0][:200],
                                                    digits.test[1][:100], min_agreement=0.99)
    assert project.settings.io_type == "io_parallel" and project.input_layout == "flat"
    assert abs(report.accuracy_csim - report.accuracy_pytorch) <= 0.02


def test_cnn_io_stream(tmp_path):
    torch.manual_seed(0)
    model = create_model("lenet5", width=0.25).eval()
    digits = load_dataset("mnist_mini")
    project, _ = check_bit_exact_and_agreement(model, tmp_path, digits.test[0][:40], digits.train[0][:100])
    assert project.settings.io_type == "io_stream" and project.input_layout == "nhwc"


def test_a_feature_map_output_is_compared_in_pytorchs_order(tmp_path):
    """hls4ml's channels-last graph returns a feature map NHWC; the comparison reads it back as NCHW (before
    the fix: top-1 agreement 0.02 and an error of 3 on a network C simulation computes exactly)."""
    from codesign.export.csim import as_model_output

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(4, 2, 1)).eval()
    x = torch.randn(16, 3, 6, 6, generator=torch.Generator().manual_seed(1))
    project = build_hls(model, tmp_path / "hls", calibration=torch.randn(64, 3, 6, 6))
    report = csim(project, x, model=model)
    assert project.input_layout == "nhwc" and report.top1_agreement >= 0.9 and report.max_abs_error < 0.1
    clean = source_graph(model, in_shape=(3, 6, 6))             # the emulator runs the NCHW graph
    with torch.no_grad():
        nchw = Emulator(clean.graph, clean.fused_bias).run(as_graph_input(x, clean.input_layout), project.precision.types)
    np.testing.assert_array_equal(report.outputs, nchw.double().numpy().reshape(16, -1))
    flat = np.arange(2 * 6 * 6, dtype=float)[None]                # NHWC element order back to NCHW
    assert np.array_equal(as_model_output(flat, (1, 2, 6, 6), "nhwc"),
                          flat.reshape(1, 6, 6, 2).transpose(0, 3, 1, 2).reshape(1, -1))


def test_tiny_resnet_with_global_average_pool(tmp_path):
    torch.manual_seed(0)
    model = create_model("resnet20", width=0.125, in_shape=(3, 32, 32))
    set_batchnorm_statistics(model, 0)
    x = torch.randn(12, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    check_bit_exact_and_agreement(model, tmp_path, x, torch.randn(64, 3, 32, 32))


class GlobalHeads(torch.nn.Module):
    """Global average and max pooling (adaptive, and a window over the whole map) side by side, 2-D or 1-D."""

    def __init__(self, one_d: bool):
        super().__init__()
        nn = torch.nn
        self.conv = nn.Conv1d(2, 4, 3) if one_d else nn.Conv2d(2, 4, 3)
        self.heads = nn.ModuleList([nn.AdaptiveAvgPool1d(1), nn.MaxPool1d(6)] if one_d else
                                   [nn.AvgPool2d(6), nn.AdaptiveMaxPool2d(1)])
        self.fc = nn.Linear(8, 3)

    def forward(self, x):
        x = torch.relu(self.conv(x))
        return self.fc(torch.cat([torch.flatten(h(x), 1) for h in self.heads], 1))


@pytest.mark.parametrize("shape,io_type", [((2, 8, 8), "io_stream"), ((2, 8, 8), "io_parallel"), ((2, 8), "io_stream")])
def test_global_poolings_are_hls4mls_own_and_bit_exact(tmp_path, shape, io_type):
    """hls4ml's GlobalPooling1D/2D on the channels-last tensors (its ONNX handler reads NCHW dimensions;
    frontend_hls4ml corrects them and sizes the accumulators as hls4ml does for Pooling)."""
    from codesign.export import HlsSettings

    torch.manual_seed(0)
    model = GlobalHeads(one_d=len(shape) == 2).eval()
    x = torch.randn(12, *shape, generator=torch.Generator().manual_seed(1))
    project = build_hls(model, tmp_path / "hls", settings=HlsSettings(io_type=io_type),
                        calibration=torch.randn(64, *shape, generator=torch.Generator().manual_seed(2)))
    kinds = [l.class_name for l in project.hls_model.get_layers() if "Pooling" in l.class_name]
    assert kinds == ["GlobalPooling%dD" % (len(shape) - 1)] * 2
    report = csim(project, x, model=model)
    assert report.top1_agreement >= 0.9
    clean = source_graph(model, shape)
    with torch.no_grad():
        expected = Emulator(clean.graph, clean.fused_bias).run(as_graph_input(x, clean.input_layout),
                                                               project.precision.types)
    np.testing.assert_array_equal(report.outputs, expected.double().numpy())


def test_quantization_aware_mlp_is_bit_exact(cli, tmp_path):
    r = cli("export", "--model", "lenet300_100", "--width", "0.1", "--qat-epochs", "1", "--dataset", "mnist_mini",
            "--csim-samples", "50", "--calibration-samples", "50", "--out", tmp_path / "qat")
    assert r.code == 0, r.err
    import json
    report = json.loads((tmp_path / "qat" / "csim.json").read_text())
    assert report["csim"]["bit_exact"] and report["csim"]["max_abs_error"] == 0.0
    assert report["qat"]["epochs"] == 1 and report["onnx"]["format"] == "QONNX"
    # the estimate is of the project built: the 8-bit quantizers' weights (LUT multipliers: 0 DSPs), not 16 bits
    assert report["estimate"]["network"] == "hls4ml project (model_channels_last.onnx)"
    assert report["estimate"]["precision"].startswith("per layer from the project: weights 8 bits")
    assert report["estimate"]["dsp"] == 0


def test_quantization_aware_pruned_layers_on_the_sparse_kernel_compute_what_hls4mls_dense_kernel_does(tmp_path):
    """A pruned model through the quantization-aware path: its Dense weights come from QONNX Quant nodes, not
    initializers, and take the sparse kernel where the estimate prices it lower (before the cost choice they never
    did); in C simulation its outputs equal those of hls4ml's own Dense kernel bit for bit."""
    from codesign.export.hls import HlsSettings
    from codesign.export.precision import QUANTIZERS, PrecisionSpec
    from codesign.export.qat import export_qonnx, quantize_model

    torch.manual_seed(0)
    model = create_model("lenet300_100", width=0.1).eval()
    with torch.no_grad():
        for layer in (m for m in model.modules() if isinstance(m, torch.nn.Linear)):
            layer.weight.mul_((torch.rand(layer.weight.shape) < 0.05).float())
    qmodel = quantize_model(model).eval()
    x = torch.rand(24, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    proto = export_qonnx(qmodel, x)
    kernels, outputs = {}, {}
    for mode in ("auto", "off"):
        project = build_hls(proto, tmp_path / mode, settings=HlsSettings(sparse_kernel=mode), calibration=x,
                            precision=PrecisionSpec(QUANTIZERS, source="quantizers"))
        kernels[mode] = [row["kernel"] for row in project.multipliers["layers"]]
        outputs[mode] = csim(project, x, model=qmodel).outputs
    assert "sparse" in kernels["auto"] and set(kernels["off"]) == {"dense"}
    np.testing.assert_array_equal(outputs["auto"], outputs["off"])


@pytest.mark.slow
@pytest.mark.parametrize("name", ["vgg19", "resnet32", "resnet56", "resnet110", "jet_mlp", "resnet18"])
def test_more_zoo_models_simulate(tmp_path, name):
    model, _ = resolve_model(name, width=0.0625)
    x = torch.randn(8, *model.codesign_spec["in_shape"], generator=torch.Generator().manual_seed(1))
    check_bit_exact_and_agreement(model, tmp_path, x, torch.randn(64, *model.codesign_spec["in_shape"]),
                                  min_agreement=0.75)


@pytest.mark.slow
def test_quantization_aware_cnn_is_bit_exact(cli, tmp_path):
    r = cli("export", "--model", "lenet5", "--width", "0.25", "--qat-epochs", "1", "--dataset", "mnist_mini",
            "--csim-samples", "100", "--out", tmp_path / "qat")
    assert r.code == 0, r.err
    import json
    assert json.loads((tmp_path / "qat" / "csim.json").read_text())["csim"]["bit_exact"]


@pytest.mark.parametrize("io_type", ["io_parallel", "io_stream"])
def test_lookup_table_activations_are_bit_exact(tmp_path, io_type):
    """Sigmoid, Tanh and Softmax read hls4ml's tables (lut.py): the emulation equals the C simulation element by
    element, inputs spanning the tables' ranges and beyond (before the fix it computed the float functions and
    reported an agreement the hardware did not reach)."""
    from codesign.export import HlsSettings

    torch.manual_seed(0)
    nn = torch.nn
    model = nn.Sequential(nn.Linear(6, 12), nn.Sigmoid(), nn.Linear(12, 10), nn.Tanh(), nn.Linear(10, 5),
                          nn.Softmax(dim=1)).eval()
    with torch.no_grad():
        for layer, gain in ((model[0], 6.0), (model[2], 8.0), (model[4], 6.0)):
            layer.weight.mul_(gain)
    x = 1.5 * torch.randn(300, 6, generator=torch.Generator().manual_seed(1))
    project = build_hls(model, tmp_path / "hls", settings=HlsSettings(io_type=io_type),
                        calibration=torch.randn(128, 6, generator=torch.Generator().manual_seed(2)))
    report = csim(project, x, model=model)
    assert report.emulation_mismatches == 0 and report.max_abs_error > 1e-3      # tables, not float functions
    clean = source_graph(model, (6,))
    with torch.no_grad():
        expected = Emulator(clean.graph, clean.fused_bias).run(x, project.precision.types)
    np.testing.assert_array_equal(report.outputs, expected.double().numpy())


@pytest.mark.parametrize("count_include_pad", [True, False])
def test_padded_average_pooling_divides_as_pytorch(tmp_path, count_include_pad):
    """AvgPool2d(3, stride 2, padding 1) under io_parallel: hls4ml's count_pad follows count_include_pad (before
    the fix it was always false, so PyTorch's default was built dividing border windows by the pixels they
    overlap: an error of bg * (1 - 4/9) on a constant background), and the emulation is bit-exact."""
    from codesign.export import HlsSettings

    torch.manual_seed(0)
    nn = torch.nn
    model = nn.Sequential(nn.Conv2d(2, 3, 1), nn.AvgPool2d(3, stride=2, padding=1,
                                                           count_include_pad=count_include_pad)).eval()
    x = torch.randn(40, 2, 9, 9, generator=torch.Generator().manual_seed(1)) + 2.0
    project = build_hls(model, tmp_path / "hls", settings=HlsSettings(io_type="io_parallel"),
                        precision="fixed<16,5,RND_CONV,SAT>", calibration=x)
    report = csim(project, x, model=model)
    assert report.max_abs_error < 2e-3 and report.emulation_mismatches == 0
    clean = source_graph(model, (2, 9, 9))
    with torch.no_grad():
        expected = Emulator(clean.graph, clean.fused_bias).run(as_graph_input(x, clean.input_layout),
                                                               project.precision.types)
    np.testing.assert_array_equal(report.outputs, expected.double().numpy().reshape(len(x), -1))


def test_a_disagreeing_c_simulation_is_flagged(cli, tmp_path):
    """--target fpga with types too narrow for the model: a warning line, and csim.json says what was found (before
    the fix a C simulation agreeing on 0-25% printed nothing beyond its table)."""
    import json

    r = cli("export", "--model", "lenet300_100", "--width", "0.1", "--precision", "ap_fixed<5,2>", "--dataset",
            "mnist_mini", "--csim-samples", "60", "--calibration-samples", "60", "--out", tmp_path / "ex")
    assert r.code == 0, r.err
    found = json.loads((tmp_path / "ex" / "csim.json").read_text())["csim"]
    assert found["emulation_mismatches"] == 0 and found["target_agreement"] == 0.999
    assert found["top1_agreement"] < 0.97 and any("below --target-agreement 0.999" in w for w in found["warnings"])
    assert "warning: C simulation top-1 agreement" in r.err

