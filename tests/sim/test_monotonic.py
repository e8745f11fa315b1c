"""Fewer units never cost more: removing channels/neurons (structured pruning) or zeroing weights never
raises latency, interval, DRAM traffic, energy or resources (property-based)."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codesign.sim import Mapping, load_device
from codesign.sim.dataflow import dataflow_costs
from codesign.sim.energy import energy
from codesign.sim.report import summarize
from codesign.sim.tiled import tiled_costs
from codesign.sim.tiled_search import TiledDesign

STATELESS_FIXTURE = [HealthCheck.function_scoped_fixture]      # `nets` only holds builder functions

KEYS = ("latency_cycles", "interval_cycles", "dram_read_bytes", "dram_write_bytes", "dsp", "bram", "lut", "ff",
        "energy_dram_j", "energy_onchip_j", "energy_compute_j", "energy_static_j", "energy_j")
widths = st.lists(st.integers(1, 24), min_size=1, max_size=3)


def _totals(net, device, mapping, design=None):
    costs = tiled_costs(net, device, mapping, design) if mapping.template == "tiled" else \
        dataflow_costs(net, device, mapping)
    return summarize(net, device, costs, energy(costs, device, mapping.precision))


def _no_more(small, big, keys=KEYS):
    for k in keys:
        assert small[k] <= big[k] * (1 + 1e-12) + 1e-18, (k, small[k], big[k])


def _shrunk(ws, layer, cut):
    ws2 = list(ws)
    i = layer % len(ws)
    ws2[i] = max(1, ws[i] - cut)
    return ws2


@settings(max_examples=40, deadline=None, suppress_health_check=STATELESS_FIXTURE)
@given(ws=widths, layer=st.integers(0, 2), cut=st.integers(1, 23), rf=st.sampled_from([1, 2, 3, 8]),
       io=st.sampled_from(["io_stream", "io_parallel"]), zeros=st.sampled_from([0.0, 0.5]),
       device=st.sampled_from(["xcu250", "pynq-z2"]))
def test_dataflow_latency_strategy_monotone(nets, ws, layer, cut, rf, io, zeros, device):
    dev = load_device(device)
    # hls4ml's own kernels: with sparse_kernel auto (the default, as the export) more zeros may switch a Dense
    # layer to codesign's sparse kernel, whose multiplexers can cost more LUTs than the stock kernel's
    m = Mapping(reuse_factor=rf, io_type=io, strategy="Latency", sparse_kernel="off")
    big = _totals(nets.chain_cnn(ws, zeros=zeros), dev, m)
    _no_more(_totals(nets.chain_cnn(_shrunk(ws, layer, cut), zeros=zeros), dev, m), big)
    _no_more(_totals(nets.chain_cnn(ws, zeros=min(1.0, zeros + 0.25)), dev, m), big)     # more zeros


@settings(max_examples=20, deadline=None, suppress_health_check=STATELESS_FIXTURE)
@given(ws=widths, layer=st.integers(0, 2), cut=st.integers(1, 23), io=st.sampled_from(["io_stream", "io_parallel"]))
def test_dataflow_resource_strategy_monotone_at_rf1(nets, ws, layer, cut, io):
    dev = load_device("xczu9eg")
    m = Mapping(reuse_factor=1, io_type=io, strategy="Resource", sparse_kernel="off")
    _no_more(_totals(nets.chain_cnn(_shrunk(ws, layer, cut)), dev, m), _totals(nets.chain_cnn(ws), dev, m))


DESIGNS = [TiledDesign(8, 1, 2, 2, 120, 120, 60), TiledDesign(4, 4, 1, 1, 40, 60, 20),
           TiledDesign(16, 1, 4, 4, 30, 30, 30)]


@settings(max_examples=40, deadline=None, suppress_health_check=STATELESS_FIXTURE)
@given(ws=widths, layer=st.integers(0, 2), cut=st.integers(1, 23), design=st.sampled_from(DESIGNS),
       layout=st.sampled_from(["packed", "aligned"]), skip=st.booleans(), size=st.sampled_from([30, 38]))
def test_tiled_fixed_design_monotone(nets, ws, layer, cut, design, layout, skip, size):
    dev = load_device("vc707")
    m = Mapping(template="tiled", dram_layout=layout, zero_skip=skip)
    big = _totals(nets.chain_cnn(ws, size=size), dev, m, design)
    # BRAM is excluded: the design's buffer budget is fixed, and a smaller layer may use more of it
    # (buffering a whole operand) precisely to cut DRAM traffic
    keys = tuple(k for k in KEYS if k != "bram")
    _no_more(_totals(nets.chain_cnn(_shrunk(ws, layer, cut), size=size), dev, m, design), big, keys)
    if skip:
        _no_more(_totals(nets.chain_cnn(ws, size=size, zeros=0.5), dev, m, design), big, keys)


@settings(max_examples=15, deadline=None, suppress_health_check=STATELESS_FIXTURE)
@given(ws=widths, layer=st.integers(0, 2), cut=st.integers(1, 23))
def test_tiled_searched_design_latency_monotone(nets, ws, layer, cut):
    dev = load_device("xczu9eg")
    m = Mapping(template="tiled")
    big = _totals(nets.chain_cnn(ws, size=30), dev, m)
    small = _totals(nets.chain_cnn(_shrunk(ws, layer, cut), size=30), dev, m)
    assert small["latency_cycles"] <= big["latency_cycles"] * (1 + 1e-9)
