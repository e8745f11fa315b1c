"""Markdown rendering of a simulator report (works on ``Report.to_dict()`` or a saved report.json), laid out
like hls4ml's synthesis report: the design's verdict first, then totals against the device, the
comparison with the dense model, and one row per layer with its settings, timing and resources."""
from __future__ import annotations

import re
from collections import Counter
from typing import Any, Dict, List, Sequence

from .util_limit import UtilLimit

RESOURCES = ("dsp", "lut", "ff", "bram")
_SI = ((1e9, "G"), (1e6, "M"), (1e3, "k"), (1, ""), (1e-3, "m"), (1e-6, "µ"), (1e-9, "n"), (1e-12, "p"))


def fmt(value: Any, unit: str = "") -> str:
    """Engineering-style number: 3 significant digits with an SI prefix for seconds, joules, bytes."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        return value
    if unit in ("s", "J", "B", "ops/s", "B/s", "/s"):
        if value == 0:
            return f"0 {unit}"
        for factor, prefix in _SI:
            if abs(value) >= factor or factor == 1e-12:
                return f"{value / factor:.3g} {prefix}{unit}"
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer() and abs(value) < 1e15):
        return f"{int(value):,}"
    return f"{value:.3g}"


def count(value: Any) -> str:
    """A count for a table: exact below 10,000, else 3 significant digits with k / M / G."""
    if value is None:
        return "-"
    v = float(value)
    if abs(v) < 1e4:
        return f"{round(v):,}"
    for factor, prefix in _SI[:3]:
        if abs(v) >= factor:
            return f"{v / factor:.3g} {prefix}"
    return f"{v:.3g}"


def compact_names(names: Sequence[str], show: int = 4) -> str:
    """Many layer names in one short phrase: the count, the first few, and the name patterns with how
    many layers each covers (digits as ``*``), e.g. ``72 layers: conv1, layers.0.0.conv1, ... (layers.*.*.conv1 x36, ...)``."""
    names = list(names)
    if len(names) <= show + 1:
        return ", ".join(names)
    pattern_of = {n: re.sub(r"\d+", "*", n) for n in names}
    patterns = Counter(pattern_of.values())
    example = {p: n for n, p in pattern_of.items()}
    shown = ", ".join(f"{p} x{c}" if c > 1 else example[p] for p, c in patterns.most_common(4))
    more = f", {len(patterns) - 4} more patterns" if len(patterns) > 4 else ""
    return f"{len(names)} layers: {', '.join(names[:show])}, ... ({shown}{more})"


def _table(header: List[str], rows: List[List[Any]]) -> List[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines + [""]


def misfit(totals: Dict[str, Any]) -> str:
    """Why a design does not fit, in a few words: 'lut over', 'HLS refuses fc1', or both."""
    why = [f"{', '.join(totals['over'])} over"] if totals.get("over") else []
    if totals.get("refused"):
        why.append(f"HLS refuses {', '.join(totals['refused'])}")
    return "; ".join(why)


def verdict(d: Dict[str, Any]) -> str:
    """One line: fits or not, at which utilisation, against which margin."""
    t = d["totals"]
    util = ", ".join(f"{k.upper()} {100 * t[f'{k}_util']:.0f}%" for k in RESOURCES)
    folding = d.get("folding")
    limit = UtilLimit.of(folding["max_util"]) if folding else None
    margin = "" if limit is None else f" (limit {100 * limit.common:.0f}% of each)" if limit.uniform else \
        f" (limit {limit.describe()})"
    if t.get("refused"):
        return (f"does NOT fit: HLS refuses {', '.join(t['refused'])} (the Latency strategy over the unroll limit, "
                f"see the warning); {util}{margin}" + (f"; over in {', '.join(t['over'])}" if t["over"] else ""))
    if not t["fits"]:
        return f"does NOT fit the device: {util}{margin}; over in {', '.join(t['over'])}"
    if folding and not folding["fits"]:
        what = f"{100 * limit.common:.0f}% margin" if limit.uniform else f"margin of {limit.describe()}"
        return f"fits the device but not the {what}: {util}"
    return f"fits the device: {util}{margin}"


def _design(d: Dict[str, Any]) -> List[str]:
    t = d["totals"]
    lines = ["## Design", "", f"**{verdict(d)}**", "",
             f"- interval {fmt(t['interval_cycles'])} cycles ({fmt(t['interval_s'], 's')}, "
             f"{fmt(t['throughput_per_s'], '/s')} inferences), latency {fmt(t['latency_cycles'])} cycles "
             f"({fmt(t['latency_s'], 's')})"]
    folding = d.get("folding")
    if folding:
        strategies = Counter(v["strategy"] for v in folding["layers"].values())
        lines.append(f"- reuse factor and strategy chosen per layer (`--reuse-factor auto`, `--max-util "
                     f"{UtilLimit.of(folding['max_util']).text()}`): {', '.join(f'{n} {s}' for s, n in strategies.items())} layers; "
                     f"{folding['limit']}; search {folding['search_seconds']:.2f} s")
        if folding.get("fifo_streams"):
            depths = folding["fifo_streams"].values()
            lines.append(f"- io_stream FIFO depths from the dataflow schedule: {len(depths)} streams, "
                         f"{count(sum(depths))} words in all (largest {max(depths):,})")
    return lines + [""]


def _totals(d: Dict[str, Any]) -> List[str]:
    t, dev = d["totals"], d["device"]["resources"]
    rows = [["latency", f"{fmt(t['latency_cycles'])} cycles", fmt(t["latency_s"], "s")],
            ["interval (II)", f"{fmt(t['interval_cycles'])} cycles", fmt(t["interval_s"], "s")],
            ["throughput", fmt(t["throughput_per_s"], "/s") + " inferences", fmt(t["gops"] * 1e9, "ops/s")],
            ["MACs (dense / executed)", count(t["macs"]), count(t["macs_executed"])],
            ["DRAM read / written", fmt(t["dram_read_bytes"], "B"), fmt(t["dram_write_bytes"], "B")]]
    energy = [[k, fmt(t[f"energy_{k}_j"], "J"), f"{100 * t[f'energy_{k}_j'] / t['energy_j']:.1f}%" if t["energy_j"] else "-"]
              for k in ("dram", "onchip", "compute", "io", "static", "board")] + [["total", fmt(t["energy_j"], "J"), "100%"]]
    res = [[k.upper(), count(t[k]), count(dev[k]), f"{100 * t[f'{k}_util']:.1f}%"] for k in ("dsp", "bram", "lut", "ff")]
    fits = "fits the device" if t["fits"] else f"does NOT fit the device ({', '.join(t['over'])} over budget)"
    return (["## Totals", ""] + _table(["quantity", "value", ""], rows) + ["## Energy per inference", ""] +
            _table(["part", "energy", "share"], energy) + [f"## Resources ({fits})", ""] +
            _table(["resource", "estimate", f"available ({dev['bram_kind']} for BRAM)", "utilisation"], res))


def _dense(d: Dict[str, Any]) -> List[str]:
    dense = d.get("dense")
    if not dense:
        return []
    t, o = d["totals"], dense["totals"]

    def ratio(a, b):
        return f"{a / b:.2f}x" if b else "-"

    rows = [["weights (nonzero)", count(t["nonzero_weights"]), count(o["nonzero_weights"]),
             ratio(t["nonzero_weights"], o["nonzero_weights"])],
            ["MACs", count(t["macs"]), count(o["macs"]), ratio(t["macs"], o["macs"])],
            ["latency", fmt(t["latency_s"], "s"), fmt(o["latency_s"], "s"), ratio(t["latency_s"], o["latency_s"])],
            ["interval", fmt(t["interval_s"], "s"), fmt(o["interval_s"], "s"), ratio(t["interval_s"], o["interval_s"])],
            ["energy", fmt(t["energy_j"], "J"), fmt(o["energy_j"], "J"), ratio(t["energy_j"], o["energy_j"])]]
    rows += [[k.upper(), count(t[k]), count(o[k]), ratio(t[k], o[k])] for k in RESOURCES]
    rows.append(["fits", fmt(t["fits"]), fmt(o["fits"]), ""])
    return ([f"## Compared with the dense model ({dense['model']})", "", dense.get("note", ""), ""] +
            _table(["quantity", "this model", "dense", "ratio"], rows))


def _precision(detail: Dict[str, Any]) -> str:
    w, r = detail.get("weight_bits"), detail.get("result_bits")
    return f"{w}/{r}" if w is not None and r is not None else (str(r) if r is not None else "-")


def _layers(d: Dict[str, Any]) -> List[str]:
    if d["template"]["template"] == "tiled":
        return _tiled_layers(d)
    clock = d["template"]["clock_mhz"] * 1e6
    rows = []
    for r in d["layers"]:
        if r["cycles"] <= 0 and not r["weights"]:
            continue
        x = r["detail"]
        rf = x.get("reuse_factor") if r["op"] in ("conv", "dense", "bn") else None
        rows.append([r["name"], r["op"], "x".join(map(str, r["out_shape"])), count(r["macs"]),
                     fmt(rf), x.get("strategy", "-"), _precision(x), fmt(x.get("fifo_depth")),
                     count(r["cycles"]), fmt(r["cycles"] / clock, "s"), count(r["interval_cycles"]),
                     *(count(r[k]) for k in RESOURCES)])
    header = ["layer", "op", "output", "MACs", "RF", "strategy", "bits w/r", "FIFO", "latency", "", "II",
              "DSP", "LUT", "FF", "BRAM"]
    return ["## Layers", "", "latency: the layer's own pass (cycles, time); II: its initiation interval; "
            "bits: weight/result widths; FIFO: words of its output stream (io_stream).", ""] + _table(header, rows)


def _tiled_layers(d: Dict[str, Any]) -> List[str]:
    rows = []
    for r in d["layers"]:
        if r["cycles"] <= 0 and not r["weights"]:
            continue
        x = r["detail"]
        extra = ("T=" + "/".join(str(v) for v in x["tiles"].values()) + f", util {x['mac_utilisation']:.0%}"
                 if "tiles" in x else "")
        rows.append([r["name"], r["op"], "x".join(map(str, r["out_shape"])), count(r["macs"]), count(r["cycles"]),
                     fmt(r["dram_read_bytes"] + r["dram_write_bytes"], "B"), fmt(r["intensity_ops_per_byte"]),
                     r["bound"], fmt(r["energy_j"]["total"], "J"), extra])
    return ["## Layers", ""] + _table(["layer", "op", "output", "MACs", "cycles", "DRAM", "ops/B", "bound",
                                       "energy", "detail"], rows)


def _way_command(way: Dict[str, Any]) -> str:
    """The ready-to-run command the CLI built, else the options that make the way (an export's report is
    written before its command line is known)."""
    if way.get("command"):
        return f"`{way['command']}`"
    if not way.get("changes"):
        return str(way.get("hint", ""))
    return "`" + " ".join(f"{k} {v}" for k, v in way["changes"].items()) + "`"


def _ways_out(d: Dict[str, Any]) -> List[str]:
    ways = d.get("ways_out")
    if ways is None:
        return []
    if not ways:
        return ["## Ways out", "", "None of the ways out tried (a smaller width, a lower precision, a larger "
                "part, the tiled template) fits either.", ""]
    rows = [[w["way"], _way_command(w), fmt(w["interval_s"], "s"), fmt(w["latency_s"], "s"),
             ", ".join(f"{k.upper()} {100 * w['utilisation'][k]:.0f}%" for k in RESOURCES if k in w["utilisation"])]
            for w in ways]
    return ["## Ways out (each estimated to fit)", ""] + _table(["way", "command", "interval", "latency",
                                                                 "utilisation"], rows)


def _fixed_point(d: Dict[str, Any]) -> List[str]:
    """A training run's check of how the design answers at its precision (the ``fixed_point`` section)."""
    f = d.get("fixed_point")
    if not f:
        return []
    lines = ["## Fixed-point arithmetic", ""]
    if f["below_target"]:
        where = f"; the results of {', '.join(f['overflows'])} leave their type's range" if f["overflows"] else ""
        lines += [f"**Warning: the top-1 agreement with the float model, {f['agreement']:.4f}, is clearly below the "
                  f"export's target {f['target_agreement']:g}{where}: this design answers otherwise than the trained "
                  f"model, however well it fits.**", ""]
    acc = "" if f["accuracy"] is None else f"; accuracy {f['accuracy']:.4f} (float {f['float_accuracy']:.4f})"
    lines += [f"- precision {f['precision']}, the export's emulation of hls4ml's arithmetic ({f['emulation']})",
              f"- top-1 agreement with the float model {f['agreement']:.4f} on {f['samples']:,} held-out test samples "
              f"(the export's target: {f['target_agreement']:g}){acc}", ""]
    return lines


