"""The Python API takes any nn.Module: fit with a run directory, resume and compaction, compact,
export and estimate with an example input or shape."""
from __future__ import annotations

import json

import pytest
import torch
import torch.nn as nn

import codesign
from codesign.checkpoint import load_model
from codesign.config import load_recipe
from codesign.errors import CodesignError
from tests.user_models import Inception

RECIPE = {"data.name": "synthetic", "data.options": {"in_shape": [1, 8, 8], "num_classes": 4, "n_train": 128,
                                                    "n_test": 32},
          "train.epochs": 2, "train.batch_size": 32, "train.threads": 1, "method.name": "magnitude",
          "method.params": {"structure": "structured", "target_density": 0.5}}


class MyCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 8, 3, padding=1)
        self.fc = nn.Linear(8 * 4 * 4, 4)

    def forward(self, x):
        return self.fc(torch.flatten(nn.functional.max_pool2d(torch.relu(self.conv(x)), 2), 1))


def test_compact_is_the_function_even_after_importing_its_module():
    import codesign.compaction  # noqa: F401

    assert callable(codesign.compact) and codesign.compact is codesign.compaction.compact


def test_fit_a_hand_built_module_with_a_run_directory_resume_and_compaction(tmp_path):
    recipe = load_recipe(None, RECIPE)
    result = codesign.fit(recipe, tmp_path, model=MyCNN())
    assert result.summary["model"] == "MyCNN" and (tmp_path / "train" / "model.pt").exists()
    again = codesign.fit(recipe, tmp_path, model=MyCNN(), resume=True)
    assert again.summary["epochs"] == result.summary["epochs"]
    with pytest.raises(CodesignError, match="trained a hand-built MyCNN; resume with fit"):
        codesign.fit(recipe, tmp_path, resume=True)
    added = codesign.compact_run(tmp_path)
    assert added["compact_params"] < sum(p.numel() for p in MyCNN().parameters())
    small, _ = load_model(tmp_path / "compact" / "model.pt")
    assert isinstance(small, MyCNN) and small.conv.out_channels == 4


def test_compact_export_and_estimate_take_a_module_and_an_example(tmp_path):
    model = Inception().eval()
    x = torch.randn(16, 1, 8, 8)
    small, manifest = codesign.compact(model, example=(1, 8, 8))
    assert manifest["equivalence"]["max_abs_diff"] <= manifest["equivalence"]["tolerance"]
    assert codesign.export_onnx(model, samples=x).max_abs_diff < 1e-4
    report = codesign.export_model(model, tmp_path / "out", example=x, target="onnx")
    assert report["model"]["name"] == "Inception" and report["model"]["in_shape"] == [1, 8, 8]
    assert json.loads((tmp_path / "out" / "export.json").read_text())["weights"]["kind"] == "given module"
    totals = codesign.estimate(model, "xc7z020", example=x).totals
    assert totals["latency_cycles"] > 0
