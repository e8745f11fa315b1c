"""`codesign export`: model → ONNX → hls4ml project → C simulation, with reports."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import typer
from rich.table import Table

from ..target import DEFAULT_TARGET_AGREEMENT
from . import app
from .console import console, err_console
from .design_view import invocation
from .options import io_type_option, precision_option, run_model_file, show_summary, strategy_option

MAX_LAYER_ROWS = 40


@app.command("export")
def export(
    ctx: typer.Context,
    model: Optional[str] = typer.Option(None, help="Zoo model (codesign list models) or your own: FILE.py:FUNCTION "
                                                   "or package.module:FUNCTION returning an nn.Module; without "
                                                   "--checkpoint its embedded default or a seeded random init is "
                                                   "used."),
    model_arg: List[str] = typer.Option([], "--model-arg", help="Keyword argument of a model factory, KEY=VALUE "
                                                                "(YAML value; repeatable)."),
    checkpoint: Optional[Path] = typer.Option(None, callback=run_model_file,
                                              help="Weights: a codesign model file (train/model.pt, "
                                                   "compact/model.pt) or a run directory (its compact/model.pt, "
                                                   "else train/model.pt), a plain state_dict (with --model naming "
                                                   "its architecture) or a pickled nn.Module."),
    onnx: Optional[Path] = typer.Option(None, "--onnx", help="Export an ONNX file (float, or QONNX with Quant "
                                                             "nodes) instead of a PyTorch model."),
    input_shape: Optional[str] = typer.Option(None, "--input-shape", help="One sample's shape, e.g. 3,32,32, for "
                                                                          "models that do not record it (default: "
                                                                          "the model file's, the ONNX file's or "
                                                                          "the dataset's)."),
    target: str = typer.Option("fpga", help="onnx: ONNX checked with onnxruntime (any model torch.onnx exports; "
                                            "says whether hls4ml takes it); hls: + hls4ml project; "
                                            "fpga: + C simulation and agreement report."),
    out: Optional[Path] = typer.Option(None, help="Output folder (default: runs/<run>/export beside the "
                                                  "checkpoint's run, else runs/<model>/export)."),
    width: Optional[float] = typer.Option(None, help="Width multiplier for a randomly initialised model."),
    backend: Optional[str] = typer.Option(None, help="hls4ml backend: Vitis (default) or Vivado."),
    io_type: Optional[str] = io_type_option(),
    part: Optional[str] = typer.Option(None, help="FPGA part (default: the backend's, or --device's); with "
                                                  "--device, a part of the device's chip (another package or speed "
                                                  "grade of its die), else refused."),
    device: Optional[str] = typer.Option(None, help="The device the design is folded and estimated for: a shipped "
                                                    "name (codesign list devices) or a device YAML (default: the "
                                                    "part's shipped device; a model trained with --fit: its "
                                                    "budget's device)."),
    clock_period: Optional[float] = typer.Option(None, help="Clock period in ns, 1 to 1000 (default 5; a model "
                                                            "trained with --fit: its budget's clock)."),
    reuse_factor: Optional[str] = typer.Option(None, help="hls4ml ReuseFactor (multiplications per multiplier). auto "
                                                          "(default without --hls-config): chosen per Conv/Dense layer "
                                                          "with the strategy, for the shortest interval (then "
                                                          "latency) within --max-util of every resource of the part; "
                                                          "a number: one for every layer."),
    strategy: Optional[str] = strategy_option(),
    max_util: Optional[str] = typer.Option(None, "--max-util", help="--reuse-factor auto: the share of each of the "
                                           "part's DSP, LUT, FF and BRAM the design may use (default 0.8); per "
                                           "resource too, e.g. 0.8,DSP=0.25 (the others 0.8)."),
    max_latency_us: Optional[float] = typer.Option(None, "--max-latency-us", help="--reuse-factor auto: a latency "
                                                   "bound (us); the folding is then the least resources that meet "
                                                   "it (else the fastest, with by how much it misses)."),
    sparse_kernel: Optional[str] = typer.Option(None, help="Dense layers on the sparse kernel (only nonzero weights "
                                                "stored and multiplied, in every strategy): auto (default; density "
                                                "below the storage break-even, about 0.3, where the estimate "
                                                "prices it below the dense kernel), on or off."),
    precision: Optional[str] = precision_option(default="auto (default: per layer from calibration ranges), or "
                                                        "one for all layers: ",
                                                more=" (here a bare width, 8 or 8/16, takes each layer's integer "
                                                     "bits from the ranges), or a YAML file with per-layer overrides"),
    hls_config: Optional[Path] = typer.Option(None, "--hls-config", help="An hls4ml configuration (YAML/JSON, "
                                              "e.g. a project's hls4ml_config.yml): Model and per-layer "
                                              "Precision, ReuseFactor, Strategy, FifoDepth (io_stream FIFO "
                                              "depths, which the export writes there); IOType, ClockPeriod, Part "
                                              "(of --device's chip where both are given). Two entries of one layer "
                                              "(c1 and hls4ml's Conv2D_c1) that disagree are refused. "
                                              "Options given on the command line win over its Model values."),
    target_agreement: Optional[float] = typer.Option(None, min=0.0, max=1.0, help="Top-1 agreement the automatic "
                                                     f"precision must reach on calibration data (default "
                                                     f"{DEFAULT_TARGET_AGREEMENT:g}; a warning says where no width "
                                                     f"reaches it, or given types fall clearly below it), and the "
                                                     f"C simulation is checked against."),
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
    force: bool = typer.Option(False, "--force", help="Replace an earlier export in the output folder: only the "
                                                      "files codesign wrote (a folder holding anything else, also "
                                                      "inside its hls/ or sim/, is refused and kept)."),
) -> None:
    """Export a model to ONNX, an hls4ml project and a C-simulated FPGA design."""
    from ..export.hls import HlsSettings
    from ..export.pipeline import ExportRequest, run_export
    from ..model_source import parse_input_shape, parse_model_args

    if clock_period is not None:
        from .. import validate
        validate.clock_period_ns(clock_period, "--clock-period")
    if out is None:
        out = default_out(model, checkpoint, onnx)
    given = {k: v for k, v in dict(backend=backend, io_type=io_type, part=part, device=device,
                                   clock_period=clock_period,
                                   reuse_factor=reuse_factor, strategy=strategy, sparse_kernel=sparse_kernel,
                                   max_util=max_util, max_latency_us=max_latency_us).items() if v is not None}
    _check_target_options(target, {**{f"--{k.replace('_', '-')}": v for k, v in given.items()},
                                   "--precision": precision, "--hls-config": hls_config,
                                   "--target-agreement": target_agreement, "--calibration-samples": calibration_samples,
                                   "--csim-samples": csim_samples, "--jobs": jobs or None})
    target_agreement = DEFAULT_TARGET_AGREEMENT if target_agreement is None else target_agreement
    if max_util is not None and str(reuse_factor or "auto").lower() != "auto":
        from ..errors import ConfigError
        raise ConfigError("--max-util bounds the folding --reuse-factor auto chooses; with --reuse-factor "
                            f"{reuse_factor} the design is judged against the whole part: drop one of them")
    precision_given = (precision or "auto") != "auto" or hls_config is not None    # by the user, not inherited
    if hls_config is None and target != "onnx":   # a model trained for a device: folded as its budget was, unless
        given, precision = _as_trained(checkpoint, given, precision)          # a flag says (onnx: nothing to fold)
    if hls_config is not None:      # the file's reuse factors and strategies are taken as given
        from ..export.hls_config import read_export_config
        settings, chosen = read_export_config(hls_config, given, precision, target_agreement)
    else:
        settings, chosen = HlsSettings(**{"reuse_factor": "auto", "strategy": "auto", **given}), precision
    req = ExportRequest(
        out=out, onnx=onnx, model_args=parse_model_args(model_arg), input_shape=parse_input_shape(input_shape),
        target=target, model=model, checkpoint=checkpoint, width=width, settings=settings,
        precision=chosen if chosen is not None else "auto",
        precision_given=precision_given,
        target_agreement=target_agreement, calibration_samples=calibration_samples,
        csim_samples=csim_samples, dataset=dataset, data_dir=data_dir, jobs=jobs, force=force, seed=seed,
        qat_epochs=qat_epochs)
    with ExportProgress() as progress:
        report = run_export(req, events=progress.event)
    render(report, req.out, invocation(ctx))


#: export options by the stage that reads them: the hls4ml project's (not --target onnx) and C simulation's (--target
#: fpga only)
PROJECT_OPTIONS = ("--backend", "--io-type", "--part", "--device", "--clock-period", "--reuse-factor", "--strategy",
                   "--sparse-kernel", "--max-util", "--max-latency-us", "--precision", "--hls-config",
                   "--target-agreement", "--calibration-samples")
CSIM_OPTIONS = ("--csim-samples", "--jobs")


def _check_target_options(target: str, flags: dict) -> None:
    """Options the ``target`` never reads are a one-line error (they were silently ignored)."""
    from ..errors import ConfigError

    given = [f for f, v in flags.items() if v is not None]
    if target == "onnx":
        unread = [f for f in given if f in PROJECT_OPTIONS + CSIM_OPTIONS]
        if unread:
            raise ConfigError(f"{', '.join(unread)}: settings of the hls4ml project and its C simulation; --target "
                              f"onnx writes the ONNX model only: drop them or use --target hls or fpga")
    elif target == "hls":
        unread = [f for f in given if f in CSIM_OPTIONS]
        if unread:
            raise ConfigError(f"{', '.join(unread)}: settings of the C simulation; --target hls builds the hls4ml "
                              f"project without it: drop them or use --target fpga")


def _as_trained(checkpoint: Optional[Path], given: dict, precision: Optional[str]):
    """(settings, precision) with what the command line leaves out taken from the budget the model file
    was trained for (:mod:`codesign.export.trained_for`), and one line saying which were taken."""
    from ..export.trained_for import trained_for
    from .console import err_console

    trained = trained_for(checkpoint)
    if "part" in given:                 # the part given decides the device, not the run's
        trained.pop("device", None)
    if "device" in given:               # and the device given decides the part
        trained.pop("part", None)
    if str(given.get("reuse_factor", "auto")).lower() != "auto":
        trained = {k: v for k, v in trained.items() if k not in ("max_latency_us", "max_util")}
    taken = {k: v for k, v in trained.items() if v is not None and k not in given
             and (k != "precision" or precision is None)}
    if not taken:
        return given, precision
    from .. import target as hw

    usual = {"reuse_factor": "auto", "strategy": hw.AUTO_STRATEGY, "io_type": hw.DEFAULT_IO_TYPE,   # the export's own
             "sparse_kernel": hw.DEFAULT_SPARSE_KERNEL, "max_util": hw.DEFAULT_MAX_UTIL}
    from ..sim.device_record import label

    shown = ", ".join(f"--{k.replace('_', '-')} {label(v) if k == 'device' else v}" for k, v in taken.items()
                      if usual.get(k) != v)
    err_console.print(f"export: folded as {checkpoint} was trained (its device budget; a flag given wins): {shown}",
                      markup=False, highlight=False)
    precision = taken.pop("precision", precision)
    return {**given, **taken}, precision


def default_out(model: Optional[str], checkpoint: Optional[Path], onnx: Optional[Path]) -> Path:
    """runs/<run>/export beside a checkpoint's run, else runs/<model or ONNX file name>/export."""
    from ..model_source import is_factory

    from ..rundir import RunDir

    if checkpoint is not None:      # RUN/train|compact/model.pt → RUN/export
        return RunDir(checkpoint.parent.parent).export
    if onnx is not None:
        return RunDir(Path("runs") / onnx.stem).export
    name = model.rpartition(":")[2] if is_factory(model) else model
    return RunDir(Path("runs") / (name or "model")).export



