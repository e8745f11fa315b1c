"""Simulator speed: one full ResNet-110 estimate, and batch evaluation of >= 10,000 design points.

Targets (issue 5): a full ResNet-110 estimate <= 20 ms; >= 10,000 points (model x device x reuse x
precision) in <= 10 s. Times are medians of ``--repeats`` runs in one process, single torch thread.

- ResNet-110 estimate: ``estimate(network, device, ...)`` on an already extracted network, for the
  dataflow template and for the tiled template twice: "cold" (design-space search included, cache
  cleared before every run) and "warm" (search cached, as in a sweep). Layer extraction (torch.fx trace
  + shape propagation, done once per model) is timed separately.
- Batch: 6 models x 7 devices x 10 reuse factors x 8 precisions x 3 (dataflow-Latency, dataflow-Resource,
  tiled) = 10,080 points through ``evaluate_batch``, caches cleared before every run (every tiled design
  search cold). Tiled points differing only in the reuse factor (which the tiled template ignores) share
  one evaluation, as they would in a sweep (7,056 distinct evaluations); the same batch with every point
  evaluated separately (``share=False``) is timed too. Network extraction is reported separately
  ("end to end" adds it).

    python benchmarks/sim_speed.py [--repeats 5]
"""
from __future__ import annotations

import argparse
import itertools
import time

import torch

from codesign.sim import DesignPoint, estimate, evaluate_batch, load_device, zoo_network
from codesign.sim import tiled_search
from codesign.sim.batch import clear_cache
from codesign.sim.device import shipped_device_names

from common import median, save

MODELS = {"jet_mlp": 1.0, "lenet300_100": 1.0, "lenet5": 1.0, "resnet20": 1.0, "resnet110": 1.0, "vgg19": 0.5}
REUSE = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
PRECISIONS = ("4", "6", "8", "ap_fixed<10,4>", "ap_fixed<12,4>", "ap_fixed<16,6>", "ap_fixed<18,8>", "24")
VARIANTS = (("dataflow", "Latency"), ("dataflow", "Resource"), ("tiled", "Latency"))


def _timed(fn, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def resnet110(repeats: int) -> dict:
    extract = _timed(lambda: zoo_network("resnet110"), repeats)
    net = zoo_network("resnet110")
    device = load_device("arria10")

    def cold():
        tiled_search._CACHE.clear()
        estimate(net, device, template="tiled").totals

    estimate(net, device, template="tiled")
    runs = {"tiled_cold_s": _timed(cold, repeats),
            "tiled_warm_s": _timed(lambda: estimate(net, device, template="tiled").totals, repeats),
            "dataflow_s": _timed(lambda: estimate(net, device, io_type="io_stream").totals, repeats),
            "extract_network_s": extract}
    return {k: median(v) for k, v in runs.items()} | {"runs": runs, "layers": len(net), "target_s": 0.020}


def batch(repeats: int) -> dict:
    start = time.perf_counter()
    networks = {name: zoo_network(name, width) for name, width in MODELS.items()}
    build = time.perf_counter() - start
    points = [DesignPoint(model=m, device=d, template=t, strategy=s, reuse_factor=r, precision=p)
              for m, d, r, p, (t, s) in itertools.product(MODELS, shipped_device_names(), REUSE, PRECISIONS,
                                                           VARIANTS)]

    def run(share: bool):
        clear_cache()                   # no evaluation or design search survives from the previous run
        rows = evaluate_batch(points, networks, errors="record", share=share)
        assert len(rows) == len(points)
        return rows

    rows = run(True)
    times = _timed(lambda: run(True), repeats)
    unshared = _timed(lambda: run(False), repeats)
    errors = sum("error" in r for r in rows)
    return {"points": len(points), "median_s": median(times), "runs": times, "build_networks_s": build,
            "end_to_end_s": build + median(times), "points_per_s": len(points) / median(times),
            "unshared_median_s": median(unshared), "unshared_runs": unshared,
            "error_rows": errors, "fits": sum(bool(r.get("fits")) for r in rows), "target_s": 10.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    r110 = resnet110(args.repeats)
    print(f"ResNet-110 ({r110['layers']} layers): tiled cold {r110['tiled_cold_s'] * 1e3:.1f} ms, "
          f"tiled warm {r110['tiled_warm_s'] * 1e3:.2f} ms, dataflow {r110['dataflow_s'] * 1e3:.2f} ms "
          f"(target <= 20 ms); network extraction {r110['extract_network_s'] * 1e3:.0f} ms")
    b = batch(max(1, args.repeats // 2))
    print(f"batch: {b['points']} points in {b['median_s']:.2f} s ({b['points_per_s']:.0f}/s, target <= 10 s); "
          f"every point evaluated separately: {b['unshared_median_s']:.2f} s; networks built in "
          f"{b['build_networks_s']:.2f} s; end to end {b['end_to_end_s']:.2f} s; "
          f"{b['error_rows']} error rows, {b['fits']} fit their device")
    path = save("sim_speed", {"command": "python benchmarks/sim_speed.py --repeats %d" % args.repeats,
                              "resnet110": r110, "batch": b})
    print(f"saved {path}")


if __name__ == "__main__":
    main()
