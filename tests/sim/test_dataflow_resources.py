"""Per-layer resource models of the dataflow template, pinned against hls4ml's code and its synthesis
baselines (benchmarks/data/hls4ml_baselines); accuracy over many reports is benchmarks/estimator_accuracy.py."""
import re
from pathlib import Path

import numpy as np
import pytest

from codesign.sim import Layer, Mapping, Network, load_device
from codesign.sim.dataflow import dataflow_costs
from codesign.sim.dataflow_resources import (TABLE_BITS, index_table_blocks, layer_resources, multipliers, ram_blocks,
                                             rom_features, rom_kernels)
from codesign.sim.plan import resolve_plan

U250 = load_device("xcu250")


def _dense_act(kind: str, n: int = 64) -> Network:
    dense = Layer("dense", "dense", (), (1, 1, 1), (n, 1, 1), weights=n, nonzero_weights=n, bias=n)
    act = Layer("act", "act", ("dense",), (n, 1, 1), (n, 1, 1), activation=kind)
    return Network(f"dense_{kind}", (dense, act), (1, 1, 1))


def _chain(*dims: int) -> Network:
    layers, prev = [], ()
    for i, (a, b) in enumerate(zip(dims, dims[1:])):
        layers.append(Layer(f"fc{i}", "dense", prev, (a, 1, 1), (b, 1, 1), weights=a * b, nonzero_weights=a * b, bias=b))
        prev = (f"fc{i}",)
    return Network("chain", tuple(layers), (dims[0], 1, 1))


@pytest.mark.parametrize("io_type", ["io_parallel", "io_stream"])
@pytest.mark.parametrize("kind,blocks", [("sigmoid", 32), ("elu", 32), ("relu", 0), ("leaky_relu", 0)])
def test_table_activations_cost_block_ram_as_in_hls4mls_reports(kind, blocks, io_type):
    # hls4ml baselines test_activations_*: Dense(1->64) + activation reports 32 BRAM_18K for sigmoid and ELU
    # (one 1024 x 18-bit table per two lanes), 0 for ReLU-like ones, in both io types
    c = dataflow_costs(_dense_act(kind), U250, Mapping(io_type=io_type))
    assert c.bram.sum() == blocks


def test_table_size_is_hls4mls():
    hls4ml = pytest.importorskip("hls4ml")
    header = Path(hls4ml.__file__).parent / "templates/vivado/nnet_utils/nnet_activation.h"
    text = header.read_text()
    size = int(re.search(r"table_size = (\d+);", text).group(1))
    width = int(re.search(r"typedef ap_fixed<(\d+), ?\d+> table_t;", text).group(1))
    assert size * width == TABLE_BITS == 1024 * 18


def test_ram_blocks_take_the_best_bram18_aspect_ratio():
    assert ram_blocks(1024, 18, 18432) == 1 and ram_blocks(512, 36, 18432) == 1 and ram_blocks(16384, 1, 18432) == 1
    assert ram_blocks(1025, 18, 18432) == 2            # 2K x 9 twice
    assert ram_blocks(3328, 5, 18432) == 2             # 4K x 4 twice (or 2K x 9 twice)
    assert ram_blocks(0, 8, 18432) == 0


def test_weights_read_from_a_rom_use_dsps_from_8_bits():
    # Resource at RF > 1: the weights are not constants; Vitis maps 8 x 16-bit products to DSPs (wa-hls4ml's
    # 8-bit designs report one DSP per multiplier) although hls4ml's rule (< 9 weight bits: LUTs) says 0
    net = _chain(80, 24, 120)
    for bits, dsps in ((8, 5), (6, 0), (16, 5)):
        c = dataflow_costs(net, U250, Mapping(reuse_factor=960, strategy="Resource",
                                              precision=f"ap_fixed<{bits},1>/ap_fixed<16,6>"))
        assert c.detail["multipliers"].tolist() == [2, 3] and c.dsp.sum() == dsps
    const = dataflow_costs(net, U250, Mapping(precision="ap_fixed<8,1>/ap_fixed<16,6>"))     # Latency, RF 1
    assert const.dsp.sum() == 0                                                             # hls4ml's rule


