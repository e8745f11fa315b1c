"""Estimator accuracy against published hls4ml C-synthesis reports, with rule4ml side by side.

Every design of ``benchmarks/estimator_designs.yaml`` is rebuilt as a codesign ``Network`` with its hls4ml
settings (part xcu250-figd2104-2L-e, clock, reuse factor, strategy, precision, io type), estimated with the
dataflow template, and compared with its report. Printed per split (fit / eval) and source: median, p75
and p90 of the absolute percentage error of latency, II, DSP, LUT, FF and BRAM, and the fit verdicts.

    python benchmarks/estimator_accuracy.py --wa-hls4ml DIR [--rule4ml-python PYTHON] [--csv OUT.csv]

``--wa-hls4ml DIR``: a folder holding wa-hls4ml's ``concatenated_json_to_csv.csv`` (2-layer, fitting data) and
``concatenated_3layer_json_to_csv.csv`` (3-layer, evaluation data), downloaded from
https://github.com/jdweitz/wa-hls4ml (``data/``; CC-BY-NC-4.0, so they are not shipped here). A file named
``<name>.sample.csv`` (a subset of rows with the same column names) is used when the full file is absent.
Without the option only hls4ml's own baselines (shipped in benchmarks/data) are evaluated.

``--rule4ml-python PYTHON``: the interpreter of a separate environment with ``pip install rule4ml`` (it pulls
TensorFlow; never a dependency of codesign). rule4ml is then run on the same designs in a subprocess
(``benchmarks/rule4ml_predict.py``) and its errors are printed beside the estimator's.

Last, the board checks: RN07 (MLPerf Tiny v0.7, hls4ml on a PYNQ-Z2 and an Arty A7-100T) and RN08 (v1.0: the same
network at reuse factors 512-4096, never fitted on) with their published configurations: the fit verdict, latency and energy per
inference against the measured ones; AD08 (the same submission's dense
autoencoder, built for the same board): the fit verdict; hls4ml's tutorial 7a (a 16-64-32-32-5 MLP at Latency
RF 64, built for a PYNQ-Z2 by a user who published the C-synthesis and placed-utilisation reports): the estimate
as configured and as if HLS had unrolled it, against both reports.

Absolute percentage error = |estimate - report| / max(report, 1): a design reported at 0 DSPs or 0 cycles and
estimated at 3 counts 300%.
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import subprocess
import sys
import time
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np
import yaml

from codesign.sim import Mapping, estimate, hls_rules, load_device
from codesign.sim.layers import Layer, Network

HERE = Path(__file__).resolve().parent
MANIFEST = HERE / "estimator_designs.yaml"
BASELINES = HERE / "data" / "hls4ml_baselines"
METRICS = ("latency", "ii", "dsp", "lut", "ff", "bram")
DEVICE = "xcu250"
REPORT_KEYS = {"latency": "WorstLatency", "ii": "IntervalMax", "dsp": "DSP", "lut": "LUT", "ff": "FF",
               "bram": "BRAM_18K"}
# wa-hls4ml: latency from C synthesis, resources from Vivado synthesis (its "resource_report" is hls4ml's
# VivadoSynthReport, whose "BRAM_18K" is Vivado's "Block RAM Tile" count: RAMB36 tiles, a RAMB18 = 0.5);
# the interval columns copy the latency, so there is no II.
CSV_KEYS = {"latency": "WorstLatency_hls", "dsp": "DSP_hls", "lut": "LUT_hls", "ff": "FF_hls",
            "bram": "BRAM_18K_hls"}
CSV_SCALE = {"bram": 2.0}     # RAMB36 tiles -> BRAM18 blocks


@dataclass
class Design:
    id: str
    source: str
    split: str
    network: Network
    settings: dict
    reported: Dict[str, Optional[float]]
    model: dict = field(default_factory=dict)      # what rule4ml is given (Keras-like layers)
    estimated: Dict[str, float] = field(default_factory=dict)
    fits: Optional[bool] = None
    rule4ml: Dict[str, float] = field(default_factory=dict)


# ------------------------------------------------------------------------------------------- networks

_HAS_ACTIVATION = any(f.name == "activation" for f in fields(Layer))


def _out_len(n: int, k: int, s: int, pad: str) -> int:
    return -(-n // s) if pad == "same" else (n - k) // s + 1


def _weight_values(init: Optional[str], fan_in: int, fan_out: int, size: int, seed: int) -> Optional[np.ndarray]:
    """Keras's kernel initializers as hls4ml's tests use them (test_keras_api.py): 'normal' (N(0, 0.05)),
    'uniform1-10' (RandomUniform(1, 10)), 'lecun_uniform', 'glorot_uniform' (Keras's default); None: unknown."""
    if init is None:
        return None
    rng = np.random.default_rng(seed)
    if init == "normal":
        return rng.normal(0.0, 0.05, size)
    if init == "uniform1-10":
        return rng.uniform(1.0, 10.0, size)
    limit = math.sqrt(3.0 / fan_in) if init == "lecun_uniform" else math.sqrt(6.0 / (fan_in + fan_out))
    if init not in ("lecun_uniform", "glorot_uniform"):
        raise ValueError(f"unknown kernel initializer '{init}'")
    return rng.uniform(-limit, limit, size)


def _shift_add(init, fan_in, fan_out, size, seed) -> tuple:
    """The expected shift-and-add counts of ``size`` weights drawn from ``init``: hls4ml's tests draw new
    random weights on every run (their 64-weight layers report 56-63 DSPs across tool versions), so the counts
    come from a large draw scaled to the layer's size."""
    draw = max(size, 65536)
    values = _weight_values(init, fan_in, fan_out, draw, seed)
    if values is None:
        return ()
    return tuple(int(round(c * size / draw)) for c in hls_rules.shift_add_counts(values))


def build_network(name: str, input_shape, lines: List[str], init: Optional[str] = None) -> Network:
    """A Network from the manifest's one-line-per-layer model description (see estimator_designs.yaml);
    ``init``: the Keras kernel initializer of its Conv/Dense layers (their weight values decide which
    constant multiplications HLS builds from LUTs), None when unknown."""
    shape = tuple(int(v) for v in input_shape)
    layers: List[Layer] = []
    for i, line in enumerate(lines):
        words = line.split()
        op, args = words[0], words[1:]
        opts = {a[0]: int(a[1:]) for a in args if a[0] in "kps" and a[1:].isdigit()}
        pad = "same" if "same" in args else "valid"
        prev = (layers[-1].name,) if layers else ()
        lname = f"{op}_{i}"
        c, h, w = shape
        if op == "dense":
            n = int(args[0])
            wts = c * h * w * n
            layers.append(Layer(lname, "dense", prev, shape, (n, 1, 1), weights=wts, nonzero_weights=wts,
                                bias=0 if "nobias" in args else n,
                                shift_add=_shift_add(init, c * h * w, n, wts, i)))
            shape = (n, 1, 1)
        elif op == "act":
            kind = args[0]
            if kind == "softmax":
                layers.append(Layer(lname, "softmax", prev, shape, shape))
            else:
                extra = {"activation": kind} if _HAS_ACTIVATION else {}
                layers.append(Layer(lname, "act", prev, shape, shape, **extra))
        elif op in ("conv1d", "conv2d", "depthwise1d", "depthwise2d"):
            k, s = opts["k"], opts.get("s", 1)
            kh = 1 if op.endswith("1d") else k
            sh = 1 if op.endswith("1d") else s
            depthwise = op.startswith("depthwise")
            f = c if depthwise else int(args[0])
            groups = c if depthwise else 1
            out = (f, _out_len(h, kh, sh, pad) if kh > 1 else h, _out_len(w, k, s, pad))
            wts = f * (c // groups) * kh * k
            fan_in = (c // groups) * kh * k
            layers.append(Layer(lname, "conv", prev, shape, out, (kh, k), (sh, s), groups, wts, wts,
                                0 if "nobias" in args else f,
                                shift_add=_shift_add(init, fan_in, f * kh * k // groups, wts, i)))
            shape = out
        elif op[:7] in ("maxpool", "avgpool"):
            p = opts["p"]
            ph = 1 if op.endswith("1d") else p
            out = (c, _out_len(h, ph, ph, pad) if ph > 1 else h, _out_len(w, p, p, pad))
            layers.append(Layer(lname, op[:7], prev, shape, out, (ph, p), (ph, p)))
            shape = out
        else:
            raise ValueError(f"{name}: unknown layer '{line}'")
    return Network(name, tuple(layers), tuple(int(v) for v in input_shape), source=f"manifest:{name}")


def _keras_like(input_shape, lines: List[str]) -> dict:
    return {"input": list(input_shape), "layers": list(lines)}


# ------------------------------------------------------------------------------------------- designs

_HAS_ACCUM = any(f.name == "accum" for f in fields(Mapping))


def _mapping(settings: dict) -> Mapping:
    """hls4ml's settings as a Mapping; the accumulator defaults to the data type (hls4ml's model-level default
    precision, which config_from_keras_model gives every type unless a quantizer sets it)."""
    precision = settings.get("precision", "ap_fixed<16,6>")
    extra = {"accum": settings.get("accum", precision.split("/")[-1])} if _HAS_ACCUM else {}
    return Mapping(reuse_factor=int(settings.get("reuse_factor", 1)), strategy=settings.get("strategy", "Latency"),
                   io_type=settings.get("io_type", "io_parallel"), precision=precision,
                   clock_mhz=1000.0 / float(settings.get("clock_ns", 5)),
                   backend=settings.get("backend", "Vitis"), **extra)


def baseline_designs(manifest: dict) -> List[Design]:
    out = []
    for d in manifest["designs"]:
        report = json.loads((BASELINES / d["report"]).read_text())["CSynthesisReport"]
        reported = {m: float(report[k]) for m, k in REPORT_KEYS.items()}
        model = d["model"]
        out.append(Design(d["id"], "hls4ml-baselines", d["split"],
                          build_network(d["id"], model["input"], model["layers"], model.get("init")),
                          {"backend": d["report"].split("/")[0], **d.get("settings", {})},   # the report's HLS tool
                          reported, _keras_like(model["input"], model["layers"])))
    return out


def _csv_path(folder: Path, name: str) -> Optional[Path]:
    for candidate in (folder / name, folder / name.replace(".csv", ".sample.csv")):
        if candidate.exists():
            return candidate
    return None


def wa_designs(manifest: dict, folder: Path, limit: Optional[int]) -> List[Design]:
    out = []
    for fam in manifest["families"]:
        path = _csv_path(folder, fam["file"])
        if path is None:
            print(f"warning: {fam['file']} not found in {folder}; skipping {fam['id']}", file=sys.stderr)
            continue
        with open(path, newline="") as fh:
            rows = [r for r in csv.DictReader(fh) if r.get("hls_synth_success", "TRUE").upper() == "TRUE"]
        if limit and len(rows) > limit:
            rows = [rows[i] for i in np.linspace(0, len(rows) - 1, limit).astype(int)]
        for i, r in enumerate(rows):
            dims = [int(v) for v in r["model_string"].split("-")]
            lines = [f"dense {n}" for n in dims[1:]]
            settings = dict(fam["settings"], reuse_factor=int(r["rf"]),
                            precision=fam["settings"]["precision"].format(prec=int(r["prec"])),
                            strategy="Resource" if r["strategy"].lower() == "resource" else "Latency")
            reported = {m: float(r[k]) * CSV_SCALE.get(m, 1.0) for m, k in CSV_KEYS.items()}
            reported["ii"] = None
            did = f"{fam['id']}/{r['model_string']}/{r['prec']}b/rf{r['rf']}#{i}"
            out.append(Design(did, fam["id"], fam["split"], build_network(did, (dims[0], 1, 1), lines), settings,
                              reported, _keras_like((dims[0], 1, 1), lines)))
    return out


# ------------------------------------------------------------------------------------------- running

def run_estimator(designs: List[Design]) -> float:
    device = load_device(DEVICE)
    t0 = time.perf_counter()
    for d in designs:
        t = estimate(d.network, device, _mapping(d.settings)).totals
        d.estimated = {"latency": t["latency_cycles"], "ii": t["interval_cycles"], "dsp": t["dsp"],
                       "lut": t["lut"], "ff": t["ff"], "bram": t["bram"]}
        d.fits = bool(t["fits"])
    return time.perf_counter() - t0


def run_rule4ml(designs: List[Design], python: str) -> str:
    """rule4ml's predictions in a subprocess of its own environment; returns a one-line status."""
    payload = [{"id": d.id, "model": d.model, "settings": d.settings} for d in designs]
    proc = subprocess.run([python, str(HERE / "rule4ml_predict.py")], input=json.dumps(payload),
                          capture_output=True, text=True)
    if proc.returncode != 0:
        return f"rule4ml failed (exit {proc.returncode}): {proc.stderr.strip().splitlines()[-1:]}"
    for line in proc.stderr.splitlines():
        if line.startswith("rule4ml:"):
            print(line, file=sys.stderr)
    preds = json.loads(proc.stdout.strip().splitlines()[-1])
    by_id = {d.id: d for d in designs}
    for p in preds["predictions"]:
        by_id[p["id"]].rule4ml = {k: float(v) for k, v in p.items() if k in METRICS}
    return f"rule4ml {preds.get('version', '?')}: {len(preds['predictions'])} of {len(designs)} designs ({preds.get('note', '')})"


# ------------------------------------------------------------------------------------------- statistics

def ape(pred: float, rep: float) -> float:
    return abs(pred - rep) / max(abs(rep), 1.0)


def stats(designs: List[Design], metric: str, who: str) -> Optional[tuple]:
    errs = [ape(getattr(d, who)[metric], d.reported[metric]) for d in designs
            if d.reported.get(metric) is not None and metric in getattr(d, who)]
    if not errs:
        return None
    e = np.array(errs) * 100.0
    return len(e), float(np.median(e)), float(np.percentile(e, 75)), float(np.percentile(e, 90))


def _fmt(s: Optional[tuple]) -> str:
    return "-" if s is None else f"{s[1]:6.1f} {s[2]:6.1f} {s[3]:6.1f}"


def print_table(title: str, designs: List[Design], with_rule4ml: bool) -> dict:
    print(f"\n{title}: {len(designs)} designs")
    head = f"  {'metric':8s} {'n':>5s}  codesign  med    p75    p90"
    if with_rule4ml:
        head += "   | rule4ml   med    p75    p90  (n)"
    print(head)
    table = {}
    for m in METRICS:
        s = stats(designs, m, "estimated")
        if s is None:
            continue
        line = f"  {m:8s} {s[0]:5d}          {_fmt(s)}"
        r = stats(designs, m, "rule4ml") if with_rule4ml else None
        if with_rule4ml:
            line += f"   |          {_fmt(r)}  ({r[0] if r else 0})"
        print(line)
        table[m] = {"n": s[0], "median": s[1], "p75": s[2], "p90": s[3],
                    **({"rule4ml": {"n": r[0], "median": r[1], "p75": r[2], "p90": r[3]}} if r else {})}
    fits = [d for d in designs if d.fits is not None]
    agree = sum(d.fits for d in fits)      # every published design was synthesised and fits the U250
    print(f"  fit verdict: estimator says 'fits' for {agree} of {len(fits)} (every report fits the device)")
    table["fits_agree"] = [agree, len(fits)]
    return table


def board_runs() -> Dict[str, tuple]:
    """The measured MLPerf Tiny runs: {key: (name, network, hls4ml configuration, settings, published)}."""
    from codesign.sim import references as ref

    return {"rn07": ("RN07", ref.rn07(), ref.RN07_HLS_CONFIG, ref.RN07_SETTINGS, ref.RN07_PUBLISHED),
            "rn07_arty": ("RN07", ref.rn07(), ref.RN07_HLS_CONFIG, ref.RN07_ARTY_SETTINGS, ref.RN07_ARTY_PUBLISHED),
            "rn08": ("RN08", ref.rn08(), ref.RN08_HLS_CONFIG, ref.RN08_SETTINGS, ref.RN08_PUBLISHED)}


def board_check(name: str, network, config: dict, settings: dict, pub: dict) -> dict:
    """An MLPerf Tiny hls4ml design measured on a board (RN07 on the PYNQ-Z2 and the Arty A7-100T: v0.7; RN08 on
    the PYNQ-Z2: v1.0, the same network at other reuse factors; none fitted on, each board's power is AD08's)
    with its published hls4ml configuration at the board's clock: the fit verdict, latency against the measured
    one and energy against the measured one (at the measured latency and at the estimate's own)."""
    dev = load_device(settings["device"])
    mapping = Mapping.from_hls_config(config).with_(clock_mhz=settings["clock_mhz"])
    report = estimate(network, dev, mapping)
    t = report.totals
    e = report.energy
    dynamic = e.dynamic
    out = {"fits": bool(t["fits"]), "over": list(t.get("over") or []), "latency_s": t["latency_s"],
           "energy_j": t["energy_j"], **{k: float(t[k]) for k in ("lut", "ff", "bram", "dsp")}}
    print(f"\n{name} on the {dev.board} ({dev.name}), published configuration, {mapping.clock_mhz:g} MHz:")
    print(f"  fits: {'yes' if out['fits'] else 'NO (' + ', '.join(out['over']) + ')'}; LUT {out['lut']:,.0f} of "
          f"{dev.lut:,}, FF {out['ff']:,.0f} of {dev.ff:,}, BRAM18 {out['bram']:,.0f} of {dev.bram:,}, DSP "
          f"{out['dsp']:,.0f} of {dev.dsp:,}")
    print(f"  latency {t['latency_s'] * 1e3:.2f} ms vs measured {pub['latency_s'] * 1e3:.2f} ms "
          f"({100 * (t['latency_s'] / pub['latency_s'] - 1):+.1f}%)")
    at_measured = dynamic + e.power_w * pub["latency_s"]
    out["energy_at_measured_latency_j"] = at_measured
    print(f"  energy at the measured latency {at_measured * 1e3:.2f} mJ vs measured {pub['energy_j'] * 1e3:.2f} mJ "
          f"({100 * (at_measured / pub['energy_j'] - 1):+.1f}%); static + board power {e.power_w:.3f} W vs "
          f"{pub['power_w']:.4f} W")
    own = dynamic + e.power_w * t["latency_s"]         # one inference at a time, as the board was measured
    out["energy_at_estimated_latency_j"] = own
    print(f"  energy at the estimated latency {own * 1e3:.2f} mJ ({100 * (own / pub['energy_j'] - 1):+.1f}%); in "
          f"steady state at the estimated interval {t['energy_j'] * 1e3:.2f} mJ")
    return out


# MLPerf Tiny v0.7 AD08 (hls4ml, PYNQ-Z2): built and measured on the board, so it fits the xc7z020; no
# utilization report is published. github.com/mlcommons/tiny_results_v0.7 (commit 64623f41b672),
# open/hls4ml-finn/code/ad/AD08: training/ad08.yml + keras_model.py (QDenseBatchnorm 64-72-72-8-72-72 with
# quantized ReLUs, then QDense 72->64), inference/hls4ml_config.yml and ad08_pynq.yml (VivadoAccelerator,
# io_stream, 10 ns); results/pynq-z2/ad/AD08/performance: about 53,300 inferences/s.
AD08_DENSE = (("q_dense_batchnorm", 64, 72), ("q_dense_batchnorm_1", 72, 72), ("q_dense_batchnorm_2", 72, 8),
              ("q_dense_batchnorm_3", 8, 72), ("q_dense_batchnorm_4", 72, 72), ("q_dense", 72, 64))
_AD08_DENSE_CFG = {"ReuseFactor": 144, "Precision": {"weight": "ap_fixed<13,7>", "bias": "ap_fixed<13,7>",
                                                     "accum": "ap_fixed<16,8>"}}
AD08_HLS_CONFIG = {
    "Backend": "VivadoAccelerator", "IOType": "io_stream", "ClockPeriod": 10,
    "HLSConfig": {"Model": {"Strategy": "Resource", "Precision": "ap_fixed<16,8>", "ReuseFactor": 144},
                  "LayerName": {
                      **{name: _AD08_DENSE_CFG for name, _, _ in AD08_DENSE},
                      "q_dense": {"ReuseFactor": 144, "Precision": {"weight": "ap_fixed<13,1>", "bias": "ap_fixed<13,1>",
                                                                    "accum": "ap_fixed<16,8>"}},
                      "q_dense_batchnorm_2": {**_AD08_DENSE_CFG, "ReuseFactor": 8},
                      **{f"q_activation{s}": {"ReuseFactor": 144, "Precision": {"result": "ap_ufixed<7,6>"}}
                         for s in ("", "_1", "_2", "_3", "_4")}}}}


def ad08() -> Network:
    layers, prev = [], ()
    for i, (name, n_in, n_out) in enumerate(AD08_DENSE):
        layers.append(Layer(name, "dense", prev, (n_in, 1, 1), (n_out, 1, 1), weights=n_in * n_out,
                            nonzero_weights=n_in * n_out, bias=n_out))
        prev = (name,)
        if i < len(AD08_DENSE) - 1:
            act = "q_activation" + (f"_{i}" if i else "")
            layers.append(Layer(act, "act", prev, (n_out, 1, 1), (n_out, 1, 1), activation="relu"))
            prev = (act,)
    return Network("ad08", tuple(layers), (64, 1, 1), "reference:mlperf-tiny-v0.7-hls4ml-ad08")


def board_verdicts() -> dict:
    """AD08: the fit verdict of a design that was built for the PYNQ-Z2 (no utilization numbers published)."""
    dev = load_device("xc7z020")
    mapping = Mapping.from_hls_config(AD08_HLS_CONFIG)
    t = estimate(ad08(), dev, mapping).totals
    out = {"fits": bool(t["fits"]), "over": list(t.get("over") or []),
           **{k: float(t[k]) for k in ("lut", "ff", "bram", "dsp")}}
    worst = max(out[k] / getattr(dev, k) for k in ("lut", "ff", "bram", "dsp"))
    print(f"\nAD08 on the {dev.board} ({dev.name}), published configuration (built and run on the board, so it fits):")
    print(f"  estimate: {'fits' if out['fits'] else 'does NOT fit (' + ', '.join(out['over']) + ')'}; LUT "
          f"{out['lut']:,.0f} of {dev.lut:,}, FF {out['ff']:,.0f}, BRAM18 {out['bram']:,.0f}, DSP {out['dsp']:,.0f}"
          + ("" if out["fits"] else f"; at least {worst:.2f}x the device where the build fit"))
    return out


# hls4ml's tutorial part 7a (the 16-64-32-32-5 jet tagger of part 4: QKeras 6-bit weights, 75% of each Dense
# layer's weights pruned, quantized_relu(6)) built with hls4ml 1.2.0 + Vivado HLS / Vivado 2019.2 for a PYNQ-Z2 and
# run on it; github.com/Liu-Zhiheng/hls4ml-pynqz2-vivado2019-2-results (commit bfb806e6c1e0):
# notebooks/part7a_bitstream_vivado2019_2.ipynb (the configuration: config_from_keras_model(granularity='name'),
# ReuseFactor 64 on fc1..output, Strategy Latency, VivadoAccelerator, io_parallel, 5 ns for HLS),
# vivado_reports/vivado_hls_myproject_axi_csynth.rpt (C synthesis) and vivado_utilization_placed.rpt (the placed
# design: the hls4ml IP plus the AXI DMA, interconnect and PS wrapper).
TUTORIAL7A_DENSE = (("fc1", 16, 64), ("fc2", 64, 32), ("fc3", 32, 32), ("output", 32, 5))
TUTORIAL7A_HLS_CONFIG = {
    "Backend": "VivadoAccelerator", "IOType": "io_parallel", "ClockPeriod": 5,
    "HLSConfig": {"Model": {"Precision": "fixed<16,6>", "ReuseFactor": 1, "Strategy": "Latency"},
                  "LayerName": {**{name: {"ReuseFactor": 64, "Precision": {"weight": "fixed<6,1,TRN,WRAP,0>",
                                                                            "bias": "fixed<6,1,TRN,WRAP,0>"}}
                                   for name, _, _ in TUTORIAL7A_DENSE},
                                **{f"relu{i}": {"Precision": {"result": "ufixed<6,0,RND_CONV,SAT,0>"}}
                                   for i in (1, 2, 3)}}}}
TUTORIAL7A_PUBLISHED = {"csynth": {"latency": 55, "ii": 15, "lut": 41606, "ff": 24483, "dsp": 9, "bram": 4},
                        "placed": {"lut": 20668, "ff": 23097, "dsp": 9, "bram": 2 * 4 + 6}}


def tutorial7a() -> Network:
    layers, prev = [], ()
    for i, (name, n_in, n_out) in enumerate(TUTORIAL7A_DENSE):
        w = n_in * n_out
        layers.append(Layer(name, "dense", prev, (n_in, 1, 1), (n_out, 1, 1), weights=w, nonzero_weights=w // 4,
                            bias=n_out))
        act = f"relu{i + 1}" if i < 3 else "softmax"
        layers.append(Layer(act, "act" if i < 3 else "softmax", (name,), (n_out, 1, 1), (n_out, 1, 1),
                            activation="relu" if i < 3 else None))
        prev = (act,)
    return Network("hls4ml_tutorial_7a", tuple(layers), (16, 1, 1), "reference:hls4ml-tutorial-part7a-pynq-z2")


def tutorial_check() -> dict:
    """hls4ml's tutorial 7a on the PYNQ-Z2: the estimate of its configuration against its C synthesis and the
    placed design, and the same network as if HLS had ignored the reuse factor (RF 1)."""
    dev = load_device("xc7z020")
    mapping = Mapping.from_hls_config(TUTORIAL7A_HLS_CONFIG)
    unrolled = mapping.with_(layers={n: replace(ls, reuse_factor=None) for n, ls in mapping.layers.items()})
    out, pub = {}, TUTORIAL7A_PUBLISHED
    for label, m in (("as configured (RF 64)", mapping), ("as if unrolled (RF 1)", unrolled)):
        rep = estimate(tutorial7a(), dev, m)
        t = rep.totals
        out[label] = {"latency": t["latency_cycles"], "ii": t["interval_cycles"],
                      **{k: float(t[k]) for k in ("lut", "ff", "dsp", "bram")}, "warnings": list(rep.costs.warnings)}
    c, p = pub["csynth"], pub["placed"]
    print(f"\nhls4ml tutorial 7a on the {dev.board} ({dev.name}): Latency, RF 64, io_parallel (hls4ml: one pipeline)")
    print(f"  published: C synthesis latency {c['latency']}, interval {c['ii']}, LUT {c['lut']:,}, FF {c['ff']:,}, "
          f"DSP {c['dsp']}; placed (with the AXI DMA and interconnect) LUT {p['lut']:,}, FF {p['ff']:,}, "
          f"DSP {p['dsp']}, BRAM18 {p['bram']}")
    for label, e in out.items():
        print(f"  estimate {label}: latency {e['latency']:.0f}, interval {e['ii']:.0f}, LUT {e['lut']:,.0f}, "
              f"FF {e['ff']:,.0f}, DSP {e['dsp']:.0f}, BRAM18 {e['bram']:.0f}"
              + ("; warns: HLS may not share the multipliers" if any("one pipeline" in w for w in e["warnings"])
                 else ""))
    return {"published": pub, "estimates": out}


def write_csv(designs: List[Design], path: Path) -> None:
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "source", "split"] + [f"{k}_{m}" for k in ("rep", "est", "r4ml") for m in METRICS])
        for d in designs:
            w.writerow([d.id, d.source, d.split] + [d.reported.get(m) for m in METRICS]
                       + [d.estimated.get(m) for m in METRICS] + [d.rule4ml.get(m) for m in METRICS])


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--manifest", type=Path, default=MANIFEST)
    ap.add_argument("--wa-hls4ml", type=Path, help="folder with wa-hls4ml's CSV files (see the module doc)")
    ap.add_argument("--rule4ml-python", help="python of a separate environment with rule4ml installed")
    ap.add_argument("--limit", type=int, help="at most this many rows per wa-hls4ml file (evenly spaced)")
    ap.add_argument("--csv", type=Path, help="write every design's reported and estimated numbers here")
    args = ap.parse_args(argv)
    manifest = yaml.safe_load(args.manifest.read_text())
    designs = baseline_designs(manifest)
    if args.wa_hls4ml:
        designs += wa_designs(manifest, args.wa_hls4ml, args.limit)
    secs = run_estimator(designs)
    print(f"estimated {len(designs)} designs in {secs:.2f} s ({1000 * secs / len(designs):.2f} ms each)")
    with_r4 = bool(args.rule4ml_python)
    if with_r4:
        print(run_rule4ml(designs, args.rule4ml_python))
    results = {}
    for split in ("fit", "eval"):
        part = [d for d in designs if d.split == split]
        if not part:
            continue
        results[split] = {"all": print_table(f"{split.upper()} split, all sources", part, with_r4)}
        for src in sorted({d.source for d in part}):
            sub = [d for d in part if d.source == src]
            results[split][src] = print_table(f"{split.upper()} split, {src}", sub, with_r4)
    for key, run in board_runs().items():
        results[key] = board_check(*run)
    results["ad08"] = board_verdicts()
    results["tutorial7a"] = tutorial_check()
    if args.csv:
        write_csv(designs, args.csv)
    return results


if __name__ == "__main__":
    main()
