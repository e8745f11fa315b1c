"""Tiny sweep specs (synthetic data, tiny widths) shared by the sweep tests."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml


@pytest.fixture
def spec_file(tmp_path):
    """write(data, name='spec.yaml') -> path of the spec written into tmp_path."""
    def write(data: dict, name: str = "spec.yaml") -> Path:
        path = tmp_path / name
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return path

    return write


@pytest.fixture
def sim_spec() -> dict:
    """Simulation only: a random-init jet_mlp pruned one-shot to two densities, 2 x 2 hardware points each."""
    return {"name": "tiny_sim", "train": {"mode": "none", "weights": "random"},
            "grid": {"model": ["jet_mlp"], "method": [{"name": "magnitude", "params": {"structure": "structured"}}],
                     "density": [1.0, 0.5], "device": ["xc7z020"], "reuse_factor": [1, 4],
                     "precision": ["ap_fixed<16,6>", "8"]}}


@pytest.fixture
def finetune_spec() -> dict:
    """One shared dense run of a quarter-width LeNet-5 on synthetic digits, then one-shot pruning +
    one fine-tuning epoch per density."""
    return {"name": "tiny_finetune", "recipe": "lenet5_mnist",
            "overrides": {"model.width": 0.25, "train.batch_size": 64,
                          "data": {"name": "synthetic", "options": {"in_shape": [1, 28, 28], "num_classes": 10,
                                                                    "n_train": 256, "n_test": 64}}},
            "train": {"mode": "finetune", "base_epochs": 1, "finetune_epochs": 1},
            "grid": {"method": [{"name": "magnitude", "params": {"structure": "unstructured", "scope": "global"}}],
                     "density": [1.0, 0.5, 0.25], "device": ["xc7z020"], "reuse_factor": [1, 16]}}
