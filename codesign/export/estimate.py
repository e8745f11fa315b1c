"""The estimate of an export: the simulator run on what the hls4ml project contains.

The network is read from the project's own ONNX file (``hls/model_channels_last.onnx``: the graph hls4ml
converted, its weights already cast to their planned types, so weights that round to zero are zeros),
with each compute layer's zeros as hls4ml counts them (this also covers the quantization-aware path,
whose weights hls4ml quantizes from the Quant nodes). The :class:`~codesign.sim.mapping.Mapping` is read
from the converted hls4ml model: every layer's weight, bias, result and accumulator types as hls4ml
resolved them (planned types, quantizer types, inferred accumulators), per-layer reuse factors and
strategies where the project's config sets them, the sparse-kernel choice, the I/O type and clock.
So the export's multiplier count and its estimate's DSP basis are the same numbers.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Dict, Optional, Sequence

from ..sim.export_section import estimate_section
from ..sim.layers import Layer, Network
from ..hls_names import hls_origin, layer_key
from ..sim.mapping import LayerSettings, Mapping
from ..sim.onnx_layers import network_from_onnx
from ..target import DEFAULT_TARGET_AGREEMENT

PROJECT_ONNX = "model_channels_last.onnx"


def project_part(project) -> str:
    part = project.settings.part
    if part:
        return part
    return str(project.hls_model.config.get_config_value("Part"))


def export_network(project, name: Optional[str] = None) -> Network:
    """The project's network, with hls4ml's zero counts (``project.multipliers``) per compute layer."""
    network = network_from_onnx(Path(project.path) / PROJECT_ONNX, name=name)
    nonzero = {hls_origin(r["hls_layer"]): r["weights"] - r["zeros"] for r in project.multipliers["layers"]}
    layers = []
    for layer in network.layers:
        nz = nonzero.get(layer_key(layer.name))
        ok = nz is not None and layer.op in ("conv", "dense") and 0 <= nz <= layer.weights
        layers.append(replace(layer, nonzero_weights=nz) if ok else layer)
    return Network(network.name, tuple(layers), network.input_shape, network.source, network.meta)


def _type(precision) -> Optional[str]:
    """hls4ml's precision object → its string (None for hls4ml's unresolved or exotic types)."""
    text = str(precision)
    return text if text.startswith(("fixed", "ufixed", "int", "uint", "ap_")) or text == "float" else None


def _layer(layer, model_rf: int, model_strategy: str, cfg: Dict[str, Any]) -> LayerSettings:
    types = {k: _type(t.precision) for k, t in layer.types.items()}
    rf, strategy = cfg.get("ReuseFactor"), cfg.get("Strategy")
    return LayerSettings(
        reuse_factor=rf if rf is not None and rf != model_rf else None,
        strategy=strategy if strategy is not None and str(strategy).lower() != model_strategy.lower() else None,
        weight=types.get("weight_t"), bias=types.get("bias_t"), accum=types.get("accum_t"),
        result=_type(layer.get_output_variable().type.precision),
        sparse=True if layer.class_name == "SparseDense" else None)


def export_mapping(project, network: Network) -> Mapping:
    """What the converted hls4ml model builds, layer by layer, as a dataflow Mapping for ``network``."""
    hls_model, settings = project.hls_model, project.settings
    model_cfg = hls_model.config.config["HLSConfig"]["Model"]
    by_name = {layer_key(k): v for k, v in hls_model.config.config["HLSConfig"].get("LayerName", {}).items()}
    names = {layer_key(l.name) for l in network.layers}
    layers = {}
    for layer in hls_model.get_layers():
        if hls_origin(layer.name) in names or layer.class_name == "Input":
            name = str(network.meta.get("input", layer.name)) if layer.class_name == "Input" else layer.name
            layers[name] = _layer(layer, settings.uniform_reuse_factor, settings.model_strategy,
                                  by_name.get(layer_key(layer.name), {}))
    return Mapping(template="dataflow", reuse_factor=settings.uniform_reuse_factor, strategy=settings.model_strategy,
                   io_type=settings.io_type, clock_mhz=1000.0 / settings.clock_period, sparse_kernel="off",
                   backend=settings.backend, precision=_model_precision(model_cfg), layers=layers,
                   pipeline_style=str(model_cfg.get("PipelineStyle", "auto")))


def _model_precision(model_cfg: Dict[str, Any]) -> str:
    precision = model_cfg.get("Precision", "ap_fixed<16,6>")
    return str(precision.get("default", "ap_fixed<16,6>")) if isinstance(precision, dict) else str(precision)


def estimate_export(ctx) -> Dict[str, Any]:
    """The ``estimate`` section of the fpga report (see the module doc)."""
    network = export_network(ctx.project, name=(getattr(ctx.model, "codesign_spec", None) or {}).get("name"))
    mapping = export_mapping(ctx.project, network)
    fold, sections = getattr(ctx.project, "fold", None), {}
    fifo = (getattr(ctx.project, "fifo", None) or {}).get("depths")
    if fifo:                            # io_stream: the FIFO depths written (the schedule's or a config's)
        from .fifo import layer_depths
        from .fold import with_fifo_depths

        mapping = with_fifo_depths(mapping, {name: max(d) if isinstance(d, list) else d
                                             for name, d in layer_depths(fifo).items()})
    if fold is not None:                # --reuse-factor auto: why, the ways out
        from .fold import fold_sections

        sections = fold_sections(ctx, fold, network, mapping)
    return estimate_section(network, mapping, project_part(ctx.project), ctx.out_dir,
                            f"hls4ml project ({PROJECT_ONNX})", sections, ctx.project.settings.device)


# ----------------------------------------------------------------------------- before an export

@dataclass(frozen=True)
class PlannedModel:
    """What the export would build for a model, without building it: the network with the zeros of its
    quantized weights, and the per-layer types of the export's precision choice."""
    network: Network
    layers: Dict[str, LayerSettings]
    summary: Dict[str, Any]


