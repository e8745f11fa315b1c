"""Real growth pays: one training epoch of a CGaP seed (1/8 width) vs the full-width model.

Both are trained by the same codesign.fit() loop on the same data and batch order: the seed run
is the first epoch of a `cgap` run (seed_width 1/8, real tensors at 1/8 width), the baseline the
first epoch of a `dense` run at full width. Runs alternate `--repeats` times; only optimisation
steps are timed (start event → last step event, no evaluation). Target: ratio >= 3.

    python benchmarks/cgap_growth_speed.py [--repeats 3] [--threads 2]   # → results/cgap_growth_speed_t2.json
"""
from __future__ import annotations

import argparse
import time

import torch

from codesign.config import load_recipe
from codesign.data import load_dataset
from codesign.train import fit

from common import median, save

CASES = [("lenet5", "mnist", None), ("resnet20", "fashion_mnist", 10000)]


def epoch_seconds(model: str, splits, method: str, batch_size: int, seed: int) -> tuple[float, float]:
    params = {"seed_width": 0.125} if method == "cgap" else {}
    recipe = load_recipe(None, {"model.name": model, "data.name": splits.spec.name, "train.epochs": 2,
                                "train.batch_size": batch_size, "train.seed": seed, "schedule.name": "constant",
                                "method.name": method, "method.params": params})
    marks: dict = {}

    class StopAfterFirstEpoch(Exception):
        pass

    def events(kind, payload):
        if kind == "start":
            marks["start"] = time.perf_counter()
        elif kind == "step":
            marks["last"] = time.perf_counter()
        elif kind == "epoch":
            marks["flops"] = payload["train_flops_dense"]
            raise StopAfterFirstEpoch()

    try:
        fit(recipe, None, splits=splits, events=events)
    except StopAfterFirstEpoch:
        pass
    return marks["last"] - marks["start"], marks["flops"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    results = {}
    for model, dataset, limit in CASES:
        splits = load_dataset(dataset, train_limit=limit)
        seed_s, full_s = [], []
        for r in range(args.repeats):
            t_seed, f_seed = epoch_seconds(model, splits, "cgap", args.batch_size, r)
            t_full, f_full = epoch_seconds(model, splits, "dense", args.batch_size, r)
            seed_s.append(t_seed)
            full_s.append(t_full)
            print(f"{model}/{dataset} repeat {r + 1}: seed {t_seed:.2f} s, full {t_full:.2f} s", flush=True)
        results[model] = {"dataset": dataset, "train_samples": len(splits.train[1]), "seed_width": 0.125,
                          "seed_epoch_s": median(seed_s), "full_epoch_s": median(full_s),
                          "ratio": median(full_s) / median(seed_s), "train_flops_seed": f_seed,
                          "train_flops_full": f_full, "all_seed_s": seed_s, "all_full_s": full_s}
        print(f"{model}: median seed {median(seed_s):.2f} s, full {median(full_s):.2f} s, "
              f"ratio {results[model]['ratio']:.2f} (target >= 3)", flush=True)
    save(f"cgap_growth_speed_t{args.threads}", {"batch_size": args.batch_size, "repeats": args.repeats, "threads": args.threads,
                               "cases": results})


if __name__ == "__main__":
    main()
