"""Energy per inference, split six ways, from a template's :class:`Costs` and the device constants:

- DRAM     = bytes moved × 8 × DRAM energy per bit (e.g. 70 pJ/bit DDR3, 20 pJ/bit DDR4);
- on-chip  = bits read or written in block RAM (FIFOs, tile buffers, BRAM-held weights, tables) × pJ/bit;
- compute  = executed MACs × MAC energy (16×16-bit reference scaled by w_bits·a_bits / 256, or the
             fp32 MAC energy) + other element operations × ALU energy (scaled by a_bits / 16);
- I/O      = the dataflow design's input and output bits, moved between the board's memory and the
             design's ports (DMA), × the DRAM energy per bit (the tiled template counts them as DRAM);
- static   = the FPGA's static power × time;
- board    = the board's power outside the FPGA fabric (processor system, memory, regulators: the
             device file's ``board_power``, 0 where not known) × time.

Time is the layer's own time for the tiled engine (layers run one after another) and the network's
initiation interval for the dataflow design (all engines run concurrently: steady-state energy per
inference at the design's throughput); ``Energy.power_w`` is the static + board power, so energy at
another pace (one inference at a time: the latency) is ``dynamic + power_w × seconds``.

The constants are in the device YAML with their sources (most dynamic-energy constants are [M]:
ratios are sturdier than absolute joules; static and board power dominate small designs).
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
    io: np.ndarray = None     # joules per layer (the layers at the network's input and output)
    board_total: float = 0.0  # board energy per inference
    power_w: float = 0.0      # static + board power, W

    @property
    def per_layer(self) -> np.ndarray:
        return self.dram + self.onchip + self.compute + self.static + self._io

    @property
    def _io(self) -> np.ndarray:
        return np.zeros_like(self.dram) if self.io is None else self.io

    @property
    def dynamic(self) -> float:
        return float((self.dram + self.onchip + self.compute + self._io).sum())

    def totals(self) -> dict:
        parts = {"dram": float(self.dram.sum()), "onchip": float(self.onchip.sum()),
                 "compute": float(self.compute.sum()), "io": float(self._io.sum()), "static": self.static_total,
                 "board": self.board_total}
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
        total, seconds = float(static.sum()), float(costs.cycles.sum() / costs.clock_hz)
        io = np.zeros(len(costs.cycles))
    else:
        static = np.zeros(len(costs.cycles))
        seconds = costs.interval_s
        total = seconds * device.static_w
        io_bits = costs.detail.get("io_bits")
        io = np.zeros(len(static)) if io_bits is None else np.asarray(io_bits) * device.dram_pj_per_bit * PJ
    return Energy(dram, onchip, compute, static, total, io, seconds * device.board_w,
                  device.static_w + device.board_w)


def energy_note(template: str) -> str:
    if template == "tiled":
        return ("energy per inference: DRAM bytes x pJ/bit, buffer bits x pJ/bit, executed MACs x MAC energy, "
                "static and board power x the engine's busy time (layers run one after another)")
    return ("energy per inference in steady state: FIFO/BRAM bits x pJ/bit, executed MACs x MAC energy, input and "
            "output bits x the DRAM pJ/bit, static and board power x the initiation interval (engines run concurrently)")
