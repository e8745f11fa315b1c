"""Export: PyTorch → ONNX → hls4ml project → C simulation, with fixed-point precision chosen for
the user and the multipliers that pruned zeros save.

    export_onnx(model, path)                      ONNX (opset 17) checked with onnxruntime   onnx.py
    build_hls(model_or_onnx, out_dir, ...)        hls4ml project, precision plan            hls.py
    csim(project, inputs, model=model)            g++ C simulation vs PyTorch               csim.py
"""
from .csim import CsimReport, csim
from .hls import HlsProject, HlsSettings, build_hls
from .onnx import OnnxExport, export_onnx

__all__ = ["export_onnx", "build_hls", "csim", "HlsSettings", "HlsProject", "CsimReport", "OnnxExport"]
