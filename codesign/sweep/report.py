"""A sweep's report: Pareto fronts and density-vs-latency plots (PNG) and one self-contained HTML
page (summary, embedded figures, the Pareto table and the results table), from results.csv.

``build_report(run_dir)`` is what ``codesign report RUN_DIR`` runs; the sweep calls it at the end.
Fronts are taken over the points that fit their device and did not fail (a design HLS refuses to build does
not fit: :func:`report_front`); the plots show every successful point (hollow: does not fit) and label the
front's points with the axes that vary.

Accuracy fronts rank by the accuracy the hardware would have (:func:`accuracy_column`): C
simulation at the point's precision when the sweep ran it, else the fixed-point emulation of the
export (``fixed_accuracy``), and the floating-point accuracy only when neither exists; every
figure and table names the one it shows. Latency-vs-resources fronts (DSP, LUT) stand beside them.
"""
from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from .. import atomic
from ..errors import CodesignError
from ..target import DATAFLOW_ONLY
from .pareto import front_rows
from .plan import AXES
from .results import CSV, read_table, number

TABLE_COLUMNS = ("model", "width", "method", "density", "density_reached", "device", "template", "reuse_factor",
                 "precision", "strategy", "io_type", "sparse_kernel", "accuracy", "fixed_accuracy", "csim_accuracy",
                 "params", "nonzeros", "latency_s", "interval_s", "energy_j", "dsp", "bram", "lut", "ff", "util_max", "fits",
                 "refused", "error")
TABLE_ROWS_MAX = 1000
LABELS = {"accuracy": "floating-point test accuracy (precision not applied)",
          "fixed_accuracy": "fixed-point test accuracy (hls4ml arithmetic emulated at the point's precision)",
          "csim_accuracy": "C-simulation test accuracy (hls4ml, at the point's precision)",
          "dsp": "DSP blocks", "lut": "LUTs", "latency_s": "latency (s)", "energy_j": "energy per inference (J)",
          "util_max": "largest resource utilisation (DSP/BRAM/LUT/FF, fraction of the device)",
          "density_reached": "density reached (nonzeros / original parameters)"}
Figure = Tuple[str, str, Path]        # (title, caption, png path)
FIGURE_PREFIXES = ("pareto_", "density_")   # the names of the report's figures (_pareto_figure, _density_figure)


def build_report(run_dir: str | Path, rows: Optional[Sequence[Dict[str, Any]]] = None) -> Path:
    """Write run_dir/report/{*.png,index.html} from ``rows`` (default: run_dir/results.csv)."""
    run_dir = Path(run_dir)
    if rows is None:
        if not (run_dir / CSV).exists():
            what = next((f" (it holds a {kind})" for name, kind in (("train", "training run"),
                                                                    ("export.json", "export"))
                         if (run_dir / name).exists()), "")
            raise CodesignError(f"{run_dir} holds no {CSV}{what}; `codesign report` reads a sweep's folder: "
                                f"give one, or run `codesign sweep SPEC --out DIR` first")
        rows = read_table(run_dir / CSV)
    meta = _meta(run_dir)
    out = run_dir / "report"
    good = [r for r in rows if not r.get("error") and number(r.get("latency_s")) is not None]
    figures = _figures(good, out)
    for stale in {p for p in out.glob("*.png") if p.name.startswith(FIGURE_PREFIXES)} - {f[2] for f in figures}:
        stale.unlink()                   # a figure an earlier report wrote; never another PNG someone put there
    objectives = main_objectives(good)
    front = report_front(good, objectives)
    page = _html(meta, rows, good, figures, front, objectives)
    atomic.write_text(out / "index.html", page)
    return out / "index.html"


def _meta(run_dir: Path) -> Dict[str, Any]:
    path = run_dir / "sweep.json"
    try:
        return json.loads(path.read_text()) if path.exists() else {"name": run_dir.name}
    except ValueError:
        return {"name": run_dir.name}


def _has(rows: Sequence[Dict[str, Any]], column: str) -> bool:
    return any(number(r.get(column)) is not None for r in rows)


ACCURACY_COLUMNS = ("csim_accuracy", "fixed_accuracy", "accuracy")     # most faithful first
LABEL_AXES = ("model", "width", "method", "density", "device", "template", "reuse_factor", "precision", "strategy",
              "io_type", "sparse_kernel")
SHORT = {"reuse_factor": "RF", "density": "d", "width": "w"}


def accuracy_column(rows) -> Optional[str]:
    """The accuracy a hardware point is ranked by: C simulation when it ran at each point's own
    precision, else the emulated fixed-point accuracy, else the float accuracy (None: no accuracy)."""
    csim = [r for r in rows if number(r.get("csim_accuracy")) is not None]
    if csim and all(r.get("csim_precision") == r.get("precision") for r in csim):
        return "csim_accuracy"
    return next((c for c in ACCURACY_COLUMNS[1:] if _has(rows, c)), None)


