"""Batch evaluation of many design points (model × device × template × reuse × precision × ...).

    rows = evaluate_batch(points, networks)

``networks`` maps a model key to a :class:`Network` (build each once: ``load_network``); ``points`` is
any iterable of :class:`DesignPoint`. ``layers`` (optional) maps a model key to per-layer settings
(:class:`~codesign.sim.mapping.LayerSettings` by layer name, e.g. the types the export plans for that
network at one precision: :class:`codesign.export.estimate.ExportPlanner`), added to the Mapping of every
point of that model; neither is changed after. Each result row is the point's fields plus the report totals
(:func:`codesign.sim.report.summarize`): latency, interval, throughput, DRAM bytes, the energy split,
DSP/BRAM/LUT/FF with utilisation, ``fits``. Devices, mappings, per-network arrays, hls4ml reuse-factor
rules, tiled design searches and the totals of equivalent points (points differing only in options their
template ignores, e.g. the reuse factor of a tiled point) are cached. With
``errors='record'`` an invalid point yields a row with an ``error`` message instead of raising.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Callable, Dict, Iterable, List, Mapping as MappingT, Optional

from .. import target
from ..errors import CodesignError
from ..memo import Memo
from .device import Device, load_device, names_file
from .energy import energy
from .estimate import hardware_network, template_costs
from .layers import Network
from .mapping import LayerSettings, Mapping
from .report import summarize


@dataclass(frozen=True)
class DesignPoint:
    """One design point; the hardware fields are codesign.target's vocabulary, with its defaults."""
    model: str                      # key into the ``networks`` mapping
    device: str                     # shipped device name/alias or YAML path
    template: str = target.DEFAULT_TEMPLATE
    reuse_factor: int = target.DEFAULT_REUSE_FACTOR
    precision: str = target.DEFAULT_PRECISION
    strategy: str = target.DEFAULT_STRATEGY
    io_type: str = target.DEFAULT_IO_TYPE
    clock_mhz: Optional[float] = None
    zero_skip: bool = False
    unroll: str = "auto"
    dram_layout: str = "packed"
    sparse_kernel: str = target.DEFAULT_SPARSE_KERNEL


@lru_cache(maxsize=256)
def _named_device(name: str) -> Optional[Device]:
    """A device by a shipped name or alias (cached), None for a device file's path."""
    return None if names_file(name) else load_device(name)


_FILES = Memo(256)


def _device(name: str) -> Device:
    """The point's device; a device file is read again once it changed (modification time, size, inode), so
    an edit between two evaluations in one process is priced (cache keys hold :attr:`Device.key`, its numbers)."""
    device = _named_device(name)
    if device is not None:
        return device
    try:
        stat = os.stat(name)
    except OSError:
        return load_device(name)              # its own one-line error
    return _FILES.get_or_make((os.path.abspath(name), stat.st_mtime_ns, stat.st_size, stat.st_ino),
                              lambda: load_device(name))


@lru_cache(maxsize=65536)
def _mapping(template, reuse_factor, precision, strategy, io_type, clock_mhz, zero_skip, unroll,
             dram_layout, sparse_kernel=target.DEFAULT_SPARSE_KERNEL) -> Mapping:
    return Mapping(template=template, reuse_factor=reuse_factor, precision=precision, strategy=strategy,
                   io_type=io_type, clock_mhz=clock_mhz, zero_skip=zero_skip, unroll=unroll, dram_layout=dram_layout,
                   sparse_kernel=sparse_kernel)


FIELDS = tuple(DesignPoint.__dataclass_fields__)
_TOTALS = Memo(200_000)


def _equivalence_key(point: DesignPoint, net: Network, layers: str = "", device: Optional[Device] = None) -> tuple:
    """Points that differ only in options their template ignores share one evaluation (``layers``: the
    digest of the per-layer settings added to the point's Mapping; ``device``: the point's, keyed by its
    numbers, so an edited device file is not priced as it was)."""
    read = target.TILED_ONLY if point.template == "tiled" else target.DATAFLOW_ONLY
    options = tuple(getattr(point, a) for a in read)
    named = device.key if device is not None else point.device
    return (net.signature, layers, named, point.template, point.precision, point.clock_mhz) + options


LayerTypes = MappingT[str, LayerSettings]
_WITH_LAYERS = Memo(65536)
_DIGESTS = Memo(1024)


def _layers_digest(layers: Optional[LayerTypes]) -> str:
    """What per-layer settings say, as text (a cache key; computed once per settings object: the cache
    holds the object with its text, so its id cannot name another object while cached)."""
    if not layers:
        return ""
    return _DIGESTS.get_or_make(id(layers), lambda: (layers, repr(sorted(layers.items()))))[1]


def _with_layers(m: Mapping, layers: Optional[LayerTypes], digest: str) -> Mapping:
    if not layers:
        return m
    return _WITH_LAYERS.get_or_make((m, digest), lambda: m.with_(layers={**layers, **m.layers}))


def evaluate_point(point: DesignPoint, networks: MappingT[str, Network], share: bool = True,
                   layers: Optional[MappingT[str, LayerTypes]] = None) -> Dict:
    """Totals of one point; ``share=False`` evaluates it even if an equivalent point was evaluated before;
    ``layers``: per-layer settings by model key (see the module doc)."""
    if point.model not in networks:
        raise CodesignError(f"design point names model '{point.model}', which is not among the networks given")
    net = networks[point.model]
    given = (layers or {}).get(point.model)
    digest = _layers_digest(given)
    dev = _device(point.device)
    key = _equivalence_key(point, net, digest, dev)

    def evaluate() -> Dict:
        m = _mapping(point.template, point.reuse_factor, point.precision, point.strategy, point.io_type,
                     point.clock_mhz, point.zero_skip, point.unroll, point.dram_layout, point.sparse_kernel)
        m = _with_layers(m, given, digest)
        hw = hardware_network(net, m)
        costs = template_costs(hw, dev, m)
        return summarize(hw, dev, costs, energy(costs, dev, m.precision))

    totals = _TOTALS.get_or_make(key, evaluate) if share else _TOTALS.put(key, evaluate())
    return {**{f: getattr(point, f) for f in FIELDS}, **totals}


def clear_cache() -> None:
    """Forget cached evaluations (design searches included)."""
    from . import plan, stream_timing, tiled_search
    _TOTALS.clear()
    _FILES.clear()
    plan._LAYER_TYPES.clear()
    _WITH_LAYERS.clear()
    _DIGESTS.clear()
    tiled_search._CACHE.clear()
    stream_timing._TIMING_CACHE.clear()


def evaluate_batch(points: Iterable[DesignPoint], networks: MappingT[str, Network], errors: str = "raise",
                   events: Optional[Callable[[str, dict], None]] = None, share: bool = True,
                   layers: Optional[MappingT[str, LayerTypes]] = None) -> List[Dict]:
    """One totals row per design point, in order (see the module doc)."""
    if errors not in ("raise", "record"):
        raise CodesignError(f"errors must be 'raise' or 'record', got '{errors}'")
    rows: List[Dict] = []
    for i, point in enumerate(points):
        try:
            rows.append(evaluate_point(point, networks, share, layers))
        except CodesignError as err:
            if errors == "raise":
                raise
            rows.append({**asdict(point), "error": str(err)})
        if events is not None and (i + 1) % 1000 == 0:
            events("progress", {"done": i + 1})
    return rows
