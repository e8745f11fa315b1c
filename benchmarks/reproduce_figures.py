"""One PNG per table of `reproduce.py` (matplotlib, Agg backend). Rows that did not run are left out."""
from __future__ import annotations

import statistics
from pathlib import Path
from typing import Dict, List, Sequence

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from reproduce_plan import PAPER, STATE_OF_THE_ART, TARGETS, Experiment  # noqa: E402
from reproduce_tables import (INC_ROWS, MODEL_NAMES, cnn_mean, finished, records_of,  # noqa: E402
                              train_metrics)


def _save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def mnist_figure(exps: Sequence[Experiment], records: Dict[str, dict], path: Path) -> Path:
    models = list(dict.fromkeys(e.model for e in exps))
    fig, axes = plt.subplots(1, len(models), figsize=(6 * len(models), 6), squeeze=False)
    for ax, model in zip(axes[0], models):
        for i, exp in enumerate(e for e in exps if e.model == model):
            ms = [train_metrics(r) for r in finished(records_of(exp, records))]
            color = f"C{i % 10}"
            if ms:
                xs, ys = [m["compression"] for m in ms], [m["error"] for m in ms]
                yerr = statistics.stdev(ys) if len(ys) > 1 else 0
                ax.errorbar(statistics.mean(xs), statistics.mean(ys), yerr=yerr, fmt="o", color=color,
                            label=f"{exp.method} (ours)", capsize=3)
            paper = PAPER.get((model, exp.method), {})
            if "error" in paper:
                ax.plot(paper.get("compression", 1.0), paper["error"], marker="s", mfc="none", color=color,
                        ls="none", label=f"{exp.method} (paper)")
            elif "compression" in paper:      # the paper's error is not in its retrieved text
                ax.axvline(paper["compression"], color=color, ls=":", lw=1.2,
                           label=f"{exp.method} (paper: {paper['compression']:g}×, error n/r)")
        if model in STATE_OF_THE_ART:
            sx, serr, who = STATE_OF_THE_ART[model]
            ax.plot(sx, serr, marker="*", ms=10, color="black", ls="none", label=f"{who} (state of the art)")
        want_x, want_err = TARGETS[model]
        ax.axvline(want_x, color="grey", ls="--", lw=0.8)
        ax.axhline(want_err, color="grey", ls="--", lw=0.8, label=f"target ≥{want_x:g}× at ≤{want_err:g}%")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
        ax.yaxis.set_minor_formatter(matplotlib.ticker.ScalarFormatter())
        ax.set(title=f"{MODEL_NAMES[model]} on MNIST", xlabel="compression × (dense params / nonzeros)",
               ylabel="test error %")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.14))
    return _save(fig, path)


def incremental_figure(exp: Experiment, records: Dict[str, dict], path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(7, 4))
    recs = finished(records_of(exp, records))
    if recs:
        rep = recs[0]["report"]
        rows = [(n, rep["update"] if n == "update" else rep["comparators"].get(n)) for n, _ in INC_ROWS]
        rows = [(n, r) for n, r in rows if r is not None]
        bars = ax.bar([n for n, _ in rows], [r["train_flops_sparse"] for _, r in rows],
                      color=["C2"] + ["C0"] * (len(rows) - 1))
        for bar, (_, r) in zip(bars, rows):
            ax.annotate(f"{100 * r['test_acc']:.2f}%", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                        ha="center", va="bottom", fontsize=8)
    ax.set_yscale("log")
    ax.set(title=f"Incremental update, {MODEL_NAMES[exp.model]} on MNIST (labels: test accuracy)",
           ylabel="training FLOPs (sparse)")
    return _save(fig, path)


def cnn_figure(exps: Sequence[Experiment], records: Dict[str, dict], path: Path) -> Path:
    models = list(dict.fromkeys(e.model for e in exps))
    fig, axes = plt.subplots(1, len(models), figsize=(6 * len(models), 4), squeeze=False)
    keys = ("params", "flops", "train_flops", "wall")
    for ax, model in zip(axes[0], models):
        done = [(e, finished(records_of(e, records))) for e in exps if e.model == model]
        rows = [(e.method, cnn_mean(recs)) for e, recs in done if recs]
        dense = next((m for name, m in rows if name == "dense"), None)
        if dense:
            for i, (name, m) in enumerate(rows):
                xs = [j + 0.25 * i for j in range(len(keys))]
                ax.bar(xs, [100 * m[k] / dense[k] for k in keys], width=0.25, label=f"{name} ({m['acc']:.2f}%)")
            ax.set_xticks([j + 0.25 for j in range(len(keys))], ["params", "FLOPs", "train FLOPs", "train wall"])
        ax.set(title=f"{MODEL_NAMES[model]}, Fashion-MNIST (legend: mean test acc)", ylabel="% of dense")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    return _save(fig, path)


def resnet110_figure(exp: Experiment, records: Dict[str, dict], path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(9, 4))
    recs = finished(records_of(exp, records))
    if recs:
        sim = recs[0]["sim"]
        pub = sim["published"]
        labels: List[str] = ["paper"] + [f"{r['structure'][:14]}\n{r['dram_layout']}, {r['hardware'][:8]}"
                                         for r in sim["rows"]]
        lat = [pub["latency"]] + [r["latency"] for r in sim["rows"]]
        dram = [pub["dram_energy"]] + [r["dram_energy"] for r in sim["rows"]]
        xs = range(len(labels))
        ax.bar([x - 0.2 for x in xs], [100 * v for v in lat], width=0.4, label="latency reduction")
        ax.bar([x + 0.2 for x in xs], [100 * v for v in dram], width=0.4, label="DRAM energy reduction")
        ax.set_xticks(list(xs), labels, fontsize=6)
        ax.legend(fontsize=8)
    ax.set(title="ResNet-110 (CIFAR-10 shapes), CGaP-like pruning: simulator vs paper", ylabel="% reduction")
    return _save(fig, path)
