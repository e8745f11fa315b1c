"""Grouped convolutions as hls4ml builds them (codesign/sim/grouped_convs.py): the dataflow template prices
the block-diagonal convolution the export writes for a grouped one hls4ml does not convert, and keeps
depthwise ones; the export's rewrite pass and the estimator follow the same rule."""
from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from codesign.export.hls import source_graph
from codesign.sim import Mapping, estimate, load_network
from codesign.sim.estimate import hardware_network
from codesign.sim.grouped_convs import as_hls4ml_builds, hls4ml_keeps_groups
from tests.user_models import build


def grouped_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(),
                         nn.Conv2d(8, 8, 3, padding=1, groups=8), nn.ReLU(),           # depthwise: hls4ml's own
                         nn.Conv2d(8, 16, 3, padding=1, groups=4), nn.ReLU(),          # grouped: block-diagonal
                         nn.Conv2d(16, 32, 1, groups=16), nn.ReLU(),                   # depth multiplier 2
                         nn.Flatten(), nn.Linear(32 * 6 * 6, 4)).eval()


@pytest.mark.parametrize("groups, cin, cout, kept", [(1, 8, 16, True), (8, 8, 8, True), (4, 8, 16, False),
                                                     (16, 16, 32, False), (2, 4, 4, False)])
def test_hls4ml_keeps_no_groups_and_depthwise_with_one_output_per_channel(groups, cin, cout, kept):
    assert hls4ml_keeps_groups(groups, cin, cout) is kept


@pytest.mark.parametrize("io_type", ["io_parallel", "io_stream"])
def test_dataflow_prices_the_block_diagonal_convolution(io_type):
    net = load_network(grouped_net(), in_shape=(1, 6, 6))
    built = {l.name: l for l in hardware_network(net, Mapping(io_type=io_type)).layers}
    given = {l.name: l for l in net.layers}
    assert (built["2"].groups, built["2"].weights) == (8, 72)                        # depthwise kept
    assert (built["4"].groups, built["4"].weights, built["4"].n_in) == (1, 16 * 8 * 9, 8 * 9)
    assert built["4"].nonzero_weights == given["4"].nonzero_weights == 16 * 2 * 9
    assert built["4"].shift_add == given["4"].shift_add                               # zeros add no constants
    assert (built["6"].groups, built["6"].weights) == (1, 32 * 16)


def test_the_tiled_accelerator_keeps_the_groups():
    net = load_network(grouped_net(), in_shape=(1, 6, 6))
    assert hardware_network(net, Mapping(template="tiled")) is net
    report = estimate(net, "xcu250", template="tiled")
    assert {l.name: l.groups for l in report.network.layers}["4"] == 4


@pytest.mark.parametrize("strategy", ["Latency", "Resource"])
def test_the_estimate_of_the_model_is_the_estimate_of_its_block_diagonal_twin(strategy):
    """A grouped convolution costs what the ordinary convolution with its block-diagonal weights costs."""
    model = grouped_net()
    twin = grouped_net()
    grouped = model[4]
    dense = nn.Conv2d(8, 16, 3, padding=1)
    with torch.no_grad():
        dense.weight.zero_()
        for k in range(4):
            dense.weight[4 * k:4 * k + 4, 2 * k:2 * k + 2] = grouped.weight[4 * k:4 * k + 4]
        dense.bias.copy_(grouped.bias)
    twin[4] = dense
    x = torch.randn(2, 1, 6, 6)
    torch.testing.assert_close(model(x), twin(x))
    ours, theirs = (estimate(m, "xcu250", in_shape=(1, 6, 6), reuse_factor=4, strategy=strategy,
                             precision="ap_fixed<16,6>") for m in (model, twin))
    for key in ("latency_cycles", "interval_cycles", "dsp", "lut", "ff", "bram"):
        assert ours.totals[key] == pytest.approx(theirs.totals[key]), key


@pytest.mark.parametrize("name", ["grouped", "mosaic", "depthwise_separable", "depth_multiplier"])
def test_the_export_rewrites_exactly_the_convolutions_the_estimator_prices_as_rewritten(name):
    model, shape = build(name)
    net = load_network(model, in_shape=shape)
    priced = {l.name for l, b in zip(net.layers, hardware_network(net, Mapping(io_type="io_parallel")).layers)
              if l.groups != b.groups}
    assert all(as_hls4ml_builds(l).groups == 1 for l in net.layers if l.name in priced)
    given = {l.name for l in net.layers if l.groups > 1}
    clean = source_graph(model, shape)
    kept = {n.name for n in clean.graph.nodes if n.op_type == "Conv"
            and next((a.i for a in n.attribute if a.name == "group"), 1) > 1}
    assert priced == given - kept and given              # every grouped conv is either kept or rewritten by both