STAGE_LABELS = {"model": "model and samples", "onnx": "ONNX export and check", "compile": "compile (g++)",
                "csim": "C simulation", "estimate": "estimate"}


class ExportProgress:
    """One line per export step with its elapsed time (a live timer while it runs) and a bar for the C
    simulation, on stderr."""

    def __init__(self):
        from rich.progress import BarColumn, MofNCompleteColumn, SpinnerColumn, TextColumn, TimeElapsedColumn

        from .progress import progress_display

        self.progress = progress_display(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                                         MofNCompleteColumn(), TimeElapsedColumn(), transient=True)
        self.stage = None
        self.label = ""
        self.started = 0.0
        self.t0 = time.perf_counter()

    def __enter__(self):
        self.progress.__enter__()
        return self

    def __exit__(self, *exc):
        self._finish(failed=exc[0] is not None)
        return self.progress.__exit__(*exc)

    def _finish(self, failed: bool = False) -> None:
        if self.stage is None:
            return
        took = time.perf_counter() - self.started
        self.progress.remove_task(self.stage)
        if not failed:          # a failure is one error line, printed by the command's handler
            self.progress.console.print(f"{self.label}: done in {_seconds(took)} "
                                        f"(total {_seconds(time.perf_counter() - self.t0)})", markup=False)
        self.stage = None

    def event(self, kind: str, payload: Dict[str, Any]) -> None:
        if kind == "stage":
            self._finish()
            extra = f" ({payload['samples']} samples)" if "samples" in payload else ""
            self.label = f"{STAGE_LABELS.get(payload['stage'], payload['stage'])}{extra}"
            self.started = time.perf_counter()
            self.stage = self.progress.add_task(self.label, total=None)
        elif kind in ("csim", "qat") and self.stage is not None:
            self.progress.update(self.stage, completed=payload["done"], total=payload["total"])
        elif kind == "message":
            self.progress.console.print(payload["text"], markup=False)