def test_index_table_of_the_rf_multiple_of_n_in_kernel():
    # dense_resource_rf_gt_nin_rem0 keeps outidx[RF]: 2496 words of ceil(log2(2496 / 104)) = 5 bits -> 2 BRAM18
    net = _chain(104, 48)
    plan = resolve_plan(net, Mapping(reuse_factor=2496, strategy="Resource", precision="ap_fixed<4,1>/ap_fixed<16,6>"),
                        U250)
    table = index_table_blocks(net, plan, U250, rom_kernels(net, plan, multipliers(net, plan), U250.calibration))
    assert plan.rf[0] == 2496 and table[0] == 2
    small = resolve_plan(net, Mapping(reuse_factor=52, strategy="Resource"), U250)     # RF <= n_in: no table
    kernels = rom_kernels(net, small, multipliers(net, small), U250.calibration)
    assert kernels.narrow[0] and index_table_blocks(net, small, U250, kernels)[0] == 0


def test_shallow_weight_roms_are_luts_not_block_ram():
    c = dataflow_costs(_chain(16, 8), U250, Mapping(reuse_factor=4, strategy="Resource"))
    assert c.bram.sum() == 0 and c.lut.sum() > 0


def test_io_parallel_pooling_registers_its_input_only():
    # hls4ml baselines test_pooling (io_parallel, 18x15x3, ap_fixed<16,6>): FF = 12,962 = 810 x 16 + 2
    pool = Layer("pool", "maxpool", (), (3, 18, 15), (3, 9, 7), (2, 2), (2, 2))
    c = dataflow_costs(Network("pool", (pool,), (3, 18, 15)), U250, Mapping(io_type="io_parallel"))
    assert c.ff.sum() == 3 * 18 * 15 * 16


def test_rom_kernel_logic_grows_with_its_structure():
    base = dataflow_costs(_chain(64, 32, 16), U250, Mapping(reuse_factor=2048, strategy="Resource",
                                                            precision="ap_fixed<8,1>/ap_fixed<16,6>"))
    wider = dataflow_costs(_chain(64, 64, 16), U250, Mapping(reuse_factor=2048, strategy="Resource",
                                                             precision="ap_fixed<8,1>/ap_fixed<16,6>"))
    assert wider.ff.sum() > base.ff.sum() and wider.lut.sum() > base.lut.sum()
    assert np.all(base.ff > 0) and np.all(base.lut > 0)


def _conv_stream(cin: int, cout: int, k: int, size: int) -> Network:
    w = cin * cout * k * k
    conv = Layer("conv", "conv", (), (cin, size, size), (cout, size - k + 1, size - k + 1), (k, k), (1, 1), 1, w, w)
    return Network("conv", (conv,), (cin, size, size))


def test_weight_roms_go_where_the_backends_hls_tool_puts_them():
    # hls4ml's nnet_dense_resource.h: '#pragma HLS RESOURCE variable=weights core=ROM_nP_BRAM' at RF > 1.
    # Vivado HLS honours it: a 16384 x 8-bit ROM (32x32 channels, 4x4, RF 16384) is 8 BRAM18 (16K x 1 each)
    # plus the outidx table (16384 x 5 bits: 5 BRAM18); after Vitis HLS + Vivado synthesis (wa-hls4ml) a
    # ROM of that size is LUTs, so only the table is block RAM and the LUTs grow by the ROM cells. The 8 x 9-bit
    # product: a DSP after Vitis HLS (wa-hls4ml: 8-bit weights get DSPs), LUTs under Vivado HLS (hls4ml's rule:
    # no DSP below 9 weight bits).
    net = _conv_stream(32, 32, 4, 11)
    mapping = Mapping(reuse_factor=16384, strategy="Resource", io_type="io_stream", precision="ap_fixed<8,3>/ap_fixed<9,3>")
    vivado = layer_resources(net, resolve_plan(net, mapping.with_(backend="Vivado"), U250), U250)
    vitis = layer_resources(net, resolve_plan(net, mapping, U250), U250)
    assert vivado["bram"][0] - vitis["bram"][0] == 8
    assert (vivado["dsp"][0], vitis["dsp"][0]) == (0, 1)
    cells = 8 * 16384 / 64 * U250.cal("dataflow.lut_per_rom_cell")
    lut_multiplier = 8 * 9 * U250.cal("dataflow.lut_per_rom_mult_bit2")
    assert vitis["lut"][0] - vivado["lut"][0] == pytest.approx(cells - lut_multiplier)


