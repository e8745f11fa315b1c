"""`codesign simulate`: latency, DRAM traffic, energy and resources of a model on a device, before synthesis."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Dict, List, Optional

import typer

from ..errors import CodesignError
from . import app
from .console import console, err_console
from .design_view import invocation, print_design, print_ways_out, way_command
from .options import io_type_option, precision_option, run_model_file, strategy_option


def _source(model: Optional[str], checkpoint: Optional[Path], onnx: Optional[Path], model_args: Dict[str, Any],
            input_shape: Optional[tuple], width: float) -> tuple[Any, str]:
    """What to simulate (an ONNX path, a zoo name or a loaded module) and a label for the report folder."""
    from ..model_source import build_model, is_factory, load_any, unknown_input_shape

    given = [x for x in (model if not checkpoint else None, checkpoint, onnx) if x]
    if len(given) != 1:
        raise CodesignError("give exactly one of --model NAME|FILE.py:FUNCTION, --checkpoint FILE or --onnx FILE "
                            "(see `codesign simulate --help`)")
    if onnx:
        return onnx, onnx.stem
    if checkpoint:                      # runs/mag/compact/model.pt -> "mag-compact"
        loaded, _ = load_any(checkpoint, model, model_args, input_shape)
        if (getattr(loaded, "codesign_spec", None) or {}).get("in_shape") is None:
            raise unknown_input_shape(f"the model in {checkpoint}", loaded)
        return loaded, "-".join(checkpoint.resolve().parent.parts[-2:]) or checkpoint.stem
    if is_factory(model):
        built = build_model(model, model_args, input_shape, width=width)
        if built.codesign_spec.get("in_shape") is None:
            raise unknown_input_shape(built.codesign_spec.get("name", model), built)   # named as export names it
        return built.eval(), model.rpartition(":")[2]
    if model_args:
        raise CodesignError(f"--model-arg applies to model factories (FILE.py:FUNCTION), not to zoo model '{model}'")
    return (build_model(model, None, input_shape, width=width).eval(), model) if input_shape else (model, model)


def _with_quantizers(network, mapping):
    """precision auto on a QONNX file: each quantized layer's types from its quantizers, as hls4ml takes them
    (hls4ml's default ap_fixed<16,6> elsewhere)."""
    from ..sim.mapping import quantizer_layers

    layers = quantizer_layers(network)
    if not layers:
        return mapping
    console.print(f"note: precision of {len(layers)} layers from the file's quantizers (QONNX Quant), "
                  f"{mapping.precision.label} elsewhere", markup=False, highlight=False)
    label = replace(mapping.precision, label=f"auto (the file's quantizers; {mapping.precision.label} elsewhere)")
    return mapping.with_(precision=label, layers={**layers, **mapping.layers})


def _like_export(model: Optional[str], checkpoint: Optional[Path], onnx: Optional[Path], width: float, mapping,
                 precision: Optional[str], hls_config: Optional[Path], model_args: Dict[str, Any],
                 input_shape: Optional[tuple]):
    """The network and per-layer types of what `codesign export --precision PRECISION` (or `--hls-config FILE`)
    would build for this model or ONNX file: its types per layer and the zeros and shift-and-add constants of its
    weights cast to them, after the export's own checks (supported layers, io_stream kernels). ``auto`` and bare
    widths choose on the export's calibration samples (seconds to minutes); an ONNX file's ``auto`` is hls4ml's
    default ap_fixed<16,6>. None for a QONNX file (its quantizers set the types: the caller reads it as it is),
    once the export's checks have passed."""
    from ..export.estimate import ExportPlanner
    from ..export.onnx import module_types
    from ..export.onnx_file import is_qonnx
    from ..export.precision import precision_spec
    from ..export.support import check_io_stream
    from ..export.weights import resolve_model
    from ..sim.mapping import AUTO

    if onnx is not None:
        from ..sim import load_network
        load_network(onnx)                  # the simulator's own checks of the file (shapes, weights that fit)
        planner, kinds = ExportPlanner.of_onnx(onnx, input_shape), None
        if is_qonnx(planner.model):
            check_io_stream(planner.clean, mapping.io_type)
            return None
    else:
        net, source = resolve_model(model, checkpoint, None if width == 1.0 else width, model_args=model_args,
                                    in_shape=input_shape)
        planner, kinds = ExportPlanner(net, source.meta), module_types(net)
    if hls_config is not None:                                       # the file's types, as the export reads them
        from ..export.hls_config import export_precision
        spec = export_precision(hls_config, precision)
    else:
        spec = precision_spec("ap_fixed<16,6>" if onnx is not None and (precision or AUTO) == AUTO else precision)
    _check(planner, mapping, spec, kinds)
    _announce(spec, precision)
    planned = planner.plan(spec)
    if spec.needs_calibration:
        console.print(f"note: precision per layer as the export chooses it: {planned.summary['calibration_samples']} "
                      f"calibration samples ({planned.summary['samples']}), emulated top-1 agreement "
                      f"{planned.summary['emulated_agreement']:.4f}", markup=False, highlight=False)
    bare = spec.default != AUTO and None in (spec.default.weight, spec.default.result)
    label = ("auto (the export's choice per layer)" if spec.default == AUTO else
             f"{mapping.precision.label} (integer bits per layer as the export chooses them)" if bare else
             mapping.precision.label)
    return planned.network, mapping.with_(precision=replace(mapping.precision, label=label), accum=AUTO,
                                          layers=_with_types(planned.layers, mapping.layers))


def _check(planner, mapping, spec, module_types) -> None:
    """What the export checks before any slow step (the calibration): io_stream kernels, the layers a
    precision file or an hls4ml config names (its Precision as the export reads it, its other settings as the
    estimate reads them)."""
    from ..export.precision import override_targets
    from ..export.support import check_io_stream
    from ..sim.estimate import hardware_network

    check_io_stream(planner.clean, mapping.io_type, module_types)
    override_targets(spec, planner.clean)
    network = hardware_network(planner.network, mapping)
    mapping.layer_settings([layer.name for layer in network.layers], network.meta.get("input"))


def _announce(spec, precision: Optional[str]) -> None:
    if spec.default == "auto":
        err_console.print("precision auto: choosing every layer's types as `codesign export` does "
                          "(give --precision, e.g. ap_fixed<16,6>, to skip)", markup=False, highlight=False)
    elif spec.needs_calibration:
        err_console.print(f"precision {precision or spec.source}: choosing every layer's integer bits as `codesign "
                          f"export` does (give types, e.g. ap_fixed<16,6>, to skip)", markup=False, highlight=False)


def _with_types(planned, given):
    """The per-layer settings of a planned design: the plan's types (which already hold an hls4ml config's
    per-layer Precision, as the export applies it), the other settings (ReuseFactor, Strategy, FifoDepth,
    SparseKernel) from ``given`` (the command line's and the config's); accumulators are hls4ml's lossless
    inference, as the export leaves them."""
    from ..sim.mapping import LayerSettings

    out = dict(planned)
    for name, ls in given.items():
        rest = replace(ls, weight=None, bias=None, result=None, accum=None)
        if rest != LayerSettings():
            out[name] = out[name].merged(rest) if name in out else rest
    return out


@app.command()
def simulate(
    ctx: typer.Context,
    model: Optional[str] = typer.Option(None, help="Zoo model (codesign list models) or FILE.py:FUNCTION / "
                                                   "package.module:FUNCTION; with --checkpoint, the architecture "
                                                   "of a plain state_dict."),
    model_arg: List[str] = typer.Option([], "--model-arg", help="Keyword argument of a model factory, KEY=VALUE "
                                                                "(repeatable)."),
    input_shape: Optional[str] = typer.Option(None, "--input-shape", help="One sample's shape, e.g. 3,32,32 (for "
                                                                          "models that do not record it)."),
    width: float = typer.Option(1.0, help="Width multiplier of the zoo model."),
    checkpoint: Optional[Path] = typer.Option(None, callback=run_model_file,
                                              help="A model file (model.pt from train/compact) or a run "
                                                   "directory (its compact/model.pt, else train/model.pt), a plain "
                                                   "state_dict (with --model) or a pickled nn.Module."),
    onnx: Optional[Path] = typer.Option(None, help="Any ONNX file (NCHW or qonnx channels-last)."),
    device: str = typer.Option(..., help="Device name or alias (codesign list devices) or your own YAML file."),
    template: str = typer.Option("dataflow", help="dataflow (hls4ml, weights on chip) or tiled (DRAM-streaming "
                                                  "loop-tiled accelerator)."),
    reuse_factor: Optional[str] = typer.Option(None, help="dataflow: hls4ml ReuseFactor. auto (default without "
                                                          "--hls-config): chosen per layer with the strategy, for "
                                                          "the shortest interval (then latency) within --max-util "
                                                          "of every resource; a number: one for every layer."),
    max_util: Optional[str] = typer.Option(None, "--max-util", help="dataflow, --reuse-factor auto: the share of "
                                           "each of the device's DSP, LUT, FF and BRAM the design may use (default "
                                           "0.8); per resource too, e.g. 0.8,DSP=0.25 (the others 0.8)."),
    max_latency_us: Optional[float] = typer.Option(None, "--max-latency-us", help="dataflow, --reuse-factor auto: "
                                                   "a latency bound (us); the folding is then the least resources "
                                                   "that meet it (else the fastest, with by how much it misses)."),
    precision: Optional[str] = precision_option(default="auto (default: for --model/--checkpoint on dataflow, each "
                                                        "layer's types as `codesign export` chooses them; else "
                                                        "ap_fixed<16,6>, with a QONNX file's quantizer types "
                                                        "where it has them; at any fixed-point precision the "
                                                        "dataflow template estimates what the export builds: "
                                                        "its checks, BatchNorm folded, the weights cast as the "
                                                        "export casts them), ",
                                                more=", or float (an fp32 design, which the export does not build)"),
    strategy: Optional[str] = strategy_option("dataflow: "),
    io_type: Optional[str] = io_type_option("dataflow: "),
    hls_config: Optional[Path] = typer.Option(None, "--hls-config", help="dataflow: an hls4ml configuration "
                                              "(YAML/JSON: Model and LayerName with Precision, ReuseFactor, "
                                              "Strategy per layer; also hls4ml's hls4ml_config.yml, with the "
                                              "FIFO depths the export writes as FifoDepth; its Part, if any, of "
                                              "--device's chip; two entries of one layer that disagree are refused), "
                                              "taken as given (no "
                                              "--reuse-factor auto unless asked); the weights are cast to its "
                                              "types as the export casts them. Options given on the command "
                                              "line win over its Model values."),
    sparse_kernel: Optional[str] = typer.Option(None, help="dataflow: Dense layers on codesign's sparse kernel (only "
                                                   "nonzeros stored and multiplied): auto (default: as `codesign "
                                                   "export` chooses: below the storage break-even density, where "
                                                   "it costs less than the dense kernel), on or off."),
    backend: Optional[str] = typer.Option(None, help="dataflow: hls4ml backend the project is built with, Vitis "
                                                     "(default, as the export's) or Vivado: the HLS tool decides "
                                                     "where Resource-strategy weight ROMs go, whether a ROM "
                                                     "multiplier is a DSP and the interval of one-word "
                                                     "io_stream layers."),
    clock_mhz: Optional[float] = typer.Option(None, help="Clock in MHz, 1 to 1000 (default: the device's)."),
    unroll: Optional[str] = typer.Option(None, help="tiled: auto (default), ma (Pox x Poy x Pof), zhang (Tm x Tn) "
                                                    "or fixed Pof,Pif,Pox,Poy."),
    zero_skip: bool = typer.Option(False, "--zero-skip", help="tiled: model an idealised zero-skipping engine."),
    dram_layout: Optional[str] = typer.Option(None, help="tiled: packed (default), or aligned (channels padded to "
                                                             "the array's Pof-wide DRAM words)."),
    out: Optional[Path] = typer.Option(None, help="Report folder (default runs/sim/<model>-<device>-<template>)."),
    plot: bool = typer.Option(True, "--plot/--no-plot", help="Write roofline.png."),
    all_layers: bool = typer.Option(False, "--all-layers", help="Show every layer in the terminal table."),
    force: bool = typer.Option(False, "--force", help="Write over the report in an existing report folder (a "
                                                    "folder holding other files is refused)."),
) -> None:
    """Estimate latency, throughput, DRAM traffic, energy and FPGA resources before synthesis."""
    from ..atomic import check_output_dir
    from ..lock import folder_lock
    from ..rundir import REPORT_FILES
    from ..sim import load_device
    from ..sim.folding import AUTO, check_max_latency, check_max_util, parse_reuse_factor
    from ..target import DEFAULT_MAX_UTIL
    from .options import DATAFLOW_ONLY_OPTIONS, TILED_ONLY_OPTIONS
    from .plot_ahead import PlotAhead

    from ..model_source import parse_input_shape, parse_model_args

    from ..target import template as checked_template

    template = checked_template(template)
    if clock_mhz is not None:
        from .. import validate
        validate.clock_mhz(clock_mhz, "--clock-mhz")
    model_args, shape = parse_model_args(model_arg), parse_input_shape(input_shape)
    source, label = _source(model, checkpoint, onnx, model_args, shape, width)
    rf = parse_reuse_factor(reuse_factor if reuse_factor is not None else
                            (AUTO if template == "dataflow" and not hls_config else "1"))
    from ..errors import ConfigError
    chooses = rf == AUTO and template == "dataflow"
    if max_util is not None and not chooses:
        raise ConfigError("--max-util bounds the folding that the dataflow template's --reuse-factor auto chooses; "
                          "here the folding is given and judged against the whole device: drop one of them")
    max_util = check_max_util(max_util if max_util is not None else DEFAULT_MAX_UTIL)
    if max_latency_us is not None:
        check_max_latency(max_latency_us)
        if not chooses:
            raise ConfigError("--max-latency-us needs the dataflow template with --reuse-factor auto (it chooses "
                              "the folding)")
    given_flags = {"--reuse-factor": reuse_factor, "--io-type": io_type, "--strategy": strategy, "--backend": backend,
                   "--sparse-kernel": sparse_kernel, "--hls-config": hls_config, "--unroll": unroll,
                   "--zero-skip": zero_skip or None, "--dram-layout": dram_layout}
    dataflow_only = [f for f in DATAFLOW_ONLY_OPTIONS if given_flags.get(f) is not None]
    if template != "dataflow" and dataflow_only:     # (--max-util and --max-latency-us: refused above)
        raise ConfigError(f"{', '.join(dataflow_only)}: hls4ml settings of the dataflow template; the {template} "
                          f"template has none of them: drop them or use --template dataflow")
    tiled_only = [f for f in TILED_ONLY_OPTIONS if given_flags.get(f) is not None]
    if template == "dataflow" and tiled_only:
        raise ConfigError(f"{', '.join(tiled_only)}: settings of the tiled template; the dataflow template (hls4ml) "
                          f"has none of them: drop them or use --template tiled")
    sparse_kernel, unroll, dram_layout = sparse_kernel or "auto", unroll or "auto", dram_layout or "packed"
    given = dict(precision=precision, io_type=io_type, clock_mhz=clock_mhz, backend=backend,
                 reuse_factor=rf if reuse_factor is not None and rf != AUTO else None,
                 strategy=strategy if strategy is not None and strategy.strip().lower() != AUTO else None)
    options = dict(template=template, zero_skip=zero_skip, unroll=unroll, dram_layout=dram_layout,
                   sparse_kernel=sparse_kernel, **{k: v for k, v in given.items() if v is not None})
    from ..fixed_point import parse_precision
    like_export = template == "dataflow" and not parse_precision(precision, "--precision").is_float   # (the export
    # builds no float design; nor of a float --hls-config, see _simulate)
    fold = dict(reuse_factor=rf, strategy=strategy, max_util=max_util, checkpoint=checkpoint, argv=invocation(ctx),
                max_latency_us=max_latency_us)
    dev = load_device(device)                         # a wrong name fails before any slow step
    if hls_config is not None and template == "dataflow":    # the file's part is the chip priced, or none is
        from ..export.hls_config import config_part
        from ..sim.device import check_same_chip
        part = config_part(hls_config)
        if part:
            check_same_chip(part, f"the Part of {hls_config}", dev, f"--device {device}",
                            f"give the --device of that part (another package or speed grade of the die is the same "
                            f"chip), or remove Part from the file to price its design on {dev.name}")
    out = out or Path("runs") / "sim" / f"{label}-{dev.name}-{template}"
    check_output_dir(out, force, replaces=REPORT_FILES)
    # the lock makes the folder now: one that cannot be made (or is another's) fails before the estimate
    with folder_lock(out, "codesign simulate"), PlotAhead(plot) as plotter:  # matplotlib loads in parallel
        _simulate(source, label, width, dev, out, plot, all_layers, plotter, options, hls_config,
                  (model, checkpoint, onnx) if like_export else None, fold, model_args, shape)


def _simulate(source, label: str, width: float, device, out: Path, plot: bool, all_layers: bool,
              plotter, options: Dict[str, Any], hls_config: Optional[Path], like_export,
              fold: Dict[str, Any], model_args: Dict[str, Any], shape: Optional[tuple]) -> None:
    """``out``: the report folder (checked and locked by the caller); ``fold``: the folding options
    (reuse_factor 'auto' or a number, strategy, max_util) and what the ways out need (checkpoint, the command
    line); ``model_args``/``shape``: a factory's arguments and input shape."""
    from ..sim import Mapping, load_device, load_network, write_report
    from ..sim.fitted import fitted_estimate
    from ..sim.folding import AUTO, parse_strategy
    from ..target import latency_cycles

    mapping = Mapping.from_hls_config(hls_config, **options) if hls_config else Mapping(**options)
    rf, max_util, checkpoint = fold["reuse_factor"], fold["max_util"], fold["checkpoint"]
    if rf != AUTO:
        rf = mapping.reuse_factor
    strategies = parse_strategy(fold["strategy"] or (AUTO if rf == AUTO else mapping.strategy), rf)
    dev = load_device(device)
    max_util.check_device(dev)               # a share of a resource it has none of (URAM on a Zynq): before any slow step
    planned = None
    if like_export is not None and not mapping.precision.is_float:
        planned = _like_export(*like_export, width, mapping, options.get("precision"), hls_config, model_args, shape)
    if planned is not None:
        network, mapping = planned
    else:
        network = load_network(source, width)
        if not hls_config and (options.get("precision") or "auto").strip().lower() == "auto":
            mapping = _with_quantizers(network, mapping)
    bound = fold.get("max_latency_us")
    bound = latency_cycles(bound, mapping.clock_hz(dev) / 1e6) if bound is not None else None
    report, folding = fitted_estimate(network, dev, mapping, rf, strategies, max_util, dense=_dense(checkpoint, network),
                                      max_latency_cycles=bound)
    if folding is not None and not folding.fits:
        report = report.with_sections(ways_out=_ways_out(network, dev, mapping, max_util, strategies, source, width,
                                                         fold["argv"]))
    data = report.to_dict()
    print_design(data, all_layers)
    if "ways_out" in data:
        print_ways_out(data["ways_out"])
    paths = write_report(report, out, plot=False)
    if plot:
        paths["roofline"] = plotter.draw(data, out / "roofline.png")
    console.print("report: " + ", ".join(str(p) for p in paths.values()), markup=False, highlight=False)


def _dense(checkpoint: Optional[Path], network):
    """The unpruned architecture a pruned/compacted checkpoint was trained from (None otherwise)."""
    if checkpoint is None:
        return None
    from ..checkpoint import MODEL_FORMAT, read
    from ..sim import zoo_network
    from ..sim.fitted import is_reduced

    try:
        spec = read(checkpoint, MODEL_FORMAT).get("model_spec") or {}
    except CodesignError:                          # a plain state_dict or a pickled module: no record of it
        return None
    if not spec.get("name") or spec.get("pickled"):
        return None
    if "factory" in spec:                          # a user's factory: a fresh model of its recorded arguments
        from ..model_source import build_from_spec
        from ..sim.estimate import module_network
        dense = module_network(build_from_spec(spec).eval(), spec.get("in_shape"))
    else:
        dense = zoo_network(spec["name"], float(spec.get("width", 1.0)), spec.get("in_shape"),
                            spec.get("num_classes"))
    return dense if is_reduced(network, dense) else None


def _ways_out(network, device, mapping, max_util, strategies, source, width, argv):
    """The ways out as report entries with their ready-to-run ``codesign simulate`` lines (``source``: what
    :func:`_source` returned, for the zoo model and width a narrower model is asked by)."""
    from ..model_source import zoo_name
    from ..sim.ways_out import ways_out

    if isinstance(source, str):                     # a zoo name at --width
        zoo = source
    else:                                           # a module (its spec says what it is) or an ONNX path
        spec = getattr(source, "codesign_spec", None) or {}
        zoo, width = zoo_name(spec), float(spec.get("width", width))
    return [{**way.describe(), "command": way_command(way.describe(), argv, ignore=["--part"])}
            for way in ways_out(network, device, mapping, max_util, strategies, width, zoo)]
