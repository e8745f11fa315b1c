"""Inputs for precision calibration (training split) and C simulation (test split).

Default: the dataset the checkpoint was trained on when its file records it; else real MNIST
digits for 1×28×28 ten-class models (the full set when fetched, the bundled 1,000-image subset
otherwise); else synthetic Gaussian inputs of the model's shape (labels are then meaningless, so
no accuracy is reported). Sample counts default to what keeps a run to about a minute on two
cores, from the model's multiply-accumulates per sample. A dataset is read once per process and data
folder (a sweep plans many models on one); the samples are copies.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Optional, Sequence

import numpy as np
import torch
import torch.nn as nn

from ..data import check_input_shape, default_data_dir, load_dataset
from ..errors import DataError
from ..flops import model_cost
from ..memo import Memo

CALIBRATION_MACS = 4e9      # multiply-accumulates spent per emulation pass of the precision search
CSIM_MACS = 2e9             # the C simulation runs about 40M MACs/s per core


@dataclass
class Samples:
    dataset: str
    calibration: torch.Tensor
    test_x: torch.Tensor
    test_y: Optional[torch.Tensor]          # None for synthetic fallback data
    note: str
    options: Dict[str, Any] = field(default_factory=dict)   # dataset options (synthetic recipes)

    def summary(self) -> dict:
        return {"dataset": self.dataset, "calibration_samples": len(self.calibration),
                "csim_samples": len(self.test_x), "labels": self.test_y is not None, "note": self.note}


def macs_per_sample(model: nn.Module, in_shape: Sequence[int]) -> float:
    return model_cost(model, in_shape).flops_dense / 2


def default_counts(macs: float) -> Dict[str, int]:
    """Calibration and csim sample counts that bound the run time by the model's size."""
    return {"calibration": int(min(1000, max(32, CALIBRATION_MACS / max(macs, 1.0)))),
            "csim": int(min(1000, max(10, CSIM_MACS / max(macs, 1.0))))}


def _recorded_dataset(meta: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    data = (meta.get("recipe") or {}).get("data")
    return data if isinstance(data, dict) and data.get("name") else None


def _fits_mnist(in_shape, num_classes) -> bool:
    return tuple(in_shape) == (1, 28, 28) and num_classes == 10


def onnx_macs(clean) -> float:
    """Multiply-accumulates per sample of a cleaned export graph (Conv and MatMul layers)."""
    g, total = clean.graph, 0.0
    for n in g.nodes:
        weight = g.inits.get(n.input[1]) if len(n.input) > 1 else None
        if n.op_type == "Conv" and weight is not None:
            total += float(np.prod(g.shapes[n.output[0]][1:])) * float(np.prod(weight.shape[1:]))
        elif n.op_type == "MatMul" and weight is not None:
            total += float(np.prod(weight.shape))
    return total


def choose_samples(model: nn.Module | Dict[str, Any], meta: Dict[str, Any], dataset: Optional[str], *,
                   n_calibration: int, n_csim: int, data_dir: Optional[Path] = None, seed: int = 0) -> Samples:
    """Samples for a model (or a model spec: name, in_shape, num_classes); see the module doc."""
    spec = model if isinstance(model, dict) else model.codesign_spec
    in_shape, classes = tuple(spec["in_shape"]), spec.get("num_classes")
    if dataset is not None:                               # the user's choice: errors are theirs to fix
        return _load(dataset, {}, spec, n_calibration, n_csim, data_dir, "chosen with --dataset")
    recorded = _recorded_dataset(meta)
    if recorded is not None:
        name, options = recorded["name"], dict(recorded.get("options") or {})
        if name in ("mnist", "mnist_mini") and not _have_mnist(data_dir):
            name = "mnist_mini"
        try:
            return _load(name, options, spec, n_calibration, n_csim, data_dir, "the dataset the model was trained on")
        except DataError as err:
            return _synthetic(in_shape, classes, n_calibration, n_csim, seed, str(err))
    if _fits_mnist(in_shape, classes):
        name = "mnist" if _have_mnist(data_dir) else "mnist_mini"
        return _load(name, {}, spec, n_calibration, n_csim, data_dir, "real digits (the model takes 1x28x28 inputs)")
    return _synthetic(in_shape, classes, n_calibration, n_csim, seed)


def _have_mnist(data_dir: Optional[Path]) -> bool:
    return (Path(data_dir or default_data_dir()) / "mnist").is_dir()


_LOADED = Memo(2)


def _dataset(name: str, options: Dict[str, Any], data_dir: Optional[Path]):
    """The dataset's splits, loaded once per process and folder (a sweep plans many models on one dataset)."""
    key = json.dumps([name, options, str(Path(data_dir) if data_dir else default_data_dir())], sort_keys=True,
                     default=str)
    return _LOADED.get_or_make(key, lambda: load_dataset(name, data_dir, **options))


def _load(name, options, spec, n_calibration, n_csim, data_dir, note) -> Samples:
    splits = _dataset(name, options, data_dir)
    check_input_shape(spec["in_shape"], splits, spec["name"])
    return Samples(name, splits.train[0][:n_calibration].clone(), splits.test[0][:n_csim].clone(),
                   splits.test[1][:n_csim].clone(), note, dict(options))


def _synthetic(in_shape, classes, n_calibration, n_csim, seed, why: str = "") -> Samples:
    gen = torch.Generator().manual_seed(seed)
    calibration = torch.randn(n_calibration, *in_shape, generator=gen)
    test = torch.randn(n_csim, *in_shape, generator=gen)
    note = "synthetic Gaussian inputs (" + (why or "no dataset with this input shape here") + ")"
    return Samples("synthetic", calibration, test, None, note)
