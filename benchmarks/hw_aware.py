"""Training for the device vs training first and fitting after, on real MNIST.

LeNet-5 and LeNet-300-100 for the PYNQ-Z2 (xc7z020) and the ZCU102 (xczu9eg) at three latency
budgets each (the dense model's latency at three network-wide reuse factors under the Latency
strategy, +5%: tight enough that the dense model does not meet them within the utilisation), max
utilisation 0.8, ap_fixed<16,6>, strategy ``--strategy`` (default auto: each layer's Latency or
Resource strategy chosen with its reuse factor, as ``codesign export --reuse-factor auto`` does):

  (a) hardware-aware: CGaP, NeST, NPN and structured magnitude pruning (from the dense model, to the
      budget instead of to half the units) trained with the budget (``codesign train --fit``);
  (b) the same methods without the budget, then auto-fitted (the export's per-layer folding,
      ``--reuse-factor auto`` with the same strategy, which is also what the budget checks);
  (c) dense training and structured magnitude pruning (half the units), then auto-fitted.

Every design is folded by one rule (``--reuse-factor auto --max-latency-us``): a budget is met when the
fastest folding within the utilisation meets the latency bound (what training decides on), and the design
is then the least resources within the bound (:mod:`codesign.sim.folding_bound`), whose DSP and LUT
counts the Pareto comparison reads (``dominance`` in the JSON, ``<name>_pareto.png``).

``--match`` then trains every (a) method (of ``--methods``) again within the DSPs and LUTs of each (b)/(c)
design that no (a) design covers (at least as accurate with no more DSPs and LUTs), as per-resource shares
(``--max-util 0.8,DSP=d,LUT=l``) at the same latency bound: the resource-matched comparison. Resources are
counted in whole units, rounded up (:func:`whole`), and a design that misses the budget matched to it is
flagged (a warning, and ``matched_budget_met_by_its_design`` on the rows).

Every run has the same schedule (``--epochs`` on the first ``--train-limit`` training digits). A
run that misses a budget counts as missing it: its accuracy does not enter the comparison there.
Each run is cached in ``--runs`` (a killed benchmark resumes: finished runs are read back,
unfinished ones resume from their last epoch checkpoint).

    codesign data fetch mnist
    nice -n 19 python benchmarks/hw_aware.py [--models lenet5 lenet300_100] [--epochs 4] [--seed 0]
        → results/hw_aware.json, results/hw_aware.png, results/hw_aware_pareto.png (and the tables of
          BENCHMARKS.md on stdout)
"""
from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import torch

from codesign.checkpoint import load_model
from codesign.config import load_recipe
from codesign.methods.budget import BudgetSpec, HardwareBudget
from codesign.rundir import RunDir
from codesign.train import fit

from common import RESULTS, save

RECIPES = {"lenet5": "lenet5_mnist", "lenet300_100": "lenet300_100_mnist"}
IO_TYPE = {"lenet5": "io_stream", "lenet300_100": "io_parallel"}
DEVICES = {"xc7z020": "PYNQ-Z2", "xczu9eg": "ZCU102"}
# network-wide reuse factors at which the dense model's latency (+5%) sets the three budgets; chosen so
# that the budgets bind on the grown-and-pruned models under the per-layer folding (with it, LeNet-5's
# earlier 256/128/64 and 32/16/8 were met by the dense model on the ZCU102 and by magnitude pruning)
BUDGET_RF = {("lenet5", "xc7z020"): (8, 4, 2), ("lenet5", "xczu9eg"): (4, 2, 1),
             ("lenet300_100", "xc7z020"): (256, 64, 16), ("lenet300_100", "xczu9eg"): (16, 8, 4)}
MAX_UTIL = 0.8
RESOURCES = ("dsp", "lut", "ff", "bram")
PRECISION = "ap_fixed<16,6>"
MAGNITUDE = {"structure": "structured", "target_density": 0.5, "iterations": 2, "scope": "global"}
AWARE = ("cgap", "nest", "npn")          # trained with the budget in (a), without it in (b)
# (a) also prunes the dense model to the budget (structured magnitude pruning priced by the budget); its
# unbudgeted twin is (c) magnitude
TRAINED_FOR_DEVICE = AWARE + ("magnitude",)
PARAMS = {"magnitude": MAGNITUDE}
MATCHED_LABEL = "(a) within the DSPs and LUTs of a (b)/(c) design (--match)"


