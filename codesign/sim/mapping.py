"""How a network is mapped onto a device: template, reuse factor, strategy, I/O type, precision, clock,
network-wide and per layer.

``dataflow`` is what hls4ml generates (one engine per layer, weights on chip); ``tiled`` is a
loop-tiled accelerator streaming weights and feature maps from DRAM (Zhang FPGA'15 / Ma FPGA'17).
Reuse factor, strategy, I/O type and the per-layer ``layers`` apply to ``dataflow``; ``unroll``,
``zero_skip`` and ``dram_layout`` to ``tiled``.

Per-layer settings use hls4ml's vocabulary (:class:`LayerSettings`); :meth:`Mapping.from_hls_config`
reads an hls4ml configuration (``{Model: {...}, LayerName: {name: {ReuseFactor, Strategy, Precision}}}``,
also wrapped in ``HLSConfig:`` as in hls4ml's yml). :func:`codesign.sim.plan.resolve_plan` turns a
Mapping into per-layer arrays; the cost models read only that plan.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

from .. import target
from ..errors import ConfigError, close_matches
from ..fixed_point import NumType, Precision, parse_precision, parse_type
from ..hls_names import PAD_PREFIXES, check_entries, find_layer, layer_key, layer_keys, merge_entries
from .. import validate
from ..validate import REUSE_FACTOR_MAX

UNROLL_FAMILIES = ("auto", "ma", "zhang")
DRAM_LAYOUTS = ("packed", "aligned")
AUTO = "auto"                      # a type hls4ml infers (accumulators: lossless width)
Unroll = Union[str, Tuple[int, int, int, int]]
TypeSetting = Union[None, str, NumType]     # None: not set here (the network default applies); "auto"; a type


def parse_unroll(value: "Unroll") -> "Unroll":
    """'auto' | 'ma' | 'zhang' | 'Pof,Pif,Pox,Poy' (e.g. '64,7,1,1' for Zhang FPGA'15) or a 4-tuple."""
    if isinstance(value, str) and "," not in value:
        return target.choice("unroll family", value, UNROLL_FAMILIES)
    parts = value.split(",") if isinstance(value, str) else list(value)
    try:
        factors = tuple(int(p) for p in parts)
    except (TypeError, ValueError):
        factors = ()
    if len(factors) != 4 or min(factors) < 1:
        raise ConfigError(f"unroll '{value}': give a family ({', '.join(UNROLL_FAMILIES)}) or four factors "
                          f"Pof,Pif,Pox,Poy >= 1, e.g. 64,7,1,1")
    return factors


@dataclass(frozen=True)
class LayerSettings:
    """hls4ml's per-layer settings (None: the network-wide value applies). Types are parsed types or
    'auto' (hls4ml infers it: the lossless accumulator width for a Conv/Dense accumulator or result)."""

    reuse_factor: Optional[int] = None
    strategy: Optional[str] = None
    weight: TypeSetting = None
    bias: TypeSetting = None
    result: TypeSetting = None
    accum: TypeSetting = None
    fifo_depth: Optional[int] = None        # io_stream: words of the layer's output FIFO
    sparse: Optional[bool] = None           # Dense: codesign's sparse kernel (hls4ml config key SparseKernel)

    def __post_init__(self):
        set_ = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731
        if self.reuse_factor is not None:
            set_("reuse_factor", checked_reuse_factor(self.reuse_factor))
        if self.strategy is not None:
            set_("strategy", target.strategy(self.strategy))
        for name in ("weight", "bias", "result", "accum"):
            set_(name, type_setting(getattr(self, name), name))
        if self.fifo_depth is not None and (isinstance(self.fifo_depth, bool) or not isinstance(self.fifo_depth, int)
                                            or self.fifo_depth < 1):
            raise ConfigError(f"FIFO depth must be an integer >= 1, got {self.fifo_depth!r}")
        if self.sparse is not None and not isinstance(self.sparse, bool):
            raise ConfigError(f"SparseKernel must be true or false, got {self.sparse!r}")

    def merged(self, other: "LayerSettings") -> "LayerSettings":
        """These settings with every field ``other`` sets."""
        return replace(self, **{f.name: getattr(other, f.name) for f in fields(other)
                                if getattr(other, f.name) is not None})



def type_setting(value: Any, name: str = "precision") -> TypeSetting:
    """None, 'auto', or a parsed type (strings are parsed as hls4ml reads them)."""
    if value is None or not isinstance(value, str):
        return value
    return AUTO if value.strip().lower() == AUTO else parse_type(value, name)


def fifo_depth_entry(value: Any, where: str = "FifoDepth") -> Tuple[int, ...]:
    """An hls4ml configuration's ``FifoDepth`` (codesign's key; :mod:`codesign.export.fifo`): one depth, or the
    depths of a cloned output ``[own, copy 1, ...]``; each an integer >= 1."""
    values = list(value) if isinstance(value, (list, tuple)) else [value]
    if not values or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in values):
        raise ConfigError(f"{where}: a FIFO depth is an integer >= 1, or a list of them (a cloned output and its "
                          f"copies), got {value!r}")
    return tuple(int(v) for v in values)


