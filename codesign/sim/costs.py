"""What a hardware template computes for a network: per-layer arrays plus network-level totals.

Both templates return a :class:`Costs`; :mod:`codesign.sim.energy` turns it into joules and
:mod:`codesign.sim.report` into tables. Arrays are indexed like ``network.layers``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Tuple

import numpy as np


@dataclass(frozen=True)
class Costs:
    template: str
    clock_hz: float
    cycles: np.ndarray          # latency of each layer's engine / pass, cycles
    interval: np.ndarray        # initiation interval of each layer, cycles
    dram_read: np.ndarray       # bytes read from DRAM per inference
    dram_write: np.ndarray      # bytes written to DRAM per inference
    macs_exec: np.ndarray       # multiply-accumulates actually executed (zero skipping applied)
    other_ops: np.ndarray       # non-MAC element operations (compare, add, activation)
    onchip_bits: np.ndarray     # bits read + written in on-chip RAM (FIFOs, buffers, BRAM weights)
    dsp: np.ndarray
    bram: np.ndarray            # device blocks (BRAM18 or M20K)
    lut: np.ndarray
    ff: np.ndarray
    bound: np.ndarray           # "compute" | "memory" | "stream" | "-" per layer
    latency_cycles: float       # one inference, first input to last output
    interval_cycles: float      # between inferences in steady state
    peak_ops_per_s: float       # the engine's compute roof (2 ops per MAC)
    dram_bytes_per_s: float     # the bandwidth roof (0 when no DRAM is used)
    shared: Dict[str, float] = field(default_factory=dict)   # resources not owned by one layer
    detail: Dict[str, Any] = field(default_factory=dict)     # template specifics (per-layer arrays, design)
    notes: Tuple[str, ...] = ()
    warnings: Tuple[str, ...] = ()
    plan: Any = None            # the per-layer plan the costs were computed from (dataflow: sim.plan.LayerPlan)
    refused: Tuple[str, ...] = ()   # layers HLS refuses to build (sim.hls_rules.refused): the design does not fit

    @property
    def latency_s(self) -> float:
        return self.latency_cycles / self.clock_hz

    @property
    def interval_s(self) -> float:
        return self.interval_cycles / self.clock_hz

    def total(self, name: str) -> float:
        return float(np.sum(getattr(self, name))) + float(self.shared.get(name, 0.0))
