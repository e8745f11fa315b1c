"""Export: PyTorch → ONNX → hls4ml project → C simulation, with fixed-point precision chosen for
the user and the multipliers that pruned zeros save.

    export_onnx(model, path)                      ONNX (opset 17) checked with onnxruntime   onnx.py
    build_hls(model_or_onnx, out_dir, ...)        hls4ml project, precision plan            hls.py
    csim(project, inputs, model=model)            g++ C simulation vs PyTorch               csim.py
    export_model(model, out_dir, example=x)       all of them, with reports                 pipeline.py

The names are imported on first use: the simulator reads the export's pure-numpy rules (e.g.
``sparse_kernel``) without loading torch, onnx and hls4ml with this package.
"""
import importlib
import sys
import types
from typing import Any

_API = {"export_onnx": "onnx", "OnnxExport": "onnx", "build_hls": "hls", "HlsSettings": "hls",
        "HlsProject": "hls", "csim": "csim", "CsimReport": "csim", "export_model": "pipeline"}

__all__ = ["export_onnx", "build_hls", "csim", "export_model", "HlsSettings", "HlsProject", "CsimReport",
           "OnnxExport"]


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(importlib.import_module(f"{__name__}.{_API[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class _Package(types.ModuleType):
    """``csim`` names both a submodule and the function it defines: importing the submodule would make the
    package attribute the module, so that assignment is dropped and ``codesign.export.csim`` stays the
    function (the submodule is in sys.modules as usual)."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _API and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
