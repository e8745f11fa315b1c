"""`codesign sweep`'s own output: the Pareto front table and the help text."""
from __future__ import annotations

from rich.console import Console

from codesign.cli.sweep_cmd import _front_table
from codesign.sweep import shipped_specs

PRECISIONS = ("fixed<8,3,RND_CONV,SAT>", "ap_fixed<16,6>", "ap_fixed<8,3>")


def _rows():
    return [{"model": "lenet5", "density": d, "device": dev, "reuse_factor": rf, "precision": p, "fits": True,
             "accuracy": 0.9912, "fixed_accuracy": 0.9308 + 0.03 * i, "latency_s": 2.6e-4 * (1 + i),
             "energy_j": 1.21e-5, "util_max": 0.4, "error": None}
            for i, (d, dev, rf, p) in enumerate([(1.0, "xc7z020", 64, PRECISIONS[0]), (0.3, "xczu9eg", 1024,
                                                  PRECISIONS[1]), (0.1, "xc7z020", 256, PRECISIONS[2])])]


def test_front_table_keeps_precisions_and_numbers_whole_at_80_columns():
    console = Console(width=80, record=True)
    console.print(_front_table(_rows()))
    text = console.export_text()
    assert "…" not in text and max(len(line) for line in text.splitlines()) <= 80
    for word in (*PRECISIONS, "xczu9eg", "fixed acc", "0.9908", "0.9608", "1024", "40%"):
        assert word in text


def test_sweep_help_lists_every_shipped_spec(cli):
    result = cli("sweep", "--help")
    text = " ".join(result.out.split())
    assert result.code == 0 and len(shipped_specs()) >= 4
    for name in shipped_specs():
        assert name in text


def test_front_table_shows_no_axis_that_only_a_tiled_points_blank_varies():
    rows = [{"model": "lenet5", "density": 1.0, "template": t, "reuse_factor": rf, "strategy": s, "io_type": io,
             "fits": True, "latency_s": lat, "util_max": u, "error": None}
            for t, rf, s, io, lat, u in [("tiled", None, None, None, 2e-5, 0.67),
                                         ("dataflow", 16, "Latency", "auto", 4e-5, 0.56),
                                         ("dataflow", 64, "Latency", "auto", 1.6e-4, 0.14)]]
    console = Console(width=80, record=True)
    console.print(_front_table(rows))
    header = next(line for line in console.export_text().splitlines() if "template" in line)
    columns = [c.strip() for c in header.split("┃") if c.strip()]
    assert columns[:2] == ["template", "RF"] and "strategy" not in columns and "io" not in columns
