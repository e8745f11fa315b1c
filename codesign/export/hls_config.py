"""``codesign export --hls-config FILE``: an hls4ml configuration (YAML/JSON, ``HLSConfig:`` wrapper
optional, as hls4ml writes ``hls4ml_config.yml``) as the export's settings and precision.

- ``Model``: ReuseFactor, Strategy and Precision are the network-wide reuse factor, strategy and
  precision (``--precision`` syntax); top-level ``IOType``, ``ClockPeriod``, ``Part`` and ``Backend``
  are the project's. Options given on the command line win over the file's network-wide values.
- ``LayerName``: per-layer ``ReuseFactor`` and ``Strategy`` go into the project's hls4ml config;
  per-layer ``Precision`` (weight, bias, result) overrides the network-wide precision for that layer,
  as a precision YAML's ``layers:`` does. Names are PyTorch names, the export's graph names or hls4ml's
  (``Dense_fc1``), found by :mod:`codesign.hls_names`' rule, as ``codesign simulate`` finds them; two entries of
  one layer (``fc1`` and ``Dense_fc1``) merge as hls4ml applies them, and are refused where they disagree.
  ``auto`` types are left to the export; an accumulator other than ``auto`` is refused
  (the export's emulation and csim agreement assume hls4ml's lossless accumulators), except the Softmax sums'
  type the export writes itself (:data:`codesign.export.lut.SOFTMAX_T`). Per-layer ``FifoDepth``
  (codesign's key, which the export writes: :mod:`codesign.export.fifo`) sets the io_stream FIFO depths, as
  the reuse factors, when the folding is the file's (not ``--reuse-factor auto``). A ``Part`` of another chip
  than ``--device`` is refused (:func:`codesign.sim.device.check_same_chip`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Optional, Tuple

from ..config import read_yaml
from ..errors import ConfigError
from ..sim.mapping import AUTO, Mapping
from ..target import DEFAULT_TARGET_AGREEMENT
from .hls import HlsSettings
from .lut import SOFTMAX_T
from .precision import LayerOverride, PrecisionSpec, precision_spec


def _type_text(t) -> Optional[str]:
    return None if t is None or t == AUTO else t.hls()


def read_export_config(path: Path, given: Dict[str, Any], precision: Optional[str],
                       target_agreement: float = DEFAULT_TARGET_AGREEMENT) -> Tuple[HlsSettings, PrecisionSpec]:
    """(settings, precision) from the file; ``given`` holds the HlsSettings fields set on the command line
    and ``precision`` the --precision given there (None: not given)."""
    raw, mapping = _read(path)
    top = raw if "HLSConfig" in raw else {}
    model = (raw.get("HLSConfig", raw) or {}).get("Model") or {}
    values: Dict[str, Any] = {}
    if "ReuseFactor" in model:
        values["reuse_factor"] = mapping.reuse_factor
    if "Strategy" in model:
        values["strategy"] = mapping.strategy
    if "PipelineStyle" in model:
        values["pipeline_style"] = mapping.pipeline_style
    if "IOType" in top:
        values["io_type"] = mapping.io_type
    if "ClockPeriod" in top:
        values["clock_period"] = 1000.0 / mapping.clock_mhz
    for key, field in (("Part", "part"), ("Backend", "backend")):
        if top.get(key):
            values[field] = str(top[key])
    layers = {}
    for name, ls in mapping.layers.items():
        extra = {k: v for k, v in (("ReuseFactor", ls.reuse_factor), ("Strategy", ls.strategy)) if v is not None}
        if extra:
            layers[name] = extra
    sections = ((raw.get("HLSConfig", raw) or {}).get("LayerName") or {}).items()
    depths = {str(name): cfg["FifoDepth"] for name, cfg in sections     # (checked by Mapping.from_hls_config)
              if isinstance(cfg, dict) and cfg.get("FifoDepth") is not None}
    settings = HlsSettings(**{**values, **given, "layers": layers, "fifo_depths": depths})
    return settings.checked(), _precision(path, raw, mapping, precision, target_agreement)


def export_precision(path: Path, precision: Optional[str],
                     target_agreement: float = DEFAULT_TARGET_AGREEMENT) -> PrecisionSpec:
    """The precision the export takes from the file (``precision``: the --precision given on the command
    line, None: not given): the Model's as the network-wide precision, each LayerName Precision as that
    layer's override (what ``codesign simulate --hls-config`` plans with, as the export does)."""
    raw, mapping = _read(path)
    return _precision(path, raw, mapping, precision, target_agreement)


def config_part(path: Path) -> Optional[str]:
    """The file's ``Part`` (top level, beside ``HLSConfig``, as hls4ml writes it), None where it has none."""
    raw = read_yaml(path)
    top = raw if isinstance(raw, dict) and "HLSConfig" in raw else {}
    return str(top["Part"]).strip() if top.get("Part") else None


def _read(path: Path):
    return read_yaml(path), Mapping.from_hls_config(path)     # (its errors name the file, as simulate's)


def _precision(path: Path, raw: Dict[str, Any], mapping: Mapping, precision: Optional[str],
               target_agreement: float) -> PrecisionSpec:
    model = (raw.get("HLSConfig", raw) or {}).get("Model") or {}
    overrides = {}
    for name, ls in mapping.layers.items():
        if ls.accum not in (None, AUTO, SOFTMAX_T):     # SOFTMAX_T: a Softmax's sums, as the export writes them
            raise ConfigError(f"{path}: LayerName.{name}: accum {ls.accum.hls()}: the export leaves accumulators to "
                              f"hls4ml's lossless inference (its emulation assumes them); set accum: auto")
        types = {k: _type_text(getattr(ls, k)) for k in ("weight", "bias", "result")}
        if any(types.values()):
            overrides[name] = LayerOverride(**{k: v for k, v in types.items() if v})
    default = precision if precision is not None else (mapping.precision.label if "Precision" in model else "auto")
    base = precision_spec(default, target_agreement)
    return PrecisionSpec(base.default, target_agreement, base.max_output_error, overrides,
                         f"{path}" + (f" with --precision {precision}" if precision is not None else ""))