def _seconds(s: float) -> str:
    return f"{s:.1f} s" if s < 120 else f"{int(s // 60)} min {s % 60:.0f} s"


def render(report: Dict[str, Any], out: Path, command: Optional[list] = None) -> None:
    weights = report["weights"]
    console.print(f"{report['model']['name']}: weights from {weights['kind']} ({weights['detail']})", markup=False)
    from_file = weights["kind"] == "ONNX file"
    if "onnx" in report:
        onnx = report["onnx"]
        compared = "codesign's graph - the file" if from_file else "onnxruntime - PyTorch"
        console.print(f"ONNX opset {onnx['opset']}: {onnx['path']}  max |{compared}| = "
                      f"{onnx['max_abs_diff_vs_pytorch']:.3g} on {onnx['checked_samples']} samples", markup=False)
        if "hls4ml" in onnx:        # --target onnx: "supported" or "not supported: WHAT; WHAT TO DO"
            verdict = onnx["hls4ml"].split("; ")[0]
            console.print(f"hls4ml export: {verdict}" + ("" if verdict == "supported" else
                          "; --target hls and fpga refuse this model"), markup=False)
    if "qat" in report:
        show_summary(report["qat"], "quantization-aware training")
    if "hls" in report:
        hls = report["hls"]
        s = hls["settings"]
        reuse = "reuse factor and strategy per layer" if s["reuse_factor"] == "auto" else \
            f"reuse {s['reuse_factor']}, {s['strategy']}"
        console.print(f"hls4ml project: {hls['path']} ({s['backend']}, {s['io_type']}, {reuse}, "
                      f"{s['clock_period']} ns{', part ' + s['part'] if s['part'] else ''}); "
                      f"build script {hls['build_script']}", markup=False)
        if "folding" in hls:
            names = {layer["hls_name"]: layer["layer"] for layer in (report.get("precision") or {}).get("layers", [])
                     if layer.get("hls_name")}
            _folding_lines(hls["folding"], hls.get("fifo_depths_written"), estimated="estimate" in report,
                           names=names)
        elif hls.get("fifo_depths_written"):
            _fifo_line(hls["fifo_depths_written"], "")
    if "precision" in report:
        _precision_table(report["precision"])
    if "multipliers" in report:
        total = report["multipliers"]["total"]
        off_group = total.get("off_group_zeros") or 0
        grouped = f"{off_group:,} off-group in grouped convolutions, " if off_group else ""
        console.print(f"multipliers: {total['multipliers']:,} (dense {total['dense_multipliers']:,}; "
                      f"{total['zeros']:,} zero weights ({grouped}{total['pruned_zeros']:,} pruned, the rest rounded "
                      f"to zero), saved {total['saved_by_zeros']:,})", markup=False)
        _kernel_lines(report["multipliers"]["layers"])
    if "csim" in report:
        reference = "the ONNX file" if from_file else "PyTorch"
        show_summary(_readable({k: v for k, v in report["csim"].items() if k != "warnings"}),
                     f"C simulation vs {reference} ({report['samples']['dataset']})")
        for line in report["csim"].get("warnings", []):
            err_console.print(f"warning: {line}", markup=False, highlight=False)
    if "estimate" in report:
        _estimate_lines(report["estimate"], command or ["codesign", "export"])
    for key, section in report.items():
        if key not in _CORE and key != "estimate" and isinstance(section, dict):
            show_summary({k: v for k, v in section.items() if isinstance(v, (int, float, str))}, key)
    files = [out / "export.json"] + ([out / "csim.json"] if "csim" in report else [])
    files += [Path(report["estimate"]["markdown"])] if "estimate" in report else []
    console.print("reports: " + ", ".join(str(f) for f in files), markup=False)


