"""Terminal tables of a design estimate (``codesign simulate`` and the export's estimate): the verdict, the
per-layer settings and costs, the totals against the device, the dense comparison and the ways out."""
from __future__ import annotations

import shlex
from typing import Any, Dict, Iterable, List, Optional, Sequence

from rich.table import Table

from ..sim.markdown import RESOURCES, compact_names, count, fmt, misfit, verdict
from .console import console, err_console

MAX_ROWS = 60


def layer_table(data: Dict[str, Any], all_layers: bool) -> Table:
    """One row per layer with work (or every layer): settings, timing and resources."""
    tiled = data["template"]["template"] == "tiled"
    clock = data["template"]["clock_mhz"] * 1e6
    rows = [r for r in data["layers"] if all_layers or r["cycles"] > 0 or r["weights"]]
    shown = rows if all_layers or len(rows) <= MAX_ROWS else rows[:MAX_ROWS]
    more = "" if len(shown) == len(rows) else f"; first {len(shown)} of {len(rows)}, all in report.md"
    table = Table(title="layers" + ("" if all_layers else f" (with work{more}; --all-layers shows every layer)"),
                  header_style="bold")
    if tiled:
        columns = ("layer", "op", "MACs", "cycles", "DRAM", "bound", "util", "tiles")
    else:
        columns = ("layer", "op", "RF", "str.", "bits", "FIFO", "latency", "II", "DSP", "LUT", "FF", "BRAM")
    for col in columns:
        table.add_column(col, justify="left" if col in ("layer", "op", "bound", "tiles", "str.") else "right",
                         overflow="fold")
    for r in shown:
        d = r["detail"]
        if tiled:
            util = f"{d['mac_utilisation']:.0%}" if "tiles" in d else ""
            tiles = "/".join(str(v) for v in d["tiles"].values()) if "tiles" in d else ""
            table.add_row(r["name"], r["op"], count(r["macs"]), count(r["cycles"]),
                          fmt(r["dram_read_bytes"] + r["dram_write_bytes"], "B"), r["bound"], util, tiles)
            continue
        weighted = r["op"] in ("conv", "dense")
        bits = f"{d['weight_bits']}/{d['result_bits']}" if "weight_bits" in d else fmt(d.get("result_bits"))
        table.add_row(r["name"], r["op"], fmt(d.get("reuse_factor")) if weighted else "", d.get("strategy", "")[:3],
                      bits, fmt(d.get("fifo_depth")), fmt(r["cycles"] / clock, "s"), count(r["interval_cycles"]),
                      *(count(r[k]) for k in RESOURCES))
    return table


def summary_table(data: Dict[str, Any]) -> Table:
    t, res = data["totals"], data["device"]["resources"]
    dense = data.get("dense")
    table = Table(title=f"{data['model']['name']} on {data['device']['name']} ({data['template']['template']})",
                  show_header=dense is not None)
    table.add_column("quantity")
    table.add_column("value", justify="right")
    if dense:
        table.add_column(f"dense ({dense['model']})", justify="right")
    o = dense["totals"] if dense else None

    def row(name: str, value, other=None):
        table.add_row(name, value, *([other] if dense else []))

    row("latency", f"{fmt(t['latency_s'], 's')} ({count(t['latency_cycles'])} cycles)",
        o and f"{fmt(o['latency_s'], 's')} ({count(o['latency_cycles'])} cycles)")
    row("interval / throughput", f"{fmt(t['interval_s'], 's')} / {fmt(t['throughput_per_s'], '/s')}",
        o and f"{fmt(o['interval_s'], 's')} / {fmt(o['throughput_per_s'], '/s')}")
    if t["dram_read_bytes"] or t["dram_write_bytes"]:
        row("DRAM read / written", f"{fmt(t['dram_read_bytes'], 'B')} / {fmt(t['dram_write_bytes'], 'B')}")
    row("energy per inference", fmt(t["energy_j"], "J"), o and fmt(o["energy_j"], "J"))
    row("  DRAM / on-chip", f"{fmt(t['energy_dram_j'], 'J')} / {fmt(t['energy_onchip_j'], 'J')}")
    row("  compute / I/O", f"{fmt(t['energy_compute_j'], 'J')} / {fmt(t['energy_io_j'], 'J')}")
    row("  static / board", f"{fmt(t['energy_static_j'], 'J')} / {fmt(t['energy_board_j'], 'J')}")
    for k in ("dsp", "bram", "lut", "ff"):
        row(k.upper(), f"{count(t[k])} of {count(res[k])} ({100 * t[f'{k}_util']:.1f}%)",
            o and f"{count(o[k])} ({100 * o[f'{k}_util']:.1f}%)")
    row("fits the device", "yes" if t["fits"] else f"NO ({misfit(t)})",
        o and ("yes" if o["fits"] else "NO"))
    return table


