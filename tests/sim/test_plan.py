"""The per-layer plan: hls4ml's settings resolved into arrays that timing and resources read."""
import pytest

from codesign.errors import ConfigError
from codesign.sim import Layer, Mapping, Network, estimate, load_device
from codesign.sim.mapping import LayerSettings
from codesign.sim.plan import lossless_accumulator, resolve_plan


def _mlp(nets):
    return Network("m", (nets.dense("fc1", None, 16, 64), nets.simple("relu1", "act", ["fc1"], (64, 1, 1)),
                         nets.dense("fc2", "relu1", 64, 5)), (16, 1, 1))


def test_network_wide_mapping_gives_uniform_arrays(nets):
    plan = resolve_plan(_mlp(nets), Mapping(reuse_factor=4, precision="ap_fixed<8,3>/ap_fixed<16,6>"))
    assert plan.rf.tolist() == [4, 1, 4] and not plan.resource.any() and not plan.io_stream
    assert plan.w_bits.tolist() == [8, 8, 8] and plan.w_int.tolist() == [3, 3, 3]
    assert plan.in_bits.tolist() == [16, 16, 16] and plan.out_bits.tolist() == [16, 16, 16]
    # hls4ml's lossless accumulator: 8 + 16 + ceil(log2 n_in) bits, + 1 integer bit for the bias
    assert plan.acc_bits.tolist() == [8 + 16 + 4 + 1, 16, 8 + 16 + 6 + 1]
    assert plan.fifo_depth.tolist() == [1, 1, 1]


