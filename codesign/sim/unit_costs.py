"""What one more (or one less) filter, neuron or connection of each layer costs on a device, under the
chosen folding: the hardware prices a grow-and-prune method needs to train within a budget.

    folding = choose_folding(network, device, mapping, max_util=0.8)
    prices = unit_costs(network, device, folding.mapping(mapping, network), max_util=0.8)
    prices.out_add["dsp"][i]       # DSPs one more output channel/neuron of layer i adds to layer i
    prices.in_add["lut"][i]        # LUTs layer i gains when its input grows by one channel/neuron
    prices.connection["dsp"][i]    # DSPs per nonzero weight of layer i (what pruning one saves)
    prices.group_cost(out_layers=["conv1", "bn1", "relu1"], in_layers=["conv2"])   # one unit of a group

Every price is a finite difference of the estimator's own per-layer functions (resources from
:func:`~codesign.sim.dataflow_resources.layer_resources`, timing from
:func:`~codesign.sim.dataflow_timing.layer_timing`) with the reuse factors, strategies, precisions and
FIFO depths of the plan held fixed; so a recalibrated model changes the prices, never this code. Keys:
``dsp``, ``lut``, ``ff``, ``bram`` (device blocks), ``interval`` and ``depth`` (cycles: the layer's
initiation interval and first-output depth).

How a unit maps onto layers (a method's unit group, see ``codesign/units/graph.py``): one more output
channel of a convolution (or neuron of a dense layer) adds ``out_add`` to that layer and to every
channel-preserving layer after it in the group (activation, pooling, BatchNorm, Add: their ``out_add`` is
one more channel), and ``in_add`` to every layer that reads the group's channels. For a residual stream,
``out_layers`` lists every layer writing into it. ``group_cost`` sums exactly that. Removing is ``out_remove``
/ ``in_remove`` (not the negative of adding: multipliers are whole, block RAMs too).

The network runs at its slowest layer: ``interval`` and ``network_interval`` tell how much a layer may slow
down before it sets the pipeline's pace, and ``left`` what is left of the budget (``max_util`` of the device
minus the current estimate). Reuse factors are held, so at the current folding a larger layer is slower;
re-running the folding search after a growth step re-balances the pipeline.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, Iterable, List

import numpy as np

from .dataflow_resources import layer_resources
from .dataflow_timing import layer_timing, network_timing
from .device import Device
from .layers import COMPUTE_OPS, Layer, Network
from .mapping import Mapping
from .plan import LayerPlan, resolve_plan
from .stream_graph import PAD_PREFIX

KEYS = ("dsp", "lut", "ff", "bram", "interval", "depth")

Prices = Dict[str, np.ndarray]


@dataclass(frozen=True)
class UnitCosts:
    names: tuple
    out_add: Prices
    out_remove: Prices
    in_add: Prices
    in_remove: Prices
    connection: Prices
    interval: np.ndarray               # each layer's initiation interval now, cycles
    network_interval: float
    latency: float
    left: Dict[str, float]             # budget left: max_util x device minus the current estimate

    def index(self, name: str) -> int:
        return self.names.index(name)

    def group_cost(self, out_layers: Iterable[str], in_layers: Iterable[str] = (), remove: bool = False
                   ) -> Dict[str, float]:
        """The price of one unit of a group (see the module doc): summed resources, and for cycles the
        largest change of any layer's interval and the summed change of first-output depths."""
        out_p, in_p = (self.out_remove, self.in_remove) if remove else (self.out_add, self.in_add)
        in_layers = list(in_layers)
        padding = [PAD_PREFIX + n for n in in_layers if PAD_PREFIX + n in self.names]   # io_stream's ZeroPadding
        rows = [(out_p, self.index(n)) for n in list(out_layers) + padding] + [(in_p, self.index(n)) for n in in_layers]
        total = {k: float(sum(p[k][i] for p, i in rows)) for k in ("dsp", "lut", "ff", "bram", "depth")}
        total["interval"] = max((float(p["interval"][i]) for p, i in rows), default=0.0, key=abs)
        total["slows_pipeline"] = any(self.interval[i] + p["interval"][i] > self.network_interval for p, i in rows)
        return total

    def describe(self) -> List[Dict[str, object]]:
        """One row per layer (for reports and debugging)."""
        return [{"layer": n, **{f"out_add_{k}": float(self.out_add[k][i]) for k in KEYS},
                 **{f"in_add_{k}": float(self.in_add[k][i]) for k in KEYS},
                 **{f"connection_{k}": float(self.connection[k][i]) for k in KEYS}}
                for i, n in enumerate(self.names)]


def _per_unit(layer: Layer, side: str) -> int:
    """Weights one more output (side 'out') or input (side 'in') channel/neuron adds to ``layer``."""
    if layer.op not in COMPUTE_OPS or not layer.weights:
        return 0
    c = layer.out_shape[0] if side == "out" else layer.in_shape[0]
    return layer.weights // max(c, 1)