def _readable(summary: Dict[str, Any]) -> Dict[str, Any]:
    """Times in s/min and rates to 3 significant digits (the JSON keeps the full numbers)."""
    from ..sim.markdown import fmt

    out = {}
    for key, value in summary.items():
        if isinstance(value, float) and key.endswith("_seconds"):
            value = _seconds(value)
        elif isinstance(value, float) and key.endswith("per_second"):
            value = fmt(value)
        out[key] = value
    return out


_CORE = {"model", "weights", "samples", "onnx", "hls", "precision", "multipliers", "csim", "target", "qat"}


def _folding_lines(folding: Dict[str, Any], fifo: Optional[Dict[str, int]], estimated: bool,
                   names: Optional[Dict[str, str]] = None) -> None:
    """The per-layer reuse factors the export chose, grouped, and why the interval is what it is; ``names``:
    {hls4ml layer name: the name the precision table and --hls-config use}, so one printout names a layer once."""
    import re

    from ..sim.markdown import compact_names, count
    from ..sim.util_limit import UtilLimit

    shown = {k: v for k, v in (names or {}).items() if k != v}
    layers = folding["layers"]
    groups: Dict[str, list] = {}
    for name, v in layers.items():
        groups.setdefault(f"RF {v['reuse_factor']} {v['strategy']}", []).append(shown.get(name, name))
    limit = folding["limit"]
    if shown:
        pattern = r"\b(" + "|".join(map(re.escape, sorted(shown, key=len, reverse=True))) + r")\b"
        limit = re.sub(pattern, lambda m: shown[m.group(1)], limit)
    stand_in = str(folding.get("device_match", "")).startswith("no shipped device")   # a part with no device model
    console.print(f"reuse factors (auto, {len(layers)} Conv/Dense layers, {folding['search_seconds']:.2f} s, folded "
                  f"for {folding['device']} at <= {UtilLimit.of(folding['max_util']).describe()}):", markup=False)
    if stand_in:
        console.print(f"  {folding['device_match']} (its resources and verdict below are the stand-in's, not "
                      f"your part's)", markup=False, highlight=False)
    for key, names in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        console.print(f"  {key}: {compact_names(names, 3)}", markup=False, highlight=False)
    console.print(f"  interval {count(folding['interval_cycles'])} cycles: {limit}", markup=False,
                  highlight=False)
    for note in folding.get("notes", []):
        console.print(f"  {note}", markup=False, highlight=False)
    if fifo:
        _fifo_line(fifo, "  ")
    if not estimated:
        util = ", ".join(f"{k.upper()} {100 * v:.0f}%" for k, v in folding["utilisation"].items() if k != "uram")
        in_part = all(v <= 1.0 for v in folding["utilisation"].values())      # --target fpga's "fits" (the part)
        verdict = "fits within --max-util" if folding["fits"] else \
            "over --max-util, within the part" if in_part else "does NOT fit the part"
        verdict = f"on the stand-in {folding['device']}, {verdict}" if stand_in else verdict
        console.print(f"  estimate: {verdict} ({util}); the full report comes with --target fpga or codesign "
                      f"simulate", markup=False)


