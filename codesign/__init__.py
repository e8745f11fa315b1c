"""codesign: hardware/software co-design of sparse neural networks for FPGAs.

Public API (imported lazily, so `import codesign` stays light):

    create_model, list_models          model zoo                        codesign.zoo
    load_dataset, list_datasets        datasets                         codesign.data
    load_recipe                        YAML recipes                     codesign.config
    fit                                the training loop                codesign.train
    build_method, list_methods         grow/prune methods               codesign.methods
    trace_units                        coupled channel/neuron groups    codesign.units.graph
    compact, compact_run               physically smaller dense model   codesign.compaction
                                       (compact_run: the stage after fit, on a run directory)
    export_onnx, build_hls, csim       ONNX → hls4ml → C simulation     codesign.export
    export_model                       all of export, with its reports  codesign.export
    load_device, estimate              roofline / DRAM simulator        codesign.sim
    run_sweep                          design-space sweeps              codesign.sweep
"""
from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_API = {
    "create_model": "codesign.zoo", "list_models": "codesign.zoo",
    "load_dataset": "codesign.data", "list_datasets": "codesign.data",
    "load_recipe": "codesign.config", "fit": "codesign.train",
    "build_method": "codesign.methods", "list_methods": "codesign.methods",
    "trace_units": "codesign.units.graph", "compact": "codesign.compaction", "compact_run": "codesign.compaction",
    "export_onnx": "codesign.export", "build_hls": "codesign.export", "csim": "codesign.export",
    "export_model": "codesign.export",
    "load_device": "codesign.sim", "estimate": "codesign.sim", "run_sweep": "codesign.sweep",
    "CodesignError": "codesign.errors",
}

__all__ = sorted(_API)


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'codesign' has no attribute '{name}'")
