"""The sweep report's figures: a tiled point's blank dataflow-only axes (it reads none of them)."""
from __future__ import annotations

from codesign import plots
from codesign.sweep.report import build_report


def _rows():
    rows = []
    for density in (1.0, 0.5):
        common = {"model": "m", "density": density, "density_reached": density, "device": "xcu250",
                  "precision": "ap_fixed<16,6>", "fits": True, "util_max": 0.5, "energy_j": 1e-6, "dsp": 10, "lut": 10}
        for rf in (1, 2, 4, 8, 16, 32, 64, 128):
            for strategy in ("Latency", "Resource"):
                rows.append({**common, "template": "dataflow", "reuse_factor": rf, "strategy": strategy,
                             "latency_s": rf * density * 1e-6})
        rows.append({**common, "template": "tiled", "reuse_factor": None, "strategy": None,
                     "latency_s": 5e-6 * density})
    return rows


def test_density_lines_keep_the_tiled_design_when_an_axis_is_held(monkeypatch, tmp_path):
    drawn = {}

    def series_plot(series, path, **kwargs):
        drawn[path.name] = [name for name, _ in series]
        path.write_bytes(b"png")

    monkeypatch.setattr(plots, "series_plot", series_plot)
    build_report(tmp_path, _rows())
    names = drawn["density_latency.png"]
    assert "template=tiled" in names                               # not dropped when strategy is held at Latency
    assert not any("None" in name for name in names)
    assert "template=dataflow, reuse_factor=1" in names and len(names) == 9
