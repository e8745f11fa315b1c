"""``--reuse-factor auto`` in the export: the folding chosen on the hls-ready graph, written into the project.

1. :func:`fold_for_project`: the simulator's network of the channels-last ONNX graph hls4ml converts (so
   layer names are hls4ml's and the weights are the quantized ones: zeros included), each layer's
   precision from the plan, the device of the target part; :func:`codesign.sim.folding.choose_folding`
   picks every Conv/Dense layer's ReuseFactor and Strategy and the io_stream FIFO depths (with
   ``--max-latency-us``: the least resources that meet it, :mod:`codesign.sim.folding_bound`);
2. :func:`apply_layer_config`: ``LayerName.<layer>.ReuseFactor`` / ``Strategy`` in the hls4ml configuration;
3. :func:`codesign.export.fifo.apply_fifo_depths`: after conversion, before ``write()``, every stream's depth,
   set as hls4ml's own FIFO-depth optimisation sets it (``output_vars[name].pragma = ('stream', depth)``,
   which the writer emits as ``#pragma HLS STREAM variable=... depth=...``), and written into the project's
   ``hls4ml_config.yml`` (``LayerName.<layer>.FifoDepth``), so the project's configuration rebuilds them.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

from ..errors import ExportError
from ..sim.device import Device, device_for_part, load_device
from ..sim.folding import Folding, choose_folding
from ..sim.layers import Network
from ..hls_names import layer_key
from ..sim.mapping import LayerSettings, Mapping
from .precision import PrecisionPlan

FALLBACK_DEVICE = "xcu250"


@dataclass(frozen=True)
class ProjectFolding:
    network: Network               # the hls-ready graph as the simulator sees it
    device: Device
    device_match: str
    mapping: Mapping               # precision per layer + the folding (what the estimate uses)
    folding: Folding

    def summary(self) -> Dict[str, Any]:
        return {"device": self.device.name, "device_match": self.device_match, **self.folding.describe()}


def default_part(backend: str) -> str:
    """The part hls4ml targets when none is given (its backend's default configuration)."""
    import hls4ml

    return str(hls4ml.backends.get_backend(backend).create_initial_config().get("Part", ""))


def export_device(part: Optional[str], backend: str, device=None) -> Tuple[Device, str]:
    """The device the design is folded for: ``device`` (a name, device YAML or a device file's recorded content)
    where given, else the device database entry of the project's part (the U250 when the part is not in it)."""
    if device is not None:
        from ..sim.device_record import described
        found = load_device(device)
        return found, described(device, found)
    part = part or default_part(backend)
    device, how = device_for_part(part)
    if device is None:
        device = load_device(FALLBACK_DEVICE)
        how += f"; folded for the {device.board} ({device.name}); add a device YAML for yours"
    return device, how


def check_limit_for_part(settings) -> None:
    """The ``--max-util`` of an export names no resource its part has none of (a one-line ConfigError)."""
    from ..sim.util_limit import UtilLimit

    UtilLimit.of(settings.max_util).check_device(export_device(settings.part, settings.backend, settings.device)[0])


def plan_mapping(network: Network, plan: PrecisionPlan, settings) -> Mapping:
    """The simulator's Mapping of an export before hls4ml converts it: every layer's weight/bias/result type
    from the precision plan, the input layer's too (what the first layers read; other layers: hls4ml's default
    type, as in the project), the project's reuse factor and strategy (network-wide, and per layer where the
    settings give them, with their SparseKernel), I/O type, clock, sparse-kernel mode and backend (the HLS tool
    decides where weight ROMs go)."""
    known = {layer_key(l.name) for l in network.layers} | {layer_key(str(network.meta.get("input")))}
    layers = {name: LayerSettings(weight=t.weight, bias=t.bias, result=t.result)
              for name, t in plan.types.items() if layer_key(name) in known}
    for name, extra in settings.layers.items():
        if layer_key(name) in known:
            given = LayerSettings(reuse_factor=extra.get("ReuseFactor"), strategy=extra.get("Strategy"),
                                  sparse=extra.get("SparseKernel"))
            layers[name] = layers.get(name, LayerSettings()).merged(given)
    return Mapping(template="dataflow", io_type=settings.io_type, clock_mhz=1000.0 / settings.clock_period,
                   reuse_factor=settings.uniform_reuse_factor, strategy=settings.model_strategy,
                   sparse_kernel=settings.sparse_kernel, backend=settings.backend, layers=layers)


def sparse_kernel_layers(onnx_path: Path, plan: PrecisionPlan, settings, fold: Optional[ProjectFolding] = None
                         ) -> set:
    """The graph's Dense layers that get codesign's sparse kernel: the estimator's own choice
    (:mod:`codesign.sim.sparse_choice` under ``--sparse-kernel auto``) on the hls-ready graph at ``onnx_path``,
    each layer at its reuse factor and strategy (``fold``'s under ``--reuse-factor auto``), on the project's
    part; so the export builds the kernels its estimate prices."""
    from ..sim.estimate import hardware_network
    from ..sim.onnx_layers import network_from_onnx
    from ..sim.plan import resolve_plan

    if settings.sparse_kernel == "off":
        return set()
    if fold is not None:
        network, mapping, device = fold.network, fold.mapping, fold.device
    else:
        network = network_from_onnx(onnx_path, name="model")
        mapping, device = plan_mapping(network, plan, settings), export_device(settings.part, settings.backend,
                                                                               settings.device)[0]
    network = hardware_network(network, mapping)
    layer_plan = resolve_plan(network, mapping, device)
    return {layer.name for layer, sparse in zip(network.layers, layer_plan.sparse) if sparse}


def fold_for_project(onnx_path: Path, plan: PrecisionPlan, settings) -> ProjectFolding:
    """Choose the folding of the hls-ready graph at ``onnx_path`` (see the module doc)."""
    from ..sim.onnx_layers import network_from_onnx

    network = network_from_onnx(onnx_path, name="model")
    device, how = export_device(settings.part, settings.backend, settings.device)
    base = plan_mapping(network, plan, settings)
    strategies = ("Latency", "Resource") if settings.strategy == "auto" else (settings.strategy,)
    folding = choose_folding(network, device, base, settings.max_util, strategies,
                             max_latency_cycles=settings.max_latency_cycles)
    return ProjectFolding(network, device, how, folding.mapping(base, network), folding)


def apply_layer_config(cfg: Dict[str, Any], folding: Folding) -> None:
    """Write every folded layer's ReuseFactor and Strategy into hls4ml's ``LayerName`` section."""
    names = {layer_key(n): n for n in cfg["LayerName"]}
    for name, layer in folding.hls_layer_config().items():
        key = names.get(layer_key(name))
        if key is None:
            raise ExportError(f"internal: the folding names layer '{name}' that hls4ml does not see")
        cfg["LayerName"][key].update(layer)


def with_fifo_depths(mapping: Mapping, depths: Dict[str, int]) -> Mapping:
    """``mapping`` (the export's estimate of the built project) with the FIFO depths written into it
    ({layer: depth}, the largest of its streams: :func:`codesign.export.fifo.layer_depths`)."""
    if not depths:
        return mapping
    layers = dict(mapping.layers)
    for name, depth in depths.items():
        layers[name] = replace(layers.get(name, LayerSettings()), fifo_depth=int(depth))
    return mapping.with_(layers=layers)


def fold_sections(ctx, fold: ProjectFolding, network: Network, mapping: Mapping) -> Dict[str, Any]:
    """The report sections of an auto-folded export: the folding (per-layer choices and why), the dense
    model beside a pruned/compacted zoo model, and the ways out when nothing fits."""
    from ..sim.fitted import dense_section

    strategies = ("Latency", "Resource") if ctx.project.settings.strategy == "auto" else (ctx.project.settings.strategy,)
    max_util = ctx.project.settings.max_util
    sections: Dict[str, Any] = {"folding": fold.folding.describe()}
    dense = dense_network(ctx.model)
    if dense is not None:
        sections["dense"] = dense_section(dense, fold.device, mapping.with_(layers={}), max_util, strategies,
                                          max_latency_cycles=ctx.project.settings.max_latency_cycles)
    if not fold.folding.fits:
        from ..sim.ways_out import ways_out

        from ..model_source import zoo_name

        spec = getattr(ctx.model, "codesign_spec", None) or {}
        sections["ways_out"] = [w.describe() for w in ways_out(network, fold.device, mapping, max_util, strategies,
                                                               float(spec.get("width", 1.0)), zoo_name(spec))]
    return sections


def dense_network(model) -> Optional[Network]:
    """The unpruned zoo architecture of a pruned or compacted zoo model (None for any other model)."""
    spec = getattr(model, "codesign_spec", None) or {}
    if not spec.get("name"):
        return None
    from ..errors import CodesignError
    from ..layertypes import COMPUTE
    from ..sim.estimate import zoo_network
    from ..zoo import create_model

    def sizes(m):
        ws = [mod.weight for mod in m.modules() if isinstance(mod, COMPUTE)]
        return sum(w.numel() for w in ws), sum(int((w != 0).sum()) for w in ws)

    args = (float(spec.get("width", 1.0)), spec.get("in_shape"), spec.get("num_classes"))
    try:
        numel, nonzero = sizes(model)
        dense_numel, _ = sizes(create_model(spec["name"], width=args[0], in_shape=tuple(args[1]),
                                            num_classes=args[2]))
        if numel >= dense_numel and nonzero == numel:
            return None
        return zoo_network(spec["name"], *args)
    except (CodesignError, TypeError):
        return None
