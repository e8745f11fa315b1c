"""`codesign export --onnx FILE`: an ONNX file from anywhere (float, or QONNX with brevitas-style
Quant nodes) through the same targets as a PyTorch model.

The input shape comes from the file's input (the batch dimension may be symbolic) or, where the
file leaves other dimensions open, from ``--input-shape``. The reference outputs that the checks
compare with are onnxruntime's for a float graph and codesign's exact QONNX evaluator's for a
quantized one (onnxruntime has no Quant op); a QONNX graph takes its types from its quantizers.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Dict, Optional, Sequence, Tuple

import numpy as np
import onnx
from onnx import numpy_helper
import torch

from .. import atomic
from ..errors import ConfigError, ExportError
from .graph import QUANT_OPS

Events = Callable[[str, Dict[str, Any]], None]


def load_onnx(path: Path, in_shape: Optional[Sequence[int]] = None) -> Tuple[onnx.ModelProto, Tuple[int, ...]]:
    """The model with one sample's input shape fixed (batch dimension left as it is), and that shape."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"ONNX file not found: {path}")
    try:
        proto = onnx.load(str(path))
    except Exception as err:  # protobuf raises several types for files that are not ONNX
        raise ConfigError(f"{path} is not a readable ONNX model ({type(err).__name__})") from None
    inits = {t.name for t in proto.graph.initializer}
    bad = next((t.name for t in proto.graph.initializer if _nonfinite(numpy_helper.to_array(t))), None)
    if bad is not None:
        raise ConfigError(f"{path}: the model's weights are NaN/inf in {bad}; check the file")
    inputs = [i for i in proto.graph.input if i.name not in inits]
    if len(inputs) != 1:
        raise ExportError(f"{path} has {len(inputs)} inputs; the export supports models with one input")
    dims = inputs[0].type.tensor_type.shape.dim
    known = tuple(int(d.dim_value) if d.dim_value > 0 else None for d in list(dims)[1:])
    if in_shape is not None:
        shape = tuple(int(d) for d in in_shape)
        if len(shape) != len(known) or any(k is not None and k != s for k, s in zip(known, shape)):
            raise ConfigError(f"--input-shape {','.join(map(str, shape))} does not fit {path}, whose input is "
                              f"{_show(known)} (batch dimension excluded)")
    elif None in known or not known:
        raise ConfigError(f"{path} leaves its input shape open ({_show(known)}); give --input-shape C,H,W")
    else:
        shape = known
    for d, size in zip(list(dims)[1:], shape):
        d.ClearField("dim_param")
        d.dim_value = size
    return proto, shape


def _nonfinite(value: np.ndarray) -> bool:
    return value.dtype.kind == "f" and not bool(np.isfinite(value).all())


def _show(dims) -> str:
    return "(" + ", ".join("?" if d is None else str(d) for d in dims) + ")"


def is_qonnx(proto: onnx.ModelProto) -> bool:
    return any(n.op_type in QUANT_OPS and n.domain.startswith("qonnx") for n in proto.graph.node)


def reference_outputs(proto: onnx.ModelProto, x: torch.Tensor) -> torch.Tensor:
    """What the file computes on NCHW samples ``x``: onnxruntime's outputs, or for QONNX qonnx's
    own executor's (node by node; onnxruntime has no Quant op)."""
    from .onnx import run_onnxruntime

    if is_qonnx(proto):
        return _qonnx_outputs(proto, x)
    batch = proto.graph.input[0].type.tensor_type.shape.dim[0].dim_value
    data = x.float().numpy()
    if batch > 0:                                  # a fixed batch size: feed it that many at a time
        outs = [run_onnxruntime(proto, data[i:i + batch], batch) for i in range(0, len(data), batch)]
        return torch.from_numpy(np.concatenate(outs)).double()
    return torch.from_numpy(run_onnxruntime(proto, data)).double()


def _qonnx_outputs(proto: onnx.ModelProto, x: torch.Tensor) -> torch.Tensor:
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.transformation.infer_shapes import InferShapes

    wrapper = ModelWrapper(proto).transform(InferShapes())
    name, out = wrapper.graph.input[0].name, wrapper.graph.output[0].name
    rows = [execute_onnx(wrapper, {name: x[i:i + 1].float().numpy()})[out] for i in range(len(x))]
    return torch.from_numpy(np.concatenate(rows).reshape(len(x), -1)).double()


