"""The simulator's report: totals, per-layer rows, the constants used, notes; as JSON and Markdown.

``write_report(report, out_dir)`` writes ``report.json``, ``report.md`` and ``roofline.png`` (atomically)
and returns their paths; the exporter calls it to put the report beside an hls4ml project.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any, Dict, List

import numpy as np

from .. import __version__, atomic
from ..hls_names import hls_layer_name
from .costs import Costs
from .device import Device, device_resources
from .energy import Energy, energy_note
from .layers import Network
from .mapping import Mapping

FORMAT = "codesign.sim/1"
RESOURCES = ("dsp", "bram", "lut", "ff")


def _py(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _py(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_py(v) for v in x]
    if isinstance(x, np.generic):
        return x.item()
    return x


def summarize(net: Network, device: Device, costs: Costs, en: Energy) -> Dict[str, Any]:
    """Network totals as one flat dict (the batch API returns these rows)."""
    ops = 2.0 * float(net.macs) + float(costs.other_ops.sum())
    res = {k: costs.total(k) for k in RESOURCES}
    avail = device_resources(device)
    util = {k: res[k] / avail[k] if avail[k] else float("inf") for k in RESOURCES}
    energy = en.totals()
    slowest = int(np.argmax(costs.interval if costs.template == "dataflow" else costs.cycles))
    return {
        "latency_cycles": costs.latency_cycles, "latency_s": costs.latency_s,
        "interval_cycles": costs.interval_cycles, "interval_s": costs.interval_s,
        "throughput_per_s": 1.0 / costs.interval_s if costs.interval_s > 0 else float("inf"),
        "macs": int(net.macs), "macs_executed": float(costs.macs_exec.sum()), "ops": ops,
        "gops": ops / costs.interval_s / 1e9 if costs.interval_s > 0 else 0.0,
        "weights": int(net.weights), "nonzero_weights": int(net.nonzero_weights),
        "dram_read_bytes": float(costs.dram_read.sum()), "dram_write_bytes": float(costs.dram_write.sum()),
        "energy_dram_j": energy["dram"], "energy_onchip_j": energy["onchip"], "energy_compute_j": energy["compute"],
        "energy_io_j": energy["io"], "energy_static_j": energy["static"], "energy_board_j": energy["board"],
        "energy_j": energy["total"],
        **res, **{f"{k}_util": v for k, v in util.items()},
        "fits": all(v <= 1.0 for v in util.values()) and not costs.refused,
        "over": [k for k, v in util.items() if v > 1.0],
        "refused": list(costs.refused),
        "slowest_layer": net.layers[slowest].name,
        "warnings": list(costs.warnings),
    }


def device_peak_ops(device: Device, mapping: Mapping, clock_hz: float) -> float:
    """The device's compute roof, ops/s: every DSP multiplying at the clock (2 ops per multiply-accumulate),
    at the DSPs per multiply of the mapping's weight and result widths."""
    from .hls_rules import dsp_per_mult

    p = mapping.precision
    per = dsp_per_mult(max(p.weight_bits, 9), p.act_bits, p.is_float, device) or 1.0
    return 2.0 * device.dsp / per * clock_hz


