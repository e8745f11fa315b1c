"""Design-space search of the tiled accelerator: unroll factors under the DSP (and LUT) budget and a
split of the block-RAM budget between the three ping-pong buffers.

Zhang FPGA'15 picks one unified (Tm, Tn) for all layers; Ma FPGA'17 one (Pox, Poy, Pof). Both
families are enumerated (``unroll='auto'``), ranked by total compute cycles, and the best few are
evaluated with the full tiling/DRAM model for each buffer split; the design with the lowest network
latency wins (ties: fewer DRAM bytes): first over the unrollings with an even buffer split, then over
the buffer splits of the winner. Results are cached per (network, device, precision, options).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, List, Tuple

import numpy as np

from ..errors import ConfigError
from ..memo import Memo
from .device import Device
from .layers import Network
from .mapping import Mapping
from ..fixed_point import Precision

FACTORS = (1, 2, 3, 4, 6, 7, 8, 12, 14, 16, 24, 28, 32, 48, 56, 64, 96, 112, 128, 192, 256, 384, 512)
SPATIAL = (1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16)
SPLITS = ((1 / 3, 1 / 3, 1 / 3), (0.5, 0.25, 0.25), (0.25, 0.5, 0.25), (0.25, 0.25, 0.5), (0.45, 0.45, 0.1),
          (0.15, 0.7, 0.15), (0.7, 0.15, 0.15))
TOP_UNROLLS = 4
_CACHE = Memo(4096)


@dataclass(frozen=True)
class TiledDesign:
    pof: int
    pif: int
    pox: int
    poy: int
    cap_in: int       # blocks per buffer (both ping-pong copies)
    cap_w: int
    cap_out: int
    family: str = "fixed"

    @property
    def macs(self) -> int:
        return self.pof * self.pif * self.pox * self.poy

    def arrays(self) -> Dict[str, np.ndarray]:
        return {k: np.array([getattr(self, k)]) for k in ("pof", "pif", "pox", "poy", "cap_in", "cap_w", "cap_out")}

    def describe(self) -> dict:
        return {"unroll": {"Pof": self.pof, "Pif": self.pif, "Pox": self.pox, "Poy": self.poy},
                "mac_units": self.macs, "family": self.family,
                "buffer_blocks": {"input": self.cap_in, "weight": self.cap_w, "output": self.cap_out}}


def dsp_per_mac(p: Precision, device: Device) -> float:
    if p.is_float:
        return device.fp32_dsp_per_mac
    if p.widest <= 8:
        return 1.0 / device.int8_mults_per_dsp
    a, b = device.mult_width
    blocks = math.ceil(max(p.weight_bits, p.act_bits) / a) * math.ceil(min(p.weight_bits, p.act_bits) / b)
    return 1.0 / device.fixed_mults_per_dsp if blocks == 1 else float(blocks)


def environment(device: Device, m: Mapping) -> Dict[str, float]:
    p = m.precision
    return {"f": m.clock_hz(device), "bw": device.dram_bytes_per_s, "a_bytes": p.act_bytes, "w_bytes": p.weight_bytes,
            "a_bits": float(p.act_bits), "w_bits": float(p.weight_bits), "block_bits": device.bram_block_bits,
            "zero_skip": bool(m.zero_skip), "index_bits": device.cal("tiled.zero_skip_index_bits"),
            "overhead": device.cal("tiled.tile_overhead_cycles"), "aligned": m.dram_layout == "aligned"}


def _all_unrolls() -> Tuple[np.ndarray, np.ndarray]:
    """Every candidate (Pof, Pif, Pox, Poy) of both families, and the family of each (0 ma, 1 zhang)."""
    ma = [(f, 1, s, s) for f in FACTORS for s in SPATIAL]
    zhang = [(f, n, 1, 1) for f in FACTORS for n in FACTORS if n > 1]
    return np.array(ma + zhang, dtype=np.int64), np.array([0] * len(ma) + [1] * len(zhang))


UNROLLS, UNROLL_FAMILY = _all_unrolls()


def _unrolls(family: str, max_macs: int, net: Network, bram_budget: float) -> List[Tuple[int, int, int, int, str]]:
    """Unrollings of the family within the MAC budget whose buffer banks fit, at least half the best size."""
    a = net.arrays
    mac = a.mask("conv", "dense")
    max_of, max_if = int(a.cout[mac].max()), int((a.cin // a.groups)[mac].max())
    max_xy = int(max(a.out_w[mac].max(), a.out_h[mac].max()))
    pof, pif, pox, poy = UNROLLS.T
    macs = UNROLLS.prod(axis=1)
    ok = (macs <= max_macs) & (pof <= max(max_of, 1) * 2) & (pif <= max(max_if, 1) * 2) & (pox <= max_xy)
    if family != "auto":
        ok &= UNROLL_FAMILY == ("ma", "zhang").index(family)
    caps = np.floor(bram_budget * np.array(SPLITS))                          # (splits, 3)
    need = np.stack([pif * pox * poy, pof * pif, pof], axis=1)               # (units, 3)
    ok &= (caps[None, :, :] >= need[:, None, :]).all(axis=2).any(axis=1)
    if not ok.any():
        raise ConfigError(f"no {family} unrolling fits {max_macs} MAC units and the block-RAM banks of this "
                          f"device; use a smaller precision or another device")
    ok &= macs >= macs[ok].max() / 2
    return [(*map(int, UNROLLS[i]), ("ma", "zhang")[UNROLL_FAMILY[i]]) for i in np.flatnonzero(ok)]


def _rank_by_cycles(net: Network, units: List[tuple]) -> List[tuple]:
    a = net.arrays
    mac = a.mask("conv", "dense")
    dense = a.mask("dense")
    nif = np.where(dense, a.n_in, a.cin // a.groups)[mac]
    nox, noy = np.where(dense, 1, a.out_w)[mac], np.where(dense, 1, a.out_h)[mac]
    k2 = np.where(dense, 1, a.kh * a.kw)[mac]
    nof, g = (a.cout // a.groups)[mac], a.groups[mac]
    u = np.array([x[:4] for x in units], dtype=float)
    cyc = (k2 * g * np.ceil(nof / u[:, :1]) * np.ceil(nif / u[:, 1:2]) * np.ceil(nox / u[:, 2:3]) *
           np.ceil(noy / u[:, 3:4])).sum(axis=1)
    order = np.lexsort((u.prod(axis=1), cyc))
    return [units[i] for i in order[:TOP_UNROLLS]]


def _budgets(device: Device, m: Mapping) -> Tuple[int, float]:
    per_mac = dsp_per_mac(m.precision, device)
    kind = "float" if m.precision.is_float else "fixed"
    by_dsp = device.dsp * device.cal("tiled.dsp_budget_fraction") / per_mac
    by_lut = (device.lut * 0.9 - device.cal("tiled.lut_base")) / device.cal(f"tiled.lut_per_mac_{kind}")
    return max(1, int(min(by_dsp, by_lut))), device.bram * device.cal("tiled.bram_budget_fraction")


def _designs(units: List[tuple], bram_budget: float, splits) -> List["TiledDesign"]:
    out = []
    for pof, pif, pox, poy, fam in units:
        for s_in, s_w, s_out in splits:
            caps = [int(bram_budget * s) for s in (s_in, s_w, s_out)]
            if caps[0] >= pif * pox * poy and caps[1] >= pof * pif and caps[2] >= pof:
                out.append(TiledDesign(pof, pif, pox, poy, *caps, family=fam))
    return out


def _best(net: Network, designs: List["TiledDesign"], prob, counts, env) -> "TiledDesign | None":
    """The design with the lowest network latency (ties: fewer DRAM bytes); None if none fits."""
    from .tiled import passes
    from .tiled_model import evaluate

    if not designs:
        return None
    arrays = {k: np.array([getattr(d, k) for d in designs]) for k in designs[0].arrays()}
    best = evaluate(prob, arrays, env)
    mac_time = (best["time"] * counts[None, :]).sum(axis=1)
    mac_bytes = ((best["read"] + best["write"]) * counts[None, :]).sum(axis=1)
    lanes = {d.pof * d.pox * d.poy: d for d in designs}
    by_lanes = {n: passes(net, d, env)["time"].sum() for n, d in lanes.items()}
    total = mac_time + np.array([by_lanes[d.pof * d.pox * d.poy] for d in designs])
    if not np.isfinite(total).any():
        return None
    return designs[int(np.lexsort((mac_bytes, total))[0])]


def search_design(net: Network, device: Device, m: Mapping) -> "TiledDesign":
    """The fastest design for ``net`` on ``device`` (cached)."""
    key = (net.signature, device.key, m.precision.label, m.zero_skip, m.unroll, m.clock_mhz, m.dram_layout)
    return _CACHE.get_or_make(key, lambda: _search(net, device, m))


def _search(net: Network, device: Device, m: Mapping) -> "TiledDesign":
    from .tiled import problems

    max_macs, bram_budget = _budgets(device, m)
    if isinstance(m.unroll, tuple):
        units = [(*m.unroll, "fixed")]
    else:
        units = _rank_by_cycles(net, _unrolls(m.unroll, max_macs, net, bram_budget))
    env = environment(device, m)
    prob, index, counts = problems(net, m.zero_skip)
    # stage 1: every unrolling with an even buffer split; stage 2: every split for the best unrolling
    first = _best(net, _designs(units, bram_budget, SPLITS[:1]), prob, counts, env)
    if first is not None:
        units = [u for u in units if u[:4] == (first.pof, first.pif, first.pox, first.poy)]
    choice = _best(net, _designs(units, bram_budget, SPLITS), prob, counts, env)
    if choice is None:
        raise ConfigError(f"no tiling of the network fits the {device.bram_kind} budget of {device.name} with "
                          f"unrolling {units[0][:4]}; choose smaller unroll factors or another device")
    return choice
