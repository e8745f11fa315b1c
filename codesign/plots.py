"""Plots (matplotlib lives only here): the simulator's roofline, and a sweep's Pareto fronts and
density-vs-latency curves. Every figure is written atomically."""
from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple

from . import atomic

OP_MARKERS = {"conv": "o", "dense": "s", "maxpool": "v", "avgpool": "v", "globalpool": "^", "add": "D", "mul": "D"}


def _figure(size=(7.5, 5)):
    """A (figure, axes) pair drawn by Agg, without pyplot: no global figure state to close, and the
    import is a good part cheaper (pyplot loads the interactive machinery)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size)
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def _save(fig, path: str | Path, tight: bool = True) -> None:
    """PNG at 130 dpi; ``tight`` fits the margins to the labels (a second full draw: the roofline, drawn by
    every `codesign simulate`, has fixed margins instead)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=130, **({"bbox_inches": "tight"} if tight else {}))
    atomic.write_bytes(path, buf.getvalue())


def roofline_plot(report: Dict[str, Any], path: str | Path) -> Path:
    """Roofline of a simulator report (``Report.to_dict()``): compute roof, DRAM-bandwidth roof and every
    layer with work at (ops per DRAM byte, achieved GOP/s). The dataflow template moves no DRAM bytes;
    its layers are placed at ops per byte of on-chip stream traffic (activations in + out) instead, under
    two roofs: the design's (its multipliers) and the device's (every DSP); the title says whether it fits."""
    roof = report["roofline"]
    peak, bw = roof["peak_gops"], roof["bandwidth_gbps"]
    dataflow = bw == 0
    act_bytes = report["template"].get("act_bits", 16) / 8.0 if dataflow else None
    points = []
    for row in report["layers"]:
        if not row["gops"] or row["ops"] <= 0:
            continue
        x = row["intensity_ops_per_byte"]
        if x is None:
            traffic = (_elements(row["in_shape"]) + _elements(row["out_shape"])) * act_bytes if act_bytes else 0
            x = row["ops"] / traffic if traffic else None
        if x:
            points.append((x, row["gops"], row["op"], row["bound"]))
    fig, ax = _figure()
    fig.subplots_adjust(left=0.11, right=0.97, bottom=0.11, top=0.92)
    xs = [p[0] for p in points] or [1.0]
    lo, hi = min(xs + [peak / bw if bw else 1.0]) / 4, max(xs + [peak / bw if bw else 1.0]) * 4
    grid = [lo * (hi / lo) ** (i / 200) for i in range(201)]
    device_peak = roof.get("device_peak_gops")
    design = "design's compute roof" if dataflow else "compute roof"
    ax.plot(grid, [peak] * len(grid), color="black", lw=1.5, label=f"{design} {peak:.3g} GOP/s")
    if device_peak and dataflow:
        ax.plot(grid, [device_peak] * len(grid), color="grey", lw=1.2, ls="--",
                label=f"device roof (every DSP) {device_peak:.3g} GOP/s")
    if bw:
        ax.plot(grid, [min(peak, bw * g) for g in grid], color="tab:red", lw=1.5,
                label=f"DRAM roof {bw:.3g} GB/s")
    for op, marker in sorted(set((p[2], OP_MARKERS.get(p[2], "x")) for p in points)):
        sel = [p for p in points if p[2] == op]
        ax.scatter([p[0] for p in sel], [p[1] for p in sel], marker=marker, s=26, alpha=0.75,
                   c=["tab:red" if p[3] == "memory" else "tab:blue" for p in sel], label=f"{op} ({len(sel)})")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("arithmetic intensity (ops per " + ("on-chip stream byte" if dataflow else "DRAM byte") + ")")
    ax.set_ylabel("achieved GOP/s")
    m, d, t = report["model"], report["device"], report["template"]
    totals = report["totals"]
    from .sim.markdown import misfit

    verdict = "fits the device" if totals["fits"] else f"does NOT fit ({misfit(totals)})"
    ax.set_title(f"{m['name']} on {d['name']} — {t['template']} template"
                 + (" (weights on chip: no DRAM roof)" if dataflow else "") + f"\n{verdict}", fontsize=10)
    ax.minorticks_off()                  # decades only: minor log ticks cost a third of the drawing time
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    _save(fig, path, tight=False)
    return Path(path)


def _elements(shape) -> int:
    n = 1
    for s in shape:
        n *= int(s)
    return n


# --------------------------------------------------------------------------- sweeps

Series = Tuple[str, List[Tuple[float, float]]]


LABELS_MAX = 30      # front points labelled at most (evenly spread along the front)


def pareto_plot(points: Sequence[Tuple[float, float, bool]], front: Sequence[Tuple[float, float]], path: str | Path,
                *, x_label: str, y_label: str, title: str, log_x: bool = False, log_y: bool = False,
                labels: Sequence[str] = ()) -> Path:
    """Every point (x, y, fits the device: filled, else hollow) in grey and the Pareto front in
    colour, joined by a staircase in front order; ``labels`` name the front's points (e.g.
    'ap_fixed<8,3> RF4 xc7z020'). A log axis holding zeros is drawn symmetric-log (:func:`scale_axis`)."""
    fig, _ = pareto_axes(points, front, x_label=x_label, y_label=y_label, title=title, log_x=log_x, log_y=log_y,
                         labels=labels)
    _save(fig, path)
    return Path(path)


