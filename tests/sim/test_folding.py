"""``--reuse-factor auto``: the per-layer folding search (codesign/sim/folding.py, fold_table.py)."""
from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pytest

from codesign.errors import ConfigError
from codesign.sim import Mapping, Network, load_device, resolve_plan
from codesign.sim import hls_rules
from codesign.sim.dataflow import dataflow_costs
from codesign.sim.fold_table import cost_table, layer_candidates, refold
from codesign.sim.folding import choose_folding, parse_reuse_factor, parse_strategy

RES = ("dsp", "lut", "ff", "bram")


def small_device(**resources):
    """The PYNQ-Z2 with other resource counts (everything else as shipped)."""
    return replace(load_device("xc7z020"), **resources)


def mlp(nets, sizes=(16, 16, 4), name="mlp"):
    layers, prev = [], None
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        layers.append(nets.dense(f"fc{i}", prev, a, b))
        prev = f"fc{i}"
    return Network(name, tuple(layers), (sizes[0],))


def _util(costs, device):
    return {k: costs.total(k) / getattr(device, k) for k in RES}


def every_design(net, device, mapping, strategies):
    """The full estimate of every combination of every layer's candidates (brute force, tiny nets only)."""
    plan = resolve_plan(net, mapping.with_(reuse_factor=1, strategy=strategies[0]), device)
    knobs, options = layer_candidates(net, plan, device, strategies)
    for combo in itertools.product(*options):
        rf, res = plan.rf.copy(), plan.resource.copy()
        rf[knobs] = [c[0] for c in combo]
        res[knobs] = [c[1] for c in combo]
        yield dataflow_costs(net, device, mapping, refold(plan, net, rf, res, device))


def brute_force(net, device, mapping, max_util, strategies=("Latency",)):
    """Every combination of every layer's candidates, estimated in full: (interval, latency) of the best
    design within ``max_util``."""
    best = None
    for costs in every_design(net, device, mapping, strategies):
        if max(_util(costs, device).values()) <= max_util:
            key = (costs.interval_cycles, costs.latency_cycles)
            best = key if best is None or key < best else best
    return best


@pytest.mark.parametrize("dsp", [30, 50, 100, 400])
def test_mlp_interval_is_the_brute_force_optimum(nets, dsp):
    net, device = mlp(nets), small_device(dsp=dsp, lut=10**7, ff=10**7)
    folding = choose_folding(net, device, Mapping(), max_util=0.8, strategies=("Latency",))
    best = brute_force(net, device, Mapping(), 0.8)
    assert folding.fits and best is not None
    assert folding.interval_cycles == best[0]
    assert folding.latency_cycles <= 1.25 * best[1]


def test_three_layer_mlp_with_both_strategies_matches_brute_force(nets):
    net = mlp(nets, (12, 8, 6, 4))
    device = small_device(dsp=40, lut=60_000, ff=10**7, bram=12)
    folding = choose_folding(net, device, Mapping(), max_util=0.8)
    best = brute_force(net, device, Mapping(), 0.8, ("Latency", "Resource"))
    assert folding.interval_cycles == best[0]


def test_known_optimum_by_hand(nets):
    """16-16-4 MLP, 16-bit (1 DSP per multiplier), DSP budget 0.8 * 50 = 40: interval 4 needs 64 + 16 DSPs,
    interval 8 needs 256/8 + 64/8 = 40: both layers at RF 8."""
    folding = choose_folding(mlp(nets), small_device(dsp=50, lut=10**7, ff=10**7), Mapping(), 0.8, ("Latency",))
    assert folding.interval_cycles == 8 and folding.rf == (8, 8) and folding.strategy == ("Latency", "Latency")
    assert "4 cycles would need" in folding.limit and "DSP" in folding.limit


