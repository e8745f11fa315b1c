"""Per-unit hardware prices under a folding (codesign/sim/unit_costs.py), for hardware-aware training."""
from dataclasses import replace

import numpy as np

from codesign.sim import LayerSettings, Mapping, Network, load_device
from codesign.sim.unit_costs import _resized, _variant, unit_costs


def _mlp(nets):
    return Network("mlp", (nets.dense("fc0", None, 16, 16), nets.dense("fc1", "fc0", 16, 4)), (16,))


def test_dense_prices_by_hand(nets):
    """16-16-4 MLP at RF 4, 16-bit (one DSP per multiplier): a neuron of fc0 has 16 weights -> 4 more
    multipliers; an input of fc1 has 4 -> 1; four nonzero weights share one multiplier."""
    net = _mlp(nets)
    mapping = Mapping(reuse_factor=4)
    prices = unit_costs(net, load_device("pynq-z2"), mapping)
    assert prices.out_add["dsp"][0] == 4 and prices.out_remove["dsp"][0] == 4
    assert prices.in_add["dsp"][1] == 1
    assert prices.connection["dsp"][0] == 0.25
    group = prices.group_cost(["fc0"], ["fc1"])
    assert group["dsp"] == 5 and not group["slows_pipeline"]


def test_prices_are_each_layers_own(nets):
    """All layers perturbed at once give the same prices as one layer at a time (what the vectorised
    finite differences assume of the estimator)."""
    net = nets.chain_cnn((4, 8), size=16)
    device = load_device("pynq-z2")
    mapping = Mapping(io_type="io_stream", layers={"conv0": LayerSettings(reuse_factor=9),
                                                    "conv1": LayerSettings(reuse_factor=4, strategy="Resource")})
    prices = unit_costs(net, device, mapping)
    from codesign.sim.dataflow_resources import layer_resources
    from codesign.sim.plan import resolve_plan

    plan = resolve_plan(net, mapping, device)
    ref = layer_resources(net, plan, device)
    for i, layer in enumerate(net.layers):
        one = list(net.layers)
        one[i] = _resized(layer, "out", 1)
        got = layer_resources(_variant(net, one), plan, device)
        for k in ("dsp", "lut", "ff", "bram"):
            assert np.isclose(got[k][i] - ref[k][i], prices.out_add[k][i])
    assert set(prices.left) == {"dsp", "lut", "ff", "bram", "uram"}


def test_removing_the_last_channel_is_not_priced(nets):
    net = Network("one", (nets.dense("fc0", None, 4, 1),), (4,))
    prices = unit_costs(net, load_device("pynq-z2"), Mapping())
    assert prices.out_remove["dsp"][0] == 0
    assert replace(net.layers[0]) == _resized(net.layers[0], "out", -1)