def test_vivado_hls_gives_a_rom_multiplier_a_dsp_from_9_weight_bits_whatever_the_data_width():
    # MLPerf Tiny's AD08 (Vivado HLS): 13-bit weights x 7-bit ReLU outputs, 216 multipliers sized for the
    # PYNQ-Z2's 220 DSPs; after Vitis HLS the fitted rule wants both operands at dsp_min_bits_rom (8) bits
    dense = Layer("fc", "dense", (), (72, 1, 1), (72, 1, 1), weights=72 * 72, nonzero_weights=72 * 72, bias=72)
    net = Network("fc", (dense,), (72, 1, 1))
    mapping = Mapping(reuse_factor=144, strategy="Resource", precision="ap_fixed<13,7>/ap_ufixed<7,6>")
    vivado = layer_resources(net, resolve_plan(net, mapping.with_(backend="Vivado"), U250), U250)
    vitis = layer_resources(net, resolve_plan(net, mapping, U250), U250)
    assert (vivado["multipliers"][0], vivado["dsp"][0], vitis["dsp"][0]) == (36, 36, 0)
    narrow = mapping.with_(precision="ap_fixed<8,3>/ap_fixed<16,6>", backend="Vivado")
    assert layer_resources(net, resolve_plan(net, narrow, U250), U250)["dsp"][0] == 0


def test_the_input_select_of_a_rom_kernel_is_a_multiplexer_tree():
    # RF > n_in: all multipliers read data[in_index], one n_in-way multiplexer per input bit: a 2048-input
    # dense layer at 9 bits is 9 x ceil(2047 / 3) = 6,147 LUT6 of it (the fitted constants cover <= 128 inputs)
    dense = Layer("fc", "dense", (), (2048, 1, 1), (10, 1, 1), weights=20480, nonzero_weights=20480, bias=10)
    net = Network("fc", (dense,), (2048, 1, 1))
    plan = resolve_plan(net, Mapping(reuse_factor=20480, strategy="Resource", precision="ap_fixed<8,3>/ap_fixed<9,3>",
                                     io_type="io_stream"), U250)
    kernels = rom_kernels(net, plan, multipliers(net, plan), U250.calibration)
    feats = rom_features(net, plan, np.ones(1), multipliers(net, plan), kernels)
    assert feats["in_mux"][0] == 9 * 683


def test_rn07_with_its_published_configuration_fits_the_pynq_z2():
    # MLPerf Tiny v0.7 RN07 was built (Vivado HLS, hls4ml's VivadoAccelerator backend) and ran on the board
    from codesign.sim import references

    dev = load_device("xc7z020")
    mapping = Mapping.from_hls_config(references.RN07_HLS_CONFIG)
    assert mapping.backend == "Vivado" and mapping.io_type == "io_stream"
    c = dataflow_costs(references.rn07(), dev, mapping)
    for key in ("lut", "ff", "bram", "dsp"):
        assert getattr(c, key).sum() <= getattr(dev, key)
    # one multiplier per layer (RF = the layer's weights), 8-bit weights: LUTs under Vivado HLS (hls4ml's rule)
    assert c.dsp.sum() == 0
    assert c.dsp.sum() == 0 and dataflow_costs(references.rn07(), dev, mapping.with_(backend="Vitis")).dsp.sum() == 6


@pytest.mark.parametrize("rf, distinct", [(512, 1), (256, 2), (128, 4), (16, 32)])
def test_the_rf_leq_n_in_kernel_shares_its_input_multiplexers_cyclically(rf, distinct):
    # dense_resource_rf_leq_nin: multiplier im reads data[ir + (im mod n_in/RF) * RF], so n_in / RF distinct
    # RF-way multiplexers serve all of them (at RF = n_in one multiplexer: every multiplier reads data[ir])
    from codesign.sim.dataflow_resources import mux_luts, narrow_rf_logic

    dense = Layer("fc", "dense", (), (512, 1, 1), (32, 1, 1), weights=512 * 32, nonzero_weights=512 * 32, bias=32)
    net = Network("fc", (dense,), (512, 1, 1))
    plan = resolve_plan(net, Mapping(reuse_factor=rf, strategy="Resource", precision="ap_fixed<8,3>/ap_fixed<9,3>"),
                        U250)
    mults = multipliers(net, plan)
    kernels = rom_kernels(net, plan, mults, U250.calibration)
    assert kernels.narrow[0] and mults[0] == 512 * 32 // rf
    assert narrow_rf_logic(net, plan, mults, kernels, U250.calibration)[0] == distinct * mux_luts(np.array([rf]),
                                                                                               np.array([9]))[0]


