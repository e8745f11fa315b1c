"""The tiled (DRAM-streaming) template: hand-computed cases and Zhang et al. FPGA'15."""
import pytest

from codesign.errors import ConfigError
from codesign.sim import Mapping, Network, estimate, load_device, references
from codesign.sim.tiled import tiled_costs
from codesign.sim.tiled_search import TiledDesign, search_design

VC707 = "vc707"


def test_fully_buffered_conv_hand_computed(nets):
    net = Network("c", (nets.conv("conv", None, 4, 8, 8),), (4, 8, 8))          # 4x8x8 -> 8x6x6, K=3
    dev = load_device(VC707)
    c = tiled_costs(net, dev, Mapping(template="tiled", clock_mhz=100), TiledDesign(8, 1, 2, 2, 300, 300, 300))
    assert c.detail["mac_cycles"][0] == 9 * 4 * 3 * 3 * 1 == 324              # K^2 * Nif * ceil(6/2)^2 * ceil(8/8)
    # everything fits on chip: inputs, weights and outputs cross DRAM once (16-bit words)
    assert c.dram_read[0] == (4 * 8 * 8 + 8 * 4 * 9) * 2 and c.dram_write[0] == 8 * 36 * 2
    # among the tilings with the least traffic, the smallest fill: Tif = Pif = 1 (partial sums on chip)
    assert [int(c.detail["tiles"][k][0]) for k in ("tof", "tif", "tox", "toy")] == [8, 1, 6, 6]
    bw = 12.8e9 * 0.7
    fill = (1 * 8 * 8 + 8 * 1 * 9 + 8 * 6 * 6) * 2 / bw   # first input tile + first weight tile + last output tile
    assert c.latency_s == pytest.approx(324 / 100e6 + fill, rel=1e-9)          # compute-bound + fill/drain
    assert c.bound[0] == "compute" and c.shared["dsp"] == 32


def test_dense_layer_is_memory_bound_and_reads_weights_once(nets):
    net = Network("fc", (nets.dense("fc", None, 1024, 1024),), (1024, 1, 1))
    dev = load_device("pynq-z2")
    c = tiled_costs(net, dev, Mapping(template="tiled"))
    weights = 1024 * 1024 * 2
    assert c.bound[0] == "memory"
    assert weights <= c.dram_read[0] <= weights * 1.01
    assert c.latency_s == pytest.approx((c.dram_read[0] + c.dram_write[0]) / dev.dram_bytes_per_s, rel=0.02)


def test_small_buffers_force_refetches(nets):
    net = Network("c", (nets.conv("conv", None, 16, 34, 32),), (16, 34, 34))
    dev = load_device(VC707)
    m = Mapping(template="tiled", clock_mhz=100)
    big = tiled_costs(net, dev, m, TiledDesign(8, 1, 4, 4, 600, 600, 600))
    small = tiled_costs(net, dev, m, TiledDesign(8, 1, 4, 4, 16, 8, 8))
    assert small.dram_read[0] > big.dram_read[0]
    assert big.detail["mac_cycles"][0] == small.detail["mac_cycles"][0]


def test_unstructured_zeros_only_count_with_zero_skip(nets):
    dense = Network("c", (nets.conv("conv", None, 16, 18, 32),), (16, 18, 18))
    half = Network("c", (nets.conv("conv", None, 16, 18, 32, nonzero=16 * 32 * 9 // 2),), (16, 18, 18))
    dev, design = load_device(VC707), TiledDesign(8, 1, 4, 4, 600, 600, 600)
    m = Mapping(template="tiled")
    assert tiled_costs(half, dev, m, design).latency_s == tiled_costs(dense, dev, m, design).latency_s
    skip = tiled_costs(half, dev, m.with_(zero_skip=True), design)
    base = tiled_costs(dense, dev, m, design)
    assert skip.detail["mac_cycles"][0] == pytest.approx(base.detail["mac_cycles"][0] / 2, abs=1)
    assert any("zero" in n and "skipped" in n for n in skip.notes)


def test_aligned_dram_layout_pads_channels(nets):
    net = Network("c", (nets.conv("a", None, 3, 18, 10), nets.conv("b", "a", 10, 16, 10)), (3, 18, 18))
    dev, design = load_device(VC707), TiledDesign(32, 1, 4, 4, 600, 600, 600)
    packed = tiled_costs(net, dev, Mapping(template="tiled"), design)
    aligned = tiled_costs(net, dev, Mapping(template="tiled", dram_layout="aligned"), design)
    assert aligned.dram_write[1] == pytest.approx(packed.dram_write[1] * 32 / 10)
    assert aligned.dram_read[0] > packed.dram_read[0]      # weights padded to Pof x Pif blocks


def test_search_respects_dsp_and_bram_budget():
    r = estimate("resnet20", "pynq-z2", template="tiled")
    t = r.totals
    assert t["fits"] and t["dsp"] <= 220 * 0.8 and t["bram"] <= 280 * 0.8
    design = r.costs.detail["design"]
    assert design.macs * 1 <= 220 * 0.8


def test_fixed_unroll_that_cannot_fit_is_one_line_error(nets):
    net = Network("c", (nets.conv("conv", None, 4, 8, 8),), (4, 8, 8))
    with pytest.raises(ConfigError, match="smaller unroll"):
        search_design(net, load_device("pynq-z2"), Mapping(template="tiled", unroll="512,64,1,1"))


def test_reproduces_zhang_fpga15_alexnet_on_vc707():
    """Zhang et al. FPGA'15 (references.ZHANG_SOURCE): AlexNet convolutions, fp32, VC707 at 100 MHz,
    unified (Tm, Tn) = (64, 7): 61.62 GFLOPS, i.e. 1.3316 GFLOP in 21.61 ms; 2,240 DSPs."""
    cfg, pub = references.ZHANG_SETTINGS, references.ZHANG_PUBLISHED
    net = references.alexnet_conv()
    r = estimate(net, cfg["device"], template="tiled", precision=cfg["precision"], unroll=cfg["unroll"],
                 clock_mhz=cfg["clock_mhz"])
    t = r.totals
    ops = 2 * net.macs
    assert ops == pytest.approx(1.3316e9, rel=1e-3)
    # the compute cycles are Zhang's formula exactly: sum of ceil(M/64) ceil(N/7) R C K^2 per group
    assert r.costs.detail["mac_cycles"].sum() == 2_005_892
    assert t["dsp"] == pub["dsp"]
    assert t["latency_s"] == pytest.approx(pub["latency_s"], rel=0.10)            # measured -6.6%
    assert ops / t["latency_s"] / 1e9 == pytest.approx(pub["gflops"], rel=0.10)   # measured +7.0%
    assert all(b == "compute" for b in r.costs.bound)
