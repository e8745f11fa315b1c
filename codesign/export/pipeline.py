"""`codesign export`: model → DIR/model.onnx → DIR/hls/ → C simulation, with a report per target.

Cheap checks come first (output folder, g++ for fpga, model, supported ops), so a mistake is one
line before any slow step. ``--target onnx`` writes the float ONNX of any model torch.onnx exports (a
recurrent layer too) and records in the report whether the hls and fpga targets would take it. Reports:
DIR/export.json (every target) and, for fpga, DIR/csim.json
(:func:`codesign.export.report.assemble_fpga_report`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

import torch
import torch.nn as nn

from .. import atomic, written
from ..errors import ConfigError
from ..events import Events, quiet
from ..lock import folder_lock
from ..target import DEFAULT_TARGET_AGREEMENT
from .csim import csim, require_gxx
from .fold import check_limit_for_part
from .hls import HlsSettings, build_hls, graph_layer_settings
from .onnx import export_onnx, module_types
from .passes import clean_graph
from .precision import override_targets, precision_spec
from .report import FpgaContext, assemble_fpga_report
from .samples import choose_samples, default_counts, macs_per_sample
from .support import check_io_stream, hls4ml_verdict
from .weights import given_model, resolve_model

TARGETS = ("onnx", "hls", "fpga")


@dataclass(frozen=True)
class ExportRequest:
    out: Path
    target: str = "fpga"
    model: Optional[str] = None
    checkpoint: Optional[Path] = None
    width: Optional[float] = None
    settings: HlsSettings = field(default_factory=HlsSettings)
    precision: Any = "auto"                 # auto | a type | WEIGHT/RESULT | widths | YAML path | PrecisionSpec
    precision_given: bool = False           # --precision or --hls-config on the command line
    target_agreement: float = DEFAULT_TARGET_AGREEMENT
    calibration_samples: Optional[int] = None
    csim_samples: Optional[int] = None
    dataset: Optional[str] = None
    data_dir: Optional[Path] = None
    jobs: int = 0                           # csim worker processes (0: all cores)
    force: bool = False
    seed: int = 0
    qat_epochs: int = 0                     # > 0: quantization-aware fine-tuning (see qat.py)
    onnx: Optional[Path] = None             # an ONNX file (float or QONNX) instead of a PyTorch model
    model_args: Dict[str, Any] = field(default_factory=dict)   # a model factory's keyword arguments
    input_shape: Optional[Tuple[int, ...]] = None              # one sample's shape, where nothing else says it
    module: Optional[nn.Module] = None      # Python API: the model itself (export_model)


def export_model(model: nn.Module, out: str | Path, *, example: Optional[torch.Tensor] = None,
                 in_shape: Optional[Tuple[int, ...]] = None, target: str = "fpga", events: Events = quiet,
                 **options: Any) -> Dict[str, Any]:
    """The whole export of a PyTorch module (ONNX, hls4ml project, C simulation and estimate, up to
    ``target``) into ``out``; the input shape comes from ``example`` inputs, ``in_shape``, the
    model's record or ``dataset``. ``options``: the other :class:`ExportRequest` fields (settings,
    precision, dataset, csim_samples, force, ...). Returns the report that ``out``/export.json holds."""
    shape = tuple(int(d) for d in example.shape[1:]) if example is not None else in_shape
    return run_export(ExportRequest(out=Path(out), target=target, module=model, input_shape=shape, **options), events)


#: what an export writes into its folder: all --force deletes (a folder holding more is refused)
EXPORT_ARTIFACTS = ("export.json", "csim.json", "model.onnx", "model_qonnx.onnx", "hls", ".hls.partial", "sim")


def check_export_dir(out: Path, force: bool, option: str = "--out") -> None:
    """Refuse an output folder the export may not write (:func:`codesign.atomic.check_output_dir`), and one whose
    ``hls/`` or ``sim/`` holds what an export did not write there: ``sim/`` holds only the report's files, and
    ``hls/`` only the files its record lists (:mod:`codesign.written`)."""
    from ..rundir import REPORT_FILES

    atomic.check_output_dir(out, force, option, replaces=EXPORT_ARTIFACTS)
    if (out / "sim").is_dir():
        atomic.check_output_dir(out / "sim", True, option, replaces=REPORT_FILES)
    written.check_replaceable(out / "hls", option)


def prepare_out_dir(out: Path, force: bool) -> None:
    check_export_dir(out, force)
    atomic.remove_artifacts(out, EXPORT_ARTIFACTS)
    out.mkdir(parents=True, exist_ok=True)


def run_export(req: ExportRequest, events: Events = quiet) -> Dict[str, Any]:
    """Run the export up to ``req.target`` and return the report (also written as JSON)."""
    if req.target not in TARGETS:
        raise ConfigError(f"unknown target '{req.target}'; choose one of: {', '.join(TARGETS)}")
    settings = req.settings.checked()
    spec = precision_spec(req.precision, req.target_agreement)
    if req.target == "onnx" and req.precision_given:
        raise ConfigError("--precision and --hls-config set the hls4ml project's types; --target onnx writes the "
                          "float ONNX model only: drop them or use --target hls or fpga")
    if req.qat_epochs and req.precision_given:
        raise ConfigError("--precision and --hls-config do not apply to the quantization-aware path (--qat-epochs): "
                          "its types are those of the brevitas quantizers")
    if req.target == "fpga":
        require_gxx()
    if req.target != "onnx":
        check_limit_for_part(settings)
    if req.onnx is not None:
        if req.model or req.checkpoint or req.qat_epochs or req.width is not None:
            raise ConfigError("--onnx exports an ONNX file as it is: drop --model, --checkpoint, --width and "
                              "--qat-epochs")
        from .onnx_file import run_onnx_export
        return run_onnx_export(req, settings, spec, events)
    events("stage", {"stage": "model"})
    if req.module is not None:
        model, source = given_model(req.module, req.input_shape, req.dataset, req.data_dir)
    else:
        model, source = resolve_model(req.model, req.checkpoint, req.width, req.seed, model_args=req.model_args,
                                      in_shape=req.input_shape, dataset=req.dataset, data_dir=req.data_dir)
    if req.qat_epochs:
        from .hls import source_graph
        from .qat import check_qat_supported
        check_qat_supported(model)
        check_io_stream(source_graph(model), settings.io_type, module_types(model))
    check_export_dir(req.out, req.force)
    with folder_lock(req.out, "codesign export"):
        return _export(req, model, source, spec, settings, events)


def _export(req: ExportRequest, model, source, spec, settings: HlsSettings, events: Events) -> Dict[str, Any]:
    prepare_out_dir(req.out, req.force)
    in_shape = tuple(model.codesign_spec["in_shape"])
    counts = default_counts(macs_per_sample(model, in_shape))
    samples = choose_samples(model, source.meta, req.dataset, n_calibration=req.calibration_samples or counts["calibration"],
                             n_csim=req.csim_samples or counts["csim"], data_dir=req.data_dir, seed=req.seed)
    parts: Dict[str, Any] = {"model": dict(model.codesign_spec), "weights": source.summary(), "target": req.target}
    if req.qat_epochs:
        from .qat import quantization_aware
        return quantization_aware(req, model, samples, settings, parts, events)
    events("stage", {"stage": "onnx"})
    onnx_export = export_onnx(model, req.out / "model.onnx", samples=samples.test_x)
    parts["onnx"] = onnx_export.summary()
    if req.target == "onnx":        # the float model of anything torch.onnx exports, and whether hls4ml takes it
        parts["onnx"]["hls4ml"] = hls4ml_verdict(onnx_export.model, module_types(model))
    else:   # unsupported layers and unknown layer names in a precision file fail here, before slow steps
        clean = clean_graph(onnx_export.model, module_types(model))
        override_targets(spec, clean)
        graph_layer_settings(settings.layers, clean)
        check_io_stream(clean, settings.io_type, module_types(model))
    if req.target != "onnx":
        parts["samples"] = samples.summary()
        project = build_hls(onnx_export.model, req.out / "hls", settings=settings, precision=spec,
                            calibration=samples.calibration, events=events)
        parts["hls"] = {k: v for k, v in project.summary().items() if k not in ("precision", "multipliers")}
        parts["precision"], parts["multipliers"] = project.precision.summary(), project.multipliers
    if req.target == "fpga":
        report = csim(project, samples.test_x, model=model, labels=samples.test_y, jobs=req.jobs, events=events,
                      target_agreement=req.target_agreement)
        parts["csim"] = report.summary()
        events("stage", {"stage": "estimate"})
        fpga = assemble_fpga_report(parts, FpgaContext(model, req.out, project, report, dict(parts)))
        atomic.write_json(req.out / "csim.json", fpga)
        parts = fpga
    atomic.write_json(req.out / "export.json", parts)
    return parts