def _constants(d: Dict[str, Any]) -> List[str]:
    rows = [[k, q["value"], q["unit"], q["confidence"], q["source"]] for k, q in d["constants"].items()]
    return ["## Device constants used", "",
            "Confidence: V verified (primary source), V2 secondary source, D derived, M unverified, "
            "fit fitted to the named published result.", ""] + _table(["constant", "value", "unit", "conf.", "source"], rows)


def report_markdown(d: Dict[str, Any]) -> str:
    m, dev, tpl = d["model"], d["device"], d["template"]
    shown = {**tpl, **({"reuse_factor": "auto (per layer)", "strategy": "auto (per layer)"} if "folding" in d else {})}
    setup = ", ".join(f"{k} {v}" for k, v in shown.items() if not isinstance(v, (dict, list)) and v is not None)
    lines = [f"# Simulation: {m['name']} on {dev['name']} ({dev['board']}), template `{tpl['template']}`", "",
             f"- model: `{m['source']}`, input {'x'.join(map(str, m['input_shape']))}, {m['layers']} layers, "
             f"{count(m['weights'])} weights ({count(m['nonzero_weights'])} nonzero), {count(m['macs'])} MACs",
             f"- device: {dev['part']}, DRAM {dev['dram']['type']} {dev['dram']['peak_gbps']} GB/s peak "
             f"x {dev['dram']['efficiency']} efficiency, {dev['dram']['pj_per_bit']} pJ/bit",
             f"- mapping: {setup}"]
    if "design" in tpl:
        u = tpl["design"]["unroll"]
        lines.append(f"- design: Pof x Pif x Pox x Poy = {u['Pof']} x {u['Pif']} x {u['Pox']} x {u['Poy']} "
                     f"({tpl['design']['mac_units']} MAC units, {tpl['design']['family']})")
    lines += [""] + [f"> {n}" for n in d["notes"]] + [""]
    lines += [f"**Warning:** {w}" for w in d["warnings"]] + ([""] if d["warnings"] else [])
    return "\n".join(lines + _design(d) + _fixed_point(d) + _ways_out(d) + _totals(d) + _dense(d) + _layers(d)
                     + _constants(d))
