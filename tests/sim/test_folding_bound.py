"""The folding under a latency bound: the least resources that meet it (codesign/sim/folding_bound.py)."""
from __future__ import annotations

import pytest

from codesign.errors import ConfigError
from codesign.sim import Mapping, load_device
from codesign.sim.dataflow import dataflow_costs
from codesign.sim.folding import FASTEST, LEAST_RESOURCES, choose_folding
from codesign.sim.folding_bound import resource_cost

from .test_folding import RES, _util, every_design, mlp, small_device


def _no_more_in_all(bounded, fastest):
    """Within --max-util of every resource and no more resources in all (sum of shares) than the fastest."""
    return all(bounded.utilisation[k] <= 0.8 + 1e-12 for k in RES) and \
        resource_cost(bounded.utilisation) <= resource_cost(fastest.utilisation) + 1e-12


def brute_force_least(net, device, mapping, max_util, bound, strategies=("Latency", "Resource")):
    """Every combination of every layer's candidates, in full: the least resource cost within the bound."""
    best = None
    for costs in every_design(net, device, mapping, strategies):
        util = {**_util(costs, device), "uram": 0.0}
        if max(util.values()) <= max_util and costs.latency_cycles <= bound:
            cost = resource_cost(util)
            best = cost if best is None or cost < best else best
    return best


@pytest.mark.parametrize("slack", [1.0, 1.5, 3.0, 10.0])
def test_mlp_bound_is_met_with_no_more_resources(nets, slack):
    net, device = mlp(nets, (12, 8, 6, 4)), small_device(dsp=60, lut=60_000, ff=10**7, bram=12)
    fastest = choose_folding(net, device, Mapping(), 0.8)
    bound = slack * fastest.latency_cycles
    folding = choose_folding(net, device, Mapping(), 0.8, max_latency_cycles=bound)
    assert folding.fits and folding.meets_latency and folding.latency_cycles <= bound
    assert folding.objective == LEAST_RESOURCES and folding.unbounded.rf == fastest.rf
    assert _no_more_in_all(folding, fastest)
    costs = dataflow_costs(net, device, folding.mapping(Mapping(), net))      # what the export builds
    assert costs.latency_cycles == folding.latency_cycles
    if slack >= 3.0:                                     # room to fold: strictly fewer resources
        assert resource_cost(folding.utilisation) < resource_cost(fastest.utilisation)


@pytest.mark.parametrize("slack", [1.5, 4.0])
def test_mlp_least_resources_matches_brute_force(nets, slack):
    net, device = mlp(nets, (12, 8, 6, 4)), small_device(dsp=60, lut=60_000, ff=10**7, bram=12)
    fastest = choose_folding(net, device, Mapping(), 0.8)
    bound = slack * fastest.latency_cycles
    folding = choose_folding(net, device, Mapping(), 0.8, max_latency_cycles=bound)
    best = brute_force_least(net, device, Mapping(), 0.8, bound)
    assert resource_cost(folding.utilisation) <= best * 1.05 + 1e-12


def test_a_looser_bound_never_costs_more(nets):
    net, device = nets.chain_cnn((8, 16), size=28), load_device("pynq-z2")
    base = Mapping(io_type="io_stream")
    fastest = choose_folding(net, device, base)
    costs = [resource_cost(choose_folding(net, device, base, max_latency_cycles=s * fastest.latency_cycles).utilisation)
             for s in (1.0, 2.0, 8.0)]
    assert costs[0] <= resource_cost(fastest.utilisation) + 1e-12
    assert costs[2] < costs[0]


def test_io_stream_cnn_meets_the_bound_in_the_full_estimate(nets):
    net, device = nets.chain_cnn((8, 16), size=28), load_device("pynq-z2")
    base = Mapping(io_type="io_stream")
    fastest = choose_folding(net, device, base)
    folding = choose_folding(net, device, base, max_latency_cycles=3 * fastest.latency_cycles)
    assert folding.meets_latency and _no_more_in_all(folding, fastest)
    costs = dataflow_costs(net, device, folding.mapping(base, net))
    assert costs.latency_cycles <= 3 * fastest.latency_cycles
    assert max(_util(costs, device).values()) <= 0.8 + 1e-9
    assert folding.describe()["fastest"]["latency_cycles"] == fastest.latency_cycles


