"""Sweeps over users' own models: a factory (FILE.py:FUNCTION) on the model axis, its arguments
in the recipe's model.args."""
from __future__ import annotations

import textwrap

import torch

from codesign.sweep import read_table

MODEL_FILE = textwrap.dedent("""
    import torch.nn as nn

    def mlp(hidden=8, in_shape=(6,), num_classes=3):
        return nn.Sequential(nn.Flatten(), nn.Linear(in_shape[0], hidden), nn.ReLU6(), nn.Dropout(0.1),
                             nn.Linear(hidden, num_classes))
""")
DATA = {"name": "synthetic", "options": {"in_shape": [6], "num_classes": 3, "n_train": 64, "n_test": 32}}


def test_a_factory_on_the_model_axis_with_its_arguments(cli, spec_file, tmp_path):
    (tmp_path / "mine.py").write_text(MODEL_FILE)
    factory = f"{tmp_path / 'mine.py'}:mlp"
    spec = {"name": "mine", "recipe": "jet_mlp_synthetic",
            "overrides": {"data": DATA, "train.epochs": 1, "train.batch_size": 32,
                          "model": {"name": factory, "args": {"hidden": 12}}},
            "train": {"mode": "scratch"},
            "grid": {"method": [{"name": "magnitude", "params": {"structure": "structured"}}],
                     "density": [1.0, 0.5], "device": ["xc7z020"], "reuse_factor": [1]}}
    run_dir = tmp_path / "run"
    r = cli("sweep", spec_file(spec), "--out", run_dir, "--no-report")
    assert r.code == 0, r.err
    rows = read_table(run_dir / "results.csv")
    assert len(rows) == 2 and all(row["model"] == factory for row in rows)
    files = sorted(run_dir.glob("models/*/train/model.pt"))
    assert len(files) == 2
    for path in files:
        saved = torch.load(path, weights_only=False)
        assert saved["model_spec"]["kwargs"] == {"hidden": 12, "in_shape": [6], "num_classes": 3}
    dense = max(rows, key=lambda row: row["density"])
    assert dense["params"] == 6 * 12 + 12 + 12 * 3 + 3            # hidden=12 reached the factory


def test_simulation_only_points_of_a_factory(cli, sim_spec, spec_file, tmp_path):
    (tmp_path / "mine.py").write_text(MODEL_FILE)
    sim_spec["grid"]["model"] = [f"{tmp_path / 'mine.py'}:mlp"]
    r = cli("sweep", spec_file(sim_spec), "--out", tmp_path / "run", "--no-report")
    assert r.code == 0, r.err
    assert len(read_table(tmp_path / "run" / "results.csv")) == 8
