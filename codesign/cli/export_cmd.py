"""`codesign export`: model → ONNX → hls4ml project → C simulation, with reports."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Optional

import typer
from rich.table import Table

from . import app
from .console import console
from .options import show_summary
from .progress import BarProgress

MAX_LAYER_ROWS = 40


@app.command("export")
def export(
    model: Optional[str] = typer.Option(None, help="Zoo model (codesign list models); without --checkpoint its "
                                                   "embedded default or a seeded random init is used."),
    checkpoint: Optional[Path] = typer.Option(None, help="Model file to export (train/model.pt, compact/model.pt)."),
    target: str = typer.Option("fpga", help="onnx: ONNX checked with onnxruntime; hls: + hls4ml project; "
                                            "fpga: + C simulation and agreement report."),
    out: Optional[Path] = typer.Option(None, help="Output folder (default: runs/<run>/export beside the "
                                                  "checkpoint's run, else runs/<model>/export)."),
    width: Optional[float] = typer.Option(None, help="Width multiplier for a randomly initialised model."),
    backend: Optional[str] = typer.Option(None, help="hls4ml backend: Vitis (default) or Vivado."),
    io_type: Optional[str] = typer.Option(None, help="auto (default: io_parallel for MLPs, io_stream for conv "
                                                     "nets), io_parallel or io_stream."),
    part: Optional[str] = typer.Option(None, help="FPGA part (default: the backend's)."),
    clock_period: Optional[float] = typer.Option(None, help="Clock period in ns (default 5)."),
    reuse_factor: Optional[int] = typer.Option(None, help="hls4ml reuse factor (multiplications per multiplier; "
                                                          "default 1)."),
    strategy: Optional[str] = typer.Option(None, help="Latency (default: pruned zeros save multipliers) or "
                                                      "Resource."),
    sparse_kernel: str = typer.Option("auto", help="Dense layers on the sparse kernel (only nonzero weights stored "
                                                   "and multiplied, in every strategy): auto (density below the "
                                                   "storage break-even, about 0.3, and for layers over 4096 "
                                                   "nonzeros a reuse factor >= nonzeros per output), on or off."),
    precision: Optional[str] = typer.Option(None, help="auto (default: per layer from calibration ranges), one "
                                               "type for all (e.g. 'fixed<16,6,RND_CONV,SAT>'; no modes: TRN, "
                                               "WRAP as in hls4ml), WEIGHT/RESULT such as "
                                               "'ap_fixed<8,3>/ap_fixed<16,6>', widths such as 8 or 8/16 (integer "
                                               "bits per layer from the ranges), or a YAML file with per-layer "
                                               "overrides."),
    hls_config: Optional[Path] = typer.Option(None, "--hls-config", help="An hls4ml configuration (YAML/JSON, "
                                              "e.g. a project's hls4ml_config.yml): Model and per-layer "
                                              "Precision, ReuseFactor, Strategy; IOType, ClockPeriod, Part. "
                                              "Options given on the command line win over its Model values."),
    target_agreement: float = typer.Option(0.999, min=0.0, max=1.0, help="Top-1 agreement the automatic precision "
                                                                         "must reach on calibration data."),
    csim_samples: Optional[int] = typer.Option(None, min=1, help="Samples to simulate (default: by model size, "
                                                                 "10-1000)."),
    calibration_samples: Optional[int] = typer.Option(None, min=1, help="Samples for the precision choice "
                                                                 "(default: by model size, 32-1000)."),
    dataset: Optional[str] = typer.Option(None, help="Dataset for calibration and csim samples (default: the "
                                                     "model's training set, MNIST for 1x28x28 models, else "
                                                     "synthetic)."),
    data_dir: Optional[Path] = typer.Option(None, help="Data folder."),
    jobs: int = typer.Option(0, min=0, help="C simulation processes (0: one per core)."),
    qat_epochs: int = typer.Option(0, "--qat-epochs", min=0, help="Quantization-aware path: fine-tune this many epochs "
                                                          "with brevitas power-of-two quantizers and export "
                                                          "through QONNX (0: off)."),
    seed: int = typer.Option(0, help="Seed for random init, synthetic samples and QAT."),
    force: bool = typer.Option(False, "--force", help="Replace an existing output folder."),
) -> None:
    """Export a model to ONNX, an hls4ml project and a C-simulated FPGA design."""
    from ..export.hls import HlsSettings
    from ..export.pipeline import ExportRequest, run_export
    from ..rundir import RunDir

    if out is None:     # beside the run the checkpoint comes from (RUN/train|compact/model.pt → RUN/export)
        out = RunDir(checkpoint.parent.parent if checkpoint else Path("runs") / (model or "model")).export
    given = {k: v for k, v in dict(backend=backend, io_type=io_type, part=part, clock_period=clock_period,
                                   reuse_factor=reuse_factor, strategy=strategy, sparse_kernel=sparse_kernel).items()
             if v is not None}
    if hls_config is not None:
        from ..export.hls_config import read_export_config
        settings, chosen = read_export_config(hls_config, given, precision, target_agreement)
    else:
        settings, chosen = HlsSettings(**given), precision
    req = ExportRequest(
        out=out,
        target=target, model=model, checkpoint=checkpoint, width=width, settings=settings,
        precision=chosen if chosen is not None else "auto",
        precision_given=(precision or "auto") != "auto" or hls_config is not None,
        target_agreement=target_agreement, calibration_samples=calibration_samples,
        csim_samples=csim_samples, dataset=dataset, data_dir=data_dir, jobs=jobs, force=force, seed=seed,
        qat_epochs=qat_epochs)
    with ExportProgress() as progress:
        report = run_export(req, events=progress.event)
    render(report, req.out)


class ExportProgress(BarProgress):
    """Stage lines and a csim progress bar on stderr."""

    def __init__(self):
        super().__init__(info=False, transient=True)

    def event(self, kind: str, payload: Dict[str, Any]) -> None:
        if kind == "stage":
            extra = f" ({payload['samples']} samples)" if "samples" in payload else ""
            self.progress.console.print(f"{payload['stage']}{extra} ...", markup=False)
        elif kind in ("csim", "qat"):
            if self.task is None:
                self.task = self.progress.add_task(kind, total=payload["total"])
            self.progress.update(self.task, completed=payload["done"], total=payload["total"])


def render(report: Dict[str, Any], out: Path) -> None:
    weights = report["weights"]
    console.print(f"{report['model']['name']}: weights from {weights['kind']} ({weights['detail']})", markup=False)
    if "onnx" in report:
        onnx = report["onnx"]
        console.print(f"ONNX opset {onnx['opset']}: {onnx['path']}  max |onnxruntime - PyTorch| = "
                      f"{onnx['max_abs_diff_vs_pytorch']:.3g} on {onnx['checked_samples']} samples", markup=False)
    if "qat" in report:
        show_summary(report["qat"], "quantization-aware training")
    if "hls" in report:
        hls = report["hls"]
        s = hls["settings"]
        console.print(f"hls4ml project: {hls['path']} ({s['backend']}, {s['io_type']}, reuse {s['reuse_factor']}, "
                      f"{s['strategy']}, {s['clock_period']} ns{', part ' + s['part'] if s['part'] else ''}); "
                      f"build script {hls['build_script']}", markup=False)
    if "precision" in report:
        _precision_table(report["precision"])
    if "multipliers" in report:
        total = report["multipliers"]["total"]
        console.print(f"multipliers: {total['multipliers']:,} (dense {total['dense_multipliers']:,}; "
                      f"{total['zeros']:,} zero weights, {total['pruned_zeros']:,} of them pruned and the rest "
                      f"rounded to zero, saved {total['saved_by_zeros']:,})", markup=False)
        _kernel_lines(report["multipliers"]["layers"])
    if "csim" in report:
        show_summary({k: v for k, v in report["csim"].items()}, f"C simulation vs PyTorch ({report['samples']['dataset']})")
    for key, section in report.items():
        if key not in _CORE and isinstance(section, dict):
            show_summary({k: v for k, v in section.items() if isinstance(v, (int, float, str))}, key)
    files = [out / "export.json"] + ([out / "csim.json"] if "csim" in report else [])
    files += [Path(report["estimate"]["markdown"])] if "estimate" in report else []
    console.print("reports: " + ", ".join(str(f) for f in files), markup=False)


_CORE = {"model", "weights", "samples", "onnx", "hls", "precision", "multipliers", "csim", "target", "qat"}


def _kernel_lines(layers) -> None:
    for row in layers[:MAX_LAYER_ROWS]:
        if row.get("kernel") == "sparse":
            console.print(f"  {row['layer']}: sparse kernel, {row['multipliers']:,} multipliers (dense "
                          f"{row['dense_multipliers']:,}), II {row['initiation_interval']}, storage "
                          f"{row['sparse_weight_bits']:,} weight + {row['sparse_index_bits']:,} index bits (dense "
                          f"{row['dense_bits']:,})", markup=False)


def _precision_table(precision: Dict[str, Any]) -> None:
    layers = precision["layers"]
    title = (f"precision ({precision['source']}): emulated top-1 agreement {precision['emulated_agreement']:.4f}, "
             f"output error {precision['emulated_output_error']:.4f} on {precision['calibration_samples']} "
             f"calibration samples")
    if len(layers) > MAX_LAYER_ROWS:
        console.print(f"{title}; {len(layers)} layers (per-layer types in export.json)", markup=False)
        return
    table = Table(title=title, show_header=True, header_style="bold")
    for column in ("layer", "op", "weight", "bias", "result", "range"):
        table.add_column(column)
    for row in layers:
        lo, hi = row.get("out_min"), row.get("out_max")
        table.add_row(row["layer"], row["op"], _short(row["weight"]), _short(row["bias"]), _short(row["result"]),
                      f"[{lo:.3g}, {hi:.3g}]" if lo is not None else "")
    console.print(table)


def _short(hls_type: Optional[str]) -> str:
    return hls_type.replace(",RND_CONV,SAT>", ">") if hls_type else ""
