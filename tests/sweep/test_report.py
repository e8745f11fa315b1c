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


def test_a_rebuilt_report_removes_only_its_own_stale_figures(monkeypatch, tmp_path):
    """A figure an earlier report wrote goes; a PNG someone else put in report/ stays (it was deleted)."""
    monkeypatch.setattr(plots, "series_plot", lambda series, path, **kw: path.write_bytes(b"png"))
    monkeypatch.setattr(plots, "pareto_plot", lambda points, front, path, **kw: path.write_bytes(b"png"))
    (tmp_path / "report").mkdir()
    (tmp_path / "report" / "photo.png").write_bytes(b"mine")
    (tmp_path / "report" / "pareto_old_latency.png").write_bytes(b"stale")
    build_report(tmp_path, _rows())
    names = {p.name for p in (tmp_path / "report").iterdir()}
    assert "photo.png" in names and "pareto_old_latency.png" not in names and "density_latency.png" in names