def test_every_chosen_reuse_factor_is_valid_and_kept_by_hls4ml_rules(nets):
    net = nets.chain_cnn((6, 12), size=20)
    device = load_device("pynq-z2")
    folding = choose_folding(net, device, Mapping(io_type="io_stream"))
    mapping = folding.mapping(Mapping(io_type="io_stream"), net)
    plan = resolve_plan(net, mapping, device)
    limit = device.calibration["dataflow.unroll_limit"]
    for name, rf, strategy in zip(folding.names, folding.rf, folding.strategy):
        layer = net.layers[net.index[name]]
        assert rf in hls_rules.valid_reuse_factors(layer.n_in, layer.n_out)
        if strategy == "Latency":
            assert hls_rules.multiplier_limit(layer.weights, rf, 0, True) <= limit
    assert (plan.rf == plan.rf_requested).all()        # hls4ml moves none of them


@pytest.mark.parametrize("max_util", [0.3, 0.5, 0.8])
def test_the_full_estimate_respects_the_budget(nets, max_util):
    net = nets.chain_cnn((8, 16), size=28)
    device = load_device("pynq-z2")
    base = Mapping(io_type="io_stream", precision="ap_fixed<8,3>/ap_fixed<10,5>")
    folding = choose_folding(net, device, base, max_util)
    assert folding.fits
    costs = dataflow_costs(net, device, folding.mapping(base, net))
    assert max(_util(costs, device).values()) <= max_util + 1e-9
    assert costs.interval_cycles == folding.interval_cycles


def test_a_tighter_budget_never_shortens_the_interval(nets):
    net, device = nets.chain_cnn((8, 16), size=28), load_device("pynq-z2")
    intervals = [choose_folding(net, device, Mapping(io_type="io_stream"), u).interval_cycles for u in (0.9, 0.6, 0.3)]
    assert intervals == sorted(intervals)


def test_layers_with_less_work_get_less_parallelism(nets):
    """A dataflow pipeline runs at its slowest layer: the second conv sees a quarter of the pixels, so the
    same interval needs a larger reuse factor there (balanced, not uniform)."""
    net = nets.chain_cnn((8, 8), size=30)
    folding = choose_folding(net, small_device(dsp=200, lut=10**7, ff=10**7, bram=10**4), Mapping(io_type="io_stream"),
                             strategies=("Latency",))
    rf = dict(zip(folding.names, folding.rf))
    assert rf["conv1"] > rf["conv0"]


def test_nothing_fits_returns_the_largest_folding_and_says_why(nets):
    net = nets.chain_cnn((8, 16), size=28)
    folding = choose_folding(net, small_device(lut=300, dsp=2), Mapping(io_type="io_stream"))
    assert not folding.fits
    assert "alone need" in folding.limit or "does not fit" in folding.limit


@pytest.mark.parametrize("io_type", ["io_parallel", "io_stream"])
def test_a_network_without_conv_or_dense_layers_has_nothing_to_fold(io_type):
    """An activation-only network (an ONNX file of Relu/Sigmoid nodes) is estimated as it is, not a crash."""
    from codesign.sim import Layer

    net = Network("acts", (Layer("relu", "act", (), (8, 1, 1), (8, 1, 1), activation="relu"),
                           Layer("sig", "act", (), (8, 1, 1), (8, 1, 1), activation="sigmoid")), (8, 1, 1))
    folding = choose_folding(net, load_device("xc7z020"), Mapping(io_type=io_type))
    assert folding.fits and folding.names == () and folding.limit == "no layer has a reuse factor"
    assert folding.interval_cycles >= 1


def test_cost_table_prices_candidates_with_the_estimator(nets):
    net, device = mlp(nets), load_device("pynq-z2")
    plan = resolve_plan(net, Mapping(), device)
    table = cost_table(net, device, plan, ("Latency",))
    j = int(np.flatnonzero(table.rf[0] == 4)[0])
    assert table.interval[0, j] == 4 and table.res["dsp"][0, j] == 256 / 4


def test_options_parse_and_errors(nets):
    assert parse_reuse_factor("auto") == "auto" and parse_reuse_factor("8") == 8
    assert parse_strategy("auto", "auto") == ("Latency", "Resource") and parse_strategy("auto", 4) == ("Latency",)
    assert parse_strategy("resource", "auto") == ("Resource",)
    for bad in ("0", "x", "-1"):
        with pytest.raises(ConfigError, match="auto"):
            parse_reuse_factor(bad)
    with pytest.raises(ConfigError, match="max-util"):
        choose_folding(mlp(nets), load_device("pynq-z2"), Mapping(), 1.5)