def _fifo_line(fifo: Dict[str, Any], indent: str) -> None:
    from ..sim.markdown import count

    console.print(f"{indent}io_stream FIFO depths from {fifo.get('from', 'the dataflow schedule')}: {fifo['set']} "
                  f"streams, {count(fifo['words'])} words" +
                  (f" ({fifo['unmatched']} left at hls4ml's default)" if fifo["unmatched"] else ""), markup=False)


def _estimate_lines(est: Dict[str, Any], command: list) -> None:
    """The estimate in readable units, the dense comparison and the ways out."""
    from ..sim.markdown import count, fmt

    if est.get("device") is None:         # a part codesign has no device model for: counts, no fit claimed
        util = ", ".join(f"{k.upper()} {count(est[k])}" for k in ("dsp", "lut", "ff", "bram"))
        console.print(f"estimate ({est['template']}, {est['precision']}): {util}; {est['device_match']}",
                      markup=False, highlight=False)
    else:
        util = ", ".join(f"{k.upper()} {count(est[k])} ({est[f'{k}_percent']:.0f}%)" for k in ("dsp", "lut", "ff", "bram"))
        why = [f"{est['over']} over"] if est.get("over") else []
        why += [f"HLS refuses {est['refused']}"] if est.get("refused") else []
        verdict = "fits" if est["fits"] else f"does NOT fit ({'; '.join(why)})"
        console.print(f"estimate on {est['device']} ({est['template']}, {est['precision']}): {verdict}; {util}",
                      markup=False, highlight=False)
    console.print(f"  latency {fmt(est['latency_us'] * 1e-6, 's')} ({count(est['latency_cycles'])} cycles), interval "
                  f"{count(est['interval_cycles'])} cycles ({fmt(est['throughput_per_s'], '/s')} inferences), energy "
                  f"{fmt(est['energy_uj'] * 1e-6, 'J')} per inference", markup=False, highlight=False)
    if "hint" in est:
        console.print(f"  hint: {est['hint']}", markup=False, highlight=False)
    dense = est.get("dense")
    if dense:
        t = dense["totals"]
        console.print(f"  dense model ({dense['model']}): latency {fmt(t['latency_s'], 's')}, interval "
                      f"{count(t['interval_cycles'])} cycles, DSP {count(t['dsp'])}, LUT {count(t['lut'])}, BRAM "
                      f"{count(t['bram'])}, {'fits' if t['fits'] else 'does NOT fit'}", markup=False, highlight=False)
    if "ways_out" in est:
        from .design_view import print_ways_out, way_command

        ways = []
        for w in est["ways_out"]:
            if w["changes"].get("--template") == "tiled":
                line = (f"codesign simulate --onnx {Path(est['report']).parent.parent / 'model.onnx'} "
                        f"--device {est['device'] or 'YOURS.yaml'} --template tiled")
            else:
                line = way_command(w, command, ignore=["--device"])
            ways.append({**w, "command": line})
        print_ways_out(ways)


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
    for line in precision_warnings(precision):
        err_console.print(f"warning: {line}", markup=False, highlight=False)
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


