"""``--reuse-factor auto`` against the alternatives a user has: the best uniform power-of-two reuse factor
that fits (a grid over RF x strategy, with the same schedule-sized FIFOs) and hls4ml's default
configuration (RF 1, Latency, FIFOs as deep as their streams), per model and device, at hls4ml's default
precision and at 8-bit weights; and how long the search takes.

    python benchmarks/fit_search.py [--models lenet5,jet_mlp,resnet20,resnet110] [--repeats 3]
        (-> benchmarks/results/fit_search.json, keeping earlier results of other models; a Markdown table)

A design counts as fitting when the full estimate uses at most ``MAX_UTIL`` of every resource and no
Latency-strategy layer has more than the unroll limit's 4,096 weights (Vivado HLS stops unrolling its
product loop there, whatever the reuse factor). "auto at
least as good" means: it fits wherever the grid or the default fits, and its interval is not longer.
"""
from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np

from codesign.sim import Mapping, hls_rules, load_device, resolve_plan, zoo_network
from codesign.sim.dataflow import dataflow_costs
from codesign.sim.estimate import hardware_network
from codesign.sim.folding import _with_fifo, choose_folding

from common import median, save

MODELS = ("lenet5", "jet_mlp", "resnet20", "resnet110")
DEVICES = ("xc7z020", "xczu9eg", "xcu250")
PRECISIONS = ("ap_fixed<16,6>", "ap_fixed<8,3>/ap_fixed<16,6>")
MAX_UTIL = 0.8
RESOURCES = ("dsp", "lut", "ff", "bram")


def _util(costs, device):
    return {k: costs.total(k) / getattr(device, k) for k in RESOURCES}


def _buildable(net, plan, device) -> bool:
    """No Latency-strategy layer above the unroll limit: its product loop is unrolled whatever the reuse
    factor, and Vivado HLS stops there (hls4ml issue 1013), so such a design is not counted as fitting."""
    return not bool(hls_rules.latency_over_limit(net, plan, device.calibration["dataflow.unroll_limit"]).any())


def _row(costs, device, net=None, plan=None):
    util = _util(costs, device)
    ok = net is None or _buildable(net, plan, device)
    return {"interval": float(costs.interval_cycles), "latency": float(costs.latency_cycles),
            "fits": max(util.values()) <= MAX_UTIL and ok, "buildable": ok, "util": util}


def grid(net, device, mapping):
    """Every uniform power-of-two RF under each strategy (FIFOs sized from the schedule as auto's are):
    the best that fits (shortest interval, then latency), and how many were tried."""
    biggest = int(max((l.n_in * l.n_out for l in net.layers if l.op in ("conv", "dense")), default=1))
    best, tried = None, 0
    for strategy in ("Latency", "Resource"):
        rf = 1
        while rf <= biggest:
            m = mapping.with_(reuse_factor=rf, strategy=strategy,                  # as codesign's export writes it
                              pipeline_style=hls_rules.pipeline_style_for([(rf, strategy)]))
            plan = resolve_plan(net, m, device)
            if plan.io_stream:
                plan, _, _ = _with_fifo(plan, net, device)
            row = _row(dataflow_costs(net, device, m, plan), device, net, plan)
            tried += 1
            if row["fits"] and (best is None or (row["interval"], row["latency"]) < (best["interval"], best["latency"])):
                best = {**row, "reuse_factor": rf, "strategy": strategy}
            rf *= 2
    return best, tried


def case(net, device, precision, repeats):
    """auto, the grid and hls4ml's default, each estimated on the network as the estimate builds it
    (under io_stream with hls4ml's zero-padding layers)."""
    mapping = Mapping(precision=precision)
    times, folding = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        folding = choose_folding(net, device, mapping, MAX_UTIL)
        times.append(time.perf_counter() - t0)
    hw = hardware_network(net, mapping)
    auto = _row(dataflow_costs(hw, device, folding.mapping(mapping, net)), device)
    auto.update(search_s=median(times), rounds=folding.rounds, evaluations=folding.evaluations,
                strategies=sorted(set(folding.strategy)), limit=folding.limit)
    best, tried = grid(hw, device, mapping)
    hls4ml = mapping.with_(reuse_factor=1, strategy="Latency")
    default = _row(dataflow_costs(hw, device, hls4ml), device, hw, resolve_plan(hw, hls4ml, device))
    return {"auto": auto, "grid": best, "grid_points": tried, "default": default}


def at_least_as_good(r) -> bool:
    a, g, d = r["auto"], r["grid"], r["default"]
    for other in (g, d):
        if other is not None and other["fits"] and (not a["fits"] or a["interval"] > other["interval"]):
            return False
    return True


def _fmt(row):
    if row is None:
        return "none fits"
    text = f"{row['interval']:,.0f}"
    return text if row["fits"] else f"{text} (does not fit)"


def table(results) -> str:
    lines = ["| model | device | precision | auto interval | grid best (RF, strategy) | hls4ml default | "
             "auto vs grid | search |", "|---|---|---|---|---|---|---|---|"]
    for r in results:
        a, g = r["auto"], r["grid"]
        speedup = f"{g['interval'] / a['interval']:.2f}x" if g and a["fits"] else ("fits, grid does not"
                                                                                   if a["fits"] else "-")
        grid_text = f"{_fmt(g)} (RF {g['reuse_factor']}, {g['strategy']})" if g else "none fits"
        lines.append(f"| {r['model']} | {r['device']} | {r['precision']} | {_fmt(a)} | {grid_text} | "
                     f"{_fmt(r['default'])} | {speedup} | {a['search_s']:.2f} s |")
    return "\n".join(lines)


def _merged(results):
    """Earlier results of the models not re-run here are kept (a model per run fits a busy machine)."""
    import json

    from common import RESULTS

    path = RESULTS / "fit_search.json"
    done = {(r["model"], r["device"], r["precision"]) for r in results}
    old = json.loads(path.read_text())["results"] if path.exists() else []
    keep = [r for r in old if (r["model"], r["device"], r["precision"]) not in done]
    order = {m: i for i, m in enumerate(MODELS)}
    return sorted(keep + results, key=lambda r: (order.get(r["model"], 99), r["device"], r["precision"]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--devices", default=",".join(DEVICES))
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    import codesign.export  # noqa: F401  (one-time imports outside the timed search)

    results = []
    for name in args.models.split(","):
        t0 = time.perf_counter()
        net = zoo_network(name)
        trace_s = time.perf_counter() - t0
        for dev_name in args.devices.split(","):
            device = load_device(dev_name)
            for precision in PRECISIONS:
                r = case(net, device, precision, args.repeats)
                r.update(model=name, device=dev_name, precision=precision, layers=len(net), trace_s=trace_s)
                r["auto_at_least_as_good"] = at_least_as_good(r)
                results.append(r)
                print(f"{name} {dev_name} {precision}: auto {_fmt(r['auto'])} in {r['auto']['search_s']:.2f} s, "
                      f"grid {_fmt(r['grid'])}, default {_fmt(r['default'])}", flush=True)
    results = _merged(results)
    ok = all(r["auto_at_least_as_good"] for r in results)
    search = [r["auto"]["search_s"] for r in results]
    payload = {"max_util": MAX_UTIL, "results": results, "auto_at_least_as_good": ok,
               "search_seconds_max": max(search), "search_seconds_median": float(np.median(search))}
    print(table(results))
    print(f"auto at least as good everywhere: {ok}; search time median {np.median(search):.2f} s, "
          f"max {max(search):.2f} s")
    print("saved", save("fit_search", payload))


if __name__ == "__main__":
    main()
