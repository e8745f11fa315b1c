"""The hls4ml project: configuration from our settings and precision plan, conversion of the
channels-last ONNX graph, and the project written to disk, ready for vendor synthesis (hls4ml's
own ``build_prj.tcl`` is in it)."""
from __future__ import annotations

import contextlib
import copy
import io
import os
import shutil
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, Optional, Sequence, Union

import numpy as np
import onnx
import torch
import torch.nn as nn

from .. import atomic, target, validate, written
from ..errors import ConfigError, ExportError
from ..events import Events, quiet
from ..sim.hls_rules import pipeline_style_for
from . import lut
from .emulate import leaky_alpha_type, tensor_types
from .lut import LUT_OPS
from .fixed import quantize
from .onnx import in_shape_of, module_types, to_onnx_proto
from .passes import CleanGraph, clean_graph, hls_ready
from .precision import PrecisionPlan, PrecisionSpec, choose_precision, precision_spec
from .sparsity import multiplier_report
from .support import check_io_stream


@dataclass(frozen=True)
class HlsSettings:
    """The hls4ml project's settings, in the hardware-target vocabulary of :mod:`codesign.target`."""
    backend: str = target.DEFAULT_BACKEND
    io_type: str = target.DEFAULT_IO_TYPE   # auto: io_parallel for MLPs, io_stream for conv nets
    part: Optional[str] = None         # None: the backend's default part
    clock_period: float = target.DEFAULT_CLOCK_PERIOD_NS
    reuse_factor: Union[int, str] = target.DEFAULT_REUSE_FACTOR   # "auto": per layer, see codesign/export/fold.py
    strategy: str = target.DEFAULT_STRATEGY   # "auto": per layer with reuse_factor "auto", else Latency
    project_name: str = "myproject"
    sparse_kernel: str = target.DEFAULT_SPARSE_KERNEL   # auto (by cost) | on | off: see sim/sparse_choice.py
    layers: Dict[str, Dict[str, Any]] = field(default_factory=dict, hash=False)   # per layer: ReuseFactor, Strategy
    max_util: Union[float, Dict[str, float]] = field(default=0.8, hash=False)   # reuse_factor "auto": share of
    # each device resource the design may use (one, or per resource: codesign.sim.util_limit)
    pipeline_style: str = "auto"       # hls4ml's PipelineStyle; auto: dataflow when a Latency layer has RF > 1
    max_latency_us: Optional[float] = None   # reuse_factor "auto": the least resources within this latency
    device: Union[str, Dict[str, Any], None] = field(default=None, hash=False)   # the device folded and estimated
    # for: a shipped name, or a device file's content (checked() reads a file once: codesign.sim.device_record);
    # None: the part's
    fifo_depths: Dict[str, Any] = field(default_factory=dict, hash=False)   # io_stream, reuse factors given:
    # {layer: depth or [own, copy 1, ...]} (an hls4ml config's FifoDepth, codesign/export/fifo.py)

    def checked(self) -> "HlsSettings":
        from ..sim.folding import AUTO, check_max_latency, check_max_util, parse_reuse_factor

        clock = validate.clock_period_ns(self.clock_period, "clock period (ns)")
        part = validate.part(self.part) if self.part is not None else None
        device = self.device
        if device is not None:                         # the device folded for is the part's chip
            from ..sim import load_device
            from ..sim.device import check_same_chip
            from ..sim.device_record import recorded
            said = f"--device {device}" if isinstance(device, str) else f"the device {device.get('name')}"
            device = recorded(device)           # a file's content, what the export folds for and records
            loaded = load_device(device)
            device_part = validate.part(loaded.part, f"{said}: the device's part")
            if part is not None:
                check_same_chip(part, "the project's part (--part, or Part in --hls-config)", loaded, said)
            part = part or device_part
        reuse = parse_reuse_factor(self.reuse_factor)
        auto_strategy = str(self.strategy).lower() == AUTO
        strategy = (AUTO if reuse == AUTO else target.DEFAULT_STRATEGY) if auto_strategy else target.strategy(self.strategy)
        bound = self.max_latency_us
        if bound is not None:
            bound = check_max_latency(bound)
            if reuse != AUTO:
                from ..errors import ConfigError
                raise ConfigError("--max-latency-us needs --reuse-factor auto (it chooses the folding)")
        return HlsSettings(target.backend(self.backend), target.io_type(self.io_type), part, clock,
                           reuse, strategy, self.project_name, target.sparse_kernel(self.sparse_kernel),
                           dict(self.layers), check_max_util(self.max_util).as_json(), target.pipeline_style(self.pipeline_style),
                           bound, device, dict(self.fifo_depths))

    @property
    def max_latency_cycles(self) -> Optional[float]:
        """The latency bound in clock cycles of ``clock_period`` (None: no bound)."""
        return None if self.max_latency_us is None else self.max_latency_us * 1000.0 / self.clock_period

    @property
    def uniform_reuse_factor(self) -> int:
        """The network-wide ReuseFactor hls4ml gets (1 under "auto": every Conv/Dense layer has its own)."""
        return 1 if self.reuse_factor == "auto" else int(self.reuse_factor)

    @property
    def model_strategy(self) -> str:
        return target.DEFAULT_STRATEGY if self.strategy == "auto" else self.strategy


