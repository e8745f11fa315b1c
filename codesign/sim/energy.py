"""Energy per inference, split four ways, from a template's :class:`Costs` and the device constants:

- DRAM     = bytes moved × 8 × DRAM energy per bit (e.g. 70 pJ/bit DDR3, 20 pJ/bit DDR4);
- on-chip  = bits read or written in block RAM (FIFOs, tile buffers, BRAM-held weights) × pJ/bit;
- compute  = executed MACs × MAC energy (16×16-bit reference scaled by w_bits·a_bits / 256, or the
             fp32 MAC energy) + other element operations × ALU energy (scaled by a_bits / 16);
- static   = static power × time: the layer's own time for the tiled engine (layers run one after
             another), and the network's initiation interval for the dataflow design (all engines
             run concurrently; steady-state energy per inference).

The constants are model constants with their sources in the device YAML (most are [M]: calibrate
them with the vendor power estimators before trusting absolute joules; ratios are sturdier).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .costs import Costs
from .device import Device
from ..fixed_point import Precision

PJ = 1e-12


@dataclass(frozen=True)
class Energy:
    dram: np.ndarray          # joules per layer
    onchip: np.ndarray
    compute: np.ndarray
    static: np.ndarray
    static_total: float       # network static energy (equals static.sum() for the tiled template)

    @property
    def per_layer(self) -> np.ndarray:
        return self.dram + self.onchip + self.compute + self.static

    def totals(self) -> dict:
        parts = {"dram": float(self.dram.sum()), "onchip": float(self.onchip.sum()),
                 "compute": float(self.compute.sum()), "static": self.static_total}
        parts["total"] = sum(parts.values())
        return parts


def mac_energy_pj(p: Precision, device: Device) -> float:
    if p.is_float:
        return device.fp32_mac_pj
    return device.mac_pj_16x16 * p.weight_bits * p.act_bits / 256.0


def _per_layer_pj(plan, device: Device):
    """(MAC pJ, ALU pJ) per layer from a dataflow plan's widths (weights × the data each layer reads)."""
    mac = np.where(plan.is_float, device.fp32_mac_pj, device.mac_pj_16x16 * plan.w_bits * plan.in_bits / 256.0)
    alu = device.alu_pj_16b * np.where(plan.is_float, 1.0, plan.in_bits / 16.0)
    return mac, alu


def energy(costs: Costs, device: Device, p: Precision) -> Energy:
    """Energy of ``costs``; the MAC/ALU widths come from ``costs.plan`` when the template made one, else ``p``."""
    dram = (costs.dram_read + costs.dram_write) * 8.0 * device.dram_pj_per_bit * PJ
    onchip = costs.onchip_bits * device.bram_pj_per_bit * PJ
    if costs.plan is not None:
        mac, alu = _per_layer_pj(costs.plan, device)
    else:
        mac, alu = mac_energy_pj(p, device), device.alu_pj_16b * (1.0 if p.is_float else p.act_bits / 16.0)
    compute = (costs.macs_exec * mac + costs.other_ops * alu) * PJ
    if costs.template == "tiled":
        static = costs.cycles / costs.clock_hz * device.static_w
        total = float(static.sum())
    else:
        static = np.zeros(len(costs.cycles))
        total = costs.interval_s * device.static_w
    return Energy(dram, onchip, compute, static, total)


def energy_note(template: str) -> str:
    if template == "tiled":
        return ("energy per inference: DRAM bytes x pJ/bit, buffer bits x pJ/bit, executed MACs x MAC energy, "
                "static power x the engine's busy time (layers run one after another)")
    return ("energy per inference in steady state: no DRAM, FIFO/BRAM-weight bits x pJ/bit, executed MACs x MAC "
            "energy, static power x the initiation interval (all engines run concurrently)")