def checked_reuse_factor(value: Any) -> int:
    """An integer >= 1 (strings, booleans and fractions are errors, not coerced)."""
    ok = isinstance(value, int) and not isinstance(value, bool) or isinstance(value, float) and value.is_integer()
    if not ok or not 1 <= value <= REUSE_FACTOR_MAX:
        raise ConfigError(f"reuse factor must be an integer >= 1 and <= {REUSE_FACTOR_MAX} (hls4ml's templates hold "
                          f"it in an int), got {value!r}")
    return int(value)


@dataclass(frozen=True)
class Mapping:
    template: str = target.DEFAULT_TEMPLATE
    reuse_factor: int = target.DEFAULT_REUSE_FACTOR
    strategy: str = target.DEFAULT_STRATEGY
    io_type: str = target.DEFAULT_IO_TYPE
    precision: Precision = field(default_factory=parse_precision)
    clock_mhz: Optional[float] = None          # None: the device's default clock
    zero_skip: bool = False                    # tiled only: idealised skipping of zero weights
    unroll: Unroll = "auto"                    # tiled only
    dram_layout: str = "packed"                # tiled only: "packed" or channel-"aligned" to the array width
    sparse_kernel: str = target.DEFAULT_SPARSE_KERNEL   # dataflow: Dense layers on the sparse kernel (auto|on|off)
    accum: TypeSetting = AUTO                  # dataflow: accumulators (auto: hls4ml's lossless inference)
    backend: str = target.DEFAULT_BACKEND      # dataflow: hls4ml backend / HLS tool (where weight ROMs go)
    pipeline_style: str = "auto"               # dataflow, io_parallel: hls4ml's PipelineStyle (auto|pipeline|dataflow)
    layers: Dict[str, LayerSettings] = field(default_factory=dict, hash=False)   # dataflow: by layer name

    def __post_init__(self):
        set_ = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731  (frozen dataclass normalisation)
        set_("template", target.template(self.template))
        set_("strategy", target.strategy(self.strategy))
        set_("io_type", target.io_type(self.io_type))
        set_("precision", parse_precision(self.precision))
        set_("unroll", parse_unroll(self.unroll))
        set_("dram_layout", target.choice("DRAM layout", self.dram_layout, DRAM_LAYOUTS))
        set_("sparse_kernel", target.sparse_kernel(self.sparse_kernel))
        set_("backend", target.hls_tool(self.backend))
        set_("pipeline_style", target.pipeline_style(self.pipeline_style))
        set_("reuse_factor", checked_reuse_factor(self.reuse_factor))
        set_("accum", type_setting(self.accum, "accum") or AUTO)
        set_("layers", {str(k): v if isinstance(v, LayerSettings) else LayerSettings(**v)
                        for k, v in dict(self.layers).items()})
        if self.clock_mhz is not None:
            set_("clock_mhz", validate.clock_mhz(self.clock_mhz, "clock (MHz)"))

    def clock_hz(self, device) -> float:
        return (self.clock_mhz or device.clock_mhz) * 1e6

    def resolved_io_type(self, network) -> str:
        """'auto' follows hls4ml practice: io_stream for networks with convolutions/pooling, else io_parallel."""
        if self.io_type != "auto":
            return self.io_type
        spatial = any(l.op in ("conv", "maxpool", "avgpool", "globalpool") for l in network.layers)
        return "io_stream" if spatial else "io_parallel"

    def with_(self, **changes) -> "Mapping":
        return replace(self, **changes)

    def describe(self) -> dict:
        out = {"template": self.template, "precision": self.precision.label,
               "clock_mhz": self.clock_mhz}
        if self.template == "dataflow":
            out.update(reuse_factor=self.reuse_factor, strategy=self.strategy, io_type=self.io_type,
                       sparse_kernel=self.sparse_kernel, backend=self.backend)
            if self.accum != AUTO:
                out["accum"] = self.accum.hls()
            if self.pipeline_style != "auto":
                out["pipeline_style"] = self.pipeline_style
            if self.layers:
                out["layers"] = {name: describe_settings(ls) for name, ls in self.layers.items()}
        else:
            out.update(unroll=self.unroll if isinstance(self.unroll, str) else list(self.unroll),
                       zero_skip=self.zero_skip, dram_layout=self.dram_layout)
        return out

    @classmethod
    def from_hls_config(cls, config: "Dict[str, Any] | str | Path", **overrides) -> "Mapping":
        """A dataflow Mapping from an hls4ml configuration, a dict or a YAML/JSON file (see
        :func:`read_hls_config`). ``Model`` sets the network-wide values, ``LayerName`` the layers' (names
        are matched to the network's by :func:`match_layers`); ``overrides`` (other Mapping fields, or
        network-wide values given explicitly elsewhere, e.g. on the command line) win over the file."""
        if isinstance(config, (str, Path)):
            from ..config import read_yaml

            raw = read_yaml(config)                  # its errors name the file already
            try:
                return read_hls_config(raw, overrides)
            except ConfigError as err:
                raise ConfigError(f"{config}: {err}") from None
        return read_hls_config(config, overrides)

    def layer_settings(self, names: List[str], input_name: Optional[str] = None
                       ) -> Tuple[List[LayerSettings], LayerSettings]:
        """The per-layer settings in the order of ``names`` (the network's layer names), and the settings
        of the network input (hls4ml's Input layer: its result type is what the first layers read)."""
        found, given_input = match_layers(self.layers, names, input_name)
        return [found.get(i, EMPTY) for i in range(len(names))], given_input