def pareto_axes(points: Sequence[Tuple[float, float, bool]], front: Sequence[Tuple[float, float]], *, x_label: str,
                y_label: str, title: str, log_x: bool = False, log_y: bool = False, labels: Sequence[str] = ()):
    """The (figure, axes) :func:`pareto_plot` writes."""
    fig, ax = _figure()
    fits = [(x, y) for x, y, ok in points if ok]
    over = [(x, y) for x, y, ok in points if not ok]
    if fits:
        ax.scatter(*zip(*fits), s=14, color="0.6", alpha=0.6, label=f"design points ({len(fits)})")
    if over:
        ax.scatter(*zip(*over), s=14, facecolors="none", edgecolors="0.6", alpha=0.6,
                   label=f"do not fit the device ({len(over)})")
    if front:
        xs, ys = zip(*front)
        ax.step(xs, ys, where="post", color="tab:red", lw=1.2, alpha=0.8)
        ax.scatter(xs, ys, s=36, color="tab:red", zorder=3, label=f"Pareto front ({len(front)})")
        step = max(1, -(-len(front) // LABELS_MAX))
        for i, text in list(enumerate(labels))[::step]:
            if text:
                ax.annotate(text, (xs[i], ys[i]), xytext=(4, 4), textcoords="offset points", fontsize=6,
                            color="tab:red", alpha=0.9)
    every = [(p[0], p[1]) for p in points] + list(front)
    _decorate(ax, [p[0] for p in every], [p[1] for p in every], x_label, y_label, title, log_x, log_y,
              legend_size=8)
    return fig, ax


def scale_axis(ax, which: str, values: Sequence[float], log: bool) -> str:
    """Set the x or y axis scale: 'log' when asked and every value is positive; asked with a zero or a negative
    among them (0 DSPs: weights under 9 bits multiply in LUTs), 'symlog', linear up to the smallest positive
    value, so such a point is drawn at a labelled 0 instead of vanishing; else 'linear'. Returns the scale."""
    setter = ax.set_xscale if which == "x" else ax.set_yscale
    if not log:
        return "linear"
    positive = [v for v in values if v > 0]
    if len(positive) == len(values):
        setter("log")
        return "log"
    setter("symlog", linthresh=min(positive, default=1.0))
    return "symlog"


def _decorate(ax, xs: Sequence[float], ys: Sequence[float], x_label: str, y_label: str, title: str, log_x: bool,
              log_y: bool, legend_size: int | None) -> None:
    """Scales (:func:`scale_axis` over the values drawn), labels, title, grid and legend (``legend_size``
    None: no legend)."""
    scale_axis(ax, "x", xs, log_x)
    scale_axis(ax, "y", ys, log_y)
    ax.set_xlabel(x_label)
    ax.set_ylabel(y_label)
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    if legend_size is not None:
        ax.legend(fontsize=legend_size, loc="best")


MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
DASHES = ("-", "--", ":", "-.")


def series_styles(n: int) -> List[Tuple[Any, str, str]]:
    """``n`` distinct (colour, marker, line style): tab10, then tab20, then a sampled colour map;
    markers and dashes change with every pass over the palette so no two series look alike."""
    from matplotlib import colormaps

    palette = (colormaps["tab10"].colors if n <= 10 else colormaps["tab20"].colors if n <= 20
               else [colormaps["turbo"](i / max(1, n - 1)) for i in range(n)])
    k = len(palette)
    return [(palette[i % k], MARKERS[(i // k + i) % len(MARKERS)] if n > 10 else "o", DASHES[(i // k) % len(DASHES)])
            for i in range(n)]


def series_plot(series: Sequence[Series], path: str | Path, *, x_label: str, y_label: str, title: str,
                log_x: bool = False, log_y: bool = True, legend_max: int = 12) -> Path:
    """One line per named series of (x, y) pairs (e.g. density vs latency per device and precision)."""
    fig, _ = series_axes(series, x_label=x_label, y_label=y_label, title=title, log_x=log_x, log_y=log_y,
                         legend_max=legend_max)
    _save(fig, path)
    return Path(path)


def series_axes(series: Sequence[Series], *, x_label: str, y_label: str, title: str, log_x: bool = False,
                log_y: bool = True, legend_max: int = 12):
    """The (figure, axes) :func:`series_plot` writes."""
    fig, ax = _figure()
    for (name, pairs), (color, marker, dash) in zip(series, series_styles(len(series))):
        pairs = sorted(pairs)
        if pairs:
            ax.plot([p[0] for p in pairs], [p[1] for p in pairs], marker=marker, ms=3.5, lw=1.2, color=color,
                    linestyle=dash, label=name)
    shown = 0 < len(series) <= legend_max
    if len(series) > legend_max:
        title = f"{title} ({len(series)} series; legend omitted)"
    every = [p for _, pairs in series for p in pairs]
    _decorate(ax, [p[0] for p in every], [p[1] for p in every], x_label, y_label, title, log_x, log_y,
              legend_size=7 if shown else None)
    return fig, ax
