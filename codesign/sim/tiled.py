"""Template ``tiled``: a loop-tiled CNN accelerator with off-chip DRAM (Zhang et al. FPGA'15,
Ma et al. FPGA'17), the model behind the CGaP paper's DRAM-energy and latency figures.

Convolutions and dense layers run on the unrolled MAC array (see :mod:`codesign.sim.tiled_model`);
pooling, global pooling and element-wise sums are separate passes that read their inputs from DRAM
and write their output back, on Pof·Pox·Poy lanes; activations, un-folded BatchNorm, softmax and
concatenation are fused into the producing pass (no extra traffic). Feature maps live in DRAM
between layers; the network input is read from and its output written to DRAM. Unstructured zeros
cost full time and traffic unless ``zero_skip`` (an idealised, load-balanced zero-skipping engine
that also stores a small index per nonzero weight) is switched on.
"""
from __future__ import annotations

from typing import Dict, Tuple

import numpy as np

from .costs import Costs
from .device import Device
from .layers import Network
from .mapping import Mapping
from .tiled_model import Problems, evaluate
from .tiled_search import TiledDesign, dsp_per_mac, environment, search_design

PASS_OPS = ("maxpool", "avgpool", "globalpool", "add", "mul")


def problems(net: Network, zero_skip: bool) -> Tuple[Problems, np.ndarray, np.ndarray]:
    """(unique problems, problem index of every conv/dense layer (-1 for others), multiplicity)."""
    a = net.arrays
    is_mac = a.mask("conv", "dense")
    dense = a.mask("dense")
    density = np.where(a.weights > 0, a.nonzero / np.maximum(a.weights, 1), 1.0) if zero_skip else np.ones(len(net))
    g = a.groups
    rows = np.stack([
        a.cout // g, np.where(dense, a.n_in, a.cin // g), np.where(dense, 1, a.out_w), np.where(dense, 1, a.out_h),
        np.where(dense, 1, a.kh), np.where(dense, 1, a.kw), np.where(dense, 1, a.stride),
        np.where(dense, 1, a.in_h), np.where(dense, 1, a.in_w), g, np.round(density, 6),
        np.array([0 if l.inputs else 1 for l in net.layers])], axis=1)[is_mac]
    uniq, inverse, counts = np.unique(rows, axis=0, return_inverse=True, return_counts=True)
    index = np.full(len(net), -1)
    index[is_mac] = inverse.ravel()
    cols = uniq.T
    prob = Problems(*(cols[i] for i in range(10)), density=cols[10], first=cols[11])
    return prob, index, counts


def passes(net: Network, design: TiledDesign, env: Dict[str, float]) -> Dict[str, np.ndarray]:
    """Time, DRAM bytes and cycles of the pooling / element-wise passes."""
    a = net.arrays
    lanes = design.pof * design.pox * design.poy
    window = np.where(a.mask("maxpool", "avgpool"), a.kh * a.kw, 1)
    ops = np.where(a.mask("globalpool"), a.in_elems, a.out_elems * window)
    is_pass = a.mask(*PASS_OPS)
    pad = np.ceil(a.cout / design.pof) * design.pof / a.cout if env["aligned"] else 1.0
    read = np.where(is_pass, a.in_elems * env["a_bytes"] * pad, 0.0)
    write = np.where(is_pass, a.out_elems * env["a_bytes"] * pad, 0.0)
    cycles = np.where(is_pass, np.ceil(ops / lanes), 0.0)
    t_comp, t_mem = cycles / env["f"], (read + write) / env["bw"]
    return {"time": np.maximum(t_comp, t_mem), "read": read, "write": write, "cycles": cycles,
            "t_comp": t_comp, "t_mem": t_mem, "ops": np.where(is_pass, ops, 0.0)}


def _onchip_bits(net: Network, design: TiledDesign, mac_cycles: np.ndarray, read: np.ndarray,
                 write: np.ndarray, env) -> np.ndarray:
    """Buffer traffic: DRAM data written into buffers, operands read by the array each cycle, outputs drained."""
    feed = design.pif * design.pox * design.poy * env["a_bits"] + design.pof * design.pif * env["w_bits"]
    return 8.0 * (read + write) + mac_cycles * feed + 8.0 * write


