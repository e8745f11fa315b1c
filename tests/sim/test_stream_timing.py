"""io_stream timing against hls4ml's stream kernels, its published io_stream baselines, the SVHN report
and the RN07 board result."""
from dataclasses import replace

import numpy as np
import pytest

from codesign.sim import Layer, Network, hls_rules, load_device, references
from codesign.sim.stream_graph import stream_graph, stream_network
from codesign.sim.stream_schedule import stream_schedule
from codesign.sim.stream_timing import StreamCal, layer_profile, layer_timing, process_profiles, window_ends

CAL = StreamCal.from_calibration(load_device("xcu250").calibration)


def _hls4ml_windows(h, w, kh, kw, sh, sw):
    """compute_output_buffer_2d's counters (nnet_conv_stream.h), run pixel by pixel."""
    px = py = sx = sy = 0
    out = []
    for _ in range(h * w):
        out.append(sx == kw - 1 and sy == kh - 1 and py > kh - 2 and px > kw - 2)
        if px + 1 == w:
            px = sx = 0
            if py + 1 == h:
                py = sy = 0
            else:
                py, sy = py + 1, (sy - sh + 1 if sy == kh - 1 else sy + 1)
        else:
            px, sx = px + 1, (sx - sw + 1 if sx == kw - 1 else sx + 1)
    return np.array(out)


@pytest.mark.parametrize("h, w, k, s", [(8, 8, 3, 1), (9, 9, 3, 2), (32, 32, 4, 4), (10, 7, 1, 2), (11, 11, 4, 1),
                                        (6, 6, 2, 2), (5, 12, 3, 3)])
