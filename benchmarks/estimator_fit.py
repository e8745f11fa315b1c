"""Fit the dataflow template's ROM-kernel constants (codesign/sim/devices/_calibration.yaml) on the FIT split.

The LUT, FF and BRAM of Resource-strategy Conv/Dense kernels (weights in a ROM, RF > 1) are linear in the
structural quantities of ``codesign.sim.dataflow_resources.rom_features`` (input bits, accumulator bits,
multipliers, LUT-multiplier bits, ROM bits, layers, io_parallel channel and input-port bits; the input
multiplexers are structural and subtracted first). This script computes those
quantities with the library's own code for every design of the fitting split of
``benchmarks/estimator_designs.yaml`` that has such kernels (wa-hls4ml's 2-layer designs), solves for the
constants minimising the squared relative error (BRAM: the median), picks the smallest operand width that
Vitis maps to DSPs, and prints the values to put in the YAML, with their fit error. Evaluation designs are
never read.

    python benchmarks/estimator_fit.py --wa-hls4ml DIR
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import yaml

from dataclasses import replace
from types import MappingProxyType

from codesign.sim import load_device
from codesign.sim.dataflow_resources import (ROM_FF, ROM_LUT, ROM_LUT_FIXED, dsp_per_mult, index_table_blocks,
                                             multipliers, rom_features, rom_kernels)
from codesign.sim.plan import resolve_plan

from estimator_accuracy import DEVICE, MANIFEST, _mapping, wa_designs


def _with(device, **constants):
    cal = dict(device.calibration)
    cal.update({f"dataflow.{k}": float(v) for k, v in constants.items()})
    return replace(device, calibration=MappingProxyType(cal))


def _features(designs, device):
    rows = []
    for d in designs:
        plan = resolve_plan(d.network, _mapping(d.settings), device)
        mults = multipliers(d.network, plan)
        kernels = rom_kernels(d.network, plan, mults, device.calibration)
        f = rom_features(d.network, plan, dsp_per_mult(d.network, plan, device), mults, kernels)
        f["index_blocks"] = index_table_blocks(d.network, plan, device, kernels)
        rows.append({k: float(v.sum()) for k, v in f.items()})
    return rows


def _fit_bram(designs, device):
    """Grid search of where Vivado puts weight ROMs in block RAM (RF at most D words, at least W bits wide)
    and how many BRAM18 per bit of width, minimising the mean relative error (the index tables are
    structural); returns (constants, errors)."""
    y = np.array([d.reported["bram"] for d in designs])
    best = None
    for depth in (512, 1024, 2048):
        for width in range(16, 257, 16):
            rows = _features(designs, _with(device, rom_bram_max_depth=depth, rom_bram_min_width=width))
            base = np.array([r["index_blocks"] for r in rows])
            x = np.array([r["rom_width"] for r in rows])
            for k in np.arange(0.05, 1.01, 0.05):
                err = np.abs(base + k * x - y) / y
                if best is None or err.mean() < best[0]:
                    best = (err.mean(), {"rom_bram_max_depth": depth, "rom_bram_min_width": width,
                                         "bram_per_rom_width_bit": round(float(k), 2)}, err)
    return best[1], best[2]


def _relative_lstsq(rows, names, y, total):
    """Non-negative least squares of the error relative to the reported ``total`` (``y`` is the part the
    constants explain; a constant that comes out negative is set to 0 and the rest refitted: every term is
    a physical amount of logic)."""
    keys = list(names)
    X = np.array([[r[k] for k in keys] for r in rows])
    active = np.ones(len(keys), dtype=bool)
    while True:
        coef = np.zeros(len(keys))
        coef[active], *_ = np.linalg.lstsq(X[:, active] / total[:, None], y / total, rcond=None)
        if (coef >= 0).all():
            break
        active &= coef > 0
    err = np.abs(X @ coef - y) / total
    return dict(zip(keys, coef)), err


def _dsp_floor(designs, device):
    """Smallest weight width from which the reported DSPs match one DSP per ROM multiplier (16-bit data)."""
    by_bits = {}
    for d in designs:
        plan = resolve_plan(d.network, _mapping(d.settings), device)
        mults = float(multipliers(d.network, plan).sum())
        bits = int(plan.w_bits.min())
        match = d.reported["dsp"] == mults
        by_bits.setdefault(bits, []).append(match)
    share = {b: float(np.mean(v)) for b, v in sorted(by_bits.items())}
    floor = min((b for b, s in share.items() if all(share[c] >= 0.5 for c in share if c >= b)), default=99)
    return floor, share


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--wa-hls4ml", type=Path, required=True)
    args = ap.parse_args(argv)
    manifest = yaml.safe_load(MANIFEST.read_text())
    manifest["families"] = [f for f in manifest["families"] if f["split"] == "fit"]
    designs = wa_designs(manifest, args.wa_hls4ml, None)
    device = load_device(DEVICE)
    out, err = _fit_bram(designs, device)
    print(f"bram: median {100 * np.median(err):.1f}%  p90 {100 * np.percentile(err, 90):.1f}%  "
          f"mean {100 * err.mean():.1f}%")
    device = _with(device, **out)
    rows = _features(designs, device)
    cal = device.calibration
    for metric, names in (("lut", ROM_LUT), ("ff", ROM_FF)):
        # structural, not fitted: the input multiplexers (LUT), the input port's registers (FF, one per bit)
        fixed = (np.array([sum(r[k] * cal[f"dataflow.{v}"] for k, v in ROM_LUT_FIXED.items()) for r in rows])
                 if metric == "lut" else np.array([r["port_bits"] for r in rows]))
        y = np.array([d.reported[metric] for d in designs]) - fixed
        coef, err = _relative_lstsq(rows, names, y, y + fixed)
        out.update({names[k]: v for k, v in coef.items()})
        print(f"{metric}: median {100 * np.median(err):.1f}%  p90 {100 * np.percentile(err, 90):.1f}%  "
              f"on {len(y)} fitting designs")
    floor, share = _dsp_floor(designs, device)
    out["dsp_min_bits_rom"] = floor
    print("share of designs whose DSPs = ROM multipliers, by weight bits:", {b: round(s, 2) for b, s in share.items()})
    print("\nconstants (dataflow section of devices/_calibration.yaml):")
    for k, v in out.items():
        print(f"  {k}: {v:.4g}")
    return out


if __name__ == "__main__":
    main()