def tiled_costs(net: Network, device: Device, m: Mapping, design: TiledDesign | None = None) -> Costs:
    design = design or search_design(net, device, m)
    env = environment(device, m)
    a, cal = net.arrays, device.calibration
    prob, index, _ = problems(net, m.zero_skip)
    best = evaluate(prob, design.arrays(), env)
    is_mac = index >= 0
    take = lambda key: np.where(is_mac, best[key][0][np.maximum(index, 0)], 0.0)  # noqa: E731
    ps = passes(net, design, env)
    time = take("time") + ps["time"]
    read, write = take("read") + ps["read"], take("write") + ps["write"]
    mac_cycles = take("cycles")
    t_comp, t_mem = take("t_comp") + ps["t_comp"], take("t_mem") + ps["t_mem"]
    f = env["f"]
    cycles = time * f
    bound = np.where(time <= 0, "-", np.where(t_comp >= t_mem, "compute", "memory"))
    macs_exec = a.macs * (np.where(a.weights > 0, a.nonzero / np.maximum(a.weights, 1), 1.0) if m.zero_skip else 1.0)
    dpm = dsp_per_mac(m.precision, device)
    used = {k: float(best[k][0][index[is_mac]].max(initial=0)) for k in ("use_in", "use_w", "use_out")}
    per_mac = "float" if m.precision.is_float else "fixed"
    shared = {"dsp": design.macs * dpm, "bram": sum(used.values()),
              "lut": cal["tiled.lut_base"] + design.macs * cal[f"tiled.lut_per_mac_{per_mac}"],
              "ff": cal["tiled.ff_base"] + design.macs * cal[f"tiled.ff_per_mac_{per_mac}"]}
    zeros = np.zeros(len(net))
    tiles = {k: take(k).astype(int) for k in ("tof", "tif", "tox", "toy")}
    notes = (f"tiled template (Zhang FPGA'15 / Ma FPGA'17 loop tiling): one {design.pof}x{design.pif}x{design.pox}x"
             f"{design.poy} (Pof x Pif x Pox x Poy) MAC array, {design.family} unrolling, ping-pong buffers of "
             f"{design.cap_in}/{design.cap_w}/{design.cap_out} {device.bram_kind} (input/weight/output); "
             f"feature maps and weights stream from DRAM",
             ("unstructured zeros skipped (idealised zero-skipping option: time and weight traffic scale with "
              "density, plus an index per nonzero weight)" if m.zero_skip else
              "unstructured zeros save nothing (no zero skipping; enable the documented --zero-skip option to model it)"),
             "structured pruning shrinks the loops: fewer tiles, fewer cycles and less DRAM traffic",
             (f"DRAM layout {m.dram_layout}: " + ("channels padded to whole Pof-wide words (maps) and Pof x Pif "
              "blocks (weights), so channels pruned inside one word save no traffic" if m.dram_layout == "aligned"
              else "tensors stored densely, traffic scales with the channel counts")),
             "activations, BatchNorm and softmax are fused into the producing pass; pooling and element-wise sums "
             "are separate passes through DRAM")
    return Costs(
        template="tiled", clock_hz=f, cycles=cycles, interval=cycles, dram_read=read, dram_write=write,
        macs_exec=macs_exec.astype(float), other_ops=ps["ops"],
        onchip_bits=_onchip_bits(net, design, mac_cycles, read, write, env),
        dsp=zeros, bram=zeros, lut=zeros, ff=zeros, bound=bound,
        latency_cycles=float(cycles.sum()), interval_cycles=float(cycles.sum()),
        peak_ops_per_s=2.0 * design.macs * f, dram_bytes_per_s=env["bw"], shared=shared,
        detail={"design": design, "tiles": tiles, "mac_cycles": mac_cycles,
                "loop_order": np.where(is_mac, np.where(take("order_b") > 0, "maps-outer", "pixels-outer"), "-"),
                "buffers_used": used},
        notes=notes)