def test_windows_end_where_hls4mls_line_buffer_computes(h, w, k, s):
    ends = window_ends(h, w, k, k, s, s)
    assert np.array_equal(ends, _hls4ml_windows(h, w, k, k, s, s))
    assert ends.sum() == ((h - k) // s + 1) * ((w - k) // s + 1)


def _conv(cin, h, cout, k, s):
    out = (h - k) // s + 1
    wts = cout * cin * k * k
    return Layer("c", "conv", (), (cin, h, h), (cout, out, out), (k, k), (s, s), 1, wts, wts)


def test_resource_conv_computes_only_where_a_window_ends():
    conv = _conv(32, 32, 32, 4, 4)                       # stride 4: 64 windows among 1,024 pixels
    p = layer_profile(conv, 16384, True, CAL)
    assert len(p.write_iter) == 64
    assert p.latency == 64 * (16384 + CAL.window_extra) + (1024 - 64) * CAL.shift
    lat = layer_profile(conv, 4, False, CAL)              # Latency: PIPELINE II=RF on every pixel
    pixel = 4 - 1 + CAL.mult + 2 + CAL.conv_depth          # a pixel's dense (512 inputs: 2 adder stages) + line buffer
    assert lat.latency == (1024 - 1) * 4 + pixel + 1


def test_closed_form_is_the_profiles():
    layers = [_conv(3, 34, 8, 3, 1), _conv(8, 34, 16, 3, 2), _conv(4, 35, 32, 4, 1), _conv(2, 9, 2, 1, 2),
              Layer("p", "maxpool", (), (8, 13, 13), (8, 6, 6), (2, 2), (2, 2)),
              Layer("g", "globalpool", (), (8, 6, 6), (8, 1, 1)),
              Layer("z", "pad", (), (4, 8, 8), (4, 11, 11)),
              Layer("a", "act", (), (4, 8, 8), (4, 8, 8)), Layer("a1", "act", (), (4, 1, 1), (4, 1, 1)),
              Layer("d", "dense", (), (6, 4, 4), (5, 1, 1), weights=480, nonzero_weights=480),
              Layer("d1", "dense", (), (6, 1, 1), (5, 1, 1), weights=30, nonzero_weights=30),
              Layer("s", "softmax", (), (10, 1, 1), (10, 1, 1))]
    net = Network("mix", tuple(replace(l, name=f"{l.name}{i}") for i, l in enumerate(layers)), (3, 34, 34))
    for rf, resource in ((1, False), (3, False), (16, True), (2048, True)):
        rfs, res = np.full(len(net), rf), np.full(len(net), resource)
        for backend in ("Vitis", "Vivado"):
            cycles, first, interval = layer_timing(net, rfs, res, CAL, backend)
            for i, layer in enumerate(net.layers):
                p = layer_profile(layer, rf, resource, CAL)
                assert (cycles[i], first[i], interval[i]) == (p.latency, p.first_output, p.interval_for(backend)), \
                    layer.name


def _network_timing(net, rf=1, resource=False, calls=2):
    sn = stream_network(net)
    rfs, res = np.full(len(sn.network), rf), np.full(len(sn.network), resource)
    g = stream_graph(sn.network)
    return stream_schedule(g, process_profiles(g, rfs, res, CAL), calls, CAL)


@pytest.mark.parametrize("name, build", [("depthwise2d_io_stream", references.depthwise2d_baseline),
                                         ("depthwise1d_io_stream", references.depthwise1d_baseline)])
def test_reproduces_hls4mls_io_stream_baselines(name, build):
    """Published: hls4ml's synthesis baselines (references.BASELINES_SOURCE), Vivado 2020.1 and Vitis 2024.1."""
    sched = _network_timing(build())
    for tool, (latency, interval) in references.STREAM_BASELINES[name].items():
        assert (sched.latency, sched.interval) == (latency, interval), tool


def test_svhn_stream_latency_and_interval():
    """Published: the hls4ml tutorial's SVHN CNN, 1,055 cycles latency, interval 1,029 (references.SVHN_SOURCE)."""
    sched = _network_timing(references.svhn_cnn())
    assert sched.interval == references.SVHN_PUBLISHED["interval_cycles"]       # conv_0: 1,028 + 1
    assert abs(sched.latency / references.SVHN_PUBLISHED["latency_cycles"] - 1) < 0.005    # 1,052: -0.3%
    assert sched.call_end()[1] - sched.call_end()[0] == sched.interval


def _rn07_plan(net):
    a = net.arrays
    rf = np.array([hls_rules.closest_reuse_factor(int(a.n_in[i]), int(a.n_out[i]), 16384)
                   if a.op[i] in ("conv", "dense") else 1 for i in range(len(net))])
    return rf, np.ones(len(net), dtype=bool)


def test_rn07_board_latency():
    """Published: MLPerf Tiny v0.7 hls4ml RN07 on a PYNQ-Z2, 27.3 ms per inference (references.RN07_SOURCE),
    the HLS IP clocked at 100 MHz by the block design (the 150 MHz was the HLS target)."""
    net = references.rn07()
    rf, res = _rn07_plan(net)
    assert list(rf[net.arrays.mask("conv", "dense")]) == [96, 2048, 2048, 16384, 16384, 20480]
    g = stream_graph(stream_network(net).network)
    assert len(g.network) == len(net)                    # its padding layers are already there
    sched = stream_schedule(g, process_profiles(g, rf, res, CAL), 1, CAL)
    seconds = sched.latency / (references.RN07_SETTINGS["clock_mhz"] * 1e6)
    assert abs(seconds / references.RN07_PUBLISHED["latency_s"] - 1) < 0.10      # 26.5 ms: -2.9%
    # the two 4x4 stride-1 convs at RF 2,048 set the interval: 1,024 windows of RF + 5 cycles, 201 shifts
    assert sched.interval == 1024 * (2048 + CAL.window_extra) + (35 * 35 - 1024) * CAL.shift + 1


def test_estimator_interface_times_padded_convs_on_the_padded_stream():
    from types import SimpleNamespace

    from codesign.sim.stream_timing import stream_layer_timing, stream_network_timing

    w = 2 * 2 * 9
    net = Network("n", (Layer("conv", "conv", (), (2, 8, 8), (2, 8, 8), (3, 3), (1, 1), 1, w, w),
                        Layer("relu", "act", ("conv",), (2, 8, 8), (2, 8, 8))), (2, 8, 8))
    plan = SimpleNamespace(rf=np.array([1, 1]), resource=np.zeros(2, bool), backend="Vitis")
    cycles, first, interval = stream_layer_timing(net, plan, CAL)
    assert len(cycles) == 2 and cycles[0] == 10 * 10 - 1 + (CAL.mult + 1 + CAL.conv_depth) + 1   # 10x10 padded
    latency, ii = stream_network_timing(net, plan, cycles, first, interval, cal=CAL)
    assert (latency, ii) == (_network_timing(net).latency, _network_timing(net).interval)


@pytest.mark.parametrize("activation, n_out, name", [
    ("relu", 64, "activations_io_stream-relu (1->64)"), ("leaky_relu", 64, "activations_io_stream-leaky_relu"),
    ("prelu", 64, "activations_io_stream-prelu"), ("elu", 64, "activations_io_stream-elu"),
    ("sigmoid", 64, "activations_io_stream-sigmoid"), ("elu", 2, "dense_io_stream (1->2, ELU)")])
def test_one_word_baselines(activation, n_out, name):
    """Dense(1 -> n) + activation on one stream word: the Vitis latencies and intervals exactly (the region
    runs as one call: interval = latency), Vivado's interval (every process a pipelined function, II 1) and
    its latency within a cycle (its ELU lookup takes 1 cycle, Vitis' 2)."""
    from types import SimpleNamespace

    from codesign.sim.stream_timing import stream_network_timing

    net = Network("one", (Layer("dense", "dense", (), (1, 1, 1), (n_out, 1, 1), weights=n_out, nonzero_weights=n_out),
                          Layer("act", "act", ("dense",), (n_out, 1, 1), (n_out, 1, 1), activation=activation)),
                  (1, 1, 1))
    published = references.STREAM_BASELINES_ONE_WORD[name]
    for tool, (latency, interval) in published.items():
        plan = SimpleNamespace(rf=np.ones(2, int), resource=np.zeros(2, bool), backend=tool.split()[0])
        est_latency, est_interval = stream_network_timing(net, plan, cal=CAL)
        assert est_interval == interval, tool
        assert est_latency == latency if tool.startswith("Vitis") else abs(est_latency - latency) <= 1, tool


def test_one_word_latency_dense_under_vivado_is_pipelined_at_its_reuse_factor():
    """hls4ml's dense_wrapper has PIPELINE II=RF: under Vivado HLS a one-word Latency dense restarts every RF
    cycles, a Resource one (its RF-iteration loop) when its call ends; Vitis HLS reports the call's latency."""
    d = Layer("dense", "dense", (), (8, 1, 1), (4, 1, 1), weights=32, nonzero_weights=32)
    net = Network("d", (d,), (8, 1, 1))
    for resource in (False, True):
        _, _, vivado = layer_timing(net, np.array([4]), np.array([resource]), CAL, "Vivado")
        cycles, _, vitis = layer_timing(net, np.array([4]), np.array([resource]), CAL, "Vitis")
        p = layer_profile(d, 4, resource, CAL)
        assert vivado[0] == p.interval_for("Vivado") == (cycles[0] if resource else 4.0)
        assert vitis[0] == p.interval_for("Vitis") == cycles[0]


def test_rn08_board_latency_and_energy():
    """Published: MLPerf Tiny v1.0 hls4ml RN08 on a PYNQ-Z2, 130.8 inferences/s and 12.27 mJ per inference
    (references.RN08_SOURCE); never fitted on: -11.0% latency, energy at the measured latency -0.1%."""
    from codesign.sim import Mapping, estimate

    mapping = Mapping.from_hls_config(references.RN08_HLS_CONFIG).with_(clock_mhz=references.RN08_SETTINGS["clock_mhz"])
    report = estimate(references.rn08(), references.RN08_SETTINGS["device"], mapping)
    assert "zp2d_q_conv2d_batchnorm_3" not in [l.name for l in report.network.layers]
    assert report.costs.plan.rf[report.network.arrays.mask("conv", "dense")].tolist() == [96, 512, 512, 512, 4096,
                                                                                           20480]
    published = references.RN08_PUBLISHED
    assert abs(report.totals["latency_s"] / published["latency_s"] - 1) < 0.15
    energy = report.energy.dynamic + report.energy.power_w * published["latency_s"]
    assert abs(energy / published["energy_j"] - 1) < 0.05 and report.totals["fits"]


def test_rn07_on_the_arty_at_its_memory_controllers_clock():
    """Published: the same RN07 on a Digilent Arty A7-100T, 30.139 inferences/s and 73.17 mJ at 2.22 W, its IP
    clocked at 83.33 MHz (references.RN07_ARTY_SETTINGS); the board power is fitted on AD08 there, not on RN07."""
    from codesign.sim import Mapping, estimate

    cfg, published = references.RN07_ARTY_SETTINGS, references.RN07_ARTY_PUBLISHED
    report = estimate(references.rn07(), cfg["device"],
                      Mapping.from_hls_config(references.RN07_HLS_CONFIG).with_(clock_mhz=cfg["clock_mhz"]))
    assert report.totals["fits"] and abs(report.totals["latency_s"] / published["latency_s"] - 1) < 0.10   # -4.1%
    energy = report.energy.dynamic + report.energy.power_w * published["latency_s"]
    assert abs(energy / published["energy_j"] - 1) < 0.05                                                 # -0.9%


def test_rn07_published_configuration_through_the_estimate():
    """The same board check end to end: the published hls4ml configuration read by Mapping.from_hls_config."""
    from codesign.sim import Mapping, estimate

    cfg = references.RN07_SETTINGS
    mapping = Mapping.from_hls_config(references.RN07_HLS_CONFIG).with_(io_type=cfg["io_type"],
                                                                         clock_mhz=cfg["clock_mhz"])
    report = estimate(references.rn07(), cfg["device"], mapping)
    assert report.costs.plan.rf[report.network.arrays.mask("conv", "dense")].tolist() == [96, 2048, 2048, 16384,
                                                                                           16384, 20480]
    assert abs(report.totals["latency_s"] / references.RN07_PUBLISHED["latency_s"] - 1) < 0.10     # -2.9%