def onnx_model_spec(path: Path, proto: onnx.ModelProto, in_shape: Tuple[int, ...]) -> Dict[str, Any]:
    out = proto.graph.output[0].type.tensor_type.shape.dim
    classes = int(np.prod([d.dim_value for d in list(out)[1:]])) if len(out) > 1 and all(
        d.dim_value > 0 for d in list(out)[1:]) else None
    return {"name": Path(path).stem, "onnx": str(path), "in_shape": list(in_shape), "num_classes": classes}


def run_onnx_export(req, settings, spec, events: Events) -> Dict[str, Any]:
    """The pipeline for ``req.onnx`` (see :func:`codesign.export.pipeline.run_export`)."""
    from .csim import csim
    from .hls import build_hls, graph_layer_settings
    from .passes import clean_graph
    from .pipeline import prepare_out_dir
    from .precision import QUANTIZERS, PrecisionSpec, override_targets
    from .report import FpgaContext, assemble_fpga_report
    from .samples import choose_samples, default_counts, onnx_macs
    from .support import check_io_stream

    proto, in_shape = load_onnx(req.onnx, req.input_shape)
    clean = clean_graph(proto)                   # unsupported layers fail here, before any slow step
    if is_qonnx(proto):
        spec = PrecisionSpec(QUANTIZERS, source=f"quantizers ({Path(req.onnx).name})")
    override_targets(spec, clean)
    graph_layer_settings(settings.layers, clean)
    check_io_stream(clean, settings.io_type)
    prepare_out_dir(req.out, req.force)
    model_spec = onnx_model_spec(req.onnx, proto, in_shape)
    counts = default_counts(onnx_macs(clean))
    samples = choose_samples(model_spec, {}, req.dataset, n_calibration=req.calibration_samples or counts["calibration"],
                             n_csim=req.csim_samples or counts["csim"], data_dir=req.data_dir, seed=req.seed)
    atomic.write_bytes(req.out / "model.onnx", proto.SerializeToString())   # external weights inlined
    parts: Dict[str, Any] = {"model": model_spec, "target": req.target, "onnx": _check(proto, clean, samples, req.out),
                             "weights": {"kind": "ONNX file", "detail": str(req.onnx), "test_acc_at_training": None}}
    if req.target != "onnx":
        parts["samples"] = samples.summary()
        project = build_hls(proto, req.out / "hls", settings=settings, precision=spec, calibration=samples.calibration,
                            events=events)
        parts["hls"] = {k: v for k, v in project.summary().items() if k not in ("precision", "multipliers")}
        parts["precision"], parts["multipliers"] = project.precision.summary(), project.multipliers
    if req.target == "fpga":
        report = csim(project, samples.test_x, reference=reference_outputs(proto, samples.test_x),
                      labels=samples.test_y, jobs=req.jobs, events=events, target_agreement=req.target_agreement)
        parts["csim"] = onnx_csim_summary(report, _reference(proto))
        parts = assemble_fpga_report(parts, FpgaContext(None, req.out, project, report, dict(parts)))
        atomic.write_json(req.out / "csim.json", parts)
    atomic.write_json(req.out / "export.json", parts)
    return parts


def onnx_csim_summary(report, runtime: str) -> Dict[str, Any]:
    """The C simulation's summary against the ONNX file run by ``runtime``: the reference's accuracy is
    ``accuracy_onnx`` (a PyTorch model's is ``accuracy_pytorch``)."""
    summary = {("accuracy_onnx" if k == "accuracy_pytorch" else k): v for k, v in report.summary().items()}
    return {**summary, "reference": f"the ONNX file ({runtime})"}


def _reference(proto: onnx.ModelProto) -> str:
    return "qonnx's executor" if is_qonnx(proto) else "onnxruntime"


def _check(proto: onnx.ModelProto, clean, samples, out: Path) -> Dict[str, Any]:
    """The ``onnx`` report part: codesign's graph after its passes against the file itself."""
    from .emulate import Emulator, batched
    from .hls import as_graph_input

    x = samples.test_x[:16].float()
    expected = reference_outputs(proto, x)
    got = batched(lambda b: Emulator(clean.graph, clean.fused_bias).run(b), as_graph_input(x, clean.input_layout))
    return {"path": str(out / "model.onnx"), "opset": clean.graph.opset,
            "format": "QONNX" if is_qonnx(proto) else "ONNX",
            "max_abs_diff_vs_pytorch": float((got - expected).abs().max()) if len(x) else 0.0,
            "max_abs_output": float(expected.abs().max()) if len(x) else 0.0, "checked_samples": len(x),
            "checked_with": f"codesign's graph after its passes vs {_reference(proto)} on the file"}