def budgets(model: str, device: str) -> list[float]:
    """The three latency budgets (us) of a model on a device, from its dense network."""
    from codesign.zoo import create_model

    from codesign.sim import estimate

    b = HardwareBudget(BudgetSpec(device, io_type=IO_TYPE[model], precision=PRECISION), (1, 28, 28))
    net = b.network(create_model(model, 1.0, (1, 28, 28), 10))
    return [round(estimate(net, b.device, b.base.with_(reuse_factor=rf, strategy="Latency")).totals["latency_s"] * 1e6 * 1.05, 4)
            for rf in BUDGET_RF[(model, device)]]


def parse_budget_rf(items: list) -> None:
    """--budget-rf MODEL:DEVICE=R1,R2,R3 (repeatable): other reuse factors for the budgets of that pair."""
    for item in items:
        pair, rfs = item.split("=")
        model, device = pair.split(":")
        BUDGET_RF[(model, device)] = tuple(int(r) for r in rfs.split(","))


def recipe(model: str, method: str, params: dict, args, budget=None, max_util=MAX_UTIL):
    overrides = {"method.name": method, "method.params": params, "train.epochs": args.epochs,
                 "data.train_limit": args.train_limit, "data.test_limit": args.test_limit, "train.threads": 1,
                 "train.seed": args.seed,
                 "target.precision": PRECISION, "target.io_type": IO_TYPE[model], "target.strategy": args.strategy}
    if budget is not None:
        device, latency = budget
        params = {k: v for k, v in params.items() if k != "target_density"}   # the budget decides how far
        overrides["method.params"] = params                                  # magnitude prunes (given: refused)
        overrides.update({"target.fit": True, "target.device": device, "target.max_latency_us": latency,
                          "target.max_util": max_util})
    return load_recipe(RECIPES[model], overrides)


def run(name: str, cfg, runs: Path, log) -> dict:
    """Train (or read back, or resume) one run; its summary and final model file."""
    rd = RunDir(runs / name)
    if rd.cost.exists() and rd.trained_model.exists():
        return {"summary": json.loads(rd.cost.read_text()), "model_file": str(rd.trained_model)}
    t0 = time.perf_counter()
    result = fit(cfg, rd.root, resume=rd.checkpoint.exists(), overwrite=True,
                 events=lambda kind, p: log(f"  {name}: {p['text']}") if kind == "message" else None)
    log(f"{name}: test acc {result.summary['test_acc']:.4f} in {time.perf_counter() - t0:.0f} s")
    return {"summary": result.summary, "model_file": str(rd.trained_model)}


def auto_fit(model_file: str, model: str, device: str, latency: float, strategy: str, max_util=MAX_UTIL) -> dict:
    """The budget's check of a trained model: met or missed (decided by the fastest folding, as in training),
    and the design: the least resources within the latency bound (``--reuse-factor auto --max-latency-us``),
    with its DSP and LUT counts."""
    net_model, _ = load_model(model_file)
    b = HardwareBudget(BudgetSpec(device, latency, max_util, strategy, IO_TYPE[model], PRECISION), (1, 28, 28))
    check = b.check(net_model)
    out = check.summary()
    for k in RESOURCES:
        out[f"budget_{k}"] = whole(check.design_util[k] * getattr(b.device, k))
        out[f"budget_fastest_{k}"] = whole(check.util[k] * getattr(b.device, k))
    return out


def whole(count: float) -> int:
    """A resource count in whole DSPs, LUTs, ... (the estimate's fraction rounded up): what a design uses, what
    a resource-matched budget allows and what the dominance compares. (Counts rounded to a tenth made the
    budget matched to a design a hair tighter than that design's own use where it rounded down: seeds 1 and
    2 of LeNet-5 on the ZCU102, whose (c) magnitude design then missed its own matched budget by up to 10%.)"""
    return int(math.ceil(count - 1e-6))


def count(r: dict, resource: str) -> int:
    """A row's design's ``resource`` in whole units (files written before :func:`whole` hold tenths)."""
    return whole(r[f"budget_{resource}"])