def test_an_unmeetable_bound_returns_the_fastest_folding_and_says_by_how_much(nets):
    net, device = mlp(nets), small_device(dsp=50, lut=10**7, ff=10**7)
    fastest = choose_folding(net, device, Mapping(), 0.8)
    folding = choose_folding(net, device, Mapping(), 0.8, max_latency_cycles=fastest.latency_cycles / 2)
    assert not folding.meets_latency and folding.fits
    assert folding.objective == FASTEST and folding.rf == fastest.rf
    assert "misses it by 100.0%" in folding.notes[-1]
    assert folding.describe()["meets_latency"] is False


@pytest.mark.parametrize("bad", [0, -3.0, float("nan"), float("inf")])
def test_a_bad_bound_is_a_config_error(nets, bad):
    with pytest.raises(ConfigError, match="latency bound"):
        choose_folding(mlp(nets), load_device("pynq-z2"), Mapping(), max_latency_cycles=bad)


def test_the_least_resources_may_use_a_resource_the_fastest_folding_does_not(nets):
    """The cheapest design within the bound takes a sliver of BRAM (a slower layer's weights in a ROM) to save
    7 points of DSP and 2 of LUT; holding every resource to the fastest folding's use (BRAM 0) kept it out
    (resource cost 0.654 against 0.562)."""
    net, device = nets.chain_cnn((16, 32), size=14), load_device("pynq-z2")
    base = Mapping(io_type="io_stream")
    fastest = choose_folding(net, device, base)
    folding = choose_folding(net, device, base, max_latency_cycles=8000)
    assert folding.meets_latency and fastest.utilisation["bram"] == 0 < folding.utilisation["bram"]
    assert resource_cost(folding.utilisation) < 0.6


def _lenet(c1, c2, f1):
    from collections import OrderedDict

    import torch.nn as nn

    from codesign.sim import network_from_model

    return network_from_model(nn.Sequential(OrderedDict(
        conv1=nn.Conv2d(1, c1, 5), relu1=nn.ReLU(), pool1=nn.MaxPool2d(2), conv2=nn.Conv2d(c1, c2, 5),
        relu2=nn.ReLU(), pool2=nn.MaxPool2d(2), flatten=nn.Flatten(), fc1=nn.Linear(c2 * 16, f1),
        relu3=nn.ReLU(), fc2=nn.Linear(f1, 10))), (1, 28, 28))


def test_a_bound_the_fastest_folding_misses_is_met_at_a_longer_interval():
    """The fastest folding minimises the interval first: a LeNet-5 (9/16/160 units) on the ZCU102 within 993
    DSPs and 85 k LUTs takes 2,247 cycles at its interval of 1,046, over a bound of 1,688 that a folding of
    interval 1,302 meets (1,647 cycles; the search said "no folding meets it")."""
    net, device = _lenet(9, 16, 160), load_device("xczu9eg")
    base = Mapping(io_type="io_stream", precision="ap_fixed<16,6>")
    caps = "0.8,DSP=0.394047619048,LUT=0.311559340339"
    fastest = choose_folding(net, device, base, caps)
    folding = choose_folding(net, device, base, caps, max_latency_cycles=1688.4)
    assert fastest.fits and fastest.latency_cycles > 1688.4
    assert folding.meets_latency and folding.objective == LEAST_RESOURCES
    assert folding.interval_cycles > fastest.interval_cycles
    costs = dataflow_costs(net, device, folding.mapping(base, net))
    util = _util(costs, device)
    assert costs.latency_cycles <= 1688.4 and util["dsp"] <= 0.394047619048 + 1e-9 and util["lut"] <= 0.3116
    assert "shortest interval" in folding.limit
