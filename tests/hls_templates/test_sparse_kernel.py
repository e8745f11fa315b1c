"""The sparse dense kernel: weight packing and choice (fast), and C simulation bit for bit equal to
hls4ml's dense kernels for random sparse layers (several densities, precisions, reuse factors,
strategies, io_parallel and io_stream)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from codesign.errors import ConfigError
from codesign.export.sparse_kernel import offset_span, pack, storage_bits
from codesign.sim.hls_rules import break_even_density, estimated_span, sparse_candidate
from codesign.target import sparse_kernel as check_sparse_kernel_mode


def unpack(packed, n_in, n_out):
    lanes = np.arange(len(packed.weights)) % packed.n_mult                 # slot-major [RF][n_mult]
    dense = np.zeros((n_in, n_out))
    np.add.at(dense, (packed.in_index, packed.lane_out[lanes] + packed.out_index), packed.weights)
    return dense


@pytest.mark.parametrize("density", [0.0, 0.02, 0.3, 1.0])
@pytest.mark.parametrize("reuse", [1, 3, 16])
def test_pack_keeps_every_nonzero_once_in_its_slot(density, reuse):
    rng = np.random.default_rng(7)
    w = rng.normal(size=(23, 11)) * (rng.random((23, 11)) < density)
    packed = pack(w, reuse)
    nnz = int(np.count_nonzero(w))
    assert packed.n_nonzeros == nnz and packed.n_mult == max(1, math.ceil(nnz / reuse))
    assert len(packed.weights) == packed.n_mult * reuse
    assert np.count_nonzero(packed.weights) == nnz
    np.testing.assert_array_equal(unpack(packed, 23, 11), w)
    assert packed.out_index.min() >= 0 and offset_span(packed) <= max(1, estimated_span(11, nnz, reuse) + 1)


def test_auto_considers_the_sparse_kernel_below_the_storage_break_even():
    """Which layers ``auto`` prices both ways (the choice itself: tests/sim/test_sparse_choice.py)."""
    threshold = break_even_density(784, 300, 8)
    assert threshold == pytest.approx(8 / (8 + 10 + 9))
    assert sparse_candidate("auto", 784, 300, int(0.1 * 784 * 300), 8)
    assert not sparse_candidate("auto", 784, 300, int(0.5 * 784 * 300), 8)
    assert sparse_candidate("on", 4, 4, 16, 8) and not sparse_candidate("off", 4, 4, 0, 8)
    bits = storage_bits(784, 300, 23520, 4, 8)           # 78 nonzeros per output: a lane spans <= 2 outputs
    assert bits["out_offset_bits"] == 1 and bits["dense_bits"] == 784 * 300 * 8
    assert bits["sparse_bits"] == 23520 * (8 + 10 + 1) + 5880 * 9
    with pytest.raises(ConfigError, match="auto"):
        check_sparse_kernel_mode("sometimes")


def sparse_mlp(densities, seed=0, side=8):
    from codesign.zoo import create_model

    torch.manual_seed(seed)
    model = create_model("lenet300_100", width=0.1, in_shape=(1, side, side)).eval()
    layers = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for layer, density in zip(layers, densities):
            layer.weight.mul_((torch.rand(layer.weight.shape, generator=g) < density).float())
    return model


CASES = [  # densities of the three layers, input side, io type, reuse factor, strategy, precision, forms
    ((0.02, 0.1, 0.5), 8, "io_parallel", 1, "Latency", "auto", ["unrolled"] * 3),
    ((0.7, 0.3, 0.05), 16, "io_stream", 3, "Resource", "fixed<12,4,RND_CONV,SAT>", ["rom", "unrolled", "unrolled"]),
    ((0.5, 0.1, 0.9), 28, "io_parallel", 1, "Latency", "fixed<10,3,RND_CONV,SAT>", ["unrolled"] * 3),  # fc1 > 4096
]


@pytest.mark.csim
@pytest.mark.parametrize("densities,side,io_type,reuse,strategy,precision,forms", CASES)
def test_csim_matches_the_dense_kernels_bit_for_bit(tmp_path, densities, side, io_type, reuse, strategy, precision,
                                                    forms):
    from codesign.export import build_hls, csim
    from codesign.export.hls import HlsSettings

    model = sparse_mlp(densities, side=side)
    x = torch.randn(30, 1, side, side, generator=torch.Generator().manual_seed(3)) * 2
    calibration = torch.randn(64, 1, side, side, generator=torch.Generator().manual_seed(4))
    outputs, kernels = {}, {}
    for mode in ("off", "on"):
        settings = HlsSettings(io_type=io_type, reuse_factor=reuse, strategy=strategy, sparse_kernel=mode)
        project = build_hls(model, tmp_path / mode, settings=settings, precision=precision, calibration=calibration)
        outputs[mode] = csim(project, x, model=model, jobs=1).outputs
        kernels[mode] = [row.get("form", row["kernel"]) for row in project.multipliers["layers"]]
    assert kernels == {"off": ["dense"] * 3, "on": forms}
    assert np.abs(outputs["off"]).max() > 0
    np.testing.assert_array_equal(outputs["on"], outputs["off"])
    assert (tmp_path / "on" / "firmware" / "nnet_utils" / "nnet_dense_sparse.h").is_file()


def test_export_report_states_the_kernel_per_layer(tmp_path):
    from codesign.export import build_hls

    project = build_hls(sparse_mlp((0.05, 0.1, 0.9)), tmp_path / "hls", precision="fixed<10,3,RND_CONV,SAT>")
    rows = project.multipliers["layers"]
    assert [r["kernel"] for r in rows] == ["sparse", "sparse", "dense"]
    first = rows[0]
    nnz = first["weights"] - first["zeros"]
    assert first["multipliers"] == nnz and first["sparse_index_bits"] == nnz * (6 + 1) + nnz * 5   # RF 1: offset 0
    assert first["sparse_weight_bits"] == nnz * 10 and first["dense_bits"] == 64 * 30 * 10
    assert "nnet::dense_sparse<" in (tmp_path / "hls" / "firmware" / "myproject.cpp").read_text()


@pytest.mark.parametrize("reuse", [1, 4])
def test_export_writes_the_form_the_estimator_prices(tmp_path, reuse):
    """One rule (hls_rules.unrolled) picks the form: fc1's 10,000-odd nonzeros are unrolled at RF 1, a ROM above."""
    from codesign.export import build_hls
    from codesign.export.hls import HlsSettings
    from codesign.sim import estimate
    from codesign.sim.hls_rules import UNROLL_LIMIT

    model = sparse_mlp((0.5, 0.1, 0.9), side=28)
    settings = HlsSettings(reuse_factor=reuse, strategy="Latency", sparse_kernel="on")
    project = build_hls(model, tmp_path / "hls", settings=settings, precision="fixed<10,3,RND_CONV,SAT>")
    first = project.multipliers["layers"][0]
    assert first["weights"] - first["zeros"] > UNROLL_LIMIT
    report = estimate(model, "xc7z020", in_shape=(1, 28, 28), reuse_factor=reuse, strategy="Latency",
                      sparse_kernel="on")
    rom = bool(report.costs.plan.sparse_rom[report.network.arrays.mask("dense")][0])
    assert rom == (reuse > 1)
    assert first["form"] == ("rom" if rom else "unrolled")
    firmware = tmp_path / "hls" / "firmware"
    assert f"unrolled = {'false' if rom else 'true'};" in (firmware / "parameters.h").read_text().split("dense_sparse_config {")[1]
    assert ("#pragma HLS DATAFLOW" in (firmware / "myproject.cpp").read_text()) == rom


def test_export_cli_option_and_report_lines(cli, tmp_path):
    r = cli("export", "--model", "lenet300_100", "--width", "0.1", "--target", "hls", "--sparse-kernel", "on",
            "--reuse-factor", "4", "--calibration-samples", "32", "--out", tmp_path / "o")
    assert r.code == 0, r.err
    assert "fc1: sparse kernel" in r.out and "II 4" in r.out
    top = (tmp_path / "o" / "hls" / "firmware" / "myproject.cpp").read_text()
    assert "#pragma HLS DATAFLOW" in top          # fc1's ROM form (23,520 nonzeros at RF 4) is not unrolled
    r = cli("export", "--model", "lenet300_100", "--target", "hls", "--sparse-kernel", "sometimes",
            "--out", tmp_path / "bad")
    assert r.code == 2 and "sparse kernel mode" in r.err
