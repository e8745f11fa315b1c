"""Sparse dense kernel (issue 10): g++ csim build time and peak memory of LeNet-300-100 at 2% and 10%
density on our sparse kernel, hls4ml's dense Latency and Resource kernels and hls4ml's
``resource_unrolled`` strategy, in the same run; estimated multipliers and weight storage of the
sparse kernel against hls4ml's Resource strategy at the same reuse factor; csim outputs of the
sparse kernel against the dense Latency kernel (bit for bit).

    .venv/bin/python benchmarks/sparse_kernels.py [--densities 0.02 0.1] [--reuse-factor 28]
        [--timeout 1200] [--repeats 1] [--skip-unrolled]
    .venv/bin/python benchmarks/sparse_kernels.py --sim [--sim-reuse 28 128]   # simulator estimates only

Weights: the packaged trained LeNet-300-100, magnitude-pruned per layer to the density. Build time
and peak memory: ``/usr/bin/time -v bash build_lib.sh`` (hls4ml's own g++ build script) in a fresh
process per build; ``resource_unrolled`` gets ``--timeout`` seconds per density and is reported as
'> timeout' if it does not finish.
"""
from __future__ import annotations

import argparse
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import median, save  # noqa: E402

from codesign.data import load_dataset  # noqa: E402
from codesign.export import build_hls, hls  # noqa: E402
from codesign.export.csim import predict  # noqa: E402
from codesign.export.hls import HlsSettings  # noqa: E402
from codesign.export.weights import resolve_model  # noqa: E402

PRECISION = "fixed<16,6,RND_CONV,SAT>"
VARIANTS = {  # name -> (strategy, sparse kernel mode)
    "sparse": ("Resource", "on"),
    "dense_latency": ("Latency", "off"),
    "dense_resource": ("Resource", "off"),
    "resource_unrolled": ("resource_unrolled", "off"),
}


def pruned_lenet(density: float):
    model, _ = resolve_model("lenet300_100")
    with torch.no_grad():
        for layer in (m for m in model.modules() if isinstance(m, torch.nn.Linear)):
            w = layer.weight
            keep = max(1, round(density * w.numel()))
            threshold = w.abs().flatten().kthvalue(w.numel() - keep + 1).values
            w.mul_((w.abs() >= threshold).float())
    return model.eval()


def build(model, out: Path, variant: str, reuse: int):
    strategy, mode = VARIANTS[variant]
    if strategy not in hls.STRATEGIES:     # hls4ml's resource_unrolled is not offered by codesign export
        hls.STRATEGIES = hls.STRATEGIES + (strategy,)
    settings = HlsSettings(reuse_factor=reuse, strategy=strategy, sparse_kernel=mode)
    t0 = time.perf_counter()
    project = build_hls(model, out, settings=settings, precision=PRECISION)
    return project, time.perf_counter() - t0


