"""PyTorch → ONNX (opset ≥ 17, the TorchScript exporter), checked against PyTorch with onnxruntime.

The TorchScript exporter is used on purpose: the dynamo exporter turns AdaptiveAvgPool2d into
ReduceMean, which hls4ml rejects; both fold BatchNorm into the preceding convolution.
"""
from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence, Tuple

import numpy as np
import onnx
import torch
import torch.nn as nn

from .. import atomic
from ..errors import ExportError
from ..model_source import model_label
from ..procs import silenced_output

OPSET = 17
INPUT_NAME, OUTPUT_NAME = "input", "output"


@dataclass(frozen=True)
class OnnxExport:
    path: Optional[Path]
    opset: int
    max_abs_diff: float          # onnxruntime vs PyTorch on the checked samples
    max_abs_output: float        # the scale of PyTorch's outputs on them
    checked_samples: int
    model: onnx.ModelProto

    def summary(self) -> dict:
        return {"path": str(self.path) if self.path else None, "opset": self.opset,
                "max_abs_diff_vs_pytorch": self.max_abs_diff, "max_abs_output": self.max_abs_output,
                "checked_samples": self.checked_samples}


def in_shape_of(model: nn.Module, in_shape: Optional[Sequence[int]] = None,
                samples: Optional[torch.Tensor] = None) -> Tuple[int, ...]:
    """One sample's shape: ``in_shape`` when given, else the samples', else the one a codesign
    model records (``codesign_spec``, set by create_model and model files)."""
    if in_shape is not None:
        return tuple(int(d) for d in in_shape)
    if samples is not None:
        return tuple(int(d) for d in samples.shape[1:])
    spec = getattr(model, "codesign_spec", None)
    if spec is None:
        raise ExportError(f"the input shape of {type(model).__name__} is unknown; pass in_shape=(C, H, W) or "
                          f"example inputs")
    return tuple(spec["in_shape"])


def module_types(model: nn.Module) -> dict:
    """{module path: class name}, for error messages that name the PyTorch layer."""
    return {name: type(m).__name__ for name, m in model.named_modules() if name}


def to_onnx_proto(model: nn.Module, in_shape: Sequence[int], opset: int = OPSET) -> onnx.ModelProto:
    """Trace ``model`` (eval mode, fixed sample shape, any batch size) to an ONNX ModelProto."""
    if opset < 17:
        raise ExportError(f"opset {opset} is too old; the export needs opset >= 17")
    buf = io.BytesIO()
    was_training = model.training
    model.eval()
    try:
        with warnings.catch_warnings(), silenced_output():
            warnings.simplefilter("ignore")
            torch.onnx.export(model, (torch.zeros(1, *in_shape),), buf, dynamo=False, opset_version=opset,
                              input_names=[INPUT_NAME], output_names=[OUTPUT_NAME], do_constant_folding=True,
                              dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}})
    except Exception as err:  # the tracer raises many types; the message names the op
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ExportError(f"torch.onnx could not trace the model {model_label(model)} ({first}); remove or replace "
                          "that layer") from None
    finally:
        model.train(was_training)
    return onnx.load_from_string(buf.getvalue())


def run_onnxruntime(proto: onnx.ModelProto, x: np.ndarray, batch: int = 256) -> np.ndarray:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, torch.get_num_threads())
    options.log_severity_level = 3
    session = ort.InferenceSession(proto.SerializeToString(), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    outs = [session.run(None, {name: x[i:i + batch].astype(np.float32)})[0] for i in range(0, len(x), batch)]
    return np.concatenate(outs) if outs else np.zeros((0,))


def export_onnx(model: nn.Module, path: Optional[str | Path] = None, *, samples: Optional[torch.Tensor] = None,
                in_shape: Optional[Sequence[int]] = None, opset: int = OPSET, check_samples: int = 16) -> OnnxExport:
    """Export ``model`` to ONNX (written atomically to ``path`` when given) and check onnxruntime's
    outputs against PyTorch on ``samples`` (default: seeded Gaussian inputs of the model's shape).
    The input shape comes from ``in_shape``, the samples, or a codesign model's record."""
    in_shape = in_shape_of(model, in_shape, samples)
    proto = to_onnx_proto(model, in_shape, opset)
    if samples is None:
        samples = torch.randn(check_samples, *in_shape, generator=torch.Generator().manual_seed(0))
    x = samples[:check_samples].float()
    with torch.no_grad():
        expected = model.eval()(x).numpy()
    if not np.isfinite(expected).all():     # the check below would compare NaN with NaN and report nan
        raise ExportError(f"the model outputs NaN/inf on the {len(x)} inputs the ONNX export is checked with "
                          f"; check the model's forward() and its weights")
    got = run_onnxruntime(proto, x.numpy())
    diff = float(np.abs(got - expected).max()) if len(x) else 0.0
    scale = float(np.abs(expected).max()) if len(x) else 0.0
    if path is not None:
        atomic.write_bytes(path, proto.SerializeToString())
    return OnnxExport(Path(path) if path else None, opset, diff, scale, len(x), proto)