def test_rn08_with_its_published_configuration_fits_the_pynq_z2():
    # MLPerf Tiny v1.0 RN08 (RN07's network, convs at RF 512 = n_in with 32 multipliers) was built and ran on the
    # board; with a multiplexer per multiplier its third conv alone would need 49k LUT
    from codesign.sim import references

    dev = load_device("xc7z020")
    c = dataflow_costs(references.rn08(), dev, Mapping.from_hls_config(references.RN08_HLS_CONFIG))
    for key in ("lut", "ff", "bram", "dsp"):
        assert getattr(c, key).sum() <= getattr(dev, key), key


@pytest.mark.parametrize("kind", ["relu", "sigmoid", "elu"])
def test_combinational_dense_has_no_pipeline_registers(kind):
    # hls4ml baselines test_activations io_parallel: Dense(1->64) at RF 1 reports 0 cycles and FF 18 (the
    # input register): no pipeline registers per multiplier; a table activation's read is a pipeline stage
    # whose index and result are registered (reports: FF 1,047-3,865 for sigmoid and ELU, 64 lanes)
    net = _dense_act(kind)
    res = layer_resources(net, resolve_plan(net, Mapping(io_type="io_parallel"), U250), U250)
    assert res["ff"][0] == 16                                   # the registered input only
    assert res["ff"][1] == (64 * (16 + 16) if kind != "relu" else 0)
    wider = _dense_act(kind)
    wider = Network("w", (Layer("dense", "dense", (), (2, 1, 1), (64, 1, 1), weights=128, nonzero_weights=128,
                                bias=64),) + wider.layers[1:], (2, 1, 1))
    res = layer_resources(wider, resolve_plan(wider, Mapping(io_type="io_parallel"), U250), U250)
    assert res["ff"][0] > 128 * 5                                # pipelined: registers per multiplier


def test_constants_with_two_signed_digits_are_shift_adds_not_dsps(tmp_path):
    # hls4ml's Conv2D baseline (32 filters 4x4 stride 4 on 28x28x3, Keras 'normal' = N(0, 0.05) weights,
    # ap_fixed<16,6>, RF 1): 1,536 multiplications, 740 DSPs (Vivado HLS 2020.1) and 792 (Vitis HLS 2024.1)
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from codesign.sim import estimate
    from codesign.sim.hls_rules import shift_add_counts

    assert shift_add_counts(np.array([0.5, -0.75, 0.4375, 0.3]))[4] == 4      # 8, -12 (2 digits), 7 (2), 4 (floor)
    assert shift_add_counts(np.array([0.0, 1.0]))[0] == 1 and shift_add_counts(np.array([11 / 16]))[4] == 0
    w = np.random.default_rng(0).normal(0, 0.05, (32, 3, 4, 4)).astype(np.float32)
    graph = helper.make_graph([helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[4, 4], strides=[4, 4])],
                              "conv", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 28, 28])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(w, "w")])
    path = tmp_path / "conv.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    t = estimate(path, "xcu250", Mapping(strategy="Resource", io_type="io_parallel")).totals
    assert 740 * 0.9 < t["dsp"] < 792 * 1.1
    for rf in (1, 3, 4):        # whole DSPs at every reuse factor (a share of shift-adds made 256.25 of them)
        report = estimate(path, "xcu250", Mapping(strategy="Resource", io_type="io_parallel", reuse_factor=rf))
        assert report.totals["dsp"] == int(report.totals["dsp"]) > 0
    shapes_only = estimate(path, "xcu250", Mapping(strategy="Resource", io_type="io_parallel", precision="8"))
    assert shapes_only.totals["dsp"] == 0          # a bare width: no fractional bits known, hls4ml's rule (< 9 bits)
