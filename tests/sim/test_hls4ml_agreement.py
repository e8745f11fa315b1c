"""The dataflow template's rules agree with hls4ml's own accounting (hls4ml 1.3.0, installed):

- the reuse factors hls4ml's backend accepts and the closest one it picks (fpga_backend.py);
- the multiplier count of every Dense/Conv2D layer of a converted model, computed from the C++ config
  struct hls4ml's templates emit (``multiplier_limit = DIV_ROUNDUP(n_in*n_out, RF) - n_zeros / RF``);
- DSP and BRAM of hls4ml's resource estimator (optimization/dsp_aware_pruning/objectives/vivado_objectives.py).
"""
import re
import sys
import types

import pytest
import torch
import torch.nn as nn

from codesign.sim import Mapping, load_device, network_from_model
from codesign.sim import hls_rules
from codesign.sim.dataflow import dataflow_costs

hls4ml = pytest.importorskip("hls4ml")


@pytest.fixture(scope="module")
def backend():
    return hls4ml.backends.get_backend("Vivado")


@pytest.mark.parametrize("n_in, n_out", [(16, 64), (64, 32), (32, 5), (27, 8), (96, 42), (100, 10), (7, 13)])
def test_valid_and_closest_reuse_factors(backend, n_in, n_out):
    valid = backend.get_valid_reuse_factors(n_in, n_out)
    assert list(hls_rules.valid_reuse_factors(n_in, n_out)) == valid
    for rf in (1, 2, 3, 5, 7, 9, 33, 100, 1000, n_in * n_out + 5):
        assert hls_rules.closest_reuse_factor(n_in, n_out, rf) == backend.get_closest_reuse_factor(valid, rf)


def _model():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(8, 6, 3), nn.ReLU(),
                          nn.Flatten(), nn.Linear(96, 10)).eval()
    with torch.no_grad():
        model[0].weight.view(-1)[::4] = 0
        model[6].weight[:, :30] = 0
    return model


