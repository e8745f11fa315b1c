"""``--sparse-kernel auto``: the kernel the estimate prices lower (codesign/sim/sparse_choice.py)."""
from __future__ import annotations

import numpy as np
import pytest

from codesign.sim import Mapping, Network, load_device, resolve_plan
from codesign.sim.dataflow import dataflow_costs
from codesign.sim.mapping import LayerSettings
from codesign.sim.sparse_choice import kernel_cost, with_kernels

PYNQ = load_device("xc7z020")


def one_dense(nets, n_in, n_out, density):
    return Network("fc", (nets.dense("fc", None, n_in, n_out, nonzero=int(density * n_in * n_out)),), (n_in,))


def both_costs(net, plan):
    on, off = (with_kernels(plan, net, np.array([s])) for s in (True, False))
    return float(kernel_cost(net, on, PYNQ)[0]), float(kernel_cost(net, off, PYNQ)[0])


@pytest.mark.parametrize("density, sparse", [(0.3, False), (0.05, True)])
def test_auto_takes_the_kernel_the_estimate_prices_lower(nets, density, sparse):
    """LeNet-5's fc1 (800 x 500) at RF 256 under Resource: at density 0.3 the ROM form's 469 800-way input
    multiplexers cost more than the dense kernel (the old rule, RF >= nonzeros per output, took it: 1.4 M LUT on
    a 53 k-LUT part); at density 0.05 the sparse kernel is the cheaper."""
    net = one_dense(nets, 800, 500, density)
    mapping = Mapping(reuse_factor=256, strategy="Resource", precision="ap_fixed<12,4>/ap_fixed<15,6>")
    plan = resolve_plan(net, mapping, PYNQ)
    on, off = both_costs(net, plan)
    assert bool(plan.sparse[0]) is sparse and (on <= off) is sparse
    chosen = dataflow_costs(net, PYNQ, mapping)
    forced = dataflow_costs(net, PYNQ, mapping.with_(sparse_kernel="on" if not sparse else "off"))
    assert chosen.total("lut") < forced.total("lut") if not sparse else chosen.total("dsp") < forced.total("dsp")
    assert bool(plan.sparse_rom[0]) is sparse


def test_a_dense_kernel_the_tool_refuses_is_never_the_cheaper(nets):
    """300 x 100 at density 0.1, Latency RF 4: the dense kernel prices lower, but it unrolls 30,000 weights (over
    the 4,096 limit, hls4ml issue 1013) and would not build; the sparse kernel unrolls its 3,000 nonzeros."""
    net = one_dense(nets, 300, 100, 0.1)
    plan = resolve_plan(net, Mapping(reuse_factor=4, strategy="Latency"), PYNQ)
    on, off = both_costs(net, plan)
    assert off < on and plan.sparse[0]
    small = one_dense(nets, 60, 50, 0.1)           # 3,000 weights: the dense kernel builds, and is cheaper
    plan = resolve_plan(small, Mapping(reuse_factor=4, strategy="Latency"), PYNQ)
    on, off = both_costs(small, plan)
    assert bool(plan.sparse[0]) is (on <= off)


def test_a_layer_setting_or_mode_fixes_the_kernel(nets):
    net = one_dense(nets, 800, 500, 0.3)
    mapping = Mapping(reuse_factor=256, strategy="Resource")
    assert resolve_plan(net, mapping.with_(layers={"fc": LayerSettings(sparse=True)}), PYNQ).sparse[0]
    assert resolve_plan(net, mapping.with_(sparse_kernel="on"), PYNQ).sparse[0]
    assert not resolve_plan(net, mapping, PYNQ).sparse_auto.any() or not resolve_plan(net, mapping, PYNQ).sparse[0]
    assert not resolve_plan(one_dense(nets, 800, 500, 0.05), mapping.with_(sparse_kernel="off"), PYNQ).sparse[0]


def test_auto_needs_the_device_it_prices_on(nets):
    with pytest.raises(ValueError, match="device"):
        resolve_plan(one_dense(nets, 800, 500, 0.05), Mapping(reuse_factor=256, strategy="Resource"))


def test_the_prices_returned_are_the_chosen_plans_own(nets):
    """A Latency layer too large for the dense kernel takes the ROM form at RF 4, which makes hls4ml's one-pipeline
    io_parallel network DATAFLOW (ping-pong buffers for every layer): the resources handed to the folding search
    are those of the plan chosen, not a mix of the two pricings."""
    from codesign.sim.dataflow_resources import layer_resources
    from codesign.sim.sparse_choice import priced_kernels

    net = Network("mlp", (nets.dense("fc1", None, 784, 75, nonzero=5266), nets.dense("fc2", "fc1", 75, 25, nonzero=180),
                          nets.dense("fc3", "fc2", 25, 10)), (784,))
    plan = resolve_plan(net, Mapping(reuse_factor=4, strategy="Latency", io_type="io_parallel"), PYNQ)
    chosen, res = priced_kernels(net, plan, PYNQ)
    assert chosen.sparse_rom[0]
    exact = layer_resources(net, chosen, PYNQ)
    for k in ("dsp", "lut", "ff", "bram"):
        np.testing.assert_allclose(res[k], exact[k], err_msg=k)