def row(model, device, latency, approach, method, made, fitted) -> dict:
    s = made["summary"]
    return {"model": model, "device": device, "budget_us": latency, "approach": approach, "method": method,
            "test_acc": s["test_acc"], "params": s["params"], **{k: v for k, v in fitted.items() if k != "budget"}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(RECIPES))
    parser.add_argument("--devices", nargs="+", default=list(DEVICES))
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--train-limit", type=int, default=8000)
    parser.add_argument("--test-limit", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--strategy", default="auto", help="the budget's and the fit's strategy: auto, Latency or Resource")
    parser.add_argument("--only-budget", type=int, nargs="*", default=None, metavar="I",
                        help="only these budgets of each device (0: the loosest, 2: the tightest)")
    parser.add_argument("--budget-rf", nargs="*", default=[], metavar="MODEL:DEVICE=R1,R2,R3")
    parser.add_argument("--methods", nargs="+", default=None, metavar="METHOD",
                        help="only these methods (of cgap, nest, npn, magnitude, dense), in every approach that "
                             "has them: e.g. --methods nest for (a) and (b) NeST alone, to compare two versions")
    parser.add_argument("--runs", type=Path, default=Path("runs/hw_aware"))
    parser.add_argument("--name", default="hw_aware")
    parser.add_argument("--summarise", nargs="+", default=None, metavar="RESULT",
                        help="only summarise earlier results (names under results/, e.g. one per seed) into "
                             "results/<--name>.json: mean ± sd of each method's accuracy over the runs that meet "
                             "each budget, and per seed who meets it")
    parser.add_argument("--match", action="store_true",
                        help="resource-matched (a): read results/<--name>.json and train every (a) method of its "
                             "--methods again "
                             "for each (b)/(c) design that meets a budget and that no (a) design covers, with that "
                             "design's DSP and LUT counts as the budget's shares of them (--max-util "
                             "0.8,DSP=d,LUT=l) at the same latency bound and with the file's schedule (epochs, "
                             "limits, seed, strategy); the rows are added to the file")
    args = parser.parse_args()
    if args.match:
        return match_resources(args)
    if args.summarise:
        summary = seed_summary(args.summarise)
        save(args.name, summary)
        print(seed_table(summary))
        print(json.dumps(summary["best_a_vs_others"], indent=1))
        print(cover_table(summary))
        for name in args.summarise:
            rows = json.loads((RESULTS / f"{name}.json").read_text())["rows"]
            if any(r.get("matched") for r in rows):
                print(f"\n{name}:\n" + matched_table(rows))
        return
    parse_budget_rf(args.budget_rf)
    torch.set_num_threads(1)
    args.runs = args.runs / f"seed{args.seed}"
    log = lambda text: print(text, flush=True)     # noqa: E731  (a script, not the library)
    rows = []
    wanted = lambda method: args.methods is None or method in args.methods     # noqa: E731
    for model in args.models:
        plain = {method: run(f"{model}_{method}", recipe(model, method, PARAMS.get(method, {}), args), args.runs, log)
                 for method in ("dense", "magnitude") + AWARE if wanted(method)}
        for device in args.devices:
            for i, latency in enumerate(budgets(model, device)):
                if args.only_budget is not None and i not in args.only_budget:
                    continue
                for method, made in plain.items():
                    approach = "b" if method in AWARE else "c"
                    fitted = auto_fit(made["model_file"], model, device, latency, args.strategy)
                    rows.append(row(model, device, latency, approach, method, made, fitted))
                for method in filter(wanted, TRAINED_FOR_DEVICE):
                    made = run(f"{model}_{method}_{device}_{latency:g}us",
                               recipe(model, method, PARAMS.get(method, {}), args, (device, latency)), args.runs, log)
                    fitted = auto_fit(made["model_file"], model, device, latency, args.strategy)
                    fitted["trained_budget_met"] = made["summary"].get("budget_met")   # the run's own verdict
                    rows.append(row(model, device, latency, "a", method, made, fitted))
                runs = f"{args.runs.parent.name}/{args.runs.name}"
                save(args.name, {"settings": vars(args) | {"runs": runs}, "rows": rows,
                                 "margins": margins(rows), "dominance": dominance(rows)})
    save(args.name, {"settings": vars(args) | {"runs": f"{args.runs.parent.name}/{args.runs.name}"}, "rows": rows,
                     "margins": margins(rows), "dominance": dominance(rows)})
    plot(rows, RESULTS / f"{args.name}.png")
    plot_pareto(rows, RESULTS / f"{args.name}_pareto.png")
    log(json.dumps(margins(rows), indent=1))
    log(tables(rows))
    log(dominance_table(rows))


def matched_shares(other: dict) -> dict:
    """``--max-util`` with another design's DSP and LUT counts as the shares of them (the rest at MAX_UTIL)."""
    from codesign.sim import load_device

    device = load_device(other["device"])
    return {"all": MAX_UTIL, "DSP": max(count(other, "dsp"), 1) / device.dsp,
            "LUT": max(count(other, "lut"), 1) / device.lut}


def match_resources(args) -> None:
    """``--match`` (see its help): the (a) methods trained within the resources of each design the (a) front
    does not cover; each new row is an (a) design of its budget, named ``<method>@<the design>``."""
    torch.set_num_threads(1)
    data = json.loads((RESULTS / f"{args.name}.json").read_text())
    for key in ("epochs", "train_limit", "test_limit", "seed", "strategy", "methods"):   # the file's runs
        setattr(args, key, data["settings"].get(key))
    args.runs = args.runs / f"seed{args.seed}"
    log = lambda text: print(text, flush=True)     # noqa: E731  (a script, not the library)
    rows = [r for r in data["rows"] if not r.get("matched")]
    for gap in front_cover(rows)["uncovered"]:
        other = next(r for r in rows if (r["model"], r["device"], r["budget_us"]) == (
            gap["model"], gap["device"], gap["budget_us"]) and f"({r['approach']}) {r['method']}" == gap["run"])
        model, device, latency = other["model"], other["device"], other["budget_us"]
        shares = matched_shares(other)
        tag = f"{other['approach']}_{other['method']}"
        # the budget is carved from that design: its own model must meet it, or (a) trains within less
        own = auto_fit(str(RunDir(args.runs / f"{model}_{other['method']}").trained_model), model, device, latency,
                       args.strategy, shares)["budget_met"]
        if not own:
            log(f"WARNING: {gap['run']} at {latency:g} us misses the budget matched to its own design")
        for method in (m for m in TRAINED_FOR_DEVICE if args.methods is None or m in args.methods):
            name = f"{model}_{method}_{device}_{latency:g}us_match_{tag}"
            made = run(name, recipe(model, method, PARAMS.get(method, {}), args, (device, latency), shares),
                       args.runs, log)
            fitted = auto_fit(made["model_file"], model, device, latency, args.strategy, shares)
            fitted["trained_budget_met"] = made["summary"].get("budget_met")
            rows.append(row(model, device, latency, "a", f"{method}@{gap['run']}", made, fitted)
                        | {"matched": gap["run"], "matched_budget_met_by_its_design": own})
            save(args.name, data | {"rows": rows, "margins": margins(rows), "dominance": dominance(rows)})
    data |= {"rows": rows, "margins": margins(rows), "dominance": dominance(rows)}
    save(args.name, data)
    plot_pareto(rows, RESULTS / f"{args.name}_pareto.png")
    log(matched_table(rows))
    log(json.dumps(front_cover(rows), indent=1))


def matched_table(rows) -> str:
    """Markdown: each design the (a) front did not cover, and the (a) runs trained within its DSPs and LUTs:
    accuracy (DSP, LUT) or missed."""
    lines = ["| model | device | budget | design not covered: acc (DSP, LUT) | "
             + " | ".join(f"(a) {m} within its DSP and LUT" for m in TRAINED_FOR_DEVICE) + " |",
             "|---" * (4 + len(TRAINED_FOR_DEVICE)) + "|"]
    for key in sorted({(r["model"], r["device"], r["budget_us"], r["matched"]) for r in rows if r.get("matched")}):
        model, device, budget, other = key
        q = next(r for r in rows if (r["model"], r["device"], r["budget_us"]) == key[:3] and not r.get("matched")
                 and f"({r['approach']}) {r['method']}" == other)
        cells = []
        for m in TRAINED_FOR_DEVICE:
            p = next((r for r in rows if (r["model"], r["device"], r["budget_us"], r.get("matched")) == key
                      and r["method"] == f"{m}@{other}"), None)
            cells.append("—" if p is None else f"{p['test_acc']:.4f} ({p['budget_dsp']:,.0f}, {p['budget_lut']:,.0f})"
                         + ("" if p["budget_met"] else " missed") + (f" **{100 * (p['test_acc'] - q['test_acc']):+.2f} pp**"
                                                                     if p["budget_met"] else ""))
        lines.append(f"| {model} | {DEVICES.get(device, device)} | {budget:.3g} µs | {other} {q['test_acc']:.4f} "
                     f"({q['budget_dsp']:,.0f}, {q['budget_lut']:,.0f}) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def margins(rows) -> list:
    """Per budget: the best accuracy of (a) among runs that meet it vs the best of (b) and of (c)."""
    out = []
    for key in sorted({(r["model"], r["device"], r["budget_us"]) for r in rows}):
        here = [r for r in rows if (r["model"], r["device"], r["budget_us"]) == key]
        best = {}
        for approach in "abc":
            met = [r for r in here if r["approach"] == approach and r["budget_met"]]
            best[approach] = max(met, key=lambda r: r["test_acc"]) if met else None
        entry = {"model": key[0], "device": key[1], "budget_us": key[2]}
        for approach, r in best.items():
            entry[approach] = None if r is None else {"method": r["method"], "test_acc": r["test_acc"],
                                                      "util_max": r["budget_util_max"],
                                                      "latency_us": r["budget_latency_us"]}
        out.append(entry)
    return out


def tables(rows) -> str:
    """BENCHMARKS.md's tables: per model, one row per budget, test accuracy (largest utilisation, latency)."""
    columns = [("a", m) for m in TRAINED_FOR_DEVICE] + [("b", m) for m in AWARE] + [("c", "dense"), ("c", "magnitude")]
    out = []
    for model in sorted({r["model"] for r in rows}, reverse=True):
        out += ["", f"{model}:", "", "| device | budget | " + " | ".join(f"({a}) {m}" for a, m in columns) + " |",
                "|---" * (len(columns) + 2) + "|"]
        keys = sorted({(r["device"], r["budget_us"]) for r in rows if r["model"] == model}, key=lambda k: (k[0], -k[1]))
        for device, budget in keys:
            here = {(r["approach"], r["method"]): r for r in rows
                    if (r["model"], r["device"], r["budget_us"]) == (model, device, budget)}
            best = max((r["test_acc"] for (a, _), r in here.items() if a == "a" and r["budget_met"]
                        and not r.get("matched")), default=None)
            cells = []
            for key in columns:
                r = here.get(key)
                if r is None:
                    cells.append("")
                    continue
                acc = f"{r['test_acc']:.3f}"
                if key[0] == "a" and r["budget_met"] and r["test_acc"] == best:
                    acc = f"**{acc}**"
                how = f"{r['budget_util_max']:.2f}, {r['budget_latency_us']:.3g} µs"
                cells.append(f"{acc} ({how})" if r["budget_met"] else f"{acc} (missed, {how})")
            out.append(f"| {DEVICES.get(device, device)} | {budget:.3g} µs | " + " | ".join(cells) + " |")
    return "\n".join(out)


def plot(rows, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = sorted({(r["model"], r["device"]) for r in rows})
    fig, axes = plt.subplots(1, len(keys), figsize=(4.2 * len(keys), 3.8), squeeze=False)
    style = {"a": ("tab:red", "o", "(a) trained for the device"), "b": ("tab:blue", "s", "(b) grow/prune, then fitted"),
             "c": ("tab:gray", "^", "(c) dense/magnitude, then fitted")}
    for ax, (model, device) in zip(axes[0], keys):
        for approach, (color, marker, label) in style.items():
            sel = [r for r in rows if (r["model"], r["device"], r["approach"]) == (model, device, approach)]
            met = [r for r in sel if r["budget_met"]]
            missed = [r for r in sel if not r["budget_met"]]
            ax.scatter([r["budget_us"] for r in met], [r["test_acc"] for r in met], color=color, marker=marker,
                       label=label, s=28)
            ax.scatter([r["budget_us"] for r in missed], [r["test_acc"] for r in missed], facecolors="none",
                       edgecolors=color, marker=marker, s=28)
        ax.set_xscale("log")
        ax.set_title(f"{model} on {DEVICES.get(device, device)}", fontsize=9)
        ax.set_xlabel("latency budget (us)")
        ax.grid(True, alpha=0.3)
    axes[0][0].set_ylabel("test accuracy (hollow: budget missed)")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def seed_summary(names: list) -> dict:
    """Per budget and (approach, method): test accuracies of the runs that meet it across the result files
    ``names`` (one per seed), their mean and standard deviation; the best (a) mean vs the best (b)/(c) mean."""
    import statistics

    every = [dict(r, source=n) for n in names for r in json.loads((RESULTS / f"{n}.json").read_text())["rows"]]
    rows = [r for r in every if not r.get("matched")]     # the same runs in every seed; matched ones in front_cover
    out = []
    for key in sorted({(r["model"], r["device"], r["budget_us"]) for r in rows}):
        here = [r for r in rows if (r["model"], r["device"], r["budget_us"]) == key]
        cells = {}
        for approach, method in sorted({(r["approach"], r["method"]) for r in here}):
            runs = [r for r in here if (r["approach"], r["method"]) == (approach, method)]
            met = [r["test_acc"] for r in runs if r["budget_met"]]
            cells[f"({approach}) {method}"] = {
                "runs": len(runs), "met": len(met), "acc": met,
                "mean": statistics.mean(met) if met else None,
                "sd": statistics.stdev(met) if len(met) > 1 else None}
        best = {a: max(((c["mean"], k) for k, c in cells.items() if k.startswith(f"({a})") and c["met"]
                        == c["runs"] and c["mean"] is not None), default=None) for a in "abc"}
        out.append({"model": key[0], "device": key[1], "budget_us": key[2], "cells": cells,
                    "best_met_every_seed": {a: None if b is None else {"method": b[1], "mean": b[0]}
                                            for a, b in best.items()}})
    verdicts = {}
    for n in names:
        data = json.loads((RESULTS / f"{n}.json").read_text())
        for e in data.get("dominance") or dominance(data["rows"]):
            for resource, d in e["resources"].items():
                for v in d["best_a_vs"]:
                    verdict = ("(a) dominates" if v["best_a_dominates"] else "(a) dominated"
                               if v["other_dominates_best_a"] else "neither")
                    counts = verdicts.setdefault(n, {}).setdefault(resource, {})
                    counts[verdict] = counts.get(verdict, 0) + 1
    fronts = {n: front_cover([r for r in every if r["source"] == n]) for n in names}
    before = {n: front_cover([r for r in rows if r["source"] == n]) for n in names}
    return {"sources": names, "budgets": out, "best_a_vs_others": verdicts, "front_cover": fronts,
            "front_cover_without_matched": before,
            "matched": [r for r in every if r.get("matched")]}


def cover_table(summary: dict) -> str:
    """Markdown: per result file, how many (b)/(c) designs that meet a budget the (a) front covers (only by
    an identical design), before and after the resource-matched runs, and which stay uncovered."""
    lines = ["| results | (b)/(c) designs that meet a budget | covered without --match (only by an identical "
             "design) | covered with --match (only by an identical design) | not covered |", "|---|---|---|---|---|"]
    for name in summary["sources"]:
        before, after = summary["front_cover_without_matched"][name], summary["front_cover"][name]
        total = before["covered"] + len(before["uncovered"])
        left = "; ".join(f"{u['model']} {DEVICES.get(u['device'], u['device'])} {u['budget_us']:.3g} µs {u['run']} "
                         f"{u['test_acc']:.4f} (" + (f"most accurate (a): {u['best_a'][4:]} {u['best_a_acc']:.4f})" if u["best_a"]
                                                     else "no (a) design meets it)")
                         for u in after["uncovered"]) or "—"
        lines.append(f"| {name} | {total} | {before['covered']} ({before['covered_only_by_an_equal_design']}) | "
                     f"{after['covered']} ({after['covered_only_by_an_equal_design']}) | {left} |")
    return "\n".join(lines)


def seed_table(summary: dict) -> str:
    """Markdown: per budget, each method's mean ± sd (met/runs), and the margins of the best (a) met by
    every seed over the best (b)/(c) met by every seed."""
    columns = ([f"(a) {m}" for m in TRAINED_FOR_DEVICE] + [f"(b) {m}" for m in AWARE]
               + ["(c) dense", "(c) magnitude"])
    lines = ["| model | device | budget | " + " | ".join(columns) + " | (a) − (b) | (a) − (c) |",
             "|---" * (len(columns) + 5) + "|"]
    for e in summary["budgets"]:
        cells = []
        for c in columns:
            x = e["cells"].get(c)
            if x is None or not x["met"]:
                cells.append("—" if x is None else f"(0/{x['runs']})")
                continue
            sd = f" ± {x['sd']:.3f}" if x["sd"] is not None else ""
            cells.append(f"{x['mean']:.3f}{sd} ({x['met']}/{x['runs']})")
        best = e["best_met_every_seed"]
        margin = [f"{100 * (best['a']['mean'] - best[o]['mean']):+.2f} pp" if best["a"] and best[o] else "—"
                  for o in "bc"]
        lines.append(f"| {e['model']} | {DEVICES.get(e['device'], e['device'])} | {e['budget_us']:.3g} µs | "
                     + " | ".join(cells) + f" | {margin[0]} | {margin[1]} |")
    return "\n".join(lines)


def _dominates(p: dict, q: dict, resource: str) -> bool:
    """``p`` is at least as accurate with no more of ``resource`` than ``q``, and better in one."""
    a, b = (p["test_acc"], -count(p, resource)), (q["test_acc"], -count(q, resource))
    return a[0] >= b[0] and a[1] >= b[1] and a != b


def dominance(rows) -> list:
    """Per budget, on accuracy vs DSP and vs LUT (designs: the least resources within the latency bound),
    among the runs that meet it: the best (a) (most accurate) against every (b)/(c) run, with the margins;
    which runs of each approach are Pareto-dominated and by which."""
    out = []
    for key in sorted({(r["model"], r["device"], r["budget_us"]) for r in rows}):
        met = [r for r in rows if (r["model"], r["device"], r["budget_us"]) == key and r["budget_met"]]
        entry = {"model": key[0], "device": key[1], "budget_us": key[2], "met": {
            a: sorted(r["method"] for r in met if r["approach"] == a) for a in "abc"}, "resources": {}}
        aware = [r for r in met if r["approach"] == "a"]
        best = max(aware, key=lambda r: r["test_acc"]) if aware else None
        for resource in ("dsp", "lut"):
            here = {}
            for r in met:
                by = [f"({q['approach']}) {q['method']}" for q in met if q is not r and _dominates(q, r, resource)]
                here[f"({r['approach']}) {r['method']}"] = {"test_acc": r["test_acc"], resource: r[f"budget_{resource}"],
                                                            "dominated_by": by}
            vs = []
            if best is not None:
                for r in met:
                    if r["approach"] == "a":
                        continue
                    vs.append({"other": f"({r['approach']}) {r['method']}",
                               "acc_pp": round(100 * (best["test_acc"] - r["test_acc"]), 2),
                               f"{resource}_ratio": round(best[f"budget_{resource}"] / max(r[f"budget_{resource}"], 1e-9), 3),
                               "best_a_dominates": _dominates(best, r, resource),
                               "other_dominates_best_a": _dominates(r, best, resource)})
            entry["resources"][resource] = {"points": here, "best_a": None if best is None else
                                            f"(a) {best['method']}", "best_a_vs": vs}
        out.append(entry)
    return out


def front_cover(rows) -> dict:
    """Does the (a) front dominate? Per budget, each (b)/(c) run that meets it is *covered* when some (a) run
    that meets it is at least as accurate with no more DSPs and no more LUTs (weakly: an identical run covers
    it; ``covered_only_by_an_equal_design`` counts those), else *uncovered*, listed with the most accurate
    (a) run beside it."""
    covered, same, uncovered = 0, 0, []
    for key in sorted({(r["model"], r["device"], r["budget_us"]) for r in rows}):
        met = [r for r in rows if (r["model"], r["device"], r["budget_us"]) == key and r["budget_met"]]
        aware = [r for r in met if r["approach"] == "a"]
        for q in (r for r in met if r["approach"] != "a"):
            covers = [p for p in aware if p["test_acc"] >= q["test_acc"]
                      and all(count(p, k) <= count(q, k) for k in ("dsp", "lut"))]
            if covers:
                covered += 1
                same += all(p["test_acc"] == q["test_acc"] and all(count(p, k) == count(q, k)
                                                                    for k in ("dsp", "lut")) for p in covers)
                continue
            best = max(aware, key=lambda r: r["test_acc"], default=None)     # None: no (a) design meets it
            uncovered.append({"model": key[0], "device": key[1], "budget_us": key[2],
                              "run": f"({q['approach']}) {q['method']}", "test_acc": q["test_acc"],
                              "dsp": q["budget_dsp"], "lut": q["budget_lut"],
                              "best_a": best and f"(a) {best['method']}", "best_a_acc": best and best["test_acc"],
                              "best_a_dsp": best and best["budget_dsp"], "best_a_lut": best and best["budget_lut"]})
    return {"covered": covered, "covered_only_by_an_equal_design": same, "uncovered": uncovered}


def dominance_table(rows) -> str:
    """One line per budget and resource: who meets it, the best (a) vs each (b)/(c) that meets it."""
    lines = ["", "| model | device | budget | resource | best (a): acc, count | vs (b)/(c) that meet it: Δacc pp, "
             "resource ratio (a)/(other), verdict | (b)/(c) runs dominated by an (a) run | (a) runs dominated by a (b)/(c) run |",
             "|---|---|---|---|---|---|---|---|"]
    for e in dominance(rows):
        for resource, d in e["resources"].items():
            pts = d["points"]
            best = d["best_a"]
            head = "—" if best is None else f"{best[4:]} {pts[best]['test_acc']:.3f}, {pts[best][resource]:,.0f}"
            vs = "; ".join(f"{v['other']}: {v['acc_pp']:+.2f} pp, ×{v[f'{resource}_ratio']:.2f}, "
                           + ("(a) dominates" if v["best_a_dominates"] else
                              "(a) dominated" if v["other_dominates_best_a"] else "neither")
                           for v in d["best_a_vs"]) or "none meets it"
            beaten = [f"{n} by {', '.join(q for q in p['dominated_by'] if not q.startswith('(a)'))}"
                      for n, p in pts.items() if n.startswith("(a)")
                      and any(not q.startswith("(a)") for q in p["dominated_by"])]
            beats = [f"{n} by {', '.join(q for q in p['dominated_by'] if q.startswith('(a)'))}"
                     for n, p in pts.items() if not n.startswith("(a)")
                     and any(q.startswith("(a)") for q in p["dominated_by"])]
            lines.append(f"| {e['model']} | {DEVICES.get(e['device'], e['device'])} | {e['budget_us']:.3g} µs | "
                         f"{resource.upper()} | {head} | {vs} | {'; '.join(beats) or '—'} | {'; '.join(beaten) or '—'} |")
    return "\n".join(lines)


def plot_pareto(rows, path: Path) -> None:
    """Accuracy vs DSP and vs LUT of every run that meets its budget (designs: the least resources within
    the latency bound), one panel per model, device and resource; marker size grows with the budget, labels
    give the method and the budget (us)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = sorted({(r["model"], r["device"]) for r in rows})
    fig, axes = plt.subplots(2, len(keys), figsize=(4.2 * len(keys), 7.2), squeeze=False)
    style = {"a": ("tab:red", "o", "(a) trained for the device"), "b": ("tab:blue", "s", "(b) grow/prune, then fitted"),
             "c": ("tab:gray", "^", "(c) dense/magnitude, then fitted")}
    for col, (model, device) in enumerate(keys):
        budgets_here = sorted({r["budget_us"] for r in rows if (r["model"], r["device"]) == (model, device)})
        size = {b: 18 + 30 * i for i, b in enumerate(budgets_here)}
        for row_i, resource in enumerate(("dsp", "lut")):
            ax = axes[row_i][col]
            for approach in ("b", "c", "a"):                   # (a) on top: (a) and (b) CGaP are often one run
                color, marker, label = style[approach]
                every = [r for r in rows if (r["model"], r["device"], r["approach"]) == (model, device, approach)
                         and r["budget_met"]]
                hollow = approach == "a"
                for matched in (False, True):          # (a) within another design's DSPs and LUTs: diamonds
                    sel = [r for r in every if bool(r.get("matched")) == matched]
                    if not sel:
                        continue
                    ax.scatter([r[f"budget_{resource}"] for r in sel], [r["test_acc"] for r in sel],
                               facecolors="none" if hollow else color, edgecolors=color, linewidths=1.2,
                               marker="D" if matched else marker, s=[size[r["budget_us"]] for r in sel], alpha=0.8,
                               label=(MATCHED_LABEL if matched else label) if row_i == 0 else None)
                sel = every
                for r in sel:
                    ax.annotate(f"{r['method'][:3]} {r['budget_us']:.3g}", (r[f"budget_{resource}"], r["test_acc"]),
                                fontsize=5, alpha=0.7, color=color)
            ax.ticklabel_format(axis="x", style="sci", scilimits=(-3, 4))
            ax.set_title(f"{model} on {DEVICES.get(device, device)}", fontsize=9)
            ax.set_xlabel(f"{resource.upper()} (least within the latency bound)")
            ax.grid(True, alpha=0.3)
        axes[0][col].set_ylabel("test accuracy (runs that meet the budget)")
        axes[1][col].set_ylabel("test accuracy (runs that meet the budget)")
    handles = {}
    for ax in axes[0]:
        for h, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, h)
    axes[0][0].legend(list(handles.values()), list(handles), fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