def test_folding_mapping_keeps_per_layer_precision(nets):
    from codesign.sim import LayerSettings

    net = mlp(nets)
    base = Mapping(layers={"fc0": LayerSettings(weight="ap_fixed<8,3>")})
    folding = choose_folding(net, load_device("pynq-z2"), base)
    settings = folding.mapping(base, net).layers
    assert settings["fc0"].weight.width == 8 and settings["fc0"].reuse_factor == folding.rf[0]
    assert folding.hls_layer_config()["fc1"] == {"ReuseFactor": folding.rf[1], "Strategy": folding.strategy[1]}


def test_when_fifos_grow_with_the_folding_the_full_estimate_decides():
    # ResNet-110 at 8 bits on the U250: the table's fastest fitting choice puts the full estimate over in
    # BRAM (the FIFOs before its slow Resource convolutions grow), and the refits run out; the target
    # interval is then bisected on the full estimate instead of falling back to the largest folding
    from codesign.sim import Mapping, load_device, zoo_network
    from codesign.sim.folding import choose_folding

    f = choose_folding(zoo_network("resnet110"), load_device("xcu250"), Mapping(precision="ap_fixed<8,3>"), 0.8)
    assert f.fits and max(f.utilisation.values()) <= 0.8 + 1e-9
    assert "full estimate" in f.limit and f.interval_cycles < 1e6


def test_a_share_per_resource_caps_that_resource_only(nets):
    """``max_util`` per resource: the DSP share binds (a slower folding with fewer multipliers), the other
    resources keep theirs; the full estimate respects every share."""
    net, device = nets.chain_cnn((8, 16), size=28), load_device("pynq-z2")
    base = Mapping(io_type="io_stream")
    uniform = choose_folding(net, device, base, 0.8)
    cap = uniform.utilisation["dsp"] / 3
    capped = choose_folding(net, device, base, {"all": 0.8, "dsp": cap})
    assert capped.fits and capped.utilisation["dsp"] <= cap + 1e-9
    assert capped.interval_cycles > uniform.interval_cycles
    costs = dataflow_costs(net, device, capped.mapping(base, net))
    util = _util(costs, device)
    assert util["dsp"] <= cap + 1e-9 and max(util.values()) <= 0.8 + 1e-9
    assert capped.describe()["max_util"] == {"all": 0.8, "DSP": cap} and uniform.describe()["max_util"] == 0.8
    bounded = choose_folding(net, device, base, {"all": 0.8, "dsp": cap},
                             max_latency_cycles=capped.latency_cycles * 2)
    assert bounded.utilisation["dsp"] <= cap + 1e-9 and bounded.meets_latency


def _unstructured_mlp(nets):
    """LeNet-300-100 at width 0.25 after RigL: fc1 is 784 x 75 with 5,266 nonzeros (above the 4,096 unroll limit),
    too large for the Latency strategy unless on the sparse kernel."""
    return Network("rigl", (nets.dense("fc1", None, 784, 75, nonzero=5266), nets.dense("fc2", "fc1", 75, 25),
                            nets.dense("fc3", "fc2", 25, 10)), (784,))


def test_every_candidate_passes_the_latency_rule_with_the_kernel_refold_gives_it(nets):
    """A Latency candidate is offered only when the kernel the refold gives it at that RF (sparse or dense,
    whichever costs less there) unrolls at most the limit: the rule is checked against the plan the search will
    price, not the starting plan's sparse flags."""
    net, device, mapping = _unstructured_mlp(nets), load_device("xc7z020"), Mapping(precision="ap_fixed<16,6>")
    plan = resolve_plan(net, mapping.with_(reuse_factor=1, strategy="Latency"), device)
    limit = device.calibration["dataflow.unroll_limit"]
    knobs, options = layer_candidates(net, plan, device, ("Latency", "Resource"))
    latency_rfs = []
    for i, opts in zip(knobs.tolist(), options):
        for rf, resource in opts:
            col_rf, col_res = plan.rf.copy(), plan.resource.copy()
            col_rf[i], col_res[i] = rf, resource
            p = refold(plan, net, col_rf, col_res, device)
            assert not (hls_rules.latency_too_large(net, p.sparse, limit) & ~p.resource)[i], (i, rf, resource)
            latency_rfs += [rf] if i == 0 and not resource else []
    # fc1 under Latency: its dense kernel (58,800 weights) is refused at every RF, so it keeps the sparse kernel
    # (5,266 nonzeros) wherever the Latency strategy is offered, and that is every valid RF
    assert latency_rfs == list(hls_rules.valid_reuse_factors(784, 75))


