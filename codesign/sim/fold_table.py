"""The folding search's cost table: every candidate (reuse factor, strategy) of every Conv/Dense layer,
priced by the estimator itself.

    table = cost_table(network, device, plan, strategies=("Latency", "Resource"))
    table.interval[i, j], table.res["lut"][i, j]    # layer table.layers[i] under candidate j

A layer's candidates are the reuse factors hls4ml accepts for it (:func:`candidate_reuse_factors`) under
each allowed strategy. The table is built with K calls of the estimator's own per-layer functions
(:func:`~codesign.sim.dataflow_resources.layer_resources`, :func:`~codesign.sim.dataflow_timing.layer_timing`),
one per candidate column, each on the whole network at once: column j gives every knob layer its j-th
candidate (layers with fewer candidates repeat their last one). Nothing here knows how a resource or a
cycle is computed, so a recalibrated model changes the numbers, never the search. The table assumes that
a layer's costs depend on its own settings (what the LayerPlan contract gives each layer); the search
checks its final choice with the full estimate.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Dict, List, Sequence, Tuple

import numpy as np

from . import hls_rules
from .dataflow_resources import layer_resources
from .dataflow_timing import layer_timing
from .device import Device
from .layers import Network
from .plan import LayerPlan
from .sparse_choice import choose_kernels, priced_kernels

KNOB_OPS = ("conv", "dense")                 # the layers whose ReuseFactor/Strategy the search chooses
RESOURCES = ("dsp", "lut", "ff", "bram", "uram")


def candidate_reuse_factors(n_in: int, n_out: int, resource: bool, latency_ok=None) -> Tuple[int, ...]:
    """Reuse factors worth trying for one layer, ascending: hls4ml's valid ones
    (:func:`~codesign.sim.hls_rules.valid_reuse_factors`; the Resource strategy moves any other to the
    closest of them, and under Latency they are the ones that leave no multiplier idle). Under Latency, only
    those where ``latency_ok`` (a bool per valid RF; None: all) says the layer is not too large for it."""
    valid = hls_rules.valid_reuse_factors(int(n_in), int(n_out))
    if resource or latency_ok is None:
        return valid
    return tuple(rf for rf, ok in zip(valid, latency_ok) if ok)


@dataclass(frozen=True)
class CostTable:
    """Per knob layer (rows, ``layers`` indexes the network) and candidate (columns)."""

    layers: np.ndarray                    # (m,) network indices of the Conv/Dense layers
    rf: np.ndarray                        # (m, K) reuse factor
    resource: np.ndarray                  # (m, K) Resource strategy
    valid: np.ndarray                     # (m, K) a real candidate (False: padding)
    interval: np.ndarray                  # (m, K) the layer's initiation interval, cycles
    depth: np.ndarray                     # (m, K) first-output depth, cycles (the latency the layer adds)
    res: Dict[str, np.ndarray]            # (m, K) per resource
    fixed_res: Dict[str, float]           # the other layers' resources (they do not depend on the folding)
    fixed_interval: float                 # the slowest other layer's interval
    fixed_slowest: int                    # which layer that is (-1: none)
    evaluations: int                      # estimator calls made

    def pick(self, choice: np.ndarray) -> Dict[str, np.ndarray]:
        """The rows of candidate ``choice[i]`` for every layer: rf, resource, interval, depth, resources."""
        rows = np.arange(len(self.layers))
        out = {"rf": self.rf[rows, choice], "resource": self.resource[rows, choice],
               "interval": self.interval[rows, choice], "depth": self.depth[rows, choice]}
        out.update({k: v[rows, choice] for k, v in self.res.items()})
        return out

    def totals(self, choice: np.ndarray) -> Dict[str, float]:
        rows = np.arange(len(self.layers))
        return {k: float(v[rows, choice].sum()) + self.fixed_res[k] for k, v in self.res.items()}


def refold(plan: LayerPlan, network: Network, rf: np.ndarray, resource: np.ndarray, device: Device) -> LayerPlan:
    """``plan`` with other per-layer reuse factors and strategies (already valid hls4ml values). The sparse
    kernel follows them as :func:`~codesign.sim.plan.resolve_plan` and the export choose it: the layers of
    ``plan.sparse_auto`` take it where it costs less there (:func:`~codesign.sim.sparse_choice.choose_kernels`),
    the others keep theirs; the ROM form is :func:`~codesign.sim.hls_rules.sparse_rom`."""
    return choose_kernels(network, _moved(plan, network, rf, resource), device)


def _moved(plan: LayerPlan, network: Network, rf: np.ndarray, resource: np.ndarray) -> LayerPlan:
    return replace(plan, rf=rf, rf_requested=rf, resource=resource,
                   sparse_rom=hls_rules.sparse_rom(plan.sparse, rf, network.arrays.nonzero))


def _latency_ok(network: Network, plan: LayerPlan, knobs: np.ndarray, valid: Sequence[Tuple[int, ...]],
                device: Device) -> List[np.ndarray]:
    """Per knob layer, per valid RF: may the Latency strategy run it there? Not where its kernel unrolls more
    than the limit (:func:`~codesign.sim.hls_rules.latency_too_large`), and under Latency a layer's kernel does not
    depend on its RF: a layer of ``plan.sparse_auto`` gets the sparse kernel wherever its dense kernel is that
    large (:mod:`~codesign.sim.sparse_choice` prices a refused kernel infinitely), the others keep theirs."""
    limit = float(device.calibration["dataflow.unroll_limit"])
    too_large = hls_rules.latency_too_large(network, plan.sparse | plan.sparse_auto, limit)[knobs]
    return [np.full(len(v), not big) for big, v in zip(too_large.tolist(), valid)]


def layer_candidates(network: Network, plan: LayerPlan, device: Device, strategies: Sequence[str],
                     ) -> Tuple[np.ndarray, List[List[Tuple[int, bool]]]]:
    """(knob layer indices, per layer its (rf, resource) candidates); ``plan`` resolved at RF 1 (:func:`refold`)."""
    a = network.arrays
    knobs = np.flatnonzero(a.mask(*KNOB_OPS) & (a.weights > 0))
    valid = [hls_rules.valid_reuse_factors(int(a.n_in[i]), int(a.n_out[i])) for i in knobs.tolist()]
    latency_ok = _latency_ok(network, plan, knobs, valid, device) if "Latency" in strategies else None
    options: List[List[Tuple[int, bool]]] = []
    for row, i in enumerate(knobs.tolist()):
        n_in, n_out = int(a.n_in[i]), int(a.n_out[i])
        cands: List[Tuple[int, bool]] = []
        for strategy in strategies:
            res = strategy == "Resource"
            ok = None if latency_ok is None else latency_ok[row]
            cands += [(rf, res) for rf in candidate_reuse_factors(n_in, n_out, res, ok)]
        if not cands:                             # Latency asked for a layer too large for it: the largest RF
            cands = [(valid[row][-1], False)]
        options.append(sorted(set(cands), key=lambda c: (c[0], c[1])))
    return knobs, options


def cost_table(network: Network, device: Device, plan: LayerPlan, strategies: Sequence[str] = ("Latency", "Resource"),
               ) -> CostTable:
    """Price every candidate of every Conv/Dense layer with the estimator (see the module doc)."""
    knobs, options = layer_candidates(network, plan, device, strategies)
    m, k = len(knobs), max((len(o) for o in options), default=1)
    rf = np.ones((m, k), dtype=np.int64)
    resource = np.zeros((m, k), dtype=bool)
    valid = np.zeros((m, k), dtype=bool)
    for i, opts in enumerate(options):
        padded = opts + [opts[-1]] * (k - len(opts))
        rf[i] = [o[0] for o in padded]
        resource[i] = [o[1] for o in padded]
        valid[i, :len(opts)] = True
    interval, depth = np.zeros((m, k)), np.zeros((m, k))
    res = {r: np.zeros((m, k)) for r in RESOURCES}
    fixed_res: Dict[str, float] = {}
    others = np.ones(len(network), dtype=bool)
    others[knobs] = False
    fixed_interval, fixed_slowest = 0.0, -1
    for j in range(k):
        col_rf, col_res = plan.rf.copy(), plan.resource.copy()
        col_rf[knobs], col_res[knobs] = rf[:, j], resource[:, j]
        p, r = priced_kernels(network, _moved(plan, network, col_rf, col_res), device)
        _cyc, d, itv = layer_timing(network, p, device)
        interval[:, j], depth[:, j] = itv[knobs], d[knobs]
        for name in RESOURCES:
            res[name][:, j] = np.asarray(r.get(name, np.zeros(len(network))), dtype=float)[knobs]
        if j == 0:
            fixed_res = {name: float(np.asarray(r.get(name, np.zeros(len(network))))[others].sum())
                         for name in RESOURCES}
            if others.any():
                fixed_slowest = int(np.flatnonzero(others)[np.argmax(itv[others])])
                fixed_interval = float(itv[fixed_slowest])
    return CostTable(knobs, rf, resource, valid, interval, depth, res, fixed_res, fixed_interval, fixed_slowest, k)