EMPTY = LayerSettings()
INPUT_NAMES = ("input", "input_1", "model_input", "x")     # hls4ml's names of the input layer
#: a LayerSettings field → its hls4ml configuration key (how a setting is named where two entries disagree)
HLS_KEYS = {"reuse_factor": "ReuseFactor", "strategy": "Strategy", "weight": "Precision.weight",
            "bias": "Precision.bias", "result": "Precision.result", "accum": "Precision.accum",
            "fifo_depth": "FifoDepth", "sparse": "SparseKernel"}


def hls_view(ls: LayerSettings) -> Dict[str, Any]:
    """{hls4ml key: value} of the settings ``ls`` gives (what :func:`codesign.hls_names.merge_entries` merges)."""
    return {key: getattr(ls, f) for f, key in HLS_KEYS.items() if getattr(ls, f) is not None}


def from_hls_view(values: Dict[str, Any]) -> LayerSettings:
    return LayerSettings(**{f: values.get(key) for f, key in HLS_KEYS.items()})


def quantizer_layers(network) -> Dict[str, LayerSettings]:
    """The per-layer types a QONNX file's quantizers set, as hls4ml takes them (weight, bias and result of
    each quantized layer; ``network.meta['quantizer_types']``, from :mod:`codesign.sim.onnx_layers`)."""
    types = (getattr(network, "meta", None) or {}).get("quantizer_types") or {}
    return {name: LayerSettings(**{k: type_setting(v) for k, v in t.items()}) for name, t in types.items()}


def describe_settings(ls: LayerSettings) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    for f in fields(ls):
        value = getattr(ls, f.name)
        if value is not None:
            out[f.name] = value if isinstance(value, (str, int)) else value.hls()
    return out


def _inert(ls: LayerSettings) -> bool:
    """Settings that set nothing: every type 'auto' and no other value (hls4ml's config generators write
    such an entry for every node, also the reshape, constant and bias nodes the estimator folds)."""
    return all(getattr(ls, f.name) in (None, AUTO) for f in fields(ls))


def network_index(names: List[str]) -> Dict[str, int]:
    """{key: layer index} of a network's layer names (:func:`codesign.hls_names.layer_keys`; an ONNX file's
    '/stem/Conv' is also the export's 'stem')."""
    index: Dict[str, int] = {}
    for i, name in enumerate(names):
        for key in layer_keys(name):
            index.setdefault(key, i)
    for i, name in enumerate(names):
        if name.startswith("/"):
            from ..export.graph import scope_of_name
            scope = scope_of_name(name)
            if scope:
                index.setdefault(layer_key(scope), i)
    return index