def test_the_folding_never_chooses_what_the_estimate_warns_about(nets):
    """The user test's design: fc1 went to RF 16 Latency, dense there, and the report warned about it."""
    net, mapping, device = _unstructured_mlp(nets), Mapping(precision="ap_fixed<16,6>"), load_device("xc7z020")
    folding = choose_folding(net, device, mapping)
    plan = resolve_plan(net, folding.mapping(mapping, net), device)
    assert not hls_rules.latency_over_limit(net, plan, device.calibration["dataflow.unroll_limit"]).any()
    costs = dataflow_costs(net, device, folding.mapping(mapping, net))
    assert folding.fits and not [w for w in costs.warnings if "unrolls the product loop" in w]


def test_a_latency_only_folding_of_a_layer_too_large_for_it_does_not_fit(nets):
    """--strategy Latency --reuse-factor auto on a dense 784 x 75 layer: no reuse factor makes its kernel one HLS
    builds (hls_rules.refused), so the folding does not fit and says why; before, it chose RF 58,800 and
    reported that it fits. With the Resource strategy allowed, the folding never takes such a kernel."""
    net = Network("mlp", (nets.dense("fc1", None, 784, 75), nets.dense("fc2", "fc1", 75, 10)), (784,))
    device, mapping = load_device("xc7z020"), Mapping(precision="ap_fixed<6,2>")
    latency = choose_folding(net, device, mapping, 0.8, ("Latency",))
    assert not latency.fits and "fc1" in latency.limit and "Resource" in latency.limit
    bounded = choose_folding(net, device, mapping, 0.8, ("Latency",), max_latency_cycles=1e6)
    assert not bounded.fits
    both = choose_folding(net, device, mapping)
    plan = resolve_plan(net, both.mapping(mapping, net), device)
    assert both.fits and not hls_rules.refused(net, plan, device).any()


def _two_layer_table(depth, dsp):
    """A hand-made cost table: two layers of two candidates each, every candidate keeping the interval."""
    from codesign.sim.fold_table import RESOURCES, CostTable

    depth, dsp = np.array(depth, dtype=float), np.array(dsp, dtype=float)
    res = {k: (dsp if k == "dsp" else np.zeros_like(dsp)) for k in RESOURCES}
    return CostTable(layers=np.array([0, 1]), rf=np.array([[2, 1], [2, 1]]), resource=np.zeros((2, 2), dtype=bool),
                     valid=np.ones((2, 2), dtype=bool), interval=np.ones((2, 2)), depth=depth, res=res,
                     fixed_res={k: 0.0 for k in RESOURCES}, fixed_interval=0.0, fixed_slowest=-1, evaluations=0)


def test_the_left_over_budget_buys_the_largest_latency_gain_it_can():
    """Layer a gains 10 cycles for 1 DSP, layer b 400 cycles for 80 DSPs; the budget (90 DSPs beyond the
    cheapest 20) takes one move. The best gain per DSP first (a) left no room for b: 590 cycles, not 200."""
    from codesign.sim.folding import search_table

    table = _two_layer_table(depth=[[100, 90], [500, 100]], dsp=[[10, 11], [10, 90]])
    found = search_table(table, {"dsp": 100.0, "lut": 1.0, "ff": 1.0, "bram": 1.0, "uram": 1.0}, ["a", "b"])
    assert found.feasible and found.choice.tolist() == [0, 1]
    assert found.moved.tolist() == [False, True]
