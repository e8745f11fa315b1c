"""Batch evaluation of many design points (model × device × template × reuse × precision × ...).

    rows = evaluate_batch(points, networks)

``networks`` maps a model key to a :class:`Network` (build each once: ``load_network``); ``points`` is
any iterable of :class:`DesignPoint`. Each result row is the point's fields plus the report totals
(:func:`codesign.sim.report.summarize`): latency, interval, throughput, DRAM bytes, the energy split,
DSP/BRAM/LUT/FF with utilisation, ``fits``. Devices, mappings, per-network arrays, hls4ml reuse-factor
rules, tiled design searches and the totals of equivalent points (points differing only in options their
template ignores, e.g. the reuse factor of a tiled point) are cached. With
``errors='record'`` an invalid point yields a row with an ``error`` message instead of raising.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Callable, Dict, Iterable, List, Mapping as MappingT, Optional

from .. import target
from ..errors import CodesignError
from .device import Device, load_device
from .energy import energy
from .estimate import hardware_network, template_costs
from .layers import Network
from .mapping import Mapping
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
def _device(name: str) -> Device:
    return load_device(name)


@lru_cache(maxsize=65536)
def _mapping(template, reuse_factor, precision, strategy, io_type, clock_mhz, zero_skip, unroll,
             dram_layout, sparse_kernel=target.DEFAULT_SPARSE_KERNEL) -> Mapping:
    return Mapping(template=template, reuse_factor=reuse_factor, precision=precision, strategy=strategy,
                   io_type=io_type, clock_mhz=clock_mhz, zero_skip=zero_skip, unroll=unroll, dram_layout=dram_layout,
                   sparse_kernel=sparse_kernel)


FIELDS = tuple(DesignPoint.__dataclass_fields__)
_TOTALS: Dict[tuple, Dict] = {}


def _equivalence_key(point: DesignPoint, net: Network) -> tuple:
    """Points that differ only in options their template ignores share one evaluation."""
    read = target.TILED_ONLY if point.template == "tiled" else target.DATAFLOW_ONLY
    options = tuple(getattr(point, a) for a in read)
    return (net.signature, point.device, point.template, point.precision, point.clock_mhz) + options


def evaluate_point(point: DesignPoint, networks: MappingT[str, Network], share: bool = True) -> Dict:
    """Totals of one point; ``share=False`` evaluates it even if an equivalent point was evaluated before."""
    if point.model not in networks:
        raise CodesignError(f"design point names model '{point.model}', which is not among the networks given")
    net = networks[point.model]
    key = _equivalence_key(point, net)
    totals = _TOTALS.get(key) if share else None
    if totals is None:
        dev = _device(point.device)
        m = _mapping(point.template, point.reuse_factor, point.precision, point.strategy, point.io_type,
                     point.clock_mhz, point.zero_skip, point.unroll, point.dram_layout, point.sparse_kernel)
        net = hardware_network(net, m)
        costs = template_costs(net, dev, m)
        totals = summarize(net, dev, costs, energy(costs, dev, m.precision))
        if len(_TOTALS) > 200_000:
            _TOTALS.clear()
        _TOTALS[key] = totals
    return {**{f: getattr(point, f) for f in FIELDS}, **totals}


def clear_cache() -> None:
    """Forget cached evaluations (design searches included)."""
    from . import stream_timing, tiled_search
    _TOTALS.clear()
    tiled_search._CACHE.clear()
    stream_timing._TIMING_CACHE.clear()


def evaluate_batch(points: Iterable[DesignPoint], networks: MappingT[str, Network], errors: str = "raise",
                   events: Optional[Callable[[str, dict], None]] = None, share: bool = True) -> List[Dict]:
    """One totals row per design point, in order (see the module doc)."""
    if errors not in ("raise", "record"):
        raise CodesignError(f"errors must be 'raise' or 'record', got '{errors}'")
    rows: List[Dict] = []
    for i, point in enumerate(points):
        try:
            rows.append(evaluate_point(point, networks, share))
        except CodesignError as err:
            if errors == "raise":
                raise
            rows.append({**asdict(point), "error": str(err)})
        if events is not None and (i + 1) % 1000 == 0:
            events("progress", {"done": i + 1})
    return rows