def print_design(data: Dict[str, Any], all_layers: bool = False) -> None:
    """Layer table, totals, the verdict with the folding's reason, notes and compact warnings."""
    console.print(layer_table(data, all_layers))
    console.print(summary_table(data))
    for line in design_lines(data):
        console.print(line, markup=False, highlight=False)
    for note in data["notes"]:
        console.print(f"note: {note}", markup=False, highlight=False)
    for warning in data["warnings"]:
        err_console.print(f"warning: {warning}", markup=False, highlight=False)


def design_lines(data: Dict[str, Any]) -> List[str]:
    t = data["totals"]
    lines = [f"design: {verdict(data)}; interval {count(t['interval_cycles'])} cycles ({fmt(t['interval_s'], 's')}), "
             f"latency {count(t['latency_cycles'])} cycles ({fmt(t['latency_s'], 's')})"]
    folding = data.get("folding")
    if folding:
        by = {}
        for name, v in folding["layers"].items():
            by.setdefault(f"RF {v['reuse_factor']} {v['strategy']}", []).append(name)
        common = sorted(by.items(), key=lambda kv: -len(kv[1]))[:4]
        lines.append(f"reuse factors (auto, {len(folding['layers'])} layers, searched in {folding['search_seconds']:.2f} s): "
                     + "; ".join(f"{k}: {compact_names(v, 2)}" for k, v in common)
                     + ("; ..." if len(by) > 4 else ""))
        lines.append(f"why this interval: {folding['limit']}" if folding.get("objective", "fastest") == "fastest"
                     else f"why this folding: {folding['limit']}")
        lines += [str(note) for note in folding.get("notes", [])]
    return lines


def invocation(ctx) -> List[str]:
    """The running command (``ctx``: its typer Context) as a command line: ``codesign <command>`` and every
    option not at its default."""
    out = ["codesign", ctx.info_name or ""]
    for p in ctx.command.params:
        value = ctx.params.get(p.name)
        if getattr(p, "param_type_name", "") != "option" or value is None or value == p.default:
            continue
        if getattr(p, "is_flag", False):
            flag = p.opts[0] if value else (p.secondary_opts[0] if p.secondary_opts else None)
            out += [flag] if flag else []
        elif isinstance(value, (list, tuple)):          # a repeatable option: once per value
            for item in value:
                out += [p.opts[0], str(item)]
        else:
            out += [p.opts[0], str(value)]
    return out


def ready_command(argv: Sequence[str], changes: Dict[str, str], drop: Iterable[str] = (),
                  drop_flags: Iterable[str] = ()) -> str:
    """``argv`` (a command line, program first) with ``changes`` applied: an option's value replaced, or the
    option added; options in ``drop`` removed with their value, flags in ``drop_flags`` removed."""
    drop, drop_flags = set(drop), set(drop_flags)
    out: List[str] = []
    seen = set()
    args = list(argv)
    i = 0
    while i < len(args):
        a = args[i]
        key = a.split("=", 1)[0]
        takes = 0 if "=" in a else 1
        if key in drop_flags:
            i += 1
        elif key in drop:
            i += 1 + takes
        elif key in changes:
            out += [key, changes[key]]
            seen.add(key)
            i += 1 + takes
        else:
            out.append(a)
            i += 1
    for key, value in changes.items():
        if key not in seen:
            out += [key, value]
    return " ".join(shlex.quote(x) for x in out)


def way_command(way: Dict[str, Any], argv: Sequence[str], ignore: Iterable[str] = ()) -> Optional[str]:
    """The ready-to-run line of a way out (:mod:`codesign.sim.ways_out`): ``argv`` with the way's changes
    (options in ``ignore`` left out), without --out and --force; a narrower zoo model is named by --model, so
    --checkpoint goes. None when no option makes the way for this model (its ``hint`` says how)."""
    from .options import DATAFLOW_ONLY_OPTIONS

    changes = {k: v for k, v in way["changes"].items() if k not in set(ignore)}
    if not changes:
        return None
    drop = ["--out"] + (["--checkpoint"] if "--width" in changes else []) + \
        (list(DATAFLOW_ONLY_OPTIONS) if changes.get("--template") == "tiled" else [])
    return ready_command(argv, changes, drop, ["--force"])


def print_ways_out(ways: List[Dict[str, Any]]) -> None:
    """Each way out with its estimate, then its ready-to-run command on a line of its own."""
    if not ways:
        console.print("ways out: none of a smaller width, a lower precision, a larger part or the tiled template "
                      "fits either", markup=False)
        return
    console.print("ways out (each estimated to fit):", markup=False)
    for w in ways:
        util = ", ".join(f"{k.upper()} {100 * v:.0f}%" for k, v in w["utilisation"].items())
        console.print(f"  {w['way']}: interval {fmt(w['interval_s'], 's')}, latency {fmt(w['latency_s'], 's')}, "
                      f"{util}", markup=False, highlight=False)
        line = w.get("command") or w.get("hint")
        if line:
            console.print(f"    {line}", markup=False, highlight=False, soft_wrap=bool(w.get("command")))
