"""The ways out of a design that does not fit (codesign/sim/ways_out.py)."""
from __future__ import annotations

from dataclasses import replace

import pytest

from codesign.sim import Mapping, Network, load_device, resolve_plan
from codesign.sim.dataflow_resources import layer_resources
from codesign.sim.ways_out import WIDTHS, scaled_network, ways_out

MAPPING = Mapping(precision="ap_fixed<16,6>")


def _with_shift_adds(net: Network, share: float = 0.3) -> Network:
    """``net`` with known weight values: ``share`` of every layer's nonzeros are shift-and-add constants at
    every fractional width (as a trained model's Layer.shift_add says)."""
    layers = tuple(replace(l, shift_add=(round(share * l.nonzero_weights),) * 25) if l.weights else l
                   for l in net.layers)
    return Network(net.name, layers, net.input_shape)


def _mlp(nets, hidden=256):
    return Network("mlp", (nets.dense("fc1", None, 784, hidden), nets.dense("fc2", "fc1", hidden, hidden),
                           nets.dense("fc3", "fc2", hidden, 10)), (784,))


@pytest.mark.parametrize("width", WIDTHS)
def test_a_narrower_model_keeps_its_share_of_shift_add_weights(nets, width):
    """The shift-and-add counts of a model with known weights are counts of its nonzeros: a narrower model
    kept the full model's counts, more than its nonzeros, and the estimate gave it negative DSPs ('DSP -63%')."""
    net = _with_shift_adds(nets.chain_cnn((16, 32), size=28))
    narrow = scaled_network(net, width)
    device = load_device("xc7z020")
    dsp = layer_resources(narrow, resolve_plan(narrow, MAPPING, device), device)["dsp"]
    assert (dsp >= 0).all()
    for full, small in zip(net.layers, narrow.layers):
        if small.weights:
            assert max(small.shift_add) <= small.nonzero_weights
            assert small.shift_add[0] == pytest.approx(0.3 * small.nonzero_weights, abs=1)


def test_a_narrower_model_is_an_option_for_a_zoo_model_and_a_hint_for_others(nets):
    """--width applies to zoo models only: a user's model gets the narrower width in words, no option."""
    net, device = _mlp(nets), load_device("pynq-z2")
    for zoo in ("lenet300_100", None):
        ways = ways_out(net, device, MAPPING, zoo=zoo, width=0.5)
        narrower = [w for w in ways if w.way.startswith("width")]
        assert narrower and all(v >= 0 for w in ways for v in w.utilisation.values())
        w = float(narrower[0].way.split()[1][1:])
        if zoo:
            assert narrower[0].changes == {"--model": zoo, "--width": f"{w * 0.5:g}"} and not narrower[0].hint
        else:
            assert narrower[0].changes == {} and "--model-arg" in narrower[0].hint
            assert "--width" not in str([x.changes for x in ways])