def timed_gxx(project_dir: Path, timeout: float) -> dict:
    """hls4ml's build_lib.sh under /usr/bin/time -v: wall seconds and peak resident memory (MB)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(["/usr/bin/time", "-v", "bash", "build_lib.sh"], cwd=project_dir, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        _, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)     # g++ and its cc1plus too (their own session)
        proc.communicate()
        return {"seconds": None, "peak_mb": None, "timed_out": True, "timeout_s": timeout}
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"build_lib.sh failed in {project_dir}:\n{stderr[-2000:]}")
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", stderr)
    return {"seconds": seconds, "peak_mb": int(rss.group(1)) / 1024 if rss else None, "timed_out": False}


def resources(project) -> dict:
    rows = project.multipliers["layers"]
    return {"layers": [{k: r.get(k) for k in ("layer", "kernel", "reuse_factor", "weights", "zeros", "multipliers",
                                                "weight_bits", "storage_bits", "sparse_weight_bits",
                                                "sparse_index_bits", "dense_bits")} for r in rows],
            "multipliers": sum(r["multipliers"] for r in rows),
            "weight_storage_bits": sum(r.get("sparse_weight_bits", r["storage_bits"]) for r in rows),
            "index_bits": sum(r.get("sparse_index_bits", 0) for r in rows),
            "nonzeros": sum(r["weights"] - r["zeros"] for r in rows), "weights": sum(r["weights"] for r in rows)}


def run_density(density: float, args, tmp: Path, x: torch.Tensor) -> dict:
    model = pruned_lenet(density)
    out = {"density": density, "variants": {}}
    outputs = {}
    for variant in VARIANTS:
        if variant == "resource_unrolled" and args.skip_unrolled:
            continue
        project, convert_s = build(model, tmp / f"{variant}_{density}", variant, args.reuse_factor)
        timeout = args.timeout if variant == "resource_unrolled" else 3 * args.timeout
        repeats = 1 if variant == "resource_unrolled" else args.repeats
        builds = [timed_gxx(project.path, timeout) for _ in range(repeats)]
        done = [b for b in builds if not b["timed_out"]]
        entry = {"convert_seconds": convert_s, "builds": builds, **resources(project),
                 "gxx_seconds": median([b["seconds"] for b in done]) if done else None,
                 "gxx_peak_mb": max(b["peak_mb"] for b in done) if done else None}
        if done and variant in ("sparse", "dense_latency"):
            lib = next((project.path / "firmware").glob("*.so"))
            outputs[variant] = predict(project, lib, x, jobs=1)
        out["variants"][variant] = entry
        print(f"density {density} {variant}: g++ {entry['gxx_seconds']} s, {entry['gxx_peak_mb']} MB, "
              f"multipliers {entry['multipliers']}", flush=True)
    if len(outputs) == 2:
        out["csim_bit_exact_vs_dense_latency"] = bool(np.array_equal(outputs["sparse"], outputs["dense_latency"]))
        out["csim_samples"] = len(x)
    out["vs_resource"] = compare_to_resource(out["variants"], density)
    return out


def compare_to_resource(variants: dict, density: float) -> dict:
    """Sparse multipliers and weight storage as fractions of the Resource strategy's, per layer."""
    sparse, dense = variants["sparse"]["layers"], variants["dense_resource"]["layers"]
    rows = []
    for s, d in zip(sparse, dense):
        nnz = s["weights"] - s["zeros"]
        expected = nnz / s["weights"]
        rows.append({"layer": s["layer"], "density": expected, "reuse_factor_sparse": s["reuse_factor"],
                     "reuse_factor_resource": d["reuse_factor"],
                     "multiplier_ratio": s["multipliers"] / d["multipliers"],
                     "multiplier_ratio_same_rf": math.ceil(nnz / d["reuse_factor"]) / d["multipliers"],
                     "weight_storage_ratio": s["sparse_weight_bits"] / d["storage_bits"],
                     "index_overhead_bits_per_nonzero": s["sparse_index_bits"] / max(1, nnz)})
    return {"layers": rows}


def simulate(densities, reuse_factors, device: str = "xcu250") -> list:
    """Simulator (dataflow template) totals of hls4ml's Resource strategy and of the sparse kernel."""
    from codesign.sim import estimate

    rows = []
    for density in densities:
        model = pruned_lenet(density)
        for rf in reuse_factors:
            for mode in ("off", "auto", "on"):
                report = estimate(model, device, reuse_factor=rf, strategy="Resource", precision="fixed<16,6>",
                                  sparse_kernel=mode)
                t = report.totals
                kernels = [r["detail"].get("kernel", "dense") for r in report.layer_rows() if r["op"] == "dense"]
                rows.append({"density": density, "reuse_factor": rf, "sparse_kernel": mode, "kernels": kernels,
                             **{k: t[k] for k in ("dsp", "bram", "lut", "ff", "interval_cycles", "latency_cycles")}})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--densities", type=float, nargs="+", default=[0.02, 0.10])
    parser.add_argument("--reuse-factor", type=int, default=28)
    parser.add_argument("--timeout", type=float, default=1200.0, help="seconds for each resource_unrolled build")
    parser.add_argument("--repeats", type=int, default=1, help="g++ builds per fast variant (median)")
    parser.add_argument("--skip-unrolled", action="store_true")
    parser.add_argument("--csim-samples", type=int, default=200)
    parser.add_argument("--save-as", default="sparse_kernels")
    parser.add_argument("--sim", action="store_true", help="only the simulator estimates (results/<save-as>_sim)")
    parser.add_argument("--sim-reuse", type=int, nargs="+", default=[28, 128])
    args = parser.parse_args()
    if args.sim:
        rows = simulate(args.densities, args.sim_reuse)
        for row in rows:
            print(row, flush=True)
        print(f"saved {save(args.save_as + '_sim', {'command': ' '.join(sys.argv), 'device': 'xcu250', 'rows': rows})}")
        return
    x = load_dataset("mnist_mini").test[0][:args.csim_samples]
    with tempfile.TemporaryDirectory(prefix="sparse_kernels_") as tmp:
        results = [run_density(d, args, Path(tmp), x) for d in args.densities]
    path = save(args.save_as, {"command": " ".join(sys.argv), "precision": PRECISION,
                               "reuse_factor": args.reuse_factor, "results": results})
    print(f"saved {path}")


if __name__ == "__main__":
    main()
