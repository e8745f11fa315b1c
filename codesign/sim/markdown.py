"""Markdown rendering of a simulator report (works on ``Report.to_dict()`` or a saved report.json)."""
from __future__ import annotations

from typing import Any, Dict, List


def fmt(value: Any, unit: str = "") -> str:
    """Engineering-style number: 3 significant digits with an SI prefix for seconds, joules, bytes."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        return value
    if unit in ("s", "J", "B", "ops/s", "B/s"):
        if value == 0:
            return f"0 {unit}"
        for factor, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "k"), (1, ""), (1e-3, "m"), (1e-6, "µ"), (1e-9, "n"),
                               (1e-12, "p")):
            if abs(value) >= factor or factor == 1e-12:
                return f"{value / factor:.3g} {prefix}{unit}"
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer() and abs(value) < 1e15):
        return f"{int(value):,}"
    return f"{value:.3g}"


def _table(header: List[str], rows: List[List[Any]]) -> List[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines + [""]


def _totals(d: Dict[str, Any]) -> List[str]:
    t, dev = d["totals"], d["device"]["resources"]
    rows = [["latency", f"{fmt(t['latency_cycles'])} cycles", fmt(t["latency_s"], "s")],
            ["interval (II)", f"{fmt(t['interval_cycles'])} cycles", fmt(t["interval_s"], "s")],
            ["throughput", fmt(t["throughput_per_s"]) + " inferences/s", fmt(t["gops"] * 1e9, "ops/s")],
            ["MACs (dense / executed)", fmt(t["macs"]), fmt(t["macs_executed"])],
            ["DRAM read / written", fmt(t["dram_read_bytes"], "B"), fmt(t["dram_write_bytes"], "B")]]
    energy = [[k, fmt(t[f"energy_{k}_j"], "J"), f"{100 * t[f'energy_{k}_j'] / t['energy_j']:.1f}%" if t["energy_j"] else "-"]
              for k in ("dram", "onchip", "compute", "io", "static", "board")] + [["total", fmt(t["energy_j"], "J"), "100%"]]
    res = [[k.upper(), fmt(round(t[k])), fmt(dev[k]), f"{100 * t[f'{k}_util']:.1f}%"] for k in ("dsp", "bram", "lut", "ff")]
    fits = "fits the device" if t["fits"] else f"does NOT fit the device ({', '.join(t['over'])} over budget)"
    return (["## Totals", ""] + _table(["quantity", "value", ""], rows) + ["## Energy per inference", ""] +
            _table(["part", "energy", "share"], energy) + [f"## Resources ({fits})", ""] +
            _table(["resource", "estimate", f"available ({dev['bram_kind']} for BRAM)", "utilisation"], res))


def _layers(d: Dict[str, Any]) -> List[str]:
    shared = d["template"]["template"] == "tiled"          # one engine: resources are in the totals only
    rows = []
    for r in d["layers"]:
        if r["cycles"] <= 0 and not r["weights"]:
            continue
        detail = r["detail"]
        extra = (f"RF {detail['reuse_factor']}, {detail['multipliers']} mult" if "reuse_factor" in detail else
                 ("T=" + "/".join(str(v) for v in detail["tiles"].values()) + f", util {detail['mac_utilisation']:.0%}"
                  if "tiles" in detail else ""))
        rows.append([r["name"], r["op"], "x".join(map(str, r["out_shape"])), fmt(r["macs"]), fmt(round(r["cycles"])),
                     fmt(r["dram_read_bytes"] + r["dram_write_bytes"], "B"), fmt(r["intensity_ops_per_byte"]),
                     r["bound"], "-" if shared else fmt(round(r["dsp"])), "-" if shared else fmt(round(r["bram"])),
                     fmt(r["energy_j"]["total"], "J"), extra])
    return ["## Layers", ""] + _table(["layer", "op", "output", "MACs", "cycles", "DRAM", "ops/B", "bound", "DSP",
                                       "BRAM", "energy", "detail"], rows)


def _constants(d: Dict[str, Any]) -> List[str]:
    rows = [[k, q["value"], q["unit"], q["confidence"], q["source"]] for k, q in d["constants"].items()]
    return ["## Device constants used", "",
            "Confidence: V verified (primary source), V2 secondary source, D derived, M unverified, "
            "fit fitted to the named published result.", ""] + _table(["constant", "value", "unit", "conf.", "source"], rows)


def report_markdown(d: Dict[str, Any]) -> str:
    m, dev, tpl = d["model"], d["device"], d["template"]
    setup = ", ".join(f"{k} {v}" for k, v in tpl.items() if not isinstance(v, dict) and v is not None)
    lines = [f"# Simulation: {m['name']} on {dev['name']} ({dev['board']}), template `{tpl['template']}`", "",
             f"- model: `{m['source']}`, input {'x'.join(map(str, m['input_shape']))}, {m['layers']} layers, "
             f"{fmt(m['weights'])} weights ({fmt(m['nonzero_weights'])} nonzero), {fmt(m['macs'])} MACs",
             f"- device: {dev['part']}, DRAM {dev['dram']['type']} {dev['dram']['peak_gbps']} GB/s peak "
             f"x {dev['dram']['efficiency']} efficiency, {dev['dram']['pj_per_bit']} pJ/bit",
             f"- mapping: {setup}"]
    if "design" in tpl:
        u = tpl["design"]["unroll"]
        lines.append(f"- design: Pof x Pif x Pox x Poy = {u['Pof']} x {u['Pif']} x {u['Pox']} x {u['Poy']} "
                     f"({tpl['design']['mac_units']} MAC units, {tpl['design']['family']})")
    lines += [""] + [f"> {n}" for n in d["notes"]] + [""]
    lines += [f"**Warning:** {w}" for w in d["warnings"]] + ([""] if d["warnings"] else [])
    return "\n".join(lines + _totals(d) + _layers(d) + _constants(d))