@dataclass
class HlsProject:
    path: Path                         # the hls4ml project folder
    hls_model: Any                     # hls4ml ModelGraph (written, not compiled)
    settings: HlsSettings              # io_type resolved
    input_layout: str                  # how csim feeds NCHW samples: 'nhwc', 'flat' or 'nchw'
    precision: PrecisionPlan
    multipliers: Dict[str, Any]
    layer_names: Dict[str, str]
    seconds: Dict[str, float] = field(default_factory=dict)
    fold: Optional[Any] = None         # reuse factor "auto": codesign.export.fold.ProjectFolding
    fifo: Optional[Dict[str, Any]] = None   # FIFO depths set (set / unmatched / words / depths per stream / from)
    graph: Optional[CleanGraph] = field(default=None, repr=False)   # the export graph the precision plan types

    def summary(self) -> dict:
        out = {"path": str(self.path), "settings": asdict(self.settings), "input_layout": self.input_layout,
               "build_script": str(self.path / "build_prj.tcl"), "seconds": self.seconds,
               "precision": self.precision.summary(), "multipliers": self.multipliers}
        if self.fold is not None:
            out["folding"] = self.fold.summary()
        if self.fifo is not None:
            out["fifo_depths_written"] = {k: v for k, v in self.fifo.items() if k not in ("depths", "missing")}
        return out


def source_graph(source: Union[nn.Module, onnx.ModelProto, str, Path], in_shape: Optional[Sequence[int]] = None,
                 samples: Optional[torch.Tensor] = None) -> CleanGraph:
    """A torch model (input shape from ``in_shape``, ``samples`` or its codesign record), an ONNX
    model or an .onnx path → the cleaned export graph."""
    if isinstance(source, nn.Module):
        return clean_graph(to_onnx_proto(source, in_shape_of(source, in_shape, samples)), module_types(source))
    if isinstance(source, (str, Path)):
        if not Path(source).is_file():
            raise ExportError(f"ONNX file not found: {source}")
        source = onnx.load(str(source))
    return clean_graph(source)


def as_graph_input(x: torch.Tensor, layout: str) -> torch.Tensor:
    """NCHW samples → the layout of the graph input ('flat', 'nhwc' or unchanged)."""
    if layout == "flat":
        return x.reshape(len(x), -1)
    if layout == "nhwc":
        return x.permute(0, *range(2, x.dim()), 1).contiguous()
    return x