def test_per_layer_settings_override_the_network(nets):
    m = Mapping(reuse_factor=2, layers={"fc2": LayerSettings(reuse_factor=64, strategy="Resource",
                                                              weight="ap_fixed<4,2>", result="ap_fixed<10,4>")})
    plan = resolve_plan(_mlp(nets), m)
    assert plan.rf.tolist() == [2, 1, 64] and plan.resource.tolist() == [False, False, True]
    assert plan.w_bits.tolist() == [16, 16, 4] and plan.out_bits.tolist() == [16, 16, 10]
    r = estimate(_mlp(nets), "xcu250", m)
    assert r.costs.detail["multipliers"].tolist() == [16 * 64 // 2, 0, 5]
    assert r.costs.dsp[2] == 0                     # 4-bit weights: LUT multipliers (hls4ml: < 9 bits)


def test_in_bits_follow_the_producers_result(nets):
    m = Mapping(layers={"relu1": LayerSettings(result="ap_ufixed<6,2>")})
    plan = resolve_plan(_mlp(nets), m)
    assert plan.out_bits.tolist() == [16, 6, 16] and plan.in_bits.tolist() == [16, 16, 6]
    assert plan.acc_bits[2] == lossless_accumulator(16, 6, 6, 2, 16, 6, 64)[0]


def test_a_padding_layer_keeps_its_inputs_type(nets):
    # hls4ml's conv_same_pad pass: the inserted ZeroPadding2D's output precision is its input's
    conv = nets.conv("conv", None, 2, 8, 4)
    pad = Layer("pad", "pad", ("conv",), (4, 6, 6), (4, 8, 8))
    net = Network("p", (conv, pad), (2, 8, 8))
    plan = resolve_plan(net, Mapping(layers={"conv": LayerSettings(result="ap_fixed<9,3>")}))
    assert plan.out_bits.tolist() == [9, 9]


def test_resource_rf_moves_to_the_closest_valid_one_per_layer(nets):
    net = Network("d", (nets.dense("fc", None, 16, 8),), (16, 1, 1))
    plan = resolve_plan(net, Mapping(reuse_factor=3, strategy="Resource"))
    assert plan.rf_requested[0] == 3 and plan.rf[0] == 2
    latency = resolve_plan(net, Mapping(reuse_factor=3))
    assert latency.rf[0] == 3                       # hls4ml moves it under Resource only


def test_fifo_depth_default_is_hls4mls_and_settable(nets):
    conv = nets.conv("conv", None, 2, 8, 4)
    net = Network("c", (conv, nets.simple("relu", "act", ["conv"], (4, 6, 6))), (2, 8, 8))
    plan = resolve_plan(net, Mapping(io_type="io_stream"))
    assert plan.io_stream and plan.fifo_depth.tolist() == [36, 36]        # H*W of the output
    small = Mapping(io_type="io_stream", layers={"conv": LayerSettings(fifo_depth=8)})
    assert resolve_plan(net, small).fifo_depth.tolist() == [8, 36]
    dev = load_device("xcu250")
    assert estimate(net, dev, small).costs.bram[0] < estimate(net, dev, Mapping(io_type="io_stream")).costs.bram[0]


def test_unknown_layer_names_are_one_line_errors_with_close_matches(nets):
    with pytest.raises(ConfigError, match=r"unknown layer 'fc3' \(did you mean: fc2, fc1\?\); layers: fc1, relu1, fc2") as err:
        resolve_plan(_mlp(nets), Mapping(layers={"fc3": LayerSettings(reuse_factor=2)}))
    assert "\n" not in str(err.value)


def test_hls4ml_style_names_match_dotted_names(nets):
    net = Network("m", (nets.dense("layers.0.fc", None, 16, 8),), (16, 1, 1))
    plan = resolve_plan(net, Mapping(layers={"Layers_0_fc": LayerSettings(reuse_factor=8)}))
    assert plan.rf[0] == 8


def test_lossless_accumulator_matches_hls4ml(tmp_path):
    """hls4ml's InferPrecisionTypes on a converted Dense: accum and result 'auto'."""
    hls4ml = pytest.importorskip("hls4ml")
    import torch
    import torch.nn as nn

    model = nn.Sequential(nn.Linear(20, 7)).eval()
    cfg = hls4ml.utils.config_from_pytorch_model(model, input_shape=(20,), granularity="name", backend="Vitis",
                                                 default_precision="ap_fixed<12,4>")
    name = next(n for n in cfg["LayerName"] if not n.startswith("input"))
    cfg["LayerName"][name]["Precision"].update(weight="ap_fixed<7,2>", bias="ap_fixed<9,3>", accum="auto",
                                               result="auto")
    torch.manual_seed(0)
    hls_model = hls4ml.converters.convert_from_pytorch_model(model, hls_config=cfg, backend="Vitis",
                                                             output_dir=str(tmp_path / "prj"))
    layer = next(l for l in hls_model.get_layers() if l.class_name == "Dense")
    accum = layer.get_attr("accum_t").precision
    assert lossless_accumulator(7, 2, 12, 4, 9, 3, 20) == (accum.width, accum.integer)


def test_a_product_of_two_tensors_multiplies_their_result_types(nets):
    """op mul (x * gate(x), SiLU's x * sigmoid(x)) has no weights: its operands are its inputs' results, not the
    network's weight type. Before, ap_fixed<16,6> weights made an 8-bit product of the exported design (whose
    layers all have their own types) a DSP multiplier in the export's estimate and a LUT one in simulate's."""
    net = Network("g", (nets.dense("fc", None, 8, 16), nets.simple("gate", "act", ["fc"], (16, 1, 1)),
                        nets.simple("prod", "mul", ["fc", "gate"], (16, 1, 1))), (8, 1, 1))
    eight = {n: LayerSettings(result="ap_fixed<8,3>") for n in ("fc", "gate")}
    plan = resolve_plan(net, Mapping(precision="ap_fixed<16,6>", layers=eight))
    assert plan.w_bits.tolist()[2] == 8 and plan.w_int.tolist()[2] == 3
    assert estimate(net, "xcu250", Mapping(precision="ap_fixed<16,6>", layers=eight)).costs.dsp[2] == 0
    plan = resolve_plan(net, Mapping(precision="ap_fixed<8,3>/ap_fixed<16,6>"))    # the uniform plan too
    assert plan.w_bits.tolist() == [8, 8, 16]


def test_the_padding_before_a_first_convolution_keeps_the_input_type(nets):
    """hls4ml's ZeroPadding (io_stream, before a padded convolution) keeps its input's type, also when it reads
    the network input (the project's layer28_t = input_t); it took the network's default result type there."""
    from codesign.sim.estimate import hardware_network

    net = Network("c", (nets.conv("c1", None, 1, 8, 4, pad=1),), (1, 8, 8), meta={"input": "x"})
    m = Mapping(io_type="io_stream", precision="ap_fixed<16,6>", layers={"x": LayerSettings(result="ap_fixed<12,3>")})
    padded = hardware_network(net, m)
    plan = resolve_plan(padded, m)
    assert [layer.name for layer in padded.layers] == ["zp2d_c1", "c1"] and plan.out_bits.tolist()[0] == 12