def match_layers(settings: Dict[str, LayerSettings], names: List[str], input_name: Optional[str] = None
                 ) -> Tuple[Dict[int, LayerSettings], LayerSettings]:
    """({layer index: settings}, input settings). Names are found by codesign.hls_names' rule (as given, as C
    identifiers in any case, as the module path of a torch.onnx node name, or after hls4ml's renaming prefix:
    ``Dense_fc1`` is ``fc1``); entries for one layer merge as hls4ml applies them, and two that disagree are a
    one-line error (:func:`codesign.hls_names.merge_entries`). A name the network does not have is a one-line
    error with close matches, unless its entry sets nothing (see :func:`_inert`), as in ``codesign export``."""
    index = network_index(names)
    inputs = {layer_key(n) for n in (*INPUT_NAMES, *([input_name] if input_name else []))}
    found: Dict[Any, Dict[str, LayerSettings]] = {}
    for given, ls in settings.items():
        key = layer_key(given)
        i = find_layer(given, index)
        if i is not None:
            found.setdefault(i, {})[given] = ls
        elif key in inputs:
            found.setdefault("input", {})[given] = ls
        elif _padding_of(key, index) and replace(ls, fifo_depth=None) == EMPTY:
            continue        # the FIFO of hls4ml's ZeroPadding before a convolution, which io_parallel has not
        elif not _inert(ls):
            shown = ", ".join(names[:12]) + (" ..." if len(names) > 12 else "")
            raise ConfigError(f"per-layer settings for unknown layer '{given}'{close_matches(given, names)}; "
                              f"layers: {shown}")
    merged = {i: from_hls_view(merge_entries([(n, hls_view(ls)) for n, ls in group.items()],
                                             names[i] if i != "input" else "the input"))
              for i, group in found.items()}
    return {i: ls for i, ls in merged.items() if i != "input"}, merged.get("input", EMPTY)


def _padding_of(key: str, index: Dict[str, int]) -> bool:
    """Whether ``key`` names the ZeroPadding layer hls4ml inserts before a padded convolution under io_stream
    (``zp2d_<conv>``, codesign.sim.stream_graph) of a layer ``index`` has."""
    return key.startswith(PAD_PREFIXES) and key[5:] in index


# ----------------------------------------------------------------------------- hls4ml configurations

MODEL_KEYS = ("Precision", "ReuseFactor", "Strategy", "PipelineStyle")
LAYER_KEYS = ("Precision", "ReuseFactor", "Strategy", "FifoDepth", "SparseKernel")
PRECISION_KEYS = ("default", "weight", "bias", "result", "accum")
IO_KEYS = {"IOType": "io_type"}


def _strict_keys(section: Dict[str, Any], read: Tuple[str, ...], where: str) -> None:
    """hls4ml ignores keys it does not know; a near miss of a key we read is most likely a typo."""
    lowered = {k.lower(): k for k in read}
    for key in section:
        near = difflib.get_close_matches(str(key).lower(), list(lowered), n=1, cutoff=0.8)
        if key not in read and near:
            raise ConfigError(f"{where}: unknown key '{key}' (did you mean: {lowered[near[0]]}?)")


def _section(config: Any, key: str, where: str) -> Dict[str, Any]:
    value = config.get(key) if isinstance(config, dict) else None
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{where}.{key} must be a mapping, got {type(value).__name__}")
    return value


def _precision_entries(value: Any, where: str) -> Dict[str, TypeSetting]:
    """hls4ml's Precision: one string (the default of every type) or {default, weight, bias, result, accum, ...}."""
    if value is None:
        return {}
    if isinstance(value, str):
        return {"default": type_setting(value, f"{where}.Precision")}
    if not isinstance(value, dict):
        raise ConfigError(f"{where}.Precision must be a type string or a mapping, got {type(value).__name__}")
    return {k: type_setting(str(v), f"{where}.Precision.{k}") for k, v in value.items() if k in PRECISION_KEYS}


