"""The sweep plots (codesign/plots.py): every point given is drawn, also on a log axis that holds zeros."""
from __future__ import annotations

import math
import re

import numpy as np
import pytest

from codesign.plots import pareto_axes, pareto_plot, series_axes


def _drawn(fig, ax):
    """Display coordinates of every scatter and line point, and whether each lies inside the axes box."""
    fig.canvas.draw()
    box = ax.get_window_extent()
    xy = [c.get_offsets() for c in ax.collections] + [line.get_xydata() for line in ax.get_lines()]
    pixels = ax.transData.transform(np.concatenate([np.asarray(p, dtype=float).reshape(-1, 2) for p in xy]))
    inside = [bool(np.isfinite(p).all() and box.x0 - 1 <= p[0] <= box.x1 + 1 and box.y0 - 1 <= p[1] <= box.y1 + 1)
              for p in pixels]
    return pixels, inside


def test_zero_dsp_points_and_front_are_drawn_on_the_log_axis():
    """ap_fixed<8,3> weights need no DSP: on a log DSP axis those points (the whole front here) vanished."""
    points = [(5e-4, 1586.0, False), (5e-4, 0.0, True), (2e-3, 397.0, True), (2e-3, 0.0, True), (3e-3, 0.0, True)]
    front = [(5e-4, 0.0)]
    fig, ax = pareto_axes(points, front, x_label="latency (s)", y_label="DSP blocks", title="t", log_x=True,
                          log_y=True, labels=["ap_fixed<8,3>"])
    _, inside = _drawn(fig, ax)
    assert all(inside) and len(inside) >= len(points) + len(front)
    assert ax.get_yscale() == "symlog" and ax.get_xscale() == "log"
    assert "0" in [t.get_text().replace("$", "").replace("\\mathdefault{", "").rstrip("}")
                   for t in ax.get_yticklabels()]
    counts = {re.sub(r" \(\d+\)$", "", t.get_text()): int(re.search(r"\((\d+)\)$", t.get_text()).group(1))
              for t in ax.get_legend().get_texts()}
    assert counts == {"design points": 4, "do not fit the device": 1, "Pareto front": 1}


def test_positive_values_keep_the_log_axis(tmp_path):
    fig, ax = pareto_axes([(1e-3, 10.0, True), (2e-3, 5.0, True)], [(1e-3, 10.0), (2e-3, 5.0)], x_label="x",
                          y_label="y", title="t", log_x=True, log_y=True)
    assert ax.get_yscale() == "log" and all(_drawn(fig, ax)[1])
    assert pareto_plot([(1.0, 0.0, True)], [], tmp_path / "p.png", x_label="x", y_label="y", title="t",
                       log_y=True).stat().st_size > 0


def test_series_with_a_zero_are_drawn():
    fig, ax = series_axes([("a", [(0.1, 0.0), (1.0, 3.0)]), ("b", [(0.5, 2.0)])], x_label="density",
                          y_label="LUT", title="t", log_y=True)
    assert ax.get_yscale() == "symlog" and all(_drawn(fig, ax)[1])