def build_hls(source: Union[nn.Module, onnx.ModelProto, str, Path], out_dir: Union[str, Path], *,
              settings: HlsSettings = HlsSettings(), precision: Union[str, Path, PrecisionSpec] = "auto",
              calibration: Optional[torch.Tensor] = None, in_shape: Optional[Sequence[int]] = None,
              events: Events = quiet) -> HlsProject:
    """Convert a model to an hls4ml project in ``out_dir`` (replaced atomically when complete).

    ``calibration``: NCHW input samples for the precision choice (default: 256 seeded Gaussian
    samples of the model's input shape). A PyTorch model's input shape comes from ``in_shape``,
    the calibration samples or its codesign record."""
    settings = settings.checked()
    spec = precision_spec(precision)
    times: Dict[str, float] = {}
    t0 = time.perf_counter()
    clean = source_graph(source, in_shape, calibration)
    check_io_stream(clean, settings.io_type, module_types(source) if isinstance(source, nn.Module) else None)
    times["clean_graph"] = time.perf_counter() - t0
    if calibration is None:
        shape = clean.graph.shapes[clean.graph.inputs[0]][1:]
        calibration = torch.randn(256, *shape, generator=torch.Generator().manual_seed(0))
    events("stage", {"stage": "precision", "samples": len(calibration)})
    t0 = time.perf_counter()
    plan = choose_precision(clean, as_graph_input(calibration.float(), clean.input_layout), spec)
    times["precision"] = time.perf_counter() - t0
    events("stage", {"stage": "hls-ready graph"})
    t0 = time.perf_counter()
    pruned, off_group = exact_zeros(clean), off_group_zeros(clean)
    quantized = with_quantized_parameters(clean, plan)
    model, layout = hls_ready(quantized)
    if settings.io_type == "auto":
        settings = HlsSettings(**{**asdict(settings), "io_type": "io_stream" if layout == "nhwc" else "io_parallel"})
    if settings.layers:                 # per-layer hls4ml settings, keyed by the graph's layer names
        settings = HlsSettings(**{**asdict(settings), "layers": graph_layer_settings(settings.layers, clean)})
    final = Path(out_dir)
    written.check_replaceable(final, "")    # a project of codesign's is replaced, never a folder of anyone else's
    partial = final.with_name(f".{final.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    onnx_path = partial / "model_channels_last.onnx"
    atomic.write_bytes(onnx_path, model.SerializeToString())
    times["hls_graph"] = time.perf_counter() - t0
    fold, fifo = None, None
    if settings.reuse_factor == "auto":
        from .fold import fold_for_project

        events("stage", {"stage": "reuse factors (auto)"})
        t0 = time.perf_counter()
        fold = fold_for_project(onnx_path, plan, settings)
        times["folding"] = time.perf_counter() - t0
    events("stage", {"stage": "hls4ml"})
    t0 = time.perf_counter()
    from .fold import sparse_kernel_layers

    sparse = sparse_kernel_layers(onnx_path, plan, settings, fold)
    hls_model = _convert(onnx_path, partial, settings, plan, set(clean.fused_bias.values()), sparse,
                         fold.folding if fold else None, lut_input_types(clean, plan))
    if settings.io_type == "io_stream" and (fold is not None or settings.fifo_depths):
        fifo = _fifo_depths(hls_model, fold, settings)
    times["hls4ml_convert"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        hls_model.write()
    written.record(partial)             # what --force may replace, before the project appears under its name
    _move_into_place(hls_model, partial, final, [n.name for n in model.graph.node])
    times["hls4ml_write"] = time.perf_counter() - t0
    return HlsProject(final, hls_model, settings, layout, plan, multiplier_report(hls_model, clean.layer_names, pruned, off_group),
                      clean.layer_names, times, fold, fifo, clean)


def graph_layer_settings(layers: Dict[str, Dict[str, Any]], clean: CleanGraph) -> Dict[str, Dict[str, Any]]:
    """Per-layer hls4ml settings ({given name: {ReuseFactor, Strategy, ...}}) keyed by the export graph's layer
    names; two names of one layer merge as hls4ml applies them, and disagree in a one-line error
    (codesign.hls_names' rule, the one ``codesign simulate`` follows)."""
    from ..hls_names import merge_by_layer
    from .precision import layer_targets

    return merge_by_layer(layers, layer_targets(layers, clean, "per-layer hls4ml settings"))


def _fifo_depths(hls_model, fold, settings: HlsSettings) -> Dict[str, Any]:
    """Set the io_stream FIFO depths (the folding's schedule under reuse factor auto, else an hls4ml config's
    ``FifoDepth``) and write them into the project's configuration (codesign/export/fifo.py)."""
    from .fifo import apply_fifo_depths, given_depths, record_in_config

    if fold is not None:
        streams = dict(fold.folding.fifo_streams)
        fifo = {**apply_fifo_depths(hls_model, streams), "from": "the dataflow schedule"}
        streams = {k: v for k, v in streams.items() if k not in fifo["missing"]}
    else:
        fifo = {**given_depths(hls_model, settings.fifo_depths), "from": "the configuration (FifoDepth)"}
        streams = fifo["depths"]
    record_in_config(hls_model, streams)
    return {**fifo, "depths": streams}


def _weighted_layers(clean: CleanGraph):
    """(layer name, weight tensor, bias tensor or None) of every Conv and Dense layer."""
    bias_of = {mm: add for add, mm in clean.fused_bias.items()}
    adds = {n.name: n for n in clean.graph.nodes if n.name in clean.fused_bias}
    for n in clean.graph.nodes:
        if n.op_type == "Conv":
            yield n.name, n.input[1], (n.input[2] if len(n.input) > 2 and n.input[2] else None)
        elif n.op_type == "MatMul":
            add = adds.get(bias_of.get(n.name, ""))
            yield n.name, n.input[1], (next((i for i in add.input if i != n.output[0]), None) if add else None)


def layer_weights(clean: CleanGraph) -> Dict[str, np.ndarray]:
    """The weight array of every Conv/Dense layer whose weights are constants, by layer name."""
    g, producers = clean.graph, clean.graph.producers()
    out = {}
    for name, weight, _ in _weighted_layers(clean):
        init = g.param_init(weight, producers)
        if init is not None:
            out[name] = np.asarray(g.inits[init])
    return out


def exact_zeros(clean: CleanGraph) -> Dict[str, int]:
    """Exact zeros that are pruned weights, per Conv/Dense layer of the model as exported: a grouped
    convolution's off-group zeros (:func:`off_group_zeros`) are not."""
    off = off_group_zeros(clean)
    return {name: int((w == 0).sum()) - off.get(name, 0) for name, w in layer_weights(clean).items()}


def off_group_zeros(clean: CleanGraph) -> Dict[str, int]:
    """{layer: the off-group zeros of a grouped convolution written block-diagonal (1 − 1/groups of its weights)}."""
    from .normalize import groups_before_dense

    weights = layer_weights(clean)
    groups = {n.name: groups_before_dense(n) for n in clean.graph.nodes if n.op_type == "Conv"}
    return {name: weights[name].size - weights[name].size // k for name, k in groups.items()
            if k > 1 and name in weights}


def with_quantized_parameters(clean: CleanGraph, plan: PrecisionPlan) -> CleanGraph:
    """A copy whose weights and biases are already cast to their planned types: hls4ml writes the
    same values, and counts weights that round to zero among the zeros that save multipliers."""
    g = copy.deepcopy(clean.graph)
    for name, weight, bias in _weighted_layers(clean):
        types = plan.types.get(name)
        for tensor, t in ((weight, types and types.weight), (bias, types and types.bias)):
            if tensor is not None and t is not None and tensor in g.inits:
                g.inits[tensor] = quantize(torch.from_numpy(np.array(g.inits[tensor], dtype=np.float64)), t).numpy()
    return CleanGraph(g, clean.input_layout, clean.layer_names, clean.fused_bias)


def lut_input_types(clean: CleanGraph, plan: PrecisionPlan) -> Dict[str, Any]:
    """{lookup-table layer (Sigmoid, Tanh, Softmax): the fixed-point type of its input under ``plan``}."""
    typed = tensor_types(clean.graph, clean.fused_bias, plan.types)
    return {n.name: typed.get(n.input[0]) for n in clean.graph.nodes if n.op_type in LUT_OPS}


def hls_config(model_path: Path, settings: HlsSettings, plan: PrecisionPlan, fused_matmuls=(),
               sparse=(), folding=None, lut_inputs: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    import hls4ml

    from . import frontend_hls4ml
    frontend_hls4ml.register()
    with contextlib.redirect_stdout(io.StringIO()):
        cfg = hls4ml.utils.config_from_onnx_model(onnx.load(str(model_path)), granularity="name",
                                                  backend=settings.backend,
                                                  default_reuse_factor=settings.uniform_reuse_factor)
    cfg["Model"]["Strategy"] = settings.model_strategy
    if folding is not None:
        from .fold import apply_layer_config
        apply_layer_config(cfg, folding)
    for node in onnx.load(str(model_path)).graph.node:     # LeakyReLU slopes in the emulated type
        if node.op_type == "LeakyRelu":
            alpha = next((a.f for a in node.attribute if a.name == "alpha"), 0.01)
            layer = cfg["LayerName"].setdefault(node.name, {})
            layer.setdefault("Precision", {})["param"] = leaky_alpha_type(alpha).hls()
        if node.op_type in LUT_OPS:                      # the tables the emulation reads (lut.py)
            layer, extra = cfg["LayerName"].setdefault(node.name, {}), lut.hls_layer_config(
                node.op_type, (lut_inputs or {}).get(node.name))
            layer.setdefault("Precision", {}).update(extra.pop("Precision"))
            layer.update(extra)
    for name, layer_cfg in plan.hls_layer_config().items():
        if name not in cfg["LayerName"]:
            raise ExportError(f"internal: precision plan names layer '{name}' that hls4ml does not see")
        precision = dict(layer_cfg["Precision"])
        if name in fused_matmuls:
            precision.pop("result", None)   # set after conversion, see _set_dense_results
        cfg["LayerName"][name].setdefault("Precision", {}).update(precision)
    if sparse:
        from .sparse_kernel_hls4ml import register
        register()
    for name in sparse:   # hls4ml copies MatMul 'name's config to the Dense layer it makes of it
        cfg["LayerName"].setdefault(name, {})["SparseKernel"] = True
    for name, extra in settings.layers.items():     # per-layer ReuseFactor / Strategy (--hls-config)
        cfg["LayerName"].setdefault(name, {}).update(extra)
    model_rf, model_strategy = cfg["Model"].get("ReuseFactor", 1), cfg["Model"]["Strategy"]
    layers = [(c.get("ReuseFactor", model_rf), c.get("Strategy", model_strategy)) for c in cfg["LayerName"].values()]
    style = settings.pipeline_style if settings.pipeline_style != "auto" else \
        pipeline_style_for(layers + [(model_rf, model_strategy)])     # else HLS may ignore a Latency layer's RF
    if style != "auto":
        cfg["Model"]["PipelineStyle"] = style
    return cfg


def _set_dense_results(hls_model, plan: PrecisionPlan, fused_matmuls) -> None:
    """hls4ml folds a MatMul's bias Add into the Dense layer only while the Dense result type is
    unset ('auto', which it then infers as the lossless accumulator width); give it the planned
    result type once the bias is folded."""
    from hls4ml.backends.fpga.fpga_types import APTypeConverter

    backend, converter = hls_model.config.backend, APTypeConverter()
    for layer in hls_model.get_layers():
        name = layer.name[len("Dense_"):] if layer.name.startswith("Dense_") else None
        if name in fused_matmuls and plan.types[name].result is not None:
            precision = backend.convert_precision_string(plan.types[name].result.hls())
            layer.get_output_variable().type.precision = converter.convert(precision)
            entry = hls_model.config.config["HLSConfig"]["LayerName"].get(layer.name)
            if entry is not None:       # and say so in the project's hls4ml_config.yml
                entry["Precision"] = {**entry.get("Precision", {}), "result": plan.types[name].result.hls()}


def _convert(model_path: Path, out_dir: Path, settings: HlsSettings, plan: PrecisionPlan, fused_matmuls, sparse=(),
             folding=None, lut_inputs=None):
    import hls4ml

    cfg = hls_config(model_path, settings, plan, fused_matmuls, sparse, folding, lut_inputs)
    kwargs = dict(output_dir=str(out_dir.resolve()), project_name=settings.project_name, backend=settings.backend,
                  io_type=settings.io_type, clock_period=settings.clock_period, hls_config=cfg)
    if settings.part:
        kwargs["part"] = settings.part
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            # hls4ml's pointwise pass copies a per-layer Strategy and warns, then restores it (benign)
            warnings.filterwarnings("ignore", message="Overriding attribute 'strategy'")
            hls_model = hls4ml.converters.convert_from_onnx_model(str(model_path), **kwargs)
    except Exception as err:  # hls4ml raises bare Exceptions for unsupported layers/settings
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ExportError(f"hls4ml could not convert the model ({first})") from None
    _set_dense_results(hls_model, plan, fused_matmuls)
    from .frontend_hls4ml import set_global_pool_accumulators
    set_global_pool_accumulators(hls_model)
    return hls_model


def _move_into_place(hls_model, partial: Path, final: Path, nodes) -> None:
    """Rename the complete project over ``final`` and write its hls4ml configuration for it
    (:mod:`codesign.export.project_config`)."""
    from .project_config import write_project_config

    if final.exists():
        shutil.rmtree(final)
    os.replace(partial, final)
    write_project_config(hls_model, final, nodes)