def report_front(rows: Sequence[Dict[str, Any]], objectives: Optional[Dict[str, str]] = None) -> List[Dict[str, Any]]:
    """The report's Pareto front (of ``objectives``, default :func:`main_objectives`): over the points that did not
    fail and fit their device. A design HLS refuses (:func:`codesign.sim.hls_rules.refused`: its row names the
    layers in ``refused`` and says why in ``warnings``) does not fit, so it is never on a front."""
    good = [r for r in rows if not r.get("error") and number(r.get("latency_s")) is not None]
    return front_rows([r for r in good if r.get("fits") is True], objectives or main_objectives(good))


def main_objectives(rows) -> Dict[str, str]:
    """The report's Pareto objectives: latency and the ranked accuracy (:func:`accuracy_column`), or
    latency and resources without accuracy."""
    column = accuracy_column(rows)
    if column is not None:
        return {"latency_s": "min", column: "max"}
    return {"latency_s": "min", "util_max": "min"}


def point_label(row: Dict[str, Any], axes: Sequence[str]) -> str:
    """A front point's label from the axes that vary: 'ap_fixed<8,3> RF4 xc7z020'."""
    parts = []
    for a in axes:
        v = row.get(a)
        if v in (None, ""):
            continue
        v = f"{v:.3g}" if isinstance(v, float) else str(v)
        parts.append(f"{SHORT[a]}{v}" if a in SHORT else v)
    return " ".join(parts)


def varies(rows: Sequence[Dict[str, Any]], axis: str) -> bool:
    """``axis`` takes more than one value among ``rows``; a tiled point's blank dataflow-only axis is no value
    (:func:`codesign.sweep.plan.applicable`)."""
    return len({str(r.get(axis)) for r in rows if r.get(axis) is not None or axis not in DATAFLOW_ONLY}) > 1


def varying_axes(rows) -> List[str]:
    return [a for a in LABEL_AXES if varies(rows, a)]


# --------------------------------------------------------------------------- figures

def _figures(rows: List[Dict[str, Any]], out: Path) -> List[Figure]:
    from ..plots import pareto_plot, series_plot

    if not rows:
        return []
    figures: List[Figure] = []
    acc = accuracy_column(rows)
    pairs = ([("latency_s", acc), ("energy_j", acc), ("util_max", acc)] if acc else
             [("latency_s", "util_max"), ("latency_s", "energy_j")])
    pairs += [("latency_s", "dsp"), ("latency_s", "lut")]          # the reuse-factor trade-off
    labelled = varying_axes(rows)
    for x, y in pairs:
        if not (_has(rows, x) and _has(rows, y)):
            continue
        figures.append(_pareto_figure(rows, out, x, y, "max" if y in ACCURACY_COLUMNS else "min", labelled,
                                      pareto_plot))
    if len({round(number(r.get("density_reached")) or 0, 6) for r in rows}) > 1:
        figures.append(_density_figure(rows, out, "latency_s", series_plot))
        if acc:
            figures.append(_density_figure(rows, out, acc, series_plot))
    return figures


def _pareto_figure(rows, out: Path, x: str, y: str, y_sense: str, labelled: Sequence[str], pareto_plot) -> Figure:
    front = front_rows([r for r in rows if r.get("fits") is True], {x: "min", y: y_sense})
    path = out / f"pareto_{y.split('_')[0]}_{x.split('_')[0]}.png"
    points = [(number(r[x]), number(r[y]), r.get("fits") is True) for r in rows
              if number(r.get(x)) is not None and number(r.get(y)) is not None]
    title = f"{LABELS.get(y, y)} vs {LABELS.get(x, x)}"
    pareto_plot(points, [(number(r[x]), number(r[y])) for r in front], path, x_label=LABELS.get(x, x),
                y_label=LABELS.get(y, y).split(" (")[0], title=f"Pareto front: {title}", log_x=True,
                log_y=y not in ACCURACY_COLUMNS, labels=[point_label(r, labelled) for r in front])
    named = f" Labels: {', '.join(labelled)}." if labelled else ""
    return (f"Pareto front: {title}", f"{len(front)} of {len(points)} points are on the front "
            f"(among points that fit their device).{named}", path)


SERIES_MAX = 12
FIX_FIRST = ("sparse_kernel", "io_type", "strategy", "precision", "reuse_factor", "template", "device", "width",
             "method", "model")


def _series_axes(rows, y: str) -> Tuple[List[str], Dict[str, Any]]:
    """The axes that name a line, and the axes held at one value (their first) to keep <= SERIES_MAX lines."""
    axes = [a for a in AXES if a != "density" and varies(rows, a)]
    if y == "accuracy":                          # float accuracy does not depend on hardware axes
        axes = [a for a in axes if a in ("model", "width", "method")]
    elif y in ACCURACY_COLUMNS:                  # fixed-point accuracy depends on the precision too
        axes = [a for a in axes if a in ("model", "width", "method", "precision")]
    fixed: Dict[str, Any] = {}
    for axis in FIX_FIRST:
        if len({tuple(str(r.get(a)) for a in axes) for r in rows}) <= SERIES_MAX:
            break
        if axis in axes:
            axes.remove(axis)
            fixed[axis] = next(r.get(axis) for r in rows if r.get(axis) is not None)
            rows = [r for r in rows if _holds(r, fixed)]
    return axes, fixed


