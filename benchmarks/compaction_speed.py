"""Compaction of ResNet-110 with 60% of its units pruned: time to compact, and inference speed of
the compact model vs the masked model it came from.

Every prunable unit group of ResNet-110 (CIFAR, 1.73M params) keeps a random 40% of its units
(unit masks); `codesign.compaction.compact` (trace, physical removal, equivalence check on 8 random
inputs) is timed end to end. Inference: eval mode, a batch of 3×32×32 inputs, median over
`--repeats` alternating runs of each model. Targets: compaction < 10 s; compact faster than masked.

    python benchmarks/compaction_speed.py [--repeats 5] [--batch 64] [--threads 2]
"""
from __future__ import annotations

import argparse
import time

import torch

from codesign.compaction import compact
from codesign.units.engine import UnitEngine
from codesign.zoo import create_model

from common import median, save


def masked_resnet110(keep_fraction: float, seed: int):
    torch.manual_seed(seed)
    model = create_model("resnet110", in_shape=(3, 32, 32), num_classes=10).eval()
    engine = UnitEngine(model)
    gen = torch.Generator().manual_seed(seed)
    for g in engine.groups():
        n = engine.size(g)
        keep = torch.zeros(n, dtype=torch.bool)
        keep[torch.randperm(n, generator=gen)[:max(1, round(keep_fraction * n))]] = True
        engine.set_units(g, keep)
    return model, engine


def inference_seconds(model, x) -> float:
    with torch.no_grad():
        start = time.perf_counter()
        model(x)
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    compact_s, masked_s, small_s = [], [], []
    for r in range(args.repeats):
        model, engine = masked_resnet110(0.4, r)
        start = time.perf_counter()
        small, manifest = compact(model, engine.masks)
        compact_s.append(time.perf_counter() - start)
        x = torch.randn(args.batch, 3, 32, 32, generator=torch.Generator().manual_seed(r))
        inference_seconds(model, x), inference_seconds(small.eval(), x)          # warm-up
        for _ in range(3):
            masked_s.append(inference_seconds(model, x))
            small_s.append(inference_seconds(small, x))
        print(f"repeat {r + 1}: compact {compact_s[-1]:.2f} s, params {manifest['params_before']:,} → "
              f"{manifest['params_after']:,}, inference masked {median(masked_s[-3:]) * 1e3:.1f} ms, "
              f"compact {median(small_s[-3:]) * 1e3:.1f} ms", flush=True)
    result = {"model": "resnet110", "units_pruned": 0.6, "batch": args.batch, "repeats": args.repeats,
              "threads": args.threads, "compact_s": median(compact_s), "masked_inference_s": median(masked_s),
              "compact_inference_s": median(small_s), "inference_speedup": median(masked_s) / median(small_s),
              "params_before": manifest["params_before"], "params_after": manifest["params_after"],
              "flops_dense_before": manifest["flops_dense_before"], "flops_dense_after": manifest["flops_dense_after"],
              "max_abs_diff": manifest["equivalence"]["max_abs_diff"], "all_compact_s": compact_s}
    print(f"median compaction {result['compact_s']:.2f} s (target < 10 s); inference masked "
          f"{result['masked_inference_s'] * 1e3:.1f} ms vs compact {result['compact_inference_s'] * 1e3:.1f} ms: "
          f"{result['inference_speedup']:.2f}x faster (target > 1)")
    save("compaction_speed", result)


if __name__ == "__main__":
    main()