def _resized(layer: Layer, side: str, step: int) -> Layer:
    """``layer`` with ``step`` more channels on ``side`` (channel-preserving layers: on both sides)."""
    per = _per_unit(layer, side)
    if layer.op not in COMPUTE_OPS:                     # act, pool, bn, add, ...: one channel in and out
        if side == "in":
            return layer
        c_in, c_out = layer.in_shape[0] + step, layer.out_shape[0] + step
    elif side == "out":
        c_in, c_out = layer.in_shape[0], layer.out_shape[0] + step
    else:
        c_in, c_out = layer.in_shape[0] + step, layer.out_shape[0]
    if min(c_in, c_out) < 1:
        return layer
    density = layer.density
    weights = max(layer.weights + step * per, 0)
    return layer.with_weights(weights, round(weights * density), in_shape=(c_in,) + tuple(layer.in_shape[1:]),
                              out_shape=(c_out,) + tuple(layer.out_shape[1:]),
                              groups=layer.groups if layer.groups == 1 else
                              max(1, layer.groups + (step if side == "out" else 0)))


def _variant(network: Network, layers) -> Network:
    """The same graph with per-layer variants (each price is the layer's own: shapes need not chain)."""
    return Network(network.name, tuple(layers), network.input_shape, network.source, dict(network.meta))


def _costs(network: Network, plan: LayerPlan, device: Device) -> Prices:
    r = layer_resources(network, plan, device)
    _cyc, depth, interval = layer_timing(network, plan, device)
    return {"dsp": r["dsp"], "lut": r["lut"], "ff": r["ff"], "bram": r["bram"], "interval": interval, "depth": depth}


def unit_costs(network: Network, device: Device, mapping: Mapping, max_util=0.8,
               fraction: float = 0.0) -> UnitCosts:
    """The per-unit prices of every layer of ``network`` under ``mapping`` (e.g. a folding's mapping). Under
    io_stream the network is priced as the estimate builds it, with a ``zp2d_<conv>`` ZeroPadding layer
    before every padded convolution (its prices are rows too; :meth:`UnitCosts.group_cost` adds them).
    ``fraction`` > 0: each price is the mean over ``ceil(fraction x channels)`` units of that side (at
    least one), not the cost of exactly one: whole multipliers make a one-unit difference 0 or 1 at
    large reuse factors, a tenth of a layer shows what removing units of it saves on average."""
    from .estimate import hardware_network

    network = hardware_network(network, mapping)
    plan = resolve_plan(network, mapping, device)
    base = _costs(network, plan, device)

    def diff(layers, scale=1.0) -> Prices:
        other = _costs(_variant(network, layers), plan, device)
        return {k: (other[k] - base[k]) * scale for k in KEYS}

    ls = network.layers

    def steps(side: str) -> np.ndarray:
        if fraction <= 0:
            return np.ones(len(ls), dtype=np.int64)
        return np.array([max(1, math.ceil(fraction * (l.out_shape[0] if side == "out" else l.in_shape[0])))
                         for l in ls], dtype=np.int64)

    s_out, s_in = steps("out"), steps("in")
    out_add = diff([_resized(l, "out", int(s)) for l, s in zip(ls, s_out)], 1.0 / s_out)
    out_remove = diff([_resized(l, "out", -int(s)) for l, s in zip(ls, s_out)], -1.0 / s_out)
    in_add = diff([_resized(l, "in", int(s)) for l, s in zip(ls, s_in)], 1.0 / s_in)
    in_remove = diff([_resized(l, "in", -int(s)) for l, s in zip(ls, s_in)], -1.0 / s_in)
    step = np.maximum(plan.rf, 1)
    fewer = [l.with_weights(l.weights, l.nonzero_weights - int(s)) if l.weights else l
             for l, s in zip(ls, step.tolist())]
    removed = np.array([l.nonzero_weights - f.nonzero_weights for l, f in zip(ls, fewer)], dtype=float)
    conn = diff(fewer, -1.0)
    conn = {k: np.where(removed > 0, v / np.maximum(removed, 1), 0.0) for k, v in conn.items()}
    cyc, depth, interval = layer_timing(network, plan, device)
    latency, net_interval = network_timing(network, plan, cyc, depth, interval, device)
    res = layer_resources(network, plan, device)
    from .device import device_resources
    from .util_limit import UtilLimit

    limit = UtilLimit.of(max_util)
    left = {k: limit[k] * n - float(np.sum(res[k])) for k, n in device_resources(device).items()}
    return UnitCosts(tuple(l.name for l in ls), out_add, out_remove, in_add, in_remove, conn, interval,
                     float(net_interval), float(latency), left)


def fold_and_price(network: Network, device: Device, mapping: Mapping, max_util=0.8,
                   strategies=None, fraction: float = 0.0):
    """One call for a training loop: the folding :func:`~codesign.sim.folding.choose_folding` picks for
    ``network`` on ``device`` and the per-unit prices under it. Returns ``(folding, prices)``."""
    from .folding import choose_folding

    folding = choose_folding(network, device, mapping, max_util, strategies)
    return folding, unit_costs(network, device, folding.mapping(mapping, network), max_util, fraction)