def quantized_layer(layer: Layer, weights) -> Layer:
    """``layer`` with the nonzeros and shift-and-add counts (:func:`~codesign.sim.hls_rules.shift_add_counts`)
    of ``weights``, its weights as the export writes them (cast to their planned types; a grouped
    convolution's may be block-diagonal, its extra zeros change neither count). ``layer`` itself where
    ``weights`` is None or is not the layer's."""
    import numpy as np

    from ..sim.hls_rules import shift_add_counts

    if weights is None or layer.op not in ("conv", "dense"):
        return layer
    nonzero = int(np.count_nonzero(weights))
    if nonzero > layer.weights or weights.size not in (layer.weights, layer.weights * layer.groups):
        return layer
    return replace(layer, nonzero_weights=nonzero, shift_add=shift_add_counts(weights))


def plan_like_export(model, meta: Dict[str, Any], *, precision: str = "auto",
                     target_agreement: float = DEFAULT_TARGET_AGREEMENT, dataset: Optional[str] = None,
                     data_dir: Optional[Path] = None, seed: int = 0) -> PlannedModel:
    """The export's precision plan for ``precision`` (any option ``codesign export --precision`` takes), and
    the weights cast to its types (:func:`~codesign.export.hls.with_quantized_parameters`, as the export does):
    each Conv/Dense layer's nonzeros and shift-and-add counts are those of the weights the export writes
    (:func:`quantized_layer`). Where the types depend on value ranges (``auto``, bare widths) the plan runs
    on the calibration samples the export would use (same dataset, counts and seed as ``codesign export``);
    given types need none, and nothing is emulated. Both name layers by one rule (:mod:`codesign.naming`), so
    the types are keyed by the network's layers."""
    planner = ExportPlanner(model, meta, target_agreement=target_agreement, dataset=dataset, data_dir=data_dir,
                            seed=seed)
    return planner.plan(precision)