def precision_warnings(precision: Dict[str, Any]) -> List[str]:
    """What the precision report must not leave unsaid: an automatic choice that missed its targets, given types
    clearly below --target-agreement (with the layers whose results leave their type's range), and an emulation
    that is not bit-exact with the C simulation."""
    out = []
    if precision.get("below_target"):
        overflows = precision.get("overflows") or []
        where = (f": the results of {', '.join(overflows[:6])}{' ...' if len(overflows) > 6 else ''} leave their "
                 f"type's range on the calibration data (see the range column)" if overflows else "")
        agree = precision["emulated_agreement"]
        out.append(f"precision {precision['source']}: emulated top-1 agreement {agree:.4f} on "
                   f"{precision['calibration_samples']} calibration samples is clearly below --target-agreement "
                   f"{precision['checked_against']:g} (the project answers otherwise than the model on "
                   f"{1 - agree:.1%} of them){where}; give wider types (more integer bits where a range is "
                   f"exceeded) or --precision auto")
    if precision.get("target_met") is False:
        out.append(f"precision auto: no width reaches --target-agreement {precision['target_agreement']} with at most "
                   f"{precision.get('max_output_error', 0.01):.0%} output error (emulated: agreement "
                   f"{precision['emulated_agreement']:.4f}, output error {precision['emulated_output_error']:.4f}); the "
                   f"types chosen are the smallest that compute what the widest compute"
                   + ("" if not _has_lookup_tables(precision) else
                      " (hls4ml computes Sigmoid, Tanh and Softmax with lookup tables, whose resolution no width "
                      "changes)"))
    if precision.get("emulation", "bit-exact") != "bit-exact":
        out.append(f"the emulated agreement is not bit-exact with the C simulation: {precision['emulation']}")
    return out


def _has_lookup_tables(precision: Dict[str, Any]) -> bool:
    return any(row.get("op") in ("Sigmoid", "Tanh", "Softmax") for row in precision.get("layers", []))


def _short(hls_type: Optional[str]) -> str:
    return hls_type.replace(",RND_CONV,SAT>", ">") if hls_type else ""