def _holds(row: Dict[str, Any], fixed: Dict[str, Any]) -> bool:
    """The row has the held value of each axis, or no value (a tiled point reads no dataflow-only axis)."""
    return all(row.get(a) in (v, None) for a, v in fixed.items())


def _density_figure(rows, out: Path, y: str, series_plot) -> Figure:
    axes, fixed = _series_axes(rows, y)
    rows = [r for r in rows if _holds(r, fixed)]
    groups: Dict[str, Dict[float, float]] = {}
    for r in rows:
        x, v = number(r.get("density_reached")), number(r.get(y))
        if x is not None and v is not None:
            name = ", ".join(f"{a}={r.get(a)}" for a in axes if r.get(a) is not None) or "all points"
            groups.setdefault(name, {})[x] = v
    series = [(name, sorted(values.items())) for name, values in groups.items()]
    path = out / f"density_{y.split('_')[0]}.png"
    title = f"{LABELS.get(y, y)} vs density"
    series_plot(series, path, x_label=LABELS["density_reached"], y_label=LABELS.get(y, y), title=title,
                log_y=y not in ACCURACY_COLUMNS)
    held = "; " + ", ".join(f"{a}={v}" for a, v in fixed.items()) + " (one value of each, to keep the plot readable)"
    return title, (f"one line per combination of the other axes that vary ({len(series)} lines)"
                   + (held if fixed else "") + "."), path


# --------------------------------------------------------------------------- HTML

STYLE = """body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px;color:#222}
table{border-collapse:collapse;font-size:12px;margin:1em 0}td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}
th{background:#f0f0f0}td.t{text-align:left}tr.err td{color:#a00}img{max-width:100%;border:1px solid #ddd}
figure{margin:1.5em 0}figcaption{font-size:13px;color:#555}"""


def _html(meta, rows, good, figures: List[Figure], front, objectives) -> str:
    name = html.escape(str(meta.get("name", "sweep")))
    failed = [r for r in rows if r.get("error")]
    facts = [("points finished", f"{len(rows)}" + (f" of {meta['points']}" if meta.get("points") else "")),
             ("succeeded / failed", f"{len(good)} / {len(failed)}"),
             ("fit their device", str(sum(1 for r in good if r.get("fits") is True)))]
    refused = sum(1 for r in good if r.get("refused"))
    if refused:
        facts.append(("refused by HLS (do not fit)", f"{refused}: the Latency strategy over the unroll limit (the "
                                                     f"rows' refused and warnings columns)"))
    if meta.get("seconds") is not None:
        facts.append(("last run", f"{meta['seconds']:.1f} s, {meta.get('workers', 1)} worker(s), "
                                  f"executor {meta.get('executor', 'local')}"))
    if meta.get("spec"):
        facts.append(("spec", str(meta["spec"])))
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{name}</title><style>{STYLE}</style>"
             f"</head><body><h1>Sweep: {name}</h1>"]
    if meta.get("description"):
        parts.append(f"<p>{html.escape(str(meta['description']))}</p>")
    parts.append("<table>" + "".join(f"<tr><th>{html.escape(k)}</th><td class='t'>{html.escape(v)}</td></tr>"
                                      for k, v in facts) + "</table>")
    for title, caption, path in figures:
        data = base64.b64encode(path.read_bytes()).decode()
        parts.append(f"<figure><img alt='{html.escape(title)}' src='data:image/png;base64,{data}'>"
                     f"<figcaption>{html.escape(title)}: {html.escape(caption)}</figcaption></figure>")
    goal = ", ".join(f"{'lowest' if s == 'min' else 'highest'} {LABELS.get(k, k)}" for k, s in objectives.items())
    parts.append(f"<h2>Pareto front ({len(front)} points)</h2><p>Points that fit their device and that no other "
                 f"such point beats on both {html.escape(goal)}.</p>" + _table(front))
    shown = list(rows[:TABLE_ROWS_MAX])
    note = "" if len(rows) <= TABLE_ROWS_MAX else f" (first {TABLE_ROWS_MAX} of {len(rows)}; all are in {CSV})"
    parts.append(f"<h2>All points{note}</h2>" + _table(shown) + "</body></html>")
    return "\n".join(parts)


def _table(rows: Sequence[Dict[str, Any]]) -> str:
    cols = [c for c in TABLE_COLUMNS if any(r.get(c) not in (None, "") for r in rows)]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = []
    for r in rows:
        cells = "".join(_cell(r.get(c)) for c in cols)
        body.append(f"<tr{' class=err' if r.get('error') else ''}>{cells}</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _cell(value: Any) -> str:
    if value is None:
        return "<td></td>"
    if isinstance(value, bool):
        return f"<td>{'yes' if value else 'no'}</td>"
    if isinstance(value, float):
        return f"<td>{value:.4g}</td>"
    if isinstance(value, int):
        return f"<td>{value:,}</td>"
    return f"<td class='t'>{html.escape(str(value))}</td>"