def _layer_settings(name: str, cfg: Any) -> LayerSettings:
    where = f"LayerName.{name}"
    if not isinstance(cfg, dict):
        raise ConfigError(f"{where} must be a mapping, got {type(cfg).__name__}")
    _strict_keys(cfg, LAYER_KEYS, where)
    types = _precision_entries(cfg.get("Precision"), where)
    default = types.get("default")
    try:
        depth = cfg.get("FifoDepth")         # the simulator prices a layer's FIFOs at the deepest one's depth
        return LayerSettings(reuse_factor=cfg.get("ReuseFactor"), strategy=cfg.get("Strategy"),
                             fifo_depth=max(fifo_depth_entry(depth)) if depth is not None else None,
                             sparse=cfg.get("SparseKernel"),
                             **{k: types.get(k, default) for k in ("weight", "bias", "result", "accum")})
    except ConfigError as err:
        raise ConfigError(f"{where}: {err}") from None


def read_hls_config(config: Dict[str, Any], overrides: Optional[Dict[str, Any]] = None) -> Mapping:
    """hls4ml's config dict (``HLSConfig`` wrapper optional) → a dataflow :class:`Mapping`; ``overrides`` win."""
    if not isinstance(config, dict):
        raise ConfigError(f"an hls4ml configuration is a mapping with Model and LayerName, got {type(config).__name__}")
    top = config
    hls = _section(config, "HLSConfig", "config") if "HLSConfig" in config else config
    if not hls.get("Model") and not hls.get("LayerName"):
        raise ConfigError("hls4ml configuration: no Model or LayerName section (keys: "
                          f"{', '.join(map(str, config)) or 'none'})")
    model = _section(hls, "Model", "HLSConfig")
    _strict_keys(model, MODEL_KEYS, "Model")
    values: Dict[str, Any] = {"template": "dataflow"}
    if "ReuseFactor" in model:
        values["reuse_factor"] = checked_reuse_factor(model["ReuseFactor"])
    if "Strategy" in model:
        values["strategy"] = model["Strategy"]
    if "PipelineStyle" in model:
        values["pipeline_style"] = model["PipelineStyle"]
    if "IOType" in top:
        values["io_type"] = top["IOType"]
    if "Backend" in top:
        values["backend"] = top["Backend"]
    if "ClockPeriod" in top:
        values["clock_mhz"] = 1000.0 / validate.clock_period_ns(top["ClockPeriod"], "ClockPeriod (ns)")
    types = _precision_entries(model.get("Precision"), "Model")
    if types:
        values["precision"], values["accum"] = _model_precision(types)
    section = {str(name): cfg for name, cfg in _section(hls, "LayerName", "HLSConfig").items()}
    layers = {name: _layer_settings(name, cfg) for name, cfg in section.items()}
    check_entries({name: {**hls_view(ls), **({"FifoDepth": _depths(section[name]["FifoDepth"])}
                                             if ls.fifo_depth is not None else {})}
                   for name, ls in layers.items()})        # as written: before a Model value is taken for its own
    values["layers"] = {name: _without_model_values(ls, model) for name, ls in layers.items()}
    return Mapping(**{**values, **(overrides or {})})


def _depths(value: Any) -> Union[int, List[int]]:
    """A FifoDepth entry as one depth where all its depths are one (``[2, 2]`` is ``2``), else the list."""
    depths = fifo_depth_entry(value)
    return depths[0] if len(set(depths)) == 1 else list(depths)


def _without_model_values(ls: LayerSettings, model: Dict[str, Any]) -> LayerSettings:
    """A layer's ReuseFactor or Strategy equal to the Model's is the Model's (hls4ml's config generators
    write them into every layer's entry, also those of nodes the estimator folds)."""
    same_rf = ls.reuse_factor is not None and ls.reuse_factor == model.get("ReuseFactor", 1)
    same_strategy = ls.strategy is not None and ls.strategy.lower() == str(model.get("Strategy", "Latency")).lower()
    return replace(ls, reuse_factor=None if same_rf else ls.reuse_factor,
                   strategy=None if same_strategy else ls.strategy)


def _model_precision(types: Dict[str, TypeSetting]) -> Tuple[Precision, TypeSetting]:
    """Model-level types: weight/result (default where not given) and the accumulator."""
    default = types.get("default")
    weight, result = types.get("weight", default), types.get("result", default)
    for side, t in (("weight", weight), ("result", result)):
        if t is None or t == AUTO:
            raise ConfigError(f"Model.Precision: give the {side} type (or a default), e.g. ap_fixed<16,6>")
    if weight.is_float != result.is_float:
        raise ConfigError("Model.Precision: mixing float and fixed point is not modelled; use one kind")
    label = weight.hls() if weight == result else f"{weight.hls()}/{result.hls()}"
    return Precision(weight, result, weight.width, result.width, label), types.get("accum", default)
