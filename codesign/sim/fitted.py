"""An estimate whose hls4ml knobs are chosen for the device: what ``codesign simulate`` and the export's
estimate report.

    report, folding = fitted_estimate(network, device, mapping, reuse_factor="auto", max_util=0.8)

``reuse_factor='auto'`` (dataflow template) folds every Conv/Dense layer with
:func:`~codesign.sim.folding.choose_folding` and estimates that design; a number gives every layer that
reuse factor (hls4ml's network-wide ``ReuseFactor``). With a latency bound (``max_latency_cycles``) 'auto'
folds for the least resources that meet it (:mod:`codesign.sim.folding_bound`). The report carries a ``folding`` section (per-layer
choices and why) and, when a dense reference network is given (the unpruned model of a pruned or compacted
run), a ``dense`` section with that model's totals under the same procedure.
"""
from __future__ import annotations

from typing import Optional, Sequence, Tuple, Union

from .device import Device
from .estimate import estimate
from .folding import AUTO, Folding, choose_folding
from .layers import Network
from ..target import STRATEGIES
from .mapping import Mapping
from .report import Report


def _one(network: Network, device: Device, mapping: Mapping, reuse_factor: Union[int, str],
         strategies: Sequence[str], max_util, max_latency_cycles: Optional[float] = None
         ) -> Tuple[Report, Optional[Folding]]:
    if mapping.template != "dataflow" or reuse_factor != AUTO:
        fixed = mapping if mapping.template != "dataflow" else \
            mapping.with_(reuse_factor=int(reuse_factor), strategy=strategies[0])
        return estimate(network, device, fixed), None
    folding = choose_folding(network, device, mapping, max_util, strategies, max_latency_cycles=max_latency_cycles)
    report = estimate(network, device, folding.mapping(mapping, network))
    return report.with_sections(folding=folding.describe()), folding


def fitted_estimate(network: Network, device: Device, mapping: Mapping, reuse_factor: Union[int, str] = AUTO,
                    strategies: Sequence[str] = STRATEGIES, max_util=0.8,
                    dense: Optional[Network] = None, max_latency_cycles: Optional[float] = None
                    ) -> Tuple[Report, Optional[Folding]]:
    """The report of ``network`` on ``device`` (see the module doc) and the folding chosen (None: fixed RF).
    ``max_latency_cycles`` (with 'auto'): the least resources that meet it, else the fastest folding."""
    report, folding = _one(network, device, mapping, reuse_factor, strategies, max_util, max_latency_cycles)
    if dense is not None:
        report = report.with_sections(dense=dense_section(dense, device, mapping.with_(layers={}), max_util,
                                                          strategies, reuse_factor, max_latency_cycles))
    return report, folding


def dense_section(dense: Network, device: Device, mapping: Mapping, max_util,
                  strategies: Sequence[str] = STRATEGIES, reuse_factor: Union[int, str] = AUTO,
                  max_latency_cycles: Optional[float] = None) -> dict:
    """The ``dense`` report section: the unpruned model's totals under the same procedure."""
    other, _ = _one(dense, device, mapping, reuse_factor, strategies, max_util, max_latency_cycles)
    how = "folded the same way (--reuse-factor auto)" if reuse_factor == AUTO else "with the same settings"
    return {"model": dense.name, "source": dense.source, "totals": other.totals,
            "note": f"The unpruned architecture this model was trained from, {how}, on the same device."}


def is_reduced(network: Network, dense: Network) -> bool:
    """``network`` is a pruned or compacted form of ``dense`` (fewer weights or exact zeros)."""
    return network.nonzero_weights < dense.nonzero_weights or network.weights < dense.weights
