"""`codesign simulate`: latency, DRAM traffic, energy and resources of a model on a device, before synthesis."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Optional

import typer
from rich.table import Table

from ..errors import CodesignError
from . import app
from .console import console, err_console


def _source(model: Optional[str], checkpoint: Optional[Path], onnx: Optional[Path]) -> tuple[Any, str]:
    given = [x for x in (model if not checkpoint else None, checkpoint, onnx) if x]
    if len(given) != 1:
        raise CodesignError("give exactly one of --model NAME, --checkpoint model.pt or --onnx FILE "
                            "(see `codesign simulate --help`)")
    if onnx:
        return onnx, onnx.stem
    if checkpoint:                      # runs/mag/compact/model.pt -> "mag-compact"
        return checkpoint, "-".join(checkpoint.resolve().parent.parts[-2:]) or checkpoint.stem
    return model, model


def _like_export(model: Optional[str], checkpoint: Optional[Path], width: float, mapping):
    """precision auto: the types `codesign export` would choose for this model, per layer, and the
    zeros of its weights cast to them (the export's calibration samples; takes seconds to minutes)."""
    from dataclasses import replace

    from ..export.estimate import plan_like_export
    from ..export.weights import resolve_model

    net, source = resolve_model(model, checkpoint, None if width == 1.0 else width)
    err_console.print("precision auto: choosing every layer's types as `codesign export` does "
                      "(give --precision, e.g. ap_fixed<16,6>, to skip)", markup=False, highlight=False)
    planned = plan_like_export(net, source.meta)
    console.print(f"note: precision per layer as the export chooses it: {planned.summary['calibration_samples']} "
                  f"calibration samples ({planned.summary['samples']}), emulated top-1 agreement "
                  f"{planned.summary['emulated_agreement']:.4f}", markup=False, highlight=False)
    label = replace(mapping.precision, label="auto (the export's choice per layer)")
    return planned.network, mapping.with_(precision=label, layers={**planned.layers, **mapping.layers})


def _layer_table(data: Dict[str, Any], all_layers: bool) -> Table:
    from ..sim.markdown import fmt

    tiled = data["template"]["template"] == "tiled"
    table = Table(title="layers" + ("" if all_layers else " (with work; --all-layers shows every layer)"),
                  header_style="bold")
    for col in ("layer", "op", "MACs", "cycles", "DRAM", "bound", *(("util", "tiles") if tiled else ("RF", "DSP"))):
        table.add_column(col, justify="left" if col in ("layer", "op", "bound", "tiles") else "right",
                         overflow="fold")
    for r in data["layers"]:
        if not all_layers and r["cycles"] <= 0 and not r["weights"]:
            continue
        d = r["detail"]
        extra = ((f"{d['mac_utilisation']:.0%}", "/".join(str(v) for v in d["tiles"].values())) if "tiles" in d else
                 ("", "") if tiled else (fmt(d.get("reuse_factor")), fmt(round(r["dsp"]))))
        table.add_row(r["name"], r["op"], fmt(r["macs"]), fmt(round(r["cycles"])),
                      fmt(r["dram_read_bytes"] + r["dram_write_bytes"], "B"), r["bound"], *extra)
    return table


def _summary_table(data: Dict[str, Any]) -> Table:
    from ..sim.markdown import fmt

    t, res = data["totals"], data["device"]["resources"]
    table = Table(title=f"{data['model']['name']} on {data['device']['name']} ({data['template']['template']})",
                  show_header=False)
    table.add_column("quantity")
    table.add_column("value", justify="right")
    rows = [("latency", f"{fmt(t['latency_s'], 's')} ({fmt(round(t['latency_cycles']))} cycles)"),
            ("interval / throughput", f"{fmt(t['interval_s'], 's')} / {fmt(t['throughput_per_s'])} per s"),
            ("DRAM read / written", f"{fmt(t['dram_read_bytes'], 'B')} / {fmt(t['dram_write_bytes'], 'B')}"),
            ("energy per inference", fmt(t["energy_j"], "J")),
            ("  DRAM / on-chip", f"{fmt(t['energy_dram_j'], 'J')} / {fmt(t['energy_onchip_j'], 'J')}"),
            ("  compute / I/O", f"{fmt(t['energy_compute_j'], 'J')} / {fmt(t['energy_io_j'], 'J')}"),
            ("  static / board", f"{fmt(t['energy_static_j'], 'J')} / {fmt(t['energy_board_j'], 'J')}")]
    rows += [(k.upper(), f"{fmt(round(t[k]))} of {fmt(res[k])} ({100 * t[f'{k}_util']:.1f}%)")
             for k in ("dsp", "bram", "lut", "ff")]
    rows.append(("fits the device", "yes" if t["fits"] else f"NO ({', '.join(t['over'])} over budget)"))
    for row in rows:
        table.add_row(*row)
    return table


@app.command()
def simulate(
    model: Optional[str] = typer.Option(None, help="Zoo model (codesign list models); with --checkpoint, ignored."),
    width: float = typer.Option(1.0, help="Width multiplier of the zoo model."),
    checkpoint: Optional[Path] = typer.Option(None, help="A model file (model.pt from train/compact)."),
    onnx: Optional[Path] = typer.Option(None, help="Any ONNX file (NCHW or qonnx channels-last)."),
    device: str = typer.Option(..., help="Device name or alias (codesign list devices) or your own YAML file."),
    template: str = typer.Option("dataflow", help="dataflow (hls4ml, weights on chip) or tiled (DRAM-streaming "
                                                  "loop-tiled accelerator)."),
    reuse_factor: Optional[int] = typer.Option(None, help="dataflow: hls4ml ReuseFactor (II of each layer); "
                                                          "default 1."),
    precision: Optional[str] = typer.Option(None, help="auto (default: for --model/--checkpoint on dataflow, each "
                                                        "layer's types as `codesign export` chooses them; else "
                                                        "ap_fixed<16,6>), a type as hls4ml reads it (ap_fixed<8,3>, "
                                                        "fixed<16,6,RND_CONV,SAT>, ap_int<8>, float), a bare width "
                                                        "(8), or WEIGHT/RESULT like ap_fixed<8,3>/ap_fixed<16,6>."),
    strategy: Optional[str] = typer.Option(None, help="dataflow: Latency (zeros save multipliers; default) or "
                                                      "Resource."),
    io_type: Optional[str] = typer.Option(None, help="dataflow: io_parallel, io_stream or auto (stream for CNNs; "
                                                     "default)."),
    hls_config: Optional[Path] = typer.Option(None, "--hls-config", help="dataflow: an hls4ml configuration "
                                              "(YAML/JSON: Model and LayerName with Precision, ReuseFactor, "
                                              "Strategy per layer; also hls4ml's hls4ml_config.yml). Options "
                                              "given on the command line win over its Model values."),
    sparse_kernel: str = typer.Option("auto", help="dataflow: Dense layers on codesign's sparse kernel (only "
                                                   "nonzeros stored and multiplied): auto (default: as `codesign "
                                                   "export` chooses, by density), on or off."),
    backend: Optional[str] = typer.Option(None, help="dataflow: hls4ml backend the project is built with, Vitis "
                                                     "(default, as the export's) or Vivado: the HLS tool decides "
                                                     "where Resource-strategy weight ROMs go."),
    clock_mhz: Optional[float] = typer.Option(None, help="Clock in MHz (default: the device's)."),
    unroll: str = typer.Option("auto", help="tiled: auto, ma (Pox x Poy x Pof), zhang (Tm x Tn) or fixed "
                                            "Pof,Pif,Pox,Poy."),
    zero_skip: bool = typer.Option(False, "--zero-skip", help="tiled: model an idealised zero-skipping engine."),
    dram_layout: str = typer.Option("packed", help="tiled: packed, or aligned (channels padded to the array's "
                                                   "Pof-wide DRAM words)."),
    out: Optional[Path] = typer.Option(None, help="Report folder (default runs/sim/<model>-<device>-<template>)."),
    plot: bool = typer.Option(True, "--plot/--no-plot", help="Write roofline.png."),
    all_layers: bool = typer.Option(False, "--all-layers", help="Show every layer in the terminal table."),
    force: bool = typer.Option(False, "--force", help="Write over an existing, non-empty report folder."),
) -> None:
    """Estimate latency, throughput, DRAM traffic, energy and FPGA resources before synthesis."""
    from ..atomic import check_output_dir
    from .plot_ahead import PlotAhead

    source, label = _source(model, checkpoint, onnx)
    if out is not None:
        check_output_dir(out, force)
    given = dict(reuse_factor=reuse_factor, precision=precision, strategy=strategy, io_type=io_type,
                 clock_mhz=clock_mhz, backend=backend)
    options = dict(template=template, zero_skip=zero_skip, unroll=unroll, dram_layout=dram_layout,
                   sparse_kernel=sparse_kernel, **{k: v for k, v in given.items() if v is not None})
    like_export = (template == "dataflow" and not onnx and not hls_config
                   and (precision or "auto").strip().lower() == "auto")
    with PlotAhead(plot) as plotter:                  # matplotlib loads in parallel with the estimate
        _simulate(source, label, width, device, out, plot, all_layers, force, plotter, options, hls_config,
                  (model if not checkpoint else None, checkpoint) if like_export else None)


def _simulate(source, label: str, width: float, device: str, out: Optional[Path], plot: bool, all_layers: bool,
              force: bool, plotter, options: Dict[str, Any], hls_config: Optional[Path], like_export) -> None:
    from ..atomic import check_output_dir
    from ..lock import folder_lock
    from ..sim import Mapping, estimate, load_device, write_report

    mapping = Mapping.from_hls_config(hls_config, **options) if hls_config else Mapping(**options)
    device = load_device(device)                # a wrong name fails before any slow step
    if like_export is not None:
        source, mapping = _like_export(*like_export, width, mapping)
    report = estimate(source, device, mapping, width=width)
    data = report.to_dict()
    console.print(_layer_table(data, all_layers))
    console.print(_summary_table(data))
    for note in data["notes"]:
        console.print(f"note: {note}", markup=False, highlight=False)
    for warning in data["warnings"]:
        err_console.print(f"warning: {warning}", markup=False, highlight=False)
    folder = out or check_output_dir(Path("runs") / "sim" / f"{label}-{report.device.name}-{mapping.template}", force)
    with folder_lock(folder, "codesign simulate"):
        paths = write_report(report, folder, plot=False)
        if plot:
            paths["roofline"] = plotter.draw(data, folder / "roofline.png")
    console.print("report: " + ", ".join(str(p) for p in paths.values()), markup=False, highlight=False)
