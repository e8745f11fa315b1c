"""The simulator's section of the ``codesign export --target fpga`` report.

The export (:mod:`codesign.export.estimate`) hands over the network it built and a :class:`Mapping`
of what the hls4ml project contains, layer by layer: reuse factors, strategies, the weight, bias,
result and accumulator types hls4ml resolved, and the sparse-kernel choice. This module estimates it
with the ``dataflow`` template on the device whose part the project targets, writes the full report
(report.json, report.md, roofline.png) to ``DIR/sim/`` and returns the totals and, when the design
does not fit, a hint with a reuse factor at which it would. It does not import the export: the
export calls the estimator, not the other way round.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Dict, Optional

from .device import device_for_part, load_device
from .estimate import estimate
from .layers import Network
from .mapping import Mapping
from .report import write_report

FALLBACK_DEVICE = "xcu250"
MAX_REUSE = 1 << 16
RESOURCES = ("dsp", "bram", "lut", "ff")


def summary_totals(totals: Dict[str, Any]) -> Dict[str, Any]:
    """The totals a reader wants first, in readable units (the full set is in sim/report.json)."""
    out: Dict[str, Any] = {"latency_cycles": int(totals["latency_cycles"]), "latency_us": totals["latency_s"] * 1e6,
                           "interval_cycles": int(totals["interval_cycles"]),
                           "throughput_per_s": totals["throughput_per_s"], "energy_uj": totals["energy_j"] * 1e6}
    for kind in RESOURCES:
        out[kind] = int(round(totals[kind]))
        out[f"{kind}_percent"] = 100.0 * totals[f"{kind}_util"]
    out["fits"] = bool(totals["fits"])
    if totals.get("over"):
        out["over"] = ", ".join(totals["over"])
    if totals.get("refused"):
        out["refused"] = ", ".join(totals["refused"])
    return out


def fitting_hint(network, device, mapping: Mapping) -> str:
    """The smallest power-of-two reuse factor (Resource strategy) at which the estimate fits the device."""
    reuse, totals = max(2, mapping.reuse_factor), {}
    while reuse <= MAX_REUSE:
        trial = mapping.with_(strategy="Resource", reuse_factor=reuse)
        totals = estimate(network, device, trial).totals
        if totals["fits"]:
            return (f"estimated to fit at --strategy Resource --reuse-factor {reuse} (latency "
                    f"{totals['latency_s'] * 1e6:.4g} us); sweep reuse factors with `codesign sweep`")
        reuse *= 2
    return (f"over in {', '.join(totals.get('over', []))} even at --strategy Resource --reuse-factor {MAX_REUSE}: "
            f"prune or compact the model, lower the precision, or target a larger part")


def precision_label(report) -> str:
    """'per layer: weights 8 bits, results 9-12 bits' from the plan the estimate used."""
    plan, compute = report.costs.plan, [l.op in ("conv", "dense") for l in report.network.layers]

    def span(values) -> str:
        lo, hi = min(values), max(values)
        return f"{lo}" if lo == hi else f"{lo}-{hi}"

    weights = [int(b) for b, c in zip(plan.w_bits, compute) if c] or [int(plan.w_bits[0])]
    return f"per layer from the project: weights {span(weights)} bits, results {span(plan.out_bits.tolist())} bits"


def estimate_section(network: Network, mapping: Mapping, part: str, out_dir: Path, network_source: str,
                     sections: Optional[Dict[str, Any]] = None, device_name: Optional[str] = None) -> Dict[str, Any]:
    """Estimate an exported design and write its report to ``out_dir / 'sim'``; returns the report section.
    ``sections``: extra report sections of an auto-folded export (``folding``, ``dense``, ``ways_out``);
    ``device_name``: the device (a name, YAML or a file's recorded content) the export builds for, else the part's."""
    if device_name is not None:
        from .device_record import described
        device = load_device(device_name)
        how = described(device_name, device)
    else:
        device, how = device_for_part(part)
    modeled = device is not None
    if not modeled:                     # a well-formed part codesign does not model (hls4ml builds for any)
        device = load_device(FALLBACK_DEVICE)
        how += (f": codesign has no device model for it, so latency and resource counts use the {device.board}'s "
                f"({device.name}) DSP and clock rules, and no utilisation or fit is claimed; add a device YAML "
                f"for your part and use codesign simulate --device YOURS.yaml")
    report = estimate(network, device, mapping)
    label = precision_label(report)     # the project's types, not its Model default (which every layer overrides)
    report = replace(report, mapping=mapping.with_(precision=replace(mapping.precision, label=label)))
    if sections:
        report = report.with_sections(**sections)
    paths = write_report(report, Path(out_dir) / "sim")
    section: Dict[str, Any] = {"device": device.name, "device_match": how, "network": network_source,
                               "template": "dataflow", "precision": label}
    section.update(summary_totals(report.totals))
    folding = (sections or {}).get("folding")
    if folding is not None:
        section.update(reuse_factor="auto", max_util=folding["max_util"], interval_set_by=folding["limit"])
    for key in ("dense", "ways_out"):
        if key in (sections or {}):
            section[key] = sections[key]
    if not modeled:
        section["device"] = None
        for key in [k for k in section if k.endswith("_percent")] + ["fits", "over"]:
            section.pop(key, None)
    elif not section["fits"] and folding is None:
        section["hint"] = fitting_hint(network, device, mapping)
    section["report"] = str(paths["json"])
    section["markdown"] = str(paths["markdown"])
    return section
