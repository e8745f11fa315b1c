"""When nothing fits even at the largest folding: the ways out, each estimated with the same search.

    ways = ways_out(network, device, mapping, max_util=0.8, zoo="lenet5")
    ways[0].way, ways[0].changes, ways[0].interval_s      # e.g. 'width x0.5 ...', {'--model': 'lenet5', '--width': '0.5'}

Tried in this order, each only while it still helps: the strategy chosen per layer when the search held one
(the Latency strategy alone may leave a layer HLS refuses at every reuse factor), a narrower model (the widest of a few width
multipliers that fits: compact or prune to it, or train at it), a lower precision (8-bit weights need no
DSPs in hls4ml), the next larger parts of the device database, and the tiled template (weights streamed
from DRAM; a design for ``codesign simulate``, not an hls4ml project). ``changes`` are the command-line
options that make the way (the command builds the ready-to-run line from them); a way no option makes for
this model (a narrower user model: ``--width`` applies to zoo models only) has none and a ``hint`` instead.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Dict, List, Optional, Sequence

from .device import Device, load_device, shipped_device_names
from .estimate import estimate
from .folding import choose_folding
from .layers import COMPUTE_OPS, Network
from ..target import AUTO_STRATEGY, STRATEGIES
from .mapping import Mapping
from .util_limit import UtilLimit

WIDTHS = (0.75, 0.5, 0.375, 0.25, 0.125)
PRECISIONS = ("ap_fixed<8,3>/ap_fixed<16,6>", "ap_fixed<8,3>/ap_fixed<8,3>")
RESOURCES = ("dsp", "lut", "ff", "bram")


@dataclass(frozen=True)
class WayOut:
    way: str
    changes: Dict[str, str]            # command-line option -> value ({}: no option makes it, see ``hint``)
    interval_s: float
    latency_s: float
    utilisation: Dict[str, float]
    hint: str = ""                     # how to make the way in words, when no option does

    def describe(self) -> Dict[str, object]:
        return {"way": self.way, "changes": dict(self.changes), "interval_s": self.interval_s,
                "latency_s": self.latency_s, "utilisation": dict(self.utilisation),
                **({"hint": self.hint} if self.hint else {})}


def scaled_network(network: Network, width: float) -> Network:
    """``network`` with every hidden channel/neuron count multiplied by ``width`` (at least 1): the input
    and the outputs keep their size; weights scale with their layer's input and output counts (zeros in
    proportion). An estimate of the model compacted or trained at that width."""
    consumers = {l.name: 0 for l in network.layers}
    for l in network.layers:
        for p in l.inputs:
            consumers[p] += 1
    channels: Dict[str, int] = {}
    layers = []
    for l in network.layers:
        cin = channels[l.inputs[0]] if l.inputs else l.in_shape[0]
        if l.op in COMPUTE_OPS:
            cout = l.out_shape[0] if consumers[l.name] == 0 else max(1, round(l.out_shape[0] * width))
        elif l.op == "concat":
            cout = sum(channels[p] for p in l.inputs)
        else:
            cout = cin
        channels[l.name] = cout
        groups = cin if l.groups > 1 and l.groups == l.in_shape[0] else l.groups
        weights = 0
        if l.weights:
            per_in = l.weights // max(l.in_shape[0] // l.groups * l.out_shape[0], 1)
            weights = per_in * cin // groups * cout
        nonzero = round(weights * l.density) if l.weights else 0
        layers.append(l.with_weights(weights, nonzero, in_shape=(cin,) + tuple(l.in_shape[1:]),
                                     out_shape=(cout,) + tuple(l.out_shape[1:]), groups=groups))
    return Network(f"{network.name}@width={width:g}", tuple(layers), network.input_shape, network.source,
                   dict(network.meta))


def _fit(network: Network, device: Device, mapping: Mapping, max_util, strategies, way: str,
         changes: Dict[str, str]) -> Optional[WayOut]:
    if mapping.template == "tiled":
        totals = estimate(network, device, mapping).totals
        util = {k: totals[f"{k}_util"] for k in RESOURCES}
        if UtilLimit.of(max_util).over(util):
            return None
        return WayOut(way, changes, totals["interval_s"], totals["latency_s"], util)
    folding = choose_folding(network, device, mapping, max_util, strategies)
    if not folding.fits:
        return None
    clock = mapping.clock_hz(device)
    return WayOut(way, changes, folding.interval_cycles / clock, folding.latency_cycles / clock,
                  {k: folding.utilisation[k] for k in RESOURCES})


def ways_out(network: Network, device: Device, mapping: Mapping, max_util = 0.8,
             strategies: Sequence[str] = STRATEGIES, width: float = 1.0, zoo: Optional[str] = None) -> List[WayOut]:
    """The ways out that fit (see the module doc). ``zoo``: the zoo model ``network`` is, at width multiplier
    ``width`` (its narrower width is then ``--model ZOO --width W``); None: a model ``--width`` does not apply
    to (a model factory, a module, an ONNX file): the narrower model is a hint in words."""
    found: List[WayOut] = []
    if tuple(strategies) != tuple(STRATEGIES) and mapping.template != "tiled":   # a layer HLS refuses under Latency
        way = _fit(network, device, mapping, max_util, STRATEGIES, "strategy chosen per layer (Latency or Resource)",
                   {"--strategy": AUTO_STRATEGY})
        if way is not None:
            found.append(way)
    for w in WIDTHS:                                   # the widest that fits
        way = _fit(scaled_network(network, w), device, mapping, max_util, strategies,
                   f"width x{w:g} (compact, prune or train at it)",
                   {"--model": zoo, "--width": f"{w * width:g}"} if zoo else {})
        if way is not None:
            found.append(way if zoo else replace(way, hint=_narrower_hint(w)))
            break
    weight_bits = mapping.precision.weight_bits
    for p in PRECISIONS:
        trial = mapping.with_(precision=p, layers={})
        if trial.precision.weight_bits >= weight_bits and trial.precision.act_bits >= mapping.precision.act_bits:
            continue
        way = _fit(network, device, trial, max_util, strategies, f"precision {p}", {"--precision": p})
        if way is not None:
            found.append(way)
            break
    for other in _larger_parts(device):
        way = _fit(network, device=other, mapping=mapping, max_util=max_util, strategies=strategies,
                   way=f"larger part: {other.board} ({other.part})",
                   changes={"--part": other.part, "--device": other.name})
        if way is not None:
            found.append(way)
            break
    tiled = _fit(network, device, mapping.with_(template="tiled", layers={}), max_util, strategies,
                 "tiled template (weights from DRAM; codesign simulate only)", {"--template": "tiled"})
    if tiled is not None:
        found.append(tiled)
    return found


def _narrower_hint(w: float) -> str:
    return (f"--width applies to zoo models only: build this one with x{w:g} of its hidden channels (a model "
            f"factory: the --model-arg values that size it), or prune its channels to that and compact it")


def _larger_parts(device: Device) -> List[Device]:
    """Shipped devices of the same vendor with more of every resource, smallest first."""
    out = []
    for name in shipped_device_names():
        d = load_device(name)
        if d.vendor == device.vendor and d.name != device.name and all(
                getattr(d, k) >= getattr(device, k) for k in RESOURCES) and d.lut > device.lut:
            out.append(d)
    return sorted(out, key=lambda d: (d.lut, d.dsp))