@dataclass(frozen=True)
class Report:
    network: Network
    device: Device
    mapping: Mapping
    costs: Costs
    energy: Energy
    sections: Dict[str, Any] = field(default_factory=dict, compare=False)   # e.g. folding, dense (to_dict keys)

    def with_sections(self, **sections: Any) -> "Report":
        """A copy with more top-level sections in :meth:`to_dict` (``folding``, ``dense``, ``ways_out``)."""
        return replace(self, sections={**self.sections, **sections})

    @cached_property
    def totals(self) -> Dict[str, Any]:
        return summarize(self.network, self.device, self.costs, self.energy)

    def layer_rows(self) -> List[Dict[str, Any]]:
        c, e, net = self.costs, self.energy, self.network
        rows = []
        for i, layer in enumerate(net.layers):
            ops = 2.0 * layer.macs + float(c.other_ops[i])
            dram = float(c.dram_read[i] + c.dram_write[i])
            secs = float(c.cycles[i]) / c.clock_hz
            rows.append({
                "name": layer.name, "hls_name": hls_layer_name(layer.name), "op": layer.op, "inputs": list(layer.inputs),
                "in_shape": list(layer.in_shape), "out_shape": list(layer.out_shape),
                "weights": layer.weights, "nonzero_weights": layer.nonzero_weights, "macs": layer.macs,
                "macs_executed": float(c.macs_exec[i]), "ops": ops,
                "cycles": float(c.cycles[i]), "latency_s": secs, "interval_cycles": float(c.interval[i]),
                "dram_read_bytes": float(c.dram_read[i]), "dram_write_bytes": float(c.dram_write[i]),
                "intensity_ops_per_byte": ops / dram if dram > 0 else None,
                "gops": ops / secs / 1e9 if secs > 0 else None, "bound": str(c.bound[i]),
                **{k: float(getattr(c, k)[i]) for k in RESOURCES},
                "energy_j": {"dram": float(e.dram[i]), "onchip": float(e.onchip[i]), "compute": float(e.compute[i]),
                             "io": float(e._io[i]), "static": float(e.static[i]), "total": float(e.per_layer[i])},
                "detail": self._detail(i),
            })
        return rows

    def _detail(self, i: int) -> Dict[str, Any]:
        d = self.costs.detail
        if self.costs.template == "dataflow":
            out = {"reuse_factor": int(d["reuse_factor"][i]), "multipliers": int(d["multipliers"][i]),
                   **({"kernel": "sparse"} if "kernel" in d and d["kernel"][i] == "sparse" else {})}
            plan, op = self.costs.plan, self.network.layers[i].op
            if plan is not None:
                if op in ("conv", "dense"):
                    out.update(strategy="Resource" if plan.resource[i] else "Latency", weight_bits=int(plan.w_bits[i]))
                out["result_bits"] = int(plan.out_bits[i])
                if plan.io_stream:
                    out["fifo_depth"] = int(plan.fifo_depth[i])
            return out
        if self.network.layers[i].op not in ("conv", "dense"):
            return {}
        design = d["design"]
        util = self.network.layers[i].macs / max(d["mac_cycles"][i] * design.macs, 1)
        return {"tiles": {k: int(v[i]) for k, v in d["tiles"].items()}, "loop_order": str(d["loop_order"][i]),
                "mac_cycles": float(d["mac_cycles"][i]), "mac_utilisation": float(util)}

    def template_info(self) -> Dict[str, Any]:
        info = self.mapping.describe()
        plan = self.costs.plan
        if plan is not None:            # per layer: the widest, and [narrowest, widest] when layers differ
            compute = np.isin([l.op for l in self.network.layers], ("conv", "dense"))
            w, a = (plan.w_bits[compute] if compute.any() else plan.w_bits), plan.out_bits
            info.update(weight_bits=int(w.max()), act_bits=int(a.max()))
            if w.min() != w.max() or a.min() != a.max():
                info["bits_per_layer"] = {"weight": [int(w.min()), int(w.max())], "result": [int(a.min()), int(a.max())]}
        else:
            info.update(weight_bits=self.mapping.precision.weight_bits, act_bits=self.mapping.precision.act_bits)
        info["clock_mhz"] = self.costs.clock_hz / 1e6
        if self.costs.template == "dataflow":
            info.update(io_type=self.costs.detail["io_type"], pipeline_style=self.costs.detail["pipeline_style"],
                        dsp_per_multiplier=self.costs.detail["dsp_per_mult"], hls4ml_rules="1.3.0")
        else:
            info["design"] = self.costs.detail["design"].describe()
            info["buffers_used_blocks"] = self.costs.detail["buffers_used"]
        return info

    def to_dict(self) -> Dict[str, Any]:
        net, dev, c = self.network, self.device, self.costs
        return _py({
            "format": FORMAT, "codesign_version": __version__,
            "model": {"name": net.name, "source": net.source, "input_shape": list(net.input_shape),
                      "layers": len(net), "weights": net.weights, "nonzero_weights": net.nonzero_weights,
                      "macs": net.macs},
            "device": {"name": dev.name, "board": dev.board, "part": dev.part, "file": Path(dev.path).name,
                       "resources": {"dsp": dev.dsp, "bram": dev.bram, "bram_kind": dev.bram_kind, "lut": dev.lut,
                                     "ff": dev.ff},
                       "dram": {"type": dev.dram_type, "peak_gbps": dev.dram_peak_gbps,
                                "efficiency": dev.dram_efficiency, "pj_per_bit": dev.dram_pj_per_bit}},
            "template": self.template_info(),
            "totals": {k: v for k, v in self.totals.items() if k != "warnings"},    # the report's own, below
            "roofline": {"peak_gops": c.peak_ops_per_s / 1e9, "bandwidth_gbps": c.dram_bytes_per_s / 1e9,
                         "device_peak_gops": device_peak_ops(dev, self.mapping, c.clock_hz) / 1e9},
            "layers": self.layer_rows(),
            "notes": list(c.notes) + [energy_note(c.template)], "warnings": list(c.warnings),
            "constants": dict(dev.constants),
            **self.sections,
        })

    def to_markdown(self) -> str:
        from .markdown import report_markdown
        return report_markdown(self.to_dict())


def write_report(report: Report, out_dir: str | Path, plot: bool = True) -> Dict[str, Path]:
    """Write report.json, report.md and (``plot``) roofline.png into ``out_dir``; returns their paths."""
    out = Path(out_dir)
    data = report.to_dict()
    paths = {"json": out / "report.json", "markdown": out / "report.md"}
    atomic.write_json(paths["json"], data)
    from .markdown import report_markdown
    atomic.write_text(paths["markdown"], report_markdown(data))
    if plot:
        from ..plots import roofline_plot
        paths["roofline"] = out / "roofline.png"
        roofline_plot(data, paths["roofline"])
    return paths