def _hls4ml_multipliers(model, strategy: str, rf: int, tmp_path):
    from hls4ml.backends.vivado.passes.convolution_templates import Conv2DConfigTemplate
    from hls4ml.backends.vivado.passes.core_templates import DenseConfigTemplate

    cfg = hls4ml.utils.config_from_pytorch_model(model, input_shape=(3, 14, 14), granularity="name", backend="Vitis",
                                                 default_reuse_factor=rf, default_precision="ap_fixed<16,6>")
    for layer in cfg["LayerName"].values():
        layer["Strategy"] = strategy
    hls_model = hls4ml.converters.convert_from_pytorch_model(model, hls_config=cfg, backend="Vitis",
                                                             io_type="io_stream", output_dir=str(tmp_path / "prj"))
    out = []
    for layer in hls_model.get_layers():
        if layer.class_name in ("Conv2D", "Dense"):
            template = Conv2DConfigTemplate() if layer.class_name == "Conv2D" else DenseConfigTemplate()
            struct = template.format(layer).split("};")[0]
            v = {k: int(x) for k, x in re.findall(r"static const unsigned (n_in|n_out|reuse_factor|n_zeros) = (\d+);",
                                                 struct)}
            limit = -(-v["n_in"] * v["n_out"] // v["reuse_factor"]) - v["n_zeros"] // v["reuse_factor"]
            out.append((v["reuse_factor"], limit))
    return out


@pytest.mark.parametrize("strategy, rf", [("Latency", 1), ("Latency", 5), ("Resource", 5), ("Resource", 1)])
def test_multipliers_match_a_converted_hls4ml_model(tmp_path, capsys, strategy, rf):
    model = _model()
    theirs = _hls4ml_multipliers(model, strategy, rf, tmp_path)
    net = network_from_model(model, in_shape=(3, 14, 14))
    costs = dataflow_costs(net, load_device("xcu250"), Mapping(reuse_factor=rf, strategy=strategy,
                                                                io_type="io_stream"))
    compute = [i for i, l in enumerate(net.layers) if l.op in ("conv", "dense")]
    ours = [(int(costs.detail["reuse_factor"][i]), int(costs.detail["multipliers"][i])) for i in compute]
    if strategy == "Latency" or rf == 1:
        assert ours == theirs           # the C++ template subtracts zeros; hls4ml keeps the RF as given
    else:
        # Resource: the RF moves to the closest valid one, the template's limit still subtracts zeros, but
        # the Resource kernel instantiates block_factor = DIV_ROUNDUP(n_in*n_out, RF) multipliers
        assert [r for r, _ in ours] == [r for r, _ in theirs]
        dense_count = [-(-net.layers[i].weights // r) for i, (r, _) in zip(compute, ours)]
        assert [m for _, m in ours] == dense_count


@pytest.fixture
def estimators(monkeypatch):
    """hls4ml's Vivado objective estimators; their package imports TensorFlow/Keras only for the Keras
    pruning API, so those two modules are stubbed."""
    keras_pkg = types.ModuleType("hls4ml.optimization.dsp_aware_pruning.keras")
    keras_pkg.optimize_model = None
    keras_cfg = types.ModuleType("hls4ml.optimization.dsp_aware_pruning.keras.config")
    keras_cfg.SUPPORTED_LAYERS = ()
    monkeypatch.setitem(sys.modules, "hls4ml.optimization.dsp_aware_pruning.keras", keras_pkg)
    monkeypatch.setitem(sys.modules, "hls4ml.optimization.dsp_aware_pruning.keras.config", keras_cfg)
    from hls4ml.optimization.dsp_aware_pruning import attributes
    from hls4ml.optimization.dsp_aware_pruning.objectives import vivado_objectives
    return attributes, vivado_objectives


def _attrs(attributes, n_in, n_out, bits, strategy, rf):
    from hls4ml.model.types import FixedPrecisionType

    args = {"hls4ml_attributes": attributes.hls4mlAttributes(
        n_in, n_out, "io_parallel", strategy, FixedPrecisionType(bits, 6), FixedPrecisionType(16, 6), rf)}
    return attributes.LayerAttributes("d", None, [], (n_in, n_out), (n_in,), (n_out,), True, None, args)


@pytest.mark.parametrize("n_in, n_out", [(16, 64), (64, 32), (96, 42)])
@pytest.mark.parametrize("bits", [6, 8, 9, 16, 18])
@pytest.mark.parametrize("strategy, rf", [("Latency", 1), ("Latency", 4), ("Resource", 2), ("Resource", 8)])
def test_dsp_and_bram_match_hls4ml_estimator(estimators, n_in, n_out, bits, strategy, rf):
    attributes, objectives = estimators
    la = _attrs(attributes, n_in, n_out, bits, strategy, rf)
    their_dsp = objectives.VivadoDSPEstimator.layer_resources(la)[0]
    their_dsp_multi, their_bram = objectives.VivadoMultiObjectiveEstimator.layer_resources(la)
    device = load_device("xcu250")
    ours_dsp = hls_rules.multiplier_limit(n_in * n_out, rf, 0, True) * hls_rules.dsp_per_mult(bits, 16, False, device)
    assert ours_dsp == their_dsp
    if bits >= 9:
        assert ours_dsp == their_dsp_multi
    assert hls_rules.weight_bram_columns(n_in * n_out, bits, rf, strategy) == their_bram


def test_zero_savings_follow_hls4ml(estimators):
    """Resource strategy: unstructured zeros save DSPs only at RF 1 (hls4ml's estimator)."""
    attributes, objectives = estimators
    from hls4ml.optimization.dsp_aware_pruning.attributes import OptimizationAttributes
    from hls4ml.optimization.dsp_aware_pruning.config import SUPPORTED_STRUCTURES

    for rf in (1, 4):
        la = _attrs(attributes, 64, 32, 16, "Resource", rf)
        la.optimization_attributes = OptimizationAttributes(SUPPORTED_STRUCTURES.UNSTRUCTURED, pruning=True)
        saves = objectives.VivadoDSPEstimator.layer_savings(la)[0] > 0
        assert saves == hls_rules.zeros_save_multipliers("Resource", rf)


def test_resource_kernel_keeps_weights_in_rom_only_above_rf_1():
    """The source of the zero-weight rule: nnet_dense_resource.h binds the weights to a ROM only when
    RF > 1; at RF 1 they stay a completely reshaped, function-instantiated constant array."""
    from pathlib import Path

    header = Path(hls4ml.__file__).parent / "templates/vivado/nnet_utils/nnet_dense_resource.h"
    text = re.sub(r"\s+", " ", header.read_text())
    assert text.count("if (CONFIG_T::reuse_factor > 1) { #pragma HLS RESOURCE variable=weights core=ROM_nP_BRAM }") == 3
    assert text.count("#pragma HLS function_instantiate variable=weights,biases") == 3
    assert hls_rules.zeros_save_multipliers("Resource", 1) and not hls_rules.zeros_save_multipliers("Resource", 2)
    assert hls_rules.zeros_save_multipliers("Latency", 7)


def _asserts(header: str, kernel: str) -> str:
    """The assert lines at the top of ``kernel``'s body in hls4ml's ``header`` (templates/vitis/nnet_utils)."""
    from pathlib import Path

    text = (Path(hls4ml.__file__).parent / "templates" / "vitis" / "nnet_utils" / header).read_text()
    body = text[text.index(f"void {kernel}("):]
    body = body[:body.index("\n}\n")]
    return " ".join(line.strip() for line in body.splitlines() if "assert(" in line)


def test_stream_pooling_rule_is_hls4mls_assertions():
    """hls_rules.stream_pooling_problem states what nnet_pooling_stream.h asserts (the C simulation dies on it):
    the 2-D kernel asserts no padding and stride == window, the 1-D line-buffer kernel no padding only."""
    two_d, one_d = _asserts("nnet_pooling_stream.h", "pooling2d_cl"), _asserts("nnet_pooling_stream.h", "pooling1d_cl")
    assert ("CONFIG_T::pool_height == CONFIG_T::stride_height && CONFIG_T::pool_width == CONFIG_T::stride_width"
            in two_d)
    assert "pad_top == 0" in two_d and "pad_left == 0" in one_d and "stride_width" not in one_d
    assert hls_rules.stream_pooling_problem((3, 3), (2, 2), False, False)
    assert hls_rules.stream_pooling_problem((2, 2), (2, 2), True, False)
    assert not hls_rules.stream_pooling_problem((2, 2), (2, 2), False, False)
    assert not hls_rules.stream_pooling_problem((1, 3), (1, 2), False, True)
    assert hls_rules.stream_pooling_problem((1, 3), (1, 3), True, True)