class ExportPlanner:
    """:func:`plan_like_export` for any number of precisions of one model: the export graph, the network and
    (when a precision needs them) the export's calibration samples, run once through the emulation, are made
    once and shared, so each further precision costs only its types and the cast of the weights. With
    ``emulate=False`` a plan's emulated agreement is not measured (None; the types are the same).

    ``model`` is a PyTorch module (its codesign record gives the input shape; the network is the simulator's
    trace of it) or an ONNX model as ``codesign export --onnx`` takes it (:meth:`of_onnx`: the network is that
    of the graph hls4ml converts, BatchNorm folded into the Conv/Dense before it, layers named as the export
    names them)."""

    def __init__(self, model, meta: Dict[str, Any], *, target_agreement: float = DEFAULT_TARGET_AGREEMENT,
                 dataset: Optional[str] = None, data_dir: Optional[Path] = None, seed: int = 0, emulate: bool = True,
                 spec: Optional[Dict[str, Any]] = None):
        from .hls import source_graph

        self.model, self.meta, self.target_agreement, self.emulate = model, meta, target_agreement, emulate
        self.dataset, self.data_dir, self.seed = dataset, data_dir, seed
        self.model_spec = spec if spec is not None else model.codesign_spec
        self.in_shape = tuple(self.model_spec["in_shape"])
        self.clean = source_graph(model)
        self.onnx = spec is not None
        if not self.onnx:
            from ..sim.estimate import module_network
            self.network = module_network(model, self.in_shape)
        else:
            from ..sim.onnx_layers import network_from_proto
            from .passes import hls_ready
            self.network = network_from_proto(hls_ready(self.clean)[0], spec["name"], f"onnx:{spec['onnx']}")
        self._samples = self._calibration = None

    @classmethod
    def of_onnx(cls, path: Path, in_shape: Optional[Sequence[int]] = None, **options) -> "ExportPlanner":
        """The planner of an ONNX file (float; its input shape from the file or ``in_shape``, as
        ``codesign export --onnx`` takes it; unsupported layers are the export's one-line errors)."""
        from .onnx_file import load_onnx, onnx_model_spec

        proto, shape = load_onnx(Path(path), in_shape)
        return cls(proto, {}, spec=onnx_model_spec(Path(path), proto, shape), **options)

    def _calibrated(self):
        """(the samples, their :class:`~codesign.export.precision.Calibration`), made on first use."""
        if self._calibration is None:
            from .hls import as_graph_input
            from .precision import calibrate
            from .samples import choose_samples, default_counts, macs_per_sample, onnx_macs

            macs = onnx_macs(self.clean) if self.onnx else macs_per_sample(self.model, self.in_shape)
            counts = default_counts(macs)
            self._samples = choose_samples(self.model_spec, self.meta, self.dataset,
                                           n_calibration=counts["calibration"], n_csim=counts["csim"],
                                           data_dir=self.data_dir, seed=self.seed)
            inputs = as_graph_input(self._samples.calibration.float(), self.clean.input_layout)
            self._calibration = calibrate(self.clean, inputs)
        return self._samples, self._calibration

    def plan(self, precision="auto") -> PlannedModel:
        """What the export at ``precision`` (an option ``--precision`` takes, or a
        :class:`~codesign.export.precision.PrecisionSpec`, e.g. an hls4ml config's) would build (see
        :func:`plan_like_export`)."""
        from .hls import layer_weights, with_quantized_parameters
        from .precision import choose_precision, precision_spec

        spec = precision_spec(precision, self.target_agreement)
        samples = calibration = None
        if spec.needs_calibration:
            samples, calibration = self._calibrated()
        plan = choose_precision(self.clean, calibration, spec, emulate=self.emulate)
        quantized = layer_weights(with_quantized_parameters(self.clean, plan))
        network, clean = self.network, self.clean
        by_key = {layer_key(name): w for name, w in quantized.items()}
        layers_out = tuple(quantized_layer(layer, by_key.get(layer_key(layer.name))) for layer in network.layers)
        network = Network(network.name, layers_out, network.input_shape, network.source, network.meta)
        known = {layer_key(layer.name) for layer in network.layers} | {layer_key(clean.graph.inputs[0])}
        settings = {name: LayerSettings(weight=t.weight, bias=t.bias, result=t.result)
                    for name, t in plan.types.items()
                    if layer_key(name) in known}    # not the ops the simulator folds away (x * 2, a reshape)
        summary = {"source": plan.source, "calibration_samples": plan.calibration_samples,
                   "samples": samples.note if samples is not None else None,
                   "emulated_agreement": plan.emulated_agreement}
        return PlannedModel(network, settings, summary)
